//! Shared helpers for the integration tests: a config in a temp dir, the real binary, and
//! feeds built from the seed story. Every server is a wiremock on 127.0.0.1.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

pub mod receiver;

use serde_json::Value;
use tempfile::TempDir;

pub const SEED: &str = include_str!("../fixtures/seed-story.txt");
pub const SEED_TITLE: &str =
    "China Emphasises Strategic Partnership With Russia During Lavrov Visit";

/// A temp directory holding `feedwatch.toml` and the database.
pub struct Env {
    pub dir: TempDir,
}

impl Env {
    pub fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = Self { dir };
        env.write_config(config);
        env
    }

    pub fn write_config(&self, config: &str) {
        std::fs::write(self.config_path(), config).expect("write config");
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("feedwatch.toml")
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("feedwatch.db")
    }

    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(bin());
        cmd.arg("--config").arg(self.config_path()).args(args);
        cmd.env_remove("FEEDWATCH_CONFIG")
            .env("RUST_LOG", "feedwatch=debug,info");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run feedwatch")
    }

    /// Run a `--json` command that must succeed and parse its output.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "feedwatch {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// Start `feedwatch run` in the background.
    pub fn spawn_daemon(&self) -> Daemon {
        self.spawn_daemon_with(|_| {})
    }

    /// Start `feedwatch run` in the background, after `adjust` (extra environment, say) on
    /// its command.
    pub fn spawn_daemon_with(&self, adjust: impl FnOnce(&mut std::process::Command)) -> Daemon {
        let log = self
            .dir
            .path()
            .join(format!("daemon-{}.log", std::process::id() ^ rand_suffix()));
        let file = std::fs::File::create(&log).expect("log file");
        let mut cmd = self.command(&["run"]);
        adjust(&mut cmd);
        let child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn daemon");
        Daemon { child, log }
    }
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_feedwatch"))
}

pub struct Daemon {
    pub child: std::process::Child,
    pub log: PathBuf,
}

impl Daemon {
    pub fn signal(&self, sig: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Wait for exit, up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return s;
            }
            assert!(
                start.elapsed() < limit,
                "daemon did not exit within {limit:?}; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait (up to 20 s) until `cond` holds; on timeout, fail showing the daemon's log.
    pub async fn wait_for(&self, what: &str, mut cond: impl AsyncFnMut() -> bool) {
        let start = Instant::now();
        while !cond().await {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out waiting for {what}; daemon log:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Poll `cond` every 50 ms until it holds or `limit` passes.
pub async fn eventually<F: FnMut() -> bool>(limit: Duration, what: &str, mut cond: F) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The seed story's body as HTML paragraphs (without the blog's trailing page chrome).
pub fn seed_html() -> String {
    let lines: Vec<&str> = SEED
        .lines()
        .skip(2)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let body: Vec<String> = lines
        .iter()
        .take_while(|l| !l.starts_with("International Agencies"))
        .map(|l| format!("<p>{}</p>", l.trim()))
        .collect();
    body.join("\n")
}

/// A Blogger-shaped Atom feed whose single entry is the seed story.
pub fn blogger_atom(link: &str) -> String {
    format!(
        r#"<?xml version='1.0' encoding='UTF-8'?><?xml-stylesheet href="http://www.blogger.com/styles/atom.css" type="text/css"?>
<feed xmlns='http://www.w3.org/2005/Atom' xmlns:openSearch='http://a9.com/-/spec/opensearchrss/1.0/' xmlns:blogger='http://schemas.google.com/blogger/2008' xmlns:georss='http://www.georss.org/georss' xmlns:gd="http://schemas.google.com/g/2005" xmlns:thr='http://purl.org/syndication/thread/1.0'>
<id>tag:blogger.com,1999:blog-1234567890</id><updated>2025-04-01T10:15:00.000+01:00</updated>
<category term="International Agencies"/><title type='text'>World News Desk</title>
<link rel='http://schemas.google.com/g/2005#feed' type='application/atom+xml' href='https://worldnewsdesk.blogspot.com/feeds/posts/default'/>
<link rel='alternate' type='text/html' href='https://worldnewsdesk.blogspot.com/'/>
<author><name>World News Desk</name><email>noreply@blogger.com</email></author>
<generator version='7.00' uri='http://www.blogger.com'>Blogger</generator>
<openSearch:totalResults>1</openSearch:totalResults>
<entry><id>tag:blogger.com,1999:blog-1234567890.post-987654321</id>
<published>2025-04-01T10:12:00.000+01:00</published><updated>2025-04-01T10:15:00.000+01:00</updated>
<category scheme="http://www.blogger.com/atom/ns#" term="International Agencies"/>
<title type='text'>{title}</title>
<content type='html'>{content}</content>
<link rel='replies' type='application/atom+xml' href='https://worldnewsdesk.blogspot.com/feeds/987654321/comments/default' title='Post Comments'/>
<link rel='edit' type='application/atom+xml' href='https://www.blogger.com/feeds/1234567890/posts/default/987654321'/>
<link rel='self' type='application/atom+xml' href='https://www.blogger.com/feeds/1234567890/posts/default/987654321'/>
<link rel='alternate' type='text/html' href='{link}' title='{title}'/>
<author><name>Desk Editor</name><uri>http://www.blogger.com/profile/0001</uri><email>noreply@blogger.com</email><gd:image rel='http://schemas.google.com/g/2005#thumbnail' width='16' height='16' src='https://img1.blogblog.com/img/b16-rounded.gif'/></author>
<thr:total>0</thr:total></entry></feed>"#,
        title = xml_escape(SEED_TITLE),
        content = xml_escape(&seed_html()),
        link = xml_escape(link),
    )
}

/// An RSS 2.0 feed carrying the seed story (as an outlet republishing it would).
pub fn rss_with_seed(guid: &str, link: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Outlet</title><link>https://outlet.example/</link><description>d</description>
<item><title>{title}</title><link>{link}</link><guid isPermaLink="false">{guid}</guid><pubDate>Tue, 01 Apr 2025 09:30:00 GMT</pubDate>
<description>{content}</description></item>
<item><title>Markets close higher in Tokyo</title><link>https://outlet.example/markets</link><guid isPermaLink="false">{guid}-markets</guid>
<description>Shares rose on exporters.</description></item>
</channel></rss>"#,
        title = xml_escape(SEED_TITLE),
        content = xml_escape(&seed_html()),
        link = xml_escape(link),
        guid = xml_escape(guid),
    )
}

pub const TOPIC: &str = "(China OR Beijing) AND (Russia OR Lavrov)";

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}
