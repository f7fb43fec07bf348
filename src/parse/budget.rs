//! The CPU budget of one document: how long its parse and preparation may hold a worker.
//!
//! A thread cannot be preempted, so the work checks a [`Deadline`] itself where it can stop
//! cleanly: around each feed-rs read and each repair pass, per entry read, per item prepared.
//! Every stage is linear in the document, so a document still being read past the budget is
//! hostile or absurd; it fails alone, with [`OverBudget`], and the worker goes back to the
//! other feeds. feed-rs itself is one uninterruptible call: its time counts, but a check
//! only follows it.

use std::fmt;
use std::time::{Duration, Instant};

/// How long one document may take, parse and preparation together.
pub const CPU_BUDGET: Duration = Duration::from_secs(5);

/// When the work on one document must stop (or never, outside the daemon's CPU stage).
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    limit: Option<(Instant, Duration)>,
}

impl Deadline {
    /// No limit: for callers that read one document and wait for it (tests, benches).
    pub fn none() -> Self {
        Self { limit: None }
    }

    /// `budget` from now (a budget past what the clock can count is no limit).
    pub fn after(budget: Duration) -> Self {
        Self {
            limit: Instant::now().checked_add(budget).map(|end| (end, budget)),
        }
    }

    /// The budget the CPU stage gives each document: [`CPU_BUDGET`], unless the
    /// `cpu-budget-ms` failpoint sets another (for the tests).
    pub fn for_cpu_stage() -> Self {
        let budget = crate::failpoint::value("cpu-budget-ms")
            .and_then(|ms| ms.parse().ok())
            .map_or(CPU_BUDGET, Duration::from_millis);
        Self::after(budget)
    }

    /// `Err` once the deadline has passed.
    pub fn check(&self) -> Result<(), OverBudget> {
        match self.limit {
            Some((end, budget)) if Instant::now() >= end => Err(OverBudget { budget }),
            _ => Ok(()),
        }
    }
}

/// A document that took more than its budget to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "this document took more than {} to read; reading it was stopped so that it does not hold up other feeds (a feed this slow to read is broken or hostile)",
    Secs(*budget)
)]
pub struct OverBudget {
    pub budget: Duration,
}

/// `5 s`, `1.5 s`, `300 ms`.
struct Secs(Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms < 1000 {
            write!(f, "{ms} ms")
        } else if ms.is_multiple_of(1000) {
            write!(f, "{} s", ms / 1000)
        } else {
            write!(f, "{:.1} s", self.0.as_secs_f64())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_budget_fails_and_no_budget_never_does() {
        assert!(Deadline::none().check().is_ok());
        assert!(Deadline::after(Duration::from_secs(3600)).check().is_ok());
        let e = Deadline::after(Duration::ZERO).check().unwrap_err();
        assert_eq!(e.budget, Duration::ZERO);
        assert!(Deadline::after(Duration::MAX).check().is_ok());
    }

    #[test]
    fn the_message_names_the_budget() {
        let e = OverBudget { budget: CPU_BUDGET };
        assert!(
            e.to_string()
                .starts_with("this document took more than 5 s to read; "),
            "{e}"
        );
        let ms = OverBudget {
            budget: Duration::from_millis(300),
        };
        assert!(ms.to_string().contains("more than 300 ms"), "{ms}");
        let frac = OverBudget {
            budget: Duration::from_millis(1500),
        };
        assert!(frac.to_string().contains("more than 1.5 s"), "{frac}");
    }
}
