//! The compiled [`Matcher`] against the reference evaluator ([`Query::matches`]) on random
//! queries and items drawn from one small vocabulary, so that terms hit often, in every case,
//! accent, possessive and typographic variant.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use super::*;

/// Each row: surface forms that fold to the same words.
const VOCAB: &[&[&str]] = &[
    &["China", "china", "CHINA", "China’s", "China's"],
    &["Chinatown", "CHINATOWN"],
    &["Beijing", "BEIJING", "Beijing’s"],
    &["Russia", "russia", "Russia's"],
    &["Russian", "russian", "RUSSIAN"],
    &["Lavrov", "LAVROV", "Lavrov’s", "Lavrov's"],
    &["Iran", "iran"],
    &["Iranian", "iranian"],
    &["Sino", "sino"],
    &["strategic", "Strategic", "STRATEGIC"],
    &["partnership", "Partnership"],
    &["sanction", "Sanction", "ſanction"],
    &["Kremlin", "\u{212A}REMLIN", "kremlin"],
    &["sanctions", "sanctioned"],
    &["sponsored", "Sponsored"],
    &["Président", "president", "PRESIDENT", "Presidént"],
    &["São", "Sao", "SÃO"],
    &["Paulo", "paulo"],
    &["лавров", "Лавров", "ЛАВРОВ"],
    &["Αθήνα", "αθηνα", "ΑΘΗΝΑ"],
    &["Οδυσσεύς", "ΟΔΥΣΣΕΥΣ", "οδυσσευς"],
    &["or"],
    &["and"],
    &["not"],
    &["trusty"],
    &["rust", "Rust"],
    &["普京"],
    &["北京"],
    &["访问"],
    &["2026"],
];

const SEPARATORS: &[&str] = &[
    " ", " ", " ", "  ", ", ", "-", "–", " — ", " “", "” ", "’ ", ". ", "\n", "",
];

const REGEXES: &[&str] = &[
    "china",
    "^Lav",
    "sanction(s|ed)",
    "s[aã]o\\s+paulo",
    "北京",
    "rus+ia\\b",
    "\\d{4}",
    "KREMLIN",
    "(?i)kremlin|beijing",
];

const FIELDS: &[&str] = &[
    "title:",
    "summary:",
    "content:",
    "author:",
    "category:",
    "feed:",
    "url:",
];

fn form() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(VOCAB).prop_flat_map(proptest::sample::select)
}

fn text(max_words: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec((form(), proptest::sample::select(SEPARATORS)), 0..max_words)
        .prop_map(|parts| parts.into_iter().map(|(w, s)| format!("{w}{s}")).collect())
}

/// A leaf as an analyst writes it: word, phrase, hyphenated pair, prefix, regex, maybe a field.
fn leaf() -> impl Strategy<Value = String> {
    let word = form().prop_map(str::to_string);
    let phrase = (form(), form(), any::<bool>()).prop_map(|(a, b, curly)| {
        if curly {
            format!("“{a} {b}”")
        } else {
            format!("\"{a} {b}\"")
        }
    });
    let hyphenated = (form(), form()).prop_map(|(a, b)| format!("{a}-{b}"));
    let prefix = (proptest::option::of(form()), form(), 1usize..6).prop_map(|(before, w, n)| {
        let stem: String = w.chars().take(n).collect();
        match before {
            Some(b) => format!("{b}-{stem}*"),
            None => format!("{stem}*"),
        }
    });
    let regex = proptest::sample::select(REGEXES).prop_map(|r| format!("/{r}/"));
    let body = prop_oneof![4 => word, 2 => phrase, 1 => hyphenated, 2 => prefix, 1 => regex];
    (
        proptest::option::weighted(0.2, proptest::sample::select(FIELDS)),
        body,
    )
        .prop_map(|(f, b)| format!("{}{b}", f.unwrap_or("")))
}

fn query() -> impl Strategy<Value = String> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(|v| v.join(" ")),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(|v| v.join(" AND ")),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(|v| v.join(" OR ")),
            inner.clone().prop_map(|q| format!("-{q}")),
            inner.clone().prop_map(|q| format!("NOT {q}")),
            inner.prop_map(|q| format!("({q})")),
        ]
    })
}

#[derive(Debug, Clone)]
struct Item {
    title: String,
    summary: String,
    content: String,
    author: String,
    categories: Vec<String>,
    feed: &'static str,
    url: &'static str,
}

impl Item {
    fn text(&self) -> ItemText<'_> {
        ItemText {
            title: &self.title,
            summary: &self.summary,
            content: &self.content,
            author: &self.author,
            categories: &self.categories,
            feed: self.feed,
            url: self.url,
        }
    }
}

fn item() -> impl Strategy<Value = Item> {
    (
        text(8),
        text(16),
        text(30),
        text(3),
        proptest::collection::vec(text(3), 0..3),
        proptest::sample::select(&["agency-wire", "Sino News", "Лавров daily"][..]),
        proptest::sample::select(
            &[
                "https://example.org/2026/china-russia",
                "https://news.example/北京/lavrov",
                "",
            ][..],
        ),
    )
        .prop_map(
            |(title, summary, content, author, categories, feed, url)| Item {
                title,
                summary,
                content,
                author,
                categories,
                feed,
                url,
            },
        )
}

/// Topics (those that parse), items, and which topics apply to the feed.
fn case() -> impl Strategy<Value = (Vec<Query>, Vec<Item>, u64)> {
    (
        proptest::collection::vec(query(), 1..16),
        proptest::collection::vec(item(), 1..6),
        any::<u64>(),
    )
        .prop_map(|(qs, items, applies)| {
            let qs = qs.iter().filter_map(|q| Query::parse(q).ok()).collect();
            (qs, items, applies)
        })
}

/// What the reference evaluator says, topic by topic.
fn reference(queries: &[Query], item: &Item, applies: u64) -> Vec<TopicMatch> {
    let doc = Document::new(&item.text());
    (0..queries.len())
        .filter(|&i| applies & (1 << (i % 64)) != 0)
        .filter_map(|i| {
            queries[i].matches(&doc).map(|matched_terms| TopicMatch {
                topic: i,
                matched_terms,
            })
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn matcher_agrees_with_reference((queries, items, applies) in case()) {
        let matcher = Matcher::new(&queries);
        for item in &items {
            let got = matcher.matches(&item.text(), |i| applies & (1 << (i % 64)) != 0);
            prop_assert_eq!(got, reference(&queries, item, applies), "item {:?}", item);
        }
    }
}

/// The generator is worth something only if topics often match and often do not.
#[test]
fn generated_cases_both_match_and_miss() {
    let mut runner = TestRunner::deterministic();
    let (mut pairs, mut matched, mut parsed, mut written) = (0, 0, 0, 0);
    for _ in 0..200 {
        let Ok(tree) = case().new_tree(&mut runner) else {
            continue;
        };
        let (queries, items, _) = tree.current();
        let Ok(sources) = proptest::collection::vec(query(), 16).new_tree(&mut runner) else {
            continue;
        };
        written += sources.current().len();
        parsed += sources
            .current()
            .iter()
            .filter(|q| Query::parse(q).is_ok())
            .count();
        for item in &items {
            pairs += queries.len();
            matched += reference(&queries, item, u64::MAX).len();
        }
    }
    eprintln!("stats {parsed}/{written} parse, {matched}/{pairs} match");
    assert!(
        parsed * 10 >= written * 9,
        "{parsed} of {written} queries parse"
    );
    assert!(
        matched * 10 >= pairs && matched * 10 <= pairs * 9,
        "{matched} of {pairs} topic-item pairs match"
    );
}
