//! Rules reload, on the reload signal: the rules files are loaded again and swapped into the
//! engine between two events, so that no event is lost and the process and fd state is kept. A
//! set that does not load keeps the old one, and the error (file:line:col) is logged.
//!
//! The driver's interest set is fixed when the workload starts (the ptrace driver's seccomp
//! filter cannot be widened), so new rules that need syscalls outside it are loaded but will
//! not see those events: that is logged as a warning naming the syscalls and the rules, never
//! glossed over. The open filter is not fixed: the driver is handed the new rules' (or told to
//! keep every open, when a reloaded rule on close needs the opens that name its files).
//! Calls reported by the driver before the reload went through the old filter.

use std::path::PathBuf;

use lanner::engine::{self, Engine};
use lanner_common::SyscallSet;
use lanner_rules::EventCode;

/// What a reload needs to know about the run.
pub struct Reloader {
    /// The `--rules` files (the embedded set when empty).
    pub files: Vec<PathBuf>,
    /// `--strict`.
    pub strict: bool,
    /// The syscalls the driver traces.
    pub traced: SyscallSet,
    /// The syscalls the driver reports at entry only (no return value); `close` among them is
    /// left out altogether (lazy closes, see `run`).
    pub entry_only: SyscallSet,
    /// The calls the driver leaves out by their result.
    pub result_filters: Vec<lanner_common::ResultFilter>,
    /// The opens the driver leaves out by their path and access mode.
    pub open_filter: Option<lanner_common::OpenFilter>,
}

impl Reloader {
    /// Loads the rules again into `engine`, or keeps the old ones and says why; gives `driver`
    /// the new rules' open filter.
    pub fn reload(&mut self, engine: &mut Engine, driver: &mut dyn lanner_common::Driver) {
        let before = engine.ruleset().rules().len();
        let ruleset = match crate::run::load_rules(&self.files, self.strict) {
            Ok(ruleset) => ruleset,
            Err(err) => {
                tracing::error!(
                    "rules reload failed; the {before} rules loaded before stay in force: {err:#}"
                );
                return;
            }
        };
        let unseen: Vec<String> = engine::interest(&ruleset)
            .iter()
            .filter(|&id| !self.traced.contains(id))
            .map(|id| {
                let rules: Vec<&str> = ruleset
                    .rules_for(EventCode::Syscall(id))
                    .iter()
                    .filter_map(|&i| ruleset.rule(i))
                    .map(|r| r.name.as_str())
                    .collect();
                if rules.is_empty() {
                    format!("{} (state)", id.name())
                } else {
                    format!("{} ({})", id.name(), rules.join(", "))
                }
            })
            .collect();
        if !unseen.is_empty() {
            tracing::warn!(
                "the reloaded rules need syscalls this run does not trace (the driver's set is \
                 fixed at start; restart the agent to trace them): {}",
                unseen.join("; ")
            );
        }
        let (closes, at_entry): (Vec<&str>, Vec<&str>) = self
            .entry_only
            .iter()
            .filter(|&id| ruleset.syscalls().contains(id))
            .map(|id| id.name())
            .partition(|&name| name == "close");
        if !at_entry.is_empty() {
            tracing::warn!(
                "the reloaded rules match {}, which this run reports at entry, without a return \
                 value",
                at_entry.join(", ")
            );
        }
        if !closes.is_empty() {
            tracing::warn!(
                "the reloaded rules match close, which this run leaves out (the driver marks \
                 later uses of closed descriptors instead); restart the agent to see closes"
            );
        }
        // A filter set at start that hides results the reloaded rules can match.
        let narrowed: Vec<String> = self
            .result_filters
            .iter()
            .filter(|f| {
                ruleset.syscalls().contains(f.id)
                    && ruleset
                        .result_range(f.id)
                        .is_none_or(|(lo, hi)| lo < f.lo || hi > f.hi)
            })
            .map(|f| format!("{} (results {}..={} only)", f.id.name(), f.lo, f.hi))
            .collect();
        if !narrowed.is_empty() {
            tracing::warn!(
                "the reloaded rules can match results this run leaves out (the driver's filters \
                 are fixed at start; restart the agent to see them): {}",
                narrowed.join("; ")
            );
        }
        if self.open_filter.is_some() {
            // `None` (every open) when a reloaded rule matches close, among others.
            let next = engine::open_filter(&ruleset);
            match driver.update_open_filter(next.clone()) {
                Ok(()) => self.open_filter = next,
                Err(err) => tracing::warn!(
                    "the reloaded rules may match opens this run leaves out by their path \
                     (restart the agent to see them): {err}"
                ),
            }
        }
        let after = ruleset.rules().len();
        let unkept = engine.replace_ruleset(ruleset);
        if !unkept.is_empty() {
            tracing::warn!(
                "the reloaded rules read {unkept} state, which this run does not keep (the \
                 rules at start did not need it); fields from it may be empty until a restart"
            );
        }
        tracing::info!("rules reloaded: {after} rules (before: {before})");
    }
}
