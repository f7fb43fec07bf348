//! One pass over a document's markup: what it is, which repairs it needs, how many entries
//! it visibly has, and the polling hints it carries.
//!
//! The survey is what keeps clean documents fast: when it finds nothing, the document goes
//! to feed-rs as it is, with no rewriting at all.

use super::dialect::{Dialect, Sniffed};
use super::hints::{self, PollHints};
use super::lex::{self, Kind, Lexer, Tag, atom_name};
use super::repair::defuse;
use super::repair::escapes::{Reference, classify};
use super::repair::markup::holds_text;

#[derive(Debug, Default)]
pub struct Survey {
    pub dialect: Dialect,
    /// Byte offset of the root start tag.
    pub root: usize,
    /// Text or elements before the root (other than blanks, comments, PIs, a DOCTYPE).
    pub junk_before: bool,
    /// `<item>` and `<entry>` start tags, in any case.
    pub entries: usize,
    /// Prefixes used on elements or attributes but declared nowhere, in order of first use.
    pub undeclared: Vec<String>,
    pub bare_amp: bool,
    pub html_entities: bool,
    pub bare_lt: bool,
    /// Element names feed-rs expects, written in another case (`<Item>`, `<PUBDATE>`).
    pub odd_case: bool,
    /// Child elements inside an element that holds text: HTML the publisher did not escape.
    pub inline_markup: bool,
    /// Atom text constructs whose `type` is not text, html or xhtml.
    pub odd_atom_types: bool,
    /// Values that crash feed-rs (see `repair::defuse`): the original must never reach it.
    pub crash_bait: bool,
    /// The body ends inside markup or with elements open: a partial document.
    pub truncated: bool,
    /// RSS 1.0 items with an `rdf:about` but no `<link>` (feed-rs drops those).
    pub rdf_missing_links: bool,
    /// Entities declared in the internal DTD subset (left alone by the escapes).
    pub dtd_entities: Vec<String>,
    /// An entity whose value refers to other entities: the shape of an expansion bomb.
    pub nested_entities: bool,
    pub hints: PollHints,
}

impl Survey {
    pub fn needs_version_map(&self) -> bool {
        match &self.dialect {
            Dialect::Rss { version } => {
                !matches!(version.as_deref(), Some("2.0" | "0.91" | "0.92" | ""))
            }
            Dialect::Rss090 | Dialect::Rss11 => true,
            _ => false,
        }
    }

    pub fn needs_escapes(&self) -> bool {
        self.bare_amp || self.html_entities || self.bare_lt
    }

    /// Whether any repair is called for.
    pub fn needs_repair(&self) -> bool {
        self.junk_before
            || self.crash_bait
            || self.needs_version_map()
            || self.rdf_missing_links
            || self.dialect.is_atom03()
            || self.odd_atom_types
            || self.odd_case
            || self.inline_markup
            || !self.undeclared.is_empty()
            || self.needs_escapes()
    }
}

#[derive(Clone, Copy)]
enum Capture {
    Ttl,
    Period,
    Frequency,
    /// The text of an element feed-rs may crash on (a duration, an author).
    Bait(&'static str),
}

/// Survey `doc`, whose root `sniffed` found.
pub fn survey(doc: &str, sniffed: &Sniffed) -> Survey {
    let mut pass = Pass::new(sniffed);
    for t in Lexer::new(doc) {
        let before_root = t.start < pass.s.root;
        let capture = pass.capture.take();
        match t.kind {
            Kind::Text => {
                if before_root && !t.raw.trim().is_empty() {
                    pass.s.junk_before = true;
                }
                pass.text(t.raw, capture);
            }
            Kind::CData => pass.captured(cdata_text(t.raw), capture),
            Kind::Start | Kind::End | Kind::BareLt if before_root => pass.s.junk_before = true,
            Kind::Start => pass.start(t.raw),
            Kind::End => pass.end(t.raw),
            Kind::BareLt => pass.s.bare_lt = true,
            Kind::Doctype if before_root => read_dtd(t.raw, &mut pass.s),
            Kind::Unterminated => pass.s.truncated = true,
            _ => {}
        }
    }
    pass.finish()
}

fn cdata_text(raw: &str) -> &str {
    raw.strip_prefix("<![CDATA[")
        .and_then(|r| r.strip_suffix("]]>"))
        .unwrap_or(raw)
}

/// The state of one survey pass between tokens.
struct Pass<'a> {
    s: Survey,
    declared: Vec<&'a str>,
    used: Vec<&'a str>,
    /// What the next text token is, if it is wanted.
    capture: Option<Capture>,
    rdf: bool,
    /// The root element's name, and whether its end tag has been seen: a body without it
    /// was cut (unclosed elements inside a closed root are malformed, not cut).
    root_name: Option<&'a str>,
    root_closed: bool,
    /// The name of the open element that holds text, if one is open.
    text_element: Option<&'a str>,
    /// In an RSS 1.0 item: whether it has an rdf:about and whether a <link> was seen.
    rdf_item: Option<(bool, bool)>,
    ttl: Option<&'a str>,
    period: Option<&'a str>,
    frequency: Option<&'a str>,
}

impl<'a> Pass<'a> {
    fn new(sniffed: &Sniffed) -> Self {
        Self {
            s: Survey {
                dialect: sniffed.dialect.clone(),
                root: sniffed.root,
                ..Survey::default()
            },
            declared: Vec::new(),
            used: Vec::new(),
            capture: None,
            rdf: matches!(sniffed.dialect, Dialect::Rss10 | Dialect::Rss090),
            root_name: None,
            root_closed: false,
            text_element: None,
            rdf_item: None,
            ttl: None,
            period: None,
            frequency: None,
        }
    }

    fn text(&mut self, raw: &'a str, capture: Option<Capture>) {
        self.captured(raw, capture);
        check_references(raw, &mut self.s);
    }

    /// Text (or CDATA) right after a start tag whose content is wanted.
    fn captured(&mut self, raw: &'a str, capture: Option<Capture>) {
        match capture {
            Some(Capture::Ttl) => self.ttl = self.ttl.or(Some(raw)),
            Some(Capture::Period) => self.period = self.period.or(Some(raw)),
            Some(Capture::Frequency) => self.frequency = self.frequency.or(Some(raw)),
            Some(Capture::Bait(local)) => self.s.crash_bait |= defuse::needs(local, raw),
            None => {}
        }
    }

    fn start(&mut self, raw: &'a str) {
        let tag = Tag::parse(raw);
        if self.root_name.is_none() {
            self.root_name = Some(tag.name);
            self.root_closed = tag.self_closing;
        }
        if self.text_element.is_some() {
            self.s.inline_markup = true;
        } else if !tag.self_closing && holds_text(&tag, self.s.dialect.is_atom()) {
            self.text_element = Some(tag.name);
        }
        let (prefix, local) = tag.split_name();
        note_prefix(prefix, &mut self.used);
        if tag.attrs.contains(':') {
            for a in tag.attributes() {
                match a.name.strip_prefix("xmlns:") {
                    Some(p) => note_prefix(p, &mut self.declared),
                    None => note_prefix(lex::split_qname(a.name).0, &mut self.used),
                }
            }
        }
        if local.eq_ignore_ascii_case("item") || local.eq_ignore_ascii_case("entry") {
            self.s.entries += 1;
        }
        if self.rdf && prefix.is_empty() {
            match local {
                "item" if !tag.self_closing => {
                    self.rdf_item = Some((tag.attr("rdf:about").is_some(), false));
                }
                "link" => {
                    if let Some(i) = self.rdf_item.as_mut() {
                        i.1 = true;
                    }
                }
                _ => {}
            }
        }
        let s = &mut self.s;
        s.odd_case |= odd_case(prefix, local);
        s.odd_atom_types |= s.dialect.is_atom() && atom_name(prefix) && odd_atom_type(local, &tag);
        s.crash_bait |= has_digit_run(tag.attrs, defuse::OVERLONG_DIGITS)
            && tag
                .attributes()
                .any(|a| matches!(a.name, "start" | "end" | "time") && defuse::overlong(a.value));
        self.capture = match (prefix, local) {
            ("", "ttl") => Some(Capture::Ttl),
            (p, "updatePeriod") if !p.is_empty() => Some(Capture::Period),
            (p, "updateFrequency") if !p.is_empty() => Some(Capture::Frequency),
            (_, "duration") => Some(Capture::Bait("duration")),
            (_, l) if defuse::is_person(l) && !tag.self_closing => Some(Capture::Bait("author")),
            _ => None,
        };
    }

    fn end(&mut self, raw: &'a str) {
        let name = lex::end_name(raw);
        if self.root_name.is_some_and(|r| r.eq_ignore_ascii_case(name)) {
            self.root_closed = true;
        }
        if self.text_element == Some(name) {
            self.text_element = None;
        }
        let (prefix, local) = lex::split_qname(name);
        self.s.odd_case |= odd_case(prefix, local);
        if self.rdf
            && (prefix, local) == ("", "item")
            && let Some((true, false)) = self.rdf_item.take()
        {
            self.s.rdf_missing_links = true;
        }
    }

    fn finish(self) -> Survey {
        let mut s = self.s;
        s.truncated |= !self.root_closed;
        s.undeclared = self
            .used
            .iter()
            .filter(|p| !self.declared.contains(p))
            .map(|p| p.to_string())
            .collect();
        s.hints = PollHints {
            ttl: self.ttl.and_then(hints::ttl),
            update_interval: hints::update_interval(self.period, self.frequency),
        };
        s
    }
}

/// Add `prefix` to `set` unless it is empty, reserved (`xml`, `xmlns`) or no valid name.
pub fn note_prefix<'a>(prefix: &'a str, set: &mut Vec<&'a str>) {
    let ok = !prefix.is_empty()
        && prefix != "xml"
        && prefix != "xmlns"
        && prefix
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'));
    if ok && !set.contains(&prefix) {
        set.push(prefix);
    }
}

fn check_references(text: &str, s: &mut Survey) {
    if s.bare_amp && s.html_entities {
        return;
    }
    for at in memchr::memchr_iter(b'&', text.as_bytes()) {
        match classify(&text[at + 1..], &s.dtd_entities) {
            Reference::Valid(_) | Reference::Unknown(_) => {}
            Reference::Html(..) => s.html_entities = true,
            Reference::Bare | Reference::BadNumber(_) => s.bare_amp = true,
        }
    }
}

/// Entity declarations of an internal DTD subset: their names, and whether any value refers
/// to another entity (how an expansion bomb is built).
fn read_dtd(raw: &str, s: &mut Survey) {
    let mut rest = raw;
    while let Some(at) = rest.find("<!ENTITY") {
        rest = &rest[at + 8..];
        let decl = rest.trim_start();
        if decl.starts_with('%') {
            s.nested_entities |= decl.contains('&') || decl.contains('%');
            continue;
        }
        let name_len = decl
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(decl.len());
        s.dtd_entities.push(decl[..name_len].to_string());
        let value = &decl[name_len..];
        let end = value.find('>').unwrap_or(value.len());
        let value = &value[..end];
        if memchr::memchr_iter(b'&', value.as_bytes()).any(|i| {
            value
                .as_bytes()
                .get(i + 1)
                .is_some_and(|&c| lex::is_name_start(c))
        }) {
            s.nested_entities = true;
        }
    }
}

/// The spelling feed-rs expects for an element name it knows, whatever the case written.
pub fn canonical_name(local: &str) -> Option<&'static str> {
    const NAMES: &[&str] = &[
        "rss",
        "channel",
        "item",
        "title",
        "link",
        "description",
        "language",
        "copyright",
        "managingEditor",
        "webMaster",
        "pubDate",
        "lastBuildDate",
        "category",
        "generator",
        "docs",
        "ttl",
        "image",
        "url",
        "width",
        "height",
        "author",
        "comments",
        "enclosure",
        "guid",
        "source",
        "feed",
        "entry",
        "id",
        "updated",
        "published",
        "summary",
        "content",
        "name",
        "email",
        "uri",
        "contributor",
        "rights",
        "subtitle",
        "icon",
        "logo",
        "RDF",
    ];
    if local.len() > 14 {
        return None;
    }
    NAMES
        .iter()
        .copied()
        .find(|n| n.len() == local.len() && n.eq_ignore_ascii_case(local))
}

fn odd_case(prefix: &str, local: &str) -> bool {
    // Prefixed names belong to other vocabularies, except rdf:RDF.
    if !prefix.is_empty() && !prefix.eq_ignore_ascii_case("rdf") {
        return false;
    }
    canonical_name(local).is_some_and(|c| c != local)
}

/// An Atom text construct or content whose `type` feed-rs rejects.
fn odd_atom_type(local: &str, tag: &Tag<'_>) -> bool {
    let text_construct = matches!(local, "title" | "subtitle" | "summary" | "rights");
    if !(text_construct || local == "content") {
        return false;
    }
    let Some(ty) = tag.attr("type") else {
        return false;
    };
    if matches!(ty, "text" | "html" | "xhtml" | "text/html") {
        return false;
    }
    // Content may carry any media type with src=, or inline XML.
    !(local == "content"
        && (tag.attr("src").is_some() || ty.ends_with("+xml") || ty.ends_with("/xml")))
}

fn has_digit_run(s: &str, n: usize) -> bool {
    let mut run = 0;
    for b in s.bytes() {
        if b.is_ascii_digit() {
            run += 1;
            if run >= n {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::super::dialect::sniff;
    use super::*;
    use std::time::Duration;

    fn of(doc: &str) -> Survey {
        survey(doc, &sniff(doc))
    }

    #[test]
    fn a_clean_document_needs_nothing() {
        let s = of(
            "<?xml version=\"1.0\"?>\n<!-- hi --><rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>A &amp; B &#233;</title><ttl>30</ttl><item><dc:creator>x</dc:creator></item><item/></channel></rss>",
        );
        assert!(!s.needs_repair(), "{s:?}");
        assert_eq!(s.entries, 2);
        assert_eq!(s.hints.ttl, Some(Duration::from_secs(1800)));
    }

    #[test]
    fn finds_what_needs_repair() {
        let s = of(
            "<b>Warning</b>\n<rss><channel><Item><title>A & B&nbsp;</title><itunes:author>x</itunes:author><media:content url='u' media:x='1'/><sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency></Item></channel></rss>",
        );
        assert!(s.junk_before && s.bare_amp && s.html_entities && s.odd_case);
        assert!(s.needs_version_map());
        assert_eq!(s.undeclared, ["itunes", "media", "sy"]);
        assert_eq!(s.entries, 1);
        assert_eq!(s.hints.update_interval, Some(Duration::from_secs(1800)));
    }

    #[test]
    fn atom_types_and_bare_lt() {
        let s = of(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title type=\"text/plain\">a < b</title><content type=\"image/png\" src=\"x.png\"/></feed>",
        );
        assert!(s.odd_atom_types && s.bare_lt);
        let s = of(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title type=\"html\">a</title><content type=\"image/png\" src=\"x.png\"/></feed>",
        );
        assert!(!s.needs_repair());
    }

    #[test]
    fn entity_declarations() {
        let s = of(
            "<!DOCTYPE rss [<!ENTITY nbsp \"&#160;\"><!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]><rss version=\"2.0\"><channel><title>&nbsp;&lol2;</title></channel></rss>",
        );
        assert_eq!(s.dtd_entities, ["nbsp", "lol", "lol2"]);
        assert!(s.nested_entities);
        assert!(!s.html_entities, "declared entities are not HTML ones");
    }

    #[test]
    fn overlong_durations() {
        assert!(of("<rss version=\"2.0\"><channel><item><itunes:duration xmlns:itunes=\"i\">99999999999999999999</itunes:duration></item></channel></rss>").crash_bait);
        assert!(!of("<rss version=\"2.0\"><channel><item><guid>https://m.example/@a/111234567890123456</guid></item></channel></rss>").crash_bait);
        assert!(of("<rss version=\"2.0\"><channel><item><author>«a@b.org»</author></item></channel></rss>").crash_bait);
        assert!(of("<rss version=\"2.0\"><channel><item><dc:creator><![CDATA[«a@b.org»]]></dc:creator></item></channel></rss>").crash_bait);
    }

    #[test]
    fn unescaped_markup_in_text_elements() {
        assert!(of("<rss version=\"2.0\"><channel><item><description>Hi <b>x</b></description></item></channel></rss>").inline_markup);
        assert!(!of("<rss version=\"2.0\"><channel><item><description>Hi &lt;b&gt;</description><enclosure url=\"u\"/></item></channel></rss>").inline_markup);
        assert!(!of("<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><content type=\"xhtml\"><div>x</div></content></entry></feed>").inline_markup);
    }

    #[test]
    fn partial_documents_are_marked_truncated() {
        assert!(of("<rss version=\"2.0\"><channel><item><title>cut").truncated);
        assert!(of("<rss version=\"2.0\"><channel></channel>").truncated);
        assert!(of("<rss version=\"2.0\"><channel><item><link href=\"x").truncated);
        // Junk after the root is not a cut, nor is an element left open inside it.
        assert!(!of("<rss version=\"2.0\"><channel/></rss>\n<p>Warning: x in y.php").truncated);
        assert!(
            !of("<rss version=\"2.0\"><channel><description>a <b>b</description></channel></rss>")
                .truncated
        );
    }

    #[test]
    fn canonical_names() {
        assert_eq!(canonical_name("PUBDATE"), Some("pubDate"));
        assert_eq!(canonical_name("Item"), Some("item"));
        assert_eq!(canonical_name("rdf"), Some("RDF"));
        assert_eq!(canonical_name("itemz"), None);
    }
}
