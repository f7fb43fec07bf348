//! What `feedwatch nodes` and `feedwatch status` show of a cluster: every node that has run
//! against the database, whether it is alive, the host buckets it holds, whether it is the
//! clusterer, and the claims in flight; `status` adds the configured feeds by state, the
//! polling activity and the outbox per notifier, as it shows them for SQLite.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::pg::{self, client};
use crate::config::{ClusterConfig, Config};
use crate::store::fmt_time;
use crate::store::queries::{Activity, OutboxDepth};

/// One row of `nodes --json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeView {
    /// `name:pid:start`: one per process run.
    pub id: String,
    pub name: String,
    pub pid: i32,
    pub version: String,
    pub started: DateTime<Utc>,
    pub last_heartbeat: DateTime<Utc>,
    /// A heartbeat within the lease and no clean stop.
    pub live: bool,
    pub stopped: Option<DateTime<Utc>>,
    /// Host buckets whose lease this node holds now.
    pub buckets: i64,
    /// Feeds it has claimed whose lease runs.
    pub polls_in_flight: i64,
    /// Whether it holds the clusterer's role.
    pub leader: bool,
}

/// The cluster as the database sees it (`nodes` of the last day, live ones first).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClusterView {
    pub database: String,
    pub schema_version: usize,
    pub nodes: Vec<NodeView>,
    /// Host buckets nobody holds now.
    pub free_buckets: i64,
    pub pending_items: i64,
    pub pending_alerts: i64,
}

/// Read the cluster's state (`feedwatch nodes`).
pub async fn cluster_view(cfg: &ClusterConfig) -> anyhow::Result<ClusterView> {
    let pool = pg::connect(cfg, 2)?;
    let c = client(&pool).await?;
    view_on(&c, cfg).await
}

async fn view_on(c: &tokio_postgres::Client, cfg: &ClusterConfig) -> anyhow::Result<ClusterView> {
    let schema_version = pg::schema::version(c).await?;
    if schema_version == 0 {
        anyhow::bail!(
            "{} has no feedwatch schema yet: `feedwatch migrate` creates it (or start a node)",
            cfg.url
        );
    }
    let lease_ms = cfg.lease.as_millis() as f64;
    let rows = c
        .query(
            "SELECT n.id, n.name, n.pid, n.version, n.started, n.heartbeat, n.stopped,
                    n.stopped IS NULL AND n.heartbeat > now() - $1 * interval '1 ms',
                    (SELECT COUNT(*) FROM buckets b WHERE b.owner = n.id AND b.lease_until > now()),
                    (SELECT COUNT(*) FROM feeds f WHERE f.lease_owner = n.id AND f.lease_until > now()),
                    EXISTS (SELECT 1 FROM leases l WHERE l.name = 'clusterer' AND l.owner = n.id AND l.lease_until > now())
             FROM nodes n WHERE n.heartbeat > now() - interval '1 day'
             ORDER BY 8 DESC, n.name, n.started DESC",
            &[&lease_ms],
        )
        .await?;
    let nodes = rows
        .iter()
        .map(|r| {
            Ok(NodeView {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                pid: r.try_get(2)?,
                version: r.try_get(3)?,
                started: r.try_get(4)?,
                last_heartbeat: r.try_get(5)?,
                stopped: r.try_get(6)?,
                live: r.try_get(7)?,
                buckets: r.try_get(8)?,
                polls_in_flight: r.try_get(9)?,
                leader: r.try_get(10)?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let counts = c
        .query_one(
            "SELECT (SELECT COUNT(*) FROM buckets WHERE lease_until <= now()),
                    (SELECT COUNT(*) FROM items WHERE story_id IS NULL),
                    (SELECT COUNT(*) FROM alerts WHERE status = 'pending')",
            &[],
        )
        .await?;
    Ok(ClusterView {
        database: cfg.url.clone(),
        schema_version,
        nodes,
        free_buckets: counts.try_get(0)?,
        pending_items: counts.try_get(1)?,
        pending_alerts: counts.try_get(2)?,
    })
}

/// What `feedwatch status --json` shows of a cluster.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    /// What `feedwatch nodes --json` shows.
    pub cluster: ClusterView,
    /// The configured feeds by state (`ok`, `failing`, `gone`, `new`); a feed no node has
    /// recorded yet is `new`.
    pub feeds: BTreeMap<String, i64>,
    pub activity: Activity,
    /// Pending and failed alerts per notifier (notifiers with neither are left out).
    pub outbox: Vec<OutboxDepth>,
    /// The configured feeds that are failing or gone.
    pub failing: Vec<FailingFeed>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailingFeed {
    pub name: String,
    pub state: String,
    pub error: Option<String>,
    pub consecutive_errors: i32,
    pub last_ok: Option<String>,
}

/// Read the cluster's state and the counts `feedwatch status` shows, over one connection.
pub async fn cluster_status(cfg: &Config) -> anyhow::Result<ClusterStatus> {
    let cluster =
        cfg.daemon.cluster.as_ref().ok_or_else(|| {
            anyhow::anyhow!("{} names no PostgreSQL database", cfg.path.display())
        })?;
    let pool = pg::connect(cluster, 2)?;
    let c = client(&pool).await?;
    let view = view_on(&c, cluster).await?;
    let names: Vec<&str> = cfg.feeds.iter().map(|f| f.name.as_str()).collect();
    let mut feeds: BTreeMap<String, i64> = ["ok", "failing", "gone", "new"]
        .iter()
        .map(|s| (s.to_string(), 0))
        .collect();
    let mut recorded = 0;
    for r in c
        .query(
            "SELECT state, COUNT(*) FROM feeds WHERE name = ANY($1) GROUP BY state",
            &[&names],
        )
        .await?
    {
        let n: i64 = r.try_get(1)?;
        recorded += n;
        *feeds.entry(r.try_get(0)?).or_insert(0) += n;
    }
    *feeds.entry("new".into()).or_insert(0) += names.len() as i64 - recorded;
    let failing = c
        .query(
            "SELECT name, state, error, consecutive_errors, last_ok FROM feeds
             WHERE name = ANY($1) AND state IN ('failing', 'gone') ORDER BY name",
            &[&names],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(FailingFeed {
                name: r.try_get(0)?,
                state: r.try_get(1)?,
                error: r.try_get(2)?,
                consecutive_errors: r.try_get(3)?,
                last_ok: r.try_get::<_, Option<DateTime<Utc>>>(4)?.map(fmt_time),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let a = c
        .query_one(
            "SELECT (SELECT COUNT(*) FROM feeds WHERE last_poll >= now() - interval '1 hour'),
                    (SELECT COUNT(*) FROM feeds WHERE last_poll >= now() - interval '1 day'),
                    (SELECT COUNT(*) FROM items WHERE first_seen >= now() - interval '1 hour'),
                    (SELECT COUNT(*) FROM items WHERE first_seen >= now() - interval '1 day'),
                    (SELECT MAX(last_poll) FROM feeds),
                    (SELECT MAX(first_seen) FROM items)",
            &[],
        )
        .await?;
    let activity = Activity {
        feeds_polled_last_hour: a.try_get(0)?,
        feeds_polled_last_day: a.try_get(1)?,
        new_items_last_hour: a.try_get(2)?,
        new_items_last_day: a.try_get(3)?,
        last_poll: a.try_get::<_, Option<DateTime<Utc>>>(4)?.map(fmt_time),
        last_new_item: a.try_get::<_, Option<DateTime<Utc>>>(5)?.map(fmt_time),
    };
    let outbox = c
        .query(
            "SELECT notifier, COUNT(*) FILTER (WHERE status = 'pending'),
                    COUNT(*) FILTER (WHERE status = 'failed'),
                    MIN(created) FILTER (WHERE status = 'pending')
             FROM alerts WHERE status IN ('pending', 'failed') GROUP BY notifier ORDER BY notifier",
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(OutboxDepth {
                notifier: r.try_get(0)?,
                pending: r.try_get(1)?,
                failed: r.try_get(2)?,
                oldest_pending: r.try_get::<_, Option<DateTime<Utc>>>(3)?.map(fmt_time),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(ClusterStatus {
        cluster: view,
        feeds,
        activity,
        outbox,
        failing,
    })
}

/// The first line of the view: the database and what the cluster holds in common.
pub fn summary(v: &ClusterView) -> String {
    let leader = v
        .nodes
        .iter()
        .find(|n| n.leader)
        .map_or("none".to_string(), |n| n.id.clone());
    format!(
        "{} (schema {}): {} live node(s), {} free bucket(s), clusterer {leader}, {} item(s) waiting for a story, {} alert(s) pending",
        v.database,
        v.schema_version,
        v.nodes.iter().filter(|n| n.live).count(),
        v.free_buckets,
        v.pending_items,
        v.pending_alerts
    )
}

/// One node as a line: id, state, heartbeat age, buckets held, polls in flight, clusterer.
pub fn node_line(n: &NodeView, now: DateTime<Utc>) -> String {
    let ago = (now - n.last_heartbeat).num_milliseconds().max(0) as f64 / 1000.0;
    let state = match (n.live, n.stopped) {
        (true, _) => "live",
        (false, Some(_)) => "stopped",
        (false, None) => "silent",
    };
    format!(
        "{:<32} {:<7} heartbeat {:.1}s ago  buckets {:>2}  polling {:>3}{}",
        n.id,
        state,
        ago,
        n.buckets,
        n.polls_in_flight,
        if n.leader { "  clusterer" } else { "" }
    )
}

/// The view as lines for a terminal (the caller escapes and prints them).
pub fn lines(v: &ClusterView, now: DateTime<Utc>) -> Vec<String> {
    let mut out = vec![summary(v)];
    out.extend(v.nodes.iter().map(|n| format!("  {}", node_line(n, now))));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, live: bool, stopped: bool, leader: bool, at: DateTime<Utc>) -> NodeView {
        NodeView {
            id: id.into(),
            name: id.split(':').next().unwrap_or(id).into(),
            pid: 7,
            version: "0".into(),
            started: at,
            last_heartbeat: at,
            live,
            stopped: stopped.then_some(at),
            buckets: if live { 32 } else { 0 },
            polls_in_flight: 3,
            leader,
        }
    }

    #[test]
    fn a_node_reads_as_live_stopped_or_silent_with_its_buckets_and_role() {
        let at = Utc::now();
        let now = at + chrono::Duration::milliseconds(1500);
        let live = node_line(&node("n1:7:1", true, false, true, at), now);
        assert!(live.starts_with("n1:7:1 "), "{live}");
        assert!(live.contains("live"), "{live}");
        assert!(live.contains("heartbeat 1.5s ago"), "{live}");
        assert!(live.contains("buckets 32"), "{live}");
        assert!(live.ends_with("clusterer"), "{live}");
        let stopped = node_line(&node("n2:8:1", false, true, false, at), now);
        assert!(stopped.contains("stopped"), "{stopped}");
        assert!(!stopped.contains("clusterer"), "{stopped}");
        let silent = node_line(&node("n3:9:1", false, false, false, at), now);
        assert!(silent.contains("silent"), "{silent}");
    }

    #[test]
    fn the_summary_names_the_clusterer_or_none() {
        let at = Utc::now();
        let mut v = ClusterView {
            database: "postgres://db/feedwatch".into(),
            schema_version: 1,
            nodes: vec![
                node("n1:7:1", true, false, false, at),
                node("n2:8:1", true, false, true, at),
                node("n3:9:1", false, true, false, at),
            ],
            free_buckets: 0,
            pending_items: 4,
            pending_alerts: 2,
        };
        let s = summary(&v);
        assert!(s.contains("2 live node(s)"), "{s}");
        assert!(s.contains("clusterer n2:8:1"), "{s}");
        assert!(s.contains("4 item(s) waiting"), "{s}");
        v.nodes[1].leader = false;
        assert!(summary(&v).contains("clusterer none"));
        assert_eq!(lines(&v, at).len(), 4);
    }
}
