//! Times as people and scripts read them: on a terminal, relative within a day ("3 min ago",
//! "in 12 min") and local date and time beyond; for scripts, RFC 3339 UTC to the second.
//! Pure: the clock and the zone are arguments.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

use super::out::Ui;
use super::table::Cell;

/// `t` relative to `now`, in the largest unit that is at least one.
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    let abs = secs.unsigned_abs();
    let amount = match abs {
        0..45 => return "now".into(),
        45..5400 => format!("{} min", (abs + 30) / 60),
        5400..129_600 => format!("{} h", (abs + 1800) / 3600),
        _ => {
            let days = (abs + 43_200) / 86_400;
            format!("{days} day{}", if days == 1 { "" } else { "s" })
        }
    };
    if secs < 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// For a person: relative when within a day of `now`, else the date and time in `zone`.
pub fn human<Z: TimeZone>(t: DateTime<Utc>, now: DateTime<Utc>, zone: &Z) -> String
where
    Z::Offset: std::fmt::Display,
{
    if (t - now).num_seconds().unsigned_abs() < 86_400 {
        relative(t, now)
    } else {
        t.with_timezone(zone).format("%Y-%m-%d %H:%M").to_string()
    }
}

/// For scripts: RFC 3339 UTC, to the second.
pub fn script(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A stored time (RFC 3339) as `ui` shows it; text that is not a time is shown as it is.
pub fn show(ui: &Ui, stored: &str) -> String {
    match feedwatch::store::parse_time(stored) {
        Some(t) if ui.terminal => human(t, Utc::now(), &chrono::Local),
        Some(t) => script(t),
        None => stored.to_string(),
    }
}

/// [`show`] as a table cell; no time is `-` (or an empty field).
pub fn cell(ui: &Ui, stored: Option<&str>) -> Cell {
    Cell::opt(stored.map(|s| show(ui, s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn relative_times_pick_a_readable_unit() {
        let now = at("2026-03-01T12:00:00Z");
        let cases = [
            ("2026-03-01T12:00:20Z", "now"),
            ("2026-03-01T11:57:00Z", "3 min ago"),
            ("2026-03-01T12:12:00Z", "in 12 min"),
            ("2026-03-01T10:40:00Z", "80 min ago"),
            ("2026-03-01T09:00:00Z", "3 h ago"),
            ("2026-03-02T10:00:00Z", "in 22 h"),
            ("2026-02-28T12:00:00Z", "24 h ago"),
            ("2026-02-27T12:00:00Z", "2 days ago"),
            ("2026-02-20T12:00:00Z", "9 days ago"),
        ];
        for (t, want) in cases {
            assert_eq!(relative(at(t), now), want, "{t}");
        }
    }

    #[test]
    fn beyond_a_day_people_see_their_local_date() {
        let now = at("2026-03-01T12:00:00Z");
        let tokyo = chrono::FixedOffset::east_opt(9 * 3600).unwrap();
        assert_eq!(
            human(at("2026-02-20T20:30:00Z"), now, &tokyo),
            "2026-02-21 05:30"
        );
        assert_eq!(human(at("2026-03-01T11:57:00Z"), now, &tokyo), "3 min ago");
    }

    #[test]
    fn scripts_get_utc_to_the_second() {
        let piped = Ui {
            terminal: false,
            colour: false,
            width: 80,
        };
        assert_eq!(
            show(&piped, "2025-04-01T09:12:00.123+01:00"),
            "2025-04-01T08:12:00Z"
        );
        assert_eq!(show(&piped, "yesterday"), "yesterday");
    }
}
