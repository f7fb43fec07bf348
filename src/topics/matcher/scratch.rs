//! Per-item working memory of the [`Matcher`], kept per thread and reused between items.

use std::cell::RefCell;

use super::Matcher;
use crate::topics::SLOTS;
use crate::topics::normalize::Tokens;

/// Token buffers larger than this are released rather than kept for the next item.
const KEEP_BYTES: usize = 4 << 20;

/// No word id / no occurrence.
pub(super) const NONE: u32 = u32::MAX;

/// Per-thread working memory, reused between items. Arrays indexed by word, term or topic
/// id are "set" when their stamp equals the current generation, so nothing is cleared per item.
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) generation: u32,
    pub(super) toks: Tokens,
    /// Token range of each field.
    pub(super) ranges: [(u32, u32); SLOTS],
    /// Word id of each token, or NONE.
    pub(super) ids: Vec<u32>,
    /// Previous occurrence of the same word id, or NONE.
    pub(super) prev: Vec<u32>,
    pub(super) word_stamp: Vec<u32>,
    pub(super) word_fields: Vec<u8>,
    pub(super) word_last: Vec<u32>,
    pub(super) hit_words: Vec<u32>,
    /// Per gate word, the fields whose folded text contains it.
    pub(super) gate_seen: Vec<u8>,
    /// Prefix terms hit during the scan.
    pub(super) pending: Vec<u32>,
    pub(super) term_stamp: Vec<u32>,
    /// Lazy regexes evaluated this item (their hit is in `term_stamp`).
    pub(super) regex_stamp: Vec<u32>,
    /// Per topic: generation (high half) and the required clauses satisfied (low half).
    pub(super) clauses: Vec<u64>,
    /// Candidate topics, a bit each: read in order, cleared as read.
    pub(super) candidates: Vec<u64>,
    pub(super) stack: Vec<bool>,
}

thread_local! {
    pub(super) static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Scratch {
    pub(super) fn begin(&mut self, m: &Matcher) {
        let grow = |v: &mut Vec<u32>, n: usize| {
            if v.len() < n {
                v.resize(n, 0);
            }
        };
        grow(&mut self.word_stamp, m.words.len());
        grow(&mut self.word_last, m.words.len());
        if self.word_fields.len() < m.words.len() {
            self.word_fields.resize(m.words.len(), 0);
        }
        grow(&mut self.term_stamp, m.terms.len());
        grow(&mut self.regex_stamp, m.terms.len());
        if self.clauses.len() < m.topics.len() {
            self.clauses.resize(m.topics.len(), 0);
        }
        let words = m.topics.len().div_ceil(64);
        if self.candidates.len() < words {
            self.candidates.resize(words, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            for v in [
                &mut self.word_stamp,
                &mut self.term_stamp,
                &mut self.regex_stamp,
            ] {
                v.fill(0);
            }
            self.clauses.fill(0);
            self.generation = 1;
        }
        if self.toks.capacity() > KEEP_BYTES {
            // One huge item must not pin its buffers to this thread for good.
            self.toks = Tokens::new();
            self.ids = Vec::new();
            self.prev = Vec::new();
        }
        self.toks.clear();
        self.ids.clear();
        self.prev.clear();
        self.hit_words.clear();
        self.pending.clear();
        self.gate_seen.clear();
        self.gate_seen
            .resize(m.gates.as_ref().map_or(0, |g| g.patterns_len()), 0);
    }
}
