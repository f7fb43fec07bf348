//! What is stored: `items`, `stories`, `search` and `match`.

use std::process::ExitCode;

use serde::Serialize;

use feedwatch::config::Config;
use feedwatch::store::queries::ItemView;
use feedwatch::store::search::{self, Order};
use feedwatch::store::{ItemFilter, queries};
use feedwatch::topics::{ItemText, Query};

use super::{Failure, no_such, open, print_json, since};

pub struct ItemsArgs {
    pub feed: Option<String>,
    pub topic: Option<String>,
    pub since: Option<std::time::Duration>,
    pub limit: usize,
    pub json: bool,
}

pub fn items(cfg: Config, args: ItemsArgs) -> Result<ExitCode, Failure> {
    let ItemsArgs {
        feed,
        topic,
        since: within,
        limit,
        json,
    } = args;
    if let Some(f) = feed.as_ref().filter(|f| cfg.feed(f).is_none()) {
        return Err(no_such("feed", f, &cfg.path));
    }
    if let Some(t) = topic
        .as_ref()
        .filter(|t| !cfg.topics.iter().any(|x| &x.name == *t))
    {
        return Err(no_such("topic", t, &cfg.path));
    }
    let store = open(&cfg)?;
    let since = since(within);
    let items = store.read(|c| {
        queries::list_items(
            c,
            &ItemFilter {
                feed,
                topic,
                since,
                limit,
            },
        )
    })?;
    if json {
        print_json(&items)?;
    } else {
        for i in items {
            say!("{:>6}  {}  {:<16} {}", i.id, i.first_seen, i.feed, i.title);
            if let Some(u) = &i.url {
                say!("        {u}");
            }
            if !i.topics.is_empty() {
                say!("        topics: {}", i.topics.join(", "));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn stories(
    cfg: Config,
    within: Option<std::time::Duration>,
    limit: usize,
    json: bool,
) -> Result<ExitCode, Failure> {
    let store = open(&cfg)?;
    let cut = since(within);
    let stories = store.read(|c| queries::list_stories(c, cut, limit))?;
    if json {
        print_json(&stories)?;
        return Ok(ExitCode::SUCCESS);
    }
    for s in stories {
        let topics = if s.topics.is_empty() {
            String::new()
        } else {
            format!("  [{}]", s.topics.join(", "))
        };
        say!("story {}  {}  {}{topics}", s.id, s.first_seen, s.title);
        for c in &s.sources {
            say!(
                "    {:<20} {}  {}",
                c.feed,
                c.url.as_deref().unwrap_or("-"),
                if c.title == s.title { "" } else { &c.title }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_query(q: &str) -> Result<Query, Failure> {
    Query::parse(q).map_err(|e| Failure::Usage(format!("invalid query `{q}`: {e}")))
}

pub fn search(
    cfg: Config,
    query: String,
    within: Option<std::time::Duration>,
    limit: usize,
    json: bool,
) -> Result<ExitCode, Failure> {
    let query = parse_query(&query)?;
    let store = open(&cfg)?;
    let cut = since(within);
    let found = store.read(|c| {
        search::matching(
            c,
            &query,
            cut,
            Order::NewestFirst,
            |_| true,
            |f| f.len() < limit,
        )
    })?;
    if json {
        print_json(&found)?;
        return Ok(ExitCode::SUCCESS);
    }
    for f in found {
        let i = &f.item;
        say!("{:>6}  {}  {:<16} {}", i.id, i.first_seen, i.feed, i.title);
        if let Some(u) = &i.url {
            say!("        {u}");
        }
        say!(
            "        story {}; matched: {}",
            i.story,
            f.matched_terms.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `match` with `--text`: whether and why the query matches the text. The first line of the
/// text stands for the title, the rest for the article.
fn match_text(query: &Query, text: &str, json: bool) -> Result<ExitCode, Failure> {
    let (title, content) = text.split_once('\n').unwrap_or((text, ""));
    let explanation = query.explain(&ItemText {
        title,
        content,
        ..Default::default()
    });
    if json {
        print_json(&explanation)?;
        return Ok(ExitCode::SUCCESS);
    }
    if explanation.matches {
        say!("matches: {}", explanation.matched_terms.join(", "));
    } else {
        say!("does not match");
    }
    for t in &explanation.terms {
        let mark = match (t.hit, t.negated) {
            (true, false) => "found",
            (true, true) => "found (counts against)",
            (false, _) => "not found",
        };
        say!("  {:<30} {:<8} {:<7} {mark}", t.term, t.field, t.kind);
    }
    Ok(ExitCode::SUCCESS)
}

/// One row of `match --since --json`: what would have alerted.
#[derive(Serialize)]
struct WouldAlert {
    item: i64,
    story: i64,
    title: String,
    feed: String,
    url: Option<String>,
    first_seen: String,
    matched_terms: Vec<String>,
}

pub struct MatchArgs {
    pub query: Option<String>,
    pub topic: Option<String>,
    pub text: Option<String>,
    pub since: Option<std::time::Duration>,
    pub json: bool,
}

pub fn matches(cfg: Config, args: MatchArgs) -> Result<ExitCode, Failure> {
    let topic = match &args.topic {
        Some(t) => Some(
            cfg.topics
                .iter()
                .find(|x| &x.name == t)
                .ok_or_else(|| no_such("topic", t, &cfg.path))?,
        ),
        None => None,
    };
    let query = match (&args.query, topic) {
        (Some(q), None) => parse_query(q)?,
        (None, Some(t)) => t.query.clone(),
        _ => {
            return Err(Failure::Usage(
                "give a QUERY or --topic NAME (one of them)".into(),
            ));
        }
    };
    if let Some(text) = &args.text {
        return match_text(&query, text, args.json);
    }
    let Some(within) = args.since else {
        return Err(Failure::Usage(
            "give --text TEXT to test a text, or --since DURATION (e.g. 7d) to replay stored items"
                .into(),
        ));
    };
    let store = open(&cfg)?;
    // A topic's feed and tag filters apply, as they would have.
    let applies =
        |i: &ItemView| topic.is_none_or(|t| cfg.feed(&i.feed).is_some_and(|f| t.applies_to(f)));
    let found = store.read(|c| {
        search::matching(
            c,
            &query,
            since(Some(within)),
            Order::OldestFirst,
            applies,
            |_| true,
        )
    })?;
    // One alert per story: the first copy that matched is the one that would have alerted.
    let mut seen = std::collections::HashSet::new();
    let mut rows: Vec<WouldAlert> = found
        .into_iter()
        .filter(|f| seen.insert(f.item.story))
        .map(|f| WouldAlert {
            item: f.item.id,
            story: f.item.story,
            title: f.item.title,
            feed: f.item.feed,
            url: f.item.url,
            first_seen: f.item.first_seen,
            matched_terms: f.matched_terms,
        })
        .collect();
    rows.reverse();
    if args.json {
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    say!(
        "{} stories would have alerted (newest first; nothing was sent):",
        rows.len()
    );
    for r in rows {
        say!(
            "{:>6}  {}  {:<16} {}",
            r.item,
            r.first_seen,
            r.feed,
            r.title
        );
        say!("        matched: {}", r.matched_terms.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
