//! `cargo xtask test`: every check CI runs, in order, each under its own header.

use std::path::Path;

use anyhow::Result;

use crate::run_cmd::{on_path, run, section};

/// Runs prerequisites, generated-code check, format, lints and all tests.
pub fn run_all(root: &Path) -> Result<()> {
    crate::install_deps::run_install(root)?;
    section("generated syscall tables are current");
    run(root, "cargo", &["xtask", "gen-syscalls", "--check"])?;
    section("format");
    run(root, "cargo", &["fmt", "--all", "--", "--check"])?;
    section("lints");
    run(
        root,
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // The static ptrace-only binary (`cargo xtask dist`) is built without the eBPF driver:
    // checked here so that code and tests gated on it keep compiling.
    section("lints, ptrace-only build");
    run(
        root,
        "cargo",
        &[
            "clippy",
            "-p",
            "lanner",
            "--no-default-features",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    section("tests");
    if on_path("cargo-nextest") {
        run(
            root,
            "cargo",
            &["nextest", "run", "--workspace", "--no-fail-fast"],
        )?;
        section("doc tests");
        run(root, "cargo", &["test", "--workspace", "--doc"])?;
    } else {
        run(root, "cargo", &["test", "--workspace", "--no-fail-fast"])?;
    }
    Ok(())
}
