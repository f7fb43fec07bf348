//! Reaching a running daemon from a command: whether one runs on this database (it answers
//! on the control socket, which it opens only once it holds the delivery lock), with which
//! config, and asking it to do a command's work.

use std::time::Duration;

use anyhow::anyhow;

use feedwatch::config::Config;
use feedwatch::control::{self, Answer, DaemonStatus, PolledFeed, Reply, Request};

use super::Failure;

/// How long a quick request (status, reset, retry, prune) may go unanswered.
const QUICK: Duration = Duration::from_secs(60);

/// The daemon running on this config's database, if one answers.
pub fn running(cfg: &Config) -> Result<Option<DaemonStatus>, Failure> {
    match control::ask(&cfg.daemon.database, &Request::Status, QUICK, |_| {})? {
        None => Ok(None),
        Some(Reply {
            answer: Some(Answer::Status(s)),
            ..
        }) => Ok(Some(s)),
        Some(reply) => Err(older(&reply)),
    }
}

/// A daemon that does not know the request: started from an older binary.
fn older(reply: &Reply) -> Failure {
    Failure::Runtime(anyhow!(
        "a feedwatch daemon runs on this database but cannot take this request ({}): it is probably an older version; restart it (e.g. `systemctl restart feedwatch`) and try again",
        reply.message
    ))
}

/// Whether the daemon reads the same config file as this command.
pub fn same_config(cfg: &Config, daemon: &DaemonStatus) -> bool {
    let mine = std::fs::canonicalize(&cfg.path).unwrap_or_else(|_| cfg.path.clone());
    mine == daemon.config
}

/// Say so when the daemon works from another config file than the one this command read.
pub fn note_config(cfg: &Config, daemon: &DaemonStatus) {
    if !same_config(cfg, daemon) {
        note!(
            "note: the daemon (pid {}) runs with {}, not {}: it does this with its own config",
            daemon.pid,
            daemon.config.display(),
            cfg.path.display()
        );
    }
}

/// Ask the daemon to do `req`; its refusal is this command's failure. `wait` bounds the
/// silence between two lines of the answer.
pub fn ask(
    cfg: &Config,
    req: &Request,
    wait: Option<Duration>,
    progress: impl FnMut(&PolledFeed),
) -> Result<Reply, Failure> {
    let wait = wait.unwrap_or(QUICK);
    match control::ask(&cfg.daemon.database, req, wait, progress)? {
        None => Err(Failure::Runtime(anyhow!(
            "the daemon stopped while this command was asking it to `{}`: run the command again",
            req.name()
        ))),
        Some(reply) if reply.message.starts_with("bad request:") => Err(older(&reply)),
        Some(reply) if !reply.ok => Err(Failure::Runtime(anyhow!(
            "the daemon refused: {}",
            reply.message
        ))),
        Some(reply) => Ok(reply),
    }
}
