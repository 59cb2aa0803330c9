//! The consumer-side hot path every event takes: decoding a raw capture into an event, and
//! writing it as a JSON line; and the ptrace driver's judgement of an open by the open filter,
//! made at the entry stop of every open while the workload waits. Run with `cargo xtask bench` (or `cargo bench -p lanner-common`).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use lanner_common::event::{Captured, RawSyscall};
use lanner_common::json::EventJson;
use lanner_common::paths::ACCESS_READ;
use lanner_common::syscalls::{Abi, SyscallId};
use lanner_common::time::WallClock;
use lanner_common::{Event, EventKind, OpenCall, OpenFilter, PathPattern, PathRule};

/// The open filter of the embedded rules (`lanner rules syscalls agent/rules/default.yaml`).
fn embedded_open_filter() -> OpenFilter {
    let read = |p: &str| PathRule {
        pattern: PathPattern::Prefix(p.as_bytes().to_vec()),
        access: ACCESS_READ,
    };
    OpenFilter::new(
        vec![OpenCall {
            id: SyscallId::from_name("openat").expect("openat"),
            path: 1,
            flags: Some(2),
        }],
        vec![
            read("/etc/pam.conf"),
            read("/etc/pam.d/"),
            read("/etc/security/pwquality.conf"),
            read("/etc/shadow"),
            read("/etc/sudoers"),
        ],
        true,
    )
}

fn openat() -> RawSyscall {
    let mut mem: [Captured; 6] = Default::default();
    mem[1] = Captured::Bytes(b"/usr/lib/x86_64-linux-gnu/libc.so.6".to_vec());
    RawSyscall {
        id: SyscallId::from_name("openat"),
        nr: 257,
        abi: Some(Abi::X86_64),
        args: [(-100i64) as u64, 0x1000, 0o2000000, 0, 0, 0],
        ret: 3,
        mem,
        entry_only: false,
        stale_fds: 0,
    }
}

fn connect() -> RawSyscall {
    let mut mem: [Captured; 6] = Default::default();
    // AF_INET 10.0.0.1:443
    mem[1] = Captured::Bytes(vec![2, 0, 1, 187, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    RawSyscall {
        id: SyscallId::from_name("connect"),
        nr: 42,
        abi: Some(Abi::X86_64),
        args: [3, 0x2000, 16, 0, 0, 0],
        ret: 0,
        mem,
        entry_only: false,
        stale_fds: 0,
    }
}

fn bench(c: &mut Criterion) {
    c.bench_function("decode openat", |b| {
        b.iter_batched(
            openat,
            |raw| black_box(raw.decode()),
            criterion::BatchSize::SmallInput,
        )
    });
    c.bench_function("decode connect", |b| {
        b.iter_batched(
            connect,
            |raw| black_box(raw.decode()),
            criterion::BatchSize::SmallInput,
        )
    });
    let filter = embedded_open_filter();
    let library = openat();
    c.bench_function("open filter: a library read, left out", |b| {
        b.iter(|| black_box(filter.keeps_raw(black_box(&library))))
    });
    let mut shadow = openat();
    shadow.mem[1] = Captured::Bytes(b"/etc/shadow".to_vec());
    c.bench_function("open filter: /etc/shadow read, kept", |b| {
        b.iter(|| black_box(filter.keeps_raw(black_box(&shadow))))
    });
    let clock = WallClock::new();
    let event = Event {
        ts: 1,
        pid: 100,
        tid: 100,
        kind: EventKind::Syscall(openat().decode().expect("decodes")),
    };
    let mut out = Vec::with_capacity(512);
    c.bench_function("json openat", |b| {
        b.iter(|| {
            out.clear();
            serde_json::to_writer(
                &mut out,
                &EventJson {
                    event: black_box(&event),
                    clock: &clock,
                },
            )
            .expect("serializes");
            black_box(out.len())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
