//! Three feedwatch nodes on one PostgreSQL (a scratch server started with initdb/pg_ctl in a
//! temporary directory) and six feed hosts on loopback addresses. One node is killed with
//! SIGKILL, another stopped with SIGSTOP past its lease and resumed. Then: no feed was polled
//! twice within its interval (except one re-poll after a lease that expired), no host ever
//! had more requests at once than `per_host`, every expected alert arrived, no (story, topic,
//! notifier) carried two ids, and a new clusterer took over within its lease.
//!
//! Skips (passing, with a message) only when the PostgreSQL server binaries are absent;
//! `.ci/install-test-deps` installs them.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::Env;
use common::receiver::{answer, receiver};
use feedwatch::cluster::scratch::ScratchPostgres;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers};

const HOSTS: usize = 6;
const FEEDS: usize = 12;
/// Stories go to the feeds with the same remainder: three feeds on three hosts each.
const GROUPS: usize = 4;
/// A new story every STEP; none after LAST.
const STEP: Duration = Duration::from_millis(2500);
const LAST: usize = 9;
/// Every feed is polled every 3 s; the lease is 2 s.
const INTERVAL: Duration = Duration::from_secs(3);
const LEASE: Duration = Duration::from_secs(2);
/// How long a feed server takes to answer: polls of one host overlap if nothing limits them.
const DELAY: Duration = Duration::from_millis(300);

/// The feed servers' log: (arrival, wall-clock arrival, host index, feed index).
type Log = Arc<Mutex<Vec<(Instant, SystemTime, usize, usize)>>>;

struct FeedServer {
    host: usize,
    start: Instant,
    log: Log,
}

impl Respond for FeedServer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let feed: usize = request
            .url
            .path()
            .trim_start_matches("/f")
            .trim_end_matches(".xml")
            .parse()
            .unwrap_or(usize::MAX);
        self.log
            .lock()
            .unwrap()
            .push((Instant::now(), SystemTime::now(), self.host, feed));
        let published = (self.start.elapsed().as_millis() / STEP.as_millis()) as usize;
        let stories: Vec<usize> = (0..=published.min(LAST))
            .filter(|j| j % GROUPS == feed % GROUPS)
            .collect();
        ResponseTemplate::new(200)
            .set_delay(DELAY)
            .insert_header("content-type", "application/rss+xml")
            .set_body_string(rss(feed, &stories))
    }
}

/// Words that make each story its own: different stories must not look like copies.
const WORDS: [&str; 40] = [
    "harbour",
    "wheat",
    "pipeline",
    "satellite",
    "election",
    "glacier",
    "tariff",
    "vaccine",
    "railway",
    "drought",
    "refinery",
    "orchestra",
    "festival",
    "copper",
    "fishery",
    "bridge",
    "cathedral",
    "typhoon",
    "museum",
    "lithium",
    "turbine",
    "airport",
    "forest",
    "currency",
    "stadium",
    "reactor",
    "vineyard",
    "canal",
    "library",
    "volcano",
    "shipyard",
    "archive",
    "telescope",
    "mountain",
    "factory",
    "island",
    "border",
    "treaty",
    "cotton",
    "summit",
];

/// Story `j`'s words: a sequence of its own, so that no two stories look like copies.
fn words(j: usize, n: usize) -> String {
    let mut x = (j as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            WORDS[(x % WORDS.len() as u64) as usize]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn rss(feed: usize, stories: &[usize]) -> String {
    let mut items = String::new();
    for &j in stories {
        let odd = if j % 2 == 1 { " oddstory" } else { "" };
        items.push_str(&format!(
            "<item><title>Lavrov on {}</title>\
             <link>https://wire.example/2026/world/story-{j}</link><guid isPermaLink=\"false\">outlet{feed}-s{j}</guid>\
             <description>{}{odd}.</description></item>",
            words(j, 5),
            words(j + 1000, 40),
        ));
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Outlet {feed}</title><link>https://outlet{feed}.example/</link><description>d</description>{items}</channel></rss>"#
    )
}

fn config(node: &str, url: &str, hosts: &[String], hook: &str) -> String {
    let mut c = format!(
        r#"[daemon]
database = "{url}"
schedule = "*/3 * * * * *"
concurrency = 4
per_host = 1
timeout = "1s"
connect_timeout = "1s"
alert_backoff = "1s"

[cluster]
node = "{node}"
lease = "2s"

[[notifier]]
name = "hook"
kind = "webhook"
url = "{hook}"

[[topic]]
name = "lavrov"
query = "Lavrov"
notify = ["hook"]

[[topic]]
name = "odd"
query = "oddstory"
notify = ["hook"]
"#
    );
    for f in 0..FEEDS {
        c.push_str(&format!(
            "\n[[feed]]\nname = \"outlet{f}\"\nurl = \"{}/f{f}.xml\"\n",
            hosts[f % HOSTS]
        ));
    }
    c
}

async fn db(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the scratch database");
    tokio::spawn(conn);
    client
}

/// The clusterer's holder (node id, pid), if its lease runs.
async fn leader(c: &tokio_postgres::Client) -> Option<(String, i32)> {
    c.query_opt(
        "SELECT n.id, n.pid FROM leases l JOIN nodes n ON n.id = l.owner
         WHERE l.name = 'clusterer' AND l.lease_until > now()",
        &[],
    )
    .await
    .unwrap()
    .map(|r| (r.get(0), r.get(1)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_the_feeds_survive_a_kill_and_a_stop_and_alert_once_per_story() {
    let Some(pg) = ScratchPostgres::start().expect("starting a scratch PostgreSQL") else {
        eprintln!(
            "SKIPPED: PostgreSQL server binaries not found (apt-get install postgresql-15, or set PG_BIN)"
        );
        return;
    };
    let url = pg.create_db("cluster").unwrap();
    let start = Instant::now();
    let log: Log = Arc::default();
    let mut servers: Vec<MockServer> = Vec::new();
    let mut hosts = Vec::new();
    for h in 0..HOSTS {
        let listener = std::net::TcpListener::bind(format!("127.0.0.{}:0", h + 2)).unwrap();
        let server = MockServer::builder().listener(listener).start().await;
        Mock::given(matchers::method("GET"))
            .respond_with(FeedServer {
                host: h,
                start,
                log: Arc::clone(&log),
            })
            .mount(&server)
            .await;
        hosts.push(server.uri());
        servers.push(server);
    }
    let (hook, deliveries) = receiver(|_| answer(200)).await;

    let envs: Vec<Env> = ["n1", "n2", "n3"]
        .iter()
        .map(|n| Env::new(&config(n, &url, &hosts, &format!("{}/hook", hook.uri()))))
        .collect();
    let migrated = envs[0].run(&["migrate"]);
    assert!(migrated.status.success(), "{migrated:?}");
    let mut nodes: Vec<Option<common::Daemon>> =
        envs.iter().map(|e| Some(e.spawn_daemon())).collect();
    let c = db(&url).await;

    // Let the cluster settle and deliver, then kill the clusterer.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (old_leader, pid) = leader(&c).await.expect("a clusterer is elected");
    let victim = nodes
        .iter()
        .position(|n| n.as_ref().is_some_and(|d| d.child.id() as i32 == pid))
        .expect("the clusterer is one of our nodes");
    let killed_at = Instant::now();
    let mut dead = nodes[victim].take().unwrap();
    dead.signal("KILL");
    dead.wait_exit(Duration::from_secs(5));
    let new_leader = loop {
        match leader(&c).await {
            Some((id, _)) if id != old_leader => break id,
            _ => {}
        }
        assert!(
            killed_at.elapsed() < LEASE * 3,
            "no new clusterer {:?} after the old one was killed",
            killed_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let takeover = killed_at.elapsed();
    // The lease, plus one heartbeat of the node that takes over, plus scheduling slack.
    assert!(
        takeover <= LEASE + LEASE / 3 + Duration::from_millis(700),
        "takeover took {takeover:?}"
    );

    // Stop another node past its lease, then let it go on.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stopped = (0..3).find(|&i| i != victim && nodes[i].is_some()).unwrap();
    nodes[stopped].as_ref().unwrap().signal("STOP");
    tokio::time::sleep(LEASE * 5 / 2).await;
    nodes[stopped].as_ref().unwrap().signal("CONT");

    // Every story (two topics for the odd ones) reaches the receiver.
    let expected: BTreeSet<(usize, String)> = (0..=LAST)
        .flat_map(|j| {
            let mut v = vec![(j, "lavrov".to_string())];
            if j % 2 == 1 {
                v.push((j, "odd".to_string()));
            }
            v
        })
        .collect();
    let received = |deliveries: &common::receiver::Recorder| {
        let mut by: BTreeMap<(usize, String), BTreeSet<String>> = BTreeMap::new();
        for (_, body) in deliveries.delivered() {
            let link = body["item"]["url"].as_str().unwrap_or_default();
            let j: usize = link.rsplit("story-").next().unwrap().parse().unwrap();
            by.entry((j, body["topic"].as_str().unwrap().to_string()))
                .or_default()
                .insert(body["id"].as_str().unwrap().to_string());
        }
        by
    };
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let got = received(&deliveries);
        if expected.iter().all(|k| got.contains_key(k)) {
            break;
        }
        if Instant::now() > deadline {
            let missing: Vec<_> = expected.iter().filter(|k| !got.contains_key(*k)).collect();
            let logs: String = nodes
                .iter()
                .flatten()
                .map(|d| d.log_text())
                .collect::<Vec<_>>()
                .join("\n-----\n");
            let state = c
                .query(
                    "SELECT 'alerts ' || status || ' ' || COALESCE(claimed_by, '-'), COUNT(*) FROM alerts GROUP BY 1
                     UNION ALL SELECT 'pending_alerts', COUNT(*) FROM pending_alerts
                     UNION ALL SELECT 'unassigned items', COUNT(*) FROM items WHERE story_id IS NULL
                     UNION ALL SELECT 'lease ' || COALESCE(owner, '-') || ' ' || (lease_until > now())::text, epoch FROM leases",
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| format!("{}: {}", r.get::<_, String>(0), r.get::<_, i64>(1)))
                .collect::<Vec<_>>();
            panic!("alerts missing: {missing:?}\ndatabase: {state:#?}\n{logs}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Polls go on for a while after the last alert, with everything settled.
    tokio::time::sleep(INTERVAL * 2).await;
    for n in nodes.iter_mut().flatten() {
        n.signal("TERM");
    }
    for n in nodes.iter_mut().flatten() {
        n.wait_exit(Duration::from_secs(15));
    }

    // No (story, topic, notifier) ever carried two ids: every receipt of one story and topic
    // has one id (the same id again is an allowed retry).
    for (k, ids) in received(&deliveries) {
        assert_eq!(
            ids.len(),
            1,
            "story {} topic {} came with ids {ids:?}",
            k.0,
            k.1
        );
    }
    let split: i64 = c
        .query_one(
            "SELECT COUNT(*) FROM (SELECT canonical_url FROM items GROUP BY canonical_url
             HAVING COUNT(DISTINCT story_id) > 1) t",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(split, 0, "copies of one story landed in several stories");
    let unassigned: i64 = c
        .query_one("SELECT COUNT(*) FROM items WHERE story_id IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(unassigned, 0);

    // Polls: at most one per period of the feed's schedule (its cron ticks, every 3 s, plus
    // the feed's jitter), except once after a lease expired (the stopped or killed node's
    // request in flight, and the node that took the feed over). A feed whose polls were
    // missed while its bucket changed hands is polled at once, then at its next tick: two
    // periods, no double poll.
    let log = log.lock().unwrap().clone();
    let mut by_feed: HashMap<usize, Vec<SystemTime>> = HashMap::new();
    for (_, at, _, feed) in &log {
        by_feed.entry(*feed).or_default().push(*at);
    }
    assert_eq!(by_feed.len(), FEEDS, "every feed was polled");
    let mut repolls = 0;
    for (feed, times) in &by_feed {
        let jitter = feedwatch::schedule::jitter(&format!("outlet{feed}"), INTERVAL).as_millis();
        let mut periods: BTreeMap<u128, usize> = BTreeMap::new();
        for t in times {
            let ms = t.duration_since(UNIX_EPOCH).unwrap().as_millis();
            *periods
                .entry((ms - jitter) / INTERVAL.as_millis())
                .or_default() += 1;
        }
        // The first poll comes at start, not at a tick: its period may hold the first tick too.
        let first = *periods.keys().next().unwrap();
        let doubled: Vec<(u128, usize)> = periods
            .iter()
            .filter(|(p, n)| **p != first && **n > 1)
            .map(|(p, n)| (*p, *n))
            .collect();
        assert!(
            doubled.len() <= 1 && doubled.iter().all(|(_, n)| *n == 2),
            "feed {feed} polled more than once within a period: {doubled:?}"
        );
        repolls += doubled.len();
        assert!(
            times.len() >= 5,
            "feed {feed} polled only {} times",
            times.len()
        );
    }
    eprintln!(
        "{} polls, {repolls} re-polls after an expired lease, takeover in {takeover:?} by {new_leader}",
        log.len()
    );

    // Per host, one request at a time (per_host = 1): each answer takes DELAY.
    for h in 0..HOSTS {
        let mut times: Vec<Instant> = log
            .iter()
            .filter(|(_, _, host, _)| *host == h)
            .map(|(t, _, _, _)| *t)
            .collect();
        times.sort();
        for w in times.windows(2) {
            assert!(
                w[1] - w[0] >= DELAY - Duration::from_millis(30),
                "host {h}: two requests {:?} apart while per_host = 1",
                w[1] - w[0]
            );
        }
    }
    drop(servers);
}
