//! Cron expressions: `CronExpr::parse` on any text (the part before the first NUL), then the
//! next firings after a time and in a zone the rest of the input picks. An accepted
//! expression fires (parse refuses those that never do), and firings move forward.
#![no_main]

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use feedwatch::schedule::CronExpr;
use feedwatch_fuzz::abort_on_any_panic;
use libfuzzer_sys::fuzz_target;

/// Zones with DST gaps and folds, half-hour offsets and the date line.
const ZONES: [Tz; 8] = [
    chrono_tz::UTC,
    chrono_tz::Europe::Berlin,
    chrono_tz::America::New_York,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Asia::Kolkata,
    chrono_tz::Pacific::Apia,
    chrono_tz::America::Santiago,
    chrono_tz::Asia::Tehran,
];

fuzz_target!(init: abort_on_any_panic(), |data: &[u8]| {
    let (expr, rest) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(expr) = std::str::from_utf8(expr) else {
        return;
    };
    let Ok(cron) = CronExpr::parse(expr) else {
        return;
    };
    let mut word = [0u8; 8];
    for (w, b) in word.iter_mut().zip(rest) {
        *w = *b;
    }
    let n = u64::from_le_bytes(word);
    let tz = ZONES[(n % ZONES.len() as u64) as usize];
    // Any second between 1970 and about 2100.
    let secs = ((n >> 3) % 4_102_444_800) as i64;
    let Some(after) = Utc.timestamp_opt(secs, 0).single() else {
        return;
    };
    let mut at: DateTime<Utc> = after;
    for _ in 0..4 {
        match cron.next_after(at, tz) {
            Some(next) => {
                assert!(next > at, "{expr:?} in {tz}: {next} is not after {at}");
                at = next;
            }
            None => break,
        }
    }
    let _ = cron.period_after(after, tz);
});
