//! Stories (DESIGN.md §4): which items are copies of one story. Pure: the writer owns a
//! [`StoryIndex`], feeds it [`Signature`]s computed in the CPU stage, and applies
//! [`url_join_allowed`] to what the database says about shared URLs.
//!
//! Two items are one story when their cleaned bodies share enough word 3-shingles and content
//! words (containment, so a copy that lost paragraphs still matches), their specific numbers
//! and dates do not disagree (two days' market wraps), a short item matches the other's lede
//! (a two-sentence trim, not a follow-up quoting it), and they are within the window. The
//! thresholds and the measurements behind them are in `src/stories/README.md`.
//!
//! ```
//! use std::time::Duration;
//! use feedwatch::stories::{Signature, StoryIndex};
//!
//! let mut index = StoryIndex::new(Duration::from_secs(72 * 3600));
//! let wire = "BEIJING, April 1 (Reuters) - Chinese Foreign Minister Wang Yi told his Russian \
//!     counterpart Sergei Lavrov on Tuesday that relations between the two countries were the \
//!     most stable and most mature between major powers.\n\
//!     Lavrov arrived in Beijing after a visit to North Korea, where he received further \
//!     assurances of support for Moscow's war in Ukraine.";
//! let (feed_wire, feed_blog, at) = (1, 2, 1_743_494_100);
//! let sig = Signature::new("China says Russia ties most stable", wire);
//! assert_eq!(index.find(&sig, feed_wire, at), None); // a new story, id 42 say
//! index.insert(42, feed_wire, at, &sig);
//!
//! // Another feed runs the lede under its own headline, without the dateline, hours later.
//! let lede = wire.lines().next().unwrap().replace("BEIJING, April 1 (Reuters) - ", "");
//! let copy = Signature::new("China stresses ties with Russia | Herald", &lede);
//! assert_eq!(index.find(&copy, feed_blog, at + 3 * 3600), Some(42));
//! ```

mod index;
mod signature;
mod sketch;
mod text;

use std::time::Duration;

pub use index::StoryIndex;
pub use signature::{
    Features, LEDE_MIN, LONG_SHINGLES, MIN_TOKENS, NUMBERS_AGREE, NUMBERS_MIN, SAME_FEED_LEDE,
    SAME_FEED_SHINGLES, SCORE_MIN, SHORT, SIZE_RATIO, Signature, Similarity,
};

/// Whether a new item may join an earlier item's story because both carry `canonical_url`.
///
/// `items_in_new_feed` and `items_in_earlier_feed` count the items of each item's feed that
/// carry this URL, the items themselves included. A URL carried by more than one item of a
/// feed does not name an article: it is a homepage, a live blog, or a feed that links every
/// item to its front page; a bare host (`https://example.org/`) never names one. Such URLs
/// join nothing, and neither do items further apart than `window` (`seconds_apart` may be
/// negative). Items of one feed sharing a URL are therefore left to the text rule, which joins
/// a feed's own items only as near-verbatim reissues.
pub fn url_join_allowed(
    canonical_url: &str,
    items_in_new_feed: usize,
    items_in_earlier_feed: usize,
    seconds_apart: i64,
    window: Duration,
) -> bool {
    names_a_page(canonical_url)
        && items_in_new_feed <= 1
        && items_in_earlier_feed <= 1
        && seconds_apart.unsigned_abs() <= window.as_secs()
}

/// Whether two items of one feed carry the same headline, give or take a reissue's marks
/// ("UPDATE 1-", "Corrected:"): most words of the shorter title are in the other. A feed's own
/// items join only when this holds too, so a feed's templated reports with near-identical
/// bodies ("report 43", "report 50") stay apart — losing an alert is worse than a second one.
pub fn same_feed_titles_agree(a: &str, b: &str) -> bool {
    let words = |t: &str| -> std::collections::HashSet<String> {
        text::fold(t)
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let (a, b) = (words(a), words(b));
    let (small, large) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    if small.is_empty() {
        return large.is_empty();
    }
    let shared = small.iter().filter(|w| large.contains(*w)).count();
    shared * 10 >= small.len() * 9
}

/// A URL with a path or a query, not just a host.
fn names_a_page(url: &str) -> bool {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    match after_scheme.find(['/', '?']) {
        None => false,
        Some(i) => !matches!(&after_scheme[i..], "/" | "" | "/?" | "?"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reissue_keeps_its_headline_and_templated_reports_do_not() {
        assert!(same_feed_titles_agree(
            "Egypt proposes new Gaza truce plan, sources say",
            "UPDATE 1-Egypt proposes new Gaza truce plan, sources say"
        ));
        assert!(!same_feed_titles_agree(
            "China and Russia discuss grain festival (report 50)",
            "China and Russia discuss vaccine treaty (report 43)"
        ));
        assert!(!same_feed_titles_agree(
            "Tokyo stocks close higher",
            "Tokyo stocks close lower"
        ));
    }

    const DAY: i64 = 86_400;
    const WINDOW: Duration = Duration::from_secs(3 * DAY as u64);

    #[test]
    fn an_article_url_joins_within_the_window() {
        let url = "https://news.example.org/2025/04/01/china-russia.html";
        assert!(url_join_allowed(url, 1, 1, DAY, WINDOW));
        assert!(url_join_allowed(url, 1, 1, -DAY, WINDOW));
        assert!(!url_join_allowed(url, 1, 1, 4 * DAY, WINDOW));
        assert!(url_join_allowed(
            "https://blog.example.org/?p=123",
            1,
            1,
            0,
            WINDOW
        ));
    }

    #[test]
    fn a_url_many_items_of_a_feed_carry_joins_nothing() {
        let live = "https://news.example.org/live/ukraine-war";
        assert!(!url_join_allowed(live, 2, 1, 0, WINDOW));
        assert!(!url_join_allowed(live, 1, 40, 0, WINDOW));
        for home in ["https://news.example.org", "https://news.example.org/"] {
            assert!(!url_join_allowed(home, 1, 1, 0, WINDOW), "{home}");
        }
    }
}
