//! Where a problem is, and how it is reported. Validation records each problem against a path
//! in the config (`feed[2].schedule`); this module decides which byte of the file that path
//! points at, renders it as `FILE:LINE:COL: message`, and orders the messages.

use std::collections::HashSet;
use std::ops::Range;
use std::path::Path;

use toml::de::{DeTable, DeValue};

use super::schema;
use super::suggest::did_you_mean;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Seg {
    Key(String),
    Index(usize),
}

pub(super) type PathSegs = Vec<Seg>;

/// A path from its parts: `p(&[&"feed", &i, &"url"])`.
pub(super) fn p(parts: &[&dyn PathPart]) -> PathSegs {
    parts.iter().map(|x| x.seg()).collect()
}

pub(super) trait PathPart {
    fn seg(&self) -> Seg;
}
impl PathPart for &str {
    fn seg(&self) -> Seg {
        Seg::Key((*self).to_string())
    }
}
impl PathPart for usize {
    fn seg(&self) -> Seg {
        Seg::Index(*self)
    }
}

pub(super) struct Problem {
    path: PathSegs,
    /// Point at the key itself (unknown keys) rather than its value.
    at_key: bool,
    /// Where it is when that is known without a path (a syntax error).
    span: Option<Range<usize>>,
    message: String,
}

/// Problems (or warnings) in the order they were found.
#[derive(Default)]
pub(super) struct Problems(Vec<Problem>);

impl Problems {
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A problem with the value at `path`.
    pub(super) fn value(&mut self, path: PathSegs, message: impl Into<String>) {
        self.0.push(Problem {
            path,
            at_key: false,
            span: None,
            message: message.into(),
        });
    }

    /// A problem with the key at `path` itself (unknown, or not allowed here).
    pub(super) fn key(&mut self, path: PathSegs, message: impl Into<String>) {
        self.0.push(Problem {
            path,
            at_key: true,
            span: None,
            message: message.into(),
        });
    }

    /// A problem at a place in the text (a syntax error); 1:1 without one.
    pub(super) fn at_span(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        self.0.push(Problem {
            path: Vec::new(),
            at_key: false,
            span,
            message: message.into(),
        });
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether a problem was already recorded at `path`.
    pub(super) fn has(&self, path: &[Seg]) -> bool {
        self.0.iter().any(|pb| pb.path == path)
    }

    /// A key every table of its kind needs is absent: "{what} needs `key`, e.g. `key = ..`",
    /// at the table. Said only when nothing was said about the key already: a key with a
    /// wrong type reads as absent, and its type is the problem to fix.
    pub(super) fn missing(&mut self, table: PathSegs, key: &str, what: &str) {
        let mut at = table.clone();
        at.push(Seg::Key(key.to_string()));
        if self.has(&at) {
            return;
        }
        let example = match table.first() {
            Some(Seg::Key(section)) => schema::section(section)
                .and_then(|s| s.key(key))
                .map(|k| format!(", {}", schema::example(k, None)))
                .unwrap_or_default(),
            _ => String::new(),
        };
        self.value(table, format!("{what} needs `{key}`{example}"));
    }

    /// A key every table of its kind needs; reported at the table when absent (see
    /// [`Problems::missing`]). Required keys are `Option`s in the raw structs so that a
    /// misspelt one is one error among the others, not the end of all checking.
    pub(super) fn required(
        &mut self,
        value: Option<String>,
        table: PathSegs,
        key: &str,
        what: &str,
    ) -> String {
        value.unwrap_or_else(|| {
            self.missing(table, key, what);
            String::new()
        })
    }

    /// Each entry of the list at `list` that is not one of `known`: "unknown {what} `x`",
    /// with the likely name when one is close.
    pub(super) fn unknown_names(
        &mut self,
        names: &[String],
        known: &HashSet<String>,
        list: &[Seg],
        what: &str,
    ) {
        for (j, n) in names.iter().enumerate() {
            if !known.contains(n) {
                let mut path = list.to_vec();
                path.push(Seg::Index(j));
                let mut candidates: Vec<&str> = known.iter().map(String::as_str).collect();
                // The same suggestion whatever the set's order.
                candidates.sort_unstable();
                let hint = did_you_mean(n, candidates);
                self.value(path, format!("unknown {what} `{n}`{hint}"));
            }
        }
    }
}

/// Renders messages about one file as `FILE:LINE:COL: message`.
pub(super) struct Locator<'a> {
    file: String,
    src: &'a str,
}

impl<'a> Locator<'a> {
    pub(super) fn new(path: &Path, src: &'a str) -> Self {
        Self {
            file: path.display().to_string(),
            src,
        }
    }

    /// `msg` at the start of `span`; at 1:1 when there is no span.
    pub(super) fn at(&self, span: Option<Range<usize>>, msg: &str) -> String {
        let file = &self.file;
        match span {
            Some(s) => {
                let (l, c) = line_col(self.src, s.start);
                format!("{file}:{l}:{c}: {msg}")
            }
            None => format!("{file}:1:1: {msg}"),
        }
    }

    /// Problems and warnings (marked `warning:`, at their key) together in file order, so
    /// the user can fix top to bottom; the sort is stable, so messages about one place keep
    /// the order they were found in.
    pub(super) fn in_file_order(
        &self,
        root: &DeTable<'_>,
        problems: &Problems,
        warnings: &Problems,
    ) -> Vec<String> {
        let errors = problems.0.iter().map(|pb| (pb, pb.at_key, ""));
        let warned = warnings.0.iter().map(|w| (w, true, "warning: "));
        let mut located: Vec<(usize, String)> = errors
            .chain(warned)
            .map(|(pb, at_key, mark)| {
                let span = pb.span.clone().or_else(|| locate(root, &pb.path, at_key));
                (
                    span.as_ref().map(|s| s.start).unwrap_or(0),
                    self.at(span, &format!("{mark}{}", pb.message)),
                )
            })
            .collect();
        located.sort_by_key(|(off, _)| *off);
        located.into_iter().map(|(_, m)| m).collect()
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

/// The span of `path` in the document (its key or its value); `None` when any part of it is
/// absent, which is reported at 1:1.
///
/// A section written with the wrong brackets is read as meant (`[feed]` as the one entry of
/// `[[feed]]`, `[[daemon]]` as its first table), so paths into it are found the same way.
fn locate(root: &DeTable<'_>, path: &[Seg], at_key: bool) -> Option<Range<usize>> {
    let mut span = None;
    let mut cur: Option<&DeValue<'_>> = None;
    let mut table = Some(root);
    for (i, seg) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        match seg {
            Seg::Key(k) => {
                let (key, val) = table?
                    .iter()
                    .find(|(key, _)| key.get_ref().as_ref() == k.as_str())?;
                span = Some(if last && at_key {
                    key.span()
                } else {
                    val.span()
                });
                cur = Some(val.get_ref());
            }
            Seg::Index(0) if cur.is_some_and(DeValue::is_table) => {}
            Seg::Index(n) => {
                let arr = cur?.as_array()?;
                let v = arr.get(*n)?;
                span = Some(v.span());
                cur = Some(v.get_ref());
            }
        }
        table = match cur? {
            DeValue::Table(t) => Some(t),
            DeValue::Array(a) => a.iter().next().and_then(|v| v.get_ref().as_table()),
            _ => None,
        };
    }
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located(src: &str, path: PathSegs, at_key: bool) -> String {
        let root = DeTable::parse(src).unwrap();
        let loc = Locator::new(Path::new("f.toml"), src);
        let mut problems = Problems::default();
        if at_key {
            problems.key(path, "here");
        } else {
            problems.value(path, "here");
        }
        loc.in_file_order(root.get_ref(), &problems, &Problems::default())
            .remove(0)
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let src = "[[feed]]\nname = \"é\" # ü\nurl = \"x\"\ntags = [\"ä\", \"b\"]\n";
        assert_eq!(
            located(src, p(&[&"feed", &0, &"tags", &1]), false),
            "f.toml:4:14: here"
        );
    }

    #[test]
    fn points_at_the_key_or_the_value() {
        let src = "\n[daemon]\nschedule = \"x\"\n";
        assert_eq!(
            located(src, p(&[&"daemon", &"schedule"]), true),
            "f.toml:3:1: here"
        );
        assert_eq!(
            located(src, p(&[&"daemon", &"schedule"]), false),
            "f.toml:3:12: here"
        );
        // Not at `[daemon]`: a path the document lacks has no position at all.
        assert_eq!(
            located(src, p(&[&"daemon", &"timezone"]), false),
            "f.toml:1:1: here"
        );
    }
}
