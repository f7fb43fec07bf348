//! Walking the span-carrying TOML tree against [`super::schema`]: which sections are there
//! (a misspelt table, a setting above every header, `[feed]` for `[[feed]]` are said and, when
//! the meaning is plain, read as meant), which keys are unknown, which values have the wrong
//! type. Nothing found here stops the walk. Pure.

use std::collections::BTreeMap;

use toml::de::{DeTable, DeValue};

use super::locate::{PathSegs, Problems, Seg, p};
use super::raw::RawSecret;
use super::schema::{self, SECTIONS, Section, Shape};
use super::suggest::{closest, did_you_mean};

/// Each section in the document with its tables (one for `[daemon]`, one per `[[feed]]`),
/// their keys and types checked.
pub(super) fn sections<'a, 'i>(
    root: &'a DeTable<'i>,
    problems: &mut Problems,
) -> Vec<(&'static Section, Vec<Fields<'a, 'i>>)> {
    let mut out = Vec::new();
    for (key, value) in root.iter() {
        let name: &str = key.get_ref();
        let Some(section) = schema::section(name) else {
            unknown_top_level(name, value.get_ref(), problems);
            continue;
        };
        let at = |i: usize| match section.shape {
            Shape::Table => p(&[&section.name]),
            Shape::List => p(&[&section.name, &i]),
        };
        let fields = tables_of(section, value.get_ref(), problems)
            .into_iter()
            .enumerate()
            .map(|(i, t)| Fields::checked(t, at(i), section, problems))
            .collect();
        out.push((section, fields));
    }
    out
}

/// The tables of a section, as written; a `[feed]` written for `[[feed]]` (or the other way
/// round) is said and read as meant, so its contents are checked too.
fn tables_of<'a, 'i>(
    section: &Section,
    value: &'a DeValue<'i>,
    problems: &mut Problems,
) -> Vec<&'a DeTable<'i>> {
    let at = p(&[&section.name]);
    let name = section.name;
    let list: Option<Vec<&DeTable<'i>>> = value
        .as_array()
        .and_then(|a| a.iter().map(|v| v.get_ref().as_table()).collect());
    match (section.shape, value, list) {
        (Shape::Table, DeValue::Table(t), _) => vec![t],
        (Shape::List, _, Some(list)) => list,
        (Shape::List, DeValue::Table(t), _) => {
            problems.key(
                at,
                format!("`[{name}]` (single brackets) is one table, but {name}s are a list: write `[[{name}]]` (double brackets) above each {name}"),
            );
            vec![t]
        }
        (Shape::Table, _, Some(list)) if !list.is_empty() => {
            problems.key(
                at,
                format!("`[[{name}]]` (double brackets) starts a list, but there is one {name} table: write `[{name}]` (single brackets)"),
            );
            list.into_iter().take(1).collect()
        }
        (shape, v, _) => {
            let how = match shape {
                Shape::Table => format!("a `[{name}]` line, then its settings"),
                Shape::List => format!("a `[[{name}]]` line above each {name}"),
            };
            problems.value(
                at,
                format!(
                    "`{name}` must be written as {how} (found {})",
                    schema::found(v, false)
                ),
            );
            Vec::new()
        }
    }
}

/// A top-level name that is no section: a misspelt table, or a setting above every header.
fn unknown_top_level(name: &str, value: &DeValue<'_>, problems: &mut Problems) {
    let at = p(&[&name]);
    let shape = match value {
        DeValue::Table(_) => Some(Shape::Table),
        DeValue::Array(a) if !a.is_empty() && a.iter().all(|v| v.get_ref().is_table()) => {
            Some(Shape::List)
        }
        _ => None,
    };
    if let Some(shape) = shape {
        let hint = closest(name, SECTIONS.iter().map(|s| s.name))
            .and_then(schema::section)
            .map(|s| format!("; did you mean `{}`?", s.header()))
            .unwrap_or_else(|| {
                let all: Vec<String> = SECTIONS.iter().map(|s| s.header()).collect();
                format!(" (the tables are {})", all.join(", "))
            });
        problems.key(
            at,
            format!("unknown table `{}`{hint}", schema::header(name, shape)),
        );
        return;
    }
    let homes = sections_with(name);
    let message = if homes.is_empty() {
        format!("unknown key `{name}` at the top of the file")
    } else {
        format!(
            "`{name}` is not a top-level setting: it belongs under {} (keys above the first [table] line are top-level)",
            homes.join(" or ")
        )
    };
    problems.key(at, message);
}

/// The headers of the sections that have a key `name`: `["`[daemon]`"]`.
fn sections_with(name: &str) -> Vec<String> {
    SECTIONS
        .iter()
        .filter(|s| s.key(name).is_some())
        .map(|s| format!("`{}`", s.header()))
        .collect()
}

/// One table's values, read after its keys and their types were checked.
pub(super) struct Fields<'a, 'i> {
    table: &'a DeTable<'i>,
}

impl<'a, 'i> Fields<'a, 'i> {
    /// Records every unknown key and every value of the wrong type in `table` (at `path`).
    fn checked(
        table: &'a DeTable<'i>,
        path: PathSegs,
        section: &Section,
        problems: &mut Problems,
    ) -> Self {
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            let mut at = path.clone();
            at.push(Seg::Key(name.to_string()));
            let Some(spec) = section.key(name) else {
                problems.key(at, unknown_key(name, section));
                continue;
            };
            let v = value.get_ref();
            if !spec.ty.accepts(v) {
                problems.value(at, schema::type_message(spec, v));
                continue;
            }
            for (j, entry) in v.as_array().into_iter().flatten().enumerate() {
                if !spec.ty.accepts_entry(entry.get_ref()) {
                    let mut at = at.clone();
                    at.push(Seg::Index(j));
                    problems.value(at, schema::entry_message(spec, entry.get_ref()));
                }
            }
        }
        Self { table }
    }

    /// The value of `key` when its type is right (a wrong one was reported by [`checked`]).
    fn get(&self, key: &str) -> Option<&'a DeValue<'i>> {
        self.table.get(key).map(|v| v.get_ref())
    }

    pub(super) fn text(&self, key: &str) -> Option<String> {
        self.get(key).and_then(DeValue::as_str).map(str::to_string)
    }

    pub(super) fn count(&self, key: &str) -> Option<u32> {
        self.get(key)
            .and_then(DeValue::as_integer)
            .and_then(|i| schema::count(i).ok())
    }

    pub(super) fn flag(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(DeValue::as_bool)
    }

    /// The strings of a list; entries of another type were reported and are left out.
    pub(super) fn texts(&self, key: &str) -> Option<Vec<String>> {
        self.get(key).and_then(DeValue::as_array).map(|a| {
            a.iter()
                .filter_map(|v| v.get_ref().as_str().map(str::to_string))
                .collect()
        })
    }

    /// A secret, `priority` or `chat_id`: any value the key's type accepts, to be read later.
    pub(super) fn value(&self, key: &str, ty: schema::Ty) -> Option<toml::Value> {
        self.get(key).filter(|v| ty.accepts(v)).map(to_value)
    }

    pub(super) fn headers(&self, key: &str) -> Option<BTreeMap<String, RawSecret>> {
        self.get(key).and_then(DeValue::as_table).map(|t| {
            t.iter()
                .map(|(k, v)| (k.get_ref().to_string(), to_value(v.get_ref())))
                .collect()
        })
    }
}

/// "unknown key `x` in `[daemon]`", with the likely key, or the section that has it.
fn unknown_key(name: &str, section: &Section) -> String {
    let header = section.header();
    let hint = did_you_mean(name, section.keys.iter().map(|k| k.name));
    if !hint.is_empty() {
        return format!("unknown key `{name}` in `{header}`{hint}");
    }
    let homes = sections_with(name);
    if homes.is_empty() {
        format!("unknown key `{name}` in `{header}`")
    } else {
        format!(
            "unknown key `{name}` in `{header}` (it is a setting of {})",
            homes.join(" and ")
        )
    }
}

/// A value as a plain TOML value (secrets, `priority`, `chat_id` are checked from that).
fn to_value(v: &DeValue<'_>) -> toml::Value {
    use toml::Value as V;
    match v {
        DeValue::String(s) => V::String(s.to_string()),
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
            .map(V::Integer)
            // Too large for TOML's integers: a float, which no key takes, so it is refused.
            .unwrap_or(V::Float(f64::INFINITY)),
        DeValue::Float(f) => V::Float(f.as_str().parse().unwrap_or(f64::NAN)),
        DeValue::Boolean(b) => V::Boolean(*b),
        DeValue::Datetime(d) => V::Datetime(*d),
        DeValue::Array(a) => V::Array(a.iter().map(|x| to_value(x.get_ref())).collect()),
        DeValue::Table(t) => V::Table(
            t.iter()
                .map(|(k, x)| (k.get_ref().to_string(), to_value(x.get_ref())))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_keep_their_value_whatever_their_base() {
        let v = toml::de::DeTable::parse("a = 0x10\nb = 1_000\nc = -7\n").unwrap();
        let got: Vec<toml::Value> = ["a", "b", "c"]
            .iter()
            .map(|k| to_value(v.get_ref().get(*k).unwrap().get_ref()))
            .collect();
        assert_eq!(
            got,
            [
                toml::Value::Integer(16),
                toml::Value::Integer(1000),
                toml::Value::Integer(-7)
            ]
        );
    }
}
