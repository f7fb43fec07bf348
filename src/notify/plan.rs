//! The dispatcher's decisions, pure: when a digest's alerts are ready, when a rate limit has
//! a free slot, how long a failing receiver or alert waits, and how due alerts become
//! messages.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{Content, Message};
use crate::schedule::CronExpr;
use crate::store::{AlertContext, AlertEvent};

/// The longest any retry waits.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(6 * 3600);
/// Alerts in one digest message at most; more go out as further messages of the same tick.
pub const DIGEST_MAX: usize = 100;

/// Exponential backoff from `base` (doubling per attempt, capped), never before the
/// receiver's Retry-After.
pub fn retry_time(
    base: Duration,
    attempts: u32,
    now: DateTime<Utc>,
    not_before: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let factor = 1u32 << attempts.saturating_sub(1).min(16);
    let delay = base.saturating_mul(factor).min(MAX_RETRY_DELAY);
    let t = now + chrono::Duration::from_std(delay).unwrap_or_else(|_| chrono::Duration::hours(6));
    not_before.map_or(t, |nb| t.max(nb))
}

/// A digest alert goes out at the first tick after it was created: `Ok` when that tick has
/// come, else `Err(tick)`.
pub fn digest_ready(
    cron: &CronExpr,
    tz: Tz,
    created: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DateTime<Utc>> {
    match cron.next_after(created, tz) {
        Some(tick) if tick > now => Err(tick),
        // A schedule that never fires again cannot hold an alert forever.
        _ => Ok(()),
    }
}

/// When a notifier limited to `max` messages per `window` may send next: `None` for now.
/// `sent` are its recent messages' times, oldest first.
pub fn rate_slot(
    sent: &[DateTime<Utc>],
    max: u32,
    window: Duration,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let window = chrono::Duration::from_std(window).unwrap_or_else(|_| chrono::Duration::hours(1));
    let recent: Vec<&DateTime<Utc>> = sent.iter().filter(|t| **t > now - window).collect();
    let max = max.max(1) as usize;
    if recent.len() < max {
        return None;
    }
    // The slot frees when the oldest of the last `max` messages leaves the window.
    Some(*recent[recent.len() - max] + window)
}

/// A receiver-wide failure: how long until the next probe, by how many probes in a row
/// failed (`step`, from 1), never before its Retry-After.
pub fn receiver_backoff(
    base: Duration,
    step: u32,
    now: DateTime<Utc>,
    not_before: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    retry_time(base, step, now, not_before)
}

/// The id of a digest: derived from its alerts' ids, so a resend of the same digest carries
/// the same id.
pub fn digest_id(alerts: &[AlertContext]) -> String {
    use sha2::{Digest, Sha256};
    let mut uids: Vec<&str> = alerts.iter().map(|a| a.uid.as_str()).collect();
    uids.sort_unstable();
    let mut h = Sha256::new();
    for u in uids {
        h.update(u.as_bytes());
        h.update([0]);
    }
    format!("digest-{}", &hex::encode(h.finalize())[..32])
}

/// Due alerts of one notifier as messages, oldest first: one per alert, or (for a digest
/// notifier) one per topic for its topic matches, with feed-health events alone (they are
/// news now, not for the digest).
pub fn messages(
    alerts: Vec<AlertContext>,
    digest: bool,
    max_per_hour: Option<u32>,
) -> Vec<Message> {
    let single = |a: AlertContext| Message {
        id: a.uid.clone(),
        content: Content::Alert(Box::new(a)),
        held_back: 0,
        max_per_hour,
    };
    if !digest {
        return alerts.into_iter().map(single).collect();
    }
    let mut out = Vec::new();
    let mut topics: Vec<(String, Vec<AlertContext>)> = Vec::new();
    for a in alerts {
        let AlertEvent::Match(m) = &a.event else {
            out.push(single(a));
            continue;
        };
        let topic = m.topic.clone();
        match topics
            .iter_mut()
            .find(|(t, v)| *t == topic && v.len() < DIGEST_MAX)
        {
            Some((_, v)) => v.push(a),
            None => topics.push((topic, vec![a])),
        }
    }
    out.extend(topics.into_iter().map(|(topic, alerts)| Message {
        id: digest_id(&alerts),
        content: Content::Digest { topic, alerts },
        held_back: 0,
        max_per_hour,
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn retries_back_off_and_honour_retry_after() {
        let now = Utc::now();
        let base = Duration::from_secs(30);
        assert_eq!(
            retry_time(base, 1, now, None),
            now + chrono::Duration::seconds(30)
        );
        assert_eq!(
            retry_time(base, 3, now, None),
            now + chrono::Duration::seconds(120)
        );
        assert_eq!(
            retry_time(base, 30, now, None),
            now + chrono::Duration::hours(6)
        );
        let later = now + chrono::Duration::hours(1);
        assert_eq!(retry_time(base, 1, now, Some(later)), later);
        assert_eq!(
            receiver_backoff(base, 2, now, None),
            now + chrono::Duration::seconds(60)
        );
    }

    #[test]
    fn digest_alerts_wait_for_the_next_tick_in_the_daemon_zone() {
        let cron = CronExpr::parse("0 8 * * *").unwrap();
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let created = at("2026-01-10T05:00:00Z");
        // 08:00 in Paris is 07:00 UTC in winter.
        assert_eq!(
            digest_ready(&cron, paris, created, at("2026-01-10T06:59:00Z")),
            Err(at("2026-01-10T07:00:00Z"))
        );
        assert_eq!(
            digest_ready(&cron, paris, created, at("2026-01-10T07:00:00Z")),
            Ok(())
        );
        assert_eq!(
            digest_ready(&cron, Tz::UTC, created, at("2026-01-10T07:30:00Z")),
            Err(at("2026-01-10T08:00:00Z"))
        );
    }

    #[test]
    fn rate_slots_slide_with_the_window() {
        let hour = Duration::from_secs(3600);
        let now = at("2026-01-10T12:00:00Z");
        assert_eq!(rate_slot(&[], 2, hour, now), None);
        let one = [at("2026-01-10T11:30:00Z")];
        assert_eq!(rate_slot(&one, 2, hour, now), None);
        let two = [at("2026-01-10T11:10:00Z"), at("2026-01-10T11:30:00Z")];
        assert_eq!(
            rate_slot(&two, 2, hour, now),
            Some(at("2026-01-10T12:10:00Z"))
        );
        // Messages older than the window no longer count.
        let old = [at("2026-01-10T10:00:00Z"), at("2026-01-10T11:30:00Z")];
        assert_eq!(rate_slot(&old, 2, hour, now), None);
    }

    #[test]
    fn digests_group_by_topic_and_keep_feed_events_apart() {
        use crate::notify::render::tests::alert;
        let mut a: Vec<AlertContext> = (0..3).map(|i| alert(&format!("u{i}"), "T")).collect();
        if let AlertEvent::Match(m) = &mut a[1].event {
            m.topic = "other".into();
        }
        let msgs = messages(a.clone(), true, Some(5));
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].alerts().len(), 2);
        assert_eq!(msgs[0].max_per_hour, Some(5));
        assert!(msgs[0].id.starts_with("digest-"));
        let mut reordered = a[..].to_vec();
        reordered.swap(0, 2);
        let again = messages(reordered, true, None);
        assert_eq!(
            again[0].id, msgs[0].id,
            "the same alerts make the same digest id"
        );
        let singles = messages(a, false, None);
        assert_eq!(singles.len(), 3);
        assert_eq!(singles[0].id, "u0");
    }
}
