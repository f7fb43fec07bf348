//! Element names feed-rs matches exactly, written in another case: `<Item>`, `<TITLE>`,
//! `<pubdate>`. Only the names feed-rs knows change; other vocabularies keep theirs.

use super::{Fixed, Repair, splice};
use crate::parse::lex::{Kind, Lexer, Tag, end_name, split_qname};
use crate::parse::survey::canonical_name;

pub fn fix(doc: &str) -> Option<Fixed> {
    let mut edits: Vec<(usize, usize, &'static str)> = Vec::new();
    for t in Lexer::new(doc) {
        let name = match t.kind {
            Kind::Start => Tag::parse(t.raw).name,
            Kind::End => end_name(t.raw),
            _ => continue,
        };
        let (prefix, local) = split_qname(name);
        if !prefix.is_empty() && !prefix.eq_ignore_ascii_case("rdf") {
            continue;
        }
        if let Some(c) = canonical_name(local).filter(|c| *c != local) {
            let at = local.as_ptr() as usize - doc.as_ptr() as usize;
            edits.push((at, at + local.len(), c));
        }
    }
    (!edits.is_empty()).then(|| Fixed::one(splice(doc, &edits), Repair::ElementCaseFixed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_get_their_case() {
        let f = fix("<RSS version=\"2.0\"><Channel><ITEM><Title>t</Title><PubDate>d</PubDate><dc:Creator>c</dc:Creator></ITEM></Channel></RSS>").expect("fixed");
        assert_eq!(
            f.text,
            "<rss version=\"2.0\"><channel><item><title>t</title><pubDate>d</pubDate><dc:Creator>c</dc:Creator></item></channel></rss>"
        );
        assert!(fix("<rss><channel><pubDate/></channel></rss>").is_none());
    }
}
