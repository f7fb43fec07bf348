//! Bytes → items: whatever the web serves as a feed, read as RSS, Atom or JSON Feed.
//!
//! The stages, each in its own module: [`charset`] turns the body into UTF-8 (BOMs, UTF-16
//! and UTF-32, declarations, the HTTP charset, a guess); [`dialect`] says what the document
//! is; [`survey`] looks it over once for what is broken; `strategy` decides the reads: clean
//! documents go to feed-rs as they are (`read`), others through the [`repair`]s first, and
//! each repair is recorded in [`ParsedFeed::repairs`]. An HTML page yields its autodiscovery
//! links ([`discover`]); a document nothing fixes fails with a short reason ([`diagnose`]).
//!
//! Entries come out as [`RawItem`]s, text as written; [`RawItem::normalize`] extracts plain
//! text later, only for new or changed entries. [`parse_feed_within`] stops at a [`Deadline`]
//! ([`budget`]).

use chrono::{DateTime, Utc};
use url::Url;

pub mod budget;
pub mod charset;
mod dates;
pub mod diagnose;
pub mod dialect;
pub mod discover;
pub mod hints;
mod lex;
mod read;
pub mod repair;
mod strategy;
pub mod survey;
mod text;

pub use budget::{Deadline, OverBudget};
pub use dialect::Dialect;
pub use hints::PollHints;
pub use repair::Repair;
pub use text::{one_line, to_text};

/// An entry as the feed sent it: links resolved, text still as written (HTML, entities).
#[derive(Debug, Clone, PartialEq)]
pub struct RawItem {
    /// The feed's own id (RSS guid, Atom id, JSON Feed id); never one invented by feed-rs.
    pub guid: Option<String>,
    pub title: String,
    pub link: Option<String>,
    pub author: Option<String>,
    pub summary: String,
    pub content: String,
    pub categories: Vec<String>,
    pub published: Option<DateTime<Utc>>,
}

/// An entry normalized for storage and matching: plain text, one-line title.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedItem {
    pub guid: Option<String>,
    pub title: String,
    pub link: Option<String>,
    pub author: Option<String>,
    pub summary: String,
    pub content: String,
    pub categories: Vec<String>,
    pub published: Option<DateTime<Utc>>,
}

impl RawItem {
    /// A hash of every field as sent: equal hashes mean the entry did not change.
    pub fn raw_hash(&self) -> [u8; 16] {
        let published = self.published.map(|t| t.timestamp().to_string());
        let mut parts: Vec<&str> = vec![
            self.guid.as_deref().unwrap_or(""),
            &self.title,
            self.link.as_deref().unwrap_or(""),
            self.author.as_deref().unwrap_or(""),
            &self.summary,
            &self.content,
            published.as_deref().unwrap_or(""),
        ];
        parts.extend(self.categories.iter().map(String::as_str));
        crate::identity::raw_hash(&parts)
    }

    /// Extract the text: the costly step, run only for new or changed entries.
    pub fn normalize(&self) -> ParsedItem {
        ParsedItem {
            guid: self.guid.clone(),
            title: one_line(&to_text(&self.title)),
            link: self.link.clone(),
            author: self
                .author
                .as_deref()
                .map(|a| one_line(&to_text(a)))
                .filter(|a| !a.is_empty()),
            summary: to_text(&self.summary),
            content: to_text(&self.content),
            categories: self.categories.clone(),
            published: self.published,
        }
    }
}

/// A document read: its title, its entries, what had to be repaired, and its polling hints.
#[derive(Debug, Clone)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub items: Vec<RawItem>,
    /// The repairs the document needed, in the order applied; empty for a clean document.
    pub repairs: Vec<Repair>,
    pub hints: PollHints,
}

/// Why a body yields no feed. Each message is short and says what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("empty response body")]
    Empty,
    /// An HTML page; `feeds` are the feeds it names (autodiscovery), in page order.
    #[error("{}", html_message(feeds))]
    Html { feeds: Vec<Url> },
    #[error("binary data ({0}), not a feed")]
    Binary(&'static str),
    #[error("not a feed: {0}")]
    NotAFeed(String),
    /// Broken XML or JSON no repair fixes; the message names the place.
    #[error("not a valid RSS, Atom or JSON feed: {0}")]
    Malformed(String),
    #[error("not a valid RSS, Atom or JSON feed: {0}")]
    Truncated(String),
    #[error("the document declares nested XML entities (an entity-expansion bomb): refused")]
    EntityBomb,
    #[error("not a valid RSS, Atom or JSON feed: {0}")]
    Invalid(String),
    #[error("the feed parser crashed on this document: {0}")]
    Panicked(String),
    #[error(transparent)]
    OverBudget(#[from] OverBudget),
}

impl ParseError {
    /// A stable one-word class, e.g. for tests and metrics: `empty`, `html`, `binary`,
    /// `not-a-feed`, `malformed`, `truncated`, `entity-bomb`, `invalid`, `panicked`,
    /// `over-budget`.
    pub fn class(&self) -> &'static str {
        match self {
            ParseError::Empty => "empty",
            ParseError::Html { .. } => "html",
            ParseError::Binary(_) => "binary",
            ParseError::NotAFeed(_) => "not-a-feed",
            ParseError::Malformed(_) => "malformed",
            ParseError::Truncated(_) => "truncated",
            ParseError::EntityBomb => "entity-bomb",
            ParseError::Invalid(_) => "invalid",
            ParseError::Panicked(_) => "panicked",
            ParseError::OverBudget(_) => "over-budget",
        }
    }

    /// The texts this error carries, as [`crate::text::one_line`] cleans them.
    fn cleaned(self) -> Self {
        let c = |s: String| crate::text::one_line(&s);
        match self {
            ParseError::NotAFeed(m) => ParseError::NotAFeed(c(m)),
            ParseError::Malformed(m) => ParseError::Malformed(c(m)),
            ParseError::Truncated(m) => ParseError::Truncated(c(m)),
            ParseError::Invalid(m) => ParseError::Invalid(c(m)),
            ParseError::Panicked(m) => ParseError::Panicked(c(m)),
            other @ (ParseError::Empty
            | ParseError::Html { .. }
            | ParseError::Binary(_)
            | ParseError::EntityBomb
            | ParseError::OverBudget(_)) => other,
        }
    }
}

fn html_message(feeds: &[Url]) -> String {
    match feeds {
        [] => "the server sent an HTML page, not a feed".into(),
        [one] => format!("the server sent an HTML page, not a feed; it names the feed {one}"),
        [first, rest @ ..] => format!(
            "the server sent an HTML page, not a feed; it names the feed {first} and {} more",
            rest.len()
        ),
    }
}

/// Parse a feed document fetched from `base` (which resolves relative links). An error
/// message that quotes the document (a tag name, a parser's complaint) comes without control
/// or bidirectional characters, on one line.
pub fn parse_feed(
    body: &[u8],
    content_type: Option<&str>,
    base: &Url,
) -> Result<ParsedFeed, ParseError> {
    parse_feed_within(body, content_type, base, &Deadline::none())
}

/// [`parse_feed`], given up with [`ParseError::OverBudget`] once `deadline` has passed.
pub fn parse_feed_within(
    body: &[u8],
    content_type: Option<&str>,
    base: &Url,
    deadline: &Deadline,
) -> Result<ParsedFeed, ParseError> {
    parse_document(body, content_type, base, deadline).map_err(ParseError::cleaned)
}

fn parse_document(
    body: &[u8],
    content_type: Option<&str>,
    base: &Url,
    deadline: &Deadline,
) -> Result<ParsedFeed, ParseError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    if let Some(kind) = binary_kind(body) {
        return Err(ParseError::Binary(kind));
    }
    let tld = base.domain().and_then(tld_of);
    let decoded = charset::decode(body, charset::http_charset(content_type), tld);
    let text = decoded.text;
    deadline.check()?;
    let sniffed = dialect::sniff(&text);
    let (feed, repairs, hints) = match &sniffed.dialect {
        Dialect::Json => {
            let (feed, repairs) = strategy::read_json(&text, base, deadline)?;
            (feed, repairs, PollHints::default())
        }
        Dialect::Html => {
            return Err(ParseError::Html {
                feeds: discover::feed_links(&text, base),
            });
        }
        Dialect::OtherXml(root) => {
            return Err(ParseError::NotAFeed(format!(
                "an XML document whose root element is <{root}>, not RSS or Atom"
            )));
        }
        Dialect::Unknown => {
            return Err(ParseError::NotAFeed(
                "the body is neither XML nor JSON".into(),
            ));
        }
        _ => {
            let survey = survey::survey(&text, &sniffed);
            deadline.check()?;
            strategy::read_xml(&text, &survey, base, deadline)?
        }
    };
    let mut all = decoded.repairs;
    all.extend(repairs);
    let title = read::feed_title(&feed);
    let mut items = Vec::with_capacity(feed.entries.len());
    for e in feed.entries {
        deadline.check()?;
        items.push(read::raw_entry(e, base));
    }
    Ok(ParsedFeed {
        title,
        items,
        repairs: all,
        hints,
    })
}

/// A body that is binary data, by its magic number or its control bytes (UTF-16/32 aside).
fn binary_kind(body: &[u8]) -> Option<&'static str> {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"\x1f\x8b", "gzip-compressed, without Content-Encoding"),
        (
            b"\x28\xb5\x2f\xfd",
            "zstd-compressed, without Content-Encoding",
        ),
        (b"PK\x03\x04", "a zip archive"),
        (b"%PDF", "a PDF document"),
        (b"\x89PNG", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"GIF8", "a GIF image"),
    ];
    if let Some((_, kind)) = MAGIC.iter().find(|(m, _)| body.starts_with(m)) {
        return Some(kind);
    }
    if charset::is_wide(body) {
        return None;
    }
    let head = &body[..body.len().min(1024)];
    let control = head
        .iter()
        .filter(|&&b| b < 0x09 || (0x0e..0x20).contains(&b) || b == 0x7f)
        .count();
    (control * 10 > head.len()).then_some("mostly control bytes")
}

/// The top-level label of a domain, as chardetng wants it (lower-case ASCII, no dot).
fn tld_of(domain: &str) -> Option<&str> {
    let tld = domain.trim_end_matches('.').rsplit('.').next()?;
    (!tld.is_empty()
        && tld
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
    .then_some(tld)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://news.example.org/feeds/world.xml").unwrap()
    }

    #[test]
    fn rss_items_are_normalized() {
        let xml = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>W</title>
<item><title>Caf&amp;eacute; &amp;nbsp;talks</title><link>/2026/a.html</link><guid>g1</guid>
<description>&lt;p&gt;First &lt;b&gt;para&lt;/b&gt;&lt;/p&gt;&lt;p&gt;Second&lt;/p&gt;</description>
<category>World</category><pubDate>Tue, 10 Jun 2025 09:30:00 GMT</pubDate></item>
<item><title>No guid</title><link>https://news.example.org/b</link></item>
</channel></rss>"#;
        let f = parse_feed(xml.as_bytes(), None, &base()).unwrap();
        assert_eq!(f.items.len(), 2);
        let a = &f.items[0].normalize();
        assert_eq!(a.title, "Café talks");
        assert_eq!(
            a.link.as_deref(),
            Some("https://news.example.org/2026/a.html")
        );
        assert_eq!(a.guid.as_deref(), Some("g1"));
        assert_eq!(a.summary, "First para\nSecond");
        assert_eq!(a.categories, ["World"]);
        assert_eq!(
            a.published.unwrap().to_rfc3339(),
            "2025-06-10T09:30:00+00:00"
        );
        assert_eq!(f.items[1].guid, None, "feed-rs must not invent ids");
    }

    #[test]
    fn json_feed_and_atom() {
        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[{"id":"1","url":"https://x.org/1","title":"Hello","content_text":"Body"}]}"#;
        let f = parse_feed(json.as_bytes(), None, &base()).unwrap();
        assert_eq!(f.items[0].normalize().title, "Hello");
        assert_eq!(f.items[0].normalize().content, "Body");
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>x</id><updated>2026-01-01T00:00:00Z</updated>
<entry><id>e1</id><title type="html">A &amp;amp; B</title><updated>2026-01-01T00:00:00Z</updated>
<author><name>Jane</name></author><link rel="alternate" href="https://x.org/e1"/><content type="html">&lt;p&gt;Hi&lt;/p&gt;</content></entry></feed>"#;
        let f = parse_feed(atom.as_bytes(), None, &base()).unwrap();
        assert_eq!(f.items[0].normalize().title, "A & B");
        assert_eq!(f.items[0].normalize().author.as_deref(), Some("Jane"));
        assert_eq!(f.items[0].normalize().content, "Hi");
    }

    #[test]
    fn undeclared_latin1_is_decoded_from_http_charset_or_guessed() {
        let mut body = b"<rss version=\"2.0\"><channel><title>t</title><item><title>Caf".to_vec();
        body.push(0xE9);
        body.extend_from_slice(b"</title><guid>1</guid></item></channel></rss>");
        let f = parse_feed(&body, Some("text/xml; charset=ISO-8859-1"), &base()).unwrap();
        assert_eq!(f.items[0].normalize().title, "Café");
        let f = parse_feed(&body, None, &base()).unwrap();
        assert_eq!(f.items[0].normalize().title, "Café");
    }

    #[test]
    fn undeclared_windows_1251_is_detected() {
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(
            "<rss version=\"2.0\"><channel><title>t</title><item><title>Лавров прибыл в Пекин для переговоров с Ван И</title><guid>1</guid></item></channel></rss>",
        );
        let f = parse_feed(&bytes, Some("application/rss+xml"), &base()).unwrap();
        assert_eq!(
            f.items[0].normalize().title,
            "Лавров прибыл в Пекин для переговоров с Ван И"
        );
    }

    #[test]
    fn latin1_wrongly_declared_as_utf8_is_rescued_from_the_http_charset() {
        let mut body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title><item><title>Caf".to_vec();
        body.push(0xE9);
        body.extend_from_slice(b"</title><guid>1</guid></item></channel></rss>");
        let f = parse_feed(&body, Some("text/xml; charset=ISO-8859-1"), &base()).unwrap();
        assert_eq!(f.items[0].normalize().title, "Café");
    }

    #[test]
    fn bad_documents_get_clear_errors() {
        let html =
            b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>hi</body></html>";
        assert!(matches!(
            parse_feed(html, None, &base()),
            Err(ParseError::Html { .. })
        ));
        assert!(matches!(
            parse_feed(b"  \n", None, &base()),
            Err(ParseError::Empty)
        ));
        let e = parse_feed(
            b"<rss version=\"2.0\"><channel><item><title>x",
            None,
            &base(),
        )
        .unwrap_err();
        assert!(matches!(e, ParseError::Truncated(_)), "{e}");
    }

    #[test]
    fn errors_quoting_the_document_carry_no_control_characters() {
        let docs: [&[u8]; 3] = [
            b"<rss version=\"2.0\"><channel><it\x1b[2Jem\xe2\x80\xae><title>x</title></channel></rss>",
            b"<rss version=\"2.0\"><channel><title>x</title></chan\x1b]0;t\x07nel></rss>",
            b"<\xc2\x9b31m\x1b[5mroot/>",
        ];
        for doc in docs {
            let e = parse_feed(doc, None, &base()).unwrap_err().to_string();
            assert!(!e.contains(['\x1b', '\u{9b}', '\u{202e}', '\x07']), "{e:?}");
            assert!(
                e.contains('<'),
                "the message still quotes the document: {e:?}"
            );
        }
    }

    fn names(f: &ParsedFeed) -> Vec<String> {
        f.repairs.iter().map(Repair::name).collect()
    }

    #[test]
    fn clean_documents_need_no_repairs_and_carry_hints() {
        let xml = "<?xml version=\"1.0\"?><rss version=\"2.0\" xmlns:sy=\"http://purl.org/rss/1.0/modules/syndication/\"><channel><title>T</title><ttl>30</ttl><sy:updatePeriod>hourly</sy:updatePeriod><item><title>A</title><guid>1</guid></item></channel></rss>";
        let f = parse_feed(xml.as_bytes(), None, &base()).unwrap();
        assert!(f.repairs.is_empty());
        assert_eq!(f.hints.ttl, Some(std::time::Duration::from_secs(1800)));
        assert_eq!(
            f.hints.update_interval,
            Some(std::time::Duration::from_secs(3600))
        );
    }

    #[test]
    fn repairs_are_recorded_in_the_order_applied() {
        let xml = "<b>Warning</b>: x\n<rss><channel><title>T</title><item><title>Tom & Jerry</title><media:title>not this</media:title><guid>1</guid></item></channel></rss>";
        let f = parse_feed(xml.as_bytes(), None, &base()).unwrap();
        assert_eq!(
            names(&f),
            [
                "leading-junk-removed",
                "rss-version-added",
                "prefix-declared:media",
                "bare-ampersand-escaped"
            ]
        );
        assert_eq!(f.items[0].normalize().title, "Tom & Jerry");
    }

    #[test]
    fn atom03_entries_are_read() {
        let xml = "<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><title>T</title><entry><title>E</title><id>e1</id><issued>2004-01-01T00:00:00Z</issued><link rel=\"alternate\" href=\"https://x.org/e1\"/></entry></feed>";
        let f = parse_feed(xml.as_bytes(), None, &base()).unwrap();
        assert_eq!(f.items.len(), 1);
        assert_eq!(names(&f), ["atom03-mapped"]);
        assert_eq!(
            f.items[0].published.map(|p| p.to_rfc3339()).as_deref(),
            Some("2004-01-01T00:00:00+00:00")
        );
    }

    #[test]
    fn declarations_that_crash_quick_xml_do_not_reach_it() {
        // UTF-16BE with a declaration, and a late declaration naming another encoding:
        // quick-xml 0.42 panics on both when handed the bytes.
        let text = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><rss version=\"2.0\"><channel><title>T</title><item><title>Αθήνα</title></item></channel></rss>";
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let f = parse_feed(&be, Some("application/xml"), &base()).unwrap();
        assert_eq!(f.items[0].normalize().title, "Αθήνα");
        let late = format!(
            "{}<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss version=\"2.0\"><channel><title>T</title><item><title>x</title></item></channel></rss>",
            " ".repeat(3000)
        );
        assert_eq!(
            parse_feed(late.as_bytes(), None, &base())
                .unwrap()
                .items
                .len(),
            1
        );
    }

    #[test]
    fn a_document_past_its_deadline_fails_with_the_budget_error() {
        let xml = b"<rss version=\"2.0\"><channel><title>T</title><item><title>A</title><guid>1</guid></item></channel></rss>";
        let spent = Deadline::after(std::time::Duration::ZERO);
        for body in [
            &xml[..],
            br#"{"version":"https://jsonfeed.org/version/1.1","items":[]}"#,
        ] {
            let e = parse_feed_within(body, None, &base(), &spent).unwrap_err();
            assert_eq!(e.class(), "over-budget", "{e}");
            assert!(
                e.to_string()
                    .starts_with("this document took more than 0 ms to read")
            );
        }
        let hour = Deadline::after(std::time::Duration::from_secs(3600));
        assert_eq!(
            parse_feed_within(xml, None, &base(), &hour)
                .unwrap()
                .items
                .len(),
            1
        );
    }

    #[test]
    fn pages_name_their_feeds() {
        let html = b"<!DOCTYPE html><html><head><link rel=\"alternate\" type=\"application/atom+xml\" href=\"/atom.xml\"></head></html>";
        match parse_feed(html, Some("text/html"), &base()) {
            Err(ParseError::Html { feeds }) => {
                assert_eq!(
                    feeds,
                    [Url::parse("https://news.example.org/atom.xml").unwrap()]
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hostile_and_binary_bodies_fail_fast() {
        let lol = (1..=9)
            .map(|n| format!("<!ENTITY l{n} \"{}\">", format!("&l{};", n - 1).repeat(10)))
            .collect::<String>();
        let bomb = format!(
            "<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY l0 \"lol\">{lol}]><rss version=\"2.0\"><channel><title>&l9;</title></channel></rss>"
        );
        let e = parse_feed(bomb.as_bytes(), None, &base()).unwrap_err();
        assert_eq!(e.class(), "entity-bomb", "{e}");
        let e = parse_feed(b"\x1f\x8b\x08\x00\x00\x00", None, &base()).unwrap_err();
        assert_eq!(e.class(), "binary");
        let e = parse_feed(b"<opml version=\"2.0\"><body/></opml>", None, &base()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "not a feed: an XML document whose root element is <opml>, not RSS or Atom"
        );
    }
}
