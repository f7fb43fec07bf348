//! Text folding shared by queries and items, so both sides compare alike: case, accents and
//! typographic variants (’ vs ', “ vs ") do not matter, and words are whole words.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Lower-case, strip accents, fold typographic punctuation.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfkd() {
        if is_combining_mark(c) {
            continue;
        }
        let c = match c {
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '`' | '\u{00B4}' => {
                '\''
            }
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{00AB}'
            | '\u{00BB}' => '"',
            '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            c => c,
        };
        out.extend(c.to_lowercase());
    }
    out
}

/// Folded words: maximal runs of letters and digits. "China’s" gives `china`, `s`.
pub fn words(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_accents_and_typography() {
        assert_eq!(fold("Ça Évolue"), "ca evolue");
        assert_eq!(fold("China’s “partner”"), "china's \"partner\"");
        assert_eq!(
            words("China’s   Lavrov—visit, São Paulo!"),
            ["china", "s", "lavrov", "visit", "sao", "paulo"]
        );
        assert_eq!(words("ＣＨＩＮＡ"), ["china"]);
    }
}
