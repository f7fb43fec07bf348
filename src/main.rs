//! The command line (DESIGN.md §3): parse arguments, call into the library, print.

mod cli;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cli::{Failure, runtime};
use feedwatch::config::{self, Config, Secrets};

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
    /// Stories (one per event, however many outlets carried it) with every copy
    Stories {
        /// Only stories with a copy first seen within this duration (e.g. 24h, 7d)
        #[arg(long, value_parser = parse_since)]
        since: Option<std::time::Duration>,
        /// At most this many stories, newest first
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Full-text search of stored items, in the topic language (newest first)
    Search {
        /// A query, e.g. '(China OR Beijing) AND Lavrov -sponsored'
        query: String,
        /// Only items first seen within this duration (e.g. 24h, 7d)
        #[arg(long, value_parser = parse_since)]
        since: Option<std::time::Duration>,
        /// At most this many items
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Test a query or topic: explain a match on a text, or replay it over stored items
    Match {
        /// A query (or use --topic)
        query: Option<String>,
        /// Test this configured topic (its feed and tag filters apply in a replay)
        #[arg(long)]
        topic: Option<String>,
        /// Explain whether and why the query matches this text (first line: the title)
        #[arg(long)]
        text: Option<String>,
        /// Replay over items first seen within this duration: what would have alerted
        #[arg(long, value_parser = parse_since)]
        since: Option<std::time::Duration>,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Apply `retention` now: delete old items, keeping their keys (the daemon does it daily)
    Prune,
    /// Create or upgrade the database schema and exit (SQLite or PostgreSQL)
    Migrate {
        /// PostgreSQL only: then copy this SQLite database's feeds, items, stories and
        /// alerts into it (the PostgreSQL database must hold no feeds yet)
        #[arg(long, value_name = "SQLITE_FILE")]
        copy_from: Option<PathBuf>,
    },
    /// The nodes sharing a PostgreSQL database: heartbeat, buckets held, the clusterer
    Nodes {
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
        // Every field quoted and escaped when it is more than a word: feed text in a log
        // line can neither forge fields or lines nor send escapes to a terminal.
        .fmt_fields(feedwatch::logfmt::SafeFields)
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
        Command::Run | Command::Poll { .. } | Command::Migrate { .. } | Command::Nodes { .. } => {
            Secrets::Resolve
        }
        Command::Check => Secrets::Check,
        _ => Secrets::Skip,
    };
    let mut cfg = config::load(&path, secrets).map_err(|e| Failure::Usage(e.to_string()))?;
    if let Some(db) = &cli.db {
        cfg.daemon.database = db.clone();
    }
    Ok(cfg)
}

fn dispatch(cli: Cli) -> Result<ExitCode, Failure> {
    let cfg = load_config(&cli)?;
    if cfg.daemon.cluster.is_some()
        && !matches!(
            cli.command,
            Command::Run | Command::Check | Command::Migrate { .. } | Command::Nodes { .. }
        )
    {
        return Err(Failure::Usage(format!(
            "this command reads a SQLite database; {} names a PostgreSQL one, where `run`, `check`, `migrate` and `nodes` work so far",
            cfg.path.display()
        )));
    }
    match cli.command {
        Command::Migrate { copy_from } => cli::cluster::migrate(cfg, copy_from),
        Command::Nodes { json } => cli::cluster::nodes(cfg, json),
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
        Command::Poll { feeds, json } => cli::poll::run(cfg, feeds, json),
        Command::Feeds {
            action: Some(FeedsAction::Reset { name }),
            ..
        } => cli::feeds::reset(cfg, name),
        Command::Feeds { action: None, json } => cli::feeds::list(cfg, json),
        Command::Items {
            feed,
            topic,
            since,
            limit,
            json,
        } => cli::items::items(
            cfg,
            cli::items::ItemsArgs {
                feed,
                topic,
                since,
                limit,
                json,
            },
        ),
        Command::Stories { since, limit, json } => cli::items::stories(cfg, since, limit, json),
        Command::Prune => cli::prune::run(cfg),
        Command::Search {
            query,
            since,
            limit,
            json,
        } => cli::items::search(cfg, query, since, limit, json),
        Command::Match {
            query,
            topic,
            text,
            since,
            json,
        } => cli::items::matches(
            cfg,
            cli::items::MatchArgs {
                query,
                topic,
                text,
                since,
                json,
            },
        ),
        Command::Alerts {
            action: Some(AlertsAction::Retry { ids }),
            ..
        } => cli::alerts::retry(cfg, ids),
        Command::Alerts {
            action: None,
            status,
            json,
        } => cli::alerts::list(cfg, status, json),
    }
}
