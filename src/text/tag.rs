//! Tags: what an element name means for plain text, and how a start or end tag is read
//! (HTML5's attribute rules: quoted values may hold `>`, a tag cut off by the end of input is
//! dropped). Each call looks at the bytes of one tag once.

use std::borrow::Cow;

use memchr::memchr;

use super::entities;

/// What an element means for plain text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// No effect of its own: `a`, `b`, `span`, `font`, unknown names.
    Inline,
    /// Starts and ends a line.
    Block,
    /// A block whose line feeds end lines.
    Pre,
    /// `br`: ends a line.
    Break,
    /// A table cell: separated from its neighbours by a space.
    Cell,
    /// `img`: shows nothing, unless its `alt` is a symbol (an emoji image).
    Image,
    /// Unparsed text up to its end tag, dropped: `script`, `style`, `title`…
    Raw,
    /// Markup whose whole content is dropped: `svg`, `template`, `select`…
    Hidden,
}

/// A tag name, lowercased. Longer names than any we treat specially are not kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Name {
    buf: [u8; 10],
    len: u8,
}

impl Name {
    pub(super) fn new(raw: &[u8]) -> Option<Name> {
        let mut buf = [0u8; 10];
        buf.get_mut(..raw.len())?.copy_from_slice(raw);
        buf.make_ascii_lowercase();
        Some(Name {
            buf,
            len: raw.len() as u8,
        })
    }

    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    pub(super) fn kind(&self) -> Kind {
        match self.as_bytes() {
            b"address" | b"article" | b"aside" | b"blockquote" | b"caption" | b"center" | b"dd"
            | b"details" | b"dialog" | b"dir" | b"div" | b"dl" | b"dt" | b"fieldset"
            | b"figcaption" | b"figure" | b"footer" | b"form" | b"h1" | b"h2" | b"h3" | b"h4"
            | b"h5" | b"h6" | b"header" | b"hgroup" | b"hr" | b"legend" | b"li" | b"main"
            | b"menu" | b"nav" | b"ol" | b"p" | b"search" | b"section" | b"summary" | b"table"
            | b"tbody" | b"tfoot" | b"thead" | b"tr" | b"ul" => Kind::Block,
            b"pre" | b"listing" | b"plaintext" => Kind::Pre,
            b"br" => Kind::Break,
            b"td" | b"th" => Kind::Cell,
            b"img" => Kind::Image,
            b"script" | b"style" | b"title" | b"textarea" | b"noscript" | b"iframe"
            | b"noembed" | b"noframes" | b"xmp" => Kind::Raw,
            b"template" | b"svg" | b"math" | b"select" | b"audio" | b"video" => Kind::Hidden,
            _ => Kind::Inline,
        }
    }

    /// SVG and MathML honour `<svg/>` and end where HTML content resumes.
    pub(super) fn is_foreign(&self) -> bool {
        matches!(self.as_bytes(), b"svg" | b"math")
    }

    /// The HTML start tags that end foreign content (HTML5 §13.2.6.5): an unclosed `<svg>`
    /// must not swallow the article after it.
    pub(super) fn breaks_out_of_foreign(&self) -> bool {
        matches!(
            self.as_bytes(),
            b"b" | b"big"
                | b"blockquote"
                | b"body"
                | b"br"
                | b"center"
                | b"code"
                | b"dd"
                | b"div"
                | b"dl"
                | b"dt"
                | b"em"
                | b"embed"
                | b"h1"
                | b"h2"
                | b"h3"
                | b"h4"
                | b"h5"
                | b"h6"
                | b"head"
                | b"hr"
                | b"i"
                | b"img"
                | b"li"
                | b"listing"
                | b"menu"
                | b"meta"
                | b"nobr"
                | b"ol"
                | b"p"
                | b"pre"
                | b"ruby"
                | b"s"
                | b"small"
                | b"span"
                | b"strong"
                | b"strike"
                | b"sub"
                | b"sup"
                | b"table"
                | b"tt"
                | b"u"
                | b"ul"
                | b"var"
        )
    }
}

/// A parsed start or end tag.
pub(super) struct Tag {
    pub(super) name: Option<Name>,
    /// Index just past the closing `>`.
    pub(super) end: usize,
    pub(super) self_closing: bool,
    /// Byte range of the first `alt` value, for `img` only.
    pub(super) alt: Option<(usize, usize)>,
}

impl Tag {
    pub(super) fn kind(&self) -> Kind {
        self.name.map_or(Kind::Inline, |n| n.kind())
    }
}

pub(super) fn is_blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0C')
}

/// Parses the tag whose name starts at `at` (just after `<` or `</`). `None` when the input
/// ends inside the tag: HTML5 drops such a tag, which is also what a truncated summary needs.
pub(super) fn parse_tag(b: &[u8], at: usize) -> Option<Tag> {
    let name_end = at
        + b[at..]
            .iter()
            .position(|&c| is_blank(c) || c == b'/' || c == b'>')?;
    let name = Name::new(&b[at..name_end]);
    let is_img = name.is_some_and(|n| n.as_bytes() == b"img");
    let mut alt = None;
    let mut self_closing = false;
    let mut i = name_end;
    loop {
        match *b.get(i)? {
            b'>' => {
                return Some(Tag {
                    name,
                    end: i + 1,
                    self_closing,
                    alt,
                });
            }
            b'/' => {
                self_closing = true;
                i += 1;
                continue;
            }
            c if is_blank(c) => {
                self_closing = false;
                i += 1;
                continue;
            }
            _ => self_closing = false,
        }
        // An attribute: its name (which may start with `=`), then perhaps `=` and a value.
        let name_start = i;
        i += 1;
        while !matches!(*b.get(i)?, b'/' | b'>' | b'=') && !is_blank(b[i]) {
            i += 1;
        }
        let attr_name = &b[name_start..i];
        while is_blank(*b.get(i)?) {
            i += 1;
        }
        let value = if b[i] != b'=' {
            (i, i) // no value
        } else {
            i += 1;
            while is_blank(*b.get(i)?) {
                i += 1;
            }
            attribute_value(b, &mut i)?
        };
        if is_img && alt.is_none() && attr_name.eq_ignore_ascii_case(b"alt") {
            alt = Some(value);
        }
    }
}

/// Reads the value starting at `*i`, leaving `*i` just past it; `None` at the end of input.
fn attribute_value(b: &[u8], i: &mut usize) -> Option<(usize, usize)> {
    Some(match b[*i] {
        q @ (b'"' | b'\'') => {
            let close = *i + 1 + memchr(q, &b[*i + 1..])?;
            let v = (*i + 1, close);
            *i = close + 1;
            v
        }
        b'>' => (*i, *i),
        _ => {
            let start = *i;
            while !is_blank(*b.get(*i)?) && b[*i] != b'>' {
                *i += 1;
            }
            (start, *i)
        }
    })
}

/// Decodes the references in an attribute value.
pub(super) fn decode_attribute(raw: &str) -> Cow<'_, str> {
    if !raw.contains('&') {
        return Cow::Borrowed(raw);
    }
    let b = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while let Some(n) = memchr(b'&', &b[i..]) {
        out.push_str(&raw[i..i + n]);
        i += n;
        match entities::decode(&b[i..], true) {
            Some((d, used)) => {
                d.push_to(&mut out);
                i += used;
            }
            None => {
                out.push('&');
                i += 1;
            }
        }
    }
    out.push_str(&raw[i..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(s: &str) -> Option<(Option<String>, usize, bool, Option<String>)> {
        parse_tag(s.as_bytes(), 1).map(|t| {
            let name = t
                .name
                .map(|n| String::from_utf8_lossy(n.as_bytes()).into_owned());
            let alt = t.alt.map(|(a, z)| s[a..z].to_string());
            (name, t.end, t.self_closing, alt)
        })
    }

    #[test]
    fn names_are_lowercased_and_long_ones_are_not_special() {
        assert_eq!(tag("<DIV>"), Some((Some("div".into()), 5, false, None)));
        assert_eq!(tag("<o:p>"), Some((Some("o:p".into()), 5, false, None)));
        assert_eq!(tag("<averyveryverylongname>").map(|t| t.0), Some(None));
        assert_eq!(
            Name::new(b"FigCaption").map(|n| n.kind()),
            Some(Kind::Block)
        );
        assert_eq!(Name::new(b"span").map(|n| n.kind()), Some(Kind::Inline));
    }

    #[test]
    fn quoted_values_may_hold_angle_brackets_and_quotes_of_the_other_kind() {
        let s = r#"<a title="a > b" data-x='say "hi" >' href=/x?a=1&b=2>"#;
        assert_eq!(tag(s).map(|t| t.1), Some(s.len()));
        let s = "<p\nclass = \"x\"\n>";
        assert_eq!(tag(s).map(|t| t.1), Some(s.len()));
    }

    #[test]
    fn self_closing_needs_the_slash_right_before_the_bracket() {
        assert_eq!(tag("<svg/>").map(|t| t.2), Some(true));
        assert_eq!(tag("<svg class=\"i\" />").map(|t| t.2), Some(true));
        assert_eq!(tag("<svg / >").map(|t| t.2), Some(false));
        // An unquoted value takes the slash, as in HTML5.
        assert_eq!(tag("<svg class=i/>").map(|t| t.2), Some(false));
    }

    #[test]
    fn the_first_alt_of_an_img_is_kept() {
        assert_eq!(
            tag("<img src=x ALT='one' alt=two>").and_then(|t| t.3),
            Some("one".into())
        );
        assert_eq!(tag("<img alt>").and_then(|t| t.3), Some(String::new()));
        assert_eq!(tag("<img alt=>").and_then(|t| t.3), Some(String::new()));
        assert_eq!(tag("<a alt=x>").and_then(|t| t.3), None);
    }

    #[test]
    fn a_tag_cut_off_by_the_end_of_input_is_none() {
        for s in [
            "<a",
            "<a href",
            "<a href=",
            "<a href=\"x",
            "<a href=x",
            "<a b c /",
        ] {
            assert!(tag(s).is_none(), "{s}");
        }
    }

    #[test]
    fn attribute_references_follow_the_attribute_rules() {
        assert_eq!(
            decode_attribute("a&amp;b &copy=1 &copy 2 &lt;"),
            "a&b &copy=1 © 2 <"
        );
        assert!(matches!(decode_attribute("plain"), Cow::Borrowed("plain")));
    }
}
