//! One story, one alert: the seed story carried by several outlets under their own links,
//! guids and headlines becomes one story and one alert per topic listing every outlet; another
//! event on the same subject stays apart; search, match, prune and edits behave as documented.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// The seed story's paragraphs (without the blog's chrome).
fn paragraphs() -> Vec<String> {
    SEED.lines()
        .skip(2)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take_while(|l| !l.starts_with("International Agencies"))
        .map(str::to_string)
        .collect()
}

fn straight_quotes(s: &str) -> String {
    s.replace(['’', '‘'], "'").replace(['“', '”'], "\"")
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One RSS item: the text's paragraphs as HTML in the description.
fn rss(outlet: &str, items: &[(&str, &str, String)]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>{outlet}</title>\
         <link>https://{outlet}.example/</link><description>news</description>"
    );
    for (guid, title, body) in items {
        let html: String = body
            .lines()
            .map(|p| format!("<p>{}</p>", p))
            .collect::<Vec<_>>()
            .join("");
        out.push_str(&format!(
            "<item><title>{}</title><link>https://{outlet}.example/world/{guid}.html</link>\
             <guid isPermaLink=\"false\">{guid}</guid><pubDate>Tue, 01 Apr 2025 09:30:00 GMT</pubDate>\
             <description>{}</description></item>",
            xml(title),
            xml(&html)
        ));
    }
    out.push_str("</channel></rss>");
    out
}

/// A wire copy: dateline added, straight quotes, everything else as the agency wrote it.
fn wire_copy() -> String {
    let mut p = paragraphs();
    p[0] = format!("BEIJING, April 1 (Agency Wire) - {}", p[0]);
    straight_quotes(&p.join("\n"))
}

/// A rewrite: byline, paragraphs dropped and reordered.
fn trimmed_copy() -> String {
    let p = paragraphs();
    let mut kept = vec!["By Jane Doe, Asia correspondent".to_string()];
    kept.extend([
        p[1].clone(),
        p[0].clone(),
        p[3].clone(),
        p[4].clone(),
        p[14].clone(),
    ]);
    kept.join("\n")
}

/// The lede alone: a two-sentence summary.
fn lede_only() -> String {
    let p = paragraphs();
    format!("{} {}", p[0], p[1])
}

/// Another meeting of the same ministers, weeks later: same subject, different event.
fn later_meeting() -> String {
    "Russian Foreign Minister Sergey Lavrov held talks in Moscow on Thursday with Chinese Foreign Minister Wang Yi, who arrived for a two-day visit ahead of the Shanghai Cooperation Organisation summit in Astana.\n\
     The ministers signed a plan of consultations for 2025-2026 and discussed the supply of Russian natural gas through the Power of Siberia 2 pipeline, which has been stalled over pricing for three years.\n\
     Wang told reporters that Beijing would keep buying Russian oil despite new Western sanctions on tankers, and Lavrov said the two countries would coordinate their positions at the United Nations on the Middle East.\n\
     Neither side mentioned the war in Ukraine in its opening remarks, which were broadcast by state television."
        .to_string()
}

fn config(feeds: &[(&str, String)], hook: &str, extra: &str) -> String {
    let mut s = format!(
        "[daemon]\ndatabase = \"feedwatch.db\"\nschedule = \"0 0 1 1 *\"\nalert_backoff = \"100ms\"\n{extra}\n"
    );
    for (name, url) in feeds {
        s.push_str(&format!("[[feed]]\nname = \"{name}\"\nurl = \"{url}\"\n"));
    }
    s.push_str(&format!(
        "[[topic]]\nname = \"china-russia\"\nquery = '{TOPIC}'\nnotify = [\"hook\"]\n\n\
         [[topic]]\nname = \"korea\"\nquery = '\"North Korea\"'\nnotify = [\"hook\"]\n\n\
         [[notifier]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{hook}\"\n"
    ));
    s
}

async fn serve(s: &MockServer, route: &str, body: String) {
    Mock::given(method("GET"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(200).set_body_string(body))
        .mount(s)
        .await;
}

async fn posts(s: &MockServer) -> Vec<Value> {
    s.received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r: &Request| r.method.as_str() == "POST")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn four_outlets_carrying_the_seed_story_give_one_story_and_one_alert_per_topic() {
    let s = MockServer::start().await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hooks)
        .await;
    let blog = "https://worldnewsdesk.blogspot.com/2025/04/china-emphasises-strategic.html";
    serve(&s, "/blog", blogger_atom(blog)).await;
    serve(
        &s,
        "/wire",
        rss(
            "agencywire",
            &[(
                "aw-20250401-0931",
                "China stresses strategic partnership with Russia as Lavrov visits Beijing - Agency Wire",
                wire_copy(),
            )],
        ),
    )
    .await;
    serve(
        &s,
        "/herald",
        rss(
            "herald",
            &[
                (
                    "h-8812",
                    "Wang tells Lavrov China-Russia ties 'most stable' in world",
                    trimmed_copy(),
                ),
                (
                    "h-8813",
                    "Lavrov and Wang sign consultation plan in Moscow",
                    later_meeting(),
                ),
            ],
        ),
    )
    .await;
    serve(
        &s,
        "/brief",
        rss(
            "brief",
            &[(
                "b-1",
                "China, Russia hail partnership during Lavrov visit",
                lede_only(),
            )],
        ),
    )
    .await;
    let feeds = [
        ("blog", format!("{}/blog", s.uri())),
        ("wire", format!("{}/wire", s.uri())),
        ("herald", format!("{}/herald", s.uri())),
        ("brief", format!("{}/brief", s.uri())),
    ];
    let env = Env::new(&config(&feeds, &format!("{}/hook", hooks.uri()), ""));
    let out = env.json(&["poll", "--json"]);
    assert_eq!(out["new_items"], 5, "{out}");

    let stories = env.json(&["stories", "--json"]);
    let stories = stories.as_array().unwrap();
    assert_eq!(
        stories.len(),
        2,
        "the seed story and the later meeting: {stories:#?}"
    );
    let seed = stories
        .iter()
        .find(|st| st["sources"].as_array().unwrap().len() == 4)
        .unwrap_or_else(|| panic!("one story carries all four copies: {stories:#?}"));
    let outlets: Vec<&str> = seed["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["feed"].as_str().unwrap())
        .collect();
    for f in ["blog", "wire", "herald", "brief"] {
        assert!(outlets.contains(&f), "{outlets:?}");
    }

    // One webhook per topic for the seed story, listing every outlet; the later meeting has its
    // own alert (it matches china-russia, not korea).
    let sent = posts(&hooks).await;
    let for_seed: Vec<&Value> = sent
        .iter()
        .filter(|p| p["story"]["id"] == seed["id"])
        .collect();
    let mut topics: Vec<&str> = for_seed
        .iter()
        .map(|p| p["topic"].as_str().unwrap())
        .collect();
    topics.sort();
    assert_eq!(topics, ["china-russia", "korea"], "{sent:#?}");
    for p in &for_seed {
        assert_eq!(p["story"]["sources"].as_array().unwrap().len(), 4, "{p}");
    }
    assert_eq!(sent.len(), 3, "{sent:#?}");

    // A second poll of the same documents adds nothing and sends nothing.
    let again = env.json(&["poll", "--json"]);
    assert_eq!(again["new_items"], 0, "{again}");
    assert_eq!(posts(&hooks).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn search_and_match_speak_the_topic_language() {
    let s = MockServer::start().await;
    serve(
        &s,
        "/herald",
        rss(
            "herald",
            &[
                ("h-1", "Wang tells Lavrov China-Russia ties 'most stable' in world", trimmed_copy()),
                ("h-2", "Chinatown festival draws record crowds", "The Lunar New Year parade in Chinatown drew record crowds on Sunday, organisers said.\nStreet food stalls sold out by noon.".into()),
                ("h-3", "Bürgermeister spricht in der Hauptstraße", "Der Bürgermeister sprach am Montag vor dem Rathaus in der Hauptstraße.".into()),
            ],
        ),
    )
    .await;
    let env = Env::new(&config(
        &[("herald", format!("{}/herald", s.uri()))],
        "http://127.0.0.1:9/hook",
        "",
    ));
    env.json(&["poll", "--json"]);

    let found = env.json(&["search", "China Lavrov", "--json"]);
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 1, "Chinatown is not China: {found:#?}");
    for key in [
        "id",
        "feed",
        "guid",
        "title",
        "url",
        "published",
        "first_seen",
        "story",
        "topics",
    ] {
        assert!(found[0].get(key).is_some(), "search --json has `{key}`");
    }
    assert_eq!(found[0]["guid"], "h-1");
    assert_eq!(
        env.json(&["search", "Chinatown", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        env.json(&["search", "title:festival -crowds", "--json"])
            .as_array()
            .unwrap()
            .len(),
        0
    );

    let m = env.json(&[
        "match",
        "Lavrov -sponsored",
        "--text",
        "Lavrov’s visit\nThe minister met Wang Yi.",
        "--json",
    ]);
    assert_eq!(m["matches"], true, "{m}");
    assert_eq!(m["matched_terms"], serde_json::json!(["Lavrov"]), "{m}");
    let no = env.json(&["match", "Iran", "--text", "Iranian talks resume", "--json"]);
    assert_eq!(
        no["matches"], false,
        "a whole word: Iran is not Iranian: {no}"
    );

    // A replay of a topic over what is stored lists what would have alerted, sending nothing.
    let replay = env.json(&[
        "match",
        "--topic",
        "china-russia",
        "--since",
        "7d",
        "--json",
    ]);
    let replay = replay.as_array().unwrap();
    assert_eq!(replay.len(), 1, "{replay:#?}");
    for key in ["item", "title", "feed", "matched_terms"] {
        assert!(replay[0].get(key).is_some(), "match --json has `{key}`");
    }
    let bad = env.run(&["search", "(China OR"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("column 1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pruned_item_that_the_feed_still_lists_never_comes_back() {
    let s = MockServer::start().await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hooks)
        .await;
    serve(
        &s,
        "/wire",
        rss("agencywire", &[("aw-1", "Lavrov in Beijing", wire_copy())]),
    )
    .await;
    let env = Env::new(&config(
        &[("wire", format!("{}/wire", s.uri()))],
        &format!("{}/hook", hooks.uri()),
        "retention = \"1s\"",
    ));
    assert_eq!(env.json(&["poll", "--json"])["new_items"], 1);
    assert_eq!(posts(&hooks).await.len(), 2, "china-russia and korea");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pruned = env.run(&["prune"]);
    assert!(pruned.status.success());
    assert!(String::from_utf8_lossy(&pruned.stdout).contains("pruned 1 items"));
    assert_eq!(env.json(&["items", "--json"]).as_array().unwrap().len(), 0);
    // The server has no validators to offer: the whole document comes again.
    let again = env.json(&["poll", "--json"]);
    assert_eq!(again["new_items"], 0, "{again}");
    assert_eq!(env.json(&["items", "--json"]).as_array().unwrap().len(), 0);
    assert_eq!(posts(&hooks).await.len(), 2, "nothing sent again");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_urgent_one_liner_filled_in_later_alerts_the_topic_it_now_matches() {
    let s = MockServer::start().await;
    let hooks = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hooks)
        .await;
    // First only a flash; the same guid is filled in with the full story later.
    Mock::given(method("GET"))
        .and(path("/wire"))
        .respond_with(ResponseTemplate::new(200).set_body_string(rss(
            "agencywire",
            &[(
                "aw-9",
                "URGENT: Lavrov arrives in Beijing",
                "Russia's Lavrov arrives in Beijing for talks.".into(),
            )],
        )))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s)
        .await;
    serve(
        &s,
        "/wire",
        rss(
            "agencywire",
            &[("aw-9", "Lavrov arrives in Beijing", wire_copy())],
        ),
    )
    .await;
    let env = Env::new(&config(
        &[("wire", format!("{}/wire", s.uri()))],
        &format!("{}/hook", hooks.uri()),
        "",
    ));
    env.json(&["poll", "--json"]);
    let first: Vec<String> = posts(&hooks)
        .await
        .iter()
        .map(|p| p["topic"].to_string())
        .collect();
    assert_eq!(first, ["\"china-russia\""], "the flash matches one topic");
    let edit = env.json(&["poll", "--json"]);
    assert_eq!(edit["updated_items"], 1, "{edit}");
    let all = posts(&hooks).await;
    let topics: Vec<&str> = all.iter().map(|p| p["topic"].as_str().unwrap()).collect();
    assert_eq!(
        topics,
        ["china-russia", "korea"],
        "the filled-in story newly matches korea (it mentions North Korea) and alerts it once; china-russia is not sent again"
    );
    env.json(&["poll", "--json"]);
    assert_eq!(posts(&hooks).await.len(), 2);
}
