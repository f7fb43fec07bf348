//! Feed text (HTML, or text with entities) → plain text for matching and storage.

/// HTML (or text with entities) → plain text, paragraphs kept as lines.
pub fn to_text(s: &str) -> String {
    if !s.contains(['<', '&']) {
        return tidy(s);
    }
    let rendered = html2text::config::plain_no_decorate()
        .no_link_wrapping()
        .string_from_read(s.as_bytes(), 10_000)
        .unwrap_or_else(|_| s.to_string());
    tidy(&rendered)
}

/// Collapse runs of blanks within lines and drop empty lines.
fn tidy(s: &str) -> String {
    s.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
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
