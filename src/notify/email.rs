//! The `email` notifier: one multipart (plain text + HTML) message per alert or digest over
//! SMTP: `smtp://` with STARTTLS required, `smtps://` with TLS from the start, `smtp+plain://`
//! without TLS (loopback only, checked at load). The Message-ID is derived from the message
//! id, so a resend after a crash is recognisable as the same mail. 5xx SMTP answers are
//! permanent; 4xx answers and connection problems are retried. One connection per message:
//! lettre's connection pool keeps a cleanup task that wakes every minute, and an idle daemon
//! must not wake on a timer.

use std::time::Duration;

use futures_util::future::BoxFuture;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::format;
use super::render;
use super::template::{self, Part, Templates};
use super::{Content, Delivery, Message, Notifier};
use crate::config::{EmailConfig, SmtpSecurity};

pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    templates: Templates,
    /// A whole delivery: lettre's own timeout does not cover every wait (a server that stops
    /// answering in the middle of AUTH held a delivery until the server's idle timeout).
    timeout: Duration,
}

impl Email {
    pub fn new(c: &EmailConfig, templates: Templates, timeout: Duration) -> anyhow::Result<Self> {
        let builder = match c.security {
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&c.host)?
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&c.host)?,
            SmtpSecurity::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host),
        };
        let mut builder = builder.port(c.port).timeout(Some(timeout));
        if let Some((user, password)) = &c.credentials {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from: c.from.clone(),
            to: c.to.clone(),
            templates,
            timeout,
        })
    }

    /// The mail for `msg`, ready to send.
    pub fn mail(&self, msg: &Message) -> Result<lettre::Message, String> {
        let doc = render::doc(msg, &self.templates);
        let subject = match &msg.content {
            Content::Alert(a) => a
                .topic_match()
                .and_then(|m| {
                    let ctx = template::context(a, m, msg.held_back);
                    self.templates.render(Part::Subject, &ctx)?.ok()
                })
                .map(|s| crate::text::one_line(&s))
                .unwrap_or_else(|| doc.title.clone()),
            Content::Digest { .. } => doc.title.clone(),
        };
        let domain = self.from.email.domain().to_string();
        let mut b = lettre::Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .message_id(Some(message_id(&msg.id, &domain)));
        for to in &self.to {
            b = b.to(to.clone());
        }
        let body = MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(format::plain(&doc)),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(format!(
                        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n{}\n</body></html>",
                        format::html(&doc)
                    )),
            );
        b.multipart(body)
            .map_err(|e| format!("building the mail: {e}"))
    }
}

/// `<feedwatch.ID@DOMAIN>`: the same for every send of one message.
pub fn message_id(id: &str, domain: &str) -> String {
    format!("<feedwatch.{id}@{domain}>")
}

impl Notifier for Email {
    fn send<'a>(&'a self, msg: &'a Message) -> BoxFuture<'a, Delivery> {
        Box::pin(async move {
            let mail = match self.mail(msg) {
                Ok(m) => m,
                Err(error) => return Delivery::Permanent { error },
            };
            let Ok(sent) = tokio::time::timeout(self.timeout, self.transport.send(mail)).await
            else {
                return Delivery::Retry {
                    error: format!(
                        "SMTP: no answer within {}",
                        humantime::format_duration(self.timeout)
                    ),
                    not_before: None,
                };
            };
            match sent {
                Ok(_) => Delivery::Sent,
                Err(e) if e.is_permanent() => Delivery::Permanent {
                    error: format!("the SMTP server refused the mail: {e}"),
                },
                Err(e) => Delivery::Retry {
                    error: format!("SMTP: {e}"),
                    not_before: None,
                },
            }
        })
    }
}
