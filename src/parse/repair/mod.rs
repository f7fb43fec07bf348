//! The rewrites that turn what publishers send into documents feed-rs reads, and the record
//! of which ones a document needed.
//!
//! Each repair is a pure function over text that returns `None` when it has nothing to do,
//! runs in one linear pass and grows the document by a bounded factor. [`apply`] runs the
//! ones a [`Survey`] calls for, in an order where each sees the previous one's output, and
//! stops between passes once the document's [`Deadline`] has passed.

use std::fmt;

use encoding_rs::Encoding;

use super::budget::{Deadline, OverBudget};
use super::survey::Survey;

mod atom03;
mod atom_types;
mod case;
pub mod defuse;
pub mod escapes;
pub mod json;
pub mod markup;
mod prefixes;
mod prolog;
mod versions;

/// One repair a document needed. `name()` is stable (stored and shown per feed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// UTF-16 (with or without a byte order mark) decoded to UTF-8 before parsing.
    Utf16Transcoded,
    Utf32Transcoded,
    /// Not UTF-8 and no declaration said what it is: the encoding was guessed from the bytes.
    CharsetGuessed(&'static Encoding),
    /// The XML declaration (or the HTTP charset) named an encoding the body is not in.
    CharsetCorrected {
        declared: String,
        used: &'static Encoding,
    },
    /// UTF-8 with stray bytes of another encoding (a Latin-1 `é` pasted into UTF-8 text).
    CharsetMixed,
    /// Text or markup (a PHP warning, a blank line of junk) before the XML itself.
    LeadingJunkRemoved,
    /// A number too long to be a duration, which would crash the feed parser.
    OverlongNumberRemoved,
    /// An e-mail address next to a non-ASCII character, which would crash the feed parser.
    EmailSeparated,
    RssVersionAdded,
    RssVersionChanged(String),
    Rss090Mapped,
    Rss11Mapped,
    /// RSS 1.0 items without `<link>`, given the URI of their `rdf:about`.
    Rss10LinkAdded,
    Atom03Mapped,
    Base64Decoded,
    AtomTypeNormalized,
    ElementCaseFixed,
    /// HTML written unescaped in a text element, wrapped in CDATA so it is read as text.
    InlineMarkupWrapped,
    PrefixDeclared(String),
    BareAmpersandEscaped,
    HtmlEntitiesReplaced,
    BareLtEscaped,
    JsonVersionAssumed,
    JsonTypesCoerced,
}

impl Repair {
    /// A short, stable name such as `prefix-declared:itunes`.
    pub fn name(&self) -> String {
        let enc = |e: &'static Encoding| e.name().to_ascii_lowercase();
        match self {
            Repair::Utf16Transcoded => "utf16-transcoded".into(),
            Repair::Utf32Transcoded => "utf32-transcoded".into(),
            Repair::CharsetGuessed(e) => format!("charset-guessed:{}", enc(e)),
            Repair::CharsetCorrected { used, .. } => format!("charset-corrected:{}", enc(used)),
            Repair::CharsetMixed => "charset-mixed".into(),
            Repair::LeadingJunkRemoved => "leading-junk-removed".into(),
            Repair::OverlongNumberRemoved => "overlong-number-removed".into(),
            Repair::EmailSeparated => "email-separated".into(),
            Repair::RssVersionAdded => "rss-version-added".into(),
            Repair::RssVersionChanged(v) => format!("rss-version-changed:{v}"),
            Repair::Rss090Mapped => "rss090-mapped".into(),
            Repair::Rss11Mapped => "rss11-mapped".into(),
            Repair::Rss10LinkAdded => "rss10-link-from-about".into(),
            Repair::Atom03Mapped => "atom03-mapped".into(),
            Repair::Base64Decoded => "base64-decoded".into(),
            Repair::AtomTypeNormalized => "atom-type-normalized".into(),
            Repair::ElementCaseFixed => "element-case-fixed".into(),
            Repair::InlineMarkupWrapped => "inline-markup-wrapped".into(),
            Repair::PrefixDeclared(p) => format!("prefix-declared:{p}"),
            Repair::BareAmpersandEscaped => "bare-ampersand-escaped".into(),
            Repair::HtmlEntitiesReplaced => "html-entities-replaced".into(),
            Repair::BareLtEscaped => "bare-lt-escaped".into(),
            Repair::JsonVersionAssumed => "json-version-assumed".into(),
            Repair::JsonTypesCoerced => "json-types-coerced".into(),
        }
    }
}

impl fmt::Display for Repair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Repair::Utf16Transcoded => f.write_str("UTF-16 document converted to UTF-8"),
            Repair::Utf32Transcoded => f.write_str("UTF-32 document converted to UTF-8"),
            Repair::CharsetGuessed(e) => write!(
                f,
                "no character encoding declared; read as {} (guessed)",
                e.name()
            ),
            Repair::CharsetCorrected { declared, used } => {
                write!(f, "declared as {declared} but encoded as {}", used.name())
            }
            Repair::CharsetMixed => {
                f.write_str("UTF-8 with stray windows-1252 bytes; those read as windows-1252")
            }
            Repair::LeadingJunkRemoved => f.write_str("junk before the XML removed"),
            Repair::OverlongNumberRemoved => f.write_str("absurdly long duration value dropped"),
            Repair::EmailSeparated => {
                f.write_str("space put between an author's e-mail address and the text around it")
            }
            Repair::RssVersionAdded => f.write_str("<rss> without a version read as RSS 2.0"),
            Repair::RssVersionChanged(v) => write!(f, "RSS version {v:?} read as RSS 2.0"),
            Repair::Rss090Mapped => f.write_str("RSS 0.90 read as RSS 1.0"),
            Repair::Rss11Mapped => f.write_str("RSS 1.1 read as RSS 1.0"),
            Repair::Rss10LinkAdded => {
                f.write_str("RSS 1.0 items without <link> linked to their rdf:about")
            }
            Repair::Atom03Mapped => f.write_str("Atom 0.3 read as Atom 1.0"),
            Repair::Base64Decoded => f.write_str("base64-encoded Atom 0.3 content decoded"),
            Repair::AtomTypeNormalized => {
                f.write_str("invalid Atom type attributes read as text, html or xhtml")
            }
            Repair::ElementCaseFixed => f.write_str("element names in the wrong case corrected"),
            Repair::InlineMarkupWrapped => {
                f.write_str("unescaped HTML inside text elements read as their text")
            }
            Repair::PrefixDeclared(p) => write!(f, "undeclared namespace prefix {p}: declared"),
            Repair::BareAmpersandEscaped => f.write_str("bare & characters escaped"),
            Repair::HtmlEntitiesReplaced => {
                f.write_str("HTML entities (not defined in XML) replaced by characters")
            }
            Repair::BareLtEscaped => f.write_str("bare < characters in text escaped"),
            Repair::JsonVersionAssumed => {
                f.write_str("JSON Feed without a known version read as 1.1")
            }
            Repair::JsonTypesCoerced => f.write_str("JSON Feed fields of the wrong type coerced"),
        }
    }
}

/// A rewritten document and what was done to it.
#[derive(Debug)]
pub struct Fixed {
    pub text: String,
    pub repairs: Vec<Repair>,
}

impl Fixed {
    fn one(text: String, repair: Repair) -> Self {
        Self {
            text,
            repairs: vec![repair],
        }
    }
}

/// Run the repairs `survey` calls for (all of them when `everything`), each on the previous
/// one's output. Returns `None` when none changed anything.
pub fn apply(
    doc: &str,
    survey: &Survey,
    everything: bool,
    deadline: &Deadline,
) -> Result<Option<Fixed>, OverBudget> {
    type Step = fn(&str, &Survey) -> Option<Fixed>;
    let steps: [(bool, Step); 10] = [
        (survey.junk_before, |d, _| prolog::clean(d)),
        (survey.crash_bait, |d, _| defuse::defuse(d)),
        (survey.needs_version_map(), |d, s| {
            versions::map(d, &s.dialect)
        }),
        (survey.rdf_missing_links, |d, _| versions::rdf_links(d)),
        (survey.dialect.is_atom03(), |d, _| atom03::map(d)),
        (
            survey.odd_atom_types || survey.dialect.is_atom03(),
            |d, _| atom_types::normalize(d),
        ),
        (survey.odd_case, |d, _| case::fix(d)),
        (survey.inline_markup, |d, s| {
            markup::wrap(d, s.dialect.is_atom())
        }),
        (!survey.undeclared.is_empty(), |d, _| prefixes::declare(d)),
        (survey.needs_escapes(), |d, s| {
            escapes::escape(d, &s.dtd_entities)
        }),
    ];
    let mut current: Option<Fixed> = None;
    for (wanted, step) in steps {
        if !(wanted || everything) {
            continue;
        }
        deadline.check()?;
        let text = current.as_ref().map_or(doc, |c| c.text.as_str());
        // The survey describes the original; steps that need it only read its dialect and
        // the DTD's entity names, which earlier steps do not change.
        if let Some(next) = step(text, survey) {
            let mut repairs = current.map(|c| c.repairs).unwrap_or_default();
            repairs.extend(next.repairs);
            current = Some(Fixed {
                text: next.text,
                repairs,
            });
        }
    }
    Ok(current)
}

/// Copy `doc` into a new string, replacing the byte ranges in `edits` (in order). An edit
/// that overlaps the previous one is skipped rather than trusted.
pub(super) fn splice<S: AsRef<str>>(doc: &str, edits: &[(usize, usize, S)]) -> String {
    let extra: usize = edits.iter().map(|e| e.2.as_ref().len()).sum();
    let mut out = String::with_capacity(doc.len() + extra);
    let mut at = 0;
    for (start, end, with) in edits {
        let Some(kept) = doc.get(at..*start).filter(|_| start <= end) else {
            continue;
        };
        out.push_str(kept);
        out.push_str(with.as_ref());
        at = *end;
    }
    out.push_str(&doc[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable() {
        assert_eq!(
            Repair::PrefixDeclared("itunes".into()).name(),
            "prefix-declared:itunes"
        );
        assert_eq!(
            Repair::CharsetGuessed(encoding_rs::WINDOWS_1251).name(),
            "charset-guessed:windows-1251"
        );
        assert_eq!(
            Repair::CharsetCorrected {
                declared: "ISO-8859-1".into(),
                used: encoding_rs::UTF_8
            }
            .to_string(),
            "declared as ISO-8859-1 but encoded as UTF-8"
        );
    }

    #[test]
    fn splice_replaces_ranges() {
        assert_eq!(splice("abcdef", &[(1, 2, "X"), (4, 4, "++")]), "aXcd++ef");
        assert_eq!(splice("abcdef", &[(1, 3, "X"), (2, 4, "Y")]), "aXdef");
    }
}
