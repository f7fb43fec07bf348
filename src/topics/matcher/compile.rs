//! Queries → one [`Matcher`]: identical terms shared between topics, words interned, phrases
//! anchored on their longest word, prefix stems in a trie, and each topic classified at
//! compile time (can it match with no word hit at all? then it is evaluated for every item,
//! or its regexes run for every item).

use rustc_hash::FxHashMap;

use super::prefix::PrefixTrie;
use super::{CKind, CTerm, CTopic, Csr, EagerRegexes, Matcher, Op};
use crate::topics::{Expr, Query, Term, TermKind, eval};

/// Past this many regex terms in one topic, assume they can match it alone rather than try
/// every combination.
const MAX_REGEX_COMBINATIONS: usize = 10;

#[derive(Debug, PartialEq, Eq, Hash)]
enum Key {
    Words(u8, Vec<String>, bool),
    Regex(u8, String),
}

#[derive(Default)]
struct Builder {
    words: FxHashMap<Box<str>, u32>,
    word_terms: Vec<Vec<u32>>,
    keys: FxHashMap<Key, u32>,
    terms: Vec<CTerm>,
    term_topics: Vec<Vec<u32>>,
    prefixes: PrefixTrie,
    topics: Vec<CTopic>,
    always: Vec<u32>,
    token_fields: u8,
}

pub(super) fn build<'a>(queries: impl IntoIterator<Item = &'a Query>) -> Matcher {
    let mut b = Builder::default();
    for q in queries {
        b.add(q);
    }
    b.finish()
}

impl Builder {
    fn add(&mut self, q: &Query) {
        let topic = self.topics.len() as u32;
        let local: Vec<u32> = q.terms().iter().map(|t| self.intern_term(t)).collect();
        for &g in &local {
            let users = &mut self.term_topics[g as usize];
            if users.last() != Some(&topic) {
                users.push(topic);
            }
        }
        let mut prog = Vec::new();
        postfix(q.expr(), &local, &mut prog);
        let report = q
            .polarity()
            .into_iter()
            .zip(q.terms())
            .zip(&local)
            .filter(|((positive, _), _)| *positive)
            .map(|((_, t), &g)| (g, t.display.clone().into_boxed_str()))
            .collect();
        self.topics.push(CTopic {
            prog: prog.into_boxed_slice(),
            report,
        });
        self.classify(q, topic, &local);
    }

    /// A topic true with every term false is evaluated for every item. Otherwise, if its
    /// regexes can make it true with no word hit, they must run for every item; if not, they
    /// run only when a word made the topic a candidate.
    fn classify(&mut self, q: &Query, topic: u32, local: &[u32]) {
        if eval(q.expr(), &|_| false) {
            self.always.push(topic);
            return;
        }
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
            TermKind::Regex(re) => CKind::Regex {
                re: re.clone(),
                eager: false,
            },
            TermKind::Words { words, prefix } => {
                self.token_fields |= mask;
                self.words_kind(g, words, *prefix)
            }
        };
        self.keys.insert(key, g);
        self.terms.push(CTerm { mask, kind });
        self.term_topics.push(Vec::new());
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

    fn finish(self) -> Matcher {
        let eager = std::array::from_fn(|slot| {
            let (terms, patterns): (Vec<u32>, Vec<&str>) = self
                .terms
                .iter()
                .enumerate()
                .filter_map(|(g, t)| match &t.kind {
                    CKind::Regex { re, eager: true } if t.mask & (1 << slot) != 0 => {
                        Some((g as u32, re.as_str()))
                    }
                    _ => None,
                })
                .unzip();
            EagerRegexes::new(terms, &patterns)
        });
        Matcher {
            words: self.words,
            word_terms: Csr::from_rows(&self.word_terms),
            prefixes: self.prefixes,
            terms: self.terms,
            term_topics: Csr::from_rows(&self.term_topics),
            topics: self.topics,
            always: self.always,
            eager,
            token_fields: self.token_fields,
        }
    }
}

impl EagerRegexes {
    /// One `RegexSet` for the field; if the union is too big to compile, each regex alone.
    fn new(terms: Vec<u32>, patterns: &[&str]) -> Self {
        if terms.is_empty() {
            return Self { set: None, terms };
        }
        let set = regex::RegexSetBuilder::new(patterns)
            .case_insensitive(true)
            .size_limit(patterns.len().saturating_mul(1 << 20).min(256 << 20))
            .build();
        match set {
            Ok(set) => Self {
                set: Some(set),
                terms,
            },
            Err(e) => {
                tracing::warn!(
                    regexes = patterns.len(),
                    error = %e,
                    "topic regexes too large to combine; running them one by one"
                );
                Self { set: None, terms }
            }
        }
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
