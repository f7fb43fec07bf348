//! `&` as publishers write it: bare ampersands, HTML entities that XML does not define, bad
//! character references and bare `<` in text, rewritten into well-formed XML.

use super::{Fixed, Repair, splice};
use crate::parse::lex::{Kind, Lexer, Tag};

/// What follows an `&`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    /// A reference XML resolves: predefined, declared in the DTD, or a good character
    /// reference. The length after the `&`, `;` included.
    Valid(usize),
    /// `&name;` that neither XML nor HTML defines: feed-rs keeps it as written.
    Unknown(usize),
    /// An HTML named entity: its length and code point.
    Html(usize, u32),
    /// A character reference quick-xml rejects (`&#0;`, `&#xD800;`, `&#X41;`): its length.
    BadNumber(usize),
    /// No reference at all: a literal `&`.
    Bare,
}

/// Classify the reference that `after` (the text after an `&`) starts.
pub fn classify(after: &str, dtd: &[String]) -> Reference {
    let b = after.as_bytes();
    let Some(semi) = b.iter().take(40).position(|&c| c == b';') else {
        return Reference::Bare;
    };
    let body = &after[..semi];
    let len = semi + 1;
    if let Some(num) = body.strip_prefix('#') {
        let (digits, radix) = match num.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16),
            None => (num, 10),
        };
        if digits.is_empty() || !digits.bytes().all(|c| (c as char).is_digit(radix)) {
            return Reference::Bare;
        }
        let good = !num.starts_with('X')
            && u32::from_str_radix(digits, radix)
                .ok()
                .is_some_and(|c| c != 0 && char::from_u32(c).is_some());
        return if good {
            Reference::Valid(len)
        } else {
            Reference::BadNumber(len)
        };
    }
    let name_ok = body.bytes().enumerate().all(|(i, c)| {
        c.is_ascii_alphabetic()
            || c == b'_'
            || (i > 0 && (c.is_ascii_digit() || c == b'.' || c == b'-'))
    });
    if body.is_empty() || !name_ok {
        return Reference::Bare;
    }
    if matches!(body, "amp" | "lt" | "gt" | "quot" | "apos") || dtd.iter().any(|d| d == body) {
        return Reference::Valid(len);
    }
    match html_entity(body) {
        Some(c) => Reference::Html(len, c),
        None => Reference::Unknown(len),
    }
}

/// The code point of an HTML 4 named entity (and the upper-case aliases browsers accept).
pub fn html_entity(name: &str) -> Option<u32> {
    match name {
        "AMP" => return Some(38),
        "LT" => return Some(60),
        "GT" => return Some(62),
        "QUOT" => return Some(34),
        "COPY" => return Some(169),
        "REG" => return Some(174),
        _ => {}
    }
    ENTITIES
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| ENTITIES[i].1)
}

/// Escape bare `&` and `<`, turn HTML entities into character references and fix bad
/// character references, in text and attribute values (never in CDATA or comments).
/// Growth is bounded: each rewrite adds at most four bytes per `&` or `<`.
pub fn escape(doc: &str, dtd: &[String]) -> Option<Fixed> {
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let (mut bare, mut html, mut lt) = (false, false, false);
    let mut fix_refs = |text: &str, at: usize, edits: &mut Vec<(usize, usize, String)>| {
        for i in memchr::memchr_iter(b'&', text.as_bytes()) {
            let pos = at + i;
            match classify(&text[i + 1..], dtd) {
                Reference::Valid(_) | Reference::Unknown(_) => {}
                Reference::Bare => {
                    bare = true;
                    edits.push((pos + 1, pos + 1, "amp;".into()));
                }
                Reference::Html(len, c) => {
                    html = true;
                    edits.push((pos, pos + 1 + len, format!("&#{c};")));
                }
                Reference::BadNumber(len) => {
                    bare = true;
                    let body = &text[i + 2..i + len];
                    let code = match body.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => body.parse().ok(),
                    };
                    let c = code.filter(|&c| c != 0 && char::from_u32(c).is_some());
                    edits.push((pos, pos + 1 + len, format!("&#{};", c.unwrap_or(0xFFFD))));
                }
            }
        }
    };
    for t in Lexer::new(doc) {
        match t.kind {
            Kind::Text => fix_refs(t.raw, t.start, &mut edits),
            Kind::Start if t.raw.contains('&') => {
                for a in Tag::parse(t.raw).attributes() {
                    if a.value.contains('&') {
                        let at = a.value.as_ptr() as usize - doc.as_ptr() as usize;
                        fix_refs(a.value, at, &mut edits);
                    }
                }
            }
            Kind::BareLt => {
                lt = true;
                edits.push((t.start, t.start + 1, "&lt;".into()));
            }
            _ => {}
        }
    }
    if edits.is_empty() {
        return None;
    }
    let repairs = [
        (bare, Repair::BareAmpersandEscaped),
        (html, Repair::HtmlEntitiesReplaced),
        (lt, Repair::BareLtEscaped),
    ]
    .into_iter()
    .filter_map(|(done, r)| done.then_some(r))
    .collect();
    Some(Fixed {
        text: splice(doc, &edits),
        repairs,
    })
}

/// HTML 4.01 named entities (the spec's Latin-1, symbol and special sets), sorted by name.
const ENTITIES: &[(&str, u32)] = &[
    ("AElig", 198),
    ("Aacute", 193),
    ("Acirc", 194),
    ("Agrave", 192),
    ("Alpha", 913),
    ("Aring", 197),
    ("Atilde", 195),
    ("Auml", 196),
    ("Beta", 914),
    ("Ccedil", 199),
    ("Chi", 935),
    ("Dagger", 8225),
    ("Delta", 916),
    ("ETH", 208),
    ("Eacute", 201),
    ("Ecirc", 202),
    ("Egrave", 200),
    ("Epsilon", 917),
    ("Eta", 919),
    ("Euml", 203),
    ("Gamma", 915),
    ("Iacute", 205),
    ("Icirc", 206),
    ("Igrave", 204),
    ("Iota", 921),
    ("Iuml", 207),
    ("Kappa", 922),
    ("Lambda", 923),
    ("Mu", 924),
    ("Ntilde", 209),
    ("Nu", 925),
    ("OElig", 338),
    ("Oacute", 211),
    ("Ocirc", 212),
    ("Ograve", 210),
    ("Omega", 937),
    ("Omicron", 927),
    ("Oslash", 216),
    ("Otilde", 213),
    ("Ouml", 214),
    ("Phi", 934),
    ("Pi", 928),
    ("Prime", 8243),
    ("Psi", 936),
    ("Rho", 929),
    ("Scaron", 352),
    ("Sigma", 931),
    ("THORN", 222),
    ("Tau", 932),
    ("Theta", 920),
    ("Uacute", 218),
    ("Ucirc", 219),
    ("Ugrave", 217),
    ("Upsilon", 933),
    ("Uuml", 220),
    ("Xi", 926),
    ("Yacute", 221),
    ("Yuml", 376),
    ("Zeta", 918),
    ("aacute", 225),
    ("acirc", 226),
    ("acute", 180),
    ("aelig", 230),
    ("agrave", 224),
    ("alefsym", 8501),
    ("alpha", 945),
    ("amp", 38),
    ("and", 8743),
    ("ang", 8736),
    ("aring", 229),
    ("asymp", 8776),
    ("atilde", 227),
    ("auml", 228),
    ("bdquo", 8222),
    ("beta", 946),
    ("brvbar", 166),
    ("bull", 8226),
    ("cap", 8745),
    ("ccedil", 231),
    ("cedil", 184),
    ("cent", 162),
    ("chi", 967),
    ("circ", 710),
    ("clubs", 9827),
    ("cong", 8773),
    ("copy", 169),
    ("crarr", 8629),
    ("cup", 8746),
    ("curren", 164),
    ("dArr", 8659),
    ("dagger", 8224),
    ("darr", 8595),
    ("deg", 176),
    ("delta", 948),
    ("diams", 9830),
    ("divide", 247),
    ("eacute", 233),
    ("ecirc", 234),
    ("egrave", 232),
    ("empty", 8709),
    ("emsp", 8195),
    ("ensp", 8194),
    ("epsilon", 949),
    ("equiv", 8801),
    ("eta", 951),
    ("eth", 240),
    ("euml", 235),
    ("euro", 8364),
    ("exist", 8707),
    ("fnof", 402),
    ("forall", 8704),
    ("frac12", 189),
    ("frac14", 188),
    ("frac34", 190),
    ("frasl", 8260),
    ("gamma", 947),
    ("ge", 8805),
    ("gt", 62),
    ("hArr", 8660),
    ("harr", 8596),
    ("hearts", 9829),
    ("hellip", 8230),
    ("iacute", 237),
    ("icirc", 238),
    ("iexcl", 161),
    ("igrave", 236),
    ("image", 8465),
    ("infin", 8734),
    ("int", 8747),
    ("iota", 953),
    ("iquest", 191),
    ("isin", 8712),
    ("iuml", 239),
    ("kappa", 954),
    ("lArr", 8656),
    ("lambda", 955),
    ("lang", 9001),
    ("laquo", 171),
    ("larr", 8592),
    ("lceil", 8968),
    ("ldquo", 8220),
    ("le", 8804),
    ("lfloor", 8970),
    ("lowast", 8727),
    ("loz", 9674),
    ("lrm", 8206),
    ("lsaquo", 8249),
    ("lsquo", 8216),
    ("lt", 60),
    ("macr", 175),
    ("mdash", 8212),
    ("micro", 181),
    ("middot", 183),
    ("minus", 8722),
    ("mu", 956),
    ("nabla", 8711),
    ("nbsp", 160),
    ("ndash", 8211),
    ("ne", 8800),
    ("ni", 8715),
    ("not", 172),
    ("notin", 8713),
    ("nsub", 8836),
    ("ntilde", 241),
    ("nu", 957),
    ("oacute", 243),
    ("ocirc", 244),
    ("oelig", 339),
    ("ograve", 242),
    ("oline", 8254),
    ("omega", 969),
    ("omicron", 959),
    ("oplus", 8853),
    ("or", 8744),
    ("ordf", 170),
    ("ordm", 186),
    ("oslash", 248),
    ("otilde", 245),
    ("otimes", 8855),
    ("ouml", 246),
    ("para", 182),
    ("part", 8706),
    ("permil", 8240),
    ("perp", 8869),
    ("phi", 966),
    ("pi", 960),
    ("piv", 982),
    ("plusmn", 177),
    ("pound", 163),
    ("prime", 8242),
    ("prod", 8719),
    ("prop", 8733),
    ("psi", 968),
    ("quot", 34),
    ("rArr", 8658),
    ("radic", 8730),
    ("rang", 9002),
    ("raquo", 187),
    ("rarr", 8594),
    ("rceil", 8969),
    ("rdquo", 8221),
    ("real", 8476),
    ("reg", 174),
    ("rfloor", 8971),
    ("rho", 961),
    ("rlm", 8207),
    ("rsaquo", 8250),
    ("rsquo", 8217),
    ("sbquo", 8218),
    ("scaron", 353),
    ("sdot", 8901),
    ("sect", 167),
    ("shy", 173),
    ("sigma", 963),
    ("sigmaf", 962),
    ("sim", 8764),
    ("spades", 9824),
    ("sub", 8834),
    ("sube", 8838),
    ("sum", 8721),
    ("sup", 8835),
    ("sup1", 185),
    ("sup2", 178),
    ("sup3", 179),
    ("supe", 8839),
    ("szlig", 223),
    ("tau", 964),
    ("there4", 8756),
    ("theta", 952),
    ("thetasym", 977),
    ("thinsp", 8201),
    ("thorn", 254),
    ("tilde", 732),
    ("times", 215),
    ("trade", 8482),
    ("uArr", 8657),
    ("uacute", 250),
    ("uarr", 8593),
    ("ucirc", 251),
    ("ugrave", 249),
    ("uml", 168),
    ("upsih", 978),
    ("upsilon", 965),
    ("uuml", 252),
    ("weierp", 8472),
    ("xi", 958),
    ("yacute", 253),
    ("yen", 165),
    ("yuml", 255),
    ("zeta", 950),
    ("zwj", 8205),
    ("zwnj", 8204),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(doc: &str) -> (String, Vec<String>) {
        match escape(doc, &["custom".to_string()]) {
            Some(f) => (f.text, f.repairs.iter().map(Repair::name).collect()),
            None => (doc.to_string(), vec![]),
        }
    }

    #[test]
    fn classify_references() {
        let none: &[String] = &[];
        assert_eq!(classify("amp; x", none), Reference::Valid(4));
        assert_eq!(classify("#233;", none), Reference::Valid(5));
        assert_eq!(classify("#xE9;", none), Reference::Valid(5));
        assert_eq!(classify("#X41;", none), Reference::BadNumber(5));
        assert_eq!(classify("#0;", none), Reference::BadNumber(3));
        assert_eq!(classify("#xD800;", none), Reference::BadNumber(7));
        assert_eq!(classify("eacute;", none), Reference::Html(7, 233));
        assert_eq!(classify("frobnicate;", none), Reference::Unknown(11));
        assert_eq!(classify(" B; C", none), Reference::Bare);
        assert_eq!(classify("c=2", none), Reference::Bare);
        assert_eq!(classify("", none), Reference::Bare);
    }

    #[test]
    fn entity_table_is_sorted_and_complete() {
        assert!(ENTITIES.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(ENTITIES.len(), 252);
        assert_eq!(html_entity("nbsp"), Some(160));
        assert_eq!(html_entity("euro"), Some(8364));
        assert_eq!(html_entity("hellip"), Some(8230));
        assert_eq!(html_entity("COPY"), Some(169));
        assert_eq!(html_entity("nope"), None);
    }

    #[test]
    fn rewrites_text_and_attributes_only() {
        let (out, repairs) = esc(
            "<a href=\"?a=1&b=2&amp;c\">Tom & Jerry&nbsp;&custom; &#X41;&#0;<![CDATA[ & ]]><!-- & --> 1 < 2</a>",
        );
        assert_eq!(
            out,
            "<a href=\"?a=1&amp;b=2&amp;c\">Tom &amp; Jerry&#160;&custom; &#65;&#65533;<![CDATA[ & ]]><!-- & --> 1 &lt; 2</a>"
        );
        assert_eq!(
            repairs,
            [
                "bare-ampersand-escaped",
                "html-entities-replaced",
                "bare-lt-escaped"
            ]
        );
    }

    #[test]
    fn clean_text_is_left_alone() {
        assert!(escape("<t>a &amp; b &#233; &unknown;</t>", &[]).is_none());
    }

    #[test]
    fn growth_is_bounded() {
        let doc = format!("<t>{}</t>", "&".repeat(10_000));
        let out = escape(&doc, &[]).map(|f| f.text).unwrap_or_default();
        assert_eq!(out.len(), doc.len() + 4 * 10_000);
    }
}
