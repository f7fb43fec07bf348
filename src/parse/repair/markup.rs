//! HTML written unescaped inside elements that hold text (`<description>Hello <b>world</b>
//! </description>`): feed-rs keeps only the text before the first tag. Wrapping the inner
//! markup in CDATA makes it the element's text, which is what the publisher meant.

use super::{Fixed, Repair, splice};
use crate::parse::lex::{Kind, Lexer, Tag, atom_name, end_name, split_qname};

/// Whether an element of an RSS (`atom == false`) or Atom document holds text (or HTML as
/// text), so that child elements in it are unescaped markup.
pub fn holds_text(tag: &Tag<'_>, atom: bool) -> bool {
    let (prefix, local) = split_qname(tag.name);
    if atom {
        let construct = matches!(
            local,
            "title" | "subtitle" | "summary" | "content" | "rights"
        );
        let ty = tag.attr("type").unwrap_or("text");
        return construct
            && atom_name(prefix)
            && ty != "xhtml"
            && !ty.ends_with("xml")
            && tag.attr("src").is_none();
    }
    matches!(
        (prefix, local),
        ("", "title" | "description") | ("content", "encoded") | ("itunes", "summary")
    ) || (prefix == "dc" && local == "description")
}

pub fn wrap(doc: &str, atom: bool) -> Option<Fixed> {
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut lexer = Lexer::new(doc);
    while let Some(t) = lexer.next() {
        if t.kind != Kind::Start {
            continue;
        }
        let tag = Tag::parse(t.raw);
        if tag.self_closing || !holds_text(&tag, atom) {
            continue;
        }
        let inner_start = t.start + t.raw.len();
        let mut ahead = lexer.clone();
        let mut nested = 0usize;
        let mut markup = false;
        let inner_end = loop {
            let Some(n) = ahead.next() else {
                // No end tag: a truncated or broken document, not this repair's to fix.
                return finish(doc, edits);
            };
            match n.kind {
                Kind::Start => {
                    markup = true;
                    let inner = Tag::parse(n.raw);
                    nested += usize::from(inner.name == tag.name && !inner.self_closing);
                }
                Kind::End if end_name(n.raw) == tag.name => {
                    if nested == 0 {
                        break n.start;
                    }
                    nested -= 1;
                }
                Kind::End => markup = true,
                _ => {}
            }
        };
        if markup {
            let inner = &doc[inner_start..inner_end];
            let cdata = format!("<![CDATA[{}]]>", inner.replace("]]>", "]]]]><![CDATA[>"));
            edits.push((inner_start, inner_end, cdata));
            lexer = ahead;
        }
    }
    finish(doc, edits)
}

fn finish(doc: &str, edits: Vec<(usize, usize, String)>) -> Option<Fixed> {
    (!edits.is_empty()).then(|| Fixed::one(splice(doc, &edits), Repair::InlineMarkupWrapped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescaped_html_becomes_text() {
        let doc = "<item><title>A <i>b</i></title><description>Hello <b>world</b> <br/>and]]>more</description><guid>g</guid><content:encoded><p>P</p></content:encoded></item>";
        let f = wrap(doc, false).expect("wrapped");
        assert_eq!(
            f.text,
            "<item><title><![CDATA[A <i>b</i>]]></title><description><![CDATA[Hello <b>world</b> <br/>and]]]]><![CDATA[>more]]></description><guid>g</guid><content:encoded><![CDATA[<p>P</p>]]></content:encoded></item>"
        );
    }

    #[test]
    fn atom_text_constructs_but_not_xhtml() {
        let doc = r#"<entry><summary type="html">Hi <b>x</b></summary><content type="xhtml"><div>ok</div></content><title>t</title></entry>"#;
        let f = wrap(doc, true).expect("wrapped");
        assert_eq!(
            f.text,
            r#"<entry><summary type="html"><![CDATA[Hi <b>x</b>]]></summary><content type="xhtml"><div>ok</div></content><title>t</title></entry>"#
        );
    }

    #[test]
    fn text_only_elements_and_broken_ones_are_left_alone() {
        assert!(wrap("<item><title>plain &amp; simple</title></item>", false).is_none());
        assert!(wrap("<item><description>cut <b>here", false).is_none());
    }
}
