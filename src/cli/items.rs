//! What is stored: `items`, `stories`, `search` and `match`.

use std::process::ExitCode;

use serde::Serialize;

use feedwatch::config::Config;
use feedwatch::store::queries::ItemView;
use feedwatch::store::search::{self, Order};
use feedwatch::store::{ItemFilter, queries};
use feedwatch::topics::{ItemText, Query};

use super::out::{Tone, Ui, ui};
use super::progress::Progress;
use super::table::{Cell, Column, Table};
use super::{Failure, no_such, open, print_json, since, when};

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
        let ui = ui();
        let rows: Vec<(&ItemView, Vec<String>)> =
            items.iter().map(|i| (i, i.topics.clone())).collect();
        item_table(&ui, "TOPICS", &rows).print_or(&ui, "no items");
    }
    Ok(ExitCode::SUCCESS)
}

/// Items as a table: when published (first seen when the feed gave no date), feed, title,
/// link, and a last column of `extra` (the topics, or the terms a search matched).
fn item_table(ui: &Ui, extra: &'static str, rows: &[(&ItemView, Vec<String>)]) -> Table {
    let mut columns = vec![
        Column::right("ID"),
        Column::left("PUBLISHED"),
        Column::left("FEED").flexible(),
        Column::left("TITLE").flexible(),
        Column::left(extra).flexible(),
        Column::left("URL").flexible(),
    ];
    if !ui.terminal {
        columns.extend([Column::left("FIRST_SEEN"), Column::left("STORY")]);
    }
    let mut t = Table::new(columns);
    for (i, terms) in rows {
        let published = i.published.as_deref().unwrap_or(&i.first_seen);
        let mut row = vec![
            i.id.into(),
            Cell::new(when::show(ui, published)),
            Cell::new(&i.feed),
            Cell::new(&i.title),
            Cell::new(terms.join(", ")),
            Cell::opt(i.url.as_deref()),
        ];
        if !ui.terminal {
            row.extend([Cell::new(when::show(ui, &i.first_seen)), i.story.into()]);
        }
        t.row(row);
    }
    t
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
    let ui = ui();
    for s in stories {
        let topics = if s.topics.is_empty() {
            String::new()
        } else {
            format!("  [{}]", s.topics.join(", "))
        };
        say!(
            "story {}  {}  {}{topics}",
            s.id,
            when::show(&ui, &s.first_seen),
            s.title
        );
        for c in &s.sources {
            let retitled = if c.title == s.title {
                String::new()
            } else {
                format!("  \"{}\"", c.title)
            };
            say!(
                "    {}  {}{retitled}",
                c.feed,
                c.url.as_deref().unwrap_or("-")
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
    let ui = ui();
    let rows: Vec<(&ItemView, Vec<String>)> = found
        .iter()
        .map(|f| (&f.item, f.matched_terms.clone()))
        .collect();
    item_table(&ui, "MATCHED", &rows).print_or(&ui, "no matching items");
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
    let ui = ui();
    let mut table = Table::new(vec![
        Column::left("TERM").flexible(),
        Column::left("FIELD"),
        Column::left("KIND"),
        Column::left("RESULT"),
    ]);
    for t in &explanation.terms {
        let (mark, tone) = match (t.hit, t.negated) {
            (true, false) => ("found", Tone::Good),
            (true, true) => ("found (counts against)", Tone::Bad),
            (false, _) => ("not found", Tone::Quiet),
        };
        table.row(vec![
            Cell::new(&t.term),
            Cell::new(t.field),
            Cell::new(t.kind),
            Cell::new(mark).tone(tone),
        ]);
    }
    table.print(&ui);
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
    let bar = Progress::counter("stored items checked");
    let applies = |i: &ItemView| {
        bar.tick();
        topic.is_none_or(|t| cfg.feed(&i.feed).is_some_and(|f| t.applies_to(f)))
    };
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
    bar.done();
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
    let ui = ui();
    let mut t = Table::new(vec![
        Column::right("ITEM"),
        Column::left("FIRST SEEN"),
        Column::left("FEED").flexible(),
        Column::left("TITLE").flexible(),
        Column::left("MATCHED").flexible(),
    ]);
    for r in rows {
        t.row(vec![
            r.item.into(),
            Cell::new(when::show(&ui, &r.first_seen)),
            Cell::new(&r.feed),
            Cell::new(&r.title),
            Cell::new(r.matched_terms.join(", ")),
        ]);
    }
    t.print(&ui);
    Ok(ExitCode::SUCCESS)
}
