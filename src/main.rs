//! The command line (DESIGN.md §3): parse arguments, call into the library, print.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use clap::{Parser, Subcommand};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use feedwatch::config::{self, Config, Secrets};
use feedwatch::control;
use feedwatch::notify::{DeliveryLock, Dispatcher};
use feedwatch::poll::{FeedReport, Poller};
use feedwatch::store::{ItemFilter, Store, outbox, queries};

#[derive(Parser)]
#[command(
    name = "feedwatch",
    version,
    about = "Polls news feeds, stores every item once, alerts on topics"
)]
struct Cli {
    /// Config file [default: $FEEDWATCH_CONFIG, else /etc/feedwatch/feedwatch.toml]
    #[arg(short, long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Database file, overriding the config's `database`
    #[arg(long, global = true, value_name = "FILE")]
    db: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon in the foreground (what systemd starts)
    Run,
    /// Poll now (all feeds, or the named ones), store, deliver, print a summary, exit
    Poll {
        feeds: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Validate the config: exit 0, or exit 2 with FILE:LINE:COL messages
    Check,
    /// Each feed: URL in use, state, last poll, last error, next poll, item count
    Feeds {
        #[command(subcommand)]
        action: Option<FeedsAction>,
        #[arg(long)]
        json: bool,
    },
    /// Stored items, newest first
    Items {
        #[arg(long)]
        feed: Option<String>,
        #[arg(long)]
        topic: Option<String>,
        /// Only items first seen within this duration (e.g. 24h, 7d)
        #[arg(long, value_parser = parse_since)]
        since: Option<std::time::Duration>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Alerts in the outbox
    Alerts {
        #[command(subcommand)]
        action: Option<AlertsAction>,
        #[arg(long, value_parser = ["pending", "sent", "failed"])]
        status: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum FeedsAction {
    /// Clear a gone or failing state: the feed is polled again at once
    Reset { name: String },
}

#[derive(Subcommand)]
enum AlertsAction {
    /// Requeue failed alerts (the given ids or uids, or all failed ones)
    Retry { ids: Vec<String> },
}

fn parse_since(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (expected e.g. 30m, 24h, 7d)"))
}

/// A failure of the command's own work (exit 1) versus a usage or config problem (exit 2).
enum Failure {
    Usage(String),
    Runtime(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Runtime(e)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(matches!(cli.command, Command::Run | Command::Poll { .. }));
    match dispatch(cli) {
        Ok(code) => code,
        Err(Failure::Usage(msg)) => {
            eprintln!("{msg}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(e)) => {
            eprintln!("feedwatch: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(verbose: bool) {
    let default = if verbose { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Under systemd stderr is the journal, not a terminal: no colour codes there.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn load_config(cli: &Cli) -> Result<Config, Failure> {
    let path = config::resolve_path(cli.config.as_deref());
    // Only the commands that send need the secrets; the others must work from a shell that
    // lacks the service's environment and credentials.
    let secrets = match cli.command {
        Command::Run | Command::Poll { .. } => Secrets::Resolve,
        Command::Check => Secrets::Check,
        _ => Secrets::Skip,
    };
    let mut cfg = config::load(&path, secrets).map_err(|e| Failure::Usage(e.to_string()))?;
    if let Some(db) = &cli.db {
        cfg.daemon.database = db.clone();
    }
    Ok(cfg)
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?)
}

fn print_json<T: Serialize>(v: &T) -> Result<(), Failure> {
    println!(
        "{}",
        serde_json::to_string_pretty(v).context("encoding JSON")?
    );
    Ok(())
}

fn dispatch(cli: Cli) -> Result<ExitCode, Failure> {
    let cfg = load_config(&cli)?;
    match cli.command {
        Command::Check => {
            for w in &cfg.warnings {
                eprintln!("{w}");
            }
            println!(
                "{}: ok ({} feeds, {} topics, {} notifiers)",
                cfg.path.display(),
                cfg.feeds.len(),
                cfg.topics.len(),
                cfg.notifiers.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Run => {
            runtime()?.block_on(feedwatch::daemon::run(cfg))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Poll { feeds, json } => poll(cfg, feeds, json),
        Command::Feeds {
            action: Some(FeedsAction::Reset { name }),
            ..
        } => {
            if cfg.feed(&name).is_none() {
                return Err(Failure::Usage(format!(
                    "no feed named `{name}` in {}",
                    cfg.path.display()
                )));
            }
            let db = cfg.daemon.database.clone();
            runtime()?.block_on(async {
                let store = Store::open_existing(&db, cfg.daemon.store)?;
                store
                    .writer()
                    .sync_feeds(queries::FeedSync::from_config(&cfg, Utc::now()))
                    .await?;
                store.writer().reset_feed(&name).await
            })?;
            let told = control::notify(
                &db,
                &control::Request::FeedsChanged {
                    feeds: vec![name.clone()],
                },
            );
            match told {
                Ok(true) => println!("{name}: reset; the running daemon polls it now"),
                Ok(false) => println!(
                    "{name}: reset; no daemon is running: `feedwatch poll {name}` or the next daemon start polls it"
                ),
                Err(e) => println!(
                    "{name}: reset; the running daemon could not be told ({e:#}): it polls the feed after its next restart"
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Feeds { action: None, json } => {
            let store = Store::open_existing(&cfg.daemon.database, cfg.daemon.store)?;
            let feeds = store.read(|c| queries::list_feeds(c, &cfg))?;
            if json {
                print_json(&feeds)?;
            } else {
                println!(
                    "{:<24} {:<8} {:>4} {:>6}  {:<24} {:<24} URL / ERROR",
                    "NAME", "STATE", "HTTP", "ITEMS", "LAST POLL", "NEXT POLL"
                );
                for f in feeds {
                    println!(
                        "{:<24} {:<8} {:>4} {:>6}  {:<24} {:<24} {}{}",
                        f.name,
                        f.state,
                        f.http_status
                            .map(|s| s.to_string())
                            .unwrap_or_else(|| "-".into()),
                        f.items,
                        f.last_poll.as_deref().unwrap_or("-"),
                        f.next_poll.as_deref().unwrap_or("-"),
                        f.url,
                        f.error
                            .map(|e| format!("\n    error: {e}"))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Items {
            feed,
            topic,
            since,
            limit,
            json,
        } => {
            if let Some(f) = feed.as_ref().filter(|f| cfg.feed(f).is_none()) {
                return Err(Failure::Usage(format!(
                    "no feed named `{f}` in {}",
                    cfg.path.display()
                )));
            }
            if let Some(t) = topic
                .as_ref()
                .filter(|t| !cfg.topics.iter().any(|x| &x.name == *t))
            {
                return Err(Failure::Usage(format!(
                    "no topic named `{t}` in {}",
                    cfg.path.display()
                )));
            }
            let store = Store::open_existing(&cfg.daemon.database, cfg.daemon.store)?;
            let since = since
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .map(|d| Utc::now() - d);
            let items = store.read(|c| {
                queries::list_items(
                    c,
                    &ItemFilter {
                        feed,
                        topic,
                        since,
                        limit,
                    },
                )
            })?;
            if json {
                print_json(&items)?;
            } else {
                for i in items {
                    println!("{:>6}  {}  {:<16} {}", i.id, i.first_seen, i.feed, i.title);
                    if let Some(u) = &i.url {
                        println!("        {u}");
                    }
                    if !i.topics.is_empty() {
                        println!("        topics: {}", i.topics.join(", "));
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Alerts {
            action: Some(AlertsAction::Retry { ids }),
            ..
        } => {
            let db = cfg.daemon.database.clone();
            let (n, missing) = runtime()?.block_on(async {
                let store = Store::open_existing(&db, cfg.daemon.store)?;
                store.writer().retry_alerts(ids, Utc::now()).await
            })?;
            println!("{n} alert(s) requeued");
            if n > 0
                && let Err(e) = control::notify(&db, &control::Request::Deliver)
            {
                eprintln!(
                    "the running daemon could not be told ({e:#}): it sends them after its next restart"
                );
            }
            if missing.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("no failed alert with id {}", missing.join(", "));
                Ok(ExitCode::from(1))
            }
        }
        Command::Alerts {
            action: None,
            status,
            json,
        } => {
            let store = Store::open_existing(&cfg.daemon.database, cfg.daemon.store)?;
            let alerts = store.read(|c| queries::list_alerts(c, status.as_deref()))?;
            if json {
                print_json(&alerts)?;
            } else {
                for a in alerts {
                    // A feed-health event has no topic or story: say what and which feed.
                    let what = match (&a.topic, &a.feed) {
                        (Some(t), _) => t.clone(),
                        (None, Some(f)) => format!("{} {f}", a.event),
                        (None, None) => a.event.clone(),
                    };
                    let story = a
                        .story
                        .map(|s| format!("story {s:<6}"))
                        .unwrap_or_else(|| format!("{:<12}", ""));
                    println!(
                        "{:>6}  {}  {:<8} {:<20} {:<12} {} attempts {}  {}{}",
                        a.id,
                        a.uid,
                        a.status,
                        what,
                        a.notifier,
                        story,
                        a.attempts,
                        a.created,
                        a.last_error
                            .map(|e| format!("\n        last error: {e}"))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Serialize)]
struct PollSummary {
    feeds: Vec<FeedReport>,
    new_items: usize,
    updated_items: usize,
    alerts_sent: usize,
    alerts_pending: usize,
    alerts_failed: usize,
}

fn poll(cfg: Config, names: Vec<String>, json: bool) -> Result<ExitCode, Failure> {
    for n in &names {
        if cfg.feed(n).is_none() {
            return Err(Failure::Usage(format!(
                "no feed named `{n}` in {}",
                cfg.path.display()
            )));
        }
    }
    let cfg = Arc::new(cfg);
    let summary = runtime()?.block_on(async {
        let store = Arc::new(Store::open(&cfg.daemon.database, cfg.daemon.store)?);
        store
            .writer()
            .sync_feeds(queries::FeedSync::from_config(&cfg, Utc::now()))
            .await?;
        let mut states: std::collections::HashMap<String, _> = store
            .read_async(queries::feed_states)
            .await?
            .into_iter()
            .map(|s| (s.name.clone(), s))
            .collect();
        let poller = Poller::new(Arc::clone(&store), Arc::clone(&cfg))?;
        let mut reports: Vec<FeedReport> = Vec::new();
        let mut to_poll = Vec::new();
        for feed in cfg
            .feeds
            .iter()
            .filter(|f| names.is_empty() || names.contains(&f.name))
        {
            let Some(state) = states.remove(&feed.name) else {
                continue;
            };
            // Gone feeds are polled only when named: `feeds reset` is the way back.
            if names.is_empty() && state.is_gone() {
                reports.push(FeedReport::skipped(
                    &feed.name,
                    "gone (410): `feedwatch feeds reset` to poll it again".into(),
                ));
                continue;
            }
            to_poll.push((feed.clone(), state));
        }
        let polled: Vec<String> = to_poll.iter().map(|(f, _)| f.name.clone()).collect();
        reports.extend(poller.sweep(to_poll).await.into_iter().map(|(r, _)| r));
        let order: Vec<&str> = cfg.feeds.iter().map(|f| f.name.as_str()).collect();
        reports.sort_by_key(|r| order.iter().position(|n| *n == r.name));
        // While the daemon runs it holds the delivery lock and sends what this poll queued.
        let stats = match DeliveryLock::try_acquire(&cfg.daemon.database)? {
            Some(_lock) => {
                Dispatcher::new(Arc::clone(&store), Arc::clone(&cfg))?
                    .deliver_due(&CancellationToken::new())
                    .await?
            }
            None => {
                let db = cfg.daemon.database.clone();
                let told = tokio::task::spawn_blocking(move || {
                    control::notify(&db, &control::Request::FeedsChanged { feeds: polled })?;
                    control::notify(&db, &control::Request::Deliver)
                })
                .await?;
                match told {
                    Ok(true) => tracing::info!("the daemon is running: it delivers the alerts"),
                    _ => tracing::warn!(
                        "another process holds the delivery lock: it delivers the alerts"
                    ),
                }
                Default::default()
            }
        };
        let pending = store.read_async(outbox::count_pending).await?;
        anyhow::Ok(PollSummary {
            new_items: reports.iter().map(|r| r.new_items).sum(),
            updated_items: reports.iter().map(|r| r.updated_items).sum(),
            feeds: reports,
            alerts_sent: stats.sent,
            alerts_pending: pending,
            alerts_failed: stats.failed,
        })
    })?;
    let failed = summary
        .feeds
        .iter()
        .any(|f| f.status == "error" || f.status == "gone");
    if json {
        print_json(&summary)?;
    } else {
        for f in &summary.feeds {
            println!(
                "{:<24} {:<12} {:>4} {:>4} new{}",
                f.name,
                f.status,
                f.http_status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                f.new_items,
                f.error
                    .as_ref()
                    .map(|e| format!("  error: {e}"))
                    .unwrap_or_default()
            );
        }
        println!(
            "{} new items; alerts: {} sent, {} pending, {} failed",
            summary.new_items, summary.alerts_sent, summary.alerts_pending, summary.alerts_failed
        );
    }
    // A feed that failed makes the exit status 1, so a cron job or script notices.
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
