//! OPML in and out (`feedwatch opml import|export`). Pure: text in, text out.
//!
//! Import decides what an OPML file adds to a config: every outline with an `xmlUrl` is a
//! feed; the folders it sits in and its `category` attribute become tags; its name is made
//! from its text, unique among the config's names. An entry whose URL the config already has,
//! or that an earlier entry of the file had (Feedly lists a feed once per folder: the tags are
//! merged), or whose URL is not http(s), is reported and left out. The new `[[feed]]` tables
//! are written with toml_edit, so appending them to a config keeps its comments and layout.
//!
//! Export writes OPML 2.0: a feed's first tag is its folder and all its tags its `category`,
//! which is what readers (Miniflux, FreshRSS, Feedly) and a second import read back.

use std::collections::{HashMap, HashSet};

use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, value};
use url::Url;

use crate::config::FeedConfig;

/// A feed the import adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFeed {
    pub name: String,
    pub url: Url,
    pub tags: Vec<String>,
    /// The outline's title, as a comment above the entry.
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// The config has this URL already, under this name.
    InConfig(String),
    /// An earlier entry of the file had this URL: its tags went to that feed.
    Repeated(String),
    /// Not a URL feedwatch can poll, and why.
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub title: String,
    pub url: String,
    pub why: Skip,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Import {
    pub feeds: Vec<NewFeed>,
    pub skipped: Vec<Skipped>,
    /// Outlines read (folders included).
    pub outlines: usize,
}

/// Parse an OPML document (1.0, 1.1 or 2.0); the error says what is wrong with it.
pub fn parse(xml: &str) -> Result<::opml::OPML, String> {
    let xml = xml.trim_start_matches('\u{feff}');
    ::opml::OPML::from_str(xml).map_err(|e| match e {
        ::opml::Error::XmlError(x) => format!("not well-formed OPML: {x}"),
        other => other.to_string(),
    })
}

/// How many outlines `doc` has, folders included (for progress).
pub fn count_outlines(doc: &::opml::OPML) -> usize {
    fn count(o: &[::opml::Outline]) -> usize {
        o.iter().map(|x| 1 + count(&x.outlines)).sum()
    }
    count(&doc.body.outlines)
}

/// What `doc` adds to a config whose feeds are `existing` (name, URL); `step` is called once
/// per outline.
pub fn plan<'a>(
    doc: &::opml::OPML,
    existing: impl IntoIterator<Item = (&'a str, &'a Url)>,
    mut step: impl FnMut(&str),
) -> Import {
    let mut p = Planner::default();
    for (name, url) in existing {
        p.names.insert(name.to_string());
        p.urls.insert(key(url), Owner::Config(name.to_string()));
    }
    p.walk(&doc.body.outlines, &[], &mut step);
    p.out
}

#[derive(Debug, Clone)]
enum Owner {
    Config(String),
    /// Index into `Import::feeds`.
    New(usize),
}

#[derive(Default)]
struct Planner {
    names: HashSet<String>,
    urls: HashMap<String, Owner>,
    out: Import,
}

impl Planner {
    fn walk(
        &mut self,
        outlines: &[::opml::Outline],
        folders: &[String],
        step: &mut impl FnMut(&str),
    ) {
        for o in outlines {
            self.out.outlines += 1;
            let label = label(o);
            step(&label);
            match o
                .xml_url
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
            {
                Some(url) => {
                    self.feed(o, &label, url, folders);
                    self.walk(&o.outlines, folders, step);
                }
                None => {
                    let mut inner = folders.to_vec();
                    let tag = slug(&label);
                    if !tag.is_empty() && !inner.contains(&tag) {
                        inner.push(tag);
                    }
                    self.walk(&o.outlines, &inner, step);
                }
            }
        }
    }

    fn feed(&mut self, o: &::opml::Outline, label: &str, url_text: &str, folders: &[String]) {
        let skip = |why| Skipped {
            title: label.to_string(),
            url: url_text.to_string(),
            why,
        };
        let url = match pollable(url_text) {
            Ok(u) => u,
            Err(why) => return self.out.skipped.push(skip(Skip::Invalid(why))),
        };
        let mut tags = folders.to_vec();
        for t in categories(o.category.as_deref()) {
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        match self.urls.get(&key(&url)).cloned() {
            Some(Owner::Config(name)) => self.out.skipped.push(skip(Skip::InConfig(name))),
            Some(Owner::New(i)) => {
                let first = &mut self.out.feeds[i];
                for t in tags {
                    if !first.tags.contains(&t) {
                        first.tags.push(t);
                    }
                }
                let name = first.name.clone();
                self.out.skipped.push(skip(Skip::Repeated(name)));
            }
            None => {
                let name = self.unique_name(label, &url);
                self.urls
                    .insert(key(&url), Owner::New(self.out.feeds.len()));
                self.out.feeds.push(NewFeed {
                    name,
                    url,
                    tags,
                    title: label.to_string(),
                });
            }
        }
    }

    fn unique_name(&mut self, label: &str, url: &Url) -> String {
        let mut base = slug(label);
        if base.is_empty() {
            base = slug(url.host_str().unwrap_or(""));
        }
        // A host with no letter or digit (`https:-/x` parses with host `-`): a config
        // refuses an empty name.
        if base.is_empty() {
            base = "feed".into();
        }
        let mut name = base.clone();
        let mut n = 2;
        while self.names.contains(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        self.names.insert(name.clone());
        name
    }
}

/// What an outline calls itself: its text, else its title (newsboat writes only `title`).
fn label(o: &::opml::Outline) -> String {
    let text = o.text.trim();
    let raw = if text.is_empty() {
        o.title.as_deref().unwrap_or("").trim()
    } else {
        text
    };
    crate::text::one_line(&crate::text::clean(raw))
}

/// A URL feedwatch can poll, or why not.
fn pollable(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "`{}:` URLs cannot be polled (http or https only)",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    Ok(url)
}

/// The form two URLs of one feed share: parsed (host lower-cased, default port dropped),
/// without a fragment.
fn key(url: &Url) -> String {
    let mut u = url.clone();
    u.set_fragment(None);
    u.to_string()
}

/// OPML 2.0 `category`: comma-separated, each a slash-delimited path; every part is a tag.
fn categories(attr: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    for part in attr.unwrap_or("").split([',', '/']) {
        let t = slug(part);
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// A name or tag made from free text: lower case, letters and digits kept (any script),
/// everything else one `-`; at most 40 characters.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let cut: String = out.chars().take(40).collect();
    cut.trim_matches('-').to_string()
}

fn table(f: &NewFeed) -> Table {
    let mut t = Table::new();
    t["name"] = value(f.name.as_str());
    t["url"] = value(f.url.as_str());
    if !f.tags.is_empty() {
        t["tags"] = value(f.tags.iter().map(String::as_str).collect::<Array>());
    }
    // The outline's title, when it is not the name (controls removed: it is a comment).
    let title: String = f.title.chars().filter(|c| !c.is_control()).collect();
    if !title.is_empty() && title != f.name {
        t.decor_mut().set_prefix(format!("\n# {title}\n"));
    }
    t
}

/// The `[[feed]]` tables for `feeds`, as TOML to paste into a config.
pub fn to_toml(feeds: &[NewFeed]) -> String {
    let mut doc = DocumentMut::new();
    let mut list = ArrayOfTables::new();
    for f in feeds {
        list.push(table(f));
    }
    doc.insert("feed", Item::ArrayOfTables(list));
    doc.to_string()
}

/// `config` with `feeds` appended to its `[[feed]]` list, everything else as it was.
pub fn append(config: &str, feeds: &[NewFeed]) -> Result<String, String> {
    let mut doc: DocumentMut = config
        .parse()
        .map_err(|e| format!("the config is not valid TOML: {e}"))?;
    let entry = doc
        .entry("feed")
        .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()));
    let Some(list) = entry.as_array_of_tables_mut() else {
        return Err("`feed` in the config is not a list of [[feed]] tables".into());
    };
    for f in feeds {
        list.push(table(f));
    }
    Ok(doc.to_string())
}

/// The feeds as an OPML 2.0 document titled `title`, created `now`.
pub fn export(
    feeds: &[FeedConfig],
    title: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, String> {
    let mut doc = ::opml::OPML {
        version: "2.0".into(),
        head: Some(::opml::Head {
            title: Some(title.to_string()),
            date_created: Some(now.to_rfc2822()),
            ..Default::default()
        }),
        body: ::opml::Body::default(),
    };
    let mut folders: Vec<::opml::Outline> = Vec::new();
    for f in feeds {
        let outline = ::opml::Outline {
            text: f.name.clone(),
            title: Some(f.name.clone()),
            r#type: Some("rss".into()),
            xml_url: Some(f.url.to_string()),
            category: (!f.tags.is_empty()).then(|| f.tags.join(",")),
            ..Default::default()
        };
        match f.tags.first() {
            None => doc.body.outlines.push(outline),
            Some(tag) => match folders.iter_mut().find(|o| &o.text == tag) {
                Some(folder) => folder.outlines.push(outline),
                None => folders.push(::opml::Outline {
                    text: tag.clone(),
                    title: Some(tag.clone()),
                    outlines: vec![outline],
                    ..Default::default()
                }),
            },
        }
    }
    doc.body.outlines.extend(folders);
    let xml = doc.to_string().map_err(|e| format!("writing OPML: {e}"))?;
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{xml}\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(body: &str) -> ::opml::OPML {
        parse(&format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><opml version="2.0"><head><title>t</title></head><body>{body}</body></opml>"#
        ))
        .unwrap()
    }

    fn names(i: &Import) -> Vec<&str> {
        i.feeds.iter().map(|f| f.name.as_str()).collect()
    }

    #[test]
    fn folders_and_categories_become_tags() {
        let d = doc(r#"<outline text="World News"><outline text="Europe">
            <outline text="DW" xmlUrl="https://rss.dw.com/x" category="/Germany/Politics,wire"/>
            </outline></outline>"#);
        let i = plan(&d, [], |_| {});
        assert_eq!(
            i.feeds[0].tags,
            ["world-news", "europe", "germany", "politics", "wire"]
        );
        assert_eq!(i.outlines, 3);
    }

    #[test]
    fn duplicates_and_bad_urls_are_reported_not_imported() {
        let existing = Url::parse("https://Lwn.net:443/headlines/rss").unwrap();
        let d = doc(r#"
            <outline text="LWN" xmlUrl="https://lwn.net/headlines/rss"/>
            <outline text="A"><outline text="Wire" xmlUrl="https://wire.example/f"/></outline>
            <outline text="B"><outline text="Wire" xmlUrl="https://wire.example/f#x"/></outline>
            <outline text="FTP" xmlUrl="ftp://x.example/f"/>
            <outline text="Junk" xmlUrl="not a url"/>"#);
        let i = plan(&d, [("lwn", &existing)], |_| {});
        assert_eq!(names(&i), ["wire"]);
        assert_eq!(i.feeds[0].tags, ["a", "b"], "Feedly-style folders merged");
        let why: Vec<&Skip> = i.skipped.iter().map(|s| &s.why).collect();
        assert_eq!(why[0], &Skip::InConfig("lwn".into()));
        assert_eq!(why[1], &Skip::Repeated("wire".into()));
        assert!(matches!(why[2], Skip::Invalid(w) if w.contains("http or https")));
        assert!(matches!(why[3], Skip::Invalid(w) if w.contains("not a URL")));
    }

    #[test]
    fn names_are_slugs_unique_among_the_configs() {
        let taken = Url::parse("https://other.example/").unwrap();
        let d = doc(r#"
            <outline text="Agency Wire!" xmlUrl="https://a.example/1"/>
            <outline text="agency   wire" xmlUrl="https://a.example/2"/>
            <outline title="NHKニュース" text="" xmlUrl="https://nhk.example/"/>
            <outline text="" xmlUrl="https://news.example.org/rss"/>"#);
        let i = plan(&d, [("agency-wire", &taken)], |_| {});
        assert_eq!(
            names(&i),
            [
                "agency-wire-2",
                "agency-wire-3",
                "nhkニュース",
                "news-example-org"
            ]
        );
    }

    #[test]
    fn appending_keeps_the_configs_comments_and_layout() {
        let config = "# my feeds\n[daemon]\nschedule = \"*/5 * * * *\" # often\n\n[[feed]]\nname = \"a\" # first\nurl = \"https://a.example/\"\n\n[[topic]]\nname = \"t\"\nquery = 'x'\nnotify = []\n";
        let d = doc(
            r#"<outline text="Tech"><outline text="LWN.net" xmlUrl="https://lwn.net/headlines/rss"/></outline>"#,
        );
        let i = plan(&d, [], |_| {});
        let out = append(config, &i.feeds).unwrap();
        let added = "# LWN.net\n[[feed]]\nname = \"lwn-net\"\nurl = \"https://lwn.net/headlines/rss\"\ntags = [\"tech\"]\n";
        // After the last feed, before the topics; every other line as it was.
        let (before, after) = out.split_once(added).expect(&out);
        assert_eq!(
            format!("{before}{after}").replace("\n\n\n", "\n\n"),
            config,
            "{out}"
        );
        assert!(after.trim_start().starts_with("[[topic]]"), "{out}");
        let parsed: DocumentMut = out.parse().unwrap();
        assert_eq!(parsed["feed"].as_array_of_tables().unwrap().len(), 2);
        assert!(append("feed = 3\n", &i.feeds).is_err());
    }

    #[test]
    fn export_reads_back_as_the_same_feeds() {
        let src = "[[feed]]\nname = \"wire\"\nurl = \"https://wire.example/f?a=1&b=2\"\ntags = [\"world\", \"agency\"]\n\
                   [[feed]]\nname = \"solo\"\nurl = \"https://solo.example/\"\n\
                   [[feed]]\nname = \"dw\"\nurl = \"https://dw.example/\"\ntags = [\"world\"]\n";
        let cfg = crate::config::parse(
            std::path::Path::new("/t.toml"),
            src,
            crate::config::Secrets::Skip,
        )
        .unwrap();
        let xml = export(&cfg.feeds, "feedwatch", chrono::Utc::now()).unwrap();
        assert!(
            xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">"),
            "{xml}"
        );
        let back = plan(&parse(&xml).unwrap(), [], |_| {});
        let got: Vec<(&str, &str, Vec<&str>)> = back
            .feeds
            .iter()
            .map(|f| {
                (
                    f.name.as_str(),
                    f.url.as_str(),
                    f.tags.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("solo", "https://solo.example/", vec![]),
                (
                    "wire",
                    "https://wire.example/f?a=1&b=2",
                    vec!["world", "agency"]
                ),
                ("dw", "https://dw.example/", vec!["world"]),
            ]
        );
    }

    #[test]
    fn broken_documents_say_why() {
        assert!(
            parse("<opml version=\"2.0\"><body>")
                .unwrap_err()
                .contains("not well-formed")
        );
        assert!(parse("<opml version=\"3.0\"><body><outline text=\"a\"/></body></opml>").is_err());
    }
}
