//! `[http] listen`: `/metrics` scraped from a running daemon and parsed as the Prometheus
//! text format, with plausible values for what it did; `/healthz` 200 while it makes
//! progress, 503 with the reason while the database refuses writes, 200 again after.

mod common;
mod ops_support;

use common::*;
use ops_support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn feeds_and_hook() -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/wire"))
        .respond_with(ResponseTemplate::new(200).set_body_string(rss(&[
            (
                "w1",
                "Lavrov arrives in Beijing for talks",
                "The Russian foreign minister landed on Tuesday.",
            ),
            (
                "w2",
                "Markets close higher in Tokyo",
                "Exporters led the gains.",
            ),
        ])))
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/broken"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&s)
        .await;
    s
}

fn config(s: &MockServer, port: u16, extra: &str) -> String {
    format!(
        "[daemon]\ndatabase = \"feedwatch.db\"\nalert_backoff = \"1h\"\n{extra}\n\
         [http]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [[feed]]\nname = \"wire\"\nurl = \"{u}/wire\"\n\n\
         [[feed]]\nname = \"broken\"\nurl = \"{u}/broken\"\n\n\
         [[topic]]\nname = \"cr\"\nquery = 'Lavrov'\nnotify = [\"hook\", \"log\"]\n\n\
         [[notifier]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{u}/hook\"\n\n\
         [[notifier]]\nname = \"log\"\nkind = \"log\"\n",
        u = s.uri()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_well_formed_prometheus_text_with_every_family_and_plausible_values() {
    let s = feeds_and_hook().await;
    let port = free_port();
    let env = Env::new(&config(&s, port, "schedule = \"0 0 1 1 *\""));
    let db = env.db_path();
    let d = env.spawn_daemon();
    let base = format!("http://127.0.0.1:{port}");
    d.wait_for("both feeds polled and the log alert sent", async || {
        count(
            &db,
            "SELECT COUNT(*) FROM feeds WHERE last_poll IS NOT NULL",
        ) == 2
            && count(&db, "SELECT COUNT(*) FROM alerts WHERE status = 'sent'") == 1
            && count(
                &db,
                "SELECT COUNT(*) FROM alerts WHERE attempts = 1 AND status = 'pending'",
            ) == 1
    })
    .await;

    let (status, text) = get(&format!("{base}/metrics"))
        .await
        .expect("/metrics answers");
    assert_eq!(status, 200, "{text}");
    let (types, samples) = parse_prometheus(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    for fam in feedwatch::metrics::FAMILIES {
        let kind = match fam.kind {
            feedwatch::metrics::Kind::Counter => "counter",
            feedwatch::metrics::Kind::Gauge => "gauge",
            feedwatch::metrics::Kind::Histogram => "histogram",
        };
        assert_eq!(
            types.get(fam.name).map(String::as_str),
            Some(kind),
            "{} missing or mistyped:\n{text}",
            fam.name
        );
    }
    let v = |name: &str, labels: &[(&str, &str)]| {
        sample(&samples, name, labels).unwrap_or_else(|| panic!("no {name}{labels:?}:\n{text}"))
    };
    assert_eq!(v("feedwatch_polls_total", &[("result", "ok")]), 1.0);
    assert_eq!(v("feedwatch_polls_total", &[("result", "error")]), 1.0);
    assert_eq!(
        v("feedwatch_http_responses_total", &[("class", "2xx")]),
        1.0
    );
    assert_eq!(
        v("feedwatch_http_responses_total", &[("class", "5xx")]),
        1.0
    );
    assert_eq!(v("feedwatch_items_new_total", &[]), 2.0);
    assert_eq!(v("feedwatch_stories_created_total", &[]), 2.0);
    assert_eq!(v("feedwatch_topic_matches_total", &[("topic", "cr")]), 1.0);
    assert_eq!(v("feedwatch_alerts_created_total", &[]), 2.0);
    assert_eq!(
        v("feedwatch_alerts_sent_total", &[("notifier", "log")]),
        1.0
    );
    assert_eq!(
        v(
            "feedwatch_alert_failures_total",
            &[("notifier", "hook"), ("outcome", "retry")]
        ),
        1.0
    );
    assert_eq!(v("feedwatch_alerts_pending", &[("notifier", "hook")]), 1.0);
    assert_eq!(v("feedwatch_alerts_pending", &[("notifier", "log")]), 0.0);
    assert_eq!(v("feedwatch_feeds", &[("state", "ok")]), 1.0);
    assert_eq!(v("feedwatch_feeds", &[("state", "failing")]), 1.0);
    assert_eq!(v("feedwatch_feeds", &[("state", "gone")]), 0.0);
    let age = v("feedwatch_oldest_pending_alert_age_seconds", &[]);
    assert!((0.0..60.0).contains(&age), "{age}");
    assert!(v("feedwatch_database_size_bytes", &[]) > 4096.0);
    assert_eq!(
        v(
            "feedwatch_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    assert_eq!(v("feedwatch_config_last_reload_successful", &[]), 1.0);
    // Histograms: two polls, each under the timeout; cumulative buckets end at the count.
    let polls: f64 = samples
        .iter()
        .filter(|s| s.name == "feedwatch_poll_duration_seconds_count")
        .map(|s| s.value)
        .sum();
    assert_eq!(polls, 2.0);
    let ok_inf = v(
        "feedwatch_poll_duration_seconds_bucket",
        &[("result", "ok"), ("le", "+Inf")],
    );
    assert_eq!(ok_inf, 1.0);
    assert!(v("feedwatch_poll_duration_seconds_sum", &[("result", "ok")]) < 30.0);
    assert!(
        v(
            "feedwatch_delivery_duration_seconds_count",
            &[("notifier", "hook")]
        ) >= 1.0
    );
    assert!(v("feedwatch_writer_batch_duration_seconds_count", &[]) >= 2.0);

    let (status, _) = get(&format!("{base}/nowhere")).await.unwrap();
    assert_eq!(status, 404);
    let post = reqwest::Client::new()
        .post(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status().as_u16(), 405);
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_is_503_with_the_reason_while_the_database_refuses_writes() {
    let s = feeds_and_hook().await;
    let port = free_port();
    let env = Env::new(&config(
        &s,
        port,
        "schedule = \"* * * * * *\"\nbusy_timeout = \"100ms\"\ngive_up_after = \"10m\"",
    ));
    let db = env.db_path();
    let d = env.spawn_daemon();
    let health = format!("http://127.0.0.1:{port}/healthz");
    d.wait_for("a first poll and /healthz 200", async || {
        count(
            &db,
            "SELECT COUNT(*) FROM feeds WHERE last_poll IS NOT NULL",
        ) == 2
            && get(&health)
                .await
                .is_some_and(|(st, body)| st == 200 && body == "ok\n")
    })
    .await;
    // Another process holds the write lock (chmod would not stop root).
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut body = String::new();
    d.wait_for("/healthz 503", async || match get(&health).await {
        Some((503, b)) => {
            body = b;
            true
        }
        _ => false,
    })
    .await;
    assert!(
        body.starts_with("unhealthy\nthe database has refused writes for ")
            && body.contains("database is locked"),
        "{body}"
    );
    conn.execute_batch("ROLLBACK").unwrap();
    d.wait_for("/healthz 200 again", async || {
        get(&health).await.is_some_and(|(st, _)| st == 200)
    })
    .await;
}
