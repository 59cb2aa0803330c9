//! What the agent's integration tests share: the binary under test, and the checks that skip
//! a test (saying why) where this machine cannot run its driver.

#![allow(dead_code)]

use std::process::Output;

/// The `lanner` binary built for these tests.
pub const LANNER: &str = env!("CARGO_BIN_EXE_lanner");

/// Whether the ptrace driver can run here; prints why not when it cannot.
pub fn ptrace_available() -> bool {
    lanner_driver_ptrace::probe().available_for_test()
}

/// A finished command's stderr, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Where the cgroup v2 (unified) hierarchy is mounted, from /proc/self/mountinfo.
fn cgroup2_mount() -> Option<std::path::PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo.lines().find_map(|line| {
        // `id parent dev root mountpoint options... - fstype source superoptions`
        let (fields, fs) = line.split_once(" - ")?;
        (fs.split(' ').next() == Some("cgroup2"))
            .then(|| fields.split(' ').nth(4).map(std::path::PathBuf::from))
            .flatten()
    })
}

/// A `docker exec` one-shot, as the container runtime makes it: a process joins the container's
/// cgroup (systemd's `docker-<id>.scope`) and execs `cat /etc/shadow`, which ends at once. A
/// rule that holds only in a container must fire, naming the container, under `driver`. Skips,
/// saying why, without root or a cgroup v2 hierarchy.
pub fn one_shot_in_a_container_cgroup_is_judged_in_its_container(driver: &str) {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: creating a cgroup needs root");
        return;
    }
    let Some(mount) = cgroup2_mount() else {
        eprintln!("SKIPPED: no cgroup v2 hierarchy is mounted");
        return;
    };
    // A fake container id, unique to this run.
    let id = format!(
        "{:0>32x}{:0>32x}",
        std::process::id(),
        driver.len() * 0x1f2e3d
    );
    let cgroup = mount.join(format!("docker-{id}.scope"));
    if let Err(err) = std::fs::create_dir(&cgroup) {
        eprintln!("SKIPPED: creating the cgroup {}: {err}", cgroup.display());
        return;
    }
    let rules = std::env::temp_dir().join(format!(
        "lanner-container-{driver}-{}.yaml",
        std::process::id()
    ));
    std::fs::write(
        &rules,
        "- rule: Shadow read in a container\n  \
           desc: t\n  \
           condition: evt.type in (open, openat, openat2) and fd.name = /etc/shadow and container.id != host\n  \
           output: \"id=%container.id type=%container.type\"\n  \
           priority: WARNING\n",
    )
    .expect("rules file");
    let script = format!(
        "echo $$ > {}/cgroup.procs && exec cat /etc/shadow",
        cgroup.display()
    );
    let out = std::process::Command::new(LANNER)
        .args(["run", "--driver", driver, "--rules"])
        .arg(&rules)
        .args(["--format", "text", "--", "sh", "-c", &script])
        .output()
        .expect("lanner runs");
    let removed = std::fs::remove_dir(&cgroup);
    std::fs::remove_file(&rules).ok();
    assert!(out.status.success(), "{}", stderr(&out));
    removed.expect("the cgroup is empty once the workload has ended");
    let expected = format!("id={} type=docker", &id[..12]);
    assert!(
        stderr(&out).contains(&expected),
        "{expected} not in: {}",
        stderr(&out)
    );
}
