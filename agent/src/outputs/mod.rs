//! Alert outputs that run beside the agent's loop: HTTP (`--alerts-http`) and a program's stdin
//! (`--alerts-program`). Each has its own thread behind a bounded queue (`worker`), so a slow or
//! absent consumer costs memory up to a bound and a count of undelivered alerts, never a stalled
//! workload, and never silence.

mod http;
mod program;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use lanner_common::time::WallClock;

use crate::engine::Alert;

pub use http::HttpOut;
pub use program::ProgramOut;
pub use worker::{Closing, Counters, Deliver, Report, Worker};

/// Alerts each queued output holds while its consumer is slow or away.
pub const QUEUE_CAPACITY: usize = 10_000;

/// Errors starting an output.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// The URL given cannot be posted to.
    #[error("alerts URL {url}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The output's thread could not be started.
    #[error("starting the {name} output's thread: {source}")]
    Thread {
        /// The output.
        name: &'static str,
        /// Why.
        source: std::io::Error,
    },
}

/// How an output wants its alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Falco's JSON line.
    Json,
    /// Falco's text line.
    Text,
}

/// The report of an output that could not be closed properly: nothing more is delivered.
fn lost_report(counters: &Counters) -> Report {
    Report {
        delivered: counters.delivered(),
        undelivered: counters.accepted() + counters.dropped() - counters.delivered(),
    }
}

/// The queued outputs of a run.
#[derive(Default)]
pub struct Outputs {
    workers: Vec<(Worker, Shape)>,
}

impl Outputs {
    /// No outputs.
    pub fn new() -> Self {
        Outputs::default()
    }

    /// Adds `deliver` as an output named `name` (`http`, `program`) taking alerts shaped as
    /// `shape`, with its own queue.
    pub fn add(
        &mut self,
        name: &'static str,
        shape: Shape,
        deliver: impl Deliver,
    ) -> Result<(), OutputError> {
        self.workers
            .push((Worker::spawn(name, QUEUE_CAPACITY, deliver)?, shape));
        Ok(())
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// The counters of each output, for metrics.
    pub fn counters(&self) -> Vec<Arc<Counters>> {
        self.workers.iter().map(|(w, _)| w.counters()).collect()
    }

    /// Hands `alert` to every output, each in its shape; never blocks.
    pub fn send(&self, alert: &Alert, clock: &WallClock, hostname: &str) {
        for (worker, shape) in &self.workers {
            worker.send(match shape {
                Shape::Json => alert.json(clock, hostname),
                Shape::Text => alert.text(clock),
            });
        }
    }

    /// Closes every output, each delivering what it holds within `grace` (in parallel), and
    /// reports per output.
    pub fn close(self, grace: Duration) -> Vec<(&'static str, Report)> {
        let mut reports = Vec::new();
        let mut closing = Vec::new();
        for (worker, _) in self.workers {
            let name = worker.counters().name;
            let counters = worker.counters();
            let (tx, rx) = crossbeam_channel::bounded(1);
            let spawned = std::thread::Builder::new()
                .name(format!("lanner-close-{name}"))
                .spawn(move || {
                    let _ = tx.send(worker.close(grace));
                });
            match spawned {
                Ok(_) => closing.push((name, counters, rx)),
                Err(err) => {
                    tracing::warn!(output = name, "closing the output: {err}");
                    reports.push((name, lost_report(&counters)));
                }
            }
        }
        for (name, counters, rx) in closing {
            let report = rx.recv().unwrap_or_else(|_| lost_report(&counters));
            reports.push((name, report));
        }
        reports
    }
}
