//! `feedwatch alerts` and `alerts retry`.

use std::process::ExitCode;

use chrono::Utc;

use feedwatch::config::Config;
use feedwatch::control::{self, Answer, Request};
use feedwatch::store::{AlertView, Store, queries};

use super::out::{Tone, Ui, ui};
use super::table::{Cell, Column, Table};
use super::{Failure, daemon, open, print_json, runtime, when};

pub fn retry(cfg: Config, ids: Vec<String>) -> Result<ExitCode, Failure> {
    let missing = match daemon::running(&cfg)? {
        Some(d) => {
            daemon::note_config(&cfg, &d);
            let reply = daemon::ask(&cfg, &Request::Retry { ids }, None, |_| {})?;
            let Some(Answer::Retried { requeued, missing }) = reply.answer else {
                return Err(Failure::Runtime(anyhow::anyhow!(
                    "the daemon answered `retry` without a count: {}",
                    reply.message
                )));
            };
            match requeued {
                0 => say!("0 alert(s) requeued: none of them is failed"),
                n => say!("{n} alert(s) requeued; the daemon sends them now"),
            }
            missing
        }
        None => here(&cfg, ids)?,
    };
    if !missing.is_empty() {
        note!("no failed alert with id {}", missing.join(", "));
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Requeue in the database; the next poll (or daemon start) sends them.
fn here(cfg: &Config, ids: Vec<String>) -> Result<Vec<String>, Failure> {
    let db = cfg.daemon.database.clone();
    let (n, missing) = runtime()?.block_on(async {
        let store = Store::open_existing(&db, cfg.daemon.store)?;
        store.writer().retry_alerts(ids, Utc::now()).await
    })?;
    // A daemon that started since the check above sends them now.
    if n == 0 {
        say!("0 alert(s) requeued: none of them is failed");
        return Ok(missing);
    }
    match control::notify(&db, &Request::Deliver) {
        Ok(true) => say!("{n} alert(s) requeued; the daemon (just started) sends them now"),
        Ok(false) => say!(
            "{n} alert(s) requeued; no daemon is running: the next `feedwatch poll` or daemon start sends them"
        ),
        Err(e) => say!(
            "{n} alert(s) requeued; the daemon could not be told ({e:#}): it sends them after its next restart"
        ),
    }
    Ok(missing)
}

pub fn list(cfg: Config, status: Option<String>, json: bool) -> Result<ExitCode, Failure> {
    let store = open(&cfg)?;
    let alerts = store.read(|c| queries::list_alerts(c, status.as_deref()))?;
    if json {
        print_json(&alerts)?;
        return Ok(ExitCode::SUCCESS);
    }
    let ui = ui();
    table(&ui, &alerts).print_or(&ui, "no alerts");
    Ok(ExitCode::SUCCESS)
}

/// What an alert is about: its topic, or (a feed-health event) the event and the feed.
fn about(a: &AlertView) -> String {
    match (&a.topic, &a.feed) {
        (Some(t), _) => t.clone(),
        (None, Some(f)) => format!("{} {f}", a.event),
        (None, None) => a.event.clone(),
    }
}

/// The outlets, shortened on a terminal to the first two and a count.
fn outlets(ui: &Ui, a: &AlertView) -> Cell {
    match a.outlets.len() {
        0 => Cell::none(),
        n if ui.terminal && n > 2 => Cell::new(format!("{} +{}", a.outlets[..2].join(", "), n - 2)),
        _ => Cell::new(a.outlets.join(", ")),
    }
}

fn table(ui: &Ui, alerts: &[AlertView]) -> Table {
    let mut columns = vec![
        Column::right("ID"),
        Column::left("STATUS"),
        Column::left("TOPIC").flexible(),
        Column::left("NOTIFIER"),
        Column::left("STORY").flexible(),
        Column::left("OUTLETS").flexible(),
        Column::right("TRIES"),
        Column::left("CREATED"),
    ];
    if !ui.terminal {
        columns.extend([
            Column::left("UID"),
            Column::left("SENT"),
            Column::left("LAST_ERROR"),
        ]);
    }
    let mut t = Table::new(columns);
    for a in alerts {
        let mut row = vec![
            a.id.into(),
            Cell::new(&a.status).tone(Tone::of_state(&a.status)),
            Cell::new(about(a)),
            Cell::new(&a.notifier),
            Cell::opt(a.story_title.as_deref()),
            outlets(ui, a),
            a.attempts.into(),
            Cell::new(when::show(ui, &a.created)),
        ];
        if ui.terminal {
            t.row(row);
            if let Some(e) = &a.last_error {
                t.detail(format!("last error: {e}"));
            }
        } else {
            row.extend([
                Cell::new(&a.uid),
                when::cell(ui, a.sent.as_deref()),
                Cell::opt(a.last_error.as_deref()),
            ]);
            t.row(row);
        }
    }
    t
}
