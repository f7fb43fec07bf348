//! What a document is: RSS 0.9x/2.0, RSS 0.90/1.0/1.1, Atom 1.0/0.3, JSON Feed, an HTML
//! page, some other XML, or nothing recognisable — judged by its root element.
//!
//! The root is the first start tag that names a feed (or a page): tags before it are junk
//! that a broken server printed first (a PHP warning's `<br />`, `<b>`).

use super::lex::{Kind, Lexer, Tag, is_name_start};

/// How far into a document the root is looked for before giving up.
const ROOT_SEARCH: usize = 256 * 1024;

pub const NS_ATOM03: &str = "http://purl.org/atom/ns#";
pub const NS_ATOM10: &str = "http://www.w3.org/2005/Atom";
pub const NS_RSS090: &str = "http://my.netscape.com/rdf/simple/0.9/";
pub const NS_RSS10: &str = "http://purl.org/rss/1.0/";
pub const NS_RSS11: &str = "http://purl.org/net/rss1.1#";
pub const NS_RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Dialect {
    /// `<rss>`: 0.91, 0.92, 2.0, or a version feed-rs does not know (kept as written).
    Rss {
        version: Option<String>,
    },
    Rss090,
    Rss10,
    Rss11,
    Atom10,
    Atom03,
    Json,
    Html,
    /// XML whose root names no feed (OPML, a sitemap, an error document).
    OtherXml(String),
    #[default]
    Unknown,
}

impl Dialect {
    pub fn is_atom03(&self) -> bool {
        *self == Dialect::Atom03
    }

    pub fn is_atom(&self) -> bool {
        matches!(self, Dialect::Atom10 | Dialect::Atom03)
    }

    /// For people, e.g. in an error: "RSS 2.0", "Atom 0.3".
    pub fn describe(&self) -> String {
        match self {
            Dialect::Rss { version: Some(v) } => format!("RSS {v}"),
            Dialect::Rss { version: None } => "RSS (no version)".into(),
            Dialect::Rss090 => "RSS 0.90".into(),
            Dialect::Rss10 => "RSS 1.0".into(),
            Dialect::Rss11 => "RSS 1.1".into(),
            Dialect::Atom10 => "Atom 1.0".into(),
            Dialect::Atom03 => "Atom 0.3".into(),
            Dialect::Json => "JSON".into(),
            Dialect::Html => "an HTML page".into(),
            Dialect::OtherXml(root) => format!("XML with root element <{root}>"),
            Dialect::Unknown => "neither XML nor JSON".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    pub dialect: Dialect,
    /// Byte offset of the root start tag (0 when there is none).
    pub root: usize,
}

/// Identify `doc` (UTF-8 text, BOM removed).
pub fn sniff(doc: &str) -> Sniffed {
    let none = |dialect| Sniffed { dialect, root: 0 };
    match doc.trim_start().as_bytes().first() {
        Some(b'{') | Some(b'[') => return none(Dialect::Json),
        Some(_) => {}
        None => return none(Dialect::Unknown),
    }
    let mut first_other: Option<&str> = None;
    for t in Lexer::new(doc) {
        if t.start > ROOT_SEARCH {
            break;
        }
        match t.kind {
            Kind::Doctype if is_html_doctype(t.raw) => {
                return Sniffed {
                    dialect: Dialect::Html,
                    root: t.start,
                };
            }
            // A root tag cut off by a truncated body still says what the document was.
            Kind::Start | Kind::Unterminated
                if t.raw.len() > 1 && is_name_start(t.raw.as_bytes()[1]) =>
            {
                let tag = Tag::parse(t.raw);
                if let Some(dialect) = root_dialect(&tag, first_other.is_none()) {
                    return Sniffed {
                        dialect,
                        root: t.start,
                    };
                }
                first_other.get_or_insert(tag.name);
            }
            _ => {}
        }
    }
    none(first_other.map_or(Dialect::Unknown, |n| Dialect::OtherXml(n.to_string())))
}

fn is_html_doctype(raw: &str) -> bool {
    raw.as_bytes()
        .get(2..14)
        .is_some_and(|b| b.eq_ignore_ascii_case(b"DOCTYPE html"))
}

/// The dialect a start tag announces if it is a feed's (or a page's) root. `<head>` and
/// `<body>` only count first: OPML has a `<body>` too.
fn root_dialect(tag: &Tag<'_>, first: bool) -> Option<Dialect> {
    let (prefix, local) = tag.split_name();
    let ns = namespace_of(tag, prefix);
    let is = |n: &str| local.eq_ignore_ascii_case(n);
    Some(if is("rss") {
        Dialect::Rss {
            // As written: feed-rs compares it exactly (" 2.0" is not "2.0" to it).
            version: tag.attr("version").map(str::to_string),
        }
    } else if is("rdf") {
        if tag.attributes().any(|a| a.value.trim() == NS_RSS090) {
            Dialect::Rss090
        } else {
            Dialect::Rss10
        }
    } else if is("feed") || is("entry") {
        let old = ns.is_some_and(|n| n.trim() == NS_ATOM03)
            || (ns.is_none() && tag.attr("version").is_some_and(|v| v.trim() == "0.3"));
        if old {
            Dialect::Atom03
        } else {
            Dialect::Atom10
        }
    } else if is("channel") && ns.is_some_and(|n| n.trim() == NS_RSS11) {
        Dialect::Rss11
    } else if is("html") || (first && (is("head") || is("body"))) {
        Dialect::Html
    } else {
        return None;
    })
}

/// The namespace URI a tag declares for `prefix` on itself (`xmlns` or `xmlns:prefix`).
fn namespace_of<'a>(tag: &Tag<'a>, prefix: &str) -> Option<&'a str> {
    tag.attributes()
        .find(|a| match a.name.strip_prefix("xmlns") {
            Some("") => prefix.is_empty(),
            Some(rest) => rest.strip_prefix(':') == Some(prefix) && !prefix.is_empty(),
            None => false,
        })
        .map(|a| a.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(doc: &str) -> Dialect {
        sniff(doc).dialect
    }

    #[test]
    fn feed_formats_and_versions() {
        assert_eq!(
            d("<?xml version=\"1.0\"?><rss version=\"2.0\">"),
            Dialect::Rss {
                version: Some("2.0".into())
            }
        );
        assert_eq!(d("<rss>"), Dialect::Rss { version: None });
        assert_eq!(
            d("<rdf:RDF xmlns:rdf=\"x\" xmlns=\"http://purl.org/rss/1.0/\">"),
            Dialect::Rss10
        );
        assert_eq!(
            d("<rdf:RDF xmlns=\"http://my.netscape.com/rdf/simple/0.9/\">"),
            Dialect::Rss090
        );
        assert_eq!(
            d("<Channel xmlns=\"http://purl.org/net/rss1.1#\">"),
            Dialect::Rss11
        );
        assert_eq!(
            d("<feed xmlns=\"http://www.w3.org/2005/Atom\">"),
            Dialect::Atom10
        );
        assert_eq!(
            d("<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\">"),
            Dialect::Atom03
        );
        assert_eq!(d("<feed version=\"0.3\">"), Dialect::Atom03);
        assert_eq!(
            d("<atom:feed xmlns:atom=\"http://purl.org/atom/ns#\">"),
            Dialect::Atom03
        );
        assert_eq!(d("  {\"version\": 1}"), Dialect::Json);
    }

    #[test]
    fn junk_before_the_root_is_skipped() {
        let doc = "<br />\n<b>Warning</b>: x<br />\n<?xml version=\"1.0\"?><RSS version=\"2.0\">";
        let s = sniff(doc);
        assert!(matches!(s.dialect, Dialect::Rss { .. }));
        assert_eq!(&doc[s.root..s.root + 4], "<RSS");
    }

    #[test]
    fn pages_and_other_documents() {
        assert_eq!(d("<!doctype html><p>hi"), Dialect::Html);
        assert_eq!(d("<html><head>"), Dialect::Html);
        assert_eq!(
            d("<?xml version=\"1.0\"?><opml version=\"2.0\"><body/></opml>"),
            Dialect::OtherXml("opml".into())
        );
        assert_eq!(d("just words"), Dialect::Unknown);
        assert_eq!(d(""), Dialect::Unknown);
    }
}
