//! `feedwatch check` on the mistakes new users make: each message says, in the config's own
//! terms, what was expected with an example, at FILE:LINE:COL; every problem is listed at
//! once in file order; configs that load but can never do anything are warned about.

mod common;

use common::*;

/// What `check` said: its exit code and its stderr lines, each without the `FILE:` prefix.
struct Checked {
    code: Option<i32>,
    lines: Vec<String>,
}

impl Checked {
    /// The one line starting with `LINE:COL: `; fails the test if there is none.
    fn at(&self, pos: &str) -> &str {
        let prefix = format!("{pos}: ");
        self.lines
            .iter()
            .find(|l| l.starts_with(&prefix))
            .map(|l| &l[prefix.len()..])
            .unwrap_or_else(|| panic!("nothing at {pos}:\n{}", self.lines.join("\n")))
    }

    fn all(&self) -> String {
        self.lines.join("\n")
    }
}

fn check_with(config: &str, env: &[(&str, &str)]) -> Checked {
    let e = Env::new(config);
    let mut cmd = e.command(&["check"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run feedwatch check");
    let file = format!("{}:", path_str(&e.config_path()));
    let stderr = String::from_utf8(out.stderr).expect("utf-8 stderr");
    let lines = stderr
        .lines()
        .map(|l| {
            l.strip_prefix(&file)
                .unwrap_or_else(|| panic!("not FILE:LINE:COL: {l}"))
                .to_string()
        })
        .collect();
    Checked {
        code: out.status.code(),
        lines,
    }
}

fn check(config: &str) -> Checked {
    check_with(config, &[])
}

/// A feed, a topic and a notifier that use each other, so that no warning is due.
const REST: &str = r#"
[[feed]]
name = "wire"
url = "https://example.org/feed.xml"
tags = ["world"]

[[topic]]
name = "t"
query = "China"
notify = ["ops"]

[[notifier]]
name = "ops"
kind = "log"
"#;

#[test]
fn a_number_in_quotes_says_to_drop_the_quotes() {
    let c = check(&format!("[daemon]\nconcurrency = \"16\"\n{REST}"));
    assert_eq!(c.code, Some(2));
    assert_eq!(
        c.at("2:15"),
        r#"`concurrency` must be a number, e.g. `concurrency = 16` (found the string "16")"#
    );
    assert_eq!(c.lines.len(), 1, "{}", c.all());
}

#[test]
fn a_duration_without_quotes_says_to_quote_it() {
    let c = check(&format!("[daemon]\ntimeout = 30\n{REST}"));
    assert_eq!(c.code, Some(2));
    assert_eq!(
        c.at("2:11"),
        r#"`timeout` is a duration in quotes, e.g. `timeout = "30s"` (found the number 30)"#
    );
}

#[test]
fn booleans_lists_and_tables_of_the_wrong_type_are_explained_the_same_way() {
    let c = check(
        r#"daemon = "fast"

[[feed]]
name = "wire"
url = "https://example.org/feed.xml"
respect_cache_headers = "no"
tags = "world"

[[topic]]
name = "t"
query = "China"
notify = ["ops", 7]

[[notifier]]
name = "ops"
kind = "webhook"
url = "https://hooks.example.org/x"
headers = "X-Token: abc"
"#,
    );
    assert_eq!(c.code, Some(2));
    assert_eq!(
        c.at("1:10"),
        "`daemon` must be written as a `[daemon]` line, then its settings (found a string)"
    );
    assert_eq!(
        c.at("6:25"),
        r#"`respect_cache_headers` must be true or false, without quotes, e.g. `respect_cache_headers = false` (found the string "no")"#
    );
    assert_eq!(
        c.at("7:8"),
        r#"`tags` must be a list of strings, e.g. `tags = ["world"]` (found the string "world")"#
    );
    assert!(
        c.at("12:18")
            .starts_with("`notify` must be a list of strings, e.g. `notify = [\"ops\"]` (found the number 7 in it)"),
        "{}",
        c.all()
    );
    assert!(
        c.at("18:11")
            .starts_with("`headers` must be a table of header names and values, e.g. `headers = {"),
        "{}",
        c.all()
    );
    assert!(
        !c.all().contains("X-Token: abc"),
        "header values may be secrets: {}",
        c.all()
    );
}

#[test]
fn single_brackets_for_a_list_say_to_double_them_and_the_entry_is_still_checked() {
    let c = check(
        r#"[feed]
name = "wire"
url = "https://example.org/feed.xml"
dedup = "sometimes"

[topic]
name = "t"
query = "China"
notify = ["ops"]

[notifier]
name = "ops"
kind = "log"
"#,
    );
    assert_eq!(c.code, Some(2));
    assert_eq!(
        c.at("1:2"),
        "`[feed]` (single brackets) is one table, but feeds are a list: write `[[feed]]` (double brackets) above each feed"
    );
    assert!(c.at("6:2").starts_with("`[topic]` (single brackets)"));
    assert!(
        c.at("11:2")
            .contains("write `[[notifier]]` (double brackets)")
    );
    // Read as meant: what is inside is checked, and the names resolve.
    assert!(
        c.at("4:9").starts_with("unknown dedup policy `sometimes`"),
        "{}",
        c.all()
    );
    assert_eq!(c.lines.len(), 4, "{}", c.all());
}

#[test]
fn misspelt_keys_tables_and_kinds_get_the_real_name() {
    let c = check(
        r#"[deamon]
concurrency = 4

[daemon]
concurency = 4

[[feeds]]
name = "wire"

[[feed]]
name = "wire"
url = "https://example.org/feed.xml"

[[topic]]
name = "t"
qeury = "China"
notify = ["hook"]

[[notifier]]
name = "hook"
kind = "webook"
url = "https://hooks.example.org/x"
"#,
    );
    assert_eq!(c.code, Some(2));
    assert_eq!(
        c.at("1:2"),
        "unknown table `[deamon]`; did you mean `[daemon]`?"
    );
    assert_eq!(
        c.at("5:1"),
        "unknown key `concurency` in `[daemon]`; did you mean `concurrency`?"
    );
    assert_eq!(
        c.at("7:3"),
        "unknown table `[[feeds]]`; did you mean `[[feed]]`?"
    );
    assert_eq!(
        c.at("16:1"),
        "unknown key `qeury` in `[[topic]]`; did you mean `query`?"
    );
    assert!(
        c.at("21:8").starts_with(
            "unknown notifier kind `webook`; did you mean `webhook`? (one of webhook, ntfy,"
        ),
        "{}",
        c.all()
    );
}

#[test]
fn far_off_names_get_no_guess() {
    let c = check(&format!(
        "[daemon]\ncolour = \"blue\"\n\n[palette]\nred = 1\n{REST}"
    ));
    assert_eq!(c.code, Some(2));
    assert_eq!(c.at("2:1"), "unknown key `colour` in `[daemon]`");
    assert!(
        c.at("4:2").starts_with("unknown table `[palette]` (the tables are [daemon], [http], [cluster], [[feed]], [[topic]], [[notifier]])"),
        "{}",
        c.all()
    );
    assert!(!c.all().contains("did you mean"), "{}", c.all());
}

#[test]
fn a_setting_above_every_table_says_where_it_belongs() {
    let c = check(&format!("concurrency = 4\n{REST}"));
    assert_eq!(c.code, Some(2));
    assert!(
        c.at("1:1")
            .starts_with("`concurrency` is not a top-level setting: it belongs under `[daemon]`"),
        "{}",
        c.all()
    );
}

#[test]
fn a_url_without_a_scheme_gets_the_url_meant() {
    let c = check(
        r#"[[feed]]
name = "local"
url = "127.0.0.1:8900/x.xml"

[[feed]]
name = "wire"
url = "example.org/feeds/world.xml"

[[topic]]
name = "t"
query = "China"
notify = ["hook"]

[[notifier]]
name = "hook"
kind = "slack"
url = "hooks.slack.com/services/T000/B000/SECRETTOKEN"
"#,
    );
    assert_eq!(c.code, Some(2));
    assert_eq!(
        c.at("3:7"),
        "feed URL `127.0.0.1:8900/x.xml` has no scheme; did you mean `http://127.0.0.1:8900/x.xml`?"
    );
    assert_eq!(
        c.at("7:7"),
        "feed URL `example.org/feeds/world.xml` has no scheme; did you mean `https://example.org/feeds/world.xml`?"
    );
    // A notifier URL often carries its token: only the scheme is named.
    assert_eq!(
        c.at("17:7"),
        "slack `url` has no scheme: start it with `https://`"
    );
    assert!(!c.all().contains("SECRETTOKEN"), "{}", c.all());
}

#[test]
fn a_table_or_key_given_twice_names_both_lines() {
    let c = check(&format!(
        "[daemon]\nconcurrency = 4\n{REST}\n[daemon]\ntimeout = \"10s\"\nconcurrency = 8\n"
    ));
    assert_eq!(c.code, Some(2));
    assert_eq!(
        c.at("18:2"),
        "`[daemon]` appears twice, at lines 1 and 18: put all its keys under one `[daemon]`"
    );
    assert_eq!(
        c.at("20:1"),
        "`concurrency` is set twice, at lines 2 and 20: keep one"
    );
    assert_eq!(c.lines.len(), 2, "{}", c.all());
}

#[test]
fn a_wrong_type_is_one_problem_among_the_others_in_file_order() {
    let c = check(
        r#"[daemon]
concurrency = "16"
schedule = "61 * * * *"

[[feed]]
name = "wire"
url = 8080

[[topic]]
name = "t"
query = "(China"
notify = ["nobody"]

[[notifier]]
name = "ops"
kind = "log"
max_per_hour = "ten"
"#,
    );
    assert_eq!(c.code, Some(2));
    let positions: Vec<&str> = c
        .lines
        .iter()
        .map(|l| l.split(": ").next().unwrap_or(""))
        .collect();
    assert_eq!(
        positions,
        ["2:15", "3:12", "7:7", "11:9", "12:11", "17:16"],
        "{}",
        c.all()
    );
    assert!(c.at("2:15").starts_with("`concurrency` must be a number"));
    assert!(c.at("3:12").starts_with("invalid cron expression"));
    // A required key of the wrong type is said once, as a type, not also as missing.
    assert_eq!(
        c.at("7:7"),
        r#"`url` must be a string in quotes, e.g. `url = "https://example.org/feeds/world.xml"` (found the number 8080)"#
    );
    assert!(c.at("11:9").starts_with("invalid query"));
    assert!(c.at("12:11").starts_with("unknown notifier `nobody`"));
    assert!(
        c.at("17:16")
            .starts_with("`max_per_hour` must be a number, e.g. `max_per_hour = 20`")
    );
}

#[test]
fn names_that_refer_to_nothing_suggest_the_near_one() {
    let c = check(&format!(
        "{REST}\n[[topic]]\nname = \"u\"\nquery = \"Russia\"\nfeeds = [\"wrie\"]\nnotify = [\"opps\"]\n"
    ));
    assert_eq!(c.code, Some(2));
    assert_eq!(c.at("19:10"), "unknown feed `wrie`; did you mean `wire`?");
    assert_eq!(
        c.at("20:11"),
        "unknown notifier `opps`; did you mean `ops`?"
    );
}

#[test]
fn an_empty_config_is_a_warning_not_an_error() {
    let c = check("# nothing yet\n");
    assert_eq!(c.code, Some(0));
    assert_eq!(
        c.lines,
        [
            "1:1: warning: the config is empty: there is nothing to poll; add a `[[feed]]` with `name` and `url`"
        ]
    );
}

#[test]
fn configs_that_can_never_do_anything_are_warned_about() {
    let c = check(
        r#"[daemon]
notify_errors = ["pager"]

[[topic]]
name = "quiet"
query = "China"

[[notifier]]
name = "spare"
kind = "log"

[[notifier]]
name = "pager"
kind = "log"
"#,
    );
    assert_eq!(c.code, Some(0), "{}", c.all());
    assert_eq!(
        c.at("1:1"),
        "warning: there is no `[[feed]]`: nothing will be polled"
    );
    assert_eq!(
        c.at("4:1"),
        r#"warning: topic `quiet` has no `notify`: its matches are stored, but no one is told; add e.g. `notify = ["spare"]`"#
    );
    assert_eq!(
        c.at("8:1"),
        "warning: notifier `spare` is in no topic's `notify` and in no `notify_errors`: it never sends anything"
    );
    // `pager` hears about failing feeds: it is used.
    assert!(!c.all().contains("`pager`"), "{}", c.all());
    assert_eq!(c.lines.len(), 3, "{}", c.all());
}

#[test]
fn a_topic_whose_tags_no_feed_has_is_warned_about() {
    let c = check(
        r#"[[feed]]
name = "wire"
url = "https://example.org/feed.xml"
tags = ["world", "wire"]

[[feed]]
name = "blog"
url = "https://blog.example.org/feed.xml"
tags = ["tech"]

[[topic]]
name = "t"
query = "China"
tags = ["wrold"]
notify = ["ops"]

[[topic]]
name = "u"
query = "Rust"
feeds = ["wire"]
tags = ["tech"]
notify = ["ops"]

[[notifier]]
name = "ops"
kind = "log"
"#,
    );
    assert_eq!(c.code, Some(0), "{}", c.all());
    assert_eq!(
        c.at("14:1"),
        "warning: no feed has any of the `tags` of topic `t`, so it never matches; did you mean `world` for `wrold`?"
    );
    assert_eq!(
        c.at("21:1"),
        "warning: none of the `feeds` of topic `u` has one of its `tags`, so it never matches"
    );
}

#[test]
fn empty_secrets_and_tokens_are_errors() {
    let c = check_with(
        r#"[[feed]]
name = "wire"
url = "https://example.org/feed.xml"

[[topic]]
name = "t"
query = "China"
notify = ["hook", "phone", "hook2"]

[[notifier]]
name = "hook"
kind = "webhook"
url = "https://hooks.example.org/x"
secret = ""

[[notifier]]
name = "phone"
kind = "ntfy"
topic = "alerts"
token = ""

[[notifier]]
name = "hook2"
kind = "webhook"
url = "https://hooks.example.org/y"
secret = { env = "FEEDWATCH_TEST_EMPTY_SECRET" }
"#,
        &[("FEEDWATCH_TEST_EMPTY_SECRET", "")],
    );
    assert_eq!(c.code, Some(2));
    assert_eq!(
        c.at("14:10"),
        r#"`secret` is empty: an HMAC with an empty key signs nothing; give the key, e.g. `secret = { env = "FEEDWATCH_WEBHOOK_SECRET" }`, or leave `secret` out to send unsigned"#
    );
    assert!(c.at("20:9").starts_with("`token` is empty"), "{}", c.all());
    assert_eq!(
        c.at("26:10"),
        "environment variable `FEEDWATCH_TEST_EMPTY_SECRET`, read for `secret`, is empty: an HMAC with an empty key signs nothing"
    );
}

#[test]
fn a_secret_of_the_wrong_type_is_explained_without_showing_it() {
    let c = check(&format!(
        "{REST}\n[[notifier]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"https://hooks.example.org/x\"\nsecret = 8675309\n"
    ));
    assert_eq!(c.code, Some(2));
    let m = c.at("20:10");
    assert!(
        m.starts_with("`secret` must be a string, or one of { env = \"NAME\" }")
            && m.ends_with("(found a number)"),
        "{m}"
    );
    assert!(!c.all().contains("8675309"), "{}", c.all());
}
