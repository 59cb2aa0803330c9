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

/// `rules syscalls`: one line per syscall (or other event type) with the rules that need it.
pub fn syscalls(files: &[PathBuf]) -> Result<String> {
    let ruleset = load(files, false)?;
    let mut out = String::new();
    let why = ruleset.why();
    let _ = writeln!(out, "{} event types:", why.len());
    for (event, rules) in why {
        let _ = writeln!(out, "{:<20} {}", event.name(), rules.join(", "));
    }
    Ok(out)
}
