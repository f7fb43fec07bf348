//! feedwatch: polls news feeds, stores every item once, groups stories and alerts on topics.
//!
//! The modules follow the pipeline (DESIGN.md §1):
//! [`config`] → [`schedule`] → [`fetch`] → [`parse`] → [`identity`] → [`store`] (ingest,
//! stories, topic matching, outbox) → [`notify`] (dispatcher and notifiers). [`daemon`] wires
//! them into the long-running service; [`poll`] is one poll of one feed, start to finish.

pub mod config;
pub mod daemon;
pub mod fetch;
pub mod identity;
pub mod notify;
pub mod parse;
pub mod poll;
pub mod schedule;
pub mod store;
pub mod stories;
pub mod topics;
