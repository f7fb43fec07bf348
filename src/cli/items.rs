//! What is stored: `items`, `stories`, `search` and `match`.

use std::process::ExitCode;

use feedwatch::config::Config;
use feedwatch::store::{ItemFilter, queries};

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
            println!("{:>6}  {}  {:<16} {}", i.id, i.first_seen, i.feed, i.title);
            if let Some(u) = &i.url {
                println!("        {u}");
            }
            if !i.topics.is_empty() {
                println!("        topics: {}", i.topics.join(", "));
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
        println!("story {}  {}  {}{topics}", s.id, s.first_seen, s.title);
        for c in &s.sources {
            println!(
                "    {:<20} {}  {}",
                c.feed,
                c.url.as_deref().unwrap_or("-"),
                if c.title == s.title { "" } else { &c.title }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
