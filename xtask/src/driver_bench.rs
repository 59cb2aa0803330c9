//! `cargo xtask bench-driver`: what the ptrace driver costs a workload, measured side by side
//! in one run. Each workload runs bare, under `lanner run --driver ptrace` (embedded rules), and
//! under `strace -f --seccomp-bpf` tracing the same syscalls when strace is installed; runs
//! alternate (bare, lanner, strace, bare, ...) so that drift on a shared machine falls on all
//! alike. Reported: the median of each, and the ratio of rates to bare (1.00 = free).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::run_cmd::{on_path, run, section};

/// (name, command): perl is in every Debian base system.
const WORKLOADS: &[(&str, &[&str])] = &[
    (
        "untraced syscall: getppid x2M",
        &["perl", "-e", "getppid() for 1..2000000"],
    ),
    (
        "traced syscall: open+close x20k",
        &[
            "perl",
            "-e",
            r#"for (1..20000) { open(F, "</etc/hostname"); close(F) }"#,
        ],
    ),
    (
        "fork+exit+wait x2000",
        &[
            "perl",
            "-e",
            "for (1..2000) { my $p = fork(); if (!$p) { exit 0 } waitpid($p, 0) }",
        ],
    ),
    (
        "fork+exec /bin/true x300",
        &[
            "sh",
            "-c",
            "i=0; while [ $i -lt 300 ]; do /bin/true; i=$((i+1)); done",
        ],
    ),
];

/// The syscalls strace is asked to trace: what the embedded rules make lanner trace.
fn rule_syscalls(lanner: &str) -> Result<String> {
    let out = Command::new(lanner)
        .args(["rules", "syscalls", "agent/rules/default.yaml"])
        .output()
        .context("lanner rules syscalls")?;
    // One line per syscall after the header, then lines that are not syscalls: the opens
    // reported, and the lifecycle events the rules use.
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("opens reported") && !l.starts_with("every open"))
        .filter(|l| !l.contains("(from the drivers' lifecycle events)"))
        .filter_map(|l| l.split_whitespace().next())
        // `?`: a syscall this strace does not know (fchmodat2 in older ones) is left out, not
        // an error, as `lanner bench --peers` does.
        .map(|name| format!("?{name}"))
        .collect();
    Ok(names.join(","))
}

fn time(cmd: &[String]) -> Result<f64> {
    let start = Instant::now();
    // A clean environment: under cargo, LD_LIBRARY_PATH lists the build's folders, and every
    // exec would then probe them all (failed opens the driver traces), which no real workload
    // does.
    let status = Command::new(&cmd[0])
        .args(&cmd[1..])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("running {}", cmd.join(" ")))?;
    if !status.success() {
        bail!("{} failed: {status}", cmd.join(" "));
    }
    Ok(start.elapsed().as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs the comparison.
pub fn run_driver_bench(root: &Path, rounds: usize) -> Result<()> {
    run(root, "cargo", &["build", "--release", "-p", "lanner"])?;
    let lanner = root.join("target/release/lanner");
    let lanner = lanner.to_str().context("non-UTF-8 path")?.to_owned();
    let mut modes: Vec<(&str, Vec<String>)> = vec![
        ("bare", vec![]),
        (
            "lanner ptrace",
            vec![
                lanner.clone(),
                "run".into(),
                "--driver".into(),
                "ptrace".into(),
                "--".into(),
            ],
        ),
    ];
    if on_path("strace") {
        let syscalls = rule_syscalls(&lanner)?;
        modes.push((
            "strace -f",
            vec![
                "strace".into(),
                "-f".into(),
                "-qq".into(),
                "-o".into(),
                "/dev/null".into(),
                "--seccomp-bpf".into(),
                "-e".into(),
                format!("trace={syscalls}"),
            ],
        ));
    }
    section(&format!(
        "driver cost, {rounds} alternating rounds, ratio = bare time / time"
    ));
    let mut header = format!("{:<34}{:>10}", "workload", "bare");
    for (name, _) in &modes[1..] {
        header.push_str(&format!("{name:>16}"));
    }
    println!("{header}");
    let mut log_sums = vec![0.0; modes.len()];
    for (name, workload) in WORKLOADS {
        let mut times = vec![Vec::new(); modes.len()];
        for _ in 0..rounds {
            for (i, (_, prefix)) in modes.iter().enumerate() {
                let mut cmd = prefix.clone();
                cmd.extend(workload.iter().map(|s| (*s).to_owned()));
                times[i].push(time(&cmd)?);
            }
        }
        let medians: Vec<f64> = times.into_iter().map(median).collect();
        let mut line = format!("{name:<34}{:>9.3}s", medians[0]);
        for (i, m) in medians.iter().enumerate().skip(1) {
            let ratio = medians[0] / m;
            log_sums[i] += ratio.ln();
            line.push_str(&format!("{ratio:>16.2}"));
        }
        println!("{line}");
    }
    let mut index = format!("{:<34}{:>10}", "index (geometric mean)", "1.00");
    for sum in log_sums.iter().skip(1) {
        index.push_str(&format!("{:>16.2}", (sum / WORKLOADS.len() as f64).exp()));
    }
    println!("{index}");
    Ok(())
}
