//! JSON Feed as publishers write it, coerced into the types the spec (and feed-rs) wants:
//! numbers as ids, `null` where a string belongs, a missing or `http:` version, an author
//! given as a string, `items` holding strings, attachments without a MIME type.

use serde_json::{Map, Value};

use super::defuse::email_edges;
use super::{Fixed, Repair, splice};

const VERSION: &str = "https://jsonfeed.org/version/1.1";

/// Why a JSON document cannot be read as a feed.
#[derive(Debug, PartialEq, Eq)]
pub enum NotAFeed {
    Syntax(String),
    Shape(&'static str),
}

/// Coerce `doc` into a JSON Feed feed-rs accepts. `Ok(None)`: nothing to change.
pub fn loosen(doc: &str) -> Result<Option<Fixed>, NotAFeed> {
    let mut value: Value =
        serde_json::from_str(doc).map_err(|e| NotAFeed::Syntax(e.to_string()))?;
    let Some(feed) = value.as_object_mut() else {
        return Err(NotAFeed::Shape("a JSON document that is not an object"));
    };
    let mut c = Coercer::default();
    match feed.get_mut("items") {
        Some(Value::Array(items)) => {
            let before = items.len();
            items.retain(Value::is_object);
            c.changed |= items.len() != before;
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                c.item(item);
            }
        }
        Some(Value::Object(_)) => {
            // A single item where a list belongs.
            let one = feed.remove("items").unwrap_or(Value::Null);
            feed.insert("items".into(), Value::Array(vec![one]));
            c.changed = true;
            if let Some(Value::Array(items)) = feed.get_mut("items") {
                items
                    .iter_mut()
                    .filter_map(Value::as_object_mut)
                    .for_each(|i| c.item(i));
            }
        }
        _ => {
            return Err(NotAFeed::Shape(
                "JSON without an \"items\" list, not a JSON Feed",
            ));
        }
    }
    let mut repairs = Vec::new();
    let version_ok = feed
        .get("version")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with("https://jsonfeed.org/version/1"));
    if !version_ok {
        feed.insert("version".into(), Value::String(VERSION.into()));
        repairs.push(Repair::JsonVersionAssumed);
    }
    c.required_string(feed, "title");
    for key in [
        "home_page_url",
        "feed_url",
        "description",
        "icon",
        "favicon",
        "language",
    ] {
        c.optional_string(feed, key);
    }
    c.authors(feed);
    if c.changed {
        repairs.push(Repair::JsonTypesCoerced);
    }
    if c.emails {
        repairs.push(Repair::EmailSeparated);
    }
    if repairs.is_empty() {
        return Ok(None);
    }
    let text = serde_json::to_string(&value).map_err(|e| NotAFeed::Syntax(e.to_string()))?;
    Ok(Some(Fixed { text, repairs }))
}

#[derive(Default)]
struct Coercer {
    changed: bool,
    /// Author names with an e-mail address next to a non-ASCII character (see `defuse`).
    emails: bool,
}

impl Coercer {
    fn item(&mut self, item: &mut Map<String, Value>) {
        self.optional_string(item, "id");
        for key in [
            "url",
            "external_url",
            "title",
            "content_html",
            "content_text",
            "summary",
            "date_published",
            "date_modified",
            "image",
            "banner_image",
        ] {
            self.optional_string(item, key);
        }
        self.authors(item);
        match item.get_mut("tags") {
            None | Some(Value::Null) => {}
            Some(Value::Array(tags)) => {
                let fixed: Vec<Value> = tags
                    .iter()
                    .filter_map(scalar_string)
                    .map(Value::String)
                    .collect();
                if fixed != *tags {
                    *tags = fixed;
                    self.changed = true;
                }
            }
            Some(other) => {
                *other = Value::Array(
                    scalar_string(other)
                        .map(Value::String)
                        .into_iter()
                        .collect(),
                );
                self.changed = true;
            }
        }
        if let Some(att) = item.get_mut("attachments") {
            match att {
                Value::Array(list) => {
                    let before = list.len();
                    list.retain(|a| a.get("url").and_then(Value::as_str).is_some());
                    self.changed |= list.len() != before;
                    for a in list.iter_mut().filter_map(Value::as_object_mut) {
                        if a.get("mime_type").and_then(Value::as_str).is_none() {
                            a.insert("mime_type".into(), "application/octet-stream".into());
                            self.changed = true;
                        }
                        self.optional_string(a, "title");
                        match a.get("size_in_bytes") {
                            None | Some(Value::Null) => {}
                            Some(v) if v.as_u64().is_some() => {}
                            Some(v) => {
                                let n = v.as_str().and_then(|s| s.trim().parse::<u64>().ok());
                                match n {
                                    Some(n) => a.insert("size_in_bytes".into(), n.into()),
                                    None => a.remove("size_in_bytes"),
                                };
                                self.changed = true;
                            }
                        }
                    }
                }
                _ => {
                    item.remove("attachments");
                    self.changed = true;
                }
            }
        }
    }

    /// `author` (one object) and `authors` (a list): strings become `{"name": ...}`, other
    /// shapes are dropped.
    fn authors(&mut self, obj: &mut Map<String, Value>) {
        if let Some(a) = obj.get_mut("author")
            && !self.author(a)
        {
            obj.remove("author");
            self.changed = true;
        }
        match obj.get_mut("authors") {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                let before = list.len();
                list.retain_mut(|a| self.author(a));
                self.changed |= list.len() != before;
            }
            Some(_) => {
                obj.remove("authors");
                self.changed = true;
            }
        }
    }

    /// Make `a` an author object; false when it cannot be one.
    fn author(&mut self, a: &mut Value) -> bool {
        match a {
            Value::Null => true,
            Value::String(s) => {
                *a = Value::Object(Map::from_iter([(
                    "name".to_string(),
                    Value::String(s.clone()),
                )]));
                self.changed = true;
                self.author(a)
            }
            Value::Object(o) => {
                self.optional_string(o, "name");
                self.optional_string(o, "url");
                self.optional_string(o, "avatar");
                if let Some(Value::String(name)) = o.get_mut("name") {
                    let edges = email_edges(name);
                    if !edges.is_empty() {
                        let edits: Vec<(usize, usize, &str)> =
                            edges.iter().map(|&at| (at, at, " ")).collect();
                        *name = splice(name, &edits);
                        self.emails = true;
                    }
                }
                true
            }
            _ => false,
        }
    }

    /// A field that must be a string if present: numbers and booleans become strings, other
    /// values are removed (`null` stays: it reads as absent).
    fn optional_string(&mut self, obj: &mut Map<String, Value>, key: &str) {
        match obj.get(key) {
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(v) => {
                match scalar_string(v) {
                    Some(s) => obj.insert(key.into(), Value::String(s)),
                    None => obj.remove(key),
                };
                self.changed = true;
            }
        }
    }

    /// A field feed-rs requires as a string: absent or `null` becomes "".
    fn required_string(&mut self, obj: &mut Map<String, Value>, key: &str) {
        if !obj.get(key).is_some_and(Value::is_string) {
            let s = obj.get(key).and_then(scalar_string).unwrap_or_default();
            obj.insert(key.into(), Value::String(s));
            self.changed = true;
        }
    }
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loose(doc: &str) -> (Value, Vec<String>) {
        let f = loosen(doc).expect("a feed").expect("changed");
        (
            serde_json::from_str(&f.text).expect("json"),
            f.repairs.iter().map(Repair::name).collect(),
        )
    }

    #[test]
    fn odd_types_are_coerced() {
        let (v, r) = loose(
            r#"{"version":"https://jsonfeed.org/version/1","title":null,"author":"Ann","items":[
            "junk", {"id":42,"title":7,"url":null,"tags":["a",1,{"x":1}],"authors":["Bob",3],
            "attachments":[{"url":"https://x/a.mp3","size_in_bytes":"123"},{"title":"no url"}]}]}"#,
        );
        assert_eq!(r, ["json-types-coerced"]);
        assert_eq!(v["title"], "");
        assert_eq!(v["author"]["name"], "Ann");
        let item = &v["items"][0];
        assert_eq!(v["items"].as_array().map(Vec::len), Some(1));
        assert_eq!(item["id"], "42");
        assert_eq!(item["title"], "7");
        assert_eq!(item["tags"], serde_json::json!(["a", "1"]));
        assert_eq!(item["authors"], serde_json::json!([{"name": "Bob"}]));
        assert_eq!(
            item["attachments"][0]["mime_type"],
            "application/octet-stream"
        );
        assert_eq!(item["attachments"][0]["size_in_bytes"], 123);
        assert_eq!(item["attachments"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn author_emails_next_to_non_ascii_are_separated() {
        let (v, r) = loose(
            r#"{"version":"https://jsonfeed.org/version/1.1","title":"t","author":{"name":"Mo \u00aba@b.org\u00bb"},"items":[{"id":"1","authors":["x@y.org\u2014X"]}]}"#,
        );
        assert_eq!(v["author"]["name"], "Mo « a@b.org »");
        assert_eq!(v["items"][0]["authors"][0]["name"], "x@y.org —X");
        assert_eq!(r, ["json-types-coerced", "email-separated"]);
    }

    #[test]
    fn missing_or_old_version_is_assumed() {
        let (v, r) = loose(r#"{"title":"t","items":[]}"#);
        assert_eq!(v["version"], VERSION);
        assert_eq!(r, ["json-version-assumed"]);
        let (_, r) = loose(r#"{"version":"http://jsonfeed.org/version/1","title":"t","items":[]}"#);
        assert_eq!(r, ["json-version-assumed"]);
    }

    #[test]
    fn clean_feeds_and_non_feeds() {
        assert!(matches!(
            loosen(
                r#"{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[{"id":"1"}]}"#
            ),
            Ok(None)
        ));
        assert!(matches!(
            loosen(r#"{"data":[1,2]}"#),
            Err(NotAFeed::Shape(_))
        ));
        assert!(matches!(loosen("[1,2]"), Err(NotAFeed::Shape(_))));
        assert!(matches!(loosen("{\"items\": [}"), Err(NotAFeed::Syntax(_))));
    }
}
