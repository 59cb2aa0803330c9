//! The replay driver over the recorded workload (agent/benches/data): the reader gives back
//! what `--events-out` wrote, the driver yields it under an interest set, and the engine
//! raises from the replay the alerts the live run raised.

#[path = "../benches/data/recording.rs"]
mod recording;

use lanner::engine;
use lanner_common::driver::{collect, Target};
use lanner_common::json::EventJson;
use lanner_common::replay::ReplayDriver;
use lanner_common::time::WallClock;
use lanner_common::{Driver, EventKind, SyscallSet};

#[test]
fn recording_reads_back_as_written() {
    let file = std::fs::File::open(recording::path()).expect("recording");
    let text = std::io::read_to_string(flate2::read::GzDecoder::new(file)).expect("gunzip");
    let events = recording::events();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(events.len(), lines.len());
    let clock = WallClock::new();
    for (line, event) in lines.iter().zip(&events) {
        let mut written: serde_json::Value = serde_json::from_str(line).expect("JSON");
        let mut again = serde_json::to_value(EventJson {
            event,
            clock: &clock,
        })
        .expect("serializes");
        // `time` is the kernel timestamp dated by this boot's clock; `ts` is compared instead.
        for v in [&mut written, &mut again] {
            v.as_object_mut().expect("object").remove("time");
        }
        assert_eq!(written, again, "{line}");
    }
}

#[test]
fn replay_driver_yields_the_interest_set_and_the_end_status() {
    let events = recording::events();
    let syscalls = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Syscall(_)))
        .count();
    let mut driver = ReplayDriver::new(events.clone());
    let interest = SyscallSet::parse_names("execve").expect("names");
    driver
        .start(Target::System, &interest)
        .expect("replay starts");
    let (replayed, status) = collect(&mut driver).expect("replays");
    let execs = events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Syscall(s) if s.id.name() == "execve"))
        .count();
    assert_eq!(replayed.len(), events.len() - syscalls + execs);
    assert_eq!(driver.stats().filtered as usize, syscalls - execs);
    assert_eq!(status.map(|s| s.shell_code()), Some(0));
}

#[test]
fn replay_raises_the_live_runs_alerts() {
    let mut engine = recording::engine(engine::default_ruleset().expect("rules"));
    let mut alerts = Vec::new();
    for event in recording::events() {
        engine.process(&event, &mut alerts);
    }
    let mut names: Vec<&str> = alerts.iter().map(|a| a.rule.as_str()).collect();
    names.dedup();
    // cat /etc/shadow; dpkg and apt-cache; gcc's output executed.
    for rule in [
        "Read sensitive file untrusted",
        "Package manager run by workload",
        "Drop and execute new binary by workload",
    ] {
        assert!(names.contains(&rule), "{rule} not in {names:?}");
    }
}

/// `lanner replay FILE` re-evaluates a recording made by `lanner run --events-out FILE`: the
/// same rule fires, with rules given on the command line too.
#[test]
fn lanner_replay_re_evaluates_a_recording() {
    const LANNER: &str = env!("CARGO_BIN_EXE_lanner");
    if !lanner_driver_ptrace::probe().available_for_test() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("lanner-replay-cmd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let events = dir.join("events.jsonl");
    let run = std::process::Command::new(LANNER)
        .arg("run")
        .arg("--events-out")
        .arg(&events)
        .args(["--", "sh", "-c", "cat /etc/shadow > /dev/null"])
        .output()
        .expect("lanner run");
    assert!(run.status.success(), "{run:?}");
    let rules = dir.join("rules.yaml");
    std::fs::write(
        &rules,
        "- rule: cat ran\n  desc: d\n  condition: evt.type = execve and proc.name = cat\n  \
         output: cat ran (%proc.cmdline)\n  priority: NOTICE\n",
    )
    .expect("rules");
    let names = |extra: &[&std::ffi::OsStr]| {
        let out = std::process::Command::new(LANNER)
            .arg("replay")
            .arg(&events)
            .args(extra)
            .output()
            .expect("lanner replay");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["rule"].as_str().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&[]), ["Read sensitive file untrusted"]);
    assert_eq!(names(&["--rules".as_ref(), rules.as_os_str()]), ["cat ran"]);
    std::fs::remove_dir_all(dir).ok();
}
