//! The eBPF driver through the real `lanner` binary: a whole-system capture ended by SIGINT
//! that touches no process, and an agent killed with SIGKILL that leaves no program behind.
//! Only in builds with the eBPF driver (the ptrace-only build has nothing here to test).
#![cfg(feature = "ebpf")]

mod common;

use common::LANNER;
use lanner_common::driver::test_time;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One agent at a time: each test counts the programs loaded in the whole kernel.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads a pipe to its end on a thread, so that a chatty child never blocks on it.
fn drain(pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let mut pipe = pipe;
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

fn ebpf_available() -> bool {
    lanner_driver_ebpf::probe().available_for_test()
}

/// The ids of the BPF programs process `pid` holds open (from /proc/PID/fdinfo).
fn programs_held_by(pid: u32) -> Vec<u32> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return Vec::new();
    };
    fds.filter_map(|fd| std::fs::read_to_string(fd.ok()?.path()).ok())
        .filter_map(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("prog_id:"))
                .and_then(|id| id.trim().parse().ok())
        })
        .collect()
}

/// The ids of every BPF program loaded in the kernel right now.
fn loaded_programs() -> Vec<u32> {
    libbpf_rs::query::ProgInfoIter::default()
        .map(|info| info.id)
        .collect()
}

/// Waits until `pred` holds, or `timeout` (stretched: `test_time`).
fn eventually(timeout: Duration, pred: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + test_time(timeout);
    while Instant::now() < deadline {
        if pred() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    pred()
}

#[test]
fn sigkill_of_the_agent_leaves_no_program_attached() {
    let _lock = serial();
    if !ebpf_available() {
        return;
    }
    let pid_file = std::env::temp_dir().join(format!("lanner-ebpf-kill-{}", std::process::id()));
    let script = format!("echo $$ > {}; exec sleep 30", pid_file.display());
    let mut agent = Command::new(LANNER)
        .args(["run", "--driver", "ebpf", "--", "sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("lanner starts");
    // Other tests may load programs meanwhile: follow this agent's own, by id.
    let ours = std::cell::RefCell::new(Vec::new());
    assert!(
        eventually(Duration::from_secs(10), || {
            *ours.borrow_mut() = programs_held_by(agent.id());
            ours.borrow().len() >= 5
        }),
        "the agent's five programs were never loaded: {:?}",
        ours.borrow()
    );
    let ours = ours.into_inner();
    agent.kill().expect("SIGKILL");
    agent.wait().expect("reaped");
    // Links and programs are held by the agent's file descriptors only (nothing pinned): the
    // kernel releases them with the process.
    assert!(
        eventually(Duration::from_secs(10), || {
            let loaded = loaded_programs();
            !ours.iter().any(|id| loaded.contains(id))
        }),
        "programs left behind: {ours:?} still loaded"
    );
    // The orphaned workload goes too.
    if let Some(pid) = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
    {
        // SAFETY: kill(2) of the workload this test started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let _ = std::fs::remove_file(&pid_file);
}

#[test]
fn system_capture_sees_other_processes_and_ends_on_sigint_touching_nothing() {
    let _lock = serial();
    if !ebpf_available() {
        return;
    }
    let mut agent = Command::new(LANNER)
        .args(["run", "--driver", "ebpf", "--system", "--format", "text"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lanner starts");
    // The whole machine may be busy (alerts about other work go to stderr too).
    let stderr = drain(agent.stderr.take().expect("stderr"));
    let stdout = drain(agent.stdout.take().expect("stdout"));
    // A bystander that must survive the agent's end.
    // (It must outlive the test, however long that is stretched.)
    let mut bystander = Command::new("sleep")
        .arg(test_time(Duration::from_secs(20)).as_secs().to_string())
        .spawn()
        .expect("sleep");
    // Repeat the trigger until the agent (which needs a moment to load) has seen it.
    let mut trigger_runs = 0;
    let deadline = Instant::now() + test_time(Duration::from_secs(5));
    while Instant::now() < deadline {
        let status = Command::new("sh")
            .args(["-c", "cat /etc/shadow > /dev/null"])
            .status()
            .expect("sh");
        assert!(status.success());
        trigger_runs += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    // SAFETY: kill(2) on the agent's pid.
    unsafe { libc::kill(agent.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let status = agent.wait().expect("agent ends");
    assert!(
        started.elapsed() < test_time(Duration::from_secs(5)),
        "SIGINT ended the agent promptly"
    );
    assert!(status.success(), "{status:?}");
    let stderr = stderr.join().expect("stderr reader");
    let stdout = stdout.join().expect("stdout reader");
    assert!(stdout.is_empty(), "alerts never go to stdout: {stdout}");
    let alerts = stderr
        .lines()
        .filter(|l| {
            l.contains("Sensitive file opened for reading") && l.contains("file=/etc/shadow")
        })
        .count();
    assert!(
        alerts >= 1,
        "no alert for {trigger_runs} reads of /etc/shadow by other processes: {stderr}"
    );
    assert!(
        bystander.try_wait().expect("try_wait").is_none(),
        "a process outside any workload was touched"
    );
    let _ = bystander.kill();
    let _ = bystander.wait();
}

#[test]
fn per_syscall_mode_raises_the_alert_and_names_its_blind_spot() {
    let _lock = serial();
    if !ebpf_available() {
        return;
    }
    let out = Command::new(LANNER)
        .args([
            "run",
            "--driver",
            "ebpf",
            "--ebpf-mode",
            "per-syscall",
            "--ebpf-ring-mb",
            "1",
            "--",
            "sh",
            "-c",
            "cat /etc/shadow > /dev/null; exit 3",
        ])
        .output()
        .expect("lanner runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("\"rule\":\"Read sensitive file untrusted\""),
        "{stderr}"
    );
    if lanner_driver_ebpf::probe()
        .features
        .iter()
        .any(|f| f.name == "32-bit syscalls" && f.present)
    {
        assert!(
            stderr.contains("does not see"),
            "the 32-bit blind spot is named: {stderr}"
        );
    }
}

/// A whole-system capture leaves closes out too: each process gets its set of known
/// descriptors at its first traced call (or a copy of its parent's at fork).
#[test]
fn system_capture_leaves_closes_out() {
    let _lock = serial();
    if !ebpf_available() {
        return;
    }
    let events = std::env::temp_dir().join(format!("lanner-system-{}.jsonl", std::process::id()));
    let mut agent = Command::new(LANNER)
        .args(["run", "--driver", "ebpf", "--system", "--events-out"])
        .arg(&events)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("lanner starts");
    // Until the agent (which needs a moment to load) has seen a cat: then a few more.
    let seen_cat =
        || std::fs::read_to_string(&events).is_ok_and(|text| text.contains(r#""argv":["cat","#));
    let deadline = Instant::now() + test_time(Duration::from_secs(5));
    while !seen_cat() && Instant::now() < deadline {
        let status = Command::new("cat")
            .arg("/etc/hostname")
            .stdout(Stdio::null())
            .status()
            .expect("cat");
        assert!(status.success());
        std::thread::sleep(Duration::from_millis(100));
    }
    for _ in 0..3 {
        let _ = Command::new("cat")
            .arg("/etc/hostname")
            .stdout(Stdio::null())
            .status();
    }
    // SAFETY: kill(2) on the agent's pid.
    unsafe { libc::kill(agent.id() as i32, libc::SIGINT) };
    assert!(agent.wait().expect("agent ends").success());
    let text = std::fs::read_to_string(&events).expect("events file");
    std::fs::remove_file(&events).ok();
    let parsed: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let cats: std::collections::HashSet<u64> = parsed
        .iter()
        .filter(|e| e["type"] == "exec" && e["argv"][0] == "cat")
        .filter_map(|e| e["pid"].as_u64())
        .collect();
    assert!(!cats.is_empty(), "no cat seen");
    let of_cats = |call: &str| {
        parsed
            .iter()
            .filter(|e| e["syscall"] == call)
            .filter(|e| e["pid"].as_u64().is_some_and(|pid| cats.contains(&pid)))
            .count()
    };
    assert!(of_cats("openat") > 0, "cat's opens are reported");
    assert_eq!(of_cats("close"), 0, "cat's closes are left out");
}

/// The driver leaves closes out only while no rule matches them: with one that does, every
/// close is reported, with the state of the descriptor it closes.
#[test]
fn closes_are_reported_when_a_rule_matches_them() {
    let _lock = serial();
    if !ebpf_available() {
        return;
    }
    let rules = std::env::temp_dir().join(format!("lanner-close-rule-{}.yaml", std::process::id()));
    std::fs::write(
        &rules,
        "- rule: Hostname closed\n  desc: t\n  \
           condition: evt.type = close and fd.name = /etc/hostname\n  \
           output: \"closed %fd.name by %proc.name\"\n  priority: NOTICE\n",
    )
    .expect("rules file");
    let out = Command::new(LANNER)
        .args(["run", "--driver", "ebpf", "--format", "text", "--rules"])
        .arg(&rules)
        .args(["--", "cat", "/etc/hostname"])
        .output()
        .expect("lanner runs");
    std::fs::remove_file(&rules).ok();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("closed /etc/hostname by cat"), "{stderr}");
}

/// `lanner drivers` says whether the kernel takes trampoline (fentry) programs, by loading and
/// attaching one, and a kernel that refuses them still runs the driver (the probe program is
/// loaded alone, never with the others).
#[test]
fn a_one_shot_in_a_container_cgroup_is_judged_in_its_container() {
    let _guard = serial();
    if !ebpf_available() {
        return;
    }
    common::one_shot_in_a_container_cgroup_is_judged_in_its_container("ebpf");
}

#[test]
fn drivers_report_whether_fentry_programs_are_accepted() {
    if !ebpf_available() {
        return;
    }
    let out = Command::new(LANNER)
        .arg("drivers")
        .output()
        .expect("lanner runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("] fentry:"))
        .unwrap_or_else(|| panic!("no fentry line: {text}"));
    assert!(
        line.contains("[yes] fentry: trampoline programs on syscall functions are accepted")
            || (line.contains("[no ] fentry: trampoline programs are refused: ")
                && (line.contains("loading") || line.contains("attaching"))),
        "{line}"
    );
    assert!(text.contains("ebpf: available"), "{text}");
}

/// A workload whose last records are still in the ring buffer when its root is reaped: the
/// reader once forgot such a process (as if its exit record had been lost) before taking
/// those records, and the exit of the syscall in flight then counted as "a syscall's entry
/// was lost". A race: in a debug build it hit about one exec chain in ten, so eight chains
/// catch its return more often than not, not always. Each run must lose nothing.
#[test]
fn a_workload_ending_with_records_still_buffered_loses_nothing() {
    if !ebpf_available() {
        return;
    }
    let _one = serial();
    for run in 0..8 {
        // An exec chain cut off by its deadline. (A faster stream, such as open/close pairs,
        // outruns a debug build's engine and loses events to a full buffer, by design.)
        let workload = "execl";
        let seconds = test_time(Duration::from_millis(300))
            .as_secs_f64()
            .to_string();
        let out = Command::new(LANNER)
            .args(["run", "--driver", "ebpf", "--alerts-out", "/dev/null", "--"])
            .args([LANNER, "bench-workload", workload, "--seconds", &seconds])
            .env("LANNER_LOG", "info")
            .output()
            .expect("lanner runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "run {run}: {stderr}");
        let iterations: u64 = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .and_then(|count| count.parse().ok())
            .expect("the workload prints its count");
        // The chain ran, however slow the machine: an emulated one, reading a debug build
        // over 9p, has taken seconds for an exec.
        assert!(
            iterations >= 1,
            "run {run}: only {iterations} iterations of {workload}"
        );
        assert!(
            stderr.contains(" done") && stderr.contains("dropped=0"),
            "run {run} lost events: {stderr}"
        );
    }
}

/// `--ebpf-floor` (what `lanner bench --floors` measures): in both attach modes the programs
/// are attached, the workload runs as usual, processes are followed to their end, and no
/// syscall is reported, so the rule the same run raises without it stays silent.
#[test]
fn the_floor_mode_follows_processes_and_reports_no_syscall() {
    let _lock = serial();
    if !ebpf_available() {
        return;
    }
    for mode in ["raw", "per-syscall"] {
        let events =
            std::env::temp_dir().join(format!("lanner-floor-{mode}-{}.jsonl", std::process::id()));
        let run = |floor: bool| {
            let mut cmd = Command::new(LANNER);
            cmd.args([
                "run",
                "--driver",
                "ebpf",
                "--ebpf-mode",
                mode,
                "--format",
                "text",
            ])
            .arg("--events-out")
            .arg(&events);
            if floor {
                cmd.arg("--ebpf-floor");
            }
            let out = cmd
                .args(["--", "sh", "-c", "cat /etc/shadow >/dev/null; echo ran"])
                .output()
                .expect("lanner runs");
            let written = std::fs::read_to_string(&events).expect("events file");
            (out, written)
        };
        let (out, written) = run(true);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{mode}: {stderr}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n", "{mode}");
        assert!(!stderr.contains("/etc/shadow"), "{mode}: {stderr}");
        let kinds: Vec<serde_json::Value> = written
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
            .map(|v| v["type"].clone())
            .collect();
        assert!(kinds.iter().any(|k| k == "exec"), "{mode}: {written}");
        assert!(kinds.iter().any(|k| k == "exit"), "{mode}: {written}");
        assert!(!kinds.iter().any(|k| k == "syscall"), "{mode}: {written}");

        // The same run without the floor: the alert and the syscalls are there.
        let (out, written) = run(false);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("/etc/shadow"), "{mode}: {stderr}");
        assert!(written.contains("\"syscall\""), "{mode}: {written}");
        std::fs::remove_file(&events).ok();
    }
}

/// A whole-system capture ended by SIGINT keeps what happened just before: records are written
/// without waking the reader, so the last ones may still be in the ring buffer (or in the
/// reader's reorder window) when the stop comes, and the reader takes them all before it ends.
/// Each round opens a file of its own and interrupts the agent as soon as the opener has ended.
#[test]
fn system_capture_keeps_what_happened_just_before_sigint() {
    use std::io::BufRead;
    let _lock = serial();
    if !ebpf_available() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("lanner-last-words-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    for round in 0..5 {
        let events = dir.join(format!("events-{round}.jsonl"));
        let marker = dir.join(format!("marker-{round}"));
        std::fs::write(&marker, "x").expect("marker file");
        let mut agent = Command::new(LANNER)
            .args(["run", "--driver", "ebpf", "--system", "--events-out"])
            .arg(&events)
            .env("LANNER_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("lanner starts");
        // Tracing has begun once the agent says it started.
        let mut reader = std::io::BufReader::new(agent.stderr.take().expect("stderr"));
        let mut log = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).expect("a log line") == 0 {
                break;
            }
            log.push_str(&line);
            if line.contains(" started") {
                break;
            }
        }
        assert!(log.contains(" started"), "{log}");
        let rest = drain(reader);
        let status = Command::new("cat")
            .arg(&marker)
            .stdout(Stdio::null())
            .status()
            .expect("cat");
        assert!(status.success());
        // SAFETY: kill(2) on the agent's pid.
        unsafe { libc::kill(agent.id() as i32, libc::SIGINT) };
        let status = agent.wait().expect("agent ends");
        let log = log + &rest.join().expect("stderr reader");
        assert!(status.success(), "{status:?}: {log}");
        let written = std::fs::read_to_string(&events).expect("events file");
        assert!(
            written.contains(marker.to_str().expect("utf-8")),
            "round {round}: the open of {} just before SIGINT is missing ({} events)",
            marker.display(),
            written.lines().count()
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
