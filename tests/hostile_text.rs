//! Hostile text stays text: escape sequences, C1 controls and bidirectional overrides in what
//! a feed sends (titles, summaries, authors, categories, guids, the feed's title, the words a
//! parse error quotes) never reach stdout or the log raw, and a title in the log cannot plant
//! a `key=value` field of its own.

mod common;

use common::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Characters that act on a terminal or reorder a line, as found in `s` (line feeds, which
/// every output here uses to separate its own lines, and tabs, which separate the fields of a
/// piped table — a tab inside a value is shown as `\t` — aside).
fn raw_hostile(s: &str) -> Vec<char> {
    s.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

fn assert_clean(what: &str, bytes: &[u8]) {
    let s = String::from_utf8_lossy(bytes);
    let found = raw_hostile(&s);
    assert!(found.is_empty(), "{what} carries {found:?} raw:\n{s}");
}

/// A terminal title change, a screen clear, colour, a C1 CSI, DEL and a right-to-left
/// override, as a publisher could put them in any text field.
const BAIT: &str = "\u{1b}]0;owned\u{7}\u{1b}[2J\u{1b}[31m\u{9b}1m\u{7f}\u{202e}";

/// The seed story with the bait in every text field a reader sees, raw (as a broken or
/// hostile publisher sends it) and as character references in the HTML summary.
fn hostile_rss() -> String {
    let title = format!("China Emphasises{BAIT} Strategic Partnership With Russia\" injected=yes");
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel>\
         <title>World{BAIT} Desk\u{2066}</title><link>https://outlet.example/</link>\
         <item><title>{title}</title><link>https://outlet.example/a\u{202e}b</link>\
         <guid isPermaLink=\"false\">id{BAIT}-1</guid><author>desk@outlet.example (Ed\u{9b}31m{BAIT})</author>\
         <category>World{BAIT}</category><pubDate>Tue, 01 Apr 2025 09:30:00 GMT</pubDate>\
         <description>&lt;p&gt;Lavrov in Beijing &amp;#x1b;[2J&amp;#27;]0;t&amp;#7; {BAIT} talks.&lt;/p&gt;</description>\
         </item></channel></rss>"
    )
}

/// A document no repair fixes, whose error quotes a tag name carrying a right-to-left
/// override and isolate (a name ends at a control character, so those cannot be in it).
fn broken_xml() -> String {
    "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>\
     <it\u{202e}em\u{2066}><title>x</title></channel></rss>"
        .to_string()
}

async fn publisher() -> MockServer {
    let s = MockServer::start().await;
    for (route, body) in [("/hostile", hostile_rss()), ("/broken", broken_xml())] {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "application/rss+xml")
                    .set_body_string(body),
            )
            .mount(&s)
            .await;
    }
    s
}

fn config(server: &MockServer) -> String {
    format!(
        r#"[daemon]
database = "feedwatch.db"
schedule = "0 0 1 1 *"

[[feed]]
name = "hostile"
url = "{uri}/hostile"

[[feed]]
name = "broken"
url = "{uri}/broken"

[[topic]]
name = "china-russia"
query = '{TOPIC}'
notify = ["journal"]

[[notifier]]
name = "journal"
kind = "log"
"#,
        uri = server.uri()
    )
}

/// `line` with its quoted values taken out: what is left are the names, the `=` signs and
/// bare values. A field planted by feed text would show up here.
fn outside_quotes(line: &str) -> String {
    let (mut out, mut quoted, mut escaped) = (String::new(), false, false);
    for c in line.chars() {
        match (quoted, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (_, false, '"') => quoted = !quoted,
            (false, _, c) => out.push(c),
            (true, false, _) => {}
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_feed_text_never_reaches_stdout_or_the_log_raw() {
    let server = publisher().await;
    let env = Env::new(&config(&server));

    let out = env
        .command(&["poll", "--json"])
        .env("RUST_LOG", "debug")
        .output()
        .expect("run feedwatch");
    assert_clean("poll --json", &out.stdout);
    assert_clean("the log", &out.stderr);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("summary");
    let log = String::from_utf8_lossy(&out.stderr);

    // The text is still there, cleaned: the item was stored and matched, the error says why.
    let broken = summary["feeds"]
        .as_array()
        .and_then(|f| f.iter().find(|r| r["name"] == "broken"))
        .expect("broken feed's report");
    let error = broken["error"].as_str().expect("an error");
    assert!(
        error.contains("unclosed <item>"),
        "the error quotes the document: {error}"
    );
    assert_eq!(summary["alerts_sent"], 1, "{summary}");

    // The alert's log line quotes the title: its `"` and `injected=yes` stay inside.
    let alert = log
        .lines()
        .find(|l| l.contains("feedwatch::alert"))
        .unwrap_or_else(|| panic!("no alert line in the log:\n{log}"));
    assert!(
        alert.contains(" title=\"[china-russia] China Emphasises"),
        "{alert}"
    );
    let bare = outside_quotes(alert);
    assert!(bare.contains(" title="), "{bare}");
    assert!(
        !bare.contains("injected"),
        "the title planted a field: {alert}"
    );

    for args in [
        &["items", "--json"][..],
        &["items"],
        &["feeds", "--json"],
        &["feeds"],
        &["stories", "--json"],
        &["stories"],
        &["alerts", "--json"],
        &["alerts"],
    ] {
        let out = env.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_clean(&format!("{args:?}"), &out.stdout);
        assert_clean(&format!("{args:?} (stderr)"), &out.stderr);
    }
    let item = &env.json(&["items", "--json"])[0];
    assert_eq!(
        item["title"],
        "China Emphasises]0;owned[2J[31m1m Strategic Partnership With Russia\" injected=yes"
    );
    assert!(
        item["guid"]
            .as_str()
            .is_some_and(|g| g.starts_with("id]0;owned")),
        "{item}"
    );
}

/// A database written before text was cleaned (or by any other means) still holds raw
/// escapes: the terminal output must show them as escapes, not act on them.
#[tokio::test(flavor = "multi_thread")]
async fn text_stored_raw_is_escaped_on_the_terminal() {
    let server = publisher().await;
    let env = Env::new(&config(&server));
    env.run(&["poll"]);
    {
        let db = rusqlite::Connection::open(env.db_path()).expect("open the database");
        let raw = format!("Old{BAIT} title\n    forged line");
        db.execute("UPDATE items SET title = ?1", [&raw])
            .expect("items");
        db.execute("UPDATE stories SET title = ?1", [&raw])
            .expect("stories");
        db.execute("UPDATE feeds SET error = ?1", [&raw])
            .expect("feeds");
    }
    for args in [&["items"][..], &["stories"], &["feeds"]] {
        let out = env.run(args);
        assert!(out.status.success(), "{args:?}");
        assert_clean(&format!("{args:?}"), &out.stdout);
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(shown.contains("Old\\u{1b}]0;owned"), "{args:?}: {shown}");
        assert!(!shown.contains("\n    forged line"), "{args:?}: {shown}");
    }
}
