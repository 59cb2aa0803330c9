//! The condition parser: recursive descent over [`Cursor`], producing an [`Expr`] whose nodes
//! carry the file position of their first byte.
//!
//! ```text
//! expr    := and ('or' and)*
//! and     := not ('and' not)*
//! not     := 'not' not | '(' expr ')' | check | macro
//! check   := field op rhs
//! field   := name ('[' arg ']')? | transformer '(' field ')'
//! rhs     := <nothing, after exists> | '(' (value (',' value)*)? ')' | 'val(' field ')' | value
//! value   := quoted string | bare string
//! ```

use crate::ast::{Check, Expr, FieldExpr, Op, Rhs, Transformer, Val};
use crate::error::{Error, ItemRef};
use crate::lexer::Cursor;
use crate::yaml::Text;

/// Deepest nesting of parentheses, `not`s and transformers in one condition text. Real rules
/// nest a handful of levels; the limit keeps the recursive parser well inside a small thread
/// stack even in debug builds (about 4 KiB per level there).
pub(crate) const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    text: &'a Text,
    cur: Cursor<'a>,
    item: &'a ItemRef,
    depth: usize,
}

/// Parses a condition.
pub(crate) fn parse(text: &Text, item: &ItemRef) -> Result<Expr, Error> {
    let mut p = Parser {
        text,
        cur: Cursor::new(&text.value),
        item,
        depth: 0,
    };
    p.cur.skip_ws();
    if p.cur.at_end() {
        return Err(p.err(p.cur.pos, "empty condition".into()));
    }
    let expr = p.or()?;
    p.cur.skip_ws();
    if !p.cur.at_end() {
        let found = p.cur.describe();
        return Err(p.err(
            p.cur.pos,
            format!("unexpected {found} after a complete expression"),
        ));
    }
    Ok(expr)
}

impl Parser<'_> {
    #[cold]
    #[inline(never)]
    fn err(&self, at: usize, message: String) -> Error {
        // An error at the end points just past the last token, not at trailing blank lines.
        let at = at.min(self.text.value.trim_end().len());
        Error::Syntax {
            pos: self.text.pos(at),
            item: self.item.clone(),
            message,
        }
    }

    /// "expected X, found <token at the cursor>", at the cursor or at `at`.
    #[cold]
    #[inline(never)]
    fn expected(&self, at: Option<usize>, what: &str) -> Error {
        let found = self.cur.describe();
        self.err(
            at.unwrap_or(self.cur.pos),
            format!("expected {what}, found {found}"),
        )
    }

    fn or(&mut self) -> Result<Expr, Error> {
        let mut items = vec![self.and()?];
        loop {
            self.cur.skip_ws();
            if !self.cur.eat_word("or") {
                break;
            }
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, Error> {
        let mut items = vec![self.not()?];
        loop {
            self.cur.skip_ws();
            if !self.cur.eat_word("and") {
                break;
            }
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn not(&mut self) -> Result<Expr, Error> {
        self.cur.skip_ws();
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(self.cur.pos, format!("nesting deeper than {MAX_DEPTH}")));
        }
        let out = self.not_inner();
        self.depth -= 1;
        out
    }

    fn not_inner(&mut self) -> Result<Expr, Error> {
        if self.cur.eat_word("not") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        let start = self.cur.pos;
        if self.cur.eat(b'(') {
            let inner = self.or()?;
            self.cur.skip_ws();
            if !self.cur.eat(b')') {
                return Err(self.unclosed(start));
            }
            return Ok(inner);
        }
        let Some(name) = self.cur.clone().ident() else {
            return Err(self.expected(Some(start), "a field, a macro or '('"));
        };
        let mut after = self.cur.clone();
        after.ident();
        let is_transformer = after.peek() == Some(b'(') && Transformer::by_name(name).is_some();
        if after.peek() == Some(b'(') && !is_transformer {
            return Err(self.err(start, format!("unknown transformer '{name}'")));
        }
        if !is_transformer && !name.contains('.') {
            if matches!(name, "and" | "or") {
                return Err(self.expected(Some(start), "a field, a macro or '('"));
            }
            self.cur = after;
            return Ok(Expr::Ident {
                name: name.to_owned(),
                at: self.text.pos(start),
            });
        }
        let lhs = self.field()?;
        self.cur.skip_ws();
        let op_start = self.cur.pos;
        let Some(op) = self.op() else {
            return Err(self.expected(Some(op_start), "an operator after the field"));
        };
        let op_at = self.text.pos(op_start);
        let rhs = self.rhs(op)?;
        Ok(Expr::Check(Box::new(Check {
            lhs,
            op,
            op_at,
            rhs,
        })))
    }

    #[cold]
    #[inline(never)]
    fn unclosed(&self, open: usize) -> Error {
        let col = self.text.pos(open).col;
        self.expected(None, &format!("')' to close the '(' at column {col}"))
    }

    /// `name`, `name[arg]`, or `transformer(field)`.
    fn field(&mut self) -> Result<FieldExpr, Error> {
        self.cur.skip_ws();
        let start = self.cur.pos;
        let Some(name) = self.cur.ident() else {
            let found = self.cur.describe();
            return Err(self.err(start, format!("expected a field name, found {found}")));
        };
        if self.cur.peek() == Some(b'(') {
            let Some(t) = Transformer::by_name(name) else {
                return Err(self.err(start, format!("unknown transformer '{name}'")));
            };
            self.cur.eat(b'(');
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(self.err(start, format!("nesting deeper than {MAX_DEPTH}")));
            }
            let mut inner = self.field();
            self.depth -= 1;
            if let Ok(f) = &mut inner {
                f.transformers.push(t);
            }
            let inner = inner?;
            self.cur.skip_ws();
            if !self.cur.eat(b')') {
                return Err(self.expected(None, "')' after the transformer's argument"));
            }
            return Ok(inner);
        }
        if name.ends_with('.') || !name.contains('.') {
            return Err(self.err(start, format!("'{name}' is not a field name")));
        }
        let arg = if self.cur.eat(b'[') {
            let arg_start = self.cur.pos;
            let arg = if matches!(self.cur.peek(), Some(b'"' | b'\'')) {
                self.cur
                    .quoted()
                    .map_err(|e| self.err(e.at, e.message.into()))?
            } else {
                match self.cur.until_bracket() {
                    Some(a) => a.to_owned(),
                    None => return Err(self.err(arg_start, format!("empty argument for '{name}'"))),
                }
            };
            if !self.cur.eat(b']') {
                return Err(self.err(
                    self.cur.pos,
                    format!("expected ']' after the argument of '{name}'"),
                ));
            }
            Some(arg)
        } else {
            None
        };
        Ok(FieldExpr {
            name: name.to_owned(),
            arg,
            transformers: Vec::new(),
            at: self.text.pos(start),
        })
    }

    fn op(&mut self) -> Option<Op> {
        for &(spelling, op) in Op::TABLE {
            let is_word = spelling
                .as_bytes()
                .first()
                .is_some_and(u8::is_ascii_alphabetic);
            if is_word {
                if self.cur.eat_word(spelling) {
                    return Some(op);
                }
            } else if self.cur.eat_str(spelling) {
                return Some(op);
            }
        }
        None
    }

    fn rhs(&mut self, op: Op) -> Result<Rhs, Error> {
        if op == Op::Exists {
            return Ok(Rhs::None);
        }
        self.cur.skip_ws();
        if op.takes_list() {
            if !self.cur.eat(b'(') {
                let found = self.cur.describe();
                return Err(self.err(
                    self.cur.pos,
                    format!(
                        "expected '(' and a list of values after '{}', found {found}",
                        op.name()
                    ),
                ));
            }
            let mut items = Vec::new();
            self.cur.skip_ws();
            if self.cur.eat(b')') {
                return Ok(Rhs::List(items));
            }
            loop {
                self.cur.skip_ws();
                items.push(self.value()?);
                self.cur.skip_ws();
                if self.cur.eat(b')') {
                    return Ok(Rhs::List(items));
                }
                if !self.cur.eat(b',') {
                    let found = self.cur.describe();
                    return Err(self.err(
                        self.cur.pos,
                        format!("expected ',' or ')' in the list, found {found}"),
                    ));
                }
            }
        }
        if self.cur.at_word("val") && {
            let mut c = self.cur.clone();
            c.eat_word("val");
            c.peek() == Some(b'(')
        } {
            self.cur.eat_word("val");
            self.cur.eat(b'(');
            let f = self.field()?;
            self.cur.skip_ws();
            if !self.cur.eat(b')') {
                let found = self.cur.describe();
                return Err(self.err(
                    self.cur.pos,
                    format!("expected ')' after val(field, found {found}"),
                ));
            }
            return Ok(Rhs::Field(f));
        }
        Ok(Rhs::Value(self.value()?))
    }

    fn value(&mut self) -> Result<Val, Error> {
        let start = self.cur.pos;
        let at = self.text.pos(start);
        if matches!(self.cur.peek(), Some(b'"' | b'\'')) {
            let text = self
                .cur
                .quoted()
                .map_err(|e| self.err(e.at, e.message.into()))?;
            return Ok(Val {
                text,
                quoted: true,
                at,
            });
        }
        match self.cur.bare() {
            Some(text) => Ok(Val {
                text: text.to_owned(),
                quoted: false,
                at,
            }),
            None => {
                let found = self.cur.describe();
                Err(self.err(start, format!("expected a value, found {found}")))
            }
        }
    }
}

/// Parses a lone field reference (`proc.name`, `proc.aname[2]`, `tolower(fd.name)`), as used by
/// exceptions' `fields`.
pub(crate) fn parse_field(text: &Text, item: &ItemRef) -> Result<FieldExpr, Error> {
    let mut p = Parser {
        text,
        cur: Cursor::new(&text.value),
        item,
        depth: 0,
    };
    let f = p.field()?;
    p.cur.skip_ws();
    if !p.cur.at_end() {
        return Err(p.expected(None, "the end of the field name"));
    }
    Ok(f)
}

/// Parses a lone operator (`=`, `in`, `startswith`...), as used by exceptions' `comps`.
pub(crate) fn parse_op(s: &str) -> Option<Op> {
    let t = s.trim();
    Op::TABLE
        .iter()
        .find(|(spelling, _)| *spelling == t)
        .map(|(_, op)| *op)
}

/// Parses a condition given as a plain string, for fuzzing and tools: `Err` carries the
/// message with a `<condition>:1:col` position.
pub fn check_syntax(condition: &str) -> Result<(), String> {
    let pos = crate::error::Pos {
        file: std::sync::Arc::from("<condition>"),
        line: 1,
        col: 1,
    };
    let text = Text::on_line(condition, &pos);
    parse(
        &text,
        &ItemRef::new(crate::error::ItemKind::Other, "condition"),
    )
    .map(|_| ())
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ItemKind, Pos};
    use std::sync::Arc;

    fn text(s: &str) -> Text {
        let pos = Pos {
            file: Arc::from("c"),
            line: 1,
            col: 1,
        };
        Text::on_line(s, &pos)
    }

    fn p(s: &str) -> Result<Expr, Error> {
        parse(&text(s), &ItemRef::new(ItemKind::Rule, "r"))
    }

    fn syntax_col(s: &str) -> (u32, String) {
        match p(s) {
            Err(Error::Syntax { pos, message, .. }) => (pos.col, message),
            other => panic!("expected a syntax error for {s:?}, got {other:?}"),
        }
    }

    #[test]
    fn precedence_and_flattening() {
        let e = p("a or b and not c or (d)").expect("parse");
        let Expr::Or(items) = e else { panic!("or") };
        assert_eq!(items.len(), 3);
        assert!(matches!(&items[1], Expr::And(v) if matches!(v[1], Expr::Not(_))));
    }

    #[test]
    fn checks() {
        let e = p("proc.aname[2]=sshd and evt.arg.flags contains O_TRUNC and fd.name exists")
            .expect("parse");
        let Expr::And(items) = e else { panic!("and") };
        let Expr::Check(c) = &items[0] else {
            panic!("check")
        };
        assert_eq!(
            (c.lhs.name.as_str(), c.lhs.arg.as_deref(), c.op),
            ("proc.aname", Some("2"), Op::Eq)
        );
        assert!(matches!(&c.rhs, Rhs::Value(v) if v.text == "sshd"));
        let Expr::Check(c) = &items[2] else {
            panic!("check")
        };
        assert_eq!((c.op, &c.rhs), (Op::Exists, &Rhs::None));
    }

    #[test]
    fn lists_values_and_transformers() {
        let e = p(r#"tolower(basename(proc.exe)) in (a, "b c", 'd', runc:[0:PARENT]) and proc.name != val(proc.pname)"#)
            .expect("parse");
        let Expr::And(items) = e else { panic!("and") };
        let Expr::Check(c) = &items[0] else {
            panic!("check")
        };
        assert_eq!(
            c.lhs.transformers,
            vec![Transformer::Basename, Transformer::ToLower]
        );
        let Rhs::List(v) = &c.rhs else { panic!("list") };
        let texts: Vec<_> = v.iter().map(|v| v.text.as_str()).collect();
        assert_eq!(texts, ["a", "b c", "d", "runc:[0:PARENT]"]);
        let Expr::Check(c) = &items[1] else {
            panic!("check")
        };
        assert!(matches!(&c.rhs, Rhs::Field(f) if f.name == "proc.pname"));
        assert!(p("fd.name in ()").is_ok());
    }

    #[test]
    fn syntax_errors_point_at_the_token() {
        assert_eq!(syntax_col("proc.name = 'abc").0, 13);
        assert!(syntax_col("proc.name = 'abc")
            .1
            .contains("unterminated string"));
        assert_eq!(syntax_col("proc.name sshd").0, 11);
        assert_eq!(syntax_col("(a and b").0, 9);
        assert_eq!(syntax_col("a and").0, 6);
        assert_eq!(syntax_col("a b").0, 3);
        assert_eq!(syntax_col("proc.name in a").0, 14);
        assert_eq!(syntax_col("proc.name in (a b)").0, 17);
        assert_eq!(syntax_col("").0, 1);
        assert_eq!(syntax_col("fd.name[").0, 9);
        assert_eq!(syntax_col("nope(proc.name) = 1").0, 1);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let s = format!("{}a{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(syntax_col(&s).1.contains("nesting"));
        let s = format!("{}a", "not ".repeat(100_000));
        assert!(syntax_col(&s).1.contains("nesting"));
        let s = format!(
            "{}proc.name{} = a",
            "tolower(".repeat(100_000),
            ")".repeat(100_000)
        );
        assert!(syntax_col(&s).1.contains("nesting"));
    }

    #[test]
    fn check_syntax_reports_columns() {
        assert!(check_syntax("a and (b or c)").is_ok());
        let e = check_syntax("a and 'x").expect_err("bad");
        assert!(e.starts_with("<condition>:1:7:"), "{e}");
    }
}
