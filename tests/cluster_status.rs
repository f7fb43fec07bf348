//! `feedwatch status` on a cluster config (a scratch PostgreSQL started with initdb/pg_ctl):
//! what an operator sees of the nodes (owner, heartbeat, buckets held, the clusterer), the
//! configured feeds by state and the outbox, while a node runs and after it stopped.
//!
//! Skips (passing, with a message) only when the PostgreSQL server binaries are absent.

mod common;

use std::time::{Duration, Instant};

use common::Env;
use common::receiver::{answer, receiver};
use feedwatch::cluster::scratch::ScratchPostgres;
use serde_json::Value;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers};

const STORY: &str = r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Outlet</title><link>https://outlet.example/</link><description>d</description><item><title>Lavrov meets Wang Yi in Beijing</title><link>https://wire.example/2026/world/lavrov-beijing</link><guid isPermaLink="false">outlet-1</guid><description>The foreign ministers spoke of a strategic partnership.</description></item></channel></rss>"#;

/// The config of the node: two feeds; `added` is a third the node has not read.
fn config(url: &str, feeds: &str, hook: &str, added: bool) -> String {
    let mut c = format!(
        r#"[daemon]
database = "{url}"
schedule = "*/3 * * * * *"
timeout = "1s"
connect_timeout = "1s"
alert_backoff = "1s"

[cluster]
node = "solo"
lease = "2s"

[[notifier]]
name = "hook"
kind = "webhook"
url = "{hook}"

[[topic]]
name = "lavrov"
query = "Lavrov"
notify = ["hook"]

[[feed]]
name = "outlet"
url = "{feeds}/story.xml"

[[feed]]
name = "closed"
url = "{feeds}/closed.xml"
"#
    );
    if added {
        c.push_str(&format!(
            "\n[[feed]]\nname = \"added\"\nurl = \"{feeds}/added.xml\"\n"
        ));
    }
    c
}

fn text(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    assert!(
        out.status.success(),
        "feedwatch {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The line of `status` output with this label.
fn labelled<'a>(out: &'a str, label: &str) -> Vec<&'a str> {
    out.lines()
        .filter(|l| l.split_whitespace().next() == Some(label))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_on_a_cluster_shows_the_nodes_the_feeds_and_the_outbox() {
    let Some(pg) = ScratchPostgres::start().expect("starting a scratch PostgreSQL") else {
        eprintln!(
            "SKIPPED: PostgreSQL server binaries not found (apt-get install postgresql-15, or set PG_BIN)"
        );
        return;
    };
    let url = pg.create_db("status").unwrap();
    let feeds = MockServer::start().await;
    Mock::given(matchers::path("/story.xml"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/rss+xml")
                .set_body_string(STORY),
        )
        .mount(&feeds)
        .await;
    Mock::given(matchers::path("/closed.xml"))
        .respond_with(ResponseTemplate::new(410))
        .mount(&feeds)
        .await;
    // The receiver refuses: the alert stays in the outbox.
    let (hook, deliveries) = receiver(|_| answer(503)).await;
    let hook = format!("{}/hook", hook.uri());
    let env = Env::new(&config(&url, &feeds.uri(), &hook, false));

    // Before any node: the schema is missing, and status says what to do.
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("feedwatch migrate"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(env.run(&["migrate"]).status.success());

    let mut node = env.spawn_daemon();
    let settled = |s: &Value| {
        s["feeds"]["ok"] == 1
            && s["feeds"]["gone"] == 1
            && s["outbox"][0]["notifier"] == "hook"
            && s["cluster"]["nodes"][0]["leader"] == true
            && s["cluster"]["nodes"][0]["buckets"] == 64
    };
    let start = Instant::now();
    let status = loop {
        let s = env.json(&["status", "--json"]);
        if settled(&s) && deliveries.count() > 0 {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "status never showed the polled feeds and the alert: {s:#}\n{}",
            node.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status["feeds"]["new"], 0, "{status:#}");
    assert_eq!(status["feeds"]["failing"], 0, "{status:#}");
    assert_eq!(status["failing"][0]["name"], "closed", "{status:#}");
    let outbox = &status["outbox"][0];
    assert_eq!(
        outbox["pending"].as_i64().unwrap() + outbox["failed"].as_i64().unwrap(),
        1,
        "{status:#}"
    );
    let nodes = status["cluster"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "{status:#}");
    assert_eq!(nodes[0]["name"], "solo");
    assert_eq!(nodes[0]["pid"], node.child.id());
    assert_eq!(nodes[0]["live"], true);
    assert_eq!(status["cluster"]["free_buckets"], 0);
    assert!(
        status["activity"]["feeds_polled_last_hour"]
            .as_i64()
            .unwrap()
            >= 2
    );
    assert!(status["activity"]["last_poll"].is_string(), "{status:#}");

    // A feed added to the config since the nodes started: not recorded yet, so `new`.
    env.write_config(&config(&url, &feeds.uri(), &hook, true));
    let status = env.json(&["status", "--json"]);
    assert_eq!(status["feeds"]["new"], 1, "{status:#}");

    // The same for a person.
    let out = text(&env, &["status"]);
    let cluster = labelled(&out, "cluster");
    assert_eq!(cluster.len(), 1, "{out}");
    assert!(cluster[0].contains(&url), "{out}");
    assert!(cluster[0].contains("1 live node(s)"), "{out}");
    assert!(cluster[0].contains("clusterer solo:"), "{out}");
    let node_lines = labelled(&out, "node");
    assert_eq!(node_lines.len(), 1, "{out}");
    let id = nodes[0]["id"].as_str().unwrap();
    for part in [id, "live", "heartbeat", "buckets 64", "clusterer"] {
        assert!(node_lines[0].contains(part), "{part:?} missing: {out}");
    }
    assert_eq!(
        labelled(&out, "feeds"),
        ["feeds     3: 1 ok, 0 failing, 1 gone, 1 new"],
        "{out}"
    );
    let outbox = labelled(&out, "outbox");
    assert!(outbox.len() == 1 && outbox[0].contains("hook: "), "{out}");
    assert!(
        labelled(&out, "failing")
            .iter()
            .any(|l| l.contains("closed (gone")),
        "{out}"
    );
    // `nodes` shows the same node.
    assert!(text(&env, &["nodes"]).contains(id));

    // A stopped node stays listed as stopped; nobody holds the buckets or the role.
    node.signal("TERM");
    assert!(node.wait_exit(Duration::from_secs(15)).success());
    let s = env.json(&["status", "--json"]);
    let nodes = s["cluster"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "{s:#}");
    assert_eq!(nodes[0]["live"], false, "{s:#}");
    assert!(nodes[0]["stopped"].is_string(), "{s:#}");
    assert_eq!(nodes[0]["leader"], false, "{s:#}");
    assert_eq!(s["cluster"]["free_buckets"], 64, "{s:#}");
    let out = text(&env, &["status"]);
    assert!(
        labelled(&out, "cluster")[0].contains("0 live node(s)")
            && labelled(&out, "cluster")[0].contains("clusterer none"),
        "{out}"
    );
    assert!(labelled(&out, "node")[0].contains("stopped"), "{out}");

    // The commands that read SQLite still say they do not read a cluster.
    let out = env.run(&["feeds"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`status`"));
}
