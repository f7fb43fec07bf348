//! Which character encoding a body is in, and the body as UTF-8 that says so.
//!
//! Everything reaches feed-rs as UTF-8 with every XML declaration naming UTF-8: quick-xml
//! panics when a declaration switches encodings late (UTF-16BE, or a declaration after
//! leading junk), so the decision is ours. The order: a byte order mark; the byte patterns
//! of BOM-less UTF-16/32 (XML spec appendix F); valid UTF-8 (which legacy text almost never
//! is by accident); then the declaration and the HTTP charset, checked against the bytes,
//! with chardetng to break ties and to guess when nothing is declared.

use std::borrow::Cow;

use encoding_rs::{Encoding, KOI8_R, KOI8_U, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

use super::repair::Repair;

/// A body as UTF-8 text, its declarations fixed, and the encoding repairs it needed.
#[derive(Debug)]
pub struct Decoded<'a> {
    pub text: Cow<'a, str>,
    pub repairs: Vec<Repair>,
}

/// The `charset` parameter of a Content-Type header.
pub fn http_charset(content_type: Option<&str>) -> Option<&str> {
    content_type?.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches(['"', '\'']))
            .filter(|v| !v.is_empty())
    })
}

/// Decode `body`. `tld` (lower-case, e.g. "ru") helps the guess for undeclared legacy text.
pub fn decode<'a>(body: &'a [u8], http: Option<&str>, tld: Option<&str>) -> Decoded<'a> {
    let (text, mut repairs) = match sniff_wide(body) {
        Some((wide, bom)) => {
            let text = decode_wide(&body[bom..], wide);
            let repair = match wide {
                Wide::Utf32Le | Wide::Utf32Be => Repair::Utf32Transcoded,
                Wide::Utf16Le | Wide::Utf16Be => Repair::Utf16Transcoded,
            };
            (Cow::Owned(text), vec![repair])
        }
        None => {
            let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
            let declared = declared_encoding(body);
            let (text, repair) = decode_8bit(body, declared, http, tld);
            (text, repair.into_iter().collect())
        }
    };
    let text = match text {
        Cow::Borrowed(s) => fix_declarations(s.trim_start_matches('\u{feff}')),
        Cow::Owned(mut s) => {
            if s.starts_with('\u{feff}') {
                s.drain(..'\u{feff}'.len_utf8());
            }
            Cow::Owned(if let Cow::Owned(fixed) = fix_declarations(&s) {
                fixed
            } else {
                s
            })
        }
    };
    repairs.dedup();
    Decoded { text, repairs }
}

/// Whether `body` is UTF-16 or UTF-32 (by BOM or byte pattern).
pub fn is_wide(body: &[u8]) -> bool {
    sniff_wide(body).is_some()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wide {
    Utf16Le,
    Utf16Be,
    Utf32Le,
    Utf32Be,
}

/// A UTF-16/32 body: by its byte order mark, or by the zero bytes around its first
/// character (a document starts with ASCII: `<`, a blank or `{`). Returns the BOM length.
fn sniff_wide(b: &[u8]) -> Option<(Wide, usize)> {
    let ascii = |c: u8| c != 0 && c < 0x80;
    match b {
        [0, 0, 0xFE, 0xFF, ..] => Some((Wide::Utf32Be, 4)),
        [0xFF, 0xFE, 0, 0, ..] => Some((Wide::Utf32Le, 4)),
        [0xFE, 0xFF, ..] => Some((Wide::Utf16Be, 2)),
        [0xFF, 0xFE, ..] => Some((Wide::Utf16Le, 2)),
        [0, 0, 0, c, ..] if ascii(*c) => Some((Wide::Utf32Be, 0)),
        [c, 0, 0, 0, ..] if ascii(*c) => Some((Wide::Utf32Le, 0)),
        [0, c, 0, d, ..] if ascii(*c) && ascii(*d) => Some((Wide::Utf16Be, 0)),
        [c, 0, d, 0, ..] if ascii(*c) && ascii(*d) => Some((Wide::Utf16Le, 0)),
        _ => None,
    }
}

fn decode_wide(b: &[u8], wide: Wide) -> String {
    match wide {
        Wide::Utf16Le => UTF_16LE.decode_without_bom_handling(b).0.into_owned(),
        Wide::Utf16Be => UTF_16BE.decode_without_bom_handling(b).0.into_owned(),
        Wide::Utf32Le | Wide::Utf32Be => {
            let mut out = String::with_capacity(b.len() / 4);
            for unit in b.chunks(4) {
                let c = match <[u8; 4]>::try_from(unit) {
                    Ok(u) if wide == Wide::Utf32Le => char::from_u32(u32::from_le_bytes(u)),
                    Ok(u) => char::from_u32(u32::from_be_bytes(u)),
                    Err(_) => None,
                };
                out.push(c.unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            out
        }
    }
}

/// The encoding label of the first XML declaration in the first KiB (junk may precede it).
fn declared_encoding(body: &[u8]) -> Option<&str> {
    let head = &body[..body.len().min(1024)];
    let at = memchr::memmem::find(head, b"<?xml")?;
    let decl = &head[at..];
    let decl = &decl[..memchr::memmem::find(decl, b"?>").unwrap_or(decl.len())];
    let decl = std::str::from_utf8(decl).ok()?;
    pseudo_attr(decl, "encoding").map(|(_, v)| v)
}

/// The value of `name="..."` in an XML declaration, with its byte range.
fn pseudo_attr<'d>(decl: &'d str, name: &str) -> Option<((usize, usize), &'d str)> {
    let mut from = 0;
    while let Some(n) = decl[from..].find(name) {
        let after = from + n + name.len();
        let rest = decl[after..].trim_start();
        if let Some(rest) = rest.strip_prefix('=') {
            let rest_trim = rest.trim_start();
            let q = rest_trim.chars().next()?;
            if q == '"' || q == '\'' {
                let vstart = decl.len() - rest_trim.len() + 1;
                let vlen = decl[vstart..].find(q)?;
                return Some(((vstart, vstart + vlen), &decl[vstart..vstart + vlen]));
            }
        }
        from = after;
    }
    None
}

fn is_utf8_family(e: &'static Encoding) -> bool {
    e == UTF_8 || e == UTF_16LE || e == UTF_16BE
}

/// A body in an ASCII-compatible encoding (or UTF-8) → text, and the repair if the
/// declarations were missing or wrong.
fn decode_8bit<'a>(
    body: &'a [u8],
    declared: Option<&str>,
    http: Option<&str>,
    tld: Option<&str>,
) -> (Cow<'a, str>, Option<Repair>) {
    let label = |l: Option<&str>| l.and_then(|l| Encoding::for_label(l.trim().as_bytes()));
    let (decl_enc, http_enc) = (label(declared), label(http));
    let corrected = |said: &str, used| Repair::CharsetCorrected {
        declared: said.to_string(),
        used,
    };
    if let Ok(s) = std::str::from_utf8(body) {
        // Pure ASCII reads the same in every ASCII-compatible encoding; only a declaration
        // of a wide encoding is then wrong.
        let wrong = if s.is_ascii() {
            declared.filter(|_| decl_enc.is_some_and(|e| e == UTF_16LE || e == UTF_16BE))
        } else {
            match (declared, decl_enc, http, http_enc) {
                (Some(d), Some(e), ..) if e != UTF_8 => Some(d),
                (None, _, Some(h), Some(e)) if e != UTF_8 => Some(h),
                _ => None,
            }
        };
        return (Cow::Borrowed(s), wrong.map(|w| corrected(w, UTF_8)));
    }
    let says_utf8 = |e: Option<&'static Encoding>| e.is_none_or(is_utf8_family);
    if says_utf8(decl_enc) && says_utf8(http_enc) && mostly_utf8(body) {
        return (Cow::Owned(decode_mixed(body)), Some(Repair::CharsetMixed));
    }
    let (used, repair) = choose_legacy(body, (declared, decl_enc), (http, http_enc), tld);
    let (text, _) = used.decode_without_bom_handling(body);
    (Cow::Owned(text.into_owned()), repair)
}

/// How much of a body the detector sees: plenty for its statistics, and it keeps the cost
/// of a guess (chardetng reads some tens of MB/s) to a millisecond or two.
const GUESS_SAMPLE: usize = 32 * 1024;

/// The encoding of a body that is not UTF-8, from the declaration and the HTTP charset
/// (each a label and what it names), checked against the bytes, or guessed.
fn choose_legacy(
    body: &[u8],
    (declared, decl_enc): (Option<&str>, Option<&'static Encoding>),
    (http, http_enc): (Option<&str>, Option<&'static Encoding>),
    tld: Option<&str>,
) -> (&'static Encoding, Option<Repair>) {
    let corrected = |said: &str, used| {
        Some(Repair::CharsetCorrected {
            declared: said.to_string(),
            used,
        })
    };
    let guess = || {
        let sample = &body[..body.len().min(GUESS_SAMPLE)];
        let mut detector = chardetng::EncodingDetector::new();
        detector.feed(sample, true);
        let g = detector.guess(tld.map(str::as_bytes), false);
        // chardetng names KOI8-U for Russian KOI8-R text; say KOI8-R when they read the same.
        if g == KOI8_U && same_text(sample, KOI8_U, KOI8_R) {
            KOI8_R
        } else {
            g
        }
    };
    let fits = |e: &'static Encoding| {
        e.decode_without_bom_handling_and_without_replacement(body)
            .is_some()
    };
    let legacy = |e: Option<&'static Encoding>| e.filter(|e| !is_utf8_family(e));
    let (d, h) = (legacy(decl_enc), legacy(http_enc));
    if let Some(d) = d.filter(|&d| fits(d)) {
        // A declaration the bytes fit is believed, unless the server disagrees or it is
        // the "ISO-8859-1" many templates declare by default: then the bytes decide.
        let disputed = h.filter(|&h| h != d);
        let latin1_doubtful = d == WINDOWS_1252 && mostly_non_ascii(body);
        if disputed.is_none() && !latin1_doubtful {
            return (d, None);
        }
        let g = guess();
        if let Some(h) = disputed.filter(|&h| same_text(body, h, g)) {
            return (h, corrected(declared.unwrap_or_default(), h));
        }
        if latin1_doubtful && g != d && (g.is_single_byte() || fits(g)) {
            return (g, corrected(declared.unwrap_or_default(), g));
        }
        return (d, None);
    }
    if let Some(h) = h.filter(|&h| fits(h)) {
        return (h, declared.and_then(|d| corrected(d, h)));
    }
    let g = guess();
    match declared.or(http.filter(|_| http_enc.is_some())) {
        Some(said) => (g, corrected(said, g)),
        None => (g, Some(Repair::CharsetGuessed(g))),
    }
}

/// Whether most letters of the text are non-ASCII bytes: so in Cyrillic, Greek or CJK text,
/// never in Latin-script languages (French has a few accented letters per word at most).
fn mostly_non_ascii(body: &[u8]) -> bool {
    // Markup is ASCII: only text outside tags counts.
    let (mut high, mut letters, mut in_tag) = (0usize, 0usize, false);
    for &b in &body[..body.len().min(GUESS_SAMPLE)] {
        match b {
            b'<' => in_tag = true,
            b'>' => in_tag = false,
            _ if in_tag => {}
            0x80.. => high += 1,
            _ if b.is_ascii_alphabetic() => letters += 1,
            _ => {}
        }
    }
    high * 3 > letters
}

/// Whether two encodings read `body` the same (equal, or equal on these bytes).
fn same_text(body: &[u8], a: &'static Encoding, b: &'static Encoding) -> bool {
    a == b || a.decode_without_bom_handling(body).0 == b.decode_without_bom_handling(body).0
}

/// Mostly valid UTF-8: more valid multi-byte characters than stray bytes.
fn mostly_utf8(body: &[u8]) -> bool {
    let (mut valid, mut invalid) = (0usize, 0usize);
    for chunk in body.utf8_chunks() {
        valid += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        invalid += chunk.invalid().len();
    }
    valid > invalid
}

/// UTF-8 whose stray bytes are read as windows-1252.
fn decode_mixed(body: &[u8]) -> String {
    let mut out = String::with_capacity(body.len() + body.len() / 8);
    for chunk in body.utf8_chunks() {
        out.push_str(chunk.valid());
        out.push_str(&WINDOWS_1252.decode_without_bom_handling(chunk.invalid()).0);
    }
    out
}

/// Make every XML declaration in `text` name UTF-8 (the text is UTF-8 now). Declarations
/// anywhere count (quick-xml panics on a late one naming another encoding), and so does
/// every `encoding` in one: which of them quick-xml reads depends on how it cuts attributes
/// (`xencoding="UTF-8" encoding="latin1"`, found by fuzzing).
pub fn fix_declarations(text: &str) -> Cow<'_, str> {
    let b = text.as_bytes();
    let starts: Vec<usize> = memchr::memmem::find_iter(b, b"<?xml")
        .filter(|&at| b.get(at + 5).is_some_and(u8::is_ascii_whitespace))
        .collect();
    let mut edits: Vec<(usize, usize)> = Vec::new();
    for (i, &at) in starts.iter().enumerate() {
        // Up to the declaration's end, or to the next one pasted inside it (which goes on
        // from there): each byte is looked at once. A value cut there holds `<?xml`, which
        // no encoding label does.
        let limit = starts.get(i + 1).copied().unwrap_or(text.len());
        let end = memchr::memmem::find(&b[at..limit], b"?>").map_or(limit, |n| at + n);
        let mut from = at;
        while let Some(((s, e), v)) = pseudo_attr(&text[from..end], "encoding") {
            if Encoding::for_label(v.trim().as_bytes()) != Some(UTF_8) {
                edits.push((from + s, from + e));
            }
            from += e;
        }
    }
    if edits.is_empty() {
        return Cow::Borrowed(text);
    }
    let spliced: Vec<(usize, usize, &str)> = edits.iter().map(|&(s, e)| (s, e, "UTF-8")).collect();
    Cow::Owned(super::repair::splice(text, &spliced))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RU: &str = "Лавров прибыл в Пекин для переговоров с Ван И о стратегическом партнёрстве";
    const FR: &str = "Le ministre a déclaré que la coopération économique était très importante";

    fn doc(decl: Option<&str>, title: &str) -> String {
        let decl = decl.map_or(String::new(), |e| {
            format!("<?xml version=\"1.0\" encoding=\"{e}\"?>\n")
        });
        format!("{decl}<rss version=\"2.0\"><channel><title>{title}</title></channel></rss>")
    }

    fn run(bytes: &[u8], http: Option<&str>) -> (String, Vec<String>) {
        let d = decode(bytes, http, None);
        (
            d.text.into_owned(),
            d.repairs.iter().map(Repair::name).collect(),
        )
    }

    fn encode(e: &'static Encoding, s: &str) -> Vec<u8> {
        e.encode(s).0.into_owned()
    }

    #[test]
    fn http_charset_parameter() {
        assert_eq!(
            http_charset(Some("text/xml; Charset=\"KOI8-R\"")),
            Some("KOI8-R")
        );
        assert_eq!(http_charset(Some("application/rss+xml")), None);
        assert_eq!(http_charset(None), None);
    }

    #[test]
    fn utf8_passes_through_without_a_copy() {
        let d = doc(Some("UTF-8"), FR);
        let decoded = decode(d.as_bytes(), Some("ISO-8859-1"), None);
        assert!(matches!(decoded.text, Cow::Borrowed(_)));
        assert!(decoded.repairs.is_empty());
    }

    #[test]
    fn correctly_declared_legacy_encodings_are_read_without_repairs() {
        let cases: [(&'static Encoding, &str, &str); 4] = [
            (encoding_rs::KOI8_R, "KOI8-R", RU),
            (encoding_rs::WINDOWS_1251, "windows-1251", RU),
            (
                encoding_rs::SHIFT_JIS,
                "Shift_JIS",
                "東京で首脳会談が開かれました",
            ),
            (
                encoding_rs::EUC_KR,
                "EUC-KR",
                "서울에서 정상회담이 열렸습니다",
            ),
        ];
        for (e, label, text) in cases {
            let (out, repairs) = run(&encode(e, &doc(Some(label), text)), None);
            assert!(out.contains(text), "{label}: {out}");
            assert!(repairs.is_empty(), "{label}: {repairs:?}");
            assert!(out.contains("encoding=\"UTF-8\""), "{out}");
        }
    }

    #[test]
    fn undeclared_legacy_text_is_read_from_http_or_guessed() {
        let bytes = encode(encoding_rs::WINDOWS_1251, &doc(None, RU));
        let (out, repairs) = run(&bytes, Some("windows-1251"));
        assert!(out.contains(RU));
        assert!(repairs.is_empty(), "{repairs:?}");
        let (out, repairs) = run(&bytes, None);
        assert!(out.contains(RU));
        assert_eq!(repairs, ["charset-guessed:windows-1251"]);
    }

    #[test]
    fn a_wrong_declaration_loses_to_the_bytes() {
        // UTF-8 bytes declared as Latin-1: UTF-8 wins.
        let (out, repairs) = run(doc(Some("ISO-8859-1"), FR).as_bytes(), None);
        assert!(out.contains(FR));
        assert_eq!(repairs, ["charset-corrected:utf-8"]);
        // windows-1251 declared as UTF-8, no HTTP charset: guessed.
        let bytes = encode(encoding_rs::WINDOWS_1251, &doc(Some("UTF-8"), RU));
        let (out, repairs) = run(&bytes, None);
        assert!(out.contains(RU), "{out}");
        assert_eq!(repairs, ["charset-corrected:windows-1251"]);
        // windows-1251 declared as the template default ISO-8859-1.
        let bytes = encode(encoding_rs::WINDOWS_1251, &doc(Some("ISO-8859-1"), RU));
        let (out, repairs) = run(&bytes, None);
        assert!(out.contains(RU), "{out}");
        assert_eq!(repairs, ["charset-corrected:windows-1251"]);
        // KOI8-R declared as windows-1251 with the server saying KOI8-R.
        let bytes = encode(encoding_rs::KOI8_R, &doc(Some("windows-1251"), RU));
        let (out, repairs) = run(&bytes, Some("koi8-r"));
        assert!(out.contains(RU), "{out}");
        assert_eq!(repairs, ["charset-corrected:koi8-r"]);
    }

    #[test]
    fn only_text_in_another_script_casts_doubt_on_latin1() {
        assert!(!mostly_non_ascii(
            WINDOWS_1252.encode(&doc(Some("ISO-8859-1"), FR)).0.as_ref()
        ));
        assert!(mostly_non_ascii(
            encoding_rs::WINDOWS_1251
                .encode(&doc(Some("ISO-8859-1"), RU))
                .0
                .as_ref()
        ));
    }

    #[test]
    fn latin1_in_declared_latin1_stays_latin1() {
        let bytes = encode(WINDOWS_1252, &doc(Some("ISO-8859-1"), FR));
        let (out, repairs) = run(&bytes, None);
        assert!(out.contains(FR));
        assert!(repairs.is_empty(), "{repairs:?}");
    }

    #[test]
    fn stray_latin1_bytes_in_utf8_keep_the_utf8() {
        let mut body = doc(Some("UTF-8"), "Пекин — Москва").into_bytes();
        let at = body.len() - "</title></channel></rss>".len();
        body.splice(at..at, b" caf\xE9".iter().copied());
        let (out, repairs) = run(&body, None);
        assert!(out.contains("Пекин — Москва café"), "{out}");
        assert_eq!(repairs, ["charset-mixed"]);
    }

    #[test]
    fn utf16_and_utf32_with_and_without_bom() {
        let text = doc(Some("UTF-16"), RU);
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let u32be: Vec<u8> = text
            .chars()
            .flat_map(|c| (c as u32).to_be_bytes())
            .collect();
        let u32le: Vec<u8> = text
            .chars()
            .flat_map(|c| (c as u32).to_le_bytes())
            .collect();
        let with_bom = |bom: &[u8], b: &[u8]| [bom, b].concat();
        for (bytes, name) in [
            (le.clone(), "utf16-transcoded"),
            (be.clone(), "utf16-transcoded"),
            (with_bom(&[0xFF, 0xFE], &le), "utf16-transcoded"),
            (with_bom(&[0xFE, 0xFF], &be), "utf16-transcoded"),
            (u32be.clone(), "utf32-transcoded"),
            (u32le.clone(), "utf32-transcoded"),
            (with_bom(&[0, 0, 0xFE, 0xFF], &u32be), "utf32-transcoded"),
        ] {
            let (out, repairs) = run(&bytes, None);
            assert!(
                out.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
                "{out}"
            );
            assert!(out.contains(RU));
            assert_eq!(repairs, [name]);
        }
    }

    #[test]
    fn utf8_declared_as_utf16_is_utf8() {
        let (out, repairs) = run(doc(Some("UTF-16"), "plain").as_bytes(), None);
        assert!(out.contains("encoding=\"UTF-8\""));
        assert_eq!(repairs, ["charset-corrected:utf-8"]);
    }

    #[test]
    fn every_declaration_is_rewritten() {
        let text = "<br/>junk<?xml version='1.0' encoding='windows-1251'?><rss><?xml version=\"1.0\" encoding=\"ISO-8859-1\"?></rss><?xml-stylesheet href=\"x\"?>";
        assert_eq!(
            fix_declarations(text),
            "<br/>junk<?xml version='1.0' encoding='UTF-8'?><rss><?xml version=\"1.0\" encoding=\"UTF-8\"?></rss><?xml-stylesheet href=\"x\"?>"
        );
        assert!(matches!(
            fix_declarations("<?xml version=\"1.0\" encoding=\"utf-8\"?><rss/>"),
            Cow::Borrowed(_)
        ));
        // A declaration pasted into another one (found by fuzzing: overlapping edits).
        assert_eq!(
            fix_declarations(
                "<?xml version=\"1.0\" en<?xml version=\"1.0\" encoding=\"UTF-16\"?>coding=\"x\"?>"
            ),
            "<?xml version=\"1.0\" en<?xml version=\"1.0\" encoding=\"UTF-8\"?>coding=\"x\"?>"
        );
        assert_eq!(
            fix_declarations(
                "<?xml version='1.0' xencoding='UTF-8' encoding = \"latin1\" encoding='x'?><a/>"
            ),
            "<?xml version='1.0' xencoding='UTF-8' encoding = \"UTF-8\" encoding='UTF-8'?><a/>"
        );
    }
}
