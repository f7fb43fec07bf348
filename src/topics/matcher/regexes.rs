//! Regex terms, gated by a word they cannot match without.
//!
//! A regex runs case-insensitively over a field's original text, which costs a scan of that
//! text per regex. Most regexes contain a run of ASCII letters or digits that every match
//! must include (`sanction(s|ed)\s+\d+` needs "sanction"); any text a match could occur in
//! then also holds that run, lower-cased, inside its folded tokens (folding only lower-cases
//! ASCII and maps `ſ`/`K` — the non-ASCII letters a case-insensitive match equates with ASCII
//! ones — to them). So the regex runs only where the folded text contains the run: a
//! substring test over a buffer already built, false positives harmless.
//!
//! Measured alternatives (benches/matching.rs, summaries, items/s at 1,000 / 10,000 topics
//! with 0.5% of topics a regex alone): one `RegexSet` per field 98k / 45k; each regex alone
//! 127k / 48k (a set cannot stop at the first match and its case-insensitive prefilter is
//! weaker than one regex's); gated by `str::contains` per regex 147k / 78k; gated by one
//! Aho-Corasick pass over all gate words 136k / 78k. Kept: the Aho-Corasick gate, whose cost
//! does not grow with the number of regexes.

use regex_syntax::hir::{Hir, HirKind};

/// The longest run of ASCII letters and digits (at least 3) that every match of `pattern`
/// contains, lower-cased; `None` when there is none to rely on.
pub(super) fn required_word(pattern: &str) -> Option<Box<str>> {
    // Parsed case-sensitively on purpose: under case-insensitivity letters become classes.
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .ok()?;
    let run = required(&hir)?;
    (run.len() >= 3).then(|| run.to_ascii_lowercase().into_boxed_str())
}

/// The longest ASCII alphanumeric run `h` cannot match without. Recursion is bounded by the
/// regex parser's nesting limit.
fn required(h: &Hir) -> Option<String> {
    match h.kind() {
        HirKind::Literal(lit) => longest_run(&lit.0),
        HirKind::Capture(c) => required(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => required(&r.sub),
        HirKind::Concat(parts) => {
            let mut best: Option<String> = None;
            let mut consider = |s: Option<String>| {
                if let Some(s) = s
                    && best.as_ref().is_none_or(|b| s.len() > b.len())
                {
                    best = Some(s);
                }
            };
            // Adjacent literals join into one run.
            let mut bytes = Vec::new();
            for p in parts {
                if let HirKind::Literal(lit) = p.kind() {
                    bytes.extend_from_slice(&lit.0);
                } else {
                    consider(longest_run(&bytes));
                    bytes.clear();
                    consider(required(p));
                }
            }
            consider(longest_run(&bytes));
            best
        }
        _ => None,
    }
}

fn longest_run(bytes: &[u8]) -> Option<String> {
    bytes
        .split(|b| !b.is_ascii_alphanumeric())
        .max_by_key(|r| r.len())
        .filter(|r| !r.is_empty())
        .map(|r| String::from_utf8_lossy(r).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(p: &str) -> Option<String> {
        required_word(p).map(String::from)
    }

    #[test]
    fn finds_the_word_every_match_needs() {
        assert_eq!(word("sanction(s|ed)\\s+\\d+").as_deref(), Some("sanction"));
        assert_eq!(word("oil PRICES").as_deref(), Some("prices"));
        assert_eq!(word("^Lavrov\\s+(said|told)").as_deref(), Some("lavrov"));
        assert_eq!(word("(Wang)+ Yi").as_deref(), Some("wang"));
        assert_eq!(word("x{2}abc").as_deref(), Some("abc"));
    }

    #[test]
    fn refuses_when_no_word_is_certain() {
        assert_eq!(word("china|russia"), None, "alternatives");
        assert_eq!(word("(?i)china"), None, "letters as classes");
        assert_eq!(word("(china)?x"), None, "optional");
        assert_eq!(word("\\d{4}"), None);
        assert_eq!(word("ab"), None, "too short to filter");
        assert_eq!(word("北京"), None, "not ASCII");
    }
}
