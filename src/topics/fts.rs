//! A query as an SQLite FTS5 pre-filter, for `feedwatch search`. Pure.
//!
//! The index holds each item's words as our tokenizer folds them (space-separated, see
//! `store::search::index_text`), so a word, phrase or prefix term looks up exactly the tokens
//! the matcher compares. Regexes, `feed:`/`url:` and NOT have no index form: they constrain
//! nothing here. The expression is therefore a *necessary* condition — every item the query
//! matches also matches it — and the candidates are then checked with the real matcher, so
//! search and alerts agree.

use super::{Expr, Field, Query, TermKind};

/// The FTS5 MATCH expression that every match of `query` satisfies, or `None` when it
/// constrains nothing (every stored item is a candidate).
pub fn prefilter(query: &Query) -> Option<String> {
    expr(query, query.expr())
}

fn expr(q: &Query, e: &Expr) -> Option<String> {
    match e {
        Expr::Term(i) => term(q, *i),
        // A conjunction needs each constrained part; unconstrained parts drop out.
        Expr::And(parts) => {
            let parts: Vec<String> = parts.iter().filter_map(|p| expr(q, p)).collect();
            match parts.len() {
                0 => None,
                1 => parts.into_iter().next(),
                _ => Some(format!("({})", parts.join(" AND "))),
            }
        }
        // A disjunction is constrained only if every branch is.
        Expr::Or(parts) => {
            let parts: Option<Vec<String>> = parts.iter().map(|p| expr(q, p)).collect();
            parts.map(|p| format!("({})", p.join(" OR ")))
        }
        // Items without the term are candidates too: no constraint.
        Expr::Not(_) => None,
    }
}

fn term(q: &Query, i: usize) -> Option<String> {
    let t = q.terms().get(i)?;
    let TermKind::Words { words, prefix } = &t.kind else {
        return None;
    };
    // Tokens are runs of letters, digits and marks: no quote to escape inside a phrase.
    if words.is_empty() || words.iter().any(|w| w.is_empty() || w.contains('"')) {
        return None;
    }
    let columns = match t.field {
        Field::Any => "{title summary content categories}",
        Field::Title => "title",
        Field::Summary => "summary",
        Field::Content => "content",
        Field::Author => "author",
        Field::Category => "categories",
        Field::Feed | Field::Url => return None,
    };
    // The index keeps which words are in which column, not their positions (it only narrows
    // the candidates, so it stays small and cheap to write): a phrase asks for all its words.
    // Quoted, FTS keywords (`and`, `or`, `near`) stay words.
    let last = words.len() - 1;
    let parts: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, w)| format!("\"{w}\"{}", if *prefix && i == last { "*" } else { "" }))
        .collect();
    Some(format!("{columns} : ({})", parts.join(" AND ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fts(q: &str) -> Option<String> {
        prefilter(&Query::parse(q).unwrap())
    }

    #[test]
    fn words_phrases_prefixes_and_fields() {
        let any = "{title summary content categories}";
        assert_eq!(fts("China").unwrap(), format!("{any} : (\"china\")"));
        assert_eq!(
            fts("title:\"Strategic Partnership\"").unwrap(),
            "title : (\"strategic\" AND \"partnership\")"
        );
        assert_eq!(
            fts("sanction*").unwrap(),
            format!("{any} : (\"sanction\"*)")
        );
        assert_eq!(
            fts("(China OR Beijing) AND (Russia OR Lavrov) -sponsored").unwrap(),
            format!(
                "(({any} : (\"china\") OR {any} : (\"beijing\")) AND ({any} : (\"russia\") OR {any} : (\"lavrov\")))"
            )
        );
    }

    #[test]
    fn what_fts_cannot_decide_constrains_nothing() {
        let any0 = "{title summary content categories}";
        assert_eq!(fts("-sponsored"), None);
        assert_eq!(fts("/Lav+rov/"), None);
        assert_eq!(fts("feed:agency-wire"), None);
        assert_eq!(
            fts("普京").unwrap(),
            format!("{any0} : (\"普\" AND \"京\")"),
            "one token per character, as the index holds them"
        );
        assert_eq!(fts("Straße").unwrap(), format!("{any0} : (\"strasse\")"));
        // One unconstrained branch of an OR leaves the OR unconstrained...
        assert_eq!(fts("China OR /x/"), None);
        // ...but an AND keeps its constrained parts.
        let any = "{title summary content categories}";
        assert_eq!(fts("China /x/").unwrap(), format!("{any} : (\"china\")"));
        assert_eq!(
            fts("\"and or\"").unwrap(),
            format!("{any} : (\"and\" AND \"or\")")
        );
    }
}
