//! Where a problem is, and how it is reported. Validation records each problem against a path
//! in the config (`feed[2].schedule`); this module decides which byte of the file that path
//! points at, renders it as `FILE:LINE:COL: message`, and orders the messages.

use std::collections::HashSet;
use std::ops::Range;
use std::path::Path;

use toml::de::{DeTable, DeValue};

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
            message: message.into(),
        });
    }

    /// A problem with the key at `path` itself (unknown, or not allowed here).
    pub(super) fn key(&mut self, path: PathSegs, message: impl Into<String>) {
        self.0.push(Problem {
            path,
            at_key: true,
            message: message.into(),
        });
    }

    /// A key every table of its kind needs; reported at the table when absent. Required keys
    /// are `Option`s in the raw structs so that a misspelt one is one error among the others,
    /// not the end of all checking.
    pub(super) fn required(
        &mut self,
        value: Option<String>,
        table: PathSegs,
        key: &str,
        what: &str,
    ) -> String {
        value.unwrap_or_else(|| {
            self.value(table, format!("{what} needs `{key}`"));
            String::new()
        })
    }

    /// Each entry of the list at `list` that is not one of `known`: "unknown {what} `x`".
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
                self.value(path, format!("unknown {what} `{n}`"));
            }
        }
    }
}

/// The config path of a key serde did not read.
pub(super) fn path_from_ignored(path: &serde_ignored::Path<'_>) -> PathSegs {
    use serde_ignored::Path as P;
    let mut segs = match path {
        P::Root => Vec::new(),
        P::Seq { parent, .. }
        | P::Map { parent, .. }
        | P::Some { parent }
        | P::NewtypeStruct { parent }
        | P::NewtypeVariant { parent } => path_from_ignored(parent),
    };
    match path {
        P::Seq { index, .. } => segs.push(Seg::Index(*index)),
        P::Map { key, .. } => segs.push(Seg::Key(key.to_string())),
        _ => {}
    }
    segs
}

pub(super) fn last_key(path: &serde_ignored::Path<'_>) -> String {
    match path {
        serde_ignored::Path::Map { key, .. } => key.to_string(),
        _ => path.to_string(),
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

    /// Problems in the order found: used when reading stopped early, before validation.
    pub(super) fn in_found_order(&self, root: &DeTable<'_>, problems: &Problems) -> Vec<String> {
        problems
            .0
            .iter()
            .map(|pb| self.at(locate(root, &pb.path, pb.at_key), &pb.message))
            .collect()
    }

    /// Problems in file order so the user can fix top to bottom; the sort is stable, so
    /// problems at the same place keep the order they were found in.
    pub(super) fn in_file_order(&self, root: &DeTable<'_>, problems: &Problems) -> Vec<String> {
        let mut located: Vec<(usize, String)> = problems
            .0
            .iter()
            .map(|pb| {
                let span = locate(root, &pb.path, pb.at_key);
                (
                    span.as_ref().map(|s| s.start).unwrap_or(0),
                    self.at(span, &pb.message),
                )
            })
            .collect();
        located.sort_by_key(|(off, _)| *off);
        located.into_iter().map(|(_, m)| m).collect()
    }

    /// Warnings in the order found, each at its key and marked `warning:`.
    pub(super) fn warnings(&self, root: &DeTable<'_>, warnings: &Problems) -> Vec<String> {
        warnings
            .0
            .iter()
            .map(|w| {
                self.at(
                    locate(root, &w.path, true),
                    &format!("warning: {}", w.message),
                )
            })
            .collect()
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
            Seg::Index(n) => {
                let arr = cur?.as_array()?;
                let v = arr.get(*n)?;
                span = Some(v.span());
                cur = Some(v.get_ref());
            }
        }
        table = cur.and_then(|v| v.as_table());
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
        loc.in_file_order(root.get_ref(), &problems).remove(0)
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
