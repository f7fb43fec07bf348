//! The `webhook` notifier: POST of the DESIGN.md §4 JSON, with `Idempotency-Key` and, when a
//! secret is set, an HMAC-SHA256 signature of the exact body.

use std::collections::BTreeMap;

use chrono::Utc;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;
use url::Url;

use super::Delivery;
use crate::config::Secret;
use crate::fetch::parse_retry_after;
use crate::store::AlertContext;

/// The webhook body for one alert.
pub fn payload(alert: &AlertContext) -> Value {
    json!({
        "event": "topic.match",
        "id": alert.uid,
        "topic": alert.topic,
        "matched_terms": alert.matched_terms,
        "story": alert.story,
        "item": alert.item,
    })
}

pub fn signature(secret: &Secret, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub async fn send(
    http: &reqwest::Client,
    url: &Url,
    secret: Option<&Secret>,
    headers: &BTreeMap<String, Secret>,
    alert: &AlertContext,
) -> Delivery {
    let body = match serde_json::to_vec(&payload(alert)) {
        Ok(b) => b,
        Err(e) => {
            return Delivery::Permanent {
                error: format!("encoding the payload: {e}"),
            };
        }
    };
    let mut req = http
        .post(url.clone())
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", &alert.uid);
    for (k, v) in headers {
        req = req.header(k, v.expose());
    }
    if let Some(secret) = secret {
        req = req.header("X-Feedwatch-Signature", signature(secret, &body));
    }
    let resp = match req.body(body).send().await {
        Ok(r) => r,
        Err(e) => {
            return Delivery::Retry {
                error: format!("POST {}: {}", redact(url), chain(e)),
                not_before: None,
            };
        }
    };
    classify(
        resp.status(),
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
    )
}

/// 2xx sent; 408, 429 and 5xx retried (429 and 503 honour Retry-After); other 4xx and
/// redirects are permanent: retrying cannot change the answer.
pub fn classify(status: StatusCode, retry_after: Option<&str>) -> Delivery {
    if status.is_success() {
        return Delivery::Sent;
    }
    let retryable = status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS;
    if retryable {
        let not_before = retry_after.and_then(|v| parse_retry_after(v, Utc::now()));
        return Delivery::Retry {
            error: format!("webhook answered HTTP {status}"),
            not_before,
        };
    }
    let error = if status.is_redirection() {
        format!(
            "webhook answered HTTP {status} (a redirect): point the notifier's url at the final address"
        )
    } else {
        format!("webhook answered HTTP {status}")
    };
    Delivery::Permanent { error }
}

/// Webhook URLs often carry a token in the path or query: log only scheme, host and port.
fn redact(url: &Url) -> String {
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
        assert_eq!(classify(StatusCode::OK, None), Delivery::Sent);
        assert_eq!(classify(StatusCode::NO_CONTENT, None), Delivery::Sent);
        assert!(matches!(
            classify(StatusCode::INTERNAL_SERVER_ERROR, None),
            Delivery::Retry { .. }
        ));
        assert!(matches!(
            classify(StatusCode::REQUEST_TIMEOUT, None),
            Delivery::Retry { .. }
        ));
        assert!(matches!(
            classify(StatusCode::NOT_FOUND, None),
            Delivery::Permanent { .. }
        ));
        match classify(StatusCode::TOO_MANY_REQUESTS, Some("60")) {
            Delivery::Retry {
                not_before: Some(t),
                ..
            } => assert!(t > Utc::now() + chrono::Duration::seconds(50)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        let s = signature(&Secret::for_tests("Jefe"), b"what do ya want for nothing?");
        assert_eq!(
            s,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn urls_in_logs_lose_their_path_and_query() {
        let u = Url::parse("https://hooks.example.org:8443/T000/B000/secret?token=x").unwrap();
        assert_eq!(redact(&u), "https://hooks.example.org:8443");
    }
}
