//! The output side shared by every converter here: which characters are whitespace, which are
//! hostile (removed, as is the invisible zero-width space), and how text becomes lines — runs of whitespace collapse to one space,
//! line breaks collapse so no line is empty, nothing leads or trails.

/// Characters that can hurt a terminal or a log: C0 controls but `\t` and `\n`, DEL, C1
/// controls, the bidirectional embeddings, overrides and isolates, and the direction marks.
pub(super) fn is_hostile(c: char) -> bool {
    matches!(c,
        '\0'..='\x08' | '\x0B'..='\x1F' | '\x7F'..='\u{9F}'
        | '\u{061C}' | '\u{200E}' | '\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A line-break opportunity that shows nothing (the character form of `<wbr>`); dropped so
/// that a word containing one still matches a search for it.
const ZERO_WIDTH_SPACE: char = '\u{200B}';

/// How a byte of UTF-8 text is treated before decoding a character.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Byte {
    /// Printable ASCII or a byte of a character that is never whitespace nor hostile.
    Plain,
    /// ASCII blank (space, tab, vertical tab, form feed).
    Blank,
    /// `\n` or `\r`: a line break where lines are kept.
    Newline,
    /// An ASCII control or DEL: removed.
    Control,
    /// The lead byte of a character that may be whitespace or hostile: decode it.
    Decode,
}

const fn byte_classes() -> [Byte; 256] {
    let mut t = [Byte::Plain; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = Byte::Control;
        b += 1;
    }
    t[0x7F] = Byte::Control;
    t[b' ' as usize] = Byte::Blank;
    t[b'\t' as usize] = Byte::Blank;
    t[0x0B] = Byte::Blank;
    t[0x0C] = Byte::Blank;
    t[b'\n' as usize] = Byte::Newline;
    t[b'\r' as usize] = Byte::Newline;
    // U+0080–U+00BF (C1, NEL, NBSP), U+061C, U+1680, U+2000–U+206F, U+3000.
    t[0xC2] = Byte::Decode;
    t[0xD8] = Byte::Decode;
    t[0xE1] = Byte::Decode;
    t[0xE2] = Byte::Decode;
    t[0xE3] = Byte::Decode;
    t
}

static BYTE_CLASSES: [Byte; 256] = byte_classes();

/// Builds text line by line. Breaks and spaces are only remembered, and written when visible
/// text follows, so runs collapse and nothing trails.
#[derive(Debug, Default)]
pub(super) struct Lines {
    buf: String,
    space: bool,
    newline: bool,
}

impl Lines {
    pub(super) fn with_capacity(n: usize) -> Self {
        Lines {
            buf: String::with_capacity(n),
            ..Lines::default()
        }
    }

    /// Ends the current line, if it has anything on it.
    pub(super) fn line_break(&mut self) {
        self.newline = !self.buf.is_empty();
    }

    /// Separates what comes next from what came before, if both are on one line.
    pub(super) fn space(&mut self) {
        self.space = true;
    }

    /// Appends text: whitespace separates words, hostile characters vanish, and line feeds
    /// (and carriage returns) end lines when `keep_newlines`, else they are blanks too.
    pub(super) fn text(&mut self, s: &str, keep_newlines: bool) {
        let bytes = s.as_bytes();
        let mut start = 0; // start of the visible run not yet written
        let mut i = 0;
        while i < bytes.len() {
            let width = match BYTE_CLASSES[bytes[i] as usize] {
                Byte::Plain => {
                    i += 1;
                    continue;
                }
                Byte::Decode => {
                    let c = s[i..].chars().next().unwrap_or_default();
                    if !c.is_whitespace() && !is_hostile(c) && c != ZERO_WIDTH_SPACE {
                        i += c.len_utf8();
                        continue;
                    }
                    self.visible(&s[start..i]);
                    if c.is_whitespace() {
                        self.space = true;
                    }
                    c.len_utf8()
                }
                class => {
                    self.visible(&s[start..i]);
                    match class {
                        Byte::Newline if keep_newlines => self.line_break(),
                        Byte::Control => {}
                        _ => self.space = true,
                    }
                    1
                }
            };
            i += width;
            start = i;
        }
        self.visible(&s[start..]);
    }

    /// Appends text known to hold neither whitespace nor hostile characters.
    fn visible(&mut self, run: &str) {
        if run.is_empty() {
            return;
        }
        if self.newline {
            self.buf.push('\n');
        } else if self.space && !self.buf.is_empty() {
            self.buf.push(' ');
        }
        self.newline = false;
        self.space = false;
        self.buf.push_str(run);
    }

    pub(super) fn finish(mut self) -> String {
        // A mostly-markup document leaves most of the reserved room unused.
        if self.buf.capacity() > 2 * self.buf.len() + 4096 {
            self.buf.shrink_to_fit();
        }
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(parts: &[&str], keep_newlines: bool) -> String {
        let mut l = Lines::default();
        for p in parts {
            l.text(p, keep_newlines);
        }
        l.finish()
    }

    #[test]
    fn whitespace_collapses_and_nothing_leads_or_trails() {
        assert_eq!(
            lines(&["  a \t b  ", "  c\u{a0}\u{3000}d "], false),
            "a b c d"
        );
        assert_eq!(lines(&["a", "b"], false), "ab");
        assert_eq!(lines(&["a ", " b"], false), "a b");
        assert_eq!(lines(&[" \n\r\n "], true), "");
    }

    #[test]
    fn newlines_end_lines_only_when_kept_and_empty_lines_vanish() {
        assert_eq!(lines(&["a\r\n\r\n  b \nc"], true), "a\nb\nc");
        assert_eq!(lines(&["a\r\n\r\n  b \nc"], false), "a b c");
        assert_eq!(lines(&["\n\na\n\n"], true), "a");
    }

    #[test]
    fn explicit_breaks_and_spaces_collapse() {
        let mut l = Lines::default();
        l.line_break();
        l.space();
        l.text("one", false);
        l.space();
        l.space();
        l.text("two", false);
        l.line_break();
        l.space();
        l.line_break();
        l.text("three", false);
        l.line_break();
        assert_eq!(l.finish(), "one two\nthree");
    }

    #[test]
    fn hostile_characters_vanish_without_joining_or_splitting_words() {
        assert_eq!(
            lines(
                &["\x1b[31mred\x1b[0m \u{202e}txet\u{202c} a\u{200f}b\u{7f}"],
                false
            ),
            "[31mred[0m txet ab"
        );
        assert_eq!(lines(&["a \u{85}\u{9b} b"], false), "a b");
        assert_eq!(lines(&["x\0y\u{2066}z\u{2069}\u{61c}"], false), "xyz");
        assert_eq!(lines(&["Lav\u{200b}rov"], false), "Lavrov");
    }

    #[test]
    fn other_characters_of_the_decoded_blocks_stay() {
        let s = "¡Olé! “quoted” — 10 € · 中文 ã ‘x’ ⁂ ፠";
        assert_eq!(lines(&[s], false), s);
    }

    #[test]
    fn hostile_set_is_exactly_the_documented_one() {
        let hostile: Vec<u32> = (0..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .filter(|&c| is_hostile(c))
            .map(u32::from)
            .collect();
        let mut want: Vec<u32> = (0..0x20).filter(|&c| c != 9 && c != 10).collect();
        want.extend(0x7F..=0x9F);
        want.push(0x61C);
        want.extend([0x200E, 0x200F]);
        want.extend(0x202A..=0x202E);
        want.extend(0x2066..=0x2069);
        assert_eq!(hostile, want);
    }

    #[test]
    fn every_whitespace_or_hostile_character_has_a_decoded_lead_byte() {
        // The byte table may only skip lead bytes of characters needing no check.
        for c in (0x80..=0x10FFFFu32).filter_map(char::from_u32) {
            if c.is_whitespace() || is_hostile(c) {
                let mut b = [0; 4];
                let lead = c.encode_utf8(&mut b).as_bytes()[0];
                assert!(
                    BYTE_CLASSES[lead as usize] == Byte::Decode,
                    "{c:?} lead {lead:#x}"
                );
            }
        }
    }
}
