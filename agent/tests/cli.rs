//! The command line as users and scripts see it: exit codes, stdout left to the workload, the
//! events file, signal forwarding, error messages. Every test runs the real binary under the
//! real ptrace driver.

mod common;

use common::{ptrace_available, stderr, LANNER};

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn lanner(args: &[&str]) -> Output {
    Command::new(LANNER)
        .args(args)
        .output()
        .expect("lanner runs")
}

/// `lanner rules syscalls`: what the drivers trace for the embedded rules, and why: the rules
/// behind each syscall, the state behind the others, the calls left out by their result, the
/// opens reported. Needs no driver.
#[test]
fn rules_syscalls_explains_what_is_traced_and_why() {
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/default.yaml");
    let out = lanner(&["rules", "syscalls", rules]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no line for {name}:\n{text}"))
            .to_owned()
    };
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.contains("syscalls traced (")),
        "{text}"
    );
    assert!(
        line("openat").contains("Read sensitive file untrusted"),
        "{text}"
    );
    assert!(line("close").contains("(state)"), "{text}");
    assert!(
        line("dup").contains("[only results 0..=2; ptrace stops it only where"),
        "{text}"
    );
    assert!(line("chmod").contains("[only results = 0]"), "{text}");
    let opens = line("opens");
    assert!(opens.contains("/etc/shadow* (read)"), "{opens}");
    assert!(opens.contains("any open that writes or creates"), "{opens}");
    assert!(
        opens.contains("reads of directories (O_DIRECTORY"),
        "{opens}"
    );

    let out = lanner(&["rules", "syscalls", "/nonexistent/lanner-rules.yaml"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("/nonexistent/lanner-rules.yaml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn exit_status_is_the_workloads() {
    if !ptrace_available() {
        return;
    }
    let out = lanner(&["run", "--driver", "ptrace", "--", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    let out = lanner(&["run", "--driver", "ptrace", "--", "sh", "-c", "kill -9 $$"]);
    assert_eq!(out.status.code(), Some(128 + 9), "{}", stderr(&out));
}

#[test]
fn stdout_belongs_to_the_workload() {
    if !ptrace_available() {
        return;
    }
    let out = lanner(&[
        "run",
        "--driver",
        "ptrace",
        "--",
        "sh",
        "-c",
        "echo hello; cat /etc/hostname >/dev/null; echo world",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\nworld\n");
}

#[test]
fn missing_command_exits_127_and_names_it() {
    if !ptrace_available() {
        return;
    }
    let out = lanner(&["run", "--driver", "ptrace", "--", "no-such-command-lanner"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(
        stderr(&out).contains("no-such-command-lanner"),
        "{}",
        stderr(&out)
    );
    let out = lanner(&["run", "--driver", "ptrace", "--", "/etc/hostname"]);
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
}

#[test]
fn unknown_syscall_name_is_an_error_that_names_it() {
    let out = lanner(&["run", "--syscalls", "openat,frobnicate", "--", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("frobnicate"), "{}", stderr(&out));
}

#[test]
fn no_command_is_an_error() {
    let out = lanner(&["run", "--driver", "ptrace"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("no command"), "{}", stderr(&out));
}

#[test]
fn events_file_holds_syscalls_and_lifecycle_of_the_tree() {
    if !ptrace_available() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("lanner-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let events = dir.join("events.jsonl");
    let out = lanner(&[
        "run",
        "--driver",
        "ptrace",
        "--events-out",
        events.to_str().expect("utf-8 path"),
        "--",
        "sh",
        "-c",
        "cat /etc/hostname > /dev/null; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = std::fs::read_to_string(&events).expect("events file");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    fn of_kind<'a>(
        lines: &'a [serde_json::Value],
        t: &'a str,
    ) -> impl Iterator<Item = &'a serde_json::Value> + 'a {
        lines.iter().filter(move |e| e["type"] == t)
    }
    let of_type = |t: &'static str| of_kind(&lines, t);
    let cat_open = of_type("syscall")
        .find(|e| e["syscall"] == "openat" && e["args"]["name"] == "/etc/hostname")
        .expect("cat's openat of /etc/hostname");
    assert!(cat_open["ret"].as_i64().expect("ret") >= 0);
    assert!(cat_open["pid"].as_u64().is_some() && cat_open["time"].is_string());
    let execs: Vec<_> = of_type("exec").map(|e| e["argv"][0].clone()).collect();
    assert!(
        execs.contains(&"sh".into()) && execs.contains(&"cat".into()),
        "{execs:?}"
    );
    assert!(of_type("fork").count() >= 1);
    // Both processes end, the shell with its status.
    assert!(of_type("exit").any(|e| e["code"] == 3), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn sigterm_to_the_agent_reaches_the_workload() {
    if !ptrace_available() {
        return;
    }
    let mut child = Command::new(LANNER)
        .args([
            "run",
            "--driver",
            "ptrace",
            "--",
            "sh",
            "-c",
            "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lanner starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read ready");
    assert_eq!(line, "ready\n");
    // SAFETY: kill with integer arguments.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the workload did not end on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(42));
}

/// `lanner ARGS...` as user nobody, whom the kernel refuses BPF; `None` (said why) where that
/// cannot be arranged.
fn lanner_as_nobody(args: &[&std::ffi::OsStr]) -> Option<Output> {
    use std::os::unix::process::CommandExt;
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: becoming an unprivileged user to be refused needs root");
        return None;
    }
    let out = match Command::new(LANNER)
        .args(args)
        .env("LANNER_LOG", "info")
        .uid(65534)
        .gid(65534)
        .output()
    {
        Ok(out) => out,
        Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
            eprintln!("SKIPPED: {LANNER} is not executable by nobody here: {err}");
            return None;
        }
        Err(err) => panic!("lanner runs: {err}"),
    };
    if out.status.code() == Some(126) || stderr(&out).contains("Permission denied") {
        eprintln!("SKIPPED: nobody cannot run {LANNER} here: {}", stderr(&out));
        return None;
    }
    Some(out)
}

/// A file the workload appends a line to, so that a test can count how often it ran.
fn marker(tag: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("lanner-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// `--driver ebpf` is not probed first (a probe loads every program, doubling the start-up):
/// where the kernel refuses the programs, starting says so, with libbpf's words, and the
/// workload never runs.
#[test]
fn an_ebpf_driver_the_kernel_refuses_names_why_and_starts_nothing() {
    let ran = marker("refused");
    let script = format!("echo ran >> {}", ran.display());
    let args = ["run", "--driver", "ebpf", "--", "sh", "-c", &script].map(std::ffi::OsStr::new);
    let Some(out) = lanner_as_nobody(&args) else {
        return;
    };
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("the ebpf driver is unavailable") && err.contains("libbpf said"),
        "{err}"
    );
    assert!(!ran.exists(), "the workload ran: {err}");
}

/// `auto` starts the eBPF driver without a probe; refused, it runs the workload under ptrace,
/// once, and says which driver and why.
#[test]
fn auto_falls_back_to_ptrace_when_the_kernel_refuses_ebpf() {
    let ran = marker("fallback");
    let script = format!("echo ran >> {}", ran.display());
    let args = ["run", "--", "sh", "-c", &script].map(std::ffi::OsStr::new);
    let Some(out) = lanner_as_nobody(&args) else {
        return;
    };
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("driver: ptrace (ebpf unavailable: "), "{err}");
    assert!(err.contains("done driver=\"ptrace\""), "{err}");
    let runs = std::fs::read_to_string(&ran).expect("the workload ran");
    assert_eq!(runs, "ran\n", "the workload ran once: {err}");
    let _ = std::fs::remove_file(&ran);
}

#[test]
fn drivers_lists_ptrace_with_its_features() {
    let out = lanner(&["drivers"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ptrace: "), "{text}");
    assert!(text.contains("ebpf: "), "{text}");
    assert!(text.contains("seccomp"), "{text}");
}

#[test]
fn rules_check_names_file_line_and_column_of_an_error() {
    let dir = std::env::temp_dir().join(format!("lanner-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("bad.yaml");
    std::fs::write(
        &file,
        "- rule: broken\n  desc: d\n  condition: evt.type = open and (\n  output: o\n  priority: WARNING\n",
    )
    .expect("write rules");
    let out = lanner(&["rules", "check", file.to_str().expect("utf-8")]);
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(err.contains("bad.yaml:3:"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn default_rules_alert_on_stderr_and_never_on_stdout() {
    if !ptrace_available() {
        return;
    }
    let out = lanner(&[
        "run",
        "--driver",
        "ptrace",
        "--",
        "sh",
        "-c",
        "cat /etc/shadow > /dev/null; echo clean",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "clean\n");
    let alert: serde_json::Value = stderr(&out)
        .lines()
        .find(|l| l.contains("Read sensitive file untrusted"))
        .map(|l| serde_json::from_str(l).expect("the alert line is JSON"))
        .unwrap_or_else(|| panic!("no alert in: {}", stderr(&out)));
    assert_eq!(alert["priority"], "Warning");
    assert_eq!(alert["output_fields"]["fd.name"], "/etc/shadow");
    assert_eq!(alert["output_fields"]["proc.name"], "cat");
}

#[test]
fn a_one_shot_in_a_container_cgroup_is_judged_in_its_container_under_ptrace() {
    if !ptrace_available() {
        return;
    }
    common::one_shot_in_a_container_cgroup_is_judged_in_its_container("ptrace");
}

#[test]
fn alerts_out_file_in_text_format() {
    if !ptrace_available() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("lanner-alerts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("alerts.txt");
    let out = lanner(&[
        "run",
        "--driver",
        "ptrace",
        "--format",
        "text",
        "--alerts-out",
        file.to_str().expect("utf-8"),
        "--",
        "cat",
        "/etc/shadow",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("Sensitive file"),
        "alert went to stderr too"
    );
    let text = std::fs::read_to_string(&file).expect("alerts file");
    assert!(
        text.contains(": Warning Sensitive file opened for reading by non-trusted program"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn ebpf_ring_size_must_be_a_power_of_two_and_says_so() {
    let out = lanner(&[
        "run",
        "--driver",
        "ebpf",
        "--ebpf-ring-mb",
        "3",
        "--",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let err = stderr(&out);
    assert!(err.contains("--ebpf-ring-mb"), "{err}");
    assert!(err.contains("power of two"), "{err}");
}
