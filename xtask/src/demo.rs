//! `cargo xtask demo`: the main job on embedded defaults. Builds lanner and runs a small
//! workload that does something the default rules flag, under every driver this machine can
//! run.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::run_cmd::{run, section};

/// What the demo workload does: ordinary work, then a read of a sensitive file.
pub const WORKLOAD: &str =
    "cat /etc/hostname; ls /tmp > /dev/null; cat /etc/shadow > /dev/null; echo done";

/// Builds and runs the demo.
pub fn run_demo(root: &Path) -> Result<()> {
    crate::install_deps::run_install(root)?;
    section("build");
    run(root, "cargo", &["build", "--release", "-p", "lanner"])?;
    let lanner = root.join("target/release/lanner");
    let lanner = lanner.to_str().context("non-UTF-8 target path")?;
    section("lanner drivers");
    let out = Command::new(lanner)
        .arg("drivers")
        .output()
        .context("running lanner drivers")?;
    let report = String::from_utf8_lossy(&out.stdout);
    eprint!("{report}");
    let available: Vec<String> = report
        .lines()
        .filter_map(|line| line.strip_suffix(": available"))
        .map(str::to_owned)
        .collect();
    for driver in &available {
        section(&format!(
            "lanner run --driver {driver} -- sh -c '{WORKLOAD}'"
        ));
        // The workload's status is the demo's business only if lanner itself failed.
        let status = Command::new(lanner)
            .args([
                "run", "--driver", driver, "--format", "text", "--", "sh", "-c",
            ])
            .arg(WORKLOAD)
            .env("LANNER_LOG", "info")
            .status()
            .context("running lanner")?;
        eprintln!("(workload {status})");
    }
    if available.is_empty() {
        eprintln!("no driver can run on this machine; see `lanner drivers` above");
    }
    Ok(())
}
