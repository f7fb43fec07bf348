//! Output for people and for scripts, with the real binary: aligned tables with headers that
//! fit the terminal (display width, ellipsis), tab-separated rows and RFC 3339 UTC when piped,
//! local and relative times on a terminal, colour only there and never with NO_COLOR, the
//! story and outlets of alerts, `poll`'s summary without its log lines, progress on a real
//! terminal only, and readers that stop reading (`| head`) ending a command quietly after its
//! work is recorded. "A terminal" is forced with FEEDWATCH_TERMINAL=1 (stdout is a pipe here),
//! or is a real pseudo-terminal from `script`.

mod cli_support;
mod common;

use std::process::Stdio;

use cli_support::*;
use common::*;
use serde_json::Value;
use unicode_width::UnicodeWidthStr;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const LONG: &str = "a-feed-name-far-too-long-to-fit-in-any-sensible-column-width";
const CJK_TITLE: &str = "中俄战略伙伴关系：拉夫罗夫访问北京期间双方强调合作🇨🇳🇷🇺";

fn cjk_rss() -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>CJK</title><link>https://cjk.example/</link><description>d</description>
<item><title>{CJK_TITLE}</title><link>https://cjk.example/1</link><guid>cjk-1</guid><pubDate>Tue, 01 Apr 2025 09:30:00 GMT</pubDate><description>北京 莫斯科</description></item>
</channel></rss>"#
    )
}

async fn serve(server: &MockServer, route: &str, body: String) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .mount(server)
        .await;
}

/// Three feeds (the seed story, a CJK title under a long feed name, a 404) polled once.
async fn polled() -> (MockServer, Env) {
    let s = MockServer::start().await;
    serve(
        &s,
        "/wire",
        rss_with_seed("w-1", "https://outlet.example/a"),
    )
    .await;
    serve(&s, "/cjk", cjk_rss()).await;
    let env = Env::new(&config_with(
        &[
            ("wire", format!("{}/wire", s.uri())),
            (LONG, format!("{}/cjk", s.uri())),
            ("missing", format!("{}/missing", s.uri())),
        ],
        "",
    ));
    let out = env.run(&["poll"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    (s, env)
}

fn terminal(env: &Env, args: &[&str], extra: &[(&str, &str)]) -> String {
    let mut cmd = env.command(args);
    cmd.env("FEEDWATCH_TERMINAL", "1")
        .env("COLUMNS", "80")
        .env("NO_COLOR", "1")
        .env("TZ", "UTC");
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run");
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

fn piped(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_terminal_tables_have_headers_and_fit_the_width() {
    let (_s, env) = polled().await;
    for (args, header) in [
        (&["feeds"][..], "NAME"),
        (&["items"], "ID"),
        (&["alerts"], "ID"),
        (&["search", "Beijing"], "ID"),
    ] {
        let text = terminal(&env, args, &[]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with(header), "{args:?}:\n{text}");
        // Rows fit 80 columns; detail lines (a full error) may be longer.
        for l in lines.iter().filter(|l| !l.starts_with("    ")) {
            assert!(l.width() <= 80, "{args:?}: {} columns: {l}", l.width());
        }
    }
    let feeds = terminal(&env, &["feeds"], &[]);
    assert!(!feeds.contains(LONG), "the long name is cut:\n{feeds}");
    assert!(feeds.contains("a-feed-name-"), "{feeds}");
    assert!(feeds.contains('…'), "{feeds}");
    assert!(feeds.contains("    error: HTTP 404"), "{feeds}");
    let items = terminal(&env, &["items"], &[]);
    assert!(
        items.contains("中俄战略"),
        "wide characters are kept, and cut by width:\n{items}"
    );
    // In full for scripts.
    let json = env.json(&["feeds", "--json"]);
    assert!(json.as_array().unwrap().iter().any(|f| f["name"] == LONG));
    assert!(piped(&env, &["feeds"]).contains(LONG));
    let items_json = env.json(&["items", "--json"]);
    assert!(
        items_json
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["title"] == CJK_TITLE)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn piped_tables_are_tab_separated_with_utc_times() {
    let (_s, env) = polled().await;
    let text = piped(&env, &["feeds"]);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    assert_eq!(&header[..3], ["NAME", "STATE", "LAST_POLL"], "{text}");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 3, "{text}");
    for r in &rows {
        assert_eq!(r.len(), header.len(), "{r:?}");
        assert!(
            chrono::DateTime::parse_from_rfc3339(r[2]).is_ok() && r[2].ends_with('Z'),
            "LAST_POLL is RFC 3339 UTC: {r:?}"
        );
    }
    let missing = rows.iter().find(|r| r[0] == "missing").unwrap();
    let error_col = header.iter().position(|h| *h == "ERROR").unwrap();
    assert_eq!(missing[error_col], "HTTP 404");
    assert!(!text.contains('…') && !text.contains("\u{1b}"));

    let items = piped(&env, &["items"]);
    let header: Vec<&str> = items.lines().next().unwrap().split('\t').collect();
    let published = header.iter().position(|h| *h == "PUBLISHED").unwrap();
    let seed = items
        .lines()
        .find(|l| l.contains(SEED_TITLE))
        .unwrap()
        .split('\t')
        .collect::<Vec<_>>();
    assert_eq!(
        seed[published], "2025-04-01T09:30:00Z",
        "the published time, in UTC"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn people_see_published_times_local_and_recent_times_relative() {
    let (_s, env) = polled().await;
    let utc = terminal(&env, &["items"], &[]);
    let seed = utc
        .lines()
        .find(|l| l.contains("outlet") || l.contains("China"))
        .unwrap();
    assert!(
        seed.contains("2025-04-01 09:30"),
        "published, not first seen:\n{utc}"
    );
    let tokyo = terminal(&env, &["items"], &[("TZ", "Asia/Tokyo")]);
    assert!(
        tokyo.contains("2025-04-01 18:30"),
        "in the local zone:\n{tokyo}"
    );
    // The markets item has no date: first seen, moments ago.
    assert!(
        utc.lines()
            .any(|l| l.contains("Markets") && l.contains("now")),
        "{utc}"
    );
    let feeds = terminal(&env, &["feeds"], &[]);
    let wire = feeds.lines().find(|l| l.starts_with("wire ")).unwrap();
    assert!(
        wire.contains("now") && wire.contains("in "),
        "last poll now, next poll ahead: {wire}"
    );
    // Times in JSON stay RFC 3339 UTC.
    let j = env.json(&["feeds", "--json"]);
    let last = j[0]["last_poll"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(last).is_ok() && last.ends_with('Z'));
}

#[tokio::test(flavor = "multi_thread")]
async fn colour_only_on_a_terminal_and_never_with_no_color() {
    let (_s, env) = polled().await;
    let coloured = env
        .command(&["feeds"])
        .env("FEEDWATCH_TERMINAL", "1")
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .output()
        .unwrap();
    assert!(
        stdout(&coloured).contains("\u{1b}[31m"),
        "failing feeds in colour"
    );
    let plain = terminal(&env, &["feeds"], &[]);
    assert!(!plain.contains('\u{1b}'), "NO_COLOR: {plain:?}");
    let dumb = terminal(&env, &["feeds"], &[("TERM", "dumb")]);
    assert!(!dumb.contains('\u{1b}'));
    let out = env
        .command(&["feeds"])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(!stdout(&out).contains('\u{1b}'), "no colour when piped");
}

#[tokio::test(flavor = "multi_thread")]
async fn alerts_name_the_story_and_its_outlets() {
    let s = MockServer::start().await;
    serve(
        &s,
        "/wire",
        rss_with_seed("w-1", "https://outlet.example/a"),
    )
    .await;
    serve(
        &s,
        "/outlet",
        rss_with_seed("o-1", "https://outlet.example/a?utm_source=x"),
    )
    .await;
    let env = Env::new(&config_with(
        &[
            ("wire", format!("{}/wire", s.uri())),
            ("outlet", format!("{}/outlet", s.uri())),
        ],
        "",
    ));
    assert!(env.run(&["poll"]).status.success());
    let alerts = env.json(&["alerts", "--json"]);
    let a = &alerts[0];
    assert_eq!(a["story_title"], SEED_TITLE, "{alerts}");
    // In the order they brought it: both polls run at once, so either may be first.
    let mut outlets: Vec<&str> = a["outlets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    outlets.sort();
    assert_eq!(outlets, ["outlet", "wire"], "{alerts}");
    let text = terminal(&env, &["alerts"], &[("COLUMNS", "200")]);
    let row = text.lines().nth(1).unwrap();
    assert!(row.contains(SEED_TITLE), "{text}");
    assert!(
        row.contains("wire, outlet") || row.contains("outlet, wire"),
        "{text}"
    );
    assert!(!text.contains("story 1"), "a title, not a number: {text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn poll_summarises_new_updated_and_alerts_without_its_log_lines() {
    let s = MockServer::start().await;
    serve(
        &s,
        "/wire",
        rss_with_seed("w-1", "https://outlet.example/a"),
    )
    .await;
    let env = Env::new(&config_with(&[("wire", format!("{}/wire", s.uri()))], ""));
    let first = env
        .command(&["poll"])
        .env_remove("RUST_LOG")
        .env("FEEDWATCH_TERMINAL", "1")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    let text = stdout(&first);
    assert!(text.starts_with("FEED"), "{text}");
    assert!(
        text.contains(
            "1 feed polled: 2 new, 0 updated; alerts: 1 queued, 1 sent, 0 failed, 0 pending"
        ),
        "{text}"
    );
    let err = stderr(&first);
    assert!(
        !err.contains(" INFO "),
        "one-shot commands log at warn: {err}"
    );

    // The publisher edits the story: one item updated, no new alert.
    s.reset().await;
    serve(
        &s,
        "/wire",
        rss_with_seed("w-1", "https://outlet.example/a").replace(
            "Shares rose on exporters.",
            "Shares rose on exporters and banks.",
        ),
    )
    .await;
    let again: Value = env.json(&["poll", "--json"]);
    assert_eq!(again["updated_items"], 1, "{again}");
    assert_eq!(again["new_items"], 0);
    assert_eq!(again["alerts_queued"], 0);
    assert_eq!(again["polled_by"], "command");
}

/// Run `args` with stdout (and, with `both`, stderr) a pipe whose reader is gone at once.
fn with_reader_gone(env: &Env, args: &[&str], both: bool) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    let mut cmd = env.command(args);
    cmd.stdin(Stdio::null())
        .stdout(writer.try_clone().unwrap())
        .stderr(if both {
            Stdio::from(writer)
        } else {
            drop(writer);
            Stdio::piped()
        });
    drop(reader);
    let child = cmd.spawn().unwrap();
    drop(cmd);
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_that_stops_reading_ends_every_listing_quietly() {
    let (_s, env) = polled().await;
    for args in [
        &["items"][..],
        &["items", "--json"],
        &["feeds"],
        &["feeds", "--json"],
        &["alerts"],
        &["alerts", "--json"],
        &["stories"],
        &["search", "China"],
        &["match", "--topic", "china-russia", "--since", "7d"],
        &["status"],
        &["check"],
        &["opml", "export"],
        &["completions", "bash"],
        &["manpage"],
        &["--help"],
    ] {
        let out = with_reader_gone(&env, args, false);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn poll_into_a_closed_pipe_still_records_and_delivers() {
    let s = MockServer::start().await;
    serve(
        &s,
        "/wire",
        rss_with_seed("w-1", "https://outlet.example/a"),
    )
    .await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hooks)
        .await;
    let env = Env::new(&config_with(
        &[("wire", format!("{}/wire", s.uri()))],
        &format!(
            "[[topic]]\nname = \"hooked\"\nquery = 'Lavrov'\nnotify = [\"hook\"]\n[[notifier]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}/hook\"\n",
            hooks.uri()
        ),
    ));
    // `poll 2>&1 | head`: stdout and stderr both go to a reader that has left.
    let out = with_reader_gone(&env, &["poll"], true);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(env.json(&["items", "--json"]).as_array().unwrap().len(), 2);
    let alerts = env.json(&["alerts", "--json"]);
    assert!(
        alerts
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["status"] == "sent"),
        "every alert delivered: {alerts}"
    );
    assert_eq!(hooks.received_requests().await.unwrap().len(), 1);
}

/// Run `cmd` under a real pseudo-terminal (util-linux `script`), when there is one.
fn under_a_terminal(cmd: &str) -> Option<String> {
    let out = std::process::Command::new("script")
        .args(["-qec", cmd, "/dev/null"])
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status.code()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_shows_on_a_terminal_only() {
    let s = MockServer::start().await;
    serve(
        &s,
        "/wire",
        rss_with_seed("w-1", "https://outlet.example/a"),
    )
    .await;
    let env = Env::new(&config_with(&[("wire", format!("{}/wire", s.uri()))], ""));
    let base = format!(
        "{} --config {}",
        bin().display(),
        env.config_path().display()
    );
    let Some(tty) = under_a_terminal(&format!("{base} poll")) else {
        eprintln!("no `script` here: the pseudo-terminal half is skipped");
        return;
    };
    assert!(tty.contains("polling [") && tty.contains("/1"), "{tty:?}");
    assert!(tty.contains("FEED"), "the table follows: {tty:?}");
    let piped = env.run(&["poll"]);
    assert!(
        !stderr(&piped).contains("polling ["),
        "no progress into a pipe"
    );
    // FEEDWATCH_TERMINAL=0: output for scripts even on a terminal, and no progress.
    let plain = under_a_terminal(&format!("FEEDWATCH_TERMINAL=0 {base} poll")).unwrap();
    assert!(plain.starts_with("FEED\tRESULT"), "{plain:?}");
    assert!(!plain.contains("polling ["), "{plain:?}");
}
