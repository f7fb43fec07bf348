//! The commands: each module opens what it needs, calls into the library and prints. Nothing
//! here decides anything the daemon also decides.

/// Print one line meant for a person, escaped: feed text can carry control characters (a
/// clear-screen, a fake prompt, a newline that forges a line), and this is the one place
/// output goes through (tables escape each cell the same way, in [`table`]). One call, one
/// line. A reader that stopped reading ends the output quietly ([`out`]).
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::print_text(&format!($($arg)*))
    };
}

/// A message for the person on stderr (a note, a warning), escaped the same way.
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::cli::out::note(&format!($($arg)*))
    };
}

pub mod alerts;
pub mod args;
pub mod daemon;
pub mod feeds;
pub mod items;
pub mod opml;
pub mod out;
pub mod poll;
pub mod progress;
pub mod prune;
pub mod status;
pub mod table;
pub mod when;

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use feedwatch::config::Config;
use feedwatch::store::Store;

/// A failure of the command's own work (exit 1) versus a usage or config problem (exit 2).
pub enum Failure {
    Usage(String),
    Runtime(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Runtime(e)
    }
}

pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?)
}

pub fn print_text(line: &str) {
    out::raw_line(&feedwatch::text::for_terminal(line));
}

pub fn print_json<T: Serialize>(v: &T) -> Result<(), Failure> {
    out::raw_line(&serde_json::to_string_pretty(v).context("encoding JSON")?);
    Ok(())
}

/// The database a reading command looks at: it must exist.
pub fn open(cfg: &Config) -> Result<Store, Failure> {
    Ok(Store::open_existing(
        &cfg.daemon.database,
        cfg.daemon.store,
    )?)
}

pub fn no_such(what: &str, name: &str, path: &Path) -> Failure {
    Failure::Usage(format!("no {what} named `{name}` in {}", path.display()))
}

/// `--since 24h` as a cut-off time.
pub fn since(d: Option<std::time::Duration>) -> Option<chrono::DateTime<chrono::Utc>> {
    d.and_then(|d| chrono::Duration::from_std(d).ok())
        .and_then(|d| chrono::Utc::now().checked_sub_signed(d))
}

/// Create the directory of the default database location (and any missing parent), private
/// to its owner (0700) whatever the umask. Only the default location: a path the user chose
/// must exist already, so that a typo does not grow a tree of directories.
pub fn create_default_dir(database: &Path) -> Result<(), Failure> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    let mut missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
    missing.reverse();
    for d in missing {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(d)
            .or_else(|e| match e.kind() {
                // Created by another process meanwhile.
                std::io::ErrorKind::AlreadyExists => Ok(()),
                _ => Err(e),
            })
            .and_then(|()| std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)))
            .with_context(|| format!("creating the data directory {}", d.display()))?;
    }
    Ok(())
}
