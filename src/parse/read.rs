//! The feed-rs call and its model → our [`RawItem`]s.
//!
//! One parser per call (feed-rs keeps per-entry state that a failed parse leaves behind),
//! ids never invented, content never sanitized here. A panic inside feed-rs is caught and
//! becomes this document's error; the stages before make the known ones unreachable.

use std::panic::AssertUnwindSafe;

use feed_rs::model::{Entry, Feed};
use feed_rs::parser::ParseFeedError;
use url::Url;

use super::RawItem;
use super::text::{one_line, to_text};

#[derive(Debug)]
pub enum ReadError {
    Feed(ParseFeedError),
    Panic(String),
}

/// Parse `doc` (UTF-8, declarations saying so) with feed-rs.
pub fn read(doc: &str, base: &Url) -> Result<Feed, ReadError> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        // An empty id means "none": we derive our own keys (identity.rs) instead of feed-rs's
        // random UUIDs or title-dependent hashes.
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .timestamp_parser(super::dates::parse)
        .build();
    match std::panic::catch_unwind(AssertUnwindSafe(|| parser.parse(doc.as_bytes()))) {
        Ok(Ok(feed)) => Ok(feed),
        Ok(Err(e)) => Err(ReadError::Feed(e)),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            tracing::error!(error = %msg, "feed-rs panicked on a document (please report it)");
            Err(ReadError::Panic(msg))
        }
    }
}

pub fn feed_title(feed: &Feed) -> Option<String> {
    feed.title
        .as_ref()
        .map(|t| one_line(&to_text(&t.content)))
        .filter(|t| !t.is_empty())
}

pub fn raw_entry(e: Entry, base: &Url) -> RawItem {
    let link = e
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or_else(|| e.links.first())
        .and_then(|l| base.join(l.href.trim()).ok())
        .map(|u| u.to_string());
    // Cleaned like every other text: a guid is shown (`items --json`) as well as compared.
    let guid = Some(crate::text::clean(&e.id).trim().to_string()).filter(|s| !s.is_empty());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://x.example/feed").expect("url")
    }

    /// The entity-bomb defence rests on this: quick-xml (through feed-rs) never expands
    /// entities declared in a DTD, it keeps the reference as written. If an upgrade starts
    /// expanding them, survey.nested_entities must become a hard limit on expansion.
    #[test]
    fn dtd_entities_are_not_expanded() {
        let doc = "<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY a \"expanded\">]><rss version=\"2.0\"><channel><title>t</title><item><title>x &a; y</title></item></channel></rss>";
        let feed = read(doc, &base()).expect("reads");
        let title = feed.entries[0].title.as_ref().map(|t| t.content.as_str());
        assert_eq!(title, Some("x &a; y"));
    }

    #[test]
    fn ids_are_never_invented() {
        let doc = "<rss version=\"2.0\"><channel><title>t</title><item><title>no guid</title><link>https://x.example/1</link></item></channel></rss>";
        let feed = read(doc, &base()).expect("reads");
        let item = raw_entry(feed.entries.into_iter().next().expect("entry"), &base());
        assert_eq!(item.guid, None);
        assert_eq!(item.link.as_deref(), Some("https://x.example/1"));
    }

    #[test]
    fn guids_lose_control_and_bidi_characters() {
        let doc = "<rss version=\"2.0\"><channel><title>t</title><item><title>x</title><guid isPermaLink=\"false\">\u{1b}[2Jid-\u{202e}7\u{9b}</guid></item></channel></rss>";
        let feed = read(doc, &base()).expect("reads");
        let item = raw_entry(feed.entries.into_iter().next().expect("entry"), &base());
        assert_eq!(item.guid.as_deref(), Some("[2Jid-7"));
    }
}
