//! Identity of items: canonical URLs, per-feed item keys, content hashes. Pure.
//!
//! Keys are SHA-256 based and therefore stable across runs, machines and Rust versions: they
//! are persisted, and a key that changed would make an old item new again.

use sha2::{Digest, Sha256};
use url::Url;

/// Query parameters that only track the reader; two links differing in them are one page.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "yclid",
    "igshid",
    "_ga",
    "_gl",
    "ocid",
    "cmpid",
    "mkt_tok",
    "oly_anon_id",
    "oly_enc_id",
    "vero_id",
    "__twitter_impression",
    "ref_src",
    "ref_url",
];

fn is_tracking_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("utm_") || TRACKING_PARAMS.contains(&lower.as_str())
}

/// The canonical form of a link: scheme and host lower-cased (the `url` crate does both),
/// default port and fragment dropped, tracking parameters removed. Remaining parameters keep
/// their order: some sites route on it. `None` for text that is not an absolute http(s) URL.
pub fn canonical_url(link: &str) -> Option<String> {
    let mut url = Url::parse(link.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    url.set_fragment(None);
    // `Url` already omits a default port on output; an explicit `:80` on http is dropped too.
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !is_tracking_param(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    Some(url.to_string())
}

fn sha256_hex(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        // Length-prefix each part so ("ab","c") and ("a","bc") differ.
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Which property of an item identifies it within its feed (the feed's `dedup` setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DedupPolicy {
    #[default]
    Auto,
    Guid,
    Link,
    Content,
}

/// The parts of an item that identity is computed from.
pub struct IdentityInput<'a> {
    pub guid: Option<&'a str>,
    pub link: Option<&'a str>,
    pub title: &'a str,
    pub published: Option<&'a str>,
    pub text: &'a str,
}

/// Key of every item of one parsed document, in order. With `auto`, guids are used only when
/// every item has one and none repeats within the document (feeds that reuse one guid for all
/// items exist); otherwise the canonical link; otherwise a hash of title, date and text.
pub fn item_keys(policy: DedupPolicy, items: &[IdentityInput<'_>]) -> Vec<String> {
    let guids_usable = {
        let mut seen = std::collections::HashSet::new();
        items.iter().all(|i| {
            i.guid
                .is_some_and(|g| !g.trim().is_empty() && seen.insert(g))
        })
    };
    items
        .iter()
        .map(|i| {
            let by_guid = || {
                i.guid
                    .filter(|g| !g.trim().is_empty())
                    .map(|g| format!("g:{}", sha256_hex(&[g.trim()])))
            };
            let by_link = || {
                i.link
                    .and_then(canonical_url)
                    .map(|u| format!("l:{}", sha256_hex(&[&u])))
            };
            let by_content = || {
                format!(
                    "c:{}",
                    sha256_hex(&[i.title, i.published.unwrap_or(""), i.text])
                )
            };
            match policy {
                DedupPolicy::Auto if guids_usable => by_guid().unwrap_or_else(by_content),
                DedupPolicy::Auto => by_link().unwrap_or_else(by_content),
                DedupPolicy::Guid => by_guid().or_else(by_link).unwrap_or_else(by_content),
                DedupPolicy::Link => by_link().or_else(by_guid).unwrap_or_else(by_content),
                DedupPolicy::Content => by_content(),
            }
        })
        .collect()
}

/// Hash of what a reader sees of an item; a change under the same key is an edit.
pub fn content_hash(title: &str, link: &str, summary: &str, content: &str) -> String {
    sha256_hex(&[title, link, summary, content])
}

/// Stable id of an alert, sent as `Idempotency-Key`: receivers use it to drop repeats
/// of an at-least-once delivery.
pub fn alert_uid(item_key: &str, feed: &str, topic: &str, notifier: &str) -> String {
    sha256_hex(&[item_key, feed, topic, notifier])[..32].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_url_drops_tracking_fragment_default_port_and_case() {
        assert_eq!(
            canonical_url(
                "HTTPS://News.Example.ORG:443/a/b?utm_source=x&id=7&fbclid=1&UTM_Medium=y#top"
            )
            .unwrap(),
            "https://news.example.org/a/b?id=7"
        );
        assert_eq!(
            canonical_url("http://example.org:80/x?utm_campaign=z").unwrap(),
            "http://example.org/x"
        );
        assert_eq!(
            canonical_url("http://example.org:8080/x").unwrap(),
            "http://example.org:8080/x"
        );
        assert_eq!(
            canonical_url("https://example.org/x?b=2&a=1").unwrap(),
            "https://example.org/x?b=2&a=1"
        );
        assert_eq!(canonical_url("mailto:a@b.c"), None);
        assert_eq!(canonical_url("/relative"), None);
    }

    fn input<'a>(
        guid: Option<&'a str>,
        link: Option<&'a str>,
        title: &'a str,
    ) -> IdentityInput<'a> {
        IdentityInput {
            guid,
            link,
            title,
            published: None,
            text: "",
        }
    }

    #[test]
    fn auto_uses_unique_guids() {
        let keys = item_keys(
            DedupPolicy::Auto,
            &[
                input(Some("a"), Some("http://x/1"), "t"),
                input(Some("b"), Some("http://x/1"), "t"),
            ],
        );
        assert_ne!(keys[0], keys[1]);
        assert!(keys[0].starts_with("g:"));
    }

    #[test]
    fn auto_falls_back_to_links_when_guids_repeat_or_are_missing() {
        let keys = item_keys(
            DedupPolicy::Auto,
            &[
                input(Some("same"), Some("http://x/1?utm_source=a"), "t"),
                input(Some("same"), Some("http://x/2"), "t"),
            ],
        );
        assert!(keys.iter().all(|k| k.starts_with("l:")));
        assert_ne!(keys[0], keys[1]);
        let again = item_keys(
            DedupPolicy::Auto,
            &[input(None, Some("http://x/1"), "edited title")],
        );
        assert_eq!(
            again[0], keys[0],
            "a link key ignores tracking params and title edits"
        );
    }

    #[test]
    fn items_without_guid_or_link_are_keyed_by_content() {
        let a = item_keys(DedupPolicy::Auto, &[input(None, None, "title one")]);
        let b = item_keys(DedupPolicy::Auto, &[input(None, None, "title one")]);
        let c = item_keys(DedupPolicy::Auto, &[input(None, None, "title two")]);
        assert!(a[0].starts_with("c:"));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn keys_are_stable_across_versions() {
        // A persisted key must never change: this literal pins the algorithm.
        let k = item_keys(
            DedupPolicy::Guid,
            &[input(Some("tag:example.org,2026:1"), None, "")],
        );
        assert_eq!(
            k[0],
            "g:cdfa3768c3217ee6eb0f3b59478c1b14c4dafe6a43a6af5b72dc936fb205cdf5"
        );
    }
}
