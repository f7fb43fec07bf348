//! OPML import and export (`feedwatch opml import|export`) on any text: `opml::parse`, `plan`
//! against a config that has one feed, and, for what it plans, the round trip a user makes:
//! the new `[[feed]]` tables appended to the config must load, their export must read back,
//! and importing that export into the grown config must add nothing.
#![no_main]

use std::path::Path;

use feedwatch::config::{Secrets, parse};
use feedwatch::opml;
use libfuzzer_sys::fuzz_target;

const PATH: &str = "/fuzz/feedwatch.toml";
const CONFIG: &str = r#"# A config an import is appended to.
[daemon]
database = "/nonexistent/feedwatch.db"

[[feed]]
name = "wire"
url = "https://wire.example/world.xml"
tags = ["world"]
"#;

fuzz_target!(init: feedwatch_fuzz::abort_on_any_panic(), |data: &[u8]| {
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = opml::parse(xml) else {
        return;
    };
    let total = opml::count_outlines(&doc);
    let base = match parse(Path::new(PATH), CONFIG, Secrets::Skip) {
        Ok(c) => c,
        Err(e) => panic!("the fuzz config does not load: {e}"),
    };
    let mut steps = 0;
    let import = opml::plan(&doc, base.feeds.iter().map(|f| (f.name.as_str(), &f.url)), |_| {
        steps += 1;
    });
    assert_eq!(import.outlines, total, "outlines counted");
    assert_eq!(steps, total, "one step per outline");
    if import.feeds.is_empty() {
        return;
    }
    let toml = opml::to_toml(&import.feeds);
    assert!(toml.parse::<toml_edit::DocumentMut>().is_ok(), "to_toml wrote {toml:?}");
    let grown_src = match opml::append(CONFIG, &import.feeds) {
        Ok(s) => s,
        Err(e) => panic!("append refused the fuzz config: {e}"),
    };
    let grown = match parse(Path::new(PATH), &grown_src, Secrets::Skip) {
        Ok(c) => c,
        Err(e) => panic!("the config with the imported feeds does not load: {e}\n{grown_src}"),
    };
    assert_eq!(grown.feeds.len(), base.feeds.len() + import.feeds.len());
    let now = chrono::DateTime::from_timestamp(1_764_547_200, 0).unwrap_or_default();
    let exported = match opml::export(&grown.feeds, "fuzz", now) {
        Ok(x) => x,
        Err(e) => panic!("export failed: {e}"),
    };
    let back = match opml::parse(&exported) {
        Ok(d) => d,
        Err(e) => panic!("our export does not read back: {e}\n{exported}"),
    };
    let again = opml::plan(&back, grown.feeds.iter().map(|f| (f.name.as_str(), &f.url)), |_| {});
    assert!(again.feeds.is_empty(), "a second import added {:?}", again.feeds);
    assert_eq!(again.skipped.len(), grown.feeds.len(), "{:?}", again.skipped);
});
