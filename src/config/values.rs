//! Values with a syntax of their own, wherever they appear: durations ("30s", "90d"), byte
//! sizes ("16MiB"), cron schedules and URLs, each with the message a user sees when it is
//! wrong.

use std::net::IpAddr;
use std::time::Duration;

use url::Url;

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

/// A URL written without its scheme (`127.0.0.1:8900/x.xml`, `example.org/feed.xml`), as it
/// was most likely meant: `http://` for this machine or an IP address (test servers, local
/// relays), `https://` for a host name. `None` when the text does not look like a host first.
pub(super) fn with_scheme(text: &str) -> Option<String> {
    let t = text.trim();
    if t.contains("://") {
        return None;
    }
    let rest = t.trim_start_matches("//");
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let ip = bare.parse::<IpAddr>().is_ok();
    let name = host.contains('.')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let local = host.eq_ignore_ascii_case("localhost");
    if !(ip || name || local) {
        return None;
    }
    let scheme = if ip || local { "http" } else { "https" };
    let meant = format!("{scheme}://{rest}");
    Url::parse(&meant)
        .ok()
        .filter(|u| u.host_str().is_some())
        .map(|_| meant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_without_a_scheme_get_the_one_meant() {
        for (text, meant) in [
            ("127.0.0.1:8900/x.xml", "http://127.0.0.1:8900/x.xml"),
            ("localhost:8900/feed", "http://localhost:8900/feed"),
            ("[::1]:8080/", "http://[::1]:8080/"),
            (
                "example.org/feeds/world.xml",
                "https://example.org/feeds/world.xml",
            ),
            ("//example.org/rss", "https://example.org/rss"),
            ("www.example.org", "https://www.example.org"),
        ] {
            assert_eq!(with_scheme(text).as_deref(), Some(meant), "{text}");
        }
        for text in [
            "https://example.org/",
            "ftp://example.org/",
            "feeds/world.xml",
            "mailto:someone@example.org",
            "not a url",
            "",
        ] {
            assert_eq!(with_scheme(text), None, "{text}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("16MiB").unwrap(), 16 << 20);
        assert_eq!(parse_size("2 KB").unwrap(), 2000);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }
}
