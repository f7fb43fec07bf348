//! `[[notifier]]`: unique names, the kind, which options each kind takes and how its
//! [`NotifierKind`] is built, and the options every kind takes (`digest`, `max_per_hour`,
//! `title_template`, `body_template`).
//!
//! Each kind is one [`Kind`] in [`IMPLEMENTED`], defined beside its checks (one module per
//! kind); `model.rs` is what they build.

mod discord;
mod email;
mod exec;
mod matrix;
pub(super) mod model;
mod ntfy;
mod slack;
mod telegram;
mod webhook;

use std::collections::HashSet;

use url::Url;

use super::Secret;
use super::locate::{PathSegs, Problems, p};
use super::raw::{RawNotifier, RawSecret};
use super::secrets::SecretReader;
use super::suggest::unknown_choice;
use super::values::{cron, with_scheme};
use crate::notify::template::{Part, Templates};
use model::{NotifierConfig, NotifierKind};

/// Every kind DESIGN.md names, in the order messages list them.
const KINDS: &[&str] = &[
    "webhook", "ntfy", "email", "slack", "discord", "telegram", "matrix", "exec", "log",
];

/// The kinds this version builds.
const IMPLEMENTED: &[Kind] = &[
    webhook::KIND,
    ntfy::KIND,
    email::KIND,
    slack::KIND,
    discord::KIND,
    telegram::KIND,
    matrix::KIND,
    exec::KIND,
    LOG,
];

/// Options every kind takes, checked here rather than by each kind.
const COMMON: &[&str] = &["digest", "max_per_hour", "title_template", "body_template"];

/// A notifier kind this version can build.
struct Kind {
    name: &'static str,
    /// The options of [`RawNotifier`] it takes besides [`COMMON`]; any other is an error.
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

    /// The secret at option `key`, if set and readable.
    fn secret(
        &self,
        key: &str,
        raw: Option<&RawSecret>,
        problems: &mut Problems,
        warnings: &mut Problems,
    ) -> Option<Secret> {
        raw.and_then(|s| self.secrets.resolve(s, self.key(key), problems, warnings))
    }

    /// A required option: `None` (and a problem at the table) when it is absent.
    fn required<'v, T: ?Sized>(
        &self,
        value: Option<&'v T>,
        key: &str,
        kind: &str,
        problems: &mut Problems,
    ) -> Option<&'v T> {
        if value.is_none() {
            problems.missing(self.table(), key, &format!("a {kind} notifier"));
        }
        value
    }

    /// An http(s) URL at option `key` (or `default`); never quoted in messages, since such
    /// URLs often carry a token.
    fn http_url(
        &self,
        text: Option<&str>,
        key: &str,
        kind: &str,
        default: Option<&str>,
        problems: &mut Problems,
    ) -> Option<Url> {
        let Some(text) = text.or(default) else {
            problems.missing(self.table(), key, &format!("a {kind} notifier"));
            return None;
        };
        let parsed = Url::parse(text);
        if !parsed
            .as_ref()
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
            && let Some(meant) = with_scheme(text)
        {
            // Only the scheme is named: the rest of such a URL may be a token.
            let scheme = meant.split("://").next().unwrap_or("https");
            problems.value(
                self.key(key),
                format!("{kind} `{key}` has no scheme: start it with `{scheme}://`"),
            );
            return None;
        }
        match parsed {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Some(u),
            Ok(_) => {
                problems.value(
                    self.key(key),
                    format!("{kind} `{key}` must be an http or https URL"),
                );
                None
            }
            Err(e) => {
                problems.value(self.key(key), format!("invalid URL: {e}"));
                None
            }
        }
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
        let common = common(n, &site, problems);
        if let (Some(kind), Some((digest, max_per_hour, templates))) =
            ((kind.build)(n, &site, problems, warnings), common)
        {
            notifiers.push(NotifierConfig {
                name,
                kind,
                digest,
                max_per_hour,
                templates,
            });
        }
    }
    (notifiers, names)
}

/// The kind the notifier names, if this version builds it; otherwise a problem says why not.
fn kind(n: &RawNotifier, site: &Site<'_>, problems: &mut Problems) -> Option<&'static Kind> {
    let Some(name) = n.kind.as_deref() else {
        if !problems.has(&site.key("kind")) {
            problems.value(
                site.table(),
                format!(
                    "a [[notifier]] needs `kind`, one of {}, e.g. `kind = \"log\"`",
                    KINDS.join(", ")
                ),
            );
        }
        return None;
    };
    if !KINDS.contains(&name) {
        problems.value(
            site.key("kind"),
            unknown_choice("notifier kind", name, KINDS),
        );
        return None;
    }
    IMPLEMENTED.iter().find(|k| k.name == name)
}

fn refuse_other_options(n: &RawNotifier, kind: &Kind, site: &Site<'_>, problems: &mut Problems) {
    for opt in n.options_set() {
        if !kind.options.contains(&opt) && !COMMON.contains(&opt) {
            problems.key(
                site.key(opt),
                format!("`{opt}` is not an option of a `{}` notifier", kind.name),
            );
        }
    }
}

type Common = (Option<crate::schedule::CronExpr>, Option<u32>, Templates);

/// The options every kind takes; `None` after reporting a problem with one of them.
fn common(n: &RawNotifier, site: &Site<'_>, problems: &mut Problems) -> Option<Common> {
    let mut ok = true;
    let digest = match n.digest.as_deref() {
        Some(d) => {
            let c = cron(d, site.key("digest"), problems);
            ok &= c.is_some();
            c
        }
        None => None,
    };
    if n.max_per_hour == Some(0) {
        problems.value(
            site.key("max_per_hour"),
            "`max_per_hour` must be at least 1 (leave it out for no limit)",
        );
        ok = false;
    }
    let mut templates = Templates::default();
    let parts = [
        (Part::Title, "title_template", n.title_template.as_deref()),
        (Part::Body, "body_template", n.body_template.as_deref()),
        (
            Part::Subject,
            "subject_template",
            n.subject_template.as_deref(),
        ),
    ];
    for (part, key, source) in parts {
        if let Some(source) = source
            && let Err(e) = templates.add(part, source)
        {
            problems.key(site.key(key), format!("invalid `{key}`: {e}"));
            ok = false;
        }
    }
    ok.then_some((digest, n.max_per_hour, templates))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::check;
    use crate::config::{HttpAuth, SmtpSecurity};

    fn one(src: &str) -> NotifierConfig {
        let c = check(&format!("[[notifier]]\nname = \"n\"\n{src}"))
            .unwrap_or_else(|e| panic!("{e:#?}"));
        c.notifiers.into_iter().next().unwrap()
    }

    fn refused(src: &str) -> String {
        check(&format!("[[notifier]]\nname = \"n\"\n{src}"))
            .unwrap_err()
            .join("\n")
    }

    #[test]
    fn kinds_get_their_documented_defaults() {
        match one("kind = \"ntfy\"\ntopic = \"alerts\"\nusername = \"u\"\npassword = \"p\"").kind {
            NotifierKind::Ntfy(n) => {
                assert_eq!(n.url.as_str(), "https://ntfy.sh/");
                assert_eq!(n.priority, None);
                assert!(matches!(n.auth, Some(HttpAuth::Basic { .. })));
            }
            other => panic!("{other:?}"),
        }
        match one("kind = \"telegram\"\ntoken = \"t\"\nchat_id = \"@news\"").kind {
            NotifierKind::Telegram(t) => {
                assert_eq!(t.url.as_str(), "https://api.telegram.org/");
                assert_eq!(t.chat_id, serde_json::json!("@news"));
            }
            other => panic!("{other:?}"),
        }
        match one("kind = \"exec\"\ncommand = [\"notify-send\"]").kind {
            NotifierKind::Exec(e) => assert_eq!(e.timeout, std::time::Duration::from_secs(30)),
            other => panic!("{other:?}"),
        }
        for (url, security, port) in [
            ("smtp://mail.example.org", SmtpSecurity::StartTls, 587),
            ("smtps://mail.example.org", SmtpSecurity::Tls, 465),
            ("smtp+plain://localhost", SmtpSecurity::Plain, 25),
            ("smtp+plain://[::1]:2525", SmtpSecurity::Plain, 2525),
        ] {
            let n = one(&format!(
                "kind = \"email\"\nsmtp = \"{url}\"\nfrom = \"a@example.org\"\nto = [\"b@example.org\"]\ndigest = \"0 8 * * *\"\nmax_per_hour = 5"
            ));
            assert_eq!(n.max_per_hour, Some(5));
            assert!(n.digest.is_some());
            match n.kind {
                NotifierKind::Email(e) => {
                    assert_eq!((e.security, e.port), (security, port), "{url}")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn contradictory_or_incomplete_options_are_refused() {
        let e = refused("kind = \"ntfy\"\ntopic = \"a\"\ntoken = \"t\"\nusername = \"u\"");
        assert!(
            e.contains("either `token` or `username` and `password`"),
            "{e}"
        );
        let e = refused("kind = \"ntfy\"\ntopic = \"a b\"");
        assert!(e.contains("an ntfy topic is"), "{e}");
        let e = refused(
            "kind = \"email\"\nsmtp = \"smtp://u:p@mail.example.org\"\nfrom = \"a@example.org\"\nto = []",
        );
        assert!(
            e.contains("not in the URL") && e.contains("at least one address"),
            "{e}"
        );
        let e = refused("kind = \"telegram\"\ntoken = \"t\"\nchat_id = \"news\"");
        assert!(e.contains("`chat_id` must be a number"), "{e}");
        let e = refused("kind = \"exec\"\ncommand = []");
        assert!(e.contains("needs the program first"), "{e}");
        let e = refused("kind = \"slack\"\nurl = \"ftp://x/\"");
        assert!(
            e.contains("slack `url` must be an http or https URL"),
            "{e}"
        );
        let e = refused("kind = \"log\"\nsubject_template = \"x\"");
        assert!(
            e.contains("`subject_template` is not an option of a `log` notifier"),
            "{e}"
        );
    }

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
                assert!(!COMMON.contains(opt), "{}: {opt}", kind.name);
            }
        }
    }
}
