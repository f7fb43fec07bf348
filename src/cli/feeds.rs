//! `feedwatch feeds` and `feeds reset`.

use std::process::ExitCode;

use chrono::Utc;

use feedwatch::config::Config;
use feedwatch::control::{self, Request};
use feedwatch::store::{FeedView, Store, queries};

use super::out::{Tone, Ui, ui};
use super::table::{Cell, Column, Table};
use super::{Failure, daemon, no_such, open, print_json, runtime, when};

pub fn reset(cfg: Config, name: String) -> Result<ExitCode, Failure> {
    if cfg.feed(&name).is_none() {
        return Err(no_such("feed", &name, &cfg.path));
    }
    if let Some(d) = daemon::running(&cfg)? {
        daemon::note_config(&cfg, &d);
        let reply = daemon::ask(&cfg, &Request::Reset { feed: name }, None, |_| {})?;
        say!("{}", reply.message);
        return Ok(ExitCode::SUCCESS);
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
    // A daemon that started since the check above re-reads the feed.
    let told = control::notify(
        &db,
        &Request::FeedsChanged {
            feeds: vec![name.clone()],
        },
    );
    match told {
        Ok(true) => say!("{name}: reset; the daemon (just started) polls it now"),
        Ok(false) => say!(
            "{name}: reset; no daemon is running: `feedwatch poll {name}` polls it now, or the daemon when it starts"
        ),
        Err(e) => say!(
            "{name}: reset; the daemon could not be told ({e:#}): it polls the feed after its next restart"
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn list(cfg: Config, json: bool) -> Result<ExitCode, Failure> {
    let store = open(&cfg)?;
    let feeds = store.read(|c| queries::list_feeds(c, &cfg))?;
    if json {
        print_json(&feeds)?;
        return Ok(ExitCode::SUCCESS);
    }
    let ui = ui();
    if ui.terminal {
        for_people(&ui, &feeds).print_or(&ui, "no feeds in the config");
    } else {
        for_scripts(&ui, &feeds).print(&ui);
    }
    Ok(ExitCode::SUCCESS)
}

/// When the next poll is, and what holds it back if not the schedule.
fn next_poll(ui: &Ui, f: &FeedView) -> Cell {
    match (&f.next_poll, &f.held_by) {
        (Some(t), Some(why)) => Cell::new(format!("{} ({why})", when::show(ui, t))),
        (Some(t), None) => Cell::new(when::show(ui, t)),
        (None, _) if f.state == "gone" => Cell::new("never (gone)").tone(Tone::Bad),
        (None, _) => Cell::none(),
    }
}

fn for_people(ui: &Ui, feeds: &[FeedView]) -> Table {
    let mut t = Table::new(vec![
        Column::left("NAME").flexible(),
        Column::left("STATE"),
        Column::left("LAST POLL"),
        Column::left("NEXT POLL").flexible(),
        Column::right("HTTP"),
        Column::right("ITEMS"),
        Column::right("ERRORS"),
        Column::left("URL").flexible(),
    ]);
    for f in feeds {
        t.row(vec![
            Cell::new(&f.name),
            Cell::new(&f.state).tone(Tone::of_state(&f.state)),
            when::cell(ui, f.last_poll.as_deref()),
            next_poll(ui, f),
            Cell::opt(f.http_status.map(|s| s.to_string())),
            f.items.into(),
            match f.consecutive_errors {
                0 => Cell::none(),
                n => Cell::from(n).tone(Tone::Bad),
            },
            Cell::new(&f.url),
        ]);
        if let Some(e) = &f.error {
            t.detail(format!("error: {e}"));
        }
        if !f.repairs.is_empty() {
            t.detail(format!("repaired: {}", f.repairs.join(", ")));
        }
    }
    t
}

fn for_scripts(ui: &Ui, feeds: &[FeedView]) -> Table {
    let mut t = Table::new(vec![
        Column::left("NAME"),
        Column::left("STATE"),
        Column::left("LAST_POLL"),
        Column::left("LAST_OK"),
        Column::left("NEXT_POLL"),
        Column::left("HELD_BY"),
        Column::left("HTTP"),
        Column::left("ITEMS"),
        Column::left("ERRORS"),
        Column::left("URL"),
        Column::left("ERROR"),
        Column::left("REPAIRS"),
    ]);
    for f in feeds {
        t.row(vec![
            Cell::new(&f.name),
            Cell::new(&f.state),
            when::cell(ui, f.last_poll.as_deref()),
            when::cell(ui, f.last_ok.as_deref()),
            when::cell(ui, f.next_poll.as_deref()),
            Cell::opt(f.held_by.as_deref()),
            Cell::opt(f.http_status.map(|s| s.to_string())),
            f.items.into(),
            f.consecutive_errors.into(),
            Cell::new(&f.url),
            Cell::opt(f.error.as_deref()),
            Cell::new(f.repairs.join(", ")),
        ]);
    }
    t
}
