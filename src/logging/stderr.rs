//! Log lines to stderr, one whole event at a time, through a hook while something else draws
//! there.
//!
//! A progress bar on the terminal (`poll`, `opml import`) redraws its line in place; a log line
//! written in the middle of it lands inside the bar. Each event is therefore buffered and
//! handed over whole: to stderr, or to the hook a bar installs with [`route`], which clears the
//! bar, writes the line and draws the bar again below it.

use std::io::Write;
use std::sync::{PoisonError, RwLock};

/// Where a finished event's bytes go instead of stderr.
pub type Hook = Box<dyn Fn(&[u8]) + Send + Sync>;

static HOOK: RwLock<Option<Hook>> = RwLock::new(None);

/// Send log lines through `hook` from now on (`None`: straight to stderr again).
pub fn route(hook: Option<Hook>) {
    *HOOK.write().unwrap_or_else(PoisonError::into_inner) = hook;
}

/// One event being formatted; written out when the formatter drops it.
#[derive(Default)]
pub struct Event(Vec<u8>);

impl Write for Event {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        match &*HOOK.read().unwrap_or_else(PoisonError::into_inner) {
            Some(hook) => hook(&self.0),
            // A stderr that stopped reading is not worth a panic or a retry.
            None => {
                let _ = std::io::stderr().write_all(&self.0);
            }
        }
    }
}

/// The writer the stderr layers are built with.
pub fn event() -> Event {
    Event::default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn an_event_reaches_the_hook_whole_and_once() {
        let seen = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
        let sink = Arc::clone(&seen);
        route(Some(Box::new(move |b| {
            sink.lock().unwrap().push(b.to_vec())
        })));
        {
            let mut e = event();
            e.write_all(b"2026-12-01 WARN poll failed ").unwrap();
            e.write_all(b"feed=old-blog\n").unwrap();
        }
        drop(event()); // nothing written: nothing handed over
        route(None);
        assert_eq!(
            *seen.lock().unwrap(),
            vec![b"2026-12-01 WARN poll failed feed=old-blog\n".to_vec()]
        );
    }
}
