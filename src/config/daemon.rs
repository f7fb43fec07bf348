//! `[daemon]`: the defaults and the checks of each setting. What needs the notifiers' names is
//! checked by [`finish`] once the other sections are done.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;

use super::locate::{PathSegs, Problems, p};
use super::raw::{RawDaemon, RawHttp};
use super::suggest::unknown_choice;
use super::values::{cron, parse_duration, parse_size};
use super::{DaemonConfig, HttpConfig, LogFormat, default_user_agent};

fn key(k: &str) -> PathSegs {
    p(&[&"daemon", &k])
}

/// The settings of `[daemon]`, defaults filled in; `None` when `schedule` is wrong (a problem
/// says why).
pub(super) fn validate(
    d: &RawDaemon,
    base: &Path,
    problems: &mut Problems,
) -> Option<DaemonConfig> {
    let schedule = cron(
        d.schedule.as_deref().unwrap_or("*/15 * * * *"),
        key("schedule"),
        problems,
    );
    let timezone = timezone(d.timezone.as_deref(), problems);
    let concurrency = at_least_one(d.concurrency, "concurrency", 16, problems);
    let per_host = at_least_one(d.per_host, "per_host", 2, problems);
    let timeout = duration(d.timeout.as_deref(), "timeout", 30, problems);
    let connect_timeout = duration(
        d.connect_timeout.as_deref(),
        "connect_timeout",
        10,
        problems,
    );
    let retention = duration(d.retention.as_deref(), "retention", 90 * 86400, problems);
    let alert_backoff = duration(d.alert_backoff.as_deref(), "alert_backoff", 30, problems);
    let busy_timeout = duration(d.busy_timeout.as_deref(), "busy_timeout", 10, problems);
    let give_up_after = duration(d.give_up_after.as_deref(), "give_up_after", 300, problems);
    let max_body = max_body(d.max_body.as_deref(), problems);
    let cache_max = duration(d.cache_max.as_deref(), "cache_max", 86400, problems);
    let story_window = duration(
        d.story_window.as_deref(),
        "story_window",
        72 * 3600,
        problems,
    );
    let log_format = log_format(d.log_format.as_deref(), problems);
    let database = d
        .database
        .as_ref()
        .map(|db| base.join(db))
        .unwrap_or_else(default_database);
    Some(DaemonConfig {
        database,
        schedule: schedule?,
        timezone,
        concurrency,
        per_host,
        timeout,
        connect_timeout,
        max_body,
        user_agent: d.user_agent.clone().unwrap_or_else(default_user_agent),
        retention,
        respect_cache_headers: d.respect_cache_headers.unwrap_or(true),
        notify_errors: d.notify_errors.clone().unwrap_or_default(),
        failing_after: d.failing_after.unwrap_or(3),
        cache_max,
        story_window,
        log_format,
        alert_backoff,
        alert_attempts: d.alert_attempts.unwrap_or(10),
        store: crate::store::StoreOptions {
            busy_timeout,
            story_window,
        },
        give_up_after,
        allow_private_networks: d.allow_private_networks.unwrap_or(false),
    })
}

/// The `[daemon]` checks that come after the other sections: `notify_errors` must name
/// notifiers. Kept last so messages come in the order they always have.
pub(super) fn finish(d: &RawDaemon, notifiers: &HashSet<String>, problems: &mut Problems) {
    if d.failing_after == Some(0) {
        problems.value(key("failing_after"), "`failing_after` must be at least 1");
    }
    if let Some(names) = &d.notify_errors {
        problems.unknown_names(names, notifiers, &key("notify_errors"), "notifier");
    }
    if d.alert_attempts == Some(0) {
        problems.value(key("alert_attempts"), "`alert_attempts` must be at least 1");
    }
}

/// `[http]`: the socket address the health and metrics endpoint listens on.
pub(super) fn http(h: Option<&RawHttp>, problems: &mut Problems) -> Option<HttpConfig> {
    let at = p(&[&"http", &"listen"]);
    let listen = h?.listen.as_deref().or_else(|| {
        problems.missing(p(&[&"http"]), "listen", "[http]");
        None
    })?;
    match listen.parse::<std::net::SocketAddr>() {
        Ok(addr) => Some(HttpConfig { listen: addr }),
        Err(_) => {
            problems.value(
                at,
                format!("`{listen}` is not an address and port; expected e.g. \"127.0.0.1:9187\" or \"[::1]:9187\""),
            );
            None
        }
    }
}

fn log_format(v: Option<&str>, problems: &mut Problems) -> LogFormat {
    match v {
        None | Some("auto") => LogFormat::Auto,
        Some("plain") => LogFormat::Plain,
        Some("json") => LogFormat::Json,
        Some(other) => {
            problems.value(
                key("log_format"),
                unknown_choice("log format", other, &["auto", "plain", "json"]),
            );
            LogFormat::Auto
        }
    }
}

fn timezone(zone: Option<&str>, problems: &mut Problems) -> Tz {
    match zone {
        None => Tz::UTC,
        Some(z) => z.parse::<Tz>().unwrap_or_else(|_| {
            problems.value(
                key("timezone"),
                format!("unknown time zone `{z}`; expected an IANA name such as \"Europe/Paris\""),
            );
            Tz::UTC
        }),
    }
}

fn at_least_one(v: Option<usize>, name: &str, default: usize, problems: &mut Problems) -> usize {
    match v {
        Some(0) => {
            problems.value(key(name), format!("`{name}` must be at least 1"));
            default
        }
        Some(n) => n,
        None => default,
    }
}

fn duration(v: Option<&str>, name: &str, default_secs: u64, problems: &mut Problems) -> Duration {
    let default = Duration::from_secs(default_secs);
    match v {
        None => default,
        Some(s) => parse_duration(s).unwrap_or_else(|e| {
            problems.value(key(name), e);
            default
        }),
    }
}

fn max_body(v: Option<&str>, problems: &mut Problems) -> u64 {
    match v {
        None => 16 * 1024 * 1024,
        Some(s) => parse_size(s).unwrap_or_else(|e| {
            problems.value(key("max_body"), e);
            0
        }),
    }
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
