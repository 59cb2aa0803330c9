//! The standard-descriptor guard: `dup` runs without a stop while it cannot return 0, 1 or 2.
//!
//! The rules on `dup` care only for copies made onto a standard stream (the embedded
//! reverse-shell rule: `evt.rawres in (0, 1, 2)`). `dup` returns the lowest free descriptor, so
//! it can return one of them only in a process where one is free. A stop at every `dup` to
//! learn that it did not (two stops: `close(dup(fd))` ran 40 times slower under ptrace) is
//! what this module saves.
//!
//! The workload starts with the agent's three standard descriptors (when one of them is closed
//! there, the guard is off and every `dup` stops). From then on, a process frees one only through
//! calls the seccomp filter stops by their arguments ([`stop_plan`]):
//! - `close(0..=2)`, `close_range(0..=2, …)`;
//! - marking one close-on-exec, which a later exec closes: `fcntl(0..=2, F_SETFD, FD_CLOEXEC)`,
//!   `ioctl(0..=2, FIOCLEX)`, `dup3(…, 0..=2, O_CLOEXEC)`;
//! - `io_uring_setup`: a ring closes descriptors without a syscall.
//!
//! At the first of these in a process, stopped before the call runs, the tracer has the process
//! install a second filter ([`install`]) that stops every x86_64 `dup`: the call is swapped for
//! `seccomp(SECCOMP_SET_MODE_FILTER, TSYNC)` at its stop and restarted afterwards, the way the
//! kernel restarts an interrupted call (the instruction pointer moved back over the 2-byte
//! `syscall`). TSYNC puts the filter on every thread of the process, before the freeing call
//! runs, so no thread's `dup` slips through; children inherit it; exec keeps it. The process is
//! guarded from then on, for good (a filter cannot be removed): its `dup`s stop as they did
//! before this module, and their results are judged at exit as before.
//!
//! Installing a filter takes `CAP_SYS_ADMIN` or `no_new_privs`. Where the workload's filter went
//! in without `no_new_privs` (the agent had `CAP_SYS_ADMIN`), a process that gives up its
//! privileges could not install the guard afterwards: so when the guard may come too late that
//! way ([`privileges_may_drop`]), a process is guarded as well at its first `setuid`,
//! `setreuid`, `setresuid` or `capset`, stopped before the call runs, while it still has them.
//! Where the kernel refuses the filter all the same (capabilities dropped another way, such as
//! through an exec after `PR_CAPBSET_DROP`; threads with filters of their own), the tracer
//! reports a drop: that process's `dup`s are not watched. Not covered (docs/ptrace-driver.md): a
//! standard descriptor freed through the i386 ABI (i386 `dup` always stops, x86_64 `dup` of such
//! a process not), and processes that share a descriptor table without being threads
//! (`clone(CLONE_FILES)`).

use lanner_common::syscalls::{Abi, AUDIT_ARCH_X86_64};
use lanner_common::{ResultFilter, SyscallId, SyscallSet};
use rustc_hash::FxHashSet;

use crate::filter::{ArgCheck, ArgTest, StopPlan, DATA_X86_64};
use crate::sys::{self, Wait};

/// x86_64 numbers (the ABI's, fixed; checked against the syscall table by a test), as
/// constants for `match`.
mod nr {
    pub const IOCTL: u32 = 16;
    pub const DUP: u32 = 32;
    pub const DUP2: u32 = 33;
    pub const FCNTL: u32 = 72;
    pub const DUP3: u32 = 292;
    pub const SECCOMP: u64 = 317;
    pub const IO_URING_SETUP: u32 = 425;
    pub const CLOSE_RANGE: u32 = 436;
    pub const CLOSE: u32 = 3;
    pub const SETUID: u32 = 105;
    pub const SETREUID: u32 = 113;
    pub const SETRESUID: u32 = 117;
    pub const CAPSET: u32 = 126;
}

/// The calls through which a process may give up `CAP_SYS_ADMIN`, by name.
const PRIVILEGE_DROPS: [&str; 4] = ["setuid", "setreuid", "setresuid", "capset"];

/// Descriptors 0, 1 and 2: an argument below this names one.
const STD_FDS: u32 = 3;

/// Whether the calls of `id` are reported only for results within 0..=2 (and never all).
fn reported_on_std_fds_only(
    interest: &SyscallSet,
    filters: &[ResultFilter],
    id: Option<SyscallId>,
) -> bool {
    id.is_some_and(|id| {
        interest.contains(id)
            && filters
                .iter()
                .any(|f| f.id == id && f.lo >= 0 && f.hi < i64::from(STD_FDS))
    })
}

/// Refines what stops for `interest`: `dup2` and `dup3` whose results only count onto a standard
/// descriptor stop only when their target is one (their result is their target); `dup`, when
/// it only counts likewise and the workload starts with its standard descriptors open, stops
/// only in guarded processes, and the calls that free a standard descriptor stop by their
/// arguments. `stopping` (the set the filter stops) gains `io_uring_setup` then, and, when
/// `privileges_may_drop`, the calls that may drop them. Returns the plan and whether the guard
/// is on.
pub fn stop_plan(
    interest: &SyscallSet,
    stopping: &mut SyscallSet,
    filters: &[ResultFilter],
    std_fds_open: bool,
    privileges_may_drop: bool,
) -> (StopPlan, bool) {
    let mut plan = StopPlan::default();
    let by_target = |nr| ArgCheck::below(nr, 1, STD_FDS);
    for (name, number) in [("dup2", nr::DUP2), ("dup3", nr::DUP3)] {
        if reported_on_std_fds_only(interest, filters, SyscallId::from_name(name)) {
            plan.arg_checks.push(by_target(number));
        }
    }
    let guard =
        std_fds_open && reported_on_std_fds_only(interest, filters, SyscallId::from_name("dup"));
    if !guard {
        return (plan, false);
    }
    plan.native_unstopped.push(u64::from(nr::DUP));
    let stops = |name: &str| SyscallId::from_name(name).is_some_and(|id| stopping.contains(id));
    let first_is_std = |nr, and_equals| ArgCheck {
        nr,
        arg: 0,
        test: ArgTest::Below(STD_FDS, and_equals),
    };
    if !stops("close") {
        plan.arg_checks.push(first_is_std(nr::CLOSE, None));
    }
    if !stops("close_range") {
        plan.arg_checks.push(first_is_std(nr::CLOSE_RANGE, None));
    }
    if !stops("fcntl") {
        plan.arg_checks
            .push(first_is_std(nr::FCNTL, Some((1, libc::F_SETFD as u32))));
    }
    if !stops("ioctl") {
        plan.arg_checks
            .push(first_is_std(nr::IOCTL, Some((1, libc::FIOCLEX as u32))));
    }
    if !stops("dup3") && !plan.arg_checks.iter().any(|c| c.nr == nr::DUP3) {
        plan.arg_checks.push(by_target(nr::DUP3));
    }
    let mut also_stop = vec!["io_uring_setup"];
    if privileges_may_drop {
        also_stop.extend(PRIVILEGE_DROPS);
    }
    for id in also_stop.into_iter().filter_map(SyscallId::from_name) {
        stopping.insert(id);
    }
    (plan, true)
}

/// Whether a process of the workload may lose the right to install the guard: its filter went in
/// without `no_new_privs` (the agent has `CAP_SYS_ADMIN` and no `no_new_privs` of its own), so
/// installing one more takes `CAP_SYS_ADMIN`, which the process may give up.
pub fn privileges_may_drop() -> bool {
    // SAFETY: prctl with integer arguments.
    let nnp = unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) } == 1;
    !nnp && crate::probe::has_cap_sys_admin()
}

/// Whether the calling process's standard descriptors are all open (the workload's root
/// inherits them).
pub fn std_fds_open() -> bool {
    // SAFETY: fcntl(F_GETFD) on plain integers.
    (0..3).all(|fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1)
}

/// Whether a process must be guarded before the x86_64 call `nr` with `args` runs: it may free
/// a standard descriptor, or (with `privileges_may_drop`) give up the privilege to install the
/// guard later.
pub fn needs_guard(nr: u64, args: &[u64; 6], privileges_may_drop: bool) -> bool {
    frees_a_std_fd(nr, args)
        || (privileges_may_drop
            && matches!(
                u32::try_from(nr),
                Ok(nr::SETUID | nr::SETREUID | nr::SETRESUID | nr::CAPSET)
            ))
}

/// Whether an x86_64 call `nr` with `args`, about to run, may free a standard descriptor.
pub fn frees_a_std_fd(nr: u64, args: &[u64; 6]) -> bool {
    let Ok(nr) = u32::try_from(nr) else {
        return false;
    };
    let std_fd = |arg: u64| (arg as u32) < STD_FDS;
    match nr {
        nr::CLOSE | nr::CLOSE_RANGE => std_fd(args[0]),
        nr::FCNTL => {
            std_fd(args[0])
                && args[1] as u32 == libc::F_SETFD as u32
                && args[2] & libc::FD_CLOEXEC as u64 != 0
        }
        nr::IOCTL => std_fd(args[0]) && args[1] as u32 == libc::FIOCLEX as u32,
        nr::DUP3 => std_fd(args[1]) && (args[2] as u32) & (libc::O_CLOEXEC as u32) != 0,
        nr::IO_URING_SETUP => true,
        _ => false,
    }
}

/// The processes guarded (or given up on: a refusal is reported once).
#[derive(Debug, Default)]
pub struct Guarded {
    tgids: FxHashSet<i32>,
    /// Processes are guarded before they may give up their privileges, too.
    privileges_may_drop: bool,
}

impl Guarded {
    /// None guarded yet; see [`privileges_may_drop`].
    pub fn new(privileges_may_drop: bool) -> Self {
        Guarded {
            tgids: FxHashSet::default(),
            privileges_may_drop,
        }
    }

    /// Whether an unguarded process needs the guard before the call `nr` of `abi` with `args`
    /// runs ([`needs_guard`]). Only x86_64 calls: the call swapped in is an x86_64 one.
    pub fn needed_before(&self, abi: Abi, nr: u64, args: &[u64; 6]) -> bool {
        abi == Abi::X86_64 && needs_guard(nr, args, self.privileges_may_drop)
    }

    /// Whether `tgid` needs no (further) guard.
    pub fn covers(&self, tgid: i32) -> bool {
        self.tgids.contains(&tgid)
    }

    /// `tgid` is guarded from now on.
    pub fn mark(&mut self, tgid: i32) {
        self.tgids.insert(tgid);
    }

    /// A new process inherits its parent's filters.
    pub fn forked(&mut self, parent: i32, child: i32) {
        if self.covers(parent) {
            self.mark(child);
        }
    }

    /// The process has ended (its pid may come back as another process).
    pub fn ended(&mut self, tgid: i32) {
        self.tgids.remove(&tgid);
    }
}

/// The filter installed in a guarded process: every x86_64 `dup` stops, as the main filter's
/// body would stop it (same data); every other call is left to the main filter.
pub fn program() -> Vec<libc::sock_filter> {
    use crate::filter::{
        jump, stmt, trace, BPF_ABS, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W,
        DATA_ARCH_OFFSET, DATA_NR_OFFSET,
    };
    vec![
        /* 0 */ stmt(BPF_LD | BPF_W | BPF_ABS, DATA_ARCH_OFFSET),
        /* 1 */ jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 3),
        /* 2 */ stmt(BPF_LD | BPF_W | BPF_ABS, DATA_NR_OFFSET),
        /* 3 */ jump(BPF_JMP | BPF_JEQ | BPF_K, nr::DUP, 0, 1),
        /* 4 */ stmt(BPF_RET | BPF_K, trace(DATA_X86_64)),
        /* 5 */ stmt(BPF_RET | BPF_K, libc::SECCOMP_RET_ALLOW),
    ]
}

/// How installing the guard went.
#[derive(Debug)]
pub enum Outcome {
    /// The process is guarded. The call that stopped is rewound: resumed, it runs again (and
    /// stops again, as a call of a guarded process).
    Installed,
    /// Not installed, and why. With `rewound`, the call runs again when resumed; without, the
    /// stop is as it was and is handled as usual.
    Refused { reason: String, rewound: bool },
    /// The task died meanwhile: its death report, if this wait took it.
    Gone(Option<Wait>),
}

/// Bytes below the stack pointer left alone: the x86_64 ABI's red zone, which a leaf function
/// may be using.
const RED_ZONE: u64 = 128;

/// Makes the process of `tid`, stopped at the seccomp stop of an x86_64 call, install
/// [`program`] on all its threads, then rewinds that call. The filter and its `sock_fprog` are
/// written below the red zone of the thread's stack, which is free by the ABI.
pub fn install(tid: i32) -> Outcome {
    let saved = match sys::regs(tid) {
        Ok(regs) => regs,
        Err(err) if err.is_gone() => return Outcome::Gone(None),
        Err(err) => {
            return Outcome::Refused {
                reason: err.to_string(),
                rewound: false,
            }
        }
    };
    let filter = program();
    // sock_fprog { unsigned short len; struct sock_filter *filter; }: 16 bytes, then the
    // instructions (8 bytes each).
    let size = 16 + 8 * filter.len() as u64;
    let at = (saved.rsp.wrapping_sub(RED_ZONE + size)) & !15;
    let mut words = vec![filter.len() as u64, at + 16];
    words.extend(filter.iter().map(|i| {
        u64::from(i.code) | u64::from(i.jt) << 16 | u64::from(i.jf) << 24 | u64::from(i.k) << 32
    }));
    for (i, word) in words.iter().enumerate() {
        if let Err(err) = sys::poke(tid, at + 8 * i as u64, *word) {
            if err.is_gone() {
                return Outcome::Gone(None);
            }
            return Outcome::Refused {
                reason: format!("writing the filter below the stack pointer at {at:#x}: {err}"),
                rewound: false,
            };
        }
    }
    let mut call = saved;
    call.orig_rax = nr::SECCOMP;
    call.rdi = u64::from(libc::SECCOMP_SET_MODE_FILTER);
    call.rsi = libc::SECCOMP_FILTER_FLAG_TSYNC | libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    call.rdx = at;
    let result = run_swapped(tid, &call);
    // Whatever happened, the call that stopped runs again when the tracee resumes.
    let mut rewound = saved;
    rewound.rip = saved.rip.wrapping_sub(2);
    rewound.rax = saved.orig_rax;
    let restored = sys::set_regs(tid, &rewound);
    match (result, restored) {
        (Err(gone @ Outcome::Gone(_)), _) => gone,
        (_, Err(err)) if err.is_gone() => Outcome::Gone(None),
        (_, Err(err)) => Outcome::Refused {
            // The registers are the injected call's: nothing sane can resume this thread.
            reason: format!("restoring the registers after installing the filter: {err}"),
            rewound: true,
        },
        (Err(Outcome::Refused { reason, .. }), Ok(())) => Outcome::Refused {
            reason,
            rewound: true,
        },
        (Err(Outcome::Installed), Ok(())) | (Ok(0), Ok(())) => Outcome::Installed,
        (Ok(rc), Ok(())) if rc < 0 => Outcome::Refused {
            reason: format!(
                "seccomp(SECCOMP_SET_MODE_FILTER) failed: {}",
                std::io::Error::from_raw_os_error(-rc as i32)
            ),
            rewound: true,
        },
        (Ok(thread), Ok(())) => Outcome::Refused {
            reason: format!("thread {thread} has filters of its own (TSYNC failed)"),
            rewound: true,
        },
    }
}

/// Swaps the call at `tid`'s seccomp stop for the one in `call` (number in `orig_rax`), runs it
/// to its exit stop and returns its result.
fn run_swapped(tid: i32, call: &libc::user_regs_struct) -> Result<i64, Outcome> {
    let refused = |reason: String| Outcome::Refused {
        reason,
        rewound: true,
    };
    let gone_or = |err: sys::PtraceError| {
        if err.is_gone() {
            Outcome::Gone(None)
        } else {
            refused(err.to_string())
        }
    };
    sys::set_regs(tid, call).map_err(gone_or)?;
    sys::syscall(tid, 0).map_err(gone_or)?;
    match sys::wait_for(tid).map_err(gone_or)? {
        Wait::Stopped(_, sig, 0) if sig == libc::SIGTRAP | 0x80 => {}
        report @ (Wait::Exited(..) | Wait::Signaled(..)) => {
            return Err(Outcome::Gone(Some(report)))
        }
        other => return Err(refused(format!("unexpected stop {other:?} in seccomp(2)"))),
    }
    let regs = sys::regs(tid).map_err(gone_or)?;
    Ok(regs.rax as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &str) -> SyscallSet {
        SyscallSet::parse_names(names).expect("names")
    }

    fn low(name: &str) -> ResultFilter {
        ResultFilter {
            id: SyscallId::from_name(name).expect("id"),
            lo: 0,
            hi: 2,
        }
    }

    #[test]
    fn the_guard_needs_dup_confined_to_std_results_and_open_std_fds() {
        let interest = set("dup,dup2,dup3,openat,io_uring_setup");
        let mut stopping = interest;
        let (plan, on) = stop_plan(&interest, &mut stopping, &[low("dup")], true, false);
        assert!(on);
        assert_eq!(plan.native_unstopped, vec![32]);
        let checked: Vec<u32> = plan.arg_checks.iter().map(|c| c.nr).collect();
        // close, close_range, fcntl, ioctl; dup3 stops whole (no result filter of its own).
        assert_eq!(checked, vec![3, 436, 72, 16]);

        let mut stopping = interest;
        let (plan, on) = stop_plan(&interest, &mut stopping, &[low("dup")], false, false);
        assert!(
            !on,
            "a closed standard descriptor at start: every dup stops"
        );
        assert!(plan.native_unstopped.is_empty());

        let mut stopping = interest;
        let all_results = ResultFilter {
            hi: i64::MAX,
            ..low("dup")
        };
        let (_, on) = stop_plan(&interest, &mut stopping, &[all_results], true, false);
        assert!(!on, "rules on dup results beyond 2");

        let mut stopping = interest;
        let filters = [low("dup"), low("dup2"), low("dup3")];
        let (plan, _) = stop_plan(&interest, &mut stopping, &filters, true, false);
        let checked: Vec<u32> = plan.arg_checks.iter().map(|c| c.nr).collect();
        assert_eq!(
            checked,
            vec![33, 292, 3, 436, 72, 16],
            "dup2/dup3 by target"
        );
        let setuid = SyscallId::from_name("setuid").expect("setuid");
        assert!(!stopping.contains(setuid));

        let mut stopping = interest;
        stop_plan(&interest, &mut stopping, &[low("dup")], true, true);
        assert!(
            stopping.contains(setuid),
            "privileges may drop: setuid stops"
        );
    }

    #[test]
    fn privilege_drops_need_the_guard_only_when_they_may_make_it_too_late() {
        let none = [0u64; 6];
        assert!(needs_guard(105, &none, true), "setuid");
        assert!(needs_guard(126, &none, true), "capset");
        assert!(!needs_guard(105, &none, false));
        assert!(!needs_guard(106, &none, true), "setgid keeps CAP_SYS_ADMIN");
        assert!(needs_guard(3, &none, false), "close(0)");
    }

    #[test]
    fn calls_that_free_a_std_fd() {
        let a = |a0: u64, a1: u64, a2: u64| [a0, a1, a2, 0, 0, 0];
        assert!(frees_a_std_fd(3, &a(0, 0, 0)));
        assert!(!frees_a_std_fd(3, &a(3, 0, 0)));
        assert!(frees_a_std_fd(436, &a(2, u64::from(u32::MAX), 0)));
        assert!(frees_a_std_fd(72, &a(1, libc::F_SETFD as u64, 1)));
        assert!(
            !frees_a_std_fd(72, &a(1, libc::F_SETFD as u64, 0)),
            "cloexec off"
        );
        assert!(!frees_a_std_fd(72, &a(1, libc::F_GETFD as u64, 0)));
        assert!(frees_a_std_fd(16, &a(0, libc::FIOCLEX, 0)));
        assert!(frees_a_std_fd(292, &a(5, 1, libc::O_CLOEXEC as u64)));
        assert!(!frees_a_std_fd(292, &a(5, 1, 0)));
        assert!(frees_a_std_fd(425, &a(8, 0, 0)));
        assert!(!frees_a_std_fd(32, &a(0, 0, 0)));
    }

    #[test]
    fn the_numbers_are_the_tables() {
        let x86_64 = |name| {
            SyscallId::from_name(name)
                .and_then(|id| id.number_in(Abi::X86_64))
                .unwrap_or_else(|| panic!("{name}"))
        };
        let numbers = [
            ("ioctl", u64::from(nr::IOCTL)),
            ("dup", u64::from(nr::DUP)),
            ("dup2", u64::from(nr::DUP2)),
            ("fcntl", u64::from(nr::FCNTL)),
            ("dup3", u64::from(nr::DUP3)),
            ("seccomp", nr::SECCOMP),
            ("io_uring_setup", u64::from(nr::IO_URING_SETUP)),
            ("close_range", u64::from(nr::CLOSE_RANGE)),
            ("close", u64::from(nr::CLOSE)),
            ("setuid", u64::from(nr::SETUID)),
            ("setreuid", u64::from(nr::SETREUID)),
            ("setresuid", u64::from(nr::SETRESUID)),
            ("capset", u64::from(nr::CAPSET)),
        ];
        for (name, number) in numbers {
            assert_eq!(x86_64(name), number, "{name}");
        }
    }

    #[test]
    fn forks_inherit_and_ends_forget() {
        let mut guarded = Guarded::default();
        guarded.mark(10);
        guarded.forked(10, 11);
        guarded.forked(12, 13);
        assert!(guarded.covers(11) && !guarded.covers(13));
        guarded.ended(10);
        assert!(!guarded.covers(10) && guarded.covers(11));
    }
}
