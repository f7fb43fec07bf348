//! What comes before the root element.

use super::{Fixed, Repair};
use crate::parse::dialect::sniff;
use crate::parse::lex::{Kind, Lexer};

/// Drop junk before the root (a PHP warning, stray text or tags) and keep what XML allows
/// there: the declaration, moved first, then comments, processing instructions, a DOCTYPE.
pub fn clean(doc: &str) -> Option<Fixed> {
    let root = sniff(doc).root;
    let mut decl: Option<&str> = None;
    let mut kept: Vec<&str> = Vec::new();
    let mut junk = false;
    for t in Lexer::new(&doc[..root]) {
        match t.kind {
            Kind::Pi if is_declaration(t.raw) => {
                decl.get_or_insert(t.raw);
            }
            Kind::Pi | Kind::Comment | Kind::Doctype => kept.push(t.raw),
            Kind::Text if t.raw.trim().is_empty() => {}
            _ => junk = true,
        }
    }
    if !junk {
        return None;
    }
    let mut out = String::with_capacity(doc.len() - root + 256);
    for part in decl.into_iter().chain(kept) {
        out.push_str(part);
        out.push('\n');
    }
    out.push_str(&doc[root..]);
    Some(Fixed::one(out, Repair::LeadingJunkRemoved))
}

fn is_declaration(raw: &str) -> bool {
    raw.strip_prefix("<?xml")
        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_whitespace()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn php_warnings_before_the_declaration_go() {
        let doc = "<br />\n<b>Warning</b>:  mysql_connect() in <b>/var/www/feed.php</b> on line <b>3</b><br />\n<?xml version=\"1.0\"?>\n<?xml-stylesheet href=\"s.xsl\"?><rss version=\"2.0\"/>";
        let f = clean(doc).expect("junk found");
        assert_eq!(
            f.text,
            "<?xml version=\"1.0\"?>\n<?xml-stylesheet href=\"s.xsl\"?>\n<rss version=\"2.0\"/>"
        );
        assert_eq!(f.repairs, [Repair::LeadingJunkRemoved]);
    }

    #[test]
    fn text_before_a_root_without_declaration_goes() {
        let f = clean("Notice: undefined index\n<!-- generator --><feed/>").expect("junk");
        assert_eq!(f.text, "<!-- generator -->\n<feed/>");
    }

    #[test]
    fn blanks_and_comments_are_not_junk() {
        assert!(clean("\n\n  <?xml version=\"1.0\"?><!-- c --><rss/>").is_none());
    }
}
