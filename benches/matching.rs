//! Topic matching throughput (DESIGN.md §8: 10,000 topics ≥ 100,000 items/s on one core).
//!
//! Topics are written the way analysts write them — `(China OR Beijing) AND (Russia OR Lavrov)
//! -sponsored`, phrases, prefixes, a few fields, rare regexes — over a vocabulary of places,
//! people and organisations; items are news text (≈80-word summaries, ≈600-word articles)
//! that mention those names among common words, with typographic quotes and possessives.

use std::hint::black_box;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use feedwatch::topics::normalize::Tokens;
use feedwatch::topics::{Document, ItemText, Matcher, Query};

/// Time this thread spent on a CPU, from `/proc/thread-self/schedstat` (nanoseconds). The
/// bench machine is shared: wall time counts the moments other people's builds held the core.
struct CpuTime(WallTime);

fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.0.formatter()
    }
}

const PLACES: &[&str] = &[
    "China",
    "Beijing",
    "Russia",
    "Moscow",
    "Ukraine",
    "Kyiv",
    "Iran",
    "Tehran",
    "Israel",
    "Gaza",
    "Washington",
    "Brussels",
    "Berlin",
    "Paris",
    "London",
    "Tokyo",
    "Seoul",
    "Pyongyang",
    "Taiwan",
    "Taipei",
    "India",
    "Delhi",
    "Pakistan",
    "Turkey",
    "Ankara",
    "Syria",
    "Lebanon",
    "Egypt",
    "Cairo",
    "Brazil",
    "Mexico",
    "Canada",
    "Australia",
    "Indonesia",
    "Vietnam",
    "Philippines",
    "Nigeria",
    "Kenya",
    "Ethiopia",
    "Sudan",
    "Venezuela",
    "Argentina",
    "Chile",
    "Poland",
    "Hungary",
    "Serbia",
    "Georgia",
    "Armenia",
    "Azerbaijan",
    "Kazakhstan",
    "Belarus",
    "Crimea",
    "Donetsk",
    "Kharkiv",
    "Odesa",
    "Shanghai",
    "Hong Kong",
    "São Paulo",
    "Zürich",
    "Geneva",
    "Vienna",
    "Doha",
    "Riyadh",
    "Dubai",
    "Baghdad",
    "Kabul",
];
const PEOPLE: &[&str] = &[
    "Lavrov",
    "Wang Yi",
    "Xi Jinping",
    "Putin",
    "Zelensky",
    "Blinken",
    "Macron",
    "Scholz",
    "Erdoğan",
    "Modi",
    "Netanyahu",
    "Guterres",
    "von der Leyen",
    "Kishida",
    "Lula",
    "Milei",
    "Orbán",
    "Tusk",
    "Sunak",
    "Starmer",
    "Meloni",
    "Sánchez",
    "Albanese",
    "Trudeau",
    "Ramaphosa",
    "Khamenei",
    "Pezeshkian",
    "Kim Jong Un",
    "Lai Ching-te",
    "Shoigu",
    "Peskov",
    "Medvedev",
];
const ORGS: &[&str] = &[
    "United Nations",
    "NATO",
    "European Union",
    "BRICS",
    "G20",
    "APEC",
    "OPEC",
    "IMF",
    "World Bank",
    "Shanghai Cooperation Organisation",
    "Security Council",
    "Pentagon",
    "Kremlin",
    "Hamas",
    "Hezbollah",
    "Gazprom",
    "Huawei",
    "TSMC",
    "Reuters",
    "Interfax",
];
const SUBJECTS: &[&str] = &[
    "sanction",
    "tariff",
    "missile",
    "drone",
    "ceasefire",
    "election",
    "summit",
    "nuclear",
    "pipeline",
    "refugee",
    "inflation",
    "earthquake",
    "cyberattack",
    "semiconductor",
    "grain",
    "uranium",
    "protest",
    "coup",
    "blockade",
    "embargo",
];
const COMMON: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "on",
    "for",
    "with",
    "said",
    "was",
    "as",
    "by",
    "that",
    "at",
    "its",
    "from",
    "has",
    "have",
    "were",
    "will",
    "after",
    "foreign",
    "minister",
    "government",
    "talks",
    "meeting",
    "officials",
    "president",
    "visit",
    "week",
    "relations",
    "strategic",
    "partnership",
    "cooperation",
    "security",
    "economic",
    "military",
    "support",
    "international",
    "ministry",
    "statement",
    "countries",
    "conflict",
    "war",
    "peace",
    "region",
    "trade",
    "leaders",
    "agreement",
    "new",
    "also",
    "which",
    "between",
    "both",
    "two",
    "during",
    "official",
    "told",
    "reporters",
    "spokesperson",
    "according",
    "sources",
    "announced",
    "further",
    "against",
    "while",
    "despite",
    "including",
    "global",
    "bilateral",
    "ties",
];
const FILLER: &[&str] = &["sponsored", "opinion", "podcast", "live", "video"];

/// A small deterministic generator (xorshift64*), so every run benches the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Entities beyond the named ones, so that 10,000 topics do not all share a few words.
fn synthetic_names(n: usize) -> Vec<String> {
    const SYLLABLES: &[&str] = &[
        "ka", "ro", "vi", "an", "del", "mar", "to", "sen", "ov", "esh", "li", "na", "berg", "ton",
        "za", "qu", "ist", "ar",
    ];
    let mut rng = Rng(0x5eed);
    (0..n)
        .map(|_| {
            let mut s = String::new();
            for _ in 0..2 + rng.below(2) {
                s.push_str(rng.pick(SYLLABLES));
            }
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        })
        .collect()
}

struct Vocab {
    entities: Vec<String>,
}

impl Vocab {
    fn new() -> Self {
        let mut entities: Vec<String> = PLACES
            .iter()
            .chain(PEOPLE)
            .chain(ORGS)
            .map(|s| s.to_string())
            .collect();
        entities.extend(synthetic_names(5000));
        Self { entities }
    }

    /// Items mention the well-known names far more often than the long tail.
    fn entity(&self, rng: &mut Rng) -> &str {
        let known = PLACES.len() + PEOPLE.len() + ORGS.len();
        if rng.chance(85) {
            &self.entities[rng.below(known)]
        } else {
            &self.entities[rng.below(self.entities.len())]
        }
    }

    /// Topics name the long tail more often than items do: each watch list is specific.
    fn term(&self, rng: &mut Rng) -> String {
        let known = PLACES.len() + PEOPLE.len() + ORGS.len();
        let e = if rng.chance(10) {
            &self.entities[rng.below(known)]
        } else {
            &self.entities[known + rng.below(self.entities.len() - known)]
        };
        if e.contains(' ') {
            format!("\"{e}\"")
        } else {
            e.clone()
        }
    }

    fn tail(&self, rng: &mut Rng) -> String {
        let known = PLACES.len() + PEOPLE.len() + ORGS.len();
        self.entities[known + rng.below(self.entities.len() - known)].clone()
    }

    fn topic(&self, rng: &mut Rng) -> String {
        let t = |rng: &mut Rng| self.term(rng);
        let q = match rng.below(10) {
            0..=3 => format!(
                "({} OR {}) AND ({} OR {}) -{}",
                t(rng),
                t(rng),
                t(rng),
                t(rng),
                rng.pick(FILLER)
            ),
            4 => format!("{} {}*", t(rng), rng.pick(SUBJECTS)),
            5 => {
                let e = &self.entities[rng.below(self.entities.len())];
                format!("\"{} {e}\" {}", rng.pick(COMMON), t(rng))
            }
            6 => format!("title:{} ({} OR {})", t(rng), t(rng), t(rng)),
            7 => format!("{} {} NOT {}", t(rng), t(rng), rng.pick(FILLER)),
            8 => {
                let tail = |rng: &mut Rng| self.tail(rng);
                format!("{} OR {} OR {}", tail(rng), tail(rng), tail(rng))
            }
            _ => format!("{} {}", t(rng), rng.pick(SUBJECTS)),
        };
        // Rare regexes: most beside a word, a few on their own.
        match rng.below(200) {
            0 => format!("{q} /{}\\s+(said|told)/", self.term(rng).trim_matches('"')),
            1 => format!("/{}\\s+\\d+/", rng.pick(SUBJECTS)),
            _ => q,
        }
    }

    fn text(&self, rng: &mut Rng, words: usize) -> String {
        let mut s = String::new();
        let mut sentence = 0;
        for i in 0..words {
            let w = match rng.below(100) {
                0..=9 => self.entity(rng).to_string(),
                10..=12 => rng.pick(SUBJECTS).to_string() + if rng.chance(50) { "s" } else { "" },
                13..=14 => format!("{}’s", self.entity(rng)),
                15 => format!("“{}”", rng.pick(COMMON)),
                16 => format!("{}", 2000 + rng.below(30)),
                _ => rng.pick(COMMON).to_string(),
            };
            s.push_str(&w);
            sentence += 1;
            if i + 1 < words {
                s.push_str(match rng.below(40) {
                    0..=1 => ", ",
                    2 if sentence > 8 => {
                        sentence = 0;
                        ". "
                    }
                    3 => " — ",
                    _ => " ",
                });
            }
        }
        s.push('.');
        s
    }
}

struct Owned {
    title: String,
    summary: String,
    content: String,
    categories: Vec<String>,
    url: String,
}

impl Owned {
    fn text(&self) -> ItemText<'_> {
        ItemText {
            title: &self.title,
            summary: &self.summary,
            content: &self.content,
            author: "Staff reporter",
            categories: &self.categories,
            feed: "agency-wire",
            url: &self.url,
        }
    }
}

fn items(v: &Vocab, n: usize, summary_words: usize, content_words: usize) -> Vec<Owned> {
    let mut rng = Rng(0xfeed + content_words as u64);
    (0..n)
        .map(|i| Owned {
            title: v.text(&mut rng, 10),
            summary: v.text(&mut rng, summary_words),
            content: if content_words > 0 {
                v.text(&mut rng, content_words)
            } else {
                String::new()
            },
            categories: vec!["World".into(), "International Agencies".into()],
            url: format!("https://example.org/2026/05/story-{i}"),
        })
        .collect()
}

fn topics(v: &Vocab, n: usize) -> Vec<Query> {
    let mut rng = Rng(0x7091c_u64 ^ n as u64);
    (0..n)
        .map(|_| {
            let q = v.topic(&mut rng);
            Query::parse(&q).unwrap_or_else(|e| panic!("bench topic {q}: {e}"))
        })
        .collect()
}

fn bench(c: &mut Criterion<CpuTime>) {
    let v = Vocab::new();
    let kinds = [
        ("summary", items(&v, 400, 80, 0)),
        ("article", items(&v, 100, 80, 600)),
    ];

    let mut g = c.benchmark_group("tokenize");
    for (kind, items) in &kinds {
        g.throughput(Throughput::Elements(items.len() as u64));
        g.bench_function(*kind, |b| {
            let mut toks = Tokens::new();
            b.iter(|| {
                for it in items {
                    toks.clear();
                    for f in [&it.title, &it.summary, &it.content] {
                        toks.push_text(f);
                    }
                    for cat in &it.categories {
                        toks.push_text(cat);
                    }
                    black_box(toks.len());
                }
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("match");
    for n in [1, 100, 1_000, 10_000] {
        let queries = topics(&v, n);
        let matcher = Matcher::new(&queries);
        for (kind, items) in &kinds {
            let hits: Vec<usize> = items
                .iter()
                .map(|it| matcher.matches(&it.text(), |_| true).len())
                .collect();
            eprintln!(
                "{n} topics, {kind}: {:.0}% of items match a topic, {:.1} topics per item",
                100.0 * hits.iter().filter(|&&h| h > 0).count() as f64 / items.len() as f64,
                hits.iter().sum::<usize>() as f64 / items.len() as f64
            );
            g.throughput(Throughput::Elements(items.len() as u64));
            g.bench_with_input(BenchmarkId::new(*kind, n), &matcher, |b, m| {
                b.iter(|| {
                    let mut hits = 0;
                    for it in items {
                        hits += m.matches(&it.text(), |_| true).len();
                    }
                    black_box(hits)
                })
            });
        }
    }
    g.finish();

    // The per-query evaluator the matcher replaced, for comparison.
    let mut g = c.benchmark_group("reference");
    let queries = topics(&v, 1_000);
    let (kind, items) = &kinds[0];
    g.throughput(Throughput::Elements(items.len() as u64));
    g.bench_function(BenchmarkId::new(*kind, 1_000), |b| {
        b.iter(|| {
            let mut hits = 0;
            for it in items {
                let doc = Document::new(&it.text());
                hits += queries.iter().filter(|q| q.matches(&doc).is_some()).count();
            }
            black_box(hits)
        })
    });
    g.finish();

    for n in [1_000, 10_000] {
        let queries = topics(&v, n);
        c.bench_function(&format!("compile/{n}"), |b| {
            b.iter(|| black_box(Matcher::new(&queries).len()))
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .with_measurement(CpuTime(WallTime))
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
