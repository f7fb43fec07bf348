//! What we know about a feed between polls, and how one poll changes it. Pure.
//!
//! The daemon keeps every feed's state in memory (the schedule is decided from it, without
//! reading the database), and the writer persists exactly the state computed here, so the
//! rules for "what a 410 or a 304 does to a feed" live in one place: [`FeedState::after_poll`].

use chrono::{DateTime, Utc};

use crate::fetch::Validators;
use crate::identity::KeyMode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    /// Never polled successfully (or reset before its first success).
    #[default]
    New,
    Ok,
    Failing,
    /// The server answered 410: not polled until `feeds reset`.
    Gone,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Ok => "ok",
            Status::Failing => "failing",
            Status::Gone => "gone",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "ok" => Status::Ok,
            "failing" => Status::Failing,
            "gone" => Status::Gone,
            _ => Status::New,
        }
    }
}

/// A feed's row, as the poller and the scheduler need it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedState {
    pub id: i64,
    pub name: String,
    /// The URL in use: differs from the configured one after a permanent redirect.
    pub url: String,
    pub status: Status,
    pub title: Option<String>,
    pub validators: Validators,
    pub http_status: Option<u16>,
    pub last_poll: Option<DateTime<Utc>>,
    pub last_ok: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub consecutive_errors: u32,
    pub next_poll: Option<DateTime<Utc>>,
    /// The server asked not to be polled before this (429/503 Retry-After).
    pub retry_after: Option<DateTime<Utc>>,
    /// How `dedup = "auto"` keys this feed's items, once decided.
    pub key_mode: Option<KeyMode>,
    /// The publisher's hint that holds `next_poll` later than the schedule, if one does
    /// (e.g. "Cache-Control max-age=3600").
    pub held_by: Option<String>,
    /// The repairs the last fetched document needed (stable names, e.g. `rss-version-added`).
    pub repairs: Vec<String>,
    /// The document's own freshness hint, from the last fetched body.
    pub doc_hint: Option<crate::hints::DocHint>,
}

/// What one poll came to, as far as the feed's state is concerned.
#[derive(Debug, Clone, PartialEq)]
pub enum PollResult {
    /// A complete body was parsed; its validators may be kept.
    Fetched {
        validators: Validators,
        title: Option<String>,
        /// How the items were keyed: recorded for a feed that had no mode yet.
        key_mode: Option<KeyMode>,
        repairs: Vec<String>,
        doc_hint: Option<crate::hints::DocHint>,
    },
    NotModified,
    Gone,
    Failed {
        error: String,
    },
}

/// One finished poll: its result and the times the scheduler decided.
#[derive(Debug, Clone, PartialEq)]
pub struct PollRecord {
    pub now: DateTime<Utc>,
    pub http_status: Option<u16>,
    pub result: PollResult,
    /// A permanent redirect's target: the feed's address from now on.
    pub moved_to: Option<String>,
    /// The server's Retry-After, if it sent one with an error.
    pub retry_after: Option<DateTime<Utc>>,
    pub next_poll: DateTime<Utc>,
    /// Why `next_poll` is later than the schedule, when a publisher's hint made it so.
    pub held_by: Option<String>,
}

impl PollRecord {
    pub fn failed(&self) -> bool {
        matches!(self.result, PollResult::Failed { .. })
    }
}

/// A change in a feed's health worth telling an operator (`[daemon] notify_errors`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthEvent {
    /// `failing_after` consecutive polls failed.
    Failing,
    /// The server answered 410.
    Gone,
    /// A poll worked again after a `Failing` or `Gone` event.
    Recovered,
}

impl HealthEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthEvent::Failing => "feed.failing",
            HealthEvent::Gone => "feed.gone",
            HealthEvent::Recovered => "feed.recovered",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "feed.failing" => Some(HealthEvent::Failing),
            "feed.gone" => Some(HealthEvent::Gone),
            "feed.recovered" => Some(HealthEvent::Recovered),
            _ => None,
        }
    }
}

/// The health event one poll causes, from the feed's state before and after it: at most one
/// per poll and one per episode. A feed is reported failing when its consecutive errors reach
/// `failing_after` (not again while it keeps failing), gone on its first 410, and recovered on
/// the first success after either (decided from the state alone: a `feeds reset` clears the
/// errors, so no `recovered` follows a reset).
pub fn health_event(
    before: &FeedState,
    after: &FeedState,
    failing_after: u32,
) -> Option<HealthEvent> {
    let failing_after = failing_after.max(1);
    let was_reported = before.is_gone()
        || (before.status == Status::Failing && before.consecutive_errors >= failing_after);
    match after.status {
        Status::Gone if !before.is_gone() => Some(HealthEvent::Gone),
        Status::Failing
            if before.consecutive_errors < failing_after
                && after.consecutive_errors >= failing_after
                && !before.is_gone() =>
        {
            Some(HealthEvent::Failing)
        }
        Status::Ok if was_reported => Some(HealthEvent::Recovered),
        _ => None,
    }
}

pub const GONE_ERROR: &str =
    "the server answered 410 Gone: polling stopped (feedwatch feeds reset NAME to resume)";

impl FeedState {
    pub fn is_gone(&self) -> bool {
        self.status == Status::Gone
    }

    /// The state after `rec`.
    pub fn after_poll(&self, rec: &PollRecord) -> FeedState {
        let mut s = self.clone();
        s.http_status = rec.http_status;
        s.last_poll = Some(rec.now);
        // Move only when the new address served a feed: retired feeds often 301 to a homepage.
        let served_feed = matches!(
            rec.result,
            PollResult::Fetched { .. } | PollResult::NotModified
        );
        if let Some(url) = rec.moved_to.as_ref().filter(|_| served_feed) {
            s.url = url.clone();
            // Validators belong to the old address.
            s.validators = Validators::default();
        }
        match &rec.result {
            PollResult::Fetched {
                validators,
                title,
                key_mode,
                repairs,
                doc_hint,
            } => {
                s.repairs = repairs.clone();
                s.doc_hint = doc_hint.clone();
                s.validators = validators.clone();
                if title.is_some() {
                    s.title = title.clone();
                }
                s.key_mode = s.key_mode.or(*key_mode);
                s.succeeded(rec);
            }
            PollResult::NotModified => s.succeeded(rec),
            PollResult::Gone => {
                s.status = Status::Gone;
                s.error = Some(GONE_ERROR.to_string());
                s.next_poll = None;
            }
            PollResult::Failed { error } => {
                s.status = Status::Failing;
                s.error = Some(error.clone());
                s.consecutive_errors = self.consecutive_errors.saturating_add(1);
                s.next_poll = Some(rec.next_poll);
                s.held_by = None;
                s.retry_after = rec.retry_after;
            }
        }
        s
    }

    fn succeeded(&mut self, rec: &PollRecord) {
        self.held_by = rec.held_by.clone();
        self.status = Status::Ok;
        self.last_ok = Some(rec.now);
        self.error = None;
        self.consecutive_errors = 0;
        self.next_poll = Some(rec.next_poll);
        self.retry_after = None;
    }

    /// `feeds reset`: a gone or failing feed is polled again at once, at its configured URL.
    pub fn reset(&mut self, config_url: &str) {
        self.status = if self.last_ok.is_none() {
            Status::New
        } else {
            Status::Ok
        };
        self.error = None;
        self.consecutive_errors = 0;
        self.next_poll = None;
        if self.url != config_url {
            self.url = config_url.to_string();
            self.validators = Validators::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn record(result: PollResult) -> PollRecord {
        PollRecord {
            now: at("2026-01-01T10:00:00Z"),
            http_status: Some(200),
            result,
            moved_to: None,
            retry_after: None,
            next_poll: at("2026-01-01T10:15:00Z"),
            held_by: None,
        }
    }

    fn failing() -> FeedState {
        FeedState {
            url: "https://a.example/feed".into(),
            status: Status::Failing,
            error: Some("HTTP 500".into()),
            consecutive_errors: 3,
            validators: Validators {
                etag: Some("\"old\"".into()),
                last_modified: None,
            },
            ..Default::default()
        }
    }

    #[test]
    fn a_success_clears_errors_and_keeps_new_validators() {
        let s = failing().after_poll(&record(PollResult::Fetched {
            validators: Validators {
                etag: Some("\"v2\"".into()),
                last_modified: None,
            },
            title: Some("World".into()),
            key_mode: Some(KeyMode::Guid),
            repairs: vec!["rss-version-added".into()],
            doc_hint: None,
        }));
        assert_eq!(s.status, Status::Ok);
        assert_eq!(s.consecutive_errors, 0);
        assert_eq!(s.error, None);
        assert_eq!(s.validators.etag.as_deref(), Some("\"v2\""));
        assert_eq!(s.key_mode, Some(KeyMode::Guid));
        assert_eq!(s.next_poll, Some(at("2026-01-01T10:15:00Z")));
        assert_eq!(s.last_ok, Some(at("2026-01-01T10:00:00Z")));
    }

    #[test]
    fn a_decided_key_mode_is_kept() {
        let mut s = failing();
        s.key_mode = Some(KeyMode::Link);
        let s = s.after_poll(&record(PollResult::Fetched {
            validators: Validators::default(),
            title: None,
            key_mode: Some(KeyMode::Guid),
            repairs: vec![],
            doc_hint: None,
        }));
        assert_eq!(s.key_mode, Some(KeyMode::Link));
    }

    #[test]
    fn failures_count_up_and_keep_validators() {
        let mut rec = record(PollResult::Failed {
            error: "HTTP 503".into(),
        });
        rec.retry_after = Some(at("2026-01-01T11:00:00Z"));
        let s = failing().after_poll(&rec);
        assert_eq!(s.consecutive_errors, 4);
        assert_eq!(s.status, Status::Failing);
        assert_eq!(s.validators.etag.as_deref(), Some("\"old\""));
        assert_eq!(s.retry_after, rec.retry_after);
    }

    #[test]
    fn gone_stops_polling_and_a_move_needs_a_feed_at_the_new_address() {
        let s = failing().after_poll(&record(PollResult::Gone));
        assert!(s.is_gone());
        assert_eq!(s.next_poll, None);

        let mut rec = record(PollResult::Failed {
            error: "not a feed".into(),
        });
        rec.moved_to = Some("https://b.example/".into());
        assert_eq!(failing().after_poll(&rec).url, "https://a.example/feed");
        rec.result = PollResult::NotModified;
        let moved = failing().after_poll(&rec);
        assert_eq!(moved.url, "https://b.example/");
        assert_eq!(moved.validators, Validators::default());
    }

    #[test]
    fn health_events_once_per_episode() {
        let ok = FeedState {
            status: Status::Ok,
            ..Default::default()
        };
        let fail = PollResult::Failed {
            error: "HTTP 500".into(),
        };
        let mut s = ok.clone();
        let mut events = Vec::new();
        for _ in 0..5 {
            let next = s.after_poll(&record(fail.clone()));
            events.push(health_event(&s, &next, 3));
            s = next;
        }
        assert_eq!(
            events,
            [None, None, Some(HealthEvent::Failing), None, None],
            "the third failure reports, the ones after it do not"
        );
        let back = s.after_poll(&record(PollResult::NotModified));
        assert_eq!(health_event(&s, &back, 3), Some(HealthEvent::Recovered));
        assert_eq!(
            health_event(&back, &back.after_poll(&record(PollResult::NotModified)), 3),
            None
        );

        // Two failures then a success: nothing was reported, so nothing recovers.
        let one = ok.after_poll(&record(fail.clone()));
        let two = one.after_poll(&record(fail.clone()));
        assert_eq!(
            health_event(&two, &two.after_poll(&record(PollResult::NotModified)), 3),
            None
        );

        // 410: gone once; a later poll of the gone feed that works is a recovery.
        let gone = two.after_poll(&record(PollResult::Gone));
        assert_eq!(health_event(&two, &gone, 3), Some(HealthEvent::Gone));
        assert_eq!(
            health_event(&gone, &gone.after_poll(&record(PollResult::Gone)), 3),
            None
        );
        let fetched = gone.after_poll(&record(PollResult::NotModified));
        assert_eq!(
            health_event(&gone, &fetched, 3),
            Some(HealthEvent::Recovered)
        );
    }

    #[test]
    fn reset_returns_to_the_configured_url() {
        let mut s = failing().after_poll(&record(PollResult::Gone));
        s.url = "https://moved.example/".into();
        s.reset("https://a.example/feed");
        assert_eq!(s.status, Status::New);
        assert_eq!(s.url, "https://a.example/feed");
        assert_eq!(s.next_poll, None);
        assert_eq!(s.consecutive_errors, 0);
    }
}
