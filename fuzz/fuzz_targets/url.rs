//! Canonical URLs (`identity::canonical_url`): any text, and the promises that the result
//! is an absolute http(s) URL without a fragment or tracking parameters.
#![no_main]

use feedwatch::identity::canonical_url;
use feedwatch_fuzz::abort_on_any_panic;
use libfuzzer_sys::fuzz_target;
use url::Url;

fuzz_target!(init: abort_on_any_panic(), |data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Some(canon) = canonical_url(s) else {
        return;
    };
    let parsed = Url::parse(&canon);
    let Ok(url) = parsed else {
        panic!("canonical form {canon:?} of {s:?} does not parse: {parsed:?}");
    };
    assert!(matches!(url.scheme(), "http" | "https"), "{canon:?}");
    assert!(url.fragment().is_none(), "fragment kept in {canon:?}");
    for (k, _) in url.query_pairs() {
        let k = k.to_ascii_lowercase();
        assert!(!k.starts_with("utm_"), "tracking parameter kept in {canon:?}");
    }
});
