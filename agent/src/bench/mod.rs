//! `lanner bench`: what each driver costs a workload, measured side by side in one run.
//!
//! Each test runs bare (`none`) and under `lanner run --driver X` for every driver asked for,
//! alternating (none, X, Y, none, X, Y, ...) so that drift on a shared machine falls on all alike.
//! The agent under test is this same binary, started the way a user starts it, with the real
//! rules; its CPU time is part of what the workload pays. A score is the workload's iterations
//! over the seconds the workload itself ran: getting an agent (or a peer tool) ready and
//! shutting it down is a one-off, reported apart (`start+stop`) rather than spread over the
//! iterations as if each had paid for it.

pub mod chart;
pub mod cpus;
pub mod workloads;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;

/// What to measure.
#[derive(Debug, Clone)]
pub struct Options {
    /// `none` and driver names.
    pub drivers: Vec<String>,
    /// Rules files passed to `lanner run` (embedded rules when empty).
    pub rules: Vec<PathBuf>,
    /// Tests to run.
    pub tests: Vec<String>,
    /// Seconds per run.
    pub seconds: f64,
    /// Alternating rounds.
    pub rounds: usize,
    /// The syscalls the rules make the drivers trace, comma-separated: what the `strace` peer
    /// column is asked to trace, so that it does the same job.
    pub peer_syscalls: String,
    /// The same syscalls as x86_64 numbers: what the `bpftrace` peer column filters on.
    pub peer_numbers: Vec<u64>,
    /// The CPUs every run was confined to (`--cpus`), as given; `None`: all of them.
    pub cpus: Option<String>,
}

/// The name of the strace peer column.
pub const STRACE: &str = "strace";
/// The name of the bpftrace peer column.
pub const BPFTRACE: &str = "bpftrace";

/// Whether `driver` is an off-the-shelf tool measured beside lanner (no agent of ours).
fn is_peer(driver: &str) -> bool {
    driver == STRACE || driver == BPFTRACE
}

/// A bpftrace program that does the eBPF driver's filtering job on the classic raw-syscall
/// tracepoints: the same syscall numbers, an event line for each entry and exit (to /dev/null).
/// The number is read into a variable first: bpftrace 0.17 otherwise emits a context access the
/// verifier of recent kernels refuses.
fn bpftrace_script(numbers: &[u64]) -> String {
    let filter = if numbers.is_empty() {
        "0".to_owned()
    } else {
        numbers
            .iter()
            .map(|nr| format!("$id == {nr}"))
            .collect::<Vec<_>>()
            .join(" || ")
    };
    format!(
        "tracepoint:raw_syscalls:sys_enter {{ $id = args->id; if ({filter}) {{ \
         printf(\"%d %d %d %s\\n\", pid, tid, $id, comm); }} }}\n\
         tracepoint:raw_syscalls:sys_exit {{ $id = args->id; if ({filter}) {{ \
         printf(\"%d %d %d %d\\n\", pid, tid, $id, args->ret); }} }}"
    )
}

/// The eBPF driver in its per-syscall attach mode (`ebpf` alone is the raw mode).
pub const EBPF_PER_SYSCALL: &str = "ebpf-per-syscall";
/// The raw attach mode's floor: the same programs on the same tracepoints, returning at once.
pub const EBPF_FLOOR: &str = "ebpf-floor";
/// The per-syscall attach mode's floor.
pub const EBPF_PER_SYSCALL_FLOOR: &str = "ebpf-per-syscall-floor";

/// The floor column of a driver column, for `--floors`: what its attach mechanism alone costs.
pub fn floor_of(driver: &str) -> Option<&'static str> {
    match driver {
        "ebpf" => Some(EBPF_FLOOR),
        EBPF_PER_SYSCALL => Some(EBPF_PER_SYSCALL_FLOOR),
        _ => None,
    }
}

/// One run.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub test: String,
    pub driver: String,
    pub round: usize,
    pub iterations: u64,
    /// From launching the command to its exit, seconds.
    pub wall_s: f64,
    /// The seconds the workload ran, by its own clock: what `score` divides by.
    pub workload_s: f64,
    /// CPU time of everything started (workload + agent), seconds.
    pub cpu_s: f64,
    pub score: f64,
    /// Events the driver reported lost (`None` for bare runs).
    pub dropped: Option<u64>,
    /// CPU time of the agent itself while the workload ran, seconds (`None` for bare runs).
    pub agent_cpu_s: Option<f64>,
    /// CPU time the agent spent getting ready (rules, programs loaded and verified), seconds.
    pub agent_setup_cpu_s: Option<f64>,
}

fn children_cpu_s() -> f64 {
    // SAFETY: getrusage fills the struct.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The value of `key=` on the agent's log line with message `message` (` started`, ` done`).
fn log_value<T: std::str::FromStr>(stderr: &str, message: &str, key: &str) -> Option<T> {
    stderr
        .lines()
        .filter(|l| l.contains(message))
        .find_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
                .and_then(|v| v.parse().ok())
        })
}

fn one_run(opts: &Options, test: &str, driver: &str, round: usize) -> Result<Sample> {
    let exe = std::env::current_exe().context("own executable")?;
    let seconds = opts.seconds.to_string();
    let workload = ["bench-workload", test, "--seconds", &seconds];
    let mut cmd = match driver {
        BPFTRACE => {
            // The workload is bpftrace's -c command.
            let mut cmd = Command::new("bpftrace");
            cmd.args(["-q", "-o", "/dev/null", "-e"])
                .arg(bpftrace_script(&opts.peer_numbers))
                .arg("-c")
                .arg(format!("{} {}", exe.display(), workload.join(" ")));
            cmd
        }
        STRACE => {
            let mut cmd = Command::new("strace");
            cmd.args(["-f", "-qq", "-o", "/dev/null", "--seccomp-bpf", "-e"])
                .arg(format!("trace={}", opts.peer_syscalls))
                .arg("--")
                .arg(&exe)
                .args(workload);
            cmd
        }
        "none" => {
            let mut cmd = Command::new(&exe);
            cmd.args(workload);
            cmd
        }
        ours => {
            let mut cmd = Command::new(&exe);
            match ours {
                "ebpf" | EBPF_FLOOR => cmd.args(["run", "--driver", "ebpf", "--ebpf-mode", "raw"]),
                EBPF_PER_SYSCALL | EBPF_PER_SYSCALL_FLOOR => {
                    cmd.args(["run", "--driver", "ebpf", "--ebpf-mode", "per-syscall"])
                }
                other => cmd.args(["run", "--driver", other]),
            };
            if ours == EBPF_FLOOR || ours == EBPF_PER_SYSCALL_FLOOR {
                cmd.arg("--ebpf-floor");
            }
            for rules in &opts.rules {
                cmd.arg("--rules").arg(rules);
            }
            cmd.arg("--").arg(&exe).args(workload);
            cmd
        }
    };
    cmd.env("LANNER_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let cpu_before = children_cpu_s();
    let start = Instant::now();
    let out = cmd
        .output()
        .with_context(|| format!("running {test} under {driver}"))?;
    let wall_s = start.elapsed().as_secs_f64();
    let cpu_s = children_cpu_s() - cpu_before;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("{test} under {driver} failed ({}): {stderr}", out.status);
    }
    // The last line that says something (bpftrace adds empty lines of its own at exit):
    // "ITERATIONS SECONDS".
    let (iterations, workload_s) = stdout
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .and_then(|l| {
            let mut fields = l.split_whitespace();
            let iterations: u64 = fields.next()?.parse().ok()?;
            let seconds: f64 = fields.next()?.parse().ok()?;
            (seconds > 0.0).then_some((iterations, seconds))
        })
        .with_context(|| format!("{test} under {driver} printed no count: {stdout}"))?;
    let ours = driver != "none" && !is_peer(driver);
    let dropped = ours.then(|| log_value(&stderr, " done", "dropped").unwrap_or(0));
    let cpu_ms = |message| {
        ours.then(|| log_value::<f64>(&stderr, message, "agent_cpu_ms"))
            .flatten()
            .map(|ms| ms / 1000.0)
    };
    let agent_setup_cpu_s = cpu_ms(" started");
    let agent_cpu_s = cpu_ms(" done").map(|all| all - agent_setup_cpu_s.unwrap_or(0.0));
    Ok(Sample {
        agent_cpu_s,
        agent_setup_cpu_s,
        test: test.to_owned(),
        driver: driver.to_owned(),
        round,
        iterations,
        wall_s,
        workload_s,
        cpu_s,
        score: iterations as f64 / workload_s,
        dropped,
    })
}

/// Waits for every process a run left behind (re-parented to us as the subreaper), so that
/// the next run starts on a quiet machine.
fn reap_leftovers() {
    loop {
        let mut status = 0;
        // SAFETY: waitpid on any child of ours; `status` is ours to write.
        if unsafe { libc::waitpid(-1, &mut status, 0) } < 0 {
            // ECHILD: none left (EINTR: try again).
            if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return;
            }
        }
    }
}

/// What to say when BPF run statistics are on while eBPF programs are measured: the kernel then
/// reads the clock twice around every program run (tens of ns each in a VM), which makes the
/// eBPF columns and the bpftrace peer look slower than they are.
fn bpf_stats_warning(opts: &Options) -> Option<String> {
    let measures_bpf = opts
        .drivers
        .iter()
        .any(|d| d.starts_with("ebpf") || d == BPFTRACE);
    let enabled = std::fs::read_to_string("/proc/sys/kernel/bpf_stats_enabled")
        .is_ok_and(|v| v.trim() != "0");
    (measures_bpf && enabled).then(|| {
        "kernel.bpf_stats_enabled is on: every BPF program run also reads the clock twice, so \
         the eBPF and bpftrace figures are too low (`sysctl kernel.bpf_stats_enabled=0` first)"
            .to_owned()
    })
}

/// Runs everything; progress goes to stderr.
pub fn run(opts: &Options) -> Result<Vec<Sample>> {
    for test in &opts.tests {
        if !workloads::known(test) {
            bail!("unknown test {test}; known: {}", workloads::names());
        }
    }
    if let Some(warning) = bpf_stats_warning(opts) {
        tracing::warn!("{warning}");
    }
    // Orphans of a run come back to us: the eBPF driver's per-syscall mode hands its hundred
    // links to a grandchild that detaches them over some seconds after the agent exits, and a
    // run started meanwhile would be measured with those programs still attached.
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        tracing::warn!(
            "cannot wait for a run's leftovers (PR_SET_CHILD_SUBREAPER: {}); runs may overlap",
            std::io::Error::last_os_error()
        );
    }
    let total = opts.tests.len() * opts.rounds * opts.drivers.len();
    let mut samples = Vec::with_capacity(total);
    let progress = indicatif::ProgressBar::new(total as u64);
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} (eta {eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    for test in &opts.tests {
        for round in 0..opts.rounds {
            for driver in &opts.drivers {
                progress.set_message(format!("{test} under {driver}, round {}", round + 1));
                samples.push(one_run(opts, test, driver, round)?);
                reap_leftovers();
                progress.inc(1);
            }
        }
    }
    progress.finish_and_clear();
    Ok(samples)
}

/// Per test, per driver other than `none`: the median ratio to bare.
pub fn median_ratios(opts: &Options, samples: &[Sample]) -> Vec<(String, Vec<f64>)> {
    opts.tests
        .iter()
        .map(|test| {
            let ratios = opts
                .drivers
                .iter()
                .filter(|d| *d != "none")
                .map(|d| {
                    median(
                        samples
                            .iter()
                            .filter(|s| &s.test == test && &s.driver == d)
                            .filter_map(|s| {
                                samples
                                    .iter()
                                    .find(|b| {
                                        &b.test == test && b.driver == "none" && b.round == s.round
                                    })
                                    .map(|b| s.score / b.score)
                            })
                            .collect(),
                    )
                })
                .collect();
            (test.clone(), ratios)
        })
        .collect()
}

/// Median seconds a run of `driver` took beyond its workload's own time, formatted.
fn overhead_s(samples: &[Sample], driver: &str) -> String {
    let extra: Vec<f64> = samples
        .iter()
        .filter(|s| s.driver == driver)
        .map(|s| (s.wall_s - s.workload_s).max(0.0))
        .collect();
    if extra.is_empty() {
        "-".to_owned()
    } else {
        format!("{:.2} s", median(extra))
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// What a column measured, for the legend under the table (which eBPF attach mode, which
/// peer tool doing what).
fn what_runs(driver: &str) -> &'static str {
    match driver {
        "ebpf" => {
            "lanner run --driver ebpf --ebpf-mode raw: tp_btf sys_enter/sys_exit, every syscall \
             looked up in the plan; sees 32-bit syscalls"
        }
        EBPF_PER_SYSCALL => {
            "lanner run --driver ebpf --ebpf-mode per-syscall: syscalls:sys_enter_<name> for the \
             traced syscalls only; blind to 32-bit syscalls"
        }
        EBPF_FLOOR => {
            "the raw mode's floor: the same programs on the same tracepoints, returning at once \
             (what any agent attached this way pays; no events)"
        }
        EBPF_PER_SYSCALL_FLOOR => {
            "the per-syscall mode's floor: the same tracepoints for the same syscalls, programs \
             returning at once (no events)"
        }
        "ptrace" => "lanner run --driver ptrace: seccomp filter + ptrace stops for traced syscalls",
        STRACE => "strace -f --seccomp-bpf tracing the same syscalls (peer)",
        BPFTRACE => {
            "bpftrace on raw_syscalls:sys_enter/sys_exit filtering the same syscall numbers (peer)"
        }
        _ => "lanner run --driver with this name",
    }
}

/// The table: per test the bare score, each driver's score and ratio (median over rounds, with
/// the spread), then the index (geometric mean of ratios) per driver.
pub fn table(opts: &Options, samples: &[Sample]) -> String {
    let mut out = String::new();
    let drivers: Vec<&String> = opts.drivers.iter().filter(|d| *d != "none").collect();
    let _ = write!(out, "{:<12} {:>14}", "test", "none (/s)");
    for d in &drivers {
        let _ = write!(out, " {:>14} {:>18}", format!("{d} (/s)"), "ratio [spread]");
    }
    out.push('\n');
    let mut logs = vec![0.0; drivers.len()];
    let mut warnings: Vec<String> = bpf_stats_warning(opts).into_iter().collect();
    for test in &opts.tests {
        let scores = |driver: &str| -> Vec<&Sample> {
            samples
                .iter()
                .filter(|s| &s.test == test && s.driver == driver)
                .collect()
        };
        let bare = scores("none");
        let _ = write!(
            out,
            "{:<12} {:>14.1}",
            test,
            median(bare.iter().map(|s| s.score).collect())
        );
        for (i, d) in drivers.iter().enumerate() {
            let runs = scores(d);
            let ratios: Vec<f64> = runs
                .iter()
                .filter_map(|s| {
                    bare.iter()
                        .find(|b| b.round == s.round)
                        .map(|b| s.score / b.score)
                })
                .collect();
            let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let ratio = median(ratios.clone());
            logs[i] += ratio.ln();
            let dropped: u64 = runs.iter().filter_map(|s| s.dropped).sum();
            let _ = write!(
                out,
                " {:>14.1} {:>18}",
                median(runs.iter().map(|s| s.score).collect()),
                format!("{ratio:.3} [{lo:.3}-{hi:.3}]")
            );
            if ratios.len() > 1 && (hi - lo) > 0.1 * ratio {
                warnings.push(format!("{test} under {d}: ratios spread {lo:.2}-{hi:.2}, more than 10%; run more rounds"));
            }
            if dropped > 0 {
                warnings.push(format!("{test} under {d}: {dropped} events dropped"));
            }
        }
        out.push('\n');
    }
    let _ = write!(out, "{:<12} {:>14}", "index", "1.000");
    for log in &logs {
        let _ = write!(
            out,
            " {:>14} {:>18}",
            "",
            format!("{:.3}", (log / opts.tests.len() as f64).exp())
        );
    }
    out.push('\n');
    // The agent's own CPU time while workloads ran, as a share of their time, over all its
    // runs: what it costs besides slowing the workload down.
    let _ = write!(out, "{:<12} {:>14}", "agent cpu", "");
    for d in &drivers {
        let runs: Vec<&Sample> = samples.iter().filter(|s| &s.driver == *d).collect();
        let cpu: f64 = runs.iter().filter_map(|s| s.agent_cpu_s).sum();
        let ran: f64 = runs.iter().map(|s| s.workload_s).sum();
        let share = if runs.iter().any(|s| s.agent_cpu_s.is_some()) && ran > 0.0 {
            format!("{:.1}% of a core", 100.0 * cpu / ran)
        } else {
            "-".to_owned()
        };
        let _ = write!(out, " {:>14} {:>18}", "", share);
    }
    out.push('\n');
    // Getting ready and shutting down, outside the workload's time: median seconds of a run
    // beyond what its workload ran (for bare runs, starting the process).
    let _ = write!(
        out,
        "{:<12} {:>14}",
        "start+stop",
        overhead_s(samples, "none")
    );
    for d in &drivers {
        let _ = write!(out, " {:>14} {:>18}", "", overhead_s(samples, d));
    }
    out.push('\n');
    for d in &drivers {
        let _ = writeln!(out, "{d}: {}", what_runs(d));
    }
    if let Some(cpus) = &opts.cpus {
        let _ = writeln!(
            out,
            "every run (bare included) on CPUs {cpus} only (--cpus)"
        );
    }
    for w in warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}
