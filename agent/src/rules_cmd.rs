//! `lanner rules check` and `lanner rules syscalls`.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use lanner_rules::{LoadOptions, Ruleset};

/// Loads the files in order.
pub fn load(files: &[PathBuf], strict: bool) -> Result<Ruleset> {
    lanner_rules::load_files(files, LoadOptions::new().strict(strict))
        .with_context(|| format!("loading rules from {}", display_list(files)))
}

fn display_list(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `rules check`: the load summary; the caller exits non-zero when rules were skipped in
/// strict mode (the load fails then) or the files do not load.
pub fn check(files: &[PathBuf], strict: bool) -> Result<String> {
    let ruleset = load(files, strict)?;
    let mut out = String::new();
    let _ = write!(out, "{}: {}", display_list(files), ruleset.summary());
    Ok(out)
}

/// `lo..=hi` as a reader would say it: `0..=2`, `>= 0`, `< 0`, `= 0`.
fn range_text(lo: i64, hi: i64) -> String {
    match (lo, hi) {
        (lo, hi) if lo == hi => format!("= {lo}"),
        (i64::MIN, hi) => format!("<= {hi}"),
        (lo, i64::MAX) => format!(">= {lo}"),
        (lo, hi) => format!("{lo}..={hi}"),
    }
}

/// What the drivers' open filter keeps, in a line.
fn open_filter_text(filter: &lanner_common::OpenFilter) -> String {
    use lanner_common::paths::{ACCESS_ANY, ACCESS_READ};
    use lanner_common::PathPattern;
    let mut kept: Vec<String> = filter
        .rules
        .iter()
        .map(|r| {
            let access = match r.access {
                ACCESS_ANY => "",
                ACCESS_READ => " (read)",
                _ => " (write)",
            };
            match &r.pattern {
                PathPattern::Prefix(p) => format!("{}*{access}", String::from_utf8_lossy(p)),
                PathPattern::Suffix(s) => format!("*{}{access}", String::from_utf8_lossy(s)),
            }
        })
        .collect();
    if filter.keep_writes {
        kept.push("any open that writes or creates (state: file-writes)".to_owned());
    }
    kept.push("relative or unnormalized paths, other ABIs".to_owned());
    let directories = if filter.directories_left_out {
        "; left out whatever their path: reads of directories (O_DIRECTORY; every rule needs a file)"
    } else {
        ""
    };
    format!(
        "opens reported (the drivers leave out the others): {}{directories}",
        kept.join(", ")
    )
}

/// `rules syscalls`: one line per syscall the drivers will trace, with the rules that need it
/// or the state that needs it; then the non-syscall event types the rules use.
pub fn syscalls(files: &[PathBuf]) -> Result<String> {
    let ruleset = crate::run::load_rules(files, false)?;
    let mut out = String::new();
    let interest = lanner::engine::interest(&ruleset);
    let _ = writeln!(
        out,
        "{} syscalls traced ({} that rules match; the others keep the state they read: {}):",
        interest.len(),
        ruleset.syscalls().len(),
        ruleset.state_needs()
    );
    let filters = lanner::engine::result_filters(&ruleset);
    for id in interest.iter() {
        let rules: Vec<&str> = ruleset
            .rules_for(lanner_rules::EventCode::Syscall(id))
            .iter()
            .filter_map(|&i| ruleset.rule(i))
            .map(|r| r.name.as_str())
            .collect();
        let why = if rules.is_empty() {
            "(state)".to_owned()
        } else {
            rules.join(", ")
        };
        // Calls the drivers leave out because no rule could match their result.
        let only = match filters.iter().find(|f| f.id == id) {
            // `dup` can return one of 0-2 only in a process where one is free: the ptrace
            // driver stops it nowhere else (its standard-descriptor guard).
            Some(f) if id.name() == "dup" && f.lo >= 0 && f.hi <= 2 => format!(
                " [only results {}; ptrace stops it only where a standard descriptor may be \
                 free]",
                range_text(f.lo, f.hi)
            ),
            Some(f) => format!(" [only results {}]", range_text(f.lo, f.hi)),
            None => String::new(),
        };
        let _ = writeln!(out, "{:<18} {why}{only}", id.name());
    }
    match lanner::engine::open_filter(&ruleset) {
        Some(filter) => {
            let _ = writeln!(out, "{}", open_filter_text(&filter));
        }
        None => {
            let _ = writeln!(
                out,
                "every open is reported: some rule can match an open whatever its path"
            );
        }
    }
    for (code, rules) in ruleset.why() {
        if !matches!(code, lanner_rules::EventCode::Syscall(_)) {
            let _ = writeln!(
                out,
                "{:<18} {} (from the drivers' lifecycle events)",
                code.name(),
                rules.join(", ")
            );
        }
    }
    Ok(out)
}
