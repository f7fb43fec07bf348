//! The README's backup command, run as written (paths swapped for the test's) while the
//! daemon writes a stream of new items: each copy is a consistent database that feedwatch
//! reads, and the daemon is not disturbed.

mod common;
mod ops_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use ops_support::*;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A feed with a new item on every request (the last 20 listed).
struct Growing(AtomicUsize);

impl Respond for Growing {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        let feed = req.url.path().to_string();
        let items: Vec<(String, String, String)> = (n.saturating_sub(19)..=n)
            .map(|i| {
                (
                    format!("{feed}-{i}"),
                    format!("Report {i} from {feed}"),
                    format!("Dispatch number {i} of {feed}, with its own words {i}x{i}."),
                )
            })
            .collect();
        let refs: Vec<(&str, &str, &str)> = items
            .iter()
            .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
            .collect();
        ResponseTemplate::new(200).set_body_string(rss(&refs))
    }
}

/// The README's backup command with the test's paths.
fn backup_command(db: &std::path::Path, dest: &std::path::Path) -> String {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let line = readme
        .lines()
        .find(|l| l.starts_with("sqlite3 ") && l.contains(".backup"))
        .expect("the README's backup command");
    assert!(
        line.contains("/var/lib/feedwatch/feedwatch.db")
            && line.contains("/var/backups/feedwatch.db")
    );
    line.replace("/var/lib/feedwatch/feedwatch.db", &db.display().to_string())
        .replace("/var/backups/feedwatch.db", &dest.display().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite3_backup_while_the_daemon_writes_gives_a_consistent_copy() {
    const FEEDS: usize = 20;
    let s = MockServer::start().await;
    Mock::given(wiremock::matchers::method("GET"))
        .respond_with(Growing(AtomicUsize::new(0)))
        .mount(&s)
        .await;
    let mut config =
        "[daemon]\ndatabase = \"feedwatch.db\"\nschedule = \"* * * * * *\"\n".to_string();
    for f in 0..FEEDS {
        config.push_str(&format!(
            "[[feed]]\nname = \"f{f}\"\nurl = \"{}/f{f}\"\n",
            s.uri()
        ));
    }
    let env = Env::new(&config);
    let db = env.db_path();
    let mut d = env.spawn_daemon();
    d.wait_for("items arriving", async || {
        count(&db, "SELECT COUNT(*) FROM items") > 100
    })
    .await;
    let mut last = 0;
    for round in 0..3 {
        let dest = env.dir.path().join(format!("backup-{round}.db"));
        let cmd = backup_command(&db, &dest);
        let out = std::process::Command::new("sh")
            .args(["-c", &cmd])
            .output()
            .expect("sh (and sqlite3: .ci/install-test-deps installs it)");
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let copy = rusqlite::Connection::open(&dest).unwrap();
        let check: String = copy
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let items: i64 = copy
            .query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0))
            .unwrap();
        let orphans: i64 = copy
            .query_row(
                "SELECT COUNT(*) FROM items WHERE story_id NOT IN (SELECT id FROM stories)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(orphans, 0, "every item's story is in the same copy");
        assert!(items > last, "round {round}: {items} items, {last} before");
        last = items;
        let feeds = env.json(&["--db", &dest.display().to_string(), "feeds", "--json"]);
        assert_eq!(feeds.as_array().map(Vec::len), Some(FEEDS));
        // The next copy is taken once the daemon has written more (a loaded machine may take
        // longer than a schedule period to), so each round backs up a database in motion.
        d.wait_for("more items after the copy", async || {
            count(&db, "SELECT COUNT(*) FROM items") > items
        })
        .await;
    }
    assert!(
        d.child.try_wait().unwrap().is_none(),
        "the daemon runs on: {}",
        d.log_text()
    );
    assert!(
        !d.log_text().contains("could not record"),
        "no write was refused during the backups: {}",
        d.log_text()
    );
    d.signal("TERM");
    assert!(d.wait_exit(Duration::from_secs(10)).success());
}
