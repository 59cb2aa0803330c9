//! The reader thread: loads and attaches the programs, starts the workload, drains the ring
//! buffer into events, and ends when the traced tree has ended (or the driver is stopped).
//!
//! Everything the kernel side owns lives in this thread's stack frame: the links are dropped
//! (and the programs detached) when it returns, and nothing is pinned, so a killed agent leaves
//! nothing attached.

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use lanner_common::driver::{Command, Target};
use lanner_common::event::{DropEvent, Event, EventKind, ExitStatus};
use lanner_common::syscalls::{Abi, SyscallId};
use lanner_common::{DriverError, OpenFilter, SyscallSet};
use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags, RingBufferBuilder, TracepointCategory};

use crate::assemble::Assembler;
use crate::fentry::{self, KernelBtf, Side, Stub};
use crate::records;
use crate::skel::{LannerSkel, LannerSkelBuilder};
use crate::{plan, tracefs, AttachMode, Options};

/// How long the reader sleeps when the kernel side has not woken it.
const POLL: Duration = Duration::from_millis(5);
/// Scratch areas per CPU (`SLOTS_PER_CPU` in lanner.bpf.c: syscall entry, exit, lifecycle).
const SCRATCH_SLOTS_PER_CPU: u32 = 3;
/// Records taken from the ring buffer per round.
const RECORDS_PER_ROUND: usize = 4096;
/// Events handed over at once.
const BATCH: usize = 512;

/// What the reader thread sends.
pub enum Message {
    /// Events, in order.
    Events(Vec<Event>),
    /// Tracing is over.
    End(Option<ExitStatus>),
    /// Tracing failed.
    Failed(DriverError),
}

/// Counters shared with the driver handle.
#[derive(Debug, Default)]
pub struct Shared {
    pub seen: AtomicU64,
    pub dropped: AtomicU64,
    /// Opens the kernel side left out (the open filter).
    pub filtered: AtomicU64,
    /// A new open filter, from a rules reload.
    pub open_filter: lanner_common::paths::FilterUpdate,
    pub stop: AtomicBool,
}

/// What the thread needs to start.
pub struct Setup {
    pub mode: AttachMode,
    pub target: Target,
    pub interest: SyscallSet,
    pub reporting: plan::Reporting,
    pub options: Options,
}

fn unavailable(reason: String) -> DriverError {
    DriverError::Unavailable {
        driver: "ebpf",
        reason,
    }
}

/// libbpf's messages while loading, so that a refused program's verifier log reaches the user.
static LIBBPF_LOG: Mutex<String> = Mutex::new(String::new());

pub fn collect_libbpf_log(level: libbpf_rs::PrintLevel, message: String) {
    if level == libbpf_rs::PrintLevel::Debug {
        return;
    }
    let mut log = LIBBPF_LOG.lock().unwrap_or_else(|p| p.into_inner());
    // The verifier log can be long; its end says what was refused.
    if log.len() > 64 * 1024 {
        let cut = log.len() - 32 * 1024;
        log.replace_range(..cut, "...\n");
    }
    log.push_str(&message);
}

pub fn load_error(what: &str, err: libbpf_rs::Error) -> DriverError {
    let log = std::mem::take(&mut *LIBBPF_LOG.lock().unwrap_or_else(|p| p.into_inner()));
    let tail: Vec<&str> = log.lines().rev().take(40).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    unavailable(if tail.is_empty() {
        format!("{what}: {err}")
    } else {
        format!("{what}: {err}\nlibbpf said:\n{}", tail.join("\n"))
    })
}

fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

/// Opens, configures and loads the programs.
fn load<'obj>(
    object: &'obj mut MaybeUninit<libbpf_rs::OpenObject>,
    setup: &Setup,
    fentry_targets: Option<&FentryTargets>,
) -> Result<LannerSkel<'obj>, DriverError> {
    libbpf_rs::set_print(Some((libbpf_rs::PrintLevel::Info, collect_libbpf_log)));
    let open = LannerSkelBuilder::default()
        .open(object)
        .map_err(|e| load_error("opening the programs", e))?;
    let mut open = open;
    // The fentry probe program is for `probe` alone (a kernel that refuses trampolines must
    // not fail the load of everything else).
    open.progs.lanner_fentry_probe.set_autoload(false);
    // Only the attach mode's syscall programs: each pair costs the verifier about as much as
    // all the others together (half of the driver's start-up).
    let raw = setup.mode == AttachMode::Raw;
    // The fentry mode falls back on tracepoints for syscalls without a function in BTF.
    let tracepoints = match setup.mode {
        AttachMode::Raw => false,
        AttachMode::PerSyscall => true,
        AttachMode::Fentry => fentry_targets.is_some_and(FentryTargets::needs_tracepoints),
    };
    let trampolines = setup.mode == AttachMode::Fentry;
    open.progs.lanner_sys_enter.set_autoload(raw);
    open.progs.lanner_sys_exit.set_autoload(raw);
    open.progs.lanner_tp_enter.set_autoload(tracepoints);
    open.progs.lanner_tp_exit.set_autoload(tracepoints);
    open.progs.lanner_fentry_body.set_autoload(trampolines);
    open.progs.lanner_fexit_body.set_autoload(trampolines);
    if let Some(rodata) = open.maps.rodata_data.as_deref_mut() {
        rodata.agent_tgid = std::process::id();
        rodata.system_wide = u32::from(matches!(setup.target, Target::System));
        rodata.wake_bytes = (setup.options.ring_bytes / 4) as u64;
        rodata.floor_only = u32::from(setup.options.floor);
    }
    let cpus = libbpf_rs::num_possible_cpus().map_err(|e| load_error("counting the CPUs", e))?;
    open.maps
        .scratch
        .set_max_entries(cpus as u32 * SCRATCH_SLOTS_PER_CPU)
        .map_err(|e| load_error("sizing the scratch map", e))?;
    open.maps
        .events
        .set_max_entries(setup.options.ring_bytes as u32)
        .map_err(|e| load_error("sizing the ring buffer", e))?;
    open.load()
        .map_err(|e| load_error("loading the programs", e))
}

fn fill_plans(skel: &LannerSkel<'_>, setup: &Setup) -> Result<(), DriverError> {
    let plans = plan::build(&setup.interest, &setup.reporting);
    for (slot, p) in plans.iter().enumerate() {
        if p.traced == 0 {
            continue;
        }
        skel.maps
            .plans
            .update(&(slot as u32).to_ne_bytes(), &plan::bytes(p), MapFlags::ANY)
            .map_err(|e| unavailable(format!("writing the syscall plan: {e}")))?;
    }
    Ok(())
}

/// Puts `next` in force in the kernel over `before` (the filter in force, if any): tries and
/// flags. In two steps, so that no open either filter keeps is left out meanwhile: first
/// what both keep, then `next` alone (values rewritten, then the other entries deleted: a
/// lookup that loses its longest match falls back to a shorter entry, already `next`'s).
fn put_open_filter(
    skel: &mut LannerSkel<'_>,
    before: Option<&OpenFilter>,
    next: &OpenFilter,
) -> Result<(), DriverError> {
    let fail = |e: libbpf_rs::Error| unavailable(format!("writing the open filter: {e}"));
    // The quick test of a path's first bytes is off while the tries change.
    set_open_heads(skel, None);
    let both = match before {
        Some(before) => crate::open_filter::union(before, next),
        None => next.clone(),
    };
    set_open_flags(skel, &both);
    let (prefixes, suffixes) = crate::open_filter::entries(&both);
    write_entries(&skel.maps.open_prefixes, &prefixes).map_err(fail)?;
    write_entries(&skel.maps.open_suffixes_trie, &suffixes).map_err(fail)?;
    let (next_prefixes, next_suffixes) = crate::open_filter::entries(next);
    for (trie, old, new) in [
        (&skel.maps.open_prefixes, prefixes, next_prefixes),
        (&skel.maps.open_suffixes_trie, suffixes, next_suffixes),
    ] {
        write_entries(trie, &new).map_err(fail)?;
        for (key, _) in old.iter().filter(|(k, _)| !new.iter().any(|(n, _)| n == k)) {
            trie.delete(key).map_err(fail)?;
        }
    }
    set_open_flags(skel, next);
    set_open_heads(skel, crate::open_filter::heads(next));
    Ok(())
}

/// Puts `heads` in force (`None`: off), turning the test off while it writes them.
fn set_open_heads(skel: &mut LannerSkel<'_>, heads: Option<Vec<[u64; 2]>>) {
    let Some(bss) = skel.maps.bss_data.as_deref_mut() else {
        return;
    };
    bss.open_heads_on = 0;
    let Some(heads) = heads else {
        return;
    };
    for (slot, head) in bss.open_heads.iter_mut().zip(&heads) {
        *slot = *head;
    }
    bss.open_nheads = heads.len() as u32;
    // Seen by the programs after the heads: the writes above are to the same mmap'd page,
    // and x86 keeps stores in order; the fence keeps the compiler from reordering them.
    std::sync::atomic::fence(Ordering::Release);
    bss.open_heads_on = 1;
}

fn write_entries(
    trie: &libbpf_rs::MapMut<'_>,
    entries: &[crate::open_filter::Entry],
) -> Result<(), libbpf_rs::Error> {
    for (key, access) in entries {
        trie.update(key, &[*access], MapFlags::ANY)?;
    }
    Ok(())
}

fn set_open_flags(skel: &mut LannerSkel<'_>, filter: &OpenFilter) {
    if let Some(bss) = skel.maps.bss_data.as_deref_mut() {
        bss.open_keep_writes = u32::from(filter.keep_writes);
        bss.open_skip_dirs = u32::from(filter.directories_left_out);
        bss.open_suffixes = u32::from(
            filter
                .rules
                .iter()
                .any(|r| matches!(r.pattern, lanner_common::PathPattern::Suffix(_))),
        );
    }
}

/// What is attached: links libbpf made, and the fentry mode's stubs.
#[derive(Default)]
struct Attached {
    links: Vec<Link>,
    stubs: Vec<Stub>,
}

/// The fentry mode's targets: each traced x86_64 syscall with the BTF id of its function, or
/// None where BTF has none (the syscall's tracepoints then stand in).
struct FentryTargets(Vec<(SyscallId, Option<u32>)>);

impl FentryTargets {
    fn find(interest: &SyscallSet) -> Result<FentryTargets, DriverError> {
        let btf = KernelBtf::load().map_err(unavailable)?;
        let proto = btf.body_prototype().ok_or_else(|| {
            unavailable("the kernel's BTF has no __x64_sys_close for the fentry bodies".into())
        })?;
        Ok(FentryTargets(
            interest
                .iter()
                .filter(|id| id.number_in(Abi::X86_64).is_some())
                .map(|id| (id, btf.syscall_function(id.name(), proto)))
                .collect(),
        ))
    }

    fn needs_tracepoints(&self) -> bool {
        self.0.iter().any(|(_, function)| function.is_none())
    }
}

/// Attaches the per-syscall tracepoint programs for `id`: at its entry unless it is reported
/// at its exit, at its exit unless it is reported at its entry. Returns false when the kernel
/// has no tracepoint for it.
fn attach_tracepoints(
    skel: &LannerSkel<'_>,
    id: SyscallId,
    setup: &Setup,
    links: &mut Vec<Link>,
) -> Result<bool, DriverError> {
    let progs = &skel.progs;
    let Some(event) = tracefs::syscall_event(id.name()) else {
        return Ok(false);
    };
    let category = TracepointCategory::Syscalls;
    let plan = plan::plan_of(id, &setup.reporting);
    if plan::needs_entry_program(&plan) {
        let enter = progs
            .lanner_tp_enter
            .attach_tracepoint(category.clone(), format!("sys_enter_{event}"));
        links.push(
            enter.map_err(|e| {
                unavailable(format!("attaching to syscalls:sys_enter_{event}: {e}"))
            })?,
        );
    }
    if plan::needs_exit_program(&plan) {
        let exit = progs
            .lanner_tp_exit
            .attach_tracepoint(category, format!("sys_exit_{event}"));
        links.push(
            exit.map_err(|e| unavailable(format!("attaching to syscalls:sys_exit_{event}: {e}")))?,
        );
    }
    Ok(true)
}

fn attach(
    skel: &mut LannerSkel<'_>,
    setup: &Setup,
    fentry_targets: Option<&FentryTargets>,
) -> Result<Attached, DriverError> {
    let progs = &skel.progs;
    let mut links = Vec::new();
    let mut stubs = Vec::new();
    for (name, prog) in [
        ("sched_process_fork", &progs.lanner_fork),
        ("sched_process_exec", &progs.lanner_exec),
        ("sched_process_exit", &progs.lanner_task_exit),
    ] {
        links.push(
            prog.attach()
                .map_err(|e| unavailable(format!("attaching to the {name} tracepoint: {e}")))?,
        );
    }
    match setup.mode {
        AttachMode::Raw => {
            for (name, prog) in [
                ("sys_enter", &progs.lanner_sys_enter),
                ("sys_exit", &progs.lanner_sys_exit),
            ] {
                links.push(prog.attach().map_err(|e| {
                    unavailable(format!("attaching to the {name} raw tracepoint: {e}"))
                })?);
            }
        }
        AttachMode::PerSyscall => {
            tracefs::ensure_mounted().map_err(unavailable)?;
            let mut blind = Vec::new();
            for id in setup.interest.iter() {
                if id.number_in(Abi::X86_64).is_none() {
                    continue; // i386-only: these tracepoints never see 32-bit calls
                }
                if !attach_tracepoints(skel, id, setup, &mut links)? {
                    blind.push(id.name());
                }
            }
            if !blind.is_empty() {
                tracing::warn!(
                    "per-syscall eBPF mode: the kernel has no tracepoint for {}; these calls \
                     are not seen (the raw mode sees them)",
                    blind.join(", ")
                );
            }
        }
        AttachMode::Fentry => {
            let targets = fentry_targets
                .ok_or_else(|| DriverError::Internal("fentry mode without its targets".into()))?;
            for (bodies, body) in [
                (&skel.maps.fentry_bodies, &progs.lanner_fentry_body),
                (&skel.maps.fexit_bodies, &progs.lanner_fexit_body),
            ] {
                let body_fd = body.as_fd().as_raw_fd();
                bodies
                    .update(&0u32.to_ne_bytes(), &body_fd.to_ne_bytes(), MapFlags::ANY)
                    .map_err(|e| unavailable(format!("installing the fentry bodies: {e}")))?;
            }
            if targets.needs_tracepoints() {
                tracefs::ensure_mounted().map_err(unavailable)?;
            }
            let mut blind = Vec::new();
            for &(id, function) in &targets.0 {
                let Some(function) = function else {
                    if !attach_tracepoints(skel, id, setup, &mut links)? {
                        blind.push(id.name());
                    }
                    continue;
                };
                let plan = plan::plan_of(id, &setup.reporting);
                let sides = [
                    (
                        plan::needs_entry_program(&plan),
                        Side::Entry,
                        skel.maps.fentry_bodies.as_fd(),
                    ),
                    (
                        plan::needs_exit_program(&plan),
                        Side::Exit,
                        skel.maps.fexit_bodies.as_fd(),
                    ),
                ];
                for (_, side, bodies) in sides.into_iter().filter(|(needed, ..)| *needed) {
                    stubs
                        .push(fentry::attach_stub(function, side, &bodies).map_err(|e| {
                            unavailable(format!("fentry mode, {}: {e}", id.name()))
                        })?);
                }
            }
            if !blind.is_empty() {
                tracing::warn!(
                    "fentry eBPF mode: the kernel has neither a function in BTF nor a \
                     tracepoint for {}; these calls are not seen (the raw mode sees them)",
                    blind.join(", ")
                );
            }
        }
    }
    Ok(Attached { links, stubs })
}

/// Starts the workload from this thread, which the fork program recognises as the spawner.
fn spawn(skel: &LannerSkel<'_>, command: &Command) -> Result<std::process::Child, DriverError> {
    let program = command.argv.first().cloned().unwrap_or_default();
    // Resolved here, as the ptrace driver does, so that the workload's tree starts with one
    // exec of the program rather than a PATH search's failed attempts.
    let path = lanner_common::driver::resolve_program(&program)?;
    let key = 0u32.to_ne_bytes();
    skel.maps
        .spawner
        .update(&key, &gettid().to_ne_bytes(), MapFlags::ANY)
        .map_err(|e| unavailable(format!("marking the spawning thread: {e}")))?;
    let mut cmd = std::process::Command::new(&path);
    cmd.arg0(&program).args(command.argv.iter().skip(1));
    let unmark = || {
        skel.maps
            .spawner
            .update(&key, &0u32.to_ne_bytes(), MapFlags::ANY)
    };
    if let Some(cwd) = &command.cwd {
        // Checked first: the spawn's own error would not say which step failed.
        if let Err(err) = std::fs::read_dir(cwd) {
            let _ = unmark();
            return Err(DriverError::Spawn {
                program,
                source: std::io::Error::new(
                    err.kind(),
                    format!("changing directory to {}: {err}", cwd.display()),
                ),
            });
        }
        cmd.current_dir(cwd);
    }
    let child = cmd.spawn();
    // Nothing else this thread forks may join the scope.
    let cleared = unmark();
    let child = child.map_err(|err| DriverError::Spawn {
        program,
        source: std::io::Error::new(err.kind(), format!("executing: {err}")),
    })?;
    cleared.map_err(|e| unavailable(format!("unmarking the spawning thread: {e}")))?;
    Ok(child)
}

/// Sums a per-CPU counter.
fn counter(skel: &LannerSkel<'_>, index: u32) -> u64 {
    match skel
        .maps
        .counters
        .lookup_percpu(&index.to_ne_bytes(), MapFlags::ANY)
    {
        Ok(Some(values)) => values
            .iter()
            .filter_map(|v| v.get(..8).and_then(|b| b.try_into().ok()))
            .map(u64::from_ne_bytes)
            .sum(),
        _ => 0,
    }
}

/// How often the programs' skipped runs are read.
const MISSES_EVERY: Duration = Duration::from_millis(100);
/// How often the kernel's loss counters are read and the workload's root is waited for. Each
/// costs a syscall, and a busy reader runs thousands of rounds a second: done every round,
/// they were half of its CPU under an open/close loop. A loss is reported at most this much
/// later (and every one at the end).
const CHECKS_EVERY: Duration = Duration::from_millis(10);

/// The runs of our programs the kernel skipped (their `recursion_misses`). The fentry mode's
/// stubs count them: the bodies they tail-call are entered through no trampoline of their own.
fn recursion_misses(skel: &LannerSkel<'_>, stubs: &[RawFd]) -> u64 {
    let progs = &skel.progs;
    [
        &progs.lanner_sys_enter,
        &progs.lanner_sys_exit,
        &progs.lanner_tp_enter,
        &progs.lanner_tp_exit,
        &progs.lanner_fork,
        &progs.lanner_exec,
        &progs.lanner_task_exit,
    ]
    .iter()
    // Only the loaded ones have a descriptor (the other attach modes' programs are not loaded).
    .filter(|prog| prog.autoload())
    .map(|prog| prog.as_fd().as_raw_fd())
    .chain(stubs.iter().copied())
    .filter_map(program_misses)
    .sum()
}

/// Program `fd`'s `recursion_misses`, asked of the kernel in one call (the fentry mode's
/// stubs made the /proc/self/fdinfo text read and parsed per program a hundred reads every
/// [`MISSES_EVERY`]).
fn program_misses(fd: RawFd) -> Option<u64> {
    let mut info = libbpf_sys::bpf_prog_info::default();
    let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
    // SAFETY: a program descriptor, and an info struct of the size passed, which the kernel
    // fills up to that size.
    let rc = unsafe { libbpf_sys::bpf_prog_get_info_by_fd(fd, &mut info, &mut len) };
    (rc == 0).then_some(info.recursion_misses)
}

/// A cumulative loss count, reported in the stream as a drop event for what it grew by
/// since the last report.
struct Losses {
    reported: u64,
    reason: &'static str,
}

impl Losses {
    fn new(reason: &'static str) -> Self {
        Losses {
            reported: 0,
            reason,
        }
    }

    fn report(&mut self, total: u64, ts: u64, owner: u32, out: &mut Vec<Event>) {
        if total > self.reported {
            out.push(Event {
                ts,
                pid: owner,
                tid: owner,
                kind: EventKind::Drop(DropEvent {
                    count: total - self.reported,
                    reason: self.reason,
                }),
            });
            self.reported = total;
        }
    }
}

/// Every loss the kernel side or the parsing counts, each reported as it grows. Losses are not
/// any one process's: they are charged to `owner`, the workload as a whole (its root), or to
/// no process (0) when the whole system is watched.
struct LossReports {
    ring_full: Losses,
    scope_full: Losses,
    skipped: Losses,
    bad_records: Losses,
    owner: u32,
    /// Opens the kernel side left out, as last read (not a loss: no rule could match them).
    opens_left_out: u64,
    /// When the kernel's counters were last read (a syscall each).
    counters_read: Instant,
    /// When the skipped program runs were last read (a syscall per program and per stub).
    skipped_read: Instant,
    /// The fentry mode's stub programs.
    stubs: Vec<RawFd>,
}

impl LossReports {
    fn new(skel: &LannerSkel<'_>, owner: u32, stubs: Vec<RawFd>) -> Self {
        let mut skipped = Losses::new("the kernel skipped a program already running on that CPU");
        skipped.reported = recursion_misses(skel, &stubs);
        LossReports {
            stubs,
            ring_full: Losses::new("the ring buffer was full"),
            scope_full: Losses::new("the scope map was full: a new process was not traced"),
            skipped,
            bad_records: Losses::new("a ring buffer record was malformed"),
            owner,
            opens_left_out: 0,
            counters_read: Instant::now(),
            skipped_read: Instant::now(),
        }
    }

    /// Drop events for what grew since the last report, at `ts`. What is costly to read is
    /// read only now and then: the kernel's counters every [`CHECKS_EVERY`], skipped program
    /// runs every [`MISSES_EVERY`]; everything when `all` (at the end).
    fn report(
        &mut self,
        skel: &LannerSkel<'_>,
        malformed: u64,
        all: bool,
        ts: u64,
        out: &mut Vec<Event>,
    ) {
        let owner = self.owner;
        let now = Instant::now();
        if all || now.duration_since(self.counters_read) > CHECKS_EVERY {
            self.counters_read = now;
            self.ring_full.report(counter(skel, 1), ts, owner, out);
            self.scope_full.report(counter(skel, 2), ts, owner, out);
            self.opens_left_out = counter(skel, 3);
        }
        self.bad_records.report(malformed, ts, owner, out);
        if all || now.duration_since(self.skipped_read) > MISSES_EVERY {
            self.skipped_read = now;
            self.skipped
                .report(recursion_misses(skel, &self.stubs), ts, owner, out);
        }
    }
}

/// Whether a process still exists (a zombie counts: its exit record may still be coming).
fn exists(pid: u32) -> bool {
    // SAFETY: signal 0 only checks.
    let rc = unsafe { libc::kill(pid as i32, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Waits until the ring buffer's epoll fd says data is there (the kernel side wakes it only
/// when the buffer is filling up), or `timeout`.
fn wait_readable(epoll_fd: i32, timeout: Duration) {
    let mut event = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: epoll_wait fills at most one event into `event`.
    unsafe {
        libc::epoll_wait(epoll_fd, &mut event, 1, timeout.as_millis() as i32);
    }
}

/// How far out of time order records of different CPUs can arrive: a record's time is taken
/// microseconds before it is written, and another CPU may write in between.
const REORDER_WINDOW_NS: u64 = 2_000_000;

/// Puts events back in time order: the ring buffer is in order of writing, not of timestamps.
/// Events are held until nothing older can still arrive: until they are a window older than
/// the newest, or until a poll brings nothing new.
#[derive(Default)]
struct Reorder {
    held: std::collections::VecDeque<Event>,
    /// The time of the last event handed over.
    released: u64,
}

impl Reorder {
    /// The time of the newest event seen so far (held, released or in `fresh`): drop records
    /// get it, so that they sit where the loss was noticed instead of after events still
    /// waiting in the buffer.
    fn latest(&self, fresh: &[Event]) -> u64 {
        let fresh = fresh.iter().map(|e| e.ts).max().unwrap_or(0);
        let held = self.held.back().map_or(0, |e| e.ts);
        fresh.max(held).max(self.released)
    }

    /// Takes `events` in, keeping the held ones in time order. Almost every event is newer
    /// than all held ones and goes at the back; the few that are not are inserted near it
    /// (events are large: sorting the whole window each round moved far more memory).
    fn hold(&mut self, events: &mut Vec<Event>) {
        for event in events.drain(..) {
            if self.held.back().is_none_or(|last| last.ts <= event.ts) {
                self.held.push_back(event);
            } else {
                let at = self.held.partition_point(|held| held.ts <= event.ts);
                self.held.insert(at, event);
            }
        }
    }

    /// Moves the events that are safe to hand over into `out` (all of them when `all`).
    fn release(&mut self, all: bool, out: &mut Vec<Event>) {
        let cut = match self.held.back() {
            None => return,
            Some(_) if all => self.held.len(),
            Some(newest) => {
                let horizon = newest.ts.saturating_sub(REORDER_WINDOW_NS);
                self.held.partition_point(|event| event.ts <= horizon)
            }
        };
        out.extend(self.held.drain(..cut));
        if let Some(last) = out.last() {
            self.released = self.released.max(last.ts);
        }
    }
}

/// Counts what is handed over: drop records count as what they lost, everything else as seen.
fn account(shared: &Shared, events: &[Event]) {
    for event in events {
        match &event.kind {
            EventKind::Drop(drop) => shared.dropped.fetch_add(drop.count, Ordering::Relaxed),
            _ => shared.seen.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// The reader thread's body. `started` receives the workload's pid (or the failure) once.
pub fn run(
    setup: Setup,
    shared: Arc<Shared>,
    tx: Sender<Message>,
    spent: Receiver<Vec<Event>>,
    started: Sender<Result<Option<u32>, DriverError>>,
) {
    let fentry_targets = match setup.mode {
        AttachMode::Fentry => match FentryTargets::find(&setup.interest) {
            Ok(targets) => Some(targets),
            Err(err) => {
                let _ = started.send(Err(err));
                return;
            }
        },
        _ => None,
    };
    let mut object = MaybeUninit::uninit();
    let mut skel = match load(&mut object, &setup, fentry_targets.as_ref()) {
        Ok(skel) => skel,
        Err(err) => {
            let _ = started.send(Err(err));
            return;
        }
    };
    // The filter in force (the plans of its calls name their path and flags).
    let mut open_filter = setup.reporting.open_filter.clone();
    let prepared = fill_plans(&skel, &setup)
        .and_then(|()| match &open_filter {
            Some(filter) => put_open_filter(&mut skel, None, filter),
            None => Ok(()),
        })
        .and_then(|()| attach(&mut skel, &setup, fentry_targets.as_ref()));
    let attached = match prepared {
        Ok(attached) => attached,
        Err(err) => {
            let _ = started.send(Err(err));
            return;
        }
    };
    let mut child = match &setup.target {
        Target::Command(command) => match spawn(&skel, command) {
            Ok(child) => Some(child),
            Err(err) => {
                let _ = started.send(Err(err));
                return;
            }
        },
        Target::System => None,
        _ => {
            let _ = started.send(Err(DriverError::UnsupportedTarget {
                driver: "ebpf",
                what: "this target",
            }));
            return;
        }
    };
    let root = child.as_ref().map(std::process::Child::id);
    let _ = started.send(Ok(root));
    // Ahead of the workload from here on (it was spawned above and keeps its own priority):
    // a reader starved by a busy workload lets the ring buffer overflow.
    if let Err(err) = lanner_common::priority::raise_current_thread() {
        tracing::debug!("the ring buffer reader keeps its priority: {err}");
    }

    // The ring buffer callback parses each record and hands it to the assembler at once (no
    // queue of parsed records in between: each move of a record showed in profiles); the
    // events it completes wait in `fresh` for the loop below.
    let assembler = RefCell::new(Assembler::new(root, setup.reporting.result_filters.clone()));
    let fresh: RefCell<Vec<Event>> = RefCell::new(Vec::with_capacity(BATCH));
    // Records that did not parse, in all.
    let malformed = std::cell::Cell::new(0u64);
    let mut builder = RingBufferBuilder::new();
    let added = builder
        .add(&skel.maps.events, |data: &[u8]| {
            match records::parse(data) {
                Ok(record) => assembler.borrow_mut().push(record, &mut fresh.borrow_mut()),
                Err(err) => {
                    tracing::warn!("{err}");
                    malformed.set(malformed.get() + 1);
                }
            }
            0
        })
        .map(|_| ());
    let ring = match added.and_then(|()| builder.build()) {
        Ok(ring) => ring,
        Err(err) => {
            let _ = tx.send(Message::Failed(unavailable(format!(
                "reading the ring buffer: {err}"
            ))));
            return;
        }
    };

    let mut out: Vec<Event> = Vec::with_capacity(BATCH);
    let mut reorder = Reorder::default();
    let stub_programs = attached
        .stubs
        .iter()
        .map(|stub| stub.program.as_raw_fd())
        .collect();
    let mut losses = LossReports::new(&skel, root.unwrap_or(0), stub_programs);
    let mut last_root_wait = Instant::now();
    let mut root_status: Option<ExitStatus> = None;
    let mut root_done = child.is_none();
    let mut last_liveness = Instant::now();
    let mut stopping = false;
    loop {
        // At most a batch of records per round (consuming "everything" never ends while a
        // storm keeps writing), so events are handed over while the storm goes on.
        let taken = ring.consume_raw_n(RECORDS_PER_ROUND);
        if taken <= 0 {
            wait_readable(ring.epoll_fd(), POLL);
        }
        let arrived = taken > 0;
        take_fresh(&fresh, &mut out);
        // Events the consumer is done with are freed here, where they were allocated.
        while let Ok(batch) = spent.try_recv() {
            drop(batch);
        }
        // Losses the kernel side counted, as drop events in the stream (runs the kernel
        // skipped because the same program was already running on that CPU, a syscall program
        // preempted mid-run, among them).
        let ts = reorder.latest(&out);
        losses.report(&skel, malformed.get(), false, ts, &mut out);
        shared
            .filtered
            .store(losses.opens_left_out, Ordering::Relaxed);
        reorder.hold(&mut out);
        reorder.release(!arrived, &mut out);
        account(&shared, &out);
        if !out.is_empty() {
            let batch = std::mem::replace(&mut out, Vec::with_capacity(BATCH));
            match tx.try_send(Message::Events(batch)) {
                Ok(()) => {}
                Err(TrySendError::Full(message)) => {
                    // The consumer is behind: wait for it (the kernel side keeps writing into
                    // the ring buffer meanwhile, and counts what does not fit).
                    if tx.send(message).is_err() {
                        return;
                    }
                }
                Err(TrySendError::Disconnected(_)) => return,
            }
        }

        if let Some(next) = shared.open_filter.take() {
            // A rules reload. Without a filter at start, the plans name no open: nothing to do.
            if let Some(before) = open_filter.take() {
                let next = next.unwrap_or_else(|| OpenFilter::keep_all(before.calls.clone()));
                if let Err(err) = put_open_filter(&mut skel, Some(&before), &next) {
                    tracing::error!("the open filter could not be changed: {err}");
                }
                open_filter = Some(next);
            }
        }

        let root_wait_due = last_root_wait.elapsed() > CHECKS_EVERY;
        if let Some(c) = child.as_mut().filter(|_| root_wait_due) {
            last_root_wait = Instant::now();
            if !root_done {
                if let Ok(Some(status)) = c.try_wait() {
                    root_status = ExitStatus::from_wait_status(status.into_raw());
                    root_done = true;
                }
            }
        }
        let mut finished = false;
        if shared.stop.load(Ordering::SeqCst) && !stopping {
            stopping = true;
            match child.as_mut() {
                // The whole system: stop watching (what is written is taken below), and touch
                // nothing.
                None => finished = true,
                Some(c) => {
                    // A started workload is killed, with every process of its tree.
                    let _ = c.kill();
                    for pid in assembler.borrow().live().collect::<Vec<_>>() {
                        // SAFETY: plain kill(2) of a process of the traced tree (the scope map
                        // holds only processes descended from the workload).
                        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                    }
                }
            }
        }
        if root.is_some() && root_done {
            // Processes whose exit record was lost would keep the trace open forever: check
            // now and then that the ones still counted as live exist.
            if last_liveness.elapsed() > Duration::from_millis(200) {
                last_liveness = Instant::now();
                let gone: Vec<u32> = assembler
                    .borrow()
                    .live()
                    .filter(|&pid| !exists(pid))
                    .collect();
                if !gone.is_empty() {
                    // A process that is gone wrote all its records, its exit among them, but
                    // the reader may not have taken them yet: take everything first, or a
                    // process forgotten here would have its last syscall's entry forgotten
                    // with it, and its exit record would then look like one without entry.
                    take_everything(&ring, &fresh, &mut out);
                    for pid in gone {
                        assembler.borrow_mut().forget(pid);
                    }
                }
            }
            finished = assembler.borrow().all_ended();
        }
        if finished {
            // Everything that happened before the end is in the buffer: take it all.
            take_everything(&ring, &fresh, &mut out);
            // Every loss up to the very end, not only up to the last look at the counters.
            let ts = reorder.latest(&out);
            losses.report(&skel, malformed.get(), true, ts, &mut out);
            shared
                .filtered
                .store(losses.opens_left_out, Ordering::Relaxed);
            if let Some(status) = root_status {
                let ts = reorder.latest(&out);
                assembler
                    .borrow_mut()
                    .root_ended_unseen(status, ts, &mut out);
            }
            reorder.hold(&mut out);
            reorder.release(true, &mut out);
            if !out.is_empty() {
                account(&shared, &out);
                let _ = tx.send(Message::Events(std::mem::take(&mut out)));
            }
            break;
        }
    }
    detach_in_background(attached);
    let _ = tx.send(Message::End(root_status));
}

/// Moves the events the ring buffer callback completed into `out`.
fn take_fresh(fresh: &RefCell<Vec<Event>>, out: &mut Vec<Event>) {
    let mut fresh = fresh.borrow_mut();
    if out.is_empty() {
        // The usual case: hand over the whole vector instead of moving each event.
        std::mem::swap(out, &mut fresh);
    } else {
        out.append(&mut fresh);
    }
}

/// Takes every record written so far into the assembler.
fn take_everything(
    ring: &libbpf_rs::RingBuffer<'_>,
    fresh: &RefCell<Vec<Event>>,
    out: &mut Vec<Event>,
) {
    loop {
        let taken = ring.consume_raw_n(RECORDS_PER_ROUND);
        take_fresh(fresh, out);
        if taken <= 0 {
            return;
        }
    }
}

/// Detaches the links without making the agent wait. Closing a tracepoint's perf event waits
/// for RCU grace periods under a global mutex: the hundred-odd links of the per-syscall mode
/// take seconds, one after the other, whoever closes them last. So a short-lived grandchild
/// inherits the descriptors, waits until the agent has dropped its own references (cheap, not
/// the last), and then closes them as it exits, while the agent goes on. The programs are
/// detached all the same, a few seconds later.
fn detach_in_background(attached: Attached) {
    if attached.links.len() + attached.stubs.len() <= 8 {
        return; // dropped on return; a handful costs little
    }
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return; // dropped here, slowly
    }
    let [read_end, write_end] = fds;
    // SAFETY: fork in a multi-threaded process; the children only call fork, close, read and
    // _exit, which are async-signal-safe (exiting closes the inherited descriptors).
    unsafe {
        let child = libc::fork();
        if child == 0 {
            if libc::fork() != 0 {
                libc::_exit(0);
            }
            // The grandchild, nobody's child to reap: wait for the agent's references to go.
            libc::close(write_end);
            let mut byte = 0u8;
            while libc::read(read_end, (&mut byte as *mut u8).cast(), 1) < 0 {}
            libc::_exit(0);
        }
        libc::close(read_end);
        if child > 0 {
            let mut status = 0;
            libc::waitpid(child, &mut status, 0);
        }
    }
    drop(attached);
    // SAFETY: our end of the pipe; the grandchild sees end-of-file and exits.
    unsafe { libc::close(write_end) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel answers a loaded program's skipped runs (0: it never ran), and a descriptor
    /// that is no program gets none.
    #[test]
    fn a_loaded_programs_skipped_runs_are_read_from_the_kernel() {
        if !crate::probe().available_for_test() {
            return;
        }
        let mut object = MaybeUninit::uninit();
        let mut open = LannerSkelBuilder::default()
            .open(&mut object)
            .expect("the embedded object opens");
        for mut prog in open.open_object_mut().progs_mut() {
            let fork = prog.name() == std::ffi::OsStr::new("lanner_fork");
            prog.set_autoload(fork);
        }
        open.maps
            .events
            .set_max_entries(4096)
            .expect("sizing the ring buffer");
        let skel = open.load().expect("the fork program loads");
        let fd = skel.progs.lanner_fork.as_fd().as_raw_fd();
        assert_eq!(program_misses(fd), Some(0));
        let not_a_program = std::fs::File::open("/dev/null").expect("/dev/null");
        assert_eq!(program_misses(not_a_program.as_raw_fd()), None);
    }
}
