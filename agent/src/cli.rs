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
    /// One benchmark workload (used by `bench`).
    #[command(hide = true)]
    BenchWorkload {
        /// The workload.
        name: String,
        /// How long to run.
        #[arg(long, default_value = "1")]
        seconds: f64,
        /// Workload-specific state (execl's deadline and count).
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
    /// Draw the per-test ratios as a grouped bar chart (SVG) to this file.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
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

/// How alerts are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Falco's JSON, one alert per line.
    Json,
    /// Falco's text form.
    Text,
}

/// `lanner run ...`
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The instrumentation driver.
    #[arg(long, value_enum, default_value = "auto")]
    pub driver: DriverChoice,
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
