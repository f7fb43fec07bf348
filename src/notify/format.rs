//! Writing a [`Doc`] out for a channel: plain text, HTML (email, Matrix), Telegram's HTML
//! subset, Slack mrkdwn and Discord markdown, each escaping feed text its own way, and
//! fitting a channel's length limit by dropping digest entries before cutting. Pure.

use super::render::{Doc, Section};
use crate::store::Source;

/// `s` cut to `max` characters, with `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `format(doc)` within `max` characters: a digest loses entries from its end (a note says
/// how many), a single alert its longest source lists, before anything is cut.
pub fn fit(doc: &Doc, max: usize, format: impl Fn(&Doc) -> String) -> String {
    let mut d = doc.clone();
    let total = d.sections.len();
    let mut note_at = None;
    loop {
        let out = format(&d);
        if out.chars().count() <= max {
            return out;
        }
        if d.sections.len() > 1 {
            d.sections.pop();
            let note = format!(
                "…and {} more (`feedwatch alerts` lists them).",
                total - d.sections.len()
            );
            match note_at {
                Some(i) => d.notes[i] = note,
                None => {
                    note_at = Some(d.notes.len());
                    d.notes.push(note);
                }
            }
            continue;
        }
        if let Some(s) = d.sections.first_mut().filter(|s| s.sources.len() > 5) {
            s.sources.truncate(5);
            continue;
        }
        return truncate(&out, max);
    }
}

fn sources_line(sources: &[Source], f: impl Fn(&Source) -> String) -> Option<String> {
    (!sources.is_empty()).then(|| {
        format!(
            "Sources: {}",
            sources.iter().map(f).collect::<Vec<_>>().join(", ")
        )
    })
}

/// Plain text: for email's text part, ntfy, the log, Matrix's `body`.
pub fn plain(doc: &Doc) -> String {
    let mut blocks: Vec<String> = Vec::new();
    for s in &doc.sections {
        let mut b = Vec::new();
        if let Some(h) = &s.heading {
            b.push(h.clone());
        }
        if let Some(l) = &s.link {
            b.push(l.clone());
        }
        b.extend(s.lines.iter().cloned());
        b.extend(sources_line(&s.sources, |src| match &src.url {
            Some(u) => format!("{} ({u})", src.feed),
            None => src.feed.clone(),
        }));
        blocks.push(b.join("\n"));
    }
    blocks.extend(doc.notes.iter().cloned());
    blocks.push(format!("-- {}", doc.footer));
    blocks.join("\n\n")
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn a(href: &str, text: &str) -> String {
    format!(
        "<a href=\"{}\">{}</a>",
        escape_html(href),
        escape_html(text)
    )
}

/// HTML for email and Matrix: headings, paragraphs and lists only, every text escaped.
pub fn html(doc: &Doc) -> String {
    let mut out = format!(
        "<h2>{}</h2>\n",
        match &doc.link {
            Some(l) => a(l, &doc.title),
            None => escape_html(&doc.title),
        }
    );
    for s in &doc.sections {
        if let Some(h) = &s.heading {
            let h = match &s.link {
                Some(l) => a(l, h),
                None => escape_html(h),
            };
            out.push_str(&format!("<h3>{h}</h3>\n"));
        }
        for l in &s.lines {
            out.push_str(&format!("<p>{}</p>\n", escape_html(l)));
        }
        if !s.sources.is_empty() {
            out.push_str("<p>Sources:</p>\n<ul>\n");
            for src in &s.sources {
                let li = match &src.url {
                    Some(u) => a(u, &src.feed),
                    None => escape_html(&src.feed),
                };
                out.push_str(&format!("<li>{li}</li>\n"));
            }
            out.push_str("</ul>\n");
        }
    }
    for n in &doc.notes {
        out.push_str(&format!("<p><em>{}</em></p>\n", escape_html(n)));
    }
    out.push_str(&format!("<p><em>{}</em></p>", escape_html(&doc.footer)));
    out
}

/// Telegram's HTML: `<b>`, `<i>` and `<a>` only; `<`, `>`, `&` and `"` escaped.
pub fn telegram_html(doc: &Doc) -> String {
    let mut blocks = vec![format!(
        "<b>{}</b>",
        match &doc.link {
            Some(l) => a(l, &doc.title),
            None => escape_html(&doc.title),
        }
    )];
    for s in &doc.sections {
        let mut b = Vec::new();
        if let Some(h) = &s.heading {
            b.push(match &s.link {
                Some(l) => format!("<b>{}</b>", a(l, h)),
                None => format!("<b>{}</b>", escape_html(h)),
            });
        }
        b.extend(s.lines.iter().map(|l| escape_html(l)));
        b.extend(sources_line(&s.sources, |src| match &src.url {
            Some(u) => a(u, &src.feed),
            None => escape_html(&src.feed),
        }));
        blocks.push(b.join("\n"));
    }
    blocks.extend(
        doc.notes
            .iter()
            .map(|n| format!("<i>{}</i>", escape_html(n))),
    );
    blocks.push(format!("<i>{}</i>", escape_html(&doc.footer)));
    blocks.join("\n\n")
}

/// Slack's mrkdwn: `&`, `<` and `>` escaped, links as `<url|text>`.
pub fn slack_mrkdwn(doc: &Doc) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    // A `|` would end the link text early.
    let link = |u: &str, t: &str| format!("<{}|{}>", esc(u), esc(t).replace('|', "¦"));
    let mut blocks = vec![format!(
        "*{}*",
        match &doc.link {
            Some(l) => link(l, &doc.title),
            None => esc(&doc.title),
        }
    )];
    for s in &doc.sections {
        let mut b = Vec::new();
        if let Some(h) = &s.heading {
            b.push(match &s.link {
                Some(l) => format!("*{}*", link(l, h)),
                None => format!("*{}*", esc(h)),
            });
        }
        b.extend(s.lines.iter().map(|l| esc(l)));
        b.extend(sources_line(&s.sources, |src| match &src.url {
            Some(u) => link(u, &src.feed),
            None => esc(&src.feed),
        }));
        blocks.push(b.join("\n"));
    }
    blocks.extend(doc.notes.iter().map(|n| format!("_{}_", esc(n))));
    blocks.push(format!("_{}_", esc(&doc.footer)));
    blocks.join("\n\n")
}

/// Discord's markdown with its formatting characters escaped.
pub fn discord_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '*'
                | '_'
                | '~'
                | '`'
                | '|'
                | '>'
                | '#'
                | '['
                | ']'
                | '('
                | ')'
                | '-'
                | '<'
                | '@'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A section in Discord markdown (an embed's description).
pub fn discord_section(s: &Section) -> String {
    let mut b = Vec::new();
    if let Some(h) = &s.heading {
        b.push(match &s.link {
            Some(l) => format!("**[{}]({})**", discord_escape(h), l.replace(')', "%29")),
            None => format!("**{}**", discord_escape(h)),
        });
    }
    b.extend(s.lines.iter().map(|l| discord_escape(l)));
    b.extend(sources_line(&s.sources, |src| match &src.url {
        Some(u) => format!("[{}]({})", discord_escape(&src.feed), u.replace(')', "%29")),
        None => discord_escape(&src.feed),
    }));
    b.join("\n")
}
