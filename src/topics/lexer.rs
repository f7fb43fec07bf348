//! Query text → tokens. Operators are upper-case (`OR`, `AND`, `NOT`) so the lower-case words
//! "or", "and", "not" stay searchable; `-word` negates.

use super::QueryError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    LParen,
    RParen,
    Or,
    And,
    Not,
    /// A leaf: optional `field:` and the body.
    Term {
        field: Option<String>,
        body: Body,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Word(String),
    Phrase(String),
    Regex(String),
}

/// A token and the 1-based column it starts at.
pub type Spanned = (Tok, usize);

pub fn lex(input: &str) -> Result<Vec<Spanned>, QueryError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '(' => {
                out.push((Tok::LParen, col));
                i += 1;
            }
            ')' => {
                out.push((Tok::RParen, col));
                i += 1;
            }
            '-' if chars
                .get(i + 1)
                .is_some_and(|n| !n.is_whitespace() && *n != ')') =>
            {
                out.push((Tok::Not, col));
                i += 1;
            }
            _ => {
                let (tok, next) = lex_term(&chars, i)?;
                out.push((tok, col));
                i = next;
            }
        }
    }
    Ok(out)
}

fn lex_term(chars: &[char], start: usize) -> Result<(Tok, usize), QueryError> {
    // A field prefix is a known-looking identifier followed by ':' and a non-space.
    let mut field = None;
    let mut i = start;
    let mut j = start;
    while j < chars.len() && chars[j].is_ascii_alphabetic() {
        j += 1;
    }
    if j > start
        && chars.get(j) == Some(&':')
        && chars.get(j + 1).is_some_and(|c| !c.is_whitespace())
    {
        field = Some(
            chars[start..j]
                .iter()
                .collect::<String>()
                .to_ascii_lowercase(),
        );
        i = j + 1;
    }
    let delimited = |open: char, i: usize, what: &str| -> Result<(String, usize), QueryError> {
        let mut k = i + 1;
        let mut s = String::new();
        while k < chars.len() && chars[k] != open {
            // `\/` inside a regex is a literal slash.
            if open == '/' && chars[k] == '\\' && chars.get(k + 1) == Some(&'/') {
                s.push('/');
                k += 2;
                continue;
            }
            s.push(chars[k]);
            k += 1;
        }
        if k >= chars.len() {
            return Err(QueryError {
                column: i + 1,
                message: format!("unterminated {what}"),
            });
        }
        Ok((s, k + 1))
    };
    let (body, next) = match chars.get(i) {
        Some('"') | Some('\u{201C}') | Some('\u{201D}') => {
            let (s, n) = delimited_quote(chars, i)?;
            (Body::Phrase(s), n)
        }
        Some('/') => {
            let (s, n) = delimited('/', i, "regular expression (missing closing /)")?;
            (Body::Regex(s), n)
        }
        _ => {
            let mut k = i;
            while k < chars.len()
                && !chars[k].is_whitespace()
                && !matches!(chars[k], '(' | ')' | '"')
            {
                k += 1;
            }
            let word: String = chars[i..k].iter().collect();
            if field.is_none() {
                match word.as_str() {
                    "OR" | "|" => return Ok((Tok::Or, k)),
                    "AND" | "&" => return Ok((Tok::And, k)),
                    "NOT" => return Ok((Tok::Not, k)),
                    _ => {}
                }
            }
            (Body::Word(word), k)
        }
    };
    Ok((Tok::Term { field, body }, next))
}

/// A phrase in straight or typographic double quotes.
fn delimited_quote(chars: &[char], i: usize) -> Result<(String, usize), QueryError> {
    let is_quote = |c: char| matches!(c, '"' | '\u{201C}' | '\u{201D}');
    let mut k = i + 1;
    let mut s = String::new();
    while k < chars.len() && !is_quote(chars[k]) {
        s.push(chars[k]);
        k += 1;
    }
    if k >= chars.len() {
        return Err(QueryError {
            column: i + 1,
            message: "unterminated phrase (missing closing \")".into(),
        });
    }
    Ok((s, k + 1))
}
