//! `[[topic]]`: unique names, a query compiled at load, and references to feeds and notifiers
//! that exist.

use std::collections::HashSet;

use crate::topics::Query;

use super::TopicConfig;
use super::locate::{Problems, p};
use super::raw::RawTopic;

/// The topics whose query compiles; `feeds` and `notifiers` are the names defined elsewhere.
pub(super) fn validate(
    raw: Vec<RawTopic>,
    feeds: &HashSet<String>,
    notifiers: &HashSet<String>,
    problems: &mut Problems,
) -> Vec<TopicConfig> {
    let mut topics = Vec::new();
    let mut names = HashSet::new();
    for (i, t) in raw.into_iter().enumerate() {
        let has_name = t.name.is_some();
        let name = problems.required(t.name, p(&[&"topic", &i]), "name", "a [[topic]]");
        if has_name && !names.insert(name.clone()) {
            problems.value(
                p(&[&"topic", &i, &"name"]),
                format!("duplicate topic name `{name}`"),
            );
        }
        problems.unknown_names(
            &t.notify,
            notifiers,
            &p(&[&"topic", &i, &"notify"]),
            "notifier",
        );
        problems.unknown_names(
            &t.notify_errors,
            notifiers,
            &p(&[&"topic", &i, &"notify_errors"]),
            "notifier",
        );
        problems.unknown_names(&t.feeds, feeds, &p(&[&"topic", &i, &"feeds"]), "feed");
        let Some(query_text) = t.query else {
            problems.missing(p(&[&"topic", &i]), "query", "a [[topic]]");
            continue;
        };
        match Query::parse(&query_text) {
            Ok(query) => topics.push(TopicConfig {
                name,
                query,
                tags: t.tags,
                feeds: t.feeds,
                notify: t.notify,
                notify_errors: t.notify_errors,
            }),
            Err(e) => problems.value(p(&[&"topic", &i, &"query"]), format!("invalid query: {e}")),
        }
    }
    topics
}
