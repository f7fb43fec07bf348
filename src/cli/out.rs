//! Where the CLI's output goes and how it looks. Decides "terminal or not" (stdout is a
//! terminal, or `FEEDWATCH_TERMINAL=1`/`0` says so), colour (only on a terminal, never with
//! `NO_COLOR` or `TERM=dumb`), and writes so that a reader that stops reading (`| head`) ends
//! the output quietly instead of a panic: later lines are dropped and the command finishes
//! its work and exits as it would have.

use std::ffi::OsStr;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

/// How output is shown, decided once per process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ui {
    /// For a person: aligned tables, local and relative times. Otherwise for scripts:
    /// tab-separated rows, RFC 3339 UTC times, values in full.
    pub terminal: bool,
    pub colour: bool,
    /// Columns available to a table on a terminal.
    pub width: usize,
}

/// The width a table gets when a terminal's own cannot be read (forced terminal, say).
const DEFAULT_WIDTH: usize = 100;

impl Ui {
    /// The decision, from what the environment says: pure, so tests can drive it.
    pub fn decide(
        forced: Option<&OsStr>,
        stdout_is_tty: bool,
        no_color: Option<&OsStr>,
        term: Option<&OsStr>,
        width: Option<usize>,
    ) -> Self {
        let terminal = match forced.and_then(OsStr::to_str) {
            Some("1") => true,
            Some("0") => false,
            _ => stdout_is_tty,
        };
        Self {
            terminal,
            colour: terminal && feedwatch::logging::colour_allowed(no_color, term),
            width: width.filter(|w| *w >= 20).unwrap_or(DEFAULT_WIDTH),
        }
    }

    fn detect() -> Self {
        let columns = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse().ok())
            .or_else(|| {
                console::Term::stdout()
                    .size_checked()
                    .map(|(_, cols)| usize::from(cols))
            });
        Self::decide(
            std::env::var_os("FEEDWATCH_TERMINAL").as_deref(),
            std::io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
            std::env::var_os("TERM").as_deref(),
            columns,
        )
    }
}

static UI: OnceLock<Ui> = OnceLock::new();

pub fn ui() -> Ui {
    *UI.get_or_init(Ui::detect)
}

/// Whether progress may be drawn: stderr is a real terminal (indicatif checks too) and the
/// person has not asked for plain output.
pub fn progress_wanted() -> bool {
    std::io::stderr().is_terminal()
        && std::env::var_os("FEEDWATCH_TERMINAL").is_none_or(|v| v != "0")
}

/// Set once stdout can no longer be written: every later line is dropped.
static STOPPED: AtomicBool = AtomicBool::new(false);
/// A write error other than a reader that went away (a full disk, say): the command fails.
static FAILED: Mutex<Option<String>> = Mutex::new(None);

/// Write one line to stdout as it is: the caller has escaped whatever came from outside.
pub fn raw_line(line: &str) {
    if STOPPED.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{line}") {
        stop(e);
    }
}

fn stop(e: std::io::Error) {
    STOPPED.store(true, Ordering::Relaxed);
    if e.kind() != std::io::ErrorKind::BrokenPipe {
        let mut failed = FAILED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        failed.get_or_insert_with(|| e.to_string());
    }
}

/// Flush stdout at the end; `Err` when output was lost for a reason other than a reader that
/// stopped reading.
pub fn finish() -> Result<(), String> {
    if !STOPPED.load(Ordering::Relaxed)
        && let Err(e) = std::io::stdout().lock().flush()
    {
        stop(e);
    }
    let failed = FAILED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match failed.as_ref() {
        Some(e) => Err(format!("writing the output failed: {e}")),
        None => Ok(()),
    }
}

/// One message for the person on stderr (notes, warnings, errors), each line escaped. Write
/// errors are ignored: there is nowhere left to report them.
pub fn note(message: &str) {
    let mut stderr = std::io::stderr().lock();
    for line in message.lines() {
        let _ = writeln!(stderr, "{}", feedwatch::text::for_terminal(line));
    }
}

/// What a piece of output means, for colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tone {
    #[default]
    Plain,
    Good,
    Warn,
    Bad,
    Quiet,
    Heading,
}

impl Tone {
    fn code(self) -> Option<&'static str> {
        match self {
            Tone::Plain => None,
            Tone::Good => Some("32"),
            Tone::Warn => Some("33"),
            Tone::Bad => Some("31"),
            Tone::Quiet => Some("2"),
            Tone::Heading => Some("1"),
        }
    }

    /// `text` (already escaped) in this tone, when colour is on.
    pub fn paint(self, text: &str, colour: bool) -> String {
        match self.code() {
            Some(code) if colour && !text.is_empty() => format!("\u{1b}[{code}m{text}\u{1b}[0m"),
            _ => text.to_string(),
        }
    }

    /// The tone of a feed or poll state.
    pub fn of_state(state: &str) -> Self {
        match state {
            "ok" | "not_modified" | "sent" => Tone::Good,
            "failing" | "pending" | "skipped" | "new" => Tone::Warn,
            "gone" | "error" | "failed" => Tone::Bad,
            _ => Tone::Plain,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<&OsStr> {
        Some(OsStr::new(s))
    }

    #[test]
    fn terminal_and_colour_follow_the_environment() {
        let piped = Ui::decide(None, false, None, None, None);
        assert!(!piped.terminal && !piped.colour);
        let tty = Ui::decide(None, true, None, os("xterm"), Some(80));
        assert!(tty.terminal && tty.colour);
        assert_eq!(tty.width, 80);
        assert!(Ui::decide(os("1"), false, None, None, None).terminal);
        assert!(!Ui::decide(os("0"), true, None, None, None).terminal);
        let no_color = Ui::decide(None, true, os("1"), None, None);
        assert!(no_color.terminal && !no_color.colour);
        // An empty NO_COLOR does not count (no-color.org).
        assert!(Ui::decide(None, true, os(""), None, None).colour);
        assert!(!Ui::decide(None, true, None, os("dumb"), None).colour);
        assert_eq!(
            Ui::decide(None, true, None, None, Some(3)).width,
            DEFAULT_WIDTH
        );
    }

    #[test]
    fn paint_only_with_colour() {
        assert_eq!(Tone::Bad.paint("gone", false), "gone");
        assert_eq!(Tone::Bad.paint("gone", true), "\u{1b}[31mgone\u{1b}[0m");
        assert_eq!(Tone::Plain.paint("x", true), "x");
    }
}
