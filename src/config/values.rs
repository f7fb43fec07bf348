//! Values with a syntax of their own, wherever they appear: durations ("30s", "90d"), byte
//! sizes ("16MiB") and cron schedules, each with the message a user sees when it is wrong.

use std::time::Duration;

use crate::schedule::CronExpr;

use super::locate::{PathSegs, Problems};

pub(super) fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| {
        format!("invalid duration `{s}` ({e}); expected e.g. \"30s\", \"15m\", \"90d\"")
    })
}

/// "16MiB", "512 KB", "1048576": a byte count.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size `{s}`; expected e.g. \"16MiB\""))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" | "k" => 1024,
        "mb" => 1000 * 1000,
        "mib" | "m" => 1024 * 1024,
        "gb" => 1000 * 1000 * 1000,
        "gib" | "g" => 1024 * 1024 * 1024,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{s}`; expected B, KiB, MiB, GiB, KB, MB or GB"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size `{s}` is too large"))
}

/// A cron expression compiled now, so that `check` catches it; a problem at `at` otherwise.
pub(super) fn cron(expr: &str, at: PathSegs, problems: &mut Problems) -> Option<CronExpr> {
    match CronExpr::parse(expr) {
        Ok(c) => Some(c),
        Err(e) => {
            problems.value(at, e);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16MiB").unwrap(), 16 << 20);
        assert_eq!(parse_size("2 KB").unwrap(), 2000);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }
}
