//! `lanner replay FILE`: rules evaluated over a recording (`lanner run --events-out`) through
//! the replay driver, to try rules on a workload without running it again.
//!
//! The recorded processes are gone and their pids may belong to others now, so the engine
//! reads nothing from `/proc`: what it knows of a process is what the recording shows (a
//! process that started before the recording has no name or parent). Alert times are the
//! recorded kernel timestamps dated by this boot's clock, so they are only right on the boot
//! that recorded them.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use lanner::engine::{self, Engine, EngineConfig};
use lanner_common::driver::{Next, Target};
use lanner_common::replay::ReplayDriver;
use lanner_common::Driver;

use crate::cli::ReplayArgs;
use crate::run::{load_rules, AlertsOut};

/// A `/proc` that does not exist: see the module's comment.
const NO_PROC: &str = "/nonexistent/lanner-replay/proc";

/// Runs `lanner replay`; exits 0 whatever the rules raised.
pub fn replay(args: &ReplayArgs) -> Result<i32> {
    let ruleset = load_rules(&args.rules, args.strict)?;
    // Syscalls the rules would not have had traced are skipped, as a live run never saw them.
    let interest = engine::interest(&ruleset);
    let mut driver = ReplayDriver::from_file(&args.file)?;
    let config = EngineConfig {
        proc_root: PathBuf::from(NO_PROC),
        ..EngineConfig::default()
    };
    let mut engine = Engine::with_config(ruleset, config);
    let mut alerts_out =
        AlertsOut::create(args.alerts_out.as_deref(), args.format, engine.hostname())?;
    let mut alerts = Vec::new();
    driver
        .start(Target::System, &interest)
        .context("starting the replay")?;
    while let Next::Event(event) = driver.next_event(Duration::ZERO)? {
        engine.process(&event, &mut alerts);
        for alert in alerts.drain(..) {
            alerts_out.write(&alert, engine.clock())?;
        }
    }
    alerts_out.finish()?;
    let stats = engine.stats();
    tracing::info!(
        events = stats.events,
        skipped = driver.stats().filtered,
        alerts = stats.alerts,
        "replayed"
    );
    Ok(0)
}
