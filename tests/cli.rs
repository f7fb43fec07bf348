//! The command line's contract: `check`, exit codes, usage errors.

mod common;

use common::*;

/// Run `check` on `config`: it must exit 2 and print exactly one line per expected prefix, in
/// order, each prefix given after `FILE:`.
fn assert_check_errors(config: &str, expected: &[&str]) {
    let env = Env::new(config);
    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let file = path_str(&env.config_path());
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), expected.len(), "{stderr}");
    for (line, want) in lines.iter().zip(expected) {
        assert!(
            line.starts_with(&format!("{file}:{want}")),
            "expected `{file}:{want}…`, got:\n{stderr}"
        );
    }
}

#[test]
fn check_reports_every_problem_with_file_line_col_and_exits_2() {
    assert_check_errors(
        r#"[daemon]
database = "feedwatch.db"
concurency = 4

[[feed]]
name = "wire"
url = "https://example.org/feed.xml"
schedule = "*/61 * * * *"

[[topic]]
name = "china-russia"
query = '(China OR Beijing AND (Russia OR Lavrov)'
notify = ["ops"]

[[topic]]
name = "other"
query = 'markets'
notify = ["opps"]

[[notifier]]
name = "ops"
kind = "log"
"#,
        &[
            "3:1: unknown key `concurency`",
            "8:12: invalid cron expression `*/61 * * * *`: Minutes",
            "12:9: invalid query: column 1: unbalanced '('",
            "18:11: unknown notifier `opps`",
        ],
    );
}

#[test]
fn check_accepts_the_shipped_example_config() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/feedwatch.toml");
    let out = std::process::Command::new(bin())
        .args(["--config"])
        .arg(&path)
        .arg("check")
        .env("FEEDWATCH_WEBHOOK_SECRET", "example")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok ("));
}

#[test]
fn a_missing_config_file_is_a_config_error() {
    let out = std::process::Command::new(bin())
        .args(["--config", "/nonexistent/feedwatch.toml", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("/nonexistent/feedwatch.toml: cannot read config")
    );
}

#[test]
fn config_comes_from_the_environment_when_no_flag_is_given() {
    let env = Env::new("[[notifier]]\nname = \"l\"\nkind = \"log\"\n");
    let out = std::process::Command::new(bin())
        .arg("check")
        .env("FEEDWATCH_CONFIG", env.config_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unknown_feed_names_are_usage_errors() {
    let env = Env::new(
        "[daemon]\ndatabase = \"feedwatch.db\"\n[[feed]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/\"\n",
    );
    let out = env.run(&["poll", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no feed named `nope`"));
}

#[test]
fn the_daemon_refuses_a_bad_config_with_exit_2() {
    let env =
        Env::new("[daemon]\ndatabase = \"feedwatch.db\"\nschedule = \"every five minutes\"\n");
    let out = env.run(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("feedwatch.toml:3:12: "), "{stderr}");
    assert!(
        !env.db_path().exists(),
        "nothing is created before the config is valid"
    );
}

#[test]
fn a_misspelt_required_key_is_one_error_among_the_others() {
    assert_check_errors(
        r#"[[feed]]
name = "wire"
url = "https://example.org/feed.xml"
schedule = "61 * * * *"

[[topic]]
name = "t"
qeury = 'China'
notify = ["nobody"]
"#,
        &[
            "4:12: invalid cron expression",
            "6:1: a [[topic]] needs `query`",
            "8:1: unknown key `qeury`",
            "9:11: unknown notifier `nobody`",
        ],
    );
}

#[test]
fn applied_settings_are_not_warned_about() {
    let env = Env::new(
        "[daemon]\ndatabase = \"feedwatch.db\"\nretention = \"30d\"\nrespect_cache_headers = true\nlog_format = \"json\"\n",
    );
    let out = env.run(&["check"]);
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        !stderr.contains("log_format"),
        "log_format is applied: {stderr}"
    );
    assert!(
        !stderr.contains("retention"),
        "retention is applied: {stderr}"
    );
    assert!(
        !stderr.contains("cache"),
        "cache headers are read: {stderr}"
    );
}

#[test]
fn reading_commands_need_no_secrets_and_create_no_database() {
    let env = Env::new(
        "[daemon]\ndatabase = \"feedwatch.db\"\n[[notifier]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\nsecret = { env = \"FEEDWATCH_TEST_HOOK_SECRET\" }\n",
    );
    // No database yet: a reading command says so instead of creating an empty one.
    let out = env
        .command(&["items"])
        .env_remove("FEEDWATCH_TEST_HOOK_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no database at"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!env.db_path().exists());

    // `poll` sends, so it needs the secret...
    let out = env
        .command(&["poll"])
        .env_remove("FEEDWATCH_TEST_HOOK_SECRET")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`FEEDWATCH_TEST_HOOK_SECRET` is not set")
    );
    let out = env
        .command(&["poll"])
        .env("FEEDWATCH_TEST_HOOK_SECRET", "s")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // ...reading what it stored does not.
    for args in [
        &["items", "--json"][..],
        &["alerts", "--json"],
        &["feeds", "--json"],
    ] {
        let out = env
            .command(args)
            .env_remove("FEEDWATCH_TEST_HOOK_SECRET")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_malformed_secret_is_explained_alongside_the_other_errors() {
    let env = Env::new(
        "[[notifier]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"https://h.example/\"\nsecret = { evn = \"X\" }\n[[feed]]\nname = \"f\"\nurl = \"https://x.example/\"\ndedup = \"GUID\"\n",
    );
    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            ":5:10: `secret` must be a string, or one of { env = \"NAME\" }, { file = \"PATH\" }, { credential = \"NAME\" }"
        ) && stderr.contains("did you mean `env`?"),
        "{stderr}"
    );
    assert!(
        stderr.contains(":9:9: unknown dedup policy `GUID`"),
        "{stderr}"
    );
}
