//! The event model both drivers produce: one event per completed syscall (entry arguments and
//! return value together), process lifecycle events, and drop records.

use crate::decode::sockaddr::SockAddr;
use crate::spec::{self, ParamType};
use crate::syscalls::{Abi, SyscallId};

/// One thing a traced process did.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Kernel clock, nanoseconds since boot (`CLOCK_BOOTTIME`), taken when the syscall or
    /// lifecycle change was seen. Both drivers read this clock.
    pub ts: u64,
    /// Process id (thread group id).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// What happened.
    pub kind: EventKind,
}

/// The kinds of event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    /// A completed syscall of the interest set.
    Syscall(SyscallEvent),
    /// A new process or thread (`pid`/`tid` are the parent's).
    Fork(ForkEvent),
    /// A successful exec (`pid`/`tid` are the process after the exec). Boxed: it is several
    /// times the size of the other kinds, and every event is moved a few times on its way from
    /// the driver to the rules (a tenth of the agent's CPU in an open storm went to copying).
    Exec(Box<ExecEvent>),
    /// A thread ended (`tid == pid`: the whole process ended).
    Exit(ExitEvent),
    /// Events lost before this point.
    Drop(DropEvent),
}

/// A completed syscall.
#[derive(Debug, Clone, PartialEq)]
pub struct SyscallEvent {
    /// Which syscall, by canonical id (an i386 twin carries the x86_64 id).
    pub id: SyscallId,
    /// The ABI it was entered by.
    pub abi: Abi,
    /// Decoded arguments, named by the spec table (or `arg0`..`arg5` without a spec).
    pub args: Vec<Arg>,
    /// The return value (`-errno` on failure); 0 when `entry_only`.
    pub ret: i64,
    /// Reported at entry, without waiting for the result: the driver was told that nothing
    /// reads this syscall's result (`close` kept only for the fd table), which saves a stop.
    pub entry_only: bool,
    /// Descriptor arguments (bit i: argument i) closed since the driver last reported a call
    /// that told of them, and maybe reused by a call it does not report: whatever a consumer
    /// holds for those numbers is out of date. Only a driver asked to leave closes out sets
    /// these (lazy closes, either driver); 0 otherwise.
    pub stale_fds: u8,
}

impl SyscallEvent {
    /// The argument named `name`.
    pub fn arg(&self, name: &str) -> Option<&ArgValue> {
        self.args.iter().find(|a| a.name == name).map(|a| &a.value)
    }

    /// The errno of a failed call.
    pub fn errno(&self) -> Option<i32> {
        (!self.entry_only && (-4095..0).contains(&self.ret)).then(|| (-self.ret) as i32)
    }
}

/// One decoded argument.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    /// Parameter name from the spec table.
    pub name: &'static str,
    /// How to show it (`None`: a raw argument of a syscall without a spec).
    pub ty: Option<ParamType>,
    /// Its value.
    pub value: ArgValue,
}

/// A decoded argument value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ArgValue {
    /// A signed integer (fds, ids, flags and enumerations are integers shown by their type).
    Int(i64),
    /// An unsigned integer, size or address.
    UInt(u64),
    /// A path or string read from the tracee, without its terminating NUL.
    Bytes(Vec<u8>),
    /// A path or string longer than the driver reads, cut at that length.
    Truncated(Vec<u8>),
    /// A socket address.
    SockAddr(SockAddr),
    /// Two fds the kernel returned (pipe, socketpair).
    FdPair([i32; 2]),
    /// A list of strings (execve's argv).
    Argv(Vec<Vec<u8>>),
    /// A NULL pointer where memory was to be read.
    Null,
    /// Memory that could not be read: the address and the errno of the failed read.
    Unreadable {
        /// The tracee's pointer.
        addr: u64,
        /// Why reading failed (`EFAULT` for a bad pointer).
        errno: i32,
    },
}

impl ArgValue {
    /// The value as an integer, when it is one.
    pub fn as_int(&self) -> Option<i64> {
        match *self {
            ArgValue::Int(v) => Some(v),
            ArgValue::UInt(v) => i64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as bytes, when it is a string (whole or truncated).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            ArgValue::Bytes(b) | ArgValue::Truncated(b) => Some(b),
            _ => None,
        }
    }
}

/// How a task was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForkKind {
    /// fork(), or clone() without CLONE_VM/CLONE_THREAD.
    Fork,
    /// vfork(), or clone() with CLONE_VFORK.
    Vfork,
    /// clone() or clone3() of another kind (threads among them).
    Clone,
}

/// A new task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkEvent {
    /// The new task's process id (the parent's for a thread).
    pub child_pid: u32,
    /// The new task's thread id.
    pub child_tid: u32,
    /// How it was created.
    pub kind: ForkKind,
    /// Whether it is a thread of the parent's process (CLONE_THREAD).
    pub thread: bool,
}

/// A successful exec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecEvent {
    /// The path as given to execve, when the driver saw the call; else the executable's path.
    pub filename: Vec<u8>,
    /// The new program's argv.
    pub argv: Vec<Vec<u8>>,
    /// The resolved path of the executable (`/proc/PID/exe`), if readable.
    pub exe: Option<Vec<u8>>,
    /// When a non-leader thread exec'd, the thread id it had before taking over the process.
    pub former_tid: Option<u32>,
    /// The credentials the new program runs with (a setuid, setgid or file-capability program
    /// changes them), when the driver read them at the exec itself; `None`: the consumer reads
    /// them from `/proc` afterwards, when the process may have changed them again, or be gone.
    pub creds: Option<Creds>,
    /// The process's cgroups at the exec, in `/proc/PID/cgroup`'s form (`id:controllers:path`
    /// lines; the eBPF driver gives the unified hierarchy's alone, `0::/path`, as the host sees
    /// it), when the driver read them at the exec itself; `None`: the consumer reads `/proc`
    /// afterwards, when a process that ended at once is gone, and its container with it.
    pub cgroup: Option<String>,
}

/// A process's ids and capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Creds {
    /// Real, effective, saved and filesystem user ids.
    pub uids: [u32; 4],
    /// Real, effective, saved and filesystem group ids.
    pub gids: [u32; 4],
    /// Effective, permitted and inheritable capabilities.
    pub caps: [u64; 3],
}

impl Creds {
    /// The ids and capabilities in the text of `/proc/PID/status` (fields it lacks stay 0).
    pub fn from_proc_status(status: &str) -> Creds {
        let mut creds = Creds::default();
        let four = |v: &str| {
            let mut ids = [0u32; 4];
            for (slot, n) in ids.iter_mut().zip(v.split_whitespace()) {
                *slot = n.parse().unwrap_or(0);
            }
            ids
        };
        let hex = |v: &str| u64::from_str_radix(v.trim(), 16).unwrap_or(0);
        for line in status.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            match key {
                "Uid" => creds.uids = four(value),
                "Gid" => creds.gids = four(value),
                "CapEff" => creds.caps[0] = hex(value),
                "CapPrm" => creds.caps[1] = hex(value),
                "CapInh" => creds.caps[2] = hex(value),
                _ => {}
            }
        }
        creds
    }
}

/// How a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it.
    Signal {
        /// The signal number.
        signo: i32,
        /// Whether it dumped core.
        core: bool,
    },
}

impl ExitStatus {
    /// The status a shell would report: the code, or 128 + signal.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitStatus::Code(code) => code,
            ExitStatus::Signal { signo, .. } => 128 + signo,
        }
    }

    /// Decodes a `wait` status word.
    pub fn from_wait_status(status: i32) -> Option<ExitStatus> {
        if libc::WIFEXITED(status) {
            Some(ExitStatus::Code(libc::WEXITSTATUS(status)))
        } else if libc::WIFSIGNALED(status) {
            Some(ExitStatus::Signal {
                signo: libc::WTERMSIG(status),
                core: libc::WCOREDUMP(status),
            })
        } else {
            None
        }
    }
}

/// A thread's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitEvent {
    /// How it ended.
    pub status: ExitStatus,
}

/// Events lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropEvent {
    /// How many events were lost since the last drop record.
    pub count: u64,
    /// Why (buffer full, tracee vanished mid-syscall, ...).
    pub reason: &'static str,
}

/// User memory a driver read for one argument, before decoding.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Captured {
    /// Nothing was read (the argument is a plain register value).
    #[default]
    Nothing,
    /// A NUL-terminated string (without the NUL), or a fixed-size object.
    Bytes(Vec<u8>),
    /// A string that did not end within the read limit.
    Truncated(Vec<u8>),
    /// A list of strings (argv).
    List(Vec<Vec<u8>>),
    /// The pointer was NULL.
    Null,
    /// Reading failed.
    Unreadable {
        /// The tracee's pointer.
        addr: u64,
        /// The errno of the failed read.
        errno: i32,
    },
}

/// A syscall as a driver captured it: raw registers plus the memory the spec asked for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawSyscall {
    /// Canonical id (after resolving the ABI, and i386 `socketcall` into its operation).
    pub id: Option<SyscallId>,
    /// Raw number as entered, for syscalls no table knows.
    pub nr: u64,
    /// The ABI it was entered by.
    pub abi: Option<Abi>,
    /// The six argument registers.
    pub args: [u64; 6],
    /// The return value.
    pub ret: i64,
    /// Memory read for each argument.
    pub mem: [Captured; 6],
    /// Reported at entry; `ret` is not known (see [`SyscallEvent::entry_only`]).
    pub entry_only: bool,
    /// See [`SyscallEvent::stale_fds`].
    pub stale_fds: u8,
}

/// Names of the raw arguments of syscalls without a spec.
pub(crate) const RAW_NAMES: [&str; 6] = ["arg0", "arg1", "arg2", "arg3", "arg4", "arg5"];

impl RawSyscall {
    /// Decodes the raw capture into an event, using the spec table. The one place where
    /// registers and memory turn into typed arguments, whichever driver captured them.
    pub fn decode(self) -> Option<SyscallEvent> {
        let id = self.id?;
        let abi = self.abi.unwrap_or(Abi::X86_64);
        let RawSyscall {
            args,
            mut mem,
            ret,
            entry_only,
            stale_fds,
            ..
        } = self;
        let decoded = match spec::lookup(id) {
            Some(spec) => spec
                .params
                .iter()
                .enumerate()
                .map(|(i, param)| Arg {
                    name: param.name,
                    ty: Some(param.ty),
                    value: decode_param(param.ty, abi, args[i], std::mem::take(&mut mem[i])),
                })
                .collect(),
            None => RAW_NAMES
                .iter()
                .zip(args)
                .map(|(name, raw)| Arg {
                    name,
                    ty: None,
                    value: ArgValue::UInt(raw),
                })
                .collect(),
        };
        Some(SyscallEvent {
            id,
            abi,
            args: decoded,
            ret,
            entry_only,
            stale_fds,
        })
    }
}

/// Sign-extends a register as the ABI's `int`/`long`.
fn signed(abi: Abi, raw: u64) -> i64 {
    match abi {
        // i386 registers are 32 bits: -100 (AT_FDCWD) arrives as 0xffffff9c.
        Abi::I386 => i64::from(raw as u32 as i32),
        // x32 and x86_64 `int` parameters: the kernel reads the low 32 bits.
        Abi::X86_64 | Abi::X32 => raw as i64,
    }
}

fn decode_param(ty: ParamType, abi: Abi, raw: u64, mem: Captured) -> ArgValue {
    match mem {
        Captured::Nothing => {}
        Captured::Bytes(bytes) => {
            return match ty {
                ParamType::SockAddr { .. } | ParamType::SockAddrOut { .. } => {
                    ArgValue::SockAddr(SockAddr::parse(&bytes))
                }
                ParamType::FdPair if bytes.len() >= 8 => {
                    let fd = |i: usize| {
                        i32::from_ne_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]])
                    };
                    ArgValue::FdPair([fd(0), fd(4)])
                }
                _ => ArgValue::Bytes(bytes),
            };
        }
        Captured::Truncated(bytes) => return ArgValue::Truncated(bytes),
        Captured::List(list) => return ArgValue::Argv(list),
        Captured::Null => return ArgValue::Null,
        Captured::Unreadable { addr, errno } => return ArgValue::Unreadable { addr, errno },
    }
    match ty {
        ParamType::Fd | ParamType::DirFd | ParamType::Pid | ParamType::Signal | ParamType::Int => {
            // These are C `int`s in every ABI: the kernel uses the low 32 bits.
            ArgValue::Int(i64::from(raw as u32 as i32))
        }
        ParamType::Const(_) => ArgValue::Int(signed(abi, raw)),
        ParamType::Uid | ParamType::Gid | ParamType::Mode => ArgValue::UInt(raw & 0xffff_ffff),
        _ => match abi {
            Abi::I386 => ArgValue::UInt(raw & 0xffff_ffff),
            Abi::X86_64 | Abi::X32 => ArgValue::UInt(raw),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creds_are_read_from_proc_status() {
        let status = "Name:\tsu\nUid:\t1000\t0\t0\t0\nGid:\t100\t100\t100\t100\n\
                      CapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\n\
                      CapEff:\t000001ffffffffff\nNSpid:\t7\n";
        let creds = Creds::from_proc_status(status);
        assert_eq!(creds.uids, [1000, 0, 0, 0]);
        assert_eq!(creds.gids, [100; 4]);
        assert_eq!(creds.caps, [0x1ff_ffff_ffff, 0x1ff_ffff_ffff, 0]);
        assert_eq!(Creds::from_proc_status("garbage"), Creds::default());
    }

    fn raw(name: &str, abi: Abi, args: [u64; 6], mem: [Captured; 6], ret: i64) -> RawSyscall {
        RawSyscall {
            id: SyscallId::from_name(name),
            nr: 0,
            abi: Some(abi),
            args,
            ret,
            mem,
            entry_only: false,
            stale_fds: 0,
        }
    }

    #[test]
    fn openat_decodes_path_and_signed_dirfd() {
        let mut mem: [Captured; 6] = Default::default();
        mem[1] = Captured::Bytes(b"/etc/hostname".to_vec());
        let ev = raw(
            "openat",
            Abi::X86_64,
            [(-100i64) as u64, 0x1000, 0o2000000, 0, 0, 0],
            mem,
            3,
        )
        .decode()
        .expect("decodes");
        assert_eq!(ev.arg("dirfd"), Some(&ArgValue::Int(-100)));
        assert_eq!(
            ev.arg("name").and_then(ArgValue::as_bytes),
            Some(&b"/etc/hostname"[..])
        );
        assert_eq!(ev.arg("flags"), Some(&ArgValue::UInt(0o2000000)));
        assert_eq!(ev.ret, 3);
        assert_eq!(ev.errno(), None);
    }

    #[test]
    fn i386_registers_are_32_bit() {
        let ev = raw(
            "kill",
            Abi::I386,
            [0xffff_ffff, 9, 0, 0, 0, 0],
            Default::default(),
            -3,
        )
        .decode()
        .expect("decodes");
        assert_eq!(ev.arg("pid"), Some(&ArgValue::Int(-1)));
        assert_eq!(ev.errno(), Some(3));
    }

    #[test]
    fn unreadable_memory_is_kept_as_a_marker() {
        let mut mem: [Captured; 6] = Default::default();
        mem[0] = Captured::Unreadable {
            addr: 0x10,
            errno: libc::EFAULT,
        };
        let ev = raw("open", Abi::X86_64, [0x10, 0, 0, 0, 0, 0], mem, -14)
            .decode()
            .expect("decodes");
        assert_eq!(
            ev.arg("name"),
            Some(&ArgValue::Unreadable {
                addr: 0x10,
                errno: libc::EFAULT
            })
        );
    }

    #[test]
    fn syscalls_without_spec_keep_raw_arguments() {
        let ev = raw(
            "getcwd",
            Abi::X86_64,
            [1, 2, 3, 4, 5, 6],
            Default::default(),
            0,
        )
        .decode()
        .expect("decodes");
        assert_eq!(ev.args.len(), 6);
        assert_eq!(ev.arg("arg5"), Some(&ArgValue::UInt(6)));
    }

    #[test]
    fn exit_status_shell_codes() {
        assert_eq!(ExitStatus::Code(7).shell_code(), 7);
        assert_eq!(
            ExitStatus::Signal {
                signo: 9,
                core: false
            }
            .shell_code(),
            137
        );
    }
}
