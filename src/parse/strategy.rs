//! Which reads a document gets and which error it ends with: as is when the survey finds
//! it clean, repaired otherwise (or when the clean read comes back empty), and for what
//! stays unreadable, the first structural problem with its position. The deadline is
//! checked before each read: a read is the one step that cannot be stopped once started.

use url::Url;

use super::budget::Deadline;
use super::diagnose::{self, Problem};
use super::read::{self, ReadError};
use super::repair::{self, Repair, json::NotAFeed};
use super::survey::Survey;
use super::{ParseError, PollHints};

/// Documents repairs may grow to, at most, relative to the original (a safety net: each
/// repair's own growth is bounded far below this).
const MAX_GROWTH: usize = 8;

type Read = (feed_rs::model::Feed, Vec<Repair>, PollHints);

/// RSS or Atom: as is when the survey finds nothing to repair (and that reads), else
/// repaired; as is again if the repaired text fails where the original would not.
pub fn read_xml(
    text: &str,
    survey: &Survey,
    base: &Url,
    deadline: &Deadline,
) -> Result<Read, ParseError> {
    if survey.nested_entities {
        return Err(ParseError::EntityBomb);
    }
    // A body whose root is not closed is refused even where feed-rs would read it (RSS
    // stops reading after its channel, Atom does not): the cut may have taken entries.
    if survey.truncated {
        return Err(match diagnose::diagnose(text, survey.root) {
            Some(Problem::Malformed(m)) => ParseError::Malformed(m),
            Some(Problem::Truncated(m)) => ParseError::Truncated(m),
            None => ParseError::Truncated("truncated: the root element is never closed".into()),
        });
    }
    let hints = survey.hints;
    let clean = !survey.needs_repair();
    let mut as_is = None;
    if clean {
        match read::read(text, base) {
            // Zero entries from a document that visibly has some: repair, then judge.
            Ok(feed) if feed.entries.is_empty() && survey.entries > 0 => as_is = Some(Ok(feed)),
            Ok(feed) => return Ok((feed, Vec::new(), hints)),
            Err(e) => as_is = Some(Err(e)),
        }
    }
    // Values that crash feed-rs: then the original must never reach it.
    let original_safe = !survey.crash_bait;
    deadline.check()?;
    let Some(fixed) = repair::apply(text, survey, clean, deadline)? else {
        return match as_is.unwrap_or_else(|| read::read(text, base)) {
            Ok(feed) => Ok((feed, Vec::new(), hints)),
            Err(e) => Err(explain(text, survey, e)),
        };
    };
    if fixed.text.len() > MAX_GROWTH * text.len() + 4096 {
        return Err(ParseError::Invalid(
            "repairing the document would grow it past any sensible size".into(),
        ));
    }
    deadline.check()?;
    match read::read(&fixed.text, base) {
        Ok(feed) => Ok((feed, fixed.repairs, hints)),
        Err(e) => match as_is {
            Some(Ok(feed)) => Ok((feed, Vec::new(), hints)),
            Some(Err(_)) => Err(explain(text, survey, e)),
            None if original_safe => {
                deadline.check()?;
                match read::read(text, base) {
                    Ok(feed) if !feed.entries.is_empty() => Ok((feed, Vec::new(), hints)),
                    _ => Err(explain(text, survey, e)),
                }
            }
            None => Err(explain(text, survey, e)),
        },
    }
}

/// The error for a document that stays unreadable: a structural problem found in the
/// original if there is one, else what feed-rs said about the repaired one.
fn explain(text: &str, survey: &Survey, e: ReadError) -> ParseError {
    match diagnose::diagnose(text, survey.root) {
        Some(Problem::Truncated(m)) => return ParseError::Truncated(m),
        Some(Problem::Malformed(m)) => return ParseError::Malformed(m),
        None => {}
    }
    let what = survey.dialect.describe();
    match e {
        ReadError::Panic(m) => ParseError::Panicked(m),
        ReadError::Feed(feed_rs::parser::ParseFeedError::XmlReader(x)) => {
            ParseError::Malformed(format!("not well-formed XML ({what}): {x}"))
        }
        ReadError::Feed(feed_rs::parser::ParseFeedError::ParseError(
            feed_rs::parser::ParseErrorKind::NoFeedRoot,
        )) => ParseError::Invalid(format!(
            "{what} without the elements a feed needs (no <channel>?)"
        )),
        ReadError::Feed(other) => ParseError::Invalid(format!("{what}: {other}")),
    }
}

/// JSON Feed: as is, else with its types coerced (coerced first when an author's e-mail
/// address might crash feed-rs).
pub fn read_json(
    text: &str,
    base: &Url,
    deadline: &Deadline,
) -> Result<(feed_rs::model::Feed, Vec<Repair>), ParseError> {
    let read_fixed = |fixed: repair::Fixed| {
        deadline.check()?;
        read::read(&fixed.text, base)
            .map(|feed| (feed, fixed.repairs))
            .map_err(json_failed)
    };
    if text.contains('@') {
        return match loosen_json(text)? {
            Some(fixed) => read_fixed(fixed),
            None => read::read(text, base)
                .map(|feed| (feed, Vec::new()))
                .map_err(json_failed),
        };
    }
    match read::read(text, base) {
        Ok(feed) => Ok((feed, Vec::new())),
        Err(e) => {
            deadline.check()?;
            match loosen_json(text)? {
                Some(fixed) => read_fixed(fixed),
                None => Err(json_failed(e)),
            }
        }
    }
}

fn loosen_json(text: &str) -> Result<Option<repair::Fixed>, ParseError> {
    repair::json::loosen(text).map_err(|e| match e {
        NotAFeed::Syntax(m) => ParseError::Malformed(format!("invalid JSON: {m}")),
        NotAFeed::Shape(m) => ParseError::NotAFeed(m.into()),
    })
}

fn json_failed(e: ReadError) -> ParseError {
    match e {
        ReadError::Panic(m) => ParseError::Panicked(m),
        ReadError::Feed(e) => ParseError::Invalid(format!("JSON Feed: {e}")),
    }
}
