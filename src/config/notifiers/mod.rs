//! `[[notifier]]`: unique names, the kind, which options each kind takes and how its
//! [`NotifierKind`] is built.
//!
//! A kind this version can send to is one [`Kind`] in [`IMPLEMENTED`], defined beside its
//! checks (`webhook.rs`); implementing another kind means adding its module and its line there.

mod webhook;

use std::collections::HashSet;

use super::locate::{PathSegs, Problems, p};
use super::raw::RawNotifier;
use super::secrets::SecretReader;
use super::{NotifierConfig, NotifierKind};

/// Every kind DESIGN.md names, in the order messages list them.
const KINDS: &[&str] = &[
    "webhook", "ntfy", "email", "slack", "discord", "telegram", "matrix", "exec", "log",
];

/// The kinds this version builds, in the order messages list them.
const IMPLEMENTED: &[Kind] = &[webhook::KIND, LOG];

/// Options DESIGN.md gives every kind that no kind handles yet.
const NOT_YET: &[&str] = &["digest", "max_per_hour", "title_template", "body_template"];

/// A notifier kind this version can build.
struct Kind {
    name: &'static str,
    /// The options of [`RawNotifier`] it takes; setting any other is an error.
    options: &'static [&'static str],
    /// Checks its options and builds it; `None` after reporting why it cannot be built.
    build: Build,
}

type Build = fn(&RawNotifier, &Site<'_>, &mut Problems, &mut Problems) -> Option<NotifierKind>;

const LOG: Kind = Kind {
    name: "log",
    options: &[],
    build: |_, _, _, _| Some(NotifierKind::Log),
};

/// Where a notifier is in the config, and how its secrets are read.
struct Site<'a> {
    index: usize,
    secrets: &'a SecretReader<'a>,
}

impl Site<'_> {
    fn table(&self) -> PathSegs {
        p(&[&"notifier", &self.index])
    }

    fn key(&self, k: &str) -> PathSegs {
        p(&[&"notifier", &self.index, &k])
    }
}

/// The notifiers that can be built, and every name given (topics and `notify_errors` may
/// refer to any of them, even one refused, without a second message).
pub(super) fn validate(
    raw: &[RawNotifier],
    secrets: &SecretReader<'_>,
    problems: &mut Problems,
    warnings: &mut Problems,
) -> (Vec<NotifierConfig>, HashSet<String>) {
    let mut notifiers = Vec::new();
    let mut names = HashSet::new();
    for (index, n) in raw.iter().enumerate() {
        let site = Site { index, secrets };
        let name = problems.required(n.name.clone(), site.table(), "name", "a [[notifier]]");
        if n.name.is_some() && !names.insert(name.clone()) {
            problems.value(
                site.key("name"),
                format!("duplicate notifier name `{name}`"),
            );
        }
        let Some(kind) = kind(n, &site, problems) else {
            continue;
        };
        refuse_other_options(n, kind, &site, problems);
        if let Some(kind) = (kind.build)(n, &site, problems, warnings) {
            notifiers.push(NotifierConfig { name, kind });
        }
    }
    (notifiers, names)
}

/// The kind the notifier names, if this version builds it; otherwise a problem says why not.
fn kind(n: &RawNotifier, site: &Site<'_>, problems: &mut Problems) -> Option<&'static Kind> {
    let Some(name) = n.kind.as_deref() else {
        problems.value(
            site.table(),
            format!("a [[notifier]] needs `kind` (one of {})", KINDS.join(", ")),
        );
        return None;
    };
    if !KINDS.contains(&name) {
        problems.value(
            site.key("kind"),
            format!(
                "unknown notifier kind `{}`; expected one of {}",
                name,
                KINDS.join(", ")
            ),
        );
        return None;
    }
    let kind = IMPLEMENTED.iter().find(|k| k.name == name);
    if kind.is_none() {
        let available: Vec<&str> = IMPLEMENTED.iter().map(|k| k.name).collect();
        problems.value(
            site.key("kind"),
            format!(
                "notifier kind `{}` is not available in this version yet (available: {})",
                name,
                available.join(", ")
            ),
        );
    }
    kind
}

fn refuse_other_options(n: &RawNotifier, kind: &Kind, site: &Site<'_>, problems: &mut Problems) {
    for opt in n.options_set() {
        if !kind.options.contains(&opt) {
            let why = if NOT_YET.contains(&opt) {
                format!("`{opt}` is not available in this version yet")
            } else {
                format!("`{opt}` is not an option of a `{}` notifier", kind.name)
            };
            problems.key(site.key(opt), why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kind missing from KINDS would be refused as unknown, and an option it lists that
    /// RawNotifier does not read could never be set.
    #[test]
    fn every_implemented_kind_is_a_known_kind_with_real_options() {
        let known: Vec<&str> = RawNotifier::default()
            .options()
            .iter()
            .map(|(k, _)| *k)
            .collect();
        for kind in IMPLEMENTED {
            assert!(KINDS.contains(&kind.name), "{}", kind.name);
            for opt in kind.options {
                assert!(known.contains(opt), "{}: {opt}", kind.name);
                assert!(!NOT_YET.contains(opt), "{}: {opt}", kind.name);
            }
        }
    }
}
