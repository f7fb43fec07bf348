//! `systemctl reload` (SIGHUP) on a running daemon: a changed config applied without a
//! restart, a broken one refused with its FILE:LINE:COL while the running one goes on, the
//! systemd notifications around each, and what happens to the alerts of a removed notifier.

mod common;
mod ops_support;

use std::time::Duration;

use common::*;
use ops_support::*;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn serve(s: &MockServer, route: &str, body: String) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .mount(s)
        .await;
}

/// Three feeds with items of their own, and a webhook that always answers 503.
async fn server() -> MockServer {
    let s = MockServer::start().await;
    serve(
        &s,
        "/keep",
        rss(&[
            (
                "k1",
                "Lavrov arrives in Beijing for talks",
                "The Russian foreign minister landed on Tuesday.",
            ),
            (
                "k2",
                "Markets close higher in Tokyo",
                "Exporters led the gains.",
            ),
        ]),
    )
    .await;
    serve(
        &s,
        "/drop",
        rss(&[(
            "d1",
            "Lavrov meets Wang Yi",
            "The ministers discussed trade corridors.",
        )]),
    )
    .await;
    serve(
        &s,
        "/added",
        rss(&[
            (
                "a1",
                "Tokyo stocks rally on chip makers",
                "The Nikkei rose two per cent.",
            ),
            (
                "a2",
                "Flooding closes schools in Pyongyang",
                "Heavy rain hit the capital.",
            ),
        ]),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&s)
        .await;
    s
}

fn feed(s: &MockServer, name: &str, schedule: &str) -> String {
    format!(
        "[[feed]]\nname = \"{name}\"\nurl = \"{}/{name}\"\nschedule = \"{schedule}\"\n\n",
        s.uri()
    )
}

const DAEMON: &str = "[daemon]\ndatabase = \"feedwatch.db\"\nalert_backoff = \"1h\"\n\n";

fn hook(s: &MockServer) -> String {
    format!(
        "[[notifier]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}/hook\"\n\n",
        s.uri()
    )
}

const YEARLY: &str = "0 0 1 1 *";
const EVERY_SECOND: &str = "* * * * * *";

fn alerts(env: &Env) -> Vec<Value> {
    env.json(&["alerts", "--json"])
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_applies_a_changed_config_and_keeps_the_running_one_when_the_new_is_broken() {
    let s = server().await;
    let before = format!(
        "{DAEMON}{}{}[[topic]]\nname = \"cr\"\nquery = 'Lavrov'\nnotify = [\"hook\"]\n\n{}",
        feed(&s, "keep", YEARLY),
        feed(&s, "drop", EVERY_SECOND),
        hook(&s)
    );
    let env = Env::new(&before);
    let db = env.db_path();
    let notify = NotifySocket::new();
    let mut d = env.spawn_daemon_with(|c| {
        c.env("NOTIFY_SOCKET", &notify.path);
    });
    notify
        .wait_for(0, "READY=1", |m| m.contains("READY=1"))
        .await;
    d.wait_for(
        "two Lavrov alerts, pending after a first attempt",
        async || {
            count(&db, "SELECT COUNT(*) FROM alerts WHERE status = 'pending'") == 2
                && count(&db, "SELECT COUNT(*) FROM alerts WHERE attempts >= 1") >= 1
        },
    )
    .await;
    d.wait_for("the every-second feed polled twice", async || {
        gets(&s, "/drop").await >= 2
    })
    .await;
    assert_eq!(gets(&s, "/keep").await, 1);

    // The new config: `keep` as it was, `drop` gone, `added` new; the topic's query changed,
    // a topic and a notifier added.
    let after = format!(
        "{DAEMON}{}{}[[topic]]\nname = \"cr\"\nquery = 'Tokyo'\nnotify = [\"hook\"]\n\n\
         [[topic]]\nname = \"weather\"\nquery = 'flooding OR storm'\nnotify = [\"log\"]\n\n{}\
         [[notifier]]\nname = \"log\"\nkind = \"log\"\n",
        feed(&s, "added", YEARLY),
        feed(&s, "keep", YEARLY),
        hook(&s)
    );
    env.write_config(&after);
    let mark = notify.messages().len();
    d.signal("HUP");
    let got = notify
        .wait_for(mark, "READY=1 after the reload", |m| m.contains("READY=1"))
        .await;
    let reloading = got
        .iter()
        .position(|m| m.contains("RELOADING=1"))
        .unwrap_or_else(|| panic!("no RELOADING=1 in {got:?}"));
    assert!(
        got[reloading].contains("MONOTONIC_USEC="),
        "sent with the clock reading systemd expects: {got:?}"
    );
    assert!(
        got.iter().position(|m| m.contains("READY=1")) > Some(reloading),
        "{got:?}"
    );
    d.wait_for("the added feed polled", async || {
        gets(&s, "/added").await == 1
    })
    .await;
    d.wait_for("the new topic's alert delivered", async || {
        count(
            &db,
            "SELECT COUNT(*) FROM alerts WHERE topic = 'weather' AND status = 'sent'",
        ) == 1
    })
    .await;
    let drop_polls = gets(&s, "/drop").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        gets(&s, "/drop").await <= drop_polls + 1,
        "a removed feed is not polled any more (one poll may have been in flight)"
    );
    assert_eq!(
        gets(&s, "/keep").await,
        1,
        "an unchanged feed is not polled again"
    );
    assert!(d.log_text().contains("config reloaded"), "{}", d.log_text());

    // The new query matched the new feed's items; the unchanged feed was not re-read.
    let topics = |guid: &str| -> Vec<String> {
        let c = rusqlite::Connection::open(&db).unwrap();
        let mut st = c
            .prepare("SELECT t.topic FROM item_topics t JOIN items i ON i.id = t.item_id WHERE i.guid = ?1 ORDER BY 1")
            .unwrap();
        st.query_map([guid], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(topics("a1"), ["cr"], "Tokyo matches the new query");
    assert_eq!(topics("a2"), ["weather"]);
    assert_eq!(topics("k1"), ["cr"], "matched by the old query, kept");
    assert!(topics("k2").is_empty(), "not re-matched: not polled again");
    // The pending alerts of the old query are still there, with the new one.
    let pending: Vec<Value> = alerts(&env)
        .into_iter()
        .filter(|a| a["status"] == "pending")
        .collect();
    assert_eq!(pending.len(), 3, "{pending:?}");
    assert!(pending.iter().all(|a| a["notifier"] == "hook"));

    // A broken config: refused with its position, the running one goes on.
    let broken = after.replace("query = 'Tokyo'", "query = '(Tokyo OR'");
    let line = broken
        .lines()
        .position(|l| l.starts_with("query = '(Tokyo"))
        .unwrap()
        + 1;
    env.write_config(&broken);
    let mark = notify.messages().len();
    d.signal("HUP");
    let got = notify
        .wait_for(mark, "READY=1 after the refused reload", |m| {
            m.contains("READY=1")
        })
        .await;
    assert!(got.iter().any(|m| m.contains("RELOADING=1")), "{got:?}");
    let log = d.log_text();
    assert!(
        log.contains(&format!("feedwatch.toml:{line}:9: invalid query")),
        "the error names FILE:LINE:COL: {log}"
    );
    assert!(log.contains("still running the previous one"), "{log}");
    assert_eq!(log.matches("config reloaded").count(), 1, "{log}");
    assert!(d.child.try_wait().unwrap().is_none(), "the daemon lives on");
    assert_eq!(gets(&s, "/keep").await, 1);

    // Stop: STOPPING=1, exit 0, nothing pending lost.
    let mark = notify.messages().len();
    d.signal("TERM");
    assert!(
        d.wait_exit(Duration::from_secs(10)).success(),
        "{}",
        d.log_text()
    );
    assert!(
        notify.messages()[mark..]
            .iter()
            .any(|m| m.contains("STOPPING=1")),
        "{:?}",
        notify.messages()
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM alerts WHERE status = 'pending'"),
        3
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_alerts_of_a_removed_notifier_fail_with_a_reason_and_come_back_with_retry() {
    let s = server().await;
    let with_hook = format!(
        "[daemon]\ndatabase = \"feedwatch.db\"\nalert_backoff = \"500ms\"\n\n{}\
         [[topic]]\nname = \"cr\"\nquery = 'Lavrov'\nnotify = [\"hook\"]\n\n{}",
        feed(&s, "keep", YEARLY),
        hook(&s)
    );
    let env = Env::new(&with_hook);
    let db = env.db_path();
    let mut d = env.spawn_daemon();
    d.wait_for("the alert tried once", async || {
        count(&db, "SELECT COUNT(*) FROM alerts WHERE attempts >= 1") == 1
    })
    .await;
    // The topic now tells another notifier; `hook` is gone from the config.
    let without = format!(
        "[daemon]\ndatabase = \"feedwatch.db\"\nalert_backoff = \"500ms\"\n\n{}\
         [[topic]]\nname = \"cr\"\nquery = 'Lavrov'\nnotify = [\"log\"]\n\n\
         [[notifier]]\nname = \"log\"\nkind = \"log\"\n",
        feed(&s, "keep", YEARLY)
    );
    env.write_config(&without);
    d.signal("HUP");
    d.wait_for("the orphaned alert failed", async || {
        count(&db, "SELECT COUNT(*) FROM alerts WHERE status = 'failed'") == 1
    })
    .await;
    let failed = alerts(&env);
    assert_eq!(failed.len(), 1, "still listed: {failed:?}");
    assert_eq!(failed[0]["notifier"], "hook");
    let why = failed[0]["last_error"].as_str().unwrap_or_default();
    assert!(
        why.contains("notifier `hook` is not in the config any more")
            && why.contains("alerts retry"),
        "{why}"
    );
    // Back in the config, and retried: it goes out again (here: fails again at the webhook).
    env.write_config(&with_hook);
    d.signal("HUP");
    d.wait_for("the second reload", async || {
        d.log_text().matches("config reloaded").count() == 2
    })
    .await;
    let retried = env.run(&["alerts", "retry"]);
    assert!(
        retried.status.success(),
        "{}",
        String::from_utf8_lossy(&retried.stderr)
    );
    d.wait_for("the alert pending at the webhook again", async || {
        count(
            &db,
            "SELECT COUNT(*) FROM alerts WHERE status = 'pending' AND last_error LIKE '%503%'",
        ) == 1
    })
    .await;
    d.signal("TERM");
    assert!(d.wait_exit(Duration::from_secs(10)).success());
}
