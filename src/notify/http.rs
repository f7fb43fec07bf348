//! What every HTTP notifier shares: one exchange with the receiver and what its answer means.
//! 2xx is delivered; 408, 429 and 5xx are retried, not before the receiver's Retry-After (the
//! header, or the body field some services use instead); any other answer, a redirect
//! included (redirects are not followed: a redirected POST loses its body), is permanent.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

use super::Delivery;
use crate::fetch::parse_retry_after;

/// How much of an error answer is read (for its message and its retry hint).
const ERROR_BODY_MAX: usize = 64 * 1024;

/// A service's rate-limit hint in its JSON error body.
pub type BodyHint = fn(&Value) -> Option<Duration>;

pub fn no_hint(_: &Value) -> Option<Duration> {
    None
}

/// Send `req` and classify the answer. `service` names the receiver in messages; the URL is
/// never shown beyond its scheme, host and port (paths carry tokens).
pub async fn exchange(
    service: &str,
    url: &Url,
    req: reqwest::RequestBuilder,
    hint: BodyHint,
) -> Delivery {
    let mut resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            return Delivery::Retry {
                error: format!("{service} at {}: {}", redact(url), chain(e)),
                not_before: None,
            };
        }
    };
    let status = resp.status();
    if status.is_success() {
        return Delivery::Sent;
    }
    let header = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= ERROR_BODY_MAX {
            break;
        }
    }
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    let now = Utc::now();
    let from_body = json
        .as_ref()
        .and_then(hint)
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .map(|d| now + d);
    let from_header = header.as_deref().and_then(|v| parse_retry_after(v, now));
    let detail = error_detail(json.as_ref(), &body);
    classify(service, status, from_header.max(from_body), &detail)
}

/// What the answer says went wrong, short and safe to log.
fn error_detail(json: Option<&Value>, body: &[u8]) -> String {
    let text = match json {
        Some(v) => ["description", "error", "message", "errcode"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str))
            .map(str::to_string)
            .unwrap_or_default(),
        None => String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
    };
    let text = crate::text::one_line(&text);
    super::format::truncate(&text, 200)
}

pub fn classify(
    service: &str,
    status: StatusCode,
    not_before: Option<DateTime<Utc>>,
    detail: &str,
) -> Delivery {
    if status.is_success() {
        return Delivery::Sent;
    }
    let mut error = format!("{service} answered HTTP {status}");
    if !detail.is_empty() {
        error.push_str(": ");
        error.push_str(detail);
    }
    let retryable = status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS;
    if retryable {
        return Delivery::Retry { error, not_before };
    }
    if status.is_redirection() {
        error.push_str(" (a redirect): point the notifier's url at the final address");
    }
    Delivery::Permanent { error }
}

/// Only scheme, host and port: webhook and bot URLs carry tokens in the path or query.
pub fn redact(url: &Url) -> String {
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    )
}

fn chain(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        let c = |s| classify("hook", s, None, "");
        assert_eq!(c(StatusCode::OK), Delivery::Sent);
        assert_eq!(c(StatusCode::NO_CONTENT), Delivery::Sent);
        assert!(matches!(
            c(StatusCode::INTERNAL_SERVER_ERROR),
            Delivery::Retry { .. }
        ));
        assert!(matches!(
            c(StatusCode::REQUEST_TIMEOUT),
            Delivery::Retry { .. }
        ));
        assert!(matches!(
            c(StatusCode::TOO_MANY_REQUESTS),
            Delivery::Retry { .. }
        ));
        assert!(matches!(
            c(StatusCode::NOT_FOUND),
            Delivery::Permanent { .. }
        ));
        match c(StatusCode::MOVED_PERMANENTLY) {
            Delivery::Permanent { error } => assert!(error.contains("redirect"), "{error}"),
            other => panic!("{other:?}"),
        }
        match classify("slack", StatusCode::BAD_REQUEST, None, "invalid_payload") {
            Delivery::Permanent { error } => {
                assert_eq!(
                    error,
                    "slack answered HTTP 400 Bad Request: invalid_payload"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_bodies_give_a_short_reason() {
        let v: Value = serde_json::from_str(
            r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#,
        )
        .unwrap();
        assert_eq!(error_detail(Some(&v), b""), "Bad Request: chat not found");
        assert_eq!(error_detail(None, b"no_service\n"), "no_service");
    }

    #[test]
    fn urls_in_logs_lose_their_path_and_query() {
        let u = Url::parse("https://hooks.example.org:8443/T000/B000/secret?token=x").unwrap();
        assert_eq!(redact(&u), "https://hooks.example.org:8443");
    }
}
