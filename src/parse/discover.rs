//! Feed autodiscovery: the feeds an HTML page names with `<link rel="alternate" type=...>`.
//!
//! One linear pass over the page's tags (no HTML parse): `<base href>` sets the base, each
//! `<link>` whose `rel` holds the token `alternate` and whose type is a feed type is taken,
//! resolved, in page order, without repeats.

use url::Url;

use super::lex::{Kind, Lexer, Tag};
use super::repair::escapes::{Reference, classify};

const FEED_TYPES: &[&str] = &[
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
];

/// The feed URLs `page` names, resolved against `base` (or the page's own `<base href>`).
pub fn feed_links(page: &str, base: &Url) -> Vec<Url> {
    let mut base = base.clone();
    let mut seen_base = false;
    let mut out: Vec<Url> = Vec::new();
    for t in Lexer::new(page).filter(|t| t.kind == Kind::Start) {
        let tag = Tag::parse(t.raw);
        if tag.name.eq_ignore_ascii_case("base") && !seen_base {
            if let Some(b) = attr(&tag, "href").and_then(|h| base.join(h.trim()).ok()) {
                base = b;
                seen_base = true;
            }
            continue;
        }
        if !tag.name.eq_ignore_ascii_case("link") {
            continue;
        }
        let alternate = attr(&tag, "rel").is_some_and(|rel| {
            rel.split_ascii_whitespace()
                .any(|r| r.eq_ignore_ascii_case("alternate"))
        });
        let feed_type = attr(&tag, "type").is_some_and(|ty| {
            let ty = ty.split(';').next().unwrap_or("").trim();
            FEED_TYPES.iter().any(|f| f.eq_ignore_ascii_case(ty))
        });
        if !(alternate && feed_type) {
            continue;
        }
        let Some(href) = attr(&tag, "href").map(|h| decode_entities(h.trim())) else {
            continue;
        };
        if href.is_empty() {
            continue;
        }
        if let Ok(url) = base.join(&href)
            && matches!(url.scheme(), "http" | "https")
            && !out.contains(&url)
        {
            out.push(url);
        }
    }
    out
}

/// An attribute by name, case-insensitively (HTML).
fn attr<'a>(tag: &Tag<'a>, name: &str) -> Option<&'a str> {
    tag.attributes()
        .find(|a| a.name.eq_ignore_ascii_case(name))
        .map(|a| a.value)
}

/// `&amp;`, numeric references and HTML named entities in an attribute value.
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (decoded, len) = match classify(after, &[]) {
            Reference::Valid(len) | Reference::BadNumber(len) => (resolve(&after[..len - 1]), len),
            Reference::Html(len, c) => (char::from_u32(c), len),
            Reference::Unknown(_) | Reference::Bare => (None, 0),
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push('&'),
        }
        rest = &after[if decoded.is_some() { len } else { 0 }..];
    }
    out.push_str(rest);
    out
}

fn resolve(body: &str) -> Option<char> {
    match body {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let num = body.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code).filter(|&c| c != '\0')
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(page: &str) -> Vec<String> {
        let base = Url::parse("https://news.example.org/world/index.html").expect("url");
        feed_links(page, &base).iter().map(Url::to_string).collect()
    }

    #[test]
    fn alternate_feed_links_in_page_order() {
        let page = r#"<!DOCTYPE html><html><head>
<link rel="stylesheet" href="/s.css">
<LINK REL="alternate" TYPE="application/rss+xml" HREF="/feeds/world.xml" title="World">
<link href='atom.xml' type='application/atom+xml' rel='alternate'>
<link rel="alternate feed" type="application/feed+json" href=https://cdn.example.net/f.json>
<link rel="alternate" type="application/rss+xml" href="/feeds/world.xml">
<link rel="alternate" type="text/html" href="/fr/">
<link rel="alternate" type="application/rss+xml; charset=utf-8" href="/q?a=1&amp;b=2">
</head><body><a rel="alternate" type="application/rss+xml" href="/not-a-link-tag.xml">x</a></body></html>"#;
        assert_eq!(
            links(page),
            [
                "https://news.example.org/feeds/world.xml",
                "https://news.example.org/world/atom.xml",
                "https://cdn.example.net/f.json",
                "https://news.example.org/q?a=1&b=2",
            ]
        );
    }

    #[test]
    fn base_href_sets_the_base() {
        let page = r#"<head><base href="https://static.example.com/blog/"><link rel=alternate type=application/atom+xml href=feed.atom></head>"#;
        assert_eq!(links(page), ["https://static.example.com/blog/feed.atom"]);
    }

    #[test]
    fn pages_without_feeds() {
        assert!(links("<html><head><title>x</title></head></html>").is_empty());
        assert!(
            links("<link rel=\"alternate\" type=\"application/rss+xml\" href=\"javascript:x()\">")
                .is_empty()
        );
    }

    #[test]
    fn entity_decoding() {
        assert_eq!(decode_entities("a&amp;b&#38;c&eacute;&zz;&"), "a&b&cé&zz;&");
    }
}
