//! Queries → one [`Matcher`]: identical terms shared between topics, words interned, phrases
//! anchored on their longest word, prefix stems in a trie, regexes given gate words, and each
//! topic classified at compile time: true with every term false (evaluated for every item),
//! regexes able to make it true alone (they run for every item), and the trigger terms of
//! each clause it needs.

use rustc_hash::FxHashMap;

use super::prefix::PrefixTrie;
use super::{CKind, CTerm, CTopic, Csr, Matcher, Op, Posting, Report, regexes};
use crate::topics::{Expr, Query, Term, TermKind, eval};

/// Past this many regex terms in one topic, assume they can match it alone rather than try
/// every combination.
const MAX_REGEX_COMBINATIONS: usize = 10;

/// Required clauses tracked per topic (bits of a word); past this, the first ones suffice.
const MAX_CLAUSES: usize = 32;

#[derive(Debug, PartialEq, Eq, Hash)]
enum Key {
    Words(u8, Vec<String>, bool),
    Regex(u8, String),
}

#[derive(Default)]
struct Builder<'a> {
    /// Each topic's query and its terms' ids, for choosing triggers once all are known.
    queries: Vec<(&'a Query, Vec<u32>)>,
    /// How many topics use each term: the more, the likelier it is common in text too.
    term_uses: Vec<u32>,
    words: FxHashMap<Box<str>, u32>,
    word_terms: Vec<Vec<u32>>,
    keys: FxHashMap<Key, u32>,
    terms: Vec<CTerm>,
    postings: Vec<Vec<Posting>>,
    prefixes: PrefixTrie,
    topics: Vec<CTopic>,
    ops: Vec<Op>,
    always: Vec<u32>,
    token_fields: u8,
    /// Distinct gate words of regex terms → gate id.
    gates: FxHashMap<Box<str>, u32>,
    gate_fields: u8,
}

pub(super) fn build<'a>(queries: impl IntoIterator<Item = &'a Query>) -> Matcher {
    let mut b = Builder::default();
    for q in queries {
        b.add(q);
    }
    b.finish()
}

impl<'a> Builder<'a> {
    fn add(&mut self, q: &'a Query) {
        let topic = self.topics.len() as u32;
        let local: Vec<u32> = q.terms().iter().map(|t| self.intern_term(t)).collect();
        let mut distinct = local.clone();
        distinct.sort_unstable();
        distinct.dedup();
        for &g in &distinct {
            self.term_uses[g as usize] += 1;
        }
        let always = eval(q.expr(), &|_| false);
        let start = self.ops.len() as u32;
        postfix(q.expr(), &local, &mut self.ops);
        let ops = (start, self.ops.len() as u32);
        let positive: Vec<(u32, &str)> = q
            .polarity()
            .into_iter()
            .zip(q.terms())
            .zip(&local)
            .filter(|((positive, _), _)| *positive)
            .map(|((_, t), &g)| (g, t.display.as_str()))
            .collect();
        let report = positive
            .iter()
            .enumerate()
            .map(|(j, &(term, display))| Report {
                term,
                display: display.into(),
                same_display_before: (0..j as u32)
                    .filter(|&k| positive[k as usize].1 == display)
                    .collect(),
            })
            .collect();
        self.topics.push(CTopic { ops, report });
        if always {
            self.always.push(topic);
        } else {
            self.mark_eager_regexes(q, &local);
        }
        self.queries.push((q, local));
    }

    /// A topic that is not true with every term false needs some term to hit. More: each
    /// child of its top-level AND that cannot be true without a hit needs one of its own.
    /// Post each such clause's trigger terms (the terms of which one hits whenever the
    /// clause is true), so a topic becomes a candidate only once every clause has a hit.
    fn index_triggers(&mut self) {
        let queries = std::mem::take(&mut self.queries);
        for (topic, (q, local)) in queries.iter().enumerate() {
            if self.always.binary_search(&(topic as u32)).is_ok() {
                continue;
            }
            let cost = |i: usize| {
                let uses = f64::from(self.term_uses[local[i] as usize]);
                match &q.terms()[i].kind {
                    TermKind::Regex(_) => None,
                    // Longer words are rarer, phrases rarer still, prefixes broader.
                    TermKind::Words { words, prefix } => {
                        let len = words.iter().map(|w| w.chars().count()).max().unwrap_or(1);
                        let shape = if *prefix {
                            4.0
                        } else {
                            1.0 / words.len() as f64
                        };
                        Some(uses * shape + 1.0 / len as f64)
                    }
                }
            };
            let mut clauses: Vec<Vec<usize>> = match q.expr() {
                Expr::And(v) => v
                    .iter()
                    .filter_map(|x| trigger_set(x, &cost))
                    .map(|(_, set)| set)
                    .take(MAX_CLAUSES)
                    .collect(),
                e => trigger_set(e, &cost)
                    .map(|(_, set)| set)
                    .into_iter()
                    .collect(),
            };
            if clauses.is_empty() {
                clauses.push((0..local.len()).collect());
            }
            let n = clauses.len() as u8;
            for (k, clause) in clauses.iter().enumerate() {
                for &i in clause {
                    let posting = Posting {
                        topic: topic as u32,
                        clause: k as u8,
                        clauses: n,
                    };
                    let row = &mut self.postings[local[i] as usize];
                    if !row
                        .last()
                        .is_some_and(|p| p.topic == posting.topic && p.clause == posting.clause)
                    {
                        row.push(posting);
                    }
                }
            }
        }
    }

    /// A topic whose regexes can make it true with no word hit needs them run for every
    /// item; otherwise they run only when a word made the topic a candidate.
    fn mark_eager_regexes(&mut self, q: &Query, local: &[u32]) {
        let regexes: Vec<usize> = (0..local.len())
            .filter(|&i| matches!(q.terms()[i].kind, TermKind::Regex(_)))
            .collect();
        if regexes.is_empty() {
            return;
        }
        let alone = regexes.len() > MAX_REGEX_COMBINATIONS
            || (1u32..1 << regexes.len()).any(|set| {
                eval(q.expr(), &|i| {
                    regexes
                        .iter()
                        .position(|&r| r == i)
                        .is_some_and(|k| set & (1 << k) != 0)
                })
            });
        if alone {
            for &i in &regexes {
                if let CKind::Regex { eager, .. } = &mut self.terms[local[i] as usize].kind {
                    *eager = true;
                }
            }
        }
    }

    fn intern_word(&mut self, w: &str) -> u32 {
        if let Some(&id) = self.words.get(w) {
            return id;
        }
        let id = self.words.len() as u32;
        self.words.insert(w.into(), id);
        self.word_terms.push(Vec::new());
        id
    }

    fn intern_term(&mut self, term: &Term) -> u32 {
        let mask = term.field.mask();
        let key = match &term.kind {
            TermKind::Words { words, prefix } => Key::Words(mask, words.clone(), *prefix),
            TermKind::Regex(re) => Key::Regex(mask, re.as_str().to_string()),
        };
        if let Some(&g) = self.keys.get(&key) {
            return g;
        }
        let g = self.terms.len() as u32;
        let kind = match &term.kind {
            TermKind::Regex(re) => {
                let gate = regexes::required_word(re.as_str()).map(|w| {
                    // The gate reads the field's folded tokens.
                    self.token_fields |= mask;
                    self.gate_fields |= mask;
                    let next = self.gates.len() as u32;
                    *self.gates.entry(w).or_insert(next)
                });
                CKind::Regex {
                    re: re.clone(),
                    eager: false,
                    gate,
                }
            }
            TermKind::Words { words, prefix } => {
                self.token_fields |= mask;
                self.words_kind(g, words, *prefix)
            }
        };
        self.keys.insert(key, g);
        self.terms.push(CTerm { mask, kind });
        self.postings.push(Vec::new());
        self.term_uses.push(0);
        g
    }

    fn words_kind(&mut self, g: u32, words: &[String], prefix: bool) -> CKind {
        let (exact, tail) = match (prefix, words) {
            (true, [stem]) => {
                self.prefixes.insert(stem, g);
                return CKind::Prefix;
            }
            (false, [word]) => {
                let id = self.intern_word(word);
                self.word_terms[id as usize].push(g);
                return CKind::Word;
            }
            (true, [exact @ .., tail]) => (exact, Some(tail.clone().into_boxed_str())),
            (_, exact) => (exact, None),
        };
        let elems: Box<[u32]> = exact.iter().map(|w| self.intern_word(w)).collect();
        if elems.is_empty() {
            // Not produced by the parser; such a term never hits.
            return CKind::Phrase {
                elems,
                tail,
                anchor: 0,
            };
        }
        // The longest word is the likeliest to be rare: fewest occurrences to verify.
        let anchor = (0..exact.len())
            .rev()
            .max_by_key(|&i| exact[i].len())
            .unwrap_or(0);
        self.word_terms[elems[anchor] as usize].push(g);
        CKind::Phrase {
            elems,
            tail,
            anchor,
        }
    }

    fn finish(mut self) -> Matcher {
        self.index_triggers();
        let eager = (0..self.terms.len() as u32)
            .filter(|&t| {
                matches!(
                    self.terms[t as usize].kind,
                    CKind::Regex { eager: true, .. }
                )
            })
            .collect();
        let mut gate_words: Vec<(&str, u32)> =
            self.gates.iter().map(|(w, &id)| (&**w, id)).collect();
        gate_words.sort_unstable_by_key(|&(_, id)| id);
        let gates = if gate_words.is_empty() {
            None
        } else {
            aho_corasick::AhoCorasick::builder()
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .build(gate_words.iter().map(|(w, _)| w))
                .map_err(
                    |e| tracing::warn!(error = %e, "regex gate words: running regexes ungated"),
                )
                .ok()
        };
        Matcher {
            words: self.words,
            word_terms: Csr::from_rows(&self.word_terms),
            prefixes: self.prefixes,
            terms: self.terms,
            postings: Csr::from_rows(&self.postings),
            topics: self.topics,
            ops: self.ops,
            always: self.always,
            eager,
            gate_fields: if gates.is_some() { self.gate_fields } else { 0 },
            gates,
            token_fields: self.token_fields,
        }
    }
}

/// Terms of which at least one hits whenever `e` is true, and their summed `cost`: `None`
/// if `e` can be true without any of its word terms (`cost` is `None` for a regex term).
/// For an AND, the cheapest child's set suffices.
fn trigger_set(e: &Expr, cost: &impl Fn(usize) -> Option<f64>) -> Option<(f64, Vec<usize>)> {
    match e {
        Expr::Term(i) => cost(*i).map(|c| (c, vec![*i])),
        Expr::Or(v) => v.iter().try_fold((0.0, Vec::new()), |(c, mut set), x| {
            let (xc, xs) = trigger_set(x, cost)?;
            set.extend(xs);
            Some((c + xc, set))
        }),
        Expr::And(v) => v
            .iter()
            .filter_map(|x| trigger_set(x, cost))
            .min_by(|a, b| a.0.total_cmp(&b.0)),
        Expr::Not(x) => match &**x {
            Expr::Not(y) => trigger_set(y, cost),
            _ => None,
        },
    }
}

fn postfix(e: &Expr, local: &[u32], out: &mut Vec<Op>) {
    match e {
        Expr::And(v) | Expr::Or(v) => {
            v.iter().for_each(|x| postfix(x, local, out));
            let n = v.len() as u32;
            out.push(if matches!(e, Expr::And(_)) {
                Op::And(n)
            } else {
                Op::Or(n)
            });
        }
        Expr::Not(x) => {
            postfix(x, local, out);
            out.push(Op::Not);
        }
        Expr::Term(i) => out.push(Op::Term(local[*i])),
    }
}
