//! "No allocation per event on the common path": a counting global allocator watches the
//! engine replay the recorded workload (agent/benches/data) a second time, after a first replay
//! has warmed its tables, and counts what each event allocates.
//!
//! One test per file: the allocator is global, so the count is kept per thread and only the
//! replaying thread's allocations count. `ALLOC_DEBUG=1` prints every quiet event that
//! allocated, to find the next hot spot.

#[path = "../benches/data/recording.rs"]
mod recording;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;

use lanner::engine::{self, Engine};
use lanner_common::driver::Target;
use lanner_common::replay::ReplayDriver;
use lanner_common::{Driver, Event, EventKind};
use lanner_rules::Ruleset;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is passed to the system allocator unchanged; the counter is a
// thread-local Cell with no destructor, which allocating cannot re-enter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn kind(event: &Event) -> String {
    match &event.kind {
        EventKind::Syscall(sc) => sc.id.name().to_owned(),
        EventKind::Fork(_) => "<fork>".to_owned(),
        EventKind::Exec(_) => "<exec>".to_owned(),
        EventKind::Exit(_) => "<exit>".to_owned(),
        EventKind::Drop(_) => "<drop>".to_owned(),
        _ => "<other>".to_owned(),
    }
}

/// Per-event allocation counts on the second replay: (events, allocations) by event kind, for
/// events that raised no alert; and the total over alerting events.
struct Counts {
    quiet: BTreeMap<String, (u64, u64)>,
    alerting: (u64, u64),
}

fn second_replay(ruleset: Ruleset) -> Counts {
    let mut driver = ReplayDriver::new(recording::events());
    driver
        .start(Target::System, &engine::interest(&ruleset))
        .expect("replay starts");
    let events = lanner_common::driver::collect(&mut driver)
        .expect("replays")
        .0;
    let mut engine: Engine = recording::engine(ruleset);
    let mut alerts = Vec::new();
    for event in &events {
        engine.process(event, &mut alerts);
        alerts.clear();
    }
    let mut counts = Counts {
        quiet: BTreeMap::new(),
        alerting: (0, 0),
    };
    for event in &events {
        let before = allocations();
        engine.process(event, &mut alerts);
        let n = allocations() - before;
        if n > 0 && std::env::var_os("ALLOC_DEBUG").is_some() && alerts.is_empty() {
            eprintln!("{n}: {event:?}");
        }
        let slot = if alerts.is_empty() {
            counts.quiet.entry(kind(event)).or_default()
        } else {
            &mut counts.alerting
        };
        slot.0 += 1;
        slot.1 += n;
        alerts.clear();
    }
    counts
}

fn check(name: &str, ruleset: Ruleset) {
    let counts = second_replay(ruleset);
    let (events, allocs) = counts
        .quiet
        .values()
        .fold((0, 0), |(e, a), &(de, da)| (e + de, a + da));
    eprintln!(
        "{name}: {events} events raised no alert and allocated {allocs} times; \
         {} alerting events allocated {} times",
        counts.alerting.0, counts.alerting.1
    );
    for (kind, (n, a)) in &counts.quiet {
        if *a > 0 {
            eprintln!("  {kind}: {a} allocations over {n} events");
        }
    }
    // The common path is a syscall that raises nothing; most of them are openat and close.
    // close frees and never allocates. openat stores a path, in a buffer reused from closed
    // fds: it allocates only when none is free (a burst of new processes) or when it records
    // a newly written file. Syscalls overall stay far below one allocation per ten events;
    // what is left (dup2 of a pipe that /proc must name, chdir, unlink paths) is rare.
    let quiet = |name: &str| counts.quiet.get(name).copied().unwrap_or((0, 0));
    assert_eq!(quiet("close").1, 0, "{name}: close allocated");
    let (opens, open_allocs) = quiet("openat");
    assert!(
        open_allocs * 20 <= opens,
        "{name}: {open_allocs} allocations over {opens} openat events"
    );
    let (calls, call_allocs) = counts
        .quiet
        .iter()
        .filter(|(k, _)| !k.starts_with('<'))
        .fold((0, 0), |(e, a), (_, &(de, da))| (e + de, a + da));
    assert!(
        call_allocs * 10 <= calls,
        "{name}: {call_allocs} allocations over {calls} quiet syscalls"
    );
    eprintln!(
        "  quiet syscalls: {call_allocs} allocations over {calls} events; openat {open_allocs} \
         over {opens}; close 0 over {}",
        quiet("close").0
    );
}

#[test]
fn replaying_allocates_nothing_per_quiet_event() {
    check(
        "default rules",
        engine::default_ruleset().expect("embedded rules"),
    );
    check(
        "upstream + default rules",
        recording::upstream_and_default(),
    );
}
