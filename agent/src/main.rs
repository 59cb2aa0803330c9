//! `lanner`: the binary. A thin shell: parse the command line, set up logging and signal
//! forwarding, run the subcommand, exit with the right code.

mod cli;
mod drivers;
mod fargate_cmd;
mod reload;
mod replay_cmd;
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
    // The periodic stats line (`--stats-interval`) shows by default: asking for it is asking
    // to see it.
    let filter = tracing_subscriber::EnvFilter::try_from_env("LANNER_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("warn,{}=info", lanner::metrics::STATS_TARGET))
    });
    // Logs go to stderr: the workload's stdout is its own.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

fn bench_cmd(args: cli::BenchArgs) -> anyhow::Result<i32> {
    use anyhow::Context;
    let drivers = if args.drivers.is_empty() {
        std::iter::once("none".to_owned())
            .chain(
                drivers::probe_all()
                    .into_iter()
                    .filter(|r| r.available)
                    .flat_map(|r| match r.driver {
                        // Both attach modes: what a 32-bit-capable kernel costs, and what
                        // per-syscall attachment saves.
                        "ebpf" => vec![
                            "ebpf".to_owned(),
                            lanner::bench::EBPF_PER_SYSCALL.to_owned(),
                        ],
                        other => vec![other.to_owned()],
                    }),
            )
            .collect()
    } else {
        args.drivers
    };
    let tests = if !args.tests.is_empty() {
        args.tests
    } else if args.quick {
        ["syscall", "pipe", "spawn", "execl", "openstorm"]
            .map(str::to_owned)
            .to_vec()
    } else {
        lanner::bench::workloads::ALL
            .iter()
            .map(|(n, _)| (*n).to_owned())
            .collect()
    };
    let rules_title = if args.rules.is_empty() {
        "embedded rules".to_owned()
    } else {
        args.rules
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ruleset = run::load_rules(&args.rules, false)?;
    let interest = lanner::engine::interest(&ruleset);
    let peer_numbers = interest.abi_numbers(lanner_common::Abi::X86_64);
    let peer_syscalls = interest
        .iter()
        .map(|id| format!("?{}", id.name()))
        .collect::<Vec<_>>()
        .join(",");
    let mut drivers = drivers;
    if args.floors {
        let floors: Vec<String> = drivers
            .iter()
            .filter_map(|d| lanner::bench::floor_of(d))
            .filter(|floor| !drivers.iter().any(|d| d == floor))
            .map(str::to_owned)
            .collect();
        drivers.extend(floors);
    }
    if args.peers {
        let installed = |tool: &str| {
            std::env::var_os("PATH").is_some_and(|path| {
                std::env::split_paths(&path).any(|dir| dir.join(tool).is_file())
            })
        };
        for tool in [lanner::bench::STRACE, lanner::bench::BPFTRACE] {
            if installed(tool) {
                drivers.push(tool.to_owned());
            } else {
                tracing::warn!("--peers: {tool} is not installed; no {tool} column");
            }
        }
    }
    if let Some(list) = &args.cpus {
        lanner::bench::cpus::restrict_to(&lanner::bench::cpus::parse(list)?)?;
    }
    let opts = lanner::bench::Options {
        cpus: args.cpus,
        peer_syscalls,
        peer_numbers,
        drivers,
        rules: args.rules,
        tests,
        seconds: args.seconds.unwrap_or(if args.quick { 1.0 } else { 3.0 }),
        rounds: args.rounds.unwrap_or(if args.quick { 1 } else { 3 }),
    };
    let samples = lanner::bench::run(&opts)?;
    print!("{}", lanner::bench::table(&opts, &samples));
    if let Some(path) = args.svg {
        let drivers: Vec<String> = opts
            .drivers
            .iter()
            .filter(|d| *d != "none")
            .cloned()
            .collect();
        let title = format!(
            "lanner bench: {} ({rules_title})",
            lanner::bench::chart::machine()
        );
        lanner::bench::chart::draw(
            &path,
            &title,
            &drivers,
            &lanner::bench::median_ratios(&opts, &samples),
        )?;
    }
    if let Some(path) = args.json {
        let json = serde_json::to_string_pretty(&samples).context("serializing samples")?;
        std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(0)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A benchmark workload is what is measured, not a supervisor: no signal-forwarding thread
    // and no logging set-up (each generation of the execl test would pay for them, bare and
    // traced alike, which made exec look cheaper to trace than it is).
    if let Commands::BenchWorkload {
        name,
        seconds,
        extra,
    } = &cli.command
    {
        return exit_code(
            lanner::bench::workloads::run(name, *seconds, extra).map(|done| {
                println!("{} {:.6}", done.units, done.seconds);
                0
            }),
        );
    }
    // Before any thread exists, so that every thread inherits the blocked mask.
    let forwarder = match signals::install() {
        Ok(forwarder) => forwarder,
        Err(err) => {
            eprintln!("lanner: setting up signal forwarding: {err}");
            return ExitCode::from(AGENT_FAILURE);
        }
    };
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
        Commands::Replay(args) => replay_cmd::replay(&args),
        Commands::Bench(args) => bench_cmd(args),
        Commands::Fargate(cli::FargateCommand::Patch(args)) => {
            fargate_cmd::patch(&args).map(|()| 0)
        }
        Commands::BenchWorkload { .. } => Ok(0), // handled above
        Commands::Rules(RulesCommand::Syscalls { files }) => {
            rules_cmd::syscalls(&files).map(|report| {
                print!("{report}");
                0
            })
        }
    };
    exit_code(result)
}

/// The process's exit code for a command's outcome (its error reported on stderr).
fn exit_code(result: anyhow::Result<i32>) -> ExitCode {
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
