//! The config loader on any text: `config::parse` with secrets checked for form only (no
//! file or environment is read). Every message must name the file and a place in it.
#![no_main]

use std::path::Path;

use feedwatch::config::{Secrets, parse};
use feedwatch_fuzz::abort_on_any_panic;
use libfuzzer_sys::fuzz_target;

const PATH: &str = "/fuzz/feedwatch.toml";

fuzz_target!(init: abort_on_any_panic(), |data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    match parse(Path::new(PATH), src, Secrets::Skip) {
        Ok(config) => {
            assert_eq!(config.matcher.len(), config.topics.len());
            for w in &config.warnings {
                assert!(w.starts_with(PATH), "warning without its place: {w:?}");
            }
        }
        Err(e) => {
            assert!(!e.messages.is_empty(), "refused without a reason");
            for m in &e.messages {
                assert!(m.starts_with(PATH), "error without its place: {m:?}");
            }
        }
    }
});
