//! `[[feed]]`: unique names, http(s) URLs, the dedup policy and the optional schedule.

use std::collections::HashSet;

use url::Url;

use crate::identity::DedupPolicy;

use super::FeedConfig;
use super::locate::{PathSegs, Problems, p};
use super::raw::RawFeed;
use super::suggest::unknown_choice;
use super::values::{cron, with_scheme};

/// The feeds that can be polled, and every name given (topics may refer to any of them, even
/// a feed refused for its URL, without a second message).
pub(super) fn validate(
    raw: Vec<RawFeed>,
    problems: &mut Problems,
) -> (Vec<FeedConfig>, HashSet<String>) {
    let mut feeds = Vec::new();
    let mut names = HashSet::new();
    for (i, f) in raw.into_iter().enumerate() {
        if let Some(feed) = feed(i, f, &mut names, problems) {
            feeds.push(feed);
        }
    }
    (feeds, names)
}

fn feed(
    i: usize,
    f: RawFeed,
    names: &mut HashSet<String>,
    problems: &mut Problems,
) -> Option<FeedConfig> {
    let fk = |k: &str| p(&[&"feed", &i, &k]);
    let name = name(f.name, i, names, problems);
    let Some(url_text) = f.url else {
        // Nothing more is checked in a feed without a URL.
        problems.missing(p(&[&"feed", &i]), "url", "a [[feed]]");
        return None;
    };
    let url = url(&url_text, fk("url"), problems);
    let dedup = dedup(f.dedup.as_deref(), fk("dedup"), problems);
    let schedule = f
        .schedule
        .as_deref()
        .and_then(|s| cron(s, fk("schedule"), problems));
    Some(FeedConfig {
        name,
        url: url?,
        schedule,
        tags: f.tags,
        dedup,
        respect_cache_headers: f.respect_cache_headers,
    })
}

/// The feed's name; empty when missing. Only non-blank names are remembered.
fn name(
    name: Option<String>,
    i: usize,
    names: &mut HashSet<String>,
    problems: &mut Problems,
) -> String {
    match name {
        None => {
            problems.missing(p(&[&"feed", &i]), "name", "a [[feed]]");
            String::new()
        }
        Some(n) if n.trim().is_empty() => {
            problems.value(p(&[&"feed", &i, &"name"]), "feed name must not be empty");
            n
        }
        Some(n) => {
            if !names.insert(n.clone()) {
                problems.value(
                    p(&[&"feed", &i, &"name"]),
                    format!("duplicate feed name `{n}`"),
                );
            }
            n
        }
    }
}

fn url(text: &str, at: PathSegs, problems: &mut Problems) -> Option<Url> {
    let parsed = Url::parse(text);
    if !parsed
        .as_ref()
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
        && let Some(meant) = with_scheme(text)
    {
        problems.value(
            at,
            format!("feed URL `{text}` has no scheme; did you mean `{meant}`?"),
        );
        return None;
    }
    match parsed {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
        Ok(u) => {
            problems.value(
                at,
                format!("feed URL must be http or https, not `{}`", u.scheme()),
            );
            None
        }
        Err(e) => {
            problems.value(at, format!("invalid URL `{text}`: {e}"));
            None
        }
    }
}

fn dedup(policy: Option<&str>, at: PathSegs, problems: &mut Problems) -> DedupPolicy {
    match policy {
        None | Some("auto") => DedupPolicy::Auto,
        Some("guid") => DedupPolicy::Guid,
        Some("link") => DedupPolicy::Link,
        Some("content") => DedupPolicy::Content,
        Some(other) => {
            problems.value(
                at,
                unknown_choice("dedup policy", other, &["auto", "guid", "link", "content"]),
            );
            DedupPolicy::Auto
        }
    }
}
