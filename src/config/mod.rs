//! The TOML config (DESIGN.md §2): model, defaults and validation.
//!
//! Loading collects *every* problem before refusing, each as `FILE:LINE:COL: message`. To do
//! that the file is read twice: once into a span-carrying tree (to locate things) and once
//! through serde with unknown keys collected instead of fatal. Validation then works on paths
//! (`feed[2].schedule`) that the tree turns into line and column.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use url::Url;

use crate::identity::DedupPolicy;
use crate::schedule::CronExpr;
use crate::topics::Query;

pub const DEFAULT_CONFIG: &str = "/etc/feedwatch/feedwatch.toml";

pub fn default_user_agent() -> String {
    format!(
        "feedwatch/{} (+{})",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_HOMEPAGE")
    )
}

// ---------------------------------------------------------------------------------------------
// The validated model

#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    /// Settings accepted but not acted on yet, as `FILE:LINE:COL: message` (shown by `check`,
    /// logged by `run`).
    pub warnings: Vec<String>,
    pub daemon: DaemonConfig,
    pub feeds: Vec<FeedConfig>,
    pub topics: Vec<TopicConfig>,
    pub notifiers: Vec<NotifierConfig>,
}

#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub database: PathBuf,
    pub schedule: CronExpr,
    pub timezone: Tz,
    pub concurrency: usize,
    pub per_host: usize,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_body: u64,
    pub user_agent: String,
    pub retention: Duration,
    pub respect_cache_headers: bool,
    pub notify_errors: Vec<String>,
    /// First retry delay of a failed delivery; doubles each attempt.
    pub alert_backoff: Duration,
    /// Delivery attempts before an alert is `failed`.
    pub alert_attempts: u32,
}

#[derive(Debug, Clone)]
pub struct FeedConfig {
    pub name: String,
    pub url: Url,
    pub schedule: Option<CronExpr>,
    pub tags: Vec<String>,
    pub dedup: DedupPolicy,
}

#[derive(Debug, Clone)]
pub struct TopicConfig {
    pub name: String,
    pub query: Query,
    pub tags: Vec<String>,
    pub feeds: Vec<String>,
    pub notify: Vec<String>,
}

impl TopicConfig {
    /// Whether items of this feed are considered at all (the topic's `feeds`/`tags` filters).
    pub fn applies_to(&self, feed: &FeedConfig) -> bool {
        (self.feeds.is_empty() || self.feeds.contains(&feed.name))
            && (self.tags.is_empty() || self.tags.iter().any(|t| feed.tags.contains(t)))
    }
}

#[derive(Debug, Clone)]
pub struct NotifierConfig {
    pub name: String,
    pub kind: NotifierKind,
}

#[derive(Clone)]
pub enum NotifierKind {
    Log,
    Webhook {
        url: Url,
        secret: Option<Secret>,
        headers: BTreeMap<String, Secret>,
    },
}

/// Webhook URLs often carry a token in the path or query (Slack, Discord): show the host only.
impl fmt::Debug for NotifierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotifierKind::Log => f.write_str("Log"),
            NotifierKind::Webhook {
                url,
                secret,
                headers,
            } => f
                .debug_struct("Webhook")
                .field("host", &url.host_str().unwrap_or(""))
                .field("secret", secret)
                .field("headers", &headers.keys().collect::<Vec<_>>())
                .finish(),
        }
    }
}

/// A secret value. Its `Debug` never shows the value, so it cannot leak through logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    #[doc(hidden)]
    pub fn for_tests(s: &str) -> Self {
        Self(s.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Config {
    pub fn feed(&self, name: &str) -> Option<&FeedConfig> {
        self.feeds.iter().find(|f| f.name == name)
    }

    pub fn notifier(&self, name: &str) -> Option<&NotifierConfig> {
        self.notifiers.iter().find(|n| n.name == name)
    }

    pub fn schedule_of<'a>(&'a self, feed: &'a FeedConfig) -> &'a CronExpr {
        feed.schedule.as_ref().unwrap_or(&self.daemon.schedule)
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Every problem found in a config file, each rendered as `FILE:LINE:COL: message`.
#[derive(Debug, Clone)]
pub struct ConfigError {
    pub messages: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.messages.join("\n"))
    }
}

impl std::error::Error for ConfigError {}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

type PathSegs = Vec<Seg>;

fn p(parts: &[&dyn PathPart]) -> PathSegs {
    parts.iter().map(|x| x.seg()).collect()
}

trait PathPart {
    fn seg(&self) -> Seg;
}
impl PathPart for &str {
    fn seg(&self) -> Seg {
        Seg::Key((*self).to_string())
    }
}
impl PathPart for usize {
    fn seg(&self) -> Seg {
        Seg::Index(*self)
    }
}

struct Problem {
    path: PathSegs,
    /// Point at the key itself (unknown keys) rather than its value.
    at_key: bool,
    message: String,
}

struct Problems(Vec<Problem>);

impl Problems {
    fn value(&mut self, path: PathSegs, message: impl Into<String>) {
        self.0.push(Problem {
            path,
            at_key: false,
            message: message.into(),
        });
    }
    fn key(&mut self, path: PathSegs, message: impl Into<String>) {
        self.0.push(Problem {
            path,
            at_key: true,
            message: message.into(),
        });
    }
}

fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

/// The span of the deepest element of `path` present in the document.
fn locate(root: &DeTable<'_>, path: &[Seg], at_key: bool) -> Option<Range<usize>> {
    let mut span = None;
    let mut cur: Option<&DeValue<'_>> = None;
    let mut table = Some(root);
    for (i, seg) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        match seg {
            Seg::Key(k) => {
                let (key, val) = table?
                    .iter()
                    .find(|(key, _)| key.get_ref().as_ref() == k.as_str())?;
                span = Some(if last && at_key {
                    key.span()
                } else {
                    val.span()
                });
                cur = Some(val.get_ref());
            }
            Seg::Index(n) => {
                let arr = cur?.as_array()?;
                let v = arr.get(*n)?;
                span = Some(v.span());
                cur = Some(v.get_ref());
            }
        }
        table = cur.and_then(|v| v.as_table());
    }
    span
}

// ---------------------------------------------------------------------------------------------
// What serde reads

#[derive(Deserialize, Default)]
struct RawConfig {
    #[serde(default)]
    daemon: RawDaemon,
    #[serde(default)]
    feed: Vec<RawFeed>,
    #[serde(default)]
    topic: Vec<RawTopic>,
    #[serde(default)]
    notifier: Vec<RawNotifier>,
}

#[derive(Deserialize, Default)]
struct RawDaemon {
    database: Option<String>,
    schedule: Option<String>,
    timezone: Option<String>,
    concurrency: Option<usize>,
    per_host: Option<usize>,
    timeout: Option<String>,
    connect_timeout: Option<String>,
    max_body: Option<String>,
    user_agent: Option<String>,
    retention: Option<String>,
    respect_cache_headers: Option<bool>,
    notify_errors: Option<Vec<String>>,
    alert_backoff: Option<String>,
    alert_attempts: Option<u32>,
}

#[derive(Deserialize)]
struct RawFeed {
    name: Option<String>,
    url: Option<String>,
    schedule: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    dedup: Option<String>,
}

#[derive(Deserialize)]
struct RawTopic {
    name: Option<String>,
    query: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    feeds: Vec<String>,
    #[serde(default)]
    notify: Vec<String>,
}

/// A secret as written: a string, or `{ env = .. }`, `{ file = .. }`, `{ credential = .. }`.
/// Read as a plain TOML value and checked by [`resolve_secret`], so a mistake gets an
/// "expected ..." message at its position instead of stopping all checking.
type RawSecret = toml::Value;

/// What loading does with secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// Read every secret; one that cannot be read is an error (`run`, `poll`).
    Resolve,
    /// As `Resolve`, but a `credential` outside systemd (no $CREDENTIALS_DIRECTORY) is only a
    /// warning: `check` from a shell cannot see the service's credentials.
    Check,
    /// Check their form only: commands that only read the database need no secret.
    Skip,
}

/// Every option of every notifier kind; which ones a kind takes is checked in validation.
#[derive(Deserialize)]
struct RawNotifier {
    name: Option<String>,
    kind: Option<String>,
    url: Option<String>,
    secret: Option<RawSecret>,
    headers: Option<BTreeMap<String, RawSecret>>,
    topic: Option<String>,
    token: Option<RawSecret>,
    username: Option<String>,
    password: Option<RawSecret>,
    priority: Option<toml::Value>,
    tags: Option<Vec<String>>,
    smtp: Option<String>,
    from: Option<String>,
    to: Option<Vec<String>>,
    subject_template: Option<String>,
    room: Option<String>,
    chat_id: Option<toml::Value>,
    command: Option<Vec<String>>,
    timeout: Option<String>,
    digest: Option<String>,
    max_per_hour: Option<u32>,
    title_template: Option<String>,
    body_template: Option<String>,
}

impl RawNotifier {
    /// Names of the kind-specific options that are set.
    fn options_set(&self) -> Vec<&'static str> {
        let all: [(&'static str, bool); 21] = [
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
        ];
        all.iter()
            .filter(|(_, set)| *set)
            .map(|(k, _)| *k)
            .collect()
    }
}

const KINDS: &[&str] = &[
    "webhook", "ntfy", "email", "slack", "discord", "telegram", "matrix", "exec", "log",
];
const IMPLEMENTED_KINDS: &[&str] = &["webhook", "log"];

// ---------------------------------------------------------------------------------------------
// Loading

/// Where the config is read from: `--config`, else `$FEEDWATCH_CONFIG`, else the system path.
pub fn resolve_path(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("FEEDWATCH_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG))
}

pub fn load(path: &Path, secrets: Secrets) -> Result<Config, ConfigError> {
    let src = std::fs::read_to_string(path).map_err(|e| ConfigError {
        messages: vec![format!("{}: cannot read config: {e}", path.display())],
    })?;
    parse(path, &src, secrets)
}

/// Parse and validate config text; `path` names the file in messages and anchors relative paths.
pub fn parse(path: &Path, src: &str, secrets: Secrets) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let at = |span: Option<Range<usize>>, msg: &str| match span {
        Some(s) => {
            let (l, c) = line_col(src, s.start);
            format!("{file}:{l}:{c}: {msg}")
        }
        None => format!("{file}:1:1: {msg}"),
    };
    let root = DeTable::parse(src).map_err(|e| ConfigError {
        messages: vec![at(e.span(), e.message())],
    })?;

    let mut problems = Problems(Vec::new());
    let de = toml::de::Deserializer::from(root.clone());
    let raw: RawConfig = match serde_ignored::deserialize(de, |ignored| {
        problems.key(
            path_from_ignored(&ignored),
            format!("unknown key `{}`", last_key(&ignored)),
        );
    }) {
        Ok(raw) => raw,
        Err(e) => {
            let mut messages: Vec<String> = problems
                .0
                .iter()
                .map(|pb| at(locate(root.get_ref(), &pb.path, pb.at_key), &pb.message))
                .collect();
            messages.push(at(e.span(), e.message().trim()));
            return Err(ConfigError { messages });
        }
    };
    let mut warnings = Problems(Vec::new());
    let config = validate(path, raw, &mut problems, &mut warnings, secrets);
    if problems.0.is_empty() {
        let mut config = config.ok_or_else(|| ConfigError {
            messages: vec![format!("{file}:1:1: invalid config")],
        })?;
        config.warnings = warnings
            .0
            .iter()
            .map(|w| {
                at(
                    locate(root.get_ref(), &w.path, true),
                    &format!("warning: {}", w.message),
                )
            })
            .collect();
        return Ok(config);
    }
    // Report in file order so the user can fix top to bottom.
    let mut located: Vec<(usize, String)> = problems
        .0
        .iter()
        .map(|pb| {
            let span = locate(root.get_ref(), &pb.path, pb.at_key);
            (
                span.as_ref().map(|s| s.start).unwrap_or(0),
                at(span, &pb.message),
            )
        })
        .collect();
    located.sort_by_key(|(off, _)| *off);
    Err(ConfigError {
        messages: located.into_iter().map(|(_, m)| m).collect(),
    })
}

fn path_from_ignored(path: &serde_ignored::Path<'_>) -> PathSegs {
    use serde_ignored::Path as P;
    let mut segs = match path {
        P::Root => Vec::new(),
        P::Seq { parent, .. }
        | P::Map { parent, .. }
        | P::Some { parent }
        | P::NewtypeStruct { parent }
        | P::NewtypeVariant { parent } => path_from_ignored(parent),
    };
    match path {
        P::Seq { index, .. } => segs.push(Seg::Index(*index)),
        P::Map { key, .. } => segs.push(Seg::Key(key.to_string())),
        _ => {}
    }
    segs
}

fn last_key(path: &serde_ignored::Path<'_>) -> String {
    match path {
        serde_ignored::Path::Map { key, .. } => key.to_string(),
        _ => path.to_string(),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| {
        format!("invalid duration `{s}` ({e}); expected e.g. \"30s\", \"15m\", \"90d\"")
    })
}

/// "16MiB", "512 KB", "1048576": a byte count.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size `{s}`; expected e.g. \"16MiB\""))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" | "k" => 1024,
        "mb" => 1000 * 1000,
        "mib" | "m" => 1024 * 1024,
        "gb" => 1000 * 1000 * 1000,
        "gib" | "g" => 1024 * 1024 * 1024,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{s}`; expected B, KiB, MiB, GiB, KB, MB or GB"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size `{s}` is too large"))
}

fn default_database() -> PathBuf {
    if let Some(dir) = std::env::var_os("STATE_DIRECTORY") {
        // systemd may pass several, colon-separated; the first is ours.
        let first = dir
            .to_string_lossy()
            .split(':')
            .next()
            .unwrap_or_default()
            .to_string();
        return PathBuf::from(first).join("feedwatch.db");
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    data.join("feedwatch").join("feedwatch.db")
}

fn resolve_secret(
    raw: &RawSecret,
    path: PathSegs,
    problems: &mut Problems,
    warnings: &mut Problems,
    base: &Path,
    secrets: Secrets,
) -> Option<Secret> {
    enum Source<'a> {
        Literal(&'a str),
        Env(&'a str),
        File(&'a str),
        Credential(&'a str),
    }
    let source = match raw {
        toml::Value::String(s) => Some(Source::Literal(s)),
        toml::Value::Table(t) if t.len() == 1 => match t.iter().next() {
            Some((k, toml::Value::String(v))) if k == "env" => Some(Source::Env(v)),
            Some((k, toml::Value::String(v))) if k == "file" => Some(Source::File(v)),
            Some((k, toml::Value::String(v))) if k == "credential" => Some(Source::Credential(v)),
            _ => None,
        },
        _ => None,
    };
    let Some(source) = source else {
        problems.value(
            path,
            "expected a string, or a table with one of `env`, `file`, `credential` (e.g. { env = \"NAME\" })",
        );
        return None;
    };
    if secrets == Secrets::Skip {
        return Some(Secret(String::new()));
    }
    let read =
        |p: &Path| std::fs::read_to_string(p).map(|s| s.trim_end_matches(['\n', '\r']).to_string());
    let result = match source {
        Source::Literal(s) => Ok(s.to_string()),
        Source::Env(env) => {
            std::env::var(env).map_err(|_| format!("environment variable `{env}` is not set"))
        }
        Source::File(file) => {
            let f = base.join(file);
            read(&f).map_err(|e| format!("cannot read secret file {}: {e}", f.display()))
        }
        Source::Credential(credential) => match std::env::var_os("CREDENTIALS_DIRECTORY") {
            Some(dir) => {
                let f = PathBuf::from(dir).join(credential);
                read(&f).map_err(|e| format!("cannot read credential `{credential}`: {e}"))
            }
            None if secrets == Secrets::Check => {
                warnings.value(
                    path,
                    format!("credential `{credential}` can only be read inside the service (systemd LoadCredential=)"),
                );
                return Some(Secret(String::new()));
            }
            None => Err(format!(
                "credential `{credential}` needs $CREDENTIALS_DIRECTORY (systemd LoadCredential=)"
            )),
        },
    };
    match result {
        Ok(s) => Some(Secret(s)),
        Err(e) => {
            problems.value(path, e);
            None
        }
    }
}

/// A key every table of its kind needs; reported at the table when absent. Required keys are
/// `Option`s in the raw structs so that a misspelt one is one error among the others, not the
/// end of all checking.
fn required(
    value: Option<String>,
    table: PathSegs,
    key: &str,
    what: &str,
    problems: &mut Problems,
) -> String {
    value.unwrap_or_else(|| {
        problems.value(table, format!("{what} needs `{key}`"));
        String::new()
    })
}

/// Extra webhook headers: values may be secrets (an `Authorization` token), and names and
/// values must be valid HTTP, checked here rather than failing every delivery.
fn webhook_headers(
    raw: Option<&BTreeMap<String, RawSecret>>,
    i: usize,
    problems: &mut Problems,
    warnings: &mut Problems,
    base: &Path,
    secrets: Secrets,
) -> BTreeMap<String, Secret> {
    let mut out = BTreeMap::new();
    for (name, value) in raw.into_iter().flatten() {
        let at = p(&[&"notifier", &i, &"headers", &name.as_str()]);
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            problems.key(at, format!("`{name}` is not a valid HTTP header name"));
            continue;
        }
        if let Some(v) = resolve_secret(value, at.clone(), problems, warnings, base, secrets) {
            if reqwest::header::HeaderValue::from_str(v.expose()).is_err() {
                problems.value(
                    at,
                    format!(
                        "the value of header `{name}` is not valid in HTTP (control characters?)"
                    ),
                );
                continue;
            }
            out.insert(name.clone(), v);
        }
    }
    out
}

fn validate(
    path: &Path,
    raw: RawConfig,
    problems: &mut Problems,
    warnings: &mut Problems,
    secrets: Secrets,
) -> Option<Config> {
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let d = raw.daemon;
    let dk = |k: &str| p(&[&"daemon", &k]);

    let cron = |expr: &str, at: PathSegs, problems: &mut Problems| match CronExpr::parse(expr) {
        Ok(c) => Some(c),
        Err(e) => {
            problems.value(at, e);
            None
        }
    };
    let dur = |v: &Option<String>, key: &str, default: Duration, problems: &mut Problems| match v {
        None => default,
        Some(s) => parse_duration(s).unwrap_or_else(|e| {
            problems.value(dk(key), e);
            default
        }),
    };

    let schedule = cron(
        d.schedule.as_deref().unwrap_or("*/15 * * * *"),
        dk("schedule"),
        problems,
    );
    let timezone = match d.timezone.as_deref() {
        None => Tz::UTC,
        Some(z) => z.parse::<Tz>().unwrap_or_else(|_| {
            problems.value(
                dk("timezone"),
                format!("unknown time zone `{z}`; expected an IANA name such as \"Europe/Paris\""),
            );
            Tz::UTC
        }),
    };
    let positive = |v: Option<usize>, key: &str, default: usize, problems: &mut Problems| match v {
        Some(0) => {
            problems.value(dk(key), format!("`{key}` must be at least 1"));
            default
        }
        Some(n) => n,
        None => default,
    };
    let concurrency = positive(d.concurrency, "concurrency", 16, problems);
    let per_host = positive(d.per_host, "per_host", 2, problems);
    let timeout = dur(&d.timeout, "timeout", Duration::from_secs(30), problems);
    let connect_timeout = dur(
        &d.connect_timeout,
        "connect_timeout",
        Duration::from_secs(10),
        problems,
    );
    let retention = dur(
        &d.retention,
        "retention",
        Duration::from_secs(90 * 86400),
        problems,
    );
    let alert_backoff = dur(
        &d.alert_backoff,
        "alert_backoff",
        Duration::from_secs(30),
        problems,
    );
    let max_body = match d.max_body.as_deref() {
        None => 16 * 1024 * 1024,
        Some(s) => parse_size(s).unwrap_or_else(|e| {
            problems.value(dk("max_body"), e);
            0
        }),
    };
    let database = d
        .database
        .map(|db| base.join(db))
        .unwrap_or_else(default_database);

    // Feeds
    let mut feeds = Vec::new();
    let mut names = HashSet::new();
    for (i, f) in raw.feed.into_iter().enumerate() {
        let fk = |k: &str| p(&[&"feed", &i, &k]);
        let name = match f.name {
            None => {
                problems.value(p(&[&"feed", &i]), "a [[feed]] needs `name`");
                String::new()
            }
            Some(n) if n.trim().is_empty() => {
                problems.value(fk("name"), "feed name must not be empty");
                n
            }
            Some(n) => {
                if !names.insert(n.clone()) {
                    problems.value(fk("name"), format!("duplicate feed name `{n}`"));
                }
                n
            }
        };
        let Some(url_text) = f.url else {
            problems.value(p(&[&"feed", &i]), "a [[feed]] needs `url`");
            continue;
        };
        let url = match Url::parse(&url_text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
            Ok(u) => {
                problems.value(
                    fk("url"),
                    format!("feed URL must be http or https, not `{}`", u.scheme()),
                );
                None
            }
            Err(e) => {
                problems.value(fk("url"), format!("invalid URL `{url_text}`: {e}"));
                None
            }
        };
        let dedup = match f.dedup.as_deref() {
            None | Some("auto") => DedupPolicy::Auto,
            Some("guid") => DedupPolicy::Guid,
            Some("link") => DedupPolicy::Link,
            Some("content") => DedupPolicy::Content,
            Some(other) => {
                problems.value(
                    fk("dedup"),
                    format!("unknown dedup policy `{other}`; expected auto, guid, link or content"),
                );
                DedupPolicy::Auto
            }
        };
        let schedule = f
            .schedule
            .as_deref()
            .and_then(|s| cron(s, fk("schedule"), problems));
        if let Some(url) = url {
            feeds.push(FeedConfig {
                name,
                url,
                schedule,
                tags: f.tags,
                dedup,
            });
        }
    }

    // Notifiers
    let mut notifiers = Vec::new();
    let mut notifier_names = HashSet::new();
    for (i, n) in raw.notifier.iter().enumerate() {
        let nk = |k: &str| p(&[&"notifier", &i, &k]);
        let name = required(
            n.name.clone(),
            p(&[&"notifier", &i]),
            "name",
            "a [[notifier]]",
            problems,
        );
        if n.name.is_some() && !notifier_names.insert(name.clone()) {
            problems.value(nk("name"), format!("duplicate notifier name `{name}`"));
        }
        let Some(kind_name) = n.kind.as_deref() else {
            problems.value(
                p(&[&"notifier", &i]),
                format!("a [[notifier]] needs `kind` (one of {})", KINDS.join(", ")),
            );
            continue;
        };
        if !KINDS.contains(&kind_name) {
            problems.value(
                nk("kind"),
                format!(
                    "unknown notifier kind `{}`; expected one of {}",
                    kind_name,
                    KINDS.join(", ")
                ),
            );
            continue;
        }
        if !IMPLEMENTED_KINDS.contains(&kind_name) {
            problems.value(
                nk("kind"),
                format!(
                    "notifier kind `{}` is not available in this version yet (available: {})",
                    kind_name,
                    IMPLEMENTED_KINDS.join(", ")
                ),
            );
            continue;
        }
        let allowed: &[&str] = match kind_name {
            "webhook" => &["url", "secret", "headers"],
            _ => &[],
        };
        for opt in n.options_set() {
            if !allowed.contains(&opt) {
                let why = if ["digest", "max_per_hour", "title_template", "body_template"]
                    .contains(&opt)
                {
                    format!("`{opt}` is not available in this version yet")
                } else {
                    format!("`{opt}` is not an option of a `{kind_name}` notifier")
                };
                problems.key(nk(opt), why);
            }
        }
        let kind = match kind_name {
            "webhook" => {
                let url = match n.url.as_deref().map(Url::parse) {
                    Some(Ok(u)) if matches!(u.scheme(), "http" | "https") => Some(u),
                    Some(Ok(_)) => {
                        problems.value(nk("url"), "webhook URL must be http or https");
                        None
                    }
                    Some(Err(e)) => {
                        problems.value(nk("url"), format!("invalid URL: {e}"));
                        None
                    }
                    None => {
                        problems.value(p(&[&"notifier", &i]), "a webhook notifier needs `url`");
                        None
                    }
                };
                let secret = n.secret.as_ref().and_then(|s| {
                    resolve_secret(s, nk("secret"), problems, warnings, &base, secrets)
                });
                let headers =
                    webhook_headers(n.headers.as_ref(), i, problems, warnings, &base, secrets);
                url.map(|url| NotifierKind::Webhook {
                    url,
                    secret,
                    headers,
                })
            }
            _ => Some(NotifierKind::Log),
        };
        if let Some(kind) = kind {
            notifiers.push(NotifierConfig { name, kind });
        }
    }

    // Topics
    let mut topics = Vec::new();
    let mut topic_names = HashSet::new();
    for (i, t) in raw.topic.into_iter().enumerate() {
        let tk = |k: &str| p(&[&"topic", &i, &k]);
        let has_name = t.name.is_some();
        let name = required(t.name, p(&[&"topic", &i]), "name", "a [[topic]]", problems);
        if has_name && !topic_names.insert(name.clone()) {
            problems.value(tk("name"), format!("duplicate topic name `{name}`"));
        }
        for (j, n) in t.notify.iter().enumerate() {
            if !notifier_names.contains(n) {
                problems.value(
                    p(&[&"topic", &i, &"notify", &j]),
                    format!("unknown notifier `{n}`"),
                );
            }
        }
        for (j, f) in t.feeds.iter().enumerate() {
            if !names.contains(f) {
                problems.value(
                    p(&[&"topic", &i, &"feeds", &j]),
                    format!("unknown feed `{f}`"),
                );
            }
        }
        let Some(query_text) = t.query else {
            problems.value(p(&[&"topic", &i]), "a [[topic]] needs `query`");
            continue;
        };
        match Query::parse(&query_text) {
            Ok(query) => topics.push(TopicConfig {
                name,
                query,
                tags: t.tags,
                feeds: t.feeds,
                notify: t.notify,
            }),
            Err(e) => problems.value(tk("query"), format!("invalid query: {e}")),
        }
    }

    // DESIGN.md settings whose machinery comes later: accepted, so configs stay valid, but said.
    if d.retention.is_some() {
        warnings.value(
            dk("retention"),
            "`retention` is not applied by this version yet: nothing is pruned",
        );
    }
    if d.respect_cache_headers.is_some() {
        warnings.value(
            dk("respect_cache_headers"),
            "this version does not read Cache-Control, Expires or <ttl> yet (Retry-After on 429/503 is honoured)",
        );
    }
    if d.notify_errors.as_ref().is_some_and(|v| !v.is_empty()) {
        warnings.value(
            dk("notify_errors"),
            "`notify_errors` is not used by this version yet: feed failures are logged and shown by `feeds`",
        );
    }
    let notify_errors = d.notify_errors.unwrap_or_default();
    for (j, n) in notify_errors.iter().enumerate() {
        if !notifier_names.contains(n) {
            problems.value(
                p(&[&"daemon", &"notify_errors", &j]),
                format!("unknown notifier `{n}`"),
            );
        }
    }
    if d.alert_attempts == Some(0) {
        problems.value(dk("alert_attempts"), "`alert_attempts` must be at least 1");
    }

    Some(Config {
        path: path.to_path_buf(),
        warnings: Vec::new(),
        daemon: DaemonConfig {
            database,
            schedule: schedule?,
            timezone,
            concurrency,
            per_host,
            timeout,
            connect_timeout,
            max_body,
            user_agent: d.user_agent.unwrap_or_else(default_user_agent),
            retention,
            respect_cache_headers: d.respect_cache_headers.unwrap_or(true),
            notify_errors,
            alert_backoff,
            alert_attempts: d.alert_attempts.unwrap_or(10),
        },
        feeds,
        topics,
        notifiers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(src: &str) -> Result<Config, Vec<String>> {
        parse(Path::new("/etc/fw.toml"), src, Secrets::Resolve).map_err(|e| e.messages)
    }

    const GOOD: &str = r#"
[daemon]
database = "state/fw.db"
schedule = "*/5 * * * *"
timezone = "Europe/Paris"
max_body = "1MiB"

[[feed]]
name = "wire"
url = "https://example.org/feed.xml"
tags = ["world"]

[[topic]]
name = "cr"
query = '(China OR Beijing) AND (Russia OR Lavrov)'
notify = ["ops", "log"]

[[notifier]]
name = "ops"
kind = "webhook"
url = "https://hooks.example.org/x"
secret = "s3cret"

[[notifier]]
name = "log"
kind = "log"
"#;

    #[test]
    fn good_config_loads_with_defaults() {
        let c = check(GOOD).unwrap();
        assert_eq!(c.daemon.database, PathBuf::from("/etc/state/fw.db"));
        assert_eq!(c.daemon.max_body, 1024 * 1024);
        assert_eq!(c.daemon.concurrency, 16);
        assert_eq!(c.daemon.per_host, 2);
        assert_eq!(c.daemon.timeout, Duration::from_secs(30));
        assert!(c.daemon.user_agent.starts_with("feedwatch/"));
        assert_eq!(c.feeds[0].dedup, DedupPolicy::Auto);
        assert_eq!(c.topics[0].notify, ["ops", "log"]);
        match &c.notifiers[0].kind {
            NotifierKind::Webhook {
                secret: Some(s), ..
            } => {
                assert_eq!(s.expose(), "s3cret");
                assert!(
                    !format!("{:?}", c).contains("s3cret"),
                    "secrets never show in Debug"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_problem_is_reported_with_line_and_column() {
        let src = r#"[daemon]
schedul = "*/5 * * * *"

[[feed]]
name = "wire"
url = "https://example.org/feed.xml"
schedule = "*/5 * * *"

[[topic]]
name = "t"
query = "(China OR"
notify = ["nobody"]
"#;
        let errs = check(src).unwrap_err();
        assert_eq!(errs.len(), 4, "{errs:#?}");
        assert!(
            errs[0].starts_with("/etc/fw.toml:2:1: unknown key `schedul`"),
            "{}",
            errs[0]
        );
        assert!(errs[1].starts_with("/etc/fw.toml:7:12: "), "{}", errs[1]);
        assert!(errs[1].contains("expected 5 fields"));
        assert!(
            errs[2].starts_with("/etc/fw.toml:11:9: invalid query"),
            "{}",
            errs[2]
        );
        assert!(
            errs[3].starts_with("/etc/fw.toml:12:11: unknown notifier `nobody`"),
            "{}",
            errs[3]
        );
    }

    #[test]
    fn syntax_and_type_errors_have_positions() {
        let e = check("[daemon\n").unwrap_err();
        assert!(e[0].starts_with("/etc/fw.toml:1:"), "{e:?}");
        let e = check("[daemon]\nconcurrency = \"many\"\n").unwrap_err();
        assert!(e[0].starts_with("/etc/fw.toml:2:15:"), "{e:?}");
        let e = check("[[feed]]\nname = \"a\"\nurl = \"https://x/\"\ndedup = \"sometimes\"\n")
            .unwrap_err();
        assert!(e[0].starts_with("/etc/fw.toml:4:9:"), "{e:?}");
    }

    #[test]
    fn duplicate_names_bad_urls_and_kind_options_are_refused() {
        let src = r#"
[[feed]]
name = "a"
url = "ftp://example.org/"
[[feed]]
name = "a"
url = "https://example.org/"
[[notifier]]
name = "n"
kind = "log"
url = "https://x/"
[[notifier]]
name = "m"
kind = "pager"
"#;
        let errs = check(src).unwrap_err().join("\n");
        assert!(errs.contains("http or https"), "{errs}");
        assert!(errs.contains("duplicate feed name `a`"), "{errs}");
        assert!(
            errs.contains("`url` is not an option of a `log` notifier"),
            "{errs}"
        );
        assert!(errs.contains("unknown notifier kind `pager`"), "{errs}");
    }

    #[test]
    fn secrets_from_env_missing_are_named_but_never_shown() {
        let src = "[[notifier]]\nname = \"n\"\nkind = \"webhook\"\nurl = \"https://x/\"\nsecret = { env = \"FEEDWATCH_TEST_SURELY_UNSET\" }\n";
        let errs = check(src).unwrap_err();
        assert!(
            errs[0].contains("5:10: environment variable `FEEDWATCH_TEST_SURELY_UNSET` is not set"),
            "{errs:?}"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16MiB").unwrap(), 16 << 20);
        assert_eq!(parse_size("2 KB").unwrap(), 2000);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }
}
