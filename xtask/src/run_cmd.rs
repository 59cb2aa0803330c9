//! Running commands with their output shown, failing with the command line in the error.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Runs `program args...` in `dir`, inheriting stdio; fails if it exits non-zero.
pub fn run(dir: &Path, program: &str, args: &[&str]) -> Result<()> {
    eprintln!("+ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .status()
        .with_context(|| format!("starting {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Whether `program` is on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// A section header, so that CI logs are easy to scan.
pub fn section(title: &str) {
    eprintln!("\n==> {title}");
}
