//! Where the log goes and how each line is written.
//!
//! The CLI starts with plain lines on stderr ([`init`]); the daemon then applies its
//! `[daemon] log_format` ([`apply`], again on every reload): `auto` sends events to the journal
//! with structured fields when `$JOURNAL_STREAM` says stderr is connected to it (as systemd
//! sets it up), and writes plain lines otherwise; `plain` and `json` always write to stderr.
//!
//! Every format keeps the property of [`crate::logfmt`]: feed text in a field can neither forge
//! fields or lines nor reach a terminal raw. Plain lines quote and escape values; JSON escapes
//! what JSON does plus every other character a terminal acts on (as `\uXXXX`, so the parsed
//! value is exact); the journal gets each value escaped like a plain one, as its own field.

mod journald;
mod json;
pub mod stderr;

use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

use crate::config::LogFormat;
use crate::logfmt::SafeFields;

pub use journald::stderr_is_journal;

type Base = Layered<EnvFilter, Registry>;
type Output = Box<dyn Layer<Base> + Send + Sync>;

static OUTPUT: OnceLock<reload::Handle<Output, Base>> = OnceLock::new();

/// Where log events go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// The systemd journal, one entry per event with its fields.
    Journal,
    /// One `key=value` line per event on stderr.
    Plain,
    /// One JSON object per line on stderr.
    Json,
}

impl Sink {
    pub fn as_str(self) -> &'static str {
        match self {
            Sink::Journal => "journal",
            Sink::Plain => "plain",
            Sink::Json => "json",
        }
    }
}

/// What `log_format` means, given whether stderr is the journal's stream.
pub fn choose(format: LogFormat, stderr_is_journal: bool) -> Sink {
    match format {
        LogFormat::Auto if stderr_is_journal => Sink::Journal,
        LogFormat::Auto | LogFormat::Plain => Sink::Plain,
        LogFormat::Json => Sink::Json,
    }
}

/// Plain lines on stderr, filtered by `$RUST_LOG` (default `info` when `verbose`, else
/// `warn`). Once per process; later calls do nothing.
pub fn init(verbose: bool) {
    let default = if verbose { "info" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let (layer, handle) = reload::Layer::new(plain());
    if tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init()
        .is_ok()
    {
        let _ = OUTPUT.set(handle);
    }
}

/// Switch the log to what `format` means here; returns where it goes now. Without [`init`]
/// (a library user with its own subscriber) nothing changes.
pub fn apply(format: LogFormat) -> Sink {
    let mut sink = choose(format, stderr_is_journal());
    let Some(handle) = OUTPUT.get() else {
        return sink;
    };
    let layer: Output = match sink {
        Sink::Plain => plain(),
        Sink::Json => json(),
        Sink::Journal => match journald::Journald::connect() {
            Ok(j) => j.boxed(),
            Err(e) => {
                sink = Sink::Plain;
                tracing::warn!(error = %e, "cannot reach the journal's socket; logging plain lines to stderr");
                plain()
            }
        },
    };
    if let Err(e) = handle.reload(layer) {
        tracing::warn!(error = %e, "cannot switch the log format");
    }
    sink
}

fn plain() -> Output {
    tracing_subscriber::fmt::layer()
        // Every field quoted and escaped when it is more than a word: feed text in a log
        // line can neither forge fields or lines nor send escapes to a terminal.
        .fmt_fields(SafeFields)
        .with_writer(stderr::event)
        // A stderr that stopped reading (`poll 2>&1 | head`) must not turn into a panic: the
        // subscriber's own report of the failed write would go to that same stderr.
        .log_internal_errors(false)
        // Under systemd stderr is the journal, not a terminal: no colour codes there.
        .with_ansi(
            std::io::stderr().is_terminal()
                && colour_allowed(
                    std::env::var_os("NO_COLOR").as_deref(),
                    std::env::var_os("TERM").as_deref(),
                ),
        )
        .boxed()
}

/// Whether the environment lets a terminal be coloured: not with a non-empty `NO_COLOR`
/// (no-color.org), nor on `TERM=dumb`. The log and the command line's tables both ask this.
pub fn colour_allowed(no_color: Option<&std::ffi::OsStr>, term: Option<&std::ffi::OsStr>) -> bool {
    no_color.is_none_or(|v| v.is_empty()) && term.is_none_or(|t| t != "dumb")
}

fn json() -> Output {
    tracing_subscriber::fmt::layer()
        .event_format(json::JsonLines)
        .fmt_fields(SafeFields)
        .with_writer(stderr::event)
        .log_internal_errors(false)
        .with_ansi(false)
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_means_the_journal_only_when_stderr_is_connected_to_it() {
        assert_eq!(choose(LogFormat::Auto, true), Sink::Journal);
        assert_eq!(choose(LogFormat::Auto, false), Sink::Plain);
        assert_eq!(
            choose(LogFormat::Plain, true),
            Sink::Plain,
            "an explicit format wins"
        );
        assert_eq!(choose(LogFormat::Json, true), Sink::Json);
    }

    #[test]
    fn no_color_and_a_dumb_terminal_turn_colour_off() {
        let os = |s: &'static str| Some(std::ffi::OsStr::new(s));
        assert!(colour_allowed(None, os("xterm-256color")));
        assert!(!colour_allowed(os("1"), os("xterm")));
        assert!(
            colour_allowed(os(""), None),
            "an empty NO_COLOR does not count"
        );
        assert!(!colour_allowed(None, os("dumb")));
    }
}
