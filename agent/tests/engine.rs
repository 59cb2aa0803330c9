//! The engine on hand-built event sequences: state kept by fork/exec/open/close, field values
//! seen by rules, alerts in Falco's shape, and interest sets derived from what rules read.

use lanner::engine::{self, Alert, Engine};
use lanner_common::decode::sockaddr::SockAddr;
use lanner_common::event::{
    Arg, ArgValue, ExecEvent, ExitEvent, ExitStatus, ForkEvent, ForkKind, SyscallEvent,
};
use lanner_common::spec;
use lanner_common::syscalls::SyscallId;
use lanner_common::{Event, EventKind};

/// A pid that is not running, so that nothing is read from /proc for it.
const PID: u32 = 4_000_000;

fn syscall(pid: u32, name: &str, values: Vec<ArgValue>, ret: i64) -> Event {
    let id = SyscallId::from_name(name).expect("known syscall");
    let params = spec::lookup(id).expect("spec").params;
    let args = params
        .iter()
        .zip(values)
        .map(|(p, value)| Arg {
            name: p.name,
            ty: Some(p.ty),
            value,
        })
        .collect();
    Event {
        ts: 1_000,
        pid,
        tid: pid,
        kind: EventKind::Syscall(SyscallEvent {
            id,
            abi: lanner_common::syscalls::Abi::X86_64,
            args,
            ret,
            entry_only: false,
        }),
    }
}

fn exec(pid: u32, path: &str, argv: &[&str]) -> Event {
    Event {
        ts: 900,
        pid,
        tid: pid,
        kind: EventKind::Exec(ExecEvent {
            filename: path.as_bytes().to_vec(),
            argv: argv.iter().map(|a| a.as_bytes().to_vec()).collect(),
            exe: Some(path.as_bytes().to_vec()),
            former_tid: None,
        }),
    }
}

fn fork(parent: u32, child: u32) -> Event {
    Event {
        ts: 800,
        pid: parent,
        tid: parent,
        kind: EventKind::Fork(ForkEvent {
            child_pid: child,
            child_tid: child,
            kind: ForkKind::Fork,
            thread: false,
        }),
    }
}

fn openat(pid: u32, path: &str, flags: u64, fd: i64) -> Event {
    syscall(
        pid,
        "openat",
        vec![
            ArgValue::Int(i64::from(libc::AT_FDCWD)),
            ArgValue::Bytes(path.as_bytes().to_vec()),
            ArgValue::UInt(flags),
            ArgValue::UInt(0),
        ],
        fd,
    )
}

fn run(engine: &mut Engine, events: &[Event]) -> Vec<Alert> {
    let mut alerts = Vec::new();
    for event in events {
        engine.process(event, &mut alerts);
    }
    alerts
}

fn rules(yaml: &str) -> Engine {
    Engine::new(lanner_rules::load_str("test.yaml", yaml, Default::default()).expect("rules load"))
}

#[test]
fn reading_etc_shadow_with_cat_raises_falcos_alert() {
    let mut engine = Engine::new(engine::default_ruleset(false).expect("embedded rules"));
    let alerts = run(
        &mut engine,
        &[
            exec(PID, "/bin/sh", &["sh", "-c", "cat /etc/shadow"]),
            fork(PID, PID + 1),
            exec(PID + 1, "/usr/bin/cat", &["cat", "/etc/shadow"]),
            openat(PID + 1, "/etc/shadow", libc::O_RDONLY as u64, 3),
        ],
    );
    let alert = alerts
        .iter()
        .find(|a| a.rule == "Read sensitive file untrusted")
        .unwrap_or_else(|| panic!("no alert in {alerts:?}"));
    assert_eq!(alert.priority.name(), "Warning");
    assert!(
        alert.output.contains("file=/etc/shadow"),
        "{}",
        alert.output
    );
    assert!(alert.output.contains("process=cat"), "{}", alert.output);
    assert!(alert.output.contains("parent=sh"), "{}", alert.output);
    let clock = engine.clock();
    let json: serde_json::Value =
        serde_json::from_str(&alert.json(clock, "host-1")).expect("alert is JSON");
    // What Falcosidekick requires: rule, priority, time, non-empty output_fields.
    assert_eq!(json["rule"], "Read sensitive file untrusted");
    assert_eq!(json["priority"], "Warning");
    assert_eq!(json["source"], "syscall");
    assert_eq!(json["hostname"], "host-1");
    assert!(json["time"].as_str().expect("time").ends_with('Z'));
    assert_eq!(json["output_fields"]["fd.name"], "/etc/shadow");
    assert_eq!(json["output_fields"]["proc.name"], "cat");
    assert!(json["tags"].as_array().is_some_and(|t| !t.is_empty()));
}

#[test]
fn a_trusted_reader_and_an_ordinary_file_raise_nothing() {
    let mut engine = Engine::new(engine::default_ruleset(false).expect("embedded rules"));
    let alerts = run(
        &mut engine,
        &[
            exec(PID, "/usr/bin/cat", &["cat", "/etc/hostname"]),
            openat(PID, "/etc/hostname", libc::O_RDONLY as u64, 3),
        ],
    );
    assert!(alerts.is_empty(), "{alerts:?}");
}

#[test]
fn fd_state_follows_open_dup_close_and_relative_paths() {
    let mut engine = rules(
        "- rule: any write\n  desc: d\n  condition: evt.type=write and fd.name startswith /tmp\n  output: w %fd.name %fd.num\n  priority: NOTICE\n",
    );
    let write = |fd: i64| {
        syscall(
            PID,
            "write",
            vec![ArgValue::Int(fd), ArgValue::UInt(0), ArgValue::UInt(1)],
            1,
        )
    };
    let mut alerts = run(
        &mut engine,
        &[
            exec(PID, "/usr/bin/app", &["app"]),
            syscall(PID, "chdir", vec![ArgValue::Bytes(b"/tmp/x".to_vec())], 0),
            openat(
                PID,
                "../out.log",
                (libc::O_WRONLY | libc::O_CREAT) as u64,
                5,
            ),
            syscall(PID, "dup2", vec![ArgValue::Int(5), ArgValue::Int(1)], 1),
            write(1),
        ],
    );
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].output, "w /tmp/out.log 1");
    alerts = run(
        &mut engine,
        &[syscall(PID, "close", vec![ArgValue::Int(1)], 0), write(1)],
    );
    assert!(alerts.is_empty(), "closed fd still named: {alerts:?}");
}

#[test]
fn socket_fields_come_from_connect() {
    let mut engine = rules(
        "- rule: out\n  desc: d\n  condition: evt.type=connect and fd.sport=443 and fd.l4proto=tcp\n  output: c %fd.name %fd.sip %fd.typechar\n  priority: NOTICE\n",
    );
    let alerts = run(
        &mut engine,
        &[
            exec(PID, "/usr/bin/curl", &["curl"]),
            syscall(
                PID,
                "socket",
                vec![
                    ArgValue::Int(i64::from(libc::AF_INET)),
                    ArgValue::UInt(libc::SOCK_STREAM as u64),
                    ArgValue::Int(0),
                ],
                4,
            ),
            syscall(
                PID,
                "connect",
                vec![
                    ArgValue::Int(4),
                    ArgValue::SockAddr(SockAddr::Inet {
                        addr: [10, 0, 0, 1].into(),
                        port: 443,
                    }),
                    ArgValue::UInt(16),
                ],
                0,
            ),
        ],
    );
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].output, "c 0.0.0.0:0->10.0.0.1:443 10.0.0.1 4");
}

#[test]
fn ancestors_and_exit_are_tracked() {
    let mut engine = rules(
        "- rule: exit\n  desc: d\n  condition: evt.type=procexit and proc.pname=bash\n  output: gone %proc.name parent=%proc.pname\n  priority: INFO\n",
    );
    let exit = Event {
        ts: 2_000,
        pid: PID + 1,
        tid: PID + 1,
        kind: EventKind::Exit(ExitEvent {
            status: ExitStatus::Code(0),
        }),
    };
    let alerts = run(
        &mut engine,
        &[
            exec(PID, "/bin/bash", &["bash"]),
            fork(PID, PID + 1),
            exec(PID + 1, "/usr/bin/true", &["true"]),
            exit,
        ],
    );
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].output, "gone true parent=bash");
    assert!(
        engine.state().known(PID + 1).is_none(),
        "exited process kept"
    );
}

#[test]
fn interest_adds_state_syscalls_only_when_rules_read_fds() {
    let proc_only = lanner_rules::load_str(
        "p.yaml",
        "- rule: r\n  desc: d\n  condition: evt.type=execve and proc.name=nc\n  output: o\n  priority: INFO\n",
        Default::default(),
    )
    .expect("loads");
    let set = engine::interest(&proc_only);
    let has = |set: &lanner_common::SyscallSet, name: &str| {
        set.contains(SyscallId::from_name(name).expect("name"))
    };
    assert!(has(&set, "execve"));
    assert!(
        !has(&set, "close") && !has(&set, "dup"),
        "fd state not read"
    );
    let with_fds = lanner_rules::load_str(
        "f.yaml",
        "- rule: r\n  desc: d\n  condition: evt.type=write and fd.name=/etc/passwd\n  output: o\n  priority: INFO\n",
        Default::default(),
    )
    .expect("loads");
    let set = engine::interest(&with_fds);
    assert!(has(&set, "write") && has(&set, "close") && has(&set, "openat"));
}

#[test]
fn embedded_rules_compile_with_only_the_documented_gaps() {
    let ruleset = engine::default_ruleset(false).expect("embedded rules");
    let skipped: Vec<&str> = ruleset
        .summary()
        .skipped
        .iter()
        .map(|w| w.rule.as_str())
        .collect();
    assert_eq!(
        skipped,
        [
            "Contact K8S API Server From Container",
            "Drop and execute new binary in container"
        ]
    );
    assert!(ruleset.summary().compiled >= 23);
}
