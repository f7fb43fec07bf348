//! Every document under tests/fixtures/feeds/, checked against EXPECTED.toml: through the
//! library (items, fields, repairs, hints, errors), cut and mangled (no panic, no hang), and
//! served over HTTP to the real binary (`poll --json`, then `items --json`).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use feedwatch::parse::{ParseError, ParsedFeed, parse_feed};
use serde::Deserialize;
use serde_json::Value;
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The scheme and host fixtures are read from in the library checks.
const LIB_SERVER: &str = "http://feeds.test";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    file: String,
    content_type: Option<String>,
    items: Option<usize>,
    stored: Option<usize>,
    title: Option<String>,
    link: Option<String>,
    guid: Option<String>,
    published: Option<String>,
    /// The first entry's summary as plain text (library checks only).
    summary: Option<String>,
    repairs: Option<Vec<String>>,
    ttl_minutes: Option<u64>,
    update_seconds: Option<u64>,
    error: Option<String>,
    error_contains: Option<String>,
    discover: Option<Vec<String>>,
    #[allow(dead_code)]
    note: Option<String>,
    #[allow(dead_code)]
    feedparser: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Table {
    doc: Vec<Row>,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds")
}

fn table() -> Vec<Row> {
    let text = std::fs::read_to_string(fixtures_dir().join("EXPECTED.toml")).expect("table");
    toml::from_str::<Table>(&text).expect("EXPECTED.toml").doc
}

fn body(row: &Row) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(&row.file)).expect("fixture file")
}

fn content_type(row: &Row) -> Option<&str> {
    row.content_type.as_deref()
}

fn with_server(s: &str, server: &str) -> String {
    s.replace("{server}", server)
}

/// What a row expects of a document that reads: mismatches as messages.
fn check_feed(row: &Row, feed: &ParsedFeed, server: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let mut expect = |what: &str, want: Option<String>, got: Option<String>| {
        if let Some(want) = want
            && want != got.clone().unwrap_or_default()
        {
            bad.push(format!("{what}: expected {want:?}, got {got:?}"));
        }
    };
    let first = feed.items.first().map(|i| i.normalize());
    expect(
        "title",
        row.title.clone(),
        first.as_ref().map(|i| i.title.clone()),
    );
    expect(
        "link",
        row.link.as_deref().map(|l| with_server(l, server)),
        first.as_ref().and_then(|i| i.link.clone()),
    );
    expect(
        "guid",
        row.guid.clone(),
        first.as_ref().and_then(|i| i.guid.clone()),
    );
    expect(
        "published",
        row.published.clone(),
        first
            .as_ref()
            .and_then(|i| i.published)
            .map(|p| p.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    );
    expect(
        "summary",
        row.summary.clone(),
        first.as_ref().map(|i| i.summary.clone()),
    );
    let items = feed.items.len();
    if let Some(n) = row.items
        && n != items
    {
        bad.push(format!("items: expected {n}, got {items}"));
    }
    let repairs: Vec<String> = feed.repairs.iter().map(|r| r.name()).collect();
    if let Some(want) = &row.repairs
        && *want != repairs
    {
        bad.push(format!("repairs: expected {want:?}, got {repairs:?}"));
    }
    let ttl = feed.hints.ttl.map(|d| d.as_secs() / 60);
    if row.ttl_minutes != ttl {
        bad.push(format!("ttl: expected {:?}, got {ttl:?}", row.ttl_minutes));
    }
    let update = feed.hints.update_interval.map(|d| d.as_secs());
    if row.update_seconds != update {
        bad.push(format!(
            "update interval: expected {:?}, got {update:?}",
            row.update_seconds
        ));
    }
    if row.error.is_some() {
        bad.push(format!("expected error {:?}, but it read", row.error));
    }
    bad
}

fn check_error(row: &Row, e: &ParseError, server: &str) -> Vec<String> {
    let mut bad = Vec::new();
    match &row.error {
        None => bad.push(format!("expected a feed, got error [{}] {e}", e.class())),
        Some(class) if class != e.class() => {
            bad.push(format!("expected error {class}, got [{}] {e}", e.class()))
        }
        Some(_) => {}
    }
    if let Some(text) = &row.error_contains
        && !e.to_string().contains(text.as_str())
    {
        bad.push(format!("error {e:?} does not contain {text:?}"));
    }
    if let Some(want) = &row.discover {
        let got: Vec<String> = match e {
            ParseError::Html { feeds } => feeds.iter().map(Url::to_string).collect(),
            _ => Vec::new(),
        };
        let want: Vec<String> = want.iter().map(|w| with_server(w, server)).collect();
        if want != got {
            bad.push(format!("discovered: expected {want:?}, got {got:?}"));
        }
    }
    bad
}

#[test]
fn every_fixture_reads_as_expected_through_the_library() {
    let rows = table();
    let mut failures = Vec::new();
    for row in &rows {
        let base = Url::parse(&format!("{LIB_SERVER}/{}", row.file)).expect("base");
        let bad = match parse_feed(&body(row), content_type(row), &base) {
            Ok(feed) => check_feed(row, &feed, LIB_SERVER),
            Err(e) => check_error(row, &e, LIB_SERVER),
        };
        failures.extend(bad.into_iter().map(|b| format!("{}: {b}", row.file)));
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures differ:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn the_table_covers_every_fixture_and_there_are_enough() {
    let rows = table();
    let listed: Vec<&str> = rows.iter().map(|r| r.file.as_str()).collect();
    let mut on_disk = Vec::new();
    let root = fixtures_dir();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.parent() != Some(root.as_path()) {
                let rel = p
                    .strip_prefix(&root)
                    .expect("prefix")
                    .to_string_lossy()
                    .into_owned();
                on_disk.push(rel);
            }
        }
    }
    let missing: Vec<&String> = on_disk
        .iter()
        .filter(|f| !listed.contains(&f.as_str()))
        .collect();
    assert!(missing.is_empty(), "fixtures without a row: {missing:?}");
    let mut seen = std::collections::HashSet::new();
    for f in &listed {
        assert!(seen.insert(f), "listed twice: {f}");
        assert!(on_disk.iter().any(|d| d == f), "listed but missing: {f}");
    }
    assert!(rows.len() >= 200, "only {} fixtures", rows.len());
}

/// Markup and values that have crashed feed-rs or broken naive repairs, pasted into
/// fixtures by the mangling test.
const PIECES: &[&str] = &[
    "<",
    "&",
    "]]>",
    "<![CDATA[",
    "<!--",
    "<?xml version=\"1.0\" encoding=\"UTF-16\"?>",
    "<itunes:duration>99999999999999999999999</itunes:duration>",
    "<media:text start=\"99999999999999999999999\">",
    "<author>\u{ab}a@b.org\u{bb}</author>",
    "\u{2014}",
    "<!ENTITY a \"&b;\">",
    "</item>",
];

/// Cut every fixture at several points, flip bytes in it and paste hostile pieces into it:
/// whatever comes back, no panic happens on the way (not even one caught inside), and no
/// document takes long.
#[test]
fn cut_and_mangled_documents_never_panic_or_hang() {
    static PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        default_hook(info);
    }));
    let base = Url::parse(&format!("{LIB_SERVER}/x.xml")).expect("base");
    let mut worst = Duration::ZERO;
    for row in table() {
        let full = body(&row);
        let mut variants: Vec<Vec<u8>> = (1..8)
            .map(|k| full[..full.len() * k / 8].to_vec())
            .collect();
        for (i, flip) in [b'<', b'&', b'"', 0u8, 0xFF].into_iter().enumerate() {
            let mut m = full.clone();
            if !m.is_empty() {
                let at = (m.len() * (2 * i + 1)) / 11;
                m[at] = flip;
            }
            variants.push(m);
        }
        for (i, piece) in PIECES.iter().enumerate() {
            let mut m = full.clone();
            let at = (m.len() * (i + 1)) / (PIECES.len() + 1);
            m.splice(at..at, piece.bytes());
            variants.push(m);
        }
        for v in variants {
            let start = Instant::now();
            let result = std::panic::catch_unwind(|| parse_feed(&v, content_type(&row), &base));
            worst = worst.max(start.elapsed());
            assert!(
                !matches!(result, Err(_) | Ok(Err(ParseError::Panicked(_)))),
                "{}: a variant panicked",
                row.file
            );
        }
    }
    let _ = std::panic::take_hook();
    assert_eq!(
        PANICS.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "feed-rs panicked (and was caught) on a variant"
    );
    assert!(
        worst < Duration::from_secs(5),
        "slowest variant took {worst:?}"
    );
}

fn binary_config(rows: &[Row], server: &str) -> String {
    let mut cfg = String::from(
        "[daemon]\ndatabase = \"feedwatch.db\"\nschedule = \"0 0 1 1 *\"\nconcurrency = 16\nper_host = 16\ntimeout = \"20s\"\n\n",
    );
    for row in rows {
        cfg.push_str(&format!(
            "[[feed]]\nname = \"{}\"\nurl = \"{server}/{}\"\n\n",
            row.file, row.file
        ));
    }
    cfg
}

/// The substring the binary's per-feed error carries for each error class.
fn error_text(class: &str) -> &'static [&'static str] {
    match class {
        "empty" => &["empty response body"],
        "html" => &["HTML page"],
        "binary" => &["binary data"],
        "not-a-feed" => &["not a feed"],
        "malformed" => &["well-formed", "invalid JSON"],
        "truncated" => &["truncated"],
        "entity-bomb" => &["entit"],
        "invalid" => &["not a valid RSS, Atom or JSON feed"],
        _ => &["(unknown class)"],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_through_the_binary() {
    let rows = table();
    let server = MockServer::start().await;
    for row in &rows {
        let mut resp = ResponseTemplate::new(200).set_body_bytes(body(row));
        if let Some(ct) = content_type(row) {
            resp = resp.insert_header("Content-Type", ct);
        }
        Mock::given(method("GET"))
            .and(path(format!("/{}", row.file)))
            .respond_with(resp)
            .mount(&server)
            .await;
    }
    let base = server.uri();
    let env = Env::new(&binary_config(&rows, &base));
    let started = Instant::now();
    let out = env.run(&["poll", "--json"]);
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "poll took {:?}",
        started.elapsed()
    );
    let poll: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "poll --json: {e}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "a panic in the log:\n{stderr}"
    );
    let reports: HashMap<String, &Value> = poll["feeds"]
        .as_array()
        .expect("feeds")
        .iter()
        .map(|f| (f["name"].as_str().unwrap_or_default().to_string(), f))
        .collect();
    let items = env.json(&["items", "--json", "--limit", "100000"]);
    let mut by_feed: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for item in items.as_array().expect("items") {
        by_feed
            .entry(item["feed"].as_str().unwrap_or_default().to_string())
            .or_default()
            .push(item);
    }
    let mut failures = Vec::new();
    for row in &rows {
        let Some(report) = reports.get(&row.file) else {
            failures.push(format!("{}: not in the poll report", row.file));
            continue;
        };
        let error = report["error"].as_str().unwrap_or("");
        let stored = by_feed.get(&row.file).map_or(&[][..], Vec::as_slice);
        match &row.error {
            Some(class) => {
                if !error_text(class).iter().any(|t| error.contains(t)) {
                    failures.push(format!(
                        "{}: expected a {class} error, got {error:?}",
                        row.file
                    ));
                }
                if !stored.is_empty() {
                    failures.push(format!("{}: a failed document stored items", row.file));
                }
            }
            None => {
                if !error.is_empty() {
                    failures.push(format!("{}: unexpected error {error:?}", row.file));
                    continue;
                }
                let want = row.stored.or(row.items).unwrap_or(0);
                if stored.len() != want {
                    failures.push(format!(
                        "{}: expected {want} stored items, got {}",
                        row.file,
                        stored.len()
                    ));
                }
                if want > 0 && !first_item_stored(row, stored, &base) {
                    failures.push(format!(
                        "{}: no stored item matches the first entry (title {:?}, link {:?}, guid {:?})",
                        row.file, row.title, row.link, row.guid
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures differ through the binary:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// Whether one stored item carries the row's first-entry fields.
fn first_item_stored(row: &Row, stored: &[&Value], server: &str) -> bool {
    // A missing field reads as "", as in the table.
    let s = |v: &Value, k: &str| Some(v[k].as_str().unwrap_or_default().to_string());
    stored.iter().any(|item| {
        let title_ok = row
            .title
            .as_ref()
            .is_none_or(|t| s(item, "title").as_ref() == Some(t));
        let link_ok = row
            .link
            .as_ref()
            .is_none_or(|l| s(item, "url") == Some(with_server(l, server)));
        let guid_ok = row
            .guid
            .as_ref()
            .is_none_or(|g| s(item, "guid").as_ref() == Some(g));
        let date_ok = row.published.as_ref().is_none_or(|p| {
            s(item, "published")
                .and_then(|d| chrono::DateTime::parse_from_rfc3339(&d).ok())
                .zip(chrono::DateTime::parse_from_rfc3339(p).ok())
                .is_some_and(|(a, b)| a == b)
        });
        title_ok && link_ok && guid_ok && date_ok
    })
}
