//! The one argument-spec table: for each syscall, each parameter's name and type, and the flags
//! the state tracker keys on. Both drivers read user memory according to it, and the decoder turns
//! raw values into [`crate::event::ArgValue`]s according to it.
//!
//! Syscalls with no entry here still produce events, with their six raw arguments.

use std::sync::OnceLock;

use crate::syscalls::{SyscallId, ID_SPACE};

macro_rules! bitflags_lite {
    ($(#[$m:meta])* $name:ident: $t:ty { $($(#[$fm:meta])* $flag:ident = $v:expr;)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name($t);
        impl $name {
            $($(#[$fm])* pub const $flag: $name = $name($v);)*
            /// No flags.
            pub const NONE: $name = $name(0);
            /// Whether every flag of `other` is set.
            pub const fn contains(self, other: $name) -> bool { self.0 & other.0 == other.0 }
            /// The union of two flag sets.
            pub const fn union(self, other: $name) -> $name { $name(self.0 | other.0) }
        }
        impl std::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, other: $name) -> $name { self.union(other) }
        }
    };
}

/// The type of one syscall parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParamType {
    /// A file descriptor.
    Fd,
    /// A directory fd for the `*at` calls (`AT_FDCWD` shown by name).
    DirFd,
    /// A NUL-terminated path, read at entry.
    Path,
    /// A NUL-terminated string that is not a path, read at entry.
    Str,
    /// A socket address given by the caller; its length is the parameter at index `len`.
    SockAddr {
        /// Index of the length parameter.
        len: u8,
    },
    /// A socket address the kernel fills in, read at exit; `len_ptr` indexes the `socklen_t *`.
    SockAddrOut {
        /// Index of the pointer-to-length parameter.
        len_ptr: u8,
    },
    /// A `char *const[]` (execve's argv), read at entry.
    Argv,
    /// An `int[2]` the kernel fills with two new fds (pipe, socketpair), read at exit.
    FdPair,
    /// Bit flags, shown by name.
    Flags(FlagKind),
    /// An enumerated value, shown by name.
    Const(ConstKind),
    /// A file mode (`S_IF*` and permission bits).
    Mode,
    /// A user id.
    Uid,
    /// A group id.
    Gid,
    /// A process or thread id.
    Pid,
    /// A signal number.
    Signal,
    /// A signed integer.
    Int,
    /// An unsigned integer or size.
    UInt,
    /// An address or opaque pointer, shown in hex.
    Ptr,
}

impl ParamType {
    /// Whether the driver must read user memory for this parameter, and when.
    pub const fn capture(self) -> Capture {
        match self {
            ParamType::Path | ParamType::Str | ParamType::SockAddr { .. } | ParamType::Argv => {
                Capture::AtEntry
            }
            ParamType::SockAddrOut { .. } | ParamType::FdPair => Capture::AtExit,
            _ => Capture::None,
        }
    }
}

/// When a parameter's user memory is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// Its value is the register itself.
    None,
    /// Before the syscall runs: what the caller passed.
    AtEntry,
    /// After the syscall returns: what the kernel wrote.
    AtExit,
}

/// Families of bit flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FlagKind {
    /// `O_*` flags of open/openat/creat.
    Open,
    /// `AT_*` flags (AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH, ...).
    At,
    /// `AT_REMOVEDIR` of unlinkat.
    Unlinkat,
    /// `RENAME_*` flags of renameat2.
    Rename,
    /// `CLONE_*` flags (and the exit signal in the low byte).
    Clone,
    /// `MS_*` mount flags.
    Mount,
    /// `MNT_*`/`UMOUNT_*` flags of umount2.
    Umount,
    /// `SOCK_*` type with `SOCK_NONBLOCK`/`SOCK_CLOEXEC`.
    SocketType,
    /// `SOCK_NONBLOCK`/`SOCK_CLOEXEC` of accept4.
    Accept4,
    /// `MFD_*` flags of memfd_create.
    Memfd,
    /// `O_CLOEXEC` of dup3 / pipe2.
    Cloexec,
    /// `PROT_*` flags.
    Prot,
    /// `MAP_*` flags.
    Map,
    /// `MSG_*` flags of send/recv.
    Msg,
    /// `F_OK`/`R_OK`/`W_OK`/`X_OK` of access.
    Access,
    /// `MODULE_INIT_*` flags of finit_module.
    FinitModule,
    /// `IORING_SETUP_*` flags (in io_uring_params, shown from the entries argument's neighbour).
    IoUringSetup,
    /// `CLONE_NEW*` flags of unshare and setns.
    Namespace,
}

/// Families of enumerated values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConstKind {
    /// `AF_*` socket domains.
    SocketDomain,
    /// `PTRACE_*` requests.
    PtraceRequest,
    /// `BPF_*` commands of bpf(2).
    BpfCmd,
    /// `F_*` commands of fcntl.
    FcntlCmd,
    /// `PR_*` options of prctl.
    PrctlOption,
    /// `SEEK_*` of lseek.
    Whence,
    /// `IPPROTO_*` socket protocols.
    Protocol,
}

bitflags_lite! {
    /// Properties of a syscall the state tracker and drivers key on.
    SpecFlags: u16 {
        /// The return value is a new fd.
        CREATES_FD = 1 << 0;
        /// The first parameter is an fd it operates on.
        USES_FD = 1 << 1;
        /// It closes the fd in its first parameter.
        CLOSES_FD = 1 << 2;
        /// It changes process state the tracker keeps (ids, cwd, namespaces, ...).
        MODIFIES_STATE = 1 << 3;
        /// It never returns to the caller on success (exit, exit_group): no exit stop needed.
        NO_RETURN = 1 << 4;
        /// It creates a process or thread.
        CREATES_TASK = 1 << 5;
        /// It replaces the process image.
        EXECS = 1 << 6;
    }
}

/// One parameter of a syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// Name as printed in events (`evt.arg.<name>` in rules).
    pub name: &'static str,
    /// How to read and show it.
    pub ty: ParamType,
}

/// Everything known about one syscall's arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyscallSpec {
    /// The syscall's canonical name.
    pub name: &'static str,
    /// Its parameters, in order.
    pub params: &'static [Param],
    /// Its properties.
    pub flags: SpecFlags,
}

impl SyscallSpec {
    /// Whether a successful call's result is always a new descriptor. Not for calls that
    /// write the pair they create (pipe2, socketpair: their result is 0), nor for `bpf`, whose
    /// result is a descriptor for some commands only. A driver that follows which descriptors
    /// it told a consumer of must not count a number that is none.
    pub fn result_is_fd(&self) -> bool {
        self.flags.contains(SpecFlags::CREATES_FD) && self.fd_pair().is_none() && self.name != "bpf"
    }

    /// The parameter the call writes a pair of new descriptors into, if any.
    pub fn fd_pair(&self) -> Option<usize> {
        self.params
            .iter()
            .position(|p| matches!(p.ty, ParamType::FdPair))
    }

    /// Whether any parameter must be read at exit.
    pub fn captures_at_exit(&self) -> bool {
        self.params
            .iter()
            .any(|p| p.ty.capture() == Capture::AtExit)
    }
}

/// The spec for a syscall, if the table has one.
pub fn lookup(id: SyscallId) -> Option<&'static SyscallSpec> {
    static BY_ID: OnceLock<Vec<Option<&'static SyscallSpec>>> = OnceLock::new();
    BY_ID
        .get_or_init(|| {
            let mut by_id = vec![None; ID_SPACE];
            for spec in TABLE {
                if let Some(id) = SyscallId::from_name(spec.name) {
                    by_id[usize::from(id.raw())] = Some(spec);
                }
            }
            by_id
        })
        .get(usize::from(id.raw()))
        .copied()
        .flatten()
}

/// The whole table, for listing and tests.
pub fn table() -> &'static [SyscallSpec] {
    TABLE
}

use FlagKind as FK;
use ParamType::*;

const fn p(name: &'static str, ty: ParamType) -> Param {
    Param { name, ty }
}

const N: SpecFlags = SpecFlags::NONE;
const NEW_FD: SpecFlags = SpecFlags::CREATES_FD;
const ON_FD: SpecFlags = SpecFlags::USES_FD;
const STATE: SpecFlags = SpecFlags::MODIFIES_STATE;

macro_rules! spec {
    ($name:literal, [$($param:expr),* $(,)?], $flags:expr) => {
        SyscallSpec { name: $name, params: &[$($param),*], flags: $flags }
    };
}

#[rustfmt::skip]
static TABLE: &[SyscallSpec] = &[
    // Files
    spec!("open", [p("name", Path), p("flags", Flags(FK::Open)), p("mode", Mode)], NEW_FD),
    spec!("openat", [p("dirfd", DirFd), p("name", Path), p("flags", Flags(FK::Open)), p("mode", Mode)], NEW_FD),
    spec!("openat2", [p("dirfd", DirFd), p("name", Path), p("how", Ptr), p("size", UInt)], NEW_FD),
    spec!("creat", [p("name", Path), p("mode", Mode)], NEW_FD),
    spec!("open_by_handle_at", [p("mountfd", Fd), p("handle", Ptr), p("flags", Flags(FK::Open))], NEW_FD),
    spec!("close", [p("fd", Fd)], SpecFlags::CLOSES_FD.union(ON_FD)),
    spec!("close_range", [p("first", UInt), p("last", UInt), p("flags", UInt)], SpecFlags::CLOSES_FD),
    spec!("dup", [p("fd", Fd)], NEW_FD.union(ON_FD)),
    spec!("dup2", [p("oldfd", Fd), p("newfd", Fd)], NEW_FD.union(ON_FD)),
    spec!("dup3", [p("oldfd", Fd), p("newfd", Fd), p("flags", Flags(FK::Cloexec))], NEW_FD.union(ON_FD)),
    spec!("fcntl", [p("fd", Fd), p("cmd", Const(ConstKind::FcntlCmd)), p("arg", UInt)], ON_FD),
    spec!("pipe", [p("fds", FdPair)], NEW_FD),
    spec!("pipe2", [p("fds", FdPair), p("flags", Flags(FK::Cloexec))], NEW_FD),
    spec!("read", [p("fd", Fd), p("buf", Ptr), p("size", UInt)], ON_FD),
    spec!("write", [p("fd", Fd), p("buf", Ptr), p("size", UInt)], ON_FD),
    spec!("pread64", [p("fd", Fd), p("buf", Ptr), p("size", UInt), p("pos", Int)], ON_FD),
    spec!("pwrite64", [p("fd", Fd), p("buf", Ptr), p("size", UInt), p("pos", Int)], ON_FD),
    spec!("sendfile", [p("out_fd", Fd), p("in_fd", Fd), p("offset", Ptr), p("size", UInt)], ON_FD),
    spec!("lseek", [p("fd", Fd), p("offset", Int), p("whence", Const(ConstKind::Whence))], ON_FD),
    spec!("truncate", [p("path", Path), p("length", Int)], N),
    spec!("ftruncate", [p("fd", Fd), p("length", Int)], ON_FD),
    spec!("unlink", [p("path", Path)], N),
    spec!("unlinkat", [p("dirfd", DirFd), p("name", Path), p("flags", Flags(FK::Unlinkat))], N),
    spec!("rename", [p("oldpath", Path), p("newpath", Path)], N),
    spec!("renameat", [p("olddirfd", DirFd), p("oldpath", Path), p("newdirfd", DirFd), p("newpath", Path)], N),
    spec!("renameat2", [p("olddirfd", DirFd), p("oldpath", Path), p("newdirfd", DirFd), p("newpath", Path), p("flags", Flags(FK::Rename))], N),
    spec!("mkdir", [p("path", Path), p("mode", Mode)], N),
    spec!("mkdirat", [p("dirfd", DirFd), p("path", Path), p("mode", Mode)], N),
    spec!("rmdir", [p("path", Path)], N),
    spec!("symlink", [p("target", Path), p("linkpath", Path)], N),
    spec!("symlinkat", [p("target", Path), p("linkdirfd", DirFd), p("linkpath", Path)], N),
    spec!("link", [p("oldpath", Path), p("newpath", Path)], N),
    spec!("linkat", [p("olddir", DirFd), p("oldpath", Path), p("newdir", DirFd), p("newpath", Path), p("flags", Flags(FK::At))], N),
    spec!("chmod", [p("filename", Path), p("mode", Mode)], N),
    spec!("fchmod", [p("fd", Fd), p("mode", Mode)], ON_FD),
    spec!("fchmodat", [p("dirfd", DirFd), p("filename", Path), p("mode", Mode)], N),
    spec!("fchmodat2", [p("dirfd", DirFd), p("filename", Path), p("mode", Mode), p("flags", Flags(FK::At))], N),
    spec!("chown", [p("path", Path), p("uid", Uid), p("gid", Gid)], N),
    spec!("lchown", [p("path", Path), p("uid", Uid), p("gid", Gid)], N),
    spec!("fchown", [p("fd", Fd), p("uid", Uid), p("gid", Gid)], ON_FD),
    spec!("fchownat", [p("dirfd", DirFd), p("pathname", Path), p("uid", Uid), p("gid", Gid), p("flags", Flags(FK::At))], N),
    spec!("access", [p("pathname", Path), p("mode", Flags(FK::Access))], N),
    spec!("faccessat", [p("dirfd", DirFd), p("pathname", Path), p("mode", Flags(FK::Access))], N),
    spec!("faccessat2", [p("dirfd", DirFd), p("pathname", Path), p("mode", Flags(FK::Access)), p("flags", Flags(FK::At))], N),
    spec!("chdir", [p("path", Path)], STATE),
    spec!("fchdir", [p("fd", Fd)], STATE.union(ON_FD)),
    spec!("chroot", [p("path", Path)], STATE),
    spec!("mknod", [p("path", Path), p("mode", Mode), p("dev", UInt)], N),
    spec!("mknodat", [p("dirfd", DirFd), p("path", Path), p("mode", Mode), p("dev", UInt)], N),
    spec!("memfd_create", [p("name", Str), p("flags", Flags(FK::Memfd))], NEW_FD),
    spec!("userfaultfd", [p("flags", Flags(FK::Cloexec))], NEW_FD),
    spec!("inotify_init", [], NEW_FD),
    spec!("inotify_init1", [p("flags", Flags(FK::Cloexec))], NEW_FD),
    spec!("eventfd2", [p("initval", UInt), p("flags", Flags(FK::Cloexec))], NEW_FD),
    spec!("signalfd4", [p("fd", Fd), p("mask", Ptr), p("size", UInt), p("flags", Flags(FK::Cloexec))], NEW_FD),
    spec!("timerfd_create", [p("clockid", Int), p("flags", Flags(FK::Cloexec))], NEW_FD),
    spec!("epoll_create1", [p("flags", Flags(FK::Cloexec))], NEW_FD),
    spec!("mmap", [p("addr", Ptr), p("length", UInt), p("prot", Flags(FK::Prot)), p("flags", Flags(FK::Map)), p("fd", Fd), p("offset", UInt)], N),
    spec!("mprotect", [p("addr", Ptr), p("length", UInt), p("prot", Flags(FK::Prot))], N),
    // Network
    spec!("socket", [p("domain", Const(ConstKind::SocketDomain)), p("type", Flags(FK::SocketType)), p("proto", Const(ConstKind::Protocol))], NEW_FD),
    spec!("socketpair", [p("domain", Const(ConstKind::SocketDomain)), p("type", Flags(FK::SocketType)), p("proto", Const(ConstKind::Protocol)), p("fds", FdPair)], NEW_FD),
    spec!("connect", [p("fd", Fd), p("addr", SockAddr { len: 2 }), p("addrlen", UInt)], ON_FD),
    spec!("bind", [p("fd", Fd), p("addr", SockAddr { len: 2 }), p("addrlen", UInt)], ON_FD),
    spec!("listen", [p("fd", Fd), p("backlog", Int)], ON_FD),
    spec!("accept", [p("fd", Fd), p("addr", SockAddrOut { len_ptr: 2 }), p("addrlen", Ptr)], NEW_FD.union(ON_FD)),
    spec!("accept4", [p("fd", Fd), p("addr", SockAddrOut { len_ptr: 2 }), p("addrlen", Ptr), p("flags", Flags(FK::Accept4))], NEW_FD.union(ON_FD)),
    spec!("sendto", [p("fd", Fd), p("buf", Ptr), p("size", UInt), p("flags", Flags(FK::Msg)), p("addr", SockAddr { len: 5 }), p("addrlen", UInt)], ON_FD),
    spec!("recvfrom", [p("fd", Fd), p("buf", Ptr), p("size", UInt), p("flags", Flags(FK::Msg)), p("addr", SockAddrOut { len_ptr: 5 }), p("addrlen", Ptr)], ON_FD),
    spec!("sendmsg", [p("fd", Fd), p("msg", Ptr), p("flags", Flags(FK::Msg))], ON_FD),
    spec!("recvmsg", [p("fd", Fd), p("msg", Ptr), p("flags", Flags(FK::Msg))], ON_FD),
    spec!("sendmmsg", [p("fd", Fd), p("msgvec", Ptr), p("vlen", UInt), p("flags", Flags(FK::Msg))], ON_FD),
    spec!("recvmmsg", [p("fd", Fd), p("msgvec", Ptr), p("vlen", UInt), p("flags", Flags(FK::Msg)), p("timeout", Ptr)], ON_FD),
    spec!("shutdown", [p("fd", Fd), p("how", Int)], ON_FD),
    spec!("getsockname", [p("fd", Fd), p("addr", SockAddrOut { len_ptr: 2 }), p("addrlen", Ptr)], ON_FD),
    spec!("getpeername", [p("fd", Fd), p("addr", SockAddrOut { len_ptr: 2 }), p("addrlen", Ptr)], ON_FD),
    spec!("setsockopt", [p("fd", Fd), p("level", Int), p("optname", Int), p("optval", Ptr), p("optlen", UInt)], ON_FD),
    // Processes
    spec!("execve", [p("filename", Path), p("argv", Argv), p("envp", Ptr)], SpecFlags::EXECS),
    spec!("execveat", [p("dirfd", DirFd), p("pathname", Path), p("argv", Argv), p("envp", Ptr), p("flags", Flags(FK::At))], SpecFlags::EXECS),
    spec!("clone", [p("flags", Flags(FK::Clone)), p("stack", Ptr), p("parent_tid", Ptr), p("child_tid", Ptr), p("tls", Ptr)], SpecFlags::CREATES_TASK),
    spec!("clone3", [p("args", Ptr), p("size", UInt)], SpecFlags::CREATES_TASK),
    spec!("fork", [], SpecFlags::CREATES_TASK),
    spec!("vfork", [], SpecFlags::CREATES_TASK),
    spec!("exit", [p("status", Int)], SpecFlags::NO_RETURN),
    spec!("exit_group", [p("status", Int)], SpecFlags::NO_RETURN),
    spec!("kill", [p("pid", Pid), p("sig", Signal)], N),
    spec!("tkill", [p("tid", Pid), p("sig", Signal)], N),
    spec!("tgkill", [p("tgid", Pid), p("tid", Pid), p("sig", Signal)], N),
    spec!("ptrace", [p("request", Const(ConstKind::PtraceRequest)), p("pid", Pid), p("addr", Ptr), p("data", Ptr)], N),
    spec!("process_vm_readv", [p("pid", Pid), p("local_iov", Ptr), p("liovcnt", UInt), p("remote_iov", Ptr), p("riovcnt", UInt), p("flags", UInt)], N),
    spec!("process_vm_writev", [p("pid", Pid), p("local_iov", Ptr), p("liovcnt", UInt), p("remote_iov", Ptr), p("riovcnt", UInt), p("flags", UInt)], N),
    spec!("prctl", [p("option", Const(ConstKind::PrctlOption)), p("arg2", UInt), p("arg3", UInt), p("arg4", UInt), p("arg5", UInt)], STATE),
    spec!("setuid", [p("uid", Uid)], STATE),
    spec!("setgid", [p("gid", Gid)], STATE),
    spec!("setreuid", [p("ruid", Uid), p("euid", Uid)], STATE),
    spec!("setregid", [p("rgid", Gid), p("egid", Gid)], STATE),
    spec!("setresuid", [p("ruid", Uid), p("euid", Uid), p("suid", Uid)], STATE),
    spec!("setresgid", [p("rgid", Gid), p("egid", Gid), p("sgid", Gid)], STATE),
    spec!("setfsuid", [p("uid", Uid)], STATE),
    spec!("setfsgid", [p("gid", Gid)], STATE),
    spec!("setsid", [], STATE),
    spec!("setpgid", [p("pid", Pid), p("pgid", Pid)], STATE),
    spec!("capset", [p("header", Ptr), p("data", Ptr)], STATE),
    spec!("unshare", [p("flags", Flags(FK::Namespace))], STATE),
    spec!("setns", [p("fd", Fd), p("nstype", Flags(FK::Namespace))], STATE.union(ON_FD)),
    spec!("seccomp", [p("op", UInt), p("flags", UInt), p("args", Ptr)], STATE),
    // System
    spec!("mount", [p("dev", Path), p("dir", Path), p("type", Str), p("flags", Flags(FK::Mount)), p("data", Ptr)], N),
    spec!("umount", [p("name", Path)], N),
    spec!("umount2", [p("name", Path), p("flags", Flags(FK::Umount))], N),
    spec!("pivot_root", [p("new_root", Path), p("put_old", Path)], N),
    spec!("init_module", [p("image", Ptr), p("len", UInt), p("uargs", Str)], N),
    spec!("finit_module", [p("fd", Fd), p("uargs", Str), p("flags", Flags(FK::FinitModule))], ON_FD),
    spec!("delete_module", [p("name", Str), p("flags", Flags(FK::Open))], N),
    spec!("bpf", [p("cmd", Const(ConstKind::BpfCmd)), p("attr", Ptr), p("size", UInt)], NEW_FD),
    spec!("io_uring_setup", [p("entries", UInt), p("params", Ptr)], NEW_FD),
    spec!("io_uring_enter", [p("fd", Fd), p("to_submit", UInt), p("min_complete", UInt), p("flags", UInt), p("sig", Ptr), p("sigsz", UInt)], ON_FD),
    spec!("io_uring_register", [p("fd", Fd), p("opcode", UInt), p("arg", Ptr), p("nr_args", UInt)], ON_FD),
    spec!("perf_event_open", [p("attr", Ptr), p("pid", Pid), p("cpu", Int), p("group_fd", Fd), p("flags", UInt)], NEW_FD),
    spec!("kexec_load", [p("entry", Ptr), p("nr_segments", UInt), p("segments", Ptr), p("flags", UInt)], N),
    spec!("reboot", [p("magic1", UInt), p("magic2", UInt), p("cmd", UInt), p("arg", Ptr)], N),
    spec!("getuid", [], N),
    spec!("geteuid", [], N),
    spec!("getpid", [], N),
    spec!("getppid", [], N),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_names_a_known_syscall() {
        for spec in table() {
            assert!(
                SyscallId::from_name(spec.name).is_some(),
                "{} is not a syscall",
                spec.name
            );
        }
    }

    #[test]
    fn lengths_point_at_parameters_and_at_most_six() {
        for spec in table() {
            assert!(spec.params.len() <= 6, "{}", spec.name);
            for param in spec.params {
                if let ParamType::SockAddr { len: i } | ParamType::SockAddrOut { len_ptr: i } =
                    param.ty
                {
                    assert!(
                        usize::from(i) < spec.params.len(),
                        "{}.{}",
                        spec.name,
                        param.name
                    );
                }
            }
        }
    }

    #[test]
    fn i386_twin_finds_the_x86_64_spec() {
        let chown32 = SyscallId::from_abi(crate::syscalls::Abi::I386, 212).expect("chown32");
        assert_eq!(lookup(chown32).map(|s| s.name), Some("chown"));
    }

    #[test]
    fn captures() {
        let connect = lookup(SyscallId::from_name("connect").expect("connect")).expect("spec");
        assert_eq!(connect.params[1].ty.capture(), Capture::AtEntry);
        let accept = lookup(SyscallId::from_name("accept4").expect("accept4")).expect("spec");
        assert!(accept.captures_at_exit());
        assert!(accept.flags.contains(SpecFlags::CREATES_FD));
    }

    #[test]
    fn results_that_are_descriptors() {
        let spec = |name| lookup(SyscallId::from_name(name).expect(name)).expect("spec");
        for name in ["openat", "dup2", "accept4", "socket", "eventfd2"] {
            assert!(spec(name).result_is_fd(), "{name}");
        }
        for name in ["pipe2", "socketpair", "bpf", "read", "fcntl", "close"] {
            assert!(!spec(name).result_is_fd(), "{name}");
        }
        assert_eq!(spec("pipe2").fd_pair(), Some(0));
        assert_eq!(spec("socketpair").fd_pair(), Some(3));
        assert_eq!(spec("openat").fd_pair(), None);
    }
}
