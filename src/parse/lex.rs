//! A lenient tokenizer for XML as publishers write it: what is markup and what is text.
//!
//! It never fails and never backtracks: every byte belongs to exactly one token, so a
//! rewrite that copies the tokens it does not change reproduces the input exactly. Broken
//! constructs become tokens too (`BareLt` for a `<` that opens nothing, `Unterminated` for
//! markup that runs to the end of the body), which is what the repairs and the diagnosis need.

use memchr::{memchr, memchr3, memmem};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Character data between markup, entities unresolved.
    Text,
    /// `<name ...>` or `<name .../>`.
    Start,
    /// `</name>`.
    End,
    Comment,
    CData,
    /// `<?target ...?>`, the XML declaration included.
    Pi,
    /// `<!DOCTYPE ...>` with its internal subset, or another `<!...>` declaration.
    Doctype,
    /// A `<` that starts no markup (as in `a < b`).
    BareLt,
    /// Markup whose end is missing: the body stops inside it.
    Unterminated,
}

#[derive(Debug, Clone, Copy)]
pub struct Token<'a> {
    pub kind: Kind,
    /// Byte offset of `raw` in the document.
    pub start: usize,
    pub raw: &'a str,
}

/// Tokens of `doc`, in order, covering every byte.
#[derive(Clone)]
pub struct Lexer<'a> {
    doc: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(doc: &'a str) -> Self {
        Self { doc, pos: 0 }
    }

    fn token(&mut self, kind: Kind, end: usize) -> Token<'a> {
        let start = self.pos;
        self.pos = end;
        Token {
            kind,
            start,
            raw: &self.doc[start..end],
        }
    }

    /// The end of a tag starting at `self.pos`: after the first `>` outside quotes. A quote
    /// that is never closed does not swallow the document: the tag then ends at the next `>`.
    /// (Each failed search means no quote of that kind follows, so there are at most two.)
    fn tag_end(&self) -> Option<usize> {
        let b = self.doc.as_bytes();
        let mut i = self.pos + 1;
        loop {
            let hit = i + memchr3(b'>', b'"', b'\'', &b[i..])?;
            match b[hit] {
                b'>' => return Some(hit + 1),
                q => match memchr(q, &b[hit + 1..]) {
                    Some(n) => i = hit + 1 + n + 1,
                    None => return memchr(b'>', &b[hit..]).map(|n| hit + n + 1),
                },
            }
        }
    }

    /// The end of a DOCTYPE: the `>` after the internal subset, if there is one.
    fn doctype_end(&self) -> Option<usize> {
        let b = self.doc.as_bytes();
        let mut i = self.pos + 2;
        let mut in_subset = false;
        let mut quote = None;
        while i < b.len() {
            let c = b[i];
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    b'"' | b'\'' => quote = Some(c),
                    b'[' => in_subset = true,
                    b']' => in_subset = false,
                    b'>' if !in_subset => return Some(i + 1),
                    _ => {}
                },
            }
            i += 1;
        }
        None
    }

    fn find_after(&self, from: usize, needle: &[u8]) -> Option<usize> {
        memmem::find(&self.doc.as_bytes()[from..], needle).map(|n| from + n + needle.len())
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let b = self.doc.as_bytes();
        let len = b.len();
        if self.pos >= len {
            return None;
        }
        if b[self.pos] != b'<' {
            let end = memchr(b'<', &b[self.pos..]).map_or(len, |n| self.pos + n);
            return Some(self.token(Kind::Text, end));
        }
        let rest = &b[self.pos..];
        let (kind, end) = if rest.starts_with(b"<!--") {
            (Kind::Comment, self.find_after(self.pos + 4, b"-->"))
        } else if rest.starts_with(b"<![CDATA[") {
            (Kind::CData, self.find_after(self.pos + 9, b"]]>"))
        } else if rest.starts_with(b"<!") {
            (Kind::Doctype, self.doctype_end())
        } else if rest.starts_with(b"<?") {
            (Kind::Pi, self.find_after(self.pos + 2, b"?>"))
        } else if rest.starts_with(b"</") {
            let end = memchr(b'>', &rest[2..]).map(|n| self.pos + 2 + n + 1);
            (Kind::End, end)
        } else if rest.len() > 1 && is_name_start(rest[1]) {
            (Kind::Start, self.tag_end())
        } else {
            return Some(self.token(Kind::BareLt, self.pos + 1));
        };
        Some(match end {
            Some(end) => self.token(kind, end),
            None => self.token(Kind::Unterminated, len),
        })
    }
}

/// Whether `c` may start an element name (any non-ASCII byte is taken as a letter).
pub fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':' || c >= 0x80
}

fn is_name_byte(c: u8) -> bool {
    is_name_start(c) || c.is_ascii_digit() || c == b'-' || c == b'.'
}

/// A start tag taken apart: `<name attrs>` or `<name attrs/>`.
#[derive(Debug, Clone, Copy)]
pub struct Tag<'a> {
    pub name: &'a str,
    /// The raw text between the name and the closing `>` or `/>`.
    pub attrs: &'a str,
    pub self_closing: bool,
}

impl<'a> Tag<'a> {
    /// `raw` is a `Kind::Start` token.
    pub fn parse(raw: &'a str) -> Self {
        let inner = raw.strip_prefix('<').unwrap_or(raw);
        let inner = inner.strip_suffix('>').unwrap_or(inner);
        let (inner, self_closing) = match inner.strip_suffix('/') {
            Some(i) => (i, true),
            None => (inner, false),
        };
        let name_len = inner.bytes().take_while(|&c| is_name_byte(c)).count();
        Self {
            name: &inner[..name_len],
            attrs: &inner[name_len..],
            self_closing,
        }
    }

    /// (prefix, local name); the prefix is empty when there is none.
    pub fn split_name(&self) -> (&'a str, &'a str) {
        split_qname(self.name)
    }

    pub fn attributes(&self) -> Attributes<'a> {
        Attributes {
            s: self.attrs,
            pos: 0,
        }
    }

    pub fn attr(&self, name: &str) -> Option<&'a str> {
        self.attributes().find(|a| a.name == name).map(|a| a.value)
    }
}

/// The name of an end tag token `</name >`.
pub fn end_name(raw: &str) -> &str {
    let inner = raw.strip_prefix("</").unwrap_or(raw);
    let len = inner.bytes().take_while(|&c| is_name_byte(c)).count();
    &inner[..len]
}

/// Whether an element with `prefix` is (likely) Atom's in an Atom document: other
/// vocabularies (`media:content`, `media:title`) have types of their own.
pub fn atom_name(prefix: &str) -> bool {
    prefix.is_empty() || prefix == "atom"
}

pub fn split_qname(name: &str) -> (&str, &str) {
    match name.split_once(':') {
        Some((p, l)) => (p, l),
        None => ("", name),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    pub name: &'a str,
    /// The value as written, without its quotes; always a slice of the tag (empty, just after
    /// the name, for a name without a value), so its offset in the document can be taken.
    pub value: &'a str,
    /// Byte range of the whole `name="value"` within the tag's `attrs`.
    pub span: (usize, usize),
}

/// Attributes of a tag, leniently: unquoted values and names without values are accepted.
pub struct Attributes<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Attr<'a>;

    fn next(&mut self) -> Option<Attr<'a>> {
        let b = self.s.as_bytes();
        let skip_ws = |mut i: usize| {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            i
        };
        let start = skip_ws(self.pos);
        if start >= b.len() {
            return None;
        }
        let mut i = start;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'/' {
            i += 1;
        }
        // A stray quote or `=` where a name belongs: skip one byte and go on.
        let name_end = if i == start { start + 1 } else { i };
        let name = &self.s[start..name_end];
        let mut j = i;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if j >= b.len() || b[j] != b'=' {
            self.pos = name_end;
            return Some(Attr {
                name,
                value: &self.s[name_end..name_end],
                span: (start, name_end),
            });
        }
        j += 1;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        let (value, end) = match b.get(j) {
            Some(&q) if q == b'"' || q == b'\'' => match memchr(q, &b[j + 1..]) {
                Some(n) => (&self.s[j + 1..j + 1 + n], j + 2 + n),
                None => (&self.s[j + 1..], b.len()),
            },
            _ => {
                let mut k = j;
                while k < b.len() && !b[k].is_ascii_whitespace() {
                    k += 1;
                }
                (&self.s[j..k], k)
            }
        };
        self.pos = end;
        Some(Attr {
            name,
            value,
            span: (start, end),
        })
    }
}

/// 1-based line and column of byte `offset` in `doc` (columns count characters).
pub fn line_col(doc: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(doc.len());
    let before = &doc.as_bytes()[..offset];
    let line = memchr::memchr_iter(b'\n', before).count() + 1;
    let line_start = memchr::memrchr(b'\n', before).map_or(0, |n| n + 1);
    let col = doc
        .get(line_start..offset)
        .map_or(offset - line_start, |s| s.chars().count())
        + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(doc: &str) -> Vec<(Kind, &str)> {
        Lexer::new(doc).map(|t| (t.kind, t.raw)).collect()
    }

    #[test]
    fn tokens_cover_every_byte() {
        let doc = "<?xml version=\"1.0\"?>\n<!DOCTYPE rss [<!ENTITY a \"<x>\">]><rss a='>'>t &amp; <![CDATA[<b>]]><!-- c --><x/></rss>";
        let joined: String = Lexer::new(doc).map(|t| t.raw).collect();
        assert_eq!(joined, doc);
        let k = kinds(doc);
        assert_eq!(k[0].0, Kind::Pi);
        assert_eq!(
            k[2],
            (Kind::Doctype, "<!DOCTYPE rss [<!ENTITY a \"<x>\">]>")
        );
        assert_eq!(k[3], (Kind::Start, "<rss a='>'>"));
        assert_eq!(k[5].0, Kind::CData);
        assert_eq!(k[6].0, Kind::Comment);
        assert_eq!(k[7], (Kind::Start, "<x/>"));
        assert_eq!(k[8], (Kind::End, "</rss>"));
    }

    #[test]
    fn broken_markup_becomes_tokens() {
        assert_eq!(
            kinds("a < b <3"),
            [
                (Kind::Text, "a "),
                (Kind::BareLt, "<"),
                (Kind::Text, " b "),
                (Kind::BareLt, "<"),
                (Kind::Text, "3")
            ]
        );
        assert_eq!(
            kinds("<item><title>cut"),
            [
                (Kind::Start, "<item>"),
                (Kind::Start, "<title>"),
                (Kind::Text, "cut")
            ]
        );
        assert_eq!(kinds("<item a=\"x"), [(Kind::Unterminated, "<item a=\"x")]);
        assert_eq!(kinds("<!-- open"), [(Kind::Unterminated, "<!-- open")]);
    }

    #[test]
    fn an_unclosed_quote_ends_the_tag_at_the_next_bracket() {
        let k = kinds("<a title=\"oops><b>x</b></a>");
        assert_eq!(k[0], (Kind::Start, "<a title=\"oops>"));
        assert_eq!(k[1], (Kind::Start, "<b>"));
    }

    #[test]
    fn quotes_pair_across_brackets_as_in_xml() {
        let k = kinds("<a t=\"x>y\"><b>");
        assert_eq!(k[0], (Kind::Start, "<a t=\"x>y\">"));
    }

    #[test]
    fn tags_and_attributes() {
        let t = Tag::parse("<itunes:image href=\"a.jpg\" x='1' flag y=z />");
        assert_eq!(t.split_name(), ("itunes", "image"));
        assert!(t.self_closing);
        let a: Vec<(&str, &str)> = t.attributes().map(|a| (a.name, a.value)).collect();
        assert_eq!(a, [("href", "a.jpg"), ("x", "1"), ("flag", ""), ("y", "z")]);
        assert_eq!(t.attr("x"), Some("1"));
        assert_eq!(end_name("</channel >"), "channel");
    }

    #[test]
    fn positions() {
        assert_eq!(line_col("ab\ncé\nx", 7), (3, 1));
        assert_eq!(line_col("ab\ncéd", 6), (2, 3));
    }
}
