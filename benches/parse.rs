//! What the repair layer costs: parse_feed on a clean 50-item RSS document against feed-rs
//! alone on the same bytes, and the repaired, UTF-16 and windows-1251 paths.
//! Run: cargo bench --bench parse

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use feedwatch::parse::parse_feed;
use url::Url;

const STORY: &str = include_str!("../tests/fixtures/seed-story.txt");

/// A WordPress-shaped RSS 2.0 document with `n` items of the seed story.
fn rss(n: usize, root: &str, title_suffix: &str) -> String {
    let body = STORY
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("&lt;p&gt;{}&lt;/p&gt;", l.replace('&', "&amp;")))
        .collect::<String>();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{root}<channel><title>Bench</title><link>https://bench.example/</link><description>d</description><ttl>15</ttl>\n"
    );
    for i in 0..n {
        out.push_str(&format!(
            "<item><title>Story {i}{title_suffix}</title><link>https://bench.example/{i}</link><guid isPermaLink=\"false\">bench-{i}</guid><pubDate>Tue, 01 Apr 2025 09:30:00 GMT</pubDate><dc:creator>Desk</dc:creator><category>World</category><description>{body}</description></item>\n"
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

fn bench(c: &mut Criterion) {
    let base = Url::parse("https://bench.example/feed.xml").expect("url");
    let clean = rss(
        50,
        "<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">",
        "",
    );
    // No version, an undeclared prefix and a bare ampersand in every title.
    let broken = rss(50, "<rss>", " & more");
    let utf16: Vec<u8> = clean
        .replace("UTF-8", "UTF-16")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let cyrillic = clean
        .replace("Story", "Новость")
        .replace("UTF-8", "windows-1251");
    let cp1251 = encoding_rs::WINDOWS_1251.encode(&cyrillic).0.into_owned();
    let french = clean
        .replace("Story", "Dépêche")
        .replace("UTF-8", "ISO-8859-1");
    let latin1 = encoding_rs::WINDOWS_1252.encode(&french).0.into_owned();

    let mut g = c.benchmark_group("parse 50 items");
    g.throughput(Throughput::Bytes(clean.len() as u64));
    g.bench_function("feed-rs alone", |b| {
        b.iter(|| {
            let parser = feed_rs::parser::Builder::new()
                .base_uri(Some(base.as_str()))
                .id_generator(|_, _, _| String::new())
                .sanitize_content(false)
                .build();
            black_box(parser.parse(black_box(clean.as_bytes())).expect("parses"))
        })
    });
    g.bench_function("parse_feed clean", |b| {
        b.iter(|| black_box(parse_feed(black_box(clean.as_bytes()), None, &base).expect("ok")))
    });
    g.bench_function("parse_feed repaired", |b| {
        b.iter(|| black_box(parse_feed(black_box(broken.as_bytes()), None, &base).expect("ok")))
    });
    g.bench_function("parse_feed utf-16", |b| {
        b.iter(|| black_box(parse_feed(black_box(&utf16), None, &base).expect("ok")))
    });
    g.bench_function("parse_feed windows-1251", |b| {
        b.iter(|| black_box(parse_feed(black_box(&cp1251), None, &base).expect("ok")))
    });
    g.bench_function("parse_feed iso-8859-1", |b| {
        b.iter(|| black_box(parse_feed(black_box(&latin1), None, &base).expect("ok")))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
