//! Syscalls marked entry-only are reported at their seccomp stop, without waiting for the
//! result (one ptrace stop instead of two); the others still carry their return value.

use lanner_common::driver::{collect, Command, Driver, Target};
use lanner_common::{EventKind, SyscallSet};
use lanner_driver_ptrace::PtraceDriver;

#[test]
fn close_is_reported_at_entry_and_openat_with_its_result() {
    if !lanner_driver_ptrace::probe().available_for_test() {
        return;
    }
    let mut driver = PtraceDriver::new();
    driver.set_entry_only(SyscallSet::parse_names("close").expect("names"));
    let interest = SyscallSet::parse_names("openat,close").expect("names");
    let started = driver
        .start(
            Target::Command(Command::new(["cat", "/etc/hostname"])),
            &interest,
        )
        .expect("starts");
    assert!(started.root_pid.is_some());
    let (events, status) = collect(&mut driver).expect("runs");
    assert_eq!(status.map(|s| s.shell_code()), Some(0));
    let calls: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Syscall(call) => Some(call),
            _ => None,
        })
        .collect();
    let closes: Vec<_> = calls.iter().filter(|c| c.id.name() == "close").collect();
    let opens: Vec<_> = calls.iter().filter(|c| c.id.name() == "openat").collect();
    assert!(!closes.is_empty() && !opens.is_empty(), "{calls:?}");
    for close in closes {
        assert!(close.entry_only, "{close:?}");
        assert_eq!(close.errno(), None);
    }
    let hostname = opens
        .iter()
        .find(|o| o.arg("name").and_then(|v| v.as_bytes()) == Some(&b"/etc/hostname"[..]))
        .expect("cat opened /etc/hostname");
    assert!(!hostname.entry_only);
    assert!(hostname.ret >= 3, "{hostname:?}");
}
