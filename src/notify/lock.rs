//! Only one process delivers from a database at a time, or two could send the same alert (the
//! `log` notifier has no idempotency key to save the receiver). The daemon holds this lock for
//! its lifetime; `feedwatch poll` delivers only when it can take it. An advisory file lock
//! beside the database: the kernel releases it when the process dies, however it dies. The
//! holder writes who it is into the file, so the others can say who holds it — and a second
//! daemon can refuse at once, while one that meets a `poll`'s short delivery pass waits.

use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Who takes the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Daemon,
    Poll,
}

/// Who holds the lock, as its holder wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Daemon(u32),
    Poll(u32),
    /// An older version, or a holder that has not written itself yet.
    Unknown,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Holder::Daemon(pid) => write!(f, "the feedwatch daemon (pid {pid})"),
            Holder::Poll(pid) => write!(f, "`feedwatch poll` (pid {pid})"),
            Holder::Unknown => f.write_str("another feedwatch process"),
        }
    }
}

pub struct DeliveryLock {
    _file: std::fs::File,
}

fn lock_path(database: &Path) -> PathBuf {
    let mut path = database.as_os_str().to_owned();
    path.push(".lock");
    PathBuf::from(path)
}

/// What a lock file says about its holder.
fn parse_holder(text: &str) -> Holder {
    let mut parts = text.split_whitespace();
    match (parts.next(), parts.next().and_then(|p| p.parse().ok())) {
        (Some("daemon"), Some(pid)) => Holder::Daemon(pid),
        (Some("poll"), Some(pid)) => Holder::Poll(pid),
        _ => Holder::Unknown,
    }
}

impl DeliveryLock {
    /// The lock, or who holds it.
    pub fn try_acquire(database: &Path, role: Role) -> anyhow::Result<Result<Self, Holder>> {
        let path = lock_path(database);
        // Private like the database beside it, whatever the umask.
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("opening lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {
                let me = match role {
                    Role::Daemon => "daemon",
                    Role::Poll => "poll",
                };
                // Best effort: the lock itself is what counts.
                let _ = file
                    .set_len(0)
                    .and_then(|()| file.rewind())
                    .and_then(|()| writeln!(file, "{me} {}", std::process::id()));
                Ok(Ok(Self { _file: file }))
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                Ok(Err(parse_holder(&text)))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_is_named_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let held = DeliveryLock::try_acquire(&db, Role::Daemon)
            .unwrap()
            .unwrap();
        // Advisory locks are per open file description: a second open in this process conflicts.
        match DeliveryLock::try_acquire(&db, Role::Poll).unwrap() {
            Err(Holder::Daemon(pid)) => assert_eq!(pid, std::process::id()),
            other => panic!("{:?}", other.err()),
        }
        drop(held);
        assert!(DeliveryLock::try_acquire(&db, Role::Poll).unwrap().is_ok());
        assert_eq!(parse_holder("garbage"), Holder::Unknown);
    }
}
