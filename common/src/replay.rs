//! Recorded events played back: the reader for the JSON lines `--events-out` writes (see
//! [`crate::json`]) and [`ReplayDriver`], a [`Driver`] that yields them. Rules and state can
//! then be tested, and the engine measured, with no kernel and no tracee.
//!
//! The JSON shows arguments the way people read them (flag names, `AT_FDCWD`, `ip:port`);
//! the reader turns them back into the values the drivers decode, by the same spec table.
//! What the JSON does not keep is not recovered: bytes that were not UTF-8 come back as
//! U+FFFD, IPv6 scope ids as 0, a drop's reason as [`REPLAYED_DROP`], and an enumerated
//! `int` argument whose register had upper bits set (which the kernel ignores) as its name's
//! value.

use std::collections::VecDeque;
use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::decode::sockaddr::SockAddr;
use crate::decode::{consts, errno, flags, mode, signal};
use crate::driver::{Driver, DriverError, DriverStats, Next, Started, Target};
use crate::event::{
    Arg, ArgValue, Creds, DropEvent, Event, EventKind, ExecEvent, ExitEvent, ExitStatus, ForkEvent,
    ForkKind, SyscallEvent, RAW_NAMES,
};
use crate::set::SyscallSet;
use crate::spec::{self, ParamType};
use crate::syscalls::{Abi, SyscallId};

/// The reason given to replayed drop events: the recording names the reason as text, and the
/// event model keeps reasons as static strings.
pub const REPLAYED_DROP: &str = "recorded drop";

/// Errors reading a recording.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not an event as `--events-out` writes them.
    #[error("{path}:{line}: {reason}")]
    Line {
        /// The file.
        path: String,
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// Reads every event of a recording. Blank lines are skipped.
pub fn read_events<R: BufRead>(reader: R, path: &str) -> Result<Vec<Event>, ReplayError> {
    let mut events = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|source| ReplayError::Io {
            path: path.to_owned(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let event = parse_event(&line).map_err(|reason| ReplayError::Line {
            path: path.to_owned(),
            line: i + 1,
            reason,
        })?;
        events.push(event);
    }
    Ok(events)
}

/// Reads every event of a recording file.
pub fn read_file(path: &Path) -> Result<Vec<Event>, ReplayError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| ReplayError::Io {
        path: name.clone(),
        source,
    })?;
    read_events(std::io::BufReader::new(file), &name)
}

/// One event from one line of JSON.
pub fn parse_event(line: &str) -> Result<Event, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let kind = match text(&v, "type")? {
        "syscall" => EventKind::Syscall(syscall(&v)?),
        "fork" => EventKind::Fork(ForkEvent {
            child_pid: uint(&v, "child_pid")?,
            child_tid: uint(&v, "child_tid")?,
            kind: match text(&v, "clone_kind")? {
                "fork" => ForkKind::Fork,
                "vfork" => ForkKind::Vfork,
                "clone" => ForkKind::Clone,
                other => return Err(format!("unknown clone_kind {other:?}")),
            },
            thread: v["thread"].as_bool().ok_or("no thread flag")?,
        }),
        "exec" => EventKind::Exec(Box::new(ExecEvent {
            filename: text(&v, "filename")?.as_bytes().to_vec(),
            argv: list(&v["argv"])?,
            exe: v["exe"].as_str().map(|s| s.as_bytes().to_vec()),
            former_tid: v["former_tid"].as_u64().and_then(|t| u32::try_from(t).ok()),
            creds: creds(&v)?,
            cgroup: v["cgroup"].as_str().map(str::to_owned),
        })),
        "exit" => EventKind::Exit(ExitEvent {
            status: match v["code"].as_i64() {
                Some(code) => ExitStatus::Code(i32::try_from(code).map_err(|e| e.to_string())?),
                None => ExitStatus::Signal {
                    signo: signal::from_name(text(&v, "signal")?).ok_or("unknown signal")?,
                    core: v["core"].as_bool().unwrap_or(false),
                },
            },
        }),
        "drop" => EventKind::Drop(DropEvent {
            count: v["count"].as_u64().ok_or("no drop count")?,
            reason: REPLAYED_DROP,
        }),
        other => return Err(format!("unknown event type {other:?}")),
    };
    Ok(Event {
        ts: v["ts"].as_u64().ok_or("no ts")?,
        pid: uint(&v, "pid")?,
        tid: uint(&v, "tid")?,
        kind,
    })
}

fn text<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v[key].as_str().ok_or_else(|| format!("no {key}"))
}

fn uint(v: &Value, key: &str) -> Result<u32, String> {
    v[key]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("no {key}"))
}

fn list(v: &Value) -> Result<Vec<Vec<u8>>, String> {
    v.as_array()
        .ok_or("not a list")?
        .iter()
        .map(|item| {
            item.as_str()
                .map(|s| s.as_bytes().to_vec())
                .ok_or_else(|| "a list item is not a string".to_owned())
        })
        .collect()
}

/// An exec's credentials, when the recording has them (`uids`, `gids`, `caps`: all or none).
fn creds(v: &Value) -> Result<Option<Creds>, String> {
    if v.get("uids").is_none() {
        return Ok(None);
    }
    fn numbers<const N: usize, T: TryFrom<u64>>(v: &Value, key: &str) -> Result<[T; N], String> {
        let items = v[key]
            .as_array()
            .filter(|a| a.len() == N)
            .ok_or_else(|| format!("{key}: not a list of {N} numbers"))?;
        let mut out = Vec::with_capacity(N);
        for item in items {
            let n = item
                .as_u64()
                .and_then(|n| T::try_from(n).ok())
                .ok_or_else(|| format!("{key}: {item} is out of range"))?;
            out.push(n);
        }
        out.try_into()
            .map_err(|_| format!("{key}: not a list of {N} numbers"))
    }
    Ok(Some(Creds {
        uids: numbers(v, "uids")?,
        gids: numbers(v, "gids")?,
        caps: numbers(v, "caps")?,
    }))
}

fn syscall(v: &Value) -> Result<SyscallEvent, String> {
    let name = text(v, "syscall")?;
    let id = SyscallId::from_name(name).ok_or_else(|| format!("unknown syscall {name:?}"))?;
    let abi = match text(v, "abi")? {
        "x86_64" => Abi::X86_64,
        "i386" => Abi::I386,
        "x32" => Abi::X32,
        other => return Err(format!("unknown abi {other:?}")),
    };
    let entry_only = v["entry_only"].as_bool().unwrap_or(false);
    let ret = if entry_only {
        0
    } else {
        v["ret"].as_i64().ok_or("no ret")?
    };
    let empty = Map::new();
    let given = v["args"].as_object().unwrap_or(&empty);
    let arg = |name: &'static str, ty: Option<ParamType>| -> Result<Arg, String> {
        let json = given.get(name).unwrap_or(&Value::Null);
        let value = arg_value(ty, json).map_err(|e| format!("{name}: {e}"))?;
        Ok(Arg { name, ty, value })
    };
    let args = match spec::lookup(id) {
        Some(spec) => spec
            .params
            .iter()
            .map(|p| arg(p.name, Some(p.ty)))
            .collect::<Result<_, _>>()?,
        None => RAW_NAMES
            .iter()
            .map(|&name| arg(name, None))
            .collect::<Result<_, _>>()?,
    };
    Ok(SyscallEvent {
        id,
        abi,
        args,
        ret,
        entry_only,
        stale_fds: match v.get("stale_fds") {
            None => 0,
            Some(bits) => bits
                .as_u64()
                .and_then(|b| u8::try_from(b).ok())
                .ok_or_else(|| format!("stale_fds: {bits} is not a byte of argument bits"))?,
        },
    })
}

/// An argument's value from its JSON form, the inverse of [`crate::json`]'s.
fn arg_value(ty: Option<ParamType>, json: &Value) -> Result<ArgValue, String> {
    let s = match json {
        Value::Null => return Ok(ArgValue::Null),
        Value::Object(map) => return marker(map),
        Value::Array(items) if ty == Some(ParamType::FdPair) => {
            let fd = |i: usize| {
                items
                    .get(i)
                    .and_then(Value::as_i64)
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or("bad fd pair")
            };
            return Ok(ArgValue::FdPair([fd(0)?, fd(1)?]));
        }
        Value::Array(_) => return Ok(ArgValue::Argv(list(json)?)),
        Value::Number(n) => {
            return match ty {
                Some(
                    ParamType::Fd
                    | ParamType::DirFd
                    | ParamType::Pid
                    | ParamType::Signal
                    | ParamType::Int
                    | ParamType::Const(_),
                ) => n.as_i64().map(ArgValue::Int).ok_or("not an int".into()),
                _ => n.as_u64().map(ArgValue::UInt).ok_or("not a uint".into()),
            }
        }
        Value::String(s) => s.as_str(),
        Value::Bool(_) => return Err("unexpected bool".into()),
    };
    let bad = || format!("cannot read {s:?}");
    Ok(match ty {
        Some(ParamType::SockAddr { .. } | ParamType::SockAddrOut { .. }) => {
            ArgValue::SockAddr(SockAddr::from_display(s))
        }
        Some(ParamType::DirFd) if s == "AT_FDCWD" => ArgValue::Int(libc::AT_FDCWD.into()),
        Some(ParamType::Signal) => ArgValue::Int(
            signal::from_name(s)
                .map(i64::from)
                .or_else(|| s.parse().ok())
                .ok_or_else(bad)?,
        ),
        Some(ParamType::Const(kind)) => ArgValue::Int(consts::value(kind, s).ok_or_else(bad)?),
        Some(ParamType::Flags(kind)) => ArgValue::UInt(flags::parse(kind, s).ok_or_else(bad)?),
        Some(ParamType::Mode) => ArgValue::UInt(mode::parse(s).ok_or_else(bad)?.into()),
        Some(ParamType::Ptr) | None => ArgValue::UInt(hex(s).ok_or_else(bad)?),
        _ => ArgValue::Bytes(s.as_bytes().to_vec()),
    })
}

/// `{"unreadable": "0x10", "errno": "EFAULT"}` or `{"truncated": "..."}`.
fn marker(map: &Map<String, Value>) -> Result<ArgValue, String> {
    if let Some(t) = map.get("truncated").and_then(Value::as_str) {
        return Ok(ArgValue::Truncated(t.as_bytes().to_vec()));
    }
    let addr = map
        .get("unreadable")
        .and_then(Value::as_str)
        .and_then(hex)
        .ok_or("unknown object")?;
    let errno = map
        .get("errno")
        .and_then(Value::as_str)
        .and_then(errno::from_name)
        .unwrap_or(0);
    Ok(ArgValue::Unreadable { addr, errno })
}

fn hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

/// A driver that yields recorded events instead of tracing anything.
///
/// `start` ignores the target (the recording is the workload) but honours the interest set:
/// syscalls outside it are skipped and counted as filtered, as a real driver would never have
/// stopped for them; lifecycle and drop events always pass. The end status is that of the
/// recording's first process, when its exit was recorded.
#[derive(Debug, Default)]
pub struct ReplayDriver {
    events: VecDeque<Event>,
    interest: Option<SyscallSet>,
    root: Option<u32>,
    status: Option<ExitStatus>,
    stats: DriverStats,
}

impl ReplayDriver {
    /// A driver that will replay `events`.
    pub fn new(events: Vec<Event>) -> ReplayDriver {
        ReplayDriver {
            root: events.first().map(|e| e.pid),
            events: events.into(),
            ..ReplayDriver::default()
        }
    }

    /// A driver that will replay a recording file.
    pub fn from_file(path: &Path) -> Result<ReplayDriver, ReplayError> {
        Ok(ReplayDriver::new(read_file(path)?))
    }
}

impl Driver for ReplayDriver {
    fn name(&self) -> &'static str {
        "replay"
    }

    fn start(&mut self, _target: Target, interest: &SyscallSet) -> Result<Started, DriverError> {
        self.interest = Some(*interest);
        Ok(Started { root_pid: None })
    }

    fn next_event(&mut self, _timeout: Duration) -> Result<Next, DriverError> {
        while let Some(event) = self.events.pop_front() {
            match &event.kind {
                EventKind::Syscall(sc)
                    if self
                        .interest
                        .as_ref()
                        .is_some_and(|set| !set.contains(sc.id)) =>
                {
                    self.stats.filtered += 1;
                    continue;
                }
                EventKind::Exit(exit) if Some(event.pid) == self.root && event.pid == event.tid => {
                    self.status = Some(exit.status);
                }
                EventKind::Drop(drop) => self.stats.dropped += drop.count,
                _ => {}
            }
            self.stats.seen += 1;
            return Ok(Next::Event(event));
        }
        Ok(Next::End(self.status))
    }

    fn stats(&self) -> DriverStats {
        self.stats
    }

    fn stop(&mut self) -> Result<(), DriverError> {
        self.events.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Captured, RawSyscall};
    use crate::json::EventJson;
    use crate::time::WallClock;

    fn round_trip(event: &Event) -> Event {
        let clock = WallClock::new();
        let line = serde_json::to_string(&EventJson {
            event,
            clock: &clock,
        })
        .expect("JSON");
        parse_event(&line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    /// Every syscall with a spec, with registers that exercise names, unnamed bits and
    /// negative numbers, and memory for each parameter the drivers read: read back as written.
    #[test]
    fn every_spec_round_trips() {
        let mut inet = (libc::AF_INET as u16).to_ne_bytes().to_vec();
        inet.extend_from_slice(&443u16.to_be_bytes());
        inet.extend_from_slice(&[10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut fds = 3i32.to_ne_bytes().to_vec();
        fds.extend_from_slice(&4i32.to_ne_bytes());
        for (n, regs) in [
            [(-100i64) as u64, 0o100644, 0x80241, 17, 2, 0x7fff_0000],
            [3, 0x4000_0000, 0, (-1i64) as u64, 0x7ead_0000, 9],
        ]
        .into_iter()
        .enumerate()
        {
            for id in (0..=u16::MAX).filter_map(SyscallId::from_raw) {
                let Some(spec) = spec::lookup(id) else {
                    continue;
                };
                let mut mem: [Captured; 6] = Default::default();
                for (i, p) in spec.params.iter().enumerate() {
                    mem[i] = match p.ty {
                        ParamType::Path | ParamType::Str if n == 0 => {
                            Captured::Bytes(b"/tmp/x y".to_vec())
                        }
                        ParamType::Path | ParamType::Str => Captured::Unreadable {
                            addr: 0x10,
                            errno: libc::EFAULT,
                        },
                        ParamType::SockAddr { .. } | ParamType::SockAddrOut { .. } => {
                            Captured::Bytes(inet.clone())
                        }
                        ParamType::Argv if n == 0 => {
                            Captured::List(vec![b"sh".to_vec(), b"-c".to_vec()])
                        }
                        ParamType::Argv => Captured::Truncated(b"sh".to_vec()),
                        ParamType::FdPair => Captured::Bytes(fds.clone()),
                        _ => Captured::Nothing,
                    };
                }
                for abi in [Abi::X86_64, Abi::I386] {
                    let sc = RawSyscall {
                        id: Some(id),
                        abi: Some(abi),
                        args: regs,
                        ret: -2,
                        mem: mem.clone(),
                        ..Default::default()
                    }
                    .decode()
                    .expect("decodes");
                    let event = Event {
                        ts: 7,
                        pid: 10,
                        tid: 11,
                        kind: EventKind::Syscall(sc),
                    };
                    assert_eq!(round_trip(&event), event, "{}", id.name());
                }
            }
        }
    }

    #[test]
    fn lifecycle_events_round_trip() {
        let events = [
            EventKind::Fork(ForkEvent {
                child_pid: 5,
                child_tid: 6,
                kind: ForkKind::Vfork,
                thread: false,
            }),
            EventKind::Exec(Box::new(ExecEvent {
                filename: b"/bin/sh".to_vec(),
                argv: vec![b"sh".to_vec()],
                exe: Some(b"/usr/bin/dash".to_vec()),
                former_tid: Some(12),
                creds: Some(Creds {
                    uids: [1000, 0, 0, 0],
                    gids: [1000, 1000, 1000, 1000],
                    caps: [u64::MAX >> 23, u64::MAX >> 23, 0],
                }),
                cgroup: Some("0::/system.slice/docker-1f.scope".into()),
            })),
            EventKind::Exec(Box::new(ExecEvent {
                filename: b"/bin/true".to_vec(),
                argv: vec![b"true".to_vec()],
                exe: None,
                former_tid: None,
                creds: None,
                cgroup: None,
            })),
            EventKind::Exit(ExitEvent {
                status: ExitStatus::Signal {
                    signo: libc::SIGKILL,
                    core: true,
                },
            }),
            EventKind::Exit(ExitEvent {
                status: ExitStatus::Code(3),
            }),
            EventKind::Drop(DropEvent {
                count: 2,
                reason: REPLAYED_DROP,
            }),
        ];
        for kind in events {
            let event = Event {
                ts: 1,
                pid: 2,
                tid: 2,
                kind,
            };
            assert_eq!(round_trip(&event), event);
        }
    }

    #[test]
    fn bad_lines_name_their_line() {
        let text = "\n{\"ts\":1,\"pid\":1,\"tid\":1,\"type\":\"exit\",\"code\":0}\nnot json\n";
        let err = read_events(text.as_bytes(), "rec.jsonl").expect_err("bad line");
        assert!(err.to_string().starts_with("rec.jsonl:3: "), "{err}");
    }

    #[test]
    fn stale_marks_are_read_and_a_bad_one_is_refused() {
        let line = |stale: &str| {
            format!(
                "{{\"ts\":1,\"pid\":1,\"tid\":1,\"type\":\"syscall\",\"syscall\":\"dup2\",\
                 \"abi\":\"x86_64\",\"args\":{{\"oldfd\":3,\"newfd\":1}},\"ret\":1{stale}}}"
            )
        };
        let stale_of = |event: Event| match event.kind {
            EventKind::Syscall(call) => call.stale_fds,
            other => panic!("{other:?}"),
        };
        assert_eq!(stale_of(parse_event(&line("")).expect("parses")), 0);
        let marked = parse_event(&line(",\"stale_fds\":3")).expect("parses");
        assert_eq!(stale_of(marked), 0b11);
        let err = parse_event(&line(",\"stale_fds\":300")).expect_err("refused");
        assert!(err.contains("stale_fds"), "{err}");
    }

    #[test]
    fn the_driver_filters_syscalls_outside_the_interest_set() {
        let line = |name: &str| {
            format!(
                "{{\"ts\":1,\"pid\":1,\"tid\":1,\"type\":\"syscall\",\"syscall\":\"{name}\",\
                 \"abi\":\"x86_64\",\"args\":{{}},\"ret\":0}}"
            )
        };
        let text = [line("getpid"), line("close"), line("getpid")].join("\n");
        let events = read_events(text.as_bytes(), "rec").expect("reads");
        let mut driver = ReplayDriver::new(events);
        let set = SyscallSet::parse_names("close").expect("names");
        driver.start(Target::System, &set).expect("starts");
        let (got, status) = crate::driver::collect(&mut driver).expect("replays");
        assert_eq!(got.len(), 1);
        assert_eq!(status, None);
        assert_eq!(driver.stats().filtered, 2);
        assert_eq!(driver.stats().seen, 1);
    }
}
