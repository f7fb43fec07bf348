//! The spine under failure: a panic in one feed's processing, a writer that panics, dies,
//! stalls or cannot write, a restart with thousands of feeds, and SIGKILL during group commits.

mod common;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// `[daemon]` with `extra`, then one `[[feed]]` per (name, url).
fn cfg(feeds: &[(String, String)], extra: &str) -> String {
    let mut s =
        format!("[daemon]\ndatabase = \"feedwatch.db\"\nalert_backoff = \"100ms\"\n{extra}\n");
    for (name, url) in feeds {
        s.push_str(&format!("[[feed]]\nname = \"{name}\"\nurl = \"{url}\"\n"));
    }
    s
}

fn two_feeds(s: &MockServer) -> Vec<(String, String)> {
    vec![
        ("good".into(), format!("{}/good", s.uri())),
        ("bad".into(), format!("{}/bad", s.uri())),
    ]
}

async fn serve_both(s: &MockServer) {
    for route in ["/good", "/bad"] {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(ResponseTemplate::new(200).set_body_string(rss_with_seed(
                &format!("{route}-1"),
                &format!("https://outlet.example{route}"),
            )))
            .mount(s)
            .await;
    }
}

fn feed<'a>(feeds: &'a Value, name: &str) -> &'a Value {
    feeds
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap()
}

async fn gets(s: &MockServer, route: &str) -> usize {
    s.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r: &&Request| r.url.path() == route)
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_while_reading_one_feed_is_that_feeds_error_and_the_rest_goes_on() {
    let s = MockServer::start().await;
    serve_both(&s).await;
    let env = Env::new(&cfg(&two_feeds(&s), "schedule = \"* * * * * *\""));
    let out = env
        .command(&["poll", "--json"])
        .env("FEEDWATCH_FAILPOINTS", "cpu-panic=bad")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bad = feed(&report["feeds"], "bad");
    assert_eq!(bad["status"], "error", "{report}");
    assert!(
        bad["error"].as_str().unwrap().contains("internal error"),
        "{report}"
    );
    assert_eq!(feed(&report["feeds"], "good")["new_items"], 2);
    let feeds = env.json(&["feeds", "--json"]);
    let bad = feed(&feeds, "bad");
    assert_eq!(bad["state"], "failing");
    assert_eq!(bad["items"], 0);

    // In the daemon, with a schedule of every second: the failing feed backs off (one minute
    // after a first failure) while the good one keeps being polled.
    let mut d = env.spawn_daemon_with(|c| {
        c.env("FEEDWATCH_FAILPOINTS", "cpu-panic=bad");
    });
    let before_bad = gets(&s, "/bad").await;
    let before_good = gets(&s, "/good").await;
    d.wait_for("three more polls of the good feed", async || {
        gets(&s, "/good").await >= before_good + 3
    })
    .await;
    assert!(
        gets(&s, "/bad").await <= before_bad + 1,
        "the panicking feed is not retried every second"
    );
    assert!(d.child.try_wait().unwrap().is_none(), "the daemon lives on");
    d.signal("TERM");
    assert!(d.wait_exit(Duration::from_secs(10)).success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_while_writing_one_poll_fails_that_poll_alone() {
    let s = MockServer::start().await;
    serve_both(&s).await;
    let env = Env::new(&cfg(&two_feeds(&s), "schedule = \"0 0 1 1 *\""));
    let out = env
        .command(&["poll", "--json"])
        .env("FEEDWATCH_FAILPOINTS", "writer-panic=bad")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bad = feed(&report["feeds"], "bad");
    assert_eq!(bad["status"], "error", "{report}");
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .contains("internal error while writing"),
        "{report}"
    );
    assert_eq!(feed(&report["feeds"], "good")["new_items"], 2, "{report}");
    // Nothing of the bad poll was written, and a later poll without the fault stores it.
    assert_eq!(feed(&env.json(&["feeds", "--json"]), "bad")["items"], 0);
    let again = env.json(&["poll", "--json", "bad"]);
    assert_eq!(feed(&again["feeds"], "bad")["new_items"], 2, "{again}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_exits_non_zero_when_its_writer_dies() {
    let s = MockServer::start().await;
    serve_both(&s).await;
    let env = Env::new(&cfg(&two_feeds(&s), "schedule = \"0 0 1 1 *\""));
    let mut d = env.spawn_daemon_with(|c| {
        c.env("FEEDWATCH_FAILPOINTS", "writer-die=bad");
    });
    let status = d.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1), "log:\n{}", d.log_text());
    assert!(
        d.log_text().contains("database writer stopped"),
        "{}",
        d.log_text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_exits_non_zero_when_the_database_keeps_refusing_writes() {
    let s = MockServer::start().await;
    serve_both(&s).await;
    let env = Env::new(&cfg(
        &two_feeds(&s),
        "schedule = \"* * * * * *\"\nbusy_timeout = \"100ms\"\ngive_up_after = \"2s\"",
    ));
    // Once the daemon runs, hold the write lock as another process would, for long.
    let mut d = env.spawn_daemon();
    d.wait_for("a first poll", async || gets(&s, "/good").await > 0)
        .await;
    let conn = rusqlite::Connection::open(env.db_path()).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = Instant::now();
    let status = d.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(1), "log:\n{}", d.log_text());
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "not before give_up_after"
    );
    assert!(
        d.log_text().contains("refused every write"),
        "{}",
        d.log_text()
    );
    conn.execute_batch("ROLLBACK").unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_that_comes_back_in_time_does_not_stop_the_daemon() {
    let s = MockServer::start().await;
    serve_both(&s).await;
    let env = Env::new(&cfg(
        &two_feeds(&s),
        "schedule = \"* * * * * *\"\nbusy_timeout = \"100ms\"\ngive_up_after = \"4s\"",
    ));
    let mut d = env.spawn_daemon();
    d.wait_for("a first poll", async || gets(&s, "/good").await > 0)
        .await;
    let conn = rusqlite::Connection::open(env.db_path()).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    d.wait_for("a poll that cannot be recorded", async || {
        d.log_text().contains("could not record the poll")
    })
    .await;
    conn.execute_batch("ROLLBACK").unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        d.child.try_wait().unwrap().is_none(),
        "the daemon lives on: {}",
        d.log_text()
    );
    d.signal("TERM");
    assert!(d.wait_exit(Duration::from_secs(10)).success());
}

/// Datagrams the daemon sends to `$NOTIFY_SOCKET`.
struct NotifySocket {
    sock: UnixDatagram,
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl NotifySocket {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        Self {
            sock,
            _dir: dir,
            path,
        }
    }

    /// Every message received within `d`.
    fn collect(&self, d: Duration) -> Vec<String> {
        let end = Instant::now() + d;
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while Instant::now() < end {
            if let Ok(n) = self.sock.recv(&mut buf) {
                out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        out
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_watchdog_is_fed_only_while_the_writer_makes_progress() {
    let s = MockServer::start().await;
    serve_both(&s).await;
    Mock::given(method("GET"))
        .and(path("/stall"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(rss_with_seed("s", "https://outlet.example/s"))
                // Late enough that the first watchdog pings are sent before the stall.
                .set_delay(Duration::from_millis(1500)),
        )
        .mount(&s)
        .await;
    let mut feeds = two_feeds(&s);
    feeds.push(("stall".into(), format!("{}/stall", s.uri())));
    let env = Env::new(&cfg(
        &feeds,
        "schedule = \"0 0 1 1 *\"\ngive_up_after = \"1s\"",
    ));
    let notify = NotifySocket::new();
    let mut d = env.spawn_daemon_with(|c| {
        c.env("NOTIFY_SOCKET", &notify.path)
            .env("WATCHDOG_USEC", "200000")
            .env("FEEDWATCH_FAILPOINTS", "writer-stall=stall");
    });
    let early = notify.collect(Duration::from_millis(1200));
    assert!(early.iter().any(|m| m.contains("READY=1")), "{early:?}");
    assert!(
        early.iter().filter(|m| m.contains("WATCHDOG=1")).count() >= 3,
        "{early:?}"
    );
    // The writer hangs on the third feed's result: after give_up_after, no more pings.
    d.wait_for("the stalled poll to reach the writer", async || {
        gets(&s, "/stall").await == 1
    })
    .await;
    notify.collect(Duration::from_millis(2500));
    let late = notify.collect(Duration::from_millis(1000));
    assert!(
        !late.iter().any(|m| m.contains("WATCHDOG=1")),
        "no watchdog while the writer is stuck: {late:?}"
    );
    d.signal("KILL");
    d.wait_exit(Duration::from_secs(5));
}

/// An RSS document of `n` items, each its own story matching the test topic.
fn numbered_rss(feed: usize, n: usize) -> String {
    let mut items = String::new();
    for i in 0..n {
        items.push_str(&format!(
            "<item><title>Lavrov in Beijing, report {feed}-{i}</title><link>https://outlet{feed}.example/{i}</link>\
             <guid>{feed}-{i}</guid><description>China and Russia, dispatch {feed}-{i}.</description></item>"
        ));
    }
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>f{feed}</title>{items}</channel></rss>"
    )
}

async fn serve_numbered(s: &MockServer, feeds: usize, items: usize, delay: Duration) {
    for f in 0..feeds {
        Mock::given(method("GET"))
            .and(path(format!("/f/{f}")))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("ETag", format!("\"v{f}\""))
                    .set_body_string(numbered_rss(f, items))
                    .set_delay(delay),
            )
            .mount(s)
            .await;
    }
}

fn numbered_feeds(s: &MockServer, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|f| (format!("f{f}"), format!("{}/f/{f}", s.uri())))
        .collect()
}

fn topic_and_hook(hook: &str) -> String {
    format!(
        "[[topic]]\nname = \"cr\"\nquery = '{TOPIC}'\nnotify = [\"hook\"]\n\n\
         [[notifier]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{hook}\"\n"
    )
}

/// A count from the database, or -1 while it cannot be read (not created yet).
fn count(db: &std::path::Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db)
        .and_then(|conn| conn.query_row(sql, [], |r| r.get(0)))
        .unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_group_commits_never_loses_an_outbox_row() {
    const FEEDS: usize = 120;
    const ITEMS: usize = 5;
    let s = MockServer::start().await;
    serve_numbered(&s, FEEDS, ITEMS, Duration::from_millis(60)).await;
    // A receiver that always fails: every alert stays in the outbox, to be counted.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&s)
        .await;
    let mut config = cfg(
        &numbered_feeds(&s, FEEDS),
        "schedule = \"0 0 1 1 *\"\nper_host = 4\nalert_attempts = 1000",
    );
    config.push_str(&topic_and_hook(&format!("{}/hook", s.uri())));
    let env = Env::new(&config);
    let db = env.db_path();
    // Kill the daemon at different moments of its first sweep, several times over.
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let mut kills = Vec::new();
    for _ in 0..5 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        // The sweep takes about 120 × 60 ms / 4 = 1.8 s.
        let after = Duration::from_millis(100 + (seed >> 33) % 800);
        let mut d = env.spawn_daemon();
        tokio::time::sleep(after).await;
        d.signal("KILL");
        d.wait_exit(Duration::from_secs(5));
        kills.push(after);
        if db.exists() {
            // Whatever was committed is whole: every stored item has its match and its alert.
            let items = count(&db, "SELECT COUNT(*) FROM items");
            let alerts = count(&db, "SELECT COUNT(*) FROM alerts");
            assert_eq!(items, alerts, "kills at {kills:?}");
            eprintln!("killed after {after:?}: {items} items");
        }
    }
    // A last run completes the sweep: every item of every feed, each with its alert.
    let mut d = env.spawn_daemon();
    d.wait_for("the daemon to start", async || {
        d.log_text().contains("feedwatch starting")
    })
    .await;
    d.wait_for("the sweep to complete", async || {
        count(&db, "SELECT COUNT(*) FROM feeds WHERE last_ok IS NOT NULL") == FEEDS as i64
    })
    .await;
    d.signal("TERM");
    let status = d.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}: {}", d.log_text());
    let expected = (FEEDS * ITEMS) as i64;
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM items"),
        expected,
        "kills at {kills:?}"
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM alerts"),
        expected,
        "kills at {kills:?}"
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM alerts WHERE status = 'pending'"),
        expected
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_keeps_the_schedule_of_thousands_of_feeds() {
    const FEEDS: usize = 2000;
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/f/[0-9]+$"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("ETag", "\"v1\"")
                .set_body_string(numbered_rss(0, 2)),
        )
        .mount(&s)
        .await;
    let env = Env::new(&cfg(
        &numbered_feeds(&s, FEEDS),
        "schedule = \"0 0 1 1 *\"\nper_host = 16\nconcurrency = 16",
    ));
    let db = env.db_path();
    let mut d = env.spawn_daemon();
    d.wait_for("every feed polled once", async || {
        db.exists()
            && count(&db, "SELECT COUNT(*) FROM feeds WHERE last_ok IS NOT NULL") == FEEDS as i64
    })
    .await;
    d.signal("TERM");
    assert!(d.wait_exit(Duration::from_secs(20)).success());
    let fetched = s.received_requests().await.unwrap().len();
    assert_eq!(fetched, FEEDS, "each feed fetched once");
    let next = |db: &std::path::Path| -> Vec<(String, String)> {
        let conn = rusqlite::Connection::open(db).unwrap();
        let mut st = conn
            .prepare("SELECT name, next_poll FROM feeds ORDER BY name")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let before = next(&db);
    let mut d = env.spawn_daemon();
    d.wait_for("the daemon to start", async || {
        d.log_text().contains("feedwatch starting")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        s.received_requests().await.unwrap().len(),
        fetched,
        "nothing is polled again after the restart"
    );
    d.signal("TERM");
    assert!(d.wait_exit(Duration::from_secs(10)).success());
    assert_eq!(next(&db), before, "next poll times are kept");
}
