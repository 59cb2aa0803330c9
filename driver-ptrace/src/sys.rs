//! Thin, typed wrappers over the ptrace and wait calls the tracer makes. nix's wrappers take
//! `Signal`, which cannot hold real-time signals, and nix's `waitpid` refuses stops by them; a
//! tracer must inject every signal exactly as it arrived, so these take raw signal numbers.

use std::io;

use lanner_common::DriverError;

/// The options every tracee gets (auto-attached children inherit them). Not
/// `PTRACE_O_TRACEEXIT`: the death report tells the tracer all it needs of an exit, so an
/// exit stop would only cost the exiting task a round trip.
pub const OPTIONS: libc::c_int = libc::PTRACE_O_TRACESECCOMP
    | libc::PTRACE_O_TRACESYSGOOD
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACEEXEC
    | libc::PTRACE_O_EXITKILL;

/// A ptrace or wait failure: which request, on which task, and the OS error.
#[derive(Debug, thiserror::Error)]
#[error("{call} on task {tid}: {source}")]
pub struct PtraceError {
    /// The request.
    pub call: &'static str,
    /// The task.
    pub tid: i32,
    /// The OS error.
    pub source: io::Error,
}

impl PtraceError {
    /// Whether the task no longer exists (or is no longer stopped for us): it was killed, which a
    /// tracer must expect at any moment.
    pub fn is_gone(&self) -> bool {
        self.source.raw_os_error() == Some(libc::ESRCH)
    }
}

impl From<PtraceError> for DriverError {
    fn from(err: PtraceError) -> Self {
        DriverError::Syscall {
            call: err.call,
            source: err.source,
        }
    }
}

type Result<T> = std::result::Result<T, PtraceError>;

fn request(
    call: &'static str,
    req: libc::c_uint,
    tid: i32,
    addr: usize,
    data: usize,
) -> Result<libc::c_long> {
    // SAFETY: the requests issued through here either take no pointers or take `data` pointing at
    // a live, correctly sized buffer owned by the caller (see each wrapper).
    let rc = unsafe {
        libc::ptrace(
            req,
            tid,
            addr as *mut libc::c_void,
            data as *mut libc::c_void,
        )
    };
    if rc == -1 {
        Err(PtraceError {
            call,
            tid,
            source: io::Error::last_os_error(),
        })
    } else {
        Ok(rc)
    }
}

/// `PTRACE_SEIZE` with [`OPTIONS`].
pub fn seize(tid: i32) -> Result<()> {
    seize_with(tid, OPTIONS)
}

/// `PTRACE_SEIZE` with other options (the probe's throwaway children must not stop at exit).
pub fn seize_with(tid: i32, options: libc::c_int) -> Result<()> {
    request(
        "ptrace(PTRACE_SEIZE)",
        libc::PTRACE_SEIZE,
        tid,
        0,
        options as usize,
    )
    .map(drop)
}

/// `PTRACE_CONT`, delivering `sig` (0 for none).
pub fn cont(tid: i32, sig: i32) -> Result<()> {
    request(
        "ptrace(PTRACE_CONT)",
        libc::PTRACE_CONT,
        tid,
        0,
        sig as usize,
    )
    .map(drop)
}

/// `PTRACE_SYSCALL`: resume and stop at the next syscall boundary (the exit of the current one).
pub fn syscall(tid: i32, sig: i32) -> Result<()> {
    request(
        "ptrace(PTRACE_SYSCALL)",
        libc::PTRACE_SYSCALL,
        tid,
        0,
        sig as usize,
    )
    .map(drop)
}

/// `PTRACE_LISTEN`: leave a group-stopped tracee stopped, but let it be woken by `SIGCONT`.
pub fn listen(tid: i32) -> Result<()> {
    request("ptrace(PTRACE_LISTEN)", libc::PTRACE_LISTEN, tid, 0, 0).map(drop)
}

/// `PTRACE_GETEVENTMSG`.
pub fn event_msg(tid: i32) -> Result<u64> {
    let mut msg: libc::c_ulong = 0;
    request(
        "ptrace(PTRACE_GETEVENTMSG)",
        libc::PTRACE_GETEVENTMSG,
        tid,
        0,
        &mut msg as *mut _ as usize,
    )?;
    Ok(msg)
}

/// `PTRACE_GETREGS`.
pub fn regs(tid: i32) -> Result<libc::user_regs_struct> {
    // SAFETY: user_regs_struct is plain old data; all-zero is a valid value.
    let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    request(
        "ptrace(PTRACE_GETREGS)",
        libc::PTRACE_GETREGS,
        tid,
        0,
        &mut regs as *mut _ as usize,
    )?;
    Ok(regs)
}

/// `PTRACE_SETREGS`.
pub fn set_regs(tid: i32, regs: &libc::user_regs_struct) -> Result<()> {
    request(
        "ptrace(PTRACE_SETREGS)",
        libc::PTRACE_SETREGS,
        tid,
        0,
        regs as *const _ as usize,
    )
    .map(drop)
}

/// `PTRACE_POKEDATA`: writes one word of the tracee's memory (through its page protections,
/// as a debugger writes breakpoints).
pub fn poke(tid: i32, addr: u64, word: u64) -> Result<()> {
    request(
        "ptrace(PTRACE_POKEDATA)",
        libc::PTRACE_POKEDATA,
        tid,
        addr as usize,
        word as usize,
    )
    .map(drop)
}

/// What `PTRACE_GET_SYSCALL_INFO` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyscallInfo {
    /// A seccomp stop or syscall-entry stop: the call about to run.
    Entry {
        /// `AUDIT_ARCH_*` of the call.
        arch: u32,
        /// Raw number.
        nr: u64,
        /// Argument registers.
        args: [u64; 6],
        /// Instruction pointer.
        ip: u64,
    },
    /// A syscall-exit stop.
    Exit {
        /// `AUDIT_ARCH_*` of the call.
        arch: u32,
        /// Return value (or -errno).
        rval: i64,
    },
    /// Not at a syscall boundary.
    None,
}

// Layout of `struct ptrace_syscall_info` (linux/ptrace.h): declared here because libc's copy
// wraps the union in a way that is awkward to read, and the layout is fixed ABI.
#[repr(C)]
#[derive(Clone, Copy)]
struct RawSyscallInfo {
    op: u8,
    pad: [u8; 3],
    arch: u32,
    instruction_pointer: u64,
    stack_pointer: u64,
    // entry: nr, args[6]; exit: rval, is_error; seccomp: nr, args[6], ret_data.
    data: [u64; 8],
}

const OP_NONE: u8 = 0;
const OP_ENTRY: u8 = 1;
const OP_EXIT: u8 = 2;
const OP_SECCOMP: u8 = 3;

/// `PTRACE_GET_SYSCALL_INFO` (Linux 5.3+).
pub fn syscall_info(tid: i32) -> Result<SyscallInfo> {
    let mut raw = RawSyscallInfo {
        op: 0,
        pad: [0; 3],
        arch: 0,
        instruction_pointer: 0,
        stack_pointer: 0,
        data: [0; 8],
    };
    request(
        "ptrace(PTRACE_GET_SYSCALL_INFO)",
        libc::PTRACE_GET_SYSCALL_INFO,
        tid,
        std::mem::size_of::<RawSyscallInfo>(),
        &mut raw as *mut _ as usize,
    )?;
    Ok(match raw.op {
        OP_ENTRY | OP_SECCOMP => SyscallInfo::Entry {
            arch: raw.arch,
            nr: raw.data[0],
            args: [
                raw.data[1],
                raw.data[2],
                raw.data[3],
                raw.data[4],
                raw.data[5],
                raw.data[6],
            ],
            ip: raw.instruction_pointer,
        },
        OP_EXIT => SyscallInfo::Exit {
            arch: raw.arch,
            rval: raw.data[0] as i64,
        },
        OP_NONE => SyscallInfo::None,
        _ => SyscallInfo::None,
    })
}

/// One `waitpid` report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The task exited (`WIFEXITED`) with this code.
    Exited(i32, i32),
    /// The task was killed (`WIFSIGNALED`) by this signal.
    Signaled(i32, i32, bool),
    /// The task stopped (`WIFSTOPPED`): tid, signal, and the ptrace event in `status >> 16`.
    Stopped(i32, i32, i32),
    /// The task continued (`WIFCONTINUED`); not requested, listed for completeness.
    Continued(i32),
}

/// A blocking `waitpid(pid, __WALL)`, tried again when a signal interrupts it: (tid, status).
fn wait_blocking(pid: i32) -> io::Result<(i32, i32)> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer.
        let tid = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
        if tid != -1 {
            return Ok((tid, status));
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(err);
        }
    }
}

/// `waitpid(-1, __WALL)`: the next report from any tracee. `Ok(None)` when no tracee is left
/// (`ECHILD`).
pub fn wait_any() -> std::result::Result<Option<Wait>, PtraceError> {
    match wait_blocking(-1) {
        Ok((tid, status)) => Ok(Some(decode_status(tid, status))),
        Err(err) if err.raw_os_error() == Some(libc::ECHILD) => Ok(None),
        Err(source) => Err(PtraceError {
            call: "waitpid",
            tid: -1,
            source,
        }),
    }
}

/// `waitpid(tid, __WALL)`: the next report of this one tracee (the others' wait their turn).
pub fn wait_for(tid: i32) -> std::result::Result<Wait, PtraceError> {
    let (got, status) = wait_blocking(tid).map_err(|source| PtraceError {
        call: "waitpid",
        tid,
        source,
    })?;
    Ok(decode_status(got, status))
}

/// `waitpid(-1, __WALL | WNOHANG)`: a report if one is ready. `Ok(Err(()))` when none is ready
/// yet, `Ok(Ok(None))` when no tracee is left.
#[allow(clippy::type_complexity)]
pub fn try_wait_any() -> std::result::Result<std::result::Result<Option<Wait>, ()>, PtraceError> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer.
        let tid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL | libc::WNOHANG) };
        match tid {
            0 => return Ok(Err(())),
            -1 => {
                let err = io::Error::last_os_error();
                return match err.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ECHILD) => Ok(Ok(None)),
                    _ => Err(PtraceError {
                        call: "waitpid",
                        tid: -1,
                        source: err,
                    }),
                };
            }
            tid => return Ok(Ok(Some(decode_status(tid, status)))),
        }
    }
}

fn decode_status(tid: i32, status: i32) -> Wait {
    if libc::WIFEXITED(status) {
        Wait::Exited(tid, libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        Wait::Signaled(tid, libc::WTERMSIG(status), libc::WCOREDUMP(status))
    } else if libc::WIFSTOPPED(status) {
        Wait::Stopped(tid, libc::WSTOPSIG(status), (status >> 16) & 0xffff)
    } else {
        Wait::Continued(tid)
    }
}

/// `tgkill`-free signal to a whole process.
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill takes plain integers.
    if unsafe { libc::kill(pid, sig) } == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
