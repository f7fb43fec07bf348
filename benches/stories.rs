//! Story signatures and the index at the writer's scale: `cargo bench --bench stories`.
//!
//! Texts mix a Zipf-distributed vocabulary of 30,000 made-up common words (four tokens in five)
//! with words of their own story (names, places, terms: one token in five, twenty of them per
//! story, drawn from two million), so that common words are as common as in news and the
//! candidate chains of frequent words get exercised.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use feedwatch::stories::{Signature, StoryIndex};

const INDEXED: usize = 100_000;
const WINDOW: Duration = Duration::from_secs(72 * 3600);

/// splitmix64: deterministic, so every run indexes the same texts.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Vocabulary {
    words: Vec<String>,
    /// Cumulative Zipf weights.
    cumulative: Vec<f64>,
}

impl Vocabulary {
    fn new(size: usize) -> Self {
        let mut rng = Rng(7);
        let words = (0..size)
            .map(|_| {
                let len = 3 + (rng.next() % 7) as usize;
                (0..len)
                    .map(|_| (b'a' + (rng.next() % 26) as u8) as char)
                    .collect()
            })
            .collect();
        let mut total = 0.0;
        let cumulative = (1..=size)
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        Vocabulary { words, cumulative }
    }

    fn word(&self, rng: &mut Rng) -> &str {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.unit() * total;
        let i = self.cumulative.partition_point(|&c| c < x);
        &self.words[i.min(self.words.len() - 1)]
    }

    /// Paragraphs of three 20-word sentences, `words` words in all.
    fn article(&self, rng: &mut Rng, words: usize) -> String {
        let own: Vec<String> = (0..20).map(|_| name(rng.next() % 2_000_000)).collect();
        let mut out = String::new();
        for i in 0..words {
            if rng.next().is_multiple_of(5) {
                out.push_str(&own[(rng.next() % 20) as usize]);
            } else {
                out.push_str(self.word(rng));
            }
            if i % 20 == 19 {
                out.push('.');
                out.push(if i % 60 == 59 { '\n' } else { ' ' });
            } else {
                out.push(' ');
            }
        }
        out.push('.');
        out
    }
}

/// A made-up name per number: letters only, distinct from the common words by its length.
fn name(mut n: u64) -> String {
    let mut w = String::from("q");
    loop {
        w.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            return w + "ov";
        }
    }
}

fn bench(c: &mut Criterion) {
    let vocab = Vocabulary::new(30_000);
    let mut rng = Rng(42);

    let long = vocab.article(&mut rng, 600);
    c.bench_function("Signature::new, 600-word article", |b| {
        b.iter(|| Signature::new(black_box("A title"), black_box(&long)))
    });

    // 100,000 items of 150 words spread evenly over the 72 h window.
    let time = |n: usize| (n as u128 * u128::from(WINDOW.as_secs()) / INDEXED as u128) as i64;
    let mut index = StoryIndex::new(WINDOW);
    let mut indexed_texts = Vec::new();
    for n in 0..INDEXED {
        let text = vocab.article(&mut rng, 150);
        let sig = Signature::new("", &text);
        index.insert(n as i64, (n % 10_000) as i64, time(n), &sig);
        if n % 1000 == 0 {
            indexed_texts.push(text);
        }
    }
    let at = time(INDEXED - 1);
    eprintln!(
        "index: {} items, {} bytes allocated, {:.1} bytes per item",
        index.len(),
        index.memory_bytes(),
        index.memory_bytes() as f64 / index.len() as f64
    );

    // A copy of an indexed item (trimmed to its first two paragraphs) from another feed.
    let copies: Vec<Signature> = indexed_texts
        .iter()
        .map(|t| Signature::new("", &t.lines().take(2).collect::<Vec<_>>().join("\n")))
        .collect();
    let mut next_copy = 0;
    c.bench_function("find, a trimmed copy, 100,000 indexed", |b| {
        b.iter(|| {
            let sig = &copies[next_copy % copies.len()];
            next_copy += 1;
            index.find(black_box(sig), 30_000, at)
        })
    });
    let found = copies
        .iter()
        .filter(|s| index.find(s, 30_000, at).is_some())
        .count();
    eprintln!(
        "copies found: {found} of {} (the oldest may have left the window)",
        copies.len()
    );

    // New items that match nothing: find, insert, evict as time advances (steady 100,000).
    // Each iteration gets a text never seen before (made outside the timing).
    let mut n = INDEXED;
    c.bench_function("find + insert, no match, 100,000 indexed", |b| {
        b.iter_batched(
            || Signature::new("", &vocab.article(&mut rng, 150)),
            |sig| {
                n += 1;
                let at = time(n);
                let found = index.find(black_box(&sig), 20_000, at);
                index.insert(found.unwrap_or(n as i64), 20_000, at, &sig);
                index.evict_older_than(at - WINDOW.as_secs() as i64);
                found
            },
            BatchSize::SmallInput,
        )
    });
    eprintln!("index after the run: {} items", index.len());
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
