//! `feedwatch prune`: apply retention now (by the daemon, with its config, while one runs).

use std::process::ExitCode;

use chrono::Utc;

use feedwatch::config::Config;
use feedwatch::control::{Answer, PruneCounts, Request};

use super::{Failure, daemon, open, runtime, when};

pub fn run(cfg: Config) -> Result<ExitCode, Failure> {
    let counts = match daemon::running(&cfg)? {
        Some(d) => {
            daemon::note_config(&cfg, &d);
            let reply = daemon::ask(&cfg, &Request::Prune, None, |_| {})?;
            let Some(Answer::Pruned(p)) = reply.answer else {
                return Err(Failure::Runtime(anyhow::anyhow!(
                    "the daemon answered `prune` without counts: {}",
                    reply.message
                )));
            };
            p
        }
        None => here(&cfg)?,
    };
    say!(
        "pruned {} items, {} stories and {} delivered alerts first seen before {}; {} expired keys dropped (the keys of pruned items are kept, so they never come back as new)",
        counts.items,
        counts.stories,
        counts.alerts,
        when::script(counts.before),
        counts.tombstones
    );
    Ok(ExitCode::SUCCESS)
}

fn here(cfg: &Config) -> Result<PruneCounts, Failure> {
    let store = open(cfg)?;
    let before = chrono::Duration::from_std(cfg.daemon.retention)
        .ok()
        .and_then(|age| Utc::now().checked_sub_signed(age))
        .ok_or_else(|| Failure::Usage("`retention` is too long".into()))?;
    let p = runtime()?.block_on(store.writer().prune(before))?;
    Ok(PruneCounts::new(before, p))
}
