//! End to end through the real binary: HTTP feeds on 127.0.0.1 → SQLite file → webhook.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const ETAG: &str = "\"seed-v1\"";
const LAST_MODIFIED: &str = "Tue, 01 Apr 2025 09:15:00 GMT";

fn config(feeds: &str, webhook: &str, extra_daemon: &str) -> String {
    format!(
        r#"[daemon]
database = "feedwatch.db"
schedule = "0 0 1 1 *"
alert_backoff = "200ms"
{extra_daemon}

{feeds}

[[topic]]
name = "china-russia"
query = '{TOPIC}'
notify = ["hook"]

[[notifier]]
name = "hook"
kind = "webhook"
url = "{webhook}"
secret = "topsecret"
"#
    )
}

fn feed(name: &str, url: &str) -> String {
    format!("[[feed]]\nname = \"{name}\"\nurl = \"{url}\"\n")
}

async fn mount_feed(server: &MockServer, route: &str, body: String) {
    // A conditional request with our validators gets 304; anything else the full body.
    Mock::given(method("GET"))
        .and(path(route))
        .and(header("If-None-Match", ETAG))
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Type", "application/atom+xml; charset=UTF-8")
                .insert_header("ETag", ETAG)
                .insert_header("Last-Modified", LAST_MODIFIED)
                .set_body_string(body),
        )
        .with_priority(5)
        .mount(server)
        .await;
}

async fn webhook_ok(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .mount(server)
        .await;
}

/// A receiver that answers 200, but only after `delay`.
async fn webhook_slow(server: &MockServer, delay: Duration) {
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(delay))
        .mount(server)
        .await;
}

async fn posts(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .collect()
}

async fn gets(server: &MockServer, route: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.method.as_str() == "GET" && r.url.path() == route)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn blogger_story_is_stored_alerts_once_and_revalidates_with_304() {
    let feeds = MockServer::start().await;
    let hooks = MockServer::start().await;
    let link = "https://worldnewsdesk.blogspot.com/2025/04/china-emphasises-strategic.html";
    mount_feed(&feeds, "/feeds/posts/default", blogger_atom(link)).await;
    webhook_ok(&hooks).await;
    let env = Env::new(&config(
        &feed(
            "world-news-desk",
            &format!("{}/feeds/posts/default", feeds.uri()),
        ),
        &format!("{}/hook", hooks.uri()),
        "",
    ));

    let first = env.json(&["poll", "--json"]);
    assert_eq!(first["new_items"], 1, "{first}");
    assert_eq!(first["alerts_sent"], 1, "{first}");
    assert_eq!(first["feeds"][0]["status"], "ok");
    assert_eq!(first["feeds"][0]["http_status"], 200);

    // The item is stored with title, link, author, date, category and the article's text.
    let items = env.json(&["items", "--json"]);
    let item = &items[0];
    assert_eq!(items.as_array().unwrap().len(), 1);
    assert_eq!(item["title"], SEED_TITLE);
    assert_eq!(item["url"], link);
    assert_eq!(item["feed"], "world-news-desk");
    assert_eq!(
        item["guid"],
        "tag:blogger.com,1999:blog-1234567890.post-987654321"
    );
    assert_eq!(item["author"], "Desk Editor");
    assert_eq!(item["published"], "2025-04-01T09:12:00.000Z");
    assert_eq!(
        item["categories"],
        serde_json::json!(["International Agencies"])
    );
    assert_eq!(item["topics"], serde_json::json!(["china-russia"]));
    let content = item["content"].as_str().unwrap();
    assert!(
        content.starts_with("During a high-profile diplomatic meeting in Beijing"),
        "{content}"
    );
    assert!(
        content.contains("“most stable, most mature and most strategically valuable relationship")
    );
    assert!(!content.contains("<p>"), "HTML is stripped");

    // Exactly one POST, in the documented shape, signed, with an idempotency key.
    let sent = posts(&hooks).await;
    assert_eq!(sent.len(), 1);
    let req = &sent[0];
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["event"], "topic.match");
    assert_eq!(body["topic"], "china-russia");
    let key = req
        .headers
        .get("Idempotency-Key")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(body["id"], key);
    assert_eq!(
        body["matched_terms"],
        serde_json::json!(["China", "Beijing", "Russia", "Lavrov"])
    );
    assert_eq!(body["story"]["title"], SEED_TITLE);
    assert!(body["story"]["id"].is_i64());
    assert!(body["story"]["first_seen"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        body["story"]["sources"],
        serde_json::json!([{"feed": "world-news-desk", "url": link}])
    );
    assert_eq!(body["item"]["feed"], "world-news-desk");
    assert_eq!(body["item"]["title"], SEED_TITLE);
    assert_eq!(body["item"]["url"], link);
    assert_eq!(body["item"]["author"], "Desk Editor");
    assert_eq!(body["item"]["published"], "2025-04-01T09:12:00.000Z");
    assert_eq!(
        body["item"]["categories"],
        serde_json::json!(["International Agencies"])
    );
    assert!(
        body["item"]["summary"]
            .as_str()
            .unwrap()
            .starts_with("During a high-profile")
    );
    let sig = req
        .headers
        .get("X-Feedwatch-Signature")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(sig, feedwatch_signature("topsecret", &req.body));
    assert_eq!(req.headers.get("Content-Type").unwrap(), "application/json");

    // Second poll: validators go back, the server answers 304, nothing is stored or sent.
    let second = env.json(&["poll", "--json"]);
    assert_eq!(second["feeds"][0]["status"], "not_modified", "{second}");
    assert_eq!(second["feeds"][0]["http_status"], 304);
    assert_eq!(second["new_items"], 0);
    let polls = gets(&feeds, "/feeds/posts/default").await;
    assert_eq!(polls.len(), 2);
    assert!(polls[0].headers.get("If-None-Match").is_none());
    assert_eq!(polls[1].headers.get("If-None-Match").unwrap(), ETAG);
    assert_eq!(
        polls[1].headers.get("If-Modified-Since").unwrap(),
        LAST_MODIFIED
    );
    let ua = polls[0]
        .headers
        .get("User-Agent")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        ua.starts_with("feedwatch/") && ua.contains("(+http"),
        "{ua}"
    );
    assert!(
        polls[0]
            .headers
            .get("Accept")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("application/atom+xml")
    );
    assert_eq!(env.json(&["items", "--json"]).as_array().unwrap().len(), 1);
    assert_eq!(posts(&hooks).await.len(), 1, "no second alert");

    let feeds_view = env.json(&["feeds", "--json"]);
    assert_eq!(feeds_view[0]["state"], "ok");
    assert_eq!(feeds_view[0]["items"], 1);
    assert_eq!(feeds_view[0]["http_status"], 304);
    let alerts = env.json(&["alerts", "--json"]);
    assert_eq!(alerts[0]["status"], "sent");
    assert_eq!(alerts[0]["attempts"], 1);
}

fn feedwatch_signature(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test(flavor = "multi_thread")]
async fn same_link_with_tracking_params_in_a_second_feed_is_one_story_and_one_alert() {
    let feeds = MockServer::start().await;
    let hooks = MockServer::start().await;
    let link = "https://worldnewsdesk.blogspot.com/2025/04/china-emphasises-strategic.html";
    mount_feed(&feeds, "/blog", blogger_atom(link)).await;
    let tracked = format!("{link}?utm_source=rss&utm_medium=feed&utm_campaign=world");
    mount_feed(&feeds, "/outlet", rss_with_seed("outlet-1234", &tracked)).await;
    webhook_ok(&hooks).await;
    let env = Env::new(&config(
        &format!(
            "{}\n{}",
            feed("blog", &format!("{}/blog", feeds.uri())),
            feed("outlet", &format!("{}/outlet", feeds.uri()))
        ),
        &format!("{}/hook", hooks.uri()),
        "",
    ));

    // One feed first, then the other, so the second copy arrives after the alert exists.
    let first = env.json(&["poll", "blog", "--json"]);
    assert_eq!(first["alerts_sent"], 1);
    let second = env.json(&["poll", "outlet", "--json"]);
    assert_eq!(second["new_items"], 2, "{second}");
    assert_eq!(second["alerts_sent"], 0, "{second}");

    let items = env.json(&["items", "--json"]);
    let seed: Vec<&Value> = items
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["title"] == SEED_TITLE)
        .collect();
    assert_eq!(seed.len(), 2, "both copies are stored");
    assert_eq!(seed[0]["story"], seed[1]["story"], "one story");
    assert_ne!(seed[0]["feed"], seed[1]["feed"]);
    assert_eq!(posts(&hooks).await.len(), 1, "one alert for the story");
    assert_eq!(env.json(&["alerts", "--json"]).as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_failing_twice_gets_the_alert_on_the_third_try() {
    let feeds = MockServer::start().await;
    let hooks = MockServer::start().await;
    mount_feed(&feeds, "/blog", blogger_atom("https://example.org/story")).await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&hooks)
        .await;
    webhook_ok(&hooks).await;
    let env = Env::new(&config(
        &feed("blog", &format!("{}/blog", feeds.uri())),
        &format!("{}/hook", hooks.uri()),
        "",
    ));

    let mut daemon = env.spawn_daemon();
    let sent = || {
        let out = env.run(&["alerts", "--json", "--status", "sent"]);
        serde_json::from_slice::<Value>(&out.stdout)
            .map(|v| v.as_array().is_some_and(|a| !a.is_empty()))
            .unwrap_or(false)
    };
    daemon
        .wait_for("the alert to be sent", async || sent())
        .await;
    let alerts = env.json(&["alerts", "--json"]);
    assert_eq!(alerts[0]["attempts"], 3, "{alerts}");
    assert_eq!(alerts[0]["status"], "sent");
    let attempts = posts(&hooks).await;
    assert_eq!(attempts.len(), 3);
    let keys: Vec<_> = attempts
        .iter()
        .map(|r| r.headers.get("Idempotency-Key").unwrap().clone())
        .collect();
    assert!(
        keys.iter().all(|k| *k == keys[0]),
        "every retry carries the same id"
    );

    // SIGTERM: a clean stop with exit 0.
    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(10));
    assert!(
        status.success(),
        "exit {status:?}; log:\n{}",
        daemon.log_text()
    );
    assert!(daemon.log_text().contains("feedwatch stopped"));
}

#[tokio::test(flavor = "multi_thread")]
async fn alert_in_flight_when_the_daemon_is_killed_is_delivered_after_restart() {
    let feeds = MockServer::start().await;
    let slow = MockServer::start().await;
    let good = MockServer::start().await;
    mount_feed(&feeds, "/blog", blogger_atom("https://example.org/story")).await;
    // The first receiver takes far longer than the test lets the daemon live.
    webhook_slow(&slow, Duration::from_secs(60)).await;
    webhook_ok(&good).await;
    let feeds_cfg = feed("blog", &format!("{}/blog", feeds.uri()));
    let env = Env::new(&config(
        &feeds_cfg,
        &format!("{}/hook", slow.uri()),
        "timeout = \"120s\"",
    ));

    let mut daemon = env.spawn_daemon();
    daemon
        .wait_for("a delivery attempt", async || {
            !posts(&slow).await.is_empty()
        })
        .await;
    daemon.signal("KILL");
    daemon.wait_exit(Duration::from_secs(5));
    let pending = env.json(&["alerts", "--json", "--status", "pending"]);
    assert_eq!(
        pending.as_array().unwrap().len(),
        1,
        "the alert survived the crash as pending"
    );
    let first_key = posts(&slow).await[0]
        .headers
        .get("Idempotency-Key")
        .unwrap()
        .clone();

    // Restart with a receiver that answers: the pending alert goes out, same id.
    env.write_config(&config(&feeds_cfg, &format!("{}/hook", good.uri()), ""));
    let mut daemon = env.spawn_daemon();
    daemon
        .wait_for("delivery after the restart", async || {
            !posts(&good).await.is_empty()
        })
        .await;
    let delivered = posts(&good).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        delivered[0].headers.get("Idempotency-Key").unwrap(),
        &first_key
    );
    eventually(
        Duration::from_secs(10),
        "the alert to be marked sent",
        || {
            let out = env.run(&["alerts", "--json", "--status", "sent"]);
            serde_json::from_slice::<Value>(&out.stdout)
                .map(|v| v.as_array().is_some_and(|a| a.len() == 1))
                .unwrap_or(false)
        },
    )
    .await;
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_feed_fails_alone_with_a_clear_error() {
    let feeds = MockServer::start().await;
    let hooks = MockServer::start().await;
    mount_feed(
        &feeds,
        "/good",
        rss_with_seed("g-1", "https://outlet.example/story"),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/broken"))
        .respond_with(ResponseTemplate::new(200).insert_header("Content-Type", "application/rss+xml").set_body_string(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Broken</title><item><title>Cut off",
        ))
        .mount(&feeds)
        .await;
    Mock::given(method("GET"))
        .and(path("/html"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Type", "text/html")
                .set_body_string("<!DOCTYPE html><html><body><h1>Welcome</h1></body></html>"),
        )
        .mount(&feeds)
        .await;
    Mock::given(method("GET"))
        .and(path("/missing"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&feeds)
        .await;
    webhook_ok(&hooks).await;
    let env = Env::new(&config(
        &[
            feed("broken", &format!("{}/broken", feeds.uri())),
            feed("good", &format!("{}/good", feeds.uri())),
            feed("homepage", &format!("{}/html", feeds.uri())),
            feed("missing", &format!("{}/missing", feeds.uri())),
        ]
        .join("\n"),
        &format!("{}/hook", hooks.uri()),
        "",
    ));

    let out = env.run(&["poll", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed feed makes poll exit 1"
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["new_items"], 2);
    assert_eq!(summary["alerts_sent"], 1);

    let view = env.json(&["feeds", "--json"]);
    let by_name = |n: &str| {
        view.as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == n)
            .unwrap()
            .clone()
    };
    let broken = by_name("broken");
    assert_eq!(broken["state"], "failing");
    assert_eq!(broken["consecutive_errors"], 1);
    assert!(
        broken["error"]
            .as_str()
            .unwrap()
            .contains("not a valid RSS, Atom or JSON feed"),
        "{broken}"
    );
    assert!(broken["next_poll"].is_string());
    assert_eq!(
        by_name("homepage")["error"],
        "the server sent an HTML page, not a feed"
    );
    assert_eq!(by_name("missing")["error"], "HTTP 404");
    assert_eq!(by_name("missing")["http_status"], 404);
    let good = by_name("good");
    assert_eq!(good["state"], "ok");
    assert_eq!(good["items"], 2);
    assert!(good["error"].is_null());

    // The text view shows the error too (piped: in its own tab-separated column).
    let text = String::from_utf8(env.run(&["feeds"]).stdout).unwrap();
    assert!(text.contains("\tnot a valid RSS"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn feeds_without_conditional_support_are_not_refetched_into_duplicates() {
    // A server that ignores validators and always answers 200: items are recognised by key.
    let feeds = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/plain"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(rss_with_seed("p-1", "https://outlet.example/a")),
        )
        .mount(&feeds)
        .await;
    let env = Env::new(&format!(
        "[[feed]]\nname = \"plain\"\nurl = \"{}/plain\"\n[[topic]]\nname = \"t\"\nquery = '{TOPIC}'\nnotify = [\"log\"]\n[[notifier]]\nname = \"log\"\nkind = \"log\"\n[daemon]\ndatabase = \"feedwatch.db\"\n",
        feeds.uri()
    ));
    assert_eq!(env.json(&["poll", "--json"])["new_items"], 2);
    let again = env.json(&["poll", "--json"]);
    assert_eq!(again["new_items"], 0);
    assert_eq!(again["feeds"][0]["status"], "ok");
    let alerts = env.json(&["alerts", "--json"]);
    assert_eq!(alerts.as_array().unwrap().len(), 1);
    assert_eq!(
        alerts[0]["status"], "sent",
        "the log notifier delivers at once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_item_is_updated_without_a_new_alert() {
    let feeds = MockServer::start().await;
    let hooks = MockServer::start().await;
    webhook_ok(&hooks).await;
    Mock::given(method("GET"))
        .and(path("/f"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(rss_with_seed("g-1", "https://outlet.example/a")),
        )
        .mount(&feeds)
        .await;
    let env = Env::new(&config(
        &feed("f", &format!("{}/f", feeds.uri())),
        &format!("{}/hook", hooks.uri()),
        "",
    ));
    assert_eq!(env.json(&["poll", "--json"])["alerts_sent"], 1);

    // Same guids, new headline: the row changes, nothing new is stored or sent.
    feeds.reset().await;
    let edited = rss_with_seed("g-1", "https://outlet.example/a")
        .replace(SEED_TITLE, "UPDATED: Wang Yi and Lavrov meet in Beijing");
    Mock::given(method("GET"))
        .and(path("/f"))
        .respond_with(ResponseTemplate::new(200).set_body_string(edited))
        .mount(&feeds)
        .await;
    let second = env.json(&["poll", "--json"]);
    assert_eq!(second["new_items"], 0, "{second}");
    let items = env.json(&["items", "--json"]);
    assert_eq!(items.as_array().unwrap().len(), 2);
    assert!(
        items
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["title"] == "UPDATED: Wang Yi and Lavrov meet in Beijing")
    );
    assert_eq!(posts(&hooks).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_slow_poll_stops_promptly_and_stores_nothing_partial() {
    let feeds = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(rss_with_seed("a", "https://x.example/a"))
                .set_delay(Duration::from_secs(60)),
        )
        .mount(&feeds)
        .await;
    let env = Env::new(&format!(
        "[daemon]\ndatabase = \"feedwatch.db\"\ntimeout = \"120s\"\n[[feed]]\nname = \"slow\"\nurl = \"{}/slow\"\n",
        feeds.uri()
    ));
    let mut daemon = env.spawn_daemon();
    daemon
        .wait_for("the first fetch", async || {
            !feeds
                .received_requests()
                .await
                .unwrap_or_default()
                .is_empty()
        })
        .await;
    let stop = std::time::Instant::now();
    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}: {}", daemon.log_text());
    assert!(
        stop.elapsed() < Duration::from_secs(5),
        "took {:?} to stop",
        stop.elapsed()
    );
    let view = env.json(&["feeds", "--json"]);
    assert_eq!(
        view[0]["state"], "new",
        "the abandoned poll left no trace: {view}"
    );
    assert_eq!(view[0]["items"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_that_redirects_fails_the_alert_instead_of_losing_it() {
    let feeds = MockServer::start().await;
    let hooks = MockServer::start().await;
    mount_feed(&feeds, "/blog", blogger_atom("https://example.org/story")).await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", "/moved"))
        .mount(&hooks)
        .await;
    Mock::given(method("GET"))
        .and(path("/moved"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hooks)
        .await;
    let env = Env::new(&config(
        &feed("blog", &format!("{}/blog", feeds.uri())),
        &format!("{}/hook", hooks.uri()),
        "",
    ));
    let out = env.json(&["poll", "--json"]);
    assert_eq!(out["alerts_sent"], 0, "{out}");
    assert_eq!(out["alerts_failed"], 1, "{out}");
    let alerts = env.json(&["alerts", "--json"]);
    assert_eq!(alerts[0]["status"], "failed");
    assert!(
        alerts[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("redirect"),
        "{alerts}"
    );
    let requests = hooks.received_requests().await.unwrap();
    assert!(
        requests.iter().all(|r| r.url.path() == "/hook"),
        "the redirect is not followed"
    );

    // Once the receiver is fixed, `alerts retry UID` requeues it and the next poll delivers.
    hooks.reset().await;
    webhook_ok(&hooks).await;
    let uid = alerts[0]["uid"].as_str().unwrap();
    let retry = env.run(&["alerts", "retry", uid]);
    assert!(String::from_utf8_lossy(&retry.stdout).contains("1 alert(s) requeued"));
    let again = env.json(&["poll", "--json"]);
    assert_eq!(again["alerts_sent"], 1, "{again}");
    assert_eq!(posts(&hooks).await.len(), 1);
}

/// An RSS document of (title, link) items that all share one guid, newest first, as some
/// CMSs publish.
fn rss_one_guid(items: &[(&str, &str)]) -> String {
    let body: String = items
        .iter()
        .map(|(t, l)| format!("<item><title>{t}</title><link>{l}</link><guid>same-guid</guid><description>{t}</description></item>"))
        .collect();
    format!("<rss version=\"2.0\"><channel><title>c</title>{body}</channel></rss>")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_feed_that_reuses_one_guid_loses_and_repeats_no_story() {
    let feeds = MockServer::start().await;
    let hooks = MockServer::start().await;
    webhook_ok(&hooks).await;
    let env = Env::new(&config(
        &feed("f", &format!("{}/f", feeds.uri())),
        &format!("{}/hook", hooks.uri()),
        "",
    ));
    let a = ("China and Russia sign energy deal", "https://x.example/a");
    let b = ("Lavrov meets Wang Yi in Beijing", "https://x.example/b");
    let c = (
        "Beijing hosts Russia talks on Ukraine",
        "https://x.example/c",
    );
    for doc in [vec![a], vec![b, a], vec![c, b, a]] {
        feeds.reset().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string(rss_one_guid(&doc)))
            .mount(&feeds)
            .await;
        let out = env.json(&["poll", "--json"]);
        assert_eq!(
            out["new_items"], 1,
            "each poll brings exactly its one new story: {out}"
        );
    }
    let items = env.json(&["items", "--json"]);
    let titles: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 3);
    for (t, _) in [a, b, c] {
        assert!(titles.contains(&t), "{t} missing from {titles:?}");
    }
    let sent = posts(&hooks).await;
    assert_eq!(sent.len(), 3, "one alert per story, none repeated");
    let ids: std::collections::HashSet<_> = sent
        .iter()
        .map(|r| r.headers.get("Idempotency-Key").unwrap().clone())
        .collect();
    assert_eq!(ids.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_304_to_a_request_without_validators_is_an_error() {
    let feeds = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(304))
        .mount(&feeds)
        .await;
    let env = Env::new(&format!(
        "[daemon]\ndatabase = \"feedwatch.db\"\n[[feed]]\nname = \"f\"\nurl = \"{}/f\"\n",
        feeds.uri()
    ));
    let out = env.run(&["poll", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let view = env.json(&["feeds", "--json"]);
    assert_eq!(view[0]["state"], "failing");
    assert!(
        view[0]["error"]
            .as_str()
            .unwrap()
            .contains("304 Not Modified to a request without validators"),
        "{view}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alert_delivered_while_the_database_is_locked_is_not_sent_again() {
    let feeds = MockServer::start().await;
    let hooks = MockServer::start().await;
    mount_feed(&feeds, "/blog", blogger_atom("https://example.org/story")).await;
    // The receiver takes a moment: time to lock the database before the alert is marked sent.
    webhook_slow(&hooks, Duration::from_millis(800)).await;
    let env = Env::new(&config(
        &feed("blog", &format!("{}/blog", feeds.uri())),
        &format!("{}/hook", hooks.uri()),
        "busy_timeout = \"200ms\"",
    ));
    let mut daemon = env.spawn_daemon();
    daemon
        .wait_for("the delivery", async || !posts(&hooks).await.is_empty())
        .await;
    // Longer than the busy timeout: marking the alert sent fails at first.
    let conn = rusqlite::Connection::open(env.db_path()).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    conn.execute_batch("COMMIT").unwrap();
    daemon
        .wait_for("the alert to be recorded as sent", async || {
            env.json(&["alerts", "--json"])[0]["status"] == "sent"
        })
        .await;
    assert_eq!(
        posts(&hooks).await.len(),
        1,
        "sent once; log:\n{}",
        daemon.log_text()
    );
    assert!(daemon.log_text().contains("recording it failed"));
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(10)).success());
}
