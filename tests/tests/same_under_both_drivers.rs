//! The ptrace and eBPF drivers side by side on the same workloads: the same syscalls with the
//! same decoded arguments and results per process, the same process tree, and — through the
//! embedded rules — the same alerts. Where they cannot agree, the difference is named here and
//! explained in docs/ebpf-driver.md.

mod common;

use std::collections::BTreeMap;

use common::{command, serial, Kind, Scratch};
use lanner::engine::{self, Alert, Engine};
use lanner_common::decode::sockaddr::SockAddr;
use lanner_common::driver::{default_interest, Command, Next, Target};
use lanner_common::event::{ArgValue, Event, EventKind};
use lanner_common::spec::ParamType;
use lanner_common::SyscallSet;
use std::time::Duration;

const FX_OPEN_FILES: &str = env!("CARGO_BIN_EXE_fx-open-files");
const FX_NET: &str = env!("CARGO_BIN_EXE_fx-net");
const FX_INT80: &str = env!("CARGO_BIN_EXE_fx-int80");

/// Both drivers can run here; prints why not otherwise.
fn both_available() -> bool {
    let mut ok = true;
    for report in [lanner_driver_ptrace::probe(), lanner_driver_ebpf::probe()] {
        if !report.available_for_test() {
            ok = false;
        }
    }
    ok
}

/// Every event of `argv` under `kind`.
fn events(kind: Kind, argv: Command, interest: &SyscallSet) -> Vec<Event> {
    common::use_driver(kind);
    let t = common::trace(argv, interest);
    t.check_invariants();
    t.events
}

/// A syscall as comparable across runs: its name, the arguments that do not depend on
/// addresses (paths, strings, fds, flags, modes, socket addresses), and its result.
fn key(event: &Event, roots: &BTreeMap<u32, String>) -> Option<String> {
    let EventKind::Syscall(sc) = &event.kind else {
        return None;
    };
    let args: Vec<String> = sc
        .args
        .iter()
        .filter(|a| !matches!(a.ty, Some(ParamType::Ptr) | None))
        .filter(|a| !matches!(a.value, ArgValue::UInt(_)) || a.ty != Some(ParamType::UInt))
        .map(|a| match &a.value {
            // Ports are ephemeral: compare the address only.
            ArgValue::SockAddr(SockAddr::Inet { addr, .. }) => format!("{}={addr}", a.name),
            value => format!("{}={value:?}", a.name),
        })
        .collect();
    // A fork's result is the child's pid, which differs between runs.
    let ret = match sc.id.name() {
        "clone" | "clone3" | "fork" | "vfork" if sc.ret > 0 => "child".to_owned(),
        _ if sc.entry_only => "?".to_owned(),
        _ => sc.ret.to_string(),
    };
    // Processes are told apart by their order of appearance, pids differ between runs.
    let process = roots.get(&event.pid).map_or("?", String::as_str);
    Some(format!(
        "[{process}] {}({}) = {}",
        sc.id.name(),
        args.join(", "),
        ret
    ))
}

/// A name for each process that is the same in every run: the argv it exec'd, or for a
/// process that never exec'd, its parent's name and how many siblings came before it.
fn process_order(events: &[Event]) -> BTreeMap<u32, String> {
    let mut names: BTreeMap<u32, String> = BTreeMap::new();
    let mut children: BTreeMap<String, usize> = BTreeMap::new();
    for ev in events {
        match &ev.kind {
            EventKind::Exec(x) => {
                let argv: Vec<String> = x
                    .argv
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                names.insert(ev.pid, argv.join(" "));
            }
            EventKind::Fork(f) if !f.thread => {
                let parent = names.get(&ev.pid).cloned().unwrap_or_else(|| "root".into());
                let n = children.entry(parent.clone()).or_insert(0);
                *n += 1;
                names.insert(f.child_pid, format!("{parent}/child"));
            }
            _ => {}
        }
    }
    names
}

fn syscall_multiset(events: &[Event]) -> BTreeMap<String, usize> {
    let order = process_order(events);
    let mut set = BTreeMap::new();
    for ev in events {
        if let Some(k) = key(ev, &order) {
            *set.entry(k).or_insert(0) += 1;
        }
    }
    set
}

fn assert_same_syscalls(argv: &[&str], interest: &SyscallSet) {
    assert_same_syscalls_under(Kind::Ptrace, Kind::Ebpf, argv, interest);
}

fn assert_same_syscalls_under(a: Kind, b: Kind, argv: &[&str], interest: &SyscallSet) {
    let ptrace = events(a, command(argv.iter().copied()), interest);
    let ebpf = events(b, command(argv.iter().copied()), interest);
    let (p, e) = (syscall_multiset(&ptrace), syscall_multiset(&ebpf));
    let only_ptrace: Vec<_> = p.iter().filter(|(k, n)| e.get(*k) != Some(n)).collect();
    let only_ebpf: Vec<_> = e.iter().filter(|(k, n)| p.get(*k) != Some(n)).collect();
    assert!(
        only_ptrace.is_empty() && only_ebpf.is_empty(),
        "{argv:?}: ptrace only {only_ptrace:#?}\nebpf only {only_ebpf:#?}"
    );
    assert!(!p.is_empty(), "{argv:?} made no syscalls of the set");
    // The same tree: forks, execs (by filename and argv) and exits per process.
    let tree = |events: &[Event]| -> Vec<String> {
        let order = process_order(events);
        let mut tree: Vec<String> = events
            .iter()
            .filter_map(|ev| {
                let p = order.get(&ev.pid).map_or("?", String::as_str);
                match &ev.kind {
                    EventKind::Fork(f) => Some(format!("[{p}] {:?} thread={}", f.kind, f.thread)),
                    EventKind::Exec(x) => Some(format!(
                        "[{p}] exec {} {:?} exe={:?}",
                        String::from_utf8_lossy(&x.filename),
                        x.argv,
                        x.exe
                    )),
                    EventKind::Exit(x) if ev.pid == ev.tid => {
                        Some(format!("[{p}] exit {:?}", x.status))
                    }
                    _ => None,
                }
            })
            .collect();
        tree.sort();
        tree
    };
    assert_eq!(tree(&ptrace), tree(&ebpf), "{argv:?}: the process trees");
}

#[test]
fn file_opens_are_the_same_under_both_drivers() {
    let _lock = serial();
    if !both_available() {
        return;
    }
    let dir = Scratch::new("same-open");
    let d = dir.path().to_str().expect("utf-8 temp path");
    assert_same_syscalls(&[FX_OPEN_FILES, d], &default_interest());
}

#[test]
fn the_per_syscall_mode_sees_what_the_raw_mode_sees_of_64_bit_code() {
    let _lock = serial();
    if !both_available() {
        return;
    }
    sees_what_the_raw_mode_sees_of_64_bit_code(Kind::EbpfPerSyscall, "per-syscall");
}

#[test]
fn the_fentry_mode_sees_what_the_raw_mode_sees_of_64_bit_code() {
    let _lock = serial();
    if !both_available() || !common::fentry_available() {
        return;
    }
    sees_what_the_raw_mode_sees_of_64_bit_code(Kind::EbpfFentry, "fentry");
}

/// `mode` (`name`) sees what the raw mode sees of a shell's 64-bit calls, and is blind to an
/// int 0x80 call, which the raw mode sees.
fn sees_what_the_raw_mode_sees_of_64_bit_code(mode: Kind, name: &str) {
    let dir = Scratch::new("same-modes");
    let script = format!(
        "cd {d} && echo a > f && cat f | wc -c > g && ln -s f l && mv g h && rm -f f h l",
        d = dir.path().display()
    );
    assert_same_syscalls_under(
        Kind::Ebpf,
        mode,
        &["sh", "-c", &script],
        &default_interest(),
    );
    // And the blind spot, by name: an int 0x80 open is seen by the raw mode only.
    let int80 = SyscallSet::parse_names("open").expect("names");
    let argv = || command([env!("CARGO_BIN_EXE_fx-int80"), "/etc/hostname"]);
    let opens = |kind| {
        events(kind, argv(), &int80)
            .iter()
            .filter(
                |e| matches!(&e.kind, EventKind::Syscall(sc) if sc.abi == lanner_common::Abi::I386),
            )
            .count()
    };
    assert!(opens(Kind::Ebpf) >= 1, "the raw mode sees the i386 open");
    assert_eq!(opens(mode), 0, "ebpf_differs: {name} is blind to int 0x80");
}

#[test]
fn sockets_are_the_same_under_both_drivers() {
    let _lock = serial();
    if !both_available() {
        return;
    }
    assert_same_syscalls(&[FX_NET], &default_interest());
}

#[test]
fn a_shell_pipeline_is_the_same_under_both_drivers() {
    let _lock = serial();
    if !both_available() {
        return;
    }
    let dir = Scratch::new("same-sh");
    let script = format!(
        "cd {d} && echo a > f && cat f | wc -c > g && ln -s f l && mv g h && rm -f f h l",
        d = dir.path().display()
    );
    assert_same_syscalls(&["sh", "-c", &script], &default_interest());
}

/// The embedded rules over `kind`, without the CLI in between (but as `lanner run` does it:
/// the engine is told that this process started the workload).
fn alerts_for(kind: Kind, argv: &[&str]) -> Vec<Alert> {
    common::use_driver(kind);
    let ruleset = engine::default_ruleset().expect("embedded rules");
    let interest = engine::interest(&ruleset);
    // The opens `lanner run` leaves out, left out here too.
    let open_filter = engine::open_filter(&ruleset);
    assert!(
        open_filter.is_some(),
        "the embedded rules allow an open filter"
    );
    common::use_open_filter(open_filter);
    let mut engine = Engine::new(ruleset);
    let mut driver = common::new_driver();
    common::use_open_filter(None);
    let started = driver
        .start(
            Target::Command(Command::new(argv.iter().copied())),
            &interest,
        )
        .expect("starts");
    if let Some(root) = started.root_pid {
        engine.adopt_workload(std::process::id(), root);
    }
    let mut alerts = Vec::new();
    loop {
        match driver
            .next_event(Duration::from_millis(100))
            .expect("events")
        {
            Next::Event(event) => engine.process(&event, &mut alerts),
            Next::Timeout => {}
            Next::End(_) => break,
        }
    }
    alerts
}

/// What identifies an alert across runs: the rule and the command line that raised it.
fn alert_keys(alerts: &[Alert]) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = alerts
        .iter()
        .map(|a| {
            // The command line and the ancestry: a short workload is gone from /proc by the
            // time the eBPF driver's events are read, and must still have its parents.
            let field = |name: &str| {
                a.output_fields
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_default()
            };
            let who = format!(
                "{} parent={} gparent={}",
                field("proc.cmdline"),
                field("proc.pname"),
                field("proc.aname[2]")
            );
            (a.rule.to_string(), who)
        })
        .collect();
    keys.sort();
    keys
}

#[test]
fn the_default_rules_raise_the_same_alerts_under_both_drivers() {
    let _lock = serial();
    if !both_available() {
        return;
    }
    let dir = Scratch::new("same-alerts");
    let script = format!(
        // The sensitive read four ways: the drivers' open filter judges the path as named, so
        // the three spellings that resolve to it must be kept (relative, `..`, `//`).
        "cd $(mktemp -d {d}/run-XXXXXX) && cat /etc/shadow > /dev/null; ln -s /etc/shadow shadow-link; \
         cat /tmp/../etc/shadow //etc//shadow > /dev/null; (cd /etc && cat shadow > /dev/null); \
         cp /bin/true /dev/shm/lanner-same-$$ && /dev/shm/lanner-same-$$; \
         rm -f /dev/shm/lanner-same-$$; cat /etc/hostname > /dev/null",
        d = dir.path().display()
    );
    let argv = ["sh", "-c", script.as_str()];
    let ptrace = alert_keys(&alerts_for(Kind::Ptrace, &argv));
    let ebpf = alert_keys(&alerts_for(Kind::Ebpf, &argv));
    // The open filter runs in the per-syscall mode's programs too.
    let per_syscall = alert_keys(&alerts_for(Kind::EbpfPerSyscall, &argv));
    let rules: Vec<&str> = ptrace.iter().map(|(r, _)| r.as_str()).collect();
    let reads = rules
        .iter()
        .filter(|&&r| r == "Read sensitive file untrusted")
        .count();
    assert_eq!(reads, 4, "each spelling of /etc/shadow read: {ptrace:#?}");
    for expected in [
        "Create Symlink Over Sensitive Files",
        "Execution from /dev/shm",
    ] {
        assert!(rules.contains(&expected), "{expected} missing: {ptrace:#?}");
    }
    // $$ differs between the runs; compare with it blanked.
    let blank = |keys: Vec<(String, String)>| -> Vec<(String, String)> {
        keys.into_iter()
            .map(|(r, c)| {
                let c: String = c
                    .split(' ')
                    .map(|w| {
                        if w.contains("lanner-same-") {
                            "/dev/shm/X"
                        } else {
                            w
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                (r, c)
            })
            .collect()
    };
    assert_eq!(blank(ebpf.clone()), blank(per_syscall));
    // And in the fentry mode's programs, where the kernel accepts them.
    if common::fentry_available() {
        let fentry = alert_keys(&alerts_for(Kind::EbpfFentry, &argv));
        assert_eq!(blank(ebpf.clone()), blank(fentry));
    }
    assert_eq!(blank(ptrace), blank(ebpf));
}

#[test]
fn int80_open_of_a_file_raises_the_32_bit_syscall_rule_under_both_drivers() {
    let _lock = serial();
    if !both_available() {
        return;
    }
    for kind in [Kind::Ptrace, Kind::Ebpf] {
        let alerts = alerts_for(kind, &[FX_INT80, "/etc/hostname"]);
        let alert = alerts
            .iter()
            .find(|a| a.rule == "32-bit syscall by workload")
            .unwrap_or_else(|| panic!("{kind:?}: no 32-bit alert in {alerts:?}"));
        assert!(alert.output.contains("syscall=open "), "{}", alert.output);
        assert!(
            alert.output.contains("file=/etc/hostname"),
            "{kind:?}: {}",
            alert.output
        );
        // The same open through the 64-bit ABI is not flagged.
        let benign = alerts_for(kind, &["cat", "/etc/hostname"]);
        assert!(
            !benign
                .iter()
                .any(|a| a.rule == "32-bit syscall by workload"),
            "{kind:?}: {benign:?}"
        );
    }
}
