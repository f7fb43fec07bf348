//! A streaming HTML tokenizer that renders as it reads: one pass, no tree, no stack. It decides
//! what markup means for plain text — which elements end lines, which hide their content, how
//! tags, comments and references are recognised (HTML5's tokenizer rules, simplified where
//! only the text matters).
//!
//! The only state that grows with nesting is a pair of counters: open `<pre>` elements, and
//! the depth of the hidden element (`<svg>`, `<template>`…) being skipped. Every byte is
//! looked at a bounded number of times, so time is linear in the input whatever its shape.

use memchr::{memchr, memchr2, memmem};

use super::entities::{self, Decoded};
use super::lines::Lines;
use super::tag::{Kind, Name, Tag, decode_attribute, is_blank, parse_tag};

/// Renders an HTML fragment (or document) as lines of text; see [`super::html_to_text`].
pub(super) fn render(s: &str) -> String {
    let mut r = Renderer {
        s,
        b: s.as_bytes(),
        pos: 0,
        out: Lines::with_capacity(s.len()),
        pre: 0,
        hidden: None,
        cdata_end: None,
        no_cdata_end: false,
    };
    r.run();
    r.out.finish()
}

struct Renderer<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    out: Lines,
    /// How many `<pre>` are open: their line feeds end lines.
    pre: u32,
    /// The element whose content is being dropped, and how deeply it nests in itself.
    hidden: Option<(Name, u32)>,
    /// Where the open `<![CDATA[` section ends (its `]]>`).
    cdata_end: Option<usize>,
    /// Set once a search found no `]]>` in the rest of the input.
    no_cdata_end: bool,
}

impl Renderer<'_> {
    fn run(&mut self) {
        let len = self.b.len();
        while self.pos < len {
            if self.cdata_end.is_some_and(|e| self.pos > e) {
                self.cdata_end = None; // its `]]>` was inside a tag or comment
            }
            let limit = self.cdata_end.unwrap_or(len);
            let hay = &self.b[self.pos..limit];
            let next = if self.hidden.is_some() {
                memchr(b'<', hay)
            } else {
                memchr2(b'<', b'&', hay)
            };
            let Some(n) = next else {
                self.text(self.pos, limit);
                self.pos = limit;
                if self.cdata_end.take().is_some() {
                    self.pos += "]]>".len();
                }
                continue;
            };
            let at = self.pos + n;
            self.text(self.pos, at);
            self.pos = at;
            if self.b[at] == b'<' {
                self.markup();
            } else {
                self.reference();
            }
        }
    }

    fn text(&mut self, from: usize, to: usize) {
        if self.hidden.is_none() && from < to {
            self.out.text(&self.s[from..to], self.pre > 0);
        }
    }

    fn literal(&mut self, s: &str) {
        if self.hidden.is_none() {
            self.out.text(s, self.pre > 0);
        }
    }

    fn reference(&mut self) {
        match entities::decode(&self.b[self.pos..], false) {
            Some((d, used)) => {
                let mut buf = [0u8; 4];
                let s = match d {
                    Decoded::Str(s) => s,
                    Decoded::Char(c) => c.encode_utf8(&mut buf),
                };
                self.out.text(s, self.pre > 0);
                self.pos += used;
            }
            None => {
                self.out.text("&", false);
                self.pos += 1;
            }
        }
    }

    /// At a `<`: a tag, a comment or declaration, or a literal `<`.
    fn markup(&mut self) {
        let b = self.b;
        let at = self.pos;
        match b.get(at + 1) {
            Some(b'!') => self.declaration(),
            Some(b'?') => self.bogus_comment(at + 2),
            Some(b'/') => match b.get(at + 2) {
                Some(c) if c.is_ascii_alphabetic() => self.tag(at + 2, true),
                Some(b'>') => self.pos += 3,
                Some(_) => self.bogus_comment(at + 2),
                None => {
                    self.literal("</");
                    self.pos = b.len();
                }
            },
            Some(c) if c.is_ascii_alphabetic() => self.tag(at + 1, false),
            _ => {
                self.literal("<");
                self.pos += 1;
            }
        }
    }

    /// At `<!`: a comment, a CDATA section, or a doctype (skipped like any bogus comment).
    fn declaration(&mut self) {
        let rest = &self.b[self.pos..];
        if let Some(body) = rest.strip_prefix(b"<!--") {
            self.pos += 4 + if body.starts_with(b">") {
                1 // `<!-->` is a whole (empty) comment
            } else if body.starts_with(b"->") {
                2
            } else {
                memmem::find(body, b"-->").map_or(body.len(), |e| e + 3)
            };
        } else if rest.starts_with(b"<![CDATA[") {
            // The markers vanish and the content reads as HTML: a CDATA section here is the
            // XML wrapping of a double-escaped description.
            self.pos += 9;
            if self.cdata_end.is_none() && !self.no_cdata_end {
                match memmem::find(&self.b[self.pos..], b"]]>") {
                    Some(e) => self.cdata_end = Some(self.pos + e),
                    None => self.no_cdata_end = true,
                }
            }
        } else {
            self.bogus_comment(self.pos + 2);
        }
    }

    fn bogus_comment(&mut self, from: usize) {
        self.pos = memchr(b'>', &self.b[from..]).map_or(self.b.len(), |e| from + e + 1);
    }

    fn tag(&mut self, name_at: usize, is_end: bool) {
        let Some(tag) = parse_tag(self.b, name_at) else {
            self.pos = self.b.len();
            return;
        };
        self.pos = tag.end;
        if let Some((hidden, depth)) = self.hidden {
            self.hidden_tag(&tag, is_end, hidden, depth);
        } else if is_end {
            self.end_tag(tag.kind());
        } else {
            self.start_tag(&tag);
        }
    }

    fn start_tag(&mut self, tag: &Tag) {
        match tag.kind() {
            Kind::Inline => {}
            Kind::Block | Kind::Break => self.out.line_break(),
            Kind::Pre => {
                self.out.line_break();
                self.pre = self.pre.saturating_add(1);
            }
            Kind::Cell => self.out.space(),
            Kind::Image => self.image(tag),
            Kind::Raw => self.skip_raw(tag.name),
            Kind::Hidden => {
                if let Some(name) = tag.name.filter(|n| !(tag.self_closing && n.is_foreign())) {
                    self.hidden = Some((name, 1));
                }
            }
        }
    }

    fn end_tag(&mut self, kind: Kind) {
        match kind {
            // `</br>` is read as `<br>`, as browsers do.
            Kind::Block | Kind::Break => self.out.line_break(),
            Kind::Pre => {
                self.out.line_break();
                self.pre = self.pre.saturating_sub(1);
            }
            Kind::Cell => self.out.space(),
            Kind::Inline | Kind::Image | Kind::Raw | Kind::Hidden => {}
        }
    }

    /// A tag inside a hidden element: only its own name (nesting) and raw text matter.
    fn hidden_tag(&mut self, tag: &Tag, is_end: bool, hidden: Name, depth: u32) {
        if tag.name == Some(hidden) {
            if is_end {
                self.hidden = (depth > 1).then_some((hidden, depth - 1));
            } else if !(tag.self_closing && hidden.is_foreign()) {
                self.hidden = Some((hidden, depth.saturating_add(1)));
            }
        } else if is_end {
            // Other end tags do not matter in here.
        } else if hidden.is_foreign() && tag.name.is_some_and(|n| n.breaks_out_of_foreign()) {
            self.hidden = None;
            self.start_tag(tag);
        } else if tag.kind() == Kind::Raw {
            self.skip_raw(tag.name);
        }
    }

    /// Skips the content of a raw text element up to (not past) its end tag.
    fn skip_raw(&mut self, name: Option<Name>) {
        let Some(name) = name else { return };
        let name = name.as_bytes();
        let b = self.b;
        let mut i = self.pos;
        while let Some(n) = memchr(b'<', &b[i..]) {
            let at = i + n;
            let closes = b.get(at + 1) == Some(&b'/')
                && b.get(at + 2..at + 2 + name.len())
                    .is_some_and(|t| t.eq_ignore_ascii_case(name))
                && b.get(at + 2 + name.len())
                    .is_some_and(|&c| is_blank(c) || c == b'/' || c == b'>');
            if closes {
                self.pos = at;
                return;
            }
            i = at + 1;
        }
        self.pos = b.len();
    }

    /// Images show nothing, except one whose `alt` is only symbols: the emoji that WordPress
    /// and Twitter embeds replace with images, which readers expect to keep.
    fn image(&mut self, tag: &Tag) {
        let Some((from, to)) = tag.alt else { return };
        let alt = decode_attribute(&self.s[from..to]);
        let alt = alt.trim();
        let symbolic = !alt.is_empty()
            && alt.chars().count() <= 16
            && alt.chars().all(|c| !c.is_ascii() && !c.is_alphanumeric());
        if symbolic {
            self.out.text(alt, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_in_any_case_with_quoted_angle_brackets() {
        assert_eq!(
            render("<P CLASS=x>one</p><Div title=\"a>b\" data-x='<p>'>two</DIV>"),
            "one\ntwo"
        );
        assert_eq!(
            render("<a href=x>link</a> <a href=\"y\"title=z>two</a>"),
            "link two"
        );
        assert_eq!(render("<p =weird a=b/c d = 'e' f>x</p>"), "x");
    }

    #[test]
    fn a_less_than_that_starts_no_tag_is_text() {
        assert_eq!(
            render("a < b, <3 and <= 4 &amp; <>"),
            "a < b, <3 and <= 4 & <>"
        );
        assert_eq!(render("x </ y> z"), "x z"); // a bogus comment, as in HTML5
        assert_eq!(render("ends with <"), "ends with <");
        assert_eq!(render("ends with </"), "ends with </");
    }

    #[test]
    fn a_tag_cut_off_by_the_end_of_input_is_dropped() {
        assert_eq!(
            render("Read the full <a href=\"https://exa"),
            "Read the full"
        );
        assert_eq!(render("a <b c"), "a");
        assert_eq!(render("cut <p title='x>y"), "cut");
    }

    #[test]
    fn unclosed_and_stray_tags() {
        assert_eq!(
            render("<p>Unclosed <b>bold <i>italic"),
            "Unclosed bold italic"
        );
        assert_eq!(render("</div></p>stray</span> end</>"), "stray end");
        assert_eq!(render("<p>one<p>two<li>three"), "one\ntwo\nthree");
    }

    #[test]
    fn comments_doctype_and_processing_instructions_vanish() {
        assert_eq!(
            render("<!DOCTYPE html><!-- a <p>comment</p> -->x<?php echo 1 ?>y<!-->z<!--->w"),
            "xyzw"
        );
        assert_eq!(render("a<!-- unterminated <p>b</p>"), "a");
        assert_eq!(render("a<!bogus>b</!x>c"), "abc");
        assert_eq!(render("a</3>b"), "ab");
    }

    #[test]
    fn cdata_markers_vanish_and_the_content_reads_as_html() {
        assert_eq!(
            render("<![CDATA[<p>First</p><p>Second</p>]]>"),
            "First\nSecond"
        );
        assert_eq!(render("a<![CDATA[b &amp; c]]>d ]]> e"), "ab & cd ]]> e");
        assert_eq!(render("<![CDATA[no end"), "no end");
        assert_eq!(render("<![CDATA[x<a title=\"]]>\">y</a>"), "xy");
    }

    #[test]
    fn raw_text_elements_are_dropped_up_to_their_own_end_tag() {
        assert_eq!(
            render("<script>if (a</b) document.write('<p>no</p>');</SCRIPT >kept"),
            "kept"
        );
        assert_eq!(render("<style>p{}</styles></style>x"), "x");
        assert_eq!(
            render("<title>Page</title><textarea><b>x</b></textarea>y"),
            "y"
        );
        assert_eq!(
            render("<noscript><img src=x alt='😀'><p>Enable JS</p></noscript>z"),
            "z"
        );
        assert_eq!(
            render("<iframe src=v>fallback</iframe>w<script>never closed"),
            "w"
        );
    }

    #[test]
    fn hidden_elements_drop_their_content_and_count_their_own_nesting() {
        assert_eq!(
            render("<svg><svg><text>in</text></svg><text>still in</text></svg>out"),
            "out"
        );
        assert_eq!(
            render("<template><p>a<template>b</template>c</p></template>d"),
            "d"
        );
        assert_eq!(
            render("<select><option>One<option>Two</select>after"),
            "after"
        );
        assert_eq!(
            render("<video src=v.mp4>Your browser does not support video.</video>ok"),
            "ok"
        );
        assert_eq!(render("<math><mi>x</mi></math>m"), "m");
    }

    #[test]
    fn foreign_content_self_closes_and_ends_where_html_resumes() {
        assert_eq!(
            render("<svg class=\"icon\"/>Share<svg><svg/></svg> this"),
            "Share this"
        );
        assert_eq!(
            render("<svg><path d='M0'><p>The article</p>"),
            "The article"
        );
        assert_eq!(render("<template/>gone"), "");
    }

    #[test]
    fn pre_keeps_its_lines_and_collapses_the_rest() {
        assert_eq!(
            render("<p>Code:</p><pre>  let x = 1;\n\n    x +  1\r\n</pre>after\nthe pre"),
            "Code:\nlet x = 1;\nx + 1\nafter the pre"
        );
        assert_eq!(
            render("<pre><pre>a\nb</pre>c\nd</pre>e\nf"),
            "a\nb\nc\nd\ne f"
        );
        assert_eq!(render("</pre>a\nb"), "a b");
    }

    #[test]
    fn emoji_images_keep_their_alt_and_other_images_vanish() {
        assert_eq!(
            render(
                "Great <img draggable=\"false\" role=\"img\" class=\"emoji\" alt=\"🎉\" src=\"https://s.w.org/images/core/emoji/15.0.3/72x72/1f389.png\"> news"
            ),
            "Great 🎉 news"
        );
        assert_eq!(render("<img alt=\"&#x1F1FA;&#x1F1F8;\" src=f.png>"), "🇺🇸");
        assert_eq!(
            render("<img src=a.jpg alt=\"Minister Wang Yi\"><p>Text</p>"),
            "Text"
        );
        assert_eq!(
            render("<img src=pixel.gif alt=\"\" width=1>x<img alt='|' src=s.gif>y"),
            "xy"
        );
        assert_eq!(render("<img alt=\"2\u{fe0f}\u{20e3}\" src=k.png>"), "");
    }

    #[test]
    fn deep_nesting_is_linear() {
        // A guard, not a timing: quadratic code takes seconds here.
        let n = 40_000;
        let divs = format!("{}{}", "<div>a".repeat(n), "</div>".repeat(n));
        let out = render(&divs);
        assert_eq!(out.lines().count(), n);
        assert!(out.lines().all(|l| l == "a"));
        let ols = format!("{}<li>x</li>{}", "<ol>".repeat(n), "</ol>".repeat(n));
        assert_eq!(render(&ols), "x");
        let mixed = format!(
            "{}deep{}",
            "<ol><li><div><b>".repeat(n),
            "</b></div></li></ol>".repeat(n)
        );
        assert_eq!(render(&mixed), "deep");
        let svgs = format!("{}x{}y", "<svg>".repeat(n), "</svg>".repeat(n));
        assert_eq!(render(&svgs), "y");
        let pres = format!("{}a\nb{}c\nd", "<pre>".repeat(n), "</pre>".repeat(n));
        assert_eq!(render(&pres), "a\nb\nc d");
    }

    #[test]
    fn pathological_markup_is_linear() {
        let n = 200_000;
        // Many starts of things that never end.
        for unit in [
            "<a ",
            "<!--",
            "<![CDATA[",
            "&amp",
            "<script>",
            "<a title='",
            "</",
        ] {
            let s = unit.repeat(n);
            let _ = render(&s);
        }
        assert_eq!(render(&"<![CDATA[x".repeat(n)), "x".repeat(n));
        assert_eq!(render(&"&#x41;&notit;".repeat(3)), "A¬it;A¬it;A¬it;");
    }
}
