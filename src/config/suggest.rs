//! "Did you mean": the known word closest to a misspelt one, when it is close enough that the
//! suggestion is likely right. Pure.

/// The candidate nearest to `word` (case and `-`/`_` aside, one edit per five letters, at
/// least one), or `None` when nothing is that close.
pub(super) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let norm = |s: &str| s.to_lowercase().replace('-', "_");
    let w = norm(word);
    let allowed = (1 + w.chars().count() / 5).min(3);
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (strsim::damerau_levenshtein(&w, &norm(c)), c))
        .filter(|(d, _)| *d <= allowed && *d < w.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// "; did you mean `x`?" after a message, or nothing.
pub(super) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    closest(word, candidates)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

/// "unknown {what} `word`", then the likely one with the choices, or just the choices.
pub(super) fn unknown_choice(what: &str, word: &str, choices: &[&str]) -> String {
    let all = choices.join(", ");
    match closest(word, choices.iter().copied()) {
        Some(c) => format!("unknown {what} `{word}`; did you mean `{c}`? (one of {all})"),
        None => format!("unknown {what} `{word}`; expected one of {all}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[&str] = &["concurrency", "per_host", "timeout", "schedule", "max_body"];

    #[test]
    fn close_misspellings_are_matched() {
        for (typo, want) in [
            ("concurency", "concurrency"),
            ("Concurrency", "concurrency"),
            ("shedule", "schedule"),
            ("timout", "timeout"),
            ("max-body", "max_body"),
            ("per_hots", "per_host"),
        ] {
            assert_eq!(closest(typo, KEYS.iter().copied()), Some(want), "{typo}");
        }
        assert_eq!(
            closest("deamon", ["daemon", "http", "feed"]),
            Some("daemon")
        );
        assert_eq!(closest("webook", ["webhook", "ntfy"]), Some("webhook"));
    }

    #[test]
    fn far_words_get_no_suggestion() {
        for word in ["colour", "x", "to", "workers", "database"] {
            assert_eq!(closest(word, KEYS.iter().copied()), None, "{word}");
        }
        assert_eq!(did_you_mean("zzz", KEYS.iter().copied()), "");
        assert_eq!(
            did_you_mean("timeot", KEYS.iter().copied()),
            "; did you mean `timeout`?"
        );
        assert_eq!(
            unknown_choice("color", "gren", &["red", "green"]),
            "unknown color `gren`; did you mean `green`? (one of red, green)"
        );
        assert_eq!(
            unknown_choice("color", "blue", &["red", "green"]),
            "unknown color `blue`; expected one of red, green"
        );
    }
}
