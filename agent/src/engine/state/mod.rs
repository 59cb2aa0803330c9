//! The process and fd tables, kept by events: processes that existed before the agent are read
//! from `/proc` when first referenced (with their ancestors, for `proc.aname[N]`), then the
//! tables follow fork, exec and exit events and the state-changing syscalls. The same for every
//! driver: it only sees `lanner_common::Event`s.
//!
//! Per event: [`State::apply`] before the rules are evaluated (so that an `execve` is judged
//! with the new program, an `openat` with its new fd), [`State::end_event`] after (so that a
//! process's exit, or a `close`, is judged with what is being removed).
//!
//! Only the state the rules read is kept ([`StateNeeds`]): without `FD` no fd table is built
//! (its `close` events would not be traced, and it would only grow), without `PROCESS` nothing
//! is read from `/proc`.

mod container;
mod fd;
mod ops;
mod path;
mod pool;
mod process;
mod procfs;
mod written;

// Fx hashing: pids are small integers the kernel hands out, and the table is hit on every event.
use rustc_hash::FxHashMap as HashMap;

use lanner_common::decode::sockaddr::SockAddr;
use lanner_common::event::{ArgValue, ExecEvent, ForkEvent, SyscallEvent};
use lanner_common::{Event, EventKind, SyscallSet};
use lanner_rules::StateNeeds;

pub use container::Container;
pub use fd::{socket_inode, AnonKind, Fd, FdKind, FdTable, FileFd, SocketFd};
pub use ops::{of as syscall_ops, OpenFlags, PathArg, SyscallOps};
pub use path::{basename, dirname, resolve as resolve_path};
pub use process::{Caps, Ids, Process};
pub use procfs::ProcFs;

use ops::{IdCall, Op};
use pool::Buffers;
use written::Written;

/// How far up an unknown process's ancestry is read from `/proc` (Falco's rules look at most
/// seven levels up; the walk stops earlier at init or at a known process).
const ANCESTOR_LEVELS: usize = 16;

/// The syscalls the state must see to keep what `needs` asks for: for the fd table, the calls
/// that make fds whose origin `/proc` cannot tell later (paths as opened, socket types and
/// peers) and every call that closes one, so no entry goes stale (`close`, `close_range`,
/// `dup2` over an open fd); for processes, the calls that change cwd, ids, session or
/// capabilities; for written files, opens and the calls that move a file into place.
///
/// Left out on purpose, because `/proc/PID/fd` names their fds when a rule asks
/// ([`State::load_event_fd`]): pipes, socketpairs, eventfd and the other anonymous fds, and
/// `fcntl` (frequent, and its `F_DUPFD` copies are new fd numbers, which `/proc` resolves).
/// What that costs: an `F_SETFD` close-on-exec mark is not seen, so such an fd outlives an
/// exec in the table until its number is reused.
pub fn syscalls_for(needs: StateNeeds) -> SyscallSet {
    let mut set = SyscallSet::new();
    for spec in lanner_common::spec::table() {
        let Some(id) = lanner_common::SyscallId::from_name(spec.name) else {
            continue;
        };
        let op = ops::of(id).op;
        let fd = matches!(
            op,
            Op::Open { .. }
                | Op::Socket { .. }
                | Op::Accept { .. }
                | Op::Dup { .. }
                | Op::Close
                | Op::CloseRange { .. }
                | Op::Connect { .. }
                | Op::Bind { .. }
                // Relative paths are resolved against the working directory.
                | Op::Chdir { .. }
                | Op::Fchdir
        );
        let process = matches!(
            op,
            Op::Chdir { .. }
                | Op::Fchdir
                | Op::SetUid(_)
                | Op::SetGid(_)
                | Op::Setsid
                | Op::Setpgid
                | Op::Capset
        );
        let writes = matches!(op, Op::Open { .. } | Op::Move { .. });
        if (fd && needs.contains(StateNeeds::FD))
            || (process && needs.contains(StateNeeds::PROCESS))
            || (writes && needs.contains(StateNeeds::FILE_WRITES))
        {
            set.insert(id);
        }
    }
    set
}

/// Where each open-family call of `set` has its path and flags (for the drivers' open
/// filter). `creat` and `openat2` have no flags in a register: taken to read and write.
pub fn open_calls(set: &SyscallSet) -> Vec<lanner_common::OpenCall> {
    set.iter()
        .filter_map(|id| match ops::of(id).op {
            Op::Open { at, flags } => Some(lanner_common::OpenCall {
                id,
                path: at.path,
                flags,
            }),
            _ => None,
        })
        .collect()
}

/// The tables.
#[derive(Debug)]
pub struct State {
    processes: HashMap<u32, Process>,
    /// Processes whose exit was seen, removed at the end of the event.
    exited: Vec<u32>,
    procfs: ProcFs,
    track: StateNeeds,
    written: Written,
    /// The fd the current event is about, if any (-1 for a failed open).
    event_fd: Option<i32>,
    /// That fd's entry when it is not in the table: what a `close` just removed, or the file a
    /// failed open named.
    transient: Option<Fd>,
    /// The current event changed its fd's name (connect, bind, sendto to a new peer).
    name_changed: bool,
    /// Path buffers of fds that left the table, for the next open to reuse.
    buffers: Buffers,
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

fn arg(call: &SyscallEvent, i: u8) -> Option<&ArgValue> {
    call.args.get(usize::from(i)).map(|a| &a.value)
}

fn arg_int(call: &SyscallEvent, i: u8) -> Option<i64> {
    arg(call, i).and_then(ArgValue::as_int)
}

/// Flags and masks as unsigned bits, whether decoded as signed or not.
fn arg_bits(call: &SyscallEvent, i: u8) -> Option<u64> {
    match arg(call, i)? {
        ArgValue::UInt(v) => Some(*v),
        ArgValue::Int(v) => Some(*v as u64),
        _ => None,
    }
}

fn arg_fd(call: &SyscallEvent, i: u8) -> Option<i32> {
    arg_int(call, i).and_then(|v| i32::try_from(v).ok())
}

fn arg_bytes(call: &SyscallEvent, i: u8) -> Option<&[u8]> {
    arg(call, i).and_then(ArgValue::as_bytes)
}

fn arg_addr(call: &SyscallEvent, i: u8) -> Option<&SockAddr> {
    match arg(call, i)? {
        ArgValue::SockAddr(addr) => Some(addr),
        _ => None,
    }
}

fn arg_pair(call: &SyscallEvent, i: u8) -> Option<[i32; 2]> {
    match arg(call, i)? {
        ArgValue::FdPair(pair) => Some(*pair),
        _ => None,
    }
}

fn family(addr: &SockAddr) -> i32 {
    match addr {
        SockAddr::Inet { .. } => libc::AF_INET,
        SockAddr::Inet6 { .. } => libc::AF_INET6,
        SockAddr::Unix { .. } => libc::AF_UNIX,
        SockAddr::Netlink { .. } => libc::AF_NETLINK,
        SockAddr::Other { family, .. } => family.map_or(0, i32::from),
        _ => 0,
    }
}

const O_CLOEXEC: u64 = libc::O_CLOEXEC as u64;
const SOCK_TYPE_MASK: u64 = 0xf;
const MFD_CLOEXEC: u64 = 1;
const CLOSE_RANGE_CLOEXEC: u64 = 1 << 2;
const NO_ID: u64 = u32::MAX as u64;

impl State {
    /// A state reading the real `/proc`, keeping everything.
    pub fn new() -> Self {
        State::with_procfs(
            ProcFs::default(),
            StateNeeds::PROCESS
                | StateNeeds::FD
                | StateNeeds::USER
                | StateNeeds::CONTAINER
                | StateNeeds::FILE_WRITES,
        )
    }

    /// A state reading `procfs`, keeping what `track` asks for.
    pub fn with_procfs(procfs: ProcFs, track: StateNeeds) -> Self {
        State {
            processes: HashMap::default(),
            exited: Vec::new(),
            procfs,
            track,
            written: Written::default(),
            event_fd: None,
            transient: None,
            name_changed: false,
            buffers: Buffers::default(),
        }
    }

    /// The `/proc` tree read.
    pub fn procfs(&self) -> &ProcFs {
        &self.procfs
    }

    /// What is kept.
    pub fn tracking(&self) -> StateNeeds {
        self.track
    }

    fn tracks(&self, need: StateNeeds) -> bool {
        self.track.contains(need)
    }

    /// The process `pid`, if known.
    #[inline]
    pub fn process(&self, pid: u32) -> Option<&Process> {
        self.processes.get(&pid)
    }

    /// Number of processes known.
    pub fn len(&self) -> usize {
        self.processes.len()
    }

    /// Whether no process is known.
    pub fn is_empty(&self) -> bool {
        self.processes.is_empty()
    }

    /// Whether a traced process wrote `path` since the agent started.
    pub fn was_written(&self, path: &[u8]) -> bool {
        self.written.contains(path)
    }

    /// The number of the fd the current event is about (-1: a failed open).
    pub fn event_fd_num(&self) -> Option<i32> {
        self.event_fd
    }

    /// The fd the current event of process `pid` is about, and what it is.
    #[inline]
    pub fn event_fd(&self, pid: u32) -> Option<(i32, &Fd)> {
        let num = self.event_fd?;
        if let Some(fd) = &self.transient {
            return Some((num, fd));
        }
        let fd = self.processes.get(&pid)?.fds.get(num)?;
        Some((num, fd))
    }

    /// Whether the current event changed its fd's name.
    pub fn name_changed(&self) -> bool {
        self.name_changed
    }

    /// Loads the current event's fd from `/proc` if the table does not know it (it was
    /// created before the agent, or by a call the agent does not trace). Call only when a rule
    /// is about to read it: it costs a few `/proc` reads.
    pub fn load_event_fd(&mut self, pid: u32) {
        let Some(num) = self.event_fd.filter(|&n| n >= 0) else {
            return;
        };
        if self.transient.is_some() || !self.tracks(StateNeeds::FD) {
            return;
        }
        let procfs = &self.procfs;
        let Some(process) = self.processes.get_mut(&pid) else {
            return;
        };
        if process.fds.get(num).is_some() {
            return;
        }
        process.fds.insert(num, fd_from_proc(procfs, pid, num));
    }

    fn drop_transient(&mut self) {
        if let Some(fd) = self.transient.take() {
            self.buffers.recycle(fd);
        }
    }

    /// Makes sure `pid` is in the table: from `/proc` (with its ancestors) when the rules read
    /// process state, else empty. Events about a process build its state either way.
    fn ensure(&mut self, pid: u32) {
        if self.processes.contains_key(&pid) {
            return;
        }
        let process = match self.read_proc(pid) {
            Some(process) => process,
            None => Process::unknown(pid),
        };
        let mut parent = process.ppid;
        self.processes.insert(pid, process);
        for _ in 0..ANCESTOR_LEVELS {
            if parent == 0 || self.processes.contains_key(&parent) {
                break;
            }
            let Some(ancestor) = self.read_proc(parent) else {
                break;
            };
            let next = ancestor.ppid;
            self.processes.insert(parent, ancestor);
            parent = next;
        }
    }

    fn read_proc(&self, pid: u32) -> Option<Process> {
        if pid == 0 || !self.tracks(StateNeeds::PROCESS) {
            return None;
        }
        let info = self.procfs.process(pid)?;
        let mut process = Process::from_proc(pid, info);
        if self.tracks(StateNeeds::CONTAINER) {
            process.container = self.procfs.container(pid).flatten();
        }
        Some(process)
    }

    /// Updates the tables with one event. Call before evaluating rules on it, and
    /// [`State::end_event`] after.
    pub fn apply(&mut self, event: &Event) {
        self.event_fd = None;
        self.drop_transient();
        self.name_changed = false;
        if self.track.is_empty() {
            return;
        }
        match &event.kind {
            EventKind::Fork(fork) => self.fork(event.pid, event.ts, fork),
            EventKind::Exec(exec) => self.exec(event.pid, exec),
            EventKind::Exit(_) if event.pid == event.tid => self.exited.push(event.pid),
            EventKind::Syscall(call) => self.syscall(event.pid, call),
            _ => {}
        }
    }

    /// Drops what the event ended: exited processes (kept until their exit was evaluated).
    pub fn end_event(&mut self) {
        for pid in self.exited.drain(..) {
            if let Some(mut process) = self.processes.remove(&pid) {
                for fd in process.fds.drain() {
                    self.buffers.recycle(fd);
                }
            }
        }
        self.drop_transient();
    }

    /// `parent` started `root` (see `Engine::adopt_workload`): a fork nobody reported.
    pub fn adopt(&mut self, parent: u32, root: u32) {
        if self.processes.contains_key(&root) {
            return;
        }
        let fork = ForkEvent {
            child_pid: root,
            child_tid: root,
            kind: lanner_common::event::ForkKind::Fork,
            thread: false,
        };
        self.fork(parent, lanner_common::time::boottime_ns(), &fork);
    }

    fn fork(&mut self, pid: u32, ts: u64, fork: &ForkEvent) {
        self.ensure(pid);
        if fork.thread {
            // Threads share the process's entry.
            return;
        }
        let Some(parent) = self.processes.get(&pid) else {
            return;
        };
        let mut child = parent.fork(fork.child_pid, ts);
        if child.vpid == 0 {
            child.vpid = self
                .procfs
                .status(fork.child_pid)
                .filter(|_| self.tracks(StateNeeds::PROCESS))
                .and_then(|s| s.vpid)
                .unwrap_or(fork.child_pid);
        }
        self.processes.insert(fork.child_pid, child);
    }

    fn exec(&mut self, pid: u32, exec: &ExecEvent) {
        self.ensure(pid);
        let track = self.track;
        // What the exec changed beyond the event's contents: a setuid or file-capability
        // program's ids and capabilities, and (for a process still on the host) the cgroup a
        // container runtime moved it into before exec'ing the entrypoint. The process has run
        // on since (the engine works behind it), so this is its state now. The working
        // directory is not reread: exec does not change it, and chdir is traced.
        // Ids and capabilities come with the event when the driver read them at the exec
        // itself (exact even for a program that ends at once); else from /proc now.
        let status = match exec.creds {
            Some(creds) => Some(procfs::Status {
                creds,
                vpid: None, // exec never changes a pid
            }),
            None => track
                .contains(StateNeeds::PROCESS)
                .then(|| self.procfs.status(pid))
                .flatten(),
        };
        let on_host = self
            .processes
            .get(&pid)
            .is_some_and(|p| p.container.is_none());
        // The container: the one the cgroups the driver read at the exec name (exact, even for
        // a process that ends at once, as `docker exec` one-shots do); else, for a process on
        // the host (one in a container stays in it), what /proc shows now: the eBPF driver
        // reads the unified hierarchy only, and a container may be named in a cgroup v1
        // hierarchy or, behind a private cgroup namespace, only by its mounts.
        let container = if track.contains(StateNeeds::CONTAINER) {
            match exec.cgroup.as_deref().and_then(container::from_cgroup) {
                Some(found) => Some(Some(found)),
                None if on_host => self.procfs.container(pid),
                None => None,
            }
        } else {
            None
        };
        let Some(process) = self.processes.get_mut(&pid) else {
            return;
        };
        let exepath = match &exec.exe {
            Some(exe) => exe.clone(),
            None => path::resolve(&process.cwd, &exec.filename),
        };
        process.exec(&exec.filename, &exec.argv, exepath);
        if let Some(status) = status {
            process.set_status(status);
        }
        if let Some(container) = container {
            process.container = container;
        }
        if track.contains(StateNeeds::FILE_WRITES) {
            process.exe_written = self.written.contains(&process.exepath)
                || (!exec.filename.is_empty()
                    && self
                        .written
                        .contains(&path::resolve(&process.cwd, &exec.filename)));
        }
    }

    fn syscall(&mut self, pid: u32, call: &SyscallEvent) {
        if call.stale_fds != 0 {
            self.forget_stale_fds(pid, call);
        }
        let ops = ops::of(call.id);
        // `close` is judged without its result (it may be traced at entry only); the fd is
        // gone whatever it returns. Any other failed call changed nothing.
        let ok = call.ret >= 0
            || (matches!(ops.op, Op::Connect { .. }) && call.errno() == Some(libc::EINPROGRESS));
        let used = ops.fd_param.and_then(|i| arg_fd(call, i));
        // The new fd, for the calls that return one (not a connect's EINPROGRESS).
        let ret = i32::try_from(call.ret).ok().filter(|&r| ok && r >= 0);
        self.event_fd = match ops.op {
            Op::Open { .. } if !ok => Some(-1),
            Op::Open { .. }
            | Op::Socket { .. }
            | Op::Accept { .. }
            | Op::Dup { .. }
            | Op::Memfd { .. }
            | Op::Anon { .. } => ret.or(used),
            Op::Pipe { fds, .. } | Op::SocketPair { fds, .. } => {
                arg_pair(call, fds).map(|p| p[0]).filter(|_| ok)
            }
            _ => used,
        };
        self.ensure(pid);
        // A failed open still names the file it tried (Falco's open_file_failed).
        if matches!(ops.op, Op::None) || (!ok && !matches!(ops.op, Op::Close | Op::Open { .. })) {
            return;
        }
        let fds = self.tracks(StateNeeds::FD);
        let writes = self.tracks(StateNeeds::FILE_WRITES);
        let Some(process) = self.processes.get_mut(&pid) else {
            return;
        };
        match ops.op {
            Op::Open { at, flags } => {
                let Some(name) = arg_bytes(call, at.path) else {
                    return;
                };
                let flags = match flags {
                    Some(i) => arg_bits(call, i).unwrap_or(0),
                    // creat(path, mode) is open(path, O_CREAT|O_WRONLY|O_TRUNC, mode).
                    None => (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64,
                };
                let mut resolved = self.buffers.take();
                resolve_at(
                    &mut resolved,
                    process,
                    &self.procfs,
                    pid,
                    call,
                    at.dirfd,
                    name,
                );
                let opens_for_write = flags & libc::O_ACCMODE as u64 != libc::O_RDONLY as u64
                    || flags & libc::O_CREAT as u64 != 0;
                if writes && ok && opens_for_write {
                    self.written.insert(&resolved);
                }
                if !fds {
                    self.buffers.put(resolved);
                    return;
                }
                let fd = Fd {
                    cloexec: flags & O_CLOEXEC != 0,
                    kind: FdKind::File(FileFd {
                        raw: (resolved != name).then(|| self.buffers.copy(name)),
                        path: resolved,
                        flags,
                        directory: flags & libc::O_DIRECTORY as u64 != 0,
                    }),
                };
                match ret {
                    Some(num) => {
                        if let Some(old) = process.fds.insert(num, fd) {
                            self.buffers.recycle(old);
                        }
                    }
                    None => self.transient = Some(fd),
                }
            }
            Op::Move { dst } => {
                if let (true, Some(name)) = (writes, arg_bytes(call, dst.path)) {
                    let mut resolved = self.buffers.take();
                    resolve_at(
                        &mut resolved,
                        process,
                        &self.procfs,
                        pid,
                        call,
                        dst.dirfd,
                        name,
                    );
                    self.written.insert(&resolved);
                    self.buffers.put(resolved);
                }
            }
            Op::Chdir { path } => {
                if let Some(name) = arg_bytes(call, path) {
                    let cwd = path::resolve(&process.cwd, name);
                    process.set_cwd(&cwd);
                }
            }
            Op::Fchdir => {
                let dir = match used.and_then(|n| process.fds.get(n)) {
                    Some(Fd {
                        kind: FdKind::File(file),
                        ..
                    }) => Some(file.path.clone()),
                    _ => self.procfs.cwd(pid),
                };
                if let Some(dir) = dir {
                    process.set_cwd(&dir);
                }
            }
            Op::SetUid(kind) => {
                let was_root = process.uids.effective == 0;
                set_ids(&mut process.uids, kind, call);
                // Leaving uid 0 drops the effective capabilities (capabilities(7)); /proc,
                // when it can still be read, has the exact sets.
                match self
                    .procfs
                    .status(pid)
                    .filter(|_| self.track.contains(StateNeeds::PROCESS))
                {
                    Some(status) => process.caps.effective = status.creds.caps[0],
                    None if was_root && process.uids.effective != 0 => process.caps.effective = 0,
                    None => {}
                }
            }
            Op::SetGid(kind) => set_ids(&mut process.gids, kind, call),
            Op::Capset => {
                if let Some(status) = self.procfs.status(pid) {
                    let [effective, permitted, inheritable] = status.creds.caps;
                    process.caps.effective = effective;
                    process.caps.permitted = permitted;
                    process.caps.inheritable = inheritable;
                }
            }
            Op::Setsid => {
                // A new session has no controlling terminal.
                process.sid = pid;
                process.pgid = pid;
                process.tty = 0;
            }
            Op::Setpgid => {
                let target = arg_int(call, 0)
                    .filter(|&p| p > 0)
                    .map_or(pid, |p| p as u32);
                let pgid = arg_int(call, 1)
                    .filter(|&p| p > 0)
                    .map_or(target, |p| p as u32);
                if let Some(p) = self.processes.get_mut(&target) {
                    p.pgid = pgid;
                }
            }
            _ if fds => self.fd_call(pid, ops, call, ret, used),
            _ => {}
        }
    }

    /// Forgets what the table holds for descriptor arguments the driver marked stale: closed
    /// since it last told of them (it left the close out), and maybe reused since by a call it
    /// does not report. Their next lookup reads /proc, as for a descriptor never seen.
    fn forget_stale_fds(&mut self, pid: u32, call: &SyscallEvent) {
        let Some(process) = self.processes.get_mut(&pid) else {
            return;
        };
        for i in (0..6u8).filter(|i| call.stale_fds & (1 << i) != 0) {
            if let Some(old) = arg_fd(call, i).and_then(|fd| process.fds.remove(fd)) {
                self.buffers.recycle(old);
            }
        }
    }

    /// The fd-table part of a syscall.
    fn fd_call(
        &mut self,
        pid: u32,
        ops: &SyscallOps,
        call: &SyscallEvent,
        ret: Option<i32>,
        used: Option<i32>,
    ) {
        let Some(process) = self.processes.get_mut(&pid) else {
            return;
        };
        let table = &mut process.fds;
        match ops.op {
            Op::Close => {
                if let Some(num) = used {
                    self.transient = table.remove(num);
                }
            }
            Op::CloseRange { first, last, flags } => {
                let bound = |i| arg_bits(call, i).map(|v| v.min(i32::MAX as u64) as i32);
                if let (Some(first), Some(last)) = (bound(first), bound(last)) {
                    if arg_bits(call, flags).unwrap_or(0) & CLOSE_RANGE_CLOEXEC != 0 {
                        table.set_cloexec_range(first, last);
                    } else {
                        table.remove_range(first, last);
                    }
                }
            }
            Op::Socket { domain, ty, proto } => {
                let Some(num) = ret else { return };
                let ty = ty.and_then(|i| arg_bits(call, i)).unwrap_or(0);
                let socket = SocketFd {
                    domain: arg_int(call, domain).unwrap_or(0) as i32,
                    ty: (ty & SOCK_TYPE_MASK) as i32,
                    proto: proto.and_then(|i| arg_int(call, i)).unwrap_or(0) as i32,
                    ..SocketFd::default()
                };
                table.insert(
                    num,
                    Fd {
                        kind: FdKind::Socket(socket),
                        cloexec: ty & O_CLOEXEC != 0,
                    },
                );
            }
            Op::SocketPair { domain, ty, fds } => {
                let ty = ty.and_then(|i| arg_bits(call, i)).unwrap_or(0);
                let socket = SocketFd {
                    domain: arg_int(call, domain).unwrap_or(0) as i32,
                    ty: (ty & SOCK_TYPE_MASK) as i32,
                    connected: true,
                    ..SocketFd::default()
                };
                for num in arg_pair(call, fds).into_iter().flatten() {
                    let fd = Fd {
                        kind: FdKind::Socket(socket.clone()),
                        cloexec: ty & O_CLOEXEC != 0,
                    };
                    table.insert(num, fd);
                }
            }
            Op::Pipe { fds, flags } => {
                let cloexec = flags.and_then(|i| arg_bits(call, i)).unwrap_or(0) & O_CLOEXEC != 0;
                for num in arg_pair(call, fds).into_iter().flatten() {
                    table.insert(
                        num,
                        Fd {
                            kind: FdKind::Pipe,
                            cloexec,
                        },
                    );
                }
            }
            Op::Accept { addr, flags } => {
                let Some(num) = ret else { return };
                let peer = arg_addr(call, addr).cloned();
                let mut socket = match used.and_then(|n| table.get(n)) {
                    Some(Fd {
                        kind: FdKind::Socket(listener),
                        ..
                    }) => SocketFd {
                        remote: None,
                        ..listener.clone()
                    },
                    _ => SocketFd {
                        domain: peer.as_ref().map_or(0, family),
                        ty: libc::SOCK_STREAM,
                        ..SocketFd::default()
                    },
                };
                socket.remote = peer;
                socket.server = true;
                socket.connected = true;
                let cloexec = flags.and_then(|i| arg_bits(call, i)).unwrap_or(0) & O_CLOEXEC != 0;
                table.insert(
                    num,
                    Fd {
                        kind: FdKind::Socket(socket),
                        cloexec,
                    },
                );
            }
            Op::Dup { flags } => {
                let cloexec = flags.and_then(|i| arg_bits(call, i)).unwrap_or(0) & O_CLOEXEC != 0;
                if let Some(num) = ret {
                    // A source fd the table does not know (inherited: stdin, stdout, stderr)
                    // is read from /proc once and kept, so that its copies are known too;
                    // otherwise every close(dup(2)) would send a rule to /proc again.
                    if let Some(old) = used.filter(|&n| n >= 0 && table.get(n).is_none()) {
                        table.insert(old, fd_from_proc(&self.procfs, pid, old));
                    }
                    dup(table, &mut self.buffers, used, num, cloexec);
                }
            }
            Op::Fcntl { cmd, arg } => {
                let Some(num) = used else { return };
                match arg_int(call, cmd).map(|c| c as i32) {
                    Some(libc::F_DUPFD) => {
                        if let Some(new) = ret {
                            dup(table, &mut self.buffers, used, new, false);
                        }
                    }
                    Some(libc::F_DUPFD_CLOEXEC) => {
                        if let Some(new) = ret {
                            dup(table, &mut self.buffers, used, new, true);
                        }
                    }
                    Some(libc::F_SETFD) => {
                        if let Some(fd) = table.get_mut(num) {
                            fd.cloexec =
                                arg_bits(call, arg).unwrap_or(0) & libc::FD_CLOEXEC as u64 != 0;
                        }
                    }
                    _ => {}
                }
            }
            Op::Connect { addr } | Op::Bind { addr } | Op::SendTo { addr } => {
                let (Some(num), Some(addr)) = (used, arg_addr(call, addr)) else {
                    return;
                };
                if table.get(num).is_none() {
                    // A socket the table never saw made: its family is the address's.
                    let socket = SocketFd {
                        domain: family(addr),
                        ..SocketFd::default()
                    };
                    table.insert(num, Fd::new(FdKind::Socket(socket)));
                }
                let Some(Fd {
                    kind: FdKind::Socket(socket),
                    ..
                }) = table.get_mut(num)
                else {
                    return;
                };
                match ops.op {
                    Op::Connect { .. } => {
                        socket.remote = Some(addr.clone());
                        socket.connected = true;
                        socket.server = false;
                    }
                    Op::Bind { .. } => {
                        socket.local = Some(addr.clone());
                        socket.server = !socket.connected;
                    }
                    _ if !socket.connected && socket.remote.as_ref() != Some(addr) => {
                        socket.remote = Some(addr.clone());
                    }
                    _ => return,
                }
                self.name_changed = true;
            }
            Op::Memfd { name, flags } => {
                let Some(num) = ret else { return };
                let mut full = b"memfd:".to_vec();
                full.extend_from_slice(arg_bytes(call, name).unwrap_or_default());
                let cloexec = arg_bits(call, flags).unwrap_or(0) & MFD_CLOEXEC != 0;
                table.insert(
                    num,
                    Fd {
                        kind: FdKind::Memfd(full),
                        cloexec,
                    },
                );
            }
            Op::Anon { kind, flags } => {
                let Some(num) = ret else { return };
                // bpf, io_uring and pidfd descriptors are always close-on-exec.
                let cloexec = matches!(kind, AnonKind::Bpf | AnonKind::IoUring | AnonKind::Pidfd)
                    || flags.and_then(|i| arg_bits(call, i)).unwrap_or(0) & O_CLOEXEC != 0;
                table.insert(
                    num,
                    Fd {
                        kind: FdKind::Anon(kind),
                        cloexec,
                    },
                );
            }
            _ => {}
        }
    }
}

/// What `/proc` says fd `num` of `pid` is, or an unknown fd when it cannot tell: a miss is
/// kept in the table too, so that the lookup is not repeated on every event.
fn fd_from_proc(procfs: &ProcFs, pid: u32, num: i32) -> Fd {
    match procfs.fd(pid, num) {
        Some(link) => Fd::from_link(link, |inode| procfs.socket(pid, inode)),
        None => Fd::new(FdKind::Unknown(Vec::new())),
    }
}

/// `new` becomes a copy of `old` (dup, dup2, dup3, `F_DUPFD`). An `old` the table does not
/// know leaves `new` unknown too, for `/proc` to fill in.
/// The copy and whatever `new` held before go through `buffers`.
fn dup(table: &mut FdTable, buffers: &mut Buffers, old: Option<i32>, new: i32, cloexec: bool) {
    let replaced = match old
        .and_then(|n| table.get(n))
        .map(|fd| buffers.clone_fd(fd))
    {
        Some(mut fd) => {
            fd.cloexec = cloexec;
            table.insert(new, fd)
        }
        None => table.remove(new),
    };
    if let Some(fd) = replaced {
        buffers.recycle(fd);
    }
}

/// A path argument made absolute: against its dirfd when it has one (a directory fd from the
/// table, or from `/proc` if the table does not know it), else against the working directory.
/// Written into `out`, a buffer from the pool.
fn resolve_at(
    out: &mut Vec<u8>,
    process: &Process,
    procfs: &ProcFs,
    pid: u32,
    call: &SyscallEvent,
    dirfd: Option<u8>,
    name: &[u8],
) {
    let dirfd = dirfd
        .and_then(|i| arg_fd(call, i))
        .filter(|&fd| fd != libc::AT_FDCWD);
    let Some(dirfd) = dirfd.filter(|_| name.first() != Some(&b'/')) else {
        return path::resolve_into(out, &process.cwd, name);
    };
    match process.fds.get(dirfd) {
        Some(Fd {
            kind: FdKind::File(dir),
            ..
        }) => path::resolve_into(out, &dir.path, name),
        _ => match procfs
            .fd(pid, dirfd)
            .filter(|l| l.target.first() == Some(&b'/'))
        {
            Some(link) => path::resolve_into(out, &link.target, name),
            None => path::resolve_into(out, &process.cwd, name),
        },
    }
}

/// Applies a successful `set*uid`/`set*gid` to the ids it changes (-1 leaves one as it was).
fn set_ids(ids: &mut Ids, kind: IdCall, call: &SyscallEvent) {
    let id = |i: u8| arg_bits(call, i).filter(|&v| v != NO_ID).map(|v| v as u32);
    match kind {
        IdCall::Set => {
            let Some(new) = id(0) else { return };
            // A privileged caller sets all three; others only the effective id.
            if ids.effective == 0 {
                ids.real = new;
                ids.saved = new;
            }
            ids.effective = new;
        }
        IdCall::Re => {
            let (real, effective) = (id(0), id(1));
            let old_real = ids.real;
            if let Some(r) = real {
                ids.real = r;
            }
            if let Some(e) = effective {
                ids.effective = e;
            }
            // The saved id follows the effective one when the real id was set or the
            // effective one moved away from the old real id (setreuid(2)).
            if real.is_some() || effective.is_some_and(|e| e != old_real) {
                ids.saved = ids.effective;
            }
        }
        IdCall::Res => {
            if let Some(r) = id(0) {
                ids.real = r;
            }
            if let Some(e) = id(1) {
                ids.effective = e;
            }
            if let Some(s) = id(2) {
                ids.saved = s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lanner_common::event::Arg;
    use lanner_common::syscalls::{Abi, SyscallId};

    fn call(name: &str, values: &[u64]) -> SyscallEvent {
        let id = SyscallId::from_name(name).expect("syscall");
        let params = lanner_common::spec::lookup(id).expect("spec").params;
        SyscallEvent {
            id,
            abi: Abi::X86_64,
            args: params
                .iter()
                .zip(values)
                .map(|(p, v)| Arg {
                    name: p.name,
                    ty: Some(p.ty),
                    value: ArgValue::UInt(*v),
                })
                .collect(),
            ret: 0,
            entry_only: false,
            stale_fds: 0,
        }
    }

    #[test]
    fn set_ids_follow_the_kernels_rules() {
        let root = Ids::default();
        let mut ids = root;
        set_ids(&mut ids, IdCall::Set, &call("setuid", &[1000]));
        assert_eq!((ids.real, ids.effective, ids.saved), (1000, 1000, 1000));
        // Unprivileged: only the effective id moves.
        set_ids(&mut ids, IdCall::Set, &call("setuid", &[1001]));
        assert_eq!((ids.real, ids.effective, ids.saved), (1000, 1001, 1000));
        let mut ids = root;
        set_ids(&mut ids, IdCall::Re, &call("setreuid", &[NO_ID, 1000]));
        assert_eq!((ids.real, ids.effective, ids.saved), (0, 1000, 1000));
        let mut ids = root;
        set_ids(
            &mut ids,
            IdCall::Res,
            &call("setresuid", &[NO_ID, 5, NO_ID]),
        );
        assert_eq!((ids.real, ids.effective, ids.saved), (0, 5, 0));
    }

    #[test]
    fn state_follows_only_what_is_needed() {
        let fds_only = syscalls_for(StateNeeds::PROCESS | StateNeeds::FD);
        let has = |set: &SyscallSet, name: &str| {
            set.contains(SyscallId::from_name(name).expect("syscall"))
        };
        assert!(has(&fds_only, "close") && has(&fds_only, "setuid") && !has(&fds_only, "rename"));
        assert!(syscalls_for(StateNeeds::NONE).is_empty());
        let mut state = State::with_procfs(ProcFs::new("/nonexistent"), StateNeeds::NONE);
        let event = Event {
            ts: 1,
            pid: 7,
            tid: 7,
            kind: EventKind::Syscall(call("close", &[3])),
        };
        state.apply(&event);
        state.end_event();
        assert!(state.is_empty(), "nothing kept when nothing is read");
    }
}
