//! The daemon's metrics, served by `GET /metrics` ([`crate::http`]) in the Prometheus text
//! format: which families exist, where each is counted, and what is read when scraped.
//!
//! Events are counted where they happen, one call each, through the `metrics` facade; until
//! [`install`] (a daemon with `[http] listen`) those calls do nothing, so the CLI and a daemon
//! without the endpoint pay nothing. What describes stored state (feeds by state, the outbox,
//! the database size) is read from the database when scraped (`http/scrape.rs`), never on a timer:
//! an idle daemon stays asleep. Labels carry only names from the config (feeds are never a
//! label: thousands of them would make thousands of series) and fixed words.

use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::config::Config;

/// What a family is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One metric family, as `/metrics` shows it (the README lists the same, checked by a test).
pub struct Family {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

const fn f(
    name: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    help: &'static str,
) -> Family {
    Family {
        name,
        kind,
        labels,
        help,
    }
}

pub const POLLS: &str = "feedwatch_polls_total";
pub const HTTP_RESPONSES: &str = "feedwatch_http_responses_total";
pub const ITEMS_NEW: &str = "feedwatch_items_new_total";
pub const ITEMS_UPDATED: &str = "feedwatch_items_updated_total";
pub const STORIES: &str = "feedwatch_stories_created_total";
pub const MATCHES: &str = "feedwatch_topic_matches_total";
pub const ALERTS_CREATED: &str = "feedwatch_alerts_created_total";
pub const ALERTS_SENT: &str = "feedwatch_alerts_sent_total";
pub const ALERTS_FAILED: &str = "feedwatch_alert_failures_total";
pub const RELOADS: &str = "feedwatch_config_reloads_total";
pub const POLL_SECONDS: &str = "feedwatch_poll_duration_seconds";
pub const DELIVERY_SECONDS: &str = "feedwatch_delivery_duration_seconds";
pub const WRITER_SECONDS: &str = "feedwatch_writer_batch_duration_seconds";
pub const FEEDS: &str = "feedwatch_feeds";
pub const PENDING: &str = "feedwatch_alerts_pending";
pub const FAILED: &str = "feedwatch_alerts_failed";
pub const OLDEST_PENDING: &str = "feedwatch_oldest_pending_alert_age_seconds";
pub const DATABASE_BYTES: &str = "feedwatch_database_size_bytes";
pub const IN_FLIGHT: &str = "feedwatch_polls_in_flight";
pub const RELOAD_OK: &str = "feedwatch_config_last_reload_successful";
pub const INFO: &str = "feedwatch_build_info";

use Kind::*;

pub const FAMILIES: &[Family] = &[
    f(
        POLLS,
        Counter,
        &["result"],
        "Polls finished, by result: ok, not_modified, error, gone, skipped",
    ),
    f(
        HTTP_RESPONSES,
        Counter,
        &["class"],
        "Feed HTTP answers by status class (2xx..5xx), `none` when no answer came",
    ),
    f(ITEMS_NEW, Counter, &[], "Items stored for the first time"),
    f(
        ITEMS_UPDATED,
        Counter,
        &[],
        "Stored items whose content changed (no new alert)",
    ),
    f(
        STORIES,
        Counter,
        &[],
        "Stories started (a new item that joined no story)",
    ),
    f(
        MATCHES,
        Counter,
        &["topic"],
        "New or edited items that matched a topic",
    ),
    f(
        ALERTS_CREATED,
        Counter,
        &[],
        "Alerts queued in the outbox (one per story, topic and notifier; feed-health events too)",
    ),
    f(
        ALERTS_SENT,
        Counter,
        &["notifier"],
        "Alerts their receiver accepted",
    ),
    f(
        ALERTS_FAILED,
        Counter,
        &["notifier", "outcome"],
        "Failed delivery attempts, per alert: `retry` (tried again later) or `failed` (given up)",
    ),
    f(
        RELOADS,
        Counter,
        &["result"],
        "Config reloads (SIGHUP), by result: ok or error (the running config kept)",
    ),
    f(
        POLL_SECONDS,
        Histogram,
        &["result"],
        "Time from the start of a poll to its result being recorded",
    ),
    f(
        DELIVERY_SECONDS,
        Histogram,
        &["notifier"],
        "Time one message took to deliver (or fail)",
    ),
    f(
        WRITER_SECONDS,
        Histogram,
        &[],
        "Time the database writer took to apply and commit one batch",
    ),
    f(
        FEEDS,
        Gauge,
        &["state"],
        "Configured feeds by state: new, ok, failing, gone (read on scrape)",
    ),
    f(
        PENDING,
        Gauge,
        &["notifier"],
        "Alerts waiting in the outbox (read on scrape)",
    ),
    f(
        FAILED,
        Gauge,
        &["notifier"],
        "Alerts given up on, until `feedwatch alerts retry` (read on scrape)",
    ),
    f(
        OLDEST_PENDING,
        Gauge,
        &[],
        "Age of the oldest pending alert, 0 when none (read on scrape)",
    ),
    f(
        DATABASE_BYTES,
        Gauge,
        &[],
        "Size of the database file and its write-ahead log (read on scrape)",
    ),
    f(IN_FLIGHT, Gauge, &[], "Polls running now"),
    f(
        RELOAD_OK,
        Gauge,
        &[],
        "1 when the last config reload succeeded (or none was asked for), else 0",
    ),
    f(INFO, Gauge, &["version"], "Always 1; the version that runs"),
];

/// Histogram buckets, in seconds: from a fast 304 to a slow server near the timeout.
const BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Start recording (once per process; later calls only declare the config's names).
pub fn install(config: &Config) -> anyhow::Result<()> {
    if HANDLE.get().is_none() {
        let handle = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .context("metric buckets")?
            .install_recorder()
            .context("installing the metrics recorder")?;
        let _ = HANDLE.set(handle);
        describe();
    }
    declare(config);
    Ok(())
}

fn describe() {
    for fam in FAMILIES {
        match fam.kind {
            Counter => metrics::describe_counter!(fam.name, fam.help),
            Gauge => metrics::describe_gauge!(fam.name, fam.help),
            Histogram => metrics::describe_histogram!(fam.name, fam.help),
        }
    }
}

/// Series that exist before their first event, at 0, so a dashboard shows "none yet" rather
/// than "no data": every fixed label value, and the config's topics and notifiers.
pub fn declare(config: &Config) {
    for result in ["ok", "not_modified", "error", "gone", "skipped"] {
        counter!(POLLS, "result" => result).absolute(0);
    }
    for class in ["2xx", "3xx", "4xx", "5xx", "none"] {
        counter!(HTTP_RESPONSES, "class" => class).absolute(0);
    }
    for name in [ITEMS_NEW, ITEMS_UPDATED, STORIES, ALERTS_CREATED] {
        counter!(name).absolute(0);
    }
    for result in ["ok", "error"] {
        counter!(RELOADS, "result" => result).absolute(0);
    }
    for t in &config.topics {
        counter!(MATCHES, "topic" => t.name.clone()).absolute(0);
    }
    for n in &config.notifiers {
        counter!(ALERTS_SENT, "notifier" => n.name.clone()).absolute(0);
        for outcome in ["retry", "failed"] {
            counter!(ALERTS_FAILED, "notifier" => n.name.clone(), "outcome" => outcome).absolute(0);
        }
    }
    gauge!(INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    gauge!(RELOAD_OK).set(1.0);
}

/// "2xx" .. "5xx" for an HTTP status, "none" when no answer came.
pub fn status_class(status: Option<u16>) -> &'static str {
    match status {
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        _ => "none",
    }
}

/// What one poll did, as the counters see it.
#[derive(Debug, Clone, Copy)]
pub struct PollTally<'a> {
    /// `ok`, `not_modified`, `error`, `gone`, `skipped`, …
    pub status: &'a str,
    pub http_status: Option<u16>,
    pub new_items: usize,
    pub updated_items: usize,
    pub alerts_created: usize,
}

/// A poll ended (the daemon's scheduler calls this for each).
pub fn poll_done(report: &PollTally<'_>, took: Duration) {
    let result = report.status.to_string();
    counter!(POLLS, "result" => result.clone()).increment(1);
    histogram!(POLL_SECONDS, "result" => result).record(took.as_secs_f64());
    if report.status != "skipped" {
        counter!(HTTP_RESPONSES, "class" => status_class(report.http_status)).increment(1);
    }
    counter!(ITEMS_NEW).increment(report.new_items as u64);
    counter!(ITEMS_UPDATED).increment(report.updated_items as u64);
    counter!(ALERTS_CREATED).increment(report.alerts_created as u64);
}

/// The topics matched by the items of one recorded poll (each item once per topic).
pub fn matched<'a>(topics: impl IntoIterator<Item = &'a str>) {
    for topic in topics {
        counter!(MATCHES, "topic" => topic.to_string()).increment(1);
    }
}

/// A new item started a story of its own.
pub fn story_created() {
    counter!(STORIES).increment(1);
}

/// One message went out (or failed) after `took`.
pub fn delivery_took(notifier: &str, took: Duration) {
    histogram!(DELIVERY_SECONDS, "notifier" => notifier.to_string()).record(took.as_secs_f64());
}

/// `n` alerts of `notifier` were accepted by their receiver.
pub fn alerts_sent(notifier: &str, n: usize) {
    counter!(ALERTS_SENT, "notifier" => notifier.to_string()).increment(n as u64);
}

/// `n` alerts of `notifier` failed an attempt: retried later, or (`given_up`) failed.
pub fn alerts_failed(notifier: &str, n: usize, given_up: bool) {
    let outcome = if given_up { "failed" } else { "retry" };
    counter!(ALERTS_FAILED, "notifier" => notifier.to_string(), "outcome" => outcome)
        .increment(n as u64);
}

/// The writer applied and committed one batch.
pub fn writer_batch(took: Duration) {
    histogram!(WRITER_SECONDS).record(took.as_secs_f64());
}

pub fn reloaded(ok: bool) {
    counter!(RELOADS, "result" => if ok { "ok" } else { "error" }).increment(1);
    gauge!(RELOAD_OK).set(if ok { 1.0 } else { 0.0 });
}

pub fn in_flight(n: usize) {
    gauge!(IN_FLIGHT).set(n as f64);
}

/// Fold recorded histogram samples into their buckets. The daemon calls this now and then
/// while awake anyway, so samples cannot pile up between scrapes (or without any).
pub fn upkeep() {
    if let Some(h) = HANDLE.get() {
        h.run_upkeep();
    }
}

/// The recorder's handle, once [`install`] ran (the endpoint renders through it).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Two feeds, one topic, one notifier (`hook`): shared with the scrape's tests.
    pub(crate) fn config() -> Config {
        crate::config::parse(
            std::path::Path::new("/t/feedwatch.toml"),
            "[[feed]]\nname = \"a\"\nurl = \"https://a.example/f\"\n\
             [[feed]]\nname = \"b\"\nurl = \"https://b.example/f\"\n\
             [[topic]]\nname = \"cr\"\nquery = \"Lavrov\"\nnotify = [\"hook\"]\n\
             [[notifier]]\nname = \"hook\"\nkind = \"log\"\n",
            crate::config::Secrets::Skip,
        )
        .unwrap()
    }

    fn report(status: &str, http: Option<u16>, new: usize) -> PollTally<'_> {
        PollTally {
            status,
            http_status: http,
            new_items: new,
            updated_items: 0,
            alerts_created: new,
        }
    }

    /// Lines of `text` that start with `name` (samples, not comments).
    fn samples<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
        text.lines().filter(|l| l.starts_with(name)).collect()
    }

    #[test]
    fn events_are_counted_by_result_and_class_and_series_exist_before_their_first_event() {
        let recorder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .unwrap()
            .build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describe();
            declare(&config());
            poll_done(&report("ok", Some(200), 3), Duration::from_millis(30));
            poll_done(&report("error", Some(503), 0), Duration::from_secs(2));
            poll_done(&report("error", None, 0), Duration::from_secs(30));
            poll_done(&report("skipped", None, 0), Duration::ZERO);
            matched(["cr", "cr"]);
            alerts_failed("hook", 2, false);
        });
        let text = handle.render();
        assert!(
            text.contains("# TYPE feedwatch_polls_total counter"),
            "{text}"
        );
        assert!(
            text.contains("feedwatch_polls_total{result=\"error\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("feedwatch_polls_total{result=\"gone\"} 0"),
            "{text}"
        );
        assert!(text.contains("feedwatch_http_responses_total{class=\"5xx\"} 1"));
        assert!(
            text.contains("feedwatch_http_responses_total{class=\"none\"} 1"),
            "a skipped poll asked no server: {text}"
        );
        assert!(text.contains("feedwatch_items_new_total 3"));
        assert!(text.contains("feedwatch_topic_matches_total{topic=\"cr\"} 2"));
        assert!(text.contains("feedwatch_alerts_sent_total{notifier=\"hook\"} 0"));
        assert!(
            text.contains("feedwatch_alert_failures_total{notifier=\"hook\",outcome=\"retry\"} 2")
        );
        assert!(text.contains("# TYPE feedwatch_poll_duration_seconds histogram"));
        assert!(
            text.contains("feedwatch_poll_duration_seconds_bucket{result=\"error\",le=\"2.5\"} 1"),
            "{}",
            samples(&text, POLL_SECONDS).join("\n")
        );
        assert!(text.contains("feedwatch_poll_duration_seconds_count{result=\"ok\"} 1"));
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(Some(304)), "3xx");
        assert_eq!(status_class(Some(410)), "4xx");
        assert_eq!(status_class(Some(99)), "none");
        assert_eq!(status_class(None), "none");
    }
}
