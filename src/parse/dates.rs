//! Dates as feeds write them: RFC 3339 and RFC 822 as specified, and the variants publishers
//! produce (a space for `T`, no zone, zone names such as CEST, long or lower-case month and
//! day names, a wrong weekday, two-digit years, no seconds, hour 24). Given to feed-rs as
//! its timestamp parser; what stays unparseable is `None` (the store falls back to the time
//! the item was first seen).

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    let s = text.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    if s.as_bytes()[0].is_ascii_digit() && s.as_bytes().get(4) == Some(&b'-') {
        iso(s)
    } else {
        rfc822(s)
    }
    .map(|t| t.with_timezone(&Utc))
}

/// `2025-04-01T10:30:00+02:00` and its relatives.
fn iso(s: &str) -> Option<DateTime<FixedOffset>> {
    let mut t = s.replacen(' ', "T", 1);
    if t.ends_with('z') {
        t.pop();
        t.push('Z');
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(&t) {
        return Some(d);
    }
    // A zone without a colon (+0200), or none at all (UTC assumed).
    let (body, offset) = split_iso_offset(&t);
    let utc = FixedOffset::east_opt(0)?;
    let offset = match offset {
        Some(o) => o,
        None => utc,
    };
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(body, f) {
            return offset.from_local_datetime(&n).single();
        }
    }
    let date = NaiveDate::parse_from_str(body.split('T').next()?, "%Y-%m-%d").ok()?;
    offset
        .from_local_datetime(&date.and_hms_opt(0, 0, 0)?)
        .single()
}

fn split_iso_offset(t: &str) -> (&str, Option<FixedOffset>) {
    if let Some(body) = t.strip_suffix('Z') {
        return (body, FixedOffset::east_opt(0));
    }
    // The offset starts at the last + or - after the time part.
    let Some(tpos) = t.find('T') else {
        return (t, None);
    };
    let Some(at) = t[tpos..].rfind(['+', '-']).map(|n| tpos + n) else {
        return (t, None);
    };
    let digits: String = t[at + 1..].chars().filter(char::is_ascii_digit).collect();
    let num = |s: &str| s.parse::<i32>().unwrap_or(0);
    let (h, m) = match digits.len() {
        2 => (num(&digits), 0),
        4 => (num(&digits[..2]), num(&digits[2..])),
        _ => return (t, None),
    };
    let secs = (h * 3600 + m * 60) * if &t[at..at + 1] == "-" { -1 } else { 1 };
    (&t[..at], FixedOffset::east_opt(secs))
}

/// `Tue, 01 Apr 2025 10:30:00 GMT` and its relatives.
fn rfc822(s: &str) -> Option<DateTime<FixedOffset>> {
    let mut words: Vec<String> = s
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    // Weekdays are often wrong or in another form: drop them.
    if words
        .first()
        .is_some_and(|w| w.chars().all(char::is_alphabetic) && month(w).is_none())
    {
        words.remove(0);
    }
    if words.len() < 4 {
        return None;
    }
    // "Apr 01 2025" → "01 Apr 2025".
    if words[0].chars().all(char::is_alphabetic) {
        words.swap(0, 1);
    }
    let day: u32 = words[0].parse().ok()?;
    let month = month(&words[1])?;
    let year: i32 = match words[2].parse::<i32>().ok()? {
        y @ 0..=49 => 2000 + y,
        y @ 50..=99 => 1900 + y,
        y => y,
    };
    let mut hms = words[3].split(':').map(|p| p.parse::<u32>());
    let hour = hms.next()?.ok()?;
    let minute = hms.next()?.ok()?;
    let second = hms.next().transpose().ok()?.unwrap_or(0);
    let offset = words.get(4).map_or(Some(0), |z| zone(z))?;
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    // Hour 24 means midnight at the end of that day.
    let (date, hour) = if hour == 24 {
        (date.succ_opt()?, 0)
    } else {
        (date, hour)
    };
    let naive = date.and_hms_opt(hour, minute, second.min(59))?;
    FixedOffset::east_opt(offset)?
        .from_local_datetime(&naive)
        .single()
}

fn month(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let w = word.get(..3)?.to_ascii_lowercase();
    MONTHS.iter().position(|m| *m == w).map(|i| i as u32 + 1)
}

/// A zone as `+0200`, `-05:00` or a name; seconds east of UTC.
fn zone(z: &str) -> Option<i32> {
    if let Some(sign) = z.chars().next().filter(|c| *c == '+' || *c == '-') {
        let digits: String = z[1..].chars().filter(char::is_ascii_digit).collect();
        if digits.len() != 4 {
            return None;
        }
        let h: i32 = digits[..2].parse().ok()?;
        let m: i32 = digits[2..].parse().ok()?;
        return Some((h * 3600 + m * 60) * if sign == '-' { -1 } else { 1 });
    }
    let hours = match z.to_ascii_uppercase().as_str() {
        "GMT" | "UT" | "UTC" | "Z" | "WET" => 0,
        "BST" | "CET" | "WEST" => 1,
        "CEST" | "EET" | "SAST" => 2,
        "EEST" | "MSK" => 3,
        "IST" => return Some(5 * 3600 + 1800),
        "CST" => -6,
        "CDT" | "EST" => -5,
        "EDT" => -4,
        "MST" => -7,
        "MDT" => -6,
        "PST" => -8,
        "PDT" => -7,
        "AKST" => -9,
        "HST" => -10,
        "JST" | "KST" => 9,
        "HKT" | "SGT" | "AWST" => 8,
        "AEST" => 10,
        "AEDT" => 11,
        "NZST" => 12,
        "NZDT" => 13,
        _ => return None,
    };
    Some(hours * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<String> {
        parse(s).map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    }

    #[test]
    fn standard_forms() {
        let t = Some("2025-04-01T10:30:00Z".to_string());
        assert_eq!(p("2025-04-01T10:30:00Z"), t);
        assert_eq!(p("2025-04-01T12:30:00+02:00"), t);
        assert_eq!(p("Tue, 01 Apr 2025 10:30:00 GMT"), t);
        assert_eq!(p("Tue, 01 Apr 2025 12:30:00 +0200"), t);
    }

    #[test]
    fn what_publishers_write() {
        let t = Some("2025-04-01T10:30:00Z".to_string());
        for s in [
            "2025-04-01 10:30:00",
            "2025-04-01T12:30:00+0200",
            "2025-04-01T10:30:00.123456z",
            "2025-04-01T10:30",
            "Tue, 1 Apr 2025 05:30:00 EST",
            "Tuesday, 01 April 2025 10:30:00 GMT",
            "Tue, 01 Apr 2025 12:30:00 CEST",
            "Tue, 01 Apr 2025 10:30 UTC",
            "Tue, 01 Apr 25 10:30:00 GMT",
            "Fri, 01 Apr 2025 10:30:00 GMT",
            "  tue, 01 apr 2025 10:30:00 +0000 ",
            "Tue, 01 Apr 2025 10:30:00",
            "Apr 01 2025 10:30:00 GMT",
        ] {
            assert_eq!(p(s), t, "{s}");
        }
        assert_eq!(p("2025-04-01"), Some("2025-04-01T00:00:00Z".into()));
        assert_eq!(
            p("Tue, 01 Apr 2025 9:30:00 +0000"),
            Some("2025-04-01T09:30:00Z".into())
        );
        assert_eq!(
            p("Mon, 31 Mar 2025 24:00:00 GMT"),
            Some("2025-04-01T00:00:00Z".into())
        );
    }

    #[test]
    fn nonsense_is_none() {
        for s in [
            "",
            "sometime last week",
            "Tue, 32 Apr 2025 10:30:00 GMT",
            "2025-13-01",
            "12345",
            "Tue, 01 Apr 2025 10:30:00 XYZ",
        ] {
            assert_eq!(p(s), None, "{s}");
        }
    }
}
