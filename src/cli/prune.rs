//! `feedwatch prune`: apply retention now.

use std::process::ExitCode;

use chrono::Utc;

use feedwatch::config::Config;

use super::{Failure, open, runtime};

pub fn run(cfg: Config) -> Result<ExitCode, Failure> {
    let store = open(&cfg)?;
    let age = chrono::Duration::from_std(cfg.daemon.retention)
        .map_err(|_| Failure::Usage("`retention` is too long".into()))?;
    let before = Utc::now()
        .checked_sub_signed(age)
        .ok_or_else(|| Failure::Usage("`retention` is too long".into()))?;
    let p = runtime()?.block_on(store.writer().prune(before))?;
    say!(
        "pruned {} items, {} stories and {} delivered alerts first seen before {}; {} expired keys dropped (the keys of pruned items are kept, so they never come back as new)",
        p.items,
        p.stories,
        p.alerts,
        before.to_rfc3339(),
        p.tombstones
    );
    Ok(ExitCode::SUCCESS)
}
