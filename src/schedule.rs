//! When each feed is next due. Pure: no clock, no I/O; callers pass `now`.
//!
//! Users write standard 5-field crontab (`*/15 * * * *`) or 6 fields with seconds first.
//! The `cron` crate only reads the 6/7-field form and numbers weekdays 1–7 from Sunday, so
//! [`CronExpr::parse`] translates crontab into that form. Other differences from Vixie cron
//! that we keep and document: day-of-month and day-of-week are ANDed, a time that falls in a
//! DST gap is skipped and one in the repeated hour fires twice.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use siphasher::sip::SipHasher13;

/// A compiled cron expression, plus the text the user wrote (for messages).
#[derive(Clone)]
pub struct CronExpr {
    source: String,
    // Shared: a compiled schedule is a few hundred bytes, and 10,000 feeds may carry one each.
    schedule: std::sync::Arc<cron::Schedule>,
}

impl fmt::Debug for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CronExpr({:?})", self.source)
    }
}

impl CronExpr {
    pub fn parse(expr: &str) -> Result<Self, String> {
        Self::parse_inner(expr.trim())
            .map_err(|reason| format!("invalid cron expression `{}`: {reason}", expr.trim()))
    }

    fn parse_inner(expr: &str) -> Result<Self, String> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let translated = if expr.starts_with('@') {
            expr.to_string()
        } else {
            match fields.len() {
                5 => {
                    let dow = crontab_weekdays(fields[4])?;
                    format!(
                        "0 {} {} {} {} {}",
                        fields[0], fields[1], fields[2], fields[3], dow
                    )
                }
                // Weekdays are numbered as in crontab whatever the field count, so `1` is Monday
                // in `0 9 * * 1` and in `0 0 9 * * 1` alike.
                6 | 7 => {
                    let mut f: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
                    f[5] = crontab_weekdays(fields[5])?;
                    f.join(" ")
                }
                n => {
                    return Err(format!(
                        "expected 5 fields (minute hour day month weekday) or 6 with seconds first, found {n}"
                    ));
                }
            }
        };
        let schedule = cron::Schedule::from_str(&translated).map_err(|e| -> String {
            // The crate's message repeats the expression and draws a caret on extra lines;
            // the last line is the reason.
            let text = e.to_string();
            text.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_string()
        })?;
        // An expression that never fires (e.g. 30 February) would silently stop a feed.
        if schedule.upcoming(Utc).next().is_none() {
            return Err("it never fires".to_string());
        }
        Ok(Self {
            source: expr.to_string(),
            schedule: std::sync::Arc::new(schedule),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The first firing strictly after `after`, reading the expression in `tz`.
    ///
    /// The crate walks wall-clock time from `after`'s and gives both instants of a time
    /// the autumn change repeats, the earlier first. So it offers instants before `after`
    /// when `after` is in the repeated hour's second pass (skipped here), and it misses the
    /// second pass when `after` is in the first (searched from the change).
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let first_from = |from: DateTime<Utc>| {
            self.schedule
                .after(&from.with_timezone(&tz))
                .map(|t| t.with_timezone(&Utc))
                .find(|t| *t > after)
        };
        let next = first_from(after);
        match clock_set_back(after, tz) {
            Some((change, by)) => {
                let repeat = first_from(change - by - chrono::Duration::seconds(1));
                next.into_iter().chain(repeat).min()
            }
            None => next,
        }
    }

    /// Distance between the next two firings after `after`: the feed's polling period.
    pub fn period_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<Duration> {
        let a = self.next_after(after, tz)?;
        let b = self.next_after(a, tz)?;
        (b - a).to_std().ok()
    }
}

/// When the clocks of `tz` are next set back within a few hours of `after` (the longest
/// change is 2 h), and by how much: the instant from which wall-clock times repeat.
fn clock_set_back(after: DateTime<Utc>, tz: Tz) -> Option<(DateTime<Utc>, chrono::Duration)> {
    use chrono::{Offset, TimeZone};
    let offset = |secs: i64| {
        let t = DateTime::from_timestamp(secs, 0)?;
        Some(i64::from(
            tz.offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc(),
        ))
    };
    let (mut lo, mut hi) = (after.timestamp(), after.timestamp() + 3 * 3600);
    let before = offset(lo)?;
    let by = before - offset(hi)?;
    if by <= 0 {
        return None;
    }
    // The first second with the later offset.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if offset(mid)? == before {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some((
        DateTime::from_timestamp(hi, 0)?,
        chrono::Duration::seconds(by),
    ))
}

/// Crontab weekday field (0–7, 0 and 7 = Sunday) into the cron crate's (1–7, 1 = Sunday).
/// Names (MON-FRI) and `*`/`?` pass through; step values are not weekdays and stay as they are.
fn crontab_weekdays(field: &str) -> Result<String, String> {
    let mut out = Vec::new();
    for part in field.split(',') {
        let (base, step) = match part.split_once('/') {
            Some((b, s)) => (b, Some(s)),
            None => (part, None),
        };
        let step_suffix = step.map(|s| format!("/{s}")).unwrap_or_default();
        let num = |s: &str| -> Result<Option<u32>, String> {
            if s.chars().all(|c| c.is_ascii_digit()) && !s.is_empty() {
                let n: u32 = s.parse().map_err(|_| format!("bad weekday `{s}`"))?;
                if n > 7 {
                    return Err(format!("weekday {n} out of range 0-7"));
                }
                Ok(Some(n))
            } else {
                Ok(None)
            }
        };
        match base.split_once('-') {
            Some((a, b)) => match (num(a)?, num(b)?) {
                (Some(a), Some(b)) => {
                    if a > b {
                        return Err(format!("weekday range {a}-{b} runs backwards"));
                    }
                    if b == 7 && a > 0 {
                        // `5-7` (Fri–Sun) crosses the crate's week boundary: split it. Sunday
                        // is in the range only if the step lands on it (`4-7/2` is Thu, Sat).
                        out.push(format!("{}-7{step_suffix}", a + 1));
                        let step_n: u32 = step
                            .map_or(Ok(1), str::parse)
                            .map_err(|_| format!("bad step in `{part}`"))?;
                        if step_n == 0 {
                            return Err(format!("zero step in `{part}`"));
                        }
                        if (7 - a) % step_n == 0 {
                            out.push("1".to_string());
                        }
                    } else {
                        let b = if b == 7 { 7 } else { b + 1 };
                        out.push(format!("{}-{}{step_suffix}", a + 1, b));
                    }
                }
                (None, None) => out.push(part.to_string()),
                _ => return Err(format!("weekday range `{base}` mixes names and numbers")),
            },
            None => match num(base)? {
                Some(n) => out.push(format!("{}{step_suffix}", if n == 7 { 1 } else { n + 1 })),
                None => out.push(part.to_string()),
            },
        }
    }
    Ok(out.join(","))
}

/// A small, stable per-feed offset so that feeds sharing a cron tick do not hit a host at the
/// same instant: up to a tenth of the period, at most 60 s. Stable across runs (fixed-key
/// SipHash), so the publisher sees a regular interval.
pub fn jitter(feed_name: &str, period: Duration) -> Duration {
    use std::hash::Hasher;
    let max = (period / 10).min(Duration::from_secs(60));
    if max.is_zero() {
        return Duration::ZERO;
    }
    let mut h = SipHasher13::new_with_keys(0x6665_6564, 0x7761_7463);
    h.write(feed_name.as_bytes());
    let millis = h.finish() % (max.as_millis() as u64).max(1);
    Duration::from_millis(millis)
}

/// Delay after `consecutive_errors` failures in a row: 1 min doubling, capped at 24 h.
/// Polling never stops for good; the cap keeps a dead host from being hammered.
pub fn error_backoff(consecutive_errors: u32) -> Duration {
    let exp = consecutive_errors.saturating_sub(1).min(20);
    Duration::from_secs(60u64.saturating_mul(1u64 << exp)).min(Duration::from_secs(24 * 3600))
}

/// What the scheduler needs to know about the last poll to place the next one.
#[derive(Debug, Clone, Copy, Default)]
pub struct LastPoll {
    pub consecutive_errors: u32,
    /// A server's "not before" (Retry-After on 429/503).
    pub not_before: Option<DateTime<Utc>>,
}

/// The next poll: the next cron tick plus the feed's jitter, pushed back by error backoff and
/// by a server's Retry-After.
pub fn next_poll(
    cron: &CronExpr,
    tz: Tz,
    feed_name: &str,
    now: DateTime<Utc>,
    last: LastPoll,
) -> DateTime<Utc> {
    let tick = cron
        .next_after(now, tz)
        .unwrap_or(now + chrono::Duration::hours(24));
    let period = cron
        .period_after(now, tz)
        .unwrap_or(Duration::from_secs(3600));
    let mut next = tick + chrono::Duration::from_std(jitter(feed_name, period)).unwrap_or_default();
    if last.consecutive_errors > 0 {
        let backoff = chrono::Duration::from_std(error_backoff(last.consecutive_errors))
            .unwrap_or_else(|_| chrono::Duration::hours(24));
        next = next.max(now + backoff);
    }
    if let Some(nb) = last.not_before {
        next = next.max(nb);
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn five_field_crontab_is_read_as_minutes() {
        let c = CronExpr::parse("*/15 * * * *").unwrap();
        assert_eq!(
            c.next_after(at("2026-01-01T10:07:30Z"), Tz::UTC),
            Some(at("2026-01-01T10:15:00Z"))
        );
    }

    #[test]
    fn six_field_has_seconds_first() {
        let c = CronExpr::parse("30 * * * * *").unwrap();
        assert_eq!(
            c.next_after(at("2026-01-01T10:07:00Z"), Tz::UTC),
            Some(at("2026-01-01T10:07:30Z"))
        );
    }

    #[test]
    fn crontab_weekdays_follow_vixie_numbering() {
        // 2026-01-03 is a Saturday. `1-5` is Monday to Friday in crontab.
        let c = CronExpr::parse("0 9 * * 1-5").unwrap();
        assert_eq!(
            c.next_after(at("2026-01-03T00:00:00Z"), Tz::UTC),
            Some(at("2026-01-05T09:00:00Z"))
        );
        // 0 and 7 are both Sunday.
        for expr in ["0 9 * * 0", "0 9 * * 7"] {
            let c = CronExpr::parse(expr).unwrap();
            assert_eq!(
                c.next_after(at("2026-01-03T00:00:00Z"), Tz::UTC),
                Some(at("2026-01-04T09:00:00Z")),
                "{expr}"
            );
        }
        // 5-7 is Friday to Sunday.
        let c = CronExpr::parse("0 9 * * 5-7").unwrap();
        assert_eq!(
            c.next_after(at("2026-01-04T10:00:00Z"), Tz::UTC),
            Some(at("2026-01-09T09:00:00Z"))
        );
        assert_eq!(crontab_weekdays("*/2").unwrap(), "*/2");
        assert_eq!(
            crontab_weekdays("4-7/2").unwrap(),
            "5-7/2",
            "Thu and Sat, not Sunday"
        );
        assert_eq!(crontab_weekdays("5-7/2").unwrap(), "6-7/2,1", "Fri and Sun");
        assert_eq!(crontab_weekdays("MON-FRI").unwrap(), "MON-FRI");
    }

    #[test]
    fn six_fields_number_weekdays_like_crontab() {
        // 2026-01-03 is a Saturday; weekday 2 is Tuesday in both forms.
        for expr in ["0 9 * * 2", "0 0 9 * * 2", "0 0 9 * * 2 *"] {
            let c = CronExpr::parse(expr).unwrap();
            assert_eq!(
                c.next_after(at("2026-01-03T00:00:00Z"), Tz::UTC),
                Some(at("2026-01-06T09:00:00Z")),
                "{expr}"
            );
        }
    }

    #[test]
    fn timezone_is_honoured() {
        let c = CronExpr::parse("0 8 * * *").unwrap();
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        // 08:00 in Berlin in winter is 07:00 UTC.
        assert_eq!(
            c.next_after(at("2026-01-01T00:00:00Z"), tz),
            Some(at("2026-01-01T07:00:00Z"))
        );
    }

    /// Found by fuzzing: in the repeated hour of autumn, the cron crate answered with the
    /// first pass of the next local time, which is in the past: the scheduler would have
    /// polled in a loop for that hour.
    #[test]
    fn the_repeated_hour_never_goes_back_in_time() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let c = CronExpr::parse("*/15 * * * *").unwrap();
        // 2026-10-25 01:05Z is 02:05 CET, the second 02:05 of the night.
        assert_eq!(
            c.next_after(at("2026-10-25T01:05:00Z"), berlin),
            Some(at("2026-10-25T01:15:00Z"))
        );
        // Both passes of the hour fire, in order: 02:45 CEST, then 02:00 CET.
        assert_eq!(
            c.next_after(at("2026-10-25T00:50:00Z"), berlin),
            Some(at("2026-10-25T01:00:00Z"))
        );
        let every_second = CronExpr::parse("* * * * * *").unwrap();
        let mut t = at("2026-10-25T00:59:58Z");
        for _ in 0..4 {
            let next = every_second.next_after(t, berlin).unwrap();
            assert_eq!(next, t + chrono::Duration::seconds(1), "after {t}");
            t = next;
        }
        let daily = CronExpr::parse("30 2 * * *").unwrap();
        assert_eq!(
            daily.next_after(at("2026-10-25T01:10:00Z"), berlin),
            Some(at("2026-10-25T01:30:00Z")),
            "02:30 comes twice that night"
        );
        let new_york: Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            c.next_after(at("2026-11-01T06:20:00Z"), new_york),
            Some(at("2026-11-01T06:30:00Z"))
        );
    }

    #[test]
    fn bad_expressions_are_refused_with_a_reason() {
        assert!(
            CronExpr::parse("* * *")
                .unwrap_err()
                .contains("expected 5 fields")
        );
        assert!(CronExpr::parse("61 * * * *").is_err());
        assert!(
            CronExpr::parse("0 0 * * 9")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            CronExpr::parse("0 0 30 2 *")
                .unwrap_err()
                .contains("never fires")
        );
    }

    #[test]
    fn jitter_is_stable_bounded_and_spreads_feeds() {
        let p = Duration::from_secs(900);
        assert_eq!(jitter("a", p), jitter("a", p));
        assert!(jitter("a", p) < Duration::from_secs(60));
        let distinct: std::collections::HashSet<_> =
            (0..50).map(|i| jitter(&format!("feed{i}"), p)).collect();
        assert!(distinct.len() > 40);
        assert_eq!(jitter("a", Duration::from_millis(5)), Duration::ZERO);
    }

    #[test]
    fn errors_back_off_exponentially_up_to_a_day() {
        assert_eq!(error_backoff(1), Duration::from_secs(60));
        assert_eq!(error_backoff(2), Duration::from_secs(120));
        assert_eq!(error_backoff(5), Duration::from_secs(960));
        assert_eq!(error_backoff(100), Duration::from_secs(86400));
    }

    #[test]
    fn next_poll_combines_tick_backoff_and_retry_after() {
        let c = CronExpr::parse("*/5 * * * *").unwrap();
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 30).unwrap();
        let ok = next_poll(&c, Tz::UTC, "f", now, LastPoll::default());
        assert!(ok >= at("2026-01-01T10:05:00Z") && ok < at("2026-01-01T10:05:31Z"));
        let failing = next_poll(
            &c,
            Tz::UTC,
            "f",
            now,
            LastPoll {
                consecutive_errors: 6,
                not_before: None,
            },
        );
        assert!(failing >= now + chrono::Duration::minutes(32));
        let nb = at("2026-01-01T12:00:00Z");
        let limited = next_poll(
            &c,
            Tz::UTC,
            "f",
            now,
            LastPoll {
                consecutive_errors: 0,
                not_before: Some(nb),
            },
        );
        assert_eq!(limited, nb);
    }
}
