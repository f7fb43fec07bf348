//! Which due poll starts next, within the global and per-host limits. Pure.
//!
//! Due feeds wait in one queue per host, and hosts take turns: a host with many due feeds
//! cannot starve the others, a slow host only holds its own `per_host` slots, and nothing
//! waits on a semaphore while holding a global slot (the head-of-line blocking that a plain
//! "take the host's permit, then a global one" design has when many feeds share a host).

use std::collections::{HashMap, VecDeque};

struct Host<J> {
    running: usize,
    waiting: VecDeque<J>,
    /// Whether the host is in `turns` (so it is never queued twice).
    queued: bool,
}

/// Jobs (`J`: whatever identifies a poll) grouped by host.
pub struct Admission<J> {
    limit: usize,
    per_host: usize,
    running: usize,
    waiting: usize,
    hosts: HashMap<String, Host<J>>,
    /// Hosts that have a waiting job and a free slot, in the order they get their turn.
    turns: VecDeque<String>,
}

impl<J> Admission<J> {
    pub fn new(limit: usize, per_host: usize) -> Self {
        Self {
            limit: limit.max(1),
            per_host: per_host.max(1),
            running: 0,
            waiting: 0,
            hosts: HashMap::new(),
            turns: VecDeque::new(),
        }
    }

    /// Queue a due job for `host` (compared case-insensitively).
    pub fn push(&mut self, host: &str, job: J) {
        let key = host.to_ascii_lowercase();
        let h = self.hosts.entry(key.clone()).or_insert_with(|| Host {
            running: 0,
            waiting: VecDeque::new(),
            queued: false,
        });
        h.waiting.push_back(job);
        self.waiting += 1;
        if h.running < self.per_host && !h.queued {
            h.queued = true;
            self.turns.push_back(key);
        }
    }

    /// The next job to start now, with its host, or `None` when at a limit or nothing waits.
    pub fn pop(&mut self) -> Option<(String, J)> {
        while self.running < self.limit {
            let key = self.turns.pop_front()?;
            let Some(h) = self.hosts.get_mut(&key) else {
                continue;
            };
            h.queued = false;
            if h.running >= self.per_host {
                continue;
            }
            let Some(job) = h.waiting.pop_front() else {
                continue;
            };
            h.running += 1;
            self.running += 1;
            self.waiting -= 1;
            if !h.waiting.is_empty() && h.running < self.per_host {
                h.queued = true;
                self.turns.push_back(key.clone());
            }
            return Some((key, job));
        }
        None
    }

    /// A job of `host` (as returned by [`pop`](Self::pop)) finished.
    pub fn finish(&mut self, host: &str) {
        let Some(h) = self.hosts.get_mut(host) else {
            return;
        };
        h.running = h.running.saturating_sub(1);
        self.running = self.running.saturating_sub(1);
        if h.waiting.is_empty() {
            if h.running == 0 {
                self.hosts.remove(host);
            }
        } else if !h.queued {
            h.queued = true;
            self.turns.push_back(host.to_string());
        }
    }

    /// New limits (a config reload). Polls already running keep their slots: above a lowered
    /// limit, nothing starts until enough of them end; a raised one lets waiting jobs start.
    pub fn set_limits(&mut self, limit: usize, per_host: usize) {
        self.limit = limit.max(1);
        self.per_host = per_host.max(1);
        for (key, h) in &mut self.hosts {
            if !h.queued && !h.waiting.is_empty() && h.running < self.per_host {
                h.queued = true;
                self.turns.push_back(key.clone());
            }
        }
    }

    pub fn running(&self) -> usize {
        self.running
    }

    pub fn waiting(&self) -> usize {
        self.waiting
    }

    pub fn is_idle(&self) -> bool {
        self.running == 0 && self.waiting == 0
    }

    /// Drop waiting jobs for which `keep` is false (a feed removed or reset meanwhile).
    pub fn retain(&mut self, mut keep: impl FnMut(&J) -> bool) {
        let mut dropped = 0;
        for h in self.hosts.values_mut() {
            let before = h.waiting.len();
            h.waiting.retain(&mut keep);
            dropped += before - h.waiting.len();
        }
        self.waiting -= dropped;
        self.hosts
            .retain(|_, h| h.running > 0 || !h.waiting.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain<J: Copy>(a: &mut Admission<J>) -> Vec<(String, J)> {
        std::iter::from_fn(|| a.pop()).collect()
    }

    #[test]
    fn per_host_and_global_limits_hold() {
        let mut a = Admission::new(3, 2);
        for i in 0..5 {
            a.push("a.example", i);
        }
        a.push("b.example", 10);
        let started = drain(&mut a);
        assert_eq!(started.len(), 3);
        assert_eq!(
            started.iter().filter(|(h, _)| h == "a.example").count(),
            2,
            "at most two per host"
        );
        assert!(started.iter().any(|(_, j)| *j == 10), "b is not starved");
        assert_eq!(a.pop(), None, "global limit");
        a.finish("b.example");
        assert_eq!(a.pop(), None, "a is still at its host limit");
        a.finish("a.example");
        assert_eq!(a.pop(), Some(("a.example".into(), 2)));
        assert_eq!(a.running(), 2);
        assert_eq!(a.waiting(), 2);
    }

    #[test]
    fn hosts_take_turns_and_order_within_a_host_is_kept() {
        let mut a = Admission::new(1, 1);
        for i in 0..3 {
            a.push("a", i);
            a.push("b", 10 + i);
        }
        let mut order = Vec::new();
        while let Some((h, j)) = a.pop() {
            order.push(j);
            a.finish(&h);
        }
        assert_eq!(order, [0, 10, 1, 11, 2, 12]);
        assert!(a.is_idle());
    }

    #[test]
    fn hosts_are_case_insensitive_and_retain_drops_waiting_jobs() {
        let mut a = Admission::new(10, 1);
        a.push("A.example", 1);
        a.push("a.EXAMPLE", 2);
        a.push("a.example", 3);
        assert_eq!(drain(&mut a).len(), 1);
        a.retain(|j| *j != 2);
        assert_eq!(a.waiting(), 1);
        a.finish("a.example");
        assert_eq!(a.pop(), Some(("a.example".into(), 3)));
    }

    #[test]
    fn new_limits_apply_to_what_starts_next() {
        let mut a = Admission::new(4, 1);
        for i in 0..4 {
            a.push("a", i);
        }
        assert_eq!(drain(&mut a), [("a".into(), 0)]);
        a.set_limits(4, 3);
        assert_eq!(
            drain(&mut a).len(),
            2,
            "a raised per-host limit starts waiting jobs"
        );
        a.set_limits(1, 3);
        a.finish("a");
        assert_eq!(
            a.pop(),
            None,
            "two still run, above the lowered global limit"
        );
        a.finish("a");
        a.finish("a");
        assert_eq!(a.pop(), Some(("a".into(), 3)));
    }
}
