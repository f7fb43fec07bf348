//! `feedwatch poll`: one sweep of all (or the named) feeds, then a delivery pass.

use std::process::ExitCode;
use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use feedwatch::config::Config;
use feedwatch::control;
use feedwatch::notify::{DeliveryLock, Dispatcher, Holder, Role};
use feedwatch::poll::{FeedReport, Poller};
use feedwatch::store::{Store, outbox, queries};

use super::{Failure, print_json, runtime};

#[derive(Serialize)]
struct PollSummary {
    feeds: Vec<FeedReport>,
    new_items: usize,
    updated_items: usize,
    alerts_sent: usize,
    alerts_pending: usize,
    alerts_failed: usize,
}

pub fn run(cfg: Config, names: Vec<String>, json: bool) -> Result<ExitCode, Failure> {
    for n in &names {
        if cfg.feed(n).is_none() {
            return Err(Failure::Usage(format!(
                "no feed named `{n}` in {}",
                cfg.path.display()
            )));
        }
    }
    let cfg = Arc::new(cfg);
    let summary = runtime()?.block_on(async {
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
        reports.extend(poller.sweep(to_poll).await.into_iter().map(|(r, _)| r));
        let order: Vec<&str> = cfg.feeds.iter().map(|f| f.name.as_str()).collect();
        reports.sort_by_key(|r| order.iter().position(|n| *n == r.name));
        // While the daemon runs it holds the delivery lock and sends what this poll queued.
        let stats = match DeliveryLock::try_acquire(&cfg.daemon.database, Role::Poll)? {
            Ok(_lock) => {
                Dispatcher::new(Arc::clone(&store), Arc::clone(&cfg))?
                    .deliver_due(&CancellationToken::new())
                    .await?
            }
            Err(holder) => {
                let db = cfg.daemon.database.clone();
                let told = tokio::task::spawn_blocking(move || {
                    control::notify(&db, &control::Request::FeedsChanged { feeds: polled })?;
                    control::notify(&db, &control::Request::Deliver)
                })
                .await?;
                match (holder, told) {
                    (Holder::Daemon(_), Ok(true)) => {
                        tracing::info!("{holder} delivers the alerts")
                    }
                    _ => tracing::warn!(
                        "{holder} holds the delivery lock: the alerts stay queued for it (or the next poll)"
                    ),
                }
                Default::default()
            }
        };
        let pending = store.read_async(outbox::count_pending).await?;
        anyhow::Ok(PollSummary {
            new_items: reports.iter().map(|r| r.new_items).sum(),
            updated_items: reports.iter().map(|r| r.updated_items).sum(),
            feeds: reports,
            alerts_sent: stats.sent,
            alerts_pending: pending,
            alerts_failed: stats.failed,
        })
    })?;
    let failed = summary
        .feeds
        .iter()
        .any(|f| f.status == "error" || f.status == "gone");
    if json {
        print_json(&summary)?;
    } else {
        for f in &summary.feeds {
            say!(
                "{:<24} {:<12} {:>4} {:>4} new{}",
                f.name,
                f.status,
                f.http_status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                f.new_items,
                f.error
                    .as_ref()
                    .map(|e| format!("  error: {e}"))
                    .unwrap_or_default()
            );
        }
        say!(
            "{} new items; alerts: {} sent, {} pending, {} failed",
            summary.new_items,
            summary.alerts_sent,
            summary.alerts_pending,
            summary.alerts_failed
        );
    }
    // A feed that failed makes the exit status 1, so a cron job or script notices.
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
