//! The daemon's control socket: a Unix socket beside the database (`feedwatch.db.sock`) through
//! which CLI commands tell a running daemon what they changed.
//!
//! The daemon keeps its schedule in memory and sleeps until the next due poll or alert, so it
//! would not see a `feeds reset` or an `alerts retry` written by another process. Rather than
//! re-reading the database on a timer (waking an idle daemon for nothing), the command says
//! so here, and the daemon re-reads just what changed. One JSON line each way.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Request {
    /// These feeds' rows changed: re-read their state.
    FeedsChanged { feeds: Vec<String> },
    /// Alerts were queued or requeued: run a delivery pass.
    Deliver,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reply {
    pub ok: bool,
    #[serde(default)]
    pub message: String,
}

pub fn socket_path(database: &Path) -> PathBuf {
    let mut p = database.as_os_str().to_owned();
    p.push(".sock");
    PathBuf::from(p)
}

/// The listening side; removes the socket file when dropped.
pub struct Server {
    path: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Listen beside `database`; requests arrive on the returned channel. Only one daemon runs
/// per database (it holds the delivery lock first), so a socket file left by a crash is stale
/// and is replaced.
pub fn listen(database: &Path) -> anyhow::Result<(Server, mpsc::Receiver<Request>)> {
    let path = socket_path(database);
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)
        .with_context(|| format!("creating the control socket {}", path.display()))?;
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                if let Err(e) = serve(stream, tx).await {
                    tracing::debug!(error = %format!("{e:#}"), "control connection");
                }
            });
        }
    });
    Ok((Server { path }, rx))
}

async fn serve(stream: tokio::net::UnixStream, tx: mpsc::Sender<Request>) -> anyhow::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    // One short request per connection; anything longer is not ours.
    let mut reader = tokio::io::BufReader::new(tokio::io::AsyncReadExt::take(read, 64 * 1024));
    tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line))
        .await
        .context("control request timed out")??;
    let reply = match serde_json::from_str::<Request>(&line) {
        Ok(req) => {
            tx.send(req).await.context("daemon is stopping")?;
            Reply {
                ok: true,
                message: String::new(),
            }
        }
        Err(e) => Reply {
            ok: false,
            message: format!("bad request: {e}"),
        },
    };
    let mut out = serde_json::to_vec(&reply)?;
    out.push(b'\n');
    write.write_all(&out).await?;
    Ok(())
}

/// Tell the daemon running on `database`, if any. `Ok(false)`: no daemon listens.
pub fn notify(database: &Path, req: &Request) -> anyhow::Result<bool> {
    let path = socket_path(database);
    let mut stream = match std::os::unix::net::UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(false);
        }
        Err(e) => {
            return Err(e).with_context(|| format!("connecting to {}", path.display()));
        }
    };
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    let mut answer = String::new();
    BufReader::new(&stream).read_line(&mut answer)?;
    let reply: Reply = serde_json::from_str(&answer)
        .with_context(|| format!("unexpected answer from the daemon: {answer:?}"))?;
    anyhow::ensure!(reply.ok, "the daemon refused: {}", reply.message);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_one_json_line() {
        let r = Request::FeedsChanged {
            feeds: vec!["a".into()],
        };
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(s, r#"{"cmd":"feeds-changed","feeds":["a"]}"#);
        assert_eq!(serde_json::from_str::<Request>(&s).unwrap(), r);
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"cmd":"deliver"}"#).unwrap(),
            Request::Deliver
        );
    }

    #[tokio::test]
    async fn a_request_reaches_the_daemon_and_no_daemon_is_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let path = db.clone();
        assert!(
            !tokio::task::spawn_blocking(move || notify(&path, &Request::Deliver))
                .await
                .unwrap()
                .unwrap()
        );
        let (server, mut rx) = listen(&db).unwrap();
        let path = db.clone();
        let sent = tokio::task::spawn_blocking(move || notify(&path, &Request::Deliver));
        assert_eq!(rx.recv().await, Some(Request::Deliver));
        assert!(sent.await.unwrap().unwrap());
        drop(server);
        assert!(!socket_path(&db).exists());
    }
}
