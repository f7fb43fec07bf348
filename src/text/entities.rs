//! Character references (`&amp;`, `&#8217;`, `&#x2019;`), decoded as the HTML5 tokenizer
//! decodes them: the full named table with the legacy names that need no `;`, numeric
//! references with the windows-1252 remap of 128–159, and U+FFFD for zero, surrogates and
//! anything past U+10FFFF. Decoding never looks further than a few dozen bytes ahead.

use super::entity_table::ENTITIES;

/// What a reference stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decoded {
    Str(&'static str),
    Char(char),
}

impl Decoded {
    pub(super) fn push_to(self, out: &mut String) {
        match self {
            Decoded::Str(s) => out.push_str(s),
            Decoded::Char(c) => out.push(c),
        }
    }
}

/// The longest name in the table, `CounterClockwiseContourIntegral;`.
const LONGEST_NAME: usize = 32;
/// The longest legacy name (accepted without `;`), e.g. `middot`, `frac12`.
const LONGEST_LEGACY: usize = 6;

/// Decodes the reference at the start of `s` (which starts with `&`), returning what it
/// stands for and how many bytes it used, or `None` when this `&` starts no reference and
/// stays a literal `&`.
///
/// In an attribute value a legacy name without `;` followed by a letter, digit or `=` is
/// left alone (`href="?a=1&copy=2"`), as HTML5 does.
pub(super) fn decode(s: &[u8], in_attribute: bool) -> Option<(Decoded, usize)> {
    debug_assert_eq!(s.first(), Some(&b'&'));
    match s.get(1) {
        Some(b'#') => numeric(s),
        Some(c) if c.is_ascii_alphanumeric() => named(s, in_attribute),
        _ => None,
    }
}

fn named(s: &[u8], in_attribute: bool) -> Option<(Decoded, usize)> {
    let run = s[1..]
        .iter()
        .take(LONGEST_NAME + 1)
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    let name = &s[1..1 + run];
    if s.get(1 + run) == Some(&b';') && run < LONGEST_NAME {
        let mut key = [0u8; LONGEST_NAME];
        key[..run].copy_from_slice(name);
        key[run] = b';';
        if let Some(v) = lookup(&key[..=run]) {
            return Some((Decoded::Str(v), run + 2));
        }
    }
    // Legacy names match as a prefix: `&copy2024` is "©2024", `&notit;` is "¬it;".
    for len in (2..=run.min(LONGEST_LEGACY)).rev() {
        if let Some(v) = lookup(&name[..len]) {
            let next = s.get(1 + len).copied();
            if in_attribute && next.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'=') {
                return None;
            }
            return Some((Decoded::Str(v), len + 1));
        }
    }
    None
}

fn lookup(key: &[u8]) -> Option<&'static str> {
    ENTITIES
        .binary_search_by(|(name, _)| name.as_bytes().cmp(key))
        .ok()
        .map(|i| ENTITIES[i].1)
}

fn numeric(s: &[u8]) -> Option<(Decoded, usize)> {
    let hex = matches!(s.get(2), Some(b'x' | b'X'));
    let start = if hex { 3 } else { 2 };
    let radix = if hex { 16 } else { 10 };
    let mut value: u32 = 0;
    let mut end = start;
    while let Some(d) = s.get(end).and_then(|&c| char::from(c).to_digit(radix)) {
        // Saturate: any number of digits past U+10FFFF means the same U+FFFD.
        value = value.saturating_mul(radix).saturating_add(d).min(0x11_0000);
        end += 1;
    }
    if end == start {
        return None; // "&#" or "&#x" with no digits stays text
    }
    if s.get(end) == Some(&b';') {
        end += 1;
    }
    Some((Decoded::Char(code_point(value)), end))
}

/// HTML5's "numeric character reference end state".
fn code_point(value: u32) -> char {
    match value {
        0 => char::REPLACEMENT_CHARACTER,
        0x80..=0x9F => WINDOWS_1252[(value - 0x80) as usize]
            .or(char::from_u32(value))
            .unwrap_or(char::REPLACEMENT_CHARACTER),
        // from_u32 refuses surrogates and anything past U+10FFFF.
        v => char::from_u32(v).unwrap_or(char::REPLACEMENT_CHARACTER),
    }
}

/// What `&#128;`–`&#159;` mean: publishers wrote windows-1252 code units as references.
/// The five holes stay C1 controls (and are then cleaned away).
const WINDOWS_1252: [Option<char>; 32] = [
    Some('\u{20AC}'),
    None,
    Some('\u{201A}'),
    Some('\u{0192}'),
    Some('\u{201E}'),
    Some('\u{2026}'),
    Some('\u{2020}'),
    Some('\u{2021}'),
    Some('\u{02C6}'),
    Some('\u{2030}'),
    Some('\u{0160}'),
    Some('\u{2039}'),
    Some('\u{0152}'),
    None,
    Some('\u{017D}'),
    None,
    None,
    Some('\u{2018}'),
    Some('\u{2019}'),
    Some('\u{201C}'),
    Some('\u{201D}'),
    Some('\u{2022}'),
    Some('\u{2013}'),
    Some('\u{2014}'),
    Some('\u{02DC}'),
    Some('\u{2122}'),
    Some('\u{0161}'),
    Some('\u{203A}'),
    Some('\u{0153}'),
    None,
    Some('\u{017E}'),
    Some('\u{0178}'),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `s`, returning the text and how many bytes were used.
    fn dec(s: &str) -> Option<(String, usize)> {
        decode(s.as_bytes(), false).map(|(d, n)| {
            let mut out = String::new();
            d.push_to(&mut out);
            (out, n)
        })
    }

    #[test]
    fn table_is_sorted_complete_and_has_the_legacy_names() {
        assert_eq!(ENTITIES.len(), 2231);
        assert!(ENTITIES.windows(2).all(|w| w[0].0 < w[1].0));
        let legacy = ENTITIES.iter().filter(|(n, _)| !n.ends_with(';')).count();
        assert_eq!(legacy, 106);
        assert!(
            ENTITIES
                .iter()
                .all(|(n, _)| n.len() <= LONGEST_NAME && (n.ends_with(';') || n.len() <= 6))
        );
    }

    #[test]
    fn named_references() {
        assert_eq!(dec("&amp;"), Some(("&".into(), 5)));
        assert_eq!(dec("&AMP;x"), Some(("&".into(), 5)));
        assert_eq!(dec("&rsquo;s"), Some(("\u{2019}".into(), 7)));
        assert_eq!(dec("&nbsp;"), Some(("\u{a0}".into(), 6)));
        assert_eq!(dec("&eacute;"), Some(("é".into(), 8)));
        assert_eq!(
            dec("&CounterClockwiseContourIntegral;"),
            Some(("\u{2233}".into(), 33))
        );
        // Two code points.
        assert_eq!(dec("&NotEqualTilde;"), Some(("\u{2242}\u{338}".into(), 15)));
        assert_eq!(dec("&Tab;"), Some(("\t".into(), 5)));
    }

    #[test]
    fn legacy_names_without_semicolon_match_as_prefixes() {
        assert_eq!(dec("&amp"), Some(("&".into(), 4)));
        assert_eq!(dec("&nbsp x"), Some(("\u{a0}".into(), 5)));
        assert_eq!(dec("&copy2024"), Some(("©".into(), 5)));
        assert_eq!(dec("&notit;"), Some(("¬".into(), 4)));
        assert_eq!(dec("&notin;"), Some(("∉".into(), 7)));
        assert_eq!(dec("&ampx;"), Some(("&".into(), 4)));
        assert_eq!(dec("&frac12;"), Some(("½".into(), 8)));
        assert_eq!(dec("&frac12"), Some(("½".into(), 7)));
        // Only the legacy names work without `;`.
        assert_eq!(dec("&rsquo"), None);
        assert_eq!(dec("&mdash x"), None);
    }

    #[test]
    fn unknown_or_broken_references_stay_text() {
        assert_eq!(dec("&foo;"), None);
        assert_eq!(dec("& "), None);
        assert_eq!(dec("&"), None);
        assert_eq!(dec("&;"), None);
        assert_eq!(dec("&#;"), None);
        assert_eq!(dec("&#x;"), None);
        assert_eq!(dec("&#xyz"), None);
        assert_eq!(dec("&x"), None);
        // A name far longer than any in the table.
        let long = format!("&{};", "a".repeat(100));
        assert_eq!(dec(&long), None);
    }

    #[test]
    fn in_attributes_legacy_names_before_alphanumerics_stay() {
        assert_eq!(decode(b"&copy=2", true), None);
        assert_eq!(decode(b"&copyx", true), None);
        assert_eq!(decode(b"&copy 2", true), Some((Decoded::Str("\u{a9}"), 5)));
        assert_eq!(decode(b"&copy;x", true), Some((Decoded::Str("\u{a9}"), 6)));
    }

    #[test]
    fn numeric_references() {
        assert_eq!(dec("&#8217;"), Some(("\u{2019}".into(), 7)));
        assert_eq!(dec("&#x2019;"), Some(("\u{2019}".into(), 8)));
        assert_eq!(dec("&#X2019;"), Some(("\u{2019}".into(), 8)));
        assert_eq!(dec("&#39"), Some(("'".into(), 4)));
        assert_eq!(dec("&#x41g"), Some(("A".into(), 5)));
        assert_eq!(dec("&#0000065;"), Some(("A".into(), 10)));
        assert_eq!(dec("&#x1F600;"), Some(("😀".into(), 9)));
    }

    #[test]
    fn invalid_code_points_become_replacement_characters() {
        let r = || Some(("\u{fffd}".to_string(), 0));
        let fix = |d: Option<(String, usize)>| d.map(|(s, _)| (s, 0));
        assert_eq!(fix(dec("&#0;")), r());
        assert_eq!(fix(dec("&#xD800;")), r());
        assert_eq!(fix(dec("&#xDFFF;")), r());
        assert_eq!(fix(dec("&#1114112;")), r());
        assert_eq!(fix(dec("&#x110000;")), r());
        assert_eq!(fix(dec("&#99999999999999999999999;")), r());
        assert_eq!(dec("&#x10FFFF;"), Some(("\u{10FFFF}".into(), 10)));
    }

    #[test]
    fn references_to_128_through_159_mean_windows_1252() {
        assert_eq!(dec("&#128;").map(|d| d.0), Some("€".into()));
        assert_eq!(dec("&#x92;").map(|d| d.0), Some("\u{2019}".into()));
        assert_eq!(dec("&#150;").map(|d| d.0), Some("\u{2013}".into()));
        assert_eq!(dec("&#159;").map(|d| d.0), Some("\u{178}".into()));
        // The holes of windows-1252 stay what they were.
        assert_eq!(dec("&#x81;").map(|d| d.0), Some("\u{81}".into()));
        assert_eq!(dec("&#x9D;").map(|d| d.0), Some("\u{9d}".into()));
        // Controls are decoded as they are; cleaning drops them later.
        assert_eq!(dec("&#27;").map(|d| d.0), Some("\u{1b}".into()));
    }
}
