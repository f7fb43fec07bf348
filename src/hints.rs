//! What a publisher says about when to come back, and how that holds a feed's next poll. Pure.
//!
//! Hints come from the response (`Cache-Control: max-age` or `s-maxage`, else `Expires`
//! against the server's `Date`, less any `Age`) and from the document (RSS `<ttl>`, else
//! `sy:updatePeriod`/`sy:updateFrequency`). With `respect_cache_headers` on, the longest one
//! is a floor under the next poll — capped at `cache_max`, and never pulling a poll earlier
//! than the feed's own schedule. Retry-After on errors is handled by the backoff, not here.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Where a hint came from, shown by `feeds` when it holds a poll back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    MaxAge(u64),
    SMaxAge(u64),
    Expires,
    Ttl(u64),
    UpdatePeriod,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::MaxAge(s) => write!(f, "Cache-Control max-age={s}"),
            Source::SMaxAge(s) => write!(f, "Cache-Control s-maxage={s}"),
            Source::Expires => f.write_str("Expires"),
            Source::Ttl(m) => write!(f, "<ttl>{m}</ttl>"),
            Source::UpdatePeriod => f.write_str("sy:updatePeriod"),
        }
    }
}

/// "Not before this", and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub until: DateTime<Utc>,
    pub source: Source,
}

/// The response headers that carry freshness.
#[derive(Debug, Clone, Copy, Default)]
pub struct Headers<'a> {
    pub cache_control: Option<&'a str>,
    pub expires: Option<&'a str>,
    pub date: Option<&'a str>,
    pub age: Option<&'a str>,
}

fn http_date(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The freshness a response declares, from `now` (when it arrived).
pub fn from_headers(h: Headers<'_>, now: DateTime<Utc>) -> Option<Hint> {
    let age = h
        .age
        .and_then(|a| a.trim().parse::<u64>().ok())
        .unwrap_or(0);
    if let Some(cc) = h.cache_control {
        let mut max_age = None;
        let mut s_maxage = None;
        for directive in cc.split(',') {
            let d = directive.trim().to_ascii_lowercase();
            // The publisher asks for revalidation every time: no hint, poll by schedule.
            if d == "no-cache" || d == "no-store" {
                return None;
            }
            let value = |name: &str| {
                d.strip_prefix(name)
                    .and_then(|v| v.trim_start().strip_prefix('='))
                    .and_then(|v| v.trim().trim_matches('"').parse::<u64>().ok())
            };
            max_age = max_age.or(value("max-age"));
            s_maxage = s_maxage.or(value("s-maxage"));
        }
        // We are one client, not a shared cache, but feed hosts often set only s-maxage for
        // their CDN; it says how long the feed stays the same all the same.
        let (secs, source) = match (max_age, s_maxage) {
            (Some(s), _) => (s, Source::MaxAge(s)),
            (None, Some(s)) => (s, Source::SMaxAge(s)),
            (None, None) => return expires(h, now),
        };
        let left = secs.saturating_sub(age).min(366 * 86400);
        return (left > 0).then(|| Hint {
            until: now + chrono::Duration::seconds(left as i64),
            source,
        });
    }
    expires(h, now)
}

fn expires(h: Headers<'_>, now: DateTime<Utc>) -> Option<Hint> {
    let exp = http_date(h.expires?)?;
    // Expires is in the server's clock: measure it against the server's Date, not ours.
    let server_now = h.date.and_then(http_date).unwrap_or(now);
    let left = (exp - server_now).num_seconds();
    (left > 0).then(|| Hint {
        until: now + chrono::Duration::seconds(left.min(366 * 86400)),
        source: Source::Expires,
    })
}

/// What a document says about its own freshness: RSS `<ttl>`, else the syndication module's
/// update period divided by its frequency. Kept with the feed, since a 304 carries no body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocHint {
    pub every: Duration,
    /// `true` for `<ttl>`, `false` for `sy:updatePeriod`.
    pub ttl: bool,
}

impl DocHint {
    pub fn new(ttl: Option<Duration>, update_interval: Option<Duration>) -> Option<DocHint> {
        let cap = Duration::from_secs(366 * 86400);
        match (
            ttl.filter(|d| !d.is_zero()),
            update_interval.filter(|d| !d.is_zero()),
        ) {
            (Some(d), _) => Some(DocHint {
                every: d.min(cap),
                ttl: true,
            }),
            (None, Some(d)) => Some(DocHint {
                every: d.min(cap),
                ttl: false,
            }),
            _ => None,
        }
    }

    /// The hint as of `now` (when the document, or its 304, arrived).
    pub fn hint(&self, now: DateTime<Utc>) -> Option<Hint> {
        let source = if self.ttl {
            Source::Ttl(self.every.as_secs() / 60)
        } else {
            Source::UpdatePeriod
        };
        Some(Hint {
            until: now + chrono::Duration::from_std(self.every).ok()?,
            source,
        })
    }

    /// Stored form: `ttl:SECONDS` or `update:SECONDS`.
    pub fn to_stored(&self) -> String {
        format!(
            "{}:{}",
            if self.ttl { "ttl" } else { "update" },
            self.every.as_secs()
        )
    }

    pub fn from_stored(s: &str) -> Option<DocHint> {
        let (kind, secs) = s.split_once(':')?;
        let every = Duration::from_secs(secs.parse().ok()?);
        match kind {
            "ttl" => Some(DocHint { every, ttl: true }),
            "update" => Some(DocHint { every, ttl: false }),
            _ => None,
        }
    }
}

/// The later of two hints.
pub fn longest(a: Option<Hint>, b: Option<Hint>) -> Option<Hint> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.until > a.until { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// The next poll once a hint is applied to `scheduled` (the cron tick with jitter and any
/// backoff): never earlier than scheduled, never later than `now + cap`. Returns the time and
/// the hint if it is what holds the poll back.
pub fn hold(
    scheduled: DateTime<Utc>,
    hint: Option<&Hint>,
    now: DateTime<Utc>,
    cap: Duration,
) -> (DateTime<Utc>, Option<String>) {
    let Some(h) = hint else {
        return (scheduled, None);
    };
    let cap = chrono::Duration::from_std(cap).unwrap_or_else(|_| chrono::Duration::days(1));
    let until = h.until.min(now + cap);
    if until > scheduled {
        (until, Some(h.source.to_string()))
    } else {
        (scheduled, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const NOW: &str = "2026-12-01T10:00:00Z";

    fn cc(v: &str) -> Option<Hint> {
        from_headers(
            Headers {
                cache_control: Some(v),
                ..Default::default()
            },
            at(NOW),
        )
    }

    #[test]
    fn max_age_wins_and_age_is_subtracted() {
        let h = cc("public, max-age=3600, s-maxage=60").unwrap();
        assert_eq!(h.until, at("2026-12-01T11:00:00Z"));
        assert_eq!(h.source.to_string(), "Cache-Control max-age=3600");
        let h = from_headers(
            Headers {
                cache_control: Some("max-age=600"),
                age: Some("120"),
                ..Default::default()
            },
            at(NOW),
        )
        .unwrap();
        assert_eq!(h.until, at("2026-12-01T10:08:00Z"));
        assert_eq!(cc("s-maxage=300").unwrap().source, Source::SMaxAge(300));
    }

    #[test]
    fn no_cache_and_zero_give_no_hint() {
        assert_eq!(cc("no-cache, max-age=3600"), None);
        assert_eq!(cc("max-age=0"), None);
        assert_eq!(cc("private"), None);
        assert_eq!(cc("max-age=banana"), None);
    }

    #[test]
    fn expires_is_read_against_the_servers_date() {
        let h = from_headers(
            Headers {
                expires: Some("Tue, 01 Dec 2026 12:30:00 GMT"),
                // The server's clock runs two hours ahead of ours.
                date: Some("Tue, 01 Dec 2026 12:00:00 GMT"),
                ..Default::default()
            },
            at(NOW),
        )
        .unwrap();
        assert_eq!(h.until, at("2026-12-01T10:30:00Z"));
        assert_eq!(
            from_headers(
                Headers {
                    expires: Some("0"),
                    ..Default::default()
                },
                at(NOW)
            ),
            None,
            "Expires: 0 means already expired"
        );
    }

    #[test]
    fn ttl_then_update_period() {
        let hour = Some(Duration::from_secs(3600));
        let d = DocHint::new(hour, Some(Duration::from_secs(86400))).unwrap();
        let h = d.hint(at(NOW)).unwrap();
        assert_eq!(h.until, at("2026-12-01T11:00:00Z"));
        assert_eq!(h.source.to_string(), "<ttl>60</ttl>");
        let d = DocHint::new(None, Some(Duration::from_secs(7200))).unwrap();
        assert_eq!(d.hint(at(NOW)).unwrap().source, Source::UpdatePeriod);
        assert_eq!(DocHint::from_stored(&d.to_stored()), Some(d));
        assert_eq!(DocHint::new(Some(Duration::ZERO), None), None);
        assert_eq!(DocHint::from_stored("junk"), None);
    }

    #[test]
    fn a_hint_holds_a_poll_back_but_never_pulls_it_earlier_and_is_capped() {
        let now = at(NOW);
        let tick = at("2026-12-01T10:15:00Z");
        let long = cc("max-age=7200");
        let (t, why) = hold(tick, long.as_ref(), now, Duration::from_secs(86400));
        assert_eq!(t, at("2026-12-01T12:00:00Z"));
        assert_eq!(why.as_deref(), Some("Cache-Control max-age=7200"));
        let short = cc("max-age=60");
        assert_eq!(
            hold(tick, short.as_ref(), now, Duration::from_secs(86400)),
            (tick, None)
        );
        let year = cc("max-age=31536000");
        let (t, _) = hold(tick, year.as_ref(), now, Duration::from_secs(86400));
        assert_eq!(t, at("2026-12-02T10:00:00Z"), "capped at cache_max");
        assert_eq!(
            longest(cc("max-age=60"), cc("max-age=120")).unwrap().source,
            Source::MaxAge(120)
        );
    }
}
