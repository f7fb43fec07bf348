//! What comes before the root element, and values that would crash the parser.

use super::{Fixed, Repair, splice};
use crate::parse::dialect::sniff;
use crate::parse::lex::{Kind, Lexer, Tag, split_qname};
use crate::parse::survey::OVERLONG_DIGITS;

/// Drop junk before the root (a PHP warning, stray text or tags) and keep what XML allows
/// there: the declaration, moved first, then comments, processing instructions, a DOCTYPE.
pub fn clean(doc: &str) -> Option<Fixed> {
    let root = sniff(doc).root;
    let mut decl: Option<&str> = None;
    let mut kept: Vec<&str> = Vec::new();
    let mut junk = false;
    for t in Lexer::new(&doc[..root]) {
        match t.kind {
            Kind::Pi if is_declaration(t.raw) => {
                decl.get_or_insert(t.raw);
            }
            Kind::Pi | Kind::Comment | Kind::Doctype => kept.push(t.raw),
            Kind::Text if t.raw.trim().is_empty() => {}
            _ => junk = true,
        }
    }
    if !junk {
        return None;
    }
    let mut out = String::with_capacity(doc.len() - root + 256);
    for part in decl.into_iter().chain(kept) {
        out.push_str(part);
        out.push('\n');
    }
    out.push_str(&doc[root..]);
    Some(Fixed::one(out, Repair::LeadingJunkRemoved))
}

fn is_declaration(raw: &str) -> bool {
    raw.strip_prefix("<?xml")
        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_whitespace()))
}

/// Drop durations (element text) and media times (`start`, `end`, `time` attributes) with
/// digit runs long enough to overflow feed-rs's duration parser, which panics on them.
pub fn defuse_numbers(doc: &str) -> Option<Fixed> {
    let mut edits: Vec<(usize, usize, &str)> = Vec::new();
    let mut in_duration = false;
    for t in Lexer::new(doc) {
        match t.kind {
            Kind::Text if in_duration && overlong(t.raw) => {
                edits.push((t.start, t.start + t.raw.len(), ""));
            }
            Kind::Start => {
                let tag = Tag::parse(t.raw);
                in_duration = split_qname(tag.name).1 == "duration" && !tag.self_closing;
                for a in tag.attributes() {
                    if matches!(a.name, "start" | "end" | "time") && overlong(a.value) {
                        let at = tag.attrs.as_ptr() as usize - doc.as_ptr() as usize;
                        edits.push((at + a.span.0, at + a.span.1, ""));
                    }
                }
                continue;
            }
            _ => {}
        }
        in_duration = false;
    }
    (!edits.is_empty()).then(|| Fixed::one(splice(doc, &edits), Repair::OverlongNumberRemoved))
}

fn overlong(s: &str) -> bool {
    s.as_bytes()
        .split(|b| !b.is_ascii_digit())
        .any(|run| run.len() >= OVERLONG_DIGITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn php_warnings_before_the_declaration_go() {
        let doc = "<br />\n<b>Warning</b>:  mysql_connect() in <b>/var/www/feed.php</b> on line <b>3</b><br />\n<?xml version=\"1.0\"?>\n<?xml-stylesheet href=\"s.xsl\"?><rss version=\"2.0\"/>";
        let f = clean(doc).expect("junk found");
        assert_eq!(
            f.text,
            "<?xml version=\"1.0\"?>\n<?xml-stylesheet href=\"s.xsl\"?>\n<rss version=\"2.0\"/>"
        );
        assert_eq!(f.repairs, [Repair::LeadingJunkRemoved]);
    }

    #[test]
    fn text_before_a_root_without_declaration_goes() {
        let f = clean("Notice: undefined index\n<!-- generator --><feed/>").expect("junk");
        assert_eq!(f.text, "<!-- generator -->\n<feed/>");
    }

    #[test]
    fn blanks_and_comments_are_not_junk() {
        assert!(clean("\n\n  <?xml version=\"1.0\"?><!-- c --><rss/>").is_none());
    }

    #[test]
    fn overlong_durations_are_dropped() {
        let doc = "<item><itunes:duration>99999999999999999999</itunes:duration><itunes:duration>01:02:03</itunes:duration><media:text start=\"00000000000000000001\" end=\"2\">t</media:text><guid>111234567890123456789</guid></item>";
        let f = defuse_numbers(doc).expect("defused");
        assert_eq!(
            f.text,
            "<item><itunes:duration></itunes:duration><itunes:duration>01:02:03</itunes:duration><media:text  end=\"2\">t</media:text><guid>111234567890123456789</guid></item>"
        );
        assert!(defuse_numbers("<itunes:duration>3600</itunes:duration>").is_none());
    }
}
