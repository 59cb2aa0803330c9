//! `lanner`: the binary. A thin shell: parse the command line, set up logging and signal
//! forwarding, run the subcommand, exit with the right code.

mod cli;
mod drivers;
mod rules_cmd;
mod run;
mod signals;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Commands, RulesCommand};

/// Exit code for the agent's own failures (as `env`, `nohup` and container runtimes use it),
/// distinct from anything the workload returns in normal operation.
const AGENT_FAILURE: u8 = 125;

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LANNER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Logs go to stderr: the workload's stdout is its own.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

fn main() -> ExitCode {
    // Before any thread exists, so that every thread inherits the blocked mask.
    let forwarder = match signals::install() {
        Ok(forwarder) => forwarder,
        Err(err) => {
            eprintln!("lanner: setting up signal forwarding: {err}");
            return ExitCode::from(AGENT_FAILURE);
        }
    };
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Commands::Run(args) => run::run(args, &forwarder),
        Commands::Drivers => {
            print!("{}", drivers::print_report());
            Ok(0)
        }
        Commands::Rules(RulesCommand::Check { files, strict }) => rules_cmd::check(&files, strict)
            .map(|report| {
                print!("{report}");
                0
            }),
        Commands::Rules(RulesCommand::Syscalls { files }) => {
            rules_cmd::syscalls(&files).map(|report| {
                print!("{report}");
                0
            })
        }
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX)),
        Err(err) => {
            eprintln!("lanner: {err:#}");
            let code = err
                .downcast_ref::<run::SpawnFailed>()
                .map_or(AGENT_FAILURE, |failed| failed.code);
            ExitCode::from(code)
        }
    }
}
