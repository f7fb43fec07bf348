//! Secrets: the forms a secret may be written in (a literal, `env`, `file`, `credential`) and
//! reading it, as the command's [`Secrets`] mode says. An empty secret is an error wherever it
//! comes from (an HMAC with an empty key signs nothing). A value read never appears in a
//! message.

use std::path::{Path, PathBuf};

use super::locate::{PathSegs, Problems, Seg};
use super::raw::RawSecret;
use super::schema;
use super::suggest::did_you_mean;
use super::{Secret, Secrets};

/// Reads the secrets of one config file.
pub(super) struct SecretReader<'a> {
    /// The config file's directory: relative `file` secrets are read from there.
    pub base: &'a Path,
    pub mode: Secrets,
}

/// Where a secret's value is.
enum Source<'a> {
    Literal(&'a str),
    Env(&'a str),
    File(&'a str),
    Credential(&'a str),
}

impl<'a> Source<'a> {
    /// Where the value comes from, for a message (never the value itself).
    fn describe(&self) -> String {
        match self {
            Source::Literal(_) => "the value".to_string(),
            Source::Env(e) => format!("environment variable `{e}`"),
            Source::File(f) => format!("secret file `{f}`"),
            Source::Credential(c) => format!("credential `{c}`"),
        }
    }

    fn of(raw: &'a RawSecret) -> Option<Self> {
        match raw {
            toml::Value::String(s) => Some(Source::Literal(s)),
            toml::Value::Table(t) if t.len() == 1 => match t.iter().next() {
                Some((k, toml::Value::String(v))) if k == "env" => Some(Source::Env(v)),
                Some((k, toml::Value::String(v))) if k == "file" => Some(Source::File(v)),
                Some((k, toml::Value::String(v))) if k == "credential" => {
                    Some(Source::Credential(v))
                }
                _ => None,
            },
            _ => None,
        }
    }
}

/// Which secret a message is about: an option (`secret`, `token`, `password`) or a header.
enum What {
    Option(String),
    Header(String),
}

const SOURCES: [&str; 3] = ["env", "file", "credential"];

impl What {
    fn of(path: &[Seg]) -> Self {
        let key = |s: Option<&Seg>| match s {
            Some(Seg::Key(k)) => Some(k.clone()),
            _ => None,
        };
        let last = key(path.last()).unwrap_or_default();
        match key(path.len().checked_sub(2).and_then(|i| path.get(i))) {
            Some(parent) if parent == "headers" => What::Header(last),
            _ => What::Option(last),
        }
    }

    fn subject(&self) -> String {
        match self {
            What::Option(k) => format!("`{k}`"),
            What::Header(h) => format!("header `{h}`"),
        }
    }

    /// " e.g. `secret = { env = .. }`", from the schema.
    fn example(&self) -> String {
        match self {
            What::Option(k) => schema::NOTIFIER
                .iter()
                .find(|s| s.name == k)
                .map(|s| format!(", {}", schema::example(s, None)))
                .unwrap_or_default(),
            What::Header(h) => format!(", e.g. `\"{h}\" = {{ env = \"NAME\" }}`"),
        }
    }

    fn bad_form(&self, raw: &RawSecret) -> String {
        let hint = match raw {
            toml::Value::Table(t) if t.len() == 1 => t
                .keys()
                .next()
                .map(|k| did_you_mean(k, SOURCES))
                .unwrap_or_default(),
            toml::Value::Table(t) if t.len() > 1 => "; give just one source".to_string(),
            _ => String::new(),
        };
        format!(
            "{} must be a string, or {}{}{hint}",
            self.subject(),
            schema::SECRET_TABLES,
            self.example()
        )
    }

    /// Why an empty value is no secret at all.
    fn why_empty(&self) -> &'static str {
        match self {
            What::Option(k) if k == "secret" => ": an HMAC with an empty key signs nothing",
            What::Option(k) if k == "token" => ": the server would refuse every message",
            _ => "",
        }
    }

    fn empty_literal(&self) -> String {
        let advice = match self {
            What::Option(k) if k == "secret" => {
                format!(
                    "; give the key{}, or leave `secret` out to send unsigned",
                    self.example()
                )
            }
            What::Option(_) => format!("; give it{}", self.example()),
            What::Header(_) => "; give its value, or leave the header out".to_string(),
        };
        format!("{} is empty{}{advice}", self.subject(), self.why_empty())
    }

    fn empty_from(&self, from: &str) -> String {
        format!(
            "{from}, read for {}, is empty{}",
            self.subject(),
            self.why_empty()
        )
    }
}

/// Why a secret has no value.
enum Unread {
    /// An error: the message says what could not be read.
    Error(String),
    /// A `credential` seen outside the service by `check`: a warning, not an error.
    OutsideService(String),
}

impl SecretReader<'_> {
    /// The secret at `path`. Its form is always checked (an empty literal is refused with
    /// it); its value is read unless the mode is [`Secrets::Skip`], which (like a credential
    /// `check` cannot see) gives an empty secret.
    pub(super) fn resolve(
        &self,
        raw: &RawSecret,
        path: PathSegs,
        problems: &mut Problems,
        warnings: &mut Problems,
    ) -> Option<Secret> {
        let what = What::of(&path);
        let Some(source) = Source::of(raw) else {
            problems.value(path, what.bad_form(raw));
            return None;
        };
        if let Source::Literal(s) = source
            && s.is_empty()
        {
            problems.value(path, what.empty_literal());
            return None;
        }
        if matches!(self.mode, Secrets::Skip | Secrets::DatabaseOnly) {
            return Some(Secret(String::new()));
        }
        let from = source.describe();
        match self.read(source) {
            Ok(s) if s.is_empty() => {
                problems.value(path, what.empty_from(&from));
                None
            }
            Ok(s) => Some(Secret(s)),
            Err(Unread::Error(e)) => {
                problems.value(path, e);
                None
            }
            Err(Unread::OutsideService(credential)) => {
                warnings.value(
                    path,
                    format!("credential `{credential}` can only be read inside the service (systemd LoadCredential=)"),
                );
                Some(Secret(String::new()))
            }
        }
    }

    /// As [`resolve`](Self::resolve), for the database's own password: read in every mode but
    /// [`Secrets::Skip`].
    pub(super) fn resolve_database(
        &self,
        raw: &RawSecret,
        path: PathSegs,
        problems: &mut Problems,
        warnings: &mut Problems,
    ) -> Option<Secret> {
        let mode = match self.mode {
            Secrets::DatabaseOnly => Secrets::Resolve,
            other => other,
        };
        SecretReader { mode, ..*self }.resolve(raw, path, problems, warnings)
    }

    fn read(&self, source: Source<'_>) -> Result<String, Unread> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map(|s| s.trim_end_matches(['\n', '\r']).to_string())
        };
        match source {
            Source::Literal(s) => Ok(s.to_string()),
            Source::Env(env) => std::env::var(env)
                .map_err(|_| Unread::Error(format!("environment variable `{env}` is not set"))),
            Source::File(file) => {
                let f = self.base.join(file);
                read(&f).map_err(|e| {
                    Unread::Error(format!("cannot read secret file {}: {e}", f.display()))
                })
            }
            Source::Credential(credential) => match std::env::var_os("CREDENTIALS_DIRECTORY") {
                Some(dir) => {
                    let f = PathBuf::from(dir).join(credential);
                    read(&f).map_err(|e| {
                        Unread::Error(format!("cannot read credential `{credential}`: {e}"))
                    })
                }
                None if self.mode == Secrets::Check => {
                    Err(Unread::OutsideService(credential.to_string()))
                }
                None => Err(Unread::Error(format!(
                    "credential `{credential}` needs $CREDENTIALS_DIRECTORY (systemd LoadCredential=)"
                ))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::check;
    use super::super::{Secrets, parse};

    #[test]
    fn secrets_from_env_missing_are_named_but_never_shown() {
        let src = "[[notifier]]\nname = \"n\"\nkind = \"webhook\"\nurl = \"https://x/\"\nsecret = { env = \"FEEDWATCH_TEST_SURELY_UNSET\" }\n";
        let errs = check(src).unwrap_err();
        assert!(
            errs[0].contains("5:10: environment variable `FEEDWATCH_TEST_SURELY_UNSET` is not set"),
            "{errs:?}"
        );
    }

    const HOOK: &str = "[[notifier]]\nname = \"n\"\nkind = \"webhook\"\nurl = \"https://x/\"\n";

    #[test]
    fn empty_secrets_are_refused_whatever_their_source() {
        let errs = check(&format!("{HOOK}secret = \"\"\n")).unwrap_err();
        assert!(
            errs[0].contains("5:10: `secret` is empty: an HMAC with an empty key signs nothing"),
            "{errs:?}"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key"), "\n").unwrap();
        let src = format!("{HOOK}secret = {{ file = \"key\" }}\n");
        let errs = parse(&dir.path().join("fw.toml"), &src, Secrets::Resolve)
            .unwrap_err()
            .messages;
        assert!(
            errs[0].contains("secret file `key`, read for `secret`, is empty"),
            "{errs:?}"
        );
        let errs = check(&format!("{HOOK}headers = {{ Authorization = \"\" }}\n")).unwrap_err();
        assert!(
            errs[0].contains("header `Authorization` is empty"),
            "{errs:?}"
        );
        let errs =
            check("[[notifier]]\nname = \"n\"\nkind = \"ntfy\"\ntopic = \"t\"\ntoken = \"\"\n")
                .unwrap_err();
        assert!(errs[0].contains("`token` is empty"), "{errs:?}");
    }

    #[test]
    fn a_misspelt_source_gets_a_suggestion_and_an_example() {
        let errs = check(&format!("{HOOK}secret = {{ evn = \"X\" }}\n")).unwrap_err();
        assert!(
            errs[0].contains("5:10: `secret` must be a string, or one of { env = \"NAME\" }")
                && errs[0].contains("e.g. `secret = { env = \"FEEDWATCH_WEBHOOK_SECRET\" }`")
                && errs[0].ends_with("did you mean `env`?"),
            "{errs:?}"
        );
    }
}
