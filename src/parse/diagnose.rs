//! Why a document that no repair fixed is broken, said with a line and column: the first
//! element left open or closed wrongly, or the point where a truncated body stops.

use super::lex::{Kind, Lexer, Tag, end_name, line_col};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The body stops inside markup or with elements open.
    Truncated(String),
    Malformed(String),
}

/// The first structural problem of `doc` from `root` on, if there is one. Element names are
/// compared without regard to case (the case repair fixes those).
pub fn diagnose(doc: &str, root: usize) -> Option<Problem> {
    let at = |offset: usize| {
        let (l, c) = line_col(doc, offset);
        format!("line {l}, column {c}")
    };
    let mut open: Vec<(&str, usize)> = Vec::new();
    let mut closed_root = false;
    for t in Lexer::new(&doc[root..]) {
        let start = root + t.start;
        match t.kind {
            Kind::Start if !closed_root => {
                let tag = Tag::parse(t.raw);
                if !tag.self_closing {
                    open.push((tag.name, start));
                }
            }
            Kind::End if !closed_root => {
                let name = end_name(t.raw);
                match open.iter().rposition(|(n, _)| n.eq_ignore_ascii_case(name)) {
                    Some(i) if i + 1 == open.len() => {
                        open.pop();
                        closed_root = open.is_empty();
                    }
                    Some(i) => {
                        let (inner, pos) = open[i + 1];
                        return Some(Problem::Malformed(format!(
                            "not well-formed XML at {}: unclosed <{inner}> (</{name}> follows at {})",
                            at(pos),
                            at(start)
                        )));
                    }
                    None => {
                        return Some(Problem::Malformed(format!(
                            "not well-formed XML at {}: </{name}> closes no open element",
                            at(start)
                        )));
                    }
                }
            }
            Kind::Unterminated => {
                let what = if t.raw.starts_with("<!--") {
                    "a comment".to_string()
                } else if t.raw.starts_with("<![CDATA[") {
                    "a CDATA section".to_string()
                } else if t.raw.starts_with("<?") || t.raw.starts_with("<!") {
                    "a declaration".to_string()
                } else {
                    let name = Tag::parse(t.raw).name;
                    let name = if name.is_empty() {
                        end_name(t.raw)
                    } else {
                        name
                    };
                    format!("the tag <{name}")
                };
                return Some(Problem::Truncated(format!(
                    "truncated: the body ends inside {what} that starts at {}",
                    at(start)
                )));
            }
            _ => {}
        }
    }
    open.last().map(|&(name, pos)| {
        Problem::Truncated(format!(
            "truncated: the body ends with <{name}> (opened at {}) still open",
            at(pos)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_documents_have_no_problem() {
        assert_eq!(
            diagnose(
                "<?xml version=\"1.0\"?>\n<rss><channel><Item></item><x/></channel></rss>\n<!-- after -->",
                22
            ),
            None
        );
    }

    #[test]
    fn an_unclosed_element_is_named_with_its_position() {
        let doc = "<rss>\n<channel>\n  <item><title>a</title>\n  <description>b\n  </item>\n</channel></rss>";
        assert_eq!(
            diagnose(doc, 0),
            Some(Problem::Malformed(
                "not well-formed XML at line 4, column 3: unclosed <description> (</item> follows at line 5, column 3)".into()
            ))
        );
        assert_eq!(
            diagnose("<rss><channel></item></channel></rss>", 0),
            Some(Problem::Malformed(
                "not well-formed XML at line 1, column 15: </item> closes no open element".into()
            ))
        );
    }

    #[test]
    fn truncated_bodies() {
        assert_eq!(
            diagnose("<rss><channel>\n<item><title>Half", 0),
            Some(Problem::Truncated(
                "truncated: the body ends with <title> (opened at line 2, column 7) still open"
                    .into()
            ))
        );
        assert_eq!(
            diagnose("<rss><channel>\n<item><link href=\"http://x", 0),
            Some(Problem::Truncated(
                "truncated: the body ends inside the tag <link that starts at line 2, column 7"
                    .into()
            ))
        );
    }
}
