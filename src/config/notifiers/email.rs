//! `kind = "email"`: an SMTP URL (`smtp://` STARTTLS, `smtps://` TLS, `smtp+plain://` only to
//! this machine), sender, recipients, optional login, and `subject_template`.

use std::net::IpAddr;

use lettre::message::Mailbox;
use url::Url;

use super::model::{EmailConfig, NotifierKind, SmtpSecurity};
use super::{Kind, Site};
use crate::config::locate::{Problems, p};
use crate::config::raw::RawNotifier;

pub(super) const KIND: Kind = Kind {
    name: "email",
    options: &[
        "smtp",
        "from",
        "to",
        "username",
        "password",
        "subject_template",
    ],
    build,
};

fn build(
    n: &RawNotifier,
    site: &Site<'_>,
    problems: &mut Problems,
    warnings: &mut Problems,
) -> Option<NotifierKind> {
    let server = site
        .required(n.smtp.as_deref(), "smtp", "email", problems)
        .and_then(|s| smtp(s, site, problems));
    let from = site
        .required(n.from.as_deref(), "from", "email", problems)
        .and_then(|f| mailbox(f, site.key("from"), problems));
    let mut to = Vec::new();
    match site.required(n.to.as_ref(), "to", "email", problems) {
        Some(list) if list.is_empty() => {
            problems.value(site.key("to"), "`to` needs at least one address");
        }
        Some(list) => {
            for (i, addr) in list.iter().enumerate() {
                let at = p(&[&"notifier", &site.index, &"to", &i]);
                to.extend(mailbox(addr, at, problems));
            }
        }
        None => {}
    }
    let credentials = match (&n.username, &n.password) {
        (None, None) => None,
        (Some(u), Some(pw)) => Some((
            u.clone(),
            site.secret("password", Some(pw), problems, warnings)?,
        )),
        _ => {
            problems.value(
                site.table(),
                "an email notifier with `username` or `password` needs both",
            );
            return None;
        }
    };
    let (security, host, port) = server?;
    if to.len() != n.to.as_ref().map_or(0, Vec::len) || to.is_empty() {
        return None;
    }
    Some(NotifierKind::Email(EmailConfig {
        security,
        host,
        port,
        from: from?,
        to,
        credentials,
    }))
}

fn mailbox(
    text: &str,
    at: crate::config::locate::PathSegs,
    problems: &mut Problems,
) -> Option<Mailbox> {
    text.parse::<Mailbox>()
        .map_err(|e| {
            problems.value(
                at,
                format!("`{text}` is not an email address ({e}); expected \"user@example.org\" or \"Name <user@example.org>\""),
            )
        })
        .ok()
}

/// The server: security, host and port. A plain connection sends the password and the mail
/// in the clear, so it is allowed only to this machine (a local relay, a test server).
fn smtp(
    text: &str,
    site: &Site<'_>,
    problems: &mut Problems,
) -> Option<(SmtpSecurity, String, u16)> {
    let at = site.key("smtp");
    let url = match Url::parse(text) {
        Ok(u) => u,
        Err(e) => {
            problems.value(
                at,
                format!("invalid SMTP URL: {e}; expected e.g. \"smtp://mail.example.org:587\""),
            );
            return None;
        }
    };
    let (security, default_port) = match url.scheme() {
        "smtp" => (SmtpSecurity::StartTls, 587),
        "smtps" => (SmtpSecurity::Tls, 465),
        "smtp+plain" => (SmtpSecurity::Plain, 25),
        other => {
            problems.value(
                at,
                format!("unknown SMTP scheme `{other}`; expected smtp:// (STARTTLS), smtps:// (TLS) or smtp+plain:// (this machine only)"),
            );
            return None;
        }
    };
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        problems.value(at, "the SMTP URL needs a host");
        return None;
    };
    if !url.username().is_empty() || url.password().is_some() {
        problems.value(
            at,
            "put the SMTP login in `username` and `password`, not in the URL",
        );
        return None;
    }
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    if security == SmtpSecurity::Plain && !is_loopback(&host) {
        problems.value(
            at,
            format!("smtp+plain:// sends mail and password unencrypted: only to this machine (localhost, 127.0.0.1, ::1), not to `{host}`; use smtp:// or smtps://"),
        );
        return None;
    }
    Some((security, host, url.port().unwrap_or(default_port)))
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
