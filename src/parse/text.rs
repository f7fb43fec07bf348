//! Feed text (HTML, or text with entities) → plain text for matching and storage.

/// HTML (or text with entities) → plain text, paragraphs kept as lines (see [`crate::text`]).
pub fn to_text(s: &str) -> String {
    crate::text::html_to_text(s)
}

pub fn one_line(s: &str) -> String {
    crate::text::one_line(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_and_entities_become_plain_lines() {
        assert_eq!(
            to_text("<p>First <b>para</b></p><p>Second</p>"),
            "First para\nSecond"
        );
        assert_eq!(to_text("Caf&eacute; &nbsp;talks"), "Café talks");
        assert_eq!(one_line("  a\n b  "), "a b");
    }
}
