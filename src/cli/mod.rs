//! The commands: each module opens what it needs, calls into the library and prints. Nothing
//! here decides anything the daemon also decides.

/// Print one line meant for a person, escaped: feed text can carry control characters (a
/// clear-screen, a fake prompt, a newline that forges a line), and this is the one place
/// output goes through. One call, one line.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::print_text(&format!($($arg)*))
    };
}

pub mod alerts;
pub mod cluster;
pub mod feeds;
pub mod items;
pub mod poll;
pub mod prune;

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
    println!("{}", feedwatch::text::for_terminal(line));
}

pub fn print_json<T: Serialize>(v: &T) -> Result<(), Failure> {
    println!(
        "{}",
        serde_json::to_string_pretty(v).context("encoding JSON")?
    );
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
