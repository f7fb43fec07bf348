//! The `exec` notifier: runs `command` (no shell) with the message's JSON (the webhook body)
//! on stdin and `FEEDWATCH_ALERT_ID` / `FEEDWATCH_EVENT` in its environment. Exit 0 is
//! delivered; any other exit, a signal, or running past `timeout` (the process is killed) is
//! retried. What it prints goes to the log, cleaned and shortened.

use std::process::Stdio;

use futures_util::future::BoxFuture;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::template::Templates;
use super::{Content, Delivery, Message, Notifier};
use crate::config::ExecConfig;

/// Output kept from each stream for the log.
const OUTPUT_MAX: usize = 4096;

pub struct Exec {
    name: String,
    config: ExecConfig,
    templates: Templates,
}

impl Exec {
    pub fn new(name: &str, config: ExecConfig, templates: Templates) -> Self {
        Self {
            name: name.to_string(),
            config,
            templates,
        }
    }

    async fn run(&self, msg: &Message) -> Delivery {
        let retry = |error: String| Delivery::Retry {
            error,
            not_before: None,
        };
        let input = match serde_json::to_vec(&super::webhook::payload(msg, &self.templates)) {
            Ok(b) => b,
            Err(e) => {
                return Delivery::Permanent {
                    error: format!("encoding the payload: {e}"),
                };
            }
        };
        let (program, args) = match self.config.command.split_first() {
            Some(p) => p,
            None => {
                return Delivery::Permanent {
                    error: "empty command".into(),
                };
            }
        };
        let event = match &msg.content {
            Content::Alert(a) => a.event_name(),
            Content::Digest { .. } => "topic.digest",
        };
        let mut child = match tokio::process::Command::new(program)
            .args(args)
            .env("FEEDWATCH_ALERT_ID", &msg.id)
            .env("FEEDWATCH_EVENT", event)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
        {
            Ok(c) => c,
            Err(e) => return retry(format!("cannot run `{program}`: {e}")),
        };
        let (stdin, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let work = async {
            // A program that does not read its input must not block us: a closed pipe is fine.
            let feed = async {
                if let Some(mut s) = stdin {
                    let _ = s.write_all(&input).await;
                    let _ = s.shutdown().await;
                }
            };
            let (_, out, err, status) =
                tokio::join!(feed, read(stdout), read(stderr), child.wait());
            (out, err, status)
        };
        let (out, err, status) = match tokio::time::timeout(self.config.timeout, work).await {
            Ok(r) => r,
            Err(_) => {
                // Dropping the child (kill_on_drop) kills it.
                return retry(format!(
                    "`{program}` ran longer than {}s and was killed",
                    self.config.timeout.as_secs_f64()
                ));
            }
        };
        // Line by line, so what the program prints cannot pass for feedwatch's own lines.
        for (stream, text) in [("stdout", &out), ("stderr", &err)] {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                tracing::info!(notifier = %self.name, alert = %msg.id, stream, output = %line, "exec notifier output");
            }
        }
        match status {
            Ok(s) if s.success() => Delivery::Sent,
            Ok(s) => {
                let why = match s.code() {
                    Some(c) => format!("exited with status {c}"),
                    None => "was killed by a signal".to_string(),
                };
                let last = err
                    .lines()
                    .last()
                    .map(|l| format!(": {l}"))
                    .unwrap_or_default();
                retry(format!("`{program}` {why}{last}"))
            }
            Err(e) => retry(format!("waiting for `{program}`: {e}")),
        }
    }
}

/// Up to [`OUTPUT_MAX`] bytes of a stream, as one clean text (the rest is drained unread).
async fn read(stream: Option<impl tokio::io::AsyncRead + Unpin>) -> String {
    let Some(mut s) = stream else {
        return String::new();
    };
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) if buf.len() < OUTPUT_MAX => {
                buf.extend_from_slice(&chunk[..n.min(OUTPUT_MAX - buf.len())])
            }
            Ok(_) => {}
        }
    }
    crate::text::clean(String::from_utf8_lossy(&buf).trim()).into_owned()
}

impl Notifier for Exec {
    fn send<'a>(&'a self, msg: &'a Message) -> BoxFuture<'a, Delivery> {
        Box::pin(self.run(msg))
    }
}
