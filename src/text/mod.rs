//! Text as readers see it: HTML (or plain text with references) rendered as lines, and text
//! cleaned of characters that could hurt a terminal or a log. Pure, no I/O.
//!
//! This module decides what feed text looks like everywhere it is shown or searched:
//! - [`html_to_text`]: one line per paragraph or block, words separated by single spaces, no
//!   empty lines and no leading or trailing blanks; links keep their text, images, scripts,
//!   styles and embedded graphics vanish. Linear in the input whatever its nesting.
//! - [`clean`]: removes C0 controls (but `\t` and `\n`), DEL, C1 controls, bidirectional
//!   embeddings, overrides and isolates, and direction marks.
//! - [`one_line`], [`excerpt`]: titles and alert excerpts.
//! - [`for_terminal`]: what is left (or was stored before cleaning) shown as visible escapes,
//!   for terminal output; the log writer ([`crate::logfmt`]) escapes the same characters.
//!
//! Whitespace is what Unicode calls whitespace (`char::is_whitespace`, so no-break and
//! ideographic spaces too); it is read before cleaning, so a vertical tab or a NEL separates
//! words instead of joining them.

mod entities;
mod entity_table;
mod escape;
mod html;
mod lines;
mod tag;

#[cfg(test)]
mod tests;

use std::borrow::Cow;

pub use escape::for_terminal;
pub(crate) use escape::{needs_escape, push_escaped};
use lines::{Lines, is_hostile};

/// What a reader of an alert or a search result should see for `s`, an HTML fragment, a
/// whole page, or plain text.
///
/// Text with neither `<` nor `&` is taken as plain text and keeps its line breaks (empty
/// lines dropped, blanks collapsed); anything else is read as HTML, where line feeds are
/// blanks and blocks, `<br>` and table rows make the lines. The result is always [`clean`].
pub fn html_to_text(s: &str) -> String {
    if memchr::memchr2(b'<', b'&', s.as_bytes()).is_none() {
        let mut out = Lines::with_capacity(s.len());
        out.text(s, true);
        return out.finish();
    }
    html::render(s)
}

/// `s` without the characters that can hurt a terminal or a log (see the module docs);
/// borrowed when there are none.
pub fn clean(s: &str) -> Cow<'_, str> {
    let Some(first) = s.char_indices().find(|&(_, c)| is_hostile(c)) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..first.0]);
    out.extend(s[first.0..].chars().filter(|&c| !is_hostile(c)));
    Cow::Owned(out)
}

/// `s` on one line: every run of whitespace (line breaks included) becomes one space, nothing
/// leads or trails, and the result is [`clean`].
pub fn one_line(s: &str) -> String {
    let mut out = Lines::with_capacity(s.len());
    out.text(s, false);
    out.finish()
}

/// `s` cut to at most `max_chars` characters, plus `…` when something was cut. The cut falls
/// at the last word boundary (whitespace, or between CJK characters, which need none) unless
/// that would lose more than half of the text; punctuation left dangling before the `…` goes.
/// The result is [`clean`]; line breaks are kept.
pub fn excerpt(s: &str, max_chars: usize) -> String {
    let s = clean(s);
    let s = s.trim();
    let Some((limit, next)) = s.char_indices().nth(max_chars) else {
        return s.to_string();
    };
    let head = &s[..limit];
    let cut = if next.is_whitespace() {
        head
    } else {
        let boundary =
            last_boundary(head, next).filter(|&b| head[..b].chars().count() * 2 >= max_chars);
        boundary.map_or(head, |b| &head[..b])
    };
    let cut = cut.trim_end_matches(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                ',' | ';' | ':' | '-' | '–' | '—' | '(' | '[' | '«' | '“' | '‘'
            )
    });
    let cut = if cut.is_empty() { head } else { cut };
    format!("{cut}…")
}

/// The byte offset of the last place in `head` where a line may be cut: after whitespace, or
/// next to a CJK character. `next` is the character that follows `head`.
fn last_boundary(head: &str, next: char) -> Option<usize> {
    let mut after = next;
    for (i, c) in head.char_indices().rev() {
        let at = i + c.len_utf8();
        if c.is_whitespace() || is_cjk(c) || is_cjk(after) {
            return Some(at);
        }
        after = c;
    }
    None
}

/// Han, kana and CJK punctuation and full-width forms: scripts written without spaces.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3000}'..='\u{30FF}' | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}' | '\u{FF00}'..='\u{FFEF}' | '\u{20000}'..='\u{3FFFF}')
}
