//! The process and fd tables, kept by events: seeded from `/proc` for processes that existed
//! before the agent, then updated by fork, exec, exit and the fd-creating and fd-closing
//! syscalls. The same for every driver: it only sees `lanner_common::Event`s.

// Fx hashing: the keys are pids and fds the kernel hands out, not attacker-chosen strings
// worth SipHash's DoS resistance, and the tables are hit on every event.
use rustc_hash::FxHashMap as HashMap;
use std::net::IpAddr;

use lanner_common::decode::sockaddr::SockAddr;
use lanner_common::event::{ArgValue, ExecEvent, SyscallEvent};
use lanner_common::spec::{self, SpecFlags};
use lanner_common::{Event, EventKind};

use super::procfs;

/// What an fd refers to.
#[derive(Debug, Clone, PartialEq)]
pub enum FdKind {
    /// A file or directory opened by path.
    File {
        /// Absolute path, normalized.
        path: Vec<u8>,
        /// Open flags.
        flags: u64,
    },
    /// A socket.
    Socket {
        /// `AF_*`.
        domain: i64,
        /// `SOCK_*` type (without flags).
        ty: i64,
        /// Local address, when bound or accepted.
        local: Option<SockAddr>,
        /// Peer address, when connected or accepted.
        remote: Option<SockAddr>,
        /// Whether this end accepted the connection (the server side).
        server: bool,
    },
    /// One end of a pipe.
    Pipe,
    /// Something else (memfd, eventfd, ...), named by the syscall that made it.
    Other(&'static str),
}

/// One process.
#[derive(Debug, Clone, Default)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    /// `comm`: the executable's name, at most 15 bytes.
    pub name: Vec<u8>,
    /// argv[0].
    pub exe: Vec<u8>,
    /// The executable's full path.
    pub exepath: Vec<u8>,
    /// argv[1..].
    pub args: Vec<Vec<u8>>,
    pub cwd: Vec<u8>,
    pub uid: u32,
    pub gid: u32,
    pub loginuid: i64,
    pub tty: u32,
    pub sid: u32,
    pub cap_effective: u64,
    /// Short container id, `None` on the host.
    pub container_id: Option<String>,
    /// Boot-clock ns when the agent saw it start (0 when it predates the agent).
    pub start_ts: u64,
    pub fds: HashMap<i32, FdKind>,
    /// `proc.cmdline` and `proc.args`, kept ready: many Falco macros read them on every event.
    cmdline_text: Vec<u8>,
    args_text: Vec<u8>,
}

impl Process {
    fn from_proc(pid: u32, info: procfs::ProcInfo) -> Process {
        let mut process = Process {
            pid,
            ..Process::default()
        };
        process.apply_proc(info);
        process
    }

    fn apply_proc(&mut self, info: procfs::ProcInfo) {
        self.ppid = info.ppid;
        self.name = info.comm;
        if let Some((first, rest)) = info.argv.split_first() {
            self.exe = first.clone();
            self.args = rest.to_vec();
        }
        self.exepath = info.exepath;
        self.cwd = info.cwd;
        self.uid = info.uid;
        self.gid = info.gid;
        self.loginuid = info.loginuid;
        self.tty = info.tty;
        self.sid = info.sid;
        self.cap_effective = info.cap_effective;
        self.container_id = info.container_id;
        self.refresh_lines();
    }

    /// Recomputes the cached command lines after name or arguments changed.
    fn refresh_lines(&mut self) {
        self.args_text = self.args.join(&b' ');
        self.cmdline_text = self.name.clone();
        if !self.args_text.is_empty() {
            self.cmdline_text.push(b' ');
            self.cmdline_text.extend_from_slice(&self.args_text);
        }
    }

    /// `proc.cmdline`: name and arguments.
    pub fn cmdline(&self) -> &[u8] {
        &self.cmdline_text
    }

    /// `proc.args`: the arguments, space separated.
    pub fn args_line(&self) -> &[u8] {
        &self.args_text
    }
}

/// The tables.
#[derive(Debug, Default)]
pub struct State {
    processes: HashMap<u32, Process>,
    /// Processes whose exit was seen, removed after the exit event is evaluated.
    exited: Vec<u32>,
}

/// `comm` is the executable's base name cut at 15 bytes (TASK_COMM_LEN - 1).
fn comm_of(path: &[u8]) -> Vec<u8> {
    let base = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    base[..base.len().min(15)].to_vec()
}

/// Joins `path` to `base` unless it is absolute, and removes `.`, `..` and repeated slashes.
pub fn resolve_path(base: &[u8], path: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    let joined: Vec<&[u8]> = if path.first() == Some(&b'/') {
        path.split(|&b| b == b'/').collect()
    } else {
        base.split(|&b| b == b'/')
            .chain(path.split(|&b| b == b'/'))
            .collect()
    };
    for part in joined {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let mut out = Vec::with_capacity(path.len() + base.len() + 1);
    for part in parts {
        out.push(b'/');
        out.extend_from_slice(part);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

fn arg_int(call: &SyscallEvent, name: &str) -> Option<i64> {
    call.arg(name).and_then(ArgValue::as_int)
}

fn arg_bytes<'a>(call: &'a SyscallEvent, name: &str) -> Option<&'a [u8]> {
    call.arg(name).and_then(ArgValue::as_bytes)
}

fn arg_sockaddr(call: &SyscallEvent, name: &str) -> Option<SockAddr> {
    match call.arg(name) {
        Some(ArgValue::SockAddr(addr)) => Some(addr.clone()),
        _ => None,
    }
}

impl State {
    /// A fresh state; processes are loaded from `/proc` when first referenced.
    pub fn new() -> Self {
        State::default()
    }

    /// The process `pid`, loaded from `/proc` if not known yet.
    pub fn process(&mut self, pid: u32) -> Option<&Process> {
        self.ensure(pid);
        self.processes.get(&pid)
    }

    /// The process if known, without touching `/proc`.
    pub fn known(&self, pid: u32) -> Option<&Process> {
        self.processes.get(&pid)
    }

    /// Makes sure `pid` and its ancestors are loaded (for `proc.aname[N]`).
    pub fn ensure_with_ancestors(&mut self, pid: u32, levels: usize) {
        let mut current = pid;
        for _ in 0..=levels {
            if current <= 1 && current != pid {
                break;
            }
            self.ensure(current);
            match self.processes.get(&current) {
                Some(p) if p.ppid != 0 && p.ppid != current => current = p.ppid,
                _ => break,
            }
        }
    }

    fn ensure(&mut self, pid: u32) {
        if pid == 0 || self.processes.contains_key(&pid) {
            return;
        }
        if let Some(info) = procfs::read(pid) {
            self.processes.insert(pid, Process::from_proc(pid, info));
        }
    }

    /// The process, created from what `/proc` knows, or empty when even that is gone: events
    /// about it still build its state.
    fn process_mut(&mut self, pid: u32) -> Option<&mut Process> {
        self.ensure(pid);
        if pid == 0 {
            return None;
        }
        Some(self.processes.entry(pid).or_insert_with(|| Process {
            pid,
            loginuid: -1,
            ..Process::default()
        }))
    }

    /// Removes the processes whose exit has been evaluated.
    pub fn collect_exited(&mut self) {
        for pid in self.exited.drain(..) {
            self.processes.remove(&pid);
        }
    }

    /// Number of processes known.
    pub fn len(&self) -> usize {
        self.processes.len()
    }

    /// Whether no process is known.
    pub fn is_empty(&self) -> bool {
        self.processes.is_empty()
    }

    /// Updates the tables with one event. Call before evaluating rules on it (so that an
    /// `execve` is seen with the new program's name, an `openat` with its new fd), then
    /// [`State::collect_exited`] after.
    pub fn apply(&mut self, event: &Event) {
        match &event.kind {
            EventKind::Fork(fork) => {
                if fork.thread {
                    return;
                }
                let mut child = self
                    .process_mut(event.pid)
                    .map(|parent| parent.clone())
                    .unwrap_or_default();
                child.pid = fork.child_pid;
                child.ppid = event.pid;
                child.start_ts = event.ts;
                self.processes.insert(fork.child_pid, child);
            }
            EventKind::Exec(exec) => self.exec(event.pid, exec),
            EventKind::Exit(_) if event.pid == event.tid => self.exited.push(event.pid),
            // A non-blocking connect in progress is a connection all the same.
            EventKind::Syscall(call)
                if call.ret >= 0
                    || (call.id == lanner_common::syscalls::ids::CONNECT
                        && call.errno() == Some(libc::EINPROGRESS)) =>
            {
                self.syscall(event.pid, call)
            }
            _ => {}
        }
    }

    fn exec(&mut self, pid: u32, exec: &ExecEvent) {
        let refreshed = procfs::refresh_after_exec(pid);
        let Some(process) = self.process_mut(pid) else {
            return;
        };
        let exepath = exec.exe.clone().unwrap_or_else(|| exec.filename.clone());
        process.name = comm_of(&exec.filename);
        if let Some((first, rest)) = exec.argv.split_first() {
            process.exe = first.clone();
            process.args = rest.to_vec();
        }
        process.exepath = exepath;
        if let Some(info) = refreshed {
            process.uid = info.uid;
            process.gid = info.gid;
            process.cap_effective = info.cap_effective;
            if !info.comm.is_empty() {
                process.name = info.comm;
            }
        }
        process.refresh_lines();
        // close-on-exec fds are gone.
        process.fds.retain(|_, fd| match fd {
            FdKind::File { flags, .. } => *flags & (libc::O_CLOEXEC as u64) == 0,
            _ => true,
        });
    }

    fn syscall(&mut self, pid: u32, call: &SyscallEvent) {
        let Some(spec) = spec::lookup(call.id) else {
            return;
        };
        let name = call.id.name();
        let Some(process) = self.process_mut(pid) else {
            return;
        };
        let ret = call.ret as i32;
        match name {
            "open" | "openat" | "openat2" | "creat" => {
                let Some(path) = arg_bytes(call, "name") else {
                    return;
                };
                let base = match arg_int(call, "dirfd") {
                    Some(dirfd) if dirfd != i64::from(libc::AT_FDCWD) => {
                        match process.fds.get(&(dirfd as i32)) {
                            Some(FdKind::File { path, .. }) => path.clone(),
                            _ => process.cwd.clone(),
                        }
                    }
                    _ => process.cwd.clone(),
                };
                let flags = call
                    .arg("flags")
                    .and_then(|v| match v {
                        ArgValue::UInt(f) => Some(*f),
                        ArgValue::Int(f) => Some(*f as u64),
                        _ => None,
                    })
                    .unwrap_or(if name == "creat" {
                        (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64
                    } else {
                        0
                    });
                process.fds.insert(
                    ret,
                    FdKind::File {
                        path: resolve_path(&base, path),
                        flags,
                    },
                );
            }
            "socket" => {
                let domain = arg_int(call, "domain").unwrap_or(0);
                let ty = arg_int(call, "type").unwrap_or(0) & 0xf;
                process.fds.insert(
                    ret,
                    FdKind::Socket {
                        domain,
                        ty,
                        local: None,
                        remote: None,
                        server: false,
                    },
                );
            }
            "connect" | "bind" => {
                let Some(fd) = arg_int(call, "fd") else {
                    return;
                };
                let addr = arg_sockaddr(call, "addr");
                if let Some(FdKind::Socket { local, remote, .. }) =
                    process.fds.get_mut(&(fd as i32))
                {
                    if name == "connect" {
                        *remote = addr;
                    } else {
                        *local = addr;
                    }
                }
            }
            "accept" | "accept4" => {
                let listener = arg_int(call, "fd").and_then(|fd| process.fds.get(&(fd as i32)));
                let (domain, ty, local) = match listener {
                    Some(FdKind::Socket {
                        domain, ty, local, ..
                    }) => (*domain, *ty, local.clone()),
                    _ => (0, 0, None),
                };
                process.fds.insert(
                    ret,
                    FdKind::Socket {
                        domain,
                        ty,
                        local,
                        remote: arg_sockaddr(call, "addr"),
                        server: true,
                    },
                );
            }
            "dup" | "dup2" | "dup3" => {
                let old = arg_int(call, "fd").or_else(|| arg_int(call, "oldfd"));
                if let Some(copy) = old.and_then(|fd| process.fds.get(&(fd as i32)).cloned()) {
                    process.fds.insert(ret, copy);
                }
            }
            "close" => {
                if let Some(fd) = arg_int(call, "fd") {
                    process.fds.remove(&(fd as i32));
                }
            }
            "pipe" | "pipe2" | "socketpair" => {
                if let Some(ArgValue::FdPair(pair)) = call.arg("fds").or_else(|| call.arg("sv")) {
                    let kind = if name == "socketpair" {
                        FdKind::Other("socketpair")
                    } else {
                        FdKind::Pipe
                    };
                    process.fds.insert(pair[0], kind.clone());
                    process.fds.insert(pair[1], kind);
                }
            }
            "chdir" => {
                if let Some(path) = arg_bytes(call, "path").or_else(|| arg_bytes(call, "name")) {
                    process.cwd = resolve_path(&process.cwd.clone(), path);
                }
            }
            "fchdir" => {
                if let Some(FdKind::File { path, .. }) =
                    arg_int(call, "fd").and_then(|fd| process.fds.get(&(fd as i32)))
                {
                    process.cwd = path.clone();
                }
            }
            "setuid" | "setreuid" | "setresuid" => {
                if let Some(info) = procfs::read(pid) {
                    if let Some(process) = self.processes.get_mut(&pid) {
                        process.uid = info.uid;
                        process.cap_effective = info.cap_effective;
                    }
                }
            }
            _ if spec.flags.contains(SpecFlags::CREATES_FD) => {
                process.fds.insert(ret, FdKind::Other(spec.name));
            }
            _ => {}
        }
    }
}

/// An IP address and port of a socket address, if it is an inet one.
pub fn inet(addr: &SockAddr) -> Option<(IpAddr, u16)> {
    match addr {
        SockAddr::Inet { addr, port } => Some((IpAddr::V4(*addr), *port)),
        SockAddr::Inet6 { addr, port, .. } => Some((IpAddr::V6(*addr), *port)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_like_the_kernel_does() {
        assert_eq!(resolve_path(b"/home/u", b"x.txt"), b"/home/u/x.txt");
        assert_eq!(
            resolve_path(b"/home/u", b"../../etc//shadow"),
            b"/etc/shadow"
        );
        assert_eq!(resolve_path(b"/", b"./a/./b/.."), b"/a");
        assert_eq!(resolve_path(b"/anything", b"/etc/passwd"), b"/etc/passwd");
        assert_eq!(resolve_path(b"/", b".."), b"/");
    }

    #[test]
    fn comm_is_the_base_name_cut_at_15() {
        assert_eq!(comm_of(b"/usr/bin/cat"), b"cat");
        assert_eq!(comm_of(b"/x/a-very-long-program-name"), b"a-very-long-pro");
    }
}
