//! HTML and plain text → what readers see: `html_to_text`, `one_line`, `excerpt` and
//! `for_terminal`, with the promises of `feedwatch::text` checked on every output.
#![no_main]

use feedwatch::text::{excerpt, for_terminal, html_to_text, one_line};
use feedwatch_fuzz::{abort_on_any_panic, unclean};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: abort_on_any_panic(), |data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let text = html_to_text(s);
    assert!(!unclean(&text), "html_to_text kept hostile characters: {text:?}");
    if !text.is_empty() {
        for line in text.split('\n') {
            assert!(!line.is_empty(), "an empty line in {text:?}");
            assert_eq!(line, line.trim(), "blanks around a line in {text:?}");
        }
    }
    let line = one_line(s);
    assert!(!unclean(&line) && !line.contains('\n'), "one_line gave {line:?}");
    let max = data.len() % 97;
    let cut = excerpt(&text, max);
    assert!(!unclean(&cut), "excerpt kept hostile characters: {cut:?}");
    assert!(cut.chars().count() <= max + 1, "excerpt of {max} is {cut:?}");
    let shown = for_terminal(s);
    assert!(
        !shown.chars().any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
            && !unclean(&shown),
        "for_terminal let through what a terminal acts on: {shown:?}"
    );
});
