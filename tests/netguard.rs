//! No way from a public address into a private network, through the real binary.
//!
//! Every server here listens on loopback, so the tests give the binary a small network of
//! their own (`FEEDWATCH_TEST_RESOLVE`, `FEEDWATCH_TEST_PUBLIC`, debug builds only): the
//! server on 127.0.0.2 plays a public publisher, reached through the name `feeds.test`;
//! 127.0.0.1 stays what it is, the private network. The guard itself is not bypassed: each
//! hop is still judged on the address the socket connects to, and the only pretence is that
//! one loopback address counts as public.

mod common;

use common::*;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PUBLIC_IP: &str = "127.0.0.2";

/// A one-item RSS document whose item title says where it came from.
fn rss(title: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{title}</title>\
         <item><title>{title}</title><guid>{title}-1</guid></item></channel></rss>"
    )
}

/// The private network's service: it must never be asked for anything.
async fn internal_service() -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(rss("internal-secret")))
        .mount(&s)
        .await;
    s
}

/// The "public" publisher, on 127.0.0.2.
async fn public_server() -> MockServer {
    let listener = std::net::TcpListener::bind((PUBLIC_IP, 0)).expect("bind 127.0.0.2");
    MockServer::builder().listener(listener).start().await
}

fn port(s: &MockServer) -> u16 {
    s.address().port()
}

async fn redirect(server: &MockServer, from: &str, status: u16, to: &str) {
    Mock::given(method("GET"))
        .and(path(from))
        .respond_with(ResponseTemplate::new(status).insert_header("Location", to))
        .mount(server)
        .await;
}

async fn serve(server: &MockServer, route: &str, title: &str) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(200).set_body_string(rss(title)))
        .mount(server)
        .await;
}

fn config(feeds: &[(&str, String)], daemon_extra: &str) -> String {
    let mut s = format!(
        "[daemon]\ndatabase = \"feedwatch.db\"\nschedule = \"0 0 1 1 *\"\n{daemon_extra}\n"
    );
    for (name, url) in feeds {
        s.push_str(&format!("[[feed]]\nname = \"{name}\"\nurl = \"{url}\"\n"));
    }
    s
}

/// `poll --json` on the test network: the summary's report for each feed, by name.
fn poll(env: &Env, resolve: &str, public: &str) -> Vec<Value> {
    let out = env
        .command(&["poll", "--json"])
        .env("FEEDWATCH_TEST_RESOLVE", resolve)
        .env("FEEDWATCH_TEST_PUBLIC", public)
        .output()
        .expect("run feedwatch");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    summary["feeds"].as_array().expect("feeds").clone()
}

fn report<'a>(reports: &'a [Value], name: &str) -> &'a Value {
    reports
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no report for {name}: {reports:?}"))
}

fn error_of(reports: &[Value], name: &str) -> String {
    let r = report(reports, name);
    assert_eq!(r["status"], "error", "{r}");
    r["error"].as_str().expect("error text").to_string()
}

fn stored_titles(env: &Env) -> Vec<String> {
    env.json(&["items", "--json"])
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["title"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn feed_url(env: &Env, name: &str) -> String {
    env.json(&["feeds", "--json"])
        .as_array()
        .expect("feeds")
        .iter()
        .find(|f| f["name"] == name)
        .and_then(|f| f["url"].as_str())
        .expect("feed url")
        .to_string()
}

async fn asked(s: &MockServer) -> usize {
    s.received_requests().await.expect("recording").len()
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(debug_assertions),
    ignore = "the test network exists only in debug builds"
)]
async fn a_redirect_from_a_public_feed_into_the_private_network_is_refused() {
    let internal = internal_service().await;
    let publisher = public_server().await;
    let ip = internal.address().ip();
    let p = port(&internal);
    redirect(
        &publisher,
        "/loopback",
        301,
        &format!("http://{ip}:{p}/admin"),
    )
    .await;
    // The same address in the forms the url crate normalises, and the metadata service.
    redirect(
        &publisher,
        "/decimal",
        302,
        &format!("http://2130706433:{p}/admin"),
    )
    .await;
    redirect(
        &publisher,
        "/mapped",
        307,
        &format!("http://[::ffff:127.0.0.1]:{p}/admin"),
    )
    .await;
    redirect(
        &publisher,
        "/metadata",
        302,
        "http://169.254.169.254/latest/meta-data/",
    )
    .await;
    redirect(
        &publisher,
        "/localhost",
        302,
        &format!("http://localhost:{p}/admin"),
    )
    .await;
    serve(&publisher, "/ok", "public-news").await;
    let base = format!("http://feeds.test:{}", port(&publisher));
    let names = [
        "loopback",
        "decimal",
        "mapped",
        "metadata",
        "localhost",
        "ok",
    ];
    let feeds: Vec<(&str, String)> = names.iter().map(|n| (*n, format!("{base}/{n}"))).collect();
    let env = Env::new(&config(&feeds, ""));
    let resolve = format!("feeds.test={PUBLIC_IP}");

    let reports = poll(&env, &resolve, PUBLIC_IP);

    assert_eq!(report(&reports, "ok")["status"], "ok", "{reports:?}");
    assert_eq!(
        error_of(&reports, "loopback"),
        "refused: the redirect leads to 127.0.0.1, a private address (loopback); \
         set `[daemon] allow_private_networks = true` to allow it"
    );
    for name in ["decimal", "mapped"] {
        let e = error_of(&reports, name);
        assert!(
            e.starts_with("refused: the redirect leads to"),
            "{name}: {e}"
        );
        assert!(e.contains("(loopback)"), "{name}: {e}");
    }
    assert!(
        error_of(&reports, "metadata")
            .contains("169.254.169.254, a private address (cloud metadata service)")
    );
    assert!(
        error_of(&reports, "localhost")
            .contains("leads to localhost, a private address (loopback)")
    );
    assert_eq!(
        asked(&internal).await,
        0,
        "the internal service was reached"
    );
    assert_eq!(stored_titles(&env), vec!["public-news".to_string()]);
    assert_eq!(
        feed_url(&env, "loopback"),
        format!("{base}/loopback"),
        "not moved"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(debug_assertions),
    ignore = "the test network exists only in debug builds"
)]
async fn allow_private_networks_lets_the_same_redirect_through() {
    let internal = internal_service().await;
    let publisher = public_server().await;
    let target = format!("{}/admin", internal.uri());
    redirect(&publisher, "/feed", 301, &target).await;
    let url = format!("http://feeds.test:{}/feed", port(&publisher));
    let env = Env::new(&config(&[("moved", url)], "allow_private_networks = true"));

    let reports = poll(&env, &format!("feeds.test={PUBLIC_IP}"), PUBLIC_IP);

    assert_eq!(report(&reports, "moved")["status"], "ok", "{reports:?}");
    assert_eq!(asked(&internal).await, 1);
    assert_eq!(feed_url(&env, "moved"), target, "301: moved for good");
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(debug_assertions),
    ignore = "the test network exists only in debug builds"
)]
async fn names_are_judged_by_the_address_dns_gives_at_connect_time() {
    let internal = internal_service().await;
    let publisher = public_server().await;
    // A public feed redirects to a name that resolves into the private network.
    redirect(
        &publisher,
        "/feed",
        302,
        &format!("http://inside.test:{}/admin", port(&internal)),
    )
    .await;
    let env = Env::new(&config(
        &[
            (
                "via-redirect",
                format!("http://feeds.test:{}/feed", port(&publisher)),
            ),
            // The feed's own name answers a private address (rebinding): a name the operator
            // wrote is no private address the operator chose.
            (
                "rebound",
                format!("http://rebound.test:{}/feed", port(&internal)),
            ),
        ],
        "",
    ));
    let resolve = format!("feeds.test={PUBLIC_IP},inside.test=127.0.0.1,rebound.test=127.0.0.1");

    let reports = poll(&env, &resolve, PUBLIC_IP);

    assert!(
        error_of(&reports, "via-redirect").starts_with(
            "refused: `inside.test` resolves to 127.0.0.1, a private address (loopback)"
        ),
        "{reports:?}"
    );
    assert!(
        error_of(&reports, "rebound").starts_with(
            "refused: `rebound.test` resolves to 127.0.0.1, a private address (loopback)"
        ),
        "{reports:?}"
    );
    assert_eq!(
        asked(&internal).await,
        0,
        "the internal service was reached"
    );

    // Without the pretence that 127.0.0.2 is public, the publisher itself is refused: the
    // check runs on what DNS answered.
    let env = Env::new(&config(
        &[(
            "feed",
            format!("http://feeds.test:{}/feed", port(&publisher)),
        )],
        "",
    ));
    let reports = poll(&env, &format!("feeds.test={PUBLIC_IP}"), "");
    assert!(
        error_of(&reports, "feed").starts_with("refused: `feeds.test` resolves to 127.0.0.2"),
        "{reports:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(debug_assertions),
    ignore = "the test network exists only in debug builds"
)]
async fn a_private_feed_may_redirect_within_private_space_but_not_back_from_public() {
    let internal = internal_service().await;
    let own = MockServer::start().await;
    let publisher = public_server().await;
    let p = port(&own);
    // Written as localhost, moved to 127.0.0.1: private to private, allowed.
    redirect(&own, "/old", 301, &format!("http://127.0.0.1:{p}/new")).await;
    serve(&own, "/new", "own-news").await;
    // Private, then out to the public publisher, which sends it back inside: refused there.
    redirect(
        &own,
        "/out",
        302,
        &format!("http://feeds.test:{}/back", port(&publisher)),
    )
    .await;
    redirect(
        &publisher,
        "/back",
        302,
        &format!("{}/admin", internal.uri()),
    )
    .await;
    let env = Env::new(&config(
        &[
            ("own", format!("http://localhost:{p}/old")),
            ("out-and-back", format!("http://127.0.0.1:{p}/out")),
        ],
        "",
    ));

    let reports = poll(&env, &format!("feeds.test={PUBLIC_IP}"), PUBLIC_IP);

    assert_eq!(report(&reports, "own")["status"], "ok", "{reports:?}");
    assert_eq!(feed_url(&env, "own"), format!("http://127.0.0.1:{p}/new"));
    assert!(
        error_of(&reports, "out-and-back")
            .starts_with("refused: the redirect leads to 127.0.0.1, a private address (loopback)"),
        "{reports:?}"
    );
    assert_eq!(
        asked(&internal).await,
        0,
        "the internal service was reached"
    );
    assert_eq!(stored_titles(&env), vec!["own-news".to_string()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_never_follow_a_redirect_to_another_origin() {
    let first = MockServer::start().await;
    let other = MockServer::start().await;
    redirect(&first, "/feed", 302, &format!("{}/feed", other.uri())).await;
    redirect(&first, "/same", 302, "/same-target").await;
    serve(&first, "/same-target", "same-origin").await;
    serve(&other, "/feed", "other-origin").await;
    let with_auth = |route: &str| format!("http://reader:s3cret@127.0.0.1:{}{route}", port(&first));
    let env = Env::new(&config(
        &[("cross", with_auth("/feed")), ("same", with_auth("/same"))],
        "",
    ));
    let out = env.run(&["poll", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let auth_of = |r: &wiremock::Request| {
        r.headers
            .get("authorization")
            .map(|v| v.to_str().unwrap_or_default().to_string())
    };
    let basic = "Basic cmVhZGVyOnMzY3JldA=="; // reader:s3cret
    let to_first = first.received_requests().await.expect("recording");
    assert!(!to_first.is_empty());
    assert!(
        to_first
            .iter()
            .all(|r| auth_of(r).as_deref() == Some(basic)),
        "same origin keeps the credentials"
    );
    let to_other = other.received_requests().await.expect("recording");
    assert_eq!(to_other.len(), 1);
    assert_eq!(auth_of(&to_other[0]), None, "credentials crossed origins");
}
