//! The cluster's pure decisions: how long each kind of claim lasts, which bucket a host falls
//! in, which buckets a node should hold, and when a claim must be confirmed before acting on
//! it. No I/O: the SQL in `pg/` applies what these decide, and compares every lease against
//! the database's clock (`now()`), never a node's.

use std::time::Duration;

use siphasher::sip::SipHasher13;

/// Host buckets. Fixed, so that every node (and every version) puts a host in the same one;
/// 64 lets up to 64 nodes share the polling.
pub const BUCKETS: i32 = 64;

/// The bucket of a feed's host (compared case-insensitively, like the per-host limits).
/// A fixed-key SipHash: stable across runs, machines and Rust versions.
pub fn bucket_of(host: &str) -> i32 {
    use std::hash::Hasher;
    let mut h = SipHasher13::new_with_keys(0x6665_6564_7761_7463, 0x6862_7563_6b65_7473);
    h.write(host.to_ascii_lowercase().as_bytes());
    (h.finish() % BUCKETS as u64) as i32
}

/// The shortest lease a poll may get: the HTTP timeout and a margin to parse and write.
pub fn poll_lease_floor(timeout: Duration) -> Duration {
    timeout + (timeout / 2).min(Duration::from_secs(5))
}

/// How long one poll's claim of a feed lasts. The configured lease, but shorter than the
/// feed's interval, so that a dead node's feed comes due again before its next tick would
/// have; never shorter than [`poll_lease_floor`], so that a live poll is not taken over (a
/// feed polled more often than that just waits a little longer after a node dies).
pub fn poll_lease(lease: Duration, timeout: Duration, interval: Option<Duration>) -> Duration {
    let capped = match interval {
        Some(i) => lease.min(i * 3 / 4),
        None => lease,
    };
    capped.max(poll_lease_floor(timeout))
}

/// How long a delivery claim lasts: one send (the notifier's timeout) and its record. The
/// claim is confirmed and extended right before each message leaves, so this only has to
/// cover one message.
pub fn delivery_lease(lease: Duration, send_timeout: Duration) -> Duration {
    lease.max(send_timeout + send_timeout / 2)
}

/// How often a node beats its heartbeat, renews its buckets and the clusterer its role: three
/// times a lease, so that one late beat loses nothing.
pub fn heartbeat_every(lease: Duration) -> Duration {
    (lease / 3).max(Duration::from_millis(100))
}

/// Whether a claim taken `age` ago must be confirmed (and extended) before acting on it: a
/// poll that waited for its host's turn, or a node that was stopped, may have lost it.
pub fn needs_confirm(age: Duration, lease: Duration) -> bool {
    age >= lease / 4
}

/// One row of the bucket table, as a node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketRow {
    pub id: i32,
    pub owner: Option<String>,
    /// The lease has not expired (by the database's clock).
    pub live: bool,
}

/// What a node does with the buckets this round.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BucketPlan {
    /// Held and kept: their leases are extended.
    pub renew: Vec<i32>,
    /// Free (never held, released, or expired): taken.
    pub take: Vec<i32>,
    /// Held beyond this node's share: let go (they wait out the polls in flight first).
    pub release: Vec<i32>,
}

/// Each live node's share: the buckets divided as evenly as they go.
pub fn fair_share(live_nodes: usize) -> usize {
    let n = live_nodes.max(1);
    (BUCKETS as usize).div_ceil(n)
}

/// Which buckets `me` renews, takes and releases, given the table and how many nodes are
/// live (including `me`). A node keeps what it holds up to its share, gives back the rest,
/// and fills its share from the free buckets it ranks first. The ranking is a hash of
/// (node, bucket), so nodes that start together reach for different buckets instead of all
/// racing for bucket 0; the take itself is a conditional UPDATE, so a lost race is harmless.
pub fn plan_buckets(me: &str, rows: &[BucketRow], live_nodes: usize) -> BucketPlan {
    let share = fair_share(live_nodes);
    let mut held: Vec<i32> = rows
        .iter()
        .filter(|r| r.live && r.owner.as_deref() == Some(me))
        .map(|r| r.id)
        .collect();
    held.sort_by_key(|b| rank(me, *b));
    let mut plan = BucketPlan::default();
    if held.len() > share {
        plan.release = held.split_off(share);
    }
    let missing = share - held.len();
    plan.renew = held;
    let mut free: Vec<i32> = rows.iter().filter(|r| !r.live).map(|r| r.id).collect();
    free.sort_by_key(|b| rank(me, *b));
    free.truncate(missing);
    plan.take = free;
    plan.renew.sort_unstable();
    plan.take.sort_unstable();
    plan.release.sort_unstable();
    plan
}

fn rank(me: &str, bucket: i32) -> u64 {
    use std::hash::Hasher;
    let mut h = SipHasher13::new_with_keys(0x6e6f_6465, 0x7261_6e6b);
    h.write(me.as_bytes());
    h.write_i32(bucket);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(owners: &[(i32, Option<&str>, bool)]) -> Vec<BucketRow> {
        owners
            .iter()
            .map(|(id, o, live)| BucketRow {
                id: *id,
                owner: o.map(str::to_string),
                live: *live,
            })
            .collect()
    }

    fn table(owner: impl Fn(i32) -> (Option<&'static str>, bool)) -> Vec<BucketRow> {
        (0..BUCKETS)
            .map(|id| {
                let (o, live) = owner(id);
                BucketRow {
                    id,
                    owner: o.map(str::to_string),
                    live,
                }
            })
            .collect()
    }

    #[test]
    fn a_host_always_falls_in_the_same_bucket_whatever_its_case() {
        assert_eq!(bucket_of("News.Example.org"), bucket_of("news.example.org"));
        // Pinned: a change here moves every feed to another bucket on upgrade.
        let b = bucket_of("news.example.org");
        assert!((0..BUCKETS).contains(&b));
        assert_eq!(bucket_of("news.example.org"), b);
        let spread: std::collections::HashSet<i32> = (0..500)
            .map(|i| bucket_of(&format!("host{i}.example")))
            .collect();
        assert!(spread.len() > BUCKETS as usize * 9 / 10, "{}", spread.len());
    }

    #[test]
    fn a_poll_lease_outlasts_the_timeout_and_stays_under_the_interval() {
        let s = Duration::from_secs;
        // The default: 2 × 30 s + 15 s, well under a 15-minute interval.
        assert_eq!(poll_lease(s(75), s(30), Some(s(900))), s(75));
        // A feed polled every minute: three quarters of its interval.
        assert_eq!(poll_lease(s(75), s(30), Some(s(60))), s(45));
        // Every 20 s: never below the timeout and a margin, even if the interval is shorter.
        assert_eq!(poll_lease(s(75), s(30), Some(s(20))), s(35));
        assert_eq!(poll_lease(s(2), s(1), Some(s(60))), s(2));
        let ms = Duration::from_millis;
        assert_eq!(poll_lease(ms(1200), s(1), Some(s(60))), ms(1500));
        assert_eq!(poll_lease(s(75), s(30), None), s(75));
    }

    #[test]
    fn a_delivery_lease_covers_one_send() {
        let s = Duration::from_secs;
        assert_eq!(delivery_lease(s(75), s(30)), s(75));
        assert_eq!(delivery_lease(s(2), s(10)), s(15));
    }

    #[test]
    fn old_claims_are_confirmed_before_use() {
        let s = Duration::from_secs;
        assert!(!needs_confirm(s(1), s(60)));
        assert!(needs_confirm(s(15), s(60)));
        assert_eq!(heartbeat_every(s(60)), s(20));
    }

    #[test]
    fn a_lone_node_takes_every_bucket() {
        let plan = plan_buckets("a", &table(|_| (None, false)), 1);
        assert_eq!(plan.take.len(), BUCKETS as usize);
        assert!(plan.renew.is_empty() && plan.release.is_empty());
    }

    #[test]
    fn three_nodes_share_the_buckets_and_a_newcomer_gets_its_share_from_releases() {
        // a holds everything; b and c arrived.
        let t = table(|_| (Some("a"), true));
        let a = plan_buckets("a", &t, 3);
        assert_eq!(a.renew.len(), 22);
        assert_eq!(a.release.len(), 42);
        // b sees nothing free until a releases (released buckets wait out a's polls).
        assert!(plan_buckets("b", &t, 3).take.is_empty());
        let t = table(|id| {
            if a.renew.contains(&id) {
                (Some("a"), true)
            } else {
                (None, false)
            }
        });
        let b = plan_buckets("b", &t, 3);
        assert_eq!(b.take.len(), 22);
        let c = plan_buckets("c", &t, 3);
        assert_eq!(c.take.len(), 22);
        // Different nodes reach for mostly different free buckets first.
        let overlap = b.take.iter().filter(|x| c.take.contains(x)).count();
        assert!(overlap < 15, "{overlap}");
    }

    #[test]
    fn buckets_of_a_node_whose_lease_expired_are_free_and_live_ones_of_others_are_not() {
        let t = rows(&[
            (0, Some("dead"), false),
            (1, Some("b"), true),
            (2, None, false),
            (3, Some("a"), true),
        ]);
        let plan = plan_buckets("a", &t, 2);
        assert_eq!(plan.renew, [3]);
        assert!(!plan.take.contains(&1), "b's live bucket is not taken");
        assert!(plan.take.iter().all(|b| [0, 2].contains(b)));
        assert_eq!(plan.take.len(), 2);
        // An expired bucket that says it is mine is not renewed: it is taken again (a new epoch).
        let t = rows(&[(0, Some("a"), false)]);
        assert_eq!(
            plan_buckets("a", &t, 1),
            BucketPlan {
                renew: vec![],
                take: vec![0],
                release: vec![]
            }
        );
    }
}
