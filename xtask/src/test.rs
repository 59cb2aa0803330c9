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
    // Where the machine has what a driver needs, the driver must run: its tests fail rather
    // than skip (a BPF program the verifier refuses would otherwise look like a machine
    // without BPF).
    let required = required_drivers();
    println!(
        "drivers the tests require here: {}",
        if required.is_empty() {
            "none"
        } else {
            &required
        }
    );
    std::env::set_var(lanner_test_require_env(), &required);
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
    // The host's kernel is one kernel: the integration tests run again on the kernels users
    // run (see TESTED_KERNELS), whose verifiers differ.
    for &(kernel, smoke) in crate::kernel_test::TESTED_KERNELS {
        let args = crate::kernel_test::Args {
            kernel: kernel.to_string(),
            smoke,
            ..Default::default()
        };
        crate::kernel_test::run_kernel_test(root, &args)?;
    }
    Ok(())
}

/// `LANNER_TEST_REQUIRE` (lanner_common's `TEST_REQUIRE_ENV`; xtask does not depend on it).
fn lanner_test_require_env() -> &'static str {
    "LANNER_TEST_REQUIRE"
}

/// The drivers this machine has what it takes for: ptrace as root (CAP_SYS_PTRACE and the
/// right to install a seccomp filter), eBPF as root on a kernel with BTF.
fn required_drivers() -> String {
    // The effective uid, the second field of /proc/self/status's `Uid:` line.
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false);
    let mut drivers = Vec::new();
    if root {
        drivers.push("ptrace");
        if Path::new("/sys/kernel/btf/vmlinux").exists() {
            drivers.push("ebpf");
        }
    }
    drivers.join(",")
}
