//! All topics compiled into one [`Matcher`]: an item is folded and tokenized once, each token
//! is looked up once among the interned query words (and walked once down a trie of prefix
//! stems), and a topic is evaluated only once each clause of its top-level AND that needs a
//! hit has one — plus the few topics that can match with no hit at all (`-sponsored`,
//! `a OR -b`), evaluated for every item.
//!
//! Phrases are triggered by one of their words (the anchor) and verified by position. Regexes
//! that can make a topic true on their own run for every item, the others only when their
//! topic is a candidate; either way only over fields whose folded text holds a word the regex
//! cannot match without ([`regexes`]).

mod compile;
mod prefix;
mod regexes;
mod scratch;

use rustc_hash::FxHashMap;

use super::{ItemText, SLOTS};
use prefix::PrefixTrie;
use scratch::{NONE, SCRATCH, Scratch};

/// Topics that matched one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMatch {
    /// Index of the topic in the queries the matcher was built from.
    pub topic: usize,
    /// As [`super::Query::matches`] reports them.
    pub matched_terms: Vec<String>,
}

/// Every topic's query, compiled once and shared (it is `Send + Sync`) by worker threads.
#[derive(Debug)]
pub struct Matcher {
    /// Interned folded words of words and phrases → word id.
    words: FxHashMap<Box<str>, u32>,
    /// Word id → the terms it can make true (word terms, phrases anchored on it).
    word_terms: Csr<u32>,
    prefixes: PrefixTrie,
    terms: Vec<CTerm>,
    /// Term → the (topic, required clause) pairs it can satisfy.
    postings: Csr<Posting>,
    topics: Vec<CTopic>,
    /// Every topic's query in postfix, one after the other.
    ops: Vec<Op>,
    /// Topics true when no term hits, in order: evaluated for every item.
    always: Vec<u32>,
    /// Regex terms that must run on every item.
    eager: Vec<u32>,
    /// The distinct gate words of regex terms, found in one pass per field.
    gates: Option<aho_corasick::AhoCorasick>,
    /// Fields gated regexes read: the ones searched for gates.
    gate_fields: u8,
    /// Fields that any word or prefix term reads: the others are not tokenized.
    token_fields: u8,
}

/// Compressed rows: row `i` is `items[start[i]..start[i + 1]]`.
#[derive(Debug)]
struct Csr<T> {
    start: Vec<u32>,
    items: Vec<T>,
}

impl<T: Copy> Csr<T> {
    fn from_rows(rows: &[Vec<T>]) -> Self {
        let mut start = Vec::with_capacity(rows.len() + 1);
        let mut items = Vec::new();
        start.push(0);
        for r in rows {
            items.extend_from_slice(r);
            start.push(items.len() as u32);
        }
        Self { start, items }
    }

    fn row(&self, i: u32) -> &[T] {
        let i = i as usize;
        &self.items[self.start[i] as usize..self.start[i + 1] as usize]
    }
}

/// A term can satisfy clause `clause` of the `clauses` a topic needs (the children of its
/// top-level AND that need a term hit): the topic is a candidate once all are satisfied.
#[derive(Debug, Clone, Copy)]
struct Posting {
    topic: u32,
    clause: u8,
    clauses: u8,
}

#[derive(Debug)]
struct CTerm {
    /// Item fields the term looks at, a bit per slot.
    mask: u8,
    kind: CKind,
}

#[derive(Debug)]
enum CKind {
    /// Hit when its word occurs in one of its fields.
    Word,
    /// Hit from the prefix trie.
    Prefix,
    /// Consecutive word ids, then optionally a token starting with `tail`; found from the
    /// occurrences of `elems[anchor]`.
    Phrase {
        elems: Box<[u32]>,
        tail: Option<Box<str>>,
        anchor: usize,
    },
    /// Run on every item when `eager`, else only for candidate topics; only over fields
    /// whose folded text contains gate word `gate` (see [`regexes`]).
    Regex {
        re: regex::Regex,
        eager: bool,
        gate: Option<u32>,
    },
}

#[derive(Debug)]
struct CTopic {
    /// Its range of `ops`: the query in postfix, so no recursion at match time.
    ops: (u32, u32),
    /// Terms that count for a match (not under a NOT), in query order.
    report: Box<[Report]>,
}

#[derive(Debug)]
struct Report {
    term: u32,
    display: Box<str>,
    /// Earlier entries with the same display: if one of them hit, this one is not repeated.
    same_display_before: Box<[u32]>,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Term(u32),
    And(u32),
    Or(u32),
    Not,
}

impl Matcher {
    /// Compile `queries`; topic `i` is the `i`-th query.
    pub fn new<'a>(queries: impl IntoIterator<Item = &'a super::Query>) -> Matcher {
        compile::build(queries)
    }

    /// Number of topics.
    pub fn len(&self) -> usize {
        self.topics.len()
    }

    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    /// Topics that match `item`, in topic order, with their matched terms (as
    /// [`super::Query::matches`] gives them). `applies(i)` is asked only for candidate topics,
    /// to apply per-feed filters before evaluating them.
    pub fn matches(
        &self,
        item: &ItemText<'_>,
        mut applies: impl FnMut(usize) -> bool,
    ) -> Vec<TopicMatch> {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut s) => self.run(item, &mut s, &mut applies),
            // Called again from inside `applies`: use fresh memory.
            Err(_) => self.run(item, &mut Scratch::default(), &mut applies),
        })
    }

    fn run(
        &self,
        item: &ItemText<'_>,
        s: &mut Scratch,
        applies: &mut dyn FnMut(usize) -> bool,
    ) -> Vec<TopicMatch> {
        s.begin(self);
        self.scan_tokens(item, s);
        self.confirm_word_terms(s);
        self.run_eager_regexes(item, s);
        for &t in &self.always {
            s.candidates[t as usize / 64] |= 1 << (t % 64);
        }
        let mut out = Vec::new();
        for w in 0..self.topics.len().div_ceil(64) {
            while s.candidates[w] != 0 {
                let bit = s.candidates[w].trailing_zeros();
                s.candidates[w] &= s.candidates[w] - 1;
                let t = w as u32 * 64 + bit;
                if !applies(t as usize) {
                    continue;
                }
                if let Some(matched_terms) = self.evaluate(t, item, s) {
                    out.push(TopicMatch {
                        topic: t as usize,
                        matched_terms,
                    });
                }
            }
        }
        out
    }

    /// Tokenize the fields terms read, record the interned words seen (where, and in which
    /// fields) and the prefix terms hit.
    fn scan_tokens(&self, item: &ItemText<'_>, s: &mut Scratch) {
        for slot in 0..SLOTS {
            let bit = 1u8 << slot;
            let from = s.toks.len() as u32;
            if self.token_fields & bit != 0 {
                item.tokenize(slot, &mut s.toks);
            }
            s.ranges[slot] = (from, s.toks.len() as u32);
            for pos in from as usize..s.toks.len() {
                let text = s.toks.get(pos);
                let id = self.words.get(text).copied().unwrap_or(NONE);
                s.ids.push(id);
                s.prev.push(NONE);
                if id != NONE {
                    let w = id as usize;
                    if s.word_stamp[w] != s.generation {
                        s.word_stamp[w] = s.generation;
                        s.word_fields[w] = 0;
                        s.word_last[w] = NONE;
                        s.hit_words.push(id);
                    }
                    s.word_fields[w] |= bit;
                    s.prev[pos] = s.word_last[w];
                    s.word_last[w] = pos as u32;
                }
                if !self.prefixes.is_empty() {
                    let before = s.pending.len();
                    self.prefixes.walk(s.toks.get(pos), &mut s.pending);
                    // Keep only the prefix terms that read this field.
                    let mut keep = before;
                    for k in before..s.pending.len() {
                        let t = s.pending[k];
                        if self.terms[t as usize].mask & bit != 0 {
                            s.pending[keep] = t;
                            keep += 1;
                        }
                    }
                    s.pending.truncate(keep);
                }
            }
        }
        let pending = std::mem::take(&mut s.pending);
        for &t in &pending {
            self.hit(t, s);
        }
        s.pending = pending;
        s.pending.clear();
    }

    /// Word terms and phrases triggered by the words seen.
    fn confirm_word_terms(&self, s: &mut Scratch) {
        let mut i = 0;
        while i < s.hit_words.len() {
            let w = s.hit_words[i];
            i += 1;
            let fields = s.word_fields[w as usize];
            for &t in self.word_terms.row(w) {
                let term = &self.terms[t as usize];
                if term.mask & fields == 0 || s.term_stamp[t as usize] == s.generation {
                    continue;
                }
                let hit = match &term.kind {
                    CKind::Phrase {
                        elems,
                        tail,
                        anchor,
                    } => self.phrase_at_some_occurrence(s, w, term.mask, elems, tail, *anchor),
                    _ => true,
                };
                if hit {
                    self.hit(t, s);
                }
            }
        }
    }

    fn phrase_at_some_occurrence(
        &self,
        s: &Scratch,
        anchor_word: u32,
        mask: u8,
        elems: &[u32],
        tail: &Option<Box<str>>,
        anchor: usize,
    ) -> bool {
        // Cheap rejection first: every word of the phrase must occur somewhere.
        if elems
            .iter()
            .any(|&e| s.word_stamp[e as usize] != s.generation)
        {
            return false;
        }
        let len = elems.len() + usize::from(tail.is_some());
        let mut pos = s.word_last[anchor_word as usize];
        while pos != NONE {
            let p = pos as usize;
            pos = s.prev[p];
            let Some(slot) = s
                .ranges
                .iter()
                .position(|&(a, b)| (a as usize..b as usize).contains(&p))
            else {
                continue;
            };
            let (a, b) = s.ranges[slot];
            if mask & (1 << slot) == 0 || p < a as usize + anchor {
                continue;
            }
            let start = p - anchor;
            if start + len > b as usize {
                continue;
            }
            // Element by element: a slice comparison would call memcmp for a few words.
            let words_agree = s.ids[start..start + elems.len()]
                .iter()
                .zip(elems)
                .all(|(a, b)| a == b);
            if words_agree
                && tail
                    .as_deref()
                    .is_none_or(|t| s.toks.get(start + elems.len()).starts_with(t))
            {
                return true;
            }
        }
        false
    }

    fn run_eager_regexes(&self, item: &ItemText<'_>, s: &mut Scratch) {
        if let Some(gates) = &self.gates {
            for slot in (0..SLOTS).filter(|slot| self.gate_fields & (1 << slot) != 0) {
                let (from, to) = s.ranges[slot];
                let text = s.toks.joined(from as usize, to as usize);
                for m in gates.find_overlapping_iter(text) {
                    s.gate_seen[m.pattern().as_usize()] |= 1 << slot;
                }
            }
        }
        for &t in &self.eager {
            if self.regex_hits(t, item, s) {
                self.hit(t, s);
            }
        }
    }

    /// Whether regex term `t` matches one of its fields.
    fn regex_hits(&self, t: u32, item: &ItemText<'_>, s: &Scratch) -> bool {
        let term = &self.terms[t as usize];
        let CKind::Regex { re, gate, .. } = &term.kind else {
            return false;
        };
        (0..SLOTS)
            .filter(|slot| term.mask & (1 << slot) != 0)
            .any(|slot| {
                // Without a gate table (it failed to build) every regex runs.
                gate.is_none_or(|g| {
                    s.gate_seen
                        .get(g as usize)
                        .is_none_or(|&seen| seen & (1 << slot) != 0)
                }) && re.is_match(&item.raw(slot))
            })
    }

    /// Term `t` is true for this item: its topics become candidates.
    fn hit(&self, t: u32, s: &mut Scratch) {
        if s.term_stamp[t as usize] == s.generation {
            return;
        }
        s.term_stamp[t as usize] = s.generation;
        let generation = u64::from(s.generation) << 32;
        for p in self.postings.row(t) {
            let state = &mut s.clauses[p.topic as usize];
            if *state & !0xffff_ffff != generation {
                *state = generation;
            }
            *state |= 1 << p.clause;
            let all = (1u64 << p.clauses) - 1;
            if *state & all == all {
                s.candidates[p.topic as usize / 64] |= 1 << (p.topic % 64);
            }
        }
    }

    /// Whether term `t` is true, running a lazy regex the first time it is asked.
    #[inline]
    fn term_value(&self, t: u32, item: &ItemText<'_>, s: &mut Scratch) -> bool {
        s.term_stamp[t as usize] == s.generation || self.lazy_regex(t, item, s)
    }

    fn lazy_regex(&self, t: u32, item: &ItemText<'_>, s: &mut Scratch) -> bool {
        let i = t as usize;
        if !matches!(self.terms[i].kind, CKind::Regex { eager: false, .. })
            || s.regex_stamp[i] == s.generation
        {
            return false;
        }
        s.regex_stamp[i] = s.generation;
        let hit = self.regex_hits(t, item, s);
        if hit {
            // Marks the term only: its topics are already being evaluated.
            s.term_stamp[i] = s.generation;
        }
        hit
    }

    fn evaluate(&self, topic: u32, item: &ItemText<'_>, s: &mut Scratch) -> Option<Vec<String>> {
        let tp = &self.topics[topic as usize];
        let mut stack = std::mem::take(&mut s.stack);
        stack.clear();
        for op in &self.ops[tp.ops.0 as usize..tp.ops.1 as usize] {
            match *op {
                Op::Term(t) => stack.push(self.term_value(t, item, s)),
                Op::Not => {
                    if let Some(v) = stack.last_mut() {
                        *v = !*v;
                    }
                }
                Op::And(n) | Op::Or(n) => {
                    let from = stack.len().saturating_sub(n as usize);
                    let v = if matches!(op, Op::And(_)) {
                        stack[from..].iter().all(|&b| b)
                    } else {
                        stack[from..].iter().any(|&b| b)
                    };
                    stack.truncate(from);
                    stack.push(v);
                }
            }
        }
        let matched = stack.pop().unwrap_or(false);
        s.stack = stack;
        if !matched {
            return None;
        }
        let mut out = Vec::new();
        for r in tp.report.iter() {
            let shown_already = r.same_display_before.iter().any(|&k| {
                let earlier = tp.report[k as usize].term;
                self.term_value(earlier, item, s)
            });
            if !shown_already && self.term_value(r.term, item, s) {
                out.push(r.display.to_string());
            }
        }
        Some(out)
    }
}
