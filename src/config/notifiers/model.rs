//! The validated notifier model: what each kind was configured with. Addresses that may carry
//! a token (Slack and Discord webhook URLs, Telegram's bot token) never show in `Debug`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use url::Url;

use crate::config::Secret;
use crate::notify::template::Templates;
use crate::schedule::CronExpr;

#[derive(Debug, Clone)]
pub struct NotifierConfig {
    pub name: String,
    pub kind: NotifierKind,
    /// `digest`: one message per tick of this schedule (read in `[daemon] timezone`) instead
    /// of one per alert.
    pub digest: Option<CronExpr>,
    /// `max_per_hour`: messages (a digest is one) in any hour at most; the excess waits.
    pub max_per_hour: Option<u32>,
    pub templates: Templates,
}

#[derive(Clone)]
pub enum NotifierKind {
    Log,
    Webhook(WebhookConfig),
    Ntfy(NtfyConfig),
    Email(EmailConfig),
    Slack { url: Url },
    Discord { url: Url },
    Matrix(MatrixConfig),
    Telegram(TelegramConfig),
    Exec(ExecConfig),
}

impl NotifierKind {
    pub fn name(&self) -> &'static str {
        match self {
            NotifierKind::Log => "log",
            NotifierKind::Webhook(_) => "webhook",
            NotifierKind::Ntfy(_) => "ntfy",
            NotifierKind::Email(_) => "email",
            NotifierKind::Slack { .. } => "slack",
            NotifierKind::Discord { .. } => "discord",
            NotifierKind::Matrix(_) => "matrix",
            NotifierKind::Telegram(_) => "telegram",
            NotifierKind::Exec(_) => "exec",
        }
    }
}

/// The host of a URL, which is all `Debug` shows of it.
pub(crate) fn host(url: &Url) -> String {
    let mut h = url.host_str().unwrap_or("").to_string();
    if let Some(p) = url.port() {
        h.push_str(&format!(":{p}"));
    }
    h
}

impl fmt::Debug for NotifierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotifierKind::Log => f.write_str("Log"),
            NotifierKind::Webhook(w) => f
                .debug_struct("Webhook")
                .field("host", &host(&w.url))
                .field("secret", &w.secret)
                .field("headers", &w.headers.keys().collect::<Vec<_>>())
                .finish(),
            NotifierKind::Ntfy(n) => f
                .debug_struct("Ntfy")
                .field("host", &host(&n.url))
                .field("topic", &n.topic)
                .field("priority", &n.priority)
                .field("tags", &n.tags)
                .finish_non_exhaustive(),
            NotifierKind::Email(e) => f
                .debug_struct("Email")
                .field("security", &e.security)
                .field("host", &e.host)
                .field("port", &e.port)
                .field("from", &e.from.to_string())
                .field("to", &e.to.len())
                .finish_non_exhaustive(),
            NotifierKind::Slack { url } => {
                f.debug_struct("Slack").field("host", &host(url)).finish()
            }
            NotifierKind::Discord { url } => {
                f.debug_struct("Discord").field("host", &host(url)).finish()
            }
            NotifierKind::Matrix(m) => f
                .debug_struct("Matrix")
                .field("host", &host(&m.url))
                .field("room", &m.room)
                .finish_non_exhaustive(),
            NotifierKind::Telegram(t) => f
                .debug_struct("Telegram")
                .field("host", &host(&t.url))
                .field("chat_id", &t.chat_id)
                .finish_non_exhaustive(),
            NotifierKind::Exec(e) => f
                .debug_struct("Exec")
                .field("program", &e.command.first())
                .field("timeout", &e.timeout)
                .finish(),
        }
    }
}

#[derive(Clone)]
pub struct WebhookConfig {
    pub url: Url,
    pub secret: Option<Secret>,
    pub headers: BTreeMap<String, Secret>,
}

#[derive(Clone)]
pub struct NtfyConfig {
    /// The server's base URL (default `https://ntfy.sh`).
    pub url: Url,
    pub topic: String,
    pub auth: Option<HttpAuth>,
    /// 1 (min) to 5 (max); the server's default (3) when unset.
    pub priority: Option<u8>,
    pub tags: Vec<String>,
}

#[derive(Clone, Debug)]
pub enum HttpAuth {
    Bearer(Secret),
    Basic { username: String, password: Secret },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: STARTTLS required (port 587 by default).
    StartTls,
    /// `smtps://`: TLS from the first byte (port 465 by default).
    Tls,
    /// `smtp+plain://`: no TLS at all, for a relay on this machine (port 25 by default).
    Plain,
}

#[derive(Clone)]
pub struct EmailConfig {
    pub security: SmtpSecurity,
    pub host: String,
    pub port: u16,
    pub from: lettre::message::Mailbox,
    pub to: Vec<lettre::message::Mailbox>,
    pub credentials: Option<(String, Secret)>,
}

#[derive(Clone)]
pub struct MatrixConfig {
    /// The homeserver's base URL.
    pub url: Url,
    /// A room id (`!abc:example.org`).
    pub room: String,
    pub token: Secret,
}

#[derive(Clone)]
pub struct TelegramConfig {
    /// The Bot API base (default `https://api.telegram.org`).
    pub url: Url,
    pub token: Secret,
    /// A number, or `@channelname`.
    pub chat_id: serde_json::Value,
}

#[derive(Clone, Debug)]
pub struct ExecConfig {
    /// Program and arguments, run without a shell.
    pub command: Vec<String>,
    pub timeout: Duration,
}
