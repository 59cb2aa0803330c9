//! Falco's `glob` operator: fnmatch-like matching on bytes. `*` matches any run of bytes
//! (including `/`), `?` one byte, `[abc]`, `[a-z]`, `[!a]`/`[^a]` a class, `\x` a literal `x`.
//!
//! Written here rather than taken from `globset`/`glob`: those compile to regexes over `str`
//! paths with path-separator rules, while Falco's operator is plain fnmatch over arbitrary bytes,
//! and this matcher (iterative, with one backtrack point per `*`) never allocates per event.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Byte(u8),
    Any,
    Star,
    /// Sorted inclusive ranges; negated.
    Class(Box<[(u8, u8)]>, bool),
}

/// A compiled glob pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    toks: Box<[Tok]>,
    fold_case: bool,
}

impl Glob {
    /// Compiles `pattern`; `fold_case` makes it ASCII case-insensitive (`iglob`).
    pub fn new(pattern: &[u8], fold_case: bool) -> Glob {
        let mut toks = Vec::new();
        let mut i = 0;
        let lower = |b: u8| if fold_case { b.to_ascii_lowercase() } else { b };
        while let Some(&b) = pattern.get(i) {
            i += 1;
            match b {
                b'*' => {
                    if toks.last() != Some(&Tok::Star) {
                        toks.push(Tok::Star);
                    }
                }
                b'?' => toks.push(Tok::Any),
                b'\\' => {
                    let lit = pattern.get(i).copied().unwrap_or(b'\\');
                    i += 1;
                    toks.push(Tok::Byte(lower(lit)));
                }
                b'[' => match parse_class(&pattern[i..], fold_case) {
                    Some((tok, used)) => {
                        toks.push(tok);
                        i += used;
                    }
                    None => toks.push(Tok::Byte(b'[')),
                },
                _ => toks.push(Tok::Byte(lower(b))),
            }
        }
        Glob {
            toks: toks.into_boxed_slice(),
            fold_case,
        }
    }

    /// The bytes every match starts with: the pattern's leading literal bytes (escapes
    /// included), cut before the first letter for a case-insensitive pattern, whose matches
    /// may spell it in either case.
    pub fn literal_prefix(&self) -> Vec<u8> {
        self.toks
            .iter()
            .map_while(|t| match t {
                Tok::Byte(b) if !(self.fold_case && b.is_ascii_alphabetic()) => Some(*b),
                _ => None,
            })
            .collect()
    }

    /// Whether every match contains `needle`, because the pattern spells it as consecutive
    /// literal bytes. Only for needles without letters when the pattern ignores case.
    pub fn has_literal(&self, needle: &[u8]) -> bool {
        if needle.is_empty() {
            return true;
        }
        if self.fold_case && needle.iter().any(u8::is_ascii_alphabetic) {
            return false;
        }
        self.toks.split(|t| !matches!(t, Tok::Byte(_))).any(|run| {
            let bytes: Vec<u8> = run
                .iter()
                .filter_map(|t| match t {
                    Tok::Byte(b) => Some(*b),
                    _ => None,
                })
                .collect();
            memchr::memmem::find(&bytes, needle).is_some()
        })
    }

    /// Whether `s` matches the whole pattern.
    pub fn matches(&self, s: &[u8]) -> bool {
        let (mut p, mut i) = (0usize, 0usize);
        let mut back: Option<(usize, usize)> = None;
        loop {
            if let Some(tok) = self.toks.get(p) {
                if *tok == Tok::Star {
                    back = Some((p, i));
                    p += 1;
                    continue;
                }
                if let Some(&b) = s.get(i) {
                    let b = if self.fold_case {
                        b.to_ascii_lowercase()
                    } else {
                        b
                    };
                    let ok = match tok {
                        Tok::Byte(x) => *x == b,
                        Tok::Any => true,
                        Tok::Class(ranges, neg) => {
                            ranges.iter().any(|&(lo, hi)| lo <= b && b <= hi) != *neg
                        }
                        Tok::Star => false,
                    };
                    if ok {
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
            } else if i == s.len() {
                return true;
            }
            // Mismatch: let the last star eat one more byte.
            match back {
                Some((sp, si)) if si < s.len() => {
                    back = Some((sp, si + 1));
                    p = sp + 1;
                    i = si + 1;
                }
                _ => return false,
            }
        }
    }
}

/// Parses a class after its `[`; returns the token and the bytes used (including `]`).
fn parse_class(p: &[u8], fold_case: bool) -> Option<(Tok, usize)> {
    let mut i = 0;
    let neg = matches!(p.first(), Some(b'!' | b'^'));
    if neg {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let &b = p.get(i)?;
        if b == b']' && !first {
            i += 1;
            break;
        }
        first = false;
        let lo = b;
        i += 1;
        let hi = if p.get(i) == Some(&b'-') && p.get(i + 1).is_some_and(|&c| c != b']') {
            let hi = p[i + 1];
            i += 2;
            hi
        } else {
            lo
        };
        if fold_case {
            ranges.push((lo.to_ascii_lowercase(), hi.to_ascii_lowercase()));
            ranges.push((lo.to_ascii_uppercase(), hi.to_ascii_uppercase()));
        } else {
            ranges.push((lo, hi));
        }
    }
    Some((Tok::Class(ranges.into_boxed_slice(), neg), i))
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn m(p: &str, s: &str) -> bool {
        Glob::new(p.as_bytes(), false).matches(s.as_bytes())
    }

    #[test]
    fn fnmatch_like() {
        assert!(m("/home/*/.ssh/*", "/home/bob/.ssh/id_rsa"));
        assert!(m("/home/*/.ssh/*", "/home/a/b/.ssh/x"), "* crosses /");
        assert!(!m("/home/*/.ssh/*", "/root/.ssh/x"));
        assert!(m("*../*../*", "/var/www/../../etc/passwd"));
        assert!(!m("*../*../*", "/var/www/../etc"));
        assert!(m("a?c", "abc") && !m("a?c", "ac"));
        assert!(m("[a-c]x", "bx") && !m("[!a-c]x", "bx") && m("[^a-c]x", "dx"));
        assert!(m("\\*", "*") && !m("\\*", "a"));
        assert!(m("", "") && !m("", "a") && m("*", ""));
        assert!(m("[", "["), "unclosed class is a literal");
        assert!(Glob::new(b"*.LOG", true).matches(b"x.log"));
    }

    #[test]
    fn literal_parts() {
        let g = |p: &str| Glob::new(p.as_bytes(), false);
        assert_eq!(g("/home/*/.ssh/*").literal_prefix(), b"/home/");
        assert_eq!(g("/etc/pass\\*d").literal_prefix(), b"/etc/pass*d");
        assert_eq!(g("*.log").literal_prefix(), b"");
        assert_eq!(Glob::new(b"/Etc/*", true).literal_prefix(), b"/");
        assert!(g("*../*../*").has_literal(b".."));
        assert!(!g("*.?.*").has_literal(b".."), "a metacharacter between");
        assert!(!g("*[..]*").has_literal(b".."), "in a class");
        assert!(Glob::new(b"*../*", true).has_literal(b".."));
    }
}
