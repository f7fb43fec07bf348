//! `kind = "webhook"`: an http(s) URL, an optional signing secret and extra headers.

use std::collections::BTreeMap;

use super::model::{NotifierKind, WebhookConfig};
use super::{Kind, Site};
use crate::config::Secret;
use crate::config::locate::{Problems, p};
use crate::config::raw::{RawNotifier, RawSecret};

pub(super) const KIND: Kind = Kind {
    name: "webhook",
    options: &["url", "secret", "headers"],
    build,
};

fn build(
    n: &RawNotifier,
    site: &Site<'_>,
    problems: &mut Problems,
    warnings: &mut Problems,
) -> Option<NotifierKind> {
    let url = site.http_url(n.url.as_deref(), "url", "webhook", None, problems);
    let secret = site.secret("secret", n.secret.as_ref(), problems, warnings);
    let headers = headers(n.headers.as_ref(), site, problems, warnings);
    url.map(|url| {
        NotifierKind::Webhook(WebhookConfig {
            url,
            secret,
            headers,
        })
    })
}

/// Extra headers: values may be secrets (an `Authorization` token), and names and values must
/// be valid HTTP, checked here rather than failing every delivery.
pub(super) fn headers(
    raw: Option<&BTreeMap<String, RawSecret>>,
    site: &Site<'_>,
    problems: &mut Problems,
    warnings: &mut Problems,
) -> BTreeMap<String, Secret> {
    let mut out = BTreeMap::new();
    for (name, value) in raw.into_iter().flatten() {
        let at = p(&[&"notifier", &site.index, &"headers", &name.as_str()]);
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            problems.key(at, format!("`{name}` is not a valid HTTP header name"));
            continue;
        }
        if let Some(v) = site.secrets.resolve(value, at.clone(), problems, warnings) {
            if reqwest::header::HeaderValue::from_str(v.expose()).is_err() {
                problems.value(
                    at,
                    format!(
                        "the value of header `{name}` is not valid in HTTP (control characters?)"
                    ),
                );
                continue;
            }
            out.insert(name.clone(), v);
        }
    }
    out
}
