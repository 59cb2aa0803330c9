//! Helpers for the driver integration tests: running a workload under a real driver with a
//! deadline, picking events out of the stream, scratch directories.

#![allow(dead_code)]

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lanner_common::driver::{Command, DriverStats, Next, Target};
use lanner_common::event::{Event, EventKind, ExecEvent, ExitStatus, ForkEvent, SyscallEvent};
use lanner_common::{Driver, DriverError, SyscallSet};
use lanner_driver_ptrace::PtraceDriver;

/// Longest any single workload may run before the test gives up (and kills it).
pub const DEADLINE: Duration = Duration::from_secs(15);

/// One driver at a time in this process.
///
/// The ptrace driver's tracer thread waits with `waitpid(-1, __WALL)` (it must, to reap the
/// orphans it becomes the subreaper of), and that wait sees the children and tracees of every
/// thread of the process. Two drivers running at once in one process would take each other's
/// wait reports, and a `std::process::Command` child (strace) could be reaped by a tracer. The
/// agent only ever runs one driver; the tests run one at a time to match.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The drivers the shared suite runs every test under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ptrace,
    Ebpf,
    /// The eBPF driver in its per-syscall attach mode.
    EbpfPerSyscall,
    /// The eBPF driver in its fentry attach mode (kernels that accept trampolines).
    EbpfFentry,
}

/// Runs the `ebpf` cases in another attach mode than auto's (`raw`, `per-syscall`,
/// `fentry`): `cargo xtask kernel-test` runs the suite again in the fentry mode on kernels
/// that accept it.
pub const EBPF_MODE_ENV: &str = "LANNER_TEST_EBPF_MODE";

/// The attach mode [`EBPF_MODE_ENV`] names, if any.
fn ebpf_mode_from_env() -> Option<lanner_driver_ebpf::AttachMode> {
    use lanner_driver_ebpf::AttachMode;
    let name = std::env::var(EBPF_MODE_ENV).ok()?;
    let mode = [AttachMode::Raw, AttachMode::PerSyscall, AttachMode::Fentry]
        .into_iter()
        .find(|m| m.name() == name);
    assert!(mode.is_some(), "{EBPF_MODE_ENV}={name}: not an attach mode");
    mode
}

/// Whether the eBPF driver's fentry mode can run here; prints why not when it cannot (the test
/// then skips), or panics where `LANNER_TEST_REQUIRE` names `ebpf-fentry`.
pub fn fentry_available() -> bool {
    lanner_driver_ebpf::probe().feature_for_test("fentry", "ebpf-fentry")
}

thread_local! {
    /// The driver this test thread uses (each test runs on its own thread).
    static KIND: std::cell::Cell<Kind> = const { std::cell::Cell::new(Kind::Ptrace) };
}

/// Makes this test thread use `kind`.
pub fn use_driver(kind: Kind) {
    KIND.with(|k| k.set(kind));
}

/// The driver this test thread uses.
pub fn driver_kind() -> Kind {
    KIND.with(std::cell::Cell::get)
}

thread_local! {
    /// The result filters this test thread's drivers get (none unless a test asks).
    static FILTERS: std::cell::RefCell<Vec<lanner_common::ResultFilter>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Makes this test thread's drivers leave out calls by their result.
pub fn use_result_filters(filters: Vec<lanner_common::ResultFilter>) {
    FILTERS.with(|f| *f.borrow_mut() = filters);
}

thread_local! {
    /// The open filter this test thread's drivers get (none unless a test asks).
    static OPEN_FILTER: std::cell::RefCell<Option<lanner_common::OpenFilter>> =
        const { std::cell::RefCell::new(None) };
}

/// Makes this test thread's drivers leave out opens by their path and access mode.
pub fn use_open_filter(filter: Option<lanner_common::OpenFilter>) {
    OPEN_FILTER.with(|f| *f.borrow_mut() = filter);
}

thread_local! {
    /// Whether this test thread's eBPF drivers leave out closes of descriptors never told of.
    static LAZY_CLOSES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Makes this test thread's drivers leave closes out and mark stale descriptors instead.
pub fn use_lazy_closes(on: bool) {
    LAZY_CLOSES.with(|k| k.set(on));
}

/// A new driver of this thread's kind.
pub fn new_driver() -> Box<dyn Driver> {
    let filters = FILTERS.with(|f| f.borrow().clone());
    let lazy_closes = LAZY_CLOSES.with(std::cell::Cell::get);
    let open_filter = OPEN_FILTER.with(|f| f.borrow().clone());
    let ebpf = |mode| {
        let mut driver = lanner_driver_ebpf::EbpfDriver::new(lanner_driver_ebpf::Options {
            mode,
            ..Default::default()
        });
        driver.set_result_filters(filters.clone());
        driver.set_lazy_closes(lazy_closes);
        driver.set_open_filter(open_filter.clone());
        Box::new(driver) as Box<dyn Driver>
    };
    match driver_kind() {
        Kind::Ptrace => {
            let mut driver = PtraceDriver::new();
            driver.set_result_filters(filters.clone());
            driver.set_lazy_closes(lazy_closes);
            driver.set_open_filter(open_filter.clone());
            Box::new(driver)
        }
        Kind::Ebpf => ebpf(ebpf_mode_from_env()),
        Kind::EbpfPerSyscall => ebpf(Some(lanner_driver_ebpf::AttachMode::PerSyscall)),
        Kind::EbpfFentry => ebpf(Some(lanner_driver_ebpf::AttachMode::Fentry)),
    }
}

/// Whether this thread's driver can run here; prints why not when it cannot.
pub fn driver_available() -> bool {
    let report = match driver_kind() {
        Kind::Ptrace => lanner_driver_ptrace::probe(),
        Kind::Ebpf | Kind::EbpfPerSyscall => lanner_driver_ebpf::probe(),
        Kind::EbpfFentry => return fentry_available(),
    };
    report.available_for_test()
}

/// Whether the ptrace driver can run here; prints why not when it cannot.
pub fn ptrace_available() -> bool {
    lanner_driver_ptrace::probe().available_for_test()
}

/// A syscall set from names.
pub fn set(names: &str) -> SyscallSet {
    SyscallSet::parse_names(names).expect("known syscall names")
}

/// A command from strings.
pub fn command<S: Into<OsString>>(argv: impl IntoIterator<Item = S>) -> Command {
    Command::new(argv)
}

/// What a finished trace gave.
#[derive(Debug)]
pub struct Trace {
    /// The workload's pid.
    pub root: u32,
    /// Every event, in stream order.
    pub events: Vec<Event>,
    /// The status `Next::End` carried.
    pub status: Option<ExitStatus>,
    /// The driver's counters at the end.
    pub stats: DriverStats,
    /// How long the whole run took.
    pub elapsed: Duration,
}

/// A started driver with the events received so far.
pub struct Running {
    pub driver: Box<dyn Driver>,
    pub root: u32,
    pub events: Vec<Event>,
    started: Instant,
}

impl Running {
    /// Starts `argv` under a new driver of this thread's kind.
    pub fn start(argv: Command, interest: &SyscallSet) -> Result<Running, DriverError> {
        let started = Instant::now();
        let mut driver = new_driver();
        let s = driver.start(Target::Command(argv), interest)?;
        let root = s.root_pid.expect("a started command has a root pid");
        Ok(Running {
            driver,
            root,
            events: Vec::new(),
            started,
        })
    }

    /// Receives events until one matches `pred`; returns its index in `self.events`.
    /// Panics (after killing the workload) if the trace ends or the deadline passes first.
    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&Event) -> bool) -> usize {
        if let Some(i) = self.events.iter().position(&pred) {
            return i;
        }
        let deadline = Instant::now() + DEADLINE;
        loop {
            if Instant::now() > deadline {
                let _ = self.driver.stop();
                panic!(
                    "timed out waiting for {what}; events so far: {:#?}",
                    self.events
                );
            }
            match self
                .driver
                .next_event(Duration::from_millis(50))
                .expect("next_event")
            {
                Next::Event(ev) => {
                    let hit = pred(&ev);
                    self.events.push(ev);
                    if hit {
                        return self.events.len() - 1;
                    }
                }
                Next::Timeout => {}
                Next::End(status) => panic!(
                    "the trace ended ({status:?}) before {what}; events: {:#?}",
                    self.events
                ),
            }
        }
    }

    /// Receives events until the end (killing the workload after [`DEADLINE`]).
    pub fn finish(mut self) -> Trace {
        let deadline = Instant::now() + DEADLINE;
        let status = loop {
            if Instant::now() > deadline {
                let stats = self.driver.stats();
                let _ = self.driver.stop();
                panic!(
                    "the workload did not finish within {DEADLINE:?} (stats {stats:?}); \
                     events: {:#?}",
                    self.events
                );
            }
            match self
                .driver
                .next_event(Duration::from_millis(50))
                .expect("next_event")
            {
                Next::Event(ev) => self.events.push(ev),
                Next::Timeout => {}
                Next::End(status) => break status,
            }
        };
        // End is sticky: asking again gives the same answer.
        match self.driver.next_event(Duration::from_millis(1)) {
            Ok(Next::End(again)) => assert_eq!(again, status, "End is repeated unchanged"),
            other => panic!("after End, next_event gave {other:?}"),
        }
        let stats = self.driver.stats();
        self.driver.stop().expect("stop after the end");
        Trace {
            root: self.root,
            events: self.events,
            status,
            stats,
            elapsed: self.started.elapsed(),
        }
    }
}

/// Runs `argv` to its end under this thread's driver.
pub fn trace(argv: Command, interest: &SyscallSet) -> Trace {
    Running::start(argv, interest)
        .unwrap_or_else(|e| panic!("the driver could not start the workload: {e}"))
        .finish()
}

impl Trace {
    /// Completed syscalls named `name`, with their event.
    pub fn syscalls<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = (&'a Event, &'a SyscallEvent)> + 'a {
        self.events.iter().filter_map(move |ev| match &ev.kind {
            EventKind::Syscall(sc) if sc.id.name() == name => Some((ev, sc)),
            _ => None,
        })
    }

    /// Every syscall event.
    pub fn all_syscalls(&self) -> impl Iterator<Item = (&Event, &SyscallEvent)> + '_ {
        self.events.iter().filter_map(|ev| match &ev.kind {
            EventKind::Syscall(sc) => Some((ev, sc)),
            _ => None,
        })
    }

    /// Fork events.
    pub fn forks(&self) -> impl Iterator<Item = (&Event, &ForkEvent)> + '_ {
        self.events.iter().filter_map(|ev| match &ev.kind {
            EventKind::Fork(f) => Some((ev, f)),
            _ => None,
        })
    }

    /// Exec events.
    pub fn execs(&self) -> impl Iterator<Item = (&Event, &ExecEvent)> + '_ {
        self.events.iter().filter_map(|ev| match &ev.kind {
            EventKind::Exec(x) => Some((ev, &**x)),
            _ => None,
        })
    }

    /// Exit events as (pid, tid, status).
    pub fn exits(&self) -> Vec<(u32, u32, ExitStatus)> {
        self.events
            .iter()
            .filter_map(|ev| match &ev.kind {
                EventKind::Exit(x) => Some((ev.pid, ev.tid, x.status)),
                _ => None,
            })
            .collect()
    }

    /// The exit status the stream reported for thread `tid`.
    pub fn exit_of(&self, tid: u32) -> Option<ExitStatus> {
        let found: Vec<_> = self
            .exits()
            .into_iter()
            .filter(|&(_, t, _)| t == tid)
            .collect();
        assert!(
            found.len() <= 1,
            "tid {tid} exited more than once: {found:?}"
        );
        found.first().map(|&(_, _, status)| status)
    }

    /// Drop events, for failure messages and checks.
    pub fn drops(&self) -> usize {
        self.events
            .iter()
            .filter(|ev| matches!(ev.kind, EventKind::Drop(_)))
            .count()
    }

    /// [`Trace::check_invariants_allowing_drops`], and nothing was dropped.
    pub fn check_invariants(&self) {
        assert_eq!(self.drops(), 0, "dropped events: {:#?}", self.events);
        assert_eq!(self.stats.dropped, 0, "stats: {:?}", self.stats);
        self.check_invariants_allowing_drops();
    }

    /// Checks what holds for every trace: events are in time order and carry a pid and tid,
    /// the counters match the stream, the root's own exit event matches the end status, and no
    /// task does anything after its exit event.
    pub fn check_invariants_allowing_drops(&self) {
        for pair in self.events.windows(2) {
            assert!(
                pair[0].ts <= pair[1].ts,
                "events out of time order: {:?} then {:?}",
                pair[0],
                pair[1]
            );
        }
        assert_eq!(
            self.stats.seen,
            (self.events.len() - self.drops()) as u64,
            "stats.seen counts every event handed over but drop records"
        );
        for ev in &self.events {
            assert!(ev.pid > 0 && ev.tid > 0, "event without pid/tid: {ev:?}");
        }
        let root_exit = self.exit_of(self.root);
        assert_eq!(
            root_exit, self.status,
            "the root's exit event and the end status agree"
        );
        // Nothing happens to a task after its exit event.
        let mut dead = std::collections::HashSet::new();
        for ev in &self.events {
            assert!(
                !dead.contains(&ev.tid),
                "event for tid {} after its exit: {ev:?}",
                ev.tid
            );
            if let EventKind::Exit(_) = ev.kind {
                dead.insert(ev.tid);
            }
        }
    }
}

/// The bytes of a path argument, panicking with the event when it is not a string.
pub fn path_arg<'a>(sc: &'a SyscallEvent, name: &str) -> &'a [u8] {
    sc.arg(name)
        .and_then(|v| v.as_bytes())
        .unwrap_or_else(|| panic!("{name} is not a string in {sc:?}"))
}

/// An integer argument.
pub fn int_arg(sc: &SyscallEvent, name: &str) -> i64 {
    sc.arg(name)
        .and_then(|v| v.as_int())
        .unwrap_or_else(|| panic!("{name} is not an integer in {sc:?}"))
}

/// A fresh scratch directory, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "lanner-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `self/name` as bytes.
    pub fn join_bytes(&self, name: &str) -> Vec<u8> {
        self.0.join(name).as_os_str().as_bytes().to_vec()
    }
}

/// What fx-storm printed to `out`: how many opens it made.
pub fn storm_opens(out: &Path) -> usize {
    let printed = std::fs::read_to_string(out).expect("fx-storm's count");
    printed
        .trim()
        .strip_prefix("opens ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("fx-storm printed {printed:?}"))
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The state letter of `/proc/PID/stat` (`R`, `S`, `T`, `t`, `Z`...).
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: the state follows the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.trim_start().chars().next()
}

/// Waits until `pid`'s state satisfies `pred`; returns the last state seen.
pub fn wait_state(pid: u32, pred: impl Fn(char) -> bool, timeout: Duration) -> Option<char> {
    let deadline = Instant::now() + timeout;
    loop {
        let state = proc_state(pid);
        if state.is_some_and(&pred) || Instant::now() > deadline {
            return state;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sends `sig` to `pid`.
pub fn kill(pid: u32, sig: i32) {
    // SAFETY: kill takes plain integers.
    let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {sig}): {}",
        std::io::Error::last_os_error()
    );
}
