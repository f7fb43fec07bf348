//! Whole-system benchmark: N generated feeds served over HTTP from loopback addresses, polled
//! by the real binary twice (first sweep: every item new; second: every feed answers 304), then
//! the daemon left idle on them.
//!
//!   cargo bench --bench sweep                        # 1,000 × 50 and 10,000 × 20
//!   cargo bench --bench sweep -- --feeds 1000 --items 50 [--topics 3] [--hosts 16] [--idle 20]
//!
//! Reports first-sweep items/s and feeds/s, second-sweep wall time, peak RSS and CPU time of
//! each `poll`, database bytes per item, and the idle daemon's RSS and context switches.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A small deterministic generator, so every run serves the same feeds.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[(self.next() % words.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "government",
    "minister",
    "talks",
    "agreement",
    "security",
    "economy",
    "markets",
    "shares",
    "election",
    "parliament",
    "president",
    "officials",
    "said",
    "on",
    "the",
    "in",
    "of",
    "and",
    "to",
    "a",
    "after",
    "before",
    "week",
    "statement",
    "foreign",
    "trade",
    "energy",
    "prices",
    "oil",
    "gas",
    "exports",
    "military",
    "border",
    "aid",
    "humanitarian",
    "crisis",
    "summit",
    "leaders",
    "meeting",
    "visit",
    "cooperation",
    "partnership",
    "strategic",
    "report",
    "new",
    "state",
    "media",
    "sources",
    "according",
    "analysts",
    "growth",
    "inflation",
    "central",
    "bank",
    "rates",
    "vote",
    "court",
    "ruling",
    "protest",
    "police",
    "city",
    "region",
    "north",
    "south",
    "coast",
    "storm",
    "flood",
    "rescue",
    "team",
    "match",
    "league",
    "season",
    "coach",
];
const NAMES: &[&str] = &[
    "China",
    "Beijing",
    "Russia",
    "Moscow",
    "Lavrov",
    "Ukraine",
    "Kyiv",
    "Iran",
    "Tehran",
    "Gaza",
    "Israel",
    "Washington",
    "Brussels",
    "Paris",
    "Berlin",
    "Tokyo",
    "Delhi",
    "Brazil",
    "Turkey",
    "Ankara",
    "Korea",
    "Pyongyang",
    "United Nations",
    "NATO",
    "OPEC",
    "IMF",
];

/// A vocabulary the size of a news desk's: 4,000 made-up words of 2–4 syllables, the common
/// function words first. Text drawn from a few dozen words would make every item look like a
/// copy of every other, which real news text does not.
fn vocabulary() -> Vec<String> {
    const SYLLABLES: &[&str] = &[
        "ba", "ko", "ri", "tel", "man", "sor", "vi", "den", "la", "pro", "gu", "nes", "ta", "ber",
        "mi", "cal", "do", "ran", "se", "fu", "lin", "ho", "ster", "pa", "qui", "zen", "mo", "tra",
    ];
    let mut v: Vec<String> = WORDS.iter().map(|w| w.to_string()).collect();
    let mut r = Rng(0xC0FF_EE00_1234_5678);
    while v.len() < 4000 {
        let n = 2 + (r.next() % 3) as usize;
        let w: String = (0..n).map(|_| r.pick(SYLLABLES)).collect();
        v.push(w);
    }
    v
}

fn sentence(r: &mut Rng, vocab: &[String], words: usize) -> String {
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(' ');
        }
        if r.next().is_multiple_of(60) {
            s.push_str(r.pick(NAMES));
        } else {
            // Zipf-like: the first words of the vocabulary are by far the most frequent.
            let u = (r.next() % 1_000_000) as f64 / 1_000_000.0;
            s.push_str(&vocab[(u.powi(3) * vocab.len() as f64) as usize]);
        }
    }
    s
}

/// An RSS 2.0 document shaped like a news site's: titles, links, guids, dates, HTML summaries.
fn feed_body(feed: usize, items: usize, host: &str, vocab: &[String]) -> String {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15 ^ (feed as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>Outlet {feed}</title><link>http://{host}/</link><description>News</description>\n"
    );
    for i in 0..items {
        let title = sentence(&mut r, vocab, 9);
        let mut desc = String::new();
        for _ in 0..2 {
            desc.push_str("&lt;p&gt;");
            desc.push_str(&sentence(&mut r, vocab, 40));
            desc.push_str(".&lt;/p&gt;");
        }
        // Dates spread over the last two days, as a busy news feed's are.
        let hours = (i * 48) / items.max(1);
        out.push_str(&format!(
            "<item><title>{title}</title><link>http://{host}/news/{feed}/{i}.html</link>\
             <guid isPermaLink=\"false\">outlet-{feed}-item-{i}</guid>\
             <pubDate>{}</pubDate><description>{desc}</description></item>\n",
            (chrono::Utc::now() - chrono::Duration::hours(hours as i64)).to_rfc2822()
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

struct Served {
    bodies: HashMap<String, (Arc<Vec<u8>>, String)>,
}

/// Answer one HTTP/1.1 connection (keep-alive): GET of a feed (304 when the ETag matches),
/// POST of an alert (200).
async fn serve(stream: TcpStream, served: Arc<Served>) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        if read.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let (mut inm, mut length) = (None, 0usize);
        loop {
            line.clear();
            if read.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "if-none-match" => inm = Some(v.trim().to_string()),
                    "content-length" => length = v.trim().parse().unwrap_or(0),
                    _ => {}
                }
            }
        }
        if length > 0 {
            let mut body = vec![0; length];
            read.read_exact(&mut body).await?;
        }
        let path = target.split('?').next().unwrap_or("");
        match (method.as_str(), served.bodies.get(path)) {
            ("GET", Some((body, etag))) if inm.as_deref() == Some(etag.as_str()) => {
                write
                    .write_all(
                        format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\n\r\n").as_bytes(),
                    )
                    .await?
            }
            ("GET", Some((body, etag))) => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=UTF-8\r\n\
                     Content-Length: {}\r\nETag: {etag}\r\nLast-Modified: Tue, 01 Dec 2026 08:00:00 GMT\r\n\r\n",
                    body.len()
                );
                write.write_all(head.as_bytes()).await?;
                write.write_all(body).await?;
            }
            ("POST", _) => {
                write
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                    .await?
            }
            _ => {
                write
                    .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                    .await?
            }
        }
    }
}

/// Serve `feeds` generated feeds, spread over `hosts` loopback addresses (127.0.0.1, .2, …):
/// feedwatch's per-host limit then applies as it would across real publishers.
fn start_server(
    feeds: usize,
    items: usize,
    hosts: usize,
) -> (Vec<SocketAddr>, tokio::runtime::Runtime) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("server runtime");
    let listeners: Vec<std::net::TcpListener> = (0..hosts)
        .map(|h| {
            let l = std::net::TcpListener::bind(format!("127.0.0.{}:0", h + 1)).expect("bind");
            l.set_nonblocking(true).expect("nonblocking");
            l
        })
        .collect();
    let addrs: Vec<SocketAddr> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
    let mut bodies = HashMap::new();
    let vocab = vocabulary();
    for f in 0..feeds {
        let host = addrs[f % hosts].to_string();
        bodies.insert(
            format!("/feeds/{f}.xml"),
            (
                Arc::new(feed_body(f, items, &host, &vocab).into_bytes()),
                format!("\"f{f}-v1\""),
            ),
        );
    }
    let served = Arc::new(Served { bodies });
    for l in listeners {
        let served = Arc::clone(&served);
        rt.spawn(async move {
            let l = TcpListener::from_std(l).expect("listener");
            while let Ok((s, _)) = l.accept().await {
                tokio::spawn(serve(s, Arc::clone(&served)));
            }
        });
    }
    (addrs, rt)
}

fn write_config(dir: &Path, addrs: &[SocketAddr], feeds: usize, topics: usize) -> PathBuf {
    let mut c = String::from("[daemon]\ndatabase = \"feedwatch.db\"\nschedule = \"0 0 1 1 *\"\n\n");
    for f in 0..feeds {
        c.push_str(&format!(
            "[[feed]]\nname = \"feed-{f}\"\nurl = \"http://{}/feeds/{f}.xml\"\n",
            addrs[f % addrs.len()]
        ));
    }
    let base = [
        "(China OR Beijing) AND (Russia OR Moscow OR Lavrov) -sponsored",
        "sanction* AND (Iran OR Russia OR \"North Korea\")",
        "\"United Nations\" (vote OR resolution)",
    ];
    let mut r = Rng(42);
    for t in 0..topics {
        let q = if t < base.len() {
            base[t].to_string()
        } else {
            // Analysts' topics rarely match: each generated one has hits on its names and
            // words in most items (so the matcher evaluates it), but also needs a word no
            // item carries, so the run measures ingest rather than alert delivery.
            format!(
                "({} OR {}) {} -{} rare{t}",
                r.pick(NAMES),
                r.pick(NAMES),
                r.pick(WORDS),
                r.pick(WORDS)
            )
        };
        c.push_str(&format!(
            "[[topic]]\nname = \"t{t}\"\nquery = '{q}'\nnotify = [\"hook\"]\n"
        ));
    }
    c.push_str(&format!(
        "[[notifier]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://{}/hook\"\n",
        addrs[0]
    ));
    let path = dir.join("feedwatch.toml");
    std::fs::write(&path, c).expect("config");
    path
}

struct Run {
    wall: Duration,
    max_rss_kib: i64,
    cpu: Duration,
    ok: bool,
}

/// Run the binary to completion and read its resource usage (wait4 gives this child's own).
#[allow(clippy::zombie_processes)] // reaped by wait4 below, which std cannot do
fn run(bin: &Path, config: &Path, args: &[&str]) -> Run {
    let start = Instant::now();
    let child = Command::new(bin)
        .arg("--config")
        .arg(config)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn feedwatch");
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: waiting on our own child with valid pointers.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    Run {
        wall,
        max_rss_kib: usage.ru_maxrss,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        ok: r == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
    }
}

fn items_in(db: &Path) -> i64 {
    rusqlite::Connection::open(db)
        .and_then(|c| c.query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0)))
        .unwrap_or(0)
}

fn alerts_in(db: &Path) -> i64 {
    rusqlite::Connection::open(db)
        .and_then(|c| c.query_row("SELECT COUNT(*) FROM alerts", [], |r| r.get(0)))
        .unwrap_or(0)
}

fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// RSS and context switches (all threads) of a running process.
fn proc_stats(pid: u32) -> (u64, u64) {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0);
    let mut switches = 0;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("status")) {
                for l in s.lines() {
                    if l.starts_with("voluntary_ctxt_switches:")
                        || l.starts_with("nonvoluntary_ctxt_switches:")
                    {
                        switches += l
                            .split_whitespace()
                            .nth(1)
                            .and_then(|n| n.parse::<u64>().ok())
                            .unwrap_or(0);
                    }
                }
            }
        }
    }
    (rss, switches)
}

/// The idle daemon on the swept database: RSS once settled, and context switches in `window`.
fn idle(bin: &Path, config: &Path, window: Duration) -> (u64, u64) {
    let mut child = Command::new(bin)
        .arg("--config")
        .arg(config)
        .arg("run")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn daemon");
    std::thread::sleep(Duration::from_secs(3));
    let (_, before) = proc_stats(child.id());
    std::thread::sleep(window);
    let (rss, after) = proc_stats(child.id());
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    (rss, after.saturating_sub(before))
}

/// The server runs in a child process of its own: Linux counts the RSS a process had before
/// `exec` in its child's peak RSS, so serving from this process would inflate every figure.
fn spawn_server(
    feeds: usize,
    items: usize,
    hosts: usize,
) -> (Vec<SocketAddr>, std::process::Child) {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .args([
            "--serve",
            &feeds.to_string(),
            &items.to_string(),
            &hosts.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().expect("server stdout")),
        &mut line,
    )
    .expect("server addresses");
    let addrs = line
        .split_whitespace()
        .map(|a| a.parse().expect("address"))
        .collect();
    (addrs, child)
}

fn bench(bin: &Path, feeds: usize, items: usize, topics: usize, hosts: usize, idle_secs: u64) {
    let (addrs, mut server) = spawn_server(feeds, items, hosts);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), &addrs, feeds, topics);
    let db = dir.path().join("feedwatch.db");
    let first = run(bin, &config, &["poll"]);
    let stored = items_in(&db);
    let second = run(bin, &config, &["poll"]);
    let db_bytes = file_size(&db) + file_size(&dir.path().join("feedwatch.db-wal"));
    let mib = |k: i64| k as f64 / 1024.0;
    println!("\n== {feeds} feeds × {items} items, {topics} topics, {hosts} hosts ==");
    println!(
        "first sweep:  {:>7.2} s  {:>8.0} items/s  {:>7.0} feeds/s  peak RSS {:>6.1} MiB  CPU {:>6.2} s  {}",
        first.wall.as_secs_f64(),
        stored as f64 / first.wall.as_secs_f64(),
        feeds as f64 / first.wall.as_secs_f64(),
        mib(first.max_rss_kib),
        first.cpu.as_secs_f64(),
        if first.ok && stored == (feeds * items) as i64 {
            "ok"
        } else {
            "INCOMPLETE"
        }
    );
    println!(
        "second sweep: {:>7.3} s  (all 304)  peak RSS {:>6.1} MiB  CPU {:>6.2} s  {}",
        second.wall.as_secs_f64(),
        mib(second.max_rss_kib),
        second.cpu.as_secs_f64(),
        if second.ok { "ok" } else { "FAILED" }
    );
    println!(
        "database:     {:.1} MiB, {:.0} bytes/item ({stored} items, {} alerts delivered)",
        db_bytes as f64 / 1048576.0,
        db_bytes as f64 / stored.max(1) as f64,
        alerts_in(&db)
    );
    if idle_secs > 0 {
        let (rss, switches) = idle(bin, &config, Duration::from_secs(idle_secs));
        println!(
            "idle daemon:  RSS {:.1} MiB, {switches} context switches in {idle_secs} s",
            rss as f64 / 1024.0
        );
    }
    let _ = std::io::stdout().flush();
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
        let n = |k: usize| args.get(i + k).and_then(|v| v.parse().ok()).unwrap_or(1);
        let (addrs, rt) = start_server(n(1), n(2), n(3));
        let list: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
        println!("{}", list.join(" "));
        let _ = std::io::stdout().flush();
        rt.block_on(std::future::pending::<()>());
        return;
    }
    // `cargo bench` passes `--bench`; a plain `cargo test` of benches passes nothing: only
    // run when asked to bench.
    if !args.iter().any(|a| a == "--bench") {
        return;
    }
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_feedwatch"));
    let topics = get("--topics").unwrap_or(3);
    let hosts = get("--hosts").unwrap_or(16);
    let idle_secs = get("--idle").unwrap_or(20) as u64;
    match (get("--feeds"), get("--items")) {
        (Some(f), Some(i)) => bench(&bin, f, i, topics, hosts, idle_secs),
        _ => {
            bench(&bin, 1000, 50, topics, hosts, 0);
            bench(&bin, 10_000, 20, topics, hosts, idle_secs);
        }
    }
}
