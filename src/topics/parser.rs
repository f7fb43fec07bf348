//! Tokens → expression tree. Precedence: NOT binds tightest, then AND (also implicit, by
//! juxtaposition), then OR. Nesting (parentheses and NOT/`-` together) is bounded by
//! [`MAX_DEPTH`], so the recursive descent here and every walk of the tree stay shallow
//! whatever the input.

use super::lexer::{Body, Spanned, Tok};
use super::normalize::{is_spaceless, words};
use super::{Expr, Field, QueryError, Term, TermKind};

/// The deepest nesting of parentheses and NOT/`-` a query may have.
pub const MAX_DEPTH: usize = 256;

pub struct Parser {
    toks: Vec<Spanned>,
    pos: usize,
    end_col: usize,
    depth: usize,
    pub terms: Vec<Term>,
}

impl Parser {
    pub fn new(toks: Vec<Spanned>, len: usize) -> Self {
        Self {
            toks,
            pos: 0,
            end_col: len + 1,
            depth: 0,
            terms: Vec::new(),
        }
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn col(&self) -> usize {
        self.toks
            .get(self.pos)
            .map(|(_, c)| *c)
            .unwrap_or(self.end_col)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, QueryError> {
        Err(QueryError {
            column: self.col(),
            message: message.into(),
        })
    }

    pub fn parse(mut self) -> Result<(Expr, Vec<Term>), QueryError> {
        if self.toks.is_empty() {
            return self.err("empty query");
        }
        let e = self.or()?;
        match self.peek() {
            None => Ok((e, self.terms)),
            Some(Tok::RParen) => self.err("unbalanced ')'"),
            Some(t) => self.err(format!("unexpected {t:?}")),
        }
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut parts = vec![self.unary()?];
        loop {
            match self.peek() {
                Some(Tok::And) => {
                    self.pos += 1;
                    parts.push(self.unary()?);
                }
                Some(Tok::LParen | Tok::Not | Tok::Term { .. }) => parts.push(self.unary()?),
                _ => break,
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    /// Enter one level of nesting at the current token, or refuse past [`MAX_DEPTH`].
    fn descend(&mut self) -> Result<(), QueryError> {
        if self.depth >= MAX_DEPTH {
            return self.err(format!("nested more than {MAX_DEPTH} levels"));
        }
        self.depth += 1;
        Ok(())
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        match self.peek() {
            Some(Tok::Not) => {
                self.descend()?;
                self.pos += 1;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(Expr::Not(Box::new(inner)))
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<Expr, QueryError> {
        let col = self.col();
        match self.toks.get(self.pos).cloned() {
            Some((Tok::LParen, _)) => {
                self.descend()?;
                self.pos += 1;
                let e = self.or()?;
                self.depth -= 1;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(QueryError {
                        column: col,
                        message: "unbalanced '(' (missing ')')".into(),
                    });
                }
                self.pos += 1;
                Ok(e)
            }
            Some((Tok::Term { field, body }, _)) => {
                self.pos += 1;
                let term = build_term(field.as_deref(), body, col)?;
                self.terms.push(term);
                Ok(Expr::Term(self.terms.len() - 1))
            }
            Some((Tok::RParen, _)) => self.err("unexpected ')'"),
            Some((t, _)) => self.err(format!(
                "expected a word, phrase or '(' but found {}",
                describe(&t)
            )),
            None => self.err("query ends where a word, phrase or '(' was expected"),
        }
    }
}

fn describe(t: &Tok) -> &'static str {
    match t {
        Tok::Or => "OR",
        Tok::And => "AND",
        Tok::Not => "NOT",
        Tok::LParen => "'('",
        Tok::RParen => "')'",
        Tok::Term { .. } => "a term",
    }
}

fn build_term(field: Option<&str>, body: Body, column: usize) -> Result<Term, QueryError> {
    let field = match field {
        None => Field::Any,
        Some("title") => Field::Title,
        Some("summary") => Field::Summary,
        Some("content") => Field::Content,
        Some("author") => Field::Author,
        Some("category") => Field::Category,
        Some("feed") => Field::Feed,
        Some("url") => Field::Url,
        Some(other) => {
            return Err(QueryError {
                column,
                message: format!(
                    "unknown field `{other}:` (expected title, summary, content, author, category, feed or url)"
                ),
            });
        }
    };
    let (display, kind) = match body {
        Body::Regex(re) => {
            let compiled = regex::RegexBuilder::new(&re)
                .case_insensitive(true)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| QueryError {
                    column,
                    message: format!("bad regular expression: {e}"),
                })?;
            (format!("/{re}/"), TermKind::Regex(compiled))
        }
        Body::Phrase(p) => {
            let w = words(&p);
            if w.is_empty() {
                return Err(QueryError {
                    column,
                    message: "empty phrase".into(),
                });
            }
            (
                p,
                TermKind::Words {
                    words: w,
                    prefix: false,
                },
            )
        }
        Body::Word(word) => {
            let (stem, prefix) = match word.strip_suffix('*') {
                Some(stem) => (stem, true),
                None => (word.as_str(), false),
            };
            let w = words(stem);
            let Some(last) = w.last() else {
                return Err(QueryError {
                    column,
                    message: format!("`{word}` has no letters or digits to match"),
                });
            };
            // A character of a spaceless script is a whole token: a prefix of it is itself.
            let prefix = prefix && !last.chars().all(is_spaceless);
            (word, TermKind::Words { words: w, prefix })
        }
    };
    Ok(Term {
        field,
        kind,
        display,
    })
}
