//! The optional health and metrics endpoint (`[http] listen`): `GET /healthz` and
//! `GET /metrics`, HTTP/1.1 only, on the address the config names (loopback in the example).
//!
//! It decides what "healthy" means: the database writer is alive, not stuck in one batch and
//! not refusing writes, and the scheduler loop ran when it said it would. A daemon that idles
//! until its next due poll is healthy; one whose loop missed its wake-up by more than
//! [`STUCK_AFTER`] is not. Everything is computed when asked: nothing here wakes the daemon.

mod scrape;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::store::{Store, WriterHealth};

/// The scheduler loop is stuck when it is this late for the wake-up it planned.
pub const STUCK_AFTER: Duration = Duration::from_secs(30);
/// The writer is stuck when one batch has run this long (a batch normally takes milliseconds).
pub const BATCH_STUCK_AFTER: Duration = Duration::from_secs(30);
/// Connections served at once; more wait in the kernel's backlog.
const CONNECTIONS: usize = 16;

/// When the scheduler loop plans to run next: set by the loop before each sleep.
pub struct Pulse {
    origin: Instant,
    /// Milliseconds after `origin`; `u64::MAX` when nothing is planned.
    due: AtomicU64,
}

impl Default for Pulse {
    fn default() -> Self {
        Self {
            origin: Instant::now(),
            due: AtomicU64::new(u64::MAX),
        }
    }
}

impl Pulse {
    /// The loop will run again by `at` (or, `None`, only when something happens).
    pub fn expect_by(&self, at: Option<Instant>) {
        let ms = at.map_or(u64::MAX, |t| {
            t.saturating_duration_since(self.origin).as_millis() as u64
        });
        self.due.store(ms, Ordering::Relaxed);
    }

    /// How late the loop is at `now`, if it is.
    pub fn overdue(&self, now: Instant) -> Option<Duration> {
        let due = self.due.load(Ordering::Relaxed);
        if due == u64::MAX {
            return None;
        }
        let now = now.saturating_duration_since(self.origin).as_millis() as u64;
        now.checked_sub(due)
            .filter(|&late| late > 0)
            .map(Duration::from_millis)
    }
}

/// What health is judged from, read at one moment.
#[derive(Debug, Clone, Default)]
pub struct Vitals {
    pub writer_stopped: bool,
    pub writer_failing_for: Option<Duration>,
    pub writer_error: Option<String>,
    pub writer_busy_for: Option<Duration>,
    pub scheduler_overdue: Option<Duration>,
}

impl Vitals {
    pub fn read(writer: &WriterHealth, pulse: &Pulse) -> Self {
        Self {
            writer_stopped: writer.stopped(),
            writer_failing_for: writer.failing_for(),
            writer_error: writer.last_error(),
            writer_busy_for: writer.busy_for(),
            scheduler_overdue: pulse.overdue(Instant::now()),
        }
    }
}

/// `Ok` when the daemon makes progress, else every reason it does not, one per line.
pub fn verdict(v: &Vitals) -> Result<(), String> {
    let mut why = Vec::new();
    if v.writer_stopped {
        why.push("the database writer has stopped".to_string());
    }
    if let Some(f) = v.writer_failing_for {
        why.push(format!(
            "the database has refused writes for {} s: {}",
            f.as_secs(),
            crate::text::one_line(v.writer_error.as_deref().unwrap_or("unknown error"))
        ));
    }
    if let Some(b) = v.writer_busy_for.filter(|b| *b >= BATCH_STUCK_AFTER) {
        why.push(format!(
            "the database writer has been stuck in one batch for {} s",
            b.as_secs()
        ));
    }
    if let Some(late) = v.scheduler_overdue.filter(|l| *l >= STUCK_AFTER) {
        why.push(format!(
            "the scheduler loop is stuck: {} s late for its planned wake-up",
            late.as_secs()
        ));
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why.join("\n"))
    }
}

/// What the endpoint reads.
pub struct Shared {
    pub store: Arc<Store>,
    pub config: watch::Receiver<Arc<Config>>,
    pub pulse: Arc<Pulse>,
}

/// A listening endpoint; stops when dropped.
pub struct Endpoint {
    pub addr: SocketAddr,
    stop: CancellationToken,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Listen on `addr` and serve until the returned endpoint is dropped.
pub async fn start(addr: SocketAddr, shared: Arc<Shared>) -> anyhow::Result<Endpoint> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (`[http] listen`)"))?;
    let addr = listener.local_addr().unwrap_or(addr);
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "the health and metrics endpoint is reachable from other machines; it has no authentication");
    }
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move {
        let permits = Arc::new(Semaphore::new(CONNECTIONS));
        loop {
            let accepted = tokio::select! {
                _ = token.cancelled() => return,
                a = listener.accept() => a,
            };
            let Ok((stream, _)) = accepted else { continue };
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                return;
            };
            let (shared, token) = (Arc::clone(&shared), token.clone());
            tokio::spawn(async move {
                let _permit = permit;
                let service = hyper::service::service_fn(move |req| {
                    let shared = Arc::clone(&shared);
                    async move { Ok::<_, Infallible>(respond(req, &shared).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    _ = token.cancelled() => {}
                    r = conn => if let Err(e) = r {
                        tracing::debug!(error = %e, "health/metrics connection");
                    },
                }
            });
        }
    });
    tracing::info!(%addr, "serving /healthz and /metrics");
    Ok(Endpoint { addr, stop })
}

/// Keep an endpoint listening where the config says, following reloads, until `shutdown`.
/// `current` is the endpoint `run` started (its failure to bind stops the daemon at start; on
/// a reload, a new address that cannot be bound is logged and the old endpoint kept).
pub async fn follow(
    mut current: Option<Endpoint>,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let mut config = shared.config.clone();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            changed = config.changed() => if changed.is_err() { return },
        }
        let want = config.borrow_and_update().http.as_ref().map(|h| h.listen);
        if want == current.as_ref().map(|e| e.addr) {
            continue;
        }
        let Some(addr) = want else {
            tracing::info!("no `[http] listen` any more: endpoint stopped");
            current = None;
            continue;
        };
        if let Err(e) = crate::metrics::install(&config.borrow()) {
            tracing::error!(error = %format!("{e:#}"), "metrics");
        }
        let mut started = start(addr, Arc::clone(&shared)).await;
        if started.is_err() && current.is_some() {
            // The same port on another address of this host: free it first.
            current = None;
            started = start(addr, Arc::clone(&shared)).await;
        }
        match started {
            Ok(e) => current = Some(e),
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "health and metrics endpoint not moved")
            }
        }
    }
}

fn text(status: StatusCode, body: String, content_type: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    resp.headers_mut().insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    resp
}

const PLAIN: &str = "text/plain; charset=utf-8";
/// The Prometheus text exposition format.
const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

async fn respond(req: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    let method = req.method();
    match (path, method) {
        ("/healthz", &Method::GET | &Method::HEAD) => {
            let writer = Arc::clone(shared.store.writer().health());
            match verdict(&Vitals::read(&writer, &shared.pulse)) {
                Ok(()) => text(StatusCode::OK, "ok\n".into(), PLAIN),
                Err(why) => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("unhealthy\n{why}\n"),
                    PLAIN,
                ),
            }
        }
        ("/metrics", &Method::GET) => {
            let config = Arc::clone(&shared.config.borrow());
            match scrape::render(&shared.store, config).await {
                Ok(body) => text(StatusCode::OK, body, PROMETHEUS),
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "metrics scrape failed");
                    text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("metrics unavailable: {e:#}\n"),
                        PLAIN,
                    )
                }
            }
        }
        ("/healthz" | "/metrics", _) => {
            let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only GET\n".into(), PLAIN);
            r.headers_mut().insert(
                hyper::header::ALLOW,
                hyper::header::HeaderValue::from_static("GET, HEAD"),
            );
            r
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /healthz or /metrics\n".into(),
            PLAIN,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_healthy_daemon_may_idle_for_hours() {
        let pulse = Pulse::default();
        pulse.expect_by(Some(Instant::now() + Duration::from_secs(6 * 3600)));
        let v = Vitals {
            scheduler_overdue: pulse.overdue(Instant::now()),
            ..Default::default()
        };
        assert_eq!(verdict(&v), Ok(()));
        pulse.expect_by(None);
        assert_eq!(
            pulse.overdue(Instant::now() + Duration::from_secs(86400)),
            None
        );
    }

    #[test]
    fn a_late_scheduler_is_stuck_only_past_the_margin() {
        let pulse = Pulse::default();
        let now = Instant::now();
        pulse.expect_by(Some(now));
        let late = |d| Vitals {
            scheduler_overdue: pulse.overdue(now + d),
            ..Default::default()
        };
        assert_eq!(verdict(&late(Duration::from_secs(5))), Ok(()));
        let why = verdict(&late(Duration::from_secs(45))).unwrap_err();
        assert!(why.contains("scheduler loop is stuck: 45 s late"), "{why}");
    }

    #[test]
    fn every_writer_problem_is_a_reason() {
        let v = Vitals {
            writer_stopped: true,
            writer_failing_for: Some(Duration::from_secs(3)),
            writer_error: Some("database is locked\nsecond line".into()),
            writer_busy_for: Some(Duration::from_secs(40)),
            scheduler_overdue: None,
        };
        let why = verdict(&v).unwrap_err();
        let lines: Vec<&str> = why.lines().collect();
        assert_eq!(lines.len(), 3, "{why}");
        assert_eq!(lines[0], "the database writer has stopped");
        assert!(
            lines[1].starts_with("the database has refused writes for 3 s: database is locked")
        );
        assert!(lines[2].contains("stuck in one batch for 40 s"));
        let busy_but_fine = Vitals {
            writer_busy_for: Some(Duration::from_millis(300)),
            ..Default::default()
        };
        assert_eq!(verdict(&busy_but_fine), Ok(()));
    }
}
