//! Secrets: the forms a secret may be written in (a literal, `env`, `file`, `credential`) and
//! reading it, as the command's [`Secrets`] mode says. A value read never appears in a message.

use std::path::{Path, PathBuf};

use super::locate::{PathSegs, Problems};
use super::raw::RawSecret;
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

/// Why a secret has no value.
enum Unread {
    /// An error: the message says what could not be read.
    Error(String),
    /// A `credential` seen outside the service by `check`: a warning, not an error.
    OutsideService(String),
}

impl SecretReader<'_> {
    /// The secret at `path`. Its form is always checked; its value is read unless the mode is
    /// [`Secrets::Skip`], which (like a credential `check` cannot see) gives an empty secret.
    pub(super) fn resolve(
        &self,
        raw: &RawSecret,
        path: PathSegs,
        problems: &mut Problems,
        warnings: &mut Problems,
    ) -> Option<Secret> {
        let Some(source) = Source::of(raw) else {
            problems.value(
                path,
                "expected a string, or a table with one of `env`, `file`, `credential` (e.g. { env = \"NAME\" })",
            );
            return None;
        };
        if self.mode == Secrets::Skip {
            return Some(Secret(String::new()));
        }
        match self.read(source) {
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

    #[test]
    fn secrets_from_env_missing_are_named_but_never_shown() {
        let src = "[[notifier]]\nname = \"n\"\nkind = \"webhook\"\nurl = \"https://x/\"\nsecret = { env = \"FEEDWATCH_TEST_SURELY_UNSET\" }\n";
        let errs = check(src).unwrap_err();
        assert!(
            errs[0].contains("5:10: environment variable `FEEDWATCH_TEST_SURELY_UNSET` is not set"),
            "{errs:?}"
        );
    }
}
