//! The README against the code, so neither drifts: the config reference lists every key the
//! reader accepts with its type, and the defaults it writes as values are those applied; the
//! metric families are those served; the query examples compile; the test command is the one
//! CI runs; the example config and the walkthrough's snippet load.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use feedwatch::config::{self, Secrets};

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// The text of the `## title` section (up to the next `## `).
fn section<'a>(text: &'a str, title: &str) -> &'a str {
    let start = text
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("README has no section `## {title}`"));
    let rest = &text[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |e| e + 3);
    &rest[..end]
}

/// The rows of every Markdown table in `text`, by the `### ` heading above it, each row as a
/// map from column name to cell.
fn tables(text: &str) -> Vec<(String, Vec<BTreeMap<String, String>>)> {
    let mut out: Vec<(String, Vec<BTreeMap<String, String>>)> = Vec::new();
    let mut heading = String::new();
    let mut header: Option<Vec<String>> = None;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("### ") {
            heading = h.trim().to_string();
            header = None;
            continue;
        }
        if !line.starts_with('|') {
            header = None;
            continue;
        }
        let cells: Vec<String> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect();
        match &header {
            None => {
                header = Some(cells);
                out.push((heading.clone(), Vec::new()));
            }
            Some(_) if cells.iter().all(|c| c.chars().all(|x| x == '-')) => {}
            Some(h) => {
                assert_eq!(
                    h.len(),
                    cells.len(),
                    "row with the wrong number of cells: {line}"
                );
                let row = h.iter().cloned().zip(cells).collect();
                out.last_mut().unwrap().1.push(row);
            }
        }
    }
    out
}

/// `x` from a cell that is exactly one code span `` `x` ``.
fn code(cell: &str) -> Option<&str> {
    let inner = cell.strip_prefix('`')?.strip_suffix('`')?;
    (!inner.contains('`')).then_some(inner)
}

/// The config reference: (section header, key) → row.
fn reference() -> BTreeMap<(String, String), BTreeMap<String, String>> {
    let text = readme();
    let mut out = BTreeMap::new();
    for (heading, rows) in tables(section(&text, "Config reference")) {
        let header = code(&heading)
            .unwrap_or_else(|| {
                panic!("a reference table under a heading that is not a section: {heading}")
            })
            .to_string();
        for row in rows {
            let key = code(&row["key"])
                .unwrap_or_else(|| panic!("{row:?}"))
                .to_string();
            assert!(
                out.insert((header.clone(), key.clone()), row).is_none(),
                "{header} {key} listed twice"
            );
        }
    }
    out
}

#[test]
fn the_config_reference_lists_every_key_with_its_type() {
    let documented = reference();
    let accepted: BTreeMap<(String, String), &str> = config::keys()
        .into_iter()
        .map(|k| ((k.section, k.key.to_string()), k.ty))
        .collect();
    let doc_keys: BTreeSet<_> = documented.keys().cloned().collect();
    let code_keys: BTreeSet<_> = accepted.keys().cloned().collect();
    assert_eq!(
        code_keys.difference(&doc_keys).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "accepted by the config reader, missing from the README"
    );
    assert_eq!(
        doc_keys.difference(&code_keys).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "in the README, refused by the config reader"
    );
    for (k, ty) in &accepted {
        assert_eq!(documented[k]["type"], *ty, "{k:?}");
    }
}

/// A config that sets `key` to `value` in `section`, with what the section needs besides.
fn with_key(
    section: &str,
    row: &BTreeMap<String, String>,
    key: &str,
    value: &str,
) -> Option<String> {
    let line = format!("{key} = {value}\n");
    Some(match section {
        "[daemon]" => format!("[daemon]\n{line}"),
        "[[feed]]" => format!("[[feed]]\nname = \"f\"\nurl = \"https://example.org/f\"\n{line}"),
        "[[topic]]" => format!("[[topic]]\nname = \"t\"\nquery = \"x\"\n{line}"),
        "[[notifier]]" => match row["kinds"].as_str() {
            "exec" => {
                format!("[[notifier]]\nname = \"n\"\nkind = \"exec\"\ncommand = [\"true\"]\n{line}")
            }
            "ntfy" => format!("[[notifier]]\nname = \"n\"\nkind = \"ntfy\"\ntopic = \"t\"\n{line}"),
            "all" => format!("[[notifier]]\nname = \"n\"\nkind = \"log\"\n{line}"),
            other => panic!("give the test a minimal `{other}` notifier to check {key}'s default"),
        },
        _ => return None,
    })
}

/// The part of a loaded config a key of `section` shapes.
fn shaped(section: &str, c: &config::Config) -> String {
    match section {
        "[daemon]" => format!("{:?}", c.daemon),
        "[[feed]]" => format!("{:?}", c.feeds),
        "[[topic]]" => format!("{:?}", c.topics),
        "[[notifier]]" => format!("{:?}", c.notifiers),
        other => panic!("{other}"),
    }
}

fn load(src: &str) -> config::Config {
    config::parse(Path::new("/t/feedwatch.toml"), src, Secrets::Skip)
        .unwrap_or_else(|e| panic!("{e}\n---\n{src}"))
}

#[test]
fn defaults_written_as_values_are_the_ones_applied() {
    let mut checked = 0;
    for ((section, key), row) in reference() {
        let Some(value) = code(&row["default"]) else {
            continue;
        };
        let Some(set) = with_key(&section, &row, &key, value) else {
            continue;
        };
        let unset = set.replace(&format!("{key} = {value}\n"), "");
        assert_eq!(
            shaped(&section, &load(&set)),
            shaped(&section, &load(&unset)),
            "README says {section} {key} defaults to {value}"
        );
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} defaults checked");
}

#[test]
fn the_metrics_table_lists_the_families_served() {
    let text = readme();
    let (_, rows) = tables(section(&text, "Running it as a service"))
        .into_iter()
        .find(|(h, _)| h == "Health and metrics")
        .expect("a metrics table under ### Health and metrics");
    let documented: BTreeMap<String, (String, String)> = rows
        .iter()
        .map(|r| {
            let labels: Vec<&str> = r["labels"]
                .split(',')
                .filter_map(|l| code(l.trim()))
                .collect();
            (
                code(&r["family"]).unwrap().to_string(),
                (r["type"].clone(), labels.join(",")),
            )
        })
        .collect();
    let served: BTreeMap<String, (String, String)> = feedwatch::metrics::FAMILIES
        .iter()
        .map(|f| {
            let kind = match f.kind {
                feedwatch::metrics::Kind::Counter => "counter",
                feedwatch::metrics::Kind::Gauge => "gauge",
                feedwatch::metrics::Kind::Histogram => "histogram",
            };
            (f.name.to_string(), (kind.to_string(), f.labels.join(",")))
        })
        .collect();
    assert_eq!(documented, served);
}

#[test]
fn every_query_example_compiles() {
    let text = readme();
    let (_, rows) = tables(section(&text, "The query language")).remove(0);
    assert!(rows.len() >= 8);
    for row in rows {
        for part in row["you write"].split(", ") {
            let q = code(part.trim()).unwrap_or_else(|| panic!("{row:?}"));
            feedwatch::topics::Query::parse(q).unwrap_or_else(|e| panic!("`{q}`: {e}"));
        }
    }
}

#[test]
fn the_readme_test_command_is_the_one_ci_runs() {
    let text = readme();
    let wanted = text
        .lines()
        .find(|l| l.starts_with(".ci/install-test-deps"))
        .expect("the README's test command");
    let ci =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/run")).unwrap();
    let after = ci
        .split("# The README's test command:\n")
        .nth(1)
        .expect(".ci/run marks the README's test command");
    assert_eq!(after.lines().next(), Some(wanted));
}

#[test]
fn the_example_config_checks_clean_and_the_walkthrough_snippet_loads() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .args(["--config", "config/feedwatch.toml", "check"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("FEEDWATCH_CONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.trim().is_empty(), "no warnings: {stderr}");
    let text = readme();
    let walkthrough = section(&text, "Five minutes to a first alert");
    let snippet = walkthrough
        .split("```toml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("the ntfy snippet");
    let c = load(snippet);
    assert_eq!(c.notifiers.len(), 1);
    assert_eq!(
        c.notifiers[0].name, "ops",
        "it replaces the example's `ops`"
    );
}
