//! Field values for one event: the [`FieldSource`] rules are evaluated against, over the event
//! and the process/fd state.
//!
//! Fields are dispatched by their index in the rules crate's table, mapped once to [`F`]: a
//! fetch is an indexed load and a `match`, not a string comparison. Strings are borrowed from
//! the event or the state wherever they exist there; only rendered values (addresses, flag
//! names, capability lists) are built per fetch, and only when a rule asks for them.

mod args;

use std::cell::{Cell, OnceCell};
use std::ffi::OsStr;
use std::net::IpAddr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::sync::OnceLock;

use lanner_common::decode::errno;
use lanner_common::decode::sockaddr::SockAddr;
use lanner_common::event::{Arg, ArgValue, SyscallEvent};
use lanner_common::time::WallClock;
use lanner_common::Event;
use lanner_rules::{EventCode, FieldArg, FieldId, FieldSource, Value, FIELDS};

use super::caps;
use super::state::{self, Fd, FdKind, OpenFlags, PathArg, Process, SocketFd, State};
use super::users::Users;
use super::workload::WorkloadContainer;

/// What the engine knows of the machine it runs on: the same for every event.
#[derive(Debug)]
pub struct Host {
    pub users: Users,
    pub hostname: String,
    pub clock: WallClock,
    /// The container of every process, when the agent was told it.
    pub workload: Option<WorkloadContainer>,
}

/// What an ancestor field reads of the ancestor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attr {
    Name,
    Exe,
    Exepath,
    Cmdline,
    Pid,
}

/// The fields served, one per entry of the rules crate's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum F {
    EvtType,
    EvtNum,
    EvtTime,
    EvtRawtime,
    EvtDir,
    EvtRes,
    EvtRawres,
    EvtFailed,
    EvtIsOpenRead,
    EvtIsOpenWrite,
    EvtIsOpenExec,
    EvtArgs,
    EvtArg,
    EvtRawarg,
    EvtHostname,
    EvtCpu,
    EvtAbspath,
    EvtAbspathSrc,
    EvtAbspathDst,
    EvtAbi,
    ProcPid,
    ProcPpid,
    ProcVpid,
    ProcExeline,
    ProcCwd,
    ProcTty,
    ProcSid,
    ProcSname,
    ProcVpgid,
    ProcDuration,
    ProcLoginshellid,
    ProcIsExeFromMemfd,
    ProcIsExeUpperLayer,
    ProcExeIno,
    ProcExeInoCtime,
    ProcExeInoMtime,
    ProcExeInoCtimeDurationProcStart,
    ProcEnv,
    ProcArgs,
    /// `proc.name` and friends: level 0 of the ancestry.
    Own(Attr),
    /// `proc.pname` and friends.
    Parent(Attr),
    /// `proc.aname[N]` and friends.
    Ancestor(Attr),
    ThreadTid,
    CapEffective,
    CapPermitted,
    CapInheritable,
    UserUid,
    UserName,
    UserLoginuid,
    UserLoginname,
    UserHomedir,
    UserShell,
    GroupGid,
    GroupName,
    FdNum,
    FdName,
    FdNameraw,
    FdDirectory,
    FdFilename,
    FdTypechar,
    FdType,
    FdL4proto,
    FdSockfamily,
    FdSip,
    FdCip,
    FdLip,
    FdRip,
    FdSport,
    FdCport,
    FdLport,
    FdRport,
    FdConnected,
    FdNameChanged,
    FdIsServer,
    ContainerId,
    ContainerName,
    ContainerType,
    ContainerImage,
    ContainerImageRepository,
    ContainerImageTag,
    ContainerImageId,
    /// Container metadata that needs a runtime's API (privileged, start time, info): unknown.
    ContainerUnknown,
    /// A field of the table this engine does not serve (a test keeps this from happening).
    Unserved,
}

fn field_of(name: &str) -> F {
    use Attr::*;
    match name {
        "evt.type" => F::EvtType,
        "evt.num" => F::EvtNum,
        "evt.time" => F::EvtTime,
        "evt.rawtime" => F::EvtRawtime,
        "evt.dir" => F::EvtDir,
        "evt.res" => F::EvtRes,
        "evt.rawres" => F::EvtRawres,
        "evt.failed" => F::EvtFailed,
        "evt.is_open_read" => F::EvtIsOpenRead,
        "evt.is_open_write" => F::EvtIsOpenWrite,
        "evt.is_open_exec" => F::EvtIsOpenExec,
        "evt.args" => F::EvtArgs,
        "evt.arg" => F::EvtArg,
        "evt.rawarg" => F::EvtRawarg,
        "evt.hostname" => F::EvtHostname,
        "evt.cpu" => F::EvtCpu,
        "evt.abspath" => F::EvtAbspath,
        "evt.abspath.src" => F::EvtAbspathSrc,
        "evt.abspath.dst" => F::EvtAbspathDst,
        "evt.abi" => F::EvtAbi,
        "proc.pid" => F::ProcPid,
        "proc.ppid" => F::ProcPpid,
        "proc.vpid" => F::ProcVpid,
        "proc.name" => F::Own(Name),
        "proc.exe" => F::Own(Exe),
        "proc.exepath" => F::Own(Exepath),
        "proc.cmdline" => F::Own(Cmdline),
        "proc.args" => F::ProcArgs,
        "proc.exeline" => F::ProcExeline,
        "proc.cwd" => F::ProcCwd,
        "proc.tty" => F::ProcTty,
        "proc.sid" => F::ProcSid,
        "proc.sname" => F::ProcSname,
        "proc.vpgid" => F::ProcVpgid,
        "proc.duration" => F::ProcDuration,
        "proc.loginshellid" => F::ProcLoginshellid,
        "proc.is_exe_from_memfd" => F::ProcIsExeFromMemfd,
        "proc.is_exe_upper_layer" => F::ProcIsExeUpperLayer,
        "proc.exe_ino" => F::ProcExeIno,
        "proc.exe_ino.ctime" => F::ProcExeInoCtime,
        "proc.exe_ino.mtime" => F::ProcExeInoMtime,
        "proc.exe_ino.ctime_duration_proc_start" => F::ProcExeInoCtimeDurationProcStart,
        "proc.env" => F::ProcEnv,
        "proc.pname" => F::Parent(Name),
        "proc.pexe" => F::Parent(Exe),
        "proc.pexepath" => F::Parent(Exepath),
        "proc.pcmdline" => F::Parent(Cmdline),
        "proc.aname" => F::Ancestor(Name),
        "proc.aexe" => F::Ancestor(Exe),
        "proc.aexepath" => F::Ancestor(Exepath),
        "proc.acmdline" => F::Ancestor(Cmdline),
        "proc.apid" => F::Ancestor(Pid),
        "thread.tid" | "thread.vtid" => F::ThreadTid,
        "thread.cap_effective" => F::CapEffective,
        "thread.cap_permitted" => F::CapPermitted,
        "thread.cap_inheritable" => F::CapInheritable,
        "user.uid" => F::UserUid,
        "user.name" => F::UserName,
        "user.loginuid" => F::UserLoginuid,
        "user.loginname" => F::UserLoginname,
        "user.homedir" => F::UserHomedir,
        "user.shell" => F::UserShell,
        "group.gid" => F::GroupGid,
        "group.name" => F::GroupName,
        "fd.num" => F::FdNum,
        "fd.name" => F::FdName,
        "fd.nameraw" => F::FdNameraw,
        "fd.directory" => F::FdDirectory,
        "fd.filename" => F::FdFilename,
        "fd.typechar" => F::FdTypechar,
        "fd.type" => F::FdType,
        "fd.l4proto" => F::FdL4proto,
        "fd.sockfamily" => F::FdSockfamily,
        "fd.sip" => F::FdSip,
        "fd.cip" => F::FdCip,
        "fd.lip" => F::FdLip,
        "fd.rip" => F::FdRip,
        "fd.sport" => F::FdSport,
        "fd.cport" => F::FdCport,
        "fd.lport" => F::FdLport,
        "fd.rport" => F::FdRport,
        "fd.connected" => F::FdConnected,
        "fd.name_changed" => F::FdNameChanged,
        "fd.is_server" => F::FdIsServer,
        "container.id" => F::ContainerId,
        "container.name" => F::ContainerName,
        "container.type" => F::ContainerType,
        // Known only when the agent was told the workload's container (ECS metadata).
        "container.image" => F::ContainerImage,
        "container.image.repository" => F::ContainerImageRepository,
        "container.image.tag" => F::ContainerImageTag,
        "container.image.id" => F::ContainerImageId,
        "container.privileged" | "container.start_ts" | "container.info" => F::ContainerUnknown,
        _ => F::Unserved,
    }
}

/// The rules crate's field table, as [`F`]s.
fn table() -> &'static [F] {
    static TABLE: OnceLock<Vec<F>> = OnceLock::new();
    TABLE.get_or_init(|| FIELDS.iter().map(|f| field_of(f.name)).collect())
}

/// Names of the table's fields this engine does not serve (none, as a test checks).
pub fn unserved() -> Vec<&'static str> {
    FIELDS
        .iter()
        .zip(table())
        .filter(|(info, f)| {
            **f == F::Unserved && matches!(info.kind, lanner_rules::FieldKind::Direct)
        })
        .map(|(info, _)| info.name)
        .collect()
}

/// How far `proc.loginshellid` walks up.
const LOGIN_SHELL_LEVELS: usize = 64;

/// Shells, for `proc.loginshellid` (libsinsp's list).
const SHELLS: &[&[u8]] = &[
    b"sh", b"bash", b"csh", b"tcsh", b"ksh", b"zsh", b"dash", b"ash", b"fish",
];

/// One event seen through the state.
pub struct View<'a> {
    event: &'a Event,
    call: Option<&'a SyscallEvent>,
    code: EventCode,
    num: u64,
    state: &'a State,
    host: &'a Host,
    process: Option<&'a Process>,
    fd: Option<(i32, &'a Fd)>,
    /// `/proc/PID/environ`, read on first use.
    environ: OnceCell<Option<Vec<u8>>>,
    /// Set while an alert's output is rendered: lookups too costly for conditions are allowed.
    rendering: Cell<bool>,
    /// The local address of a connected socket whose `connect` did not tell it, from
    /// `/proc/PID/net`, read on first use while rendering.
    local: OnceCell<Option<SockAddr>>,
}

fn text(bytes: &[u8]) -> Value<'_> {
    Value::Str(bytes)
}

fn owned(s: impl Into<Vec<u8>>) -> Value<'static> {
    Value::Owned(s.into())
}

fn num<T: Into<i64>>(v: Option<T>) -> Value<'static> {
    v.map_or(Value::Missing, |v| Value::Num(v.into()))
}

fn flag(v: Option<bool>) -> Value<'static> {
    v.map_or(Value::Missing, Value::Bool)
}

fn inet(addr: &SockAddr) -> Option<(IpAddr, u16)> {
    match addr {
        SockAddr::Inet { addr, port } => Some((IpAddr::V4(*addr), *port)),
        SockAddr::Inet6 { addr, port, .. } => Some((IpAddr::V6(*addr), *port)),
        _ => None,
    }
}

fn unspecified(like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    }
}

/// The ends of a connection, as Falco names them: the server is the end that accepted (or
/// listens), the client the one that connected.
struct Ends {
    local: Option<(IpAddr, u16)>,
    remote: Option<(IpAddr, u16)>,
    server: bool,
}

impl Ends {
    fn of(socket: &SocketFd, local: Option<&SockAddr>) -> Ends {
        Ends {
            local: local.and_then(inet),
            remote: socket.remote.as_ref().and_then(inet),
            server: socket.server,
        }
    }

    fn server(&self) -> Option<(IpAddr, u16)> {
        if self.server {
            self.local
        } else {
            self.remote
        }
    }

    fn client(&self) -> Option<(IpAddr, u16)> {
        if self.server {
            self.remote
        } else {
            self.local
        }
    }
}

impl<'a> View<'a> {
    /// A string the workload container has, or `Missing` (no container told, or no value).
    fn workload_text(
        &self,
        get: impl FnOnce(&'a WorkloadContainer) -> Option<&'a str>,
    ) -> Value<'a> {
        self.host
            .workload
            .as_ref()
            .and_then(get)
            .map_or(Value::Missing, |s| text(s.as_bytes()))
    }

    /// The view of `event`, the `num`th processed, of type `code`.
    pub fn new(
        event: &'a Event,
        code: EventCode,
        num: u64,
        state: &'a State,
        host: &'a Host,
    ) -> Self {
        let call = match &event.kind {
            lanner_common::EventKind::Syscall(call) => Some(call),
            _ => None,
        };
        View {
            event,
            call,
            code,
            num,
            state,
            host,
            process: state.process(event.pid),
            fd: state.event_fd(event.pid),
            environ: OnceCell::new(),
            rendering: Cell::new(false),
            local: OnceCell::new(),
        }
    }

    /// Marks the start (`true`) or end of an alert's rendering. While rendering, a connected
    /// socket's unknown local address is looked up in `/proc/PID/net` (a table scan: fine
    /// once per alert, too much for every `connect` a condition looks at). Conditions see the
    /// address as unknown, as they did before the lookup.
    pub fn set_rendering(&self, rendering: bool) {
        self.rendering.set(rendering);
    }

    /// The socket's local address: the one the events told, or while rendering the one
    /// `/proc` has for the socket if it is still the same connection (a `connect` does not
    /// tell the local end; an accepted socket knows only the listener's, often `0.0.0.0`).
    fn local_addr(&self, socket: &'a SocketFd) -> Option<&SockAddr> {
        let told = socket.local.as_ref();
        if told.is_some_and(|a| inet(a).is_some_and(|(ip, _)| !ip.is_unspecified()))
            || !self.rendering.get()
            || !socket.connected
        {
            return told;
        }
        self.local
            .get_or_init(|| {
                let (num, _) = self.fd?;
                let procfs = self.state.procfs();
                let link = procfs.fd(self.event.pid, num)?;
                let inode = state::socket_inode(&link.target)?;
                let found = procfs.socket(self.event.pid, inode)?;
                // The fd may have been closed and its number reused since the event.
                (found.remote == socket.remote)
                    .then_some(found.local)
                    .flatten()
            })
            .as_ref()
            .or(told)
    }

    fn ancestor(&self, level: u32) -> Option<&'a Process> {
        let mut current = self.process?;
        for _ in 0..level {
            if current.ppid == 0 || current.ppid == current.pid {
                return None;
            }
            current = self.state.process(current.ppid)?;
        }
        Some(current)
    }

    fn attr(p: &'a Process, attr: Attr) -> Value<'a> {
        match attr {
            Attr::Name => text(&p.name),
            Attr::Exe => text(&p.exe),
            Attr::Exepath => text(&p.exepath),
            Attr::Cmdline => text(p.cmdline()),
            Attr::Pid => Value::Num(p.pid.into()),
        }
    }

    fn arg_value(&self, arg: &FieldArg<'_>) -> Value<'a> {
        let Some(call) = self.call else {
            return Value::Missing;
        };
        let found = find_arg(call, arg);
        match (found, *arg) {
            (Some(found), _) => args::value(found),
            // The result, as Falco names it on exit events.
            (None, FieldArg::Key("res" | "fd")) if !call.entry_only => Value::Num(call.ret),
            _ => Value::Missing,
        }
    }

    fn rawarg(&self, arg: &FieldArg<'_>) -> Value<'a> {
        let Some(call) = self.call else {
            return Value::Missing;
        };
        let found = find_arg(call, arg);
        match found.map(|a| &a.value) {
            Some(ArgValue::Int(v)) => Value::Num(*v),
            Some(ArgValue::UInt(v)) => Value::Num(*v as i64),
            Some(ArgValue::Bytes(b) | ArgValue::Truncated(b)) => Value::Str(b),
            _ => Value::Missing,
        }
    }

    /// Open flags of an open-family event, from the event itself (no fd state needed).
    fn open_flags(&self) -> Option<u64> {
        let call = self.call?;
        match state::syscall_ops(call.id).open_flags()? {
            OpenFlags::Param(i) => match call.args.get(usize::from(i)).map(|a| &a.value) {
                Some(ArgValue::UInt(f)) => Some(*f),
                Some(ArgValue::Int(f)) => Some(*f as u64),
                _ => None,
            },
            OpenFlags::Creat => Some((libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64),
        }
    }

    fn is_open_exec(&self) -> bool {
        let Some(flags) = self.open_flags() else {
            return false;
        };
        let mode = self
            .call
            .and_then(|c| c.arg("mode"))
            .and_then(ArgValue::as_int)
            .unwrap_or(0);
        flags & libc::O_CREAT as u64 != 0 && mode & 0o111 != 0
    }

    /// A path argument made absolute, against its dirfd or the working directory.
    fn abspath(&self, which: Option<PathArg>, relative_to: Option<&[u8]>) -> Value<'a> {
        let (Some(call), Some(at)) = (self.call, which) else {
            return Value::Missing;
        };
        let Some(name) = call
            .args
            .get(usize::from(at.path))
            .and_then(|a| a.value.as_bytes())
        else {
            return Value::Missing;
        };
        if name.first() == Some(&b'/') {
            return owned(state::resolve_path(b"/", name));
        }
        if let Some(base) = relative_to {
            return owned(state::resolve_path(base, name));
        }
        let dirfd = at
            .dirfd
            .and_then(|i| call.args.get(usize::from(i)))
            .and_then(|a| a.value.as_int())
            .filter(|&fd| fd != i64::from(libc::AT_FDCWD));
        let process = self.process;
        let base: &[u8] = match dirfd {
            Some(fd) => match process
                .and_then(|p| p.fds.get(i32::try_from(fd).ok()?))
                .map(|fd| &fd.kind)
            {
                Some(FdKind::File(dir)) => &dir.path,
                _ => return Value::Missing,
            },
            None => match process {
                Some(p) if !p.cwd.is_empty() => &p.cwd,
                _ => return Value::Missing,
            },
        };
        owned(state::resolve_path(base, name))
    }

    fn abspaths(&self) -> (Option<PathArg>, Option<PathArg>) {
        match self.call {
            Some(call) => {
                let ops = state::syscall_ops(call.id);
                (ops.src, ops.dst)
            }
            None => (None, None),
        }
    }

    fn socket(&self) -> Option<&'a SocketFd> {
        match &self.fd?.1.kind {
            FdKind::Socket(s) => Some(s),
            _ => None,
        }
    }

    fn fd_name(&self) -> Value<'a> {
        let Some((_, fd)) = self.fd else {
            return Value::Missing;
        };
        match &fd.kind {
            FdKind::File(file) => text(&file.path),
            FdKind::Socket(socket) => socket_name(socket, self.local_addr(socket)),
            _ => fd.other_name().map_or(Value::Missing, text),
        }
    }

    fn file(&self) -> Option<&'a state::FileFd> {
        match &self.fd?.1.kind {
            FdKind::File(f) => Some(f),
            _ => None,
        }
    }

    fn endpoint(&self, f: F) -> Value<'a> {
        let Some(socket) = self.socket() else {
            return Value::Missing;
        };
        let ends = Ends::of(socket, self.local_addr(socket));
        let (end, port) = match f {
            F::FdSip => (ends.server(), false),
            F::FdSport => (ends.server(), true),
            F::FdCip => (ends.client(), false),
            F::FdCport => (ends.client(), true),
            F::FdLip => (ends.local, false),
            F::FdLport => (ends.local, true),
            F::FdRip => (ends.remote, false),
            _ => (ends.remote, true),
        };
        match (end, port) {
            (Some((_, p)), true) => Value::Num(p.into()),
            (Some((ip, _)), false) => Value::Ip(ip),
            (None, _) => Value::Missing,
        }
    }

    fn env(&self, arg: &FieldArg<'_>) -> Value<'a> {
        let environ = self
            .environ
            .get_or_init(|| self.state.procfs().environ(self.event.pid));
        let Some(environ) = environ else {
            return Value::Missing;
        };
        let vars = environ.split(|&b| b == 0).filter(|v| !v.is_empty());
        match arg {
            FieldArg::Key(key) => vars
                .filter_map(|v| v.strip_prefix(key.as_bytes())?.strip_prefix(b"="))
                .next()
                .map_or(Value::Missing, |v| owned(v)),
            _ => owned(vars.collect::<Vec<_>>().join(&b' ')),
        }
    }

    fn exe_metadata(&self) -> Option<std::fs::Metadata> {
        let p = self.process?;
        // Through /proc when the process still runs: it names the file in the process's own
        // mount namespace.
        let via_proc = self.state.procfs().root().join(format!("{}/exe", p.pid));
        std::fs::metadata(via_proc)
            .or_else(|_| std::fs::metadata(OsStr::from_bytes(&p.exepath)))
            .ok()
    }

    fn login_shell(&self) -> Value<'a> {
        let mut found = None;
        let mut current = self.process;
        for _ in 0..=LOGIN_SHELL_LEVELS {
            let Some(p) = current else { break };
            if SHELLS.contains(&p.name.as_slice()) {
                found = Some(p.pid);
            }
            if p.ppid == 0 || p.ppid == p.pid {
                break;
            }
            current = self.state.process(p.ppid);
        }
        num(found)
    }
}

/// `fd.name` of a socket: the path of a unix socket, `client->server` of a connection
/// (Falco's order), the local address of a bound socket.
fn socket_name(socket: &SocketFd, local: Option<&SockAddr>) -> Value<'static> {
    let unix = socket
        .remote
        .as_ref()
        .or(socket.local.as_ref())
        .and_then(|a| match a {
            SockAddr::Unix { path, .. } => Some(path.clone()),
            _ => None,
        });
    if let Some(path) = unix {
        return owned(path);
    }
    let ends = Ends::of(socket, local);
    match (ends.local, ends.remote) {
        (local, Some(remote)) => {
            let local = local.unwrap_or((unspecified(remote.0), 0));
            let (client, server) = if ends.server {
                (remote, local)
            } else {
                (local, remote)
            };
            owned(format!(
                "{}:{}->{}:{}",
                client.0, client.1, server.0, server.1
            ))
        }
        (Some(local), None) => owned(format!("{}:{}", local.0, local.1)),
        (None, None) => Value::Missing,
    }
}

fn ns_of(secs: i64, nanos: i64) -> i64 {
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

impl FieldSource for View<'_> {
    fn get(&self, field: FieldId, arg: &FieldArg<'_>) -> Value<'_> {
        let ev = self.event;
        let process = self.process;
        let f = table().get(field.index()).copied().unwrap_or(F::Unserved);
        match f {
            // ---- event ----
            F::EvtType => text(self.code.name().as_bytes()),
            F::EvtNum => Value::Num(self.num as i64),
            F::EvtTime => {
                // Falco's evt.time is the time of day with nanoseconds.
                let time = self.host.clock.rfc3339(ev.ts);
                let clock = time.get(11..time.len().saturating_sub(1)).unwrap_or(&time);
                owned(clock)
            }
            F::EvtRawtime => Value::Num(self.host.clock.unix_ns(ev.ts) as i64),
            F::EvtDir => text(b"<"),
            F::EvtRes => match self.call {
                Some(call) if !call.entry_only => match call.errno() {
                    Some(e) => text(errno::name(e).unwrap_or("EUNKNOWN").as_bytes()),
                    None => text(b"SUCCESS"),
                },
                _ => Value::Missing,
            },
            F::EvtRawres => num(self.call.filter(|c| !c.entry_only).map(|c| c.ret)),
            F::EvtFailed => flag(self.call.map(|c| c.errno().is_some())),
            F::EvtIsOpenRead => Value::Bool(self.open_flags().is_some_and(|f| {
                let mode = f & libc::O_ACCMODE as u64;
                mode == libc::O_RDONLY as u64 || mode == libc::O_RDWR as u64
            })),
            F::EvtIsOpenWrite => Value::Bool(self.open_flags().is_some_and(|f| {
                let mode = f & libc::O_ACCMODE as u64;
                mode == libc::O_WRONLY as u64 || mode == libc::O_RDWR as u64
            })),
            F::EvtIsOpenExec => Value::Bool(self.is_open_exec()),
            F::EvtArgs => self
                .call
                .map_or(Value::Missing, |c| owned(args::all(&c.args))),
            F::EvtArg => self.arg_value(arg),
            F::EvtRawarg => self.rawarg(arg),
            F::EvtHostname => text(self.host.hostname.as_bytes()),
            // Neither driver reports the CPU.
            F::EvtCpu => Value::Missing,
            F::EvtAbspath => {
                let (src, dst) = self.abspaths();
                self.abspath(dst.or(src), None)
            }
            F::EvtAbspathSrc => {
                let (src, dst) = self.abspaths();
                match (self.call.map(|c| c.id.name()), dst) {
                    // A symlink's target is relative to the link's directory.
                    (Some("symlink" | "symlinkat"), Some(_)) => {
                        match self.abspath(dst, None).as_bytes() {
                            Some(link) => {
                                let dir = state::dirname(link).to_vec();
                                self.abspath(src, Some(&dir))
                            }
                            None => Value::Missing,
                        }
                    }
                    (_, Some(_)) => self.abspath(src, None),
                    _ => Value::Missing,
                }
            }
            F::EvtAbspathDst => {
                let (_, dst) = self.abspaths();
                self.abspath(dst, None)
            }
            F::EvtAbi => self
                .call
                .map_or(Value::Missing, |c| text(c.abi.name().as_bytes())),
            // ---- process ----
            F::ProcPid => Value::Num(ev.pid.into()),
            F::ThreadTid => Value::Num(ev.tid.into()),
            F::ProcPpid => num(process.map(|p| p.ppid)),
            F::ProcVpid => num(process.map(|p| p.vpid).filter(|&v| v != 0)),
            F::Own(attr) => process.map_or(Value::Missing, |p| Self::attr(p, attr)),
            F::Parent(attr) => self
                .ancestor(1)
                .map_or(Value::Missing, |p| Self::attr(p, attr)),
            F::Ancestor(attr) => {
                let level = match arg {
                    FieldArg::Index(i) => *i,
                    _ => 1,
                };
                self.ancestor(level)
                    .map_or(Value::Missing, |p| Self::attr(p, attr))
            }
            F::ProcArgs => process.map_or(Value::Missing, |p| text(p.args_line())),
            F::ProcExeline => process.map_or(Value::Missing, |p| {
                let mut line = p.exe.clone();
                for a in &p.args {
                    line.push(b' ');
                    line.extend_from_slice(a);
                }
                owned(line)
            }),
            F::ProcCwd => process
                .filter(|p| !p.cwd.is_empty())
                .map_or(Value::Missing, |p| text(&p.cwd)),
            F::ProcTty => num(process.map(|p| p.tty)),
            F::ProcSid => num(process.map(|p| p.sid)),
            F::ProcSname => process
                .and_then(|p| self.state.process(p.sid))
                .map_or(Value::Missing, |s| text(&s.name)),
            F::ProcVpgid => num(process.map(|p| p.pgid).filter(|&g| g != 0)),
            F::ProcDuration => num(process
                .filter(|p| p.start_ts != 0)
                .map(|p| ev.ts.saturating_sub(p.start_ts) as i64)),
            F::ProcLoginshellid => self.login_shell(),
            F::ProcIsExeFromMemfd => flag(
                process
                    .map(|p| p.exepath.starts_with(b"/memfd:") || p.exepath.starts_with(b"memfd:")),
            ),
            F::ProcIsExeUpperLayer => flag(process.map(|p| p.exe_written)),
            F::ProcExeIno => num(self.exe_metadata().map(|m| m.ino() as i64)),
            F::ProcExeInoCtime => num(self
                .exe_metadata()
                .map(|m| ns_of(m.ctime(), m.ctime_nsec()))),
            F::ProcExeInoMtime => num(self
                .exe_metadata()
                .map(|m| ns_of(m.mtime(), m.mtime_nsec()))),
            F::ProcExeInoCtimeDurationProcStart => {
                let start = process
                    .filter(|p| p.start_ts != 0)
                    .map(|p| self.host.clock.unix_ns(p.start_ts) as i64);
                let ctime = self
                    .exe_metadata()
                    .map(|m| ns_of(m.ctime(), m.ctime_nsec()));
                match (start, ctime) {
                    (Some(start), Some(ctime)) => Value::Num(start.saturating_sub(ctime)),
                    _ => Value::Missing,
                }
            }
            F::ProcEnv => self.env(arg),
            F::CapEffective => {
                process.map_or(Value::Missing, |p| owned(caps::names(p.caps.effective)))
            }
            F::CapPermitted => {
                process.map_or(Value::Missing, |p| owned(caps::names(p.caps.permitted)))
            }
            F::CapInheritable => {
                process.map_or(Value::Missing, |p| owned(caps::names(p.caps.inheritable)))
            }
            // ---- user / group ----
            F::UserUid => num(process.map(|p| p.uids.effective)),
            F::UserName => process
                .and_then(|p| self.host.users.user(p.uids.effective))
                .map_or(Value::Missing, |u| text(&u.name)),
            F::UserLoginuid => num(process.map(|p| p.loginuid)),
            F::UserLoginname => process
                .and_then(|p| u32::try_from(p.loginuid).ok())
                .and_then(|uid| self.host.users.user(uid))
                .map_or(Value::Missing, |u| text(&u.name)),
            F::UserHomedir => process
                .and_then(|p| self.host.users.user(p.uids.effective))
                .map_or(Value::Missing, |u| text(&u.home)),
            F::UserShell => process
                .and_then(|p| self.host.users.user(p.uids.effective))
                .map_or(Value::Missing, |u| text(&u.shell)),
            F::GroupGid => num(process.map(|p| p.gids.effective)),
            F::GroupName => process
                .and_then(|p| self.host.users.group(p.gids.effective))
                .map_or(Value::Missing, text),
            // ---- fd ----
            F::FdNum => num(self.fd.map(|(n, _)| n).or(self.state.event_fd_num())),
            F::FdName => self.fd_name(),
            F::FdNameraw => match self.file() {
                Some(file) => text(file.raw.as_deref().unwrap_or(&file.path)),
                None => self.fd_name(),
            },
            F::FdDirectory => self
                .file()
                .map_or(Value::Missing, |f| text(state::dirname(&f.path))),
            F::FdFilename => self
                .file()
                .map_or(Value::Missing, |f| text(state::basename(&f.path))),
            F::FdType => self
                .fd
                .map_or(Value::Missing, |(_, fd)| text(fd.type_names().0.as_bytes())),
            F::FdTypechar => self
                .fd
                .map_or(Value::Missing, |(_, fd)| text(fd.type_names().1.as_bytes())),
            F::FdL4proto => match self.socket() {
                Some(s) if s.domain == libc::AF_INET || s.domain == libc::AF_INET6 => {
                    match (s.ty, s.proto) {
                        (_, libc::IPPROTO_ICMP | libc::IPPROTO_ICMPV6) => text(b"icmp"),
                        (libc::SOCK_STREAM, _) => text(b"tcp"),
                        (libc::SOCK_DGRAM, _) => text(b"udp"),
                        (libc::SOCK_RAW, _) => text(b"raw"),
                        _ => Value::Missing,
                    }
                }
                _ => Value::Missing,
            },
            F::FdSockfamily => match self.socket().map(|s| s.domain) {
                Some(libc::AF_INET | libc::AF_INET6) => text(b"ip"),
                Some(libc::AF_UNIX) => text(b"unix"),
                _ => Value::Missing,
            },
            F::FdSip
            | F::FdCip
            | F::FdLip
            | F::FdRip
            | F::FdSport
            | F::FdCport
            | F::FdLport
            | F::FdRport => self.endpoint(f),
            F::FdConnected => match self.fd {
                Some(_) => Value::Bool(self.socket().is_some_and(|s| s.connected)),
                None => Value::Missing,
            },
            F::FdNameChanged => Value::Bool(self.state.name_changed()),
            F::FdIsServer => match self.fd {
                Some(_) => Value::Bool(self.socket().is_some_and(|s| s.server)),
                None => Value::Missing,
            },
            // ---- container ----
            // The container the agent was told of is every process's: /proc may hide it.
            F::ContainerId if self.host.workload.is_some() => {
                self.workload_text(|w| Some(w.short_id()))
            }
            F::ContainerName if self.host.workload.is_some() => {
                self.workload_text(|w| Some(&w.name))
            }
            F::ContainerType if self.host.workload.is_some() => {
                self.workload_text(|w| Some(w.runtime))
            }
            F::ContainerImage => self.workload_text(|w| Some(&w.image)),
            F::ContainerImageRepository => self.workload_text(|w| Some(w.repository())),
            F::ContainerImageTag => self.workload_text(WorkloadContainer::tag),
            F::ContainerImageId => self.workload_text(|w| w.image_id.as_deref()),
            F::ContainerId => process.map_or(Value::Missing, |p| text(p.container_id().as_bytes())),
            F::ContainerName => match process {
                Some(p) if p.container.is_none() => text(b"host"),
                _ => Value::Missing,
            },
            F::ContainerType => match process.map(|p| &p.container) {
                Some(None) => text(b"host"),
                Some(Some(c)) => c.runtime.map_or(Value::Missing, |r| text(r.as_bytes())),
                None => Value::Missing,
            },
            F::ContainerUnknown | F::Unserved => Value::Missing,
        }
    }
}

/// The argument `evt.arg.NAME` or `evt.arg[N]` names.
fn find_arg<'c>(call: &'c SyscallEvent, arg: &FieldArg<'_>) -> Option<&'c Arg> {
    match *arg {
        FieldArg::Key(name) => call.args.iter().find(|a| a.name == name),
        FieldArg::Index(i) => call.args.get(i as usize),
        FieldArg::None => None,
    }
}
