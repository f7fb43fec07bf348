//! Text shown where a character could act instead of show (a terminal, a log line): every such
//! character is written as a visible escape, so what is left after [`clean`](super::clean)
//! (or was stored before cleaning existed) still cannot colour, clear or retitle a terminal,
//! reorder a line, or start a fake one.

use std::borrow::Cow;
use std::fmt::Write;

use super::lines::is_hostile;

/// Characters written as escapes: every control (C0 with tab and line breaks, DEL, C1), the
/// bidirectional controls and marks, and the Unicode line and paragraph separators.
pub(crate) fn needs_escape(c: char) -> bool {
    c.is_control() || is_hostile(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Append `c` to `out` as `\n`, `\r`, `\t` or `\u{…}`.
pub(crate) fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        // Writing to a String cannot fail.
        _ => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
}

/// `s` as one field of terminal output: each character a terminal would act on (see
/// [`needs_escape`]) becomes a visible escape such as `\u{1b}` or `\n`; borrowed when there
/// is none. Backslashes stay as they are (the result is for eyes, not for parsing back).
pub fn for_terminal(s: &str) -> Cow<'_, str> {
    let Some(first) = s.find(needs_escape) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if needs_escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        let s = "Lavrov in Beijing — 北京, «citation», C:\\path";
        assert!(matches!(for_terminal(s), Cow::Borrowed(_)));
    }

    #[test]
    fn terminal_controls_become_visible_escapes() {
        assert_eq!(
            for_terminal("\u{1b}[2J\u{1b}]0;pwned\u{7}Title"),
            "\\u{1b}[2J\\u{1b}]0;pwned\\u{7}Title"
        );
        // C1 CSI (U+009B) acts like ESC [ on some terminals; DEL and NUL too.
        assert_eq!(
            for_terminal("a\u{9b}31mb\u{7f}\0"),
            "a\\u{9b}31mb\\u{7f}\\u{0}"
        );
    }

    #[test]
    fn line_breaks_cannot_start_a_fake_line() {
        assert_eq!(
            for_terminal("ok\n    error: forged\r\u{2028}x\ty"),
            "ok\\n    error: forged\\r\\u{2028}x\\ty"
        );
    }

    #[test]
    fn bidirectional_controls_cannot_reorder_a_line() {
        assert_eq!(
            for_terminal("invoice\u{202e}fdp.exe \u{2066}x\u{2069} \u{200f}"),
            "invoice\\u{202e}fdp.exe \\u{2066}x\\u{2069} \\u{200f}"
        );
    }
}
