//! What every key of every section is: its TOML type and an example, in one table. The reader
//! checks types against it and every type message is written from it, so what is accepted and
//! what a message says is expected cannot drift apart. Pure: no I/O.

use toml::de::DeValue;

/// The TOML shape a key takes (its meaning is checked later, by the section modules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ty {
    /// A string.
    Text,
    /// A string such as "30s".
    Duration,
    /// A string such as "16MiB".
    Size,
    /// A string holding a cron expression.
    Cron,
    /// A whole number, 0 up to `u32::MAX` (the section says what the least useful one is).
    Count,
    /// `true` or `false`.
    Flag,
    /// A list of strings.
    Texts,
    /// A list of strings: a program and its arguments.
    Command,
    /// A string, or a one-key table `{ env | file | credential = "..." }`; never shown.
    Secret,
    /// A table of header names to values (each one a secret).
    Headers,
    /// A number or a string (`priority`, `chat_id`).
    NumberOrText,
}

/// One key of a section.
pub(super) struct Key {
    pub name: &'static str,
    pub ty: Ty,
    /// Values as they would be written after `name = `; the first is the usual one.
    pub examples: &'static [&'static str],
}

const fn k(name: &'static str, ty: Ty, examples: &'static [&'static str]) -> Key {
    Key { name, ty, examples }
}

use Ty::*;

pub(super) const DAEMON: &[Key] = &[
    k("database", Text, &[r#""/var/lib/feedwatch/feedwatch.db""#]),
    k("schedule", Cron, &[r#""*/15 * * * *""#]),
    k("timezone", Text, &[r#""Europe/Paris""#]),
    k("concurrency", Count, &["16"]),
    k("per_host", Count, &["2"]),
    k("timeout", Duration, &[r#""30s""#]),
    k("connect_timeout", Duration, &[r#""10s""#]),
    k("max_body", Size, &[r#""16MiB""#]),
    k(
        "user_agent",
        Text,
        &[r#""feedwatch (+https://example.org/contact)""#],
    ),
    k("retention", Duration, &[r#""90d""#]),
    k("respect_cache_headers", Flag, &["true"]),
    k("notify_errors", Texts, &[r#"["ops"]"#]),
    k("alert_backoff", Duration, &[r#""30s""#]),
    k("alert_attempts", Count, &["10"]),
    k("busy_timeout", Duration, &[r#""10s""#]),
    k("give_up_after", Duration, &[r#""5m""#]),
    k("failing_after", Count, &["3"]),
    k("cache_max", Duration, &[r#""24h""#]),
    k("story_window", Duration, &[r#""72h""#]),
    k("log_format", Text, &[r#""auto""#]),
    k("allow_private_networks", Flag, &["false"]),
];

pub(super) const HTTP: &[Key] = &[k("listen", Text, &[r#""127.0.0.1:9187""#])];

pub(super) const FEED: &[Key] = &[
    k("name", Text, &[r#""agency-wire""#]),
    k("url", Text, &[r#""https://example.org/feeds/world.xml""#]),
    k("schedule", Cron, &[r#""*/5 * * * *""#]),
    k("tags", Texts, &[r#"["world", "wire"]"#]),
    k("dedup", Text, &[r#""auto""#]),
    k("respect_cache_headers", Flag, &["false"]),
];

pub(super) const TOPIC: &[Key] = &[
    k("name", Text, &[r#""china-russia""#]),
    k("query", Text, &["'(China OR Beijing) AND Russia'"]),
    k("tags", Texts, &[r#"["world"]"#]),
    k("feeds", Texts, &[r#"["agency-wire"]"#]),
    k("notify", Texts, &[r#"["ops"]"#]),
    k("notify_errors", Texts, &[r#"["ops"]"#]),
];

/// Every option of every notifier kind; which kind takes which is decided in `notifiers/`.
pub(super) const NOTIFIER: &[Key] = &[
    k("name", Text, &[r#""ops""#]),
    k("kind", Text, &[r#""webhook""#]),
    k("url", Text, &[r#""https://hooks.example.org/feedwatch""#]),
    k(
        "secret",
        Secret,
        &[r#"{ env = "FEEDWATCH_WEBHOOK_SECRET" }"#],
    ),
    k(
        "headers",
        Headers,
        &[r#"{ Authorization = { env = "HOOK_AUTHORIZATION" } }"#],
    ),
    k("topic", Text, &[r#""alerts""#]),
    k("token", Secret, &[r#"{ env = "FEEDWATCH_TOKEN" }"#]),
    k("username", Text, &[r#""feedwatch""#]),
    k("password", Secret, &[r#"{ credential = "smtp-password" }"#]),
    k("priority", NumberOrText, &["4", r#""high""#]),
    k("tags", Texts, &[r#"["newspaper"]"#]),
    k("smtp", Text, &[r#""smtp://mail.example.org:587""#]),
    k("from", Text, &[r#""feedwatch@example.org""#]),
    k("to", Texts, &[r#"["analyst@example.org"]"#]),
    k(
        "subject_template",
        Text,
        &[r#""[{{ topic }}] {{ story.title }}""#],
    ),
    k("room", Text, &[r#""!abc123:example.org""#]),
    k("chat_id", NumberOrText, &["-1001234567890", r#""@news""#]),
    k("command", Command, &[r#"["notify-send", "feedwatch"]"#]),
    k("timeout", Duration, &[r#""30s""#]),
    k("digest", Cron, &[r#""0 8 * * *""#]),
    k("max_per_hour", Count, &["20"]),
    k("title_template", Text, &[r#""{{ story.title }}""#]),
    k("body_template", Text, &[r#""{{ item.url }}""#]),
];

/// How a top-level section is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// `[daemon]`: one table.
    Table,
    /// `[[feed]]`: a list of tables, one per header.
    List,
}

pub(super) struct Section {
    pub name: &'static str,
    pub shape: Shape,
    pub keys: &'static [Key],
}

impl Section {
    /// The section's header as written: `[daemon]` or `[[feed]]`.
    pub fn header(&self) -> String {
        header(self.name, self.shape)
    }

    pub fn key(&self, name: &str) -> Option<&'static Key> {
        self.keys.iter().find(|k| k.name == name)
    }
}

pub(super) fn header(name: &str, shape: Shape) -> String {
    match shape {
        Shape::Table => format!("[{name}]"),
        Shape::List => format!("[[{name}]]"),
    }
}

pub(super) const SECTIONS: &[Section] = &[
    Section {
        name: "daemon",
        shape: Shape::Table,
        keys: DAEMON,
    },
    Section {
        name: "http",
        shape: Shape::Table,
        keys: HTTP,
    },
    Section {
        name: "feed",
        shape: Shape::List,
        keys: FEED,
    },
    Section {
        name: "topic",
        shape: Shape::List,
        keys: TOPIC,
    },
    Section {
        name: "notifier",
        shape: Shape::List,
        keys: NOTIFIER,
    },
];

pub(super) fn section(name: &str) -> Option<&'static Section> {
    SECTIONS.iter().find(|s| s.name == name)
}

impl Ty {
    /// The type as the README's config reference names it.
    pub fn name(self) -> &'static str {
        match self {
            Text => "string",
            Duration => "duration",
            Size => "size",
            Cron => "cron",
            Count => "number",
            Flag => "boolean",
            Texts => "list of strings",
            Command => "command",
            Secret => "secret",
            Headers => "headers",
            NumberOrText => "number or string",
        }
    }

    /// Whether a value has this shape. Lists are accepted whatever their entries: each entry
    /// is checked on its own by [`Ty::accepts_entry`], so one wrong entry is one message.
    pub fn accepts(self, v: &DeValue<'_>) -> bool {
        match self {
            Text | Duration | Size | Cron => v.is_str(),
            Count => v.as_integer().is_some_and(|i| count(i).is_ok()),
            Flag => v.is_bool(),
            Texts | Command => v.is_array(),
            Secret => v.is_str() || v.is_table(),
            Headers => v.is_table(),
            NumberOrText => v.is_str() || v.is_integer(),
        }
    }

    /// Whether an entry of a list of this type is right.
    pub fn accepts_entry(self, v: &DeValue<'_>) -> bool {
        v.is_str()
    }

    /// Whether the value may be quoted in a message (a secret may not, even a wrong one).
    fn shows_values(self) -> bool {
        !matches!(self, Secret | Headers)
    }

    /// What the key's value must be, as the start of a sentence about `key`.
    fn expected(self, key: &str, found: &DeValue<'_>) -> String {
        match self {
            Text => format!("`{key}` must be a string in quotes"),
            Duration => format!("`{key}` is a duration in quotes"),
            Size => format!("`{key}` is a size in quotes"),
            Cron => format!("`{key}` is a cron schedule in quotes"),
            Count => match found {
                DeValue::Integer(i) if i.as_str().starts_with('-') => {
                    format!("`{key}` must be a positive number")
                }
                DeValue::Integer(_) => format!("`{key}` is too large: at most {}", u32::MAX),
                DeValue::Float(_) => format!("`{key}` must be a whole number"),
                _ => format!("`{key}` must be a number"),
            },
            Flag => format!("`{key}` must be true or false, without quotes"),
            Texts => format!("`{key}` must be a list of strings"),
            Command => format!("`{key}` must be a list: the program, then each argument"),
            Secret => format!("`{key}` must be a string, or {}", SECRET_TABLES),
            Headers => format!("`{key}` must be a table of header names and values"),
            NumberOrText => format!("`{key}` must be a number or a string in quotes"),
        }
    }
}

/// The table forms of a secret, as messages name them.
pub(super) const SECRET_TABLES: &str =
    r#"one of { env = "NAME" }, { file = "PATH" }, { credential = "NAME" }"#;

/// A `Count` as the number it is, or why it is not one.
pub(super) fn count(i: &toml::de::DeInteger<'_>) -> Result<u32, ()> {
    u32::from_str_radix(i.as_str(), i.radix()).map_err(|_| ())
}

/// "e.g. `key = 1` or `key = "x"`", from the key's examples (or one written from the value
/// found, when that shows the fix best).
pub(super) fn example(key: &Key, found: Option<&DeValue<'_>>) -> String {
    let own = found.and_then(|v| fixed(key, v));
    let examples: Vec<String> = match own {
        Some(e) => vec![e],
        None => key.examples.iter().map(|e| e.to_string()).collect(),
    };
    let shown: Vec<String> = examples
        .iter()
        .map(|e| format!("`{} = {e}`", key.name))
        .collect();
    format!("e.g. {}", shown.join(" or "))
}

/// The value found, corrected, when the correction is plain: `"16"` → `16`, `"ops"` →
/// `["ops"]`. (Not a number for a string: `url = 8080` was not meant as `url = "8080"`.)
fn fixed(key: &Key, v: &DeValue<'_>) -> Option<String> {
    match (key.ty, v) {
        (Count, DeValue::String(s)) => s.trim().parse::<u32>().ok().map(|n| n.to_string()),
        (Flag, DeValue::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Some("true".into()),
            "false" | "no" | "off" => Some("false".into()),
            _ => None,
        },
        (Texts, DeValue::String(s)) => Some(format!("[{}]", quote(s))),
        (Command, DeValue::String(s)) if !s.trim().is_empty() => Some(format!(
            "[{}]",
            s.split_whitespace()
                .map(quote)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => None,
    }
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// What was found, for "(found …)": the value itself unless it may be a secret.
pub(super) fn found(v: &DeValue<'_>, show: bool) -> String {
    let (kind, text) = match v {
        DeValue::String(s) => ("a string", format!("the string {}", short(s))),
        DeValue::Integer(i) => ("a number", format!("the number {i}")),
        DeValue::Float(f) => ("a number", format!("the number {f}")),
        DeValue::Boolean(b) => ("true or false", b.to_string()),
        DeValue::Datetime(d) => ("a date", format!("the date {d}")),
        DeValue::Array(_) => ("a list", "a list".to_string()),
        DeValue::Table(_) => ("a table", "a table".to_string()),
    };
    if show { text } else { kind.to_string() }
}

/// A string as TOML would write it, cut short so one message stays one line.
fn short(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() > MAX {
        // The closing quote goes after the ellipsis, whichever quote TOML chose.
        let mut cut = quote(&s.chars().take(MAX).collect::<String>());
        let close = cut.pop().unwrap_or('"');
        format!("{cut}…{close}")
    } else {
        quote(s)
    }
}

/// The message for a value of the wrong type: what is expected, an example, what was found.
pub(super) fn type_message(key: &Key, v: &DeValue<'_>) -> String {
    format!(
        "{}, {} (found {})",
        key.ty.expected(key.name, v),
        example(key, Some(v)),
        found(v, key.ty.shows_values())
    )
}

/// The message for a wrong entry of a list.
pub(super) fn entry_message(key: &Key, v: &DeValue<'_>) -> String {
    format!(
        "{}, {} (found {} in it)",
        key.ty.expected(key.name, v),
        example(key, None),
        found(v, key.ty.shows_values())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(src: &str) -> DeValue<'static> {
        let text: &'static str = Box::leak(format!("v = {src}").into_boxed_str());
        let doc = toml::de::DeTable::parse(text).unwrap().into_inner();
        doc.into_iter().next().unwrap().1.into_inner()
    }

    /// Every example in the table is valid TOML of the key's own type, so no message can
    /// show an example that would itself be refused.
    #[test]
    fn every_example_has_its_keys_type() {
        for s in SECTIONS {
            for key in s.keys {
                for e in key.examples {
                    let v = value(e);
                    assert!(key.ty.accepts(&v), "{}.{} = {e}", s.name, key.name);
                    if let DeValue::Array(a) = &v {
                        assert!(a.iter().all(|x| key.ty.accepts_entry(x.get_ref())));
                    }
                }
            }
        }
    }

    #[test]
    fn messages_say_what_is_expected_with_an_example_and_what_was_found() {
        let concurrency = section("daemon").unwrap().key("concurrency").unwrap();
        assert_eq!(
            type_message(concurrency, &value(r#""16""#)),
            r#"`concurrency` must be a number, e.g. `concurrency = 16` (found the string "16")"#
        );
        assert_eq!(
            type_message(concurrency, &value("-3")),
            "`concurrency` must be a positive number, e.g. `concurrency = 16` (found the number -3)"
        );
        let timeout = section("daemon").unwrap().key("timeout").unwrap();
        assert_eq!(
            type_message(timeout, &value("30")),
            r#"`timeout` is a duration in quotes, e.g. `timeout = "30s"` (found the number 30)"#
        );
        let notify = section("topic").unwrap().key("notify").unwrap();
        assert_eq!(
            type_message(notify, &value(r#""ops""#)),
            r#"`notify` must be a list of strings, e.g. `notify = ["ops"]` (found the string "ops")"#
        );
        let flag = section("feed")
            .unwrap()
            .key("respect_cache_headers")
            .unwrap();
        assert!(
            type_message(flag, &value(r#""no""#)).contains("e.g. `respect_cache_headers = false`")
        );
        let priority = section("notifier").unwrap().key("priority").unwrap();
        assert!(
            type_message(priority, &value("[1]"))
                .contains(r#"e.g. `priority = 4` or `priority = "high"` (found a list)"#)
        );
    }

    #[test]
    fn a_secret_of_the_wrong_type_is_not_shown() {
        let secret = section("notifier").unwrap().key("secret").unwrap();
        let m = type_message(secret, &value("123456789"));
        assert!(m.ends_with("(found a number)"), "{m}");
        assert!(!m.contains("123456789"), "{m}");
    }

    #[test]
    fn long_strings_are_cut() {
        let concurrency = section("daemon").unwrap().key("concurrency").unwrap();
        let m = type_message(concurrency, &value(&format!("\"{}\"", "x".repeat(100))));
        assert!(
            m.ends_with(&format!("(found the string \"{}…\")", "x".repeat(40))),
            "{m}"
        );
    }
}
