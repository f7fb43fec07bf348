//! `log_format = "json"`: one JSON object per line, `{"timestamp", "level", "target",
//! "message", ...fields}`, with the fields of enclosing spans under `"spans"`.
//!
//! Numbers and booleans stay numbers and booleans. Strings are escaped as JSON requires, and
//! also every other character a terminal or a log viewer acts on (DEL, C1 controls, bidi
//! controls, line separators) as `\uXXXX`: a parser gets the exact text back, while `tail -f`
//! of the file shows nothing that could colour, clear or reorder the screen.

use std::fmt;
use std::io;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::text::needs_escape;

/// Keys of our own: an event field of the same name is written as `field.NAME`.
const RESERVED: &[&str] = &["timestamp", "level", "target", "message", "spans"];

/// The event formatter: `fmt::layer().event_format(JsonLines)`.
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut spans = Vec::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let ext = span.extensions();
                let formatted = ext
                    .get::<FormattedFields<N>>()
                    .map(|f| f.fields.clone())
                    .unwrap_or_default();
                spans.push(serde_json::json!({"name": span.name(), "fields": formatted}));
            }
        }
        let line = object(
            &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            meta.level().as_str(),
            meta.target(),
            fields,
            spans,
        );
        writeln!(writer, "{}", to_safe_json(&line))
    }
}

/// An event's fields as JSON values; `message` apart.
#[derive(Default)]
struct Fields {
    message: Vec<String>,
    values: Vec<(String, Value)>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        let name = name.strip_prefix("r#").unwrap_or(name);
        match value {
            Value::String(s) if name == "message" => self.message.push(s),
            v => self.values.push((name.to_string(), v)),
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::String(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
}

fn object(timestamp: &str, level: &str, target: &str, f: Fields, spans: Vec<Value>) -> Value {
    let mut map = Map::new();
    map.insert("timestamp".into(), timestamp.into());
    map.insert("level".into(), level.into());
    map.insert("target".into(), target.into());
    map.insert("message".into(), f.message.join(" ").into());
    for (name, value) in f.values {
        let key = if RESERVED.contains(&name.as_str()) {
            format!("field.{name}")
        } else {
            name
        };
        map.insert(key, value);
    }
    if !spans.is_empty() {
        map.insert("spans".into(), Value::Array(spans));
    }
    Value::Object(map)
}

/// `value` as JSON on one line, with [`needs_escape`] characters beyond what JSON escapes
/// written as `\uXXXX`.
fn to_safe_json(value: &Value) -> String {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, SafeFormatter);
    if serde::Serialize::serialize(value, &mut ser).is_err() {
        return r#"{"message":"unserializable log event"}"#.to_string();
    }
    // The formatter writes only what serde_json gives it and ASCII escapes: UTF-8 throughout.
    String::from_utf8(out).unwrap_or_default()
}

struct SafeFormatter;

impl serde_json::ser::Formatter for SafeFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if !needs_escape(c) {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Capture {
            self.clone()
        }
    }

    fn logged(f: impl FnOnce()) -> String {
        let out = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .event_format(JsonLines)
            .fmt_fields(crate::logfmt::SafeFields)
            .with_writer(out.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = out.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8(bytes).expect("utf-8 log")
    }

    #[test]
    fn one_object_per_line_with_typed_fields_and_exact_text() {
        let title = "Big news\" feed=admin\n2026 ERROR forged \u{1b}]0;owned\u{7} \u{9b}31m \u{202e}x\u{2028}";
        let out = logged(|| {
            let _span = tracing::info_span!("poll", feed = "wire").entered();
            tracing::warn!(title = %title, status = 304, ok = true, level = "x", "alert sent");
        });
        assert_eq!(out.lines().count(), 1, "{out}");
        for bad in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}', '\u{2028}', '\n'] {
            assert!(!out.trim_end().contains(bad), "{bad:?} raw in {out:?}");
        }
        assert!(out.contains(r"\u009b31m \u202ex\u2028"), "{out}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["title"], title, "the parsed value is the exact text");
        assert_eq!(v["status"], 304);
        assert_eq!(v["ok"], true);
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["field.level"], "x", "a field cannot overwrite ours");
        assert_eq!(v["message"], "alert sent");
        assert_eq!(v["target"], "feedwatch::logging::json::tests");
        assert_eq!(v["spans"][0]["name"], "poll");
        assert_eq!(v["spans"][0]["fields"], "feed=wire");
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
    }
}
