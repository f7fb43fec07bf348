//! How alerts leave, through the real daemon: digests on a cron tick, rate limits that hold
//! back without dropping, a dead receiver backed off as a whole, Retry-After honoured,
//! feed-health events, and SIGKILL at random moments losing nothing.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use common::receiver::{Chance, Recorder, answer, header, receiver, rss_stories};
use common::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn stories_feed(n: usize) -> MockServer {
    let feeds = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/feed"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Type", "application/rss+xml")
                .set_body_string(rss_stories(n)),
        )
        .mount(&feeds)
        .await;
    feeds
}

fn config(feed: &str, notify: &[&str], daemon: &str, notifiers: &str) -> String {
    let notify: Vec<String> = notify.iter().map(|n| format!("\"{n}\"")).collect();
    let backoff = if daemon.contains("alert_backoff") {
        ""
    } else {
        "alert_backoff = \"200ms\""
    };
    format!(
        r#"[daemon]
database = "feedwatch.db"
schedule = "0 0 1 1 *"
{backoff}
{daemon}

[[feed]]
name = "wire"
url = "{feed}/feed"

[[topic]]
name = "china-russia"
query = '{TOPIC}'
notify = [{}]

{notifiers}
"#,
        notify.join(", ")
    )
}

fn webhook(name: &str, url: &str, extra: &str) -> String {
    format!("[[notifier]]\nname = \"{name}\"\nkind = \"webhook\"\nurl = \"{url}\"\n{extra}\n")
}

/// `alerts --json`, or an empty list while the daemon has not created the database yet.
fn alerts(env: &Env) -> Vec<Value> {
    let out = env.run(&["alerts", "--json"]);
    if !out.status.success() {
        return Vec::new();
    }
    serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

fn ok200(_: usize) -> (u16, ResponseTemplate) {
    answer(200)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_digest_waits_for_its_tick_and_sends_one_message_listing_every_alert() {
    let feeds = stories_feed(5).await;
    let (srv, rec) = receiver(ok200).await;
    let env = Env::new(&config(
        &feeds.uri(),
        &["daily"],
        "",
        &webhook(
            "daily",
            &format!("{}/hook", srv.uri()),
            "digest = \"*/2 * * * * *\"",
        ),
    ));
    let daemon = env.spawn_daemon();
    daemon
        .wait_for("five alerts queued", async || alerts(&env).len() == 5)
        .await;
    daemon
        .wait_for("the digest", async || rec.count() >= 1)
        .await;
    // One tick later there is still only the one message.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let got = rec.delivered();
    assert_eq!(
        got.len(),
        1,
        "one message for the tick: {:?}",
        got.iter().map(|g| &g.1).collect::<Vec<_>>()
    );
    let (req, body) = &got[0];
    assert_eq!(body["event"], "topic.digest");
    assert_eq!(body["topic"], "china-russia");
    assert_eq!(header(req, "Idempotency-Key"), body["id"].as_str().unwrap());
    let listed = body["alerts"].as_array().unwrap();
    assert_eq!(listed.len(), 5);
    let stored = alerts(&env);
    let uids: HashSet<&str> = stored.iter().map(|a| a["uid"].as_str().unwrap()).collect();
    let sent: HashSet<&str> = listed.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(uids, sent, "the digest lists every alert by its id");
    assert!(
        listed
            .iter()
            .all(|a| a["event"] == "topic.match" && a["story"]["title"].is_string())
    );
    // Still one outbox row each, all marked sent together.
    assert!(stored.iter().all(|a| a["status"] == "sent"));
    let times: HashSet<&str> = stored.iter().map(|a| a["sent"].as_str().unwrap()).collect();
    assert_eq!(times.len(), 1, "{stored:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limit_holds_the_excess_back_and_says_so_without_dropping_any() {
    let feeds = stories_feed(5).await;
    let (srv, rec) = receiver(ok200).await;
    let env = Env::new(&config(
        &feeds.uri(),
        &["limited"],
        "",
        &webhook(
            "limited",
            &format!("{}/hook", srv.uri()),
            "max_per_hour = 2",
        ),
    ));
    // The test shortens the hour to two seconds.
    let daemon = env.spawn_daemon_with(|c| {
        c.env("FEEDWATCH_TEST_RATE_WINDOW", "2s");
    });
    daemon
        .wait_for("two alerts", async || rec.count() >= 2)
        .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(rec.count(), 2, "the limit holds the rest back");
    let held: Vec<Value> = alerts(&env)
        .into_iter()
        .filter(|a| a["status"] == "pending")
        .collect();
    assert_eq!(held.len(), 3);
    daemon.wait_for("all five", async || rec.count() >= 5).await;
    let reqs = rec.requests();
    let bodies: Vec<Value> = rec.delivered().into_iter().map(|(_, b)| b).collect();
    assert!(bodies[0].get("held_back").is_none() && bodies[1].get("held_back").is_none());
    assert_eq!(
        bodies[2]["held_back"], 3,
        "the next message says how many were held: {}",
        bodies[2]
    );
    let waited = reqs[2].0 - reqs[0].0;
    assert!(
        waited >= Duration::from_millis(1900),
        "the third went out in the next window: {waited:?}"
    );
    let ids: HashSet<&str> = bodies.iter().map(|b| b["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 5, "none dropped, none repeated");
    assert!(alerts(&env).iter().all(|a| a["status"] == "sent"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_receiver_is_probed_once_per_backoff_step_and_delays_no_one_else() {
    let feeds = stories_feed(20).await;
    let (dead_srv, dead) = receiver(|_| answer(503)).await;
    let (good_srv, good) = receiver(ok200).await;
    let env = Env::new(&config(
        &feeds.uri(),
        &["dead", "good"],
        "alert_attempts = 50",
        &format!(
            "{}{}",
            webhook("dead", &format!("{}/hook", dead_srv.uri()), ""),
            webhook("good", &format!("{}/hook", good_srv.uri()), "")
        ),
    ));
    let daemon = env.spawn_daemon();
    let start = Instant::now();
    daemon
        .wait_for("the good receiver's 20", async || good.count() >= 20)
        .await;
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "the dead receiver did not hold the others up"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // 200 ms doubling: probes near 0, 0.2, 0.6, 1.4 and 3.0 s. One attempt per pending alert
    // per pass would have been 20 at once and more on every retry.
    let probes = dead.count();
    assert!(
        (2..=6).contains(&probes),
        "{probes} requests to the dead receiver"
    );
    let stored = alerts(&env);
    let dead_alerts: Vec<&Value> = stored.iter().filter(|a| a["notifier"] == "dead").collect();
    assert_eq!(dead_alerts.len(), 20);
    assert!(
        dead_alerts.iter().all(|a| a["status"] == "pending"),
        "nothing lost or failed"
    );
    let attempts: u64 = dead_alerts
        .iter()
        .map(|a| a["attempts"].as_u64().unwrap())
        .sum();
    assert_eq!(attempts as usize, probes, "only probes count as attempts");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_waits_for_retry_after_from_the_header_or_the_body() {
    let feeds = stories_feed(1).await;
    let (hook_srv, hook) = receiver(|n| match n {
        0 => (
            429,
            ResponseTemplate::new(429).insert_header("Retry-After", "2"),
        ),
        _ => answer(200),
    })
    .await;
    let (discord_srv, discord) = receiver(|n| match n {
        0 => (
            429,
            ResponseTemplate::new(429).set_body_json(json!({"message": "You are being rate limited.", "retry_after": 1.5, "global": false})),
        ),
        _ => answer(204),
    })
    .await;
    let env = Env::new(&config(
        &feeds.uri(),
        &["hook", "guild"],
        "alert_backoff = \"50ms\"",
        &format!(
            "{}[[notifier]]\nname = \"guild\"\nkind = \"discord\"\nurl = \"{}/api/webhooks/1/t\"\n",
            webhook("hook", &format!("{}/hook", hook_srv.uri()), ""),
            discord_srv.uri()
        ),
    ));
    let daemon = env.spawn_daemon();
    daemon
        .wait_for("both delivered", async || {
            hook.count() >= 2 && discord.count() >= 2
        })
        .await;
    let gap = |r: &Recorder| {
        let q = r.requests();
        q[1].0 - q[0].0
    };
    assert!(
        gap(&hook) >= Duration::from_millis(1900),
        "Retry-After: 2 → {:?}",
        gap(&hook)
    );
    assert!(
        gap(&discord) >= Duration::from_millis(1400),
        "retry_after 1.5 → {:?}",
        gap(&discord)
    );
    assert_eq!(hook.count(), 2);
    assert_eq!(discord.count(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn feed_health_events_failing_recovered_and_gone_once_each() {
    let feeds = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/flaky"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&feeds)
        .await;
    Mock::given(method("GET"))
        .and(path("/flaky"))
        .respond_with(ResponseTemplate::new(200).set_body_string(rss_stories(1)))
        .with_priority(2)
        .mount(&feeds)
        .await;
    Mock::given(method("GET"))
        .and(path("/retired"))
        .respond_with(ResponseTemplate::new(410))
        .mount(&feeds)
        .await;
    let (ops_srv, ops) = receiver(ok200).await;
    let (desk_srv, desk) = receiver(ok200).await;
    let src = format!(
        r#"[daemon]
database = "feedwatch.db"
schedule = "0 0 1 1 *"
notify_errors = ["ops"]
failing_after = 3

[[feed]]
name = "flaky"
url = "{f}/flaky"

[[feed]]
name = "retired"
url = "{f}/retired"
tags = ["desk"]

# The desk hears about its own feeds only.
[[topic]]
name = "desk-feeds"
query = "nothing-matches-this"
tags = ["desk"]
notify_errors = ["desk"]

{}{}"#,
        webhook("ops", &format!("{}/ops", ops_srv.uri()), ""),
        webhook("desk", &format!("{}/desk", desk_srv.uri()), ""),
        f = feeds.uri()
    );
    let env = Env::new(&src);
    let events =
        |r: &Recorder| -> Vec<Value> { r.delivered().into_iter().map(|(_, b)| b).collect() };
    for _ in 0..2 {
        env.run(&["poll", "flaky"]);
    }
    assert!(
        events(&ops).is_empty(),
        "two failures are not yet `failing`"
    );
    env.run(&["poll", "flaky"]);
    let got = events(&ops);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["event"], "feed.failing");
    assert_eq!(got[0]["feed"]["name"], "flaky");
    assert_eq!(got[0]["feed"]["consecutive_errors"], 3);
    assert_eq!(got[0]["feed"]["http_status"], 500);
    assert!(got[0]["feed"]["error"].as_str().unwrap().contains("500"));
    assert!(got[0]["feed"]["url"].as_str().unwrap().ends_with("/flaky"));
    assert_eq!(
        header(&ops.requests()[0].1, "Idempotency-Key"),
        got[0]["id"].as_str().unwrap()
    );

    let out = env.run(&["poll", "flaky"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.run(&["poll", "flaky"]);
    let got = events(&ops);
    assert_eq!(got.len(), 2, "one recovery, then nothing: {got:?}");
    assert_eq!(got[1]["event"], "feed.recovered");
    assert_eq!(got[1]["feed"]["consecutive_errors"], 0);

    env.run(&["poll", "retired"]);
    env.run(&["poll", "retired"]);
    let got = events(&ops);
    assert_eq!(got.len(), 3);
    assert_eq!(got[2]["event"], "feed.gone");
    assert_eq!(got[2]["feed"]["http_status"], 410);
    let desk_got = events(&desk);
    assert_eq!(
        desk_got.len(),
        1,
        "the desk hears of its feed only: {desk_got:?}"
    );
    assert_eq!(desk_got[0]["event"], "feed.gone");
    assert_ne!(desk_got[0]["id"], got[2]["id"], "one id per notifier");

    // `alerts` lists them: no topic and no story, the feed named.
    let listed = alerts(&env);
    assert_eq!(listed.len(), 4);
    let gone = listed.iter().find(|a| a["notifier"] == "desk").unwrap();
    assert_eq!(gone["event"], "feed.gone");
    assert_eq!(gone["feed"], "retired");
    assert!(gone["topic"].is_null() && gone["story"].is_null() && gone["item"].is_null());
    assert_eq!(gone["status"], "sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_random_moments_while_receivers_fail_at_random_loses_no_alert() {
    let feeds = stories_feed(100).await;
    let mut chance = Chance::seeded();
    let seed = chance.next();
    let flaky = move |n: usize| {
        // About one answer in three fails, differently in each run.
        let mut c = Chance::from_seed(seed ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        // A few milliseconds per answer widen the moment between delivery and its record.
        let (status, t) = if c.next().is_multiple_of(3) {
            answer(500)
        } else {
            answer(200)
        };
        (status, t.set_delay(Duration::from_millis(c.between(1, 8))))
    };
    let (a_srv, a) = receiver(flaky).await;
    let (b_srv, b) = receiver(flaky).await;
    let env = Env::new(&config(
        &feeds.uri(),
        &["a", "b"],
        "alert_backoff = \"20ms\"\nalert_attempts = 1000",
        &format!(
            "{}{}",
            webhook("a", &format!("{}/a", a_srv.uri()), ""),
            webhook("b", &format!("{}/b", b_srv.uri()), "")
        ),
    ));
    let delivered = || -> HashMap<String, usize> {
        let mut ids = HashMap::new();
        for r in [&a, &b] {
            for (req, body) in r.delivered() {
                let id = body["id"].as_str().unwrap().to_string();
                assert_eq!(
                    header(&req, "Idempotency-Key"),
                    id,
                    "a resend carries the same id"
                );
                *ids.entry(id).or_insert(0) += 1;
            }
        }
        ids
    };
    let mut kills = Vec::new();
    for _ in 0..8 {
        let mut d = env.spawn_daemon();
        tokio::time::sleep(Duration::from_millis(chance.between(100, 900))).await;
        d.signal("KILL");
        d.wait_exit(Duration::from_secs(5));
        kills.push(delivered().len());
        if kills.last() == Some(&200) {
            break;
        }
    }
    let daemon = env.spawn_daemon();
    daemon
        .wait_for("every alert delivered and recorded", async || {
            delivered().len() == 200 && alerts(&env).iter().all(|x| x["status"] == "sent")
        })
        .await;
    let stored = alerts(&env);
    assert_eq!(stored.len(), 200);
    let got = delivered();
    let uids: HashSet<String> = stored
        .iter()
        .map(|x| x["uid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(uids, got.keys().cloned().collect::<HashSet<_>>());
    let duplicates: usize = got.values().map(|n| n - 1).sum();
    let failed_answers = a.count() + b.count() - got.values().sum::<usize>();
    eprintln!(
        "crash test: {} SIGKILLs (distinct alerts delivered at each: {kills:?}), 200 alerts, {} requests ({failed_answers} answered 500), {duplicates} duplicate deliveries",
        kills.len(),
        a.count() + b.count()
    );
}
