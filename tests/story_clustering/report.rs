//! Measurements (an ignored test): the numbers behind src/stories/README.md. Signals are
//! measured pairwise over every pair of items within the window; clustering as the writer does.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use feedwatch::stories::{Features, Signature, Similarity};

use super::set::{FLOOR, Item, WINDOW, cluster_brute, cluster_with_index, load, pair_score};

/// A pairwise decision to measure.
type Signal<'a> = Box<dyn Fn(usize, usize) -> bool + 'a>;
/// The rule with one part changed.
type Ablation = fn(Similarity) -> Similarity;
/// Joined and total pairs, per class.
type PerClass = BTreeMap<String, (u32, u32)>;
/// One of a report's class tables.
type Table = fn(&SignalReport) -> &PerClass;

struct Set {
    items: Vec<Item>,
    features: Vec<Features>,
    sigs: Vec<Signature>,
    /// (earlier, later) item pairs within the window.
    pairs: Vec<(usize, usize)>,
}

impl Set {
    fn load() -> Set {
        let items = load();
        let features: Vec<Features> = items
            .iter()
            .map(|i| Features::new(&i.title, &i.body))
            .collect();
        let sigs = features.iter().map(Features::signature).collect();
        let mut pairs = Vec::new();
        for i in 0..items.len() {
            for j in i + 1..items.len() {
                if (items[j].at - items[i].at).abs() <= WINDOW {
                    pairs.push((i, j));
                }
            }
        }
        Set {
            items,
            features,
            sigs,
            pairs,
        }
    }

    fn same_story(&self, i: usize, j: usize) -> bool {
        self.items[i].story == self.items[j].story
    }

    fn same_feed(&self, i: usize, j: usize) -> bool {
        self.items[i].feed == self.items[j].feed
    }
}

#[test]
#[ignore = "measurement report; run with --ignored --nocapture"]
fn report() {
    let set = Set::load();
    let mut out = String::new();
    summary(&set, &mut out);
    clustering(&set, &mut out);
    seeds(&set, &mut out);
    let detail = signal_table(&set, &mut out);
    class_tables(&detail, &mut out);
    same_feed(&set, &mut out);
    sketch_error(&set, &mut out);
    println!("{out}");
}

fn summary(set: &Set, out: &mut String) {
    let mut sizes: BTreeMap<&str, usize> = BTreeMap::new();
    for i in &set.items {
        *sizes.entry(&i.story).or_default() += 1;
    }
    let positives = set
        .pairs
        .iter()
        .filter(|&&(i, j)| set.same_story(i, j))
        .count();
    writeln!(
        out,
        "set: {} items, {} stories ({} carried by 2-5 outlets, {} once), {} same-story pairs, {} apart pairs within 72 h",
        set.items.len(),
        sizes.len(),
        sizes.values().filter(|&&n| n > 1).count(),
        sizes.values().filter(|&&n| n == 1).count(),
        positives,
        set.pairs.len() - positives
    )
    .ok();
    let bytes: Vec<usize> = set.sigs.iter().map(|s| s.to_bytes().len()).collect();
    writeln!(
        out,
        "stored signature: mean {} bytes, max {}",
        bytes.iter().sum::<usize>() / bytes.len(),
        bytes.iter().max().unwrap_or(&0)
    )
    .ok();
}

fn clustering(set: &Set, out: &mut String) {
    let (items, f, s) = (&set.items, &set.features, &set.sigs);
    let exact = cluster_brute(items, |a, b| f[a].similarity(&f[b]));
    let brute = cluster_brute(items, |a, b| s[a].similarity(&s[b]));
    let indexed = cluster_with_index(items, s);
    for (name, predicted) in [
        ("exact features, every pair", &exact),
        ("signatures, every pair", &brute),
        ("signatures through the index (the writer)", &indexed),
    ] {
        let score = pair_score(items, predicted);
        writeln!(
            out,
            "clustering, {name}: precision {:.3} recall {:.3}",
            score.precision, score.recall
        )
        .ok();
        for c in score.confusions {
            writeln!(out, "    {c}").ok();
        }
    }
}

/// The same clustering with other sketch seeds: what the result owes to one choice of hash.
fn seeds(set: &Set, out: &mut String) {
    let (mut ps, mut rs) = (Vec::new(), Vec::new());
    let mut fragile: BTreeMap<String, u32> = BTreeMap::new();
    for seed in 1..=32 {
        let sigs: Vec<Signature> = set
            .features
            .iter()
            .map(|f| f.signature_seeded(seed))
            .collect();
        let score = pair_score(&set.items, &cluster_with_index(&set.items, &sigs));
        ps.push(score.precision);
        rs.push(score.recall);
        for c in score.confusions {
            *fragile.entry(c).or_default() += 1;
        }
    }
    let stat = |v: &[f64]| {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let min = v.iter().copied().fold(1.0, f64::min);
        let below = v.iter().filter(|&&x| x < FLOOR).count();
        format!(
            "mean {mean:.3}, min {min:.3}, {below}/{} below {FLOOR}",
            v.len()
        )
    };
    writeln!(
        out,
        "32 other hash seeds, through the index: precision {}; recall {}",
        stat(&ps),
        stat(&rs)
    )
    .ok();
    let mut fragile: Vec<(u32, String)> = fragile.into_iter().map(|(c, n)| (n, c)).collect();
    fragile.sort_by(|a, b| b.cmp(a));
    for (n, c) in fragile.iter().take(15) {
        writeln!(out, "    {n:>2} seeds: {c}").ok();
    }
}

/// Baselines computed here from the cleaned tokens: SimHash, Jaccard, other shingle sizes.
fn baseline_signals<'a>(
    set: &'a Set,
    sh: &'a HashMap<usize, Vec<Vec<u64>>>,
) -> Vec<(String, Signal<'a>)> {
    let mut signals: Vec<(String, Signal)> = Vec::new();
    let words: Vec<u64> = set.features.iter().map(|f| simhash(f.tokens())).collect();
    let grams: Vec<u64> = sh[&3].iter().map(|s| simhash(s)).collect();
    for k in [3u32, 6, 10] {
        for (name, hashes) in [("words", words.clone()), ("3-shingles", grams.clone())] {
            signals.push((
                format!("SimHash-64 of {name}, Hamming <= {k}"),
                Box::new(move |i, j| (hashes[i] ^ hashes[j]).count_ones() <= k),
            ));
        }
    }
    for t in [0.2, 0.3, 0.5] {
        let s = &sh[&3];
        signals.push((
            format!("3-shingle Jaccard >= {t}"),
            Box::new(move |i, j| jaccard(&s[i], &s[j]) >= t),
        ));
    }
    for n in 2..=5 {
        for t in [0.3, 0.4, 0.5] {
            let s = &sh[&n];
            signals.push((
                format!("{n}-shingle containment >= {t}"),
                Box::new(move |i, j| containment(&s[i], &s[j]) >= t),
            ));
        }
    }
    signals
}

/// Single features of the library, and the rule with parts of it taken away.
fn rule_signals(set: &Set) -> Vec<(String, Signal<'_>)> {
    let mut signals: Vec<(String, Signal)> = Vec::new();
    let f = &set.features;
    for t in [0.6, 0.7, 0.8] {
        signals.push((
            format!("content-word containment >= {t}"),
            Box::new(move |i, j| containment(f[i].words(), f[j].words()) >= t),
        ));
    }
    let titles: Vec<Vec<u64>> = set.items.iter().map(|i| title_words(&i.title)).collect();
    for t in [0.5, 0.7] {
        signals.push((
            format!("lede containment >= {t}"),
            Box::new(move |i, j| containment(f[i].lede(), f[j].lede()) >= t),
        ));
        let titles = titles.clone();
        signals.push((
            format!("title-word containment >= {t}"),
            Box::new(move |i, j| containment(&titles[i], &titles[j]) >= t),
        ));
    }
    let variants: [(&str, Ablation); 5] = [
        ("rule, exact features", |s| s),
        ("rule without the number veto", |s| Similarity {
            numbers: None,
            ..s
        }),
        ("rule without the lede test", |s| Similarity {
            lede: 1.0,
            ..s
        }),
        ("rule, shingles only (score = 2 x shingles)", |s| {
            Similarity {
                words: s.shingles,
                ..s
            }
        }),
        ("rule, words only (score = 2 x words)", |s| Similarity {
            shingles: s.words,
            ..s
        }),
    ];
    for (name, change) in variants {
        signals.push((
            name.into(),
            Box::new(move |i, j| change(f[i].similarity(&f[j])).joins(set.same_feed(i, j))),
        ));
    }
    let s = &set.sigs;
    signals.push((
        "rule, signatures (sketches)".into(),
        Box::new(move |i, j| s[i].similarity(&s[j]).joins(set.same_feed(i, j))),
    ));
    signals
}

fn signal_table(set: &Set, out: &mut String) -> Vec<(String, SignalReport)> {
    let sh: HashMap<usize, Vec<Vec<u64>>> = (2..=5)
        .map(|n| {
            (
                n,
                set.features
                    .iter()
                    .map(|f| shingles(f.tokens(), n))
                    .collect(),
            )
        })
        .collect();
    let mut signals = baseline_signals(set, &sh);
    signals.extend(rule_signals(set));
    writeln!(out, "\n| signal (pairs within 72 h) | precision | recall |").ok();
    writeln!(out, "|---|---|---|").ok();
    let mut detail = Vec::new();
    for (name, signal) in &signals {
        let r = measure(set, signal);
        writeln!(out, "| {name} | {:.3} | {:.3} |", r.precision, r.recall).ok();
        detail.push((name.clone(), r));
    }
    detail
}

fn class_tables(detail: &[(String, SignalReport)], out: &mut String) {
    let chosen = [
        "SimHash-64 of words, Hamming <= 6",
        "3-shingle Jaccard >= 0.3",
        "3-shingle containment >= 0.3",
        "content-word containment >= 0.7",
        "rule, exact features",
        "rule, signatures (sketches)",
    ];
    let picked: Vec<&(String, SignalReport)> = chosen
        .iter()
        .filter_map(|c| detail.iter().find(|(n, _)| n == c))
        .collect();
    let header = picked
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(" | ");
    let tables: [(&str, Table); 2] = [
        (
            "recall per variation class (original-variant pairs joined / pairs)",
            |r| &r.per_variant,
        ),
        (
            "false joins per apart class (pairs joined / pairs within 72 h)",
            |r| &r.per_apart,
        ),
    ];
    for (title, table) in tables {
        writeln!(out, "\n{title}\n\n| class | {header} |").ok();
        writeln!(out, "|---|{}", "---|".repeat(picked.len())).ok();
        for class in table(&picked[0].1).keys() {
            let cells = picked
                .iter()
                .map(|(_, r)| {
                    let (a, b) = table(r).get(class).copied().unwrap_or_default();
                    format!("{a}/{b}")
                })
                .collect::<Vec<_>>()
                .join(" | ");
            writeln!(out, "| {class} | {cells} |").ok();
        }
    }
}

/// Same-feed pairs: what the reissue rule lets through.
fn same_feed(set: &Set, out: &mut String) {
    let (mut pos, mut pos_joined, mut neg, mut neg_joined) = (0, 0, 0, 0);
    for &(i, j) in set.pairs.iter().filter(|&&(i, j)| set.same_feed(i, j)) {
        let joined = u32::from(set.sigs[i].similarity(&set.sigs[j]).joins(true));
        if set.same_story(i, j) {
            pos += 1;
            pos_joined += joined;
        } else {
            neg += 1;
            neg_joined += joined;
        }
    }
    writeln!(
        out,
        "\nsame-feed pairs within 72 h (signatures): {pos_joined}/{pos} of one story joined, {neg_joined}/{neg} of different stories joined"
    )
    .ok();
}

/// What the sketches cost against exact sets, per component.
fn sketch_error(set: &Set, out: &mut String) {
    let mut err: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for &(i, j) in &set.pairs {
        let e = set.features[i].similarity(&set.features[j]);
        let s = set.sigs[i].similarity(&set.sigs[j]);
        if e.shingles < 0.05 && e.words < 0.3 {
            continue; // unrelated pairs say little about the estimator near the threshold
        }
        for (name, sketch, exact) in [
            ("shingles", s.shingles, e.shingles),
            ("words", s.words, e.words),
            ("lede", s.lede, e.lede),
        ] {
            err.entry(name).or_default().push(f64::from(sketch - exact));
        }
    }
    writeln!(
        out,
        "\nsketch minus exact containment, pairs sharing something:"
    )
    .ok();
    for (k, v) in err {
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        writeln!(
            out,
            "  {k}: mean {mean:+.3}, sd {sd:.3} over {} pairs",
            v.len()
        )
        .ok();
    }
}

/// Pairwise precision and recall of a signal over the window's pairs, and its result per
/// variation class (recall over original–variant pairs) and per apart class (pairs joined).
struct SignalReport {
    precision: f64,
    recall: f64,
    per_variant: PerClass,
    per_apart: PerClass,
}

fn measure(set: &Set, signal: &Signal) -> SignalReport {
    let (mut tp, mut fp, mut fn_) = (0u32, 0u32, 0u32);
    let mut per_variant = PerClass::new();
    let mut per_apart = PerClass::new();
    let count = |map: &mut PerClass, class: &str, joined: bool| {
        let e = map.entry(class.to_string()).or_default();
        e.0 += u32::from(joined);
        e.1 += 1;
    };
    for &(i, j) in &set.pairs {
        let joined = signal(i, j);
        let (a, b) = (&set.items[i], &set.items[j]);
        if !set.same_story(i, j) {
            fp += u32::from(joined);
            count(&mut per_apart, &apart_class(a, b), joined);
            continue;
        }
        if joined {
            tp += 1;
        } else {
            fn_ += 1;
        }
        count(&mut per_variant, "(all pairs)", joined);
        let variant = match (a.is_original(), b.is_original()) {
            (true, false) => Some(b),
            (false, true) => Some(a),
            _ => None,
        };
        for class in variant.iter().flat_map(|v| &v.variant) {
            count(&mut per_variant, class, joined);
        }
    }
    let ratio = |a: u32, b: u32| {
        if b == 0 {
            1.0
        } else {
            f64::from(a) / f64::from(b)
        }
    };
    SignalReport {
        precision: ratio(tp, tp + fp),
        recall: ratio(tp, tp + fn_),
        per_variant,
        per_apart,
    }
}

fn apart_class(a: &Item, b: &Item) -> String {
    for (x, y) in [(a, b), (b, a)] {
        if let Some((_, class)) = x.near.iter().find(|(other, _)| *other == y.story) {
            return class.clone();
        }
    }
    if a.subject() == b.subject() {
        "same-subject".into()
    } else {
        "other-subject".into()
    }
}

fn shingles(tokens: &[u64], n: usize) -> Vec<u64> {
    let gram = |w: &[u64]| w.iter().fold(7u64, |h, &t| h.rotate_left(9) ^ t);
    let mut out: Vec<u64> = if tokens.len() < n {
        vec![gram(tokens)]
    } else {
        tokens.windows(n).map(gram).collect()
    };
    out.sort_unstable();
    out.dedup();
    out
}

fn overlap(a: &[u64], b: &[u64]) -> (usize, usize, usize) {
    let sb: HashSet<&u64> = b.iter().collect();
    let common = a.iter().filter(|x| sb.contains(x)).count();
    (common, a.len(), b.len())
}

fn containment(a: &[u64], b: &[u64]) -> f64 {
    let (c, la, lb) = overlap(a, b);
    if la.min(lb) == 0 {
        0.0
    } else {
        c as f64 / la.min(lb) as f64
    }
}

fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    let (c, la, lb) = overlap(a, b);
    if la + lb == 0 {
        0.0
    } else {
        c as f64 / (la + lb - c) as f64
    }
}

fn simhash(features: &[u64]) -> u64 {
    let mut votes = [0i32; 64];
    for &f in features {
        for (bit, v) in votes.iter_mut().enumerate() {
            *v += if f >> bit & 1 == 1 { 1 } else { -1 };
        }
    }
    votes
        .iter()
        .enumerate()
        .fold(0, |acc, (bit, &v)| if v > 0 { acc | 1 << bit } else { acc })
}

fn title_words(title: &str) -> Vec<u64> {
    let fnv = |w: &str| {
        w.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let mut out: Vec<u64> = title
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2 && !["the", "and", "for", "with", "says"].contains(w))
        .map(fnv)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}
