//! `title_template`, `body_template` and `subject_template`: minijinja templates over one
//! topic alert. They are compiled and tried on a sample alert when the config loads, so a
//! mistake (bad syntax, a misspelt variable) is a `check` error, not a silent fallback later.
//!
//! Variables: `alert` (`id`, `event`, `created`), `topic`, `matched_terms` (list), `story`
//! (`id`, `title`, `first_seen`, `sources`), `sources` (list of `feed`, `url`: every outlet
//! known when the alert leaves), `item` (`feed`, `title`, `url`, `published`, `author`,
//! `summary`, `categories`) and `held_back` (alerts a rate limit held back, 0 usually).
//! Templates render text: channels that show HTML get it escaped. Feed-health events do not
//! use them (they have no story); a digest renders each of its alerts with them.

use std::fmt;
use std::sync::Arc;

use minijinja::{Environment, UndefinedBehavior, Value};
use serde_json::json;

use crate::alert::{AlertContext, TopicMatch};

/// Which text a template makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Title,
    Body,
    /// Email only: the subject (defaults to the title).
    Subject,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Title => "title_template",
            Part::Body => "body_template",
            Part::Subject => "subject_template",
        }
    }
}

/// A notifier's templates, compiled.
#[derive(Clone, Default)]
pub struct Templates {
    env: Option<Arc<Environment<'static>>>,
    parts: Vec<Part>,
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.parts).finish()
    }
}

impl Templates {
    /// Compile `source` as `part` and render it once over a sample alert. `Err` says what is
    /// wrong and on which line of the template.
    pub fn add(&mut self, part: Part, source: &str) -> Result<(), String> {
        let mut env = match self.env.take() {
            Some(e) => Arc::try_unwrap(e).unwrap_or_else(|e| (*e).clone()),
            None => {
                let mut e = Environment::new();
                // A misspelt variable fails the trial render instead of printing nothing.
                e.set_undefined_behavior(UndefinedBehavior::SemiStrict);
                e
            }
        };
        let result = env
            .add_template_owned(part.name(), source.to_string())
            .map_err(describe)
            .and_then(|()| {
                env.get_template(part.name())
                    .and_then(|t| t.render(sample()))
                    .map(drop)
                    .map_err(describe)
            });
        if result.is_ok() {
            self.parts.push(part);
        } else {
            env.remove_template(part.name());
        }
        self.env = Some(Arc::new(env));
        result
    }

    pub fn has(&self, part: Part) -> bool {
        self.parts.contains(&part)
    }

    /// `part` rendered over `ctx` (see [`context`]); `None` when the notifier has no such
    /// template, `Err` when rendering failed (the caller falls back to the default text).
    pub fn render(&self, part: Part, ctx: &Value) -> Option<Result<String, String>> {
        if !self.has(part) {
            return None;
        }
        let env = self.env.as_ref()?;
        Some(
            env.get_template(part.name())
                .and_then(|t| t.render(ctx))
                .map(|s| s.trim().to_string())
                .map_err(describe),
        )
    }
}

/// What a user needs to fix a template: the error and the template's own line.
fn describe(e: minijinja::Error) -> String {
    let mut msg = e.kind().to_string();
    if let Some(d) = e.detail() {
        msg.push_str(": ");
        msg.push_str(d);
    }
    if let Some(line) = e.line() {
        msg.push_str(&format!(" (template line {line})"));
    }
    msg
}

/// The variables of one topic alert.
pub fn context(alert: &AlertContext, m: &TopicMatch, held_back: usize) -> Value {
    Value::from(minijinja::value::Serde(json!({
        "alert": {"id": alert.uid, "event": "topic.match", "created": alert.created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)},
        "topic": m.topic,
        "matched_terms": m.matched_terms,
        "story": m.story,
        "sources": m.story.sources,
        "item": m.item,
        "held_back": held_back,
    })))
}

/// A plausible alert for the trial render at load time.
fn sample() -> Value {
    Value::from(minijinja::value::Serde(json!({
        "alert": {"id": "0123456789abcdef0123456789abcdef", "event": "topic.match", "created": "2026-01-01T08:00:00.000Z"},
        "topic": "example-topic",
        "matched_terms": ["Example"],
        "story": {"id": 1, "title": "Example story", "first_seen": "2026-01-01T08:00:00.000Z",
                  "sources": [{"feed": "example-feed", "url": "https://example.org/story"}]},
        "sources": [{"feed": "example-feed", "url": "https://example.org/story"}],
        "item": {"feed": "example-feed", "title": "Example story", "url": "https://example.org/story",
                 "published": "2026-01-01T07:55:00.000Z", "author": "Desk", "summary": "Text of the story.",
                 "categories": ["World"]},
        "held_back": 0,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_compile_render_and_report_their_own_line() {
        let mut t = Templates::default();
        t.add(Part::Title, "[{{ topic }}] {{ story.title }}")
            .unwrap();
        assert!(t.has(Part::Title) && !t.has(Part::Body));
        let out = t.render(Part::Title, &sample()).unwrap().unwrap();
        assert_eq!(out, "[example-topic] Example story");

        let e = t.add(Part::Body, "line one\n{{ story.title ").unwrap_err();
        assert!(e.contains("syntax error"), "{e}");
        assert!(e.contains("template line 2"), "{e}");
        assert!(!t.has(Part::Body), "a broken template is not kept");

        let e = t.add(Part::Body, "{{ stroy.title }}").unwrap_err();
        assert!(
            e.contains("undefined"),
            "a misspelt variable is caught: {e}"
        );
        assert_eq!(t.render(Part::Body, &sample()), None);
        // The good one is still there.
        assert!(t.render(Part::Title, &sample()).unwrap().is_ok());
    }
}
