//! Scanning primitives for conditions. Like libsinsp's filter parser, scanning is driven by the
//! parser: what a token is depends on where it stands (`/etc/` is a bare value after
//! `startswith`, but could not start a check), so there is no separate token stream.

/// A cursor over a condition's bytes.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    src: &'a [u8],
    pub pos: usize,
}

/// A quoted string that was not closed, or a bad escape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StrError {
    pub at: usize,
    pub message: &'static str,
}

pub(crate) fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

pub(crate) fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.'
}

/// Bytes that end a bare (unquoted) value: blanks, parentheses, comma, `=` and quotes.
pub(crate) fn ends_bare(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'(' | b')' | b',' | b'=' | b'"' | b'\'')
}

impl<'a> Cursor<'a> {
    pub fn new(src: &'a str) -> Self {
        Cursor {
            src: src.as_bytes(),
            pos: 0,
        }
    }

    pub fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    pub fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// Consumes `b` if it is next.
    pub fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes the keyword `word` if it is next and not followed by an identifier character.
    pub fn eat_word(&mut self, word: &str) -> bool {
        let w = word.as_bytes();
        let end = self.pos + w.len();
        if self.src.get(self.pos..end) == Some(w)
            && !self.src.get(end).is_some_and(|&b| is_ident_char(b))
        {
            self.pos = end;
            true
        } else {
            false
        }
    }

    /// Whether the keyword `word` is next (without consuming it).
    pub fn at_word(&self, word: &str) -> bool {
        self.clone().eat_word(word)
    }

    /// Consumes `s` if it is next.
    pub fn eat_str(&mut self, s: &str) -> bool {
        let end = self.pos + s.len();
        if self.src.get(self.pos..end) == Some(s.as_bytes()) {
            self.pos = end;
            true
        } else {
            false
        }
    }

    /// An identifier or dotted field name: `[A-Za-z_][A-Za-z0-9_.]*`.
    pub fn ident(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if !self.peek().is_some_and(is_ident_start) {
            return None;
        }
        while self.peek().is_some_and(is_ident_char) {
            self.pos += 1;
        }
        self.slice(start, self.pos)
    }

    /// A bare value: bytes up to a blank, parenthesis, comma, `=` or quote.
    pub fn bare(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while self.peek().is_some_and(|b| !ends_bare(b)) {
            self.pos += 1;
        }
        (self.pos > start)
            .then(|| self.slice(start, self.pos))
            .flatten()
    }

    /// A field argument's bare text: up to `]`.
    pub fn until_bracket(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b != b']' && !b.is_ascii_whitespace())
        {
            self.pos += 1;
        }
        (self.pos > start)
            .then(|| self.slice(start, self.pos))
            .flatten()
    }

    /// A quoted string starting at the cursor (`"..."` or `'...'`), unescaped. Escapes:
    /// `\\`, `\"`, `\'`, `\n`, `\t`, `\r`, `\b`, `\f`; any other backslash stays as written.
    pub fn quoted(&mut self) -> Result<String, StrError> {
        let start = self.pos;
        let Some(q) = self.peek().filter(|b| matches!(b, b'"' | b'\'')) else {
            return Err(StrError {
                at: start,
                message: "expected a quoted string",
            });
        };
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            match self.peek() {
                None => {
                    return Err(StrError {
                        at: start,
                        message: "unterminated string",
                    })
                }
                Some(b) if b == q => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escaped = match self.peek() {
                        None => {
                            return Err(StrError {
                                at: start,
                                message: "unterminated string",
                            })
                        }
                        Some(b'n') => b'\n',
                        Some(b't') => b'\t',
                        Some(b'r') => b'\r',
                        Some(b'b') => 8,
                        Some(b'f') => 12,
                        Some(b @ (b'\\' | b'"' | b'\'')) => b,
                        Some(_) => {
                            out.push(b'\\');
                            continue;
                        }
                    };
                    out.push(escaped);
                    self.pos += 1;
                }
                Some(b) => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
        // The input was a str and we only split at ASCII bytes, so this is valid UTF-8.
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// The text of the token at the cursor, for messages ("found 'xyz'").
    pub fn describe(&self) -> String {
        if self.at_end() {
            return "end of condition".into();
        }
        let mut c = self.clone();
        let word = c.bare().or_else(|| self.slice(self.pos, self.pos + 1));
        match word {
            Some(w) => format!("'{w}'"),
            None => "a non-ASCII character".into(),
        }
    }

    fn slice(&self, a: usize, b: usize) -> Option<&'a str> {
        std::str::from_utf8(self.src.get(a..b)?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_need_a_boundary() {
        let mut c = Cursor::new("andx and");
        assert!(!c.eat_word("and"));
        assert_eq!(c.ident(), Some("andx"));
        c.skip_ws();
        assert!(c.eat_word("and"));
        assert!(c.at_end());
    }

    #[test]
    fn bare_values_stop_at_delimiters() {
        let mut c = Cursor::new("runc:[0:PARENT], /etc/)");
        assert_eq!(c.bare(), Some("runc:[0:PARENT]"));
        assert!(c.eat(b','));
        c.skip_ws();
        assert_eq!(c.bare(), Some("/etc/"));
        assert_eq!(c.peek(), Some(b')'));
    }

    #[test]
    fn quoted_strings() {
        let mut c = Cursor::new(r#""a \"b\" \\ c" 'x'"#);
        assert_eq!(c.quoted().as_deref(), Ok(r#"a "b" \ c"#));
        c.skip_ws();
        assert_eq!(c.quoted().as_deref(), Ok("x"));
        let mut c = Cursor::new("  'open");
        c.skip_ws();
        assert_eq!(
            c.quoted(),
            Err(StrError {
                at: 2,
                message: "unterminated string"
            })
        );
    }
}
