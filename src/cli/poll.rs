//! `feedwatch poll`: one sweep of all (or the named) feeds, then a delivery pass. While a
//! daemon runs it does the sweep, with its own config, and delivers; otherwise the sweep runs
//! here and this command delivers what it queued (unless another poll holds the delivery lock).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use feedwatch::config::Config;
use feedwatch::control::{self, Answer, DaemonStatus, PolledFeed, Request};
use feedwatch::notify::{DeliveryLock, Dispatcher, Holder, PassStats, Role};
use feedwatch::poll::{FeedReport, Poller};
use feedwatch::store::{Store, outbox, queries};

use super::out::{Tone, Ui, ui};
use super::progress::Progress;
use super::table::{Cell, Column, Table};
use super::{Failure, daemon, no_such, print_json, runtime};

/// `poll --json`.
#[derive(Serialize)]
struct PollSummary {
    feeds: Vec<PolledFeed>,
    new_items: usize,
    updated_items: usize,
    /// Alerts this poll created.
    alerts_queued: usize,
    /// Sent by this command (0 when the daemon delivers).
    alerts_sent: usize,
    alerts_failed: usize,
    /// Pending in the whole outbox after the poll.
    alerts_pending: usize,
    /// Who polled and delivers: `daemon` or `command`.
    polled_by: &'static str,
    /// Why this command did not deliver, when it did not.
    delivery: Option<String>,
}

pub fn run(cfg: Config, names: Vec<String>, json: bool) -> Result<ExitCode, Failure> {
    if let Some(n) = names.iter().find(|n| cfg.feed(n).is_none()) {
        return Err(no_such("feed", n, &cfg.path));
    }
    let summary = match daemon::running(&cfg)? {
        Some(d) => by_daemon(&cfg, &d, names)?,
        None => here(cfg, names)?,
    };
    let failed = summary
        .feeds
        .iter()
        .any(|f| f.status == "error" || f.status == "gone");
    if json {
        print_json(&summary)?;
    } else {
        print(&ui(), &summary);
    }
    // A feed that failed makes the exit status 1, so a cron job or script notices.
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn by_daemon(cfg: &Config, d: &DaemonStatus, names: Vec<String>) -> Result<PollSummary, Failure> {
    daemon::note_config(cfg, d);
    let expected = if names.is_empty() {
        d.feeds
    } else {
        names.len()
    };
    let bar = Progress::bar(expected, "polling (the daemon)");
    // Lines come as feeds finish: a silence longer than a slow feed's poll means trouble.
    let wait = cfg.daemon.timeout * 2 + Duration::from_secs(60);
    let reply = daemon::ask(cfg, &Request::Poll { feeds: names }, Some(wait), |f| {
        bar.step(&f.name)
    })?;
    bar.done();
    let Some(Answer::Polled { feeds }) = reply.answer else {
        return Err(Failure::Runtime(anyhow::anyhow!(
            "the daemon answered `poll` without its results: {}",
            reply.message
        )));
    };
    let store = super::open(cfg)?;
    let pending = store.read(outbox::count_pending)?;
    Ok(summarise(
        feeds,
        Default::default(),
        pending,
        "daemon",
        Some(format!("the daemon (pid {}) delivers the alerts", d.pid)),
    ))
}

fn here(cfg: Config, names: Vec<String>) -> Result<PollSummary, Failure> {
    let cfg = Arc::new(cfg);
    runtime()?
        .block_on(async {
            let store = Arc::new(Store::open(&cfg.daemon.database, cfg.daemon.store)?);
            store
                .writer()
                .sync_feeds(queries::FeedSync::from_config(&cfg, Utc::now()))
                .await?;
            let mut states: std::collections::HashMap<String, _> = store
                .read_async(queries::feed_states)
                .await?
                .into_iter()
                .map(|s| (s.name.clone(), s))
                .collect();
            let poller = Poller::new(Arc::clone(&store), Arc::clone(&cfg))?;
            let mut reports: Vec<FeedReport> = Vec::new();
            let mut to_poll = Vec::new();
            for feed in cfg
                .feeds
                .iter()
                .filter(|f| names.is_empty() || names.contains(&f.name))
            {
                let Some(state) = states.remove(&feed.name) else {
                    continue;
                };
                // Gone feeds are polled only when named: `feeds reset` is the way back.
                if names.is_empty() && state.is_gone() {
                    reports.push(FeedReport::skipped(
                        &feed.name,
                        "gone (410): `feedwatch feeds reset` to poll it again".into(),
                    ));
                    continue;
                }
                to_poll.push((feed.clone(), state));
            }
            let polled: Vec<String> = to_poll.iter().map(|(f, _)| f.name.clone()).collect();
            let bar = Progress::bar(to_poll.len(), "polling");
            let swept = poller.sweep(to_poll, |r| bar.step(&r.name)).await;
            bar.done();
            reports.extend(swept.into_iter().map(|(r, _)| r));
            let order: Vec<&str> = cfg.feeds.iter().map(|f| f.name.as_str()).collect();
            reports.sort_by_key(|r| order.iter().position(|n| *n == r.name));
            let (stats, delivery) = deliver(&store, &cfg, polled).await?;
            let pending = store.read_async(outbox::count_pending).await?;
            anyhow::Ok(summarise(
                reports.iter().map(PolledFeed::from).collect(),
                stats,
                pending,
                "command",
                delivery,
            ))
        })
        .map_err(Failure::from)
}

/// Deliver what is due, unless another process holds the delivery lock; then say who will.
async fn deliver(
    store: &Arc<Store>,
    cfg: &Arc<Config>,
    polled: Vec<String>,
) -> anyhow::Result<(PassStats, Option<String>)> {
    let holder = match DeliveryLock::try_acquire(&cfg.daemon.database, Role::Poll)? {
        Ok(_lock) => {
            let stats = Dispatcher::new(Arc::clone(store), Arc::clone(cfg))?
                .deliver_due(&CancellationToken::new())
                .await?;
            return Ok((stats, None));
        }
        Err(holder) => holder,
    };
    let db = cfg.daemon.database.clone();
    // A daemon that took the lock since this poll began: tell it what changed.
    let told = tokio::task::spawn_blocking(move || {
        control::notify(&db, &control::Request::FeedsChanged { feeds: polled })?;
        control::notify(&db, &control::Request::Deliver)
    })
    .await?;
    let why = match (holder, told) {
        (Holder::Daemon(_), Ok(true)) => format!("{holder} delivers the alerts"),
        (Holder::Daemon(_), _) => {
            format!("{holder} holds the delivery lock: it delivers the alerts")
        }
        _ => format!("{holder} is delivering: the alerts stay queued for it (or the next poll)"),
    };
    Ok((Default::default(), Some(why)))
}

fn summarise(
    feeds: Vec<PolledFeed>,
    stats: PassStats,
    pending: usize,
    polled_by: &'static str,
    delivery: Option<String>,
) -> PollSummary {
    PollSummary {
        new_items: feeds.iter().map(|r| r.new_items).sum(),
        updated_items: feeds.iter().map(|r| r.updated_items).sum(),
        alerts_queued: feeds.iter().map(|r| r.alerts_queued).sum(),
        feeds,
        alerts_sent: stats.sent,
        alerts_failed: stats.failed,
        alerts_pending: pending,
        polled_by,
        delivery,
    }
}

/// The per-feed table, then one summary line (and who delivers, when not this command).
fn print(ui: &Ui, s: &PollSummary) {
    let mut t = Table::new(vec![
        Column::left("FEED").flexible(),
        Column::left("RESULT"),
        Column::right("HTTP"),
        Column::right("NEW"),
        Column::right("UPDATED"),
        Column::right("ALERTS"),
        Column::left("ERROR").flexible(),
    ]);
    for f in &s.feeds {
        let result = if ui.terminal {
            f.status.replace('_', " ")
        } else {
            f.status.clone()
        };
        t.row(vec![
            Cell::new(&f.name),
            Cell::new(result).tone(Tone::of_state(&f.status)),
            Cell::opt(f.http_status.map(|h| h.to_string())),
            f.new_items.into(),
            f.updated_items.into(),
            f.alerts_queued.into(),
            Cell::opt(f.error.as_deref()),
        ]);
    }
    t.print(ui);
    say!(
        "{} feed{} polled: {} new, {} updated; alerts: {} queued, {} sent, {} failed, {} pending",
        s.feeds.len(),
        if s.feeds.len() == 1 { "" } else { "s" },
        s.new_items,
        s.updated_items,
        s.alerts_queued,
        s.alerts_sent,
        s.alerts_failed,
        s.alerts_pending
    );
    if let Some(d) = &s.delivery {
        say!("{d}");
    }
}
