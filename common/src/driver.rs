//! The `Driver` trait: how events are trapped, whatever is done with them afterwards.

use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use crate::event::{Event, ExitStatus};
use crate::set::SyscallSet;

/// What to trace.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// Start this command and trace its whole process tree.
    Command(Command),
    /// Trace every process on the host (drivers with kernel access only).
    System,
}

/// A command to start under a driver. It inherits the agent's stdin, stdout, stderr and
/// environment, so that the workload behaves as it would without the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Program and arguments; the program is looked up in `PATH` like a shell would.
    pub argv: Vec<OsString>,
    /// Working directory, when not the agent's.
    pub cwd: Option<PathBuf>,
}

impl Command {
    /// A command from its argv.
    pub fn new<I: IntoIterator<Item = S>, S: Into<OsString>>(argv: I) -> Self {
        Command {
            argv: argv.into_iter().map(Into::into).collect(),
            cwd: None,
        }
    }
}

/// Calls a driver may leave out: those of syscall `id` whose raw result is outside
/// `lo..=hi`, which no rule could match (see `Ruleset::result_range`). A driver that can
/// judge before it writes or stops (the eBPF driver, in the kernel, for calls reported in one
/// record) saves the most; any driver saves the agent the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultFilter {
    /// The syscall.
    pub id: crate::syscalls::SyscallId,
    /// The lowest result reported.
    pub lo: i64,
    /// The highest result reported.
    pub hi: i64,
}

impl ResultFilter {
    /// Whether a call of `id` that returned `ret` is left out by one of `filters`.
    pub fn leaves_out(filters: &[ResultFilter], id: crate::syscalls::SyscallId, ret: i64) -> bool {
        filters
            .iter()
            .any(|f| f.id == id && !(f.lo..=f.hi).contains(&ret))
    }
}

/// What `Driver::start` hands back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    /// The workload's pid, when a command was started (signals are forwarded to it).
    pub root_pid: Option<u32>,
}

/// The result of waiting for the next event.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// An event.
    Event(Event),
    /// Nothing arrived within the timeout.
    Timeout,
    /// Tracing is over: the workload ended (with its status), or the driver was stopped.
    End(Option<ExitStatus>),
}

/// Counters every driver keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DriverStats {
    /// Events produced.
    pub seen: u64,
    /// Events lost (each loss also appears in the stream as a drop event).
    pub dropped: u64,
    /// Syscalls that stopped the tracee or ran a program without producing an event of the
    /// interest set (foreign-ABI syscalls outside the set, for instance).
    pub filtered: u64,
}

/// An instrumentation driver.
///
/// Lifecycle: `start` once, then `next_event` until it returns [`Next::End`], then `stop`
/// (which is also how a `--system` capture is ended early).
pub trait Driver: Send {
    /// The driver's name as the CLI spells it.
    fn name(&self) -> &'static str;

    /// Starts tracing `target`, reporting completed syscalls in `interest` and every lifecycle
    /// event of the traced processes.
    fn start(&mut self, target: Target, interest: &SyscallSet) -> Result<Started, DriverError>;

    /// Waits up to `timeout` for the next event.
    fn next_event(&mut self, timeout: Duration) -> Result<Next, DriverError>;

    /// Hands back an event the caller is done with. A driver whose events are built on
    /// another thread frees them there: glibc's malloc serialises frees of another thread's
    /// memory on that thread's arena lock, which showed as a tenth of the agent's CPU in an
    /// open storm. By default the event is simply dropped.
    fn recycle(&mut self, event: Event) {
        drop(event);
    }

    /// Replaces the open filter in force (a rules reload): `None` keeps every open. It applies
    /// to the open-family calls the driver was started with a filter for; a driver started
    /// without one leaves out no open either way. By default, refused.
    fn update_open_filter(&mut self, filter: Option<crate::OpenFilter>) -> Result<(), DriverError> {
        drop(filter);
        Err(DriverError::Internal(format!(
            "the {} driver cannot change its open filter while it runs",
            self.name()
        )))
    }

    /// Counters so far.
    fn stats(&self) -> DriverStats;

    /// Stops tracing. A started workload is killed if it is still running.
    fn stop(&mut self) -> Result<(), DriverError>;
}

/// Errors a driver reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// A syscall the driver needed failed.
    #[error("{call} failed: {source}")]
    Syscall {
        /// The call that failed, as a user would search for it (`ptrace(PTRACE_SEIZE)`).
        call: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// The workload could not be started.
    #[error("cannot start {program:?}: {source}")]
    Spawn {
        /// The program.
        program: OsString,
        /// Why.
        source: std::io::Error,
    },
    /// The target is not one this driver can trace.
    #[error("the {driver} driver cannot trace {what}")]
    UnsupportedTarget {
        /// The driver.
        driver: &'static str,
        /// What was asked.
        what: &'static str,
    },
    /// The machine does not allow this driver.
    #[error("the {driver} driver is unavailable: {reason}")]
    Unavailable {
        /// The driver.
        driver: &'static str,
        /// Why.
        reason: String,
    },
    /// The driver's own machinery failed (a thread died, a channel closed early).
    #[error("{0}")]
    Internal(String),
}

impl DriverError {
    /// Wraps the last OS error of a failed call.
    pub fn last_os_error(call: &'static str) -> Self {
        DriverError::Syscall {
            call,
            source: std::io::Error::last_os_error(),
        }
    }
}

/// What a driver found it can do on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    /// The driver.
    pub driver: &'static str,
    /// Whether it can run here.
    pub available: bool,
    /// Why not, when it cannot.
    pub reason: Option<String>,
    /// Features found or missing, each a line for `lanner drivers`.
    pub features: Vec<Feature>,
}

/// One capability a driver probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    /// What was probed.
    pub name: &'static str,
    /// Whether it is there.
    pub present: bool,
    /// What follows from it.
    pub note: String,
}

/// The environment variable naming the drivers a test run requires (`ptrace,ebpf`): set by
/// `cargo xtask test` on a machine that has what they need, so that a driver which cannot run
/// there (a program the verifier now refuses, say) fails the tests instead of skipping them.
pub const TEST_REQUIRE_ENV: &str = "LANNER_TEST_REQUIRE";

/// For tests: `what` cannot run here, because of `why`. Panics if [`TEST_REQUIRE_ENV`] names
/// `required_as`; else prints that the test skips, and returns false.
fn cannot_run_in_test(required_as: &str, what: &str, why: &dyn std::fmt::Display) -> bool {
    let required = std::env::var(TEST_REQUIRE_ENV).unwrap_or_default();
    if required.split(',').any(|d| d.trim() == required_as) {
        panic!("{what} is required here ({TEST_REQUIRE_ENV}={required}) but cannot run: {why}");
    }
    eprintln!("SKIPPED: {what} cannot run here: {why}");
    false
}

/// The environment variable by which tests stretch their time budgets (a factor, 1 when unset):
/// `cargo xtask kernel-test` sets it for a guest kernel that runs under emulation, where the
/// agent takes seconds to load and a workload makes a tenth of its progress.
pub const TEST_TIME_SCALE_ENV: &str = "LANNER_TEST_TIME_SCALE";

/// For tests: `budget` stretched by [`TEST_TIME_SCALE_ENV`].
pub fn test_time(budget: std::time::Duration) -> std::time::Duration {
    let scale = std::env::var(TEST_TIME_SCALE_ENV)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 1.0)
        .unwrap_or(1.0);
    budget.mul_f64(scale)
}

impl ProbeReport {
    /// For tests: whether the driver can run here. When it cannot, prints why (the test then
    /// skips), or panics if [`TEST_REQUIRE_ENV`] names the driver.
    pub fn available_for_test(&self) -> bool {
        if self.available {
            return true;
        }
        cannot_run_in_test(self.driver, &format!("the {} driver", self.driver), self)
    }

    /// For tests: whether the driver can run here with its feature `feature` (a `Feature`'s
    /// name) present. When it cannot, prints why (the test then skips), or panics if
    /// [`TEST_REQUIRE_ENV`] names `required_as` (`ebpf-fentry`, say).
    pub fn feature_for_test(&self, feature: &str, required_as: &str) -> bool {
        if !self.available_for_test() {
            return false;
        }
        let found = self.features.iter().find(|f| f.name == feature);
        if found.is_some_and(|f| f.present) {
            return true;
        }
        let why = found.map_or("not probed", |f| f.note.as_str());
        cannot_run_in_test(
            required_as,
            &format!("the {} driver's {feature}", self.driver),
            &why,
        )
    }

    /// A driver that cannot run, and why.
    pub fn unavailable(driver: &'static str, reason: impl Into<String>) -> Self {
        ProbeReport {
            driver,
            available: false,
            reason: Some(reason.into()),
            features: Vec::new(),
        }
    }
}

impl fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.available, &self.reason) {
            (true, _) => writeln!(f, "{}: available", self.driver)?,
            (false, Some(reason)) => writeln!(f, "{}: unavailable: {reason}", self.driver)?,
            (false, None) => writeln!(f, "{}: unavailable", self.driver)?,
        }
        for feature in &self.features {
            let mark = if feature.present { "yes" } else { "no " };
            writeln!(f, "  [{mark}] {}: {}", feature.name, feature.note)?;
        }
        Ok(())
    }
}

/// Finds `program` the way a shell does: as given when it contains a slash, else in `PATH`.
pub fn resolve_program(program: &OsStr) -> Result<PathBuf, DriverError> {
    let not_found = |detail: &str| DriverError::Spawn {
        program: program.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, detail.to_owned()),
    };
    if program.is_empty() {
        return Err(not_found("empty command"));
    }
    if program.as_bytes().contains(&b'/') {
        return Ok(PathBuf::from(program));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(program);
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    Err(not_found("command not found in PATH"))
}

fn is_executable(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access with a valid C string.
    let ok = unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0;
    ok && path.is_file()
}

/// Drains a driver until it ends, for tests and tools: every event, then the workload's status.
pub fn collect(driver: &mut dyn Driver) -> Result<(Vec<Event>, Option<ExitStatus>), DriverError> {
    let mut events = Vec::new();
    loop {
        match driver.next_event(Duration::from_millis(100))? {
            Next::Event(event) => events.push(event),
            Next::Timeout => {}
            Next::End(status) => return Ok((events, status)),
        }
    }
}

/// The interest set `lanner run` uses when no rules say otherwise: the security-relevant calls.
pub fn default_interest() -> SyscallSet {
    const NAMES: &str = "execve,execveat,clone,clone3,fork,vfork,open,openat,openat2,creat,\
        connect,accept,accept4,bind,listen,socket,sendto,sendmsg,unlink,unlinkat,rename,renameat,\
        renameat2,mkdir,mkdirat,rmdir,symlink,symlinkat,link,linkat,chmod,fchmod,fchmodat,\
        fchmodat2,chown,lchown,fchown,fchownat,setuid,setgid,setreuid,setregid,setresuid,\
        setresgid,ptrace,mount,umount,umount2,kill,tkill,tgkill,memfd_create,init_module,\
        finit_module,bpf,io_uring_setup,dup,dup2,dup3,close,process_vm_writev,setns,unshare,\
        pivot_root,chroot,userfaultfd,socketpair";
    SyscallSet::parse_names(NAMES).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscalls::{Abi, SyscallId};

    #[test]
    fn default_interest_has_every_listed_call_and_i386_twins() {
        let set = default_interest();
        assert_eq!(set.len(), 67);
        for name in [
            "execve",
            "openat",
            "close",
            "io_uring_setup",
            "fchmodat2",
            "umount",
        ] {
            assert!(
                set.contains(SyscallId::from_name(name).expect(name)),
                "{name}"
            );
        }
        // i386 open (5) and chown32 (212) are in through their x86_64 twins.
        assert!(set.contains_raw(Abi::I386, 5));
        assert!(set.contains_raw(Abi::I386, 212));
    }
}
