//! The CPU stage per document: everything a poll does between the fetched body and the
//! writer — parse, recognise known entries, text, keys, hashes, story signatures, search
//! words, topic matches and alert ids (`feedwatch::prepare::prepare`).
//! Run: cargo bench --bench cpu_stage
//!
//! Cases: a 50-item news feed whose items are all new (a first poll), the same feed with every
//! item already stored (a re-poll that found a changed body: entries are recognised by their
//! raw hash before any text work), and the first poll with 1,000 topics.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use feedwatch::config::{Secrets, parse};
use feedwatch::parse::{Deadline, parse_feed};
use feedwatch::prepare::{Known, prepare};
use url::Url;

const STORY: &str = include_str!("../tests/fixtures/seed-story.txt");

/// A news feed: 50 items, each a different slice of the seed story's paragraphs.
fn document() -> String {
    let paras: Vec<&str> = STORY.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Desk</title>\
         <link>https://desk.example/</link><description>d</description>",
    );
    for i in 0..50 {
        let body: String = (0..3)
            .map(|k| {
                format!(
                    "&lt;p&gt;{}&lt;/p&gt;",
                    paras[(i + k * 7) % paras.len()].replace('&', "&amp;")
                )
            })
            .collect();
        out.push_str(&format!(
            "<item><title>{} (update {i})</title><link>https://desk.example/world/{i}.html</link>\
             <guid isPermaLink=\"false\">desk-{i}</guid><pubDate>Tue, 01 Apr 2025 09:30:00 GMT</pubDate>\
             <category>World</category><description>{body}</description></item>",
            paras[i % paras.len()].chars().take(60).collect::<String>().replace('&', "&amp;")
        ));
    }
    out.push_str("</channel></rss>");
    out
}

fn config(topics: usize) -> feedwatch::config::Config {
    let mut src = String::from(
        "[[feed]]\nname = \"desk\"\nurl = \"https://desk.example/feed.xml\"\n\
         [[notifier]]\nname = \"log\"\nkind = \"log\"\n",
    );
    // Analysts' topics: a few of them name what this desk's stories are about, most do not.
    let names = [
        "China",
        "Russia",
        "Lavrov",
        "Beijing",
        "Ukraine",
        "Iran",
        "Gaza",
        "Korea",
        "Brazil",
        "Lula",
        "Modi",
        "Delhi",
        "Tokyo",
        "Kishida",
        "Berlin",
        "Scholz",
        "Paris",
        "Macron",
        "Ankara",
        "Erdogan",
        "Cairo",
        "Sisi",
        "Nairobi",
        "Ruto",
        "Lagos",
        "Tinubu",
        "Jakarta",
        "Widodo",
        "Manila",
        "Marcos",
        "Hanoi",
        "Seoul",
        "Yoon",
        "Taipei",
        "Lai",
        "Canberra",
        "Albanese",
        "Ottawa",
        "Trudeau",
        "Mexico",
        "Sheinbaum",
        "Bogota",
        "Petro",
        "Lima",
        "Santiago",
        "Boric",
        "Caracas",
        "Maduro",
        "Havana",
        "Warsaw",
        "Tusk",
        "Budapest",
        "Orban",
        "Vienna",
        "Rome",
        "Meloni",
        "Madrid",
        "Sanchez",
        "Lisbon",
        "Athens",
        "Mitsotakis",
        "Oslo",
        "Stockholm",
        "Helsinki",
        "Tallinn",
        "Riga",
        "Vilnius",
        "Minsk",
        "Lukashenko",
        "Tbilisi",
        "Yerevan",
        "Baku",
        "Aliyev",
        "Astana",
        "Tashkent",
        "Kabul",
        "Islamabad",
        "Dhaka",
        "Colombo",
        "Kathmandu",
        "Riyadh",
        "Doha",
        "Dubai",
        "Muscat",
        "Sanaa",
        "Baghdad",
        "Damascus",
        "Beirut",
        "Amman",
        "Tripoli",
        "Tunis",
        "Algiers",
        "Rabat",
        "Khartoum",
        "Addis",
        "Kinshasa",
        "Luanda",
        "Pretoria",
        "Ramaphosa",
        "Harare",
    ];
    let words = [
        "talks",
        "sanctions",
        "election",
        "summit",
        "visit",
        "trade",
        "protest",
        "oil",
    ];
    for t in 0..topics {
        src.push_str(&format!(
            "[[topic]]\nname = \"t{t}\"\nquery = '({} OR {}) {}'\nnotify = [\"log\"]\n",
            names[t % names.len()],
            names[(t * 7 + 3) % names.len()],
            words[(t / names.len()) % words.len()]
        ));
    }
    parse(Path::new("/bench/feedwatch.toml"), &src, Secrets::Skip).expect("config")
}

fn bench(c: &mut Criterion) {
    let base = Url::parse("https://desk.example/feed.xml").expect("url");
    let doc = document();
    let mut g = c.benchmark_group("cpu_stage");
    g.throughput(Throughput::Elements(50));
    for topics in [3, 1000] {
        let cfg = config(topics);
        let feed = cfg.feeds[0].clone();
        g.bench_function(format!("50 new items, {topics} topics"), |b| {
            b.iter(|| {
                let parsed = parse_feed(doc.as_bytes(), None, &base).expect("parse");
                let p = prepare(
                    parsed,
                    &cfg,
                    &feed,
                    None,
                    |_| Ok(HashMap::new()),
                    &Deadline::none(),
                )
                .expect("prepare");
                black_box(p.items.len())
            })
        });
    }
    // Every entry already stored with the same raw hash: only parse and keys remain.
    let cfg = config(3);
    let feed = cfg.feeds[0].clone();
    let first = prepare(
        parse_feed(doc.as_bytes(), None, &base).expect("parse"),
        &cfg,
        &feed,
        None,
        |_| Ok(HashMap::new()),
        &Deadline::none(),
    )
    .expect("prepare");
    let stored: HashMap<String, Known> = first
        .items
        .iter()
        .map(|i| (i.key.clone(), Known::Stored(i.raw_hash.to_vec())))
        .collect();
    g.bench_function("50 known items", |b| {
        b.iter(|| {
            let parsed = parse_feed(doc.as_bytes(), None, &base).expect("parse");
            let p = prepare(
                parsed,
                &cfg,
                &feed,
                first.key_mode,
                |_| Ok(stored.clone()),
                &Deadline::none(),
            )
            .expect("prepare");
            black_box(p.unchanged)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
