//! The topic language: queries (one per line, before the first NUL) parsed, compiled into one
//! `Matcher` and matched against an item whose fields follow, NUL-separated: title, summary,
//! content, author, categories (separated by `|`), feed name, URL.
//!
//! The compiled matcher must agree with the reference evaluator (`Query::matches`) and with
//! `explain`, topic by topic; the FTS prefilter must not fail.
#![no_main]

use feedwatch::topics::{Document, ItemText, Matcher, Query, fts};
use feedwatch_fuzz::{abort_on_any_panic, fields};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: abort_on_any_panic(), |data: &[u8]| {
    let Some(parts) = fields(data) else {
        return;
    };
    let part = |i: usize| parts.get(i).copied().unwrap_or("");
    let queries: Vec<Query> = part(0)
        .lines()
        .filter_map(|q| Query::parse(q).ok())
        .collect();
    let categories: Vec<String> = part(5)
        .split('|')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    let item = ItemText {
        title: part(1),
        summary: part(2),
        content: part(3),
        author: part(4),
        categories: &categories,
        feed: part(6),
        url: part(7),
    };
    let matcher = Matcher::new(&queries);
    let compiled = matcher.matches(&item, |_| true);
    let doc = Document::new(&item);
    let mut next = compiled.iter().peekable();
    for (i, q) in queries.iter().enumerate() {
        let reference = q.matches(&doc);
        let got = next.next_if(|m| m.topic == i).map(|m| m.matched_terms.clone());
        assert_eq!(got, reference, "matcher and reference differ on {:?}", q.source());
        let explained = q.explain(&item);
        assert_eq!(explained.matches, reference.is_some(), "explain on {:?}", q.source());
        assert_eq!(explained.matched_terms, reference.unwrap_or_default());
        let _ = fts::prefilter(q);
    }
    assert!(next.next().is_none(), "a match for a topic that does not exist");
});
