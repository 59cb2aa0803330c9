//! The command line. Its spellings are a contract: scripts depend on them.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// lanner: syscall-level runtime security with Falco rules, over ptrace or eBPF.
#[derive(Debug, Parser)]
#[command(name = "lanner", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Commands,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Run a command (or watch the whole system) under a driver, raising alerts from rules.
    Run(RunArgs),
    /// Tell which drivers this machine can run, and why not for the others.
    Drivers,
    /// Evaluate rules over events recorded with `lanner run --events-out FILE` (no kernel).
    Replay(ReplayArgs),
    /// Work with rules files.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Measure what each driver costs a set of workloads, side by side, as ratios to bare.
    Bench(BenchArgs),
    /// Package lanner for AWS ECS on Fargate.
    #[command(subcommand)]
    Fargate(FargateCommand),
    /// One benchmark workload (used by `bench`).
    #[command(hide = true)]
    BenchWorkload {
        /// The workload.
        name: String,
        /// How long to run.
        #[arg(long, default_value = "1")]
        seconds: f64,
        /// Workload-specific state (execl's start and count).
        extra: Vec<String>,
    },
}

/// `lanner bench ...`
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Under a minute: one round, short runs, the cheaper tests.
    #[arg(long)]
    pub quick: bool,
    /// `none` plus drivers, comma-separated (default: none and every driver that can run here).
    #[arg(long, value_delimiter = ',')]
    pub drivers: Vec<String>,
    /// Rules files for the agent under test (default: the embedded rules).
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Tests to run, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub tests: Vec<String>,
    /// Seconds per run.
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Alternating rounds.
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Write every sample as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Add `strace -f --seccomp-bpf` tracing the same syscalls as a column, when installed.
    #[arg(long)]
    pub peers: bool,
    /// Add each eBPF attach mode's floor as a column: its programs attached to the same
    /// tracepoints but returning at once, what the mechanism alone costs on this machine.
    #[arg(long)]
    pub floors: bool,
    /// Draw the per-test ratios as a grouped bar chart (SVG) to this file.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Run everything (bare runs too) on these CPUs only, as `taskset -c` takes them: `0`
    /// measures what a one-vCPU task would see.
    #[arg(long, value_name = "LIST")]
    pub cpus: Option<String>,
}

/// `lanner fargate ...`
#[derive(Debug, Subcommand)]
pub enum FargateCommand {
    /// Rewrite an ECS task definition so its containers run under `lanner run --driver ptrace`.
    Patch(FargatePatchArgs),
}

/// `lanner fargate patch ...`
#[derive(Debug, clap::Args)]
pub struct FargatePatchArgs {
    /// The task definition (JSON, bare or as `aws ecs describe-task-definition` prints it);
    /// `-` for standard input.
    pub task_definition: PathBuf,
    /// Write the result here instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Where the lanner binary is inside the containers.
    #[arg(long, value_name = "PATH", default_value = lanner::fargate::DEFAULT_LANNER_PATH)]
    pub lanner_path: String,
    /// Add a sidecar container with this image that carries lanner to the others (volumesFrom).
    #[arg(long, value_name = "IMAGE")]
    pub sidecar_image: Option<String>,
    /// The containers to wrap, comma-separated (default: all).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub containers: Vec<String>,
}

/// `lanner rules ...`
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Load rules files and report what cannot be served, by name and line.
    Check {
        /// Rules files, loaded in order.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Fail when a rule cannot be served instead of skipping it.
        #[arg(long)]
        strict: bool,
    },
    /// Print the syscalls these rules make the drivers trace, and why each one is there.
    Syscalls {
        /// Rules files, loaded in order.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Which driver `run` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriverChoice {
    /// eBPF where the kernel allows it, ptrace otherwise.
    Auto,
    /// seccomp + ptrace (no kernel access needed; SYS_PTRACE only).
    Ptrace,
    /// eBPF (kernel access: CAP_BPF and CAP_PERFMON or root).
    Ebpf,
}

/// How the eBPF driver attaches its syscall programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EbpfMode {
    /// raw where the kernel runs 32-bit syscalls; where it cannot, fentry where the kernel
    /// accepts trampolines, else per-syscall.
    Auto,
    /// BTF raw tracepoints: sees every ABI; every syscall pays a lookup.
    Raw,
    /// One tracepoint per traced syscall: untraced syscalls pay nothing; blind to 32-bit calls.
    PerSyscall,
    /// Trampolines on the traced syscalls' functions: untraced syscalls run nothing; blind to
    /// 32-bit calls; refused by locked-down kernels.
    Fentry,
}

/// How alerts are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Falco's JSON, one alert per line.
    Json,
    /// Falco's text form.
    Text,
}

/// The signal that asks the agent to reload its rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReloadSignal {
    /// SIGHUP (Falco's).
    Hup,
    /// SIGUSR1.
    Usr1,
    /// SIGUSR2.
    Usr2,
    /// No reload; every signal is forwarded to the workload.
    None,
}

impl ReloadSignal {
    /// The signal number (0 for none).
    pub fn number(self) -> i32 {
        match self {
            ReloadSignal::Hup => libc::SIGHUP,
            ReloadSignal::Usr1 => libc::SIGUSR1,
            ReloadSignal::Usr2 => libc::SIGUSR2,
            ReloadSignal::None => 0,
        }
    }
}

/// `lanner run ...`
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The instrumentation driver.
    #[arg(long, value_enum, default_value = "auto")]
    pub driver: DriverChoice,
    /// How the eBPF driver attaches (see `lanner drivers`).
    #[arg(long, value_enum, default_value = "auto")]
    pub ebpf_mode: EbpfMode,
    /// The eBPF driver's ring buffer, in MiB (a power of two): what a burst may fill before
    /// events are lost (and counted).
    #[arg(long, value_name = "MIB", default_value_t = 16, value_parser = ring_mib)]
    pub ebpf_ring_mb: usize,
    /// For `lanner bench` only: attach the eBPF programs, but have the syscall programs return
    /// at once, to measure what the attach mechanism alone costs (no syscall is reported).
    #[arg(long, hide = true)]
    pub ebpf_floor: bool,
    /// Rules files (Falco's format), loaded in order; the embedded default ruleset when none.
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Fail when a rule cannot be served instead of skipping it with a warning.
    #[arg(long)]
    pub strict: bool,
    /// Write every event as a JSON line to this file.
    #[arg(long, value_name = "FILE")]
    pub events_out: Option<PathBuf>,
    /// Write alerts to this file instead of stderr.
    #[arg(long, value_name = "FILE")]
    pub alerts_out: Option<PathBuf>,
    /// Alert format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    /// Also POST each alert as Falco's JSON to this URL (Falcosidekick's, for one), from a
    /// queue, retrying while the receiver is down.
    #[arg(long, value_name = "URL")]
    pub alerts_http: Option<String>,
    /// Also write alerts (in --format) to the stdin of `sh -c CMD`, started once and again
    /// whenever it has ended.
    #[arg(long, value_name = "CMD")]
    pub alerts_program: Option<String>,
    /// Log a stats line (events/s, drops, alerts, agent CPU and memory) every SECS seconds;
    /// 0: only at exit.
    #[arg(long, value_name = "SECS", default_value = "0")]
    pub stats_interval: u64,
    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9376).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<String>,
    /// The signal that reloads the rules files instead of being forwarded to the workload
    /// [default: hup with --system, none otherwise].
    #[arg(long, value_enum, value_name = "SIGNAL")]
    pub reload_signal: Option<ReloadSignal>,
    /// Watch the whole system instead of a command (eBPF driver), until SIGINT or SIGTERM.
    #[arg(long, conflicts_with = "command")]
    pub system: bool,
    /// Trace exactly these syscalls (comma-separated names) instead of what the rules need.
    #[arg(long, value_name = "NAMES")]
    pub syscalls: Option<String>,
    /// The command to run, after `--`.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// `lanner replay ...`
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The recording: JSON lines as `lanner run --events-out` writes them.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Rules files (Falco's format), loaded in order; the embedded default ruleset when none.
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Fail when a rule cannot be served instead of skipping it with a warning.
    #[arg(long)]
    pub strict: bool,
    /// Write alerts to this file instead of stderr.
    #[arg(long, value_name = "FILE")]
    pub alerts_out: Option<PathBuf>,
    /// Alert format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
}

/// `--ebpf-ring-mb`: a power of two from 1 to 1024.
fn ring_mib(text: &str) -> Result<usize, String> {
    let mib: usize = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of MiB"))?;
    if !(1..=1024).contains(&mib) || !mib.is_power_of_two() {
        return Err(format!(
            "{mib} MiB: the ring buffer must be a power of two from 1 to 1024 MiB"
        ));
    }
    Ok(mib)
}
