//! Helpers for the `cli_*` tests: the command tree read from the binary's own help, runs with
//! a time limit, and a config whose feeds a test server serves.
#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::bin;

/// One command of the tree, as its `-h` describes it.
#[derive(Debug, Clone)]
pub struct Cmd {
    pub path: Vec<String>,
    /// Long option names (without `--`) and whether each takes a value.
    pub options: Vec<(String, bool)>,
    /// Positional arguments as the help writes them (`<QUERY>`, `[FEED]...`).
    pub positionals: Vec<String>,
    pub subcommands: Vec<String>,
    pub help: String,
}

impl Cmd {
    pub fn name(&self) -> String {
        self.path.join(" ")
    }
}

fn help_of(path: &[String]) -> String {
    let out = Command::new(bin())
        .args(path)
        .arg("-h")
        .output()
        .expect("run feedwatch -h");
    assert!(out.status.success(), "{path:?} -h failed");
    String::from_utf8(out.stdout).expect("help is UTF-8")
}

/// Every command reachable from `feedwatch`, from the help the binary prints.
pub fn help_tree() -> Vec<Cmd> {
    let mut out = Vec::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(path) = todo.pop() {
        let help = help_of(&path);
        let mut cmd = Cmd {
            path: path.clone(),
            options: Vec::new(),
            positionals: Vec::new(),
            subcommands: Vec::new(),
            help: help.clone(),
        };
        let mut section = "";
        for line in help.lines() {
            if !line.starts_with(' ') {
                section = line.trim_end_matches(':');
                continue;
            }
            let entry = line.trim_start();
            let first = entry.split("  ").next().unwrap_or("").trim();
            match section {
                "Commands" if first != "help" && !first.is_empty() => {
                    cmd.subcommands.push(first.to_string());
                }
                "Arguments" if !first.is_empty() => cmd.positionals.push(first.to_string()),
                "Options" => {
                    if let Some(pos) = first.find("--") {
                        let spec = &first[pos + 2..];
                        let name = spec.split([' ', '=']).next().unwrap_or("").to_string();
                        cmd.options.push((name, spec.contains('<')));
                    }
                }
                _ => {}
            }
        }
        for s in &cmd.subcommands {
            let mut p = path.clone();
            p.push(s.clone());
            todo.push(p);
        }
        out.push(cmd);
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Run `feedwatch` with `args` in `dir`, killing it after `limit`.
pub fn run_limited(dir: &Path, args: &[OsString], env: &[(&str, &str)], limit: Duration) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(dir)
        .env_remove("FEEDWATCH_CONFIG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn feedwatch");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "feedwatch {args:?} ran longer than {limit:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// A value that is not UTF-8.
pub fn not_utf8() -> OsString {
    use std::os::unix::ffi::OsStrExt;
    OsStr::from_bytes(b"\xff\xfe-x").to_os_string()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A config with the given `[[feed]]` (name, url) entries, a topic on the seed story and a
/// `log` notifier, its database `feedwatch.db` beside it.
pub fn config_with(feeds: &[(&str, String)], extra: &str) -> String {
    let mut s = String::from("[daemon]\ndatabase = \"feedwatch.db\"\n");
    for (name, url) in feeds {
        s.push_str(&format!("[[feed]]\nname = \"{name}\"\nurl = \"{url}\"\n"));
    }
    s.push_str(&format!(
        "[[topic]]\nname = \"china-russia\"\nquery = '{}'\nnotify = [\"log\"]\n[[notifier]]\nname = \"log\"\nkind = \"log\"\n{extra}",
        crate::common::TOPIC
    ));
    s
}
