//! What serde reads: the config's keys and their TOML types, nothing more. Every key is
//! optional here so that one missing or misspelt key is one message among the others; what
//! each value means is decided by the section modules.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeTable;

use super::locate::{Problems, last_key, path_from_ignored};

#[derive(Deserialize, Default)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub daemon: RawDaemon,
    pub http: Option<RawHttp>,
    #[serde(default)]
    pub feed: Vec<RawFeed>,
    #[serde(default)]
    pub topic: Vec<RawTopic>,
    #[serde(default)]
    pub notifier: Vec<RawNotifier>,
}

/// Reads the document into the raw structs; an unknown key becomes a problem instead of
/// stopping the read. A wrong type still stops it (the error carries its span).
pub(super) fn read(
    root: Spanned<DeTable<'_>>,
    problems: &mut Problems,
) -> Result<RawConfig, toml::de::Error> {
    let de = toml::de::Deserializer::from(root);
    serde_ignored::deserialize(de, |ignored| {
        problems.key(
            path_from_ignored(&ignored),
            format!("unknown key `{}`", last_key(&ignored)),
        );
    })
}

#[derive(Deserialize, Default)]
pub(super) struct RawDaemon {
    pub database: Option<String>,
    pub schedule: Option<String>,
    pub timezone: Option<String>,
    pub concurrency: Option<usize>,
    pub per_host: Option<usize>,
    pub timeout: Option<String>,
    pub connect_timeout: Option<String>,
    pub max_body: Option<String>,
    pub user_agent: Option<String>,
    pub retention: Option<String>,
    pub respect_cache_headers: Option<bool>,
    pub notify_errors: Option<Vec<String>>,
    pub alert_backoff: Option<String>,
    pub alert_attempts: Option<u32>,
    pub busy_timeout: Option<String>,
    pub give_up_after: Option<String>,
    pub failing_after: Option<u32>,
    pub cache_max: Option<String>,
    pub story_window: Option<String>,
    pub log_format: Option<String>,
    pub allow_private_networks: Option<bool>,
}

#[derive(Deserialize, Default)]
pub(super) struct RawHttp {
    pub listen: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct RawFeed {
    pub name: Option<String>,
    pub url: Option<String>,
    pub schedule: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub dedup: Option<String>,
    pub respect_cache_headers: Option<bool>,
}

#[derive(Deserialize)]
pub(super) struct RawTopic {
    pub name: Option<String>,
    pub query: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub feeds: Vec<String>,
    #[serde(default)]
    pub notify: Vec<String>,
    #[serde(default)]
    pub notify_errors: Vec<String>,
}

/// A secret as written: a string, or `{ env = .. }`, `{ file = .. }`, `{ credential = .. }`.
/// Read as a plain TOML value and checked by [`super::secrets`], so a mistake gets an
/// "expected ..." message at its position instead of stopping all checking.
pub(super) type RawSecret = toml::Value;

/// Every option of every notifier kind; which ones a kind takes is decided by its entry in
/// [`super::notifiers`].
#[derive(Deserialize, Default)]
pub(super) struct RawNotifier {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub url: Option<String>,
    pub secret: Option<RawSecret>,
    pub headers: Option<BTreeMap<String, RawSecret>>,
    pub topic: Option<String>,
    pub token: Option<RawSecret>,
    pub username: Option<String>,
    pub password: Option<RawSecret>,
    pub priority: Option<toml::Value>,
    pub tags: Option<Vec<String>>,
    pub smtp: Option<String>,
    pub from: Option<String>,
    pub to: Option<Vec<String>>,
    pub subject_template: Option<String>,
    pub room: Option<String>,
    pub chat_id: Option<toml::Value>,
    pub command: Option<Vec<String>>,
    pub timeout: Option<String>,
    pub digest: Option<String>,
    pub max_per_hour: Option<u32>,
    pub title_template: Option<String>,
    pub body_template: Option<String>,
}

impl RawNotifier {
    /// Every kind-specific option with whether it is set, in the order problems about them
    /// are found.
    pub fn options(&self) -> [(&'static str, bool); 21] {
        [
            ("url", self.url.is_some()),
            ("secret", self.secret.is_some()),
            ("headers", self.headers.is_some()),
            ("topic", self.topic.is_some()),
            ("token", self.token.is_some()),
            ("username", self.username.is_some()),
            ("password", self.password.is_some()),
            ("priority", self.priority.is_some()),
            ("tags", self.tags.is_some()),
            ("smtp", self.smtp.is_some()),
            ("from", self.from.is_some()),
            ("to", self.to.is_some()),
            ("subject_template", self.subject_template.is_some()),
            ("room", self.room.is_some()),
            ("chat_id", self.chat_id.is_some()),
            ("command", self.command.is_some()),
            ("timeout", self.timeout.is_some()),
            ("digest", self.digest.is_some()),
            ("max_per_hour", self.max_per_hour.is_some()),
            ("title_template", self.title_template.is_some()),
            ("body_template", self.body_template.is_some()),
        ]
    }

    /// Names of the kind-specific options that are set.
    pub fn options_set(&self) -> Vec<&'static str> {
        self.options()
            .iter()
            .filter(|(_, set)| *set)
            .map(|(k, _)| *k)
            .collect()
    }
}
