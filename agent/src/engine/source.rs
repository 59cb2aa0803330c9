//! Field values for one event: the [`FieldSource`] the rules are evaluated against, over the
//! event itself and the process/fd state.

use std::net::IpAddr;

use lanner_common::decode::errno;
use lanner_common::decode::sockaddr::SockAddr;
use lanner_common::event::{ArgValue, SyscallEvent};
use lanner_common::json::ArgJson;
use lanner_common::spec::{self, SpecFlags};
use lanner_common::time::WallClock;
use lanner_common::{Event, EventKind};
use lanner_rules::{EventCode, FieldArg, FieldId, FieldSource, Value};

use super::caps;
use super::state::{inet, FdKind, Process, State};
use super::users::Users;

/// One event seen through the state.
pub struct View<'a> {
    pub event: &'a Event,
    /// The event's sequence number, from 1 (Falco's `never_true` macro is `evt.num=0`).
    pub num: u64,
    pub code: EventCode,
    pub state: &'a State,
    pub users: &'a Users,
    pub hostname: &'a [u8],
    pub clock: &'a WallClock,
}

fn text(bytes: &[u8]) -> Value<'_> {
    Value::Str(bytes)
}

fn owned(s: impl Into<Vec<u8>>) -> Value<'static> {
    Value::Owned(s.into())
}

impl<'a> View<'a> {
    fn syscall(&self) -> Option<&'a SyscallEvent> {
        match &self.event.kind {
            EventKind::Syscall(call) => Some(call),
            _ => None,
        }
    }

    fn process(&self) -> Option<&'a Process> {
        self.state.known(self.event.pid)
    }

    fn ancestor(&self, level: u32) -> Option<&'a Process> {
        let mut current = self.process()?;
        for _ in 0..level {
            if current.ppid == 0 || current.ppid == current.pid {
                return None;
            }
            current = self.state.known(current.ppid)?;
        }
        Some(current)
    }

    /// The fd this event is about: the one it created, or the one it used.
    fn fd_num(&self) -> Option<i32> {
        let call = self.syscall()?;
        let flags = spec::lookup(call.id)?.flags;
        if flags.contains(SpecFlags::CREATES_FD) && call.ret >= 0 {
            return i32::try_from(call.ret).ok();
        }
        if flags.contains(SpecFlags::USES_FD) || flags.contains(SpecFlags::CLOSES_FD) {
            return call
                .arg("fd")
                .or_else(|| call.arg("oldfd"))
                .and_then(ArgValue::as_int)
                .and_then(|v| i32::try_from(v).ok());
        }
        None
    }

    fn fd(&self) -> Option<&'a FdKind> {
        let num = self.fd_num()?;
        self.process()?.fds.get(&num)
    }

    fn arg_value(&self, arg: &FieldArg<'_>) -> Value<'a> {
        let Some(call) = self.syscall() else {
            return Value::Missing;
        };
        let found = match *arg {
            FieldArg::Key(name) => call.args.iter().find(|a| a.name == name),
            FieldArg::Index(i) => call.args.get(i as usize),
            FieldArg::None => None,
        };
        let Some(found) = found else {
            // `evt.arg.res` / `evt.arg.fd` of the result, as Falco names it on exit events.
            return match *arg {
                FieldArg::Key("res") | FieldArg::Key("fd") => Value::Num(call.ret),
                _ => Value::Missing,
            };
        };
        match &found.value {
            ArgValue::Bytes(b) | ArgValue::Truncated(b) => Value::Str(b),
            _ => match serde_json::to_value(ArgJson(found)) {
                Ok(serde_json::Value::String(s)) => owned(s),
                Ok(serde_json::Value::Null) => Value::Missing,
                Ok(other) => owned(other.to_string()),
                Err(_) => Value::Missing,
            },
        }
    }

    fn socket_ends(&self) -> Option<SocketEnds> {
        match self.fd()? {
            FdKind::Socket {
                local,
                remote,
                server,
                ty,
                domain,
            } => Some(SocketEnds {
                local: local.as_ref().and_then(inet),
                remote: remote.as_ref().and_then(inet),
                server: *server,
                ty: *ty,
                domain: *domain,
                unix: remote.as_ref().or(local.as_ref()).and_then(|a| match a {
                    SockAddr::Unix { path, .. } => Some(path.clone()),
                    _ => None,
                }),
            }),
            _ => None,
        }
    }

    fn fd_name(&self) -> Value<'a> {
        match self.fd() {
            Some(FdKind::File { path, .. }) => Value::Str(path),
            Some(FdKind::Socket { .. }) => match self.socket_ends() {
                Some(ends) => match (ends.unix, ends.local, ends.remote) {
                    (Some(path), _, _) => owned(path),
                    (None, local, Some(remote)) => {
                        let (lip, lport) = local.unwrap_or((unspecified(&remote.0), 0));
                        // Falco writes client->server.
                        let (client, server) = if ends.server {
                            (remote, (lip, lport))
                        } else {
                            ((lip, lport), remote)
                        };
                        owned(format!(
                            "{}:{}->{}:{}",
                            client.0, client.1, server.0, server.1
                        ))
                    }
                    (None, Some(local), None) => owned(format!("{}:{}", local.0, local.1)),
                    _ => Value::Missing,
                },
                None => Value::Missing,
            },
            Some(FdKind::Pipe) => owned("pipe"),
            Some(FdKind::Other(name)) => owned(*name),
            None => Value::Missing,
        }
    }

    fn fd_type(&self) -> Option<(&'static str, &'static str)> {
        Some(match self.fd()? {
            FdKind::File { .. } => ("file", "f"),
            FdKind::Pipe => ("pipe", "p"),
            FdKind::Other(_) => ("unknown", "o"),
            FdKind::Socket { domain, .. } => match *domain as i32 {
                libc::AF_INET => ("ipv4", "4"),
                libc::AF_INET6 => ("ipv6", "6"),
                libc::AF_UNIX => ("unix", "u"),
                libc::AF_NETLINK => ("netlink", "n"),
                _ => ("socket", "s"),
            },
        })
    }

    fn open_flags(&self) -> Option<u64> {
        let call = self.syscall()?;
        if !matches!(call.id.name(), "open" | "openat" | "openat2" | "creat") || call.ret < 0 {
            return None;
        }
        match self.fd()? {
            FdKind::File { flags, .. } => Some(*flags),
            _ => None,
        }
    }
}

struct SocketEnds {
    local: Option<(IpAddr, u16)>,
    remote: Option<(IpAddr, u16)>,
    server: bool,
    ty: i64,
    domain: i64,
    unix: Option<Vec<u8>>,
}

fn unspecified(like: &IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    }
}

fn num<T: Into<i64>>(v: Option<T>) -> Value<'static> {
    v.map_or(Value::Missing, |v| Value::Num(v.into()))
}

impl FieldSource for View<'_> {
    fn get(&self, field: FieldId, arg: &FieldArg<'_>) -> Value<'_> {
        let ev = self.event;
        let process = self.process();
        match field.name() {
            // ---- event ----
            "evt.type" => text(self.code.name().as_bytes()),
            "evt.num" => Value::Num(self.num as i64),
            "evt.time" => owned(self.clock.rfc3339(ev.ts)),
            "evt.rawtime" => Value::Num(self.clock.unix_ns(ev.ts) as i64),
            "evt.dir" => text(b"<"),
            "evt.res" => match self.syscall() {
                Some(call) => match call.errno() {
                    Some(e) => text(errno::name(e).unwrap_or("EUNKNOWN").as_bytes()),
                    None => text(b"SUCCESS"),
                },
                None => Value::Missing,
            },
            "evt.rawres" => num(self.syscall().map(|c| c.ret)),
            "evt.failed" => Value::Bool(self.syscall().is_some_and(|c| c.errno().is_some())),
            "evt.is_open_read" => match self.open_flags() {
                Some(f) => {
                    Value::Bool(f & 3 == libc::O_RDONLY as u64 || f & 3 == libc::O_RDWR as u64)
                }
                None => Value::Bool(false),
            },
            "evt.is_open_write" => match self.open_flags() {
                Some(f) => {
                    Value::Bool(f & 3 == libc::O_WRONLY as u64 || f & 3 == libc::O_RDWR as u64)
                }
                None => Value::Bool(false),
            },
            "evt.is_open_exec" => Value::Bool(false),
            "evt.arg" => self.arg_value(arg),
            "evt.rawarg" => match (self.syscall(), arg) {
                (Some(call), FieldArg::Key(name)) => num(call.arg(name).and_then(ArgValue::as_int)),
                (Some(call), FieldArg::Index(i)) => {
                    num(call.args.get(*i as usize).and_then(|a| a.value.as_int()))
                }
                _ => Value::Missing,
            },
            "evt.args" => match self.syscall() {
                Some(call) => owned(
                    call.args
                        .iter()
                        .map(|a| match serde_json::to_value(ArgJson(a)) {
                            Ok(serde_json::Value::String(s)) => format!("{}={s}", a.name),
                            Ok(v) => format!("{}={v}", a.name),
                            Err(_) => format!("{}=?", a.name),
                        })
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                None => Value::Missing,
            },
            "evt.hostname" => text(self.hostname),
            "evt.cpu" => Value::Num(0),
            "evt.abi" => self
                .syscall()
                .map_or(Value::Missing, |c| text(c.abi.name().as_bytes())),
            // ---- process ----
            "proc.pid" => Value::Num(ev.pid.into()),
            "proc.vpid" => Value::Num(ev.pid.into()),
            "thread.tid" | "thread.vtid" => Value::Num(ev.tid.into()),
            "proc.ppid" => num(process.map(|p| p.ppid)),
            "proc.name" => process.map_or(Value::Missing, |p| text(&p.name)),
            "proc.exe" => process.map_or(Value::Missing, |p| text(&p.exe)),
            "proc.exepath" => process.map_or(Value::Missing, |p| text(&p.exepath)),
            "proc.cmdline" => process.map_or(Value::Missing, |p| text(p.cmdline())),
            "proc.args" => process.map_or(Value::Missing, |p| text(p.args_line())),
            "proc.exeline" => process.map_or(Value::Missing, |p| {
                let mut line = p.exe.clone();
                for a in &p.args {
                    line.push(b' ');
                    line.extend_from_slice(a);
                }
                owned(line)
            }),
            "proc.cwd" => process.map_or(Value::Missing, |p| {
                let mut cwd = p.cwd.clone();
                if cwd.last() != Some(&b'/') {
                    cwd.push(b'/');
                }
                owned(cwd)
            }),
            "proc.tty" => num(process.map(|p| p.tty)),
            "proc.sid" => num(process.map(|p| p.sid)),
            "proc.sname" => process
                .and_then(|p| self.state.known(p.sid))
                .map_or(Value::Missing, |s| text(&s.name)),
            "proc.vpgid" => Value::Missing,
            "proc.duration" => process
                .filter(|p| p.start_ts != 0)
                .map_or(Value::Missing, |p| {
                    Value::Num(ev.ts.saturating_sub(p.start_ts) as i64)
                }),
            "proc.loginshellid" => Value::Missing,
            "proc.is_exe_from_memfd" => {
                Value::Bool(process.is_some_and(|p| p.exepath.starts_with(b"/memfd:")))
            }
            "proc.env" => Value::Missing,
            "proc.pname" => self.ancestor(1).map_or(Value::Missing, |p| text(&p.name)),
            "proc.pexe" => self.ancestor(1).map_or(Value::Missing, |p| text(&p.exe)),
            "proc.pexepath" => self
                .ancestor(1)
                .map_or(Value::Missing, |p| text(&p.exepath)),
            "proc.pcmdline" => self
                .ancestor(1)
                .map_or(Value::Missing, |p| text(p.cmdline())),
            "proc.aname" | "proc.aexe" | "proc.aexepath" | "proc.acmdline" | "proc.apid" => {
                let level = match arg {
                    FieldArg::Index(i) => *i,
                    _ => 1,
                };
                match self.ancestor(level) {
                    Some(a) => match field.name() {
                        "proc.aname" => text(&a.name),
                        "proc.aexe" => text(&a.exe),
                        "proc.aexepath" => text(&a.exepath),
                        "proc.acmdline" => text(a.cmdline()),
                        _ => Value::Num(a.pid.into()),
                    },
                    None => Value::Missing,
                }
            }
            "thread.cap_effective" => {
                process.map_or(Value::Missing, |p| owned(caps::names(p.cap_effective)))
            }
            "thread.cap_permitted" | "thread.cap_inheritable" => Value::Missing,
            // ---- user / group ----
            "user.uid" => num(process.map(|p| p.uid)),
            "user.name" => process
                .and_then(|p| self.users.user(p.uid))
                .map_or(Value::Missing, |u| text(&u.name)),
            "user.loginuid" => num(process.map(|p| p.loginuid)),
            "user.loginname" => process
                .and_then(|p| u32::try_from(p.loginuid).ok())
                .and_then(|uid| self.users.user(uid))
                .map_or(Value::Missing, |u| text(&u.name)),
            "user.homedir" => process
                .and_then(|p| self.users.user(p.uid))
                .map_or(Value::Missing, |u| text(&u.home)),
            "user.shell" => process
                .and_then(|p| self.users.user(p.uid))
                .map_or(Value::Missing, |u| text(&u.shell)),
            "group.gid" => num(process.map(|p| p.gid)),
            "group.name" => process
                .and_then(|p| self.users.group(p.gid))
                .map_or(Value::Missing, text),
            // ---- fd ----
            "fd.num" => num(self.fd_num()),
            "fd.name" | "fd.nameraw" => self.fd_name(),
            "fd.directory" => match self.fd() {
                Some(FdKind::File { path, .. }) => {
                    let cut = path.iter().rposition(|&b| b == b'/').unwrap_or(0);
                    text(if cut == 0 { b"/" } else { &path[..cut] })
                }
                _ => Value::Missing,
            },
            "fd.filename" => match self.fd() {
                Some(FdKind::File { path, .. }) => {
                    text(path.rsplit(|&b| b == b'/').next().unwrap_or(path))
                }
                _ => Value::Missing,
            },
            "fd.type" => self
                .fd_type()
                .map_or(Value::Missing, |t| text(t.0.as_bytes())),
            "fd.typechar" => self
                .fd_type()
                .map_or(Value::Missing, |t| text(t.1.as_bytes())),
            "fd.l4proto" => match self.socket_ends() {
                Some(ends)
                    if ends.domain == i64::from(libc::AF_INET)
                        || ends.domain == i64::from(libc::AF_INET6) =>
                {
                    owned(match ends.ty as i32 {
                        libc::SOCK_STREAM => "tcp",
                        libc::SOCK_DGRAM => "udp",
                        libc::SOCK_RAW => "raw",
                        _ => "unknown",
                    })
                }
                _ => Value::Missing,
            },
            "fd.sockfamily" => match self.socket_ends() {
                Some(e) if e.domain == i64::from(libc::AF_UNIX) => text(b"unix"),
                Some(_) => text(b"ip"),
                None => Value::Missing,
            },
            "fd.sip" | "fd.sport" | "fd.cip" | "fd.cport" | "fd.lip" | "fd.lport" | "fd.rip"
            | "fd.rport" => {
                let Some(ends) = self.socket_ends() else {
                    return Value::Missing;
                };
                let (server, client) = if ends.server {
                    (ends.local, ends.remote)
                } else {
                    (ends.remote, ends.local)
                };
                let end = match field.name() {
                    "fd.sip" | "fd.sport" => server,
                    "fd.cip" | "fd.cport" => client,
                    "fd.lip" | "fd.lport" => ends.local,
                    _ => ends.remote,
                };
                match (end, field.name().ends_with("port")) {
                    (Some((_, port)), true) => Value::Num(port.into()),
                    (Some((ip, _)), false) => Value::Ip(ip),
                    (None, _) => Value::Missing,
                }
            }
            "fd.connected" => Value::Bool(self.socket_ends().is_some_and(|e| e.remote.is_some())),
            "fd.name_changed" => Value::Bool(false),
            "fd.is_server" => Value::Bool(self.socket_ends().is_some_and(|e| e.server)),
            // ---- container ----
            "container.id" => process.map_or(Value::Missing, |p| {
                owned(p.container_id.as_deref().unwrap_or("host"))
            }),
            "container.name" => process.map_or(Value::Missing, |p| {
                owned(if p.container_id.is_some() {
                    "<NA>"
                } else {
                    "host"
                })
            }),
            "container.privileged" => Value::Bool(false),
            "container.info" => text(b""),
            // container.image* and the rest need a runtime's API: unknown, as Falco prints it.
            _ => text(b"<NA>"),
        }
    }
}
