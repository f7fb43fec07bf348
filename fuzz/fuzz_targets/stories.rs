//! Story similarity: items (title and text pairs, NUL-separated, one per line pair) turned
//! into signatures, each looked up in a `StoryIndex` and inserted, as the writer does. The
//! first byte of each item's title varies its feed and time.
//!
//! Signatures survive their byte form, damaged bytes are refused without a panic, and
//! similarities are shares between 0 and 1.
#![no_main]

use std::time::Duration;

use feedwatch::stories::{Signature, StoryIndex};
use feedwatch_fuzz::{abort_on_any_panic, fields};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: abort_on_any_panic(), |data: &[u8]| {
    let Some(parts) = fields(data) else {
        return;
    };
    let mut index = StoryIndex::new(Duration::from_secs(72 * 3600));
    let mut at: i64 = 1_780_000_000;
    let mut previous: Option<Signature> = None;
    for (n, pair) in parts.chunks(2).take(64).enumerate() {
        let title = pair[0];
        let text = pair.get(1).copied().unwrap_or("");
        let knob = title.bytes().next().unwrap_or(0);
        let feed = i64::from(knob % 4);
        // Mostly forward, sometimes back: the index is rebuilt oldest first, but clocks step.
        at += i64::from(knob) * 97 - 3000;
        let sig = Signature::new(title, text);
        let bytes = sig.to_bytes();
        assert_eq!(Signature::from_bytes(&bytes).as_ref(), Some(&sig), "byte form");
        let _ = Signature::from_bytes(text.as_bytes());
        if let Some(prev) = &previous {
            let s = sig.similarity(prev);
            for share in [s.shingles, s.words, s.lede, s.size_ratio] {
                assert!(share.is_finite() && (0.0..=1.0).contains(&share), "{s:?}");
            }
        }
        let story = index.find(&sig, feed, at).unwrap_or(n as i64);
        index.insert(story, feed, at, &sig);
        previous = Some(sig);
    }
    index.evict_older_than(at);
});
