//! Atom `type` attributes feed-rs rejects (it fails the whole document on one): MIME types
//! where text/html/xhtml belong, other case, blanks, garbage.

use super::{Fixed, Repair, splice};
use crate::parse::lex::{Kind, Lexer, Tag, atom_name, split_qname};

pub fn normalize(doc: &str) -> Option<Fixed> {
    let mut edits: Vec<(usize, usize, &'static str)> = Vec::new();
    for t in Lexer::new(doc).filter(|t| t.kind == Kind::Start) {
        let tag = Tag::parse(t.raw);
        let (prefix, local) = split_qname(tag.name);
        if !atom_name(prefix) {
            continue;
        }
        let content = local == "content";
        if !(content || matches!(local, "title" | "subtitle" | "summary" | "rights")) {
            continue;
        }
        let Some(a) = tag.attributes().find(|a| a.name == "type") else {
            continue;
        };
        if content && tag.attr("src").is_some() {
            continue;
        }
        if let Some(fixed) = fixed_type(a.value, content) {
            // The whole attribute is rewritten: a bare `type` has no value to replace.
            let at = tag.attrs.as_ptr() as usize - doc.as_ptr() as usize;
            edits.push((at + a.span.0, at + a.span.1, fixed));
        }
    }
    (!edits.is_empty()).then(|| Fixed::one(splice(doc, &edits), Repair::AtomTypeNormalized))
}

/// The `type` attribute to write instead of `type="ty"`, or `None` when feed-rs takes `ty`
/// as it is.
fn fixed_type(ty: &str, content: bool) -> Option<&'static str> {
    if matches!(ty, "text" | "html" | "xhtml" | "text/html") {
        return None;
    }
    let t = ty.trim().to_ascii_lowercase();
    let t = t.split(';').next().unwrap_or("").trim();
    if content && (t.ends_with("+xml") || t.ends_with("/xml")) && t != "application/xhtml+xml" {
        return None;
    }
    Some(match t {
        "html" | "text/html" | "escaped" => "type=\"html\"",
        "xhtml" | "application/xhtml+xml" => "type=\"xhtml\"",
        _ => "type=\"text\"",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_types_become_text_html_or_xhtml() {
        let doc = r#"<feed><title type="text/plain">a</title><subtitle type="">b</subtitle><summary type="HTML">c</summary><rights type="application/xhtml+xml"><div>d</div></rights><content type="text/html; charset=utf-8">e</content><content type="x y z">f</content><media:content type="video/mp4"/></feed>"#;
        let f = normalize(doc).expect("normalized");
        assert_eq!(
            f.text,
            r#"<feed><title type="text">a</title><subtitle type="text">b</subtitle><summary type="html">c</summary><rights type="xhtml"><div>d</div></rights><content type="html">e</content><content type="text">f</content><media:content type="video/mp4"/></feed>"#
        );
    }

    /// Found by fuzzing: a `type` without a value took its offset from a string elsewhere.
    #[test]
    fn a_type_without_a_value_becomes_text() {
        let f = normalize("<entry><content type></content><title type/></entry>").expect("fixed");
        assert_eq!(
            f.text,
            "<entry><content type=\"text\"></content><title type=\"text\"/></entry>"
        );
    }

    #[test]
    fn valid_types_stay() {
        let doc = r#"<entry><title type="html">a</title><content type="image/png" src="a.png"/><content type="application/atom+xml"><x/></content><link type="text/plain" href="x"/></entry>"#;
        assert!(normalize(doc).is_none());
    }
}
