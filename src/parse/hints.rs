//! How often a document says it changes: RSS `<ttl>` and the syndication module's
//! `sy:updatePeriod` / `sy:updateFrequency`. The scheduler decides what to do with them.

use std::time::Duration;

/// Polling hints a feed carries; `None` when absent or unparseable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollHints {
    /// RSS `<ttl>`: minutes the channel may be cached.
    pub ttl: Option<Duration>,
    /// `sy:updatePeriod` divided by `sy:updateFrequency`: how often the feed updates.
    pub update_interval: Option<Duration>,
}

/// `<ttl>` text: whole minutes.
pub fn ttl(text: &str) -> Option<Duration> {
    let minutes: u64 = text.trim().parse().ok()?;
    minutes.checked_mul(60).map(Duration::from_secs)
}

/// `sy:updatePeriod` (default daily when only a frequency is given) and `sy:updateFrequency`
/// (default 1): the interval between updates.
pub fn update_interval(period: Option<&str>, frequency: Option<&str>) -> Option<Duration> {
    if period.is_none() && frequency.is_none() {
        return None;
    }
    let secs: u64 = match period.map(|p| p.trim().to_ascii_lowercase()).as_deref() {
        None | Some("daily") => 86_400,
        Some("hourly") => 3_600,
        Some("weekly") => 7 * 86_400,
        Some("monthly") => 30 * 86_400,
        Some("yearly") => 365 * 86_400,
        Some(_) => return None,
    };
    let times: u64 = match frequency {
        None => 1,
        Some(f) => f.trim().parse().ok().filter(|&n| n > 0)?,
    };
    Some(Duration::from_secs(secs / times).max(Duration::from_secs(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_minutes() {
        assert_eq!(ttl(" 60 "), Some(Duration::from_secs(3600)));
        assert_eq!(ttl("0"), Some(Duration::ZERO));
        assert_eq!(ttl("an hour"), None);
        assert_eq!(ttl("-5"), None);
        assert_eq!(ttl("99999999999999999999"), None);
    }

    #[test]
    fn syndication_period_and_frequency() {
        let h = |s| Some(Duration::from_secs(s));
        assert_eq!(update_interval(Some("hourly"), Some("2")), h(1800));
        assert_eq!(update_interval(Some("Daily"), None), h(86_400));
        assert_eq!(update_interval(None, Some("4")), h(21_600));
        assert_eq!(update_interval(Some("weekly"), Some("1")), h(604_800));
        assert_eq!(update_interval(Some("sometimes"), None), None);
        assert_eq!(update_interval(Some("hourly"), Some("0")), None);
        assert_eq!(update_interval(None, None), None);
        assert_eq!(update_interval(Some("hourly"), Some("100000")), h(1));
    }
}
