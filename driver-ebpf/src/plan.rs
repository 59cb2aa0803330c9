//! The capture plan: for every syscall number of each ABI, whether it is traced and which
//! arguments are read, computed from the interest set and the spec table (the same table the
//! ptrace driver reads memory by), and written to the kernel's `plans` map.

use lanner_common::spec::{self, ParamType, SpecFlags};
use lanner_common::syscalls::{socketcall, Abi, SyscallId};
use lanner_common::{OpenFilter, ResultFilter, SyscallSet};

use crate::skel::types::lanner_plan;

/// Syscall numbers below this, per ABI (`LANNER_NR_SPACE`).
pub const NR_SPACE: usize = 512;
/// First i386 slot (`LANNER_PLAN_I386`).
const I386_BASE: usize = 512;
/// First socketcall-operation slot (`LANNER_PLAN_SOCKETCALL`).
const SOCKETCALL_BASE: usize = 1024;
/// Operations of socketcall (`LANNER_SOCKETCALL_OPS`).
const SOCKETCALL_OPS: usize = 32;
/// All slots (`LANNER_PLAN_SLOTS`).
pub const SLOTS: usize = SOCKETCALL_BASE + SOCKETCALL_OPS;

// enum lanner_capture
const CAP_STR: u8 = 1;
const CAP_SOCKADDR: u8 = 2;
const CAP_ARGV: u8 = 3;
const CAP_SOCKADDR_OUT: u8 = 4;
const CAP_FDPAIR: u8 = 5;

fn empty() -> lanner_plan {
    lanner_plan {
        traced: 0,
        entry_only: 0,
        exit_caps: 0,
        words: 0,
        cap: [0; 6],
        aux: [0; 6],
        span: 0,
        res_filter: 0,
        fd_marks: 0,
        lazy_close: 0,
        open_path: 0,
        open_flags: 0,
        pad: [0; 2],
        res_lo: 0,
        res_hi: 0,
    }
}

/// `lanner_plan.traced`: in the interest set.
pub const TRACED: u8 = 1;
/// `lanner_plan.traced`: one record at exit reports the call, its input arguments (paths,
/// socket addresses) read there; only execs, whose memory is gone after a success, read theirs
/// at entry and report in two records.
pub const ONE_RECORD: u8 = 2;

/// Whether the kernel side reports a call of this plan in one record at its exit (and so
/// needs no program at its entry).
pub fn reported_at_exit(plan: &lanner_plan) -> bool {
    plan.traced & ONE_RECORD != 0 && plan.entry_only == 0
}

/// Whether a call of this plan needs a program at its entry: not when its exit reports it
/// whole (not even one that returns at once).
pub fn needs_entry_program(plan: &lanner_plan) -> bool {
    !reported_at_exit(plan)
}

/// Whether a call of this plan needs a program at its exit: not when its entry reports it.
pub fn needs_exit_program(plan: &lanner_plan) -> bool {
    plan.entry_only == 0
}

/// `lanner_plan.fd_marks`: the result may be a descriptor (`LANNER_MARK_RESULT`).
const MARK_RESULT: u8 = 0x40;

/// How calls are reported, beyond the interest set.
#[derive(Debug, Clone, Default)]
pub struct Reporting {
    /// Syscalls reported at entry, without their result.
    pub entry_only: SyscallSet,
    /// Calls left out by their result.
    pub result_filters: Vec<ResultFilter>,
    /// `close` left out; stale descriptor arguments marked instead (`set_lazy_closes`).
    pub lazy_closes: bool,
    /// Opens left out by their path and access mode (`set_open_filter`).
    pub open_filter: Option<OpenFilter>,
}

/// The plan of one traced syscall.
pub fn plan_of(id: SyscallId, reporting: &Reporting) -> lanner_plan {
    let Reporting {
        entry_only,
        result_filters: filters,
        lazy_closes,
        open_filter,
    } = reporting;
    let mut plan = empty();
    if let Some(f) = filters.iter().find(|f| f.id == id) {
        plan.res_filter = 1;
        plan.res_lo = f.lo;
        plan.res_hi = f.hi;
    }
    if let Some(call) = open_filter.as_ref().and_then(|f| f.call(id)) {
        plan.open_path = call.path + 1;
        plan.open_flags = call.flags.map_or(0, |i| i + 1);
    }
    plan.traced = TRACED;
    if let Some(spec) = spec::lookup(id) {
        for (i, param) in spec.params.iter().enumerate().take(6) {
            let (cap, aux) = match param.ty {
                ParamType::Path | ParamType::Str => (CAP_STR, 0),
                ParamType::SockAddr { len } => (CAP_SOCKADDR, len),
                ParamType::Argv => (CAP_ARGV, 0),
                ParamType::SockAddrOut { len_ptr } => (CAP_SOCKADDR_OUT, len_ptr),
                ParamType::FdPair => (CAP_FDPAIR, 0),
                _ => (0, 0),
            };
            plan.cap[i] = cap;
            plan.aux[i] = aux;
            if matches!(
                param.ty,
                ParamType::Fd | ParamType::DirFd | ParamType::FdPair
            ) {
                plan.fd_marks |= 1 << i;
            }
        }
        // The result, where it is always a descriptor. Not a count or a flag word (read,
        // fcntl's F_GETFL), nor pipe2's 0: a bit set for a number the agent holds no state for
        // would hide that the state it held for it before is stale. fcntl's F_DUPFD result
        // goes unmarked: its next use is marked stale, and the agent reads /proc.
        if spec.result_is_fd() {
            plan.fd_marks |= MARK_RESULT;
        }
        if spec.flags.contains(SpecFlags::CLOSES_FD) {
            // Its descriptor is gone, not told of.
            plan.fd_marks = 0;
            plan.lazy_close = u8::from(*lazy_closes && id.name() == "close");
        }
        if !lazy_closes {
            plan.fd_marks = 0;
        }
        plan.exit_caps = u8::from(spec.captures_at_exit());
        // The capture loop stops after the last argument it has something to read for:
        // openat's runs twice, close's not at all.
        plan.span = plan
            .cap
            .iter()
            .rposition(|&c| c != 0)
            .map_or(0, |i| i as u8 + 1);
        // One record at exit, input arguments read there, unless the call is an exec: a
        // successful one has replaced the memory its arguments were in.
        if !plan.cap.contains(&CAP_ARGV) {
            plan.traced |= ONE_RECORD;
        }
        // Calls that never return, and calls whose result nothing reads (close for the fd
        // table), are reported at entry.
        let no_return = spec.flags.contains(SpecFlags::NO_RETURN);
        if no_return || (entry_only.contains(id) && !spec.captures_at_exit()) {
            plan.entry_only = 1;
        }
    } else {
        // No spec: six raw registers, nothing to read.
        plan.traced |= ONE_RECORD;
        if entry_only.contains(id) {
            plan.entry_only = 1;
        }
    }
    plan
}

/// Every slot's plan, indexed as the kernel side indexes `plans`.
pub fn build(interest: &SyscallSet, reporting: &Reporting) -> Vec<lanner_plan> {
    let mut plans = vec![empty(); SLOTS];
    for id in interest.iter() {
        let plan = plan_of(id, reporting);
        for (abi, base) in [(Abi::X86_64, 0), (Abi::I386, I386_BASE)] {
            for nr in id.numbers_in(abi) {
                if let Some(slot) = usize::try_from(nr).ok().filter(|&nr| nr < NR_SPACE) {
                    plans[base + slot] = plan;
                }
            }
        }
    }
    // i386 socketcall: traced when any operation it multiplexes is; each operation has its
    // own plan (its arguments are the words socketcall points to).
    for op in 1..SOCKETCALL_OPS as u64 {
        if let Some((id, words)) = socketcall::target(op) {
            if interest.contains(id) {
                let mut plan = plan_of(id, reporting);
                plan.words = words as u8;
                plans[SOCKETCALL_BASE + op as usize] = plan;
                plans[I386_BASE + socketcall::I386_NR as usize].traced = TRACED;
            }
        }
    }
    plans
}

/// The plan's bytes, as the map stores them.
pub fn bytes(plan: &lanner_plan) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[0] = plan.traced;
    out[1] = plan.entry_only;
    out[2] = plan.exit_caps;
    out[3] = plan.words;
    out[4..10].copy_from_slice(&plan.cap);
    out[10..16].copy_from_slice(&plan.aux);
    out[16] = plan.span;
    out[17] = plan.res_filter;
    out[18] = plan.fd_marks;
    out[19] = plan.lazy_close;
    out[20] = plan.open_path;
    out[21] = plan.open_flags;
    out[24..32].copy_from_slice(&plan.res_lo.to_ne_bytes());
    out[32..40].copy_from_slice(&plan.res_hi.to_ne_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &str) -> SyscallSet {
        SyscallSet::parse_names(names).expect("names")
    }

    #[test]
    fn openat_reads_its_path_at_exit_in_both_abis() {
        let plans = build(&set("openat"), &Reporting::default());
        let openat = &plans[257];
        assert_eq!(
            openat.traced,
            TRACED | ONE_RECORD,
            "one record: the path is read at exit"
        );
        assert_eq!(openat.cap[1], CAP_STR);
        assert_eq!(openat.exit_caps, 0);
        assert_eq!(openat.span, 2, "the capture loop stops after the path");
        // i386 openat is 295.
        assert_eq!(plans[I386_BASE + 295].cap[1], CAP_STR);
        assert_eq!(plans[0].traced, 0, "read is not traced");
    }

    #[test]
    fn a_result_filter_goes_into_the_plan_of_its_syscall_only() {
        let dup = SyscallId::from_name("dup").expect("dup");
        let filters = [ResultFilter {
            id: dup,
            lo: 0,
            hi: 2,
        }];
        let plans = build(
            &set("dup,dup2"),
            &Reporting {
                result_filters: filters.to_vec(),
                ..Reporting::default()
            },
        );
        assert_eq!(
            (plans[32].res_filter, plans[32].res_lo, plans[32].res_hi),
            (1, 0, 2)
        );
        assert_eq!(plans[I386_BASE + 41].res_filter, 1, "the i386 dup too");
        assert_eq!(plans[33].res_filter, 0, "dup2 has no filter");
        let bytes = bytes(&plans[32]);
        assert_eq!(bytes[17], 1);
        assert_eq!(
            i64::from_ne_bytes(bytes[32..40].try_into().expect("8 bytes")),
            2
        );
    }

    #[test]
    fn opens_under_an_open_filter_say_where_their_path_and_flags_are() {
        let call = |name: &str, path, flags| lanner_common::OpenCall {
            id: SyscallId::from_name(name).expect("a syscall"),
            path,
            flags,
        };
        let filter = OpenFilter::new(
            vec![call("openat", 1, Some(2)), call("creat", 0, None)],
            Vec::new(),
            true,
        );
        let plans = build(
            &set("openat,creat,open"),
            &Reporting {
                open_filter: Some(filter),
                ..Reporting::default()
            },
        );
        assert_eq!((plans[257].open_path, plans[257].open_flags), (2, 3));
        assert_eq!((plans[85].open_path, plans[85].open_flags), (1, 0));
        assert_eq!(plans[2].open_path, 0, "open is not in the filter");
        assert_eq!(bytes(&plans[257])[20..22], [2, 3]);
    }

    #[test]
    fn close_is_entry_only_when_asked_and_exit_group_always() {
        let plans = build(
            &set("close,exit_group"),
            &Reporting {
                entry_only: set("close"),
                ..Reporting::default()
            },
        );
        assert_eq!(plans[3].entry_only, 1);
        assert_eq!(plans[231].entry_only, 1);
        let plans = build(&set("close"), &Reporting::default());
        assert_eq!(plans[3].entry_only, 0);
        assert_eq!(plans[3].traced, TRACED | ONE_RECORD, "one record, at exit");
        assert_eq!(plans[3].span, 0, "nothing to capture: no loop");
    }

    #[test]
    fn descriptors_are_marked_and_closes_judged_only_when_asked() {
        let known = Reporting {
            lazy_closes: true,
            ..Reporting::default()
        };
        let plans = build(&set("openat,close,pipe2,dup2,execve"), &known);
        assert_eq!(
            plans[257].fd_marks,
            0b1 | MARK_RESULT,
            "dirfd and the result"
        );
        assert_eq!(plans[33].fd_marks, 0b11 | MARK_RESULT, "both of dup2's");
        assert_eq!(plans[293].fd_marks, 0b1, "the pair pipe2 wrote, not its 0");
        assert_eq!(plans[59].fd_marks, 0, "execve tells of none");
        assert_eq!((plans[3].lazy_close, plans[3].fd_marks), (1, 0));
        let bytes = bytes(&plans[3]);
        assert_eq!((bytes[18], bytes[19]), (0, 1));
        let plans = build(&set("openat,close"), &Reporting::default());
        assert_eq!((plans[257].fd_marks, plans[3].lazy_close), (0, 0));
        let plans = build(&set("read,fcntl"), &known);
        assert_eq!(plans[0].fd_marks, 0b1, "read's count is no descriptor");
        assert_eq!(plans[72].fd_marks, 0b1, "nor fcntl's flags");
    }

    #[test]
    fn accept_reads_the_peer_at_exit_and_socketcall_multiplexes_it() {
        let plans = build(&set("accept,connect"), &Reporting::default());
        assert_eq!(plans[43].cap[1], CAP_SOCKADDR_OUT);
        assert_eq!(plans[43].aux[1], 2);
        assert_eq!(plans[43].exit_caps, 1);
        assert_eq!(plans[42].cap[1], CAP_SOCKADDR);
        assert_eq!(plans[I386_BASE + 102].traced, TRACED);
        // socketcall op 3 is connect, with three words.
        assert_eq!(plans[SOCKETCALL_BASE + 3].cap[1], CAP_SOCKADDR);
        assert_eq!(plans[SOCKETCALL_BASE + 3].words, 3);
        assert_eq!(
            plans[SOCKETCALL_BASE + 1].traced,
            0,
            "socket is not in the set"
        );
    }

    #[test]
    fn execve_reads_argv_and_pipe_its_fds() {
        let plans = build(&set("execve,pipe2"), &Reporting::default());
        assert_eq!(plans[59].cap[0], CAP_STR);
        assert_eq!(plans[59].cap[1], CAP_ARGV);
        assert_eq!(plans[59].traced, TRACED, "two records: read at entry");
        assert_eq!(plans[293].cap[0], CAP_FDPAIR);
    }
}
