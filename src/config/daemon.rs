//! `[daemon]`: the defaults and the checks of each setting. What needs the notifiers' names is
//! checked by [`finish`] once the other sections are done.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;

use super::locate::{PathSegs, Problems, p};
use super::raw::{RawCluster, RawDaemon, RawHttp};
use super::secrets::SecretReader;
use super::suggest::unknown_choice;
use super::values::{cron, parse_duration, parse_size};
use super::{ClusterConfig, DaemonConfig, HttpConfig, LogFormat, default_user_agent};

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
    let database = match d.database.as_deref() {
        // A URL is kept as written (see [`cluster`]).
        Some(db) if is_postgres_url(db) => PathBuf::from(db),
        Some(db) => base.join(db),
        None => default_database(),
    };
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
        store: super::StoreOptions {
            busy_timeout,
            story_window,
        },
        give_up_after,
        allow_private_networks: d.allow_private_networks.unwrap_or(false),
        cluster: None,
    })
}

/// Whether `database` names a PostgreSQL server rather than a SQLite file.
pub fn is_postgres_url(database: &str) -> bool {
    database.starts_with("postgres://") || database.starts_with("postgresql://")
}

/// The cluster settings, when `database` is a PostgreSQL URL: its password from
/// `database_password` (never from the URL, which is logged), the node's name, the lease.
pub(super) fn cluster(
    d: &RawDaemon,
    c: Option<&RawCluster>,
    timeout: Duration,
    secrets: &SecretReader<'_>,
    problems: &mut Problems,
    warnings: &mut Problems,
) -> Option<ClusterConfig> {
    let url = d.database.as_deref().filter(|db| is_postgres_url(db));
    let Some(url) = url else {
        if c.is_some() {
            warnings.value(
                p(&[&"cluster"]),
                "`[cluster]` applies only when `database` is a postgres:// URL; this daemon uses SQLite",
            );
        }
        if d.database_password.is_some() {
            warnings.value(
                key("database_password"),
                "`database_password` is for a postgres:// `database`; SQLite has none",
            );
        }
        return None;
    };
    match url.parse::<tokio_postgres::Config>() {
        Ok(parsed) if parsed.get_password().is_some() => {
            problems.value(
                key("database"),
                "the database URL carries a password: move it to `database_password` (e.g. `database_password = { credential = \"postgres-password\" }`), so that the URL can be logged",
            );
            return None;
        }
        Ok(_) => {}
        Err(e) => {
            problems.value(
                key("database"),
                format!("not a PostgreSQL URL: {e}; expected e.g. \"postgres://feedwatch@db.example.org/feedwatch\""),
            );
            return None;
        }
    }
    let password = d
        .database_password
        .as_ref()
        .and_then(|s| secrets.resolve_database(s, key("database_password"), problems, warnings));
    let at = |k: &str| p(&[&"cluster", &k]);
    // Twice the HTTP timeout (a poll may follow an autodiscovery link: two fetches) and time
    // to parse and write.
    let default_lease = timeout * 2 + Duration::from_secs(15);
    let lease = match c.and_then(|c| c.lease.as_deref()) {
        None => default_lease,
        Some(s) => match parse_duration(s) {
            Ok(l) if l <= timeout => {
                problems.value(
                    at("lease"),
                    format!("`lease` ({s}) must be longer than `[daemon] timeout` ({}s): a poll still running when its lease ends is polled again by another node", timeout.as_secs()),
                );
                default_lease
            }
            Ok(l) => l,
            Err(e) => {
                problems.value(at("lease"), e);
                default_lease
            }
        },
    };
    let node = c
        .and_then(|c| c.node.clone())
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(default_node_name);
    Some(ClusterConfig {
        url: url.to_string(),
        password,
        node,
        lease,
    })
}

/// The machine's host name, else "feedwatch".
fn default_node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "feedwatch".to_string())
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

#[cfg(test)]
mod tests {
    use super::super::tests::check;

    #[test]
    fn a_postgres_database_is_a_cluster_node_with_its_password_kept_apart() {
        let cfg = check(
            "[daemon]\ndatabase = \"postgres://feedwatch@db.example/feedwatch\"\ndatabase_password = \"s3cret\"\ntimeout = \"1s\"\n[cluster]\nnode = \"n1\"\nlease = \"2s\"\n",
        )
        .unwrap();
        let c = cfg.daemon.cluster.expect("a cluster config");
        assert_eq!(c.url, "postgres://feedwatch@db.example/feedwatch");
        assert_eq!(c.node, "n1");
        assert_eq!(c.lease, std::time::Duration::from_secs(2));
        assert_eq!(c.password.as_ref().map(|p| p.expose()), Some("s3cret"));
        assert!(
            !format!("{c:?}").contains("s3cret"),
            "never in Debug output"
        );
        // The default lease: twice the HTTP timeout and 15 s.
        let cfg = check("[daemon]\ndatabase = \"postgresql://db.example/fw\"\n").unwrap();
        assert_eq!(
            cfg.daemon.cluster.unwrap().lease,
            std::time::Duration::from_secs(75)
        );
        assert!(
            check("[daemon]\ndatabase = \"fw.db\"\n")
                .unwrap()
                .daemon
                .cluster
                .is_none()
        );
    }

    #[test]
    fn status_reads_the_database_password_and_no_other_secret() {
        use crate::config::{Secrets, parse};
        let src = "[daemon]\ndatabase = \"postgres://feedwatch@db.example/fw\"\ndatabase_password = \"s3cret\"\n\
            [[notifier]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"https://example.org/h\"\n\
            secret = { env = \"FEEDWATCH_TEST_UNSET_SECRET\" }\n";
        let path = std::path::Path::new("/etc/fw.toml");
        let cfg = parse(path, src, Secrets::DatabaseOnly).expect("loads without the notifier's");
        let cluster = cfg.daemon.cluster.expect("a cluster config");
        assert_eq!(
            cluster.password.as_ref().map(|p| p.expose()),
            Some("s3cret")
        );
        let errs = parse(path, src, Secrets::Resolve).expect_err("run needs every secret");
        assert!(
            errs.to_string().contains("FEEDWATCH_TEST_UNSET_SECRET"),
            "{errs}"
        );
        let skipped = parse(path, src, Secrets::Skip).expect("loads");
        assert_eq!(
            skipped
                .daemon
                .cluster
                .and_then(|c| c.password)
                .map(|p| p.expose().to_string()),
            Some(String::new()),
            "Skip reads no secret at all"
        );
    }

    #[test]
    fn a_password_in_the_url_a_short_lease_and_a_bad_url_are_refused() {
        let errs = check("[daemon]\ndatabase = \"postgres://u:pw@db.example/fw\"\n").unwrap_err();
        assert!(
            errs[0].contains(
                "2:12: the database URL carries a password: move it to `database_password`"
            ) && !errs[0].contains("pw@"),
            "{errs:?}"
        );
        let errs = check(
            "[daemon]\ndatabase = \"postgres://db.example/fw\"\ntimeout = \"30s\"\n[cluster]\nlease = \"20s\"\n",
        )
        .unwrap_err();
        assert!(
            errs[0].contains("5:9: `lease` (20s) must be longer than `[daemon] timeout` (30s)"),
            "{errs:?}"
        );
        let errs =
            check("[daemon]\ndatabase = \"postgres://db.example:notaport/fw\"\n").unwrap_err();
        assert!(errs[0].contains("not a PostgreSQL URL"), "{errs:?}");
    }

    #[test]
    fn cluster_settings_with_sqlite_are_said_to_do_nothing() {
        let cfg = check("[daemon]\ndatabase = \"fw.db\"\n[cluster]\nnode = \"n1\"\n").unwrap();
        assert!(
            cfg.warnings.iter().any(
                |w| w.contains("`[cluster]` applies only when `database` is a postgres:// URL")
            ),
            "{:?}",
            cfg.warnings
        );
    }
}
