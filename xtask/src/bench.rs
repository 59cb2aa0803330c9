//! `cargo xtask bench`: the criterion suites for the hot paths (event decode and JSON now;
//! state update and rule evaluation join as they land), then `lanner bench --quick` for the
//! whole-agent ratios when the binary supports it.

use std::path::Path;

use anyhow::Result;

use crate::run_cmd::{run, section};

/// Runs the benchmarks.
pub fn run_bench(root: &Path) -> Result<()> {
    section("criterion: hot paths");
    run(root, "cargo", &["bench", "--workspace", "--benches"])?;
    section("lanner bench --quick");
    run(root, "cargo", &["build", "--release", "-p", "lanner"])?;
    let lanner = root.join("target/release/lanner");
    let supported = std::process::Command::new(&lanner)
        .args(["bench", "--help"])
        .output()
        .map(|out| out.status.success())
        .unwrap_or(false);
    if supported {
        let lanner = lanner.to_string_lossy().into_owned();
        run(root, &lanner, &["bench", "--quick"])?;
    } else {
        eprintln!("(this build of lanner has no `bench` command yet)");
    }
    Ok(())
}
