//! The tracer thread: owns every ptrace relationship (ptrace is per tracer *thread*), waits for
//! stops of the whole process tree and turns them into records.
//!
//! Stops and what is done with them:
//!
//! | stop                               | action                                              |
//! |------------------------------------|-----------------------------------------------------|
//! | seccomp (`PTRACE_EVENT_SECCOMP`)   | a syscall of the set is entering: read its          |
//! |                                    | arguments, resume to its exit (`PTRACE_SYSCALL`)    |
//! | syscall-exit (`SIGTRAP \| 0x80`)   | read the result, emit the completed syscall         |
//! | fork / vfork / clone event         | emit the new task; it is auto-attached              |
//! | exec event                         | emit the exec and its call, which succeeded (no     |
//! |                                    | exit stop); move state if a non-leader exec'd       |
//! | `PTRACE_EVENT_STOP`                | a new task's first stop: resume; a group-stop:      |
//! |                                    | `PTRACE_LISTEN`, so the task stays stopped until    |
//! |                                    | `SIGCONT` exactly as it would untraced              |
//! | signal-delivery                    | inject the same signal, unchanged                   |
//! | exited / killed                    | emit the exit; a syscall still in flight is         |
//! |                                    | counted and reported as dropped                     |
//!
//! Every ptrace call may fail with `ESRCH` because the task was just killed (SIGKILL needs no
//! cooperation): that is normal, and the death report that follows cleans up.
//!
//! Records go to the consumer over a bounded channel: when the consumer is slower than the
//! workload, the tracer blocks and so does the (stopped) workload. Nothing is dropped for lack of
//! buffer; the workload is slowed down instead, which is the only honest choice for a tracer
//! that can hold its tracee.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::Sender;
use lanner_common::event::{
    Creds, DropEvent, Event, EventKind, ExecEvent, ExitEvent, ExitStatus, ForkEvent, ForkKind,
    RawSyscall,
};
use lanner_common::spec::{self, SpecFlags};
use lanner_common::syscalls::{ids, socketcall, Abi, SyscallId, X32_SYSCALL_BIT};
use lanner_common::time::boottime_ns;
use lanner_common::{DriverError, SyscallSet};

use crate::capture;
use crate::files;
use crate::filter::{self, InstallableFilter};
use crate::guard;
use crate::spawn::{self, Child};
use crate::sys::{self, SyscallInfo, Wait};

/// What the tracer thread sends the consumer.
// Nearly every record is a syscall: boxing it would cost an allocation per stop to save space
// on the rare lifecycle records.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Record {
    /// A completed syscall, still to be decoded (decoding happens on the consumer's thread so
    /// that the tracee is stopped for as short a time as possible).
    Syscall {
        /// Boot-clock ns at the syscall's exit.
        ts: u64,
        /// Process id.
        pid: u32,
        /// Thread id.
        tid: u32,
        /// Registers and memory.
        raw: RawSyscall,
    },
    /// A ready event (lifecycle, drops).
    Event(Event),
    /// Tracing ended: every tracee is gone. The workload's status.
    End(Option<ExitStatus>),
}

/// Counters and the live tracee list, shared with the driver handle.
#[derive(Debug, Default)]
pub struct Shared {
    /// Events produced.
    pub seen: AtomicU64,
    /// Events lost.
    pub dropped: AtomicU64,
    /// Stops that produced no event.
    pub filtered: AtomicU64,
    /// Live tasks (tids), so that `stop` can kill them.
    pub live: Mutex<Vec<i32>>,
    /// A new open filter, from a rules reload.
    pub open_filter: lanner_common::paths::FilterUpdate,
}

/// How the start of the workload went, for `Driver::start`.
pub type StartResult = Result<i32, DriverError>;

#[derive(Debug)]
struct Pending {
    raw: RawSyscall,
}

#[derive(Debug)]
struct Task {
    /// Thread group id.
    tgid: i32,
    /// Whether the task has been resumed once (auto-attached tasks begin in a
    /// `PTRACE_EVENT_STOP` that is not a group-stop).
    started: bool,
    /// The syscall between its seccomp stop and its exit stop.
    pending: Option<Pending>,
}

/// Whether `id` is one of the exec calls.
fn is_exec(id: SyscallId) -> bool {
    id == ids::EXECVE || id == ids::EXECVEAT
}

/// The signals whose delivery puts a process in group-stop.
fn is_stop_signal(sig: i32) -> bool {
    matches!(
        sig,
        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
    )
}

/// The thread group of `tid`, from `/proc` (used for tasks first seen without their parent's
/// fork event, and to tell threads from processes after `clone`).
fn tgid_of(tid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}

fn proc_cmdline(pid: i32) -> Vec<Vec<u8>> {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(bytes) => bytes
            .split(|&b| b == 0)
            .map(<[u8]>::to_vec)
            .filter(|s| !s.is_empty())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn proc_exe(pid: i32) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .map(|p| p.as_os_str().as_bytes().to_vec())
}

/// Most records handed over at once.
const BATCH: usize = 256;

pub struct Tracer {
    tx: Sender<Vec<Record>>,
    /// Records not handed over yet.
    batch: Vec<Record>,
    interest: SyscallSet,
    /// Which calls are reported at entry, and which are left out by their result.
    reporting: Reporting,
    /// By tid (kernel-assigned, looked up at every stop: a fast hash, not SipHash).
    tasks: rustc_hash::FxHashMap<i32, Task>,
    root: i32,
    root_status: Option<ExitStatus>,
    shared: Arc<Shared>,
    /// `PTRACE_GET_SYSCALL_INFO` works (Linux 5.3+); else registers are read.
    syscall_info: bool,
    /// The consumer hung up: keep the tracees running, stop producing.
    consumer_gone: bool,
    /// What each process's consumer was told its descriptors were (lazy closes only).
    told: Option<files::Told>,
    /// With the standard-descriptor guard on (`dup` stops only in processes that may have a
    /// standard descriptor free): the processes guarded.
    guarded: Option<guard::Guarded>,
    /// Whether to poll for the next stop before sleeping for it.
    spinner: crate::spin::Spinner,
    /// Start still to be reported, with the child whose exec we wait for.
    starting: Option<(
        Child,
        std::sync::mpsc::Sender<StartResult>,
        std::ffi::OsString,
    )>,
}

/// What the tracer reports of the calls it stops for.
#[derive(Debug, Clone, Default)]
pub struct Reporting {
    /// Syscalls reported at entry, without their result.
    pub entry_only: SyscallSet,
    /// Calls left out by their result (no rule could match them): judged at the exit stop,
    /// before any memory is read for them; counted as filtered, not seen.
    pub result_filters: Vec<lanner_common::ResultFilter>,
    /// `close` is not traced; later uses of a closed number are marked stale (see `files`).
    pub lazy_closes: bool,
    /// Opens left out by their path and access mode (no rule could match them): judged at the
    /// entry stop, once the path is read, and resumed without an exit stop; counted as
    /// filtered.
    pub open_filter: Option<lanner_common::OpenFilter>,
}

impl Tracer {
    /// Forks, seizes and runs the command, then traces until every tracee is gone. Reports the
    /// start on `started` once the workload has exec'd (or failed to).
    pub fn run(
        command: lanner_common::driver::Command,
        interest: SyscallSet,
        reporting: Reporting,
        tx: Sender<Vec<Record>>,
        started: std::sync::mpsc::Sender<StartResult>,
        shared: Arc<Shared>,
        syscall_info: bool,
    ) {
        let program = command.argv.first().cloned().unwrap_or_default();
        let mut stopping = interest;
        if reporting.lazy_closes {
            if let Some(close) = SyscallId::from_name("close") {
                stopping.remove(close);
            }
        }
        let privileges_may_drop = guard::privileges_may_drop();
        let (mut plan, guard_on) = guard::stop_plan(
            &interest,
            &mut stopping,
            &reporting.result_filters,
            guard::std_fds_open(),
            privileges_may_drop,
        );
        // Reads of directories the open filter leaves out need not stop at all: seccomp sees
        // their flags.
        if let Some(open_filter) = &reporting.open_filter {
            plan.arg_checks
                .extend(filter::directory_reads_unstopped(open_filter, &stopping));
        }
        tracing::debug!(?plan, guard_on, "seccomp stop plan");
        let filter = match filter::build_planned(&stopping, &plan) {
            Ok(program) => InstallableFilter::new(program),
            Err(err) => {
                let _ = started.send(Err(DriverError::Internal(err.to_string())));
                return;
            }
        };
        // Orphans of the workload are reparented to us rather than to init, so that we reap
        // them and `run` lasts as long as anything the workload started.
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        let mut child = match spawn::fork_child(&command, &filter) {
            Ok(child) => child,
            Err(err) => {
                let _ = started.send(Err(err));
                return;
            }
        };
        if let Err(err) = sys::seize(child.pid) {
            let _ = sys::kill(child.pid, libc::SIGKILL);
            // SAFETY: reaping our own child.
            unsafe { libc::waitpid(child.pid, std::ptr::null_mut(), 0) };
            let _ = started.send(Err(err.into()));
            return;
        }
        child.release();
        let root = child.pid;
        let told = reporting.lazy_closes.then(files::Told::default);
        let mut tracer = Tracer {
            tx,
            batch: Vec::with_capacity(BATCH),
            interest,
            reporting,
            tasks: rustc_hash::FxHashMap::default(),
            root,
            root_status: None,
            shared,
            syscall_info,
            consumer_gone: false,
            starting: Some((child, started, program)),
            told,
            guarded: guard_on.then(|| guard::Guarded::new(privileges_may_drop)),
            spinner: crate::spin::Spinner::new(),
        };
        tracer.add_task(root, root, true);
        tracer.trace();
    }

    fn add_task(&mut self, tid: i32, tgid: i32, started: bool) {
        self.tasks.insert(
            tid,
            Task {
                tgid,
                started,
                pending: None,
            },
        );
        if let Ok(mut live) = self.shared.live.lock() {
            live.push(tid);
        }
    }

    fn remove_task(&mut self, tid: i32) -> Option<Task> {
        if let Ok(mut live) = self.shared.live.lock() {
            live.retain(|&t| t != tid);
        }
        self.tasks.remove(&tid)
    }

    fn trace(&mut self) {
        loop {
            match self.next_report() {
                Ok(Some(report)) => {
                    self.handle(report);
                    // Every tracee is gone (the workload's orphans are tracees too): tracing is
                    // over, even while the agent has children of its own (an alerts program)
                    // that `wait(-1)` would otherwise wait for until they end.
                    if self.root_status.is_some() && self.tasks.is_empty() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(err) => {
                    tracing::error!("tracer: {err}");
                    break;
                }
            }
        }
        self.report_start_failure();
        let status = self.root_status;
        self.send(Record::End(status));
        self.flush();
    }

    /// The next wait report. Records are handed to the consumer in batches, when the tracer has
    /// nothing else to do: waking the consumer once per syscall would cost the workload a
    /// cross-CPU wakeup per event (expensive, above all in virtual machines).
    fn next_report(&mut self) -> Result<Option<Wait>, sys::PtraceError> {
        // A busy stretch of traced calls: the next stop is microseconds away (`spin`).
        let polled = self.spinner.poll(|| sys::try_wait_any().map(Result::ok))?;
        if let Some(report) = polled {
            return Ok(report);
        }
        if !self.batch.is_empty() {
            match sys::try_wait_any()? {
                Ok(report) => return Ok(report),
                Err(()) => self.flush(),
            }
        }
        let asleep = std::time::Instant::now();
        let report = sys::wait_any();
        self.spinner.slept(asleep.elapsed());
        report
    }

    fn flush(&mut self) {
        if self.batch.is_empty() || self.consumer_gone {
            return;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        if self.tx.send(batch).is_err() {
            tracing::debug!("tracer: the consumer hung up; tracing on without reporting");
            self.consumer_gone = true;
        }
    }

    fn send(&mut self, record: Record) {
        if self.consumer_gone {
            return;
        }
        match &record {
            Record::Syscall { .. } => {
                self.shared.seen.fetch_add(1, Ordering::Relaxed);
            }
            Record::Event(Event {
                kind: EventKind::Drop(drop),
                ..
            }) => {
                self.shared.dropped.fetch_add(drop.count, Ordering::Relaxed);
            }
            Record::Event(_) => {
                self.shared.seen.fetch_add(1, Ordering::Relaxed);
            }
            Record::End(_) => {}
        }
        self.batch.push(record);
        if self.batch.len() >= BATCH {
            self.flush();
        }
    }

    fn event(&mut self, pid: i32, tid: i32, kind: EventKind) {
        self.send(Record::Event(Event {
            ts: boottime_ns(),
            pid: pid as u32,
            tid: tid as u32,
            kind,
        }));
    }

    /// Resumes `tid`: to its syscall's exit when one is in flight, else freely.
    fn resume(&mut self, tid: i32, sig: i32) {
        let in_syscall = self
            .tasks
            .get(&tid)
            .is_some_and(|task| task.pending.is_some());
        let result = if in_syscall {
            sys::syscall(tid, sig)
        } else {
            sys::cont(tid, sig)
        };
        if let Err(err) = result {
            if !err.is_gone() {
                tracing::warn!("{err}");
            }
        }
    }

    fn handle(&mut self, report: Wait) {
        match report {
            Wait::Exited(tid, code) => self.task_ended(tid, ExitStatus::Code(code)),
            Wait::Signaled(tid, signo, core) => {
                self.task_ended(tid, ExitStatus::Signal { signo, core })
            }
            Wait::Continued(_) => {}
            Wait::Stopped(tid, sig, event) => {
                if !self.tasks.contains_key(&tid) {
                    // A new task whose first stop beat its parent's fork event.
                    let tgid = tgid_of(tid).unwrap_or(tid);
                    self.add_task(tid, tgid, false);
                }
                match event {
                    libc::PTRACE_EVENT_SECCOMP => self.syscall_entry(tid),
                    libc::PTRACE_EVENT_FORK
                    | libc::PTRACE_EVENT_VFORK
                    | libc::PTRACE_EVENT_CLONE => self.task_created(tid, event),
                    libc::PTRACE_EVENT_EXEC => self.exec(tid),
                    libc::PTRACE_EVENT_STOP => self.event_stop(tid, sig),
                    0 if sig == (libc::SIGTRAP | 0x80) => self.syscall_exit(tid),
                    0 => {
                        // Signal-delivery-stop: deliver it exactly as it came.
                        self.resume(tid, sig);
                    }
                    _ => self.resume(tid, 0),
                }
            }
        }
    }

    fn event_stop(&mut self, tid: i32, sig: i32) {
        let Some(task) = self.tasks.get_mut(&tid) else {
            return;
        };
        if !task.started {
            task.started = true;
            self.resume(tid, 0);
        } else if is_stop_signal(sig) {
            // Group-stop: stay stopped (job control works as untraced), but wake on SIGCONT.
            if let Err(err) = sys::listen(tid) {
                if !err.is_gone() {
                    tracing::warn!("{err}");
                }
            }
        } else {
            // PTRACE_INTERRUPT or the wake-up after PTRACE_LISTEN.
            self.resume(tid, 0);
        }
    }

    /// Reads the registers of a syscall entering: (abi, nr, args).
    fn entry_registers(&self, tid: i32) -> Result<Option<(Abi, u64, [u64; 6])>, sys::PtraceError> {
        if self.syscall_info {
            return Ok(match sys::syscall_info(tid)? {
                SyscallInfo::Entry { arch, nr, args, .. } => {
                    Abi::classify(arch, nr).map(|abi| (abi, nr, args))
                }
                _ => None,
            });
        }
        let abi = filter::abi_of_data(sys::event_msg(tid)?);
        let regs = sys::regs(tid)?;
        Ok(abi.map(|abi| {
            let args = match abi {
                Abi::I386 => [regs.rbx, regs.rcx, regs.rdx, regs.rsi, regs.rdi, regs.rbp]
                    .map(|r| r & 0xffff_ffff),
                Abi::X86_64 | Abi::X32 => {
                    [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9]
                }
            };
            (abi, regs.orig_rax, args)
        }))
    }

    fn syscall_entry(&mut self, tid: i32) {
        let ts_entry = boottime_ns();
        let (abi, nr, mut args) = match self.entry_registers(tid) {
            Ok(Some(found)) => found,
            Ok(None) => {
                // An arch this build does not know: nothing to decode, nothing to report.
                self.shared.filtered.fetch_add(1, Ordering::Relaxed);
                return self.resume(tid, 0);
            }
            Err(err) => {
                if !err.is_gone() {
                    tracing::warn!("{err}");
                    self.resume(tid, 0);
                }
                return;
            }
        };
        let tgid = self.tasks.get(&tid).map_or(tid, |t| t.tgid);
        if self
            .guarded
            .as_ref()
            .is_some_and(|g| !g.covers(tgid) && g.needed_before(abi, nr, &args))
            && self.guard(tid, tgid)
        {
            return;
        }
        let mut id = SyscallId::from_abi(abi, nr & !X32_SYSCALL_BIT);
        if abi == Abi::I386 && nr == socketcall::I386_NR {
            if let Some((target, words)) = capture::resolve_socketcall(tid, &args) {
                id = Some(target);
                args = words;
            }
        }
        let Some(id) = id.filter(|id| self.interest.contains(*id)) else {
            self.shared.filtered.fetch_add(1, Ordering::Relaxed);
            return self.resume(tid, 0);
        };
        let mut raw = RawSyscall {
            id: Some(id),
            nr,
            abi: Some(abi),
            args,
            ret: 0,
            mem: Default::default(),
            entry_only: false,
            stale_fds: 0,
        };
        capture::at_entry(tid, &mut raw);
        // An open the filter leaves out is judged here: path, flags and ABI are all known at
        // entry, so the call runs on without an exit stop (one stop instead of two).
        if let Some(filter) = self.shared.open_filter.take() {
            self.reporting.open_filter = filter;
        }
        if self
            .reporting
            .open_filter
            .as_ref()
            .is_some_and(|f| !f.keeps_raw(&raw))
        {
            self.shared.filtered.fetch_add(1, Ordering::Relaxed);
            return self.resume(tid, 0);
        }
        let no_return = spec::lookup(id).is_some_and(|s| s.flags.contains(SpecFlags::NO_RETURN));
        // One stop instead of two when nothing needs the result (and nothing is read at exit).
        if no_return || (self.reporting.entry_only.contains(id) && !capture::wants_exit(&raw)) {
            raw.entry_only = true;
            if let Some(told) = &mut self.told {
                told.report(tgid, tid, &mut raw);
            }
            self.send(Record::Syscall {
                ts: ts_entry,
                pid: tgid as u32,
                tid: tid as u32,
                raw,
            });
            return self.resume(tid, 0);
        }
        if let Some(task) = self.tasks.get_mut(&tid) {
            if let Some(stale) = task.pending.replace(Pending { raw }) {
                tracing::debug!(tid, "syscall {:?} never reported its exit", stale.raw.id);
                self.dropped(tgid, tid, "a syscall's exit was never reported");
            }
        }
        self.resume(tid, 0);
    }

    /// `tid`'s process is about to free a standard descriptor: has it install the guard (see
    /// `guard`). Returns whether the stop was dealt with (the call rewound and resumed, or the
    /// task gone); else it is handled as usual.
    fn guard(&mut self, tid: i32, tgid: i32) -> bool {
        // Whatever comes of it, once: a refusal is reported once, not at every close.
        if let Some(guarded) = &mut self.guarded {
            guarded.mark(tgid);
        }
        match guard::install(tid) {
            guard::Outcome::Installed => {
                tracing::debug!(pid = tgid, tid, "standard-descriptor guard installed");
                self.resume(tid, 0);
                true
            }
            guard::Outcome::Refused { reason, rewound } => {
                tracing::warn!(
                    pid = tgid,
                    tid,
                    "this process may free a standard descriptor, and its dup calls cannot be \
                     watched: the guard filter was refused: {reason}"
                );
                self.dropped(
                    tgid,
                    tid,
                    "a process that may free a standard descriptor refused the guard filter: \
                     its dup calls are not watched",
                );
                if rewound {
                    self.resume(tid, 0);
                }
                rewound
            }
            guard::Outcome::Gone(report) => {
                if let Some(report) = report {
                    self.handle(report);
                }
                true
            }
        }
    }

    fn syscall_exit(&mut self, tid: i32) {
        let ret = if self.syscall_info {
            match sys::syscall_info(tid) {
                Ok(SyscallInfo::Exit { rval, .. }) => Some(rval),
                Ok(_) => None,
                Err(err) if err.is_gone() => return,
                Err(err) => {
                    tracing::warn!("{err}");
                    None
                }
            }
        } else {
            match sys::regs(tid) {
                Ok(regs) => Some(regs.rax as i64),
                Err(err) if err.is_gone() => return,
                Err(err) => {
                    tracing::warn!("{err}");
                    None
                }
            }
        };
        let Some(task) = self.tasks.get_mut(&tid) else {
            return;
        };
        let tgid = task.tgid;
        let pending = if ret.is_some() {
            task.pending.take()
        } else {
            None
        };
        if let (Some(mut pending), Some(ret)) = (pending, ret) {
            pending.raw.ret = match pending.raw.abi {
                // An i386 return value is a 32-bit register.
                Some(Abi::I386) => i64::from(ret as i32),
                _ => ret,
            };
            self.complete(tgid, tid, pending.raw);
        }
        self.resume(tid, 0);
    }

    /// A call whose result is known: left out by it (it stopped the tracee without an event),
    /// or reported, with what it wrote read first.
    fn complete(&mut self, tgid: i32, tid: i32, mut raw: RawSyscall) {
        let left_out = raw.id.is_some_and(|id| {
            lanner_common::ResultFilter::leaves_out(&self.reporting.result_filters, id, raw.ret)
        });
        if left_out {
            self.shared.filtered.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if capture::wants_exit(&raw) {
            capture::at_exit(tid, &mut raw);
        }
        if let Some(told) = &mut self.told {
            told.report(tgid, tid, &mut raw);
        }
        self.send(Record::Syscall {
            ts: boottime_ns(),
            pid: tgid as u32,
            tid: tid as u32,
            raw,
        });
    }

    fn task_created(&mut self, tid: i32, event: i32) {
        let child = match sys::event_msg(tid) {
            Ok(child) => child as i32,
            Err(err) => {
                if !err.is_gone() {
                    tracing::warn!("{err}");
                    self.resume(tid, 0);
                }
                return;
            }
        };
        let parent_tgid = self.tasks.get(&tid).map_or(tid, |t| t.tgid);
        let (kind, thread) = match event {
            libc::PTRACE_EVENT_FORK => (ForkKind::Fork, false),
            libc::PTRACE_EVENT_VFORK => (ForkKind::Vfork, false),
            _ => (ForkKind::Clone, tgid_of(child) == Some(parent_tgid)),
        };
        let child_pid = if thread { parent_tgid } else { child };
        match self.tasks.get_mut(&child) {
            // Its first stop came first and guessed the tgid from /proc; make sure.
            Some(task) => task.tgid = child_pid,
            None => self.add_task(child, child_pid, false),
        }
        if !thread {
            if let Some(told) = &mut self.told {
                told.forked(parent_tgid, child_pid);
            }
            if let Some(guarded) = &mut self.guarded {
                guarded.forked(parent_tgid, child_pid);
            }
        }
        self.event(
            parent_tgid,
            tid,
            EventKind::Fork(ForkEvent {
                child_pid: child_pid as u32,
                child_tid: child as u32,
                kind,
                thread,
            }),
        );
        self.resume(tid, 0);
    }

    fn exec(&mut self, tid: i32) {
        // `tid` is now the process id; the exec'ing thread may have had another tid before.
        let former = match sys::event_msg(tid) {
            Ok(former) => former as i32,
            Err(err) => {
                if !err.is_gone() {
                    tracing::warn!("{err}");
                    self.resume(tid, 0);
                }
                return;
            }
        };
        let pid = tid;
        let mut former_tid = None;
        if former != tid {
            former_tid = Some(former as u32);
            // The exec'ing thread took over the leader's tid: move its state there. The old
            // leader is gone without a death report.
            let moved = self.remove_task(former);
            if let Some(old_leader) = self.remove_task(tid) {
                if old_leader.pending.is_some() {
                    self.dropped(
                        pid,
                        tid,
                        "the thread was replaced by an exec in another thread",
                    );
                }
            }
            self.add_task(tid, pid, true);
            if let (Some(task), Some(moved)) = (self.tasks.get_mut(&tid), moved) {
                task.pending = moved.pending;
            }
        }
        let filename = self
            .tasks
            .get(&tid)
            .and_then(|t| t.pending.as_ref())
            .and_then(|p| capture::exec_filename(&p.raw));
        let exe = proc_exe(pid);
        let exec = ExecEvent {
            filename: filename.or_else(|| exe.clone()).unwrap_or_default(),
            argv: proc_cmdline(pid),
            exe,
            former_tid,
            // Read while the process is stopped at its exec: a setuid program that ends at
            // once is judged with its own ids, not the ones before (or none, once it is gone).
            creds: std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .map(|status| Creds::from_proc_status(&status)),
            // Likewise its cgroups, which name its container.
            cgroup: std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok(),
        };
        self.event(pid, tid, EventKind::Exec(Box::new(exec)));
        // The exec succeeded, so its call is complete: reported now, with its result (0), and
        // the tracee resumed without the exit stop it would make (one stop fewer per exec).
        if let Some(mut pending) = self
            .tasks
            .get_mut(&tid)
            .and_then(|t| t.pending.take_if(|p| p.raw.id.is_some_and(is_exec)))
        {
            pending.raw.ret = 0;
            self.complete(pid, tid, pending.raw);
        }
        if tid == self.root {
            if let Some((_, started, _)) = self.starting.take() {
                let _ = started.send(Ok(self.root));
            }
        }
        self.resume(tid, 0);
    }

    fn dropped(&mut self, pid: i32, tid: i32, reason: &'static str) {
        self.event(pid, tid, EventKind::Drop(DropEvent { count: 1, reason }));
    }

    fn task_ended(&mut self, tid: i32, status: ExitStatus) {
        let task = self.remove_task(tid);
        if task.is_none() && tid != self.root {
            // A child of another thread of the agent, reaped because wait(-1) sees the whole
            // process's children (which it must, to reap the workload's orphans); not ours.
            tracing::debug!(tid, "reaped a process that was not traced");
            return;
        }
        let tgid = task.as_ref().map_or(tid, |t| t.tgid);
        if tid == tgid {
            if let Some(told) = &mut self.told {
                told.ended(tgid);
            }
            if let Some(guarded) = &mut self.guarded {
                guarded.ended(tgid);
            }
        }
        if task.is_some_and(|t| t.pending.is_some()) {
            self.dropped(tgid, tid, "the task died before its syscall returned");
        }
        if tid == self.root {
            self.root_status = Some(status);
            self.report_start_failure();
        }
        self.event(tgid, tid, EventKind::Exit(ExitEvent { status }));
    }

    /// The root died before exec'ing: tell `start` why.
    fn report_start_failure(&mut self) {
        if let Some((child, started, program)) = self.starting.take() {
            let err = match child.failure() {
                Some(failure) => failure.into_error(program),
                None => DriverError::Spawn {
                    program,
                    source: std::io::Error::other(format!(
                        "the workload ended before it could exec ({:?})",
                        self.root_status
                    )),
                },
            };
            let _ = started.send(Err(err));
        }
    }
}
