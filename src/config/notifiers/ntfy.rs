//! `kind = "ntfy"`: a server (default ntfy.sh), a topic, an access token or a user and
//! password, a priority and tags.

use super::model::{HttpAuth, NotifierKind, NtfyConfig};
use super::{Kind, Site};
use crate::config::locate::Problems;
use crate::config::raw::RawNotifier;

pub(super) const KIND: Kind = Kind {
    name: "ntfy",
    options: &[
        "url", "topic", "token", "username", "password", "priority", "tags",
    ],
    build,
};

const SERVER: &str = "https://ntfy.sh";

fn build(
    n: &RawNotifier,
    site: &Site<'_>,
    problems: &mut Problems,
    warnings: &mut Problems,
) -> Option<NotifierKind> {
    let url = site.http_url(n.url.as_deref(), "url", "ntfy", Some(SERVER), problems);
    let topic = site.required(n.topic.as_deref(), "topic", "ntfy", problems);
    // ntfy topics are one path segment of letters, digits, `_` and `-`.
    if let Some(t) = topic
        && (t.is_empty()
            || t.len() > 64
            || !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    {
        problems.value(
            site.key("topic"),
            "an ntfy topic is 1 to 64 letters, digits, `_` or `-`",
        );
        return None;
    }
    let priority = match &n.priority {
        None => None,
        Some(v) => Some(priority(v).or_else(|| {
            problems.value(
                site.key("priority"),
                "`priority` is 1 to 5, or one of min, low, default, high, max, urgent",
            );
            None
        })?),
    };
    let auth = auth(n, site, problems, warnings)?;
    Some(NotifierKind::Ntfy(NtfyConfig {
        url: url?,
        topic: topic?.to_string(),
        auth,
        priority,
        tags: n.tags.clone().unwrap_or_default(),
    }))
}

fn priority(v: &toml::Value) -> Option<u8> {
    match v {
        toml::Value::Integer(i @ 1..=5) => Some(*i as u8),
        toml::Value::String(s) => match s.as_str() {
            "min" => Some(1),
            "low" => Some(2),
            "default" => Some(3),
            "high" => Some(4),
            "max" | "urgent" => Some(5),
            _ => None,
        },
        _ => None,
    }
}

/// `token`, or `username` with `password`, or neither; `None` after a problem.
fn auth(
    n: &RawNotifier,
    site: &Site<'_>,
    problems: &mut Problems,
    warnings: &mut Problems,
) -> Option<Option<HttpAuth>> {
    match (&n.token, &n.username, &n.password) {
        (None, None, None) => Some(None),
        (Some(t), None, None) => site
            .secret("token", Some(t), problems, warnings)
            .map(|t| Some(HttpAuth::Bearer(t))),
        (None, Some(u), Some(pw)) => {
            site.secret("password", Some(pw), problems, warnings)
                .map(|password| {
                    Some(HttpAuth::Basic {
                        username: u.clone(),
                        password,
                    })
                })
        }
        (Some(_), _, _) => {
            problems.key(
                site.key("token"),
                "give either `token` or `username` and `password`, not both",
            );
            None
        }
        (None, Some(_), None) | (None, None, Some(_)) => {
            problems.value(
                site.table(),
                "an ntfy notifier with `username` or `password` needs both",
            );
            None
        }
    }
}
