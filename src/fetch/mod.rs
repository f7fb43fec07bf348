//! HTTP: one conditional GET of a feed, redirects followed by hand, body capped, and no way
//! from a public address into a private network.
//!
//! Redirects are followed here rather than by reqwest so that we know whether every hop was
//! permanent (301/308): only then has the feed moved for good (DESIGN.md §6). Knowing the
//! chain also lets each hop be judged by [`netguard`](crate::netguard): a literal address
//! before the request, a name's DNS answers in the resolver the socket connects through.
//!
//! Two clients, one per [`Reach`]: a client has one resolver, and a connection that a
//! private-allowed request opened must never be reused by a public-only request for the same
//! host, so each reach keeps its own pool. With `allow_private_networks` the one unfiltered
//! client serves every request. Behind a proxy from the environment the proxy resolves the
//! names: literal addresses and `localhost` are still refused, DNS answers are the proxy's.

mod resolve;
mod testnet;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use url::Url;

pub use crate::netguard::Reach;
use crate::netguard::{self, Refusal, Via};

const MAX_REDIRECTS: usize = 5;
const ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5";

/// Cache validators from the last complete response, sent back as If-None-Match /
/// If-Modified-Since exactly as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

#[derive(Debug)]
pub enum Outcome {
    /// 2xx with the whole body.
    Body {
        body: Vec<u8>,
        content_type: Option<String>,
        validators: Validators,
    },
    /// 304: the feed is unchanged since the validators we sent.
    NotModified,
    /// 410: the publisher removed the feed; stop polling and tell the operator.
    Gone,
}

#[derive(Debug)]
pub struct Response {
    pub outcome: Outcome,
    pub status: u16,
    /// Set when every redirect hop was permanent: the feed's new address.
    pub moved_to: Option<Url>,
    /// How long the response says it stays fresh (Cache-Control, Expires).
    pub hint: Option<crate::hints::Hint>,
    /// Where a request that follows from this response (an autodiscovery link the page
    /// names) may connect: pass it to [`Fetcher::fetch`] for that link.
    pub reach: Reach,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("HTTP {status}{}", retry_after.map(|t| format!(" (retry after {})", t.to_rfc3339())).unwrap_or_default())]
    Status {
        status: u16,
        retry_after: Option<DateTime<Utc>>,
    },
    #[error("body exceeds the {limit}-byte cap (counted after decompression)")]
    TooLarge { limit: u64 },
    #[error("no complete response within {0:?}")]
    Timeout(Duration),
    #[error("redirect loop at {0}")]
    RedirectLoop(Url),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error(
        "the server answered 304 Not Modified to a request without validators (a broken cache in front of the feed?)"
    )]
    UnaskedNotModified,
    #[error("redirect without a usable Location header")]
    BadRedirect,
    /// The request would have connected from public space into a private network.
    #[error("{0}")]
    Refused(Refusal),
    #[error("{0}")]
    Network(String),
}

impl FetchError {
    pub fn http_status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn retry_after(&self) -> Option<DateTime<Utc>> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Settings the fetcher takes from `[daemon]`.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    pub user_agent: String,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_body: u64,
    /// `[daemon] allow_private_networks`: every request may connect anywhere.
    pub allow_private_networks: bool,
}

#[derive(Clone)]
pub struct Fetcher {
    /// Connects anywhere: chains that started in private space, or every chain when
    /// private networks are allowed.
    anywhere: reqwest::Client,
    /// Connects only to public addresses.
    public: reqwest::Client,
    settings: FetchSettings,
}

impl Fetcher {
    pub fn new(settings: FetchSettings) -> anyhow::Result<Self> {
        let exempt = resolve::proxy_hosts();
        let anywhere = client(&settings, resolve::Guarded::new(false, Arc::clone(&exempt)))?;
        let public = if settings.allow_private_networks {
            anywhere.clone()
        } else {
            client(&settings, resolve::Guarded::new(true, exempt))?
        };
        Ok(Self {
            anywhere,
            public,
            settings,
        })
    }

    /// GET `url`, sending `validators` back, connecting only where `reach` allows: for a
    /// feed, [`Reach::written`] of its *configured* URL (even when polling the address it
    /// moved to); for an autodiscovery link, the page's [`Response::reach`]. The whole
    /// exchange, redirects and body included, must finish within the configured timeout.
    pub async fn fetch(
        &self,
        url: &Url,
        validators: &Validators,
        reach: Reach,
    ) -> Result<Response, FetchError> {
        let limit = self.settings.timeout;
        match tokio::time::timeout(limit, self.fetch_inner(url, validators, reach)).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Timeout(limit)),
        }
    }

    async fn fetch_inner(
        &self,
        url: &Url,
        validators: &Validators,
        reach: Reach,
    ) -> Result<Response, FetchError> {
        let mut reach = if self.settings.allow_private_networks {
            Reach::Anywhere
        } else {
            reach
        };
        let mut current = url.clone();
        let mut visited = HashSet::from([current.clone()]);
        let mut all_permanent = true;
        for hop in 0..=MAX_REDIRECTS {
            let via = if hop == 0 { Via::Start } else { Via::Redirect };
            netguard::check_host(&current, reach, via, resolve::judge)
                .map_err(FetchError::Refused)?;
            let client = match reach {
                Reach::Anywhere => &self.anywhere,
                Reach::PublicOnly => &self.public,
            };
            let resp = client
                .get(current.clone())
                .headers(request_headers(validators))
                .send()
                .await
                .map_err(|e| network_error(&e))?;
            if let Some(addr) = resp.remote_addr()
                && !self.settings.allow_private_networks
            {
                reach = reach.after_connect(addr.ip(), resolve::judge);
            }
            let status = resp.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let next = resp
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|loc| next_hop(&current, loc))
                    .ok_or(FetchError::BadRedirect)?;
                all_permanent &= is_permanent_redirect(status);
                if !visited.insert(next.clone()) {
                    return Err(FetchError::RedirectLoop(next));
                }
                current = next;
                continue;
            }
            let moved_to = (all_permanent && current != *url).then(|| current.clone());
            let conditional = validators.etag.is_some() || validators.last_modified.is_some();
            return self.finish(resp, moved_to, conditional, reach).await;
        }
        Err(FetchError::TooManyRedirects)
    }

    async fn finish(
        &self,
        mut resp: reqwest::Response,
        moved_to: Option<Url>,
        conditional: bool,
        reach: Reach,
    ) -> Result<Response, FetchError> {
        let status = resp.status();
        let code = status.as_u16();
        let hint = {
            let h = resp.headers();
            let text = |name| h.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
            crate::hints::from_headers(
                crate::hints::Headers {
                    cache_control: text(header::CACHE_CONTROL),
                    expires: text(header::EXPIRES),
                    date: text(header::DATE),
                    age: text(header::AGE),
                },
                Utc::now(),
            )
        };
        let outcome = match status {
            StatusCode::NOT_MODIFIED if conditional => Outcome::NotModified,
            StatusCode::NOT_MODIFIED => return Err(FetchError::UnaskedNotModified),
            StatusCode::GONE => Outcome::Gone,
            s if s.is_success() => {
                let headers = resp.headers();
                let text = |h| {
                    headers
                        .get(h)
                        .and_then(|v: &HeaderValue| v.to_str().ok())
                        .map(str::to_string)
                };
                let validators = Validators {
                    etag: text(header::ETAG),
                    last_modified: text(header::LAST_MODIFIED),
                };
                let content_type = text(header::CONTENT_TYPE);
                let body = read_capped(&mut resp, self.settings.max_body).await?;
                Outcome::Body {
                    body,
                    content_type,
                    validators,
                }
            }
            _ => {
                let retry_after = resp
                    .headers()
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, Utc::now()));
                return Err(FetchError::Status {
                    status: code,
                    retry_after,
                });
            }
        };
        Ok(Response {
            outcome,
            status: code,
            moved_to,
            hint,
            reach,
        })
    }
}

fn client(settings: &FetchSettings, resolver: resolve::Guarded) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(&settings.user_agent)
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        .dns_resolver(resolver)
        .build()
        .map_err(|e| anyhow::anyhow!("building the HTTP client: {e}"))
}

/// Where a redirect from `current` to `location` leads. Credentials written in the feed's
/// URL go along only while the origin stays the same (a relative Location keeps them; to
/// another scheme, host or port they are dropped).
fn next_hop(current: &Url, location: &str) -> Option<Url> {
    let mut next = current.join(location).ok()?;
    if next.origin() != current.origin() {
        // Both only fail for URLs that cannot carry credentials at all.
        let _ = next.set_username("");
        let _ = next.set_password(None);
    }
    Some(next)
}

fn request_headers(v: &Validators) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT));
    if let Some(etag) = v
        .etag
        .as_deref()
        .and_then(|e| HeaderValue::from_str(e).ok())
    {
        h.insert(header::IF_NONE_MATCH, etag);
    }
    if let Some(lm) = v
        .last_modified
        .as_deref()
        .and_then(|e| HeaderValue::from_str(e).ok())
    {
        h.insert(header::IF_MODIFIED_SINCE, lm);
    }
    h
}

/// Read the body chunk by chunk, counting decompressed bytes, and stop at the cap: a gzip bomb
/// or an endless body costs at most `limit` bytes of memory.
async fn read_capped(resp: &mut reqwest::Response, limit: u64) -> Result<Vec<u8>, FetchError> {
    // Sized once from Content-Length when the server sends one (not for compressed bodies),
    // instead of doubling through every power of two up to the body's size.
    let expected = resp.content_length().unwrap_or(64 * 1024).min(limit);
    let mut body = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    while let Some(chunk) = resp.chunk().await.map_err(|e| network_error(&e))? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(FetchError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn is_permanent_redirect(s: StatusCode) -> bool {
    matches!(
        s,
        StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
    )
}

/// A transport failure: our resolver's refusal when that is what stopped it, else what
/// failed, on one clean line (the chain can quote what a server sent).
fn network_error(e: &reqwest::Error) -> FetchError {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(refusal) = s.downcast_ref::<Refusal>() {
            return FetchError::Refused(refusal.clone());
        }
        src = s.source();
    }
    FetchError::Network(crate::text::one_line(&describe(e)))
}

/// reqwest's Display hides the cause ("error sending request"); the chain says what failed.
fn describe(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "timed out".to_string()
    } else {
        e.to_string()
    };
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// Retry-After is either delay-seconds or an HTTP-date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(now + chrono::Duration::seconds(secs.min(30 * 86400) as i64));
    }
    DateTime::parse_from_rfc2822(v)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(now + chrono::Duration::seconds(120))
        );
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 2026 01:00:00 GMT", now),
            Some(now + chrono::Duration::hours(1))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn credentials_stay_with_their_origin() {
        let feed = Url::parse("https://reader:s3cret@feeds.example/private.xml").unwrap();
        let same = next_hop(&feed, "/moved.xml").unwrap();
        assert_eq!(
            same.as_str(),
            "https://reader:s3cret@feeds.example/moved.xml"
        );
        for location in [
            "https://cdn.example/private.xml",
            "//cdn.example/private.xml",
            "http://feeds.example/private.xml",
            "https://feeds.example:8443/private.xml",
            "https://reader:s3cret@cdn.example/private.xml",
        ] {
            let next = next_hop(&feed, location).unwrap();
            assert_eq!(next.username(), "", "{location}");
            assert_eq!(next.password(), None, "{location}");
        }
    }

    #[test]
    fn validators_are_sent_back_verbatim() {
        let h = request_headers(&Validators {
            etag: Some("W/\"abc\"".into()),
            last_modified: Some("Wed, 21 Oct 2015 07:28:00 GMT".into()),
        });
        assert_eq!(h[header::IF_NONE_MATCH], "W/\"abc\"");
        assert_eq!(
            h[header::IF_MODIFIED_SINCE],
            "Wed, 21 Oct 2015 07:28:00 GMT"
        );
        assert!(
            h[header::ACCEPT]
                .to_str()
                .unwrap()
                .contains("application/atom+xml")
        );
        assert!(
            request_headers(&Validators::default())
                .get(header::IF_NONE_MATCH)
                .is_none()
        );
    }
}
