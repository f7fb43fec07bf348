//! What `feedwatch nodes` (and the PostgreSQL section of `feedwatch status`) shows: every
//! node that has run against the database, whether it is alive, the host buckets it holds,
//! whether it is the clusterer, and the claims in flight.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::pg::{self, client};
use crate::config::ClusterConfig;

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

/// Read the cluster's state (the function `feedwatch status` calls for its PostgreSQL part).
pub async fn cluster_view(cfg: &ClusterConfig) -> anyhow::Result<ClusterView> {
    let pool = pg::connect(cfg, 2)?;
    let c = client(&pool).await?;
    let schema_version = pg::schema::version(&c).await?;
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

/// The view as lines for a terminal (the caller escapes and prints them).
pub fn lines(v: &ClusterView, now: DateTime<Utc>) -> Vec<String> {
    let mut out = vec![format!(
        "{} (schema {}): {} live node(s), {} free bucket(s), {} item(s) waiting for a story, {} alert(s) pending",
        v.database,
        v.schema_version,
        v.nodes.iter().filter(|n| n.live).count(),
        v.free_buckets,
        v.pending_items,
        v.pending_alerts
    )];
    for n in &v.nodes {
        let ago = (now - n.last_heartbeat).num_milliseconds().max(0) as f64 / 1000.0;
        let state = match (n.live, n.stopped) {
            (true, _) => "live",
            (false, Some(_)) => "stopped",
            (false, None) => "silent",
        };
        out.push(format!(
            "  {:<32} {:<7} heartbeat {:.1}s ago  buckets {:>2}  polling {:>3}{}",
            n.id,
            state,
            ago,
            n.buckets,
            n.polls_in_flight,
            if n.leader { "  clusterer" } else { "" }
        ));
    }
    out
}
