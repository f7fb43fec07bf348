//! What `/metrics` reads from the database on each scrape: feeds by state, alerts pending and
//! failed per notifier, the oldest pending alert and the database's size, set as gauges just
//! before the families are rendered. The counters themselves are recorded where things happen
//! (`crate::metrics`).

use std::collections::BTreeMap;
use std::sync::Arc;

use ::metrics::gauge;
use anyhow::Context;

use crate::config::Config;
use crate::metrics::{self, DATABASE_BYTES, FAILED, FEEDS, OLDEST_PENDING, PENDING};
use crate::store::Store;

/// What the database holds that the gauges show.
#[derive(Debug, Default, PartialEq)]
pub struct Stored {
    /// Configured feeds by state.
    pub feeds: BTreeMap<String, u64>,
    pub pending: BTreeMap<String, u64>,
    pub failed: BTreeMap<String, u64>,
    pub oldest_pending: Option<chrono::DateTime<chrono::Utc>>,
}

fn read_stored(conn: &rusqlite::Connection, config: &Config) -> anyhow::Result<Stored> {
    let configured: std::collections::HashSet<&str> =
        config.feeds.iter().map(|f| f.name.as_str()).collect();
    let mut out = Stored::default();
    for state in ["new", "ok", "failing", "gone"] {
        out.feeds.insert(state.to_string(), 0);
    }
    let mut stmt = conn.prepare_cached("SELECT name, state FROM feeds")?;
    let mut rows = stmt.query([])?;
    let mut seen = 0u64;
    while let Some(r) = rows.next()? {
        let name: String = r.get(0)?;
        if configured.contains(name.as_str()) {
            seen += 1;
            *out.feeds.entry(r.get(1)?).or_default() += 1;
        }
    }
    // Configured feeds the database has no row for yet are new.
    *out.feeds.entry("new".into()).or_default() += (configured.len() as u64).saturating_sub(seen);
    for n in &config.notifiers {
        out.pending.insert(n.name.clone(), 0);
        out.failed.insert(n.name.clone(), 0);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT notifier, status, COUNT(*) FROM alerts WHERE status IN ('pending', 'failed')
         GROUP BY notifier, status",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (notifier, status, n): (String, String, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        let map = if status == "pending" {
            &mut out.pending
        } else {
            &mut out.failed
        };
        map.insert(notifier, n.max(0) as u64);
    }
    let oldest: Option<String> = conn.query_row(
        "SELECT MIN(created) FROM alerts WHERE status = 'pending'",
        [],
        |r| r.get(0),
    )?;
    out.oldest_pending = oldest.as_deref().and_then(crate::store::parse_time);
    Ok(out)
}

/// The database file and its write-ahead log, in bytes.
fn database_bytes(db: &std::path::Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    [db.to_path_buf(), std::path::PathBuf::from(wal)]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// Set the gauges read on scrape from `stored`.
fn set_stored(stored: &Stored, now: chrono::DateTime<chrono::Utc>) {
    for (state, n) in &stored.feeds {
        gauge!(FEEDS, "state" => state.clone()).set(*n as f64);
    }
    for (notifier, n) in &stored.pending {
        gauge!(PENDING, "notifier" => notifier.clone()).set(*n as f64);
    }
    for (notifier, n) in &stored.failed {
        gauge!(FAILED, "notifier" => notifier.clone()).set(*n as f64);
    }
    let age = stored
        .oldest_pending
        .map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
    gauge!(OLDEST_PENDING).set(age);
}

/// Everything, in the Prometheus text format: the stored-state gauges read now, then every
/// family.
pub async fn render(store: &Arc<Store>, config: Arc<Config>) -> anyhow::Result<String> {
    let handle = metrics::handle().context("metrics are not recorded by this process")?;
    let path = store.path().to_path_buf();
    let stored = store
        .read_async(move |c| read_stored(c, &config))
        .await
        .context("reading the database for metrics")?;
    set_stored(&stored, chrono::Utc::now());
    gauge!(DATABASE_BYTES).set(database_bytes(&path) as f64);
    handle.run_upkeep();
    Ok(handle.render())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::tests::config;

    #[test]
    fn stored_state_counts_configured_feeds_and_zeroes_idle_notifiers() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE feeds (name TEXT, state TEXT);
             INSERT INTO feeds VALUES ('a', 'failing'), ('removed', 'ok');
             CREATE TABLE alerts (notifier TEXT, status TEXT, created TEXT);
             INSERT INTO alerts VALUES ('hook', 'pending', '2026-01-01T10:00:00.000Z'),
               ('hook', 'pending', '2026-01-01T09:00:00.000Z'), ('old', 'failed', '2025-01-01T00:00:00.000Z'),
               ('hook', 'sent', '2020-01-01T00:00:00.000Z');",
        )
        .unwrap();
        let s = read_stored(&conn, &config()).unwrap();
        assert_eq!(s.feeds["failing"], 1);
        assert_eq!(s.feeds["new"], 1, "b has no row yet");
        assert_eq!(s.feeds["ok"], 0, "a removed feed is not counted");
        assert_eq!(s.pending["hook"], 2);
        assert_eq!(s.failed["hook"], 0);
        assert_eq!(
            s.failed["old"], 1,
            "a removed notifier's failed alerts still show"
        );
        assert_eq!(
            s.oldest_pending.map(|t| t.to_rfc3339()),
            Some("2026-01-01T09:00:00+00:00".into())
        );
    }
}
