//! Identity of items: canonical URLs, per-feed item keys, content hashes. Pure.
//!
//! Keys are SHA-256 based and therefore stable across runs, machines and Rust versions: they
//! are persisted, and a key that changed would make an old item new again.

use std::collections::HashMap;

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

/// Which property keys a feed's items. With `dedup = "auto"` it is chosen from the feed's
/// first document and then kept: a later document in which one guid is missing or repeated
/// must not re-key (and so duplicate) every item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    Guid,
    Link,
    Content,
}

impl KeyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyMode::Guid => "guid",
            KeyMode::Link => "link",
            KeyMode::Content => "content",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "guid" => Some(KeyMode::Guid),
            "link" => Some(KeyMode::Link),
            "content" => Some(KeyMode::Content),
            _ => None,
        }
    }
}

/// The parts of an item that decide which property keys it: available straight from the
/// parsed entry, before any text is extracted.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyInput<'a> {
    pub guid: Option<&'a str>,
    /// The item's link in canonical form ([`canonical_url`]).
    pub canonical_link: Option<&'a str>,
}

/// How one item is keyed: by a property of the entry, or (`key: None`) by its content, which
/// the caller hashes with [`content_key`] once it has the item's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPlan {
    pub key: Option<String>,
    /// Set when the mode's own property (say the guid) was shared by several items of the
    /// document and so could not be the key: an earlier item stored under that property is
    /// this item only if it has the same canonical link (checked by the store).
    pub alias: Option<String>,
}

/// An item's identity within its feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemKey {
    pub key: String,
    /// See [`KeyPlan::alias`].
    pub alias: Option<String>,
}

/// The content key: for items with neither a usable guid nor a usable link.
pub fn content_key(title: &str, published: Option<&str>, text: &str) -> String {
    format!("c:{}", sha256_hex(&[title, published.unwrap_or(""), text]))
}

/// How every item of one parsed document is keyed, in order, and the mode in effect (`None`
/// for a document without items, which must not decide a new feed's mode).
///
/// `auto` keeps `known` (the feed's mode so far); a new feed takes guids when every item has
/// one and none repeats, else canonical links when those are all present and distinct, else
/// content. A guid (or link) that several items of the document share identifies none of them:
/// those items fall back to the next property, whatever their order, so two different items
/// never share a key and the newest-first order of feeds does not matter.
pub fn plan_keys(
    policy: DedupPolicy,
    known: Option<KeyMode>,
    items: &[KeyInput<'_>],
) -> (Vec<KeyPlan>, Option<KeyMode>) {
    let guids: Vec<Option<String>> = items
        .iter()
        .map(|i| {
            i.guid
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(|g| format!("g:{}", sha256_hex(&[g])))
        })
        .collect();
    let links: Vec<Option<String>> = items
        .iter()
        .map(|i| i.canonical_link.map(|u| format!("l:{}", sha256_hex(&[u]))))
        .collect();
    fn count(keys: &[Option<String>]) -> HashMap<&str, usize> {
        let mut n: HashMap<&str, usize> = HashMap::new();
        for k in keys.iter().flatten() {
            *n.entry(k.as_str()).or_default() += 1;
        }
        n
    }
    let (guid_n, link_n) = (count(&guids), count(&links));
    let unique = |k: &Option<String>, n: &HashMap<&str, usize>| {
        k.as_ref()
            .filter(|k| n.get(k.as_str()) == Some(&1))
            .cloned()
    };
    let all_unique = |keys: &[Option<String>], n: &HashMap<&str, usize>| {
        keys.iter().all(|k| unique(k, n).is_some())
    };

    let mode = match policy {
        DedupPolicy::Guid => KeyMode::Guid,
        DedupPolicy::Link => KeyMode::Link,
        DedupPolicy::Content => KeyMode::Content,
        DedupPolicy::Auto => known.unwrap_or(if all_unique(&guids, &guid_n) {
            KeyMode::Guid
        } else if all_unique(&links, &link_n) {
            KeyMode::Link
        } else {
            KeyMode::Content
        }),
    };
    let plans = (0..items.len())
        .map(|n| {
            let (g, l) = (unique(&guids[n], &guid_n), unique(&links[n], &link_n));
            let (key, own) = match mode {
                KeyMode::Guid => (g.or(l), &guids[n]),
                KeyMode::Link => (l.or(g), &links[n]),
                KeyMode::Content => (None, &None),
            };
            let alias = own.clone().filter(|k| Some(k) != key.as_ref());
            KeyPlan { key, alias }
        })
        .collect();
    (plans, (!items.is_empty()).then_some(mode))
}

/// The parts of an item that identity is computed from (for callers that have the text).
pub struct IdentityInput<'a> {
    pub guid: Option<&'a str>,
    pub link: Option<&'a str>,
    pub title: &'a str,
    pub published: Option<&'a str>,
    pub text: &'a str,
}

/// [`plan_keys`] plus [`content_key`] for the items that need it.
pub fn item_keys(
    policy: DedupPolicy,
    known: Option<KeyMode>,
    items: &[IdentityInput<'_>],
) -> (Vec<ItemKey>, Option<KeyMode>) {
    let links: Vec<Option<String>> = items
        .iter()
        .map(|i| i.link.and_then(canonical_url))
        .collect();
    let inputs: Vec<KeyInput<'_>> = items
        .iter()
        .zip(&links)
        .map(|(i, l)| KeyInput {
            guid: i.guid,
            canonical_link: l.as_deref(),
        })
        .collect();
    let (plans, mode) = plan_keys(policy, known, &inputs);
    let keys = plans
        .into_iter()
        .zip(items)
        .map(|(p, i)| ItemKey {
            key: p
                .key
                .unwrap_or_else(|| content_key(i.title, i.published, i.text)),
            alias: p.alias,
        })
        .collect();
    (keys, mode)
}

/// Hash of an entry as the feed sent it (every field, before text extraction). Fixed-key
/// SipHash: stable across runs and versions, and fast enough to run on every entry of every
/// poll. It only decides "unchanged, skip", so a collision costs one missed edit, never data.
pub fn raw_hash(parts: &[&str]) -> [u8; 16] {
    use siphasher::sip128::{Hasher128, SipHasher13};
    use std::hash::Hasher;
    let mut h = SipHasher13::new_with_keys(0x7261_775f_6861_7368, 0x6665_6564_7761_7463);
    for p in parts {
        h.write_u64(p.len() as u64);
        h.write(p.as_bytes());
    }
    h.finish128().as_bytes()
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

    fn keys(items: &[IdentityInput<'_>]) -> (Vec<String>, KeyMode) {
        let (k, mode) = item_keys(DedupPolicy::Auto, None, items);
        (k.into_iter().map(|k| k.key).collect(), mode.unwrap())
    }

    fn keys_with(known: KeyMode, items: &[IdentityInput<'_>]) -> Vec<ItemKey> {
        item_keys(DedupPolicy::Auto, Some(known), items).0
    }

    #[test]
    fn auto_uses_unique_guids() {
        let (k, mode) = keys(&[
            input(Some("a"), Some("http://x/1"), "t"),
            input(Some("b"), Some("http://x/1"), "t"),
        ]);
        assert_eq!(mode, KeyMode::Guid);
        assert_ne!(k[0], k[1]);
        assert!(k[0].starts_with("g:"));
    }

    #[test]
    fn auto_falls_back_to_links_when_guids_repeat_or_are_missing() {
        let (k, mode) = keys(&[
            input(Some("same"), Some("http://x/1?utm_source=a"), "t"),
            input(Some("same"), Some("http://x/2"), "t"),
        ]);
        assert_eq!(mode, KeyMode::Link);
        assert!(k.iter().all(|k| k.starts_with("l:")));
        assert_ne!(k[0], k[1]);
        let again = keys_with(KeyMode::Link, &[input(None, Some("http://x/1"), "edited")]);
        assert_eq!(
            again[0].key, k[0],
            "a link key ignores tracking params and title edits"
        );
    }

    #[test]
    fn a_repeated_guid_identifies_no_item_whatever_the_order() {
        let (first, mode) = keys(&[input(Some("X"), Some("http://x/a"), "A")]);
        assert_eq!(mode, KeyMode::Guid);
        // Newest first, all with the same guid: none of them may take the old item's key...
        let next = keys_with(
            mode,
            &[
                input(Some("X"), Some("http://x/c"), "C"),
                input(Some("X"), Some("http://x/b"), "B"),
                input(Some("X"), Some("http://x/a"), "A"),
            ],
        );
        assert!(next.iter().all(|k| k.key.starts_with("l:")), "{next:?}");
        // ...but each names it as an alias, which the store accepts only with the same link.
        assert!(
            next.iter()
                .all(|k| k.alias.as_deref() == Some(first[0].as_str()))
        );
        let reversed = keys_with(
            mode,
            &[
                input(Some("X"), Some("http://x/a"), "A"),
                input(Some("X"), Some("http://x/b"), "B"),
                input(Some("X"), Some("http://x/c"), "C"),
            ],
        );
        assert_eq!(reversed[0], next[2], "order does not matter");
    }

    #[test]
    fn a_feed_keeps_its_mode_when_one_document_has_a_missing_guid() {
        let (first, mode) = keys(&[
            input(Some("a"), Some("http://x/1"), "t1"),
            input(Some("b"), Some("http://x/2"), "t2"),
        ]);
        let next = keys_with(
            mode,
            &[
                input(Some("a"), Some("http://x/1"), "t1"),
                input(Some("b"), Some("http://x/2"), "t2"),
                input(None, Some("http://x/4"), "t4"),
            ],
        );
        assert_eq!(next[0].key, first[0]);
        assert_eq!(next[1].key, first[1]);
        assert!(next[2].key.starts_with("l:") && next[2].alias.is_none());
    }

    #[test]
    fn an_empty_document_decides_no_mode() {
        assert_eq!(item_keys(DedupPolicy::Auto, None, &[]).1, None);
    }

    #[test]
    fn items_without_guid_or_link_are_keyed_by_content() {
        let (a, mode) = keys(&[input(None, None, "title one")]);
        let (b, _) = keys(&[input(None, None, "title one")]);
        let (c, _) = keys(&[input(None, None, "title two")]);
        assert_eq!(mode, KeyMode::Content);
        assert!(a[0].starts_with("c:"));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn keys_are_stable_across_versions() {
        // A persisted key must never change: this literal pins the algorithm.
        let (k, _) = item_keys(
            DedupPolicy::Guid,
            None,
            &[input(Some("tag:example.org,2026:1"), None, "")],
        );
        assert_eq!(
            k[0].key,
            "g:cdfa3768c3217ee6eb0f3b59478c1b14c4dafe6a43a6af5b72dc936fb205cdf5"
        );
    }
}
