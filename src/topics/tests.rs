//! The language as a user reads it (DESIGN.md §5): every rule checked through the reference
//! evaluator and the compiled matcher alike.

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

/// The verdict on an item with this title and content, checked to be the same from the
/// reference evaluator, the compiled matcher and the explanation.
fn check(q: &str, title: &str, content: &str) -> Option<Vec<String>> {
    let item = ItemText {
        title,
        content,
        feed: "wire",
        ..Default::default()
    };
    let query = Query::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    let reference = query.matches(&Document::new(&item));
    let compiled = Matcher::new([&query])
        .matches(&item, |_| true)
        .pop()
        .map(|m| m.matched_terms);
    assert_eq!(compiled, reference, "matcher and reference differ on {q}");
    let explained = query.explain(&item);
    assert_eq!(explained.matches, reference.is_some());
    assert_eq!(
        explained.matched_terms,
        reference.clone().unwrap_or_default()
    );
    reference
}

fn hits(q: &str, text: &str) -> bool {
    check(q, "", text).is_some()
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

#[test]
fn a_term_is_a_whole_word() {
    assert!(!hits("China", "Chinatown restaurants"));
    assert!(!hits("Iran", "Iranian nuclear issue"));
    assert!(hits("Iran*", "Iranian nuclear issue"));
    assert!(!hits("rust", "a trusty crate"));
    assert!(hits("China", "trade with China, again"));
}

#[test]
fn a_possessive_does_not_stop_a_match() {
    assert!(hits("Lavrov", "Lavrov’s recent discussions"));
    assert!(hits("Lavrov", "Lavrov's recent discussions"));
    assert!(hits("Lavrov's", "Lavrov’s recent discussions"));
    assert!(hits("\"Lavrov’s recent\"", "Lavrov's recent discussions"));
    assert!(hits(
        "\"China’s relationship\"",
        "value of China’s relationship"
    ));
}

#[test]
fn case_accents_and_typography_fold_both_ways() {
    assert!(hits("president", "Président Macron"));
    assert!(hits("PRÉSIDENT", "president macron"));
    assert!(hits("Sao Paulo", "São Paulo"));
    assert!(hits("\"most stable\"", "the “most stable, most mature”"));
    assert!(hits("“most stable”", "the \"most stable\""));
    assert!(hits("ЛАВРОВ", "министр лавров"));
    assert!(hits("лавров", "МИНИСТР ЛАВРОВ"));
    assert!(hits("ΑΘΗΝΑ", "στην Αθήνα"));
    assert!(hits("Οδυσσευς", "ΟΔΥΣΣΕΥΣ"), "final sigma folds to sigma");
    assert!(hits("strasse", "an der Straße"), "ß");
}

#[test]
fn hyphens_and_punctuation_separate_words() {
    assert!(hits("Russian", "the Sino-Russian partnership"));
    assert!(hits("sino", "the Sino-Russian partnership"));
    assert!(hits("\"Sino-Russian\"", "the Sino–Russian partnership"));
    assert!(hits("\"Sino-Russian\"", "Sino Russian ties"));
    assert!(!hits("\"Sino-Russian\"", "Russian-Sino ties"));
    assert!(
        hits("Sino-Russ*", "Sino-Russian"),
        "a phrase ending in a prefix"
    );
    assert!(hits("dual-use", "supplying dual-use goods"));
}

#[test]
fn negation_and_upper_case_operators() {
    let text = "China sponsored content";
    assert!(!hits("-sponsored China", text));
    assert!(!hits("China NOT sponsored", text));
    assert!(hits("-sponsored China", "China news"));
    assert!(hits("China -Brazil", text));
    assert!(
        hits("sponsored or Brazil", "sponsored or Brazil"),
        "lower-case `or` is a word"
    );
    assert!(!hits("sponsored or Brazil", "sponsored Brazil"));
    assert!(hits("sponsored OR Brazil", "sponsored"));
    assert!(!hits("China and Brazil", "China Brazil"));
    assert!(hits("China AND NOT Brazil", "China"));
    assert_eq!(
        check("-sponsored", "", "nothing here"),
        Some(vec![]),
        "a purely negative query matches with no terms to report"
    );
    assert_eq!(check("Brazil OR -sponsored", "", "China"), Some(vec![]));
    assert_eq!(
        check("NOT NOT China", "", "China"),
        Some(vec!["China".into()]),
        "twice negated counts for the match"
    );
}

#[test]
fn spaceless_scripts_match_by_substring() {
    assert!(hits("普京", "俄罗斯总统普京访问北京"));
    assert!(hits("北京", "俄罗斯总统普京访问北京"));
    assert!(!hits("北京大学", "俄罗斯总统普京访问北京"));
    assert!(
        hits("\"普京 访问\"", "俄罗斯总统普京访问北京"),
        "spaces in the query do not matter"
    );
    assert!(
        hits("Putin", "总统Putin访问北京"),
        "a Latin word in such text"
    );
    assert!(!hits("Put", "总统Putin访问北京"), "is still a whole word");
    assert!(hits("Put*", "总统Putin访问北京"));
    assert!(hits("プーチン", "プーチン大統領が北京を訪問"));
    assert!(hits("กรุงเทพ", "ข่าวกรุงเทพมหานคร"));
    assert!(hits("普京 -北京", "普京访问上海"));
    assert!(!hits("普京 -北京", "普京访问北京"));
}

#[test]
fn fields_and_regexes_in_the_compiled_matcher() {
    let cats = ["International".to_string(), "Agencies".to_string()];
    let item = ItemText {
        title: "Markets rally",
        summary: "Oil prices rose",
        author: "Jane Doe",
        categories: &cats,
        feed: "agency-wire",
        url: "https://example.org/2026/oil",
        ..Default::default()
    };
    let queries: Vec<Query> = [
        "title:markets",
        "title:oil",
        "summary:oil author:doe",
        "category:international",
        "category:\"international agencies\"",
        "feed:agency-wire",
        "url:/example\\.org\\/2026/",
        "/oil PRICES/",
        "title:/oil/",
        "rally /^Markets/",
    ]
    .iter()
    .map(|q| Query::parse(q).unwrap())
    .collect();
    let got: Vec<usize> = Matcher::new(&queries)
        .matches(&item, |_| true)
        .into_iter()
        .map(|m| m.topic)
        .collect();
    assert_eq!(
        got,
        [0, 2, 3, 5, 6, 7, 9],
        "a phrase does not run across categories"
    );
    let doc = Document::new(&item);
    let reference: Vec<usize> = (0..queries.len())
        .filter(|&i| queries[i].matches(&doc).is_some())
        .collect();
    assert_eq!(got, reference);
}

#[test]
fn matcher_asks_applies_only_for_candidates_and_respects_it() {
    let queries: Vec<Query> = ["China", "Brazil", "-sponsored", "China Russia"]
        .iter()
        .map(|q| Query::parse(q).unwrap())
        .collect();
    let m = Matcher::new(&queries);
    let item = ItemText {
        title: "China and Russia",
        ..Default::default()
    };
    let mut asked = Vec::new();
    let got = m.matches(&item, |i| {
        asked.push(i);
        i != 3
    });
    assert_eq!(asked, [0, 2, 3], "Brazil has no hit and is not a candidate");
    let topics: Vec<usize> = got.iter().map(|t| t.topic).collect();
    assert_eq!(topics, [0, 2]);
    assert_eq!(got[0].matched_terms, ["China"]);
}

#[test]
fn matched_terms_in_query_order_without_repeats_or_negated_terms() {
    assert_eq!(
        check(
            "(China OR Beijing) AND (Russia OR Lavrov) -sponsored",
            "Lavrov in Beijing",
            "China and Russia; China again"
        ),
        Some(vec![
            "China".into(),
            "Beijing".into(),
            "Russia".into(),
            "Lavrov".into()
        ])
    );
    assert_eq!(
        check(
            "China title:China -(Brazil -Lavrov)",
            "China: Lavrov in Beijing",
            ""
        ),
        Some(vec!["China".into(), "Lavrov".into()]),
        "one display once; twice negated counts"
    );
    assert_eq!(
        check("China -(Brazil OR Lavrov)", "China", ""),
        Some(vec!["China".into()])
    );
}

#[test]
fn nesting_is_bounded_with_a_clear_error() {
    let deep = "(".repeat(100_000);
    let e = Query::parse(&deep).unwrap_err();
    assert_eq!(e.column, MAX_DEPTH + 1);
    assert!(e.message.contains("nested more than 256 levels"), "{e}");
    let e = Query::parse(&format!("{}China", "-".repeat(100_000))).unwrap_err();
    assert_eq!(e.column, MAX_DEPTH + 1);
    assert!(e.message.contains("nested more than 256 levels"), "{e}");
    let e = Query::parse(&format!("a {}b", "NOT (".repeat(200))).unwrap_err();
    assert_eq!(e.column, 3 + 5 * 128, "NOT and ( count together");
    assert!(Query::parse(&format!("{}x{}", "(".repeat(100_000), ")".repeat(100_000))).is_err());
}

#[test]
fn nesting_at_the_limit_is_accepted_and_evaluated() {
    let parens = format!("{}China{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(hits(&parens, "China"));
    assert!(!hits(&parens, "Brazil"));
    let nots = format!("{}China", "-".repeat(MAX_DEPTH));
    assert!(hits(&nots, "China"), "an even number of NOTs");
    assert!(!hits(&nots, "Brazil"));
    let mixed = format!(
        "{}China{}",
        "-(".repeat(MAX_DEPTH / 2),
        ")".repeat(MAX_DEPTH / 2)
    );
    assert!(hits(&mixed, "China"));
    assert!(
        Query::parse(&format!("({parens})")).is_err(),
        "one more level is refused"
    );
}

#[test]
fn explanation_reports_each_term() {
    let q = Query::parse("title:China \"strategic partnership\" sanction* -sponsored /Wang\\s+Yi/")
        .unwrap();
    let e = q.explain(&ItemText {
        title: "China Emphasises Strategic Partnership",
        content: "Foreign Minister Wang Yi; new sanctions",
        ..Default::default()
    });
    assert!(e.matches);
    assert_eq!(
        e.matched_terms,
        [
            "China",
            "strategic partnership",
            "sanction*",
            "/Wang\\s+Yi/"
        ]
    );
    let kinds: Vec<_> = e
        .terms
        .iter()
        .map(|t| (t.kind, t.field, t.hit, t.negated))
        .collect();
    assert_eq!(
        kinds,
        [
            ("word", "title", true, false),
            ("phrase", "any", true, false),
            ("prefix", "any", true, false),
            ("word", "any", false, true),
            ("regex", "any", true, false),
        ]
    );
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["terms"][2]["folded"], "sanction*");
}

#[test]
fn matcher_is_shared_between_threads_and_reentrant() {
    fn shared<T: Send + Sync>(_: &T) {}
    let queries: Vec<Query> = ["China", "/russia/", "Lavrov -sponsored"]
        .iter()
        .map(|q| Query::parse(q).unwrap())
        .collect();
    let m = Matcher::new(&queries);
    shared(&m);
    let item = ItemText {
        title: "China and Russia",
        content: "Lavrov visits",
        ..Default::default()
    };
    let topics = |v: Vec<TopicMatch>| v.into_iter().map(|t| t.topic).collect::<Vec<_>>();
    let on_thread = std::thread::scope(|s| s.spawn(|| topics(m.matches(&item, |_| true))).join());
    assert_eq!(on_thread.ok(), Some(vec![0, 1, 2]));
    // `applies` may itself match (another item): the matcher does not trip over itself.
    let other = ItemText {
        title: "China, sponsored",
        ..Default::default()
    };
    let got = m.matches(&item, |i| {
        m.matches(&other, |_| true).iter().all(|t| t.topic != i)
    });
    assert_eq!(
        topics(got),
        [1, 2],
        "topic 0 is filtered by the inner match"
    );
}
