//! The labelled story set (tests/fixtures/stories/README.md), clustered the way the writer
//! will: items in time order, each joining the best story in the window or starting its own.
//! Pairwise precision and recall must stay at or above 0.95.
//!
//! `cargo test --test story_clustering -- --ignored --nocapture` prints the measurements that
//! src/stories/README.md reports (signals, thresholds, variation classes, sketch cost).

// A test crate's root looks for modules beside it; these live in a directory of their own.
#[path = "story_clustering/report.rs"]
mod report;
#[path = "story_clustering/set.rs"]
mod set;

use std::collections::BTreeMap;
use std::path::Path;

use feedwatch::stories::Signature;
use set::{
    FLOOR, Item, cluster_brute, cluster_with_index, cluster_with_window, load, pair_score,
    signatures,
};

#[test]
fn clustering_the_labelled_set_keeps_precision_and_recall() {
    let items = load();
    let predicted = cluster_with_index(&items, &signatures(&items));
    let s = pair_score(&items, &predicted);
    eprintln!(
        "pairwise precision {:.3}, recall {:.3} over {} items",
        s.precision,
        s.recall,
        items.len()
    );
    for c in &s.confusions {
        eprintln!("  {c}");
    }
    assert!(
        s.precision >= FLOOR && s.recall >= FLOOR,
        "precision {:.3} / recall {:.3} below {FLOOR}; confusions:\n{}",
        s.precision,
        s.recall,
        s.confusions.join("\n")
    );
}

#[test]
fn signatures_read_back_from_bytes_cluster_the_same() {
    let items = load();
    let sigs = signatures(&items);
    let stored: Vec<Signature> = sigs
        .iter()
        .map(|s| Signature::from_bytes(&s.to_bytes()).expect("round trip"))
        .collect();
    assert_eq!(stored, sigs);
    assert_eq!(
        cluster_with_index(&items, &stored),
        cluster_with_index(&items, &sigs)
    );
}

#[test]
fn the_index_finds_what_comparing_with_everything_finds() {
    let items = load();
    let sigs = signatures(&items);
    let brute = cluster_brute(&items, |a, b| sigs[a].similarity(&sigs[b]));
    let indexed = cluster_with_index(&items, &sigs);
    let (b, i) = (pair_score(&items, &brute), pair_score(&items, &indexed));
    assert!(
        i.recall >= b.recall - 0.01,
        "candidate lookup lost pairs: {:.3} vs {:.3}",
        i.recall,
        b.recall
    );
}

#[test]
fn the_labelled_set_is_the_one_documented() {
    let items = load();
    let mut sizes: BTreeMap<&str, usize> = BTreeMap::new();
    for i in &items {
        *sizes.entry(&i.story).or_default() += 1;
    }
    let clusters = sizes.values().filter(|&&n| (2..=5).contains(&n)).count();
    let singles = sizes.values().filter(|&&n| n == 1).count();
    assert!(
        sizes.values().all(|&n| n <= 5),
        "at most five outlets a story"
    );
    assert!(clusters >= 40, "{clusters} multi-outlet stories");
    assert!(singles >= 80, "{singles} stories carried once");
    // Every story has exactly one original, and every `near` names a story of the set.
    for (story, n) in &sizes {
        let originals = items
            .iter()
            .filter(|i| i.story == *story && i.is_original())
            .count();
        assert_eq!(originals, 1, "{story} ({n} items)");
    }
    for i in &items {
        for (other, _) in &i.near {
            assert!(
                sizes.contains_key(other.as_str()),
                "{}: near {other}",
                i.story
            );
        }
    }
    // The seed story is in, as the Blogger repost of the Beijing meeting.
    let seed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed-story.txt"),
    )
    .expect("seed");
    let seed_body = seed.splitn(3, '\n').nth(2).expect("seed body").trim();
    assert!(
        items
            .iter()
            .any(|i| i.body == seed_body && i.story == "china-russia/wang-lavrov-beijing")
    );
    // Some textually close stories are kept apart only by the window: without it, they join.
    let window_pairs: Vec<(&Item, &String)> = items
        .iter()
        .flat_map(|i| i.near.iter().map(move |(other, class)| (i, other, class)))
        .filter(|(_, _, class)| *class == "window")
        .map(|(i, other, _)| (i, other))
        .collect();
    let sigs = signatures(&items);
    let unbounded = cluster_with_window(&items, &sigs, i64::MAX / 4);
    let story_of = |name: &str| {
        items
            .iter()
            .position(|i| i.story == name)
            .map(|n| unbounded[n])
    };
    let joined_without_window = window_pairs
        .iter()
        .filter(|(i, other)| story_of(&i.story) == story_of(other))
        .count();
    assert!(
        joined_without_window >= 4,
        "only {joined_without_window} window pairs depend on the window"
    );
}
