//! Events to the systemd journal over its native socket, one datagram per event.
//!
//! `MESSAGE` is the same text a plain line has after its timestamp and level (the message,
//! then `key=value` fields, quoted and escaped), so `journalctl -u feedwatch` reads like the
//! plain log; each field is also its own journal field (`FEED=`, `TOPIC=`, `NOTIFIER=`,
//! `ALERT=`, `ERROR=`, …), escaped the same way, so `journalctl FEED=bbc-world` finds a feed's
//! events. With `PRIORITY` from the level and `SYSLOG_IDENTIFIER=feedwatch`.
//!
//! (tracing-journald writes values raw and leaves the fields out of `MESSAGE`; this is the
//! small part of it we need, with our escaping.)

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::logfmt::SafeFields;
use crate::text::for_terminal;

const SOCKET: &str = "/run/systemd/journal/socket";
/// Tests point the layer at a socket of their own with this variable; nothing else reads it.
const SOCKET_ENV: &str = "FEEDWATCH_TEST_JOURNAL_SOCKET";
/// Longest value sent, in bytes: a datagram must fit the socket's buffer.
const MAX_VALUE: usize = 16 * 1024;

/// Journal fields our event fields must not overwrite: theirs get an `F_` prefix.
const RESERVED: &[&str] = &[
    "MESSAGE",
    "MESSAGE_ID",
    "PRIORITY",
    "CODE_FILE",
    "CODE_LINE",
    "CODE_FUNC",
    "ERRNO",
    "SYSLOG_IDENTIFIER",
    "SYSLOG_FACILITY",
    "SYSLOG_PID",
    "SYSLOG_TIMESTAMP",
    "TARGET",
    "INVOCATION_ID",
    "DOCUMENTATION",
    "TID",
];

/// Whether stderr is the stream `$JOURNAL_STREAM` names (`DEVICE:INODE`, set by systemd
/// when it connects stdout or stderr to the journal).
pub fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let Some((dev, ino)) = std::env::var("JOURNAL_STREAM")
        .ok()
        .as_deref()
        .and_then(parse_stream)
    else {
        return false;
    };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    std::fs::File::from(fd)
        .metadata()
        .is_ok_and(|m| m.dev() == dev && m.ino() == ino)
}

fn parse_stream(v: &str) -> Option<(u64, u64)> {
    let (dev, ino) = v.split_once(':')?;
    Some((dev.parse().ok()?, ino.parse().ok()?))
}

/// The layer.
pub struct Journald {
    socket: UnixDatagram,
    path: PathBuf,
}

impl Journald {
    pub fn connect() -> std::io::Result<Self> {
        let path =
            std::env::var_os(SOCKET_ENV).map_or_else(|| PathBuf::from(SOCKET), PathBuf::from);
        // Fail now, not on the first event, when nothing listens there.
        UnixDatagram::unbound()?.connect(&path)?;
        // Not connected: each event is sent to the path, so a restarted journald is found.
        let socket = UnixDatagram::unbound()?;
        Ok(Self { socket, path })
    }
}

/// A span's fields, formatted once when it is created.
struct SpanText(String);

impl<S> tracing_subscriber::Layer<S> for Journald
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut text = String::new();
        let _ = SafeFields.format_fields(Writer::new(&mut text), attrs);
        span.extensions_mut().insert(SpanText(text));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(SpanText(text)) = ext.get_mut::<SpanText>() {
            let mut more = String::new();
            let _ = SafeFields.format_fields(Writer::new(&mut more), values);
            if !text.is_empty() && !more.is_empty() {
                text.push(' ');
            }
            text.push_str(&more);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut message = String::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                let ext = span.extensions();
                let fields = ext.get::<SpanText>().map_or("", |t| t.0.as_str());
                let _ = write!(message, "{}{{{fields}}}: ", span.name());
            }
        }
        let _ = SafeFields.format_fields(Writer::new(&mut message), event);
        let mut fields = Collect::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let entry = Entry {
            priority: priority(*meta.level()),
            target: meta.target(),
            file: meta.file(),
            line: meta.line(),
            message: &message,
            fields: &fields.0,
        };
        let payload = encode(&entry);
        if self.socket.send_to(&payload, &self.path).is_err() {
            // The journal went away (or the entry was too big): the line still goes to
            // stderr, which systemd also connects to the journal.
            let _ = writeln!(std::io::stderr(), "{}", for_terminal(&message));
        }
    }
}

impl std::fmt::Debug for Journald {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Journald({})", self.path.display())
    }
}

/// An event's fields (not the message: `MESSAGE` has it), as text.
#[derive(Default)]
struct Collect(Vec<(String, String)>);

impl Visit for Collect {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() != "message" {
            self.0.push((field.name().to_string(), value.to_string()));
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() != "message" {
            self.0
                .push((field.name().to_string(), format!("{value:?}")));
        }
    }
}

/// syslog priorities: error 3, warning 4, info 6, debug 7.
fn priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

struct Entry<'a> {
    priority: u8,
    target: &'a str,
    file: Option<&'a str>,
    line: Option<u32>,
    message: &'a str,
    fields: &'a [(String, String)],
}

/// The journal's native protocol: `NAME=value\n`, or for a value with a line break
/// `NAME\n`, its length as 64-bit little endian, the value and `\n`.
fn encode(e: &Entry<'_>) -> Vec<u8> {
    let mut buf = Vec::with_capacity(256 + e.message.len());
    put(&mut buf, "PRIORITY", &e.priority.to_string());
    put(&mut buf, "SYSLOG_IDENTIFIER", "feedwatch");
    put(&mut buf, "TARGET", e.target);
    if let Some(file) = e.file {
        put(&mut buf, "CODE_FILE", file);
    }
    if let Some(line) = e.line {
        put(&mut buf, "CODE_LINE", &line.to_string());
    }
    put(&mut buf, "MESSAGE", &for_terminal(e.message));
    for (name, value) in e.fields {
        put(&mut buf, &field_name(name), &for_terminal(value));
    }
    buf
}

fn put(buf: &mut Vec<u8>, name: &str, value: &str) {
    let value = cut(value, MAX_VALUE);
    if value.contains('\n') {
        buf.extend_from_slice(name.as_bytes());
        buf.push(b'\n');
        buf.extend_from_slice(&(value.len() as u64).to_le_bytes());
        buf.extend_from_slice(value.as_bytes());
        buf.push(b'\n');
    } else {
        buf.extend_from_slice(name.as_bytes());
        buf.push(b'=');
        buf.extend_from_slice(value.as_bytes());
        buf.push(b'\n');
    }
}

/// At most `max` bytes of `s`, on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A journal field name for an event field: upper case, letters, digits and `_` only, not
/// starting with a digit or `_` (those are the journal's own), and not one of its fields.
fn field_name(name: &str) -> String {
    let name = name.strip_prefix("r#").unwrap_or(name);
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    let leading_bad = out.chars().next().is_none_or(|c| !c.is_ascii_uppercase());
    if leading_bad || RESERVED.contains(&out.as_str()) {
        out.insert_str(0, "F_");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(payload: &[u8]) -> Vec<(String, String)> {
        String::from_utf8(payload.to_vec())
            .unwrap()
            .lines()
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    #[test]
    fn every_field_is_its_own_journal_field_and_nothing_raw_gets_through() {
        let hostile = "Big\" feed=admin\nERROR forged \u{1b}[2J\u{202e}";
        let e = Entry {
            priority: 4,
            target: "feedwatch::poll",
            file: Some("src/poll.rs"),
            line: Some(7),
            message: "poll failed feed=wire error=\"x\"",
            fields: &[
                ("feed".into(), "wire".into()),
                ("error".into(), hostile.into()),
                ("message".into(), "m".into()),
                ("2nd".into(), "x".into()),
            ],
        };
        let got = fields(&encode(&e));
        let get = |k: &str| got.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("PRIORITY"), Some("4"));
        assert_eq!(get("SYSLOG_IDENTIFIER"), Some("feedwatch"));
        assert_eq!(get("FEED"), Some("wire"));
        assert_eq!(
            get("ERROR"),
            Some("Big\" feed=admin\\nERROR forged \\u{1b}[2J\\u{202e}"),
            "one line, escapes visible"
        );
        assert_eq!(
            get("F_MESSAGE"),
            Some("m"),
            "a field cannot replace MESSAGE"
        );
        assert_eq!(get("F_2ND"), Some("x"));
        assert_eq!(get("MESSAGE"), Some("poll failed feed=wire error=\"x\""));
        assert_eq!(got.len(), 10, "{got:?}");
    }

    #[test]
    fn a_value_with_a_line_break_is_length_prefixed() {
        let mut buf = Vec::new();
        put(&mut buf, "X", "a\nb");
        assert_eq!(buf, b"X\n\x03\0\0\0\0\0\0\0a\nb\n");
    }

    #[test]
    fn journal_stream_is_device_and_inode() {
        assert_eq!(parse_stream("8:12345"), Some((8, 12345)));
        assert_eq!(parse_stream("8"), None);
        assert_eq!(parse_stream("x:1"), None);
        assert_eq!(cut("ééé", 3), "é");
    }
}
