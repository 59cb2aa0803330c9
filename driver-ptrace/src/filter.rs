//! The seccomp filter the workload runs under: `SECCOMP_RET_TRACE` for the interest set, `ALLOW`
//! for everything else, so that only the syscalls we report ever stop the tracee.
//!
//! The per-ABI bodies (one comparison chain per syscall number) are built by seccompiler. It only
//! builds single-arch programs that kill the process on any other arch, which would turn an
//! `int 0x80` call into a crash; so we strip its arch check and put our own dispatch in front:
//!
//! ```text
//!      ld  arch
//!      jeq AUDIT_ARCH_I386    -> i386 body (through a long jump)
//!      jeq AUDIT_ARCH_X86_64  -> native
//!      ret TRACE(FOREIGN)        any other arch: stop and let the tracer look
//! native:
//!      ld  nr
//!      jge X32_SYSCALL_BIT    -> ret TRACE(X32)   x32 calls are never let through unseen
//!      argument checks           a few x86_64 calls stopped only for some argument values
//!      x86_64 body               TRACE(X86_64) for the set, ALLOW otherwise
//!      i386 body                 TRACE(I386) for the set (and socketcall), ALLOW otherwise
//! ```
//!
//! The bodies depend only on arch and number, so the kernel's seccomp action cache (5.11+)
//! resolves every allowed syscall without running the program: untraced syscalls cost the
//! workload nothing. The argument checks ([`ArgCheck`]: `dup2` onto a standard descriptor,
//! `close` of one, see `guard`) make their own few calls run the program; they come first, so
//! that run is a handful of instructions.
//!
//! The `SECCOMP_RET_DATA` of a trace action tells the tracer which ABI stopped, for kernels
//! without `PTRACE_GET_SYSCALL_INFO`.

use std::collections::BTreeMap;

use lanner_common::syscalls::{ids, Abi, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};
use lanner_common::SyscallSet;
use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};

/// `SECCOMP_RET_DATA` of a native x86_64 trace.
pub const DATA_X86_64: u16 = 1;
/// `SECCOMP_RET_DATA` of an i386 trace.
pub const DATA_I386: u16 = 2;
/// `SECCOMP_RET_DATA` of an x32 trace.
pub const DATA_X32: u16 = 3;
/// `SECCOMP_RET_DATA` of a trace for an arch this filter does not know.
pub const DATA_FOREIGN: u16 = 4;

/// The ABI a `SECCOMP_RET_DATA` value stands for.
pub fn abi_of_data(data: u64) -> Option<Abi> {
    match u16::try_from(data).ok()? {
        DATA_X86_64 => Some(Abi::X86_64),
        DATA_I386 => Some(Abi::I386),
        DATA_X32 => Some(Abi::X32),
        _ => None,
    }
}

/// Errors building the filter.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// seccompiler refused the rules.
    #[error("building the seccomp filter: {0}")]
    Seccompiler(#[from] seccompiler::BackendError),
    /// seccompiler's output did not start with the arch check this module strips.
    #[error("seccompiler produced a program of an unexpected shape; cannot splice ABIs")]
    UnexpectedShape,
    /// The program exceeds the kernel's limit.
    #[error(
        "the seccomp filter would have {0} instructions, more than the kernel's 4096: \
         the interest set is too large for the ptrace driver; narrow it"
    )]
    TooLong(usize),
}

pub(crate) const BPF_LD: u16 = 0x00;
pub(crate) const BPF_JMP: u16 = 0x05;
pub(crate) const BPF_RET: u16 = 0x06;
pub(crate) const BPF_W: u16 = 0x00;
pub(crate) const BPF_ABS: u16 = 0x20;
const BPF_JA: u16 = 0x00;
pub(crate) const BPF_JEQ: u16 = 0x10;
const BPF_JSET: u16 = 0x40;
const BPF_JGE: u16 = 0x30;
pub(crate) const BPF_K: u16 = 0x00;
pub(crate) const DATA_NR_OFFSET: u32 = 0;
pub(crate) const DATA_ARCH_OFFSET: u32 = 4;
/// `seccomp_data.args[0]`; each argument is 8 bytes, its low half first (little-endian).
const DATA_ARGS_OFFSET: u32 = 16;
const BPF_MAXINSNS: usize = 4096;

pub(crate) fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

pub(crate) fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

pub(crate) fn trace(data: u16) -> u32 {
    libc::SECCOMP_RET_TRACE | u32::from(data)
}

/// The numbers of `abi` to trace: the set's, minus the two calls that must never stop (the
/// kernel restarts and returns from signal handlers through them, and a stop there would
/// corrupt the restart).
fn traced_numbers(interest: &SyscallSet, abi: Abi) -> Vec<u64> {
    let never: Vec<u64> = [ids::RT_SIGRETURN, ids::RESTART_SYSCALL]
        .iter()
        .flat_map(|id| id.numbers_in(abi))
        .collect();
    let mut numbers = interest.abi_numbers(abi);
    numbers.retain(|nr| !never.contains(nr));
    numbers
}

/// One ABI's comparison chain, built by seccompiler, without its arch check.
fn body(numbers: &[u64], data: u16) -> Result<Vec<libc::sock_filter>, FilterError> {
    let rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>> = numbers
        .iter()
        .filter_map(|&nr| i64::try_from(nr).ok())
        .map(|nr| (nr, Vec::new()))
        .collect();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Trace(u32::from(data)),
        TargetArch::x86_64,
    )?;
    let program: BpfProgram = filter.try_into()?;
    let expected_prefix = [
        (BPF_LD | BPF_W | BPF_ABS, DATA_ARCH_OFFSET),
        (BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64),
        (BPF_RET | BPF_K, libc::SECCOMP_RET_KILL_PROCESS),
    ];
    let prefix_ok = program.len() > expected_prefix.len()
        && program
            .iter()
            .zip(expected_prefix)
            .all(|(insn, (code, k))| insn.code == code && insn.k == k);
    if !prefix_ok {
        return Err(FilterError::UnexpectedShape);
    }
    Ok(program[expected_prefix.len()..]
        .iter()
        .map(|insn| jump(insn.code, insn.k, insn.jt, insn.jf))
        .collect())
}

/// A native (x86_64) call stopped only for some values of its argument `arg`, as `test` says.
/// Descriptors, commands and open flags are C `int`s, so only the low 32 bits are looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgCheck {
    /// x86_64 syscall number.
    pub nr: u32,
    /// Argument index.
    pub arg: u8,
    /// When it stops.
    pub test: ArgTest,
}

/// When an [`ArgCheck`]'s call stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgTest {
    /// When the argument is below this, and (with the pair) another argument (index, value)
    /// equals a value.
    Below(u32, Option<(u8, u32)>),
    /// Unless the argument has every bit of `all` and none of `none` (the open flags of a read
    /// of a directory).
    UnlessFlags { all: u32, none: u32 },
}

impl ArgCheck {
    /// Stopped when argument `arg` is below `below`.
    pub fn below(nr: u32, arg: u8, below: u32) -> ArgCheck {
        ArgCheck {
            nr,
            arg,
            test: ArgTest::Below(below, None),
        }
    }

    /// The check's instructions, self-contained: they fall through to what follows when the
    /// number is another, and return otherwise. Layout: `jeq nr`; the tests; `ret TRACE`;
    /// `ret ALLOW`.
    fn instructions(&self) -> Vec<libc::sock_filter> {
        let arg_offset = |i: u8| DATA_ARGS_OFFSET + 8 * u32::from(i);
        let load = |i: u8| stmt(BPF_LD | BPF_W | BPF_ABS, arg_offset(i));
        // Each test is (instruction, what its true branch does, what its false branch does).
        #[derive(Clone, Copy)]
        enum To {
            Next,
            Trace,
            Allow,
        }
        let mut tests: Vec<(libc::sock_filter, To, To)> =
            vec![(load(self.arg), To::Next, To::Next)];
        match self.test {
            ArgTest::Below(below, and_equals) => {
                let last = and_equals.is_none();
                tests.push((
                    jump(BPF_JMP | BPF_JGE | BPF_K, below, 0, 0),
                    To::Allow,
                    if last { To::Trace } else { To::Next },
                ));
                if let Some((arg, value)) = and_equals {
                    tests.push((load(arg), To::Next, To::Next));
                    tests.push((
                        jump(BPF_JMP | BPF_JEQ | BPF_K, value, 0, 0),
                        To::Trace,
                        To::Allow,
                    ));
                }
            }
            ArgTest::UnlessFlags { all, none } => {
                tests.push((
                    jump(BPF_JMP | BPF_JSET | BPF_K, all, 0, 0),
                    To::Next,
                    To::Trace,
                ));
                tests.push((
                    jump(BPF_JMP | BPF_JSET | BPF_K, none, 0, 0),
                    To::Trace,
                    To::Allow,
                ));
            }
        }
        let len = tests.len();
        let offset = |i: usize, to: To| -> u8 {
            // From test i, TRACE is len - i - 1 instructions ahead, ALLOW one further.
            match to {
                To::Next => 0,
                To::Trace => (len - i - 1) as u8,
                To::Allow => (len - i) as u8,
            }
        };
        let mut block = vec![jump(BPF_JMP | BPF_JEQ | BPF_K, self.nr, 0, (len + 2) as u8)];
        for (i, (mut insn, on_true, on_false)) in tests.into_iter().enumerate() {
            if insn.code & 0x07 == BPF_JMP {
                insn.jt = offset(i, on_true);
                insn.jf = offset(i, on_false);
            }
            block.push(insn);
        }
        block.push(stmt(BPF_RET | BPF_K, trace(DATA_X86_64)));
        block.push(stmt(BPF_RET | BPF_K, libc::SECCOMP_RET_ALLOW));
        block
    }
}

/// The checks that let reads of directories through without a stop (see
/// [`OpenFilter::directories_left_out`](lanner_common::OpenFilter)): `open` and `openat`, where
/// they stop (are in `stopping`) and `filter` applies to them and leaves such opens out.
/// (`openat2` keeps its flags in memory, which seccomp cannot read.)
pub fn directory_reads_unstopped(
    filter: &lanner_common::OpenFilter,
    stopping: &SyscallSet,
) -> Vec<ArgCheck> {
    if !filter.directories_left_out {
        return Vec::new();
    }
    // lanner_common::paths::opens_a_directory, as a filter test (the flags fit in 32 bits).
    let test = ArgTest::UnlessFlags {
        all: libc::O_DIRECTORY as u32,
        none: lanner_common::paths::NOT_A_DIRECTORY_READ as u32,
    };
    filter
        .calls
        .iter()
        // Only where the filter reads the flags from an argument, which seccomp sees too.
        .filter(|call| matches!(call.id.name(), "open" | "openat") && stopping.contains(call.id))
        .filter_map(|call| {
            Some(ArgCheck {
                nr: u32::try_from(call.id.number_in(Abi::X86_64)?).ok()?,
                arg: call.flags?,
                test,
            })
        })
        .collect()
}

/// What stops, beyond the interest set: numbers of it not stopped on x86_64, and the calls
/// stopped by their arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StopPlan {
    /// x86_64 numbers of the set that never stop (`dup` under the standard-descriptor guard).
    pub native_unstopped: Vec<u64>,
    /// x86_64 calls stopped for some argument values only (whatever the set says of them).
    pub arg_checks: Vec<ArgCheck>,
}

/// Builds the whole program for `interest`, every call of the set stopping.
pub fn build(interest: &SyscallSet) -> Result<Vec<libc::sock_filter>, FilterError> {
    build_planned(interest, &StopPlan::default())
}

/// Builds the whole program for `interest` as `plan` refines it.
pub fn build_planned(
    interest: &SyscallSet,
    plan: &StopPlan,
) -> Result<Vec<libc::sock_filter>, FilterError> {
    let mut native_numbers = traced_numbers(interest, Abi::X86_64);
    native_numbers.retain(|nr| {
        !plan.native_unstopped.contains(nr)
            && !plan.arg_checks.iter().any(|c| u64::from(c.nr) == *nr)
    });
    let checks: Vec<libc::sock_filter> = plan
        .arg_checks
        .iter()
        .flat_map(ArgCheck::instructions)
        .collect();
    let native = body(&native_numbers, DATA_X86_64)?;
    let compat = body(&traced_numbers(interest, Abi::I386), DATA_I386)?;

    // Offsets are relative to the next instruction.
    let skip = native.len() + checks.len();
    let skip_len = u32::try_from(skip).map_err(|_| FilterError::TooLong(skip))?;
    let mut program = vec![
        /* 0 */ stmt(BPF_LD | BPF_W | BPF_ABS, DATA_ARCH_OFFSET),
        /* 1 */ jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 0, 1),
        /* 2 */ stmt(BPF_JMP | BPF_JA, 5 + skip_len),
        /* 3 */ jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        /* 4 */ stmt(BPF_RET | BPF_K, trace(DATA_FOREIGN)),
        /* 5 */ stmt(BPF_LD | BPF_W | BPF_ABS, DATA_NR_OFFSET),
        /* 6 */ jump(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT as u32, 0, 1),
        /* 7 */ stmt(BPF_RET | BPF_K, trace(DATA_X32)),
    ];
    // `ja k` at index 2 lands at 2 + 1 + k = 8 + checks + native: past the five dispatch
    // instructions 3..=7, the argument checks and the native body, at the compat body's first
    // instruction. The checks keep the accumulator (the number) for what follows them.
    program.extend(checks);
    program.extend(native);
    program.extend(compat);
    if program.len() > BPF_MAXINSNS {
        return Err(FilterError::TooLong(program.len()));
    }
    Ok(program)
}

/// A built program ready to install from a freshly forked child: only async-signal-safe work
/// happens in [`InstallableFilter::install`].
pub struct InstallableFilter {
    program: Vec<libc::sock_filter>,
}

/// How the filter was installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    /// Without `no_new_privs`: the workload's setuid binaries keep working.
    Plain,
    /// `no_new_privs` had to be set (no `CAP_SYS_ADMIN`): setuid and file capabilities do not
    /// elevate in the workload.
    WithNoNewPrivs,
}

impl InstallableFilter {
    /// Wraps a program.
    pub fn new(program: Vec<libc::sock_filter>) -> Self {
        InstallableFilter { program }
    }

    /// Installs the filter on the calling thread. Async-signal-safe: raw syscalls only, no
    /// allocation. Returns the errno on failure.
    ///
    /// `SECCOMP_FILTER_FLAG_SPEC_ALLOW` keeps the kernel from switching on speculative-store-bypass
    /// mitigation for the workload just because it now has a filter (older kernels do that by
    /// default and it costs some workloads dearly); the workload keeps whatever mitigation it
    /// would have had without the agent. Kernels before 4.17 reject the flag, so it is retried
    /// without.
    pub fn install(&self) -> Result<Installed, i32> {
        let Ok(len) = u16::try_from(self.program.len()) else {
            return Err(libc::E2BIG);
        };
        let fprog = libc::sock_fprog {
            len,
            filter: self.program.as_ptr().cast_mut(),
        };
        let attempt = |flags: libc::c_ulong| -> Result<(), i32> {
            // SAFETY: `fprog` points at a live program of `len` instructions; seccomp copies it.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    flags,
                    &fprog as *const libc::sock_fprog,
                )
            };
            if rc == 0 {
                Ok(())
            } else {
                Err(errno())
            }
        };
        let with_fallback = || match attempt(libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW) {
            Err(libc::EINVAL) => attempt(0),
            other => other,
        };
        match with_fallback() {
            Ok(()) => Ok(Installed::Plain),
            Err(libc::EACCES) => {
                // SAFETY: prctl with integer arguments.
                if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                    return Err(errno());
                }
                with_fallback().map(|()| Installed::WithNoNewPrivs)
            }
            Err(e) => Err(e),
        }
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lanner_common::syscalls::SyscallId;

    /// Runs a cBPF seccomp program the way the kernel does, for one (arch, nr).
    fn run(program: &[libc::sock_filter], arch: u32, nr: u32) -> u32 {
        run_with(program, arch, nr, [0; 6])
    }

    /// The same, with arguments.
    fn run_with(program: &[libc::sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let insn = program[pc];
            match insn.code {
                c if c == BPF_LD | BPF_W | BPF_ABS => {
                    acc = match insn.k {
                        DATA_NR_OFFSET => nr,
                        DATA_ARCH_OFFSET => arch,
                        k if (DATA_ARGS_OFFSET..DATA_ARGS_OFFSET + 48).contains(&k)
                            && k % 8 == 0 =>
                        {
                            args[((k - DATA_ARGS_OFFSET) / 8) as usize] as u32
                        }
                        other => panic!("filter reads seccomp_data offset {other}"),
                    };
                    pc += 1;
                }
                c if c == BPF_JMP | BPF_JA => pc += 1 + insn.k as usize,
                c if c == BPF_JMP | BPF_JEQ | BPF_K => {
                    pc += 1 + usize::from(if acc == insn.k { insn.jt } else { insn.jf })
                }
                c if c == BPF_JMP | BPF_JGE | BPF_K => {
                    pc += 1 + usize::from(if acc >= insn.k { insn.jt } else { insn.jf })
                }
                c if c == BPF_JMP | BPF_JSET | BPF_K => {
                    pc += 1 + usize::from(if acc & insn.k != 0 { insn.jt } else { insn.jf })
                }
                c if c == BPF_RET | BPF_K => return insn.k,
                other => panic!("unexpected instruction {other:#x}"),
            }
        }
    }

    fn set(names: &str) -> SyscallSet {
        SyscallSet::parse_names(names).expect("names")
    }

    #[test]
    fn traces_the_set_and_allows_the_rest_on_both_abis() {
        let program = build(&set("openat,open,execve,connect")).expect("builds");
        let x64 = AUDIT_ARCH_X86_64;
        assert_eq!(run(&program, x64, 257), trace(DATA_X86_64)); // openat
        assert_eq!(run(&program, x64, 59), trace(DATA_X86_64)); // execve
        assert_eq!(run(&program, x64, 39), libc::SECCOMP_RET_ALLOW); // getpid
        assert_eq!(run(&program, x64, 5), libc::SECCOMP_RET_ALLOW); // fstat, not i386 open
        let i386 = AUDIT_ARCH_I386;
        assert_eq!(run(&program, i386, 5), trace(DATA_I386)); // i386 open
        assert_eq!(run(&program, i386, 11), trace(DATA_I386)); // i386 execve
        assert_eq!(run(&program, i386, 102), trace(DATA_I386)); // socketcall hides connect
        assert_eq!(run(&program, i386, 20), libc::SECCOMP_RET_ALLOW); // i386 getpid
    }

    #[test]
    fn x32_and_unknown_arches_always_stop() {
        let program = build(&set("openat")).expect("builds");
        let x32_getpid = (X32_SYSCALL_BIT + 39) as u32;
        assert_eq!(
            run(&program, AUDIT_ARCH_X86_64, x32_getpid),
            trace(DATA_X32)
        );
        assert_eq!(run(&program, 0x4000_0028, 1), trace(DATA_FOREIGN)); // arm
    }

    #[test]
    fn signal_return_paths_are_never_traced() {
        let mut interest = lanner_common::driver::default_interest();
        interest.insert(ids::RT_SIGRETURN);
        interest.insert(ids::RESTART_SYSCALL);
        let program = build(&interest).expect("builds");
        for id in [ids::RT_SIGRETURN, ids::RESTART_SYSCALL] {
            for abi in [Abi::X86_64, Abi::I386] {
                for nr in id.numbers_in(abi) {
                    assert_eq!(
                        run(&program, abi.audit_arch(), nr as u32),
                        libc::SECCOMP_RET_ALLOW,
                        "{} {abi}",
                        id.name()
                    );
                }
            }
        }
        let openat = SyscallId::from_name("openat").expect("openat");
        let nr = openat.number_in(Abi::X86_64).expect("nr") as u32;
        assert_eq!(run(&program, AUDIT_ARCH_X86_64, nr), trace(DATA_X86_64));
    }

    #[test]
    fn whole_syscall_table_is_refused_with_a_reason() {
        let err = build(&SyscallSet::all()).expect_err("too long");
        assert!(err.to_string().contains("narrow it"), "{err}");
    }

    #[test]
    fn empty_set_allows_everything_native() {
        let program = build(&SyscallSet::new()).expect("builds");
        assert_eq!(
            run(&program, AUDIT_ARCH_X86_64, 257),
            libc::SECCOMP_RET_ALLOW
        );
        assert_eq!(run(&program, AUDIT_ARCH_I386, 5), libc::SECCOMP_RET_ALLOW);
    }

    #[test]
    fn argument_checks_stop_only_their_values_and_leave_the_rest_as_it_was() {
        let interest = set("openat,dup,dup2,execve");
        let plan = StopPlan {
            native_unstopped: vec![32], // dup
            arg_checks: vec![
                // dup2 onto 0..=2
                ArgCheck::below(33, 1, 3),
                // close of 0..=2 (not in the set)
                ArgCheck::below(3, 0, 3),
                // fcntl(0..=2, F_SETFD)
                ArgCheck {
                    nr: 72,
                    arg: 0,
                    test: ArgTest::Below(3, Some((1, 2))),
                },
            ],
        };
        let program = build_planned(&interest, &plan).expect("builds");
        let x64 = AUDIT_ARCH_X86_64;
        let with = |nr, args| run_with(&program, x64, nr, args);
        assert_eq!(with(32, [0; 6]), libc::SECCOMP_RET_ALLOW, "dup never stops");
        assert_eq!(
            with(33, [5, 1, 0, 0, 0, 0]),
            trace(DATA_X86_64),
            "dup2 onto 1"
        );
        assert_eq!(
            with(33, [5, 7, 0, 0, 0, 0]),
            libc::SECCOMP_RET_ALLOW,
            "onto 7"
        );
        // Only the low half counts: the kernel reads an unsigned int.
        assert_eq!(with(33, [5, 1 << 32 | 2, 0, 0, 0, 0]), trace(DATA_X86_64));
        assert_eq!(with(3, [2, 0, 0, 0, 0, 0]), trace(DATA_X86_64), "close(2)");
        assert_eq!(
            with(3, [3, 0, 0, 0, 0, 0]),
            libc::SECCOMP_RET_ALLOW,
            "close(3)"
        );
        assert_eq!(
            with(72, [0, 2, 1, 0, 0, 0]),
            trace(DATA_X86_64),
            "F_SETFD on 0"
        );
        assert_eq!(
            with(72, [0, 1, 0, 0, 0, 0]),
            libc::SECCOMP_RET_ALLOW,
            "F_GETFD"
        );
        assert_eq!(
            with(72, [4, 2, 1, 0, 0, 0]),
            libc::SECCOMP_RET_ALLOW,
            "F_SETFD on 4"
        );
        // The rest is untouched, on both ABIs.
        assert_eq!(with(257, [0; 6]), trace(DATA_X86_64), "openat");
        assert_eq!(with(59, [0; 6]), trace(DATA_X86_64), "execve");
        assert_eq!(with(39, [0; 6]), libc::SECCOMP_RET_ALLOW, "getpid");
        let i386 = AUDIT_ARCH_I386;
        assert_eq!(
            run(&program, i386, 41),
            trace(DATA_I386),
            "i386 dup still stops"
        );
        assert_eq!(
            run(&program, i386, 6),
            libc::SECCOMP_RET_ALLOW,
            "i386 close"
        );
        assert_eq!(run(&program, i386, 5), libc::SECCOMP_RET_ALLOW, "i386 open");
        assert_eq!(run(&program, i386, 295), trace(DATA_I386), "i386 openat");
    }

    #[test]
    fn reads_of_directories_pass_without_a_stop_when_the_open_filter_leaves_them_out() {
        use lanner_common::{OpenCall, OpenFilter};
        let calls = ["open", "openat", "openat2"]
            .iter()
            .map(|name| OpenCall {
                id: SyscallId::from_name(name).expect("a syscall"),
                path: if *name == "open" { 0 } else { 1 },
                flags: match *name {
                    "open" => Some(1),
                    "openat" => Some(2),
                    _ => None,
                },
            })
            .collect::<Vec<_>>();
        let filter = OpenFilter::new(calls.clone(), Vec::new(), true);
        let stopping = set("open,openat,openat2");
        assert!(
            directory_reads_unstopped(&filter, &stopping).is_empty(),
            "not asked"
        );
        let filter = filter.leaving_out_directories(true);
        assert_eq!(
            directory_reads_unstopped(&filter, &set("openat2,execve")),
            Vec::new(),
            "none where open and openat do not stop"
        );
        let checks = directory_reads_unstopped(&filter, &stopping);
        assert_eq!(checks.len(), 2, "open and openat, not openat2: {checks:?}");
        let plan = StopPlan {
            native_unstopped: Vec::new(),
            arg_checks: checks,
        };
        let program = build_planned(&stopping, &plan).expect("builds");
        let x64 = AUDIT_ARCH_X86_64;
        let openat = |flags: i32| run_with(&program, x64, 257, [0, 0, flags as u64, 0, 0, 0]);
        let dir = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC | libc::O_NONBLOCK;
        assert_eq!(
            openat(dir),
            libc::SECCOMP_RET_ALLOW,
            "a read of a directory"
        );
        assert_eq!(
            openat(libc::O_RDONLY),
            trace(DATA_X86_64),
            "a read of a file"
        );
        assert_eq!(openat(dir | libc::O_CREAT), trace(DATA_X86_64));
        assert_eq!(openat(dir | libc::O_TRUNC), trace(DATA_X86_64));
        assert_eq!(openat(libc::O_TMPFILE | libc::O_RDWR), trace(DATA_X86_64));
        assert_eq!(
            openat(libc::O_DIRECTORY | libc::O_WRONLY),
            trace(DATA_X86_64)
        );
        let open = |flags: i32| run_with(&program, x64, 2, [0, flags as u64, 0, 0, 0, 0]);
        assert_eq!(open(dir), libc::SECCOMP_RET_ALLOW);
        assert_eq!(open(libc::O_RDONLY), trace(DATA_X86_64));
        assert_eq!(run(&program, x64, 437), trace(DATA_X86_64), "openat2 stops");
        assert_eq!(
            run(&program, AUDIT_ARCH_I386, 295),
            trace(DATA_I386),
            "i386 openat"
        );
    }
}
