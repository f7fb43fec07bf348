//! The command line's definition (DESIGN.md §3): every command and flag with its help and
//! examples, and the checks on argument values. Completions and the man page are generated
//! from this, and tests check the README's command list against it.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

const ENVIRONMENT: &str = "\
Environment:
  FEEDWATCH_CONFIG    config file when --config is not given
  RUST_LOG            log filter (default: info for `run`, warn for the other commands)
  NO_COLOR            set (to anything but empty) to turn colour off
  FEEDWATCH_TERMINAL  1: format output for a person even when piped; 0: for scripts
                      (tab-separated tables, RFC 3339 UTC times) even on a terminal

Exit codes: 0 success; 1 runtime failure (for `poll`: a feed failed or is gone);
2 usage or config error.

Examples:
  feedwatch -c /etc/feedwatch/feedwatch.toml check
  feedwatch poll                      # poll every feed now, deliver, summarise
  feedwatch status                    # what the daemon is doing
  feedwatch items --since 24h --topic china-russia
  feedwatch completions bash > /etc/bash_completion.d/feedwatch";

#[derive(Parser)]
#[command(
    name = "feedwatch",
    version,
    about = "Polls news feeds, stores every item once, groups stories, alerts on topics",
    long_about = "Polls news feeds (RSS, Atom, JSON Feed) on cron schedules, stores every item once \
in SQLite, recognises the same story carried by several outlets, and sends one alert per story \
when it matches a topic. `feedwatch run` is the daemon; the other commands look at or adjust \
what it stored, and while a daemon runs the commands that change state ask it to do the work.",
    after_help = ENVIRONMENT
)]
pub struct Cli {
    /// Config file [default: $FEEDWATCH_CONFIG, else /etc/feedwatch/feedwatch.toml]
    #[arg(short, long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database file, overriding the config's `database` (its directory must exist)
    #[arg(long, global = true, value_name = "FILE")]
    pub db: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground (what systemd starts)
    ///
    /// Polls every feed on its schedule, stores and groups items, and delivers alerts until
    /// SIGTERM or Ctrl-C. One daemon runs per database: a second one refuses at once. Logs go
    /// to stderr at info unless RUST_LOG says otherwise.
    #[command(
        after_help = "Examples:\n  feedwatch -c config/feedwatch.toml run\n  RUST_LOG=debug feedwatch run"
    )]
    Run,

    /// Poll now (all feeds, or the named ones), store, deliver, print a summary, exit
    ///
    /// Gone feeds are skipped unless named, and a feed is never fetched before the Retry-After
    /// its server gave. While a daemon runs, it does the polling with its own config and this
    /// command prints what it reports; otherwise the polls run here and this command delivers
    /// the alerts they queue. Exit status 1 when a feed failed or is gone.
    #[command(
        after_help = "Examples:\n  feedwatch poll\n  feedwatch poll agency-wire outlet-two\n  feedwatch poll --json | jq .new_items"
    )]
    Poll {
        /// Feeds to poll, by their config `name` (default: every feed)
        #[arg(value_name = "FEED")]
        feeds: Vec<String>,
        /// Print JSON (`{feeds: [...], new_items, alerts_sent, alerts_pending, ...}`)
        #[arg(long)]
        json: bool,
    },

    /// Validate the config: exit 0, or exit 2 with FILE:LINE:COL messages
    ///
    /// Every problem is listed at once, each with the file, line and column, what was expected
    /// and an example; warnings (a topic that tells no one, say) do not change the exit status.
    #[command(after_help = "Examples:\n  feedwatch -c /etc/feedwatch/feedwatch.toml check")]
    Check,

    /// What the daemon is doing: running or not, feeds by state, recent activity, outbox
    ///
    /// One screen: whether a daemon runs (since when, its pid and config), feeds by state,
    /// feeds polled and new items in the last hour and day, the outbox per notifier, the
    /// oldest pending alert, failing feeds with their errors, and the database size.
    #[command(
        after_help = "Examples:\n  feedwatch status\n  feedwatch status --json | jq .daemon.running"
    )]
    Status {
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },

    /// Each feed: URL in use, state, last poll, next poll and why, errors, item count
    ///
    /// On a terminal, an aligned table (long values cut with …; `--json` has them in full)
    /// with the error and any repairs under a feed; piped, one tab-separated line per feed.
    #[command(
        after_help = "Examples:\n  feedwatch feeds\n  feedwatch feeds --json | jq '.[] | select(.state != \"ok\")'\n  feedwatch feeds reset agency-wire"
    )]
    Feeds {
        #[command(subcommand)]
        action: Option<FeedsAction>,
        /// Print JSON (`[{name, url, state, http_status, last_poll, ...}]`)
        #[arg(long)]
        json: bool,
    },

    /// Stored items, newest first
    #[command(
        after_help = "Examples:\n  feedwatch items --since 24h\n  feedwatch items --feed agency-wire --limit 10\n  feedwatch items --topic china-russia --json"
    )]
    Items {
        /// Only items of this feed (a config `name`)
        #[arg(long, value_name = "FEED")]
        feed: Option<String>,
        /// Only items that matched this topic (a config `name`)
        #[arg(long, value_name = "TOPIC")]
        topic: Option<String>,
        /// Only items first seen within this duration (e.g. 30m, 24h, 7d)
        #[arg(long, value_name = "DURATION", value_parser = parse_since, allow_hyphen_values = true)]
        since: Option<Duration>,
        /// At most this many items (1 to 1000000)
        #[arg(long, value_name = "N", default_value_t = 50, value_parser = parse_limit, allow_hyphen_values = true)]
        limit: usize,
        /// Print JSON (`[{id, feed, guid, title, url, published, first_seen, story, topics}]`)
        #[arg(long)]
        json: bool,
    },

    /// Stories (one per event, however many outlets carried it) with every copy
    #[command(
        after_help = "Examples:\n  feedwatch stories --since 24h\n  feedwatch stories --limit 5 --json"
    )]
    Stories {
        /// Only stories with a copy first seen within this duration (e.g. 24h, 7d)
        #[arg(long, value_name = "DURATION", value_parser = parse_since, allow_hyphen_values = true)]
        since: Option<Duration>,
        /// At most this many stories, newest first (1 to 1000000)
        #[arg(long, value_name = "N", default_value_t = 50, value_parser = parse_limit, allow_hyphen_values = true)]
        limit: usize,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },

    /// Full-text search of stored items, in the topic language (newest first)
    #[command(
        after_help = "Examples:\n  feedwatch search 'Lavrov AND (Beijing OR China)'\n  feedwatch search 'title:sanction*' --since 7d --limit 20"
    )]
    Search {
        /// A query, e.g. '(China OR Beijing) AND Lavrov -sponsored'
        query: String,
        /// Only items first seen within this duration (e.g. 24h, 7d)
        #[arg(long, value_name = "DURATION", value_parser = parse_since, allow_hyphen_values = true)]
        since: Option<Duration>,
        /// At most this many items (1 to 1000000)
        #[arg(long, value_name = "N", default_value_t = 50, value_parser = parse_limit, allow_hyphen_values = true)]
        limit: usize,
        /// Print JSON (the `items --json` shape plus `matched_terms`)
        #[arg(long)]
        json: bool,
    },

    /// Test a query or topic: explain a match on a text, or replay it over stored items
    ///
    /// With --text, says whether and why the query matches that text (its first line stands
    /// for the title). With --since, replays the query over the items stored in that window
    /// and lists the stories that would have alerted; nothing is sent.
    #[command(
        after_help = "Examples:\n  feedwatch match 'China AND Lavrov' --text 'Lavrov visits Beijing'\n  feedwatch match --topic china-russia --since 7d"
    )]
    Match {
        /// A query (or use --topic)
        query: Option<String>,
        /// Test this configured topic (its feed and tag filters apply in a replay)
        #[arg(long, value_name = "TOPIC")]
        topic: Option<String>,
        /// Explain whether and why the query matches this text (first line: the title)
        #[arg(long, value_name = "TEXT")]
        text: Option<String>,
        /// Replay over items first seen within this duration: what would have alerted
        #[arg(long, value_name = "DURATION", value_parser = parse_since, allow_hyphen_values = true)]
        since: Option<Duration>,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },

    /// Apply `retention` now: delete old items, keeping their keys (the daemon does it daily)
    ///
    /// The keys of pruned items stay, so a pruned item never comes back as new. While a daemon
    /// runs, it prunes with its own config's retention.
    #[command(after_help = "Examples:\n  feedwatch prune")]
    Prune,

    /// Alerts in the outbox, with their story and outlets
    #[command(
        after_help = "Examples:\n  feedwatch alerts --status failed\n  feedwatch alerts retry\n  feedwatch alerts retry 12 15"
    )]
    Alerts {
        #[command(subcommand)]
        action: Option<AlertsAction>,
        /// Only alerts in this state
        #[arg(long, value_parser = ["pending", "sent", "failed"])]
        status: Option<String>,
        /// Print JSON (`[{id, topic, notifier, story, item, status, attempts, ...}]`)
        #[arg(long)]
        json: bool,
    },

    /// Feeds in and out as OPML (what feed readers import and export)
    #[command(
        after_help = "Examples:\n  feedwatch opml import subscriptions.opml\n  feedwatch opml import subscriptions.opml --write\n  feedwatch opml export > feedwatch.opml"
    )]
    Opml {
        #[command(subcommand)]
        action: OpmlAction,
    },

    /// Print shell completions for bash, zsh, fish, elvish or powershell
    #[command(
        after_help = "Examples:\n  feedwatch completions bash > /etc/bash_completion.d/feedwatch\n  feedwatch completions zsh > ~/.zfunc/_feedwatch\n  feedwatch completions fish > ~/.config/fish/completions/feedwatch.fish"
    )]
    Completions {
        /// The shell to complete for
        shell: clap_complete::Shell,
    },

    /// Print the man page (roff), generated from this help; or write one page per command
    #[command(
        after_help = "Examples:\n  feedwatch manpage | man -l -\n  feedwatch manpage --dir /usr/local/share/man/man1"
    )]
    Manpage {
        /// Write feedwatch.1 and a page per command (feedwatch-poll.1, ...) into this directory
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum FeedsAction {
    /// Clear a gone or failing state: the feed is polled again at once
    ///
    /// While a daemon runs, it resets the feed and polls it now; otherwise the reset is
    /// stored and the next `feedwatch poll` or daemon start polls it.
    #[command(after_help = "Examples:\n  feedwatch feeds reset agency-wire")]
    Reset {
        /// The feed, by its config `name`
        #[arg(value_name = "FEED")]
        name: String,
    },
}

#[derive(Subcommand)]
pub enum AlertsAction {
    /// Requeue failed alerts (the given ids or uids, or all failed ones)
    #[command(
        after_help = "Examples:\n  feedwatch alerts retry\n  feedwatch alerts retry 12 3f9c2a7e41d0b5c8"
    )]
    Retry {
        /// Alert ids or uids, as `feedwatch alerts` shows them (default: every failed alert)
        #[arg(value_name = "ID")]
        ids: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum OpmlAction {
    /// Read an OPML file: print the `[[feed]]` entries to add, or add them with --write
    ///
    /// Nested outlines (folders) and `category` attributes become tags; feeds already in the
    /// config (same URL) and entries without a usable http(s) URL are reported and left out.
    /// Names are made from the outline's text, unique among the config's. With --write the
    /// entries are appended to the config file, keeping its comments and layout, and the
    /// result is checked before it replaces the file.
    #[command(
        after_help = "Examples:\n  feedwatch opml import miniflux.opml\n  feedwatch -c ~/.config/feedwatch.toml opml import feedly.opml --write"
    )]
    Import {
        /// The OPML file (as Miniflux, FreshRSS, newsboat or Feedly export it)
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Append the new feeds to the config file instead of printing them
        #[arg(long)]
        write: bool,
    },
    /// Print the config's feeds as OPML 2.0 (tags become folders and categories)
    #[command(after_help = "Examples:\n  feedwatch opml export > feedwatch.opml")]
    Export,
}

/// The longest `--since` taken: further back than any feed reader has items for.
const MAX_SINCE: Duration = Duration::from_secs(100 * 365 * 86_400);

/// `--since`: a duration from one second to a hundred years.
pub fn parse_since(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("{e} (expected a duration such as 30m, 24h or 7d)"))?;
    if d < Duration::from_secs(1) {
        return Err("must be at least 1s (e.g. 30m, 24h, 7d)".into());
    }
    if d > MAX_SINCE {
        return Err("must be at most 100 years (e.g. 30d, 1y)".into());
    }
    Ok(d)
}

const MAX_LIMIT: usize = 1_000_000;

/// `--limit`: a whole number from 1 to a million.
pub fn parse_limit(s: &str) -> Result<usize, String> {
    let n: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("expected a whole number from 1 to {MAX_LIMIT}"))?;
    match usize::try_from(n) {
        Ok(n @ 1..=MAX_LIMIT) => Ok(n),
        _ => Err(format!("must be from 1 to {MAX_LIMIT}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn since_is_a_duration_within_reason() {
        assert_eq!(parse_since("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_since(" 7d "), Ok(Duration::from_secs(7 * 86_400)));
        for bad in [
            "300000y",
            "0s",
            "-1h",
            "abc",
            "",
            "99999999999999999999999s",
            "--json",
        ] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
        assert!(parse_since("300000y").unwrap_err().contains("100 years"));
    }

    #[test]
    fn limit_is_a_positive_count() {
        assert_eq!(parse_limit("10"), Ok(10));
        let cli = Cli::try_parse_from(["feedwatch", "items", "--limit", "-5"]);
        assert!(
            cli.err().unwrap().to_string().contains("from 1 to"),
            "a negative count is read as one"
        );
        for bad in ["0", "-1", "1.5", "x", "1000001", "18446744073709551616"] {
            assert!(parse_limit(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_command_and_flag_is_described_and_shows_an_example() {
        fn walk(cmd: &clap::Command, path: &str) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                assert!(a.get_help().is_some(), "{path} {id} has no help");
            }
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let p = format!("{path} {}", sub.get_name());
                assert!(sub.get_about().is_some(), "{p} has no description");
                let after = sub
                    .get_after_help()
                    .map(|h| h.to_string())
                    .unwrap_or_default();
                let has_own_subcommands = sub.get_subcommands().next().is_some();
                assert!(
                    after.contains("Examples:") || has_own_subcommands,
                    "{p} has no examples"
                );
                walk(sub, &p);
            }
        }
        walk(&Cli::command(), "feedwatch");
    }
}
