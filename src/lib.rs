//! feedwatch: polls news feeds, stores every item once, groups stories and alerts on topics.
//!
//! The modules follow the pipeline (DESIGN.md §1):
//! [`config`] → [`scheduler`] (in-memory schedule; [`schedule`]: when a feed is next due;
//! [`limits`]: which due poll starts next) → [`fetch`] (async HTTP; [`netguard`]: where it
//! may connect) → [`prepare`] (the CPU
//! stage: [`parse`], text, [`identity`], topic matching) → [`store`] (one writer thread:
//! items, stories, outbox) → [`notify`] (dispatcher and notifiers; [`alert`]: what an alert
//! says). [`poll`] is one poll of
//! one feed through those stages, [`feed_state`] what a poll does to a feed; [`daemon`] wires
//! them into the service, with [`control`] for the CLI to reach it, [`http`] and [`metrics`]
//! for health and metrics, and [`logging`] for where the log goes.

pub mod alert;
pub mod cluster;
pub mod config;
pub mod control;
pub mod daemon;
pub mod failpoint;
pub mod feed_state;
pub mod fetch;
pub mod hints;
pub mod http;
pub mod identity;
pub mod limits;
pub mod logfmt;
pub mod logging;
pub mod metrics;
pub mod netguard;
pub mod notify;
pub mod opml;
pub mod parse;
pub mod poll;
pub mod prepare;
pub mod schedule;
pub mod scheduler;
pub mod store;
pub mod stories;
pub mod text;
pub mod topics;
