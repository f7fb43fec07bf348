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
    println!("{n} alert(s) requeued");
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
            println!(
                "{:>6}  {}  {:<8} {:<20} {:<12} story {:<6} attempts {}  {}{}",
                a.id,
                a.uid,
                a.status,
                a.topic,
                a.notifier,
                a.story,
                a.attempts,
                a.created,
                a.last_error
                    .map(|e| format!("\n        last error: {e}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
