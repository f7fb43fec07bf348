//! TOML syntax errors as problems. A table or key defined twice is explained with both lines
//! (toml itself says only "duplicate key" at the second); the tree is still whole then, so
//! checking goes on. After any other syntax error the tree may lack what the broken line held,
//! so only the syntax errors are reported. Pure.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::locate::Problems;
use super::schema::{self, Shape};

/// Records `errors`; true when checking can go on (every error was a duplicate).
pub(super) fn record(
    src: &str,
    root: &DeTable<'_>,
    errors: &[toml::de::Error],
    problems: &mut Problems,
) -> bool {
    let mut whole = true;
    for e in errors {
        let span = e.span();
        match span
            .clone()
            .filter(|_| e.message().starts_with("duplicate key"))
        {
            Some(s) => problems.at_span(span, duplicate(src, root, s)),
            None => {
                whole = false;
                let hint = span
                    .filter(|_| e.message().starts_with("string values must be quoted"))
                    .and_then(|s| quote_hint(line_at(src, s.start)))
                    .unwrap_or_default();
                problems.at_span(e.span(), format!("{}{hint}", e.message().trim()));
            }
        }
    }
    whole
}

/// For a bare word where a string belongs: how to write it. Only the key is shown, since the
/// value may be a secret.
fn quote_hint(line: &str) -> Option<String> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && !key.starts_with('[')).then(|| format!(": write `{key} = \"...\"`"))
}

/// 1-based line of a byte offset.
fn line_of(src: &str, offset: usize) -> usize {
    src[..offset.min(src.len())].matches('\n').count() + 1
}

/// The whole line around a byte offset.
fn line_at(src: &str, offset: usize) -> &str {
    let offset = offset.min(src.len());
    let start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = src[offset..].find('\n').map_or(src.len(), |i| offset + i);
    &src[start..end]
}

/// A `[header]` line as written, without spaces or comment: `[[feed]]`, `[daemon]`.
fn header(line: &str) -> Option<String> {
    let t = line.trim_start();
    if !t.starts_with('[') {
        return None;
    }
    let code = t.split('#').next().unwrap_or(t);
    let end = code.rfind(']')?;
    Some(
        code[..=end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect(),
    )
}

/// `[[feed]]` → (`feed`, List).
fn split_header(h: &str) -> (&str, Shape) {
    match h.strip_prefix("[[").and_then(|r| r.strip_suffix("]]")) {
        Some(inner) => (inner, Shape::List),
        None => (
            h.trim_start_matches('[').trim_end_matches(']'),
            Shape::Table,
        ),
    }
}

fn duplicate(src: &str, root: &DeTable<'_>, at: Range<usize>) -> String {
    let line = line_of(src, at.start);
    match header(line_at(src, at.start)) {
        Some(h) => duplicate_table(src, &h, line),
        None => duplicate_key(src, root, at, line),
    }
}

/// A table header seen before: name both lines, and say how to write the section.
fn duplicate_table(src: &str, h: &str, line: usize) -> String {
    let (name, shape) = split_header(h);
    let earlier = src
        .lines()
        .take(line - 1)
        .enumerate()
        .filter_map(|(i, l)| header(l).map(|e| (i + 1, e)))
        .filter(|(_, e)| split_header(e).0 == name)
        .last();
    let Some((first, before)) = earlier else {
        return format!("`{h}` is defined twice: put all its keys under one `{h}`");
    };
    if before == h {
        return format!(
            "`{h}` appears twice, at lines {first} and {line}: put all its keys under one `{h}`"
        );
    }
    let how = match schema::section(name) {
        Some(s) if s.shape == Shape::List => {
            format!("write `{}` above each {name}", s.header())
        }
        Some(s) => format!("write one `{}`", s.header()),
        None => format!("write every one as `{}`", schema::header(name, shape)),
    };
    format!("`{h}` at line {line} clashes with `{before}` at line {first}: {how}")
}

/// A key set twice in one table: name both lines.
fn duplicate_key(src: &str, root: &DeTable<'_>, at: Range<usize>, line: usize) -> String {
    let written = src.get(at.clone()).unwrap_or_default();
    let name = written.trim_matches(['"', '\'']);
    match nearest_before(root, name, at.start) {
        Some(first) => format!(
            "`{name}` is set twice, at lines {} and {line}: keep one",
            line_of(src, first)
        ),
        None => format!("`{name}` is set twice in this table: keep one"),
    }
}

/// The offset of the last key called `name` that starts before `offset`: the first of a
/// duplicate pair is kept in the tree, and no other key of that name comes between it and
/// the second (they are in the same table).
fn nearest_before(table: &DeTable<'_>, name: &str, offset: usize) -> Option<usize> {
    let mut best = None;
    for (k, v) in table.iter() {
        let start = k.span().start;
        if k.get_ref() == name && start < offset {
            best = best.max(Some(start));
        }
        let inner = match v.get_ref() {
            DeValue::Table(t) => nearest_before(t, name, offset),
            DeValue::Array(a) => a
                .iter()
                .filter_map(|x| x.get_ref().as_table())
                .filter_map(|t| nearest_before(t, name, offset))
                .max(),
            _ => None,
        };
        best = best.max(inner);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(src: &str) -> (Vec<String>, bool) {
        let (root, errors) = DeTable::parse_recoverable(src);
        let mut problems = Problems::default();
        let whole = record(src, root.get_ref(), &errors, &mut problems);
        let loc = super::super::locate::Locator::new(std::path::Path::new("f"), src);
        let none = Problems::default();
        (loc.in_file_order(root.get_ref(), &problems, &none), whole)
    }

    #[test]
    fn a_table_defined_twice_names_both_lines() {
        let (m, whole) =
            messages("[daemon]\nconcurrency = 4\n\n[[feed]]\nname = \"a\"\n\n[daemon] # again\n");
        assert!(whole);
        assert_eq!(
            m,
            [
                "f:7:2: `[daemon]` appears twice, at lines 1 and 7: put all its keys under one `[daemon]`"
            ]
        );
    }

    #[test]
    fn mixed_brackets_say_which_to_use() {
        let (m, _) = messages("[feed]\nname = \"a\"\n[[feed]]\nname = \"b\"\n");
        assert_eq!(
            m,
            [
                "f:3:3: `[[feed]]` at line 3 clashes with `[feed]` at line 1: write `[[feed]]` above each feed"
            ]
        );
    }

    #[test]
    fn a_key_set_twice_names_both_lines_even_across_reopened_tables() {
        let (m, _) = messages(
            "[daemon]\nconcurrency = 4\n[[feed]]\nname = \"a\"\nname = \"b\"\n[daemon]\nconcurrency = 5\n",
        );
        assert_eq!(m.len(), 3, "{m:?}");
        assert_eq!(
            m[0],
            "f:5:1: `name` is set twice, at lines 4 and 5: keep one"
        );
        assert!(m[1].starts_with("f:6:2: `[daemon]` appears twice, at lines 1 and 6"));
        assert_eq!(
            m[2],
            "f:7:1: `concurrency` is set twice, at lines 2 and 7: keep one"
        );
    }

    #[test]
    fn other_syntax_errors_stop_checking() {
        let (m, whole) = messages("[daemon]\nuser_agent = \"abc\nconcurrency = 4\n");
        assert!(!whole);
        assert!(m[0].starts_with("f:2:"), "{m:?}");
    }

    #[test]
    fn a_bare_word_is_shown_quoted_without_its_value() {
        let (m, _) = messages("[[notifier]]\nname = \"n\"\nsecret = hunter2\n");
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].starts_with("f:3:10: string values must be quoted"),
            "{m:?}"
        );
        assert!(m[0].ends_with(": write `secret = \"...\"`"), "{m:?}");
        assert!(!m[0].contains("hunter2"));
    }
}
