//! Reading rules files: items (`rule`, `macro`, `list`, `required_engine_version`,
//! `required_plugin_versions`) collected across files in load order, with `append` and
//! `override` applied as Falco applies them. Compiling what was collected is
//! [`Loader::compile`] (in `ruleset.rs`).

use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, ItemKind, ItemRef, Pos};
use crate::ruleset::Priority;
use crate::yaml::{self, Node, NodeKind, Text};

/// Options for loading.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LoadOptions {
    /// Fail the load when a rule uses a field, event type or construct the engine cannot
    /// serve, instead of skipping that rule with a warning.
    pub strict: bool,
}

impl LoadOptions {
    /// Default options (not strict).
    pub fn new() -> Self {
        LoadOptions::default()
    }

    /// Sets `strict`.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ListInfo {
    pub name: String,
    pub items: Vec<(String, Pos)>,
    /// Lists defined before this counter value are visible to this list's items.
    pub visibility: usize,
    pub index: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct MacroInfo {
    pub name: String,
    pub cond: Text,
}

#[derive(Debug, Clone)]
pub(crate) enum ExFields {
    One(String, Pos),
    Many(Vec<(String, Pos)>),
}

#[derive(Debug, Clone)]
pub(crate) struct ExceptionInfo {
    pub name: String,
    pub pos: Pos,
    pub fields: ExFields,
    pub comps: Option<Vec<(String, Pos)>>,
    pub values: Vec<Node>,
}

#[derive(Debug, Clone)]
pub(crate) struct RuleInfo {
    pub name: String,
    pub pos: Pos,
    pub desc: String,
    pub cond: Text,
    pub output: Text,
    pub priority: Priority,
    pub enabled: bool,
    pub tags: Vec<String>,
    pub source: String,
    pub exceptions: Vec<ExceptionInfo>,
    pub skip_if_unknown: bool,
}

/// Collects rules files in order; [`Loader::compile`] turns them into a [`Ruleset`](crate::Ruleset).
#[derive(Debug, Default)]
pub struct Loader {
    pub(crate) opts: LoadOptions,
    pub(crate) lists: Vec<ListInfo>,
    pub(crate) macros: Vec<MacroInfo>,
    pub(crate) rules: Vec<RuleInfo>,
    pub(crate) notes: Vec<Error>,
    pub(crate) required_engine_version: Option<String>,
    pub(crate) required_plugins: Vec<(String, String)>,
    counter: usize,
}

/// How an item modifies an earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    Append,
    Replace,
}

impl Loader {
    /// A loader with `opts`.
    pub fn new(opts: LoadOptions) -> Self {
        Loader {
            opts,
            ..Loader::default()
        }
    }

    /// Loads a rules file; files are applied in the order loaded.
    pub fn load_file(&mut self, path: &Path) -> Result<(), Error> {
        let content = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        self.load_str(&path.display().to_string(), &content)
    }

    /// Loads rules from a string; `name` is the file name used in positions.
    pub fn load_str(&mut self, name: &str, content: &str) -> Result<(), Error> {
        let file: Arc<str> = Arc::from(name);
        let docs = yaml::parse(content, &file)?;
        for doc in docs {
            match &doc.kind {
                NodeKind::Seq(items) => {
                    for item in items {
                        self.item(item)?;
                    }
                }
                _ if doc.is_null() => {}
                _ => {
                    return Err(schema(
                        &doc.pos,
                        ItemKind::Other,
                        "",
                        format!(
                            "a rules file must be a sequence of items, found {}",
                            doc.kind_name()
                        ),
                    ))
                }
            }
        }
        Ok(())
    }

    fn item(&mut self, item: &Node) -> Result<(), Error> {
        if !matches!(item.kind, NodeKind::Map(_)) {
            return Err(schema(
                &item.pos,
                ItemKind::Other,
                "",
                format!("an item must be a mapping, found {}", item.kind_name()),
            ));
        }
        self.counter += 1;
        if let Some(v) = item.get("required_engine_version") {
            self.required_engine_version = Some(
                scalar(
                    v,
                    ItemKind::Other,
                    "required_engine_version",
                    "required_engine_version",
                )?
                .to_owned(),
            );
            Ok(())
        } else if let Some(v) = item.get("required_plugin_versions") {
            self.plugins(v)
        } else if let Some(name) = item.get("list") {
            self.list(item, scalar(name, ItemKind::List, "", "list")?)
        } else if let Some(name) = item.get("macro") {
            self.macro_item(item, scalar(name, ItemKind::Macro, "", "macro")?)
        } else if let Some(name) = item.get("rule") {
            self.rule(item, scalar(name, ItemKind::Rule, "", "rule")?)
        } else {
            self.notes.push(schema(&item.pos, ItemKind::Other, "", "unknown item kind (expected rule, macro, list, required_engine_version or required_plugin_versions); ignored".into()));
            Ok(())
        }
    }

    fn plugins(&mut self, v: &Node) -> Result<(), Error> {
        let NodeKind::Seq(entries) = &v.kind else {
            return Err(schema(
                &v.pos,
                ItemKind::Other,
                "required_plugin_versions",
                "must be a sequence".into(),
            ));
        };
        for e in entries {
            let name = e.get("name").and_then(Node::as_str);
            let version = e.get("version").and_then(Node::as_str);
            match (name, version) {
                (Some(n), Some(ver)) => self.required_plugins.push((n.into(), ver.into())),
                _ => {
                    return Err(schema(
                        &e.pos,
                        ItemKind::Other,
                        "required_plugin_versions",
                        "each entry needs 'name' and 'version'".into(),
                    ))
                }
            }
        }
        Ok(())
    }

    fn list(&mut self, item: &Node, name: &str) -> Result<(), Error> {
        let items_node = required(item, "items", ItemKind::List, name)?;
        let mut items = Vec::new();
        flatten_items(items_node, name, &mut items)?;
        let how = modifier(item, ItemKind::List, name, &["items"])?;
        let existing = self.lists.iter().position(|l| l.name == name);
        match (how_of(&how, "items"), existing) {
            (Some(How::Append), Some(i)) => {
                self.lists[i].items.extend(items);
                self.lists[i].visibility = self.counter;
            }
            (Some(_), None) => return Err(nothing(item, ItemKind::List, name, &how)),
            (_, existing) => {
                let info = ListInfo {
                    name: name.into(),
                    items,
                    visibility: self.counter,
                    index: self.counter,
                };
                match existing {
                    Some(i) => {
                        self.lists[i] = ListInfo {
                            index: self.lists[i].index,
                            ..info
                        }
                    }
                    None => self.lists.push(info),
                }
            }
        }
        Ok(())
    }

    fn macro_item(&mut self, item: &Node, name: &str) -> Result<(), Error> {
        let cond_node = required(item, "condition", ItemKind::Macro, name)?;
        let cond = text(cond_node, ItemKind::Macro, name, "condition")?;
        let how = modifier(item, ItemKind::Macro, name, &["condition"])?;
        let existing = self.macros.iter().position(|m| m.name == name);
        match (how_of(&how, "condition"), existing) {
            (Some(How::Append), Some(i)) => self.macros[i].cond.push(" ", &cond),
            (Some(_), None) => return Err(nothing(item, ItemKind::Macro, name, &how)),
            (_, Some(i)) => {
                self.macros[i] = MacroInfo {
                    name: name.into(),
                    cond,
                }
            }
            (_, None) => self.macros.push(MacroInfo {
                name: name.into(),
                cond,
            }),
        }
        Ok(())
    }

    fn rule(&mut self, item: &Node, name: &str) -> Result<(), Error> {
        const KEYS: &[&str] = &[
            "condition",
            "output",
            "desc",
            "priority",
            "tags",
            "exceptions",
            "enabled",
            "source",
        ];
        let how = modifier(item, ItemKind::Rule, name, KEYS)?;
        let existing = self.rules.iter().position(|r| r.name == name);
        let has = |k: &str| item.get(k).is_some();
        let is_enable_only =
            how.is_empty() && has("enabled") && !has("condition") && !has("output");
        if !how.is_empty() || is_enable_only {
            let Some(i) = existing else {
                return Err(nothing(item, ItemKind::Rule, name, &how));
            };
            if is_enable_only {
                self.rules[i].enabled = boolean(
                    required(item, "enabled", ItemKind::Rule, name)?,
                    ItemKind::Rule,
                    name,
                    "enabled",
                )?;
                return Ok(());
            }
            for (key, h) in &how {
                let v = required(item, key, ItemKind::Rule, name)?;
                let rule = &mut self.rules[i];
                match (*key, h) {
                    ("condition", How::Append) => {
                        rule.cond.push(" ", &text(v, ItemKind::Rule, name, key)?)
                    }
                    ("condition", How::Replace) => rule.cond = text(v, ItemKind::Rule, name, key)?,
                    ("output", How::Append) => {
                        rule.output.push(" ", &text(v, ItemKind::Rule, name, key)?)
                    }
                    ("output", How::Replace) => rule.output = text(v, ItemKind::Rule, name, key)?,
                    ("desc", How::Append) => {
                        rule.desc.push(' ');
                        rule.desc.push_str(scalar(v, ItemKind::Rule, name, key)?);
                    }
                    ("desc", How::Replace) => {
                        rule.desc = scalar(v, ItemKind::Rule, name, key)?.into()
                    }
                    ("priority", How::Replace) => rule.priority = priority(v, name)?,
                    ("tags", How::Append) => {
                        rule.tags.extend(strings(v, ItemKind::Rule, name, key)?)
                    }
                    ("tags", How::Replace) => rule.tags = strings(v, ItemKind::Rule, name, key)?,
                    ("exceptions", How::Append) => {
                        for ex in exceptions(v, name)? {
                            match rule.exceptions.iter_mut().find(|e| e.name == ex.name) {
                                Some(e) => e.values.extend(ex.values),
                                None => rule.exceptions.push(ex),
                            }
                        }
                    }
                    ("exceptions", How::Replace) => rule.exceptions = exceptions(v, name)?,
                    ("enabled", How::Replace) => {
                        rule.enabled = boolean(v, ItemKind::Rule, name, key)?
                    }
                    ("source", How::Replace) => {
                        rule.source = scalar(v, ItemKind::Rule, name, key)?.into()
                    }
                    (key, h) => {
                        return Err(schema(
                            &v.pos,
                            ItemKind::Rule,
                            name,
                            format!(
                                "key '{key}' cannot be {}",
                                if *h == How::Append {
                                    "appended"
                                } else {
                                    "replaced"
                                }
                            ),
                        ))
                    }
                }
            }
            return Ok(());
        }
        let cond = text(
            required(item, "condition", ItemKind::Rule, name)?,
            ItemKind::Rule,
            name,
            "condition",
        )?;
        let output = text(
            required(item, "output", ItemKind::Rule, name)?,
            ItemKind::Rule,
            name,
            "output",
        )?;
        let desc = scalar(
            required(item, "desc", ItemKind::Rule, name)?,
            ItemKind::Rule,
            name,
            "desc",
        )?
        .to_owned();
        let priority = priority(required(item, "priority", ItemKind::Rule, name)?, name)?;
        let enabled = match item.get("enabled") {
            Some(v) => boolean(v, ItemKind::Rule, name, "enabled")?,
            None => true,
        };
        let tags = match item.get("tags") {
            Some(v) => strings(v, ItemKind::Rule, name, "tags")?,
            None => Vec::new(),
        };
        let source = match item.get("source") {
            Some(v) => scalar(v, ItemKind::Rule, name, "source")?.to_owned(),
            None => "syscall".into(),
        };
        let exceptions = match item.get("exceptions") {
            Some(v) => exceptions(v, name)?,
            None => Vec::new(),
        };
        let skip_if_unknown = match item.get("skip-if-unknown-filter") {
            Some(v) => boolean(v, ItemKind::Rule, name, "skip-if-unknown-filter")?,
            None => false,
        };
        let info = RuleInfo {
            name: name.into(),
            pos: item.pos.clone(),
            desc,
            cond,
            output,
            priority,
            enabled,
            tags,
            source,
            exceptions,
            skip_if_unknown,
        };
        match existing {
            Some(i) => self.rules[i] = info,
            None => self.rules.push(info),
        }
        Ok(())
    }
}

fn schema(pos: &Pos, kind: ItemKind, name: &str, message: String) -> Error {
    Error::Schema {
        pos: pos.clone(),
        item: ItemRef::new(kind, name),
        message,
    }
}

fn nothing(item: &Node, kind: ItemKind, name: &str, how: &[(&'static str, How)]) -> Error {
    let how = if how.is_empty() || item.get("append").is_some() {
        "append"
    } else {
        "override"
    };
    Error::NothingToOverride {
        pos: item.pos.clone(),
        item: ItemRef::new(kind, name),
        how,
    }
}

fn required<'n>(item: &'n Node, key: &str, kind: ItemKind, name: &str) -> Result<&'n Node, Error> {
    item.get(key).ok_or_else(|| {
        schema(
            &item.pos,
            kind,
            name,
            format!("missing required key '{key}'"),
        )
    })
}

fn scalar<'n>(v: &'n Node, kind: ItemKind, name: &str, key: &str) -> Result<&'n str, Error> {
    v.as_str().ok_or_else(|| {
        schema(
            &v.pos,
            kind,
            name,
            format!("'{key}' must be a scalar, found {}", v.kind_name()),
        )
    })
}

fn text(v: &Node, kind: ItemKind, name: &str, key: &str) -> Result<Text, Error> {
    v.as_text().cloned().ok_or_else(|| {
        schema(
            &v.pos,
            kind,
            name,
            format!("'{key}' must be a string, found {}", v.kind_name()),
        )
    })
}

fn boolean(v: &Node, kind: ItemKind, name: &str, key: &str) -> Result<bool, Error> {
    match v.as_str() {
        Some("true" | "True" | "TRUE") => Ok(true),
        Some("false" | "False" | "FALSE") => Ok(false),
        _ => Err(schema(
            &v.pos,
            kind,
            name,
            format!("'{key}' must be true or false"),
        )),
    }
}

fn strings(v: &Node, kind: ItemKind, name: &str, key: &str) -> Result<Vec<String>, Error> {
    match &v.kind {
        NodeKind::Seq(items) => items
            .iter()
            .map(|i| scalar(i, kind, name, key).map(str::to_owned))
            .collect(),
        _ if v.is_null() => Ok(Vec::new()),
        _ => Err(schema(
            &v.pos,
            kind,
            name,
            format!("'{key}' must be a sequence of strings"),
        )),
    }
}

fn priority(v: &Node, name: &str) -> Result<Priority, Error> {
    let s = scalar(v, ItemKind::Rule, name, "priority")?;
    Priority::parse(s).ok_or_else(|| {
        schema(&v.pos, ItemKind::Rule, name, format!("unknown priority '{s}' (expected EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, NOTICE, INFORMATIONAL or DEBUG)"))
    })
}

/// List items: scalars, or sequences of them (flattened).
fn flatten_items(v: &Node, name: &str, out: &mut Vec<(String, Pos)>) -> Result<(), Error> {
    match &v.kind {
        NodeKind::Seq(items) => {
            for i in items {
                match &i.kind {
                    NodeKind::Scalar { text, .. } => out.push((text.value.clone(), i.pos.clone())),
                    NodeKind::Seq(_) => flatten_items(i, name, out)?,
                    NodeKind::Map(_) => {
                        return Err(schema(
                            &i.pos,
                            ItemKind::List,
                            name,
                            "list items must be strings, found a mapping".into(),
                        ))
                    }
                }
            }
            Ok(())
        }
        _ if v.is_null() => Ok(()),
        _ => Err(schema(
            &v.pos,
            ItemKind::List,
            name,
            format!("'items' must be a sequence, found {}", v.kind_name()),
        )),
    }
}

/// Reads `append: true` (legacy) or `override: {key: append|replace}`.
fn modifier(
    item: &Node,
    kind: ItemKind,
    name: &str,
    keys: &[&'static str],
) -> Result<Vec<(&'static str, How)>, Error> {
    let append = match item.get("append") {
        Some(v) => boolean(v, kind, name, "append")?,
        None => false,
    };
    let Some(ov) = item.get("override") else {
        if !append {
            return Ok(Vec::new());
        }
        // Legacy append: for a rule, the condition (and exceptions/output if given).
        let out: Vec<_> = keys
            .iter()
            .filter(|k| item.get(k).is_some())
            .map(|k| (*k, How::Append))
            .collect();
        if out.is_empty() {
            return Err(schema(
                &item.pos,
                kind,
                name,
                "'append' needs something to append".into(),
            ));
        }
        return Ok(out);
    };
    if append {
        return Err(schema(
            &ov.pos,
            kind,
            name,
            "'append' and 'override' cannot be used together".into(),
        ));
    }
    let NodeKind::Map(pairs) = &ov.kind else {
        return Err(schema(
            &ov.pos,
            kind,
            name,
            "'override' must be a mapping of key: append|replace".into(),
        ));
    };
    let mut out = Vec::new();
    for (k, v) in pairs {
        let key = k.as_str().unwrap_or_default();
        let Some(&key) = keys.iter().find(|known| **known == key) else {
            return Err(schema(
                &k.pos,
                kind,
                name,
                format!("key '{key}' cannot be overridden"),
            ));
        };
        let how = match v.as_str() {
            Some("append") => How::Append,
            Some("replace") => How::Replace,
            _ => {
                return Err(schema(
                    &v.pos,
                    kind,
                    name,
                    format!("override of '{key}' must be 'append' or 'replace'"),
                ))
            }
        };
        if item.get(key).is_none() {
            return Err(schema(
                &k.pos,
                kind,
                name,
                format!("'override' names '{key}' but the item has no '{key}'"),
            ));
        }
        out.push((key, how));
    }
    Ok(out)
}

fn how_of(how: &[(&'static str, How)], key: &str) -> Option<How> {
    how.iter().find(|(k, _)| *k == key).map(|(_, h)| *h)
}

fn exceptions(v: &Node, rule: &str) -> Result<Vec<ExceptionInfo>, Error> {
    let err = |pos: &Pos, name: &str, message: &str| Error::Exception {
        pos: pos.clone(),
        item: ItemRef::new(ItemKind::Rule, rule),
        name: name.into(),
        message: message.into(),
    };
    let NodeKind::Seq(items) = &v.kind else {
        if v.is_null() {
            return Ok(Vec::new());
        }
        return Err(err(&v.pos, "", "'exceptions' must be a sequence"));
    };
    let mut out = Vec::new();
    for e in items {
        let Some(name) = e.get("name").and_then(Node::as_str) else {
            return Err(err(&e.pos, "", "an exception needs a 'name'"));
        };
        let fields = match e.get("fields") {
            Some(f) => match &f.kind {
                NodeKind::Scalar { text, .. } => ExFields::One(text.value.clone(), f.pos.clone()),
                NodeKind::Seq(list) => ExFields::Many(
                    list.iter()
                        .map(|i| {
                            i.as_str()
                                .map(|s| (s.to_owned(), i.pos.clone()))
                                .ok_or_else(|| err(&i.pos, name, "'fields' must hold field names"))
                        })
                        .collect::<Result<_, _>>()?,
                ),
                NodeKind::Map(_) => {
                    return Err(err(
                        &f.pos,
                        name,
                        "'fields' must be a field name or a sequence of them",
                    ))
                }
            },
            None => return Err(err(&e.pos, name, "an exception needs 'fields'")),
        };
        let comps = match e.get("comps") {
            None => None,
            Some(c) => Some(match &c.kind {
                NodeKind::Scalar { text, .. } => vec![(text.value.clone(), c.pos.clone())],
                NodeKind::Seq(list) => list
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(|s| (s.to_owned(), i.pos.clone()))
                            .ok_or_else(|| err(&i.pos, name, "'comps' must hold operators"))
                    })
                    .collect::<Result<_, _>>()?,
                NodeKind::Map(_) => {
                    return Err(err(
                        &c.pos,
                        name,
                        "'comps' must be an operator or a sequence of them",
                    ))
                }
            }),
        };
        let values = match e.get("values") {
            None => Vec::new(),
            Some(v) => match &v.kind {
                NodeKind::Seq(list) => list.clone(),
                _ if v.is_null() => Vec::new(),
                _ => return Err(err(&v.pos, name, "'values' must be a sequence")),
            },
        };
        out.push(ExceptionInfo {
            name: name.into(),
            pos: e.pos.clone(),
            fields,
            comps,
            values,
        });
    }
    Ok(out)
}
