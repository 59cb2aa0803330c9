//! The embedded rules over the real ptrace driver, without the CLI in between: events from real
//! processes go through the engine, alerts come out.

use lanner::engine::{self, Alert, Engine};
use lanner_common::driver::{Command, Driver, Next, Target};
use lanner_driver_ptrace::PtraceDriver;
use std::time::Duration;

fn alerts_for(argv: &[&str]) -> Vec<Alert> {
    let ruleset = engine::default_ruleset().expect("embedded rules");
    let interest = engine::interest(&ruleset);
    let mut engine = Engine::new(ruleset);
    let mut driver = PtraceDriver::new();
    driver
        .start(
            Target::Command(Command::new(argv.iter().copied())),
            &interest,
        )
        .expect("starts");
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

#[test]
fn int80_open_of_a_file_raises_the_32_bit_syscall_rule() {
    let report = lanner_driver_ptrace::probe();
    if !report.available {
        eprintln!("SKIPPED: the ptrace driver cannot run here: {report}");
        return;
    }
    let alerts = alerts_for(&[env!("CARGO_BIN_EXE_fx-int80"), "/etc/hostname"]);
    let alert = alerts
        .iter()
        .find(|a| a.rule == "32-bit syscall by workload")
        .unwrap_or_else(|| panic!("no 32-bit alert in {alerts:?}"));
    assert!(alert.output.contains("syscall=open "), "{}", alert.output);
    assert!(
        alert.output.contains("file=/etc/hostname"),
        "{}",
        alert.output
    );
    // The same open through the 64-bit ABI is not flagged.
    let benign = alerts_for(&["cat", "/etc/hostname"]);
    assert!(
        !benign
            .iter()
            .any(|a| a.rule == "32-bit syscall by workload"),
        "{benign:?}"
    );
}
