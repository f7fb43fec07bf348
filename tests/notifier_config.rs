//! `feedwatch check` on notifier settings: the DESIGN.md §2 example config is accepted, and
//! each kind of mistake is refused at its FILE:LINE:COL.

mod common;

use common::*;

#[test]
fn the_design_example_config_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("smtp-password"), "s3cret\n").unwrap();
    let out = std::process::Command::new(bin())
        .args(["--config", "tests/fixtures/design-example.toml", "check"])
        .env("FEEDWATCH_WEBHOOK_SECRET", "hooksecret")
        .env("CREDENTIALS_DIRECTORY", dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 notifiers"));
    assert!(
        !stderr.contains("notify_errors"),
        "notify_errors is used now: {stderr}"
    );
    assert!(!stderr.contains("not available"), "{stderr}");
    // Every setting is applied now: none is warned about.
    assert!(!stderr.contains("not applied"), "{stderr}");
    for key in [
        "log_format",
        "[http] listen",
        "cache_max",
        "story_window",
        "retention",
        "respect_cache_headers",
    ] {
        assert!(!stderr.contains(key), "{key} is applied: {stderr}");
    }
    assert!(!stderr.contains("s3cret") && !stderr.contains("hooksecret"));
}

#[test]
fn check_refuses_bad_templates_digests_limits_and_plain_smtp_to_another_host() {
    let src = r##"[[notifier]]
name = "mail"
kind = "email"
smtp = "smtp+plain://mail.example.org"
from = "feedwatch@example.org"
to = ["not an address"]

[[notifier]]
name = "phone"
kind = "ntfy"
topic = "alerts"
title_template = """{{ story.title }}
{% if topic %}{{ topic"""
body_template = "{{ stroy.title }}"
digest = "every morning"
max_per_hour = 0
priority = 9

[[notifier]]
name = "bot"
kind = "matrix"
url = "https://matrix.example.org"
room = "#news:example.org"
token = "t"
"##;
    let env = Env::new(src);
    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    let errs = String::from_utf8_lossy(&out.stderr);
    let file = env.config_path().display().to_string();
    let expect = [
        "4:8: smtp+plain:// sends mail and password unencrypted: only to this machine",
        "6:7: `not an address` is not an email address",
        "12:1: invalid `title_template`: syntax error: unexpected end of input",
        "(template line 2)",
        "14:1: invalid `body_template`: undefined value",
        "15:10: invalid cron expression `every morning`",
        "16:16: `max_per_hour` must be at least 1",
        "17:12: `priority` is 1 to 5",
        "23:8: `#news:example.org` is not a Matrix room id",
    ];
    for e in expect {
        assert!(
            errs.contains(e) && errs.contains(&file),
            "missing `{e}` in:\n{errs}"
        );
    }
}
