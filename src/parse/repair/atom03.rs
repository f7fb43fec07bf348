//! Atom 0.3 → Atom 1.0: the namespace, the renamed elements (`modified`, `issued`,
//! `created`, `tagline`, `copyright`, author `url`) and `mode` (escaped, xml, base64) folded
//! into 1.0's `type` (text, html, xhtml).

use super::{Fixed, Repair, splice};
use crate::parse::dialect::{NS_ATOM03, NS_ATOM10};
use crate::parse::lex::{Kind, Lexer, Tag, end_name, split_qname};

pub fn map(doc: &str) -> Option<Fixed> {
    let prefixes = atom_prefixes(doc);
    let has_issued = doc.contains("issued>");
    let rename = |local: &str| -> Option<&'static str> {
        Some(match local {
            "modified" => "updated",
            "issued" => "published",
            "created" if !has_issued => "published",
            "tagline" => "subtitle",
            "copyright" => "rights",
            "url" => "uri",
            _ => return None,
        })
    };
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut base64 = false;
    let mut decoded_any = false;
    let mut lexer = Lexer::new(doc);
    while let Some(t) = lexer.next() {
        let span = (t.start, t.start + t.raw.len());
        match t.kind {
            Kind::Start => {
                let tag = Tag::parse(t.raw);
                let (prefix, local) = split_qname(tag.name);
                let ours = prefixes.iter().any(|p| p == prefix);
                let new_name = rename(local).filter(|_| ours).map(|l| qualify(prefix, l));
                let mode = tag.attr("mode").map(|m| m.trim().to_ascii_lowercase());
                let new_type = (ours && is_text_construct(local))
                    .then(|| new_type(&tag, mode.as_deref(), next_is_markup(lexer.clone())));
                base64 = mode.as_deref() == Some("base64") && !tag.self_closing;
                let ns_attr = tag.attributes().any(|a| a.value.trim() == NS_ATOM03);
                if new_name.is_some() || new_type.is_some() || mode.is_some() || ns_attr {
                    edits.push((span.0, span.1, rebuild(&tag, new_name, new_type)));
                }
            }
            Kind::Text if base64 => {
                if let Some(text) = decode_base64(t.raw) {
                    decoded_any = true;
                    edits.push((span.0, span.1, escape_text(&text)));
                }
                base64 = false;
            }
            Kind::End => {
                base64 = false;
                let (prefix, local) = split_qname(end_name(t.raw));
                if let Some(l) = rename(local).filter(|_| prefixes.iter().any(|p| p == prefix)) {
                    edits.push((span.0, span.1, format!("</{}>", qualify(prefix, l))));
                }
            }
            _ => {}
        }
    }
    if edits.is_empty() {
        return None;
    }
    let mut repairs = vec![Repair::Atom03Mapped];
    if decoded_any {
        repairs.push(Repair::Base64Decoded);
    }
    Some(Fixed {
        text: splice(doc, &edits),
        repairs,
    })
}

/// Prefixes bound to the Atom 0.3 namespace ("" for the default namespace, also when the
/// document declares no namespace at all, as some 0.3 feeds do).
fn atom_prefixes(doc: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut any_default = false;
    for t in Lexer::new(doc).filter(|t| t.kind == Kind::Start) {
        for a in Tag::parse(t.raw).attributes() {
            any_default |= a.name == "xmlns";
            if a.value.trim() == NS_ATOM03 {
                match a.name.strip_prefix("xmlns") {
                    Some("") => out.push(String::new()),
                    Some(p) => out.extend(p.strip_prefix(':').map(str::to_string)),
                    None => {}
                }
            }
        }
    }
    if !any_default && !out.iter().any(String::is_empty) {
        out.push(String::new());
    }
    out
}

fn qualify(prefix: &str, local: &str) -> String {
    if prefix.is_empty() {
        local.to_string()
    } else {
        format!("{prefix}:{local}")
    }
}

fn is_text_construct(local: &str) -> bool {
    matches!(
        local,
        "title" | "tagline" | "subtitle" | "summary" | "content" | "copyright" | "rights"
    )
}

/// Whether the element's content starts with markup (inline XHTML) rather than text.
fn next_is_markup(mut lexer: Lexer<'_>) -> bool {
    lexer
        .find(|t| !(t.kind == Kind::Text && t.raw.trim().is_empty()))
        .is_some_and(|t| t.kind == Kind::Start)
}

/// The Atom 1.0 type for a 0.3 text construct: 0.3's default type is text/plain, its default
/// mode xml (inline markup).
fn new_type(tag: &Tag<'_>, mode: Option<&str>, markup: bool) -> &'static str {
    let ty = tag
        .attr("type")
        .map_or("text/plain".to_string(), |t| t.trim().to_ascii_lowercase());
    let html = ty.contains("html");
    match mode.unwrap_or("xml") {
        "xml" if markup => "xhtml",
        _ if html => "html",
        _ => "text",
    }
}

/// The start tag with a new name and type, `mode` dropped and the namespace updated.
fn rebuild(tag: &Tag<'_>, name: Option<String>, ty: Option<&str>) -> String {
    let mut out = String::with_capacity(tag.attrs.len() + 32);
    out.push('<');
    out.push_str(name.as_deref().unwrap_or(tag.name));
    for a in tag.attributes() {
        match a.name {
            "mode" => {}
            "type" if ty.is_some() => {}
            n if n.starts_with("xmlns") && a.value.trim() == NS_ATOM03 => {
                out.push_str(&format!(" {n}=\"{NS_ATOM10}\""));
            }
            _ => {
                out.push(' ');
                out.push_str(&tag.attrs[a.span.0..a.span.1]);
            }
        }
    }
    if let Some(ty) = ty {
        out.push_str(&format!(" type=\"{ty}\""));
    }
    out.push_str(if tag.self_closing { "/>" } else { ">" });
    out
}

fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Standard base64 (whitespace ignored, padding optional) → UTF-8 text.
fn decode_base64(s: &str) -> Option<String> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace()) {
        if c == b'=' {
            break;
        }
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_names_and_modes() {
        let doc = r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><tagline mode="escaped" type="text/html">&lt;b&gt;x&lt;/b&gt;</tagline><modified>2004-01-01T00:00:00Z</modified><entry><issued>2004-01-01T00:00:00Z</issued><created>2003-12-31T00:00:00Z</created><author><name>N</name><url>http://n.org/</url></author><content type="application/xhtml+xml" mode="xml"><div xmlns="http://www.w3.org/1999/xhtml">hi</div></content><summary>plain</summary></entry></feed>"#;
        let f = map(doc).expect("mapped");
        assert_eq!(
            f.text,
            r#"<feed version="0.3" xmlns="http://www.w3.org/2005/Atom"><subtitle type="html">&lt;b&gt;x&lt;/b&gt;</subtitle><updated>2004-01-01T00:00:00Z</updated><entry><published>2004-01-01T00:00:00Z</published><created>2003-12-31T00:00:00Z</created><author><name>N</name><uri>http://n.org/</uri></author><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">hi</div></content><summary type="text">plain</summary></entry></feed>"#
        );
        assert_eq!(f.repairs, [Repair::Atom03Mapped]);
    }

    #[test]
    fn created_stands_in_for_a_missing_issued() {
        let f = map(r#"<feed xmlns="http://purl.org/atom/ns#"><entry><created>2004</created></entry></feed>"#).expect("mapped");
        assert!(f.text.contains("<published>2004</published>"));
    }

    #[test]
    fn base64_content_is_decoded() {
        // "<p>Caf\u{e9} & more</p>" in base64.
        let doc = r#"<feed xmlns:a="http://purl.org/atom/ns#" xmlns="x"><a:entry><a:content type="text/html" mode="base64">PHA+Q2Fmw6kgJiBtb3JlPC9wPg==</a:content></a:entry></feed>"#;
        let f = map(doc).expect("mapped");
        assert!(
            f.text.contains(
                r#"<a:content type="html">&lt;p&gt;Café &amp; more&lt;/p&gt;</a:content>"#
            ),
            "{}",
            f.text
        );
        assert!(f.text.contains(r#"xmlns:a="http://www.w3.org/2005/Atom""#));
        assert_eq!(f.repairs, [Repair::Atom03Mapped, Repair::Base64Decoded]);
    }

    #[test]
    fn base64_decoder() {
        assert_eq!(decode_base64("aGVs\nbG8=").as_deref(), Some("hello"));
        assert_eq!(decode_base64("aGVsbG8").as_deref(), Some("hello"));
        assert_eq!(decode_base64("not base64!"), None);
    }
}
