//! Reading a syscall's arguments out of a stopped tracee, as the spec table asks: at entry what
//! the caller passed (paths, strings, socket addresses, argv), at exit what the kernel wrote
//! (accepted peer addresses, pipe fds).

use lanner_common::event::{Captured, RawSyscall};
use lanner_common::spec::{self, Capture, ParamType};
use lanner_common::syscalls::{socketcall, Abi, SyscallId};

use crate::memory;

/// Largest socket address read (`sizeof(struct sockaddr_storage)`).
const MAX_SOCKADDR: u64 = 128;

fn pointer_width(abi: Abi) -> usize {
    match abi {
        Abi::I386 | Abi::X32 => 4,
        Abi::X86_64 => 8,
    }
}

/// Resolves i386 `socketcall(call, args)` into the socket call it multiplexes, with its
/// arguments read from the tracee's array of 32-bit words. `None` when the call number is not
/// one we know or the array is unreadable (the caller then reports the raw `socketcall`).
pub fn resolve_socketcall(tid: i32, args: &[u64; 6]) -> Option<(SyscallId, [u64; 6])> {
    let (id, count) = socketcall::target(args[0])?;
    let mut words = [0u64; 6];
    for (i, word) in words.iter_mut().enumerate().take(count) {
        *word = memory::read_word(tid, args[1] + (i as u64) * 4, 4).ok()?;
    }
    Some((id, words))
}

/// Reads every at-entry argument of `raw` (whose id, abi and args are set).
pub fn at_entry(tid: i32, raw: &mut RawSyscall) {
    let (Some(id), Some(abi)) = (raw.id, raw.abi) else {
        return;
    };
    let Some(spec) = spec::lookup(id) else {
        return;
    };
    for (i, param) in spec.params.iter().enumerate() {
        if param.ty.capture() != Capture::AtEntry {
            continue;
        }
        let addr = raw.args[i];
        raw.mem[i] = match param.ty {
            ParamType::Path | ParamType::Str => memory::read_string(tid, addr, memory::MAX_STRING),
            ParamType::SockAddr { len } => {
                let len = raw.args[usize::from(len)].min(MAX_SOCKADDR);
                memory::read_exact(tid, addr, len as usize)
            }
            ParamType::Argv => memory::read_argv(tid, addr, pointer_width(abi)),
            _ => Captured::Nothing,
        };
    }
}

/// Whether `raw` has arguments to read at exit.
pub fn wants_exit(raw: &RawSyscall) -> bool {
    raw.id
        .and_then(spec::lookup)
        .is_some_and(|spec| spec.captures_at_exit())
}

/// Reads every at-exit argument of a syscall that succeeded.
pub fn at_exit(tid: i32, raw: &mut RawSyscall) {
    if raw.ret < 0 {
        return;
    }
    let Some(spec) = raw.id.and_then(spec::lookup) else {
        return;
    };
    for (i, param) in spec.params.iter().enumerate() {
        if param.ty.capture() != Capture::AtExit {
            continue;
        }
        let addr = raw.args[i];
        raw.mem[i] = match param.ty {
            ParamType::SockAddrOut { len_ptr } => {
                let len_addr = raw.args[usize::from(len_ptr)];
                if addr == 0 || len_addr == 0 {
                    Captured::Null
                } else {
                    match memory::read_word(tid, len_addr, 4) {
                        Ok(len) => memory::read_exact(tid, addr, len.min(MAX_SOCKADDR) as usize),
                        Err(errno) => Captured::Unreadable {
                            addr: len_addr,
                            errno,
                        },
                    }
                }
            }
            ParamType::FdPair => memory::read_exact(tid, addr, 8),
            _ => Captured::Nothing,
        };
    }
}

/// The path an exec was asked to run, from its entry capture.
pub fn exec_filename(raw: &RawSyscall) -> Option<Vec<u8>> {
    let index = match raw.id? {
        id if id == lanner_common::syscalls::ids::EXECVE => 0,
        id if id == lanner_common::syscalls::ids::EXECVEAT => 1,
        _ => return None,
    };
    match &raw.mem[index] {
        Captured::Bytes(path) | Captured::Truncated(path) => Some(path.clone()),
        _ => None,
    }
}
