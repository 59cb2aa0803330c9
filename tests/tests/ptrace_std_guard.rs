//! The ptrace driver's standard-descriptor guard (driver-ptrace/src/guard.rs): `dup`, reported
//! only with results 0 to 2, stops no tracee while the workload's standard descriptors are all
//! open, and stops at every call when the workload starts with one closed. (That a `dup` onto a
//! descriptor freed later is still reported, however it was freed, is held for both drivers in
//! `drivers.rs`.) One test in this binary: it closes its own standard input for a while.

use lanner_common::driver::{collect, Command, Driver, Target};
use lanner_common::{ResultFilter, SyscallId, SyscallSet};
use lanner_driver_ptrace::PtraceDriver;

const FX_STD_GUARD: &str = env!("CARGO_BIN_EXE_fx-std-guard");
const ROUNDS: u64 = 5000;

/// Runs `fx-std-guard loop ROUNDS` (close(dup(2)) with descriptors 0-2 open in the fixture);
/// returns the stops that produced no event, and the dups reported.
fn dup_loop() -> (u64, usize) {
    let mut driver = PtraceDriver::new();
    driver.set_lazy_closes(true);
    driver.set_result_filters(vec![ResultFilter {
        id: SyscallId::from_name("dup").expect("dup"),
        lo: 0,
        hi: 2,
    }]);
    let interest = SyscallSet::parse_names("dup").expect("names");
    let rounds = ROUNDS.to_string();
    driver
        .start(
            Target::Command(Command::new([FX_STD_GUARD, "loop", rounds.as_str()])),
            &interest,
        )
        .expect("starts");
    let (events, status) = collect(&mut driver).expect("runs");
    assert_eq!(status.map(|s| s.shell_code()), Some(0));
    let dups = events
        .iter()
        .filter(
            |e| matches!(&e.kind, lanner_common::EventKind::Syscall(sc) if sc.id.name() == "dup"),
        )
        .count();
    let stats = driver.stats();
    assert_eq!(stats.dropped, 0, "{stats:?}");
    (stats.filtered, dups)
}

#[test]
fn dup_stops_only_where_a_standard_descriptor_may_be_free() {
    if !lanner_driver_ptrace::probe().available_for_test() {
        return;
    }
    let (stops, dups) = dup_loop();
    assert_eq!(dups, 0, "every result was 3");
    assert!(
        stops < ROUNDS / 50,
        "{stops} fruitless stops for {ROUNDS} dups: the guard did not keep dup from stopping"
    );

    // The workload inherits a closed standard input: any dup may return 0, so every one stops
    // (the fixture's runtime reopens 0 on /dev/null before main, so each returns 3 and is left
    // out at its exit stop).
    // SAFETY: this binary's only test; descriptor 0 is put back below.
    let saved = unsafe { libc::dup(0) };
    assert!(saved > 2, "dup(0): {saved}");
    // SAFETY: closing our own standard input, restored below.
    unsafe { libc::close(0) };
    let closed = std::panic::catch_unwind(dup_loop);
    // SAFETY: restoring descriptor 0 from our own copy.
    unsafe {
        libc::dup2(saved, 0);
        libc::close(saved);
    }
    let (stops, dups) = closed.expect("the run with standard input closed");
    assert_eq!(dups, 0);
    assert!(
        stops >= ROUNDS,
        "{stops} stops for {ROUNDS} dups with standard input closed at start"
    );
}
