//! Several feedwatch nodes on one PostgreSQL database (`database = "postgres://…"`).
//!
//! What each node decides, and how they stay out of each other's way:
//! - **Polls are leased.** A node claims due feeds of the host buckets it holds; the claim
//!   moves the feed's `next_poll` to the lease's end (a dead node's feeds come due again by
//!   themselves), and the poll's result is written only if the claim is still the node's
//!   (owner and epoch: a node that lost it drops its result). See [`pg::feeds`].
//! - **Hosts are leased in buckets** ([`lease::bucket_of`]), so one node polls all of a host's
//!   feeds and the per-host limits, spacing and Retry-After stay exact; buckets are shared
//!   evenly among live nodes ([`lease::plan_buckets`]).
//! - **One clusterer** (a lease row, elected and renewed like the rest) gives new items their
//!   story with the same in-memory index as SQLite and turns their matches into alerts
//!   ([`clusterer`]).
//! - **The outbox is shared**: alert uids are unique, delivery claims rows with a lease and
//!   acks them with the claim's epoch ([`pg::outbox`]).
//!
//! The node's loop ([`node`]) reuses the stages: `Poller` (fetch, CPU stage, `feed_state`),
//! `schedule::next_poll`, `limits::Admission`, and the notifiers' `Dispatcher`. The pure
//! decisions are in [`lease`].

pub mod clusterer;
pub mod copy;
pub mod lease;
pub mod node;
pub mod pg;
pub mod scratch;
pub mod status;
