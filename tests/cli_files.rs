//! The files feedwatch makes and the files it is pointed at: private whatever the umask (the
//! database holds feed URLs with tokens and every alert), no directories grown for a path the
//! user chose, and nothing written into a file that is not already a feedwatch database.

mod cli_support;
mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

use cli_support::*;
use common::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

fn beside(db: &Path, suffix: &str) -> std::path::PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(suffix);
    p.into()
}

fn with_umask(cmd: &mut std::process::Command, mask: libc::mode_t) {
    // SAFETY: umask is async-signal-safe and touches nothing but the child's own mask.
    unsafe {
        cmd.pre_exec(move || {
            libc::umask(mask);
            Ok(())
        });
    }
}

async fn feed_server() -> MockServer {
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

#[tokio::test(flavor = "multi_thread")]
async fn the_default_location_and_every_file_are_private_under_umask_022() {
    let s = feed_server().await;
    // No `database`: the default location under $XDG_DATA_HOME, which does not exist yet.
    let env = Env::new(&format!(
        "[daemon]\nschedule = \"0 0 1 1 *\"\n[[feed]]\nname = \"wire\"\nurl = \"{}/wire\"\n",
        s.uri()
    ));
    let xdg = env.dir.path().join("xdg");
    let mut poll = env.command(&["poll"]);
    poll.env("XDG_DATA_HOME", &xdg)
        .env_remove("STATE_DIRECTORY");
    with_umask(&mut poll, 0o022);
    let out = poll.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = xdg.join("feedwatch");
    let db = dir.join("feedwatch.db");
    assert_eq!(mode(&xdg), 0o700, "directories feedwatch creates are 0700");
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&beside(&db, ".lock")), 0o600);

    // While a daemon runs: the WAL, the shared memory and the control socket too.
    let mut d = env.spawn_daemon_with(|cmd| {
        cmd.env("XDG_DATA_HOME", &xdg).env_remove("STATE_DIRECTORY");
        with_umask(cmd, 0o022);
    });
    let sock = beside(&db, ".sock");
    d.wait_for("the control socket", async || sock.exists())
        .await;
    for suffix in ["-wal", "-shm", ".sock", ".lock", ""] {
        assert_eq!(mode(&beside(&db, suffix)), 0o600, "feedwatch.db{suffix}");
    }
    d.signal("TERM");
    assert!(d.wait_exit(Duration::from_secs(10)).success());
}

#[test]
fn a_chosen_database_path_never_grows_directories() {
    let env = Env::new("[daemon]\ndatabase = \"nested/deeper/feedwatch.db\"\n");
    let out = env.run(&["poll"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    assert!(!env.dir.path().join("nested").exists());

    let missing = env.dir.path().join("no/such/dir/x.db");
    let out = env.run(&["--db", missing.to_str().unwrap(), "poll"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("the directory"), "{}", stderr(&out));
    assert!(!env.dir.path().join("no").exists());
    // `run` refuses the same way, at once.
    let out = env.run(&["--db", missing.to_str().unwrap(), "run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!env.dir.path().join("no").exists());
}

/// Every command that opens an existing database, each refusing `db` with `expect`.
fn refused_everywhere(env: &Env, db: &Path, expect: &str) {
    let db = db.to_str().unwrap();
    for args in [
        &["feeds"][..],
        &["feeds", "--json"],
        &["items"],
        &["stories"],
        &["alerts"],
        &["status"],
        &["search", "China"],
        &["prune"],
        &["feeds", "reset", "wire"],
        &["alerts", "retry"],
        &["poll"],
    ] {
        let mut full = vec!["--db", db];
        full.extend_from_slice(args);
        let out = env.run(&full);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(!err.contains("panicked"));
    }
}

#[test]
fn nothing_is_written_into_a_file_that_is_not_a_feedwatch_database() {
    let env = Env::new(&config_with(&[("wire", "http://127.0.0.1:9/".into())], ""));
    let dir = env.dir.path();

    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "my notes\n").unwrap();
    refused_everywhere(&env, &notes, "not an SQLite file");
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "my notes\n");

    let photos = dir.join("photos.db");
    rusqlite::Connection::open(&photos)
        .unwrap()
        .execute_batch("CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)")
        .unwrap();
    let before = std::fs::read(&photos).unwrap();
    refused_everywhere(&env, &photos, "of another program");
    assert_eq!(std::fs::read(&photos).unwrap(), before, "not touched");
    assert!(!beside(&photos, "-wal").exists());

    refused_everywhere(&env, dir, "is a directory");

    // An empty file: reading commands leave it empty; a poll may set it up.
    let empty = dir.join("empty.db");
    std::fs::write(&empty, "").unwrap();
    for args in [
        &["feeds"][..],
        &["items"],
        &["status"],
        &["feeds", "reset", "wire"],
    ] {
        let mut full = vec!["--db", empty.to_str().unwrap()];
        full.extend_from_slice(args);
        let out = env.run(&full);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).contains("is empty"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert_eq!(
            std::fs::metadata(&empty).unwrap().len(),
            0,
            "{args:?} wrote into it"
        );
    }
    let out = env.run(&["--db", empty.to_str().unwrap(), "poll"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the feed fails, the database is set up"
    );
    let out = env.run(&["--db", empty.to_str().unwrap(), "feeds", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
}
