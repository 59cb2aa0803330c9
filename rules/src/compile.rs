//! From a parsed condition to an evaluation tree: macros are expanded, lists spliced into
//! `in (...)` values, fields looked up in the table, operators checked against field types, and
//! values converted once (numbers parsed, lists turned into hash sets, globs compiled).

use std::collections::HashMap;

use memchr::memmem;

use crate::ast::{Check, Expr, FieldExpr, Op, Rhs, Transformer, Val};
use crate::error::{Error, ItemRef, Pos};
use crate::eval::{self, ArgOwned, CmpOp, FieldRef, IpNet, Matcher, Node};
use crate::events::{event_type_by_name, EventSet};
use crate::fields::{resolve_name, ArgKind, FieldId, FieldKind, FieldType, StateNeeds};
use crate::glob::Glob;
use crate::lexer::Cursor;

/// Deepest nesting after macro expansion.
pub(crate) const MAX_EXPANDED_DEPTH: usize = 200;

/// Most nodes one rule's condition may expand to (macros used many times can multiply).
const MAX_NODES: usize = 200_000;

/// A list item, as it will be spliced into a condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListValue {
    pub text: String,
    pub quoted: bool,
    pub at: Pos,
}

impl ListValue {
    /// Reads a YAML list item. Items written with their own quotes (`'"(systemd)"'`) are
    /// condition strings and get unquoted, as Falco's text substitution would.
    pub fn from_item(item: &str, at: Pos) -> ListValue {
        if matches!(item.as_bytes().first(), Some(b'"' | b'\'')) {
            let mut c = Cursor::new(item);
            if let Ok(s) = c.quoted() {
                if c.at_end() {
                    return ListValue {
                        text: s,
                        quoted: true,
                        at,
                    };
                }
            }
        }
        ListValue {
            text: item.to_owned(),
            quoted: false,
            at,
        }
    }
}

/// What a condition can refer to.
pub(crate) struct Env<'a> {
    pub macros: &'a HashMap<String, Expr>,
    /// Each macro's [`Memo`](crate::eval::Memo) slot.
    pub macro_slots: &'a HashMap<String, u32>,
    pub lists: &'a HashMap<String, Vec<ListValue>>,
}

/// The result of compiling one condition.
pub(crate) struct Compiled {
    pub node: Node,
    pub needs: StateNeeds,
}

struct Ctx<'a> {
    env: &'a Env<'a>,
    item: &'a ItemRef,
    needs: StateNeeds,
    expanding: Vec<String>,
    nodes: usize,
}

/// Compiles `expr` for `item`.
pub(crate) fn compile(env: &Env<'_>, item: &ItemRef, expr: &Expr) -> Result<Compiled, Error> {
    let mut ctx = Ctx {
        env,
        item,
        needs: StateNeeds::NONE,
        expanding: Vec::new(),
        nodes: 0,
    };
    let node = ctx.expr(expr, 0)?;
    Ok(Compiled {
        node,
        needs: ctx.needs,
    })
}

/// Resolves a field for an output template or a check: name, argument, transformers.
pub(crate) fn resolve_field(
    f: &FieldExpr,
    item: &ItemRef,
    needs: &mut StateNeeds,
) -> Result<(FieldRef, FieldType, FieldKind), Error> {
    let Some((id, dotted)) = resolve_name(&f.name) else {
        return Err(Error::UnknownField {
            pos: f.at.clone(),
            item: item.clone(),
            field: f.name.clone(),
        });
    };
    let info = id.info();
    let arg_err = |message: String| Error::FieldArg {
        pos: f.at.clone(),
        item: item.clone(),
        field: f.name.clone(),
        message,
    };
    let raw_arg = match (dotted, f.arg.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(arg_err("has both a dotted and a bracketed argument".into()))
        }
        (Some(a), None) | (None, Some(a)) => Some(a),
        (None, None) => None,
    };
    let mut any_ancestor = false;
    let arg = match (info.arg, raw_arg) {
        (ArgKind::None, None) => ArgOwned::None,
        (ArgKind::None, Some(a)) => return Err(arg_err(format!("takes no argument, got '{a}'"))),
        (ArgKind::Ancestor, None) => {
            any_ancestor = true;
            ArgOwned::None
        }
        (ArgKind::Ancestor, Some(a)) => match a.parse::<u32>() {
            Ok(n) => ArgOwned::Index(n),
            Err(_) => {
                return Err(arg_err(format!(
                    "ancestor level must be a number, got '{a}'"
                )))
            }
        },
        (ArgKind::IndexOrKey, None) => {
            return Err(arg_err("needs an argument ([N] or .name)".into()))
        }
        (ArgKind::IndexOrKey, Some(a)) => match a.parse::<u32>() {
            Ok(n) => ArgOwned::Index(n),
            Err(_) => ArgOwned::Key(a.into()),
        },
        (ArgKind::OptionalKey, None) => ArgOwned::None,
        (ArgKind::OptionalKey, Some(a)) => ArgOwned::Key(a.into()),
    };
    *needs |= info.needs;
    // Aliases read another field; "either" fields are expanded by the caller.
    let (target, kind) = match info.kind {
        FieldKind::Alias(of) => (FieldId::by_name(of).unwrap_or(id), FieldKind::Direct),
        k => (id, k),
    };
    let mut ty = info.ty;
    for t in &f.transformers {
        ty = match (t, ty) {
            (Transformer::Len, FieldType::Str) => FieldType::Num,
            (_, FieldType::Str) => FieldType::Str,
            (_, other) => {
                return Err(Error::OperatorType {
                    pos: f.at.clone(),
                    item: item.clone(),
                    field: f.name.clone(),
                    op: format!("{t:?}").to_lowercase(),
                    ty: other.name(),
                })
            }
        };
    }
    let fref = FieldRef {
        id: target,
        arg,
        transformers: f.transformers.clone().into_boxed_slice(),
        any_ancestor,
    };
    Ok((fref, ty, kind))
}

impl Ctx<'_> {
    fn expr(&mut self, e: &Expr, depth: usize) -> Result<Node, Error> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(Error::Unsupported {
                pos: first_pos(e),
                item: self.item.clone(),
                what: format!("a condition of more than {MAX_NODES} nodes after macro expansion"),
            });
        }
        if depth > MAX_EXPANDED_DEPTH {
            let pos = first_pos(e);
            return Err(Error::Syntax {
                pos,
                item: self.item.clone(),
                message: format!("nesting deeper than {MAX_EXPANDED_DEPTH} after macro expansion"),
            });
        }
        Ok(match e {
            Expr::And(items) => Node::And(self.all(items, depth)?),
            Expr::Or(items) => Node::Or(self.all(items, depth)?),
            Expr::Not(inner) => Node::Not(Box::new(self.expr(inner, depth + 1)?)),
            Expr::Ident { name, at } => self.macro_ref(name, at, depth)?,
            Expr::Check(c) => self.check(c)?,
        })
    }

    fn all(&mut self, items: &[Expr], depth: usize) -> Result<Box<[Node]>, Error> {
        items.iter().map(|e| self.expr(e, depth + 1)).collect()
    }

    fn macro_ref(&mut self, name: &str, at: &Pos, depth: usize) -> Result<Node, Error> {
        let Some(body) = self.env.macros.get(name) else {
            if self.env.lists.contains_key(name) {
                return Err(Error::ListAsMacro {
                    pos: at.clone(),
                    item: self.item.clone(),
                    name: name.into(),
                });
            }
            return Err(Error::UndefinedMacro {
                pos: at.clone(),
                item: self.item.clone(),
                name: name.into(),
            });
        };
        if let Some(i) = self.expanding.iter().position(|m| m == name) {
            let mut cycle = self.expanding[i..].to_vec();
            cycle.push(name.into());
            return Err(Error::MacroCycle {
                pos: at.clone(),
                item: self.item.clone(),
                cycle,
            });
        }
        self.expanding.push(name.into());
        let out = self.expr(body, depth + 1);
        self.expanding.pop();
        match self.env.macro_slots.get(name) {
            Some(&slot) => Ok(Node::Shared(slot, Box::new(out?))),
            None => out,
        }
    }

    fn type_err(&self, f: &FieldExpr, op: Op, at: &Pos, ty: FieldType) -> Error {
        Error::OperatorType {
            pos: at.clone(),
            item: self.item.clone(),
            field: f.name.clone(),
            op: op.name().into(),
            ty: ty.name(),
        }
    }

    fn check(&mut self, c: &Check) -> Result<Node, Error> {
        let (fref, ty, kind) = resolve_field(&c.lhs, self.item, &mut self.needs)?;
        if let FieldKind::Either(a, b) = kind {
            // `fd.ip = x` is `fd.cip = x or fd.sip = x`. `fd.ip != x` holds when neither side
            // is x and at least one side is known: a side the engine cannot tell (the local
            // end of a connect, which conditions do not read from /proc) must not make `!=`
            // false, or `outbound` (`fd.ip != "0.0.0.0"`) could never match a connect.
            let mut parts = Vec::with_capacity(2);
            let mut known = Vec::with_capacity(2);
            for name in [a, b] {
                let mut sub = c.clone();
                sub.lhs.name = name.into();
                if c.op == Op::Ne {
                    sub.op = Op::Eq;
                    let mut exists = sub.clone();
                    exists.op = Op::Exists;
                    exists.rhs = Rhs::None;
                    known.push(self.check(&exists)?);
                }
                parts.push(self.check(&sub)?);
            }
            let parts = Node::Or(parts.into_boxed_slice());
            return Ok(if c.op == Op::Ne {
                Node::And(Box::new([
                    Node::Not(Box::new(parts)),
                    Node::Or(known.into_boxed_slice()),
                ]))
            } else {
                parts
            });
        }
        if fref.id.name() == "evt.type" && fref.transformers.is_empty() {
            if let Some(node) = self.event_type(c)? {
                return Ok(node);
            }
        }
        if c.op == Op::Regex {
            return Err(Error::Unsupported {
                pos: c.op_at.clone(),
                item: self.item.clone(),
                what: "the 'regex' operator".into(),
            });
        }
        let allowed = match ty {
            FieldType::Str => true,
            FieldType::Num => matches!(
                c.op,
                Op::Eq
                    | Op::Ne
                    | Op::Lt
                    | Op::Le
                    | Op::Gt
                    | Op::Ge
                    | Op::In
                    | Op::Intersects
                    | Op::Exists
            ),
            FieldType::Bool => matches!(c.op, Op::Eq | Op::Ne | Op::In | Op::Exists),
            FieldType::Ip | FieldType::IpNet => {
                matches!(c.op, Op::Eq | Op::Ne | Op::In | Op::Intersects | Op::Exists)
            }
        };
        if !allowed {
            return Err(self.type_err(&c.lhs, c.op, &c.op_at, ty));
        }
        let negate = c.op == Op::Ne;
        let matcher = match &c.rhs {
            Rhs::None => Matcher::Exists,
            Rhs::Field(other) => self.field_cmp(c, other, ty)?,
            Rhs::Value(v) => self.scalar_matcher(c, ty, v)?,
            Rhs::List(items) => {
                let values = self.expand_list(items);
                self.list_matcher(c, ty, &values)?
            }
        };
        Ok(Node::Check(Box::new(eval::Check {
            field: fref,
            matcher,
            negate,
        })))
    }

    fn field_cmp(&mut self, c: &Check, other: &FieldExpr, ty: FieldType) -> Result<Matcher, Error> {
        let op = match c.op {
            Op::Eq | Op::Ne => CmpOp::Eq,
            Op::Lt => CmpOp::Lt,
            Op::Le => CmpOp::Le,
            Op::Gt => CmpOp::Gt,
            Op::Ge => CmpOp::Ge,
            _ => {
                return Err(Error::Unsupported {
                    pos: c.op_at.clone(),
                    item: self.item.clone(),
                    what: format!("operator '{}' with val(...)", c.op.name()),
                })
            }
        };
        let (oref, oty, okind) = resolve_field(other, self.item, &mut self.needs)?;
        if matches!(okind, FieldKind::Either(..)) || oref.any_ancestor {
            return Err(Error::Unsupported {
                pos: other.at.clone(),
                item: self.item.clone(),
                what: format!("val({}) of a multi-valued field", other.name),
            });
        }
        let comparable = oty == ty
            || matches!(
                (ty, oty),
                (
                    FieldType::Ip | FieldType::IpNet,
                    FieldType::Ip | FieldType::IpNet
                )
            );
        if !comparable {
            return Err(self.type_err(&c.lhs, c.op, &c.op_at, oty));
        }
        Ok(Matcher::FieldCmp(op, Box::new(oref)))
    }

    /// `evt.type = x`, `!= x`, `in (...)` become event-set tests.
    fn event_type(&mut self, c: &Check) -> Result<Option<Node>, Error> {
        let values: Vec<ListValue> = match (&c.op, &c.rhs) {
            (Op::Eq | Op::Ne, Rhs::Value(v)) => vec![ListValue {
                text: v.text.clone(),
                quoted: v.quoted,
                at: v.at.clone(),
            }],
            (Op::In, Rhs::List(items)) => self.expand_list(items),
            _ => return Ok(None),
        };
        let mut set = EventSet::empty();
        for v in &values {
            match event_type_by_name(&v.text) {
                Some(code) => set.insert(code),
                None => {
                    return Err(Error::UnknownEventType {
                        pos: v.at.clone(),
                        item: self.item.clone(),
                        name: v.text.clone(),
                    })
                }
            }
        }
        let node = Node::EventType(Box::new(set));
        Ok(Some(if c.op == Op::Ne {
            Node::Not(Box::new(node))
        } else {
            node
        }))
    }

    /// Splices named lists into a value list (recursively, lists' own items already expanded).
    fn expand_list(&self, items: &[Val]) -> Vec<ListValue> {
        let mut out = Vec::with_capacity(items.len());
        for v in items {
            match self.env.lists.get(&v.text).filter(|_| !v.quoted) {
                Some(values) => out.extend(values.iter().cloned()),
                None => out.push(ListValue {
                    text: v.text.clone(),
                    quoted: v.quoted,
                    at: v.at.clone(),
                }),
            }
        }
        out
    }

    fn bad_value(&self, c: &Check, text: &str, at: &Pos, expected: &'static str) -> Error {
        Error::BadValue {
            pos: at.clone(),
            item: self.item.clone(),
            field: c.lhs.name.clone(),
            value: text.into(),
            expected,
        }
    }

    fn num(&self, c: &Check, text: &str, at: &Pos) -> Result<i64, Error> {
        parse_num(text).ok_or_else(|| self.bad_value(c, text, at, "a number"))
    }

    fn net(&self, c: &Check, text: &str, at: &Pos) -> Result<IpNet, Error> {
        IpNet::parse(text).ok_or_else(|| self.bad_value(c, text, at, "an IP address or network"))
    }

    fn boolean(&self, c: &Check, text: &str, at: &Pos) -> Result<bool, Error> {
        match text {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(self.bad_value(c, text, at, "true or false")),
        }
    }

    fn scalar_matcher(&self, c: &Check, ty: FieldType, v: &Val) -> Result<Matcher, Error> {
        let bytes = || v.text.as_bytes().to_vec().into_boxed_slice();
        Ok(match ty {
            FieldType::Str => match c.op {
                Op::Eq | Op::Ne => Matcher::StrCmp(CmpOp::Eq, bytes()),
                Op::Lt => Matcher::StrCmp(CmpOp::Lt, bytes()),
                Op::Le => Matcher::StrCmp(CmpOp::Le, bytes()),
                Op::Gt => Matcher::StrCmp(CmpOp::Gt, bytes()),
                Op::Ge => Matcher::StrCmp(CmpOp::Ge, bytes()),
                Op::Contains => Matcher::Contains(Box::new(
                    memmem::Finder::new(v.text.as_bytes()).into_owned(),
                )),
                Op::IContains => {
                    Matcher::IContains(v.text.to_ascii_lowercase().into_bytes().into_boxed_slice())
                }
                Op::BContains | Op::BStartsWith => {
                    let Some(b) = parse_hex(&v.text) else {
                        return Err(self.bad_value(c, &v.text, &v.at, "hex bytes"));
                    };
                    if c.op == Op::BContains {
                        Matcher::Contains(Box::new(memmem::Finder::new(&b).into_owned()))
                    } else {
                        Matcher::StartsWith(b.into_boxed_slice())
                    }
                }
                Op::StartsWith => Matcher::StartsWith(bytes()),
                Op::EndsWith => Matcher::EndsWith(bytes()),
                Op::Glob => Matcher::Glob(Glob::new(v.text.as_bytes(), false)),
                Op::IGlob => Matcher::Glob(Glob::new(v.text.as_bytes(), true)),
                _ => return Err(self.type_err(&c.lhs, c.op, &c.op_at, ty)),
            },
            FieldType::Num => {
                let n = self.num(c, &v.text, &v.at)?;
                let op = match c.op {
                    Op::Eq | Op::Ne => CmpOp::Eq,
                    Op::Lt => CmpOp::Lt,
                    Op::Le => CmpOp::Le,
                    Op::Gt => CmpOp::Gt,
                    Op::Ge => CmpOp::Ge,
                    _ => return Err(self.type_err(&c.lhs, c.op, &c.op_at, ty)),
                };
                Matcher::NumCmp(op, n)
            }
            FieldType::Bool => Matcher::BoolEq(self.boolean(c, &v.text, &v.at)?),
            FieldType::Ip | FieldType::IpNet => {
                Matcher::IpIn(Box::new([self.net(c, &v.text, &v.at)?]))
            }
        })
    }

    fn list_matcher(
        &self,
        c: &Check,
        ty: FieldType,
        values: &[ListValue],
    ) -> Result<Matcher, Error> {
        Ok(match (ty, c.op) {
            (FieldType::Str, Op::PMatch) => Matcher::PMatch(
                values
                    .iter()
                    .map(|v| v.text.as_bytes().to_vec().into_boxed_slice())
                    .collect(),
            ),
            (FieldType::Str, _) => Matcher::StrIn(
                values
                    .iter()
                    .map(|v| v.text.as_bytes().to_vec().into_boxed_slice())
                    .collect::<rustc_hash::FxHashSet<_>>(),
            ),
            (FieldType::Num, Op::In | Op::Intersects) => Matcher::NumIn(
                values
                    .iter()
                    .map(|v| self.num(c, &v.text, &v.at))
                    .collect::<Result<rustc_hash::FxHashSet<_>, _>>()?,
            ),
            (FieldType::Bool, Op::In) => {
                let set = values
                    .iter()
                    .map(|v| self.boolean(c, &v.text, &v.at))
                    .collect::<Result<Vec<_>, _>>()?;
                match (set.contains(&true), set.contains(&false)) {
                    (true, true) => Matcher::Exists,
                    (true, false) => Matcher::BoolEq(true),
                    (false, true) => Matcher::BoolEq(false),
                    (false, false) => Matcher::StrIn(Default::default()),
                }
            }
            (FieldType::Ip | FieldType::IpNet, Op::In | Op::Intersects) => Matcher::IpIn(
                values
                    .iter()
                    .map(|v| self.net(c, &v.text, &v.at))
                    .collect::<Result<Box<[_]>, _>>()?,
            ),
            _ => return Err(self.type_err(&c.lhs, c.op, &c.op_at, ty)),
        })
    }
}

fn parse_num(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let n = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => i64::from_str_radix(hex, 16).ok()?,
        None if digits.bytes().all(|b| b.is_ascii_digit()) && !digits.is_empty() => {
            digits.parse::<i64>().ok()?
        }
        None => return None,
    };
    Some(if neg { -n } else { n })
}

fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let s: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks(2)
        .map(|p| {
            std::str::from_utf8(p)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect()
}

/// The position of an expression's first token.
pub(crate) fn first_pos(e: &Expr) -> Pos {
    match e {
        Expr::And(v) | Expr::Or(v) => v.first().map(first_pos).unwrap_or_else(|| Pos {
            file: std::sync::Arc::from(""),
            line: 1,
            col: 1,
        }),
        Expr::Not(inner) => first_pos(inner),
        Expr::Ident { at, .. } => at.clone(),
        Expr::Check(c) => c.lhs.at.clone(),
    }
}

/// Every macro name an expression refers to, with where.
pub(crate) fn idents<'e>(e: &'e Expr, out: &mut Vec<(&'e str, &'e Pos)>) {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| idents(e, out)),
        Expr::Not(inner) => idents(inner, out),
        Expr::Ident { name, at } => out.push((name, at)),
        Expr::Check(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_num("-1"), Some(-1));
        assert_eq!(parse_num("0x10"), Some(16));
        assert_eq!(parse_num("5000000000"), Some(5_000_000_000));
        assert_eq!(parse_num("1e3"), None);
        assert_eq!(parse_num(""), None);
        assert_eq!(parse_hex("CAFE"), Some(vec![0xca, 0xfe]));
    }

    #[test]
    fn list_items_with_their_own_quotes() {
        let at = Pos {
            file: std::sync::Arc::from("f"),
            line: 1,
            col: 1,
        };
        assert_eq!(
            ListValue::from_item("\"(systemd)\"", at.clone()).text,
            "(systemd)"
        );
        assert_eq!(
            ListValue::from_item(r#""sh -c node -e \"require('nan')\"""#, at.clone()).text,
            r#"sh -c node -e "require('nan')""#
        );
        assert_eq!(ListValue::from_item("plain", at.clone()).text, "plain");
        assert_eq!(ListValue::from_item("\"half", at).text, "\"half");
    }
}
