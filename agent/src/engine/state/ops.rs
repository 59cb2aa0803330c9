//! What each syscall does to the state, worked out once from the argument-spec table: the
//! state tracker keys on the spec's flags and parameter types (a `CREATES_FD` call with a path
//! parameter opens a file; one with a socket domain makes a socket), and on names only where the
//! table cannot tell two shapes apart (`chdir` and `chroot`, `setuid` and `setfsuid`). Per event
//! this is one indexed load, not a string comparison.

use std::sync::OnceLock;

use lanner_common::spec::{self, ConstKind, FlagKind, ParamType, SpecFlags, SyscallSpec};
use lanner_common::syscalls::{SyscallId, ID_SPACE};

use super::fd::AnonKind;

/// A path parameter and the directory fd it is relative to (for the `*at` calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathArg {
    pub dirfd: Option<u8>,
    pub path: u8,
}

/// Which credential call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdCall {
    /// `setuid(id)` / `setgid(id)`.
    Set,
    /// `setreuid(r, e)`.
    Re,
    /// `setresuid(r, e, s)`.
    Res,
}

/// What a syscall does to the tables, with the indexes of the parameters it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    None,
    /// open, openat, openat2, creat (no flags parameter: `O_CREAT|O_WRONLY|O_TRUNC`).
    Open {
        at: PathArg,
        flags: Option<u8>,
    },
    Socket {
        domain: u8,
        ty: Option<u8>,
        proto: Option<u8>,
    },
    SocketPair {
        domain: u8,
        ty: Option<u8>,
        fds: u8,
    },
    Pipe {
        fds: u8,
        flags: Option<u8>,
    },
    Accept {
        addr: u8,
        flags: Option<u8>,
    },
    /// dup, dup2, dup3: the return value is a copy of the fd in the first parameter.
    Dup {
        flags: Option<u8>,
    },
    Fcntl {
        cmd: u8,
        arg: u8,
    },
    Close,
    CloseRange {
        first: u8,
        last: u8,
        flags: u8,
    },
    Connect {
        addr: u8,
    },
    Bind {
        addr: u8,
    },
    /// sendto: the peer of an unconnected socket is where it last sent.
    SendTo {
        addr: u8,
    },
    Memfd {
        name: u8,
        flags: u8,
    },
    /// Other fd-creating calls (eventfd, epoll, bpf, ...); `flags` holds `*_CLOEXEC`.
    Anon {
        kind: AnonKind,
        flags: Option<u8>,
    },
    Chdir {
        path: u8,
    },
    Fchdir,
    SetUid(IdCall),
    SetGid(IdCall),
    Setsid,
    Setpgid,
    Capset,
    /// rename and link calls: a file appears at the destination.
    Move {
        dst: PathArg,
    },
}

/// Everything the state needs to know about one syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyscallOps {
    pub op: Op,
    /// The parameter holding the fd the call uses or closes (`USES_FD`/`CLOSES_FD`).
    pub fd_param: Option<u8>,
    /// Path parameters: the only one, or the source and destination of a two-path call.
    pub src: Option<PathArg>,
    pub dst: Option<PathArg>,
}

/// Where an open-family call's flags are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenFlags {
    /// In this parameter.
    Param(u8),
    /// Implied: `creat` is `open(O_CREAT|O_WRONLY|O_TRUNC)`.
    Creat,
}

impl SyscallOps {
    /// For an open-family call, where its flags are.
    pub fn open_flags(&self) -> Option<OpenFlags> {
        match self.op {
            Op::Open { flags: Some(i), .. } => Some(OpenFlags::Param(i)),
            Op::Open { flags: None, .. } => Some(OpenFlags::Creat),
            _ => None,
        }
    }
}

const NONE: SyscallOps = SyscallOps {
    op: Op::None,
    fd_param: None,
    src: None,
    dst: None,
};

/// The ops of `id` (nothing for syscalls without a spec).
#[inline]
pub fn of(id: SyscallId) -> &'static SyscallOps {
    static TABLE: OnceLock<Vec<SyscallOps>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            let mut table = vec![NONE; ID_SPACE];
            for spec in spec::table() {
                if let Some(id) = SyscallId::from_name(spec.name) {
                    if let Some(slot) = table.get_mut(usize::from(id.raw())) {
                        *slot = classify(spec);
                    }
                }
            }
            table
        })
        .get(usize::from(id.raw()))
        .unwrap_or(&NONE)
}

fn index(spec: &SyscallSpec, want: impl Fn(ParamType) -> bool) -> Option<u8> {
    spec.params
        .iter()
        .position(|p| want(p.ty))
        .and_then(|i| u8::try_from(i).ok())
}

/// Path parameters, each with the `DirFd` parameter before it (since the previous path).
fn path_args(spec: &SyscallSpec) -> Vec<PathArg> {
    let mut out = Vec::new();
    let mut dirfd = None;
    for (i, param) in spec.params.iter().enumerate() {
        let Ok(i) = u8::try_from(i) else { break };
        match param.ty {
            ParamType::DirFd => dirfd = Some(i),
            ParamType::Path => out.push(PathArg {
                dirfd: dirfd.take(),
                path: i,
            }),
            _ => {}
        }
    }
    out
}

fn classify(spec: &SyscallSpec) -> SyscallOps {
    let flags = spec.flags;
    let paths = path_args(spec);
    let (src, dst) = match paths.as_slice() {
        [one] => (Some(*one), None),
        [a, b, ..] => (Some(*a), Some(*b)),
        [] => (None, None),
    };
    let fd_param = if flags.contains(SpecFlags::USES_FD) || flags.contains(SpecFlags::CLOSES_FD) {
        index(spec, |t| t == ParamType::Fd)
    } else {
        None
    };
    let flag_param = |kind: FlagKind| index(spec, |t| t == ParamType::Flags(kind));
    let domain = index(spec, |t| t == ParamType::Const(ConstKind::SocketDomain));
    let fd_pair = index(spec, |t| t == ParamType::FdPair);
    let sockaddr = index(spec, |t| matches!(t, ParamType::SockAddr { .. }));
    let sockaddr_out = index(spec, |t| matches!(t, ParamType::SockAddrOut { .. }));
    let op = if flags.contains(SpecFlags::CLOSES_FD) {
        match fd_param {
            Some(_) => Op::Close,
            // close_range(first, last, flags): three plain integers, in that order.
            None => Op::CloseRange {
                first: 0,
                last: 1,
                flags: 2,
            },
        }
    } else if flags.contains(SpecFlags::CREATES_FD) {
        creates_fd(spec, src, domain, fd_pair, sockaddr_out, &flag_param)
    } else if let Some(cmd) = index(spec, |t| t == ParamType::Const(ConstKind::FcntlCmd)) {
        // fcntl(fd, cmd, arg): the argument follows the command.
        Op::Fcntl { cmd, arg: cmd + 1 }
    } else if let Some(addr) = sockaddr {
        match spec.name {
            "connect" => Op::Connect { addr },
            "bind" => Op::Bind { addr },
            "sendto" => Op::SendTo { addr },
            _ => Op::None,
        }
    } else if flags.contains(SpecFlags::MODIFIES_STATE) {
        modifies_state(spec, src)
    } else if let (Some(dst), true) = (
        dst,
        matches!(
            spec.name,
            "rename" | "renameat" | "renameat2" | "link" | "linkat"
        ),
    ) {
        Op::Move { dst }
    } else {
        Op::None
    };
    SyscallOps {
        op,
        fd_param,
        src,
        dst,
    }
}

fn creates_fd(
    spec: &SyscallSpec,
    path: Option<PathArg>,
    domain: Option<u8>,
    fd_pair: Option<u8>,
    sockaddr_out: Option<u8>,
    flag_param: &dyn Fn(FlagKind) -> Option<u8>,
) -> Op {
    let uses_fd = spec.flags.contains(SpecFlags::USES_FD);
    match (path, domain, fd_pair) {
        (Some(at), _, _) => Op::Open {
            at,
            flags: flag_param(FlagKind::Open),
        },
        (None, Some(domain), Some(fds)) => Op::SocketPair {
            domain,
            ty: flag_param(FlagKind::SocketType),
            fds,
        },
        (None, Some(domain), None) => Op::Socket {
            domain,
            ty: flag_param(FlagKind::SocketType),
            proto: index(spec, |t| t == ParamType::Const(ConstKind::Protocol)),
        },
        (None, None, Some(fds)) => Op::Pipe {
            fds,
            flags: flag_param(FlagKind::Cloexec),
        },
        (None, None, None) => match (sockaddr_out, uses_fd) {
            (Some(addr), _) => Op::Accept {
                addr,
                flags: flag_param(FlagKind::Accept4),
            },
            (None, true) => Op::Dup {
                flags: flag_param(FlagKind::Cloexec),
            },
            (None, false) => match (
                index(spec, |t| t == ParamType::Str),
                flag_param(FlagKind::Memfd),
            ) {
                (Some(name), Some(flags)) => Op::Memfd { name, flags },
                _ => Op::Anon {
                    kind: AnonKind::of_syscall(spec.name),
                    flags: flag_param(FlagKind::Cloexec),
                },
            },
        },
    }
}

fn modifies_state(spec: &SyscallSpec, path: Option<PathArg>) -> Op {
    let uids = spec
        .params
        .iter()
        .filter(|p| p.ty == ParamType::Uid)
        .count();
    let gids = spec
        .params
        .iter()
        .filter(|p| p.ty == ParamType::Gid)
        .count();
    let id_call = |n: usize| match n {
        1 => IdCall::Set,
        2 => IdCall::Re,
        _ => IdCall::Res,
    };
    match spec.name {
        "chdir" => path.map_or(Op::None, |p| Op::Chdir { path: p.path }),
        "fchdir" => Op::Fchdir,
        // setfsuid returns the old id whether or not it changed anything: nothing to trust.
        "setfsuid" | "setfsgid" => Op::None,
        "setsid" => Op::Setsid,
        "setpgid" => Op::Setpgid,
        "capset" => Op::Capset,
        _ if uids > 0 => Op::SetUid(id_call(uids)),
        _ if gids > 0 => Op::SetGid(id_call(gids)),
        _ => Op::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str) -> Op {
        of(SyscallId::from_name(name).expect("syscall")).op
    }

    #[test]
    fn fd_calls_classify_from_the_spec() {
        assert!(matches!(
            op("openat"),
            Op::Open {
                at: PathArg {
                    dirfd: Some(0),
                    path: 1
                },
                flags: Some(2)
            }
        ));
        assert!(matches!(op("creat"), Op::Open { flags: None, .. }));
        assert!(matches!(
            op("socket"),
            Op::Socket {
                domain: 0,
                ty: Some(1),
                proto: Some(2)
            }
        ));
        assert!(matches!(op("socketpair"), Op::SocketPair { fds: 3, .. }));
        assert!(matches!(
            op("pipe2"),
            Op::Pipe {
                fds: 0,
                flags: Some(1)
            }
        ));
        assert!(matches!(
            op("accept4"),
            Op::Accept {
                addr: 1,
                flags: Some(3)
            }
        ));
        assert!(matches!(op("dup3"), Op::Dup { flags: Some(2) }));
        assert!(matches!(op("dup"), Op::Dup { flags: None }));
        assert!(matches!(op("fcntl"), Op::Fcntl { cmd: 1, arg: 2 }));
        assert_eq!(op("close"), Op::Close);
        assert!(matches!(op("close_range"), Op::CloseRange { .. }));
        assert!(matches!(
            op("memfd_create"),
            Op::Memfd { name: 0, flags: 1 }
        ));
        assert!(matches!(
            op("eventfd2"),
            Op::Anon {
                kind: AnonKind::Event,
                flags: Some(1)
            }
        ));
        assert!(matches!(
            op("signalfd4"),
            Op::Anon {
                kind: AnonKind::Signal,
                ..
            }
        ));
        assert!(matches!(op("connect"), Op::Connect { addr: 1 }));
        assert!(matches!(op("sendto"), Op::SendTo { addr: 4 }));
        assert_eq!(op("read"), Op::None);
    }

    #[test]
    fn process_calls_and_paths() {
        assert_eq!(op("setresuid"), Op::SetUid(IdCall::Res));
        assert_eq!(op("setuid"), Op::SetUid(IdCall::Set));
        assert_eq!(op("setregid"), Op::SetGid(IdCall::Re));
        assert_eq!(op("setfsuid"), Op::None);
        assert!(matches!(op("chdir"), Op::Chdir { path: 0 }));
        assert_eq!(op("chroot"), Op::None);
        assert!(matches!(
            op("renameat2"),
            Op::Move {
                dst: PathArg {
                    dirfd: Some(2),
                    path: 3
                }
            }
        ));
        let symlinkat = of(SyscallId::from_name("symlinkat").expect("symlinkat"));
        assert_eq!(symlinkat.op, Op::None);
        assert_eq!(
            symlinkat.src,
            Some(PathArg {
                dirfd: None,
                path: 0
            })
        );
        assert_eq!(
            symlinkat.dst,
            Some(PathArg {
                dirfd: Some(1),
                path: 2
            })
        );
        let write = of(SyscallId::from_name("write").expect("write"));
        assert_eq!(write.fd_param, Some(0));
        let sendfile = of(SyscallId::from_name("sendfile").expect("sendfile"));
        assert_eq!(sendfile.fd_param, Some(0));
    }
}
