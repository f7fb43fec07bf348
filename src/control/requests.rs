//! The daemon's side of the requests that do work: which feeds a `poll` request polls and who
//! waits for them, and the writes of `reset`, `retry` and `prune` done with the daemon's own
//! config. The scheduler loop calls these from `Loop::handle`; the polls themselves are
//! started by the loop like any due poll, so a feed is never polled twice at once.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::Notify;

use super::{Answer, PolledFeed, PruneCounts, Responder};
use crate::config::Config;
use crate::feed_state::FeedState;
use crate::poll::FeedReport;
use crate::scheduler::PollNow;
use crate::store::{Store, queries};

/// What a `poll` request comes to: the feeds it waits for, and those answered at once.
#[derive(Debug, PartialEq, Eq)]
pub struct PollPlan {
    /// The feeds in the order of the answer (the config's, or the request's).
    pub order: Vec<String>,
    pub waiting: HashSet<String>,
    pub skipped: Vec<PolledFeed>,
}

fn skipped(name: &str, why: &str) -> PolledFeed {
    PolledFeed::from(&FeedReport::skipped(name, why.to_string()))
}

/// Plan a `poll` of `named` feeds (none: all) over `config`; `poll_now` makes one due in the
/// schedule. Gone feeds are polled only when named, as `feedwatch poll` does by itself.
pub fn plan_poll(
    config: &Config,
    named: Vec<String>,
    mut poll_now: impl FnMut(&str, bool) -> Option<PollNow>,
) -> Result<PollPlan, String> {
    let unknown: Vec<&str> = named
        .iter()
        .filter(|n| config.feed(n).is_none())
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "the daemon's config ({}) has no feed named `{}`",
            config.path.display(),
            unknown.join("`, `")
        ));
    }
    let by_name = !named.is_empty();
    let order: Vec<String> = if by_name {
        named
    } else {
        config.feeds.iter().map(|f| f.name.clone()).collect()
    };
    let mut plan = PollPlan {
        order: Vec::new(),
        waiting: HashSet::new(),
        skipped: Vec::new(),
    };
    for name in order {
        if plan.order.contains(&name) {
            continue;
        }
        match poll_now(&name, by_name) {
            Some(PollNow::Due | PollNow::AlreadyPolling) => {
                plan.waiting.insert(name.clone());
            }
            Some(PollNow::Gone) => plan.skipped.push(skipped(
                &name,
                "gone (410): `feedwatch feeds reset` to poll it again",
            )),
            None => plan
                .skipped
                .push(skipped(&name, "not in the daemon's schedule")),
        }
        plan.order.push(name);
    }
    Ok(plan)
}

/// `poll` requests waiting for their feeds' polls to end.
#[derive(Default)]
pub struct PollWaiters {
    waiting: Vec<Waiter>,
}

struct Waiter {
    order: Vec<String>,
    remaining: HashSet<String>,
    done: Vec<PolledFeed>,
    reply: Responder,
}

impl Waiter {
    fn answer(mut self) {
        let order = &self.order;
        self.done
            .sort_by_key(|f| order.iter().position(|n| *n == f.name));
        self.reply.answer(Answer::Polled { feeds: self.done });
    }
}

impl PollWaiters {
    /// Answer `reply` once every feed `plan` waits for has been polled (at once if none).
    pub fn wait(&mut self, plan: PollPlan, reply: Responder) {
        for s in &plan.skipped {
            reply.progress(s.clone());
        }
        let w = Waiter {
            order: plan.order,
            remaining: plan.waiting,
            done: plan.skipped,
            reply,
        };
        if w.remaining.is_empty() {
            w.answer();
        } else {
            self.waiting.push(w);
        }
    }

    /// A poll ended: tell whoever waits for that feed.
    pub fn finished(&mut self, report: &FeedReport) {
        if self.waiting.is_empty() {
            return;
        }
        for w in &mut self.waiting {
            if w.remaining.remove(&report.name) {
                let feed = PolledFeed::from(report);
                w.reply.progress(feed.clone());
                w.done.push(feed);
            }
        }
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .filter(|w| !w.reply.is_closed())
            .partition(|w| w.remaining.is_empty());
        self.waiting = waiting;
        for w in ready {
            w.answer();
        }
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

/// `reset`: clear the feed's state in the database; the new state for the schedule.
pub async fn reset(store: &Arc<Store>, config: &Config, feed: &str) -> Result<FeedState, String> {
    if config.feed(feed).is_none() {
        return Err(format!(
            "the daemon's config ({}) has no feed named `{feed}`",
            config.path.display()
        ));
    }
    let fail = |e: anyhow::Error| format!("resetting `{feed}` failed: {e:#}");
    if !store.writer().reset_feed(feed).await.map_err(fail)? {
        return Err(format!("the database has no feed named `{feed}` yet"));
    }
    let name = feed.to_string();
    store
        .read_async(move |c| queries::feed_state(c, &name))
        .await
        .map_err(fail)?
        .ok_or_else(|| format!("`{feed}` vanished from the database"))
}

/// `retry`: requeue failed alerts and wake the dispatcher.
pub async fn retry(store: Arc<Store>, wake: Arc<Notify>, ids: Vec<String>, reply: Responder) {
    match store.writer().retry_alerts(ids, Utc::now()).await {
        Ok((requeued, missing)) => {
            if requeued > 0 {
                wake.notify_one();
            }
            reply.answer(Answer::Retried { requeued, missing });
        }
        Err(e) => reply.refuse(format!("requeueing alerts failed: {e:#}")),
    }
}

/// `prune`: apply `retention` now.
pub async fn prune(store: Arc<Store>, retention: std::time::Duration, reply: Responder) {
    let Some(before) = chrono::Duration::from_std(retention)
        .ok()
        .and_then(|age| Utc::now().checked_sub_signed(age))
    else {
        return reply.refuse("`retention` is too long");
    };
    match store.writer().prune(before).await {
        Ok(p) => reply.answer(Answer::Pruned(PruneCounts::new(before, p))),
        Err(e) => reply.refuse(format!("pruning failed: {e:#}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let src = "[[feed]]\nname = \"a\"\nurl = \"https://a.example/f\"\n\
                   [[feed]]\nname = \"b\"\nurl = \"https://b.example/f\"\n\
                   [[feed]]\nname = \"g\"\nurl = \"https://g.example/f\"\n";
        crate::config::parse(
            std::path::Path::new("/etc/feedwatch/feedwatch.toml"),
            src,
            crate::config::Secrets::Skip,
        )
        .unwrap()
    }

    fn schedule(name: &str, named: bool) -> Option<PollNow> {
        match name {
            "g" if !named => Some(PollNow::Gone),
            "b" => Some(PollNow::AlreadyPolling),
            _ => Some(PollNow::Due),
        }
    }

    fn report(name: &str, new_items: usize) -> FeedReport {
        FeedReport {
            new_items,
            status: "ok".into(),
            error: None,
            ..FeedReport::skipped(name, String::new())
        }
    }

    #[test]
    fn every_feed_but_the_gone_ones_unless_named() {
        let all = plan_poll(&config(), vec![], schedule).unwrap();
        assert_eq!(all.order, ["a", "b", "g"]);
        assert_eq!(all.waiting, HashSet::from(["a".into(), "b".into()]));
        assert_eq!(all.skipped.len(), 1);
        assert_eq!(all.skipped[0].name, "g");
        let named = plan_poll(&config(), vec!["g".into(), "g".into()], schedule).unwrap();
        assert_eq!(named.order, ["g"]);
        assert!(named.skipped.is_empty());
        let err = plan_poll(&config(), vec!["a".into(), "zz".into()], schedule).unwrap_err();
        assert!(
            err.contains("/etc/feedwatch/feedwatch.toml) has no feed named `zz`"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_request_is_answered_when_its_last_feed_is_polled_in_its_order() {
        let mut waiters = PollWaiters::default();
        let (reply, mut lines) = Responder::pair();
        waiters.wait(plan_poll(&config(), vec![], schedule).unwrap(), reply);
        assert!(matches!(
            lines.recv().await.unwrap().answer,
            Some(Answer::Progress(ref p)) if p.name == "g"
        ));
        waiters.finished(&report("b", 2));
        waiters.finished(&report("zz", 1));
        assert_eq!(waiters.len(), 1);
        waiters.finished(&report("a", 1));
        assert!(waiters.is_empty());
        let mut last = None;
        while let Ok(line) = lines.try_recv() {
            last = line.answer;
        }
        let Some(Answer::Polled { feeds }) = last else {
            panic!("no final answer: {last:?}");
        };
        let names: Vec<&str> = feeds.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "g"]);
        assert_eq!(feeds[1].new_items, 2);
    }

    #[test]
    fn a_client_that_left_is_forgotten() {
        let mut waiters = PollWaiters::default();
        let (reply, lines) = Responder::pair();
        waiters.wait(
            plan_poll(&config(), vec!["a".into()], schedule).unwrap(),
            reply,
        );
        drop(lines);
        waiters.finished(&report("b", 0));
        assert!(waiters.is_empty());
    }
}
