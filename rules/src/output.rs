//! Output templates: `%field`, `%field[arg]` and `%(field)` substitution. The compiled template
//! keeps its fields so that alerts can carry Falco's `output_fields`.

use std::fmt::Write as _;

use crate::ast::FieldExpr;
use crate::compile::resolve_field;
use crate::error::{Error, ItemRef};
use crate::eval::{FieldRef, FieldSource, Value};
use crate::fields::{FieldKind, StateNeeds};
use crate::yaml::Text;

/// One field of an output template.
#[derive(Debug, Clone)]
pub struct OutputField {
    /// The field as written, without `%` (`proc.aname[2]`): the key in `output_fields`.
    pub name: String,
    field: FieldRef,
}

impl OutputField {
    /// The field's value for the current event.
    pub fn value<'s, S: FieldSource + ?Sized>(&self, src: &'s S) -> Value<'s> {
        self.field.value(src)
    }
}

#[derive(Debug, Clone)]
enum Part {
    Lit(String),
    Field(usize),
}

/// A compiled output template.
#[derive(Debug, Clone, Default)]
pub struct OutputTemplate {
    parts: Vec<Part>,
    fields: Vec<OutputField>,
    source: String,
}

impl OutputTemplate {
    /// The template as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Its distinct fields, in order of first use.
    pub fn fields(&self) -> &[OutputField] {
        &self.fields
    }

    /// Renders the template into `out` (missing values print as `<NA>`, as Falco does).
    pub fn render_into<S: FieldSource + ?Sized>(&self, src: &S, out: &mut String) {
        for part in &self.parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Field(i) => {
                    if let Some(f) = self.fields.get(*i) {
                        let _ = write!(out, "{}", f.value(src).render());
                    }
                }
            }
        }
    }

    /// Renders the template.
    pub fn render<S: FieldSource + ?Sized>(&self, src: &S) -> String {
        let mut out = String::with_capacity(self.source.len() + 64);
        self.render_into(src, &mut out);
        out
    }
}

/// Compiles a template; unknown fields are errors by name.
pub(crate) fn compile(
    text: &Text,
    item: &ItemRef,
    needs: &mut StateNeeds,
) -> Result<OutputTemplate, Error> {
    let s = text.value.as_str();
    let b = s.as_bytes();
    let mut parts = Vec::new();
    let mut fields: Vec<OutputField> = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let mut lit_start = 0;
    while i < b.len() {
        if b[i] != b'%' {
            i += 1;
            continue;
        }
        let Some((name, arg, end)) = field_at(s, i + 1) else {
            i += 1;
            continue;
        };
        lit.push_str(&s[lit_start..i]);
        if !lit.is_empty() {
            parts.push(Part::Lit(std::mem::take(&mut lit)));
        }
        let fe = FieldExpr {
            name: name.to_owned(),
            arg: arg.map(str::to_owned),
            transformers: Vec::new(),
            at: text.pos(i + 1),
        };
        let (mut fref, _ty, kind) = resolve_field(&fe, item, needs)?;
        if let FieldKind::Either(a, _) = kind {
            // In an output, an "either" field prints its first (client) side.
            let side = FieldExpr {
                name: a.to_owned(),
                ..fe.clone()
            };
            fref = resolve_field(&side, item, needs)?.0;
        }
        let written = s[i + 1..end]
            .trim_start_matches('(')
            .trim_end_matches(')')
            .to_owned();
        let idx = match fields.iter().position(|f| f.name == written) {
            Some(idx) => idx,
            None => {
                fields.push(OutputField {
                    name: written,
                    field: fref,
                });
                fields.len() - 1
            }
        };
        parts.push(Part::Field(idx));
        i = end;
        lit_start = end;
    }
    lit.push_str(&s[lit_start..]);
    if !lit.is_empty() {
        parts.push(Part::Lit(lit));
    }
    Ok(OutputTemplate {
        parts,
        fields,
        source: s.to_owned(),
    })
}

/// A field reference starting at byte `i` (after `%`): `name`, `name[arg]` or `(name[arg])`.
/// Returns the name, the argument and the end offset.
fn field_at(s: &str, i: usize) -> Option<(&str, Option<&str>, usize)> {
    let b = s.as_bytes();
    let paren = b.get(i) == Some(&b'(');
    let start = if paren { i + 1 } else { i };
    if !b.get(start).is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    let mut end = start;
    while b
        .get(end)
        .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
    {
        end += 1;
    }
    while end > start && b[end - 1] == b'.' {
        end -= 1;
    }
    let name = s.get(start..end)?;
    if !name.contains('.') {
        return None;
    }
    let mut arg = None;
    if b.get(end) == Some(&b'[') {
        let close = s[end..].find(']').map(|k| end + k)?;
        arg = Some(s.get(end + 1..close)?);
        end = close + 1;
    }
    if paren {
        if b.get(end) != Some(&b')') {
            return None;
        }
        end += 1;
    }
    Some((name, arg, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_refs() {
        assert_eq!(
            field_at("proc.aname[2] x", 0),
            Some(("proc.aname", Some("2"), 13))
        );
        assert_eq!(field_at("fd.name.", 0), Some(("fd.name", None, 7)));
        assert_eq!(field_at("(proc.name)x", 0), Some(("proc.name", None, 11)));
        assert_eq!(field_at(" 5", 0), None);
        assert_eq!(field_at("s", 0), None);
    }
}
