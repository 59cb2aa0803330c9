//! The ptrace driver lets reads of directories through its seccomp filter without a stop when
//! the open filter leaves them out (`OpenFilter::directories_left_out`): `find` over a tree of
//! directories stops for none of them. (That both drivers leave the same opens out is held in
//! `drivers.rs`.)

use lanner_common::driver::{collect, Command, Driver, Target};
use lanner_common::{OpenCall, OpenFilter, SyscallId, SyscallSet};
use lanner_driver_ptrace::PtraceDriver;

const DIRECTORIES: usize = 60;

/// One traced workload at a time: two ptrace drivers in one process see each other's
/// children in `wait(-1)`.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An open filter on `openat` with no path rule (every open left out but those it must keep),
/// leaving out reads of directories or not.
fn openat_filter(directories_left_out: bool) -> OpenFilter {
    let openat = SyscallId::from_name("openat").expect("openat");
    OpenFilter::new(
        vec![OpenCall {
            id: openat,
            path: 1,
            flags: Some(2),
        }],
        Vec::new(),
        false,
    )
    .leaving_out_directories(directories_left_out)
}

/// Runs `find` over a tree of DIRECTORIES directories under an open filter with no path rule;
/// returns the opens of the tree reported (`find` names them relative to their parent, and
/// such paths are kept unless reads of directories are left out; its own open of `.`, a
/// relative read of no directory, is kept either way) and the stops that produced no event.
fn find(tree: &std::path::Path, directories_left_out: bool) -> (usize, u64) {
    let mut driver = PtraceDriver::new();
    driver.set_open_filter(Some(openat_filter(directories_left_out)));
    let interest = SyscallSet::parse_names("openat").expect("names");
    let root = tree.display().to_string();
    driver
        .start(
            Target::Command(Command::new([
                "sh",
                "-c",
                &format!("find {root} -type d > /dev/null"),
            ])),
            &interest,
        )
        .expect("starts");
    let (events, status) = collect(&mut driver).expect("runs");
    assert_eq!(status.map(|s| s.shell_code()), Some(0));
    let opens = events
        .iter()
        .filter_map(|e| match &e.kind {
            lanner_common::EventKind::Syscall(call) => call.arg("name").and_then(|v| v.as_bytes()),
            _ => None,
        })
        .filter(|name| *name != b".")
        .count();
    (opens, driver.stats().filtered)
}

#[test]
fn reads_of_directories_do_not_stop_when_left_out() {
    let _lock = serial();
    if !lanner_driver_ptrace::probe().available_for_test() {
        return;
    }
    let tree = std::env::temp_dir().join(format!("lanner-dirs-{}", std::process::id()));
    for i in 0..DIRECTORIES {
        std::fs::create_dir_all(tree.join(format!("d{}/e{i}", i % 6))).expect("a directory");
    }
    let (kept, fruitless_kept) = find(&tree, false);
    let (reported, fruitless) = find(&tree, true);
    std::fs::remove_dir_all(&tree).ok();
    assert!(
        kept >= DIRECTORIES,
        "without the word, each directory read is kept: {kept} reported"
    );
    assert_eq!(reported, 0, "with it, none is");
    // The other opens (the loader's, find's own) stop either way. Left out at an entry stop,
    // each directory read would add one stop without an event.
    assert!(
        fruitless <= fruitless_kept + DIRECTORIES as u64 / 4,
        "and none stops: {fruitless} stops without an event, against {fruitless_kept} when \
         the directories were kept, for {DIRECTORIES} directories"
    );
}

/// The seccomp filter is fixed at start: a reload whose rules need reads of directories is
/// refused with a reason, one that still leaves them out is taken.
#[test]
fn a_reload_that_needs_directories_again_is_refused() {
    let _lock = serial();
    if !lanner_driver_ptrace::probe().available_for_test() {
        return;
    }
    let filter = openat_filter;
    let mut driver = PtraceDriver::new();
    driver.set_open_filter(Some(filter(true)));
    let interest = SyscallSet::parse_names("openat").expect("names");
    driver
        .start(Target::Command(Command::new(["sleep", "5"])), &interest)
        .expect("starts");
    assert!(driver.update_open_filter(Some(filter(true))).is_ok());
    let refused = driver
        .update_open_filter(Some(filter(false)))
        .expect_err("refused");
    assert!(refused.to_string().contains("restart"), "{refused}");
    assert!(
        driver.update_open_filter(None).is_err(),
        "keeping every open"
    );
    driver.stop().expect("stops");
}
