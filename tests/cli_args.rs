//! No panic from anything a person can type: every command and every flag, read from the
//! binary's own help, driven with malformed, negative, huge, empty and non-UTF-8 values. Each
//! run must end with exit 0, 1 or 2 (never 101, never a signal) and never say "panicked";
//! numbers and durations out of range are usage errors (exit 2) that say what is expected.

mod cli_support;
mod common;

use std::ffi::OsString;
use std::time::Duration;

use cli_support::*;
use common::*;

/// Malformed, negative, huge, empty, non-UTF-8 and very long.
fn hostile() -> Vec<OsString> {
    vec![
        "abc%".into(),
        "-1".into(),
        "99999999999999999999999".into(),
        "".into(),
        not_utf8(),
        "x".repeat(5000).into(),
    ]
}

/// A value that lets a command get as far as the argument under test.
fn valid_positional(cmd: &str, arg: &str) -> Option<&'static str> {
    match (cmd, arg) {
        ("search", "<QUERY>") => Some("China"),
        ("feeds reset", "<FEED>") => Some("wire"),
        ("opml import", "<FILE>") => Some("feedwatch.toml"),
        ("completions", "<SHELL>") => Some("bash"),
        _ => None,
    }
}

fn env() -> Env {
    // The feed's port is closed: polls fail at once, without the network.
    let env = Env::new(&cli_support::config_with(
        &[("wire", "http://127.0.0.1:9/feed.xml".into())],
        "",
    ));
    let out = env.run(&["poll"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(env.db_path().exists());
    env
}

/// Run and check the contract; returns the exit code.
fn sweep_one(env: &Env, args: Vec<OsString>) -> i32 {
    let mut full = os(&["--config"]);
    full.push(env.config_path().into());
    full.extend(args.iter().cloned());
    let out = run_limited(env.dir.path(), &full, &[], Duration::from_secs(20));
    let err = stderr(&out);
    assert!(
        !err.contains("panicked") && !stdout(&out).contains("panicked"),
        "{args:?} panicked: {err}"
    );
    let code = out.status.code();
    assert!(
        matches!(code, Some(0..=2)),
        "{args:?} ended with {:?}: {err}",
        out.status
    );
    code.unwrap_or_default()
}

/// The argument lists of the sweep: each value in each flag and positional of each command.
fn cases(tree: &[Cmd]) -> Vec<(Vec<OsString>, bool)> {
    let mut cases = Vec::new();
    for cmd in tree.iter().filter(|c| !c.path.is_empty()) {
        let name = cmd.name();
        let base: Vec<OsString> = cmd.path.iter().map(OsString::from).collect();
        let fill: Vec<OsString> = cmd
            .positionals
            .iter()
            .filter_map(|p| valid_positional(&name, p).map(OsString::from))
            .collect();
        for (opt, takes_value) in &cmd.options {
            if matches!(opt.as_str(), "help" | "version") {
                continue;
            }
            let numeric = matches!(opt.as_str(), "since" | "limit");
            if !takes_value {
                // A switch given a value.
                let mut a = base.clone();
                a.extend(fill.iter().cloned());
                a.push(format!("--{opt}=abc").into());
                cases.push((a, true));
                continue;
            }
            for v in hostile() {
                let mut a = base.clone();
                a.extend(fill.iter().cloned());
                // `run` must not start: its database goes in a directory that is not there.
                let v = if name == "run" && opt == "db" {
                    let mut p = OsString::from("no-such-dir/");
                    p.push(&v);
                    p
                } else {
                    v
                };
                a.push(format!("--{opt}").into());
                a.push(v);
                cases.push((a, numeric));
            }
        }
        for i in 0..cmd.positionals.len() {
            for v in hostile() {
                let mut a = base.clone();
                a.extend(fill.iter().take(i).cloned());
                a.push(v);
                cases.push((a, false));
            }
        }
    }
    cases
}

#[test]
fn every_command_and_flag_survives_hostile_values() {
    let tree = help_tree();
    let names: Vec<String> = tree.iter().map(Cmd::name).collect();
    for expected in [
        "run",
        "poll",
        "items",
        "feeds reset",
        "alerts retry",
        "opml import",
        "status",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not in {names:?}"
        );
    }
    let env = env();
    let cases = cases(&tree);
    assert!(cases.len() > 150, "only {} cases", cases.len());
    // Two workers: the machine has two cores and the runs mostly wait on process start.
    let chunks: Vec<&[(Vec<OsString>, bool)]> = cases.chunks(cases.len().div_ceil(2)).collect();
    std::thread::scope(|s| {
        for chunk in chunks {
            let env = &env;
            s.spawn(move || {
                for (args, must_be_usage) in chunk {
                    let code = sweep_one(env, args.clone());
                    if *must_be_usage {
                        assert_eq!(code, 2, "{args:?} must be a usage error");
                    }
                }
            });
        }
    });
}

#[test]
fn out_of_range_numbers_and_durations_say_what_is_expected() {
    let env = env();
    for (args, expect) in [
        (&["items", "--since", "300000y"][..], "at most 100 years"),
        (&["items", "--since", "0s"], "at least 1s"),
        (&["items", "--since", "soon"], "such as 30m, 24h or 7d"),
        (&["stories", "--limit", "0"], "from 1 to 1000000"),
        (&["search", "China", "--limit", "-5"], "from 1 to 1000000"),
        (
            &["items", "--limit", "99999999999999999999"],
            "from 1 to 1000000",
        ),
        (
            &[
                "match",
                "--topic",
                "china-russia",
                "--since",
                "1000000000000d",
            ],
            "100 years",
        ),
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // The largest accepted duration works.
    let out = env.run(&["items", "--since", "36500d", "--limit", "1000000"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn names_that_are_not_in_the_config_are_usage_errors() {
    let env = env();
    for args in [
        &["poll", "nope"][..],
        &["items", "--feed", "nope"],
        &["items", "--topic", "nope"],
        &["match", "--topic", "nope", "--since", "1d"],
        &["feeds", "reset", "nope"],
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("`nope`"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}
