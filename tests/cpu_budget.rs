//! The CPU budget per document: a document still being read past it fails alone, with an
//! error that says so, while the other feeds and the daemon go on. The budget is cut to
//! 300 ms through the `cpu-budget-ms` failpoint, so that the slow document is a few
//! thousand entries rather than a hostile 16 MiB body that takes 5 s.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const BUDGET: &str = "cpu-budget-ms=300";

/// Far more than 300 ms of work in this (debug) build, parsing and preparing included.
fn slow_document() -> String {
    let paragraph = "&lt;p&gt;Lavrov met Wang Yi in Beijing &amp;amp; talked at length about the \
                     partnership, trade and the war, according to both ministries.&lt;/p&gt;"
        .repeat(6);
    let mut doc = String::from("<rss version=\"2.0\"><channel><title>Slow</title>");
    for i in 0..6_000 {
        doc.push_str(&format!(
            "<item><title>Story {i}</title><guid>s{i}</guid><link>https://slow.example/{i}</link><description>{paragraph}</description></item>"
        ));
    }
    doc.push_str("</channel></rss>");
    doc
}

fn config(s: &MockServer) -> String {
    format!(
        "[daemon]\ndatabase = \"feedwatch.db\"\nschedule = \"* * * * * *\"\n\
         [[feed]]\nname = \"good\"\nurl = \"{0}/good\"\n\
         [[feed]]\nname = \"slow\"\nurl = \"{0}/slow\"\n",
        s.uri()
    )
}

fn feed<'a>(feeds: &'a Value, name: &str) -> &'a Value {
    feeds
        .as_array()
        .and_then(|a| a.iter().find(|f| f["name"] == name))
        .unwrap_or_else(|| panic!("no feed {name} in {feeds}"))
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
async fn a_document_over_its_cpu_budget_fails_alone_and_the_daemon_goes_on() {
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/good"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(rss_with_seed("good-1", "https://outlet.example/good")),
        )
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_body_string(slow_document()))
        .mount(&s)
        .await;
    let env = Env::new(&config(&s));

    let out = env
        .command(&["poll", "--json"])
        .env("FEEDWATCH_FAILPOINTS", BUDGET)
        .output()
        .expect("run poll");
    let report: Value = serde_json::from_slice(&out.stdout).expect("poll --json");
    let slow = feed(&report["feeds"], "slow");
    assert_eq!(slow["status"], "error", "{report}");
    let error = slow["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("this document took more than 300 ms to read; "),
        "{report}"
    );
    assert_eq!(feed(&report["feeds"], "good")["new_items"], 2, "{report}");
    let feeds = env.json(&["feeds", "--json"]);
    let slow = feed(&feeds, "slow");
    assert_eq!(slow["state"], "failing", "{feeds}");
    assert_eq!(slow["items"], 0, "{feeds}");
    assert_eq!(slow["error"].as_str(), Some(error), "{feeds}");

    // In the daemon, polling every second: the slow feed backs off like any failing one,
    // and the good one is polled on.
    let mut d = env.spawn_daemon_with(|c| {
        c.env("FEEDWATCH_FAILPOINTS", BUDGET);
    });
    let before_good = gets(&s, "/good").await;
    d.wait_for("three more polls of the good feed", async || {
        gets(&s, "/good").await >= before_good + 3
    })
    .await;
    assert!(
        d.child.try_wait().expect("wait").is_none(),
        "the daemon lives on"
    );
    d.signal("TERM");
    assert!(d.wait_exit(Duration::from_secs(10)).success());
}
