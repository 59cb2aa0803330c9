//! What the agent's integration tests share: the binary under test, and the checks that skip
//! a test (saying why) where this machine cannot run its driver.

#![allow(dead_code)]

use std::process::Output;

/// The `lanner` binary built for these tests.
pub const LANNER: &str = env!("CARGO_BIN_EXE_lanner");

/// Whether the ptrace driver can run here; prints why not when it cannot.
pub fn ptrace_available() -> bool {
    let report = lanner_driver_ptrace::probe();
    if !report.available {
        eprintln!("SKIPPED: the ptrace driver cannot run here: {report}");
    }
    report.available
}

/// A finished command's stderr, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
