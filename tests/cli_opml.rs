//! `opml import` and `opml export` with the real binary, over OPML written the way Miniflux,
//! FreshRSS, newsboat and Feedly export it (tests/fixtures/opml/, written for these tests).

mod cli_support;
mod common;

use std::path::{Path, PathBuf};

use cli_support::*;
use common::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/opml")
        .join(name)
}

const READERS: [&str; 4] = [
    "miniflux.opml",
    "freshrss.opml",
    "newsboat.opml",
    "feedly.opml",
];

/// (name, url, tags) of every `[[feed]]` in TOML text.
fn feeds_of(toml_text: &str) -> Vec<(String, String, Vec<String>)> {
    let t: toml::Table = toml_text
        .parse()
        .unwrap_or_else(|e| panic!("{e}:\n{toml_text}"));
    let Some(list) = t.get("feed").and_then(|f| f.as_array()) else {
        return Vec::new();
    };
    list.iter()
        .map(|f| {
            let s = |k: &str| f.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
            let tags = f
                .get("tags")
                .and_then(|t| t.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            (s("name"), s("url"), tags)
        })
        .collect()
}

fn import(env: &Env, file: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["opml", "import", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    env.run(&args)
}

const CONFIG: &str = "# My feeds, by hand.\n[daemon]\ndatabase = \"feedwatch.db\" # beside me\n\n[[feed]]\nname = \"lwn\"   # kept\nurl = \"https://lwn.net/headlines/rss\"\n\n[[notifier]]\nname = \"log\"\nkind = \"log\"\n";

#[test]
fn every_readers_export_imports_with_its_folders_as_tags() {
    let env = Env::new(CONFIG);
    let mut all = Vec::new();
    for reader in READERS {
        let out = import(&env, &fixture(reader), &[]);
        assert!(out.status.success(), "{reader}: {}", stderr(&out));
        let feeds = feeds_of(&stdout(&out));
        assert!(!feeds.is_empty(), "{reader}");
        for (name, url, _) in &feeds {
            assert!(
                !name.is_empty() && url.starts_with("http"),
                "{reader}: {name} {url}"
            );
        }
        all.push((reader, feeds, stderr(&out)));
    }
    let find = |reader: &str, name: &str| {
        all.iter()
            .find(|(r, ..)| *r == reader)
            .and_then(|(_, f, _)| f.iter().find(|x| x.0 == name).cloned())
            .unwrap_or_else(|| panic!("{reader}: no {name}"))
    };
    let report = |reader: &str| all.iter().find(|(r, ..)| *r == reader).unwrap().2.clone();
    assert_eq!(find("miniflux.opml", "bbc-news-world").2, ["world-news"]);
    assert!(report("miniflux.opml").contains("already in the config as `lwn`"));
    assert_eq!(find("freshrss.opml", "nhkニュース").2, ["日本"]);
    assert!(
        report("freshrss.opml").contains("skipped `Agency wire (broken)` (not a url): not a URL")
    );
    assert!(report("newsboat.opml").contains("`ftp:` URLs cannot be polled"));
    assert_eq!(
        find("newsboat.opml", "news-example-org").1,
        "https://news.example.org/rss?lang=en&section=world",
        "a title-less entry is named after its host"
    );
    assert_eq!(
        find("feedly.opml", "reuters-world-news").2,
        ["world", "asia"]
    );
    assert!(report("feedly.opml").contains("listed again"));
    assert_eq!(find("feedly.opml", "scmp-china").2, ["asia", "china"]);
}

#[test]
fn write_appends_to_the_config_keeping_its_comments() {
    let env = Env::new(CONFIG);
    let out = import(&env, &fixture("miniflux.opml"), &["--write"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("added 4 feed(s)"), "{}", stdout(&out));
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    for kept in [
        "# My feeds, by hand.",
        "# beside me",
        "name = \"lwn\"   # kept",
        "# Hacker News: Front Page",
    ] {
        assert!(text.contains(kept), "{kept}:\n{text}");
    }
    assert_eq!(feeds_of(&text).len(), 5);
    assert!(env.run(&["check"]).status.success());
    // Everything is in the config now: nothing to add, the file stays as it is.
    let again = import(&env, &fixture("miniflux.opml"), &["--write"]);
    assert!(again.status.success());
    assert!(
        stderr(&again).contains("nothing to add"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read_to_string(env.config_path()).unwrap(), text);
}

#[test]
fn each_readers_file_round_trips_through_export() {
    for reader in READERS {
        let first = Env::new("");
        std::fs::remove_file(first.config_path()).unwrap();
        let out = import(&first, &fixture(reader), &["--write"]);
        assert!(out.status.success(), "{reader}: {}", stderr(&out));
        let imported = feeds_of(&std::fs::read_to_string(first.config_path()).unwrap());

        let export = first.run(&["opml", "export"]);
        assert!(export.status.success(), "{reader}: {}", stderr(&export));
        let xml = stdout(&export);
        assert!(xml.contains("<opml version=\"2.0\">"), "{xml}");
        let file = first.dir.path().join("exported.opml");
        std::fs::write(&file, &xml).unwrap();

        let second = Env::new("");
        std::fs::remove_file(second.config_path()).unwrap();
        let out = import(&second, &file, &["--write"]);
        assert!(out.status.success(), "{reader}: {}", stderr(&out));
        let mut back = feeds_of(&std::fs::read_to_string(second.config_path()).unwrap());
        let mut want = imported.clone();
        back.sort();
        want.sort();
        assert_eq!(back, want, "{reader} after export and import:\n{xml}");
    }
}

#[test]
fn broken_files_are_explained() {
    let env = Env::new(CONFIG);
    let bad = env.dir.path().join("bad.opml");
    std::fs::write(
        &bad,
        "<opml version=\"2.0\"><body><outline text=\"a\" xmlUrl=\"https://a/\">",
    )
    .unwrap();
    let out = import(&env, &bad, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not well-formed OPML"),
        "{}",
        stderr(&out)
    );
    let out = import(&env, &env.dir.path().join("missing.opml"), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read"), "{}", stderr(&out));
    // A config the new feeds cannot go into is left alone.
    env.write_config("feed = \"not a table\"\n");
    let out = import(&env, &fixture("newsboat.opml"), &["--write"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(env.config_path()).unwrap(),
        "feed = \"not a table\"\n"
    );
}
