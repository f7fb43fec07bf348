//! Bytes → feed-rs → normalized items: plain text for matching and storage.
//!
//! feed-rs gets the raw bytes (it reads the XML declaration's encoding itself). Only a body
//! that is not UTF-8 and declares no encoding is transcoded first, from the HTTP charset or
//! windows-1252, since feed-rs would otherwise fail with a misleading "no root" error.

use std::panic::AssertUnwindSafe;

use chrono::{DateTime, Utc};
use url::Url;

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

#[derive(Debug, Clone)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub items: Vec<RawItem>,
}

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("the server sent an HTML page, not a feed")]
    Html,
    #[error("empty response body")]
    Empty,
    #[error("not a valid RSS, Atom or JSON feed: {0}")]
    Invalid(String),
    #[error("the feed parser crashed on this document: {0}")]
    Panicked(String),
}

/// Parse a feed document fetched from `base` (which resolves relative links).
pub fn parse_feed(
    body: &[u8],
    content_type: Option<&str>,
    base: &Url,
) -> Result<ParsedFeed, ParseError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::Empty);
    }
    let body = transcode_if_needed(body, content_type);
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        // An empty id means "none": we derive our own keys (identity.rs) instead of feed-rs's
        // random UUIDs or title-dependent hashes.
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .build();
    // feed-rs can panic on some malformed documents; that must fail this feed only.
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| parser.parse(&body[..])));
    let feed = match result {
        Ok(Ok(feed)) => feed,
        Ok(Err(e)) => {
            if looks_like_html(&body) {
                return Err(ParseError::Html);
            }
            return Err(ParseError::Invalid(e.to_string()));
        }
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            return Err(ParseError::Panicked(msg));
        }
    };
    let items = feed
        .entries
        .into_iter()
        .map(|e| raw_entry(e, base))
        .collect();
    Ok(ParsedFeed {
        title: feed.title.map(|t| one_line(&to_text(&t.content))),
        items,
    })
}

fn raw_entry(e: feed_rs::model::Entry, base: &Url) -> RawItem {
    let link = e
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or_else(|| e.links.first())
        .and_then(|l| base.join(l.href.trim()).ok())
        .map(|u| u.to_string());
    let guid = Some(e.id.trim().to_string()).filter(|s| !s.is_empty());
    RawItem {
        guid,
        title: e.title.map(|t| t.content).unwrap_or_default(),
        link,
        author: e.authors.into_iter().find_map(|a| a.name),
        content: e.content.and_then(|c| c.body).unwrap_or_default(),
        summary: e.summary.map(|s| s.content).unwrap_or_default(),
        categories: e
            .categories
            .iter()
            .map(|c| one_line(c.label.as_deref().unwrap_or(&c.term)))
            .filter(|c| !c.is_empty())
            .collect(),
        // RSS has no "updated": feed-rs copies published there, so it only stands in for a date.
        published: e.published.or(e.updated),
    }
}

/// HTML (or text with entities) → plain text, paragraphs kept as lines.
pub fn to_text(s: &str) -> String {
    if !s.contains(['<', '&']) {
        return tidy(s);
    }
    let rendered = html2text::config::plain_no_decorate()
        .no_link_wrapping()
        .string_from_read(s.as_bytes(), 10_000)
        .unwrap_or_else(|_| s.to_string());
    tidy(&rendered)
}

/// Collapse runs of blanks within lines and drop empty lines.
fn tidy(s: &str) -> String {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn looks_like_html(body: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&body[..body.len().min(1024)]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    head.starts_with("<!doctype html")
        || head.starts_with("<html")
        || (head.contains("<html") && !head.contains("<rss") && !head.contains("<feed"))
}

/// UTF-8 stays as is, as does anything with a BOM or a declared non-UTF-8 encoding (feed-rs
/// reads those). A body that is not UTF-8 but declares nothing, or wrongly declares UTF-8, is
/// decoded from the HTTP charset, or else from the encoding a detector guesses (windows-1251
/// and ISO-8859-1 feeds sent without any declaration are common).
fn transcode_if_needed<'a>(
    body: &'a [u8],
    content_type: Option<&str>,
) -> std::borrow::Cow<'a, [u8]> {
    if std::str::from_utf8(body).is_ok()
        || body.starts_with(&[0xFF, 0xFE])
        || body.starts_with(&[0xFE, 0xFF])
    {
        return body.into();
    }
    let head = String::from_utf8_lossy(&body[..body.len().min(200)]).to_ascii_lowercase();
    let decl = head
        .trim_start()
        .strip_prefix("<?xml")
        .and_then(|d| d.split("?>").next())
        .unwrap_or("");
    let declares_other =
        decl.contains("encoding") && !decl.contains("utf-8") && !decl.contains("utf8");
    if declares_other {
        return body.into();
    }
    let charset = content_type.and_then(|ct| {
        ct.split(';').find_map(|p| {
            p.trim()
                .strip_prefix("charset=")
                .map(|c| c.trim_matches('"').to_string())
        })
    });
    let encoding = charset
        .and_then(|c| encoding_rs::Encoding::for_label(c.as_bytes()))
        .filter(|e| *e != encoding_rs::UTF_8)
        .unwrap_or_else(|| {
            let mut detector = chardetng::EncodingDetector::new();
            detector.feed(body, true);
            detector.guess(None, true)
        });
    let (text, _, _) = encoding.decode(body);
    text.into_owned().into_bytes().into()
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
            Err(ParseError::Html)
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
        assert!(matches!(e, ParseError::Invalid(_)), "{e}");
    }
}
