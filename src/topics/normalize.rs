//! Text folding and word splitting shared by queries and items, so both sides compare alike.
//!
//! Decides what a "word" is: case, accents and typographic variants (’ vs ', “ vs ") do not
//! matter; hyphens and punctuation separate words; a possessive `’s` is dropped so `Lavrov`
//! matches "Lavrov’s"; and scripts written without spaces (Han, Hiragana, Katakana, Thai, Lao,
//! Khmer, Myanmar) give one token per character, so a query word in them matches any run of
//! consecutive characters (substring), while a Latin word beside them stays a whole word.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// The folded tokens of one or more fields, in one buffer: no `String` per word.
#[derive(Debug, Default, Clone)]
pub struct Tokens {
    buf: String,
    spans: Vec<(u32, u32)>,
}

impl Tokens {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.spans.clear();
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Bytes held, for callers that keep a `Tokens` between items.
    pub fn capacity(&self) -> usize {
        self.buf.capacity() + self.spans.capacity() * std::mem::size_of::<(u32, u32)>()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Token `i`; a barrier (see [`Tokens::push_barrier`]) is the empty string.
    pub fn get(&self, i: usize) -> &str {
        let (s, e) = self.spans[i];
        &self.buf[s as usize..e as usize]
    }

    /// Tokens `from..to` as one string, without separators: a quick containment test.
    pub fn joined(&self, from: usize, to: usize) -> &str {
        if from >= to {
            return "";
        }
        &self.buf[self.spans[from].0 as usize..self.spans[to - 1].1 as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// An empty token no term matches, so a phrase cannot run across it (between categories).
    pub fn push_barrier(&mut self) {
        let at = self.offset();
        self.spans.push((at, at));
    }

    /// Fold `text` and append its tokens.
    pub fn push_text(&mut self, text: &str) {
        let mut w = Writer {
            toks: self,
            start: None,
        };
        w.run(text);
    }

    fn offset(&self) -> u32 {
        // Item text is capped far below 4 GiB upstream; saturate rather than wrap.
        u32::try_from(self.buf.len()).unwrap_or(u32::MAX)
    }
}

/// Folded words of `text` as owned strings (queries and the reference evaluator).
pub fn words(text: &str) -> Vec<String> {
    let mut t = Tokens::new();
    t.push_text(text);
    t.iter().map(str::to_string).collect()
}

/// Folded text: the tokens joined by single spaces (no `String` per word).
pub fn fold(text: &str) -> String {
    let mut t = Tokens::new();
    t.push_text(text);
    let mut out = String::with_capacity(t.buf.len() + t.len());
    for w in t.iter().filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// ASCII letters and digits, by byte (a table: the tokenizer's innermost test).
const ASCII_WORD: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    t
};

struct Writer<'a> {
    toks: &'a mut Tokens,
    /// Where the word being written began in the buffer.
    start: Option<u32>,
}

impl Writer<'_> {
    fn run(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b < 0x80 {
                if ASCII_WORD[b as usize] {
                    // The common case: copy the whole ASCII run, then lower-case it in place.
                    let run = bytes[i..]
                        .iter()
                        .position(|&b| !ASCII_WORD[b as usize])
                        .map_or(bytes.len(), |n| i + n);
                    self.begin();
                    let at = self.toks.buf.len();
                    self.toks.buf.push_str(&text[i..run]);
                    self.toks.buf[at..].make_ascii_lowercase();
                    i = run;
                    continue;
                }
                i += 1;
                if matches!(b, b'\'' | b'`') {
                    i = self.apostrophe(text, i);
                } else {
                    self.end();
                }
                continue;
            }
            let Some(c) = text[i..].chars().next() else {
                break;
            };
            i += c.len_utf8();
            if is_apostrophe(c) {
                i = self.apostrophe(text, i);
            } else if is_ignorable(c) {
                // Soft hyphens and joiners sit inside words in real feeds.
            } else if ('\u{2000}'..='\u{206F}').contains(&c) {
                // General punctuation (dashes, quotes, spaces): the common non-ASCII case.
                self.end();
            } else if !(c.is_alphanumeric() || is_combining_mark(c)) {
                // Punctuation, symbols (™ would decompose to "TM"), spaces.
                self.end();
            } else if ('\u{AC00}'..='\u{D7A3}').contains(&c) {
                // Hangul syllables carry no accents; decomposing them to jamo gains nothing.
                self.push_char(c);
            } else {
                decompose_compatible(c, |d| {
                    if !is_accent(d) {
                        self.push_folded(d);
                    }
                });
            }
        }
        self.end();
    }

    /// An apostrophe at byte `i - 1`; returns where to continue. `’s` ending a word is a
    /// possessive and is dropped; any other apostrophe separates words.
    fn apostrophe(&mut self, text: &str, i: usize) -> usize {
        let rest = &text.as_bytes()[i..];
        let possessive = self.start.is_some()
            && matches!(rest.first(), Some(b's' | b'S'))
            && !text[i + 1..].chars().next().is_some_and(is_word_char);
        self.end();
        if possessive { i + 1 } else { i }
    }

    fn push_folded(&mut self, d: char) {
        match d {
            'ς' => self.push_char('σ'),
            'ß' | 'ẞ' => self.push_str("ss"),
            'æ' | 'Æ' => self.push_str("ae"),
            'œ' | 'Œ' => self.push_str("oe"),
            'ø' | 'Ø' => self.push_char('o'),
            'ł' | 'Ł' => self.push_char('l'),
            'đ' | 'Đ' => self.push_char('d'),
            'ı' => self.push_char('i'),
            _ if d.is_ascii() => {
                if d.is_ascii_alphanumeric() {
                    self.push_char(d.to_ascii_lowercase());
                } else {
                    self.end();
                }
            }
            _ => {
                for l in d.to_lowercase() {
                    // `to_lowercase` of a capital sigma never gives the final form by itself.
                    let l = if l == 'ς' { 'σ' } else { l };
                    self.push_char(l);
                }
            }
        }
    }

    fn push_str(&mut self, s: &str) {
        s.chars().for_each(|c| self.push_char(c));
    }

    /// One folded character: part of a word, a token of its own, or a separator.
    fn push_char(&mut self, c: char) {
        if is_spaceless(c) {
            self.end();
            self.begin();
            self.toks.buf.push(c);
            self.end();
        } else if is_word_char(c) {
            self.begin();
            self.toks.buf.push(c);
        } else {
            self.end();
        }
    }

    fn begin(&mut self) {
        if self.start.is_none() {
            self.start = Some(self.toks.offset());
        }
    }

    fn end(&mut self) {
        if let Some(s) = self.start.take() {
            let e = self.toks.offset();
            self.toks.spans.push((s, e));
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\u{2018}' | '\u{2019}' | '\u{201B}' | '\u{02BC}' | '\u{2032}' | '\u{00B4}' | '\u{FF07}'
    )
}

/// Format characters that must not split a word.
fn is_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
    )
}

/// Marks that are accents (stripped): Latin/Greek/Cyrillic diacritics, Hebrew points, Arabic
/// vowel signs and tatweel. Other marks (Devanagari vowel signs, Thai vowels) are letters.
fn is_accent(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{0591}'..='\u{05BD}'
        | '\u{05BF}'
        | '\u{05C1}'..='\u{05C2}'
        | '\u{05C4}'..='\u{05C5}'
        | '\u{05C7}'
        | '\u{0610}'..='\u{061A}'
        | '\u{0640}'
        | '\u{064B}'..='\u{065F}'
        | '\u{0670}')
}

/// Scripts written without spaces between words: each character is a token.
pub fn is_spaceless(c: char) -> bool {
    matches!(c,
        '\u{0E00}'..='\u{0EFF}'       // Thai, Lao
        | '\u{1000}'..='\u{109F}'     // Myanmar
        | '\u{1780}'..='\u{17FF}'     // Khmer
        | '\u{19E0}'..='\u{19FF}'     // Khmer symbols
        | '\u{3005}'..='\u{3007}'     // 々 〆 〇
        | '\u{3040}'..='\u{30FF}'     // Hiragana, Katakana
        | '\u{31F0}'..='\u{31FF}'     // Katakana extensions
        | '\u{3400}'..='\u{4DBF}'     // Han extension A
        | '\u{4E00}'..='\u{9FFF}'     // Han
        | '\u{A9E0}'..='\u{A9FF}'     // Myanmar extended-B
        | '\u{AA60}'..='\u{AA7F}'     // Myanmar extended-A
        | '\u{F900}'..='\u{FAFF}'     // Han compatibility
        | '\u{20000}'..='\u{3FFFF}') // Han extensions B and later
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_accents_and_typography() {
        assert_eq!(fold("Ça Évolue"), "ca evolue");
        assert_eq!(
            words("China’s   Lavrov—visit, São Paulo!"),
            ["china", "lavrov", "visit", "sao", "paulo"]
        );
        assert_eq!(words("ＣＨＩＮＡ"), ["china"]);
        assert_eq!(words("Straße Łódź Øresund"), ["strasse", "lodz", "oresund"]);
    }

    #[test]
    fn possessives_drop_other_apostrophes_separate() {
        assert_eq!(words("Lavrov’s Lavrov's LAVROV’S"), ["lavrov"; 3]);
        assert_eq!(
            words("O'Brien don’t ministers’"),
            ["o", "brien", "don", "t", "ministers"]
        );
        assert_eq!(words("Lavrov'sky"), ["lavrov", "sky"], "not a possessive");
        assert_eq!(words("'s"), ["s"], "no word to be possessive of");
    }

    #[test]
    fn hyphens_and_punctuation_separate() {
        assert_eq!(words("Sino-Russian"), ["sino", "russian"]);
        assert_eq!(words("U.S.-led, 3.5%"), ["u", "s", "led", "3", "5"]);
        assert_eq!(words("Apple™ deal"), ["apple", "deal"]);
        assert_eq!(words("Lav\u{AD}rov"), ["lavrov"], "soft hyphen");
    }

    #[test]
    fn cyrillic_and_greek_case_fold() {
        assert_eq!(fold("ЛАВРОВ"), fold("лавров"));
        assert_eq!(fold("ΑΘΗΝΑ"), fold("αθηνα"));
        assert_eq!(fold("Αθήνα"), "αθηνα");
        assert_eq!(fold("ΟΔΥΣΣΕΥΣ"), fold("οδυσσευς"), "final sigma");
        assert_eq!(fold("Ёлка"), "елка");
    }

    #[test]
    fn spaceless_scripts_give_one_token_per_character() {
        assert_eq!(
            words("普京访问Beijing大学"),
            ["普", "京", "访", "问", "beijing", "大", "学"]
        );
        assert_eq!(words("กรุงเทพ").len(), "กรุงเทพ".chars().count());
        assert_eq!(
            words("서울 시장"),
            ["서울", "시장"],
            "Hangul is written with spaces"
        );
    }
}
