//! The cluster on PostgreSQL, on this machine (a scratch server started with initdb/pg_ctl):
//! leased claims per second, and an all-304 sweep of many feeds by three nodes next to one
//! SQLite node.
//!
//!   cargo bench --bench cluster                       # 20,000 claims, 100,000-feed sweep
//!   cargo bench --bench cluster -- --feeds 20000 --claims 5000 --hosts 64 --nodes 3
//!
//! Numbers, and the machine they were measured on: docs/scale-out.md, *Numbers*.
//!
//! Claims: a database of due feeds, claimed 64 at a time by one node holding every bucket,
//! then by three nodes holding a third each, then claimed and recorded (the fenced state write
//! of a 304). Sweep: feeds on `hosts` loopback addresses answering 304 to a matching ETag;
//! SQLite: `feedwatch poll` twice, the second timed; cluster: three `feedwatch run` nodes do the
//! first sweep, then every feed is made due at once and the second sweep is timed until every
//! feed has recorded its poll.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use feedwatch::cluster::lease::{BUCKETS, BucketPlan};
use feedwatch::cluster::pg::feeds::{SyncRow, apply_buckets, claim_due, sync_feeds};
use feedwatch::cluster::pg::ingest::complete_poll;
use feedwatch::cluster::pg::{self, client};
use feedwatch::cluster::scratch::ScratchPostgres;
use feedwatch::config::ClusterConfig;
use feedwatch::store::PollOutcome;
use feedwatch::store::queries::FeedSync;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn feeds_sync(n: usize, hosts: usize) -> Vec<FeedSync> {
    (0..n)
        .map(|i| FeedSync {
            name: format!("feed-{i}"),
            url: format!("http://127.0.0.{}:8/feeds/{i}.xml", i % hosts + 1),
            schedule: "0 0 1 1 *|UTC".into(),
            next_tick: Utc::now() + chrono::Duration::days(300),
        })
        .collect()
}

fn cluster_config(url: &str, node: &str) -> ClusterConfig {
    let mut c: feedwatch::config::Config = feedwatch::config::parse(
        Path::new("/bench/feedwatch.toml"),
        &format!("[daemon]\ndatabase = \"{url}\"\n[cluster]\nnode = \"{node}\"\nlease = \"60s\"\n"),
        feedwatch::config::Secrets::Skip,
    )
    .expect("bench config");
    c.daemon.cluster.take().expect("cluster")
}

/// Claims per second: one claimer, three claimers, and claim + fenced record.
async fn claims(url: &str, n: usize, hosts: usize) {
    let cfg = cluster_config(url, "bench");
    let pool = pg::connect(&cfg, 8).unwrap();
    pg::migrate(&pool).await.unwrap();
    let mut c = client(&pool).await.unwrap();
    let list = feeds_sync(n, hosts);
    let rows: Vec<SyncRow> = list
        .iter()
        .map(|f| SyncRow {
            feed: f,
            poll_lease: Duration::from_secs(60),
        })
        .collect();
    let t = Instant::now();
    sync_feeds(&mut c, &rows).await.unwrap();
    println!(
        "sync:          {n} feeds recorded in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let hold = |owner: &dyn Fn(i32) -> String| {
        let pool = pool.clone();
        let owners: Vec<(i32, String)> = (0..BUCKETS).map(|b| (b, owner(b))).collect();
        async move {
            let c = client(&pool).await.unwrap();
            c.batch_execute("UPDATE buckets SET owner = NULL, lease_until = '-infinity'")
                .await
                .unwrap();
            for (b, o) in owners {
                let plan = BucketPlan {
                    take: vec![b],
                    ..Default::default()
                };
                apply_buckets(&c, &o, &plan, Duration::from_secs(3600), Duration::ZERO)
                    .await
                    .unwrap();
            }
        }
    };
    let reset = || {
        let pool = pool.clone();
        async move {
            client(&pool)
                .await
                .unwrap()
                .batch_execute(
                    "UPDATE feeds SET next_poll = now(), lease_owner = NULL, lease_until = NULL",
                )
                .await
                .unwrap();
        }
    };

    hold(&|_| "n0".to_string()).await;
    let c = client(&pool).await.unwrap();
    let t = Instant::now();
    let mut claimed = 0;
    loop {
        let got = claim_due(&c, "n0", 64, &[]).await.unwrap().len();
        if got == 0 {
            break;
        }
        claimed += got;
    }
    let one = claimed as f64 / t.elapsed().as_secs_f64();
    println!("claims:        {claimed} by one node, 64 a claim: {one:>8.0} claims/s");

    reset().await;
    hold(&|b| format!("n{}", b % 3)).await;
    let t = Instant::now();
    let tasks: Vec<_> = (0..3)
        .map(|k| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let c = client(&pool).await.unwrap();
                let mut n = 0;
                loop {
                    let got = claim_due(&c, &format!("n{k}"), 64, &[])
                        .await
                        .unwrap()
                        .len();
                    if got == 0 {
                        return n;
                    }
                    n += got;
                }
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    let three = total as f64 / t.elapsed().as_secs_f64();
    println!("claims:        {total} by three nodes at once:  {three:>8.0} claims/s");

    reset().await;
    hold(&|_| "n0".to_string()).await;
    let mut c = client(&pool).await.unwrap();
    let t = Instant::now();
    let mut recorded = 0;
    loop {
        let batch = claim_due(&c, "n0", 64, &[]).await.unwrap();
        if batch.is_empty() {
            break;
        }
        for cl in batch {
            let mut state = cl.state.clone();
            state.last_poll = Some(Utc::now());
            state.next_poll = Some(Utc::now() + chrono::Duration::days(300));
            let outcome = PollOutcome {
                state,
                ..Default::default()
            };
            complete_poll(&mut c, "n0", cl.epoch, &outcome)
                .await
                .unwrap();
            recorded += 1;
        }
    }
    println!(
        "claim+record:  {recorded} (one connection):     {:>8.0} polls/s",
        recorded as f64 / t.elapsed().as_secs_f64()
    );
}

const WORDS: [&str; 32] = [
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
];

/// `n` words drawn from a sequence seeded by `seed`: a text of its own per feed.
fn words(seed: &str, n: usize) -> String {
    let mut x = seed.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }) | 1;
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

/// Answer feed requests: 304 to a matching ETag, else a one-item feed.
async fn serve(stream: tokio::net::TcpStream) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        if read.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut inm = None;
        loop {
            line.clear();
            if read.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.trim().eq_ignore_ascii_case("if-none-match")
            {
                inm = Some(v.trim().to_string());
            }
        }
        let etag = format!(
            "\"{}\"",
            path.len() * 31 + path.bytes().map(usize::from).sum::<usize>()
        );
        if inm.as_deref() == Some(etag.as_str()) {
            write
                .write_all(format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\n\r\n").as_bytes())
                .await?;
        } else {
            // Texts of their own: copies would all be candidates of one another for the
            // story index, which is not what 100,000 outlets publish.
            let text = words(&path, 30);
            let body = format!(
                "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{path}</title><link>http://x.example/</link><description>d</description>\
                 <item><title>{}</title><link>http://x.example{path}/1</link><guid>{path}-1</guid><description>{text}.</description></item></channel></rss>",
                words(&format!("{path}#title"), 6)
            );
            write
                .write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: {}\r\nETag: {etag}\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                )
                .await?;
        }
    }
}

fn serve_forever(hosts: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut addrs = Vec::new();
        for h in 0..hosts {
            let l = tokio::net::TcpListener::bind(format!("127.0.0.{}:0", h + 1))
                .await
                .unwrap();
            addrs.push(l.local_addr().unwrap().to_string());
            tokio::spawn(async move {
                while let Ok((s, _)) = l.accept().await {
                    tokio::spawn(serve(s));
                }
            });
        }
        println!("{}", addrs.join(" "));
        let _ = std::io::stdout().flush();
        std::future::pending::<()>().await;
    });
}

fn write_config(
    dir: &Path,
    database: &str,
    node: Option<&str>,
    addrs: &[SocketAddr],
    n: usize,
) -> PathBuf {
    let mut c = format!(
        "[daemon]\ndatabase = \"{database}\"\nschedule = \"0 0 1 1 *\"\nconcurrency = 32\nper_host = 2\ntimeout = \"3s\"\n"
    );
    if let Some(node) = node {
        c.push_str(&format!("[cluster]\nnode = \"{node}\"\nlease = \"10s\"\n"));
    }
    for f in 0..n {
        c.push_str(&format!(
            "[[feed]]\nname = \"feed-{f}\"\nurl = \"http://{}/feeds/{f}.xml\"\n",
            addrs[f % addrs.len()]
        ));
    }
    let path = dir.join(format!("{}.toml", node.unwrap_or("sqlite")));
    std::fs::write(&path, c).unwrap();
    path
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_feedwatch"))
}

/// The peak resident memory of a running process (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The largest peak resident memory of the children waited for so far, in KiB.
fn children_peak_rss_kib() -> u64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) } != 0 {
        return 0;
    }
    u64::try_from(usage.ru_maxrss).unwrap_or(0)
}

fn timed_poll(config: &Path) -> Duration {
    let t = Instant::now();
    let out = Command::new(bin())
        .arg("--config")
        .arg(config)
        .arg("poll")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(out.success(), "feedwatch poll failed");
    t.elapsed()
}

async fn count(c: &tokio_postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).await.unwrap().get(0)
}

/// Wait until `sql` counts `n`, polling; how long it took.
async fn until(c: &tokio_postgres::Client, sql: &str, n: i64, limit: Duration) -> Duration {
    let t = Instant::now();
    while count(c, sql).await < n {
        assert!(t.elapsed() < limit, "sweep did not finish in {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    t.elapsed()
}

async fn sweep(pg: &ScratchPostgres, n: usize, hosts: usize, nodes: usize) {
    let mut server = Command::new(std::env::current_exe().unwrap())
        .args(["--serve", &hosts.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    let addrs: Vec<SocketAddr> = line
        .split_whitespace()
        .map(|a| a.parse().unwrap())
        .collect();
    let dir = tempfile::tempdir().unwrap();

    let db = dir.path().join("feedwatch.db");
    let sqlite = write_config(dir.path(), &db.to_string_lossy(), None, &addrs, n);
    let first = timed_poll(&sqlite);
    let second = timed_poll(&sqlite);
    println!(
        "sqlite, 1 node:   first sweep {:>6.2} s, all-304 sweep {:>6.2} s ({:>6.0} feeds/s), peak RSS {} MiB",
        first.as_secs_f64(),
        second.as_secs_f64(),
        n as f64 / second.as_secs_f64(),
        children_peak_rss_kib() / 1024
    );

    let url = pg.create_db(&format!("sweep{nodes}")).unwrap();
    let c = {
        let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        c
    };
    let configs: Vec<PathBuf> = (0..nodes)
        .map(|k| write_config(dir.path(), &url, Some(&format!("n{k}")), &addrs, n))
        .collect();
    let status = Command::new(bin())
        .arg("--config")
        .arg(&configs[0])
        .arg("migrate")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let t = Instant::now();
    let mut children: Vec<std::process::Child> = configs
        .iter()
        .map(|cfg| {
            Command::new(bin())
                .arg("--config")
                .arg(cfg)
                .arg("run")
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let all = n as i64;
    until(
        &c,
        "SELECT COUNT(*) FROM feeds WHERE last_ok IS NOT NULL",
        all,
        Duration::from_secs(1800),
    )
    .await;
    let first = t.elapsed();
    until(
        &c,
        "SELECT COUNT(*) FROM items WHERE story_id IS NOT NULL",
        all,
        Duration::from_secs(600),
    )
    .await;
    let assigned = t.elapsed();
    c.batch_execute("UPDATE feeds SET next_poll = now()")
        .await
        .unwrap();
    let mark: chrono::DateTime<Utc> = c.query_one("SELECT now()", &[]).await.unwrap().get(0);
    let t = Instant::now();
    let done = format!(
        "SELECT COUNT(*) FROM feeds WHERE last_poll >= '{}' AND http_status = 304",
        mark.to_rfc3339()
    );
    until(&c, &done, all, Duration::from_secs(1800)).await;
    let second = t.elapsed();
    let span: f64 = c
        .query_one(
            &format!(
                "SELECT EXTRACT(EPOCH FROM MAX(last_poll) - MIN(last_poll))::float8 FROM feeds WHERE last_poll >= '{}'",
                mark.to_rfc3339()
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    println!(
        "postgres, {nodes} node(s): first sweep {:>6.2} s (stories assigned at {:.2} s), all-304 sweep {:>6.2} s ({:>6.0} feeds/s; first to last poll {span:.2} s)",
        first.as_secs_f64(),
        assigned.as_secs_f64(),
        second.as_secs_f64(),
        n as f64 / second.as_secs_f64()
    );
    let rss: Vec<String> = children
        .iter()
        .map(|ch| format!("{} MiB", peak_rss_kib(ch.id()) / 1024))
        .collect();
    println!("postgres nodes' peak RSS: {}", rss.join(", "));
    for ch in &mut children {
        let _ = ch.kill();
        let _ = ch.wait();
    }
    let _ = server.kill();
    let _ = server.wait();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<usize>().ok())
    };
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        serve_forever(args.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or(16));
        return;
    }
    if !args.iter().any(|a| a == "--bench") {
        return;
    }
    let Some(pg) = ScratchPostgres::start().expect("scratch PostgreSQL") else {
        println!("SKIPPED: PostgreSQL server binaries not found (apt-get install postgresql-15)");
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hosts = get("--hosts").unwrap_or(64);
    rt.block_on(async {
        let url = pg.create_db("claims").unwrap();
        claims(&url, get("--claims").unwrap_or(20_000), hosts).await;
        let n = get("--feeds").unwrap_or(100_000);
        for nodes in get("--nodes").map_or(vec![3], |k| vec![k]) {
            sweep(&pg, n, hosts, nodes).await;
        }
    });
}
