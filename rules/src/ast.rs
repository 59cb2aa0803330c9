//! The condition syntax tree, as parsed (macros and lists not yet expanded).

use crate::error::Pos;

/// A condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// A bare name: a macro reference.
    Ident {
        name: String,
        at: Pos,
    },
    Check(Box<Check>),
}

/// `field op value`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Check {
    pub lhs: FieldExpr,
    pub op: Op,
    pub op_at: Pos,
    pub rhs: Rhs,
}

/// A field with its argument, possibly inside transformers (`tolower(proc.name)`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldExpr {
    pub name: String,
    pub arg: Option<String>,
    /// Innermost first.
    pub transformers: Vec<Transformer>,
    pub at: Pos,
}

/// The right-hand side of a check.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rhs {
    /// Unary operators (`exists`).
    None,
    Value(Val),
    /// `( a, b, ... )`; bare items that name a list are expanded by the compiler.
    List(Vec<Val>),
    /// `val(field)`.
    Field(FieldExpr),
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Val {
    pub text: String,
    pub quoted: bool,
    pub at: Pos,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    IContains,
    BContains,
    StartsWith,
    BStartsWith,
    EndsWith,
    Glob,
    IGlob,
    PMatch,
    In,
    Intersects,
    Exists,
    Regex,
}

impl Op {
    /// Spelling, longest words first so that scanning can try them in order.
    pub(crate) const TABLE: &'static [(&'static str, Op)] = &[
        ("==", Op::Eq),
        ("=", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        ("<", Op::Lt),
        (">=", Op::Ge),
        (">", Op::Gt),
        ("bstartswith", Op::BStartsWith),
        ("startswith", Op::StartsWith),
        ("intersects", Op::Intersects),
        ("icontains", Op::IContains),
        ("bcontains", Op::BContains),
        ("contains", Op::Contains),
        ("endswith", Op::EndsWith),
        ("exists", Op::Exists),
        ("pmatch", Op::PMatch),
        ("iglob", Op::IGlob),
        ("regex", Op::Regex),
        ("glob", Op::Glob),
        ("in", Op::In),
    ];

    pub(crate) fn name(self) -> &'static str {
        Op::TABLE
            .iter()
            .find(|(_, o)| *o == self)
            .map_or("?", |(n, _)| n)
    }

    /// Operators whose right side is a parenthesized list.
    pub(crate) fn takes_list(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::PMatch)
    }
}

/// Field transformers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Transformer {
    ToLower,
    ToUpper,
    Basename,
    Len,
}

impl Transformer {
    pub(crate) fn by_name(name: &str) -> Option<Transformer> {
        Some(match name {
            "tolower" => Transformer::ToLower,
            "toupper" => Transformer::ToUpper,
            "basename" => Transformer::Basename,
            "len" => Transformer::Len,
            _ => return None,
        })
    }
}
