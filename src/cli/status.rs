//! `feedwatch status`: one screen on what the daemon is doing, from the daemon itself (is it
//! running, since when, with which config) and from the database (feeds by state, activity,
//! the outbox, failing feeds, size).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::Utc;
use serde::Serialize;

use feedwatch::config::Config;
use feedwatch::control::DaemonStatus;
use feedwatch::store::AlertView;
use feedwatch::store::queries::{self, Activity, OutboxDepth};

use super::out::{Tone, Ui, ui};
use super::{Failure, daemon, open, print_json, when};

/// `status --json`.
#[derive(Serialize)]
struct Status {
    daemon: DaemonView,
    /// Configured feeds by state (`ok`, `failing`, `gone`, `new`).
    feeds: BTreeMap<String, usize>,
    activity: Activity,
    outbox: Vec<OutboxDepth>,
    oldest_pending: Option<AlertView>,
    failing: Vec<FailingFeed>,
    database: DatabaseView,
}

#[derive(Serialize)]
struct DaemonView {
    running: bool,
    #[serde(flatten)]
    status: Option<DaemonStatus>,
    /// Whether it reads the config this command read.
    same_config: Option<bool>,
}

#[derive(Serialize)]
struct FailingFeed {
    name: String,
    state: String,
    error: Option<String>,
    consecutive_errors: u32,
    last_ok: Option<String>,
}

#[derive(Serialize)]
struct DatabaseView {
    path: PathBuf,
    /// The database file with its WAL and shared-memory files.
    bytes: u64,
}

pub fn run(cfg: Config, json: bool) -> Result<ExitCode, Failure> {
    let running = daemon::running(&cfg)?;
    let store = open(&cfg)?;
    let now = Utc::now();
    let feeds = store.read(|c| queries::list_feeds(c, &cfg))?;
    let activity = store.read(|c| queries::activity(c, now))?;
    let outbox = store.read(queries::outbox_depth)?;
    let oldest_pending = store.read(queries::oldest_pending_alert)?;
    let mut by_state = BTreeMap::new();
    for state in ["ok", "failing", "gone", "new"] {
        by_state.insert(state.to_string(), 0);
    }
    for f in &feeds {
        *by_state.entry(f.state.clone()).or_insert(0) += 1;
    }
    let failing = feeds
        .into_iter()
        .filter(|f| f.state == "failing" || f.state == "gone")
        .map(|f| FailingFeed {
            name: f.name,
            state: f.state,
            error: f.error,
            consecutive_errors: f.consecutive_errors,
            last_ok: f.last_ok,
        })
        .collect();
    let status = Status {
        daemon: DaemonView {
            running: running.is_some(),
            same_config: running.as_ref().map(|d| daemon::same_config(&cfg, d)),
            status: running,
        },
        feeds: by_state,
        activity,
        outbox,
        oldest_pending,
        failing,
        database: DatabaseView {
            path: cfg.daemon.database.clone(),
            bytes: database_bytes(&cfg.daemon.database),
        },
    };
    if json {
        print_json(&status)?;
    } else {
        print(&ui(), &cfg, &status);
    }
    Ok(ExitCode::SUCCESS)
}

fn database_bytes(db: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            let mut p = db.as_os_str().to_owned();
            p.push(suffix);
            std::fs::metadata(PathBuf::from(p)).ok()
        })
        .map(|m| m.len())
        .sum()
}

/// Bytes as people read them (1 decimal, binary units).
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// One labelled line: the label in the heading tone, the rest escaped.
fn line(ui: &Ui, label: &str, text: &str) {
    let label = Tone::Heading.paint(&format!("{label:<9}"), ui.colour);
    super::out::raw_line(&format!("{label} {}", feedwatch::text::for_terminal(text)));
}

fn print(ui: &Ui, cfg: &Config, s: &Status) {
    let daemon = match &s.daemon.status {
        Some(d) => {
            let mut text = format!(
                "running since {}, pid {}, version {}, config {}",
                when::show(ui, &d.started),
                d.pid,
                d.version,
                d.config.display()
            );
            if s.daemon.same_config == Some(false) {
                text.push_str(&format!(" (not {})", cfg.path.display()));
            }
            text
        }
        None => "not running".into(),
    };
    line(ui, "daemon", &daemon);
    let total: usize = s.feeds.values().sum();
    // The usual states first, in the order an operator reads them.
    let mut states: Vec<String> = ["ok", "failing", "gone", "new"]
        .iter()
        .map(|k| format!("{} {k}", s.feeds.get(*k).copied().unwrap_or(0)))
        .collect();
    states.extend(
        s.feeds
            .iter()
            .filter(|(k, _)| !["ok", "failing", "gone", "new"].contains(&k.as_str()))
            .map(|(k, v)| format!("{v} {k}")),
    );
    line(ui, "feeds", &format!("{total}: {}", states.join(", ")));
    let a = &s.activity;
    line(
        ui,
        "activity",
        &format!(
            "last hour: {} feeds polled, {} new items; last day: {} feeds polled, {} new items; last poll {}",
            a.feeds_polled_last_hour,
            a.new_items_last_hour,
            a.feeds_polled_last_day,
            a.new_items_last_day,
            a.last_poll
                .as_deref()
                .map_or("never".into(), |t| when::show(ui, t))
        ),
    );
    let outbox = if s.outbox.is_empty() {
        "empty".to_string()
    } else {
        s.outbox
            .iter()
            .map(|o| format!("{}: {} pending, {} failed", o.notifier, o.pending, o.failed))
            .collect::<Vec<_>>()
            .join("; ")
    };
    line(ui, "outbox", &outbox);
    if let Some(a) = &s.oldest_pending {
        let what = a.topic.clone().unwrap_or_else(|| a.event.clone());
        let mut text = format!(
            "alert {} ({what} to {}) queued {}, {} attempt{}",
            a.id,
            a.notifier,
            when::show(ui, &a.created),
            a.attempts,
            if a.attempts == 1 { "" } else { "s" }
        );
        if let Some(e) = &a.last_error {
            text.push_str(&format!(": {e}"));
        }
        line(ui, "oldest", &text);
    }
    for f in &s.failing {
        let mut text = format!("{} ({}", f.name, f.state);
        if f.consecutive_errors > 0 {
            text.push_str(&format!(", {} errors in a row", f.consecutive_errors));
        }
        text.push(')');
        if let Some(e) = &f.error {
            text.push_str(&format!(": {e}"));
        }
        line(ui, "failing", &text);
    }
    line(
        ui,
        "database",
        &format!("{}, {}", s.database.path.display(), size(s.database.bytes)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_ls_h() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(12 * 1024 * 1024 + 300 * 1024), "12.3 MiB");
    }
}
