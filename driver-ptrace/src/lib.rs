//! lanner's seccomp + ptrace driver: for places without kernel access (AWS Fargate), where the
//! agent wraps the workload's entrypoint and may only use `SYS_PTRACE`.
//!
//! The workload runs under a seccomp filter that stops it (`SECCOMP_RET_TRACE`) only for the
//! syscalls of the interest set; every other syscall runs at full speed, resolved by the kernel's
//! seccomp action cache. A dedicated thread traces the whole process tree with `PTRACE_SEIZE`.
//! See `tracer` for how each kind of stop is handled.

mod capture;
mod files;
pub mod filter;
mod guard;
mod memory;
mod probe;
mod spawn;
mod spin;
mod sys;
mod tracer;

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use lanner_common::driver::{Driver, DriverStats, Next, Started, Target};
use lanner_common::event::{Event, EventKind};
use lanner_common::{DriverError, SyscallSet};

pub use probe::probe;
use tracer::{Record, Shared, Tracer};

/// The driver's name as the CLI spells it.
pub const NAME: &str = "ptrace";

/// Batches of records buffered between the tracer and the consumer before the tracer (and so the workload)
/// waits.
const CHANNEL_CAPACITY: usize = 64;

/// The seccomp + ptrace driver.
pub struct PtraceDriver {
    shared: Arc<Shared>,
    records: Option<Receiver<Vec<Record>>>,
    /// Records received and not yet returned.
    queue: VecDeque<Record>,
    thread: Option<JoinHandle<()>>,
    ended: Option<Next>,
    reporting: tracer::Reporting,
}

impl Default for PtraceDriver {
    fn default() -> Self {
        Self::new()
    }
}

impl PtraceDriver {
    /// A driver, not started yet.
    pub fn new() -> Self {
        PtraceDriver {
            shared: Arc::new(Shared::default()),
            records: None,
            queue: VecDeque::new(),
            thread: None,
            ended: None,
            reporting: tracer::Reporting::default(),
        }
    }

    /// Syscalls of the interest set to report at entry, without their result: one ptrace stop
    /// instead of two. For calls whose result nothing reads (the agent uses it for `close`
    /// when no rule matches `close`: the fd table drops the fd whatever close returns).
    pub fn set_entry_only(&mut self, set: SyscallSet) {
        self.reporting.entry_only = set;
    }

    /// Leaves `close` out: not traced at all, so no stop; a later reported call whose
    /// descriptor argument refers to another file than the consumer was told of marks it
    /// stale ([`SyscallEvent::stale_fds`](lanner_common::event::SyscallEvent::stale_fds)), for a
    /// consumer that keeps descriptor state only to name what later calls use. The tracer
    /// `statx`es the `/proc` link of each descriptor a reported call uses or returns instead.
    pub fn set_lazy_closes(&mut self, on: bool) {
        self.reporting.lazy_closes = on;
    }

    /// Calls to leave out by their result (no rule could match them). ptrace cannot judge a
    /// result before the exit stop, so this saves the agent the event, not the stop.
    pub fn set_result_filters(&mut self, filters: Vec<lanner_common::ResultFilter>) {
        self.reporting.result_filters = filters;
    }

    /// Opens to leave out by their path and access mode (no rule could match them): judged at
    /// the entry stop, once the path is read; the call then runs on without an exit stop, and
    /// the agent is spared the event.
    pub fn set_open_filter(&mut self, filter: Option<lanner_common::OpenFilter>) {
        self.reporting.open_filter = filter;
    }

    fn record_to_next(&mut self, record: Record) -> Next {
        match record {
            Record::Syscall { ts, pid, tid, raw } => match raw.decode() {
                Some(syscall) => Next::Event(Event {
                    ts,
                    pid,
                    tid,
                    kind: EventKind::Syscall(syscall),
                }),
                // The tracer only sends syscalls it resolved; keep the stream going regardless.
                None => Next::Timeout,
            },
            Record::Event(event) => Next::Event(event),
            Record::End(status) => {
                let end = Next::End(status);
                self.ended = Some(end.clone());
                end
            }
        }
    }
}

impl Driver for PtraceDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    fn start(&mut self, target: Target, interest: &SyscallSet) -> Result<Started, DriverError> {
        let command = match target {
            Target::Command(command) => command,
            _ => {
                return Err(DriverError::UnsupportedTarget {
                    driver: NAME,
                    what: "the whole system (--system needs the ebpf driver)",
                })
            }
        };
        if self.thread.is_some() {
            return Err(DriverError::Internal(
                "the ptrace driver was started twice".into(),
            ));
        }
        let (tx, rx) = crossbeam_channel::bounded(CHANNEL_CAPACITY);
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let shared = Arc::clone(&self.shared);
        let interest = *interest;
        let reporting = self.reporting.clone();
        let syscall_info = probe::has_syscall_info();
        let thread = std::thread::Builder::new()
            .name("lanner-tracer".into())
            .spawn(move || {
                Tracer::run(
                    command,
                    interest,
                    reporting,
                    tx,
                    started_tx,
                    shared,
                    syscall_info,
                )
            })
            .map_err(|source| DriverError::Syscall {
                call: "spawning the tracer thread",
                source,
            })?;
        self.thread = Some(thread);
        self.records = Some(rx);
        match started_rx.recv() {
            Ok(Ok(pid)) => Ok(Started {
                root_pid: u32::try_from(pid).ok(),
            }),
            Ok(Err(err)) => {
                self.join();
                Err(err)
            }
            Err(_) => {
                self.join();
                Err(DriverError::Internal(
                    "the tracer thread ended before starting the workload".into(),
                ))
            }
        }
    }

    fn next_event(&mut self, timeout: Duration) -> Result<Next, DriverError> {
        if let Some(end) = &self.ended {
            return Ok(end.clone());
        }
        if let Some(record) = self.queue.pop_front() {
            return Ok(self.record_to_next(record));
        }
        let Some(records) = &self.records else {
            return Err(DriverError::Internal(
                "the ptrace driver was not started".into(),
            ));
        };
        match records.recv_timeout(timeout) {
            Ok(batch) => {
                self.queue.extend(batch);
                match self.queue.pop_front() {
                    Some(record) => Ok(self.record_to_next(record)),
                    None => Ok(Next::Timeout),
                }
            }
            Err(RecvTimeoutError::Timeout) => Ok(Next::Timeout),
            Err(RecvTimeoutError::Disconnected) => Err(DriverError::Internal(
                "the tracer thread ended without reporting the end of the workload".into(),
            )),
        }
    }

    fn update_open_filter(
        &mut self,
        filter: Option<lanner_common::OpenFilter>,
    ) -> Result<(), DriverError> {
        if self.thread.is_some() {
            // Reads of directories let through by the seccomp filter (fixed at start) cannot
            // be stopped again.
            let started_without_dirs = self
                .reporting
                .open_filter
                .as_ref()
                .is_some_and(|f| f.directories_left_out);
            if started_without_dirs && !filter.as_ref().is_some_and(|f| f.directories_left_out) {
                return Err(DriverError::Internal(
                    "the ptrace driver lets reads of directories through without a stop since \
                     its start (no rule needed them then); restart the agent to see them"
                        .to_owned(),
                ));
            }
            // The tracer takes it at its next exit stop.
            self.shared.open_filter.post(filter);
        } else {
            self.reporting.open_filter = filter;
        }
        Ok(())
    }

    fn stats(&self) -> DriverStats {
        DriverStats {
            seen: self.shared.seen.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            filtered: self.shared.filtered.load(Ordering::Relaxed),
        }
    }

    fn stop(&mut self) -> Result<(), DriverError> {
        if self.thread.is_none() {
            return Ok(());
        }
        if self.ended.is_none() {
            let live: Vec<i32> = match self.shared.live.lock() {
                Ok(live) => live.clone(),
                Err(poisoned) => poisoned.into_inner().clone(),
            };
            for tid in live {
                // Already-dead tasks fail with ESRCH, which is what we want anyway.
                // SAFETY: kill with integer arguments.
                unsafe { libc::kill(tid, libc::SIGKILL) };
            }
        }
        self.join();
        Ok(())
    }
}

impl PtraceDriver {
    /// Drains the channel (so the tracer is never stuck on a full one) and joins the thread.
    fn join(&mut self) {
        if let Some(records) = self.records.take() {
            let pending = std::mem::take(&mut self.queue);
            for record in pending.into_iter().chain(records.iter().flatten()) {
                if let Record::End(status) = record {
                    self.ended = Some(Next::End(status));
                }
            }
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the tracer thread panicked");
            }
        }
    }
}

impl Drop for PtraceDriver {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
