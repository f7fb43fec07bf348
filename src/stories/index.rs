//! The writer's memory of recent items, and which story a new item joins. Pure (no I/O).
//!
//! Items live in a ring in insertion order, each as its compact sketch and 16 bytes of story,
//! feed and time. To find candidates without comparing against every item, each item is
//! indexed under [`KEYS`] of its content words: the lowest-hash ones of its body and of its
//! lede (a consistent sample, so a copy that shares most words shares these), skipping words
//! that are already keys of many recent items (a name in every story of the day would make a
//! long chain that finds nothing new). A new item looks up the lowest-hash words it carries.
//! Postings are chained: a bucket holds the newest posting id, each posting the id of the next
//! older one in its bucket and 8 bits of its word's hash, so that postings of other words in
//! the bucket are skipped without touching their items. Candidates are then judged by
//! [`Similarity::joins`] on the sketches alone.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use super::signature::{Signature, Similarity, Sketch};
use super::text::mix;

/// Words an item is indexed under: this many from its body, the rest from its lede.
const KEYS: usize = 4;
const BODY_KEYS: usize = 2;
/// Buckets of the posting table (512 KiB of heads, 128 KiB of loads).
const BUCKETS: usize = 1 << 17;
/// A bucket that received this many postings lately takes no more keys (see `loads`)…
const CROWDED: u8 = 24;
/// …and keys go first to buckets below this.
const QUIET: u8 = 4;
/// Chain steps per probe in a quiet bucket…
const MAX_STEPS: usize = 48;
/// …in a busier one, whose word is in many recent items and says less…
const BUSY_STEPS: usize = 12;
/// …and in a crowded one: only the newest few (their items are found through other keys).
const CROWDED_STEPS: usize = 4;
/// Candidates compared per lookup.
const MAX_CANDIDATES: usize = 8;
/// Bucket heads and chain links that lead nowhere.
const EMPTY: u32 = u32::MAX;

/// One indexed item: 96 bytes.
struct Slot {
    sketch: Sketch,
    story: i64,
    /// Interned feed id.
    feed: u32,
    /// Seconds since `StoryIndex::base`.
    at: u32,
}

/// An item's postings, apart from its slot so that walking chains stays in a small array:
/// 20 bytes.
#[derive(Clone, Copy)]
struct Postings {
    /// Per key: the id of the next older posting in the key's bucket.
    next: [u32; KEYS],
    tags: [u8; KEYS],
}

/// Owned by the writer: the items of the last `window`, rebuilt at start from stored
/// signatures (insert them oldest first).
pub struct StoryIndex {
    window: u64,
    /// Origin of the stored times, set by the first insert.
    base: Option<i64>,
    slots: VecDeque<Slot>,
    postings: VecDeque<Postings>,
    /// Sequence number of `slots[0]`; posting ids are `seq * KEYS + key`.
    first: u32,
    /// Sequence numbers are renumbered from 0 before they reach this.
    seq_limit: u32,
    heads: Vec<u32>,
    /// Postings each bucket received lately, halved every `len()` inserts: how common its
    /// words are in the window.
    loads: Vec<u8>,
    inserts_since_decay: usize,
    feeds: HashMap<i64, u32>,
}

impl StoryIndex {
    pub fn new(window: Duration) -> Self {
        Self::with_seq_limit(window, u32::MAX / KEYS as u32 - 1)
    }

    fn with_seq_limit(window: Duration, seq_limit: u32) -> Self {
        StoryIndex {
            window: window.as_secs(),
            base: None,
            slots: VecDeque::new(),
            postings: VecDeque::new(),
            first: 0,
            seq_limit,
            heads: vec![EMPTY; BUCKETS],
            loads: vec![0; BUCKETS],
            inserts_since_decay: 0,
            feeds: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Bytes held, counting allocated capacity: what the index costs the daemon.
    pub fn memory_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<Slot>()
            + self.postings.capacity() * size_of::<Postings>()
            + self.heads.capacity() * size_of::<u32>()
            + self.loads.capacity()
            + self.feeds.capacity() * (size_of::<(i64, u32)>() + 1)
    }

    /// The story an item should join: the best match among indexed items within the window of
    /// `at` (unix seconds), or `None`. Items of the same feed count only as near-verbatim
    /// reissues (see [`Similarity::joins`]).
    pub fn find(&self, sig: &Signature, feed: i64, at: i64) -> Option<i64> {
        self.best(sig, feed, at).map(|(story, _)| story)
    }

    /// [`find`](Self::find) with the similarity that decided it.
    pub fn best(&self, sig: &Signature, feed: i64, at: i64) -> Option<(i64, Similarity)> {
        if sig.is_empty() {
            return None;
        }
        let feed = self.feeds.get(&feed).copied();
        let mut best: Option<((f32, f32), u32, i64, Similarity)> = None;
        for seq in self.candidates(sig) {
            let slot = &self.slots[(seq - self.first) as usize];
            if self.time(slot).abs_diff(at) > self.window {
                continue;
            }
            let sim = sig.sketch().similarity(&slot.sketch);
            if !sim.joins(Some(slot.feed) == feed) {
                continue;
            }
            // Highest score wins, then the closer size (a full copy over a trim, both fully
            // contained), then the older item, so the result does not depend on probe order.
            let score = (sim.score(), sim.size_ratio);
            let better = best
                .as_ref()
                .is_none_or(|&(s, q, ..)| score > s || (score == s && seq < q));
            if better {
                best = Some((score, seq, slot.story, sim));
            }
        }
        best.map(|(_, _, story, sim)| (story, sim))
    }

    /// Index an item (oldest first when rebuilding). An item without text to match by
    /// ([`Signature::is_empty`]) is not kept.
    pub fn insert(&mut self, story: i64, feed: i64, at: i64, sig: &Signature) {
        if sig.is_empty() {
            return;
        }
        if self.first as usize + self.slots.len() >= self.seq_limit as usize {
            self.renumber();
        }
        self.decay();
        let base = *self
            .base
            .get_or_insert(at.saturating_sub(i64::from(u32::MAX / 2)));
        let rel = u32::try_from(at.saturating_sub(base).max(0)).unwrap_or(u32::MAX);
        let interned = self.feeds.len() as u32;
        let feed = *self.feeds.entry(feed).or_insert(interned);
        let seq = self.first + self.slots.len() as u32;
        let mut postings = Postings {
            next: [EMPTY; KEYS],
            tags: [0; KEYS],
        };
        for (k, word) in self.keys(sig).into_iter().enumerate() {
            let (bucket, tag) = bucket_and_tag(word);
            postings.next[k] = self.heads[bucket];
            postings.tags[k] = tag;
            self.heads[bucket] = seq * KEYS as u32 + k as u32;
            self.loads[bucket] = self.loads[bucket].saturating_add(1);
        }
        grow(&mut self.slots);
        grow(&mut self.postings);
        self.slots.push_back(Slot {
            sketch: *sig.sketch(),
            story,
            feed,
            at: rel,
        });
        self.postings.push_back(postings);
    }

    /// Forget items published before `at` (the writer passes `now - window`). Items are
    /// dropped from the oldest inserted; one inserted late with an old date goes when it
    /// reaches the front, and is never matched outside the window meanwhile.
    pub fn evict_older_than(&mut self, at: i64) {
        while let Some(front) = self.slots.front() {
            if self.time(front) >= at {
                break;
            }
            self.slots.pop_front();
            self.postings.pop_front();
            self.first += 1;
        }
        if self.slots.is_empty() {
            self.first = 0;
            self.heads.fill(EMPTY);
            self.loads.fill(0);
        }
    }

    /// The words to index an item under: the lowest-hash body and lede words whose buckets are
    /// quiet (a story's own names and terms), then those that are not crowded; if all are
    /// crowded, the lowest body word anyway, so that the item stays findable.
    fn keys(&self, sig: &Signature) -> Vec<u32> {
        let mut keys: Vec<u32> = Vec::with_capacity(KEYS);
        for limit in [QUIET, CROWDED] {
            let fits = |w: &&u32| self.loads[bucket_and_tag(**w).0] < limit;
            let body: Vec<u32> = sig.body_words().iter().filter(fits).copied().collect();
            for &w in body.iter().take(BODY_KEYS) {
                if keys.len() < BODY_KEYS && !keys.contains(&w) {
                    keys.push(w);
                }
            }
            let rest = sig.lede_words().iter().filter(fits).chain(&body);
            for &w in rest {
                if keys.len() == KEYS {
                    break;
                }
                if !keys.contains(&w) {
                    keys.push(w);
                }
            }
        }
        if keys.is_empty() {
            keys.extend(sig.body_words().first());
        }
        keys
    }

    /// Halve the loads once per window's worth of inserts, so they follow what is common now.
    fn decay(&mut self) {
        self.inserts_since_decay += 1;
        if self.inserts_since_decay >= self.slots.len().max(BUCKETS / 16) {
            self.inserts_since_decay = 0;
            for l in &mut self.loads {
                *l /= 2;
            }
        }
    }

    fn time(&self, slot: &Slot) -> i64 {
        self.base.unwrap_or(0) + i64::from(slot.at)
    }

    fn is_live(&self, posting: u32) -> bool {
        let first = u64::from(self.first) * KEYS as u64;
        let end = (u64::from(self.first) + self.slots.len() as u64) * KEYS as u64;
        posting != EMPTY && (first..end).contains(&u64::from(posting))
    }

    /// Sequence numbers of indexed items sharing indexed words with `sig`'s words: those
    /// sharing the most first (a copy shares several of its original's keys; an unrelated item
    /// of the same day one common word), at most [`MAX_CANDIDATES`].
    fn candidates(&self, sig: &Signature) -> Vec<u32> {
        let mut hits = Vec::new();
        for probe in merged(sig.body_words(), sig.lede_words()) {
            let (bucket, tag) = bucket_and_tag(probe);
            let mut posting = self.heads[bucket];
            let steps = match self.loads[bucket] {
                l if l < QUIET => MAX_STEPS,
                l if l < CROWDED => BUSY_STEPS,
                _ => CROWDED_STEPS,
            };
            for _ in 0..steps {
                if !self.is_live(posting) {
                    break;
                }
                let seq = posting / KEYS as u32;
                let key = (posting % KEYS as u32) as usize;
                let p = &self.postings[(seq - self.first) as usize];
                if p.tags[key] == tag {
                    hits.push(seq);
                }
                let next = p.next[key];
                // Chains only lead to older postings; anything else is a stale link.
                if next >= posting {
                    break;
                }
                posting = next;
            }
        }
        // Count shared keys per item without sorting every hit (an item can have hundreds).
        let mut shared: rustc_hash::FxHashMap<u32, u32> = rustc_hash::FxHashMap::default();
        shared.reserve(hits.len());
        for seq in hits {
            *shared.entry(seq).or_insert(0) += 1;
        }
        let mut counted: Vec<(u32, u32)> = shared.into_iter().collect();
        // Most shared keys first, then the newest.
        let order = |a: &(u32, u32), b: &(u32, u32)| b.1.cmp(&a.1).then(b.0.cmp(&a.0));
        if counted.len() > MAX_CANDIDATES {
            counted.select_nth_unstable_by(MAX_CANDIDATES - 1, order);
            counted.truncate(MAX_CANDIDATES);
        }
        counted.sort_unstable_by(order);
        counted.into_iter().map(|(seq, _)| seq).collect()
    }

    /// Shift sequence numbers so the oldest live item is 0 (once per billion inserts).
    fn renumber(&mut self) {
        let shift = self.first * KEYS as u32;
        let live_end = (u64::from(self.first) + self.slots.len() as u64) * KEYS as u64;
        let fix = |p: u32| {
            if p == EMPTY || p < shift || u64::from(p) >= live_end {
                EMPTY
            } else {
                p - shift
            }
        };
        for h in &mut self.heads {
            *h = fix(*h);
        }
        for p in &mut self.postings {
            for n in &mut p.next {
                *n = fix(*n);
            }
        }
        self.first = 0;
    }
}

/// Grow by a quarter rather than doubling: the ring is most of the daemon's story memory.
fn grow<T>(ring: &mut VecDeque<T>) {
    if ring.len() == ring.capacity() {
        ring.reserve_exact((ring.len() / 4).max(1024));
    }
}

/// Two ascending lists as one, without repeats.
fn merged<'a>(a: &'a [u32], b: &'a [u32]) -> impl Iterator<Item = u32> + 'a {
    let (mut i, mut j) = (0, 0);
    std::iter::from_fn(move || {
        let next = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) if x == y => {
                i += 1;
                j += 1;
                x
            }
            (Some(&x), Some(&y)) if x < y => {
                i += 1;
                x
            }
            (_, Some(&y)) => {
                j += 1;
                y
            }
            (Some(&x), None) => {
                i += 1;
                x
            }
            (None, None) => return None,
        };
        Some(next)
    })
}

/// The words are the lowest of their items' hashes, so their high bits are mostly zero:
/// remix before taking bucket and tag.
fn bucket_and_tag(word: u32) -> (usize, u8) {
    let h = mix(u64::from(word));
    (h as usize & (BUCKETS - 1), (h >> 56) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600;

    /// A made-up word per number, letters only (digits are not candidate keys).
    fn word(mut n: u32) -> String {
        let mut w = String::new();
        loop {
            w.push((b'a' + (n % 26) as u8) as char);
            n /= 26;
            if n == 0 {
                return w + "an";
            }
        }
    }

    /// News-length text with its own vocabulary per `n`.
    fn story(n: u32) -> String {
        (0..60)
            .map(|i| word(n * 1000 + i))
            .collect::<Vec<_>>()
            .join(" ")
            + "."
    }

    fn index() -> StoryIndex {
        StoryIndex::new(Duration::from_secs(72 * HOUR as u64))
    }

    #[test]
    fn a_copy_from_another_feed_joins_within_the_window_only() {
        let mut idx = index();
        let a = Signature::new("", &story(1));
        idx.insert(10, 1, 0, &a);
        idx.insert(11, 1, 0, &Signature::new("", &story(2)));
        assert_eq!(idx.find(&a, 2, 5 * HOUR), Some(10));
        assert_eq!(idx.find(&a, 2, 73 * HOUR), None);
        assert_eq!(idx.find(&a, 2, -73 * HOUR), None);
        assert_eq!(idx.find(&Signature::new("", &story(3)), 2, HOUR), None);
    }

    #[test]
    fn the_same_feed_joins_only_a_reissue() {
        let mut idx = index();
        let text = story(1);
        idx.insert(10, 1, 0, &Signature::new("", &text));
        assert_eq!(idx.find(&Signature::new("", &text), 1, HOUR), Some(10));
        // The last third rewritten: a copy for another feed, not a reissue of its own.
        let words: Vec<&str> = text.split(' ').collect();
        let rewritten = words[..40].join(" ") + " " + &story(2)[..200] + ".";
        let rewritten = Signature::new("", &rewritten);
        assert_eq!(idx.find(&rewritten, 2, HOUR), Some(10));
        assert_eq!(idx.find(&rewritten, 1, HOUR), None);
    }

    #[test]
    fn the_best_match_wins() {
        let mut idx = index();
        let full = story(1);
        let words: Vec<&str> = full.split(' ').collect();
        let part = |n: usize| words[..n].join(" ") + ".";
        idx.insert(20, 1, 0, &Signature::new("", &part(45)));
        idx.insert(21, 2, 0, &Signature::new("", &full));
        assert_eq!(idx.find(&Signature::new("", &full), 3, HOUR), Some(21));
    }

    #[test]
    fn eviction_forgets_old_items_and_keeps_new_ones() {
        let mut idx = index();
        for n in 0..10 {
            idx.insert(
                i64::from(n),
                1,
                i64::from(n) * HOUR,
                &Signature::new("", &story(n)),
            );
        }
        idx.evict_older_than(5 * HOUR);
        assert_eq!(idx.len(), 5);
        assert_eq!(idx.find(&Signature::new("", &story(2)), 2, 6 * HOUR), None);
        assert_eq!(
            idx.find(&Signature::new("", &story(7)), 2, 8 * HOUR),
            Some(7)
        );
        idx.evict_older_than(100 * HOUR);
        assert!(idx.is_empty());
        idx.insert(99, 1, 101 * HOUR, &Signature::new("", &story(1)));
        assert_eq!(
            idx.find(&Signature::new("", &story(1)), 2, 101 * HOUR),
            Some(99)
        );
    }

    #[test]
    fn renumbering_keeps_every_live_item_findable() {
        let mut idx = StoryIndex::with_seq_limit(Duration::from_secs(72 * HOUR as u64), 16);
        for n in 0..40u32 {
            let at = i64::from(n) * HOUR;
            idx.insert(i64::from(n), 1, at, &Signature::new("", &story(n)));
            idx.evict_older_than(at - 5 * HOUR);
            for m in n.saturating_sub(5)..=n {
                let found = idx.find(&Signature::new("", &story(m)), 2, at);
                assert_eq!(found, Some(i64::from(m)), "item {m} after inserting {n}");
            }
        }
        assert!(idx.first < 16);
    }

    #[test]
    fn empty_signatures_are_not_indexed() {
        let mut idx = index();
        let empty = Signature::new("Tokyo stocks close higher", "");
        idx.insert(1, 1, 0, &empty);
        assert!(idx.is_empty());
        assert_eq!(idx.find(&empty, 2, 0), None);
    }

    #[test]
    fn an_item_costs_116_bytes() {
        assert_eq!(size_of::<Slot>() + size_of::<Postings>(), 116);
    }

    #[test]
    fn merged_lists_keep_order_and_drop_repeats() {
        let got: Vec<u32> = merged(&[1, 3, 5, 9], &[2, 3, 10]).collect();
        assert_eq!(got, [1, 2, 3, 5, 9, 10]);
        assert_eq!(merged(&[], &[4]).collect::<Vec<_>>(), [4]);
    }

    #[test]
    fn a_word_in_every_recent_item_stops_being_a_key() {
        let mut idx = index();
        // Every item shares a word whose hash is lower than nearly any other: it would be
        // every item's first key. Soon its bucket is no longer quiet and later items are keyed
        // by their own words.
        let key = |w: &str| (super::super::text::hash_str(w) >> 32) as u32;
        let shared = (1_000_000..)
            .map(word)
            .find(|w| key(w) < u32::MAX / 2000)
            .unwrap_or_default();
        let common = |n: u32| format!("{} {shared} {shared}.", story(n));
        for n in 0..200 {
            idx.insert(
                i64::from(n),
                1,
                i64::from(n),
                &Signature::new("", &common(n)),
            );
        }
        let (bucket, _) = bucket_and_tag(key(&shared));
        assert_eq!(idx.loads[bucket], QUIET);
        for n in [0, 100, 199] {
            let copy = Signature::new("", &common(n));
            assert_eq!(idx.find(&copy, 2, 300), Some(i64::from(n)), "item {n}");
        }
    }
}
