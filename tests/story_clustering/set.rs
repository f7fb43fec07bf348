//! Loading the labelled set, clustering it as the writer does, and scoring the result.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use chrono::DateTime;
use feedwatch::stories::{Signature, Similarity, StoryIndex};

pub const WINDOW: i64 = 72 * 3600;
pub const FLOOR: f64 = 0.95;

#[derive(Debug, Clone)]
pub struct Item {
    /// Labelled cluster: the fixture file, e.g. `markets/tokyo-close-0414`.
    pub story: String,
    pub outlet: String,
    pub feed: i64,
    pub at: i64,
    pub title: String,
    pub body: String,
    pub variant: Vec<String>,
    /// (other story, class) this story must stay apart from.
    pub near: Vec<(String, String)>,
}

impl Item {
    pub fn subject(&self) -> &str {
        self.story.split('/').next().unwrap_or("")
    }
    pub fn is_original(&self) -> bool {
        self.variant.iter().any(|v| v == "original")
    }
}

pub fn load() -> Vec<Item> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stories");
    let mut files = Vec::new();
    for subject in std::fs::read_dir(&root).expect("fixture dir") {
        let subject = subject.expect("dir entry").path();
        if !subject.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&subject).expect("subject dir") {
            let file = file.expect("dir entry").path();
            if file.extension().is_some_and(|e| e == "txt") {
                files.push(file);
            }
        }
    }
    files.sort();
    let mut feeds: HashMap<String, i64> = HashMap::new();
    let mut items = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(&root)
            .expect("under root")
            .with_extension("");
        let story = rel.to_string_lossy().replace('\\', "/");
        let text = std::fs::read_to_string(&file).expect("fixture text");
        for block in text.split("\n=====\n") {
            let (head, body) = block
                .split_once("\n\n")
                .unwrap_or_else(|| panic!("{story}: header without body"));
            let mut fields: HashMap<&str, &str> = HashMap::new();
            let mut near = Vec::new();
            for line in head.lines() {
                let (k, v) = line
                    .split_once(": ")
                    .unwrap_or_else(|| panic!("{story}: bad header line {line:?}"));
                if k == "near" {
                    let (other, class) = v.split_once(' ').expect("near: story class");
                    near.push((other.to_string(), class.to_string()));
                } else {
                    fields.insert(k, v);
                }
            }
            let field = |k: &str| {
                fields
                    .get(k)
                    .unwrap_or_else(|| panic!("{story}: missing {k}"))
                    .to_string()
            };
            let outlet = field("outlet");
            let next = feeds.len() as i64 + 1;
            let feed = *feeds.entry(outlet.clone()).or_insert(next);
            let at = DateTime::parse_from_rfc3339(&field("published"))
                .unwrap_or_else(|e| panic!("{story}: published: {e}"))
                .timestamp();
            items.push(Item {
                story: story.clone(),
                outlet,
                feed,
                at,
                title: field("title"),
                body: body.trim_end().to_string(),
                variant: field("variant")
                    .split(',')
                    .map(|v| v.trim().to_string())
                    .collect(),
                near,
            });
        }
    }
    items.sort_by(|a, b| (a.at, &a.story, &a.outlet).cmp(&(b.at, &b.story, &b.outlet)));
    items
}

/// What the writer does: time order, evict, find, insert. Returns a story id per item.
pub fn cluster_with_index(items: &[Item], sigs: &[Signature]) -> Vec<i64> {
    cluster_with_window(items, sigs, WINDOW)
}

pub fn cluster_with_window(items: &[Item], sigs: &[Signature], window: i64) -> Vec<i64> {
    let mut index = StoryIndex::new(Duration::from_secs(window as u64));
    let mut stories = Vec::with_capacity(items.len());
    for (n, (item, sig)) in items.iter().zip(sigs).enumerate() {
        index.evict_older_than(item.at.saturating_sub(window));
        let story = index.find(sig, item.feed, item.at).unwrap_or(n as i64);
        index.insert(story, item.feed, item.at, sig);
        stories.push(story);
    }
    stories
}

/// The same procedure against every earlier item in the window, with any similarity: what
/// the index would give if it never missed a candidate.
pub fn cluster_brute(items: &[Item], sim: impl Fn(usize, usize) -> Similarity) -> Vec<i64> {
    let mut stories: Vec<i64> = Vec::with_capacity(items.len());
    for (n, item) in items.iter().enumerate() {
        let mut best: Option<((f32, f32), i64)> = None;
        for (m, earlier) in items[..n].iter().enumerate() {
            if (item.at - earlier.at).abs() > WINDOW {
                continue;
            }
            let s = sim(n, m);
            if !s.joins(item.feed == earlier.feed) {
                continue;
            }
            let score = (s.score(), s.size_ratio);
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, stories[m]));
            }
        }
        stories.push(best.map_or(n as i64, |(_, s)| s));
    }
    stories
}

pub struct PairScore {
    pub precision: f64,
    pub recall: f64,
    pub confusions: Vec<String>,
}

pub fn pair_score(items: &[Item], predicted: &[i64]) -> PairScore {
    let (mut tp, mut fp, mut fn_) = (0u32, 0u32, 0u32);
    let mut confusions = Vec::new();
    for i in 0..items.len() {
        for j in i + 1..items.len() {
            let same_pred = predicted[i] == predicted[j];
            let same_label = items[i].story == items[j].story;
            let describe = |kind: &str| {
                format!(
                    "{kind}: {} [{}] ~ {} [{}]",
                    items[i].story, items[i].outlet, items[j].story, items[j].outlet
                )
            };
            match (same_pred, same_label) {
                (true, true) => tp += 1,
                (true, false) => {
                    fp += 1;
                    confusions.push(describe("joined but apart"));
                }
                (false, true) => {
                    fn_ += 1;
                    confusions.push(describe("apart but one story"));
                }
                (false, false) => {}
            }
        }
    }
    let ratio = |a: u32, b: u32| {
        if b == 0 {
            1.0
        } else {
            f64::from(a) / f64::from(b)
        }
    };
    PairScore {
        precision: ratio(tp, tp + fp),
        recall: ratio(tp, tp + fn_),
        confusions,
    }
}

pub fn signatures(items: &[Item]) -> Vec<Signature> {
    items
        .iter()
        .map(|i| Signature::new(&i.title, &i.body))
        .collect()
}
