//! How a log line's fields are written, for every event and span alike: `name=value`, the
//! value bare when it is one plain word and quoted otherwise, with `"` and `\` escaped and
//! every character a terminal or a log reader would act on written as a visible escape
//! (as [`text::for_terminal`](crate::text::for_terminal) does). So feed text in a field can
//! neither colour nor clear the terminal, nor plant `key=value` pairs, nor start a line of
//! its own. The message is not quoted (it is ours), only escaped.
//!
//! One mechanism for the whole log (`init_logging` installs it as the fmt layer's field
//! formatter) rather than care at each call site: `%` fields are Display-formatted and would
//! otherwise be written raw.

use std::borrow::Cow;
use std::fmt;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::Writer;

use crate::text::{for_terminal, needs_escape, push_escaped};

/// The field formatter: `tracing_subscriber::fmt().fmt_fields(SafeFields)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SafeFields;

impl<'a> MakeVisitor<Writer<'a>> for SafeFields {
    type Visitor = SafeVisitor<'a>;

    fn make_visitor(&self, writer: Writer<'a>) -> SafeVisitor<'a> {
        SafeVisitor {
            writer,
            first: true,
            result: Ok(()),
        }
    }
}

pub struct SafeVisitor<'a> {
    writer: Writer<'a>,
    first: bool,
    result: fmt::Result,
}

impl SafeVisitor<'_> {
    fn write(&mut self, field: &Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        if !std::mem::take(&mut self.first) {
            self.result = self.writer.write_char(' ');
        }
        let name = field.name();
        let result = if name == "message" {
            self.writer.write_str(&for_terminal(value))
        } else {
            let name = name.strip_prefix("r#").unwrap_or(name);
            let value = quote(value);
            if self.writer.has_ansi_escapes() {
                write!(self.writer, "\x1b[3m{name}\x1b[0m\x1b[2m=\x1b[0m{value}")
            } else {
                write!(self.writer, "{name}={value}")
            }
        };
        self.result = self.result.and(result);
    }
}

impl Visit for SafeVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.write(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%x` arrives here too, as a Debug wrapper around its Display.
        self.write(field, &format!("{value:?}"));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.write(field, &value.to_string());
    }
}

impl VisitOutput<fmt::Result> for SafeVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for SafeVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

/// `value` as a field value: bare when it is one plain word (numbers, names, times), else in
/// double quotes with `"`, `\` and every character [`for_terminal`] escapes, escaped.
pub fn quote(value: &str) -> Cow<'_, str> {
    let plain = |c: char| !(c.is_whitespace() || matches!(c, '"' | '=' | '\\') || needs_escape(c));
    if !value.is_empty() && value.chars().all(plain) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if needs_escape(c) => push_escaped(&mut out, c),
            c => out.push(c),
        }
    }
    out.push('"');
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[test]
    fn plain_words_stay_bare() {
        for v in [
            "agency-wire",
            "304",
            "2026-01-01T00:00:00+00:00",
            "ok",
            "Café",
        ] {
            assert_eq!(quote(v), v);
        }
    }

    #[test]
    fn anything_else_is_quoted_and_escaped() {
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("HTTP 500"), "\"HTTP 500\"");
        assert_eq!(quote("a=b"), "\"a=b\"");
        assert_eq!(
            quote("x\" injected=yes"),
            "\"x\\\" injected=yes\"",
            "a quote in the value cannot end it"
        );
        assert_eq!(quote("C:\\feeds"), "\"C:\\\\feeds\"");
        assert_eq!(
            quote("\u{1b}[31mred\nnext\u{202e}"),
            "\"\\u{1b}[31mred\\nnext\\u{202e}\""
        );
    }

    /// Captures what the fmt layer writes.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
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
            .fmt_fields(SafeFields)
            .with_writer(out.clone())
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .with_level(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = out.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8(bytes).expect("utf-8 log")
    }

    #[test]
    fn a_feed_title_cannot_forge_fields_or_lines_or_escapes() {
        let title = "Big news\" feed=admin\n2026 ERROR forged line \u{1b}]0;owned\u{7}";
        let line = logged(|| {
            let _span = tracing::info_span!("poll", feed = %title).entered();
            tracing::warn!(title = %title, status = 304, ok = true, "alert {}", "sent\u{1b}[2J")
        });
        assert_eq!(
            line,
            "poll{feed=\"Big news\\\" feed=admin\\n2026 ERROR forged line \\u{1b}]0;owned\\u{7}\"}: \
             alert sent\\u{1b}[2J \
             title=\"Big news\\\" feed=admin\\n2026 ERROR forged line \\u{1b}]0;owned\\u{7}\" \
             status=304 ok=true\n"
        );
    }
}
