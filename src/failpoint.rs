//! Failure injection for the integration tests: `FEEDWATCH_FAILPOINTS="name[=value],..."`.
//!
//! Some promises can only be tested by making our own code fail where no input can (a panic
//! in the CPU stage, the writer thread dying). The variable is read once; when it is unset,
//! as in every real deployment, each check is one load of an empty list.
//!
//! Points: `cpu-panic=FEED` (the CPU stage panics while processing that feed),
//! `writer-panic=FEED` (applying that feed's poll panics inside the writer), `writer-die=FEED`
//! (the writer thread itself panics on a batch holding that feed's poll), `writer-stall=FEED`
//! (the writer hangs on that feed's poll), `cpu-budget-ms=MS` (the CPU budget per document,
//! instead of 5 s: a slow document without a 16 MiB body).

use std::sync::OnceLock;

fn points() -> &'static [(String, Option<String>)] {
    static POINTS: OnceLock<Vec<(String, Option<String>)>> = OnceLock::new();
    POINTS.get_or_init(|| {
        std::env::var("FEEDWATCH_FAILPOINTS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| match s.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (s.to_string(), None),
            })
            .collect()
    })
}

/// Whether point `name` is set to `value`.
pub fn active_for(name: &str, value: &str) -> bool {
    points()
        .iter()
        .any(|(k, v)| k == name && v.as_deref() == Some(value))
}

/// The value point `name` is set to, if it is set.
pub fn value(name: &str) -> Option<&'static str> {
    points()
        .iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.as_deref())
}
