//! Progress on stderr for long one-shot work (`poll` of many feeds, `opml import`, `match
//! --since` replays): drawn only when stderr is a terminal, cleared before the results print.

use std::io::Write;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::out::progress_wanted;

pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar over `len` steps of `what` (e.g. "polling").
    pub fn bar(len: usize, what: &str) -> Self {
        let bar = Self::target(ProgressBar::new(len as u64));
        if let Ok(style) =
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {wide_msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(what.to_string());
        Self { bar }
    }

    /// A counter for work of unknown length (e.g. "items checked").
    pub fn counter(what: &str) -> Self {
        let bar = Self::target(ProgressBar::no_length());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {pos} {prefix}") {
            bar.set_style(style);
        }
        bar.set_prefix(what.to_string());
        Self { bar }
    }

    fn target(bar: ProgressBar) -> ProgressBar {
        if progress_wanted() {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            // A log line meanwhile goes above the bar, not into it.
            let drawn = bar.clone();
            feedwatch::logging::stderr::route(Some(Box::new(move |line| {
                drawn.suspend(|| {
                    let _ = std::io::stderr().write_all(line);
                });
            })));
        } else {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        bar
    }

    /// One step done; `message` (feed text: escaped here) says which.
    pub fn step(&self, message: &str) {
        self.bar
            .set_message(feedwatch::text::for_terminal(message).into_owned());
        self.bar.inc(1);
    }

    pub fn tick(&self) {
        self.bar.inc(1);
    }

    /// Remove the bar, so the results print on a clean line.
    pub fn done(self) {
        drop(self);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        feedwatch::logging::stderr::route(None);
        self.bar.finish_and_clear();
    }
}
