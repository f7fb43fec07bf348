//! Configs that load but can never do anything: no feed, a topic that tells nobody or that
//! applies to no feed, a notifier nothing sends to. These are warnings (`check` still passes:
//! a config being built up is often like that for a while). Judged on what the file says,
//! before validation, so a feed refused for its URL does not make a topic look unused too.
//! Pure.

use std::collections::HashSet;

use super::locate::{Problems, p};
use super::raw::RawConfig;
use super::suggest::closest;

pub(super) fn warn(raw: &RawConfig, problems: &Problems, warnings: &mut Problems) {
    if raw.empty {
        warnings.value(
            Vec::new(),
            "the config is empty: there is nothing to poll; add a `[[feed]]` with `name` and `url`",
        );
        return;
    }
    if raw.feed.is_empty() {
        warnings.value(Vec::new(), "there is no `[[feed]]`: nothing will be polled");
    }
    topics(raw, problems, warnings);
    unused_notifiers(raw, warnings);
}

fn topics(raw: &RawConfig, problems: &Problems, warnings: &mut Problems) {
    let example = raw
        .notifier
        .iter()
        .find_map(|n| n.name.as_deref())
        .unwrap_or("ops");
    for (i, t) in raw.topic.iter().enumerate() {
        let name = t.name.as_deref().unwrap_or("");
        let notify = p(&[&"topic", &i, &"notify"]);
        if t.notify.is_empty() && !problems.has(&notify) {
            warnings.value(
                p(&[&"topic", &i]),
                format!("topic `{name}` has no `notify`: its matches are stored, but no one is told; add e.g. `notify = [\"{example}\"]`"),
            );
        }
        if t.tags.is_empty() {
            continue;
        }
        // The feeds the topic's `feeds` leaves it (unknown names are errors already).
        let in_scope: Vec<_> = raw
            .feed
            .iter()
            .filter(|f| t.feeds.is_empty() || f.name.as_ref().is_some_and(|n| t.feeds.contains(n)))
            .collect();
        if in_scope.is_empty()
            || in_scope
                .iter()
                .any(|f| f.tags.iter().any(|g| t.tags.contains(g)))
        {
            continue;
        }
        let at = p(&[&"topic", &i, &"tags"]);
        if !t.feeds.is_empty() {
            warnings.value(
                at,
                format!("none of the `feeds` of topic `{name}` has one of its `tags`, so it never matches"),
            );
            continue;
        }
        let feed_tags: Vec<&str> = {
            let mut all: Vec<&str> = raw
                .feed
                .iter()
                .flat_map(|f| f.tags.iter().map(String::as_str))
                .collect();
            all.sort_unstable();
            all.dedup();
            all
        };
        let hint = t
            .tags
            .iter()
            .find_map(|tag| closest(tag, feed_tags.iter().copied()).map(|c| (tag, c)))
            .map(|(tag, c)| format!("; did you mean `{c}` for `{tag}`?"))
            .unwrap_or_else(|| match feed_tags.is_empty() {
                true => " (no feed has tags)".to_string(),
                false => format!(" (the feeds' tags are {})", feed_tags.join(", ")),
            });
        warnings.value(
            at,
            format!("no feed has any of the `tags` of topic `{name}`, so it never matches{hint}"),
        );
    }
}

fn unused_notifiers(raw: &RawConfig, warnings: &mut Problems) {
    let used: HashSet<&str> = raw
        .topic
        .iter()
        .flat_map(|t| t.notify.iter().chain(&t.notify_errors))
        .chain(raw.daemon.notify_errors.iter().flatten())
        .map(String::as_str)
        .collect();
    for (i, n) in raw.notifier.iter().enumerate() {
        if let Some(name) = n.name.as_deref()
            && !used.contains(name)
        {
            warnings.value(
                p(&[&"notifier", &i]),
                format!("notifier `{name}` is in no topic's `notify` and in no `notify_errors`: it never sends anything"),
            );
        }
    }
}
