//! The daemon's control socket: a Unix socket beside the database (`feedwatch.db.sock`, mode
//! 0600) through which CLI commands reach a running daemon. One JSON request line from the
//! client; one JSON reply line back (a `poll` first streams one `progress` line per finished
//! feed).
//!
//! Two uses. The daemon keeps its schedule in memory and sleeps until the next due poll or
//! alert, so it would not see a change written by another process: `feeds-changed` and
//! `deliver` say so, and the daemon re-reads just what changed. And while a daemon runs, the
//! commands that change state (`poll`, `feeds reset`, `alerts retry`, `prune`) ask it to do
//! the work, so nothing acts on a different idea of the config than the daemon's; `status`
//! tells them whether one runs and with which config. [`requests`] is the daemon's side.

pub mod requests;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

pub use requests::{PollPlan, PollWaiters, plan_poll};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Request {
    /// These feeds' rows changed: re-read their state.
    FeedsChanged { feeds: Vec<String> },
    /// Alerts were queued or requeued: run a delivery pass.
    Deliver,
    /// Who is running: answered with [`Answer::Status`].
    Status,
    /// Poll these feeds now (none: every feed but the gone ones) with the daemon's config;
    /// answered with a [`Answer::Progress`] line per feed, then [`Answer::Polled`].
    Poll {
        #[serde(default)]
        feeds: Vec<String>,
    },
    /// Clear a feed's gone or failing state and poll it now.
    Reset { feed: String },
    /// Requeue these failed alerts (ids or uids; none: every failed one) and deliver them.
    Retry {
        #[serde(default)]
        ids: Vec<String>,
    },
    /// Apply the daemon's `retention` now: answered with [`Answer::Pruned`].
    Prune,
}

impl Request {
    /// The word for this request in messages.
    pub fn name(&self) -> &'static str {
        match self {
            Request::FeedsChanged { .. } => "feeds-changed",
            Request::Deliver => "deliver",
            Request::Status => "status",
            Request::Poll { .. } => "poll",
            Request::Reset { .. } => "reset",
            Request::Retry { .. } => "retry",
            Request::Prune => "prune",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reply {
    pub ok: bool,
    #[serde(default)]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Answer>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Answer {
    Status(DaemonStatus),
    /// One feed of a `poll` finished (more lines follow).
    Progress(PolledFeed),
    Polled {
        feeds: Vec<PolledFeed>,
    },
    Retried {
        requeued: usize,
        missing: Vec<String>,
    },
    Pruned(PruneCounts),
}

/// Who answers on the socket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DaemonStatus {
    pub pid: u32,
    /// When it started, RFC 3339 UTC.
    pub started: String,
    pub version: String,
    /// Its config file, absolute.
    pub config: PathBuf,
    pub database: PathBuf,
    pub feeds: usize,
    /// Polls in flight.
    pub polling: usize,
}

impl DaemonStatus {
    /// This process, running `config` on `store` with `feeds` scheduled and `polling` now.
    pub fn of(
        config: &crate::config::Config,
        store: &crate::store::Store,
        feeds: usize,
        polling: usize,
    ) -> Self {
        let absolute = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        Self {
            pid: std::process::id(),
            started: crate::store::fmt_time(started()),
            version: env!("CARGO_PKG_VERSION").into(),
            config: absolute(&config.path),
            database: absolute(store.path()),
            feeds,
            polling,
        }
    }
}

/// What one poll came to (the `poll --json` feed shape, plus the alerts it queued).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PolledFeed {
    pub name: String,
    /// ok | not_modified | gone | error | skipped
    pub status: String,
    pub http_status: Option<u16>,
    pub new_items: usize,
    pub updated_items: usize,
    pub error: Option<String>,
    pub alerts_queued: usize,
}

impl From<&crate::poll::FeedReport> for PolledFeed {
    fn from(r: &crate::poll::FeedReport) -> Self {
        Self {
            name: r.name.clone(),
            status: r.status.clone(),
            http_status: r.http_status,
            new_items: r.new_items,
            updated_items: r.updated_items,
            error: r.error.clone(),
            alerts_queued: r.alerts_created,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PruneCounts {
    /// Items older than this went (RFC 3339 UTC).
    pub before: DateTime<Utc>,
    pub items: usize,
    pub stories: usize,
    pub alerts: usize,
    pub tombstones: usize,
}

impl PruneCounts {
    pub fn new(before: DateTime<Utc>, p: crate::store::prune::Pruned) -> Self {
        Self {
            before,
            items: p.items,
            stories: p.stories,
            alerts: p.alerts,
            tombstones: p.tombstones,
        }
    }
}

pub fn socket_path(database: &Path) -> PathBuf {
    let mut p = database.as_os_str().to_owned();
    p.push(".sock");
    PathBuf::from(p)
}

static STARTED: OnceLock<DateTime<Utc>> = OnceLock::new();

/// When this daemon started listening (its start, for `status`).
pub fn started() -> DateTime<Utc> {
    *STARTED.get_or_init(Utc::now)
}

/// A request as the daemon receives it, with the way to answer it.
pub struct Incoming {
    pub request: Request,
    pub reply: Responder,
}

/// The daemon's end of one connection. Dropping it without a final answer closes the
/// connection: the client then says the daemon stopped before answering.
pub struct Responder {
    tx: mpsc::UnboundedSender<Reply>,
}

impl Responder {
    pub fn ok(self, message: impl Into<String>) {
        self.send(true, message.into(), None);
    }

    pub fn refuse(self, message: impl Into<String>) {
        self.send(false, message.into(), None);
    }

    pub fn answer(self, answer: Answer) {
        self.send(true, String::new(), Some(answer));
    }

    /// An intermediate line (a finished feed of a `poll`).
    pub fn progress(&self, feed: PolledFeed) {
        let _ = self.tx.send(Reply {
            ok: true,
            message: String::new(),
            answer: Some(Answer::Progress(feed)),
        });
    }

    /// The client went away: nobody reads an answer any more.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    fn send(self, ok: bool, message: String, answer: Option<Answer>) {
        // The client may have gone: nothing to do about that.
        let _ = self.tx.send(Reply {
            ok,
            message,
            answer,
        });
    }

    /// A responder and the receiving end, for tests of the daemon's side.
    pub fn pair() -> (Self, mpsc::UnboundedReceiver<Reply>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, rx)
    }
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
/// and is replaced. The socket is 0600: only the daemon's user may ask it anything.
pub fn listen(database: &Path) -> anyhow::Result<(Server, mpsc::Receiver<Incoming>)> {
    use std::os::unix::fs::PermissionsExt;
    started();
    let path = socket_path(database);
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)
        .with_context(|| format!("creating the control socket {}", path.display()))?;
    let server = Server { path };
    std::fs::set_permissions(&server.path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("making {} private", server.path.display()))?;
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
    Ok((server, rx))
}

async fn serve(stream: tokio::net::UnixStream, tx: mpsc::Sender<Incoming>) -> anyhow::Result<()> {
    use tokio::io::AsyncBufReadExt;
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    // One short request per connection; anything longer is not ours.
    let mut reader = tokio::io::BufReader::new(tokio::io::AsyncReadExt::take(read, 64 * 1024));
    tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line))
        .await
        .context("control request timed out")??;
    let request = match serde_json::from_str::<Request>(&line) {
        Ok(r) => r,
        Err(e) => {
            let reply = Reply {
                ok: false,
                message: format!("bad request: {e}"),
                answer: None,
            };
            return write_reply(&mut write, &reply).await;
        }
    };
    let (reply, mut replies) = Responder::pair();
    tx.send(Incoming { request, reply })
        .await
        .context("daemon is stopping")?;
    while let Some(r) = replies.recv().await {
        write_reply(&mut write, &r).await?;
        if !matches!(r.answer, Some(Answer::Progress(_))) {
            break;
        }
    }
    Ok(())
}

async fn write_reply(
    write: &mut tokio::net::unix::OwnedWriteHalf,
    reply: &Reply,
) -> anyhow::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut out = serde_json::to_vec(reply)?;
    out.push(b'\n');
    write.write_all(&out).await?;
    Ok(())
}

/// Ask the daemon running on `database`, if any: `Ok(None)` when none listens. `wait` bounds
/// the silence between two lines of the answer; `progress` sees each streamed line.
pub fn ask(
    database: &Path,
    req: &Request,
    wait: Duration,
    mut progress: impl FnMut(&PolledFeed),
) -> anyhow::Result<Option<Reply>> {
    let path = socket_path(database);
    let mut stream = match std::os::unix::net::UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "connecting to the daemon's control socket {} (run this as the daemon's user?)",
                    path.display()
                )
            });
        }
    };
    stream.set_read_timeout(Some(wait))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    let mut reader = BufReader::new(&stream);
    loop {
        let mut answer = String::new();
        let n = reader.read_line(&mut answer).with_context(|| {
            format!(
                "waiting for the daemon's answer to `{}` (no word for {} s)",
                req.name(),
                wait.as_secs()
            )
        })?;
        anyhow::ensure!(
            n > 0,
            "the daemon closed the connection before answering `{}` (did it stop?)",
            req.name()
        );
        let reply: Reply = serde_json::from_str(&answer)
            .with_context(|| format!("unexpected answer from the daemon: {answer:?}"))?;
        match &reply.answer {
            Some(Answer::Progress(p)) => progress(p),
            _ => return Ok(Some(reply)),
        }
    }
}

/// Tell the daemon running on `database`, if any. `Ok(false)`: no daemon listens.
pub fn notify(database: &Path, req: &Request) -> anyhow::Result<bool> {
    match ask(database, req, Duration::from_secs(5), |_| {})? {
        None => Ok(false),
        Some(reply) => {
            anyhow::ensure!(reply.ok, "the daemon refused: {}", reply.message);
            Ok(true)
        }
    }
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
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"cmd":"poll"}"#).unwrap(),
            Request::Poll { feeds: vec![] }
        );
        let reply = Reply {
            ok: true,
            message: String::new(),
            answer: Some(Answer::Retried {
                requeued: 2,
                missing: vec!["9".into()],
            }),
        };
        let s = serde_json::to_string(&reply).unwrap();
        assert_eq!(
            s,
            r#"{"ok":true,"message":"","answer":{"kind":"retried","requeued":2,"missing":["9"]}}"#
        );
        assert_eq!(serde_json::from_str::<Reply>(&s).unwrap(), reply);
    }

    #[tokio::test]
    async fn a_request_reaches_the_daemon_and_no_daemon_is_not_an_error() {
        use std::os::unix::fs::PermissionsExt;
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
        let mode = std::fs::metadata(socket_path(&db))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let path = db.clone();
        let sent = tokio::task::spawn_blocking(move || notify(&path, &Request::Deliver));
        let got = rx.recv().await.unwrap();
        assert_eq!(got.request, Request::Deliver);
        got.reply.ok("");
        assert!(sent.await.unwrap().unwrap());
        drop(server);
        assert!(!socket_path(&db).exists());
    }

    #[tokio::test]
    async fn progress_lines_come_before_the_answer_and_a_dropped_request_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let (_server, mut rx) = listen(&db).unwrap();
        let path = db.clone();
        let asked = tokio::task::spawn_blocking(move || {
            let mut seen = Vec::new();
            let reply = ask(
                &path,
                &Request::Poll { feeds: vec![] },
                Duration::from_secs(5),
                |p| seen.push(p.name.clone()),
            );
            (seen, reply)
        });
        let got = rx.recv().await.unwrap();
        let feed = PolledFeed {
            name: "a".into(),
            status: "ok".into(),
            http_status: Some(200),
            new_items: 1,
            updated_items: 0,
            error: None,
            alerts_queued: 0,
        };
        got.reply.progress(feed.clone());
        got.reply.answer(Answer::Polled { feeds: vec![feed] });
        let (seen, reply) = asked.await.unwrap();
        assert_eq!(seen, ["a"]);
        assert!(matches!(
            reply.unwrap().unwrap().answer,
            Some(Answer::Polled { .. })
        ));

        let path = db.clone();
        let asked = tokio::task::spawn_blocking(move || {
            ask(&path, &Request::Prune, Duration::from_secs(5), |_| {})
        });
        drop(rx.recv().await.unwrap());
        let err = asked.await.unwrap().unwrap_err();
        assert!(
            format!("{err:#}").contains("before answering `prune`"),
            "{err:#}"
        );
    }
}
