//! Why a query does or does not match a text, term by term (`feedwatch match`).

use serde::Serialize;

use super::{Document, ItemText, Query, TermKind};

/// The verdict of one query on one item, serializable for `--json` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub matches: bool,
    /// As [`Query::matches`] reports them; empty when the query does not match.
    pub matched_terms: Vec<String>,
    /// Every term of the query, in query order.
    pub terms: Vec<TermReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TermReport {
    /// As written in the query.
    pub term: String,
    /// `any` (title, summary, content, categories) or the field named in the query.
    pub field: &'static str,
    /// `word`, `phrase`, `prefix` or `regex`.
    pub kind: &'static str,
    /// What the term looks for after folding (`"strategic partnership"`, `sanction*`).
    pub folded: String,
    /// The term occurs in the item.
    pub hit: bool,
    /// Under an odd number of NOTs: a hit counts against the match.
    pub negated: bool,
}

impl Query {
    /// Whether this query matches `item`, and what each term found.
    pub fn explain(&self, item: &ItemText<'_>) -> Explanation {
        let doc = Document::new(item);
        let hits: Vec<bool> = self.terms.iter().map(|t| doc.has(t)).collect();
        let verdict = self.verdict(&hits);
        let terms = self
            .terms
            .iter()
            .zip(self.polarity())
            .zip(&hits)
            .map(|((t, positive), &hit)| {
                let (kind, folded) = match &t.kind {
                    TermKind::Regex(re) => ("regex", format!("/{}/", re.as_str())),
                    TermKind::Words { words, prefix } => {
                        let kind = match (words.len(), prefix) {
                            (_, true) => "prefix",
                            (1, false) => "word",
                            _ => "phrase",
                        };
                        let star = if *prefix { "*" } else { "" };
                        (kind, format!("{}{star}", words.join(" ")))
                    }
                };
                TermReport {
                    term: t.display.clone(),
                    field: t.field.name(),
                    kind,
                    folded,
                    hit,
                    negated: !positive,
                }
            })
            .collect();
        Explanation {
            matches: verdict.is_some(),
            matched_terms: verdict.unwrap_or_default(),
            terms,
        }
    }
}
