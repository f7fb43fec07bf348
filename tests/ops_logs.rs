//! Where the daemon's log goes: to the journal, with structured fields, when `$JOURNAL_STREAM`
//! names its stderr (as under systemd); JSON lines with `log_format = "json"`. In both, feed
//! text (here a title with quotes, a forged field and terminal escapes, which ingest already
//! strips) arrives as one escaped value.

mod common;
mod ops_support;

use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use ops_support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const HOSTILE: &str = "Lavrov \"in\" Beijing\u{1b}[2J\u{202e} feed=forged";

/// The alert's title as the log notifier writes it: the stored (cleaned) title, topic first.
fn alert_title(env: &Env) -> String {
    let conn = rusqlite::Connection::open(env.db_path()).unwrap();
    let stored: String = conn
        .query_row("SELECT title FROM items", [], |r| r.get(0))
        .unwrap();
    assert!(
        stored.contains("\"in\"") && stored.contains("feed=forged"),
        "{stored}"
    );
    format!("[cr] {stored}")
}

async fn wire() -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/wire"))
        .respond_with(ResponseTemplate::new(200).set_body_string(rss(&[(
            "w1",
            HOSTILE,
            "The Russian foreign minister landed on Tuesday.",
        )])))
        .mount(&s)
        .await;
    s
}

fn config(s: &MockServer, log_format: &str) -> String {
    format!(
        "[daemon]\ndatabase = \"feedwatch.db\"\nlog_format = \"{log_format}\"\n\n\
         [[feed]]\nname = \"wire\"\nurl = \"{}/wire\"\nschedule = \"0 0 1 1 *\"\n\n\
         [[topic]]\nname = \"cr\"\nquery = 'Lavrov'\nnotify = [\"log\"]\n\n\
         [[notifier]]\nname = \"log\"\nkind = \"log\"\n",
        s.uri()
    )
}

/// `feedwatch run` with stderr to `log` and `adjust` applied.
fn spawn(
    env: &Env,
    log: std::path::PathBuf,
    adjust: impl FnOnce(&mut std::process::Command),
) -> Daemon {
    let file = std::fs::File::create(&log).unwrap();
    let mut cmd = env.command(&["run"]);
    adjust(&mut cmd);
    let child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap();
    Daemon { child, log }
}

/// Journal entries as (field, value) lists, from the native protocol's simple form.
fn entries(raw: &[Vec<u8>]) -> Vec<Vec<(String, String)>> {
    raw.iter()
        .map(|d| {
            String::from_utf8(d.clone())
                .expect("entries are UTF-8")
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn field<'a>(e: &'a [(String, String)], k: &str) -> Option<&'a str> {
    e.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread")]
async fn under_systemd_events_go_to_the_journal_with_their_fields_escaped() {
    let s = wire().await;
    let env = Env::new(&config(&s, "auto"));
    let sock_path = env.dir.path().join("journal.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let got: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let keep = Arc::clone(&got);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = sock.recv(&mut buf) {
            keep.lock().unwrap().push(buf[..n].to_vec());
        }
    });
    // systemd's JOURNAL_STREAM names the stream stderr is: here, the file it writes to.
    let log = env.dir.path().join("stderr.log");
    std::fs::File::create(&log).unwrap();
    let meta = std::fs::metadata(&log).unwrap();
    let d = spawn(&env, log.clone(), |c| {
        c.env("FEEDWATCH_TEST_JOURNAL_SOCKET", &sock_path)
            .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
    });
    assert_eq!(
        std::fs::metadata(&log).unwrap().ino(),
        meta.ino(),
        "the same file"
    );
    d.wait_for("the poll and the alert in the journal", async || {
        let e = entries(&got.lock().unwrap());
        e.iter()
            .any(|e| field(e, "MESSAGE").is_some_and(|m| m.starts_with("polled ")))
            && e.iter().any(|e| field(e, "NOTIFIER") == Some("log"))
    })
    .await;
    let raw = got.lock().unwrap().clone();
    for d in &raw {
        for bad in [0x1b_u8, 0x07] {
            assert!(
                !d.contains(&bad),
                "a raw control reached the journal: {:?}",
                String::from_utf8_lossy(d)
            );
        }
        assert!(!String::from_utf8_lossy(d).contains('\u{202e}'));
    }
    let e = entries(&raw);
    let polled = e
        .iter()
        .find(|e| field(e, "MESSAGE").is_some_and(|m| m.starts_with("polled ")))
        .unwrap();
    assert_eq!(field(polled, "FEED"), Some("wire"));
    assert_eq!(field(polled, "PRIORITY"), Some("6"));
    assert_eq!(field(polled, "SYSLOG_IDENTIFIER"), Some("feedwatch"));
    assert_eq!(field(polled, "TARGET"), Some("feedwatch::poll"));
    assert!(
        field(polled, "MESSAGE")
            .unwrap()
            .contains("feed=wire status=ok new=1"),
        "MESSAGE reads like the plain line: {polled:?}"
    );
    let alert = e
        .iter()
        .find(|e| field(e, "NOTIFIER") == Some("log"))
        .unwrap();
    assert_eq!(count(&env.db_path(), "SELECT COUNT(*) FROM alerts"), 1);
    assert_eq!(field(alert, "ALERT").map(str::len), Some(32), "{alert:?}");
    let title = alert_title(&env);
    assert_eq!(
        field(alert, "TITLE"),
        Some(title.as_str()),
        "one field: {alert:?}"
    );
    let message = field(alert, "MESSAGE").unwrap();
    assert!(
        message.contains(r#"title="[cr] Lavrov \"in\" Beijing"#),
        "quoted and escaped in MESSAGE: {message}"
    );
    assert!(
        !alert.iter().any(|(k, v)| k == "FEED" && v == "forged"),
        "no forged field: {alert:?}"
    );
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(
        !stderr.contains("polled"),
        "events go to the journal, not stderr: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn log_format_json_writes_one_object_per_line_with_the_exact_text() {
    let s = wire().await;
    let env = Env::new(&config(&s, "json"));
    let log = env.dir.path().join("stderr.log");
    let d = spawn(&env, log.clone(), |_| {});
    d.wait_for("the alert line", async || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("\"target\":\"feedwatch::alert\""))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202e}'),
        "{text}"
    );
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let polled = lines.iter().find(|l| l["message"] == "polled").unwrap();
    assert_eq!(polled["feed"], "wire");
    assert_eq!(polled["new"], 1, "numbers stay numbers");
    assert_eq!(polled["level"], "INFO");
    let alert = lines
        .iter()
        .find(|l| l["target"] == "feedwatch::alert")
        .unwrap();
    assert_eq!(
        alert["title"],
        alert_title(&env),
        "parsed back, the title is exact"
    );
    assert_eq!(alert["notifier"], "log");
}
