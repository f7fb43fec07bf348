//! What of an item's text counts as the story: the body without datelines, bylines and page
//! chrome, split into folded words; and the features read from it (word 3-shingles, content
//! words, the lede, number and date tokens), each as stable 64-bit hashes. Pure.
//!
//! Everything here is persisted indirectly (signatures are stored), so a change to folding,
//! tokenizing, the stopword list or the hashes must bump the signature version.

use std::sync::LazyLock;

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Words per shingle. Measured on the labelled set: 2 lets same-topic boilerplate through,
/// 4 and 5 lose rewritten copies (see README.md).
pub const SHINGLE: usize = 3;
/// Tokens of the body that make the lede: about the first two sentences of wire copy.
pub const LEDE_TOKENS: usize = 40;

/// Function words and reporting verbs: they say nothing about which story a text is.
const STOPWORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been",
    "before", "but", "by", "can", "could", "for", "from", "had", "has", "have", "he", "her",
    "here", "his", "i", "in", "into", "is", "it", "its", "may", "might", "more", "most", "new",
    "no", "not", "of", "off", "on", "one", "or", "our", "out", "over", "said", "say", "says",
    "she", "should", "some", "than", "that", "the", "their", "them", "then", "there", "these",
    "they", "this", "those", "to", "two", "under", "up", "was", "we", "were", "what", "when",
    "where", "which", "while", "who", "will", "with", "would", "you",
];

const WEEKDAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

const MONTHS: &[(&str, u8)] = &[
    ("january", 1),
    ("jan", 1),
    ("february", 2),
    ("feb", 2),
    ("march", 3),
    ("mar", 3),
    ("april", 4),
    ("apr", 4),
    ("may", 5),
    ("june", 6),
    ("jun", 6),
    ("july", 7),
    ("jul", 7),
    ("august", 8),
    ("aug", 8),
    ("september", 9),
    ("sept", 9),
    ("sep", 9),
    ("october", 10),
    ("oct", 10),
    ("november", 11),
    ("nov", 11),
    ("december", 12),
    ("dec", 12),
];

/// The features of one text, exact (no sampling), as sorted distinct hashes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    /// Word 3-shingles of the cleaned body.
    pub shingles: Vec<u64>,
    /// Content words (no stopwords, at least two characters).
    pub words: Vec<u64>,
    /// Shingles of the first [`LEDE_TOKENS`] tokens.
    pub lede: Vec<u64>,
    /// Specific numbers, scores, weekdays and month-day dates.
    pub numbers: Vec<u64>,
    /// Content words fit to find candidates by (letters only, at least three): all of the
    /// body's, and the lede's apart.
    pub key_words: Vec<u64>,
    pub lede_key_words: Vec<u64>,
    /// Hashes of the cleaned body's tokens, in order.
    pub token_hashes: Vec<u64>,
}

/// Extract the features of `text` (paragraphs as lines, as `parse::to_text` gives them).
/// `title` only serves to drop a first line that repeats it (reposts often do).
pub fn extract(title: &str, text: &str) -> Extracted {
    let folded_title = fold(title);
    let mut lines: Vec<String> = Vec::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || is_byline(line) || is_chrome(line) {
            continue;
        }
        let first = lines.is_empty();
        let folded = fold(if first { strip_dateline(line) } else { line });
        if first && folded.trim() == folded_title.trim() {
            continue;
        }
        lines.push(folded);
    }
    let tokens: Vec<&str> = lines
        .iter()
        .flat_map(|l| l.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect();
    let mut numbers = Vec::new();
    for line in &lines {
        number_tokens(line, &mut numbers);
    }
    date_tokens(&tokens, &mut numbers);

    let hashes: Vec<u64> = tokens.iter().map(|t| hash_str(t)).collect();
    let shingles = shingle_hashes(&hashes);
    let lede = shingle_hashes(&hashes[..hashes.len().min(LEDE_TOKENS)]);
    let mut words = Vec::new();
    let mut key_words = Vec::new();
    let mut lede_key_words = Vec::new();
    for (i, (t, &h)) in tokens.iter().zip(&hashes).enumerate() {
        let chars = t.chars().count();
        if chars < 2 || is_stopword(h) {
            continue;
        }
        words.push(h);
        if chars >= 3 && t.chars().all(char::is_alphabetic) {
            key_words.push(h);
            if i < LEDE_TOKENS {
                lede_key_words.push(h);
            }
        }
    }
    let mut numbers: Vec<u64> = numbers.iter().map(|n| hash_str(n)).collect();
    for v in [
        &mut words,
        &mut key_words,
        &mut lede_key_words,
        &mut numbers,
    ] {
        v.sort_unstable();
        v.dedup();
    }
    Extracted {
        shingles,
        words,
        lede,
        numbers,
        key_words,
        lede_key_words,
        token_hashes: hashes,
    }
}

/// Lower case, accents stripped, typographic quotes and dashes made plain; NFKD also turns
/// no-break and other compatibility spaces into plain ones. Character by character (combining
/// marks are dropped, so their canonical order does not matter), with ASCII passed through.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(if c == '`' {
                '\''
            } else {
                c.to_ascii_lowercase()
            });
        } else {
            decompose_compatible(c, |d| fold_char(d, &mut out));
        }
    }
    out
}

fn fold_char(c: char, out: &mut String) {
    if is_combining_mark(c) {
        return;
    }
    let c = match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '`' | '\u{00B4}' => '\'',
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{00AB}'
        | '\u{00BB}' => '"',
        '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
        c => c,
    };
    out.extend(c.to_lowercase());
}

/// Stopwords by hash: tokens are hashed anyway, and comparing numbers is cheaper than strings.
static STOPWORD_HASHES: LazyLock<Vec<u64>> = LazyLock::new(|| {
    let mut h: Vec<u64> = STOPWORDS.iter().map(|w| hash_str(w)).collect();
    h.sort_unstable();
    h
});

fn is_stopword(hash: u64) -> bool {
    STOPWORD_HASHES.binary_search(&hash).is_ok()
}

/// Words in `line`, counted up to `limit` (the callers only ask "fewer than …?").
fn word_count(line: &str, limit: usize) -> usize {
    line.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(limit)
        .count()
}

/// "By Jane Doe", "Reporting by …; Editing by …", "Posted by … at 9:45 PM", "(Source: Xinhua)".
fn is_byline(line: &str) -> bool {
    const CREDITS: &[&str] = &[
        "reporting by",
        "additional reporting",
        "writing by",
        "editing by",
        "compiled by",
        "posted by",
        "source:",
    ];
    let head: String = line
        .trim_start_matches('(')
        .chars()
        .take(24)
        .flat_map(char::to_lowercase)
        .collect();
    if CREDITS.iter().any(|p| head.starts_with(p)) {
        return word_count(line, 25) <= 24;
    }
    // "By Tuesday, rescuers had …" is a sentence; a byline has no full stop.
    head.starts_with("by ") && word_count(line, 9) <= 8 && !line.trim_end().ends_with('.')
}

/// Headings, share buttons, labels, "No comments:", "Post a Comment": short lines that are not
/// sentences.
fn is_chrome(line: &str) -> bool {
    let words = word_count(line, 8);
    let sentence = line
        .trim_end()
        .ends_with(['.', '?', '"', '\'', '\u{201D}', '\u{2019}']);
    words < 3 || (words < 8 && !sentence)
}

/// Remove a leading dateline: "BEIJING, April 1 (Reuters) -", "KYIV, Ukraine (AP) —",
/// "March 28 (Reuters) -", "MOSCOW —". The first free-standing dash decides: if what precedes it
/// is not a dateline, the line is kept whole.
pub fn strip_dateline(line: &str) -> &str {
    for (i, c) in line.char_indices().take(100) {
        if !matches!(c, '-' | '\u{2013}' | '\u{2014}') {
            continue;
        }
        let before = &line[..i];
        let spaced = before.ends_with([' ', ')', '-']) || before.is_empty();
        if c == '-' && !spaced {
            continue; // a hyphen inside a word
        }
        let rest = line[i..]
            .trim_start_matches(['-', '\u{2013}', '\u{2014}'])
            .trim_start();
        if looks_like_dateline(before.trim_end()) && !rest.is_empty() {
            return rest;
        }
        return line;
    }
    line
}

fn looks_like_dateline(prefix: &str) -> bool {
    if prefix.is_empty() || prefix.chars().count() > 80 {
        return false;
    }
    if let Some(open) = prefix.rfind('(')
        && prefix.ends_with(')')
        && prefix.len() - open <= 32
        && !prefix[..open].contains(['(', ')'])
    {
        return true;
    }
    let place = prefix.split(',').next().unwrap_or("").trim();
    place.chars().filter(|c| c.is_alphabetic()).count() >= 2
        && !place.chars().any(char::is_lowercase)
}

/// Numbers that tell one day's or one match's report from another's: amounts with three or
/// more digits or a decimal point ("50,752", "1.18"), and scores ("2-1"). Years and small
/// counts are shared by unrelated stories and left out.
fn number_tokens(folded: &str, out: &mut Vec<String>) {
    // Digits and separators are ASCII; any other byte of a multi-byte character counts as part
    // of a word, so "x1" and "é1" are not numbers.
    let b = folded.as_bytes();
    let wordy = |i: usize| {
        b.get(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c >= 0x80)
    };
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let mut i = 0;
    while i < b.len() {
        if !digit(i) || (i > 0 && wordy(i - 1)) {
            i += 1;
            continue;
        }
        let start = i;
        let mut num = String::new();
        while i < b.len() {
            if digit(i) {
                num.push(char::from(b[i]));
            } else if matches!(b[i], b',' | b'.') && digit(i + 1) {
                if b[i] == b'.' {
                    num.push('.');
                }
            } else {
                break;
            }
            i += 1;
        }
        let plain = i - start == num.len() && num.len() <= 2;
        if plain && b.get(i) == Some(&b'-') {
            let mut j = i + 1;
            while digit(j) && j - i <= 3 {
                j += 1;
            }
            let other = &folded[i + 1..j];
            if (1..=2).contains(&other.len()) && !wordy(j) {
                out.push(format!("score:{num}-{other}"));
                i = j;
                continue;
            }
        }
        let digits = num.bytes().filter(u8::is_ascii_digit).count();
        let year = num.len() == 4 && (num.starts_with("19") || num.starts_with("20"));
        if num.contains('.') || (digits >= 3 && !year) {
            out.push(num);
        }
    }
}

/// Weekdays and "April 14": two days' reports of the same kind differ in them.
fn date_tokens(tokens: &[&str], out: &mut Vec<String>) {
    for (i, &t) in tokens.iter().enumerate() {
        if t.ends_with("day") && WEEKDAYS.contains(&t) {
            out.push(format!("day:{t}"));
            continue;
        }
        let day = tokens
            .get(i + 1)
            .filter(|d| d.len() <= 2 && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<u8>().ok())
            .filter(|d| (1..=31).contains(d));
        if let Some(day) = day
            && let Some(&(_, month)) = MONTHS.iter().find(|(m, _)| *m == t)
        {
            out.push(format!("date:{month}-{day}"));
        }
    }
}

fn shingle_hashes(words: &[u64]) -> Vec<u64> {
    let mut out: Vec<u64> = if words.len() < SHINGLE {
        // A text shorter than one shingle is one shingle.
        if words.is_empty() {
            Vec::new()
        } else {
            vec![words.iter().fold(SHINGLE_SEED, |h, &w| mix(h ^ w))]
        }
    } else {
        words
            .windows(SHINGLE)
            .map(|w| w.iter().fold(SHINGLE_SEED, |h, &x| mix(h ^ x)))
            .collect()
    };
    out.sort_unstable();
    out.dedup();
    out
}

const SHINGLE_SEED: u64 = 0x5348_494e_474c_4533;

/// FNV-1a over the bytes, then a finalizer so that all bits depend on all input. Stable by
/// construction (no `DefaultHasher`).
pub fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// The splitmix64 finalizer.
pub fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopwords_are_recognised_by_hash() {
        assert!(STOPWORDS.iter().all(|w| is_stopword(hash_str(w))));
        assert!(!is_stopword(hash_str("lavrov")) && !is_stopword(hash_str("ministers")));
    }

    #[test]
    fn datelines_are_stripped_and_sentences_kept() {
        for (line, want) in [
            (
                "BEIJING, April 1 (Reuters) - Chinese Foreign",
                "Chinese Foreign",
            ),
            ("KYIV, Ukraine (AP) — Russian missile", "Russian missile"),
            ("March 28 (Reuters) -- A powerful", "A powerful"),
            ("MOSCOW, April 1 (TASS) — Lavrov", "Lavrov"),
            ("BEIJING — China said", "China said"),
            (
                "GAZA CITY, Palestinian Territories, April 13 (AFP) - An",
                "An",
            ),
        ] {
            assert_eq!(strip_dateline(line), want, "{line}");
        }
        for line in [
            "Pro-Russian forces advanced - officials said.",
            "The Christian Democrats (CDU) and the CSU won 28.5% - a result.",
            "U.S. stocks closed higher - a rally.",
        ] {
            assert_eq!(strip_dateline(line), line);
        }
    }

    #[test]
    fn bylines_and_chrome_are_not_the_story() {
        for line in [
            "By Jane Doe",
            "By The Associated Press",
            "Reporting by Liz Lee and Ethan Wang; Editing by Tom Hogue",
            "(Reporting by Nidal al-Mughrabi in Cairo; Editing by Alison Williams)",
            "Posted by International Agencies at 9:45 PM",
        ] {
            assert!(is_byline(line), "{line}");
        }
        assert!(!is_byline(
            "By Tuesday, rescuers had pulled 40 people from the rubble."
        ));
        for line in [
            "No comments:",
            "Post a Comment",
            "Share this:",
            "Labels: China, Russia, SCO",
            "Strategic Implications",
        ] {
            assert!(is_chrome(line), "{line}");
        }
        assert!(!is_chrome("He denied the charge."));
    }

    #[test]
    fn folding_strips_case_accents_and_typography() {
        assert_eq!(fold("Ça Évolue"), "ca evolue");
        assert_eq!(
            fold("Moscow\u{2019}s \u{201C}no\u{201D} \u{2014} `x`"),
            "moscow's \"no\" - 'x'"
        );
        assert_eq!(fold("1\u{a0}April ＣＨＩＮＡ"), "1 april china");
        assert_eq!(fold("Koundé Rüdiger Modrić"), "kounde rudiger modric");
    }

    #[test]
    fn typography_does_not_change_the_features() {
        let curly = extract(
            "t",
            "Wang said ties were the \u{201C}most stable\u{201D} \u{2014} and Moscow\u{2019}s view agreed on 1\u{a0}April.",
        );
        let straight = extract(
            "t",
            "Wang said ties were the \"most stable\" - and Moscow's view agreed on 1 April.",
        );
        assert_eq!(curly, straight);
    }

    #[test]
    fn datelines_bylines_and_a_repeated_title_leave_the_same_body() {
        let plain = extract(
            "China says Russia ties stable",
            "Chinese Foreign Minister Wang Yi told his Russian counterpart on Tuesday that ties were stable.\nLavrov arrived from North Korea.",
        );
        let dressed = extract(
            "China says Russia ties stable",
            "China says Russia ties stable\nBy Jane Doe\nBEIJING, April 1 (Reuters) - Chinese Foreign Minister Wang Yi told his Russian counterpart on Tuesday that ties were stable.\nLavrov arrived from North Korea.\nNo comments:\nPost a Comment",
        );
        assert_eq!(plain, dressed);
        assert_eq!(plain.token_hashes.len(), 20);
    }

    #[test]
    fn numbers_keep_amounts_scores_and_dates_but_not_years_or_counts() {
        let mut out = Vec::new();
        number_tokens(
            &fold("Toll rose to 50,752 (1.18%) in 2023; 57 killed; Arsenal won 2-1, a 10-year-old"),
            &mut out,
        );
        assert_eq!(out, ["50752", "1.18", "score:2-1"]);
        let tokens = ["on", "monday", "april", "14", "may", "be"];
        let mut dates = Vec::new();
        date_tokens(&tokens, &mut dates);
        assert_eq!(dates, ["day:monday", "date:4-14"]);
    }

    #[test]
    fn lede_is_the_first_tokens() {
        let text = (0..100)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let e = extract("", &format!("{text}."));
        assert_eq!(e.lede.len(), LEDE_TOKENS - SHINGLE + 1);
        assert_eq!(e.shingles.len(), 100 - SHINGLE + 1);
    }

    #[test]
    fn hashes_are_stable() {
        // Persisted through signatures: these values must never change.
        assert_eq!(hash_str("lavrov"), 0x5991_6349_4b75_0255);
        assert_eq!(mix(1), 0x5692_161d_100b_05e5);
    }
}
