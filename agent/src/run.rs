//! `lanner run`: start the driver, pump events through the outputs, exit with the workload's
//! status.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use lanner_common::driver::{Command, Next, Target};
use lanner_common::time::WallClock;
use lanner_common::{DriverError, Event, EventKind, SyscallSet};

use crate::cli::{DriverChoice, Format, ReloadSignal, RunArgs};
use crate::drivers;
use crate::reload::Reloader;
use crate::signals::Forwarder;
use lanner::engine::{self, Alert, Engine, EngineConfig, WorkloadContainer};
use lanner::metrics::{self, Metrics, StatsLogger};
use lanner::outputs::{HttpOut, Outputs, ProgramOut, Shape};

/// How often the loop wakes without events, to notice a stop or reload request.
const POLL: Duration = Duration::from_millis(200);
/// How long the queued outputs get at exit to deliver what they hold.
const FLUSH_GRACE: Duration = Duration::from_secs(3);

/// The workload could not be started; the shell's exit codes say why (127: not found,
/// 126: cannot execute).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SpawnFailed {
    /// The exit code to use.
    pub code: u8,
    /// What happened.
    pub message: String,
}

/// Every event, as JSON lines.
struct EventsOut {
    out: BufWriter<File>,
    clock: WallClock,
}

impl EventsOut {
    fn create(path: &Path) -> Result<Self> {
        let file = File::create(path)
            .with_context(|| format!("creating the events file {}", path.display()))?;
        Ok(EventsOut {
            out: BufWriter::with_capacity(1 << 16, file),
            clock: WallClock::new(),
        })
    }

    fn write(&mut self, event: &Event) -> Result<()> {
        let json = lanner_common::json::EventJson {
            event,
            clock: &self.clock,
        };
        serde_json::to_writer(&mut self.out, &json).context("writing an event")?;
        self.out.write_all(b"\n").context("writing an event")
    }

    fn finish(&mut self) -> Result<()> {
        self.out.flush().context("flushing the events file")
    }
}

/// Alerts, to stderr or a file, as Falco JSON or text.
pub(crate) struct AlertsOut {
    out: Box<dyn Write>,
    format: Format,
    hostname: String,
}

impl AlertsOut {
    pub(crate) fn create(path: Option<&Path>, format: Format, hostname: String) -> Result<Self> {
        let out: Box<dyn Write> = match path {
            Some(path) => {
                Box::new(BufWriter::new(File::create(path).with_context(|| {
                    format!("creating the alerts file {}", path.display())
                })?))
            }
            None => Box::new(std::io::stderr()),
        };
        Ok(AlertsOut {
            out,
            format,
            hostname,
        })
    }

    pub(crate) fn write(&mut self, alert: &Alert, clock: &WallClock) -> Result<()> {
        let line = match self.format {
            Format::Json => alert.json(clock, &self.hostname),
            Format::Text => alert.text(clock),
        };
        writeln!(self.out, "{line}").context("writing an alert")
    }

    pub(crate) fn finish(&mut self) -> Result<()> {
        self.out.flush().context("flushing alerts")
    }
}

/// The rules: the files given, or the embedded default.
pub fn load_rules(files: &[std::path::PathBuf], strict: bool) -> Result<lanner_rules::Ruleset> {
    let ruleset = if files.is_empty() {
        engine::default_ruleset().context("loading the embedded default rules")?
    } else {
        crate::rules_cmd::load(files, strict)?
    };
    let summary = ruleset.summary();
    for skipped in &summary.skipped {
        // The embedded rules' gaps are known and documented; the user's are news to them.
        if files.is_empty() {
            tracing::debug!("{skipped}");
        } else {
            tracing::warn!("{skipped}");
        }
    }
    for warning in &summary.warnings {
        tracing::warn!("{warning}");
    }
    Ok(ruleset)
}

fn interest(args: &RunArgs, ruleset: &lanner_rules::Ruleset) -> Result<SyscallSet> {
    match &args.syscalls {
        Some(names) => {
            SyscallSet::parse_names(names).with_context(|| format!("--syscalls {names}"))
        }
        None => Ok(engine::interest(ruleset)),
    }
}

fn target(args: &RunArgs) -> Result<Target> {
    if args.system {
        return Ok(Target::System);
    }
    if args.command.is_empty() {
        bail!("no command to run: give one after `--` (lanner run -- CMD...), or use --system");
    }
    Ok(Target::Command(Command::new(args.command.clone())))
}

fn spawn_failure(err: DriverError) -> anyhow::Error {
    match err {
        DriverError::Spawn { program, source } => {
            let code = match source.kind() {
                std::io::ErrorKind::NotFound => 127,
                _ => 126,
            };
            SpawnFailed {
                code,
                message: format!("{}: {source}", program.to_string_lossy()),
            }
            .into()
        }
        other => anyhow::Error::new(other).context("starting the workload"),
    }
}

/// The container the wrapped workload runs in, when the platform says (ECS). Not for
/// `--system`: there the agent sees every container's processes, and the metadata endpoint
/// describes only the agent's own.
/// Read on a thread of its own while the rules load: the workload's start waits for both.
fn workload_container(args: &RunArgs) -> std::thread::JoinHandle<Option<WorkloadContainer>> {
    let system = args.system;
    std::thread::spawn(move || {
        if system {
            return None;
        }
        lanner::ecs::from_env()
    })
}

/// CPU time the agent itself used so far (all its threads), in milliseconds: what `lanner bench`
/// reports as the agent's share.
fn own_cpu_ms() -> u64 {
    // SAFETY: getrusage fills the struct.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let ms = |t: libc::timeval| t.tv_sec as u64 * 1000 + t.tv_usec as u64 / 1000;
    ms(usage.ru_utime) + ms(usage.ru_stime)
}

/// The queued outputs the flags ask for, watched by `metrics`.
fn queued_outputs(args: &RunArgs, metrics: &Metrics) -> Result<Outputs> {
    let mut outputs = Outputs::new();
    if let Some(url) = &args.alerts_http {
        outputs.add("http", Shape::Json, HttpOut::new(url)?)?;
    }
    if let Some(command) = &args.alerts_program {
        let shape = match args.format {
            Format::Json => Shape::Json,
            Format::Text => Shape::Text,
        };
        outputs.add("program", shape, ProgramOut::new(command))?;
    }
    for counters in outputs.counters() {
        metrics.watch_output(counters);
    }
    Ok(outputs)
}

/// Closes the queued outputs within the grace period and reports what each could not deliver.
fn close_outputs(outputs: Outputs) -> u64 {
    let mut undelivered = 0;
    for (name, report) in outputs.close(FLUSH_GRACE) {
        undelivered += report.undelivered;
        if report.undelivered > 0 {
            tracing::warn!(
                output = name,
                delivered = report.delivered,
                "{} alert(s) could not be delivered",
                report.undelivered
            );
        } else {
            tracing::info!(
                output = name,
                delivered = report.delivered,
                "alerts delivered"
            );
        }
    }
    undelivered
}

/// Runs `lanner run`; returns the exit code (the workload's status, as a shell reports it).
pub fn run(args: RunArgs, signals: &Forwarder) -> Result<i32> {
    let launched = std::time::Instant::now();
    let target = target(&args)?;
    let workload = workload_container(&args);
    let ruleset = load_rules(&args.rules, args.strict)?;
    let interest = interest(&args, &ruleset)?;
    let config = EngineConfig {
        // A panic in the metadata reader costs the context, not the run.
        workload: workload.join().unwrap_or(None),
        ..EngineConfig::default()
    };
    let mut engine = Engine::with_config(ruleset, config);
    let mut alerts_out =
        AlertsOut::create(args.alerts_out.as_deref(), args.format, engine.hostname())?;
    let mut alerts = Vec::new();
    let mut events_out = args
        .events_out
        .as_deref()
        .map(EventsOut::create)
        .transpose()?;
    let hostname = engine.hostname();
    let metrics = Metrics::new();
    let outputs = queued_outputs(&args, &metrics)?;
    if let Some(addr) = &args.metrics_addr {
        let bound = metrics::serve(addr, Arc::clone(&metrics))?;
        tracing::info!("metrics at http://{bound}/metrics");
    }
    let stats_logger = match args.stats_interval {
        0 => None,
        secs => Some(StatsLogger::spawn(
            Arc::clone(&metrics),
            Duration::from_secs(secs),
        )?),
    };
    let reload_signal = args.reload_signal.unwrap_or(if args.system {
        ReloadSignal::Hup
    } else {
        ReloadSignal::None
    });
    signals.set_reload_signal(reload_signal.number());
    // `close` is traced for the fd table only, unless a rule matches it: the table drops the fd
    // whatever close returns, so its result is not waited for (one ptrace stop, not two).
    let mut entry_only = SyscallSet::new();
    if args.syscalls.is_none() {
        if let Some(close) = lanner_common::syscalls::SyscallId::from_name("close") {
            if !engine.ruleset().syscalls().contains(close) {
                entry_only.insert(close);
            }
        }
    }
    // Calls whose result no rule can match are left out by the driver (`dup` returning a
    // descriptor above 2 under the embedded rules: in the kernel, before a record is written).
    let result_filters = if args.syscalls.is_none() {
        engine::result_filters(engine.ruleset())
    } else {
        Vec::new()
    };
    for f in &result_filters {
        tracing::debug!(
            syscall = f.id.name(),
            lo = f.lo,
            hi = f.hi,
            "reported only for these results"
        );
    }
    // The same closes (kept for the fd table only) are left out altogether: both drivers mark
    // a later use of a closed number stale instead.
    let lazy_closes = lanner_common::syscalls::SyscallId::from_name("close")
        .is_some_and(|close| entry_only.contains(close));
    // Opens whose path and access mode no rule can match are left out too (most of what a
    // workload opens): in the kernel by the eBPF driver. Not when the events are the product
    // (--syscalls), nor when they are written out: the events file is the record of what the
    // workload did, opens the most telling part of it.
    let open_filter = if args.syscalls.is_none() && args.events_out.is_none() {
        engine::open_filter(engine.ruleset())
    } else {
        None
    };
    match &open_filter {
        Some(f) => tracing::debug!(
            patterns = f.rules.len(),
            keep_writes = f.keep_writes,
            "opens left out unless their path and access mode may match a rule"
        ),
        None => tracing::debug!("every open reported: a rule may match any path"),
    }
    let mut reloader = Reloader {
        files: args.rules.clone(),
        strict: args.strict,
        traced: interest,
        entry_only,
        result_filters: result_filters.clone(),
        open_filter: open_filter.clone(),
    };
    let reporting = drivers::Reporting {
        entry_only,
        result_filters,
        // Not with an explicit --syscalls list (the events are the product, closes among
        // them) nor when a rule matches close.
        lazy_closes,
        open_filter,
    };
    let mut driver = drivers::select(
        args.driver,
        drivers::EbpfSettings {
            mode: args.ebpf_mode,
            ring_mib: args.ebpf_ring_mb,
            floor: args.ebpf_floor,
        },
        args.system,
        &reporting,
    )?;
    tracing::debug!(
        driver = driver.name(),
        syscalls = interest.len(),
        "starting"
    );
    // `auto` starts the eBPF driver without probing it first; a kernel that refuses its
    // programs (before anything is spawned) gets the ptrace driver instead.
    let auto_ebpf = args.driver == DriverChoice::Auto && driver.name() == "ebpf";
    let started = match driver.start(target.clone(), &interest) {
        Err(DriverError::Unavailable { reason, .. }) if auto_ebpf => {
            driver = drivers::auto_fallback(args.system, &reporting, &reason)?;
            driver.start(target, &interest).map_err(spawn_failure)?
        }
        result => {
            let started = result.map_err(spawn_failure)?;
            if auto_ebpf {
                tracing::info!("driver: ebpf (the kernel allows it)");
            }
            started
        }
    };
    // What getting ready cost (rules, programs loaded and verified, workload spawned): a
    // one-off that `lanner bench` reports apart from what the workload pays while it runs.
    tracing::info!(
        setup_ms = launched.elapsed().as_millis() as u64,
        agent_cpu_ms = own_cpu_ms(),
        "started"
    );
    // The engine drains the driver: ahead of the workload (already spawned, so it keeps its
    // own priority), or a busy workload starves it and the driver's buffers overflow.
    if let Err(err) = lanner_common::priority::raise_current_thread() {
        tracing::debug!("the engine thread keeps its priority: {err}");
    }
    if let Some(pid) = started.root_pid {
        engine.adopt_workload(std::process::id(), pid);
        signals.set_target(pid);
    }
    let mut dropped_events = 0u64;
    // The loop, then the files; the queued outputs are closed and accounted for whatever
    // became of it (an error writing a file must not make HTTP alerts vanish uncounted).
    let mut pump = || -> Result<Option<lanner_common::event::ExitStatus>> {
        let mut stopping = false;
        let status = loop {
            // Checked every round, not only when idle: a busy host never lets the driver time
            // out, and SIGINT must still end a --system capture promptly.
            if args.system && !stopping && signals.terminate.load(Ordering::Relaxed) {
                stopping = true;
                driver.stop()?;
            }
            if signals.reload.load(Ordering::Relaxed) {
                signals.reload.store(false, Ordering::SeqCst);
                reloader.reload(&mut engine, driver.as_mut());
            }
            match driver.next_event(POLL)? {
                Next::Event(event) => {
                    metrics.event();
                    if let EventKind::Drop(drop) = &event.kind {
                        metrics.dropped(drop.count);
                        dropped_events += drop.count;
                        tracing::debug!(
                            pid = event.pid,
                            tid = event.tid,
                            "{} event(s) lost: {}",
                            drop.count,
                            drop.reason
                        );
                    }
                    if let Some(out) = events_out.as_mut() {
                        out.write(&event)?;
                    }
                    engine.process(&event, &mut alerts);
                    for alert in alerts.drain(..) {
                        metrics.alert(&alert.rule, alert.priority.name());
                        alerts_out.write(&alert, engine.clock())?;
                        outputs.send(&alert, engine.clock(), &hostname);
                    }
                    driver.recycle(event);
                }
                Next::Timeout => {}
                Next::End(status) => break status,
            }
        };
        if let Some(out) = events_out.as_mut() {
            out.finish()?;
        }
        alerts_out.finish()?;
        Ok(status)
    };
    let pumped = pump();
    drop(stats_logger);
    let undelivered = close_outputs(outputs);
    let status = pumped?;
    let engine_stats = engine.stats();
    tracing::info!(
        events = engine_stats.events,
        evaluated = engine_stats.evaluated,
        alerts = engine_stats.alerts,
        undelivered,
        "rules"
    );
    let stats = driver.stats();
    tracing::info!(
        driver = driver.name(),
        events = stats.seen,
        dropped = stats.dropped,
        filtered = stats.filtered,
        agent_cpu_ms = own_cpu_ms(),
        "done"
    );
    if dropped_events > 0 {
        tracing::warn!("{dropped_events} event(s) were lost; see the drop records in the events");
    }
    driver.stop()?;
    Ok(status.map_or(0, |s| s.shell_code()))
}
