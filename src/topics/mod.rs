//! The topic query language (DESIGN.md §5): lexer → parser → one compiled [`Matcher`] for all
//! topics. Pure.
//!
//! A term matches whole folded words ([`normalize`] decides what a word is); a phrase matches
//! consecutive words within one field. [`Query::matches`] over a [`Document`] is the plain
//! per-query evaluator, kept as the reference the compiled [`Matcher`] is tested against;
//! [`Query::explain`] says term by term why a query does or does not match a text.

mod explain;
pub mod fts;
mod lexer;
mod matcher;
pub mod normalize;
mod parser;

use std::collections::HashSet;
use std::fmt;

pub use explain::{Explanation, TermReport};
pub use matcher::{Matcher, TopicMatch};
pub use parser::MAX_DEPTH;

/// A query that failed to compile, with the 1-based column in the query text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub column: usize,
    pub message: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for QueryError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// Title, summary, content and categories.
    Any,
    Title,
    Summary,
    Content,
    Author,
    Category,
    Feed,
    Url,
}

/// Number of item fields a term can look at.
const SLOTS: usize = 7;
const TITLE: usize = 0;
const SUMMARY: usize = 1;
const CONTENT: usize = 2;
const AUTHOR: usize = 3;
const CATEGORY: usize = 4;
const FEED: usize = 5;
const URL: usize = 6;

impl Field {
    /// The item fields this field name covers, as a bit per slot.
    fn mask(self) -> u8 {
        let bit = |s: usize| 1u8 << s;
        match self {
            Field::Any => bit(TITLE) | bit(SUMMARY) | bit(CONTENT) | bit(CATEGORY),
            Field::Title => bit(TITLE),
            Field::Summary => bit(SUMMARY),
            Field::Content => bit(CONTENT),
            Field::Author => bit(AUTHOR),
            Field::Category => bit(CATEGORY),
            Field::Feed => bit(FEED),
            Field::Url => bit(URL),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Field::Any => "any",
            Field::Title => "title",
            Field::Summary => "summary",
            Field::Content => "content",
            Field::Author => "author",
            Field::Category => "category",
            Field::Feed => "feed",
            Field::Url => "url",
        }
    }
}

#[derive(Debug, Clone)]
pub enum TermKind {
    /// Consecutive folded tokens: a word, a phrase, or a word in a spaceless script (one token
    /// per character). With `prefix`, the last token need only start with the last word
    /// (`sanction*`, `Sino-Russ*`).
    Words { words: Vec<String>, prefix: bool },
    /// `/regex/`, case-insensitive, over the field's original text.
    Regex(regex::Regex),
}

#[derive(Debug, Clone)]
pub struct Term {
    pub field: Field,
    pub kind: TermKind,
    /// The term as the user wrote it, reported in `matched_terms`.
    pub display: String,
}

/// A query as a tree over its terms (`Term(i)` is `terms[i]`); at most [`MAX_DEPTH`] deep in
/// parentheses and NOTs, so the recursive walks below are bounded.
#[derive(Debug, Clone)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Term(usize),
}

/// A compiled query.
#[derive(Debug, Clone)]
pub struct Query {
    source: String,
    expr: Expr,
    terms: Vec<Term>,
}

impl Query {
    pub fn parse(source: &str) -> Result<Self, QueryError> {
        let toks = lexer::lex(source)?;
        let (expr, terms) = parser::Parser::new(toks, source.chars().count()).parse()?;
        Ok(Self {
            source: source.to_string(),
            expr,
            terms,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// `Some(matched_terms)` when the document matches. The terms are those that matched and
    /// count for the match (not under a NOT), in query order, without repeats.
    pub fn matches(&self, doc: &Document) -> Option<Vec<String>> {
        let hits: Vec<bool> = self.terms.iter().map(|t| doc.has(t)).collect();
        self.verdict(&hits)
    }

    /// The outcome for these term hits (`hits[i]` for `terms[i]`).
    fn verdict(&self, hits: &[bool]) -> Option<Vec<String>> {
        if !eval(&self.expr, &|i| hits[i]) {
            return None;
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (i, positive) in self.polarity().into_iter().enumerate() {
            let d = &self.terms[i].display;
            if positive && hits[i] && seen.insert(d.as_str()) {
                out.push(d.clone());
            }
        }
        Some(out)
    }

    /// For each term, whether it counts for a match: under an even number of NOTs.
    fn polarity(&self) -> Vec<bool> {
        let mut out = vec![true; self.terms.len()];
        mark_polarity(&self.expr, true, &mut out);
        out
    }
}

/// The value of `e` when term `i` is `hit(i)`. Recursive, but the tree is bounded.
fn eval(e: &Expr, hit: &impl Fn(usize) -> bool) -> bool {
    match e {
        Expr::And(v) => v.iter().all(|x| eval(x, hit)),
        Expr::Or(v) => v.iter().any(|x| eval(x, hit)),
        Expr::Not(x) => !eval(x, hit),
        Expr::Term(i) => hit(*i),
    }
}

fn mark_polarity(e: &Expr, positive: bool, out: &mut [bool]) {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|x| mark_polarity(x, positive, out)),
        Expr::Not(x) => mark_polarity(x, !positive, out),
        Expr::Term(i) => out[*i] = positive,
    }
}

/// The text of one item, as the matcher sees it.
#[derive(Debug, Default, Clone)]
pub struct ItemText<'a> {
    pub title: &'a str,
    pub summary: &'a str,
    pub content: &'a str,
    pub author: &'a str,
    pub categories: &'a [String],
    pub feed: &'a str,
    pub url: &'a str,
}

impl ItemText<'_> {
    /// The original text of field `slot`; categories one per line.
    fn raw(&self, slot: usize) -> std::borrow::Cow<'_, str> {
        match slot {
            TITLE => self.title.into(),
            SUMMARY => self.summary.into(),
            CONTENT => self.content.into(),
            AUTHOR => self.author.into(),
            CATEGORY => self.categories.join("\n").into(),
            FEED => self.feed.into(),
            _ => self.url.into(),
        }
    }

    /// Append the tokens of field `slot`; a barrier between categories keeps a phrase inside
    /// one category.
    fn tokenize(&self, slot: usize, out: &mut normalize::Tokens) {
        if slot == CATEGORY {
            for (i, c) in self.categories.iter().enumerate() {
                if i > 0 {
                    out.push_barrier();
                }
                out.push_text(c);
            }
        } else {
            out.push_text(&self.raw(slot));
        }
    }
}

/// An item folded and split into words, field by field, for the reference evaluator.
pub struct Document {
    raw: [String; SLOTS],
    words: [Vec<String>; SLOTS],
}

impl Document {
    pub fn new(t: &ItemText<'_>) -> Self {
        let raw = std::array::from_fn(|s| t.raw(s).into_owned());
        let words = std::array::from_fn(|s| {
            let mut toks = normalize::Tokens::new();
            t.tokenize(s, &mut toks);
            toks.iter().map(str::to_string).collect()
        });
        Self { raw, words }
    }

    /// Whether `term` occurs: the plain definition, field by field, window by window.
    fn has(&self, term: &Term) -> bool {
        let mask = term.field.mask();
        (0..SLOTS).filter(|s| mask & (1 << s) != 0).any(|s| {
            let words = &self.words[s];
            match &term.kind {
                TermKind::Words { words: w, prefix } => words.windows(w.len()).any(|win| {
                    let n = w.len() - 1;
                    win[..n] == w[..n]
                        && if *prefix {
                            win[n].starts_with(w[n].as_str())
                        } else {
                            win[n] == w[n]
                        }
                }),
                TermKind::Regex(re) => re.is_match(&self.raw[s]),
            }
        })
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
