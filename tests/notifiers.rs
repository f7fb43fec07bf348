//! Every notifier kind against a real receiver on 127.0.0.1: the HTTP kinds' requests checked
//! against each service's documented shape, email through a real SMTP server (Debian's
//! aiosmtpd), `exec` with a script, and `log`. The config checks are in `notifier_config.rs`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::receiver::{header, receiver};
use common::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const LINK: &str = "https://worldnewsdesk.blogspot.com/2025/04/china-emphasises-strategic.html";

async fn seed_feed() -> MockServer {
    let feeds = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/feed"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Type", "application/atom+xml")
                .set_body_string(blogger_atom(LINK)),
        )
        .mount(&feeds)
        .await;
    feeds
}

fn config(feed: &str, notify: &[&str], notifiers: &str) -> String {
    let notify: Vec<String> = notify.iter().map(|n| format!("\"{n}\"")).collect();
    format!(
        r#"[daemon]
database = "feedwatch.db"
schedule = "0 0 1 1 *"
alert_backoff = "100ms"

[[feed]]
name = "world-news-desk"
url = "{feed}/feed"

[[topic]]
name = "china-russia"
query = '{TOPIC}'
notify = [{}]

{notifiers}
"#,
        notify.join(", ")
    )
}

/// The uid of the alert each notifier got, from `alerts --json`.
fn uid_of(env: &Env, notifier: &str) -> String {
    let alerts = env.json(&["alerts", "--json"]);
    alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["notifier"] == notifier)
        .unwrap_or_else(|| panic!("no alert for {notifier}: {alerts}"))["uid"]
        .as_str()
        .unwrap()
        .to_string()
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test(flavor = "multi_thread")]
async fn each_http_kind_sends_its_services_documented_request() {
    let feeds = seed_feed().await;
    let (srv, rec) = receiver(|_| {
        (
            200,
            ResponseTemplate::new(200).set_body_json(json!({"ok": true, "event_id": "$e"})),
        )
    })
    .await;
    let base = srv.uri();
    let notifiers = format!(
        r#"
[[notifier]]
name = "hook"
kind = "webhook"
url = "{base}/hook"
secret = "topsecret"
headers = {{ X-Extra = "yes" }}

[[notifier]]
name = "phone"
kind = "ntfy"
url = "{base}"
topic = "world-alerts"
token = "tk_abc"
priority = "high"
tags = ["newspaper", "flag-cn"]

[[notifier]]
name = "team"
kind = "slack"
url = "{base}/services/T000/B000/XXXX"

[[notifier]]
name = "guild"
kind = "discord"
url = "{base}/api/webhooks/123/tok"

[[notifier]]
name = "room"
kind = "matrix"
url = "{base}"
room = "!newsroom:example.org"
token = {{ env = "FW_TEST_MATRIX_TOKEN" }}

[[notifier]]
name = "chat"
kind = "telegram"
url = "{base}"
token = "123456:ABC-DEF"
chat_id = -1001234
"#
    );
    let env = Env::new(&config(
        &feeds.uri(),
        &["hook", "phone", "team", "guild", "room", "chat"],
        &notifiers,
    ));
    let out = env
        .command(&["poll", "--json"])
        .env("FW_TEST_MATRIX_TOKEN", "mx_secret")
        .output()
        .unwrap();
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["alerts_sent"],
        6,
        "{summary}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    for secret in ["topsecret", "tk_abc", "mx_secret", "123456:ABC-DEF"] {
        assert!(
            !stderr.contains(secret),
            "secret {secret} in the log:\n{stderr}"
        );
    }

    let reqs = rec.requests();
    assert_eq!(reqs.len(), 6);
    let find = |p: &str| {
        reqs.iter()
            .map(|(_, r, _)| r)
            .find(|r| r.url.path().starts_with(p))
            .unwrap_or_else(|| panic!("no request to {p}"))
            .clone()
    };
    let body = |r: &wiremock::Request| -> Value { serde_json::from_slice(&r.body).unwrap() };

    // Webhook: the documented body, signed, with the alert id as Idempotency-Key.
    let r = find("/hook");
    let b = body(&r);
    assert_eq!(r.method.as_str(), "POST");
    assert_eq!(b["event"], "topic.match");
    assert_eq!(b["id"], uid_of(&env, "hook"));
    assert_eq!(header(&r, "Idempotency-Key"), uid_of(&env, "hook"));
    assert_eq!(
        header(&r, "X-Feedwatch-Signature"),
        hmac_hex("topsecret", &r.body)
    );
    assert_eq!(header(&r, "X-Extra"), "yes");
    assert_eq!(
        b["story"]["sources"],
        json!([{"feed": "world-news-desk", "url": LINK}])
    );

    // ntfy: JSON publishing to the server root.
    let r = reqs
        .iter()
        .map(|(_, r, _)| r)
        .find(|r| r.url.path() == "/")
        .unwrap()
        .clone();
    let b = body(&r);
    assert_eq!(r.method.as_str(), "POST");
    assert_eq!(header(&r, "Authorization"), "Bearer tk_abc");
    assert_eq!(header(&r, "Idempotency-Key"), uid_of(&env, "phone"));
    assert_eq!(b["topic"], "world-alerts");
    assert_eq!(b["title"], format!("[china-russia] {SEED_TITLE}"));
    assert_eq!(b["click"], LINK);
    assert_eq!(b["priority"], 4);
    assert_eq!(b["tags"], json!(["newspaper", "flag-cn"]));
    let msg = b["message"].as_str().unwrap();
    assert!(
        msg.starts_with("https://worldnewsdesk") || msg.contains("During a high-profile"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("Sources: world-news-desk ({LINK})")),
        "{msg}"
    );
    assert!(
        msg.contains("matched: China, Beijing, Russia, Lavrov"),
        "{msg}"
    );
    assert!(!msg.contains("<p>"), "plain text: {msg}");

    // Slack: an incoming-webhook body with mrkdwn links.
    let r = find("/services/T000/B000/XXXX");
    let text = body(&r)["text"].as_str().unwrap().to_string();
    assert!(
        text.starts_with(&format!("*<{LINK}|[china-russia] {SEED_TITLE}>*")),
        "{text}"
    );
    assert!(
        text.contains(&format!("<{LINK}|world-news-desk>")),
        "{text}"
    );
    assert_eq!(body(&r)["unfurl_links"], false);

    // Discord: one embed, no mentions.
    let r = find("/api/webhooks/123/tok");
    let b = body(&r);
    assert_eq!(b["allowed_mentions"], json!({"parse": []}));
    let embed = &b["embeds"][0];
    assert_eq!(embed["title"], format!("[china-russia] {SEED_TITLE}"));
    assert_eq!(embed["url"], LINK);
    assert!(
        embed["description"]
            .as_str()
            .unwrap()
            .contains(&format!("[world\\-news\\-desk]({LINK})")),
        "{embed}"
    );
    assert_eq!(
        embed["footer"]["text"],
        format!("feedwatch alert {}", uid_of(&env, "guild"))
    );

    // Matrix: PUT with the alert id as txnId, HTML and plain bodies.
    let uid = uid_of(&env, "room");
    let r = find("/_matrix/client/v3/rooms/");
    assert_eq!(r.method.as_str(), "PUT");
    assert_eq!(
        r.url.path(),
        format!("/_matrix/client/v3/rooms/!newsroom:example.org/send/m.room.message/{uid}")
    );
    assert_eq!(header(&r, "Authorization"), "Bearer mx_secret");
    let b = body(&r);
    assert_eq!(b["msgtype"], "m.text");
    assert_eq!(b["format"], "org.matrix.custom.html");
    assert!(
        b["body"]
            .as_str()
            .unwrap()
            .starts_with(&format!("[china-russia] {SEED_TITLE}"))
    );
    assert!(
        b["formatted_body"]
            .as_str()
            .unwrap()
            .contains(&format!("<a href=\"{LINK}\">world-news-desk</a>"))
    );

    // Telegram: sendMessage in HTML parse mode to the chat.
    let r = find("/bot123456:ABC-DEF/sendMessage");
    let b = body(&r);
    assert_eq!(b["chat_id"], -1001234);
    assert_eq!(b["parse_mode"], "HTML");
    let text = b["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!(
            "<b><a href=\"{LINK}\">[china-russia] {SEED_TITLE}</a></b>"
        )),
        "{text}"
    );
    assert!(
        text.contains("“most stable") || text.contains("During a high-profile"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_requests_are_permanent_and_say_why() {
    let feeds = seed_feed().await;
    let (srv, _rec) = receiver(|_| {
        (400, ResponseTemplate::new(400).set_body_json(json!({"ok": false, "error_code": 400, "description": "Bad Request: chat not found"})))
    })
    .await;
    let env = Env::new(&config(
        &feeds.uri(),
        &["chat"],
        &format!(
            "[[notifier]]\nname = \"chat\"\nkind = \"telegram\"\nurl = \"{}\"\ntoken = \"1:T\"\nchat_id = \"@nochannel\"\n",
            srv.uri()
        ),
    ));
    let summary = env.json(&["poll", "--json"]);
    assert_eq!(summary["alerts_failed"], 1, "{summary}");
    let alert = &env.json(&["alerts", "--json"])[0];
    assert_eq!(alert["status"], "failed");
    assert_eq!(
        alert["last_error"],
        "telegram answered HTTP 400 Bad Request: Bad Request: chat not found"
    );
}

/// `alerts --json`, or `[null]` while the daemon has not created the database yet.
fn alerts_if_any(env: &Env) -> Value {
    let out = env.run(&["alerts", "--json"]);
    match serde_json::from_slice::<Value>(&out.stdout) {
        Ok(v) if out.status.success() && !v.as_array().is_some_and(Vec::is_empty) => v,
        _ => json!([null]),
    }
}

/// A free port on 127.0.0.1 (bound and released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real SMTP server: Debian's aiosmtpd with a Maildir, run by Debian's own interpreter.
struct Smtp {
    child: std::process::Child,
    port: u16,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn smtp_server(maildir: &Path) -> Smtp {
    let python = "/usr/bin/python3";
    let ok = std::process::Command::new(python)
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "Debian's python3-aiosmtpd is needed (.ci/install-test-deps installs it)"
    );
    let port = free_port();
    let child = std::process::Command::new(python)
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(maildir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start aiosmtpd");
    let smtp = Smtp { child, port };
    eventually(Duration::from_secs(10), "aiosmtpd listening", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    smtp
}

/// The delivered messages, parsed by Python's email package: subject, ids, and the parts.
fn read_maildir(maildir: &Path) -> Vec<Value> {
    let script = r#"
import email, email.policy, json, mailbox, sys
out = []
parse = lambda f: email.message_from_binary_file(f, policy=email.policy.default)
for m in mailbox.Maildir(sys.argv[1], factory=parse, create=False):
    parts = [{"type": p.get_content_type(), "text": p.get_payload(decode=True).decode(p.get_content_charset() or "utf-8")}
             for p in m.walk() if not p.is_multipart()]
    out.append({"subject": str(m["Subject"]), "message_id": m["Message-ID"], "from": m["From"],
                "to": m["To"], "type": m.get_content_type(), "parts": parts})
print(json.dumps(out))
"#;
    let out = std::process::Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(maildir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn email_arrives_as_text_and_html_with_a_message_id_from_the_alert() {
    let feeds = seed_feed().await;
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("Maildir");
    let smtp = smtp_server(&maildir).await;
    let env = Env::new(&config(
        &feeds.uri(),
        &["mail", "tls-only"],
        &format!(
            r#"# smtp:// requires STARTTLS: it never falls back to sending in the clear.
[[notifier]]
name = "tls-only"
kind = "email"
smtp = "smtp://127.0.0.1:{0}"
from = "feedwatch@example.org"
to = ["analyst@example.org"]

[[notifier]]
name = "mail"
kind = "email"
smtp = "smtp+plain://127.0.0.1:{0}"
from = "Feedwatch <feedwatch@example.org>"
to = ["analyst@example.org", "Desk <desk@example.org>"]
subject_template = "{{{{ topic }}}}: {{{{ story.title }}}} ({{{{ sources | length }}}} outlet)"
"#,
            smtp.port
        ),
    ));
    let out = env.run(&["poll", "--json"]);
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["alerts_sent"], 1, "{summary}");
    let alerts = env.json(&["alerts", "--json"]);
    let refused = alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["notifier"] == "tls-only")
        .unwrap();
    assert_eq!(refused["status"], "pending");
    assert!(
        refused["last_error"].as_str().unwrap().contains("STARTTLS"),
        "{refused}"
    );
    let mails = read_maildir(&maildir);
    assert_eq!(mails.len(), 1, "{mails:?}");
    let m = &mails[0];
    let uid = uid_of(&env, "mail");
    assert_eq!(m["message_id"], format!("<feedwatch.{uid}@example.org>"));
    assert_eq!(
        m["subject"],
        format!("china-russia: {SEED_TITLE} (1 outlet)")
    );
    assert_eq!(m["type"], "multipart/alternative");
    assert!(m["to"].as_str().unwrap().contains("desk@example.org"));
    let part = |t: &str| {
        m["parts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["type"] == t)
            .unwrap()["text"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let text = part("text/plain");
    assert!(
        text.contains(LINK) && text.contains("During a high-profile"),
        "{text}"
    );
    assert!(text.contains("Sources: world-news-desk"), "{text}");
    assert!(text.contains(&format!("feedwatch alert {uid}")));
    let html = part("text/html");
    assert!(
        html.contains(&format!(
            "<h2><a href=\"{LINK}\">[china-russia] {SEED_TITLE}</a></h2>"
        )),
        "{html}"
    );
    assert!(html.contains("<li><a href="), "{html}");
    assert!(!html.contains("<script"), "{html}");
}

/// aiosmtpd requiring AUTH (LOGIN or PLAIN; allowed without TLS for this loopback test),
/// accepting one user and password and writing every attempt to `attempts` as a JSON line.
async fn smtp_server_with_auth(maildir: &Path, attempts: &Path) -> Smtp {
    let script = r#"
import json, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword
port, maildir, attempts = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def check(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login == b"alerts" and data.password == b"s3cret pw"
    login = data.login.decode() if isinstance(data, LoginPassword) else None
    with open(attempts, "a") as f:
        f.write(json.dumps({"mechanism": mechanism, "login": login, "ok": ok}) + "\n")
    return AuthResult(success=ok)
Controller(Mailbox(maildir), hostname="127.0.0.1", port=port, authenticator=check,
           auth_required=True, auth_require_tls=False).start()
while True:
    time.sleep(3600)
"#;
    let port = free_port();
    let child = std::process::Command::new("/usr/bin/python3")
        .args(["-c", script, &port.to_string()])
        .arg(maildir)
        .arg(attempts)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start aiosmtpd");
    let smtp = Smtp { child, port };
    eventually(Duration::from_secs(10), "aiosmtpd listening", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    smtp
}

#[tokio::test(flavor = "multi_thread")]
async fn email_logs_in_with_its_credentials_and_a_wrong_password_fails_the_alert() {
    let feeds = seed_feed().await;
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("Maildir");
    let attempts = dir.path().join("attempts.jsonl");
    let smtp = smtp_server_with_auth(&maildir, &attempts).await;
    std::fs::write(dir.path().join("wrong-password"), "not it\n").unwrap();
    // aiosmtpd stops answering after a refused login: the whole delivery's timeout ends it.
    let with_timeout = |c: String| c.replace("[daemon]\n", "[daemon]\ntimeout = \"2s\"\n");
    let env = Env::new(&with_timeout(config(
        &feeds.uri(),
        &["mail", "wrong"],
        &format!(
            r#"[[notifier]]
name = "mail"
kind = "email"
smtp = "smtp+plain://127.0.0.1:{0}"
from = "feedwatch@example.org"
to = ["analyst@example.org"]
username = "alerts"
password = "s3cret pw"

[[notifier]]
name = "wrong"
kind = "email"
smtp = "smtp+plain://127.0.0.1:{0}"
from = "feedwatch@example.org"
to = ["analyst@example.org"]
username = "alerts"
password = {{ file = "{1}" }}
"#,
            smtp.port,
            dir.path().join("wrong-password").display()
        ),
    )));
    let out = env.run(&["poll", "--json"]);
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["alerts_sent"], 1, "{summary}");
    let mails = read_maildir(&maildir);
    assert_eq!(
        mails.len(),
        1,
        "only the right password delivers: {mails:?}"
    );
    let seen: Vec<Value> = std::fs::read_to_string(&attempts)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        seen.iter()
            .any(|a| a["login"] == "alerts" && a["ok"] == true),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|a| a["login"] == "alerts" && a["ok"] == false),
        "{seen:?}"
    );
    let alerts = env.json(&["alerts", "--json"]);
    let refused = alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["notifier"] == "wrong")
        .unwrap();
    assert_ne!(refused["status"], "sent", "{refused}");
    let error = refused["last_error"].as_str().unwrap();
    assert!(
        error.contains("SMTP") && !error.contains("not it"),
        "the reason, never the password: {refused}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_gets_the_json_on_stdin_and_its_exit_status_and_timeout_count() {
    let feeds = seed_feed().await;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("notify.sh");
    // 1st run fails with status 3, the 2nd hangs past the timeout, the 3rd succeeds.
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
d="{}"
n=$(cat "$d/count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$d/count"
cat > "$d/in-$n.json"
echo "$1 $FEEDWATCH_EVENT $FEEDWATCH_ALERT_ID" > "$d/args-$n"
echo "run $n"
if [ "$n" -eq 1 ]; then echo "receiver said no" >&2; exit 3; fi
if [ "$n" -eq 2 ]; then sleep 30; fi
exit 0
"#,
            dir.path().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let env = Env::new(&config(
        &feeds.uri(),
        &["run"],
        &format!(
            "[[notifier]]\nname = \"run\"\nkind = \"exec\"\ncommand = [\"{}\", \"--flag\"]\ntimeout = \"700ms\"\n",
            script.display()
        ),
    ));
    let daemon = env.spawn_daemon();
    daemon
        .wait_for("the alert delivered on the third run", async || {
            alerts_if_any(&env)[0]["status"] == "sent"
        })
        .await;
    let alert = &env.json(&["alerts", "--json"])[0];
    assert_eq!(alert["attempts"], 3);
    let uid = alert["uid"].as_str().unwrap();
    let input: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("in-1.json")).unwrap())
            .unwrap();
    assert_eq!(input["event"], "topic.match");
    assert_eq!(input["id"], uid);
    assert_eq!(input["item"]["url"], LINK);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("args-3"))
            .unwrap()
            .trim(),
        format!("--flag topic.match {uid}")
    );
    let log = daemon.log_text();
    assert!(
        log.contains("exited with status 3: receiver said no"),
        "{log}"
    );
    assert!(log.contains("ran longer than 0.7s and was killed"), "{log}");
    assert!(log.contains("run 3"), "stdout goes to the log: {log}");
    assert!(!dir.path().join("in-4.json").exists(), "delivered once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_log_alert_counts_only_when_the_line_is_written() {
    let feeds = seed_feed().await;
    let cfg = config(
        &feeds.uri(),
        &["journal"],
        "[[notifier]]\nname = \"journal\"\nkind = \"log\"\n",
    );

    // The filter drops info: the line goes out at warn, and the alert is sent.
    let env = Env::new(&cfg);
    let out = env
        .command(&["poll", "--json"])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["alerts_sent"], 1, "{summary}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("WARN")
            && stderr.contains("feedwatch::alert")
            && stderr.contains(SEED_TITLE),
        "{stderr}"
    );

    // The filter drops the target entirely: the alert fails and says how to fix it.
    let env = Env::new(&cfg);
    let out = env
        .command(&["poll", "--json"])
        .env("RUST_LOG", "error,feedwatch::alert=off")
        .output()
        .unwrap();
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["alerts_failed"], 1, "{summary}");
    let alert = &env.json(&["alerts", "--json"])[0];
    assert!(
        alert["last_error"]
            .as_str()
            .unwrap()
            .contains("feedwatch::alert=info"),
        "{alert}"
    );
}
