//! Reading what `/proc` knows of a process that the engine did not see start (it existed
//! before the agent, or it is an ancestor of the workload). Every read may fail because the
//! process is gone; then the field stays unknown.

use std::os::unix::ffi::OsStrExt;

/// What `/proc/PID` tells.
#[derive(Debug, Default, Clone)]
pub struct ProcInfo {
    pub ppid: u32,
    pub comm: Vec<u8>,
    pub argv: Vec<Vec<u8>>,
    pub exepath: Vec<u8>,
    pub cwd: Vec<u8>,
    pub uid: u32,
    pub gid: u32,
    pub loginuid: i64,
    pub tty: u32,
    pub sid: u32,
    pub cap_effective: u64,
    pub container_id: Option<String>,
}

/// Reads `/proc/PID`; `None` when the process does not exist.
pub fn read(pid: u32) -> Option<ProcInfo> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let mut info = ProcInfo::default();
    // `pid (comm) state ppid pgrp session tty_nr ...`; comm may contain spaces and parens.
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    info.comm = stat.get(open + 1..close)?.to_vec();
    let rest = String::from_utf8_lossy(stat.get(close + 2..)?).into_owned();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    info.ppid = fields.get(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    info.sid = fields.get(3).and_then(|v| v.parse().ok()).unwrap_or(0);
    info.tty = fields.get(4).and_then(|v| v.parse().ok()).unwrap_or(0);
    if let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) {
        info.argv = split_nul(&cmdline);
    }
    info.exepath = link(pid, "exe");
    info.cwd = link(pid, "cwd");
    if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
        for line in status.lines() {
            if let Some(v) = line.strip_prefix("Uid:") {
                info.uid = nth_number(v, 1).unwrap_or(0) as u32;
            } else if let Some(v) = line.strip_prefix("Gid:") {
                info.gid = nth_number(v, 1).unwrap_or(0) as u32;
            } else if let Some(v) = line.strip_prefix("CapEff:") {
                info.cap_effective = u64::from_str_radix(v.trim(), 16).unwrap_or(0);
            }
        }
    }
    info.loginuid = std::fs::read_to_string(format!("/proc/{pid}/loginuid"))
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .map_or(-1, |v| if v == u32::MAX { -1 } else { i64::from(v) });
    info.container_id = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .ok()
        .and_then(|cgroup| container_id_from_cgroup(&cgroup));
    Some(info)
}

/// Re-reads the parts an exec can change (ids and capabilities of setuid binaries).
pub fn refresh_after_exec(pid: u32) -> Option<ProcInfo> {
    read(pid)
}

fn link(pid: u32, name: &str) -> Vec<u8> {
    std::fs::read_link(format!("/proc/{pid}/{name}"))
        .map(|p| p.as_os_str().as_bytes().to_vec())
        .unwrap_or_default()
}

fn nth_number(line: &str, n: usize) -> Option<u64> {
    line.split_whitespace().nth(n).and_then(|v| v.parse().ok())
}

/// Splits a NUL-separated list (`/proc/PID/cmdline`).
pub fn split_nul(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// The container id in a `/proc/PID/cgroup` file: the 64-hex-digit id docker, containerd and
/// cri-o put in their cgroup paths (`/docker/<id>`, `.../cri-containerd-<id>.scope`,
/// `.../crio-<id>.scope`, `.../docker-<id>.scope`), shortened to 12 characters as Falco shows it.
/// `None` on the host.
pub fn container_id_from_cgroup(cgroup: &str) -> Option<String> {
    for line in cgroup.lines() {
        let path = line.rsplit(':').next().unwrap_or("");
        for segment in path.split('/').rev() {
            let segment = segment.trim_end_matches(".scope");
            let candidate = segment.rsplit(['-', ':']).next().unwrap_or(segment);
            if candidate.len() == 64 && candidate.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Some(candidate[..12].to_owned());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_ids_from_the_usual_runtimes() {
        let id = "3f0c8a5e9b1d2c4f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f";
        for cgroup in [
            format!("0::/docker/{id}\n"),
            format!("0::/system.slice/docker-{id}.scope\n"),
            format!("0::/kubepods.slice/kubepods-burstable.slice/cri-containerd-{id}.scope\n"),
            format!("0::/kubepods/burstable/pod1/crio-{id}.scope\n"),
            format!("12:memory:/ecs/task1/{id}\n"),
        ] {
            assert_eq!(
                container_id_from_cgroup(&cgroup).as_deref(),
                Some(&id[..12]),
                "{cgroup}"
            );
        }
        assert_eq!(
            container_id_from_cgroup("0::/user.slice/session-1.scope\n"),
            None
        );
    }

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        let info = read(me).expect("own /proc entry");
        assert!(!info.comm.is_empty());
        assert!(!info.exepath.is_empty());
        assert!(info.ppid > 0);
        assert!(read(u32::MAX - 1).is_none());
    }
}
