//! Feed dialects feed-rs does not dispatch on, rewritten into ones it does: `<rss>` with no
//! or an unknown version → RSS 2.0; RSS 0.90's namespace → RSS 1.0's; RSS 1.1's `<Channel>`
//! root with its `<items>` collection → RSS 1.0's `<rdf:RDF>` with the items beside the
//! channel.

use super::{Fixed, Repair, splice};
use crate::parse::dialect::{Dialect, NS_RDF, NS_RSS10, NS_RSS090, sniff};
use crate::parse::lex::{Kind, Lexer, Tag, end_name};

pub fn map(doc: &str, dialect: &Dialect) -> Option<Fixed> {
    match dialect {
        Dialect::Rss { .. } => rss_version(doc),
        Dialect::Rss090 => rss090(doc),
        Dialect::Rss11 => rss11(doc),
        _ => None,
    }
}

/// Absolute offset of `sub`, a slice of `doc`.
fn offset(doc: &str, sub: &str) -> usize {
    sub.as_ptr() as usize - doc.as_ptr() as usize
}

fn root_tag(doc: &str) -> Option<(usize, &str)> {
    let at = sniff(doc).root;
    let t = Lexer::new(&doc[at..]).next()?;
    (t.kind == Kind::Start).then_some((at, &doc[at..at + t.raw.len()]))
}

fn rss_version(doc: &str) -> Option<Fixed> {
    let (_, raw) = root_tag(doc)?;
    let tag = Tag::parse(raw);
    match tag.attributes().find(|a| a.name == "version") {
        Some(a) if matches!(a.value, "2.0" | "0.91" | "0.92" | "") => None,
        Some(a) => {
            let at = offset(doc, a.value);
            let text = splice(doc, &[(at, at + a.value.len(), "2.0")]);
            Some(Fixed::one(
                text,
                Repair::RssVersionChanged(a.value.trim().to_string()),
            ))
        }
        None => {
            let at = offset(doc, tag.name) + tag.name.len();
            let text = splice(doc, &[(at, at, " version=\"2.0\"")]);
            Some(Fixed::one(text, Repair::RssVersionAdded))
        }
    }
}

fn rss090(doc: &str) -> Option<Fixed> {
    let (_, raw) = root_tag(doc)?;
    let a = Tag::parse(raw)
        .attributes()
        .find(|a| a.value.trim() == NS_RSS090)?;
    let at = offset(doc, a.value);
    let text = splice(doc, &[(at, at + a.value.len(), NS_RSS10)]);
    Some(Fixed::one(text, Repair::Rss090Mapped))
}

fn rss11(doc: &str) -> Option<Fixed> {
    let (root_at, raw) = root_tag(doc)?;
    let tag = Tag::parse(raw);
    let root_name = tag.name;
    // The namespace declarations move to rdf:RDF; everything else stays on the channel.
    let mut rdf_attrs = format!(" xmlns=\"{NS_RSS10}\"");
    let mut channel_attrs = String::new();
    let mut has_rdf = false;
    for a in tag.attributes() {
        let text = &tag.attrs[a.span.0..a.span.1];
        if a.name == "xmlns" {
            continue;
        }
        if a.name.starts_with("xmlns:") {
            has_rdf |= a.name == "xmlns:rdf";
            rdf_attrs.push(' ');
            rdf_attrs.push_str(text);
        } else {
            channel_attrs.push(' ');
            channel_attrs.push_str(text);
        }
    }
    if !has_rdf {
        rdf_attrs.push_str(&format!(" xmlns:rdf=\"{NS_RDF}\""));
    }
    let mut edits: Vec<(usize, usize, String)> = vec![(
        root_at,
        root_at + raw.len(),
        format!("<rdf:RDF{rdf_attrs}><channel{channel_attrs}>"),
    )];
    let mut depth = 0usize;
    let mut closed_channel = false;
    for t in Lexer::new(&doc[root_at + raw.len()..]) {
        let start = root_at + raw.len() + t.start;
        let end = start + t.raw.len();
        match t.kind {
            Kind::Start => {
                let child = Tag::parse(t.raw);
                if depth == 0 && child.name == "items" && !closed_channel {
                    closed_channel = true;
                    edits.push((start, end, "</channel>".into()));
                } else if !child.self_closing {
                    depth += 1;
                }
            }
            Kind::End => {
                let name = end_name(t.raw);
                if depth == 0 && name == "items" {
                    edits.push((start, end, String::new()));
                } else if depth == 0 && name == root_name {
                    let close = if closed_channel { "" } else { "</channel>" };
                    edits.push((start, end, format!("{close}</rdf:RDF>")));
                    break;
                } else {
                    depth = depth.saturating_sub(1);
                }
            }
            _ => {}
        }
    }
    Some(Fixed::one(splice(doc, &edits), Repair::Rss11Mapped))
}

/// RSS 1.0 items without `<link>` (feed-rs drops them) get one from their `rdf:about`, which
/// the spec says is the item's URI.
pub fn rdf_links(doc: &str) -> Option<Fixed> {
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    // (where the item's start tag ends, its rdf:about, whether a link was seen)
    let mut item: Option<(usize, &str, bool)> = None;
    for t in Lexer::new(doc) {
        match t.kind {
            Kind::Start => {
                let tag = Tag::parse(t.raw);
                match tag.name {
                    "item" if !tag.self_closing => {
                        item = tag
                            .attr("rdf:about")
                            .map(|about| (t.start + t.raw.len(), about, false));
                    }
                    "link" => {
                        if let Some(i) = item.as_mut() {
                            i.2 = true;
                        }
                    }
                    _ => {}
                }
            }
            Kind::End if end_name(t.raw) == "item" => {
                if let Some((at, about, false)) = item.take()
                    && !about.trim().is_empty()
                {
                    edits.push((at, at, format!("<link>{}</link>", about.trim())));
                }
            }
            _ => {}
        }
    }
    (!edits.is_empty()).then(|| Fixed::one(splice(doc, &edits), Repair::Rss10LinkAdded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(doc: &str) -> (String, Vec<String>) {
        let f = map(doc, &sniff(doc).dialect).expect("mapped");
        (f.text, f.repairs.iter().map(Repair::name).collect())
    }

    #[test]
    fn rss_version_added_or_changed() {
        assert_eq!(
            run("<?xml version=\"1.0\"?><rss xmlns:itunes=\"i\"><channel/></rss>"),
            (
                "<?xml version=\"1.0\"?><rss version=\"2.0\" xmlns:itunes=\"i\"><channel/></rss>"
                    .into(),
                vec!["rss-version-added".into()]
            )
        );
        assert_eq!(
            run("<rss version='0.94'><channel/></rss>").0,
            "<rss version='2.0'><channel/></rss>"
        );
        assert!(map("<rss version=\"2.0\"/>", &sniff("<rss/>").dialect).is_none());
    }

    #[test]
    fn rdf_items_get_links_from_about() {
        let doc = "<rdf:RDF><item rdf:about=\"http://x.org/1\"><title>a</title></item><item rdf:about=\"http://x.org/2\"><link>http://x.org/2</link></item></rdf:RDF>";
        let f = rdf_links(doc).expect("added");
        assert_eq!(
            f.text,
            "<rdf:RDF><item rdf:about=\"http://x.org/1\"><link>http://x.org/1</link><title>a</title></item><item rdf:about=\"http://x.org/2\"><link>http://x.org/2</link></item></rdf:RDF>"
        );
        assert!(rdf_links("<rdf:RDF><item><title>no about</title></item></rdf:RDF>").is_none());
    }

    #[test]
    fn rss090_namespace() {
        let (out, r) = run(
            "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://my.netscape.com/rdf/simple/0.9/\"><channel/></rdf:RDF>",
        );
        assert!(out.contains("xmlns=\"http://purl.org/rss/1.0/\""));
        assert_eq!(r, ["rss090-mapped"]);
    }

    #[test]
    fn rss11_becomes_rdf() {
        let doc = "<?xml version=\"1.0\"?>\n<Channel xmlns=\"http://purl.org/net/rss1.1#\" xmlns:p=\"http://purl.org/net/rss1.1/payload#\" rdf:about=\"http://x.org/\">\n<title>T</title><link>http://x.org/</link>\n<items rdf:parseType=\"Collection\"><item rdf:about=\"http://x.org/1\"><title>One</title><link>http://x.org/1</link></item></items>\n</Channel>";
        let (out, r) = run(doc);
        assert_eq!(
            out,
            "<?xml version=\"1.0\"?>\n<rdf:RDF xmlns=\"http://purl.org/rss/1.0/\" xmlns:p=\"http://purl.org/net/rss1.1/payload#\" xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><channel rdf:about=\"http://x.org/\">\n<title>T</title><link>http://x.org/</link>\n</channel><item rdf:about=\"http://x.org/1\"><title>One</title><link>http://x.org/1</link></item>\n</rdf:RDF>"
        );
        assert_eq!(r, ["rss11-mapped"]);
    }
}
