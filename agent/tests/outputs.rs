//! Outputs that feed pipelines, run for real: alerts POSTed to an HTTP receiver on 127.0.0.1
//! that checks them as Falcosidekick does, alerts piped to a program, the Prometheus endpoint
//! scraped during a run, the stats line, and rules reloaded on a signal. Every test runs the
//! real binary under the real ptrace driver.

mod common;

use common::{ptrace_available, stderr, LANNER};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SHADOW_RULE: &str = "Read sensitive file untrusted";

/// The agent, with no proxy from the environment between it and the local receivers.
fn lanner(args: &[&str]) -> Output {
    let mut command = Command::new(LANNER);
    for var in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        command.env_remove(var);
    }
    command.args(args).output().expect("lanner runs")
}

/// A fresh directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lanner-outputs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A local port nobody listens on (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// An HTTP receiver that accepts what Falcosidekick's `/` accepts: a POST whose JSON body has a
/// known `priority`, a non-empty `rule`, a `time` and non-empty `output_fields` (its
/// `FalcoPayload.Check`), and refuses the rest with 400 as it does.
struct Sidekick {
    alerts: Arc<Mutex<Vec<serde_json::Value>>>,
    content_types: Arc<Mutex<Vec<String>>>,
}

/// How the receiver answers.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// As Falcosidekick does.
    Check,
    /// 400 to everything (a receiver that will never take these alerts).
    Refuse,
}

const PRIORITIES: [&str; 8] = [
    "Emergency",
    "Alert",
    "Critical",
    "Error",
    "Warning",
    "Notice",
    "Informational",
    "Debug",
];

fn falcosidekick_accepts(body: &serde_json::Value) -> bool {
    let priority_ok = body["priority"]
        .as_str()
        .is_some_and(|p| PRIORITIES.iter().any(|k| k.eq_ignore_ascii_case(p)));
    let rule_ok = body["rule"].as_str().is_some_and(|r| !r.is_empty());
    // RFC 3339, as Go's time.Time reads it; a zero time is refused.
    let time_ok = body["time"].as_str().is_some_and(|t| {
        t.len() >= 20 && t.as_bytes().get(10) == Some(&b'T') && !t.starts_with("0001")
    });
    let fields_ok = body["output_fields"]
        .as_object()
        .is_some_and(|f| !f.is_empty());
    priority_ok && rule_ok && time_ok && fields_ok
}

impl Sidekick {
    /// Listens on `port` (0: any) from a thread; returns the receiver and its port.
    fn start(port: u16) -> (Sidekick, u16) {
        Self::start_with(port, Mode::Check)
    }

    fn start_with(port: u16, mode: Mode) -> (Sidekick, u16) {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the receiver");
        let port = listener.local_addr().expect("address").port();
        let sidekick = Sidekick {
            alerts: Arc::default(),
            content_types: Arc::default(),
        };
        let alerts = Arc::clone(&sidekick.alerts);
        let content_types = Arc::clone(&sidekick.content_types);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = Self::serve(stream, mode, &alerts, &content_types);
            }
        });
        (sidekick, port)
    }

    fn serve(
        mut stream: TcpStream,
        mode: Mode,
        alerts: &Mutex<Vec<serde_json::Value>>,
        content_types: &Mutex<Vec<String>>,
    ) -> std::io::Result<()> {
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut request_line = String::new();
        reader.read_line(&mut request_line)?;
        let mut length = 0usize;
        let mut content_type = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    "content-type" => content_type = value.trim().to_owned(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
        content_types.lock().expect("lock").push(content_type);
        let parsed: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        let reply = match parsed {
            Some(json)
                if mode == Mode::Check
                    && request_line.starts_with("POST / ")
                    && falcosidekick_accepts(&json) =>
            {
                alerts.lock().expect("lock").push(json);
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
            }
            _ => {
                let why = "Please send a valid request body\n";
                format!(
                    "HTTP/1.1 400 Bad Request\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{why}",
                    why.len()
                )
            }
        };
        stream.write_all(reply.as_bytes())
    }

    fn alerts(&self) -> Vec<serde_json::Value> {
        self.alerts.lock().expect("lock").clone()
    }
}

fn shadow_alert(alerts: &[serde_json::Value]) -> Option<&serde_json::Value> {
    alerts.iter().find(|a| a["rule"] == SHADOW_RULE)
}

#[test]
fn http_alert_arrives_with_what_falcosidekick_requires() {
    if !ptrace_available() {
        return;
    }
    let (sidekick, port) = Sidekick::start(0);
    let url = format!("http://127.0.0.1:{port}/");
    let out = lanner(&[
        "run",
        "--driver",
        "ptrace",
        "--alerts-http",
        &url,
        "--",
        "sh",
        "-c",
        "cat /etc/shadow >/dev/null",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let alerts = sidekick.alerts();
    let alert = shadow_alert(&alerts).unwrap_or_else(|| panic!("no alert: {}", stderr(&out)));
    assert_eq!(alert["priority"], "Warning");
    assert_eq!(alert["source"], "syscall");
    assert_eq!(alert["output_fields"]["fd.name"], "/etc/shadow");
    assert!(alert["output"]
        .as_str()
        .is_some_and(|o| o.contains("Warning Sensitive file opened for reading")));
    assert!(alert["hostname"].as_str().is_some_and(|h| !h.is_empty()));
    let types = sidekick.content_types.lock().expect("lock").clone();
    assert!(types.iter().all(|t| t == "application/json"), "{types:?}");
    assert!(
        !stderr(&out).contains("could not be delivered"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn http_receiver_that_comes_up_late_still_gets_the_alert() {
    if !ptrace_available() {
        return;
    }
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let late = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        Sidekick::start(port).0
    });
    let out = lanner(&[
        "run",
        "--driver",
        "ptrace",
        "--alerts-http",
        &url,
        "--",
        "sh",
        "-c",
        "cat /etc/shadow >/dev/null; sleep 1",
    ]);
    let sidekick = late.join().expect("receiver thread");
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(shadow_alert(&sidekick.alerts()).is_some(), "{err}");
    // The outage was reported, then the recovery; nothing was lost.
    assert!(err.contains("cannot deliver alerts"), "{err}");
    assert!(!err.contains("could not be delivered"), "{err}");
}

#[test]
fn http_receiver_that_never_comes_up_is_reported_undelivered() {
    if !ptrace_available() {
        return;
    }
    let url = format!("http://127.0.0.1:{}/", free_port());
    let started = Instant::now();
    let out = lanner(&[
        "run",
        "--driver",
        "ptrace",
        "--alerts-http",
        &url,
        "--",
        "sh",
        "-c",
        "cat /etc/shadow >/dev/null; exit 4",
    ]);
    // The workload's status, whatever became of the alerts; the flush is bounded.
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(10));
    let err = stderr(&out);
    assert!(err.contains("1 alert(s) could not be delivered"), "{err}");
    assert!(
        err.contains("output=\"http\"") || err.contains("output=http"),
        "{err}"
    );
    // The alert itself is still on stderr.
    assert!(err.contains(SHADOW_RULE), "{err}");
}

#[test]
fn http_refusal_is_counted_and_not_retried() {
    if !ptrace_available() {
        return;
    }
    let (sidekick, port) = Sidekick::start_with(0, Mode::Refuse);
    let url = format!("http://127.0.0.1:{port}/");
    let started = Instant::now();
    let out = lanner(&[
        "run",
        "--driver",
        "ptrace",
        "--alerts-http",
        &url,
        "--",
        "sh",
        "-c",
        "cat /etc/shadow >/dev/null",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    // One request per alert: a 400 is final, and nobody waits out the grace period for it.
    assert_eq!(
        sidekick.content_types.lock().expect("lock").len(),
        1,
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(3), "{err}");
    assert!(
        err.contains("alert refused, not retried: HTTP 400"),
        "{err}"
    );
    assert!(err.contains("Please send a valid request body"), "{err}");
    assert!(err.contains("1 alert(s) could not be delivered"), "{err}");
}

#[test]
fn http_url_that_cannot_be_posted_to_is_an_error() {
    let out = lanner(&["run", "--alerts-http", "ftp://example.org/", "--", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("only http and https"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn program_gets_alerts_on_its_stdin() {
    if !ptrace_available() {
        return;
    }
    let dir = temp_dir("program");
    let file = dir.join("alerts.jsonl");
    let command = format!("cat > {}", file.display());
    let out = lanner(&[
        "run",
        "--driver",
        "ptrace",
        "--alerts-program",
        &command,
        "--",
        "sh",
        "-c",
        "cat /etc/shadow >/dev/null; echo clean",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "clean\n");
    let text = std::fs::read_to_string(&file).expect("the program wrote its input");
    let alerts: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is a JSON alert"))
        .collect();
    assert!(shadow_alert(&alerts).is_some(), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn program_that_ends_is_started_again_with_text_alerts() {
    if !ptrace_available() {
        return;
    }
    let dir = temp_dir("program-restart");
    let file = dir.join("alerts.txt");
    // Takes one alert, then ends: the second alert must start it again.
    let command = format!("head -n 1 >> {}", file.display());
    let out = lanner(&[
        "run",
        "--driver",
        "ptrace",
        "--format",
        "text",
        "--alerts-program",
        &command,
        "--",
        "sh",
        "-c",
        "cat /etc/shadow >/dev/null; sleep 0.5; cat /etc/shadow >/dev/null",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&file).expect("the program wrote");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}\n{}", stderr(&out));
    assert!(lines
        .iter()
        .all(|l| l.contains(": Warning Sensitive file opened for reading")));
    assert!(
        stderr(&out).contains("starting it again"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(&dir).ok();
}

fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    Some(reply)
}

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn metrics_are_served_during_the_run_and_stats_are_logged() {
    if !ptrace_available() {
        return;
    }
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(LANNER)
        .args([
            "run",
            "--driver",
            "ptrace",
            "--metrics-addr",
            &addr,
            "--stats-interval",
            "1",
            "--alerts-program",
            "cat >/dev/null",
            "--",
            "sh",
            "-c",
            "cat /etc/shadow >/dev/null; sleep 1.5",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lanner starts");
    let alert_series =
        format!("lanner_alerts_total{{rule=\"{SHADOW_RULE}\",priority=\"Warning\"}}");
    let deadline = Instant::now() + Duration::from_secs(5);
    let reply = loop {
        if let Some(reply) = get(port, "/metrics") {
            if sample(&reply, &alert_series).is_some() {
                break reply;
            }
        }
        assert!(Instant::now() < deadline, "no alert counted in time");
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().expect("lanner ends");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    assert!(
        reply.contains("Content-Type: text/plain; version=0.0.4"),
        "{reply}"
    );
    assert_eq!(sample(&reply, &alert_series), Some(1.0), "{reply}");
    assert!(
        sample(&reply, "lanner_events_total").is_some_and(|n| n > 0.0),
        "{reply}"
    );
    assert_eq!(
        sample(&reply, "lanner_events_dropped_total"),
        Some(0.0),
        "{reply}"
    );
    assert_eq!(
        sample(
            &reply,
            "lanner_alerts_undelivered_total{output=\"program\"}"
        ),
        Some(0.0),
        "{reply}"
    );
    assert!(sample(&reply, "lanner_agent_cpu_seconds_total").is_some_and(|s| s > 0.0));
    assert!(sample(&reply, "lanner_agent_rss_bytes").is_some_and(|b| b > 1e6));
    assert!(
        reply.contains("# TYPE lanner_events_total counter"),
        "{reply}"
    );
    // The periodic line, without LANNER_LOG.
    let err = stderr(&out);
    assert!(
        err.lines()
            .any(|l| l.contains("stats") && l.contains("events_per_sec")),
        "{err}"
    );
}

#[test]
fn metrics_address_in_use_is_an_error_before_the_workload_starts() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = lanner(&["run", "--metrics-addr", &addr, "--", "sh", "-c", "echo ran"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(stderr(&out).contains("metrics"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}

/// Lines of a child's stderr as they come, kept for the end too.
fn stderr_lines(child: &mut Child) -> (Receiver<String>, Arc<Mutex<String>>) {
    let (tx, rx) = channel();
    let all = Arc::new(Mutex::new(String::new()));
    let keep = Arc::clone(&all);
    let err = child.stderr.take().expect("stderr piped");
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            keep.lock().expect("lock").push_str(&format!("{line}\n"));
            let _ = tx.send(line);
        }
    });
    (rx, all)
}

fn wait_for_line(lines: &Receiver<String>, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(what) => return line,
            Ok(_) => {}
            Err(_) => panic!("no line with {what:?} in time"),
        }
    }
}

const HOSTS_RULE: &str = "- rule: hosts read\n  desc: d\n  condition: evt.type in (open, openat) and fd.name = /etc/hosts\n  output: hosts read by %proc.name\n  priority: WARNING\n";
const HOSTNAME_RULE: &str = "- rule: hostname read\n  desc: d\n  condition: evt.type in (open, openat) and fd.name = /etc/hostname\n  output: hostname read by %proc.name\n  priority: WARNING\n";
const UNAME_RULE: &str = "- rule: uname seen\n  desc: d\n  condition: evt.type = uname\n  output: uname by %proc.name\n  priority: NOTICE\n";

/// Runs a workload that reads /etc/hosts, says ready, waits for `dir/go`, then reads
/// /etc/hostname and /etc/hosts; `between` runs once it is ready (rewrite the rules, send the
/// signal, wait for the log line). Returns stdout and stderr.
fn run_with_reload(
    driver: &str,
    dir: &std::path::Path,
    rules: &std::path::Path,
    between: impl FnOnce(u32, &Receiver<String>),
) -> (String, String) {
    let go = dir.join("go");
    let script = format!(
        "trap 'echo got-hup' HUP; cat /etc/hosts >/dev/null; echo ready; \
         while [ ! -e {go} ]; do sleep 0.05; done; cat /etc/hostname >/dev/null; cat /etc/hosts >/dev/null",
        go = go.display()
    );
    let mut child = Command::new(LANNER)
        .args([
            "run",
            "--driver",
            driver,
            "--reload-signal",
            "hup",
            "--rules",
        ])
        .arg(rules)
        .args(["--", "sh", "-c", &script])
        .env("LANNER_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lanner starts");
    let (lines, all) = stderr_lines(&mut child);
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut ready = String::new();
    stdout.read_line(&mut ready).expect("read ready");
    assert_eq!(ready, "ready\n");
    between(child.id(), &lines);
    std::fs::write(&go, "").expect("touch go");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("stdout");
    let status = child.wait().expect("lanner ends");
    // Let the reader thread take the last lines.
    std::thread::sleep(Duration::from_millis(100));
    let err = all.lock().expect("lock").clone();
    assert!(status.success(), "{err}");
    (format!("{ready}{rest}"), err)
}

fn alerts_of(stderr: &str, rule: &str) -> usize {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|a| a["rule"] == rule)
        .count()
}

/// A reload that adds a rule on a file the rules in force did not name: the eBPF driver left
/// its opens out in the kernel until then, and is handed the new filter (the ptrace driver's
/// case is the test below).
#[cfg(feature = "ebpf")]
#[test]
fn reload_widens_the_ebpf_open_filter() {
    if !lanner_driver_ebpf::probe().available_for_test() {
        return;
    }
    let dir = temp_dir("reload-ebpf");
    let rules = dir.join("rules.yaml");
    std::fs::write(&rules, HOSTS_RULE).expect("write rules");
    let (_, err) = run_with_reload("ebpf", &dir, &rules, |pid, lines| {
        std::fs::write(&rules, format!("{HOSTS_RULE}{HOSTNAME_RULE}")).expect("rewrite");
        // SAFETY: kill with integer arguments.
        unsafe { libc::kill(pid as i32, libc::SIGHUP) };
        wait_for_line(lines, "rules reloaded");
    });
    assert_eq!(alerts_of(&err, "hosts read"), 2, "{err}");
    assert_eq!(
        alerts_of(&err, "hostname read"),
        1,
        "the open of /etc/hostname, left out before the reload, is seen after: {err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn reload_signal_swaps_in_new_rules_without_reaching_the_workload() {
    if !ptrace_available() {
        return;
    }
    let dir = temp_dir("reload");
    let rules = dir.join("rules.yaml");
    std::fs::write(&rules, HOSTS_RULE).expect("write rules");
    let (stdout, err) = run_with_reload("ptrace", &dir, &rules, |pid, lines| {
        std::fs::write(&rules, format!("{HOSTS_RULE}{HOSTNAME_RULE}{UNAME_RULE}"))
            .expect("rewrite");
        // SAFETY: kill with integer arguments.
        unsafe { libc::kill(pid as i32, libc::SIGHUP) };
        wait_for_line(lines, "rules reloaded");
    });
    assert!(
        !stdout.contains("got-hup"),
        "SIGHUP reached the workload: {stdout}"
    );
    assert_eq!(alerts_of(&err, "hosts read"), 2, "{err}");
    assert_eq!(alerts_of(&err, "hostname read"), 1, "{err}");
    // uname is not in the set traced since the start: said, not hidden.
    assert!(
        err.lines()
            .any(|l| l.contains("does not trace") && l.contains("uname (uname seen)")),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_rules_on_reload_keep_the_old_ones_and_say_where() {
    if !ptrace_available() {
        return;
    }
    let dir = temp_dir("reload-bad");
    let rules = dir.join("rules.yaml");
    std::fs::write(&rules, HOSTS_RULE).expect("write rules");
    let (_, err) = run_with_reload("ptrace", &dir, &rules, |pid, lines| {
        std::fs::write(
            &rules,
            "- rule: broken\n  desc: d\n  condition: evt.type = open and (\n  output: o\n  priority: WARNING\n",
        )
        .expect("rewrite");
        // SAFETY: kill with integer arguments.
        unsafe { libc::kill(pid as i32, libc::SIGHUP) };
        let line = wait_for_line(lines, "rules reload failed");
        assert!(line.contains("rules.yaml:3:"), "{line}");
    });
    // The old rule still fires after the failed reload.
    assert_eq!(alerts_of(&err, "hosts read"), 2, "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
