//! SIGHUP: read the config again and switch the running daemon to it, or keep the running one.
//!
//! The new file is loaded and validated whole first (`config::load`, secrets read again); a
//! bad one is logged with every FILE:LINE:COL message and changes nothing. A good one is
//! applied in one place, [`Loop::reload`], which is also the only sender of the config watch
//! channel: the feeds table follows the new feeds (`queries::sync_feeds`: added rows, a new
//! URL starts the feed over, a new schedule moves its next poll), the schedule keeps every
//! remaining feed's state (so unchanged feeds are not polled early), the poller (and with it
//! the topic matcher) and the dispatcher's notifiers are rebuilt, and the HTTP endpoint
//! follows the channel.
//! Nothing stored is touched: items, stories and pending alerts stay. Alerts of a notifier the
//! new config lacks are failed by the next delivery pass with a message saying so, visible in
//! `alerts`, and `alerts retry` requeues them once the notifier is back.
//!
//! What a reload cannot change: the database (and its `busy_timeout` and `story_window`) and
//! the log filter (`RUST_LOG`); it says so in the log when they differ.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;

use super::Loop;
use crate::config::{self, Config, Secrets};
use crate::notify::Dispatcher;
use crate::poll::Poller;
use crate::store::queries::{self, FeedSync};

/// How the feeds of two configs differ (by name).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FeedChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Still configured, with another URL or schedule (the database's state then wins).
    pub moved: Vec<String>,
}

/// Pure: which feeds a switch from `old` to `new` adds, removes and moves.
pub fn feed_changes(old: &Config, new: &Config) -> FeedChanges {
    let now = Utc::now();
    let before: HashMap<String, FeedSync> = FeedSync::from_config(old, now)
        .into_iter()
        .map(|f| (f.name.clone(), f))
        .collect();
    let mut changes = FeedChanges::default();
    let mut seen = HashSet::new();
    for f in FeedSync::from_config(new, now) {
        seen.insert(f.name.clone());
        match before.get(&f.name) {
            None => changes.added.push(f.name),
            Some(b) if b.url != f.url || b.schedule != f.schedule => changes.moved.push(f.name),
            Some(_) => {}
        }
    }
    changes.removed = old
        .feeds
        .iter()
        .filter(|f| !seen.contains(&f.name))
        .map(|f| f.name.clone())
        .collect();
    changes
}

/// "+2 -1 ~1" for a list of named things (topics, notifiers): added, removed, changed.
fn named_changes<T: std::fmt::Debug>(
    old: &[T],
    new: &[T],
    name: impl Fn(&T) -> &str,
) -> (usize, usize, usize) {
    let before: HashMap<&str, String> = old.iter().map(|t| (name(t), format!("{t:?}"))).collect();
    let after: HashSet<&str> = new.iter().map(&name).collect();
    let added = new.iter().filter(|t| !before.contains_key(name(t))).count();
    let removed = before.keys().filter(|n| !after.contains(*n)).count();
    let changed = new
        .iter()
        .filter(|t| before.get(name(t)).is_some_and(|b| *b != format!("{t:?}")))
        .count();
    (added, removed, changed)
}

/// Names for a log field: all of them up to a few, then how many more.
fn some_names(names: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut s = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    s
}

impl Loop {
    /// Load the config again and switch to it, between `RELOADING=1` and `READY=1`.
    pub(super) async fn reload(&mut self) {
        let mut reloading = vec![sd_notify::NotifyState::Reloading];
        // systemd matches the reload to its request by this clock reading.
        if let Ok(t) = sd_notify::NotifyState::monotonic_usec_now() {
            reloading.push(t);
        }
        let _ = sd_notify::notify(&reloading);
        let path = self.poller.config.path.clone();
        tracing::info!(config = %path.display(), "SIGHUP: reloading the config");
        let file = path.clone();
        let loaded = tokio::task::spawn_blocking(move || config::load(&file, Secrets::Resolve))
            .await
            .map_err(|e| {
                vec![format!(
                    "{}: loading the config failed: {e}",
                    path.display()
                )]
            })
            .and_then(|r| r.map_err(|e| e.messages));
        let ok = match loaded {
            Err(messages) => {
                for m in &messages {
                    tracing::error!(error = %m, "config not reloaded");
                }
                tracing::error!(
                    config = %path.display(),
                    problems = messages.len(),
                    "the new config has errors; still running the previous one"
                );
                false
            }
            Ok(new) => match self.switch_to(new).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "config not reloaded; still running the previous one");
                    false
                }
            },
        };
        crate::metrics::reloaded(ok);
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    }

    /// Apply a loaded config. Until the schedule is switched nothing is changed in memory, so
    /// an error leaves the running config in force.
    async fn switch_to(&mut self, mut new: Config) -> anyhow::Result<()> {
        let running = Arc::clone(&self.poller.config);
        if new.daemon.database != running.daemon.database {
            tracing::warn!(
                database = %running.daemon.database.display(),
                "`database` is not changed by a reload (restart to switch); still using the same one"
            );
            new.daemon.database = running.daemon.database.clone();
        }
        let (a, b) = (&new.daemon.store, &running.daemon.store);
        if a.busy_timeout != b.busy_timeout || a.story_window != b.story_window {
            tracing::warn!("`busy_timeout` and `story_window` take effect at the next restart");
        }
        for w in &new.warnings {
            tracing::warn!("{w}");
        }
        let new = Arc::new(new);
        let store = Arc::clone(&self.poller.store);
        let poller = Poller::new(Arc::clone(&store), Arc::clone(&new))
            .context("setting up polling with the new config")?;
        let notifiers = Dispatcher::prepare(Arc::clone(&new))
            .context("setting up the notifiers of the new config")?;
        let feeds = feed_changes(&running, &new);
        store
            .writer()
            .sync_feeds(FeedSync::from_config(&new, Utc::now()))
            .await
            .context("recording the new feeds in the database")?;
        let wanted: Vec<String> = feeds.added.iter().chain(&feeds.moved).cloned().collect();
        let fresh = store
            .read_async(move |c| {
                wanted
                    .iter()
                    .filter_map(|n| queries::feed_state(c, n).transpose())
                    .collect::<anyhow::Result<Vec<_>>>()
            })
            .await
            .context("reading the states of added and changed feeds")?;
        let fresh = fresh.into_iter().map(|s| (s.name.clone(), s)).collect();

        // From here on nothing fails: every part switches.
        self.schedule
            .reconfigure(Arc::clone(&new), fresh, Utc::now());
        self.poller = poller;
        // Before any poll under the new config can queue an alert for a new notifier.
        self.dispatcher.reconfigure(notifiers);
        let sink = crate::logging::apply(new.daemon.log_format);
        if new.http.is_some()
            && let Err(e) = crate::metrics::install(&new)
        {
            tracing::error!(error = %format!("{e:#}"), "metrics");
        }
        let topics = named_changes(&running.topics, &new.topics, |t| t.name.as_str());
        let notifiers = named_changes(&running.notifiers, &new.notifiers, |n| n.name.as_str());
        self.config.send_replace(Arc::clone(&new));
        tracing::info!(
            feeds = new.feeds.len(),
            feeds_added = %some_names(&feeds.added),
            feeds_removed = %some_names(&feeds.removed),
            feeds_moved = %some_names(&feeds.moved),
            topics = format!("+{} -{} ~{}", topics.0, topics.1, topics.2),
            notifiers = format!("+{} -{} ~{}", notifiers.0, notifiers.1, notifiers.2),
            log = sink.as_str(),
            "config reloaded"
        );
        self.wake_dispatcher.notify_one();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(src: &str) -> Config {
        config::parse(std::path::Path::new("/t/fw.toml"), src, Secrets::Skip).unwrap()
    }

    fn feed(name: &str, url: &str, extra: &str) -> String {
        format!("[[feed]]\nname = \"{name}\"\nurl = \"{url}\"\n{extra}\n")
    }

    #[test]
    fn feeds_are_added_removed_or_moved_by_url_and_schedule_only() {
        let old = cfg(&[
            feed("same", "https://a/x", ""),
            feed("retagged", "https://a/y", "tags = [\"a\"]"),
            feed("new-url", "https://a/z", ""),
            feed("new-cron", "https://a/w", ""),
            feed("dropped", "https://a/v", ""),
        ]
        .concat());
        let new = cfg(&[
            feed("added", "https://b/x", ""),
            feed("same", "https://a/x", ""),
            feed("retagged", "https://a/y", "tags = [\"b\"]"),
            feed("new-url", "https://a/z2", ""),
            feed("new-cron", "https://a/w", "schedule = \"0 * * * *\""),
        ]
        .concat());
        assert_eq!(
            feed_changes(&old, &new),
            FeedChanges {
                added: vec!["added".into()],
                removed: vec!["dropped".into()],
                moved: vec!["new-url".into(), "new-cron".into()],
            }
        );
    }

    #[test]
    fn a_new_default_schedule_or_zone_moves_the_feeds_that_follow_it() {
        let old = cfg(&[
            feed("f", "https://a/x", ""),
            feed("own", "https://a/y", "schedule = \"0 * * * *\""),
        ]
        .concat());
        let new = cfg(&format!(
            "[daemon]\nschedule = \"*/5 * * * *\"\n{}{}",
            feed("f", "https://a/x", ""),
            feed("own", "https://a/y", "schedule = \"0 * * * *\"")
        ));
        assert_eq!(feed_changes(&old, &new).moved, ["f"]);
        let zoned = cfg(&format!(
            "[daemon]\ntimezone = \"Europe/Paris\"\n{}{}",
            feed("f", "https://a/x", ""),
            feed("own", "https://a/y", "schedule = \"0 * * * *\"")
        ));
        assert_eq!(feed_changes(&old, &zoned).moved, ["f", "own"]);
    }

    #[test]
    fn topic_changes_are_counted_by_name() {
        let t = |name: &str, q: &str| {
            format!("[[topic]]\nname = \"{name}\"\nquery = \"{q}\"\nnotify = [\"log\"]\n")
        };
        let n = "[[notifier]]\nname = \"log\"\nkind = \"log\"\n";
        let old = cfg(&[t("a", "x"), t("b", "y"), n.into()].concat());
        let new = cfg(&[t("a", "x"), t("b", "z"), t("c", "w"), n.into()].concat());
        assert_eq!(
            named_changes(&old.topics, &new.topics, |t| t.name.as_str()),
            (1, 0, 1)
        );
        assert_eq!(
            named_changes(&new.topics, &old.topics, |t| t.name.as_str()),
            (0, 1, 1)
        );
        assert_eq!(some_names(&[]), "");
        let many: Vec<String> = (0..12).map(|i| i.to_string()).collect();
        assert!(some_names(&many).ends_with("9 and 2 more"));
    }
}
