//! What a message says, once for every channel: a [`Doc`] (title, sections, notes) built
//! from the alerts and the notifier's templates, which `format.rs` writes out for each
//! channel. Pure. Only http(s) links are kept.

use crate::feed_state::HealthEvent;
use crate::store::{AlertContext, AlertEvent, FeedEvent, Source, TopicMatch};
use crate::text;

use super::template::{self, Part, Templates};
use super::{Content, Message};

/// Characters of an alert's excerpt in a message.
const EXCERPT: usize = 400;
/// ... and in each entry of a digest.
const DIGEST_EXCERPT: usize = 200;

/// A message, channel-neutral.
#[derive(Debug, Clone, PartialEq)]
pub struct Doc {
    /// One line: the subject, notification title or first bold line.
    pub title: String,
    /// The link a click should open (the story's), for channels that have one.
    pub link: Option<String>,
    pub sections: Vec<Section>,
    /// Said after the sections (rate-limit note).
    pub notes: Vec<String>,
    /// The alert id(s), so a reader can find it in `feedwatch alerts`.
    pub footer: String,
}

/// One alert's part of a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// `None` when the message title already says it (a single alert).
    pub heading: Option<String>,
    pub link: Option<String>,
    /// Paragraphs of plain text.
    pub lines: Vec<String>,
    pub sources: Vec<Source>,
}

/// Build the message's document, with the notifier's templates where it has them.
pub fn doc(msg: &Message, templates: &Templates) -> Doc {
    let mut notes = Vec::new();
    if msg.held_back > 0 {
        notes.push(held_note(msg.held_back, msg.max_per_hour));
    }
    match &msg.content {
        Content::Alert(a) => {
            let (title, link, section) = match &a.event {
                AlertEvent::Match(m) => {
                    let ctx = template::context(a, m, msg.held_back);
                    let title = rendered(templates, Part::Title, &ctx, a)
                        .unwrap_or_else(|| format!("[{}] {}", m.topic, m.story.title));
                    let mut s = match_section(a, m, templates, msg.held_back, EXCERPT);
                    s.heading = None;
                    (text::one_line(&title), m.item.url.clone(), s)
                }
                AlertEvent::Feed(f) => (feed_title(f), None, feed_section(f, false)),
            };
            Doc {
                title,
                link: link.filter(|l| is_http(l)),
                sections: vec![section],
                notes,
                footer: format!("feedwatch alert {}", a.uid),
            }
        }
        Content::Digest { topic, alerts } => {
            let sections = alerts
                .iter()
                .map(|a| match &a.event {
                    AlertEvent::Match(m) => {
                        match_section(a, m, templates, msg.held_back, DIGEST_EXCERPT)
                    }
                    AlertEvent::Feed(f) => feed_section(f, true),
                })
                .collect();
            Doc {
                title: format!(
                    "[{topic}] digest: {} {}",
                    alerts.len(),
                    plural(alerts.len(), "story", "stories")
                ),
                link: None,
                sections,
                notes,
                footer: format!("feedwatch {} ({} alerts)", msg.id, alerts.len()),
            }
        }
    }
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

fn held_note(n: usize, max: Option<u32>) -> String {
    let limit = max
        .map(|m| format!(" (max_per_hour = {m})"))
        .unwrap_or_default();
    format!(
        "{n} {} held back by the rate limit{limit}, this one included; the rest follow as the limit allows.",
        plural(n, "alert was", "alerts were")
    )
}

/// A template's output, or `None` to use the default text (logged: the template passed
/// `check`, so a failure here is this alert's data).
fn rendered(
    templates: &Templates,
    part: Part,
    ctx: &minijinja::Value,
    a: &AlertContext,
) -> Option<String> {
    match templates.render(part, ctx)? {
        Ok(s) => Some(text::clean(&s).into_owned()),
        Err(e) => {
            tracing::warn!(alert = %a.uid, error = %e, "template failed; using the default text");
            None
        }
    }
}

fn match_section(
    a: &AlertContext,
    m: &TopicMatch,
    templates: &Templates,
    held_back: usize,
    excerpt: usize,
) -> Section {
    let ctx = template::context(a, m, held_back);
    let heading = rendered(templates, Part::Title, &ctx, a)
        .map(|t| text::one_line(&t))
        .unwrap_or_else(|| text::one_line(&m.story.title));
    let lines = match rendered(templates, Part::Body, &ctx, a) {
        Some(body) => body
            .lines()
            .map(str::to_string)
            .filter(|l| !l.trim().is_empty())
            .collect(),
        None => {
            let mut lines = Vec::new();
            let summary = text::excerpt(&text::one_line(&m.item.summary), excerpt);
            if !summary.is_empty() {
                lines.push(summary);
            }
            if !m.matched_terms.is_empty() {
                lines.push(format!(
                    "Topic {}; matched: {}",
                    m.topic,
                    text::one_line(&m.matched_terms.join(", "))
                ));
            }
            lines
        }
    };
    Section {
        heading: Some(heading),
        link: m.item.url.clone().filter(|l| is_http(l)),
        lines,
        sources: m
            .story
            .sources
            .iter()
            .map(|s| Source {
                feed: text::one_line(&s.feed),
                url: s.url.clone().filter(|u| is_http(u)),
            })
            .collect(),
    }
}

fn feed_title(f: &FeedEvent) -> String {
    let name = text::one_line(&f.feed.name);
    match f.kind {
        HealthEvent::Failing => format!("Feed {name} is failing"),
        HealthEvent::Gone => format!("Feed {name} is gone (HTTP 410)"),
        HealthEvent::Recovered => format!("Feed {name} works again"),
    }
}

fn feed_section(f: &FeedEvent, with_heading: bool) -> Section {
    let mut lines = Vec::new();
    let feed = &f.feed;
    match f.kind {
        HealthEvent::Failing => lines.push(format!(
            "{} consecutive polls failed; last error: {}",
            feed.consecutive_errors,
            text::one_line(feed.error.as_deref().unwrap_or("unknown"))
        )),
        HealthEvent::Gone => lines.push(
            "The server says the feed is gone for good: polling stopped until `feedwatch feeds reset`."
                .to_string(),
        ),
        HealthEvent::Recovered => lines.push(format!("Polled successfully at {}.", feed.at)),
    }
    lines.push(format!("URL: {}", text::one_line(&feed.url)));
    if f.kind != HealthEvent::Recovered {
        lines.push(match &feed.last_ok {
            Some(t) => format!("Last success: {t}"),
            None => "No successful poll yet.".to_string(),
        });
    }
    Section {
        heading: with_heading.then(|| feed_title(f)),
        link: None,
        lines,
        sources: Vec::new(),
    }
}

/// Whether `url` is an http(s) link: the only kind a message may carry as a link.
pub fn is_http(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::format::*;
    use super::*;
    use crate::store::{FeedInfo, ItemInfo, StoryInfo};

    pub(crate) fn alert(uid: &str, title: &str) -> AlertContext {
        AlertContext {
            id: 1,
            uid: uid.into(),
            notifier: "n".into(),
            attempts: 0,
            created: chrono::Utc::now(),
            held: false,
            event: AlertEvent::Match(TopicMatch {
                topic: "china-russia".into(),
                matched_terms: vec!["Lavrov".into(), "Beijing".into()],
                story: StoryInfo {
                    id: 7,
                    title: title.into(),
                    first_seen: "2026-01-01T08:00:00.000Z".into(),
                    sources: vec![
                        Source {
                            feed: "wire".into(),
                            url: Some("https://wire.example/a?x=1&y=2".into()),
                        },
                        Source {
                            feed: "outlet".into(),
                            url: Some("javascript:alert(1)".into()),
                        },
                    ],
                },
                item: ItemInfo {
                    feed: "wire".into(),
                    title: title.into(),
                    url: Some("https://wire.example/a?x=1&y=2".into()),
                    published: None,
                    author: None,
                    summary: "Lavrov met <Wang Yi> in Beijing & talked. ".repeat(30),
                    categories: vec![],
                },
            }),
        }
    }

    fn single(a: AlertContext) -> Message {
        Message {
            id: a.uid.clone(),
            content: Content::Alert(Box::new(a)),
            held_back: 0,
            max_per_hour: None,
        }
    }

    #[test]
    fn a_single_alert_reads_well_and_escapes_feed_text_everywhere() {
        let msg = single(alert("u1", "Lavrov <b>in</b> Beijing & more"));
        let d = doc(&msg, &Templates::default());
        assert_eq!(d.title, "[china-russia] Lavrov <b>in</b> Beijing & more");
        assert_eq!(d.link.as_deref(), Some("https://wire.example/a?x=1&y=2"));
        let text = plain(&d);
        assert!(
            text.contains("Sources: wire (https://wire.example/a?x=1&y=2), outlet"),
            "{text}"
        );
        assert!(!text.contains("javascript:"), "only http(s) links are kept");
        assert!(text.contains("matched: Lavrov, Beijing"));
        assert!(text.ends_with("-- feedwatch alert u1"));
        let excerpt_len = d.sections[0].lines[0].chars().count();
        assert!(
            excerpt_len <= EXCERPT + 1,
            "excerpt is short: {excerpt_len}"
        );

        let h = html(&d);
        assert!(
            h.contains("Lavrov &lt;b&gt;in&lt;/b&gt; Beijing &amp; more"),
            "{h}"
        );
        assert!(
            h.contains("href=\"https://wire.example/a?x=1&amp;y=2\""),
            "{h}"
        );
        assert!(!h.contains("<Wang Yi>") && h.contains("&lt;Wang Yi&gt;"));
        let t = telegram_html(&d);
        assert!(t.starts_with("<b><a href="), "{t}");
        assert!(!t.contains("<Wang"));
        let s = slack_mrkdwn(&d);
        assert!(
            s.contains("<https://wire.example/a?x=1&amp;y=2|[china-russia] Lavrov &lt;b&gt;"),
            "{s}"
        );
        assert_eq!(
            discord_escape("**bold** @everyone"),
            "\\*\\*bold\\*\\* \\@everyone"
        );
    }

    #[test]
    fn templates_replace_the_default_text_and_a_digest_lists_every_alert() {
        let mut t = Templates::default();
        t.add(Part::Title, "{{ topic | upper }}: {{ story.title }}")
            .unwrap();
        t.add(
            Part::Body,
            "{{ sources | length }} outlets; {{ matched_terms | join('/') }}",
        )
        .unwrap();
        let d = doc(&single(alert("u1", "Talks")), &t);
        assert_eq!(d.title, "CHINA-RUSSIA: Talks");
        assert_eq!(d.sections[0].lines, ["2 outlets; Lavrov/Beijing"]);

        let alerts: Vec<AlertContext> = (0..3)
            .map(|i| alert(&format!("u{i}"), &format!("Story {i}")))
            .collect();
        let msg = Message {
            id: "d1".into(),
            content: Content::Digest {
                topic: "china-russia".into(),
                alerts,
            },
            held_back: 2,
            max_per_hour: Some(2),
        };
        let d = doc(&msg, &Templates::default());
        assert_eq!(d.title, "[china-russia] digest: 3 stories");
        assert_eq!(d.sections.len(), 3);
        assert_eq!(d.sections[2].heading.as_deref(), Some("Story 2"));
        let text = plain(&d);
        assert!(
            text.contains("2 alerts were held back by the rate limit (max_per_hour = 2)"),
            "{text}"
        );
    }

    #[test]
    fn feed_events_say_what_happened() {
        let a = AlertContext {
            event: AlertEvent::Feed(FeedEvent {
                kind: HealthEvent::Failing,
                feed: FeedInfo {
                    name: "wire".into(),
                    url: "https://wire.example/feed".into(),
                    error: Some("HTTP 500 Internal Server Error".into()),
                    consecutive_errors: 3,
                    http_status: Some(500),
                    last_ok: None,
                    at: "2026-01-01T08:00:00.000Z".into(),
                },
            }),
            ..alert("f1", "x")
        };
        let d = doc(&single(a), &Templates::default());
        assert_eq!(d.title, "Feed wire is failing");
        let text = plain(&d);
        assert!(
            text.contains("3 consecutive polls failed; last error: HTTP 500"),
            "{text}"
        );
        assert!(text.contains("No successful poll yet."));
    }

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate("héllo wörld", 5), "héll…");
        assert_eq!(truncate("short", 10), "short");
    }
}
