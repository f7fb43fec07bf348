//! What the fuzz targets share: the panic hook, how an input is cut into parts, and the
//! config the feed target prepares documents with.
//!
//! Inputs are plain bytes, cut at NUL bytes into fields (a query and the item texts, a cron
//! expression and its time zone...), so that the corpora stay readable and the dictionaries
//! in `dict/` work on them.

use std::sync::OnceLock;

use feedwatch::config::{Config, Secrets};

/// A panic anywhere is a finding, even one our code catches (`catch_unwind` in the CPU pool
/// and around feed-rs): abort at once, so libFuzzer records the input as a crash.
pub fn abort_on_any_panic() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        eprintln!("feedwatch-fuzz: a panic, caught or not, is a finding; aborting");
        std::process::abort();
    }));
}

/// `data` as UTF-8 cut at NUL bytes; `None` when it is not UTF-8 (the callers only ever
/// receive text: config files and queries are read as UTF-8 before we see them).
pub fn fields(data: &[u8]) -> Option<Vec<&str>> {
    Some(std::str::from_utf8(data).ok()?.split('\0').collect())
}

/// The Content-Type headers the feed target picks from with the input's first byte: what
/// servers send feeds with, right and wrong.
pub const CONTENT_TYPES: [Option<&str>; 16] = [
    None,
    Some("application/rss+xml"),
    Some("application/atom+xml; charset=utf-8"),
    Some("application/feed+json"),
    Some("text/xml; charset=ISO-8859-1"),
    Some("text/xml; charset=windows-1251"),
    Some("application/xml; charset=utf-16"),
    Some("text/html; charset=utf-8"),
    Some("text/plain; charset=Shift_JIS"),
    Some("application/json"),
    Some("text/xml; charset=\"utf-8\""),
    Some("application/xml; charset=bogus-encoding"),
    Some("text/xml; charset=gb18030"),
    Some("application/rdf+xml"),
    Some("application/octet-stream"),
    Some("text/xml; charset=utf-32"),
];

/// Topics that use every part of the query language, over feeds with each `dedup` policy.
const CONFIG: &str = r#"
[daemon]
database = "/nonexistent/feedwatch.db"

[[feed]]
name = "auto"
url = "https://news.example.org/feeds/world.xml"
tags = ["world"]

[[feed]]
name = "guid"
url = "https://news.example.org/feeds/guid.xml"
dedup = "guid"

[[feed]]
name = "link"
url = "https://news.example.org/feeds/link.xml"
dedup = "link"

[[feed]]
name = "content"
url = "https://news.example.org/feeds/content.xml"
dedup = "content"

[[topic]]
name = "china-russia"
query = '(China OR Beijing) AND (Russia OR Moscow OR Lavrov) -sponsored'
notify = ["log"]

[[topic]]
name = "phrases"
query = '"strategic partnership" OR title:"foreign minister" OR sanction* OR content:tariff*'
notify = ["log"]

[[topic]]
name = "fields"
query = 'author:reuters OR category:world OR feed:auto OR url:example NOT summary:opinion'
notify = ["log"]

[[topic]]
name = "regex"
query = '/Wang\s+Yi/ OR /\b[0-9]{4}-[0-9]{2}-[0-9]{2}\b/ (Кремль OR 北京 OR café)'
notify = ["log"]
tags = ["world"]

[[notifier]]
name = "log"
kind = "log"
"#;

/// [`CONFIG`], parsed once.
pub fn config() -> &'static Config {
    static CONFIG_PARSED: OnceLock<Config> = OnceLock::new();
    CONFIG_PARSED.get_or_init(|| {
        match feedwatch::config::parse(
            std::path::Path::new("/fuzz/feedwatch.toml"),
            CONFIG,
            Secrets::Skip,
        ) {
            Ok(c) => c,
            // The harness itself is broken: nothing to fuzz.
            Err(e) => panic!("the fuzz config does not load: {e}"),
        }
    })
}

/// Whether `s` carries a character [`feedwatch::text::clean`] removes.
pub fn unclean(s: &str) -> bool {
    matches!(feedwatch::text::clean(s), std::borrow::Cow::Owned(_))
}
