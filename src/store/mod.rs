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
    /// The directory must exist (only the CLI creates the default one); a new database is
    /// 0600 whatever the umask (SQLite gives its WAL and SHM files the same mode) and appears
    /// whole or not at all; a file that is something else than a feedwatch database is
    /// refused, not written into.
    pub fn open(path: &Path, options: StoreOptions) -> anyhow::Result<Self> {
        match inspect(path)? {
            Found::Missing => create(path, options)?,
            Found::Empty | Found::EmptySqlite | Found::Ours => {}
            other => anyhow::bail!(other.refusal(path)),
        }
        Self::start(path, options)
    }

    /// Open a database that must already exist: commands that only look at (or adjust) what
    /// the daemon stored should not silently create an empty one somewhere else, nor write a
    /// schema into a file that is not a feedwatch database yet.
    pub fn open_existing(path: &Path, options: StoreOptions) -> anyhow::Result<Self> {
        match inspect(path)? {
            Found::Ours => Self::start(path, options),
            other => anyhow::bail!(other.refusal(path)),
        }
    }

    fn start(path: &Path, options: StoreOptions) -> anyhow::Result<Self> {
        let conn = open_writable(path, options)?;
        Ok(Self {
            path: path.to_path_buf(),
            options,
            readers: Mutex::new(Vec::new()),
            writer: Writer::start(conn, options)?,
        })
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

/// What is at a database path, before SQLite touches it.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    Missing,
    /// The directory it should be in does not exist.
    NoDirectory(PathBuf),
    Directory,
    /// A file of 0 bytes (`touch`ed, or being created by another process right now).
    Empty,
    /// Not an SQLite file at all.
    NotSqlite,
    /// An SQLite database without tables.
    EmptySqlite,
    /// An SQLite database of some other program.
    Foreign,
    Ours,
}

impl Found {
    fn refusal(&self, path: &Path) -> String {
        let p = path.display();
        match self {
            Found::Missing => format!(
                "no database at {p} yet: `feedwatch run` or `feedwatch poll` creates it (or pass --db, or set `database` in the config)"
            ),
            Found::NoDirectory(dir) => format!(
                "cannot create the database {p}: the directory {} does not exist (create it, or point --db or `database` elsewhere)",
                dir.display()
            ),
            Found::Directory => format!(
                "{p} is a directory: --db and `database` name the database file, e.g. {}",
                path.join("feedwatch.db").display()
            ),
            Found::Empty | Found::EmptySqlite => format!(
                "{p} is empty, not a feedwatch database yet: `feedwatch run` or `feedwatch poll` sets it up"
            ),
            Found::NotSqlite => format!(
                "{p} is not a feedwatch database (not an SQLite file at all): check --db or `database`"
            ),
            Found::Foreign => format!(
                "{p} is an SQLite database of another program, not feedwatch's: feedwatch leaves it alone (check --db or `database`)"
            ),
            Found::Ours => format!("{p} is a feedwatch database"),
        }
    }
}

/// Look at `path` without writing anything: the file's first bytes, then (read-only) its
/// schema version and tables.
fn inspect(path: &Path) -> anyhow::Result<Found> {
    use std::io::Read;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(match path.parent().filter(|d| !d.as_os_str().is_empty()) {
                Some(dir) if !dir.is_dir() => Found::NoDirectory(dir.to_path_buf()),
                _ => Found::Missing,
            });
        }
        Err(e) => return Err(e).with_context(|| format!("looking at database {}", path.display())),
    };
    if meta.is_dir() {
        return Ok(Found::Directory);
    }
    if !meta.is_file() {
        // A device, a FIFO or a socket.
        return Ok(Found::NotSqlite);
    }
    if meta.len() == 0 {
        return Ok(Found::Empty);
    }
    let mut header = [0u8; 16];
    let read = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut header))
        .with_context(|| format!("reading database {}", path.display()))?;
    if read < header.len() || &header != b"SQLite format 3\0" {
        return Ok(Found::NotSqlite);
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening database {} for reading", path.display()))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
        [],
        |r| r.get(0),
    )?;
    let ours: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('feeds', 'items', 'alerts')",
        [],
        |r| r.get(0),
    )?;
    Ok(match (version, tables, ours) {
        (0, 0, _) => Found::EmptySqlite,
        (v, _, 3) if v > 0 => Found::Ours,
        _ => Found::Foreign,
    })
}

/// Create a new database at `path`: built and migrated under a temporary name beside it,
/// then linked into place, so that another process never sees a file without the schema (a
/// reading command would rightly refuse an empty one). Of two processes creating it at once,
/// the first link wins and the other opens that one.
fn create(path: &Path, options: StoreOptions) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".new-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    // Left by a crash of a process that had this pid: nobody else uses the name.
    let _ = std::fs::remove_file(&tmp);
    let result = create_private(&tmp)
        .and_then(|()| open_writable(&tmp, options).map(drop))
        .and_then(|()| match std::fs::hard_link(&tmp, path) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                Err(anyhow::Error::from(e).context(format!("creating database {}", path.display())))
            }
            _ => Ok(()),
        });
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = tmp.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    result
}

/// Create an empty file readable by its owner only, whatever the umask.
fn create_private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|f| f.set_permissions(std::fs::Permissions::from_mode(0o600)))
        .with_context(|| format!("creating database {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_feedwatch_database_is_opened_as_one() {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name);
        assert_eq!(inspect(&at("new.db")).unwrap(), Found::Missing);
        assert_eq!(
            inspect(&at("none/x.db")).unwrap(),
            Found::NoDirectory(at("none"))
        );
        assert_eq!(inspect(dir.path()).unwrap(), Found::Directory);
        std::fs::write(at("empty"), "").unwrap();
        assert_eq!(inspect(&at("empty")).unwrap(), Found::Empty);
        std::fs::write(at("notes.txt"), "my notes, not a database\n").unwrap();
        assert_eq!(inspect(&at("notes.txt")).unwrap(), Found::NotSqlite);
        let other = Connection::open(at("other.db")).unwrap();
        other
            .execute_batch("CREATE TABLE photos (id INTEGER)")
            .unwrap();
        drop(other);
        assert_eq!(inspect(&at("other.db")).unwrap(), Found::Foreign);

        let store = Store::open(&at("new.db"), StoreOptions::default()).unwrap();
        drop(store);
        assert_eq!(inspect(&at("new.db")).unwrap(), Found::Ours);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.contains(".new-"))
            .collect();
        assert!(left.is_empty(), "the temporary name is gone: {left:?}");
        assert!(Store::open_existing(&at("new.db"), StoreOptions::default()).is_ok());
        for refused in ["empty", "notes.txt", "other.db", "none/x.db"] {
            let e = Store::open_existing(&at(refused), StoreOptions::default()).err();
            assert!(e.is_some(), "{refused}");
        }
        assert!(Store::open(&at("other.db"), StoreOptions::default()).is_err());
        assert!(Store::open(&at("none/x.db"), StoreOptions::default()).is_err());
        assert!(!at("none").exists(), "no directory is created");
        // An empty file may become the database of a command that writes.
        assert!(Store::open(&at("empty"), StoreOptions::default()).is_ok());
        assert_eq!(
            std::fs::read_to_string(at("notes.txt")).unwrap(),
            "my notes, not a database\n"
        );
    }
}
