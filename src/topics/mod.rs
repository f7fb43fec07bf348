//! The topic query language (DESIGN.md §5): lexer → parser → a compiled matcher. Pure.
//!
//! An item is folded and split into words once ([`Document`]); every topic is then evaluated
//! against those words, so adding topics does not re-read the item.

mod lexer;
pub mod normalize;
mod parser;

use std::collections::HashSet;
use std::fmt;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

const FIELDS: [Field; 7] = [
    Field::Title,
    Field::Summary,
    Field::Content,
    Field::Author,
    Field::Category,
    Field::Feed,
    Field::Url,
];

fn slot(f: Field) -> usize {
    FIELDS.iter().position(|x| *x == f).unwrap_or(0)
}

fn fields_of(f: Field) -> &'static [Field] {
    match f {
        Field::Any => &[
            Field::Title,
            Field::Summary,
            Field::Content,
            Field::Category,
        ],
        Field::Title => &[Field::Title],
        Field::Summary => &[Field::Summary],
        Field::Content => &[Field::Content],
        Field::Author => &[Field::Author],
        Field::Category => &[Field::Category],
        Field::Feed => &[Field::Feed],
        Field::Url => &[Field::Url],
    }
}

#[derive(Debug, Clone)]
pub enum TermKind {
    /// One word, or a phrase: consecutive folded words.
    Words(Vec<String>),
    /// `sanction*`: any word starting with the folded stem.
    Prefix(String),
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

    /// `Some(matched_terms)` when the document matches. The terms are those that matched and
    /// count for the match (not under a NOT), in query order, without repeats.
    pub fn matches(&self, doc: &Document) -> Option<Vec<String>> {
        let hits: Vec<bool> = self.terms.iter().map(|t| doc.has(t)).collect();
        if !eval(&self.expr, &hits) {
            return None;
        }
        let mut positive = Vec::new();
        collect_positive(&self.expr, &hits, false, &mut positive);
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for i in positive {
            let d = &self.terms[i].display;
            if seen.insert(d.clone()) {
                out.push(d.clone());
            }
        }
        Some(out)
    }
}

fn eval(e: &Expr, hits: &[bool]) -> bool {
    match e {
        Expr::And(v) => v.iter().all(|x| eval(x, hits)),
        Expr::Or(v) => v.iter().any(|x| eval(x, hits)),
        Expr::Not(x) => !eval(x, hits),
        Expr::Term(i) => hits[*i],
    }
}

fn collect_positive(e: &Expr, hits: &[bool], negated: bool, out: &mut Vec<usize>) {
    match e {
        Expr::And(v) | Expr::Or(v) => v
            .iter()
            .for_each(|x| collect_positive(x, hits, negated, out)),
        Expr::Not(x) => collect_positive(x, hits, !negated, out),
        Expr::Term(i) => {
            if !negated && hits[*i] {
                out.push(*i);
            }
        }
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

/// An item folded and split into words once, field by field.
pub struct Document {
    raw: [String; 7],
    words: [Vec<String>; 7],
    sets: [HashSet<String>; 7],
}

impl Document {
    pub fn new(t: &ItemText<'_>) -> Self {
        let raw = [
            t.title.to_string(),
            t.summary.to_string(),
            t.content.to_string(),
            t.author.to_string(),
            t.categories.join("\n"),
            t.feed.to_string(),
            t.url.to_string(),
        ];
        let words: [Vec<String>; 7] = std::array::from_fn(|i| normalize::words(&raw[i]));
        let sets = std::array::from_fn(|i| words[i].iter().cloned().collect());
        Self { raw, words, sets }
    }

    fn has(&self, term: &Term) -> bool {
        fields_of(term.field).iter().any(|f| {
            let s = slot(*f);
            match &term.kind {
                TermKind::Words(w) if w.len() == 1 => self.sets[s].contains(&w[0]),
                TermKind::Words(w) => self.words[s]
                    .windows(w.len())
                    .any(|win| win == w.as_slice()),
                TermKind::Prefix(p) => self.words[s].iter().any(|x| x.starts_with(p.as_str())),
                TermKind::Regex(re) => re.is_match(&self.raw[s]),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(title: &str, content: &str) -> Document {
        Document::new(&ItemText {
            title,
            content,
            feed: "wire",
            ..Default::default()
        })
    }

    fn m(q: &str, d: &Document) -> Option<Vec<String>> {
        Query::parse(q).unwrap().matches(d)
    }

    #[test]
    fn seed_story_topic_matches_with_terms() {
        let d = doc(
            "China Emphasises Strategic Partnership With Russia During Lavrov Visit",
            "During a high-profile diplomatic meeting in Beijing, Chinese Foreign Minister Wang Yi…",
        );
        let terms = m("(China OR Beijing) AND (Russia OR Lavrov)", &d).unwrap();
        assert_eq!(terms, ["China", "Beijing", "Russia", "Lavrov"]);
        assert!(m("(China OR Beijing) AND (Russia OR Lavrov) -sponsored", &d).is_some());
        assert!(m("China Russia NOT Lavrov", &d).is_none());
        assert!(m("China Brazil", &d).is_none(), "implicit AND");
    }

    #[test]
    fn whole_words_case_accents_and_typography() {
        let d = doc(
            "Trusty crates",
            "Président Macron’s “strategic partnership” speech",
        );
        assert!(m("rust", &d).is_none(), "no match inside a word");
        assert!(m("president", &d).is_some());
        assert!(m("PRÉSIDENT", &d).is_some());
        assert!(m("\"strategic partnership\"", &d).is_some());
        assert!(m("“Strategic Partnership”", &d).is_some());
        assert!(m("\"partnership strategic\"", &d).is_none());
        assert!(
            m("Macron's", &d).is_some(),
            "straight apostrophe in query matches typographic in text"
        );
        assert!(m("strat*", &d).is_some());
        assert!(m("strax*", &d).is_none());
    }

    #[test]
    fn fields_and_regex() {
        let d = Document::new(&ItemText {
            title: "Markets rally",
            content: "Oil prices rose",
            author: "Jane Doe",
            categories: &["International Agencies".to_string()],
            feed: "agency-wire",
            url: "https://example.org/2026/oil",
            ..Default::default()
        });
        assert!(m("title:markets", &d).is_some());
        assert!(m("title:oil", &d).is_none());
        assert!(m("author:doe", &d).is_some());
        assert!(m("category:\"international agencies\"", &d).is_some());
        assert!(m("feed:agency-wire", &d).is_some());
        assert!(m("url:/example\\.org\\/2026/", &d).is_some());
        assert!(m("/oil PRICES/", &d).is_some());
        assert!(
            m("agencies", &d).is_some(),
            "categories are part of the default fields"
        );
    }

    #[test]
    fn precedence_not_and_or() {
        let d = doc("a b", "");
        assert!(m("a OR c d", &d).is_some(), "AND binds tighter: a OR (c d)");
        assert!(m("(a OR c) d", &d).is_none());
        assert!(m("-c a", &d).is_some());
        assert!(m("NOT (a OR c)", &d).is_none());
        assert!(m("a AND b", &d).is_some());
        assert!(
            m("or", &doc("this or that", "")).is_some(),
            "lower-case or is a word"
        );
    }

    #[test]
    fn errors_name_the_column() {
        let e = Query::parse("(China OR Beijing").unwrap_err();
        assert_eq!(e.column, 1);
        assert!(e.message.contains("missing ')'"));
        let e = Query::parse("China OR").unwrap_err();
        assert_eq!(e.column, 9);
        let e = Query::parse("China )").unwrap_err();
        assert_eq!(e.column, 7);
        assert!(Query::parse("").is_err());
        assert!(
            Query::parse("\"open phrase")
                .unwrap_err()
                .message
                .contains("unterminated")
        );
        assert!(
            Query::parse("bogus:x")
                .unwrap_err()
                .message
                .contains("unknown field")
        );
        assert!(
            Query::parse("/[/")
                .unwrap_err()
                .message
                .contains("regular expression")
        );
        assert!(Query::parse("AND China").is_err());
    }
}
