//! The eBPF driver: syscalls of the interest set and the process lifecycle, captured in the
//! kernel by BTF-typed raw tracepoints and read from a ring buffer.
//!
//! - `sys_enter`/`sys_exit` (`tp_btf`): the first act is a lookup of the syscall's number in
//!   the capture plan (the interest set, per ABI, so `int 0x80` calls are judged by the i386
//!   table); untraced syscalls return there. Traced ones of a process in scope write one record
//!   at their exit: arguments, the paths, strings and addresses they read, the result and what
//!   the kernel wrote (accepted peers, pipe fds). Execs write an entry record too: their path
//!   and argv are read at entry, before a successful exec replaces the memory they were in.
//! - `sched_process_fork/exec/exit`: the tree. A process forked by a traced one joins the
//!   scope map in the kernel, so `-- CMD` sees only that tree and never the agent.
//! - Records are written without waking the reader, which polls every few milliseconds (or is
//!   woken when the buffer fills up); what does not fit is counted per CPU and reported as drop
//!   events, never lost silently.
//!
//! The user side turns records (joining an exec's entry and exit) into the same events the
//! ptrace driver produces (`RawSyscall::decode` is shared by both).

mod assemble;
mod fentry;
mod open_filter;
mod plan;
mod probe;
mod records;
mod session;
mod skel;
mod tracefs;

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use lanner_common::driver::{DriverStats, Next, Started, Target};
use lanner_common::{Driver, DriverError, Event, SyscallSet};

pub use probe::probe;
use session::{Message, Setup, Shared};

const NAME: &str = "ebpf";

/// How the syscall programs are attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachMode {
    /// BTF raw tracepoints `sys_enter`/`sys_exit`: every syscall of every ABI runs the program,
    /// which returns at once for those outside the interest set. Sees `int 0x80` calls.
    Raw,
    /// `syscalls:sys_enter_<name>`/`sys_exit_<name>` for just the interest set: untraced
    /// syscalls run nothing, but 32-bit syscalls are not seen.
    PerSyscall,
    /// Trampoline programs (fentry/fexit) on the interest set's `__x64_sys_*` functions:
    /// untraced syscalls run nothing and traced ones skip the tracepoints' record building;
    /// 32-bit syscalls are not seen. Kernels that refuse trampolines (lockdown) cannot run it.
    Fentry,
}

impl AttachMode {
    /// The mode's name as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            AttachMode::Raw => "raw",
            AttachMode::PerSyscall => "per-syscall",
            AttachMode::Fentry => "fentry",
        }
    }

    /// Whether the mode is blind to 32-bit (`int 0x80`) syscalls.
    pub fn blind_to_32_bit(self) -> bool {
        self != AttachMode::Raw
    }

    /// What `auto` picks here: raw wherever the kernel runs 32-bit syscalls (the others would
    /// be blind to them); where it cannot, fentry if the kernel accepts trampolines, else
    /// per-syscall.
    pub fn auto() -> AttachMode {
        if probe::has_ia32_emulation() {
            AttachMode::Raw
        } else if probe::fentry_accepted() {
            AttachMode::Fentry
        } else {
            AttachMode::PerSyscall
        }
    }
}

/// Settings of the eBPF driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Ring buffer size in bytes (a power of two, at least a page).
    pub ring_bytes: usize,
    /// The attach mode; `None`: [`AttachMode::auto`].
    pub mode: Option<AttachMode>,
    /// For benchmarks: the programs are attached as usual, but the syscall programs return at
    /// once, so the run costs what the attach mode's mechanism alone costs (the floor no
    /// program can go below). No syscall is reported; processes are.
    pub floor: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ring_bytes: 16 << 20,
            mode: None,
            floor: false,
        }
    }
}

/// The eBPF driver.
pub struct EbpfDriver {
    options: Options,
    reporting: plan::Reporting,
    shared: Arc<Shared>,
    messages: Option<Receiver<Message>>,
    queue: VecDeque<Event>,
    /// Events the consumer is done with, sent back to the reader thread (which built them) in
    /// batches to be freed there.
    spent: Vec<Event>,
    spent_tx: Option<Sender<Vec<Event>>>,
    thread: Option<JoinHandle<()>>,
    ended: Option<Next>,
}

impl Default for EbpfDriver {
    fn default() -> Self {
        Self::new(Options::default())
    }
}

impl EbpfDriver {
    /// A driver, not started yet.
    pub fn new(options: Options) -> Self {
        EbpfDriver {
            options,
            reporting: plan::Reporting::default(),
            shared: Arc::new(Shared::default()),
            messages: None,
            queue: VecDeque::new(),
            spent: Vec::new(),
            spent_tx: None,
            thread: None,
            ended: None,
        }
    }

    /// Syscalls of the interest set to report at entry, without their result (see the ptrace
    /// driver's method of the same name): one record instead of two.
    pub fn set_entry_only(&mut self, set: SyscallSet) {
        self.reporting.entry_only = set;
    }

    /// Calls to leave out by their result (no rule could match them): one-record calls are
    /// judged in the kernel before their record is written, the others when their exit is
    /// joined to their entry.
    pub fn set_result_filters(&mut self, filters: Vec<lanner_common::ResultFilter>) {
        self.reporting.result_filters = filters;
    }

    /// Leaves `close` out, for a consumer that keeps descriptor state only to name what later
    /// calls use: the kernel side follows, per process, which descriptors records told of,
    /// forgets one at its close, and marks a descriptor argument of a later record stale
    /// ([`SyscallEvent::stale_fds`](lanner_common::event::SyscallEvent::stale_fds)) when it was
    /// closed (and maybe reused by a call no record tells of) since. An open-and-close loop
    /// costs one record per round, not two. Whole-system, a process gets its set at its first
    /// traced call (none known: the agent reads /proc for what it opened before) or a copy of
    /// its parent's at fork; one the map has no room for reports every close, as do
    /// descriptors from 1024 up.
    pub fn set_lazy_closes(&mut self, on: bool) {
        self.reporting.lazy_closes = on;
    }

    /// Opens to leave out by their path and access mode (no rule could match them): judged in
    /// the kernel, after the path is read and before the record is written, and counted as
    /// filtered.
    pub fn set_open_filter(&mut self, filter: Option<lanner_common::OpenFilter>) {
        self.reporting.open_filter = filter;
    }

    fn join(&mut self) {
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the eBPF reader thread panicked");
            }
        }
    }
}

impl Driver for EbpfDriver {
    fn name(&self) -> &'static str {
        NAME
    }

    fn start(&mut self, target: Target, interest: &SyscallSet) -> Result<Started, DriverError> {
        if self.thread.is_some() {
            return Err(DriverError::Internal(
                "the eBPF driver was started twice".into(),
            ));
        }
        if let Some(reason) = probe::missing_btf() {
            return Err(DriverError::Unavailable {
                driver: NAME,
                reason: reason.into(),
            });
        }
        if !self.options.ring_bytes.is_power_of_two() || self.options.ring_bytes < 4096 {
            return Err(DriverError::Unavailable {
                driver: NAME,
                reason: format!(
                    "the ring buffer size must be a power of two of at least 4096 bytes, not {}",
                    self.options.ring_bytes
                ),
            });
        }
        let (tx, rx) = crossbeam_channel::bounded(64);
        // Never full in practice (the reader empties it every round); when it is, the
        // consumer frees the batch itself.
        let (spent_tx, spent_rx) = crossbeam_channel::bounded(64);
        let (started_tx, started_rx) = crossbeam_channel::bounded(1);
        let mode = self.options.mode.unwrap_or_else(AttachMode::auto);
        if mode.blind_to_32_bit() && probe::has_ia32_emulation() {
            tracing::warn!(
                "eBPF {} mode: this kernel runs 32-bit (int 0x80) syscalls, which this mode \
                 does not see; the raw mode does",
                mode.name()
            );
        }
        tracing::info!("eBPF attach mode: {}", mode.name());
        let setup = Setup {
            mode,
            target,
            interest: *interest,
            reporting: self.reporting.clone(),
            options: self.options,
        };
        let shared = Arc::clone(&self.shared);
        let thread = std::thread::Builder::new()
            .name("lanner-ebpf".into())
            .spawn(move || session::run(setup, shared, tx, spent_rx, started_tx))
            .map_err(|e| DriverError::Internal(format!("starting the eBPF reader thread: {e}")))?;
        self.thread = Some(thread);
        self.messages = Some(rx);
        self.spent_tx = Some(spent_tx);
        match started_rx.recv() {
            Ok(Ok(root_pid)) => Ok(Started { root_pid }),
            Ok(Err(err)) => {
                self.join();
                Err(err)
            }
            Err(_) => {
                self.join();
                Err(DriverError::Internal(
                    "the eBPF reader thread ended before starting".into(),
                ))
            }
        }
    }

    fn next_event(&mut self, timeout: Duration) -> Result<Next, DriverError> {
        if let Some(event) = self.queue.pop_front() {
            return Ok(Next::Event(event));
        }
        if let Some(end) = &self.ended {
            return Ok(end.clone());
        }
        let Some(messages) = &self.messages else {
            return Err(DriverError::Internal(
                "the eBPF driver was not started".into(),
            ));
        };
        match messages.recv_timeout(timeout) {
            Ok(Message::Events(events)) => {
                self.queue.extend(events);
                Ok(self.queue.pop_front().map_or(Next::Timeout, Next::Event))
            }
            Ok(Message::End(status)) => {
                self.join();
                let end = Next::End(status);
                self.ended = Some(end.clone());
                Ok(end)
            }
            Ok(Message::Failed(err)) => {
                self.join();
                self.ended = Some(Next::End(None));
                Err(err)
            }
            Err(RecvTimeoutError::Timeout) => Ok(Next::Timeout),
            Err(RecvTimeoutError::Disconnected) => {
                self.join();
                self.ended = Some(Next::End(None));
                Err(DriverError::Internal(
                    "the eBPF reader thread ended early".into(),
                ))
            }
        }
    }

    fn recycle(&mut self, event: Event) {
        /// Events sent back at once.
        const SPENT_BATCH: usize = 1024;
        self.spent.push(event);
        if self.spent.len() >= SPENT_BATCH {
            let batch = std::mem::replace(&mut self.spent, Vec::with_capacity(SPENT_BATCH));
            if let Some(tx) = &self.spent_tx {
                // A full or closed channel hands the batch back in the error, dropped here.
                let _ = tx.try_send(batch);
            }
        }
    }

    fn update_open_filter(
        &mut self,
        filter: Option<lanner_common::OpenFilter>,
    ) -> Result<(), DriverError> {
        if self.thread.is_some() {
            // The reader thread puts it in force in the kernel on its next round.
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
            // Opens the kernel side left out. (Untraced syscalls and calls left out by their
            // result are dropped before any record is written, and not counted.)
            filtered: self.shared.filtered.load(Ordering::Relaxed),
        }
    }

    fn stop(&mut self) -> Result<(), DriverError> {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Drain until the reader ends, so that it is never blocked on a full channel; what it
        // still hands over stays queued for next_event, followed by the end.
        if let Some(messages) = self.messages.take() {
            let mut end = None;
            loop {
                match messages.recv_timeout(Duration::from_millis(50)) {
                    Ok(Message::Events(events)) => self.queue.extend(events),
                    Ok(Message::End(status)) => end = Some(Next::End(status)),
                    Ok(Message::Failed(err)) => {
                        tracing::warn!("the eBPF driver failed while stopping: {err}");
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        if self.thread.as_ref().is_none_or(JoinHandle::is_finished) {
                            break;
                        }
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            if self.ended.is_none() {
                self.ended = Some(end.unwrap_or(Next::End(None)));
            }
        }
        self.join();
        Ok(())
    }
}

impl Drop for EbpfDriver {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop();
        }
    }
}
