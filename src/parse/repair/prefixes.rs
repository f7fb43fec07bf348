//! Namespace prefixes used without a declaration (`itunes:` with no `xmlns:itunes`),
//! declared on the root element: the well-known ones with their real URIs, so feed-rs reads
//! their elements, the rest with a placeholder. Undeclared, feed-rs would read
//! `<media:title>` as the item's `<title>`.

use super::{Fixed, Repair, splice};
use crate::parse::dialect::sniff;
use crate::parse::lex::{Kind, Lexer, Tag, split_qname};
use crate::parse::survey::note_prefix as add;

/// The URI a prefix conventionally stands for.
pub fn well_known(prefix: &str) -> Option<&'static str> {
    Some(match prefix {
        "itunes" => "http://www.itunes.com/dtds/podcast-1.0.dtd",
        "media" => "http://search.yahoo.com/mrss/",
        "dc" => "http://purl.org/dc/elements/1.1/",
        "dcterms" => "http://purl.org/dc/terms/",
        "content" => "http://purl.org/rss/1.0/modules/content/",
        "atom" => "http://www.w3.org/2005/Atom",
        "sy" => "http://purl.org/rss/1.0/modules/syndication/",
        "slash" => "http://purl.org/rss/1.0/modules/slash/",
        "wfw" => "http://wellformedweb.org/CommentAPI/",
        "georss" => "http://www.georss.org/georss",
        "geo" => "http://www.w3.org/2003/01/geo/wgs84_pos#",
        "rdf" => "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
        "podcast" => "https://podcastindex.org/namespace/1.0",
        "googleplay" => "http://www.google.com/schemas/play-podcasts/1.0",
        "yt" => "http://www.youtube.com/xml/schemas/2015",
        "thr" => "http://purl.org/syndication/thread/1.0",
        "feedburner" => "http://rssnamespace.org/feedburner/ext/1.0",
        "openSearch" | "opensearch" => "http://a9.com/-/spec/opensearch/1.1/",
        "admin" => "http://webns.net/mvcb/",
        "cc" => "http://web.resource.org/cc/",
        "creativeCommons" => "http://backend.userland.com/creativeCommonsRssModule",
        "trackback" => "http://madskills.com/public/xml/rss/module/trackback/",
        "xhtml" => "http://www.w3.org/1999/xhtml",
        "app" => "http://www.w3.org/2007/app",
        "gd" => "http://schemas.google.com/g/2005",
        "blogger" => "http://schemas.google.com/blogger/2008",
        "spotify" => "http://www.spotify.com/ns/rss",
        "fireside" => "http://fireside.fm/modules/rss/fireside",
        _ => return None,
    })
}

pub fn declare(doc: &str) -> Option<Fixed> {
    let mut declared: Vec<&str> = Vec::new();
    let mut used: Vec<&str> = Vec::new();
    for t in Lexer::new(doc).filter(|t| t.kind == Kind::Start) {
        let tag = Tag::parse(t.raw);
        add(split_qname(tag.name).0, &mut used);
        for a in tag.attributes() {
            match a.name.strip_prefix("xmlns:") {
                Some(p) => add(p, &mut declared),
                None => add(split_qname(a.name).0, &mut used),
            }
        }
    }
    let missing: Vec<&str> = used.into_iter().filter(|p| !declared.contains(p)).collect();
    if missing.is_empty() {
        return None;
    }
    let root = sniff(doc).root;
    let tag = Lexer::new(&doc[root..])
        .next()
        .filter(|t| t.kind == Kind::Start)?;
    let name = Tag::parse(tag.raw).name;
    let at = root + 1 + name.len();
    let mut decls = String::new();
    for p in &missing {
        let uri =
            well_known(p).map_or_else(|| format!("urn:feedwatch:undeclared:{p}"), str::to_string);
        decls.push_str(&format!(" xmlns:{p}=\"{uri}\""));
    }
    Some(Fixed {
        text: splice(doc, &[(at, at, decls)]),
        repairs: missing
            .iter()
            .map(|p| Repair::PrefixDeclared(p.to_string()))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_prefixes_are_declared_on_the_root() {
        let doc = "<?xml version=\"1.0\"?><rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><itunes:author>a</itunes:author><item><dc:creator>c</dc:creator><media:content url=\"u\" foo:bar=\"1\"/><xml:x/></item></channel></rss>";
        let f = declare(doc).expect("declared");
        assert!(f.text.starts_with("<?xml version=\"1.0\"?><rss xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\" xmlns:media=\"http://search.yahoo.com/mrss/\" xmlns:foo=\"urn:feedwatch:undeclared:foo\" version=\"2.0\""), "{}", f.text);
        assert_eq!(
            f.repairs,
            [
                Repair::PrefixDeclared("itunes".into()),
                Repair::PrefixDeclared("media".into()),
                Repair::PrefixDeclared("foo".into())
            ]
        );
    }

    #[test]
    fn declared_prefixes_need_nothing() {
        assert!(declare("<feed xmlns:yt=\"y\"><yt:videoId>1</yt:videoId></feed>").is_none());
    }
}
