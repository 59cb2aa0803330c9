//! Events as JSON lines: the `--events-out` format. One object per event; arguments shown the
//! way people read them (flag names, `AT_FDCWD`, `ENOENT`, addresses as `ip:port`).

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::decode::{consts, errno, flags, mode, signal};
use crate::event::{Arg, ArgValue, Event, EventKind, ExitStatus, ForkKind};
use crate::spec::ParamType;
use crate::time::WallClock;

/// An event paired with the clock that dates it; serialize this.
pub struct EventJson<'a> {
    /// The event.
    pub event: &'a Event,
    /// Boot-to-wall offset for `time`.
    pub clock: &'a WallClock,
}

/// Bytes from the tracee, shown as UTF-8 (invalid sequences replaced).
struct Text<'a>(&'a [u8]);

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from_utf8_lossy(self.0))
    }
}

struct TextList<'a>(&'a [Vec<u8>]);

impl Serialize for TextList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&Text(item))?;
        }
        seq.end()
    }
}

struct Args<'a>(&'a [Arg]);

impl Serialize for Args<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for arg in self.0 {
            map.serialize_entry(arg.name, &Value(arg))?;
        }
        map.end()
    }
}

struct Value<'a>(&'a Arg);

/// One argument, serialized the way events show it (flag names, `AT_FDCWD`, `ip:port`): what
/// rules see as `evt.arg.NAME`.
pub struct ArgJson<'a>(pub &'a Arg);

impl Serialize for ArgJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Value(self.0).serialize(s)
    }
}

struct Unreadable {
    addr: u64,
    errno: i32,
}

impl Serialize for Unreadable {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("unreadable", &format!("{:#x}", self.addr))?;
        map.serialize_entry("errno", errno::name(self.errno).unwrap_or("?"))?;
        map.end()
    }
}

struct Truncated<'a>(&'a [u8]);

impl Serialize for Truncated<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry("truncated", &Text(self.0))?;
        map.end()
    }
}

impl Serialize for Value<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Arg { ty, value, .. } = self.0;
        match value {
            ArgValue::Bytes(b) => Text(b).serialize(s),
            ArgValue::Truncated(b) => Truncated(b).serialize(s),
            ArgValue::SockAddr(addr) => s.collect_str(addr),
            ArgValue::FdPair(fds) => fds.serialize(s),
            ArgValue::Argv(list) => TextList(list).serialize(s),
            ArgValue::Null => s.serialize_none(),
            ArgValue::Unreadable { addr, errno } => Unreadable {
                addr: *addr,
                errno: *errno,
            }
            .serialize(s),
            ArgValue::Int(v) => match ty {
                Some(ParamType::DirFd) if *v == i64::from(libc::AT_FDCWD) => {
                    s.serialize_str("AT_FDCWD")
                }
                Some(ParamType::Signal) => s.serialize_str(&signal::name(*v as i32)),
                Some(ParamType::Const(kind)) => match consts::name(*kind, *v) {
                    Some(name) => s.serialize_str(name),
                    None => s.serialize_i64(*v),
                },
                _ => s.serialize_i64(*v),
            },
            ArgValue::UInt(v) => match ty {
                Some(ParamType::Flags(kind)) => s.serialize_str(&flags::format(*kind, *v)),
                Some(ParamType::Mode) => s.serialize_str(&mode::format(*v as u32)),
                Some(ParamType::Ptr) | None => s.collect_str(&format_args!("{v:#x}")),
                _ => s.serialize_u64(*v),
            },
        }
    }
}

impl Serialize for EventJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ev = self.event;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("time", &self.clock.rfc3339(ev.ts))?;
        map.serialize_entry("ts", &ev.ts)?;
        map.serialize_entry("pid", &ev.pid)?;
        map.serialize_entry("tid", &ev.tid)?;
        match &ev.kind {
            EventKind::Syscall(sc) => {
                map.serialize_entry("type", "syscall")?;
                map.serialize_entry("syscall", sc.id.name())?;
                map.serialize_entry("abi", sc.abi.name())?;
                map.serialize_entry("args", &Args(&sc.args))?;
                if sc.entry_only {
                    map.serialize_entry("ret", &())?;
                    map.serialize_entry("entry_only", &true)?;
                } else {
                    map.serialize_entry("ret", &sc.ret)?;
                }
                if sc.stale_fds != 0 {
                    map.serialize_entry("stale_fds", &sc.stale_fds)?;
                }
                if let Some(e) = sc.errno() {
                    map.serialize_entry("errno", errno::name(e).unwrap_or("?"))?;
                }
            }
            EventKind::Fork(fork) => {
                map.serialize_entry("type", "fork")?;
                map.serialize_entry("child_pid", &fork.child_pid)?;
                map.serialize_entry("child_tid", &fork.child_tid)?;
                let kind = match fork.kind {
                    ForkKind::Fork => "fork",
                    ForkKind::Vfork => "vfork",
                    ForkKind::Clone => "clone",
                };
                map.serialize_entry("clone_kind", kind)?;
                map.serialize_entry("thread", &fork.thread)?;
            }
            EventKind::Exec(exec) => {
                map.serialize_entry("type", "exec")?;
                map.serialize_entry("filename", &Text(&exec.filename))?;
                map.serialize_entry("argv", &TextList(&exec.argv))?;
                if let Some(exe) = &exec.exe {
                    map.serialize_entry("exe", &Text(exe))?;
                }
                if let Some(tid) = exec.former_tid {
                    map.serialize_entry("former_tid", &tid)?;
                }
                if let Some(creds) = &exec.creds {
                    map.serialize_entry("uids", &creds.uids)?;
                    map.serialize_entry("gids", &creds.gids)?;
                    map.serialize_entry("caps", &creds.caps)?;
                }
                if let Some(cgroup) = &exec.cgroup {
                    map.serialize_entry("cgroup", cgroup)?;
                }
            }
            EventKind::Exit(exit) => {
                map.serialize_entry("type", "exit")?;
                match exit.status {
                    ExitStatus::Code(code) => map.serialize_entry("code", &code)?,
                    ExitStatus::Signal { signo, core } => {
                        map.serialize_entry("signal", &signal::name(signo))?;
                        map.serialize_entry("core", &core)?;
                    }
                }
            }
            EventKind::Drop(drop) => {
                map.serialize_entry("type", "drop")?;
                map.serialize_entry("count", &drop.count)?;
                map.serialize_entry("reason", drop.reason)?;
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Captured, RawSyscall};
    use crate::syscalls::{Abi, SyscallId};

    #[test]
    fn openat_as_json() {
        let mut mem: [Captured; 6] = Default::default();
        mem[1] = Captured::Bytes(b"/etc/hostname".to_vec());
        let sc = RawSyscall {
            id: SyscallId::from_name("openat"),
            abi: Some(Abi::X86_64),
            args: [(-100i64) as u64, 0x1000, 0, 0, 0, 0],
            ret: -2,
            mem,
            ..Default::default()
        }
        .decode()
        .expect("decodes");
        let event = Event {
            ts: 5,
            pid: 10,
            tid: 11,
            kind: EventKind::Syscall(sc),
        };
        let clock = WallClock::new();
        let v: serde_json::Value = serde_json::to_value(EventJson {
            event: &event,
            clock: &clock,
        })
        .expect("serializes");
        assert_eq!(v["type"], "syscall");
        assert_eq!(v["syscall"], "openat");
        assert_eq!(v["args"]["dirfd"], "AT_FDCWD");
        assert_eq!(v["args"]["name"], "/etc/hostname");
        assert_eq!(v["ret"], -2);
        assert_eq!(v["errno"], "ENOENT");
        assert_eq!(v["pid"], 10);
        assert!(v["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    }

    #[test]
    fn unreadable_as_json() {
        let arg = Arg {
            name: "name",
            ty: Some(ParamType::Path),
            value: ArgValue::Unreadable {
                addr: 1,
                errno: libc::EFAULT,
            },
        };
        let v = serde_json::to_value(Value(&arg)).expect("serializes");
        assert_eq!(v["unreadable"], "0x1");
        assert_eq!(v["errno"], "EFAULT");
    }
}
