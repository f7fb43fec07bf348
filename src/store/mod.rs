//! SQLite: schema and migrations, the single writer, queries.
//!
//! One connection behind a mutex is the only writer of the daemon; blocking work runs on
//! tokio's blocking pool ([`Store::run`]). Other processes (the CLI while the daemon runs) open
//! their own connection: WAL lets them read, and the busy timeout makes them wait for a write
//! lock instead of failing at once.

pub mod ingest;
pub mod outbox;
pub mod queries;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::Connection;

pub use ingest::{IngestSummary, NewItem, PollRecord, PollResult};
pub use outbox::{AlertContext, ItemInfo, Source, StoryInfo};
pub use queries::{AlertView, FeedRow, FeedView, ItemFilter, ItemView};

pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

/// Times are stored as RFC 3339 UTC with milliseconds: sortable as text and readable.
pub fn fmt_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Switch to WAL (persistent, so only a new database needs it). The switch needs a moment
/// alone with the file and SQLite's busy timeout does not cover it, so two processes opening a
/// new database together retry here instead of failing.
fn set_wal(conn: &Connection) -> anyhow::Result<()> {
    let mut attempts = 0;
    loop {
        let result: rusqlite::Result<String> =
            conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0));
        match result {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => anyhow::bail!(
                "journal mode stays `{mode}` (is the file on a filesystem without shared memory?)"
            ),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && attempts < 100 =>
            {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

impl Store {
    /// Open (creating if needed) and migrate the database at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating database directory {}", dir.display()))?;
        }
        let mut conn = Connection::open(path)
            .with_context(|| format!("opening database {}", path.display()))?;
        conn.busy_timeout(Duration::from_secs(10))?;
        set_wal(&conn).with_context(|| format!("database {} is not writable", path.display()))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut conn)
            .with_context(|| format!("migrating database {}", path.display()))?;
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    /// Open a database that must already exist: commands that only look at (or adjust) what
    /// the daemon stored should not silently create an empty one somewhere else.
    pub fn open_existing(path: &Path) -> anyhow::Result<Self> {
        if !path.exists() {
            anyhow::bail!(
                "no database at {} yet: `feedwatch run` or `feedwatch poll` creates it (or pass --db, or set `database` in the config)",
                path.display()
            );
        }
        Self::open(path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `f` with the connection on the calling thread.
    pub fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| anyhow::anyhow!("database connection poisoned by a panic"))?;
        f(&mut conn)
    }

    /// Run `f` with the connection on the blocking pool, so async tasks never block on SQLite.
    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> anyhow::Result<T> + Send + 'static,
    {
        let store = Arc::clone(self);
        tokio::task::spawn_blocking(move || store.with(f))
            .await
            .context("database task failed")?
    }
}
