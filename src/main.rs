//! The command line (DESIGN.md §3): parse arguments, call into the library, print.

#[macro_use]
mod cli;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser};

use cli::args::{AlertsAction, Cli, Command, FeedsAction, OpmlAction};
use cli::{Failure, runtime};
use feedwatch::config::{self, Config, Secrets};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One-shot commands log at warn: their output is the summary, not the log lines.
    feedwatch::logging::init(matches!(cli.command, Command::Run));
    let code = match dispatch(cli) {
        Ok(code) => code,
        Err(Failure::Usage(msg)) => {
            cli::out::note(&msg);
            ExitCode::from(2)
        }
        Err(Failure::Runtime(e)) => {
            cli::out::note(&format!("feedwatch: {e:#}"));
            ExitCode::from(1)
        }
    };
    // A reader that stopped reading is no failure (as with `ls | head`); a lost write is.
    match cli::out::finish() {
        Ok(()) => code,
        Err(e) => {
            cli::out::note(&format!("feedwatch: {e}"));
            ExitCode::from(1)
        }
    }
}

/// What a command needs from the config file and the database's location.
struct Setup<'a> {
    config: Option<&'a Path>,
    db: Option<&'a Path>,
}

impl Setup<'_> {
    /// The config, with `--db` applied. Only the commands that send need the secrets; the
    /// others must work from a shell that lacks the service's environment and credentials.
    fn load(&self, secrets: Secrets) -> Result<Config, Failure> {
        let path = config::resolve_path(self.config);
        let mut cfg = config::load(&path, secrets).map_err(|e| Failure::Usage(e.to_string()))?;
        if let Some(db) = self.db {
            cfg.daemon.database = db.to_path_buf();
        }
        Ok(cfg)
    }

    /// The config of a command that works on a SQLite database only (all but `run`, `check`,
    /// `migrate`, `status` and `nodes` so far).
    fn sqlite(&self, secrets: Secrets) -> Result<Config, Failure> {
        refuse_cluster(self.load(secrets)?)
    }

    /// The config of a command that may create the database (`run`, `poll`): the default
    /// location's directory is created (0700); a chosen path's never is.
    fn load_for_writing(&self) -> Result<Config, Failure> {
        let cfg = self.load(Secrets::Resolve)?;
        if !self.database_is_chosen(&cfg) {
            cli::create_default_dir(&cfg.daemon.database)?;
        }
        Ok(cfg)
    }

    /// Whether the database path was chosen (`--db`, or `database` in the config) rather
    /// than left to the default.
    fn database_is_chosen(&self, cfg: &Config) -> bool {
        self.db.is_some()
            || std::fs::read_to_string(&cfg.path)
                .ok()
                .and_then(|src| src.parse::<toml::Table>().ok())
                .and_then(|t| t.get("daemon")?.get("database").cloned())
                .is_some()
    }
}

fn refuse_cluster(cfg: Config) -> Result<Config, Failure> {
    if cfg.daemon.cluster.is_some() {
        return Err(Failure::Usage(format!(
            "this command reads a SQLite database; {} names a PostgreSQL one, where `run`, `check`, `migrate`, `status` and `nodes` work so far",
            cfg.path.display()
        )));
    }
    Ok(cfg)
}

/// Generated text (completions, the man page) to stdout, line by line.
fn emit(bytes: &[u8]) -> Result<ExitCode, Failure> {
    for line in String::from_utf8_lossy(bytes).lines() {
        cli::out::raw_line(line);
    }
    Ok(ExitCode::SUCCESS)
}

fn dispatch(cli: Cli) -> Result<ExitCode, Failure> {
    let setup = Setup {
        config: cli.config.as_deref(),
        db: cli.db.as_deref(),
    };
    let read = || setup.sqlite(Secrets::Skip);
    match cli.command {
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "feedwatch", &mut out);
            emit(&out)
        }
        Command::Manpage { dir: None } => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .context("rendering the man page")?;
            emit(&out)
        }
        Command::Manpage { dir: Some(dir) } => {
            if !dir.is_dir() {
                return Err(Failure::Usage(format!(
                    "{} is not a directory",
                    dir.display()
                )));
            }
            clap_mangen::generate_to(Cli::command(), &dir)
                .with_context(|| format!("writing man pages to {}", dir.display()))?;
            say!(
                "wrote feedwatch.1 and a page per command to {}",
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Check => {
            let cfg = setup.load(Secrets::Check)?;
            for w in &cfg.warnings {
                cli::out::note(w);
            }
            say!(
                "{}: ok ({} feeds, {} topics, {} notifiers)",
                cfg.path.display(),
                cfg.feeds.len(),
                cfg.topics.len(),
                cfg.notifiers.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Run => {
            let cfg = setup.load_for_writing()?;
            runtime()?.block_on(feedwatch::daemon::run(cfg))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Poll { feeds, json } => {
            cli::poll::run(refuse_cluster(setup.load_for_writing()?)?, feeds, json)
        }
        Command::Migrate { copy_from } => {
            cli::cluster::migrate(setup.load(Secrets::Resolve)?, copy_from)
        }
        Command::Nodes { json } => cli::cluster::nodes(setup.load(Secrets::DatabaseOnly)?, json),
        Command::Status { json } => {
            let cfg = setup.load(Secrets::Skip)?;
            // A cluster's status is read from PostgreSQL, which wants the database's password
            // (and no other secret: a shell without the notifiers' credentials can ask).
            let cfg = if cfg.daemon.cluster.is_some() {
                setup.load(Secrets::DatabaseOnly)?
            } else {
                cfg
            };
            cli::status::run(cfg, json)
        }
        Command::Feeds {
            action: Some(FeedsAction::Reset { name }),
            ..
        } => cli::feeds::reset(read()?, name),
        Command::Feeds { action: None, json } => cli::feeds::list(read()?, json),
        Command::Items {
            feed,
            topic,
            since,
            limit,
            json,
        } => cli::items::items(
            read()?,
            cli::items::ItemsArgs {
                feed,
                topic,
                since,
                limit,
                json,
            },
        ),
        Command::Stories { since, limit, json } => cli::items::stories(read()?, since, limit, json),
        Command::Prune => cli::prune::run(read()?),
        Command::Search {
            query,
            since,
            limit,
            json,
        } => cli::items::search(read()?, query, since, limit, json),
        Command::Match {
            query,
            topic,
            text,
            since,
            json,
        } => cli::items::matches(
            read()?,
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
        } => cli::alerts::retry(read()?, ids),
        Command::Alerts {
            action: None,
            status,
            json,
        } => cli::alerts::list(read()?, status, json),
        // The config may not exist yet: `--write` creates it.
        Command::Opml {
            action: OpmlAction::Import { file, write },
        } => cli::opml::import(&config::resolve_path(setup.config), &file, write),
        Command::Opml {
            action: OpmlAction::Export,
        } => cli::opml::export(read()?),
    }
}
