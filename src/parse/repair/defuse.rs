//! Values that crash feed-rs 3.0, made harmless before it sees them (a caught panic is
//! still a panic): durations whose digits overflow its duration parser, and e-mail
//! addresses next to a non-ASCII character, where its name/e-mail split slices a string
//! inside a character.

use super::{Fixed, Repair, splice};
use crate::parse::lex::{Kind, Lexer, Tag, split_qname};

/// Digits in a row past which a duration overflows feed-rs's parser.
pub const OVERLONG_DIGITS: usize = 16;

pub fn overlong(s: &str) -> bool {
    s.as_bytes()
        .split(|b| !b.is_ascii_digit())
        .any(|run| run.len() >= OVERLONG_DIGITS)
}

/// Elements whose text feed-rs splits into a name and an e-mail address (`name` for
/// `itunes:owner`). Only the first text or CDATA after the start tag is checked: feed-rs
/// also joins text across a comment, a case left to its panic guard.
pub fn is_person(local: &str) -> bool {
    matches!(
        local,
        "author" | "managingEditor" | "webMaster" | "creator" | "name"
    )
}

/// Offsets in `s` where a space must go between an e-mail address and the character next
/// to it: one that is not ASCII, or a character reference that may resolve to one.
pub fn email_edges(s: &str) -> Vec<usize> {
    let b = s.as_bytes();
    let local = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
    let domain = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-';
    let mut out = Vec::new();
    for at in memchr::memchr_iter(b'@', b) {
        let mut start = at;
        while start > 0 && local(b[start - 1]) {
            start -= 1;
        }
        // The crate's pattern also takes "mailto:" and "<[(" before, ">])" after.
        for prefix in [&b"mailto:"[..], b"<[("] {
            if b[..start].ends_with(prefix) {
                start -= prefix.len();
            }
        }
        let mut end = at + 1;
        while end < b.len() && domain(b[end]) {
            end += 1;
        }
        if b[end..].starts_with(b">])") {
            end += 3;
        }
        if start > 0 && (b[start - 1] >= 0x80 || b[start - 1] == b';') {
            out.push(start);
        }
        if end < b.len() && (b[end] >= 0x80 || b[end] == b'&') {
            out.push(end);
        }
    }
    out.dedup();
    out
}

/// Whether a person element's text or a duration needs defusing.
pub fn needs(local: &str, text: &str) -> bool {
    (local == "duration" && overlong(text)) || (is_person(local) && !email_edges(text).is_empty())
}

pub fn defuse(doc: &str) -> Option<Fixed> {
    let mut edits: Vec<(usize, usize, &str)> = Vec::new();
    let (mut numbers, mut emails) = (false, false);
    let mut open: Option<&str> = None;
    for t in Lexer::new(doc) {
        match t.kind {
            Kind::Text | Kind::CData if open.is_some() => {
                let local = open.take().unwrap_or_default();
                if local == "duration" && overlong(t.raw) {
                    numbers = true;
                    edits.push((t.start, t.start + t.raw.len(), ""));
                } else if is_person(local) {
                    for at in email_edges(t.raw) {
                        emails = true;
                        edits.push((t.start + at, t.start + at, " "));
                    }
                }
            }
            Kind::Start => {
                let tag = Tag::parse(t.raw);
                let local = split_qname(tag.name).1;
                open = (!tag.self_closing && (local == "duration" || is_person(local)))
                    .then_some(local);
                for a in tag.attributes() {
                    if matches!(a.name, "start" | "end" | "time") && overlong(a.value) {
                        numbers = true;
                        let at = tag.attrs.as_ptr() as usize - doc.as_ptr() as usize;
                        edits.push((at + a.span.0, at + a.span.1, ""));
                    }
                }
            }
            _ => open = None,
        }
    }
    let repairs: Vec<Repair> = [
        (numbers, Repair::OverlongNumberRemoved),
        (emails, Repair::EmailSeparated),
    ]
    .into_iter()
    .filter_map(|(done, r)| done.then_some(r))
    .collect();
    (!repairs.is_empty()).then(|| Fixed {
        text: splice(doc, &edits),
        repairs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlong_durations_are_dropped() {
        let doc = "<item><itunes:duration>99999999999999999999</itunes:duration><itunes:duration>01:02:03</itunes:duration><media:text start=\"00000000000000000001\" end=\"2\">t</media:text><guid>111234567890123456789</guid></item>";
        let f = defuse(doc).expect("defused");
        assert_eq!(
            f.text,
            "<item><itunes:duration></itunes:duration><itunes:duration>01:02:03</itunes:duration><media:text  end=\"2\">t</media:text><guid>111234567890123456789</guid></item>"
        );
        assert_eq!(f.repairs, [Repair::OverlongNumberRemoved]);
        assert!(defuse("<itunes:duration>3600</itunes:duration>").is_none());
    }

    #[test]
    fn emails_next_to_non_ascii_get_a_space() {
        assert_eq!(email_edges("«jane@example.org»"), [2, 18]);
        assert_eq!(email_edges("&#171;jane@example.org&#187;"), [6, 22]);
        assert_eq!(
            email_edges("jane@example.org (Jane Doe)"),
            Vec::<usize>::new()
        );
        assert_eq!(
            email_edges("Zoë Hahn <mailto:zoe@x.org>"),
            Vec::<usize>::new()
        );
        let f = defuse("<item><author>«jane@example.org» Jane</author><dc:creator><![CDATA[x@y.org—Y]]></dc:creator></item>").expect("defused");
        assert_eq!(
            f.text,
            "<item><author>« jane@example.org » Jane</author><dc:creator><![CDATA[x@y.org —Y]]></dc:creator></item>"
        );
        assert_eq!(f.repairs, [Repair::EmailSeparated]);
    }
}
