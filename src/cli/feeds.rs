//! `feedwatch feeds` and `feeds reset`.

use std::process::ExitCode;

use chrono::Utc;

use feedwatch::config::Config;
use feedwatch::control;
use feedwatch::store::{Store, queries};

use super::{Failure, no_such, open, print_json, runtime};

pub fn reset(cfg: Config, name: String) -> Result<ExitCode, Failure> {
    if cfg.feed(&name).is_none() {
        return Err(no_such("feed", &name, &cfg.path));
    }
    let db = cfg.daemon.database.clone();
    runtime()?.block_on(async {
        let store = Store::open_existing(&db, cfg.daemon.store)?;
        store
            .writer()
            .sync_feeds(queries::FeedSync::from_config(&cfg, Utc::now()))
            .await?;
        store.writer().reset_feed(&name).await
    })?;
    let told = control::notify(
        &db,
        &control::Request::FeedsChanged {
            feeds: vec![name.clone()],
        },
    );
    match told {
        Ok(true) => say!("{name}: reset; the running daemon polls it now"),
        Ok(false) => say!(
            "{name}: reset; no daemon is running: `feedwatch poll {name}` or the next daemon start polls it"
        ),
        Err(e) => say!(
            "{name}: reset; the running daemon could not be told ({e:#}): it polls the feed after its next restart"
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn list(cfg: Config, json: bool) -> Result<ExitCode, Failure> {
    let store = open(&cfg)?;
    let feeds = store.read(|c| queries::list_feeds(c, &cfg))?;
    if json {
        print_json(&feeds)?;
    } else {
        say!(
            "{:<24} {:<8} {:>4} {:>6}  {:<24} {:<24} URL / ERROR",
            "NAME",
            "STATE",
            "HTTP",
            "ITEMS",
            "LAST POLL",
            "NEXT POLL"
        );
        for f in feeds {
            say!(
                "{:<24} {:<8} {:>4} {:>6}  {:<24} {:<24} {}",
                f.name,
                f.state,
                f.http_status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                f.items,
                f.last_poll.as_deref().unwrap_or("-"),
                match (&f.next_poll, &f.held_by) {
                    (Some(t), Some(why)) => format!("{t} (held by {why})"),
                    (Some(t), None) => t.clone(),
                    (None, _) => "-".into(),
                },
                f.url
            );
            if !f.repairs.is_empty() {
                say!("    repaired: {}", f.repairs.join(", "));
            }
            if let Some(e) = f.error {
                say!("    error: {e}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
