//! SQLite: schema and migrations, the single writer, queries.
//!
//! The store's interface is narrow on purpose, so that another backend can stand behind it:
//! - writes are messages ([`WriteOp`]) to one writer thread that owns the read-write
//!   connection ([`Writer`]); a message carries everything one poll (or one delivery) decided,
//!   and the writer only binds and inserts, committing several messages per transaction;
//! - reads are functions over a read-only connection taken from a small pool ([`Store::read`]),
//!   in [`queries`] (the CLI, the daemon's start) and [`outbox`] (the dispatcher).
//!
//! Other processes (the CLI while the daemon runs) open their own store: WAL lets them read,
//! and the busy timeout makes their writes wait for the lock instead of failing at once.

pub mod ingest;
pub mod outbox;
pub mod prune;
pub mod queries;
mod schema;
pub mod search;
pub mod stories;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags};

pub use ingest::{IngestSummary, ItemMatch, NewItem, PollOutcome};
pub use outbox::{
    AlertContext, AlertEvent, FeedEvent, FeedEventAlert, FeedInfo, ItemInfo, Source, StoryInfo,
    TopicMatch,
};
pub use queries::{AlertView, FeedView, ItemFilter, ItemView};
pub use writer::{WriteOp, Writer, WriterHealth};

/// Settings of the database connections.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// How long a write waits for another process's lock before it fails.
    pub busy_timeout: Duration,
    /// How far back a new item looks for a story to join.
    pub story_window: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(10),
            story_window: Duration::from_secs(72 * 3600),
        }
    }
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

/// The read-write connection: WAL, foreign keys, migrated.
fn open_writable(path: &Path, options: StoreOptions) -> anyhow::Result<Connection> {
    let mut conn =
        Connection::open(path).with_context(|| format!("opening database {}", path.display()))?;
    conn.busy_timeout(options.busy_timeout)?;
    set_wal(&conn).with_context(|| format!("database {} is not writable", path.display()))?;
    // In WAL mode NORMAL loses no committed transaction when the process dies (only on power
    // loss), and saves an fsync per commit.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // The writer walks the items' indexes on every insert: an 8 MiB page cache keeps their
    // upper levels in memory (SQLite's default, 2 MiB, makes a first sweep re-read them).
    conn.pragma_update(None, "cache_size", -8192)?;
    conn.set_prepared_statement_cache_capacity(64);
    schema::migrate(&mut conn).with_context(|| format!("migrating database {}", path.display()))?;
    Ok(conn)
}

fn open_readonly(path: &Path, options: StoreOptions) -> anyhow::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening database {} for reading", path.display()))?;
    conn.busy_timeout(options.busy_timeout)?;
    // Readers do point lookups and short listings: a small page cache each (the writer keeps
    // SQLite's default), so idle connections in the pool hold little memory.
    conn.pragma_update(None, "cache_size", -512)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// A database: the writer thread and a pool of read-only connections.
pub struct Store {
    path: PathBuf,
    options: StoreOptions,
    readers: Mutex<Vec<Connection>>,
    writer: Writer,
}

/// Read connections kept open between reads; more are opened when several read at once.
const IDLE_READERS: usize = 4;

impl Store {
    /// Open (creating if needed) and migrate the database at `path`, and start its writer.
    pub fn open(path: &Path, options: StoreOptions) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating database directory {}", dir.display()))?;
        }
        let conn = open_writable(path, options)?;
        Ok(Self {
            path: path.to_path_buf(),
            options,
            readers: Mutex::new(Vec::new()),
            writer: Writer::start(conn, options)?,
        })
    }

    /// Open a database that must already exist: commands that only look at (or adjust) what
    /// the daemon stored should not silently create an empty one somewhere else.
    pub fn open_existing(path: &Path, options: StoreOptions) -> anyhow::Result<Self> {
        if !path.exists() {
            anyhow::bail!(
                "no database at {} yet: `feedwatch run` or `feedwatch poll` creates it (or pass --db, or set `database` in the config)",
                path.display()
            );
        }
        Self::open(path, options)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// Run `f` over a read-only connection, on the calling thread.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let pooled = self
            .readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let conn = match pooled {
            Some(c) => c,
            None => open_readonly(&self.path, self.options)?,
        };
        let result = f(&conn);
        let mut pool = self
            .readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if pool.len() < IDLE_READERS {
            pool.push(conn);
        }
        result
    }

    /// [`read`](Self::read) on the blocking pool, so async tasks never block on SQLite.
    pub async fn read_async<T, F>(self: &Arc<Self>, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
    {
        let store = Arc::clone(self);
        tokio::task::spawn_blocking(move || store.read(f))
            .await
            .context("database read task failed")?
    }
}
