//! `lanner bench` end to end, kept short: two cheap tests, one round, bare and ptrace.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch directory of this test process's own.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lanner-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Runs `lanner bench ARGS --json DIR/samples.json`, which must succeed: its stdout and the
/// samples it wrote.
fn bench(dir: &Path, args: &[&str]) -> (String, Vec<serde_json::Value>) {
    let json = dir.join("samples.json");
    let out = Command::new(env!("CARGO_BIN_EXE_lanner"))
        .arg("bench")
        .args(args)
        .arg("--json")
        .arg(&json)
        .output()
        .expect("lanner bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json file")).expect("JSON");
    (stdout, samples)
}

#[test]
fn bench_measures_bare_and_ptrace_and_writes_samples() {
    if !lanner_driver_ptrace::probe().available_for_test() {
        return;
    }
    let dir = scratch("bench-test");
    let svg = dir.join("chart.svg");
    let (stdout, samples) = bench(
        &dir,
        &[
            "--drivers",
            "none,ptrace",
            "--tests",
            "syscall,spawn",
            "--seconds",
            "0.2",
            "--rounds",
            "1",
            "--svg",
            svg.to_str().expect("utf-8"),
            "--peers",
        ],
    );
    assert!(stdout.contains("index"), "{stdout}");
    assert!(stdout.contains("start+stop"), "{stdout}");
    assert!(
        stdout.contains("ptrace: lanner run --driver ptrace: seccomp filter"),
        "the legend says what each column ran: {stdout}"
    );
    // Each peer that is installed is a column: two samples (one per test) each.
    let mut peers = 0;
    for peer in ["strace", "bpftrace"] {
        let installed = std::path::Path::new("/usr/bin").join(peer).exists();
        if !installed {
            eprintln!("{peer} is not installed: no {peer} column to check");
        }
        let samples_of_peer = samples.iter().filter(|s| s["driver"] == peer).count();
        assert_eq!(
            samples_of_peer,
            if installed { 2 } else { 0 },
            "{peer}: {samples:?}"
        );
        peers += samples_of_peer;
    }
    assert_eq!(samples.len() - peers, 4, "{samples:?}");
    for driver in ["none", "ptrace"] {
        for test in ["syscall", "spawn"] {
            let sample = samples
                .iter()
                .find(|s| s["driver"] == driver && s["test"] == test)
                .unwrap_or_else(|| panic!("no {test} sample for {driver}"));
            assert!(sample["score"].as_f64().expect("score") > 0.0);
            assert!(sample["iterations"].as_u64().expect("iterations") > 0);
            // The score is per second of the workload's own time, which the run's wall time
            // (the agent's start-up and shut-down included) contains.
            let ran = sample["workload_s"].as_f64().expect("workload_s");
            let wall = sample["wall_s"].as_f64().expect("wall_s");
            assert!(ran >= 0.2 && ran <= wall, "{sample}");
        }
    }
    for traced in samples.iter().filter(|s| s["driver"] == "ptrace") {
        assert!(
            traced["agent_setup_cpu_s"].as_f64().is_some(),
            "the agent's set-up CPU is read off its `started` line: {traced}"
        );
    }
    let ptrace_dropped = samples
        .iter()
        .filter(|s| s["driver"] == "ptrace")
        .map(|s| s["dropped"].as_u64().expect("dropped is counted"))
        .sum::<u64>();
    assert_eq!(ptrace_dropped, 0);
    let chart = std::fs::read_to_string(&svg).expect("svg written");
    assert!(chart.starts_with("<svg"), "not an SVG");
    for label in ["syscall", "spawn", "ptrace", "score / bare score"] {
        assert!(chart.contains(label), "chart lacks {label}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn unknown_test_names_are_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_lanner"))
        .args(["bench", "--drivers", "none", "--tests", "nosuch"])
        .output()
        .expect("lanner bench runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown test nosuch"));
}

/// `--floors` adds, for each eBPF column, its attach mode's floor, named in the legend; a floor
/// run's agent reports no syscall, so it judges nothing.
#[cfg(feature = "ebpf")]
#[test]
fn floors_add_a_column_per_ebpf_attach_mode() {
    if !lanner_driver_ebpf::probe().available_for_test() {
        return;
    }
    let dir = scratch("bench-floors");
    let (stdout, samples) = bench(
        &dir,
        &[
            "--drivers",
            "none,ebpf,ebpf-per-syscall",
            "--floors",
            "--tests",
            "getppid",
            "--seconds",
            "0.2",
            "--rounds",
            "1",
        ],
    );
    for legend in [
        "ebpf-floor: the raw mode's floor",
        "ebpf-per-syscall-floor: the per-syscall mode's floor",
    ] {
        assert!(stdout.contains(legend), "{stdout}");
    }
    let drivers: Vec<&str> = samples
        .iter()
        .filter_map(|s| s["driver"].as_str())
        .collect();
    assert_eq!(
        drivers,
        [
            "none",
            "ebpf",
            "ebpf-per-syscall",
            "ebpf-floor",
            "ebpf-per-syscall-floor"
        ]
    );
    for sample in &samples {
        assert!(sample["score"].as_f64().expect("score") > 0.0, "{sample}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
