//! How feeds are fetched: redirects, 410, the body cap, and next-poll times that survive restarts.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A config with `[daemon]` settings `extra` (the schedule defaults to once a year).
fn cfg(feeds: &[(&str, String)], extra: &str) -> String {
    let schedule = if extra.contains("schedule") {
        ""
    } else {
        "schedule = \"0 0 1 1 *\"\n"
    };
    let mut s = format!("[daemon]\ndatabase = \"feedwatch.db\"\n{schedule}{extra}\n");
    for (name, url) in feeds {
        s.push_str(&format!("[[feed]]\nname = \"{name}\"\nurl = \"{url}\"\n"));
    }
    s
}

fn feed_view(env: &Env, name: &str) -> Value {
    let all = env.json(&["feeds", "--json"]);
    all.as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .cloned()
        .unwrap()
}

async fn serve(server: &MockServer, route: &str, body: String) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .mount(server)
        .await;
}

/// A route that answers with a bare status.
async fn respond(server: &MockServer, route: &str, status: u16) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(status))
        .mount(server)
        .await;
}

async fn redirect(server: &MockServer, from: &str, status: u16, to: &str) {
    Mock::given(method("GET"))
        .and(path(from))
        .respond_with(ResponseTemplate::new(status).insert_header("Location", to))
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn permanent_redirects_move_the_feed_and_temporary_ones_do_not() {
    let s = MockServer::start().await;
    serve(&s, "/new", rss_with_seed("a", "https://outlet.example/a")).await;
    redirect(&s, "/old", 301, "/mid").await;
    redirect(&s, "/mid", 308, "/new").await;
    redirect(&s, "/temp", 302, "/new").await;
    redirect(&s, "/loop-a", 301, "/loop-b").await;
    redirect(&s, "/loop-b", 301, "/loop-a").await;
    let env = Env::new(&cfg(
        &[
            ("moved", format!("{}/old", s.uri())),
            ("temp", format!("{}/temp", s.uri())),
            ("loop", format!("{}/loop-a", s.uri())),
        ],
        "",
    ));
    let out = env.run(&["poll", "--json"]);
    assert_eq!(out.status.code(), Some(1), "the loop fails");
    assert_eq!(
        feed_view(&env, "moved")["url"],
        format!("{}/new", s.uri()),
        "301+308: moved for good"
    );
    assert_eq!(
        feed_view(&env, "temp")["url"],
        format!("{}/temp", s.uri()),
        "302: still the old address"
    );
    assert_eq!(feed_view(&env, "temp")["items"], 2);
    let looped = feed_view(&env, "loop");
    assert!(
        looped["error"]
            .as_str()
            .unwrap()
            .starts_with("redirect loop"),
        "{looped}"
    );

    // The next poll goes straight to the new address.
    let hits = |p: &'static str| {
        let s = &s;
        async move {
            s.received_requests()
                .await
                .unwrap()
                .iter()
                .filter(|r| r.url.path() == p)
                .count()
        }
    };
    let (old_before, new_before) = (hits("/old").await, hits("/new").await);
    let out = env.run(&["poll", "moved"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(hits("/old").await, old_before);
    assert_eq!(hits("/new").await, new_before + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn gone_feeds_stop_until_reset_and_oversized_bodies_fail_alone() {
    let s = MockServer::start().await;
    respond(&s, "/gone", 410).await;
    serve(
        &s,
        "/huge",
        format!(
            "<rss version=\"2.0\"><channel>{}</channel></rss>",
            "x".repeat(200_000)
        ),
    )
    .await;
    serve(&s, "/ok", rss_with_seed("a", "https://outlet.example/a")).await;
    let env = Env::new(&cfg(
        &[
            ("gone", format!("{}/gone", s.uri())),
            ("huge", format!("{}/huge", s.uri())),
            ("ok", format!("{}/ok", s.uri())),
        ],
        "max_body = \"100KiB\"",
    ));
    let summary: Value = serde_json::from_slice(&env.run(&["poll", "--json"]).stdout).unwrap();
    assert_eq!(summary["new_items"], 2);
    let gone = feed_view(&env, "gone");
    assert_eq!(gone["state"], "gone");
    assert_eq!(gone["http_status"], 410);
    assert!(gone["next_poll"].is_null());
    let huge = feed_view(&env, "huge");
    assert_eq!(huge["state"], "failing");
    assert!(
        huge["error"]
            .as_str()
            .unwrap()
            .contains("exceeds the 102400-byte cap"),
        "{huge}"
    );

    let out = env.run(&["feeds", "reset", "gone"]);
    assert!(out.status.success());
    let reset = feed_view(&env, "gone");
    assert_eq!(reset["state"], "new");
    assert!(reset["error"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn next_poll_times_survive_a_restart() {
    let s = MockServer::start().await;
    serve(&s, "/f", rss_with_seed("a", "https://outlet.example/a")).await;
    // Hourly: the first start polls the new feed at once, the restart must not.
    let env = Env::new(&cfg(
        &[("f", format!("{}/f", s.uri()))],
        "schedule = \"0 * * * *\"",
    ));
    let count = || async { s.received_requests().await.unwrap().len() };

    let mut d = env.spawn_daemon();
    d.wait_for("the first fetch", async || count().await > 0)
        .await;
    eventually(Duration::from_secs(10), "the poll to be recorded", || {
        feed_view(&env, "f")["state"] == "ok"
    })
    .await;
    d.signal("TERM");
    assert!(d.wait_exit(Duration::from_secs(10)).success());
    let next = feed_view(&env, "f")["next_poll"]
        .as_str()
        .unwrap()
        .to_string();

    let mut d = env.spawn_daemon();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        count().await,
        1,
        "restart re-polled a feed that was not due; log:\n{}",
        d.log_text()
    );
    assert_eq!(feed_view(&env, "f")["next_poll"], next);
    d.signal("INT");
    assert!(d.wait_exit(Duration::from_secs(10)).success());
}

#[tokio::test(flavor = "multi_thread")]
async fn fixing_a_gone_feeds_url_in_the_config_starts_it_over() {
    let s = MockServer::start().await;
    respond(&s, "/retired", 410).await;
    serve(
        &s,
        "/current",
        rss_with_seed("a", "https://outlet.example/a"),
    )
    .await;
    let env = Env::new(&cfg(&[("f", format!("{}/retired", s.uri()))], ""));
    env.run(&["poll"]);
    assert_eq!(feed_view(&env, "f")["state"], "gone");
    env.write_config(&cfg(&[("f", format!("{}/current", s.uri()))], ""));
    let out = env.json(&["poll", "--json"]);
    assert_eq!(out["feeds"][0]["status"], "ok", "{out}");
    let f = feed_view(&env, "f");
    assert_eq!(f["state"], "ok");
    assert_eq!(f["url"], format!("{}/current", s.uri()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_schedule_takes_effect_at_restart() {
    let s = MockServer::start().await;
    serve(&s, "/f", rss_with_seed("a", "https://outlet.example/a")).await;
    let env = Env::new(&cfg(&[("f", format!("{}/f", s.uri()))], ""));
    env.run(&["poll"]);
    assert_eq!(s.received_requests().await.unwrap().len(), 1);
    // Yearly before; every second now: the stored next poll (next January) must not win.
    env.write_config(&cfg(
        &[("f", format!("{}/f", s.uri()))],
        "schedule = \"* * * * * *\"",
    ));
    let mut d = env.spawn_daemon();
    d.wait_for("a poll on the new schedule", async || {
        s.received_requests().await.unwrap().len() >= 2
    })
    .await;
    d.signal("TERM");
    assert!(d.wait_exit(Duration::from_secs(10)).success());
}

/// A feed whose answer takes half a second: time to lock the database before the ingest.
async fn serve_slowly(s: &MockServer) {
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(rss_with_seed("a", "https://outlet.example/a"))
                .set_delay(Duration::from_millis(500)),
        )
        .mount(s)
        .await;
}

/// Hold SQLite's write lock from another connection, as a second process would.
fn hold_write_lock(db: &std::path::Path, for_: Duration) -> std::thread::JoinHandle<()> {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    std::thread::spawn(move || {
        std::thread::sleep(for_);
        conn.execute_batch("COMMIT").unwrap();
    })
}

async fn start_daemon_and_wait_for_first_fetch(env: &Env, s: &MockServer) -> Daemon {
    let d = env.spawn_daemon();
    d.wait_for("the first fetch", async || {
        !s.received_requests().await.unwrap().is_empty()
    })
    .await;
    d
}

#[tokio::test(flavor = "multi_thread")]
async fn a_briefly_locked_database_delays_the_ingest_instead_of_failing_it() {
    let s = MockServer::start().await;
    serve_slowly(&s).await;
    let env = Env::new(&cfg(&[("f", format!("{}/f", s.uri()))], ""));
    let mut d = start_daemon_and_wait_for_first_fetch(&env, &s).await;
    // The response is still on its way: lock the database before the ingest begins.
    let holder = hold_write_lock(&env.db_path(), Duration::from_secs(3));
    holder.join().unwrap();
    eventually(Duration::from_secs(10), "the poll to be recorded", || {
        feed_view(&env, "f")["items"] == 2
    })
    .await;
    assert_eq!(
        s.received_requests().await.unwrap().len(),
        1,
        "fetched once"
    );
    d.signal("TERM");
    assert!(d.wait_exit(Duration::from_secs(10)).success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_locked_for_long_fails_the_poll_without_refetching_in_a_loop() {
    let s = MockServer::start().await;
    serve_slowly(&s).await;
    let env = Env::new(&cfg(
        &[("f", format!("{}/f", s.uri()))],
        "busy_timeout = \"300ms\"",
    ));
    let mut d = start_daemon_and_wait_for_first_fetch(&env, &s).await;
    // Longer than the busy timeout (set short here): recording the poll fails.
    let holder = hold_write_lock(&env.db_path(), Duration::from_secs(2));
    holder.join().unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        d.child.try_wait().unwrap().is_none(),
        "the daemon keeps running"
    );
    assert!(
        d.log_text().contains("could not record the poll"),
        "{}",
        d.log_text()
    );
    assert_eq!(
        s.received_requests().await.unwrap().len(),
        1,
        "the feed is held back, not re-fetched"
    );
    d.signal("TERM");
    assert!(d.wait_exit(Duration::from_secs(10)).success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_daemon_on_the_same_database_refuses_to_start() {
    let s = MockServer::start().await;
    serve(&s, "/f", rss_with_seed("a", "https://outlet.example/a")).await;
    let env = Env::new(&cfg(&[("f", format!("{}/f", s.uri()))], ""));
    let mut first = start_daemon_and_wait_for_first_fetch(&env, &s).await;
    let second = env.run(&["run"]);
    assert_eq!(second.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("another feedwatch daemon is running")
    );
    assert!(first.child.try_wait().unwrap().is_none());
    first.signal("TERM");
    assert!(first.wait_exit(Duration::from_secs(10)).success());
}

#[tokio::test(flavor = "multi_thread")]
async fn poll_skips_gone_feeds_unless_named_and_honours_retry_after() {
    let s = MockServer::start().await;
    respond(&s, "/gone", 410).await;
    Mock::given(method("GET"))
        .and(path("/busy"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .mount(&s)
        .await;
    let env = Env::new(&cfg(
        &[
            ("gone", format!("{}/gone", s.uri())),
            ("busy", format!("{}/busy", s.uri())),
        ],
        "",
    ));
    env.run(&["poll"]);
    let gets = || async { s.received_requests().await.unwrap().len() };
    assert_eq!(gets().await, 2);

    let out: Value = serde_json::from_slice(&env.run(&["poll", "--json"]).stdout).unwrap();
    assert_eq!(
        gets().await,
        2,
        "neither the gone feed nor the rate-limited one is fetched: {out}"
    );
    let status = |n: &str| {
        out["feeds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(status("gone")["status"], "skipped");
    assert_eq!(status("busy")["status"], "skipped");
    assert!(
        status("busy")["error"]
            .as_str()
            .unwrap()
            .contains("Retry-After")
    );

    // Named explicitly, a gone feed is fetched again (and is still gone: exit 1).
    let named = env.run(&["poll", "gone"]);
    assert_eq!(named.status.code(), Some(1));
    assert_eq!(gets().await, 3);
}

/// A responder that notes when each request arrived.
#[derive(Clone)]
struct Timed {
    at: std::sync::Arc<std::sync::Mutex<Vec<std::time::Instant>>>,
    response: ResponseTemplate,
}

impl Timed {
    fn new(response: ResponseTemplate) -> Self {
        Self {
            at: Default::default(),
            response,
        }
    }
    fn times(&self) -> Vec<std::time::Instant> {
        self.at.lock().unwrap().clone()
    }
}

impl wiremock::Respond for Timed {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        self.at.lock().unwrap().push(std::time::Instant::now());
        self.response.clone()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn publisher_freshness_hints_hold_polls_back_and_cookies_never_return() {
    let s = MockServer::start().await;
    let body = rss_with_seed("a", "https://outlet.example/a");
    let ok = || ResponseTemplate::new(200).set_body_string(body.clone());
    let max_age = Timed::new(ok().insert_header("Cache-Control", "public, max-age=3"));
    // Expires is absolute: after it passes, the feed is polled on its schedule again.
    let expiry = chrono::Utc::now() + chrono::Duration::seconds(4);
    let expires = Timed::new(ok().insert_header(
        "Expires",
        expiry.to_rfc2822().replace("+0000", "GMT").as_str(),
    ));
    let plain = Timed::new(ok().insert_header("Set-Cookie", "session=abc123; Path=/"));
    for (route, responder) in [
        ("/max-age", &max_age),
        ("/expires", &expires),
        ("/plain", &plain),
    ] {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(responder.clone())
            .mount(&s)
            .await;
    }
    let feeds = [
        ("max-age", format!("{}/max-age", s.uri())),
        ("expires", format!("{}/expires", s.uri())),
        ("plain", format!("{}/plain", s.uri())),
    ];
    // Polled every second, unless a hint says otherwise.
    let env = Env::new(&cfg(&feeds, "schedule = \"* * * * * *\""));
    let mut d = env.spawn_daemon();
    d.wait_for("two polls of the max-age feed", async || {
        max_age.times().len() >= 2
    })
    .await;
    let held = feed_view(&env, "max-age");
    assert_eq!(held["held_by"], "Cache-Control max-age=3", "{held}");
    d.wait_for(
        "the expired feed to be polled every second again",
        async || expires.times().len() >= 3,
    )
    .await;
    d.signal("TERM");
    assert!(d.wait_exit(Duration::from_secs(10)).success());

    let gaps = |t: Vec<std::time::Instant>| -> Vec<Duration> {
        t.windows(2).map(|w| w[1] - w[0]).collect()
    };
    for g in gaps(max_age.times()) {
        assert!(
            g >= Duration::from_millis(2900),
            "max-age=3 polled again after {g:?}"
        );
    }
    let e = expires.times();
    // The first poll saw an Expires about 4 s ahead (1 s resolution): nothing before it.
    assert!(
        e[1] - e[0] >= Duration::from_millis(2500),
        "{:?}",
        gaps(e.clone())
    );
    assert!(
        gaps(plain.times())
            .iter()
            .all(|g| *g < Duration::from_millis(2500)),
        "the unhinted feed follows its schedule"
    );
    for r in s.received_requests().await.unwrap() {
        assert!(r.headers.get("cookie").is_none(), "a cookie was sent back");
        assert!(r.headers.get("referer").is_none(), "a referer was sent");
        assert!(r.url.query().is_none(), "no cache-busting query");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_html_page_naming_its_feed_leads_to_the_feed_for_good() {
    let s = MockServer::start().await;
    let page = r#"<!DOCTYPE html><html><head><title>World Desk</title>
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/rss+xml" title="World Desk RSS" href="/feeds/world.xml">
</head><body><h1>World Desk</h1></body></html>"#;
    Mock::given(method("GET"))
        .and(path("/"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Type", "text/html; charset=utf-8")
                .set_body_string(page),
        )
        .mount(&s)
        .await;
    serve(
        &s,
        "/feeds/world.xml",
        rss_with_seed("w-1", "https://outlet.example/w"),
    )
    .await;
    let env = Env::new(&cfg(&[("desk", format!("{}/", s.uri()))], ""));
    let out = env.json(&["poll", "--json"]);
    assert_eq!(out["feeds"][0]["status"], "ok", "{out}");
    assert_eq!(out["new_items"], 2, "{out}");
    let f = feed_view(&env, "desk");
    assert_eq!(f["url"], format!("{}/feeds/world.xml", s.uri()), "{f}");
    env.json(&["poll", "--json"]);
    assert_eq!(
        requests_to(&s, "/").await.len(),
        1,
        "the page is not fetched again: the feed is polled directly"
    );
    assert_eq!(requests_to(&s, "/feeds/world.xml").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_documents_ttl_holds_the_next_poll_and_repairs_are_recorded() {
    let s = MockServer::start().await;
    // No version attribute (podcast generators do this) and a <ttl> of 30 minutes.
    let body = r#"<?xml version="1.0"?><rss><channel><title>Pod</title><ttl>30</ttl>
<item><title>Episode 1</title><guid>ep-1</guid><link>https://pod.example/1</link></item>
</channel></rss>"#;
    Mock::given(method("GET"))
        .and(path("/pod"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("ETag", "\"p1\"")
                .set_body_string(body),
        )
        .mount(&s)
        .await;
    let env = Env::new(&cfg(
        &[("pod", format!("{}/pod", s.uri()))],
        "schedule = \"* * * * *\"",
    ));
    env.json(&["poll", "--json"]);
    let f = feed_view(&env, "pod");
    assert_eq!(f["items"], 1, "{f}");
    assert_eq!(f["held_by"], "<ttl>30</ttl>", "{f}");
    assert!(
        f["repairs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "rss-version-added"),
        "{f}"
    );
    let t = |k: &str| chrono::DateTime::parse_from_rfc3339(f[k].as_str().unwrap()).unwrap();
    let wait = t("next_poll") - t("last_poll");
    assert!(
        wait >= chrono::Duration::minutes(29) && wait <= chrono::Duration::minutes(31),
        "held for the ttl, not the one-minute schedule: {wait}"
    );
}

/// The peak RSS of a running process, in KiB (per process image, so the parent's size before
/// `exec` does not count, unlike `getrusage`).
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gzip_bomb_and_a_huge_body_cost_no_more_than_the_cap() {
    use std::io::Write as _;
    let s = MockServer::start().await;
    // 256 MiB of zeros, gzipped to a few hundred KiB.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        gz.write_all(&zeros).unwrap();
    }
    let bomb = gz.finish().unwrap();
    Mock::given(method("GET"))
        .and(path("/bomb"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Encoding", "gzip")
                .insert_header("Content-Type", "application/rss+xml")
                .set_body_bytes(bomb),
        )
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/huge"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 64 << 20]))
        .mount(&s)
        .await;
    let env = Env::new(&cfg(
        &[
            ("bomb", format!("{}/bomb", s.uri())),
            ("huge", format!("{}/huge", s.uri())),
        ],
        "max_body = \"1MiB\"",
    ));
    let mut d = env.spawn_daemon();
    d.wait_for("both feeds to fail on the cap", async || {
        if !env.db_path().exists() {
            return false;
        }
        let f = env.json(&["feeds", "--json"]);
        f.as_array()
            .unwrap()
            .iter()
            .all(|f| f["error"].as_str().is_some_and(|e| e.contains("cap")))
    })
    .await;
    let peak = peak_rss_kib(d.child.id());
    d.signal("TERM");
    assert!(d.wait_exit(Duration::from_secs(10)).success());
    // The daemon's own size plus the 1 MiB cap and a margin; the bodies are 256 and 64 MiB.
    assert!(peak > 0 && peak < 48 * 1024, "peak RSS {peak} KiB");
}

/// The requests made to `route`.
async fn requests_to(s: &MockServer, route: &str) -> Vec<wiremock::Request> {
    s.received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == route)
        .collect()
}
