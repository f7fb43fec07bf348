//! What the file says, section by section, as [`super::read`] finds it: every key optional, so
//! that one missing, misspelt or mistyped key is one problem among the others. A key with a
//! wrong type reads as absent (its problem is already recorded); what each value means is
//! decided by the section modules.

use std::collections::BTreeMap;

use toml::de::DeTable;

use super::locate::Problems;
use super::read::{Fields, sections};

#[derive(Default)]
pub(super) struct RawConfig {
    /// The file holds no key and no table at all.
    pub empty: bool,
    pub daemon: RawDaemon,
    pub http: Option<RawHttp>,
    pub cluster: Option<RawCluster>,
    pub feed: Vec<RawFeed>,
    pub topic: Vec<RawTopic>,
    pub notifier: Vec<RawNotifier>,
}

#[derive(Default)]
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
    pub database_password: Option<RawSecret>,
}

#[derive(Default)]
pub(super) struct RawCluster {
    pub node: Option<String>,
    pub lease: Option<String>,
}

#[derive(Default)]
pub(super) struct RawHttp {
    pub listen: Option<String>,
}

pub(super) struct RawFeed {
    pub name: Option<String>,
    pub url: Option<String>,
    pub schedule: Option<String>,
    pub tags: Vec<String>,
    pub dedup: Option<String>,
    pub respect_cache_headers: Option<bool>,
}

pub(super) struct RawTopic {
    pub name: Option<String>,
    pub query: Option<String>,
    pub tags: Vec<String>,
    pub feeds: Vec<String>,
    pub notify: Vec<String>,
    pub notify_errors: Vec<String>,
}

/// A secret as written: a string, or `{ env = .. }`, `{ file = .. }`, `{ credential = .. }`.
/// Kept as a plain TOML value and checked by [`super::secrets`].
pub(super) type RawSecret = toml::Value;

/// Every option of every notifier kind; which ones a kind takes is decided by its entry in
/// [`super::notifiers`].
#[derive(Default)]
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
/// Reads the document; every problem found on the way is recorded, none stops the reading.
pub(super) fn read(root: &DeTable<'_>, problems: &mut Problems) -> RawConfig {
    let mut raw = RawConfig {
        empty: root.is_empty(),
        ..RawConfig::default()
    };
    for (section, tables) in sections(root, problems) {
        let mut tables = tables.into_iter();
        match section.name {
            "daemon" => raw.daemon = tables.next().map(daemon).unwrap_or_default(),
            "http" => raw.http = tables.next().map(http),
            "cluster" => raw.cluster = tables.next().map(cluster),
            "feed" => raw.feed = tables.map(feed).collect(),
            "topic" => raw.topic = tables.map(topic).collect(),
            _ => raw.notifier = tables.map(notifier).collect(),
        }
    }
    raw
}

fn daemon(f: Fields<'_, '_>) -> RawDaemon {
    let count = |k| f.count(k).map(|n| n as usize);
    RawDaemon {
        database: f.text("database"),
        schedule: f.text("schedule"),
        timezone: f.text("timezone"),
        concurrency: count("concurrency"),
        per_host: count("per_host"),
        timeout: f.text("timeout"),
        connect_timeout: f.text("connect_timeout"),
        max_body: f.text("max_body"),
        user_agent: f.text("user_agent"),
        retention: f.text("retention"),
        respect_cache_headers: f.flag("respect_cache_headers"),
        notify_errors: f.texts("notify_errors"),
        alert_backoff: f.text("alert_backoff"),
        alert_attempts: f.count("alert_attempts"),
        busy_timeout: f.text("busy_timeout"),
        give_up_after: f.text("give_up_after"),
        failing_after: f.count("failing_after"),
        cache_max: f.text("cache_max"),
        story_window: f.text("story_window"),
        log_format: f.text("log_format"),
        allow_private_networks: f.flag("allow_private_networks"),
        database_password: f.value("database_password", super::schema::Ty::Secret),
    }
}

fn cluster(f: Fields<'_, '_>) -> RawCluster {
    RawCluster {
        node: f.text("node"),
        lease: f.text("lease"),
    }
}

fn http(f: Fields<'_, '_>) -> RawHttp {
    RawHttp {
        listen: f.text("listen"),
    }
}

fn feed(f: Fields<'_, '_>) -> RawFeed {
    RawFeed {
        name: f.text("name"),
        url: f.text("url"),
        schedule: f.text("schedule"),
        tags: f.texts("tags").unwrap_or_default(),
        dedup: f.text("dedup"),
        respect_cache_headers: f.flag("respect_cache_headers"),
    }
}

fn topic(f: Fields<'_, '_>) -> RawTopic {
    RawTopic {
        name: f.text("name"),
        query: f.text("query"),
        tags: f.texts("tags").unwrap_or_default(),
        feeds: f.texts("feeds").unwrap_or_default(),
        notify: f.texts("notify").unwrap_or_default(),
        notify_errors: f.texts("notify_errors").unwrap_or_default(),
    }
}

fn notifier(f: Fields<'_, '_>) -> RawNotifier {
    use super::schema::Ty::{NumberOrText, Secret};
    RawNotifier {
        name: f.text("name"),
        kind: f.text("kind"),
        url: f.text("url"),
        secret: f.value("secret", Secret),
        headers: f.headers("headers"),
        topic: f.text("topic"),
        token: f.value("token", Secret),
        username: f.text("username"),
        password: f.value("password", Secret),
        priority: f.value("priority", NumberOrText),
        tags: f.texts("tags"),
        smtp: f.text("smtp"),
        from: f.text("from"),
        to: f.texts("to"),
        subject_template: f.text("subject_template"),
        room: f.text("room"),
        chat_id: f.value("chat_id", NumberOrText),
        command: f.texts("command"),
        timeout: f.text("timeout"),
        digest: f.text("digest"),
        max_per_hour: f.count("max_per_hour"),
        title_template: f.text("title_template"),
        body_template: f.text("body_template"),
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::schema::{self, SECTIONS};

    fn read_str(src: &str) -> (RawConfig, usize) {
        let root = DeTable::parse(src).unwrap();
        let mut problems = Problems::default();
        let raw = read(root.get_ref(), &mut problems);
        (raw, problems.len())
    }

    /// Each key's example, read back: a getter that disagreed with the schema's type (or read
    /// a key the schema lacks) would leave its field empty or report a problem here.
    #[test]
    fn every_schema_example_is_read_into_its_field() {
        let mut src = String::new();
        for s in SECTIONS {
            src.push_str(&format!("{}\n", s.header()));
            for k in s.keys {
                src.push_str(&format!("{} = {}\n", k.name, k.examples[0]));
            }
        }
        let (raw, problems) = read_str(&src);
        assert_eq!(problems, 0, "{src}");
        let d = &raw.daemon;
        let daemon_set = [
            d.database.is_some(),
            d.schedule.is_some(),
            d.timezone.is_some(),
            d.concurrency.is_some(),
            d.per_host.is_some(),
            d.timeout.is_some(),
            d.connect_timeout.is_some(),
            d.max_body.is_some(),
            d.user_agent.is_some(),
            d.retention.is_some(),
            d.respect_cache_headers.is_some(),
            d.notify_errors.is_some(),
            d.alert_backoff.is_some(),
            d.alert_attempts.is_some(),
            d.busy_timeout.is_some(),
            d.give_up_after.is_some(),
            d.failing_after.is_some(),
            d.cache_max.is_some(),
            d.story_window.is_some(),
            d.log_format.is_some(),
            d.allow_private_networks.is_some(),
            d.database_password.is_some(),
        ];
        assert_eq!(daemon_set.len(), schema::DAEMON.len());
        assert!(daemon_set.iter().all(|s| *s), "{daemon_set:?}");
        assert!(raw.http.and_then(|h| h.listen).is_some());
        let c = raw.cluster.expect("[cluster]");
        assert!(c.node.is_some() && c.lease.is_some());
        let f = &raw.feed[0];
        assert!(
            f.name.is_some()
                && f.url.is_some()
                && f.schedule.is_some()
                && !f.tags.is_empty()
                && f.dedup.is_some()
                && f.respect_cache_headers.is_some()
        );
        let t = &raw.topic[0];
        assert!(
            t.name.is_some()
                && t.query.is_some()
                && !t.tags.is_empty()
                && !t.feeds.is_empty()
                && !t.notify.is_empty()
                && !t.notify_errors.is_empty()
        );
        let n = &raw.notifier[0];
        assert!(n.name.is_some() && n.kind.is_some());
        assert_eq!(n.options_set().len(), n.options().len());
        assert_eq!(n.options().len() + 2, schema::NOTIFIER.len());
    }

    #[test]
    fn wrong_types_read_as_absent_and_reading_goes_on() {
        let (raw, problems) = read_str(
            "[daemon]\nconcurrency = \"16\"\nper_host = 3\n[[feed]]\nname = 5\nurl = \"https://x/\"\ntags = [\"a\", 1]\n",
        );
        assert_eq!(problems, 3);
        assert_eq!(raw.daemon.concurrency, None);
        assert_eq!(raw.daemon.per_host, Some(3));
        assert_eq!(raw.feed[0].name, None);
        assert_eq!(raw.feed[0].tags, ["a"]);
    }

    #[test]
    fn a_single_bracket_list_is_read_as_its_one_entry() {
        let (raw, problems) = read_str("[feed]\nname = \"a\"\nurl = \"https://x/\"\n");
        assert_eq!(problems, 1);
        assert_eq!(raw.feed.len(), 1);
        assert_eq!(raw.feed[0].name.as_deref(), Some("a"));
    }
}
