//! The daemon's schedule, in memory: every feed's state and a heap of next-poll times, loaded
//! from the database once at start and updated from poll results. Pure: the daemon feeds it
//! the clock and the results, and asks which polls to start and when to wake.
//!
//! A sweep therefore costs no database reads (reading every feed row after every poll made a
//! 10,000-feed sweep quadratic), and the next poll times are still persisted by the writer
//! with each result, so a restart keeps the schedule.
//!
//! A config reload ([`Schedule::reconfigure`]) keeps every remaining feed's state and place,
//! takes the database's state for feeds the reload added or moved (new URL or schedule), and
//! empties the slots of removed feeds. Slots are never renumbered, so a poll in flight or
//! queued across a reload still finds its slot (an emptied slot drops its result).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use chrono::{DateTime, Utc};

use std::sync::Arc;

use crate::config::{Config, FeedConfig};
use crate::feed_state::FeedState;
use crate::limits::Admission;
use crate::poll::{PollDone, host_of};

struct Slot {
    /// Index of the feed in `Schedule::feeds`; `None` once a reload removed the feed.
    feed: Option<usize>,
    host: String,
    state: FeedState,
    /// Bumped whenever the slot is rescheduled: older heap entries are stale.
    generation: u64,
    /// Queued for a poll or polling: never two polls of one feed at once.
    busy: bool,
    /// A newer state read from the database while the feed was busy (a `feeds reset`).
    replaced: Option<FeedState>,
    /// Not before this, whatever the state says (its last poll could not be recorded).
    held_until: Option<DateTime<Utc>>,
}

impl Slot {
    fn new(index: usize, feed: &FeedConfig, state: FeedState) -> Self {
        Self {
            feed: Some(index),
            host: host_of(&state.url, feed),
            state,
            generation: 0,
            busy: false,
            replaced: None,
            held_until: None,
        }
    }
}

/// Feeds, when they are due, and the polls in flight.
pub struct Schedule {
    feeds: Arc<Config>,
    slots: Vec<Slot>,
    by_name: HashMap<String, usize>,
    heap: BinaryHeap<Reverse<(DateTime<Utc>, usize, u64)>>,
    admission: Admission<usize>,
}

/// A poll to start: which slot, and what to poll it with.
pub struct Start {
    pub slot: usize,
    pub host: String,
    pub feed: FeedConfig,
    pub state: FeedState,
}

impl Schedule {
    /// One slot per configured feed, with its stored state (a feed without one is due now).
    pub fn new(
        config: Arc<Config>,
        mut states: HashMap<String, FeedState>,
        now: DateTime<Utc>,
    ) -> Self {
        let n = config.feeds.len();
        let (limit, per_host) = (config.daemon.concurrency, config.daemon.per_host);
        let mut s = Self {
            feeds: Arc::clone(&config),
            slots: Vec::with_capacity(n),
            by_name: HashMap::with_capacity(n),
            heap: BinaryHeap::with_capacity(n),
            admission: Admission::new(limit, per_host),
        };
        for (index, feed) in config.feeds.iter().enumerate() {
            let state = states.remove(&feed.name).unwrap_or_else(|| FeedState {
                name: feed.name.clone(),
                url: feed.url.to_string(),
                ..Default::default()
            });
            let i = s.slots.len();
            s.by_name.insert(feed.name.clone(), i);
            s.slots.push(Slot::new(index, feed, state));
            s.reschedule(i, now);
        }
        s
    }

    /// Follow a reloaded config: feeds still configured keep their state (and a poll in
    /// flight), those in `fresh` (added, or whose URL or schedule changed, as the database
    /// now has them) take that state, and removed feeds leave the schedule. The limits follow
    /// the new `concurrency` and `per_host`.
    pub fn reconfigure(
        &mut self,
        config: Arc<Config>,
        mut fresh: HashMap<String, FeedState>,
        now: DateTime<Utc>,
    ) {
        let mut by_name = HashMap::with_capacity(config.feeds.len());
        for (index, feed) in config.feeds.iter().enumerate() {
            let i = match self.by_name.remove(&feed.name) {
                Some(i) => {
                    let slot = &mut self.slots[i];
                    slot.feed = Some(index);
                    if let Some(state) = fresh.remove(&feed.name) {
                        if slot.busy {
                            slot.replaced = Some(state);
                        } else {
                            slot.state = state;
                            slot.held_until = None;
                        }
                    }
                    i
                }
                None => {
                    let state = fresh.remove(&feed.name).unwrap_or_else(|| FeedState {
                        name: feed.name.clone(),
                        url: feed.url.to_string(),
                        ..Default::default()
                    });
                    self.slots.push(Slot::new(index, feed, state));
                    self.slots.len() - 1
                }
            };
            by_name.insert(feed.name.clone(), i);
        }
        // What is left was removed: its slot stays (indices must not move) but empty.
        for (_, i) in self.by_name.drain() {
            let slot = &mut self.slots[i];
            slot.feed = None;
            slot.state = FeedState::default();
            slot.replaced = None;
        }
        self.by_name = by_name;
        self.feeds = config;
        let d = &self.feeds.daemon;
        self.admission.set_limits(d.concurrency, d.per_host);
        let slots = &self.slots;
        self.admission.retain(|&i| slots[i].feed.is_some());
        // Every idle feed goes back in the heap at its (possibly new) time; a busy one does
        // when its poll ends.
        self.heap.clear();
        for i in 0..self.slots.len() {
            let slot = &mut self.slots[i];
            slot.generation += 1;
            let Some(index) = slot.feed else { continue };
            slot.host = host_of(&slot.state.url, &self.feeds.feeds[index]);
            if !slot.busy {
                self.reschedule(i, now);
            }
        }
    }

    /// Feeds in the schedule (removed ones are not).
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    pub fn polling(&self) -> usize {
        self.admission.running()
    }

    /// Put slot `i` back in the heap at its next poll time (gone feeds are not scheduled).
    fn reschedule(&mut self, i: usize, now: DateTime<Utc>) {
        let slot = &mut self.slots[i];
        slot.generation += 1;
        if slot.state.is_gone() {
            return;
        }
        let mut due = slot.state.next_poll.unwrap_or(now);
        if let Some(hold) = slot.held_until {
            due = due.max(hold);
        }
        self.heap.push(Reverse((due, i, slot.generation)));
    }

    /// Move every feed due at `now` into the admission queues, then return the polls that
    /// may start within the limits.
    pub fn start_due(&mut self, now: DateTime<Utc>) -> Vec<Start> {
        while let Some(Reverse((due, i, generation))) = self.heap.peek().copied() {
            if due > now {
                break;
            }
            self.heap.pop();
            let slot = &mut self.slots[i];
            if generation != slot.generation || slot.busy {
                continue;
            }
            slot.busy = true;
            slot.held_until = None;
            self.admission.push(&slot.host, i);
        }
        let mut out = Vec::new();
        while let Some((host, i)) = self.admission.pop() {
            let slot = &self.slots[i];
            // `reconfigure` drops the queued starts of removed feeds; this is only a guard.
            let Some(index) = slot.feed else {
                self.admission.finish(&host);
                continue;
            };
            out.push(Start {
                slot: i,
                host,
                feed: self.feeds.feeds[index].clone(),
                state: slot.state.clone(),
            });
        }
        out
    }

    /// When the earliest scheduled feed is due, if any (stale entries are dropped on the way).
    pub fn next_due(&mut self) -> Option<DateTime<Utc>> {
        while let Some(Reverse((due, i, generation))) = self.heap.peek().copied() {
            let slot = &self.slots[i];
            if generation == slot.generation && !slot.busy {
                return Some(due);
            }
            self.heap.pop();
        }
        None
    }

    /// A poll of slot `i` (started from [`start_due`](Self::start_due) with `host`) ended.
    pub fn finished(&mut self, i: usize, host: &str, done: &PollDone, now: DateTime<Utc>) {
        self.admission.finish(host);
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        slot.busy = false;
        // A feed removed by a reload while it was polling: its result was still recorded
        // (the database keeps removed feeds' rows), the schedule has nothing to update.
        let Some(index) = slot.feed else {
            return;
        };
        if let Some(state) = &done.state {
            slot.state = state.clone();
        }
        slot.held_until = done.hold_until;
        if let Some(newer) = slot.replaced.take() {
            slot.state = newer;
            slot.held_until = None;
        }
        // A permanent redirect may have moved the feed to another host.
        slot.host = host_of(&slot.state.url, &self.feeds.feeds[index]);
        self.reschedule(i, now);
    }

    /// The database has a newer state for feed `name` (another process reset or polled it).
    /// Returns false for a feed that is not configured.
    pub fn replace(&mut self, state: FeedState, now: DateTime<Utc>) -> bool {
        let Some(&i) = self.by_name.get(&state.name) else {
            return false;
        };
        let slot = &mut self.slots[i];
        let Some(index) = slot.feed else {
            return false;
        };
        if slot.busy {
            // Applied when the poll in flight ends, so its result does not overwrite it.
            slot.replaced = Some(state);
        } else {
            slot.host = host_of(&state.url, &self.feeds.feeds[index]);
            slot.state = state;
            slot.held_until = None;
            self.reschedule(i, now);
        }
        true
    }

    pub fn state(&self, name: &str) -> Option<&FeedState> {
        self.by_name.get(name).map(|&i| &self.slots[i].state)
    }

    /// Someone asked for feed `name` to be polled now (`feedwatch poll` while the daemon
    /// runs): make it due at once, unless it is polling already (that poll's result answers)
    /// or gone and not asked for by name. `None` for a feed that is not configured.
    pub fn poll_now(
        &mut self,
        name: &str,
        now: DateTime<Utc>,
        even_if_gone: bool,
    ) -> Option<PollNow> {
        let &i = self.by_name.get(name)?;
        let slot = &mut self.slots[i];
        if slot.busy {
            return Some(PollNow::AlreadyPolling);
        }
        if slot.state.is_gone() && !even_if_gone {
            return Some(PollNow::Gone);
        }
        slot.generation += 1;
        // A poll that could not be recorded still holds the feed back (the database is
        // refusing writes: fetching again would only repeat that).
        let due = slot.held_until.map_or(now, |h| h.max(now));
        self.heap.push(Reverse((due, i, slot.generation)));
        Some(PollNow::Due)
    }
}

/// What [`Schedule::poll_now`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollNow {
    /// Due now: the next [`Schedule::start_due`] starts it.
    Due,
    AlreadyPolling,
    /// Gone (410) and not named: polled again only after `feeds reset`.
    Gone,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed_state::Status;
    use crate::poll::FeedReport;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// A config with feeds (name, host) and the given limits.
    fn config(feeds: &[(&str, &str)], limit: usize, per_host: usize) -> Arc<Config> {
        let mut src = format!("[daemon]\nconcurrency = {limit}\nper_host = {per_host}\n");
        for (name, host) in feeds {
            src.push_str(&format!(
                "[[feed]]\nname = \"{name}\"\nurl = \"https://{host}/{name}.xml\"\n"
            ));
        }
        let path = std::path::Path::new("/t/feedwatch.toml");
        Arc::new(crate::config::parse(path, &src, crate::config::Secrets::Skip).unwrap())
    }

    fn done(state: Option<FeedState>) -> PollDone {
        PollDone {
            report: FeedReport::skipped("x", String::new()),
            state,
            hold_until: None,
        }
    }

    fn names(starts: &[Start]) -> Vec<&str> {
        starts.iter().map(|s| s.feed.name.as_str()).collect()
    }

    #[test]
    fn due_feeds_start_within_limits_and_the_rest_follow() {
        let now = at("2026-01-01T10:00:00Z");
        let feeds = config(
            &[
                ("f0", "a.example"),
                ("f1", "a.example"),
                ("f2", "a.example"),
                ("f3", "a.example"),
            ],
            10,
            2,
        );
        let mut later = FeedState {
            name: "f3".into(),
            next_poll: Some(at("2026-01-01T10:05:00Z")),
            ..Default::default()
        };
        let mut s = Schedule::new(feeds, HashMap::from([("f3".into(), later.clone())]), now);
        let first = s.start_due(now);
        assert_eq!(
            names(&first),
            ["f0", "f1"],
            "per-host limit; f3 is not due yet"
        );
        assert_eq!(s.next_due(), Some(at("2026-01-01T10:05:00Z")));
        later.next_poll = Some(at("2026-01-01T10:15:00Z"));
        let mut st = first[0].state.clone();
        st.next_poll = Some(at("2026-01-01T10:15:00Z"));
        s.finished(first[0].slot, &first[0].host, &done(Some(st)), now);
        assert_eq!(
            names(&s.start_due(now)),
            ["f2"],
            "a freed host slot goes to the next due feed"
        );
        assert_eq!(
            s.state("f0").unwrap().next_poll,
            Some(at("2026-01-01T10:15:00Z"))
        );
    }

    #[test]
    fn a_busy_feed_is_never_started_twice_and_gone_feeds_wait_for_reset() {
        let now = at("2026-01-01T10:00:00Z");
        let gone = FeedState {
            name: "g".into(),
            status: Status::Gone,
            ..Default::default()
        };
        let mut s = Schedule::new(
            config(&[("f", "a"), ("g", "b")], 10, 2),
            HashMap::from([("g".into(), gone.clone())]),
            now,
        );
        let first = s.start_due(now);
        assert_eq!(names(&first), ["f"]);
        // The database says f is due again while it is polling: applied after the poll.
        assert!(s.replace(
            FeedState {
                name: "f".into(),
                ..Default::default()
            },
            now
        ));
        assert!(s.start_due(now).is_empty());
        let mut polled = first[0].state.clone();
        polled.next_poll = Some(at("2026-01-01T11:00:00Z"));
        s.finished(first[0].slot, &first[0].host, &done(Some(polled)), now);
        assert_eq!(
            names(&s.start_due(now)),
            ["f"],
            "the newer state (due now) won"
        );
        // A reset gone feed is due at once.
        let mut reset = gone;
        reset.reset("https://b/g.xml");
        assert!(s.replace(reset, now));
        assert_eq!(names(&s.start_due(now)), ["g"]);
        assert!(!s.replace(
            FeedState {
                name: "nope".into(),
                ..Default::default()
            },
            now
        ));
    }

    #[test]
    fn a_poll_asked_for_starts_now_once_and_gone_feeds_only_when_named() {
        let now = at("2026-01-01T10:00:00Z");
        let later = FeedState {
            name: "f".into(),
            next_poll: Some(at("2026-01-01T11:00:00Z")),
            ..Default::default()
        };
        let gone = FeedState {
            name: "g".into(),
            status: Status::Gone,
            ..Default::default()
        };
        let mut s = Schedule::new(
            config(&[("f", "a"), ("g", "b")], 10, 2),
            HashMap::from([("f".into(), later), ("g".into(), gone)]),
            now,
        );
        assert!(s.start_due(now).is_empty());
        assert_eq!(s.poll_now("f", now, false), Some(PollNow::Due));
        assert_eq!(s.poll_now("g", now, false), Some(PollNow::Gone));
        assert_eq!(s.poll_now("nope", now, true), None);
        let started = s.start_due(now);
        assert_eq!(names(&started), ["f"]);
        assert_eq!(s.poll_now("f", now, false), Some(PollNow::AlreadyPolling));
        assert!(s.start_due(now).is_empty(), "never two polls of one feed");
        let mut polled = started[0].state.clone();
        polled.next_poll = Some(at("2026-01-01T11:00:00Z"));
        s.finished(started[0].slot, &started[0].host, &done(Some(polled)), now);
        assert!(s.start_due(now).is_empty(), "back on its schedule");
        assert_eq!(s.poll_now("g", now, true), Some(PollNow::Due));
        assert_eq!(names(&s.start_due(now)), ["g"]);
    }

    #[test]
    fn an_unrecorded_poll_holds_the_feed_back() {
        let now = at("2026-01-01T10:00:00Z");
        let mut s = Schedule::new(config(&[("f", "a")], 10, 2), HashMap::new(), now);
        let first = s.start_due(now);
        let mut d = done(None);
        d.hold_until = Some(at("2026-01-01T10:01:00Z"));
        s.finished(first[0].slot, &first[0].host, &d, now);
        assert!(s.start_due(at("2026-01-01T10:00:30Z")).is_empty());
        assert_eq!(names(&s.start_due(at("2026-01-01T10:01:00Z"))), ["f"]);
    }

    #[test]
    fn a_reload_keeps_remaining_feeds_takes_moved_ones_and_forgets_removed_ones() {
        let now = at("2026-01-01T10:00:00Z");
        let feeds = &[
            ("keep", "a"),
            ("drop", "b"),
            ("moved", "c"),
            ("gone-busy", "e"),
        ];
        let mut s = Schedule::new(config(feeds, 10, 2), HashMap::new(), now);
        let first = s.start_due(now);
        assert_eq!(names(&first), ["keep", "drop", "moved", "gone-busy"]);
        for start in &first[..2] {
            let mut st = start.state.clone();
            st.next_poll = Some(at("2026-01-01T11:00:00Z"));
            s.finished(start.slot, &start.host, &done(Some(st)), now);
        }
        // "moved" and "gone-busy" are still polling when the new config arrives.
        let moved = FeedState {
            name: "moved".into(),
            url: "https://c2/moved.xml".into(),
            next_poll: Some(at("2026-01-01T10:05:00Z")),
            ..Default::default()
        };
        s.reconfigure(
            config(&[("added", "d"), ("keep", "a"), ("moved", "c")], 1, 1),
            HashMap::from([("moved".to_string(), moved)]),
            now,
        );
        assert_eq!(s.len(), 3);
        assert!(s.state("drop").is_none() && s.state("gone-busy").is_none());
        assert_eq!(
            s.state("keep").unwrap().next_poll,
            Some(at("2026-01-01T11:00:00Z")),
            "an unchanged feed keeps its state: not polled again"
        );
        // Two polls still run, above the new limit of one: nothing starts yet.
        assert!(s.start_due(now).is_empty());
        let mut late = first[2].state.clone();
        late.next_poll = Some(at("2026-01-01T12:00:00Z"));
        s.finished(first[2].slot, &first[2].host, &done(Some(late)), now);
        assert_eq!(
            s.state("moved").unwrap().url,
            "https://c2/moved.xml",
            "the database's state after the move wins over the poll in flight"
        );
        s.finished(first[3].slot, &first[3].host, &done(None), now);
        assert!(
            s.state("gone-busy").is_none(),
            "a removed feed's late result is dropped"
        );
        assert_eq!(
            names(&s.start_due(now)),
            ["added"],
            "a new feed is due at once"
        );
        assert_eq!(s.next_due(), Some(at("2026-01-01T10:05:00Z")));
        assert!(!s.replace(
            FeedState {
                name: "drop".into(),
                ..Default::default()
            },
            now
        ));
    }

    #[test]
    fn a_feed_removed_while_queued_never_starts() {
        let now = at("2026-01-01T10:00:00Z");
        let mut s = Schedule::new(
            config(&[("a1", "a"), ("a2", "a")], 10, 1),
            HashMap::new(),
            now,
        );
        let first = s.start_due(now);
        assert_eq!(names(&first), ["a1"], "a2 waits for the host");
        s.reconfigure(config(&[("a1", "a")], 10, 1), HashMap::new(), now);
        s.finished(first[0].slot, &first[0].host, &done(None), now);
        assert_eq!(
            names(&s.start_due(now)),
            ["a1"],
            "only a1, due again (no state)"
        );
        assert_eq!(s.polling(), 1);
    }
}
