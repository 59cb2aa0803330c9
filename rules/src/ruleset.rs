//! Compiled rules, the per-event-type index, and the load summary.

use std::collections::HashMap;
use std::fmt;

use lanner_common::syscalls::ID_SPACE;
use lanner_common::SyscallSet;

use crate::ast::{Check, Expr, FieldExpr, Op, Rhs, Val};
use crate::compile::{self, idents, Env, ListValue};
use crate::error::{Error, ItemKind, ItemRef, Pos, Warning};
use crate::eval::{FieldSource, Memo, Node};
use crate::events::{EventCode, EventSet, NonSyscall};
use crate::fields::StateNeeds;
use crate::interest;
use crate::loader::{ExFields, ExceptionInfo, Loader, RuleInfo};
use crate::output::{self, OutputTemplate};
use crate::parser;
use crate::yaml::{NodeKind, Text};

/// A rule's priority, as Falco spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// Emergency (most severe).
    Emergency,
    /// Alert.
    Alert,
    /// Critical.
    Critical,
    /// Error.
    Error,
    /// Warning.
    Warning,
    /// Notice.
    Notice,
    /// Informational (`INFO` on input too).
    Informational,
    /// Debug (least severe).
    Debug,
}

impl Priority {
    /// Parses a priority, case-insensitively (`INFO` is `Informational`).
    pub fn parse(s: &str) -> Option<Priority> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "emergency" => Priority::Emergency,
            "alert" => Priority::Alert,
            "critical" => Priority::Critical,
            "error" => Priority::Error,
            "warning" => Priority::Warning,
            "notice" => Priority::Notice,
            "informational" | "info" => Priority::Informational,
            "debug" => Priority::Debug,
            _ => return None,
        })
    }

    /// The name Falco prints in alerts (`Warning`, `Informational`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    /// Name.
    pub name: String,
    /// Description.
    pub desc: String,
    /// Priority.
    pub priority: Priority,
    /// Tags.
    pub tags: Vec<String>,
    /// Event source (always `syscall` for compiled rules).
    pub source: String,
    /// Whether the rule is enabled (disabled rules are compiled, but not indexed).
    pub enabled: bool,
    /// Output template.
    pub output: OutputTemplate,
    /// Where the rule was (last) defined.
    pub pos: Pos,
    /// The event types the condition can match.
    pub interest: EventSet,
    /// The state its condition and output read.
    pub needs: StateNeeds,
    /// Fields used by its exceptions (Falco's `exception_fields`).
    pub exception_fields: Vec<String>,
    condition: Node,
}

impl CompiledRule {
    /// Whether the rule's condition holds for an event of type `ev` whose fields `src` serves.
    #[inline]
    pub fn matches<S: FieldSource + ?Sized>(&self, ev: EventCode, src: &S) -> bool {
        self.matches_with(ev, src, &mut Memo::default())
    }

    /// [`matches`](Self::matches), keeping the values of macros in `memo` for the other rules
    /// of the same event. Call [`Memo::next_event`] before the first rule of each event.
    #[inline]
    pub fn matches_with<S: FieldSource + ?Sized>(
        &self,
        ev: EventCode,
        src: &S,
        memo: &mut Memo,
    ) -> bool {
        self.condition.eval(ev, src, memo)
    }
}

/// A rule's position in [`Ruleset::rules`].
pub type RuleIdx = u32;

/// What a load did: rules compiled, rules skipped and why, other warnings.
#[derive(Debug, Default)]
pub struct LoadSummary {
    /// Lists loaded.
    pub lists: usize,
    /// Macros loaded (all are parsed; their fields are checked where rules use them).
    pub macros: usize,
    /// Rules compiled (enabled or not).
    pub compiled: usize,
    /// Of those, disabled.
    pub disabled: usize,
    /// Rules skipped, with the reason.
    pub skipped: Vec<Warning>,
    /// Other warnings (unknown item kinds, ...).
    pub warnings: Vec<Error>,
}

impl fmt::Display for LoadSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} lists, {} macros, {} rules compiled ({} disabled), {} skipped",
            self.lists,
            self.macros,
            self.compiled,
            self.disabled,
            self.skipped.len()
        )?;
        for w in &self.skipped {
            writeln!(f, "  {w}")?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        Ok(())
    }
}

/// Compiled rules, indexed by event type.
#[derive(Debug)]
pub struct Ruleset {
    rules: Vec<CompiledRule>,
    /// Enabled rules per event type: syscalls by raw id, then non-syscall events.
    index: Vec<Box<[RuleIdx]>>,
    interest: EventSet,
    needs: StateNeeds,
    /// Memo slots: one per macro.
    shared: usize,
    summary: LoadSummary,
    required_engine_version: Option<String>,
    required_plugins: Vec<(String, String)>,
}

fn slot(ev: EventCode) -> usize {
    match ev {
        EventCode::Syscall(id) => usize::from(id.raw()),
        EventCode::Other(o) => ID_SPACE + NonSyscall::ALL.iter().position(|x| *x == o).unwrap_or(0),
    }
}

impl Ruleset {
    /// Every compiled rule, in load order.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// One rule.
    pub fn rule(&self, idx: RuleIdx) -> Option<&CompiledRule> {
        self.rules.get(idx as usize)
    }

    /// Finds a rule by name.
    pub fn rule_by_name(&self, name: &str) -> Option<&CompiledRule> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// The event types any enabled rule can match.
    pub fn interest(&self) -> &EventSet {
        &self.interest
    }

    /// The syscalls any enabled rule can match: what the drivers must trace for the rules
    /// (the state tracker adds what it needs for [`Ruleset::state_needs`]).
    pub fn syscalls(&self) -> SyscallSet {
        self.interest.syscalls
    }

    /// The results of syscall `id` that some enabled rule can match, as a range, when the
    /// rules confine it (`dup` under `evt.rawres in (0, 1, 2)`: `Some((0, 2))`); `None` when
    /// any result may matter, or no rule matches `id`. A driver may leave out calls whose
    /// result is outside: no rule could match them. (The state tracker may still need them:
    /// the caller decides.)
    pub fn result_range(&self, id: lanner_common::SyscallId) -> Option<(i64, i64)> {
        let ev = EventCode::Syscall(id);
        let need = self
            .rules_for(ev)
            .iter()
            .filter_map(|&idx| self.rule(idx))
            .fold(crate::results::ResultNeed::Never, |need, rule| {
                need.or(crate::results::result_need(&rule.condition, ev))
            });
        match need {
            crate::results::ResultNeed::Range(lo, hi) => Some((lo, hi)),
            _ => None,
        }
    }

    /// The ways the enabled rules can match an open-family call `id` (see
    /// [`OpenFilter`](lanner_common::OpenFilter)): `None` when some rule can match it whatever
    /// its path and access mode; `Some(list)` when every match of every rule, on a call through
    /// the x86_64 ABI whose path is absolute and normalized (`!needs_resolving(path)`),
    /// satisfies one of the list's rules (the path matches the pattern, and the open's access
    /// mode is in `access`). `Some(vec![])` when no rule can match such a call. The list is
    /// sorted, without rules another covers.
    pub fn open_paths(&self, id: lanner_common::SyscallId) -> Option<Vec<lanner_common::PathRule>> {
        let ev = EventCode::Syscall(id);
        let need = self
            .rules_for(ev)
            .iter()
            .filter_map(|&idx| self.rule(idx))
            .fold(crate::paths::PathNeed::never(), |need, rule| {
                need.or(crate::paths::path_need(&rule.condition, ev))
            });
        match need {
            crate::paths::PathNeed::Alts(rules) => Some(crate::paths::simplify(rules)),
            crate::paths::PathNeed::Any => None,
        }
    }

    /// Whether no enabled rule can match an open of `id` whose descriptor is a directory: every
    /// rule that can match `id` needs a file ([`crate::paths::needs_non_directory`]); true when
    /// none can match `id` at all.
    pub fn opens_need_non_directories(&self, id: lanner_common::SyscallId) -> bool {
        let ev = EventCode::Syscall(id);
        self.rules_for(ev)
            .iter()
            .filter_map(|&idx| self.rule(idx))
            .all(|rule| crate::paths::needs_non_directory(&rule.condition, ev))
    }

    /// The state the enabled rules read (conditions and outputs).
    pub fn state_needs(&self) -> StateNeeds {
        self.needs
    }

    /// The enabled rules that can match an event of type `ev` (the ones that brought it into
    /// the interest set).
    #[inline]
    pub fn rules_for(&self, ev: EventCode) -> &[RuleIdx] {
        self.index.get(slot(ev)).map_or(&[], |v| v)
    }

    /// For each event type in the interest set, the names of the rules that need it.
    pub fn why(&self) -> Vec<(EventCode, Vec<&str>)> {
        self.interest
            .iter()
            .map(|ev| {
                let names = self
                    .rules_for(ev)
                    .iter()
                    .filter_map(|&i| self.rule(i))
                    .map(|r| r.name.as_str())
                    .collect();
                (ev, names)
            })
            .collect()
    }

    /// The enabled rules whose condition holds for this event.
    pub fn matching<'a, S: FieldSource + ?Sized>(
        &'a self,
        ev: EventCode,
        src: &'a S,
    ) -> impl Iterator<Item = &'a CompiledRule> + 'a {
        let mut memo = self.memo();
        self.rules_for(ev)
            .iter()
            .filter_map(move |&i| self.rules.get(i as usize))
            .filter(move |r| r.matches_with(ev, src, &mut memo))
    }

    /// A memo with a slot for each macro the rules expand, for [`CompiledRule::matches_with`].
    pub fn memo(&self) -> Memo {
        Memo::new(self.shared)
    }

    /// What the load did.
    pub fn summary(&self) -> &LoadSummary {
        &self.summary
    }

    /// The last `required_engine_version` seen.
    pub fn required_engine_version(&self) -> Option<&str> {
        self.required_engine_version.as_deref()
    }

    /// `required_plugin_versions` entries (name, version).
    pub fn required_plugins(&self) -> &[(String, String)] {
        &self.required_plugins
    }
}

impl Loader {
    /// Compiles everything loaded so far into a [`Ruleset`].
    ///
    /// Fatal (the load fails): condition syntax errors, undefined macros, macro cycles, lists
    /// used as macros, wrong operators or values for a field's type, bad exceptions. A rule
    /// that uses a field, event type or construct the engine cannot serve is skipped with a
    /// warning, or fails the load if [`LoadOptions::strict`](crate::LoadOptions) is set.
    pub fn compile(self) -> Result<Ruleset, Error> {
        let lists = expand_lists(&self);
        let mut macros: HashMap<String, Expr> = HashMap::new();
        for m in &self.macros {
            let item = ItemRef::new(ItemKind::Macro, &m.name);
            macros.insert(m.name.clone(), parser::parse(&m.cond, &item)?);
        }
        check_macros(&self, &macros, &lists)?;
        let mut names: Vec<&String> = macros.keys().collect();
        names.sort();
        let macro_slots: HashMap<String, u32> = names
            .into_iter()
            .zip(0u32..)
            .map(|(name, slot)| (name.clone(), slot))
            .collect();
        let env = Env {
            macros: &macros,
            macro_slots: &macro_slots,
            lists: &lists,
        };
        let mut summary = LoadSummary {
            lists: self.lists.len(),
            macros: self.macros.len(),
            warnings: self.notes,
            ..LoadSummary::default()
        };
        let mut rules = Vec::new();
        for r in &self.rules {
            match compile_rule(&env, r) {
                Ok(rule) => rules.push(rule),
                Err(e) if e.is_unsupported() && (!self.opts.strict || r.skip_if_unknown) => {
                    summary.skipped.push(Warning {
                        rule: r.name.clone(),
                        error: e,
                    })
                }
                Err(e) => return Err(e),
            }
        }
        summary.compiled = rules.len();
        summary.disabled = rules.iter().filter(|r| !r.enabled).count();
        let mut index: Vec<Vec<RuleIdx>> = vec![Vec::new(); ID_SPACE + NonSyscall::ALL.len()];
        let mut interest = EventSet::empty();
        let mut needs = StateNeeds::NONE;
        for (i, r) in rules.iter().enumerate().filter(|(_, r)| r.enabled) {
            interest = interest.union(&r.interest);
            needs |= r.needs;
            let Ok(i) = RuleIdx::try_from(i) else { break };
            for ev in r.interest.iter() {
                if let Some(v) = index.get_mut(slot(ev)) {
                    v.push(i);
                }
            }
        }
        Ok(Ruleset {
            rules,
            index: index.into_iter().map(Vec::into_boxed_slice).collect(),
            interest,
            needs,
            shared: macro_slots.len(),
            summary,
            required_engine_version: self.required_engine_version,
            required_plugins: self.required_plugins,
        })
    }
}

/// Lists with named lists in their items spliced in (only lists defined before, as in Falco).
fn expand_lists(loader: &Loader) -> HashMap<String, Vec<ListValue>> {
    let mut out: HashMap<String, Vec<ListValue>> = HashMap::new();
    let mut order: Vec<_> = loader.lists.iter().collect();
    order.sort_by_key(|l| l.index);
    // Expand in definition order so that each list's visible references are already expanded;
    // a reference to a list that is redefined or appended later sees its final items.
    let by_name: HashMap<&str, &crate::loader::ListInfo> =
        loader.lists.iter().map(|l| (l.name.as_str(), l)).collect();
    fn expand(
        name: &str,
        by_name: &HashMap<&str, &crate::loader::ListInfo>,
        depth: usize,
        out: &mut Vec<ListValue>,
    ) {
        let Some(list) = by_name.get(name) else {
            return;
        };
        for (item, pos) in &list.items {
            let inner = by_name
                .get(item.as_str())
                .filter(|l| l.index < list.visibility && l.name != list.name);
            match inner {
                Some(l) if depth < 16 => expand(&l.name, by_name, depth + 1, out),
                _ => out.push(ListValue::from_item(item, pos.clone())),
            }
        }
    }
    for l in order {
        let mut values = Vec::new();
        expand(&l.name, &by_name, 0, &mut values);
        out.insert(l.name.clone(), values);
    }
    out
}

/// Every macro's references must be macros, and macros must not form cycles.
fn check_macros(
    loader: &Loader,
    macros: &HashMap<String, Expr>,
    lists: &HashMap<String, Vec<ListValue>>,
) -> Result<(), Error> {
    // 0 = unvisited, 1 = on the path, 2 = done.
    let mut state: HashMap<&str, u8> = HashMap::new();
    for m in &loader.macros {
        let mut path: Vec<&str> = Vec::new();
        visit(&m.name, macros, lists, &mut state, &mut path)?;
    }
    return Ok(());

    fn visit<'m>(
        name: &'m str,
        macros: &'m HashMap<String, Expr>,
        lists: &HashMap<String, Vec<ListValue>>,
        state: &mut HashMap<&'m str, u8>,
        path: &mut Vec<&'m str>,
    ) -> Result<(), Error> {
        if state.get(name) == Some(&2) {
            return Ok(());
        }
        let Some(body) = macros.get(name) else {
            return Ok(());
        };
        if path.len() > compile::MAX_EXPANDED_DEPTH {
            let pos = compile::first_pos(body);
            let item = ItemRef::new(ItemKind::Macro, name);
            let message = format!("macros nested deeper than {}", compile::MAX_EXPANDED_DEPTH);
            return Err(Error::Syntax { pos, item, message });
        }
        state.insert(name, 1);
        path.push(name);
        let mut refs = Vec::new();
        idents(body, &mut refs);
        for (r, at) in refs {
            let item = ItemRef::new(ItemKind::Macro, name);
            match (macros.get_key_value(r), state.get(r)) {
                (Some(_), Some(1)) => {
                    let start = path.iter().position(|p| *p == r).unwrap_or(0);
                    let mut cycle: Vec<String> =
                        path[start..].iter().map(|s| s.to_string()).collect();
                    cycle.push(r.to_owned());
                    return Err(Error::MacroCycle {
                        pos: at.clone(),
                        item,
                        cycle,
                    });
                }
                (Some((key, _)), _) => visit(key, macros, lists, state, path)?,
                (None, _) if lists.contains_key(r) => {
                    return Err(Error::ListAsMacro {
                        pos: at.clone(),
                        item,
                        name: r.into(),
                    })
                }
                (None, _) => {
                    return Err(Error::UndefinedMacro {
                        pos: at.clone(),
                        item,
                        name: r.into(),
                    })
                }
            }
        }
        path.pop();
        state.insert(name, 2);
        Ok(())
    }
}

fn compile_rule(env: &Env<'_>, r: &RuleInfo) -> Result<CompiledRule, Error> {
    let item = ItemRef::new(ItemKind::Rule, &r.name);
    if r.source != "syscall" {
        return Err(Error::UnsupportedSource {
            pos: r.pos.clone(),
            item,
            source_name: r.source.clone(),
        });
    }
    let mut expr = parser::parse(&r.cond, &item)?;
    let mut exception_fields = Vec::new();
    let mut nots = Vec::new();
    for ex in &r.exceptions {
        if let Some(e) = exception_expr(ex, &item, &mut exception_fields)? {
            nots.push(Expr::Not(Box::new(e)));
        }
    }
    if !nots.is_empty() {
        let mut all = vec![expr];
        all.extend(nots);
        expr = Expr::And(all);
    }
    let compiled = compile::compile(env, &item, &expr)?;
    let mut needs = compiled.needs;
    let output = output::compile(&r.output, &item, &mut needs)?;
    let interest = interest::event_types(&compiled.node);
    Ok(CompiledRule {
        name: r.name.clone(),
        desc: r.desc.clone(),
        priority: r.priority,
        tags: r.tags.clone(),
        source: r.source.clone(),
        enabled: r.enabled,
        output,
        pos: r.pos.clone(),
        interest,
        needs,
        exception_fields,
        condition: compiled.node,
    })
}

/// Builds an exception's condition as Falco does: with `fields: [f1, f2]`, `comps: [c1, c2]`
/// and `values: [[v1, v2], ...]`, `(f1 c1 v1 and f2 c2 v2) or ...`; with a single field,
/// `f comp (v1, v2, ...)` (comp defaults to `in`). The rule becomes `cond and not (...)`.
fn exception_expr(
    ex: &ExceptionInfo,
    item: &ItemRef,
    used: &mut Vec<String>,
) -> Result<Option<Expr>, Error> {
    let err = |pos: &Pos, message: String| Error::Exception {
        pos: pos.clone(),
        item: item.clone(),
        name: ex.name.clone(),
        message,
    };
    let field = |name: &str, pos: &Pos, used: &mut Vec<String>| -> Result<FieldExpr, Error> {
        if !used.iter().any(|u| u == name) {
            used.push(name.to_owned());
        }
        parser::parse_field(&Text::on_line(name, pos), item)
    };
    let op = |s: &str, pos: &Pos| {
        parser::parse_op(s).ok_or_else(|| err(pos, format!("unknown comparison operator '{s}'")))
    };
    let scalar_val = |n: &crate::yaml::Node| -> Result<Val, Error> {
        match n.as_str() {
            Some(s) => {
                let lv = ListValue::from_item(s, n.pos.clone());
                Ok(Val {
                    text: lv.text,
                    quoted: lv.quoted,
                    at: n.pos.clone(),
                })
            }
            None => Err(err(&n.pos, "expected a single value".into())),
        }
    };
    match &ex.fields {
        ExFields::One(name, pos) => {
            let lhs = field(name, pos, used)?;
            let (comp, comp_pos) = match ex.comps.as_deref() {
                Some([(c, p)]) => (op(c, p)?, p.clone()),
                Some(_) => {
                    return Err(err(
                        &ex.pos,
                        "with a single field, 'comps' must be a single operator".into(),
                    ))
                }
                None => (Op::In, ex.pos.clone()),
            };
            if ex.values.is_empty() {
                return Ok(None);
            }
            let values = ex
                .values
                .iter()
                .map(scalar_val)
                .collect::<Result<Vec<_>, _>>()?;
            if comp.takes_list() {
                return Ok(Some(Expr::Check(Box::new(Check {
                    lhs,
                    op: comp,
                    op_at: comp_pos,
                    rhs: Rhs::List(values),
                }))));
            }
            let any = values
                .into_iter()
                .map(|v| {
                    Expr::Check(Box::new(Check {
                        lhs: lhs.clone(),
                        op: comp,
                        op_at: comp_pos.clone(),
                        rhs: Rhs::Value(v),
                    }))
                })
                .collect();
            Ok(Some(Expr::Or(any)))
        }
        ExFields::Many(fields) => {
            let comps: Vec<(Op, Pos)> = match &ex.comps {
                Some(c) => c
                    .iter()
                    .map(|(s, p)| op(s, p).map(|o| (o, p.clone())))
                    .collect::<Result<_, _>>()?,
                None => fields.iter().map(|(_, p)| (Op::Eq, p.clone())).collect(),
            };
            if comps.len() != fields.len() {
                return Err(err(
                    &ex.pos,
                    format!("{} fields but {} comps", fields.len(), comps.len()),
                ));
            }
            let lhs: Vec<FieldExpr> = fields
                .iter()
                .map(|(n, p)| field(n, p, used))
                .collect::<Result<_, _>>()?;
            let mut alts = Vec::new();
            for tuple in &ex.values {
                let NodeKind::Seq(vals) = &tuple.kind else {
                    return Err(err(
                        &tuple.pos,
                        "each entry of 'values' must be a sequence with one value per field".into(),
                    ));
                };
                if vals.len() != fields.len() {
                    return Err(err(
                        &tuple.pos,
                        format!(
                            "fields and values lists must have equal length ({} fields, {} values)",
                            fields.len(),
                            vals.len()
                        ),
                    ));
                }
                let mut conj = Vec::new();
                for ((f, (comp, comp_pos)), v) in lhs.iter().zip(&comps).zip(vals) {
                    let rhs = match (&v.kind, comp.takes_list()) {
                        (NodeKind::Seq(items), true) => {
                            Rhs::List(items.iter().map(scalar_val).collect::<Result<_, _>>()?)
                        }
                        (_, true) => Rhs::List(vec![scalar_val(v)?]),
                        (_, false) => Rhs::Value(scalar_val(v)?),
                    };
                    conj.push(Expr::Check(Box::new(Check {
                        lhs: f.clone(),
                        op: *comp,
                        op_at: comp_pos.clone(),
                        rhs,
                    })));
                }
                alts.push(Expr::And(conj));
            }
            if alts.is_empty() {
                return Ok(None);
            }
            Ok(Some(Expr::Or(alts)))
        }
    }
}
