//! What the file says, read loosely: the span-carrying TOML tree is walked section by section
//! against [`super::schema`], so an unknown key, a misspelt table or a value of the wrong type
//! is one problem among the others instead of the end of all checking. A key with a wrong type
//! reads as absent (its problem is already recorded); what each value means is decided by the
//! section modules.

use std::collections::BTreeMap;

use toml::de::{DeTable, DeValue};

use super::locate::{PathSegs, Problems, Seg, p};
use super::schema::{self, SECTIONS, Section, Shape};
use super::suggest::{closest, did_you_mean};

#[derive(Default)]
pub(super) struct RawConfig {
    /// The file holds no key and no table at all.
    pub empty: bool,
    pub daemon: RawDaemon,
    pub http: Option<RawHttp>,
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
    for (key, value) in root.iter() {
        let name: &str = key.get_ref();
        let Some(section) = schema::section(name) else {
            unknown_top_level(name, value.get_ref(), problems);
            continue;
        };
        let tables = tables_of(section, value.get_ref(), problems);
        let at = |i: usize| match section.shape {
            Shape::Table => p(&[&section.name]),
            Shape::List => p(&[&section.name, &i]),
        };
        let mut fields = tables
            .iter()
            .enumerate()
            .map(|(i, t)| Fields::checked(t, at(i), section, problems));
        match name {
            "daemon" => raw.daemon = fields.next().map(daemon).unwrap_or_default(),
            "http" => raw.http = fields.next().map(http),
            "feed" => raw.feed = fields.map(feed).collect(),
            "topic" => raw.topic = fields.map(topic).collect(),
            _ => raw.notifier = fields.map(notifier).collect(),
        }
    }
    raw
}

/// The tables of a section, as written; a `[feed]` written for `[[feed]]` (or the other way
/// round) is said and read as meant, so its contents are checked too.
fn tables_of<'a, 'i>(
    section: &Section,
    value: &'a DeValue<'i>,
    problems: &mut Problems,
) -> Vec<&'a DeTable<'i>> {
    let at = p(&[&section.name]);
    let name = section.name;
    let list: Option<Vec<&DeTable<'i>>> = value
        .as_array()
        .and_then(|a| a.iter().map(|v| v.get_ref().as_table()).collect());
    match (section.shape, value, list) {
        (Shape::Table, DeValue::Table(t), _) => vec![t],
        (Shape::List, _, Some(list)) => list,
        (Shape::List, DeValue::Table(t), _) => {
            problems.key(
                at,
                format!("`[{name}]` (single brackets) is one table, but {name}s are a list: write `[[{name}]]` (double brackets) above each {name}"),
            );
            vec![t]
        }
        (Shape::Table, _, Some(list)) if !list.is_empty() => {
            problems.key(
                at,
                format!("`[[{name}]]` (double brackets) starts a list, but there is one {name} table: write `[{name}]` (single brackets)"),
            );
            list.into_iter().take(1).collect()
        }
        (shape, v, _) => {
            let how = match shape {
                Shape::Table => format!("a `[{name}]` line, then its settings"),
                Shape::List => format!("a `[[{name}]]` line above each {name}"),
            };
            problems.value(
                at,
                format!(
                    "`{name}` must be written as {how} (found {})",
                    schema::found(v, false)
                ),
            );
            Vec::new()
        }
    }
}

/// A top-level name that is no section: a misspelt table, or a setting above every header.
fn unknown_top_level(name: &str, value: &DeValue<'_>, problems: &mut Problems) {
    let at = p(&[&name]);
    let shape = match value {
        DeValue::Table(_) => Some(Shape::Table),
        DeValue::Array(a) if !a.is_empty() && a.iter().all(|v| v.get_ref().is_table()) => {
            Some(Shape::List)
        }
        _ => None,
    };
    if let Some(shape) = shape {
        let hint = closest(name, SECTIONS.iter().map(|s| s.name))
            .and_then(schema::section)
            .map(|s| format!("; did you mean `{}`?", s.header()))
            .unwrap_or_else(|| {
                let all: Vec<String> = SECTIONS.iter().map(|s| s.header()).collect();
                format!(" (the tables are {})", all.join(", "))
            });
        problems.key(
            at,
            format!("unknown table `{}`{hint}", schema::header(name, shape)),
        );
        return;
    }
    let homes = sections_with(name);
    let message = if homes.is_empty() {
        format!("unknown key `{name}` at the top of the file")
    } else {
        format!(
            "`{name}` is not a top-level setting: it belongs under {} (keys above the first [table] line are top-level)",
            homes.join(" or ")
        )
    };
    problems.key(at, message);
}

/// The headers of the sections that have a key `name`: `["`[daemon]`"]`.
fn sections_with(name: &str) -> Vec<String> {
    SECTIONS
        .iter()
        .filter(|s| s.key(name).is_some())
        .map(|s| format!("`{}`", s.header()))
        .collect()
}

/// One table's values, read after its keys and their types were checked.
struct Fields<'a, 'i> {
    table: &'a DeTable<'i>,
}

impl<'a, 'i> Fields<'a, 'i> {
    /// Records every unknown key and every value of the wrong type in `table` (at `path`).
    fn checked(
        table: &'a DeTable<'i>,
        path: PathSegs,
        section: &Section,
        problems: &mut Problems,
    ) -> Self {
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            let mut at = path.clone();
            at.push(Seg::Key(name.to_string()));
            let Some(spec) = section.key(name) else {
                problems.key(at, unknown_key(name, section));
                continue;
            };
            let v = value.get_ref();
            if !spec.ty.accepts(v) {
                problems.value(at, schema::type_message(spec, v));
                continue;
            }
            for (j, entry) in v.as_array().into_iter().flatten().enumerate() {
                if !spec.ty.accepts_entry(entry.get_ref()) {
                    let mut at = at.clone();
                    at.push(Seg::Index(j));
                    problems.value(at, schema::entry_message(spec, entry.get_ref()));
                }
            }
        }
        Self { table }
    }

    /// The value of `key` when its type is right (a wrong one was reported by [`checked`]).
    fn get(&self, key: &str) -> Option<&'a DeValue<'i>> {
        self.table.get(key).map(|v| v.get_ref())
    }

    fn text(&self, key: &str) -> Option<String> {
        self.get(key).and_then(DeValue::as_str).map(str::to_string)
    }

    fn count(&self, key: &str) -> Option<u32> {
        self.get(key)
            .and_then(DeValue::as_integer)
            .and_then(|i| schema::count(i).ok())
    }

    fn flag(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(DeValue::as_bool)
    }

    /// The strings of a list; entries of another type were reported and are left out.
    fn texts(&self, key: &str) -> Option<Vec<String>> {
        self.get(key).and_then(DeValue::as_array).map(|a| {
            a.iter()
                .filter_map(|v| v.get_ref().as_str().map(str::to_string))
                .collect()
        })
    }

    /// A secret, `priority` or `chat_id`: any value the key's type accepts, to be read later.
    fn value(&self, key: &str, ty: schema::Ty) -> Option<toml::Value> {
        self.get(key).filter(|v| ty.accepts(v)).map(to_value)
    }

    fn headers(&self, key: &str) -> Option<BTreeMap<String, RawSecret>> {
        self.get(key).and_then(DeValue::as_table).map(|t| {
            t.iter()
                .map(|(k, v)| (k.get_ref().to_string(), to_value(v.get_ref())))
                .collect()
        })
    }
}

/// "unknown key `x` in `[daemon]`", with the likely key, or the section that has it.
fn unknown_key(name: &str, section: &Section) -> String {
    let header = section.header();
    let hint = did_you_mean(name, section.keys.iter().map(|k| k.name));
    if !hint.is_empty() {
        return format!("unknown key `{name}` in `{header}`{hint}");
    }
    let homes = sections_with(name);
    if homes.is_empty() {
        format!("unknown key `{name}` in `{header}`")
    } else {
        format!(
            "unknown key `{name}` in `{header}` (it is a setting of {})",
            homes.join(" and ")
        )
    }
}

/// A value as a plain TOML value (secrets, `priority`, `chat_id` are checked from that).
fn to_value(v: &DeValue<'_>) -> toml::Value {
    use toml::Value as V;
    match v {
        DeValue::String(s) => V::String(s.to_string()),
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
            .map(V::Integer)
            // Too large for TOML's integers: a float, which no key takes, so it is refused.
            .unwrap_or(V::Float(f64::INFINITY)),
        DeValue::Float(f) => V::Float(f.as_str().parse().unwrap_or(f64::NAN)),
        DeValue::Boolean(b) => V::Boolean(*b),
        DeValue::Datetime(d) => V::Datetime(*d),
        DeValue::Array(a) => V::Array(a.iter().map(|x| to_value(x.get_ref())).collect()),
        DeValue::Table(t) => V::Table(
            t.iter()
                .map(|(k, x)| (k.get_ref().to_string(), to_value(x.get_ref())))
                .collect(),
        ),
    }
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
    use schema::Ty::{NumberOrText, Secret};
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
        ];
        assert_eq!(daemon_set.len(), schema::DAEMON.len());
        assert!(daemon_set.iter().all(|s| *s), "{daemon_set:?}");
        assert!(raw.http.and_then(|h| h.listen).is_some());
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

    #[test]
    fn integers_keep_their_value_whatever_their_base() {
        let v = toml::de::DeTable::parse("a = 0x10\nb = 1_000\nc = -7\n").unwrap();
        let got: Vec<toml::Value> = ["a", "b", "c"]
            .iter()
            .map(|k| to_value(v.get_ref().get(*k).unwrap().get_ref()))
            .collect();
        assert_eq!(
            got,
            [
                toml::Value::Integer(16),
                toml::Value::Integer(1000),
                toml::Value::Integer(-7)
            ]
        );
    }
}
