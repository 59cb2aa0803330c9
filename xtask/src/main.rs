//! Project automation. One module per subcommand; run as `cargo xtask <command>`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

mod bench;
mod demo;
mod dist;
mod driver_bench;
mod gen_syscalls;
mod install_deps;
mod kernel_test;
mod run_cmd;
mod test;

#[derive(Parser)]
#[command(name = "xtask", about = "lanner project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate (or, with --check, verify) the syscall tables in common/.
    GenSyscalls(gen_syscalls::Args),
    /// Install the machine prerequisites (apt packages, rustup components) that are missing.
    InstallDeps,
    /// Run every check CI runs: prerequisites, generated tables, fmt, clippy, all tests.
    Test,
    /// What CI runs (same as `test`).
    Ci,
    /// Run the criterion suites and `lanner bench --quick`.
    Bench,
    /// Measure what the ptrace driver costs workloads, against bare and strace.
    BenchDriver {
        /// Alternating rounds per workload.
        #[arg(long, default_value = "5")]
        rounds: usize,
    },
    /// Run the embedded default rules against a demo workload under every available driver.
    Demo,
    /// Build the static ptrace-only lanner into dist/, check it is static, run a workload under it.
    Dist(dist::Args),
    /// Run the integration tests on another kernel (Debian 12's 6.1 by default), under qemu.
    KernelTest(kernel_test::Args),
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let root = project_root()?;
    match &cli.command {
        Command::GenSyscalls(args) => gen_syscalls::run(&root, args),
        Command::InstallDeps => install_deps::run_install(&root),
        Command::Test | Command::Ci => test::run_all(&root),
        Command::Demo => demo::run_demo(&root),
        Command::Dist(args) => dist::run_dist(&root, args),
        Command::KernelTest(args) => kernel_test::run_kernel_test(&root, args),
        Command::Bench => bench::run_bench(&root),
        Command::BenchDriver { rounds } => driver_bench::run_driver_bench(&root, *rounds),
    }
}

/// The workspace root: xtask lives one level below it.
fn project_root() -> Result<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(PathBuf::from)
        .context("xtask manifest has no parent folder")
}
