//! Engine throughput: state update + rule evaluation per event, through `Engine::process`.
//!
//! - `engine/falco rules, state + evaluation`: the embedded rules over a synthetic stream shaped
//!   like a real workload's (a shell starting programs that open libraries and files, close
//!   them, connect out).
//! - `replay/...`: a real workload recorded under the ptrace driver (benches/data, see
//!   record.sh there), replayed through the replay driver with each ruleset's interest set (so
//!   the engine sees what a driver tracing for those rules would report), evaluated by the
//!   default rules, and by the upstream Falco rules followed by the default ones. One engine
//!   replays the stream again and again, as a long-running agent sees process after process.
//!
//! Processes are pids that the engine's /proc does not know, so nothing but the engine is
//! measured; it runs on one thread, so events/s is per core. Run with
//! `cargo bench -p lanner --bench engine`.

#[path = "data/recording.rs"]
mod recording;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use lanner::engine::{self, Engine};
use lanner_common::decode::sockaddr::SockAddr;
use lanner_common::driver::Target;
use lanner_common::event::{
    Arg, ArgValue, ExecEvent, ExitEvent, ExitStatus, ForkEvent, ForkKind, SyscallEvent,
};
use lanner_common::replay::ReplayDriver;
use lanner_common::spec;
use lanner_common::syscalls::{Abi, SyscallId};
use lanner_common::{Driver, Event, EventKind};

const BASE: u32 = 4_100_000;

fn syscall(pid: u32, name: &str, values: Vec<ArgValue>, ret: i64) -> Event {
    let id = SyscallId::from_name(name).expect("known syscall");
    let params = spec::lookup(id).expect("spec").params;
    Event {
        ts: 1,
        pid,
        tid: pid,
        kind: EventKind::Syscall(SyscallEvent {
            id,
            abi: Abi::X86_64,
            args: params
                .iter()
                .zip(values)
                .map(|(p, value)| Arg {
                    name: p.name,
                    ty: Some(p.ty),
                    value,
                })
                .collect(),
            ret,
            entry_only: false,
            stale_fds: 0,
        }),
    }
}

fn openat(pid: u32, path: &str, fd: i64) -> Event {
    syscall(
        pid,
        "openat",
        vec![
            ArgValue::Int(-100),
            ArgValue::Bytes(path.as_bytes().to_vec()),
            ArgValue::UInt(0o2000000),
            ArgValue::UInt(0),
        ],
        fd,
    )
}

fn close(pid: u32, fd: i64) -> Event {
    syscall(pid, "close", vec![ArgValue::Int(fd)], 0)
}

/// One program's life: forked by the shell, exec'd, loads two libraries, reads a file,
/// connects out, exits.
fn program(shell: u32, pid: u32, exe: &str) -> Vec<Event> {
    vec![
        Event {
            ts: 1,
            pid: shell,
            tid: shell,
            kind: EventKind::Fork(ForkEvent {
                child_pid: pid,
                child_tid: pid,
                kind: ForkKind::Fork,
                thread: false,
            }),
        },
        Event {
            ts: 1,
            pid,
            tid: pid,
            kind: EventKind::Exec(Box::new(ExecEvent {
                filename: exe.as_bytes().to_vec(),
                argv: vec![exe.as_bytes().to_vec(), b"--flag".to_vec()],
                exe: Some(exe.as_bytes().to_vec()),
                former_tid: None,
                creds: None,
                cgroup: None,
            })),
        },
        syscall(
            pid,
            "execve",
            vec![
                ArgValue::Bytes(exe.as_bytes().to_vec()),
                ArgValue::Argv(vec![exe.as_bytes().to_vec()]),
                ArgValue::UInt(0),
            ],
            0,
        ),
        openat(pid, "/etc/ld.so.cache", 3),
        close(pid, 3),
        openat(pid, "/lib/x86_64-linux-gnu/libc.so.6", 3),
        close(pid, 3),
        openat(pid, "/etc/hostname", 3),
        close(pid, 3),
        syscall(
            pid,
            "socket",
            vec![ArgValue::Int(2), ArgValue::UInt(1), ArgValue::Int(0)],
            4,
        ),
        syscall(
            pid,
            "connect",
            vec![
                ArgValue::Int(4),
                ArgValue::SockAddr(SockAddr::Inet {
                    addr: [10, 1, 2, 3].into(),
                    port: 443,
                }),
                ArgValue::UInt(16),
            ],
            0,
        ),
        close(pid, 4),
        Event {
            ts: 1,
            pid,
            tid: pid,
            kind: EventKind::Exit(ExitEvent {
                status: ExitStatus::Code(0),
            }),
        },
    ]
}

fn stream() -> Vec<Event> {
    let shell = BASE;
    let mut events = vec![Event {
        ts: 1,
        pid: shell,
        tid: shell,
        kind: EventKind::Exec(Box::new(ExecEvent {
            filename: b"/bin/sh".to_vec(),
            argv: vec![b"sh".to_vec()],
            exe: Some(b"/bin/sh".to_vec()),
            former_tid: None,
            creds: None,
            cgroup: None,
        })),
    }];
    for i in 0..200 {
        let exe = [
            "/usr/bin/curl",
            "/usr/bin/cat",
            "/usr/bin/python3",
            "/usr/bin/grep",
        ][i % 4];
        events.extend(program(shell, BASE + 1 + i as u32, exe));
    }
    events
}

fn bench(c: &mut Criterion) {
    let events = stream();
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("falco rules, state + evaluation", |b| {
        b.iter_batched(
            || Engine::new(engine::default_ruleset().expect("embedded rules")),
            |mut engine| {
                let mut alerts = Vec::new();
                for event in &events {
                    engine.process(event, &mut alerts);
                    alerts.clear();
                }
                black_box(engine.stats())
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// The recording as a driver tracing for `ruleset` would report it.
fn replayed_for(ruleset: &lanner_rules::Ruleset) -> Vec<Event> {
    let mut driver = ReplayDriver::new(recording::events());
    driver
        .start(Target::System, &engine::interest(ruleset))
        .expect("replay starts");
    lanner_common::driver::collect(&mut driver)
        .expect("replays")
        .0
}

fn replay(c: &mut Criterion) {
    let mut group = c.benchmark_group("replay");
    for (name, ruleset) in [
        (
            "default rules",
            engine::default_ruleset().expect("embedded rules"),
        ),
        (
            "upstream + default rules",
            recording::upstream_and_default(),
        ),
    ] {
        let events = replayed_for(&ruleset);
        let mut engine = recording::engine(ruleset);
        let mut alerts = Vec::new();
        group.throughput(Throughput::Elements(events.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                for event in &events {
                    engine.process(event, &mut alerts);
                    alerts.clear();
                }
            })
        });
        black_box(engine.stats());
    }
    group.finish();
}

criterion_group!(benches, bench, replay);
criterion_main!(benches);
