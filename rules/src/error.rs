//! Errors and warnings. Every error that comes from a rules file carries a [`Pos`] (file, line,
//! column) and, where there is one, the item it belongs to ([`ItemRef`]).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A position in a rules file: 1-based line and column (columns count characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pos {
    /// The file's name as it was given to the loader.
    pub file: Arc<str>,
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1, in characters.
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// What kind of item an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ItemKind {
    /// A `rule` item.
    Rule,
    /// A `macro` item.
    Macro,
    /// A `list` item.
    List,
    /// Any other top-level item (`required_engine_version`, ...).
    Other,
}

/// The item (rule, macro, list) an error belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemRef {
    /// Its kind.
    pub kind: ItemKind,
    /// Its name (empty if the item has none yet, e.g. a rule without a `rule` key).
    pub name: String,
}

impl ItemRef {
    pub(crate) fn new(kind: ItemKind, name: impl Into<String>) -> Self {
        ItemRef {
            kind,
            name: name.into(),
        }
    }
}

impl fmt::Display for ItemRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ItemKind::Rule => "rule",
            ItemKind::Macro => "macro",
            ItemKind::List => "list",
            ItemKind::Other => "item",
        };
        write!(f, "{kind} '{}'", self.name)
    }
}

/// An error in loading or compiling rules.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A rules file could not be read.
    #[error("cannot read rules file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not well-formed YAML.
    #[error("{pos}: malformed YAML: {message}")]
    Yaml {
        /// Where the YAML parser stopped.
        pos: Pos,
        /// The YAML parser's message.
        message: String,
    },
    /// The YAML is well formed but an item does not have the shape the rule language expects
    /// (not a mapping, missing or mistyped key, unknown item kind, bad priority...).
    #[error("{pos}: {item}: {message}")]
    Schema {
        /// Where.
        pos: Pos,
        /// The item.
        item: ItemRef,
        /// What is wrong.
        message: String,
    },
    /// A condition does not parse (including an unterminated string).
    #[error("{pos}: {item}: condition syntax error: {message}")]
    Syntax {
        /// The offending token.
        pos: Pos,
        /// The rule or macro whose condition it is.
        item: ItemRef,
        /// What the parser expected or found.
        message: String,
    },
    /// A field that the field table does not have.
    #[error("{pos}: {item}: unknown field '{field}'")]
    UnknownField {
        /// Where the field is used.
        pos: Pos,
        /// The item using it.
        item: ItemRef,
        /// The field name as written.
        field: String,
    },
    /// A field argument that the field does not accept (missing, extra, or not a number).
    #[error("{pos}: {item}: field '{field}': {message}")]
    FieldArg {
        /// Where.
        pos: Pos,
        /// The item.
        item: ItemRef,
        /// The field.
        field: String,
        /// What is wrong with its argument.
        message: String,
    },
    /// A bare name in a condition that is neither a macro nor a field.
    #[error("{pos}: {item}: undefined macro '{name}'")]
    UndefinedMacro {
        /// Where it is used.
        pos: Pos,
        /// The item using it.
        item: ItemRef,
        /// The name.
        name: String,
    },
    /// A list's name used where a macro (a condition) is expected.
    #[error("{pos}: {item}: '{name}' is a list, not a macro; lists can only be used in the values of in/intersects/pmatch")]
    ListAsMacro {
        /// Where it is used.
        pos: Pos,
        /// The item using it.
        item: ItemRef,
        /// The list's name.
        name: String,
    },
    /// Macros that use each other in a cycle.
    #[error("{pos}: {item}: macros form a cycle: {}", cycle.join(" -> "))]
    MacroCycle {
        /// Where the cycle closes.
        pos: Pos,
        /// The macro where the cycle was detected.
        item: ItemRef,
        /// The macro names along the cycle, the first repeated at the end.
        cycle: Vec<String>,
    },
    /// An operator that does not apply to the field's type (e.g. `contains` on a number).
    #[error("{pos}: {item}: operator '{op}' cannot be used with field '{field}' of type {ty}")]
    OperatorType {
        /// Where the operator is.
        pos: Pos,
        /// The item.
        item: ItemRef,
        /// The field.
        field: String,
        /// The operator.
        op: String,
        /// The field's type.
        ty: &'static str,
    },
    /// A value that cannot be read as the field's type (e.g. `fd.num = abc`).
    #[error("{pos}: {item}: value '{value}' for field '{field}' is not {expected}")]
    BadValue {
        /// Where the value is.
        pos: Pos,
        /// The item.
        item: ItemRef,
        /// The field.
        field: String,
        /// The value as written.
        value: String,
        /// What was expected ("a number", "an IP address or network", ...).
        expected: &'static str,
    },
    /// An event type name (in `evt.type = X`) that no table knows.
    #[error("{pos}: {item}: unknown event type '{name}'")]
    UnknownEventType {
        /// Where.
        pos: Pos,
        /// The item.
        item: ItemRef,
        /// The name.
        name: String,
    },
    /// A construct of the rule language that this engine does not implement (e.g. `regex`).
    #[error("{pos}: {item}: unsupported: {what}")]
    Unsupported {
        /// Where.
        pos: Pos,
        /// The item.
        item: ItemRef,
        /// What is not supported.
        what: String,
    },
    /// An `append` or `override` for an item that no earlier file or item defined.
    #[error("{pos}: {item}: has '{how}' but no {kind} of that name was defined before", kind = item_kind_word(item.kind))]
    NothingToOverride {
        /// Where.
        pos: Pos,
        /// The item.
        item: ItemRef,
        /// `append` or `override`.
        how: &'static str,
    },
    /// An exception that cannot be compiled.
    #[error("{pos}: {item}: exception '{name}': {message}")]
    Exception {
        /// Where the exception is.
        pos: Pos,
        /// The rule.
        item: ItemRef,
        /// The exception's name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A rule for an event source other than `syscall`.
    #[error("{pos}: {item}: event source '{source_name}' is not supported (only 'syscall')")]
    UnsupportedSource {
        /// Where.
        pos: Pos,
        /// The rule.
        item: ItemRef,
        /// The source.
        source_name: String,
    },
}

fn item_kind_word(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Rule => "rule",
        ItemKind::Macro => "macro",
        ItemKind::List => "list",
        ItemKind::Other => "item",
    }
}

impl Error {
    /// The position in a rules file, if the error has one.
    pub fn pos(&self) -> Option<&Pos> {
        match self {
            Error::Io { .. } => None,
            Error::Yaml { pos, .. }
            | Error::Schema { pos, .. }
            | Error::Syntax { pos, .. }
            | Error::UnknownField { pos, .. }
            | Error::FieldArg { pos, .. }
            | Error::UndefinedMacro { pos, .. }
            | Error::ListAsMacro { pos, .. }
            | Error::MacroCycle { pos, .. }
            | Error::OperatorType { pos, .. }
            | Error::BadValue { pos, .. }
            | Error::UnknownEventType { pos, .. }
            | Error::Unsupported { pos, .. }
            | Error::NothingToOverride { pos, .. }
            | Error::Exception { pos, .. }
            | Error::UnsupportedSource { pos, .. } => Some(pos),
        }
    }

    /// Whether this error means "the engine cannot serve this rule" (unknown field or event
    /// type, unsupported construct or source) rather than "the rule is wrong". Such errors skip
    /// the rule with a warning unless loading is strict.
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            Error::UnknownField { .. }
                | Error::UnknownEventType { .. }
                | Error::Unsupported { .. }
                | Error::UnsupportedSource { .. }
        )
    }
}

/// A rule that was not compiled, and why. In non-strict loading, rules that use a field, event
/// type or construct the engine cannot serve are skipped with one of these.
#[derive(Debug)]
pub struct Warning {
    /// The rule's name.
    pub rule: String,
    /// Why it was skipped.
    pub error: Error,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule '{}' skipped: {}", self.rule, self.error)
    }
}
