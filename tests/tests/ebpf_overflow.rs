//! A ring buffer too small for a storm: the eBPF driver never slows the workload, so records
//! that do not fit are lost, and every one of them is counted and reported as a drop event
//! ("the ring buffer was full"), in the stream and in the driver's count.

mod common;

use std::os::unix::ffi::OsStrExt;

use lanner_common::driver::{collect, Command, Driver, Target};
use lanner_common::{EventKind, SyscallSet};
use lanner_driver_ebpf::{EbpfDriver, Options};

const FX_STORM: &str = env!("CARGO_BIN_EXE_fx-storm");

#[test]
fn a_storm_that_overflows_a_one_page_ring_is_counted_as_drops() {
    if !lanner_driver_ebpf::probe().available_for_test() {
        return;
    }
    let dir = common::Scratch::new("overflow");
    let count = dir.path().join("count");
    let script = format!(
        "{FX_STORM} {} 2 0.3 > {}",
        dir.path().display(),
        count.display()
    );
    // One page: room for a couple of dozen open records at a time.
    let mut driver = EbpfDriver::new(Options {
        ring_bytes: 4096,
        ..Default::default()
    });
    let interest = SyscallSet::parse_names("openat").expect("names");
    driver
        .start(
            Target::Command(Command::new(["sh", "-c", &script])),
            &interest,
        )
        .expect("starts");
    let (events, status) = collect(&mut driver).expect("runs");
    let stats = driver.stats();
    assert_eq!(status.map(|s| s.shell_code()), Some(0));

    let opens = common::storm_opens(&count) as u64;
    let prefix = dir.path().join("storm-");
    let seen = events
        .iter()
        .filter(|ev| match &ev.kind {
            EventKind::Syscall(sc) if sc.id.name() == "openat" => {
                common::path_arg(sc, "name").starts_with(prefix.as_os_str().as_bytes())
            }
            _ => false,
        })
        .count() as u64;
    let drops: Vec<_> = events
        .iter()
        .filter_map(|ev| match &ev.kind {
            EventKind::Drop(d) => Some(d),
            _ => None,
        })
        .collect();
    let lost: u64 = drops.iter().map(|d| d.count).sum();

    assert!(lost > 0, "{opens} opens fit in one page: {seen} seen");
    assert!(
        drops
            .iter()
            .all(|d| d.reason.contains("ring buffer was full")),
        "{drops:?}"
    );
    assert_eq!(
        lost, stats.dropped,
        "drop events and the driver's count agree"
    );
    // A lost record is a whole open or half of one (its entry or its exit).
    assert!(seen < opens, "{seen} seen of {opens}");
    assert!(
        seen + lost >= opens,
        "{seen} seen + {lost} lost < {opens} opens"
    );
}
