//! Feed bytes through the whole CPU stage: charset, dialect, repairs, feed-rs, text, identity
//! keys, story signatures, search text and topic matches, as `poll` runs it. The first byte
//! picks the Content-Type and the feed (so the `dedup` policy); the rest is the body.
//!
//! Beyond "no panic": what the parse layer promises about its output. Error messages and
//! titles are clean and on one line, stored texts are clean.
#![no_main]

use std::collections::HashMap;

use feedwatch::parse::{Deadline, parse_feed_within};
use feedwatch_fuzz::{CONTENT_TYPES, abort_on_any_panic, config, unclean};
use libfuzzer_sys::fuzz_target;
use url::Url;

fuzz_target!(init: abort_on_any_panic(), |data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let config = config();
    let feed = &config.feeds[usize::from(pick >> 4) % config.feeds.len()];
    let content_type = CONTENT_TYPES[usize::from(pick & 0xf)];
    let Ok(base) = Url::parse(feed.url.as_str()) else {
        return;
    };
    let deadline = Deadline::none();
    let doc = match parse_feed_within(body, content_type, &base, &deadline) {
        Ok(doc) => doc,
        Err(e) => {
            let msg = e.to_string();
            assert!(!unclean(&msg) && !msg.contains('\n'), "error message {msg:?}");
            return;
        }
    };
    if let Some(title) = &doc.title {
        assert!(!unclean(title) && !title.contains('\n'), "feed title {title:?}");
    }
    let prepared = feedwatch::prepare::prepare(
        doc,
        config,
        feed,
        None,
        |_| Ok(HashMap::new()),
        &deadline,
    );
    let Ok(prepared) = prepared else {
        return;
    };
    for item in &prepared.items {
        for line in [&item.title, item.author.as_deref().unwrap_or("")] {
            assert!(!unclean(line) && !line.contains('\n'), "one-line field {line:?}");
        }
        for text in [&item.summary, &item.content, item.guid.as_deref().unwrap_or("")] {
            assert!(!unclean(text), "text {text:?}");
        }
    }
});
