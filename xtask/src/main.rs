//! Project automation. One module per subcommand; run as `cargo xtask <command>`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

mod gen_syscalls;

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
