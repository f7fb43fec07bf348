//! While a daemon runs, the commands that change state ask it to do the work, with its own
//! config (DESIGN.md §3, issue 9): `poll`, `feeds reset`, `alerts retry`, `prune`; `status`
//! says who runs. Messages name the daemon only when one holds the lock.

mod cli_support;
mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use cli_support::*;
use common::*;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn server() -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/wire"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(rss_with_seed("w", "https://o.example/a")),
        )
        .mount(&s)
        .await;
    s
}

async fn fetches(s: &MockServer) -> usize {
    s.received_requests().await.unwrap_or_default().len()
}

/// Polled once a year: after its first poll the daemon fetches only when asked.
fn config(s: &MockServer, db: &str) -> String {
    config_with(&[("wire", format!("{}/wire", s.uri()))], "").replace(
        "database = \"feedwatch.db\"",
        &format!("database = \"{db}\"\nschedule = \"0 0 1 1 *\""),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn while_a_daemon_runs_it_does_the_work_of_the_commands_that_write() {
    let s = server().await;
    let env = Env::new(&config(&s, "feedwatch.db"));
    let mut d = env.spawn_daemon();
    d.wait_for("the first poll", async || fetches(&s).await >= 1)
        .await;
    let sock = env.dir.path().join("feedwatch.db.sock");
    d.wait_for("the control socket", async || sock.exists())
        .await;

    let status = env.json(&["status", "--json"]);
    assert_eq!(status["daemon"]["running"], true, "{status}");
    assert_eq!(status["daemon"]["pid"], d.child.id());
    assert_eq!(status["daemon"]["same_config"], true);
    let text = stdout(&env.run(&["status"]));
    assert!(text.starts_with("daemon    running since"), "{text}");

    let before = fetches(&s).await;
    let polled = env.json(&["poll", "--json"]);
    assert_eq!(polled["polled_by"], "daemon", "{polled}");
    assert_eq!(polled["feeds"][0]["name"], "wire");
    assert_eq!(polled["feeds"][0]["status"], "ok");
    assert_eq!(fetches(&s).await, before + 1, "the daemon fetched it, once");
    assert!(d.log_text().contains("polling now, as asked"));

    let reset = env.run(&["feeds", "reset", "wire"]);
    assert!(reset.status.success(), "{}", stderr(&reset));
    assert_eq!(
        stdout(&reset).trim(),
        "wire: reset; the daemon polls it now"
    );
    d.wait_for("the poll after the reset", async || {
        fetches(&s).await == before + 2
    })
    .await;

    let retry = env.run(&["alerts", "retry"]);
    assert!(
        stdout(&retry).contains("0 alert(s) requeued"),
        "{}",
        stdout(&retry)
    );
    let prune = env.run(&["prune"]);
    assert!(
        stdout(&prune).contains("pruned 0 items"),
        "{}",
        stderr(&prune)
    );

    // A second daemon refuses at once.
    let start = Instant::now();
    let second = env.run(&["run"]);
    assert_eq!(second.status.code(), Some(1));
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );

    d.signal("TERM");
    assert!(d.wait_exit(Duration::from_secs(10)).success());
    let status = env.json(&["status", "--json"]);
    assert_eq!(status["daemon"]["running"], false);
    let reset = env.run(&["feeds", "reset", "wire"]);
    assert!(
        stdout(&reset).contains("no daemon is running: `feedwatch poll wire` polls it now"),
        "{}",
        stdout(&reset)
    );
    let polled = env.json(&["poll", "--json"]);
    assert_eq!(polled["polled_by"], "command");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_with_another_config_is_told_and_the_daemons_config_rules() {
    let s = server().await;
    let env = Env::new(&config(&s, "feedwatch.db"));
    let mut d = env.spawn_daemon();
    let sock = env.dir.path().join("feedwatch.db.sock");
    d.wait_for("the control socket", async || sock.exists())
        .await;

    // Another config on the same database, with a feed the daemon does not know.
    let db = env.db_path();
    let other = env.dir.path().join("other.toml");
    let mut text = config(&s, db.to_str().unwrap());
    text.push_str("[[feed]]\nname = \"extra\"\nurl = \"https://extra.example/feed\"\n");
    std::fs::File::create(&other)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .unwrap();
    let run = |args: &[&str]| {
        let mut full = vec!["--config", other.to_str().unwrap()];
        full.extend_from_slice(args);
        std::process::Command::new(bin())
            .args(&full)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    let out = run(&["poll", "extra"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("note: the daemon (pid"), "{err}");
    assert!(err.contains("has no feed named `extra`"), "{err}");
    let out = run(&["poll", "wire", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("not ") && stderr(&out).contains("other.toml"));
    let status: Value = serde_json::from_slice(&run(&["status", "--json"]).stdout).unwrap();
    assert_eq!(status["daemon"]["same_config"], false);

    d.signal("TERM");
    assert!(d.wait_exit(Duration::from_secs(10)).success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poll_that_meets_another_poll_delivering_does_not_speak_of_a_daemon() {
    let s = server().await;
    let env = Env::new(&config(&s, "feedwatch.db"));
    // Another `feedwatch poll` (pid 4242) holds the delivery lock.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(env.dir.path().join("feedwatch.db.lock"))
        .unwrap();
    lock.lock().unwrap();
    writeln!(&lock, "poll 4242").unwrap();
    let out = env.run(&["poll", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let delivery = summary["delivery"].as_str().unwrap();
    assert!(
        delivery.contains("`feedwatch poll` (pid 4242) is delivering"),
        "{delivery}"
    );
    assert!(!delivery.contains("daemon"), "{delivery}");
    assert_eq!(summary["alerts_pending"], 1);
    let text = stdout(&env.run(&["poll"]));
    assert!(
        text.contains("`feedwatch poll` (pid 4242) is delivering"),
        "{text}"
    );
    drop(lock);
    let summary = env.json(&["poll", "--json"]);
    assert_eq!(summary["alerts_sent"], 1, "{summary}");
}
