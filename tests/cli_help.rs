//! The help is the reference: every command has examples, the README's command list (its
//! "Using it" section, one line per command) matches the commands and flags the binary knows,
//! and completions and man pages are generated from the same definition.

mod cli_support;
mod common;

use std::collections::HashSet;

use cli_support::*;
use common::*;

/// The commands of the README's "Using it" block: (command path, flags named on the line).
fn readme_commands() -> Vec<(Vec<String>, Vec<String>)> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Using it")
        .nth(1)
        .expect("a `## Using it` section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh block in `Using it`");
    block
        .lines()
        .filter(|l| l.starts_with("feedwatch"))
        .map(|line| {
            let command = line.split(" # ").next().unwrap_or(line);
            let mut words = command.split_whitespace().skip(1).peekable();
            if words.peek() == Some(&"-c") {
                words.next();
                words.next();
            }
            let words: Vec<&str> = words.collect();
            let path = words
                .iter()
                .take_while(|w| {
                    w.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !w.starts_with('-')
                })
                .map(|w| w.to_string())
                .collect();
            let flags = words
                .iter()
                .flat_map(|w| w.split(['[', ']', '(', ')', '|']))
                .filter_map(|w| w.strip_prefix("--"))
                .map(|f| f.to_string())
                .collect();
            (path, flags)
        })
        .collect()
}

#[test]
fn the_readme_lists_every_command_and_only_flags_that_exist() {
    let tree = help_tree();
    let listed = readme_commands();
    assert!(listed.len() >= 15, "{listed:?}");
    for (path, flags) in &listed {
        let cmd = tree.iter().find(|c| &c.path == path).unwrap_or_else(|| {
            panic!(
                "README lists `feedwatch {}`, which the binary does not know",
                path.join(" ")
            )
        });
        let known: HashSet<&str> = cmd.options.iter().map(|(o, _)| o.as_str()).collect();
        for f in flags {
            assert!(
                known.contains(f.as_str()),
                "README: `{}` has no --{f}",
                cmd.name()
            );
        }
    }
    let paths: HashSet<&Vec<String>> = listed.iter().map(|(p, _)| p).collect();
    for cmd in tree.iter().filter(|c| !c.path.is_empty()) {
        // A group (`opml`) is listed through its commands.
        let covered = paths.contains(&cmd.path)
            || (!cmd.subcommands.is_empty() && paths.iter().any(|p| p.starts_with(&cmd.path)));
        assert!(
            covered,
            "README's `Using it` does not list `feedwatch {}`",
            cmd.name()
        );
    }
}

#[test]
fn every_command_explains_itself_with_examples() {
    for cmd in help_tree() {
        let mut args = cmd.path.clone();
        args.push("--help".into());
        let out = std::process::Command::new(bin())
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success());
        let help = stdout(&out);
        assert!(
            help.contains("Examples:"),
            "`{}` --help has no examples:\n{help}",
            cmd.name()
        );
        // Every option and argument is described (clap prints the name alone otherwise).
        for line in cmd
            .help
            .lines()
            .filter(|l| l.starts_with("  ") && !l.trim().is_empty())
        {
            let entry = line.trim_start();
            if entry.starts_with('-') || entry.starts_with('<') || entry.starts_with('[') {
                assert!(
                    entry.contains("  "),
                    "`{}`: `{entry}` has no description",
                    cmd.name()
                );
            }
        }
    }
}

#[test]
fn completions_and_man_pages_come_from_the_definition() {
    let tree = help_tree();
    for shell in ["bash", "zsh", "fish"] {
        let out = std::process::Command::new(bin())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let script = stdout(&out);
        for cmd in tree.iter().filter(|c| c.path.len() == 1) {
            assert!(
                script.contains(&cmd.path[0]),
                "{shell} completions lack {}",
                cmd.name()
            );
        }
        assert!(script.contains("since"), "{shell}: flags too");
    }
    let out = std::process::Command::new(bin())
        .arg("manpage")
        .output()
        .unwrap();
    let page = stdout(&out);
    assert!(
        page.contains(".TH feedwatch 1") && page.contains(".SH SUBCOMMANDS"),
        "{page}"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin())
        .args(["manpage", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    for page in [
        "feedwatch.1",
        "feedwatch-poll.1",
        "feedwatch-opml-import.1",
        "feedwatch-feeds-reset.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap_or_default();
        assert!(text.contains(".SH NAME"), "{page}");
    }
}
