//! The TOML config (DESIGN.md §2): the validated model, and loading it.
//!
//! Loading collects *every* problem before refusing, each as `FILE:LINE:COL: message`, in
//! file order; a config that loads carries its warnings (`Config::warnings`) the same way. The
//! file is parsed once into a span-carrying tree, read loosely (a wrong type is one problem,
//! not the end of checking), and validated on paths (`feed[2].schedule`) that the tree turns
//! into line and column.
//!
//! The parts: `schema.rs` says what type every key has, with an example; `syntax.rs` explains
//! TOML errors (a table defined twice); `read.rs` walks the tree against the schema into
//! `raw.rs`, what the file says; `locate.rs` turns paths into positions and orders the
//! messages; one module per section checks it (`daemon.rs`, `feeds.rs`, `topics.rs`,
//! `notifiers/`); `lint.rs` warns about configs that can never do anything; `secrets.rs`
//! reads secrets; `values.rs` reads durations, sizes, schedules and URLs; `suggest.rs` finds
//! "did you mean".

mod daemon;
mod feeds;
mod lint;
mod locate;
mod notifiers;
mod raw;
mod read;
mod schema;
mod secrets;
mod suggest;
mod syntax;
mod topics;
mod values;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use toml::de::DeTable;
use url::Url;

use crate::identity::DedupPolicy;
use crate::schedule::CronExpr;
use crate::topics::Query;

use locate::{Locator, Problems};
use raw::RawConfig;
use secrets::SecretReader;

pub use notifiers::model::{
    EmailConfig, ExecConfig, HttpAuth, MatrixConfig, NotifierConfig, NotifierKind, NtfyConfig,
    SmtpSecurity, TelegramConfig, WebhookConfig,
};
pub use values::parse_size;

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
    /// What loads but looks wrong (a topic that tells no one, a notifier nothing uses) and
    /// settings accepted but not acted on yet, as `FILE:LINE:COL: warning: message` in file
    /// order (shown by `check`, logged by `run`).
    pub warnings: Vec<String>,
    pub daemon: DaemonConfig,
    /// `[http]`: the health and metrics endpoint, when configured.
    pub http: Option<HttpConfig>,
    pub feeds: Vec<FeedConfig>,
    pub topics: Vec<TopicConfig>,
    /// Every topic's query compiled into one matcher (topic `i` is `topics[i]`), built once
    /// here so that each item is tokenized once however many topics there are.
    pub matcher: std::sync::Arc<crate::topics::Matcher>,
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
    /// Notifiers told about every feed's health events (`feed.failing`, `feed.gone`,
    /// `feed.recovered`).
    pub notify_errors: Vec<String>,
    /// Consecutive failed polls after which a feed is reported `feed.failing` (default 3).
    pub failing_after: u32,
    /// The longest a cache hint may hold a feed back (default 24 h).
    pub cache_max: Duration,
    /// How far back a new item looks for a story to join (default 72 h).
    pub story_window: Duration,
    pub log_format: LogFormat,
    /// First retry delay of a failed delivery; doubles each attempt.
    pub alert_backoff: Duration,
    /// Delivery attempts before an alert is `failed`.
    pub alert_attempts: u32,
    /// Database connection settings (`busy_timeout`: how long a write waits for another
    /// process's lock).
    pub store: StoreOptions,
    /// How long the database may refuse every write before the daemon exits (to be restarted).
    pub give_up_after: Duration,
    /// Whether a redirect, an autodiscovery link or a DNS answer may lead a fetch that started
    /// at a public address into a private network (default false; see [`crate::netguard`]).
    pub allow_private_networks: bool,
    /// Set when `database` is a `postgres://` URL: this daemon is one node of several sharing
    /// that database (see [`crate::cluster`]).
    pub cluster: Option<ClusterConfig>,
}

/// `database = "postgres://…"` with `database_password` and `[cluster]`.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The URL as written (it carries no password: that is refused in favour of
    /// `database_password`, so the URL can be logged).
    pub url: String,
    pub password: Option<Secret>,
    /// This node's name in `feedwatch nodes` (default: the host name).
    pub node: String,
    /// How long a claim lasts unless renewed: a feed's poll, an alert's delivery, a host
    /// bucket, the clusterer's role.
    pub lease: Duration,
}

/// Settings of the database connections.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// How long a write waits for another process's lock before it fails.
    pub busy_timeout: Duration,
    /// How far back a new item looks for a story to join.
    pub story_window: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(10),
            story_window: Duration::from_secs(72 * 3600),
        }
    }
}

/// `log_format`: how the daemon writes its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// journald when `$JOURNAL_STREAM` says stderr goes there, else plain.
    #[default]
    Auto,
    Plain,
    Json,
}

/// `[http]`: where the health and metrics endpoint listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    pub listen: std::net::SocketAddr,
}

#[derive(Debug, Clone)]
pub struct FeedConfig {
    pub name: String,
    pub url: Url,
    pub schedule: Option<CronExpr>,
    pub tags: Vec<String>,
    pub dedup: DedupPolicy,
    /// `false` opts this feed out of `[daemon] respect_cache_headers`.
    pub respect_cache_headers: Option<bool>,
}

impl FeedConfig {
    /// Whether the publisher's freshness hints hold this feed's polls back.
    pub fn respects_cache_headers(&self, daemon: &DaemonConfig) -> bool {
        self.respect_cache_headers
            .unwrap_or(daemon.respect_cache_headers)
    }
}

#[derive(Debug, Clone)]
pub struct TopicConfig {
    pub name: String,
    pub query: Query,
    pub tags: Vec<String>,
    pub feeds: Vec<String>,
    pub notify: Vec<String>,
    /// Notifiers told about the health events of this topic's feeds (those it
    /// [`applies_to`](Self::applies_to)), besides `[daemon] notify_errors`.
    pub notify_errors: Vec<String>,
}

impl TopicConfig {
    /// Whether items of this feed are considered at all (the topic's `feeds`/`tags` filters).
    pub fn applies_to(&self, feed: &FeedConfig) -> bool {
        (self.feeds.is_empty() || self.feeds.contains(&feed.name))
            && (self.tags.is_empty() || self.tags.iter().any(|t| feed.tags.contains(t)))
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

    /// Who hears about `feed`'s health events: `[daemon] notify_errors`, then the
    /// `notify_errors` of every topic that applies to the feed, each notifier once.
    pub fn error_notifiers(&self, feed: &FeedConfig) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let topics = self.topics.iter().filter(|t| t.applies_to(feed));
        for n in self
            .daemon
            .notify_errors
            .iter()
            .chain(topics.flat_map(|t| t.notify_errors.iter()))
        {
            if !out.contains(&n.as_str()) {
                out.push(n);
            }
        }
        out
    }

    pub fn schedule_of<'a>(&'a self, feed: &'a FeedConfig) -> &'a CronExpr {
        feed.schedule.as_ref().unwrap_or(&self.daemon.schedule)
    }
}

/// One key the config file accepts: its section header (`[daemon]`, `[[feed]]`, …), name and
/// type, from the schema the reader checks files against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub section: String,
    pub key: &'static str,
    pub ty: &'static str,
}

/// Every key of every section, in schema order (the README's config reference is checked
/// against this by a test, so neither can drift).
pub fn keys() -> Vec<KeyInfo> {
    schema::SECTIONS
        .iter()
        .flat_map(|s| {
            s.keys.iter().map(move |k| KeyInfo {
                section: s.header(),
                key: k.name,
                ty: k.ty.name(),
            })
        })
        .collect()
}

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
    /// Read only the database's password (`database_password`), check the others' form:
    /// commands that read a PostgreSQL database but send nothing (`status`, `nodes`).
    DatabaseOnly,
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
    let loc = Locator::new(path, src);
    let (root, syntax_errors) = DeTable::parse_recoverable(src);
    let root = root.get_ref();
    let mut problems = Problems::default();
    let mut warnings = Problems::default();
    if !syntax::record(src, root, &syntax_errors, &mut problems) {
        return Err(ConfigError {
            messages: loc.in_file_order(root, &problems, &Problems::default()),
        });
    }
    let raw = raw::read(root, &mut problems);
    lint::warn(&raw, &problems, &mut warnings);
    let config = validate(path, raw, &mut problems, &mut warnings, secrets);
    // Warnings wait until the config loads: among errors they would read as more errors.
    if !problems.is_empty() {
        return Err(ConfigError {
            messages: loc.in_file_order(root, &problems, &Problems::default()),
        });
    }
    let mut config = config.ok_or_else(|| ConfigError {
        messages: vec![loc.at(None, "invalid config")],
    })?;
    config.warnings = loc.in_file_order(root, &Problems::default(), &warnings);
    Ok(config)
}

/// Every section checked; `None` only when a problem says why.
fn validate(
    path: &Path,
    raw: RawConfig,
    problems: &mut Problems,
    warnings: &mut Problems,
    secrets: Secrets,
) -> Option<Config> {
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let reader = SecretReader {
        base: &base,
        mode: secrets,
    };
    let mut daemon = daemon::validate(&raw.daemon, &base, problems);
    if let Some(d) = &mut daemon {
        d.cluster = daemon::cluster(
            &raw.daemon,
            raw.cluster.as_ref(),
            d.timeout,
            &reader,
            problems,
            warnings,
        );
    }
    let http = daemon::http(raw.http.as_ref(), problems);
    let (feeds, feed_names) = feeds::validate(raw.feed, problems);
    let (notifiers, notifier_names) =
        notifiers::validate(&raw.notifier, &reader, problems, warnings);
    let topics = topics::validate(raw.topic, &feed_names, &notifier_names, problems);
    daemon::finish(&raw.daemon, &notifier_names, problems);
    Some(Config {
        path: path.to_path_buf(),
        warnings: Vec::new(),
        daemon: daemon?,
        http,
        feeds,
        matcher: std::sync::Arc::new(crate::topics::Matcher::new(topics.iter().map(|t| &t.query))),
        topics,
        notifiers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn check(src: &str) -> Result<Config, Vec<String>> {
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
            NotifierKind::Webhook(WebhookConfig {
                secret: Some(s), ..
            }) => {
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
}
