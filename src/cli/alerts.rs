//! `feedwatch alerts` and `alerts retry`.

use std::process::ExitCode;

use chrono::Utc;

use feedwatch::config::Config;
use feedwatch::control;
use feedwatch::store::{Store, queries};

use super::{Failure, open, print_json, runtime};

pub fn retry(cfg: Config, ids: Vec<String>) -> Result<ExitCode, Failure> {
    let db = cfg.daemon.database.clone();
    let (n, missing) = runtime()?.block_on(async {
        let store = Store::open_existing(&db, cfg.daemon.store)?;
        store.writer().retry_alerts(ids, Utc::now()).await
    })?;
    say!("{n} alert(s) requeued");
    if n > 0
        && let Err(e) = control::notify(&db, &control::Request::Deliver)
    {
        eprintln!(
            "the running daemon could not be told ({e:#}): it sends them after its next restart"
        );
    }
    if missing.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("no failed alert with id {}", missing.join(", "));
        Ok(ExitCode::from(1))
    }
}

pub fn list(cfg: Config, status: Option<String>, json: bool) -> Result<ExitCode, Failure> {
    let store = open(&cfg)?;
    let alerts = store.read(|c| queries::list_alerts(c, status.as_deref()))?;
    if json {
        print_json(&alerts)?;
    } else {
        for a in alerts {
            // A feed-health event has no topic or story: say what and which feed.
            let what = match (&a.topic, &a.feed) {
                (Some(t), _) => t.clone(),
                (None, Some(f)) => format!("{} {f}", a.event),
                (None, None) => a.event.clone(),
            };
            let story = a
                .story
                .map(|s| format!("story {s:<6}"))
                .unwrap_or_else(|| format!("{:<12}", ""));
            say!(
                "{:>6}  {}  {:<8} {:<20} {:<12} {} attempts {}  {}",
                a.id,
                a.uid,
                a.status,
                what,
                a.notifier,
                story,
                a.attempts,
                a.created
            );
            if let Some(e) = a.last_error {
                say!("        last error: {e}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
