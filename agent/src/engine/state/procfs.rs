//! Reading `/proc` for what events did not show: processes that existed before the agent (the
//! workload's ancestors), ids and capabilities after an exec, fds the tables never saw created.
//!
//! Every read may fail because the process is gone (or, for the eBPF driver, lives in another
//! pid namespace); a failed read leaves the field unknown, never an error. The root is a
//! parameter so that tests can point it at a fake tree.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use lanner_common::decode::sockaddr::SockAddr;
use lanner_common::event::Creds;

use super::container::{self, Container};

/// User, group and capability sets, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Status {
    /// `Uid`, `Gid`, `CapEff`, `CapPrm`, `CapInh`.
    pub creds: Creds,
    /// The pid in the process's own pid namespace (last `NSpid` entry).
    pub vpid: Option<u32>,
}

/// What `/proc/PID` tells of a process.
#[derive(Debug, Clone, Default)]
pub struct ProcInfo {
    pub ppid: u32,
    pub pgid: u32,
    pub sid: u32,
    pub tty: u32,
    /// Boot-clock ns when it started.
    pub start_ts: u64,
    pub comm: Vec<u8>,
    pub argv: Vec<Vec<u8>>,
    pub exepath: Vec<u8>,
    pub cwd: Vec<u8>,
    pub status: Status,
    pub loginuid: i64,
}

/// A socket found in `/proc/PID/net/*` by inode.
#[derive(Debug, Clone, PartialEq)]
pub struct SocketInfo {
    pub domain: i32,
    pub ty: i32,
    pub local: Option<SockAddr>,
    pub remote: Option<SockAddr>,
    /// Listening.
    pub listening: bool,
}

/// What an fd is, read from `/proc/PID/fd/N` and `/proc/PID/fdinfo/N`.
#[derive(Debug, Clone, PartialEq)]
pub struct FdLink {
    /// The link's target (`/etc/passwd`, `socket:[123]`, `anon_inode:[eventfd]`, ...).
    pub target: Vec<u8>,
    /// Open flags (`fdinfo`'s `flags:`, octal).
    pub flags: u64,
    /// Whether the target is a directory.
    pub directory: bool,
}

/// Clock ticks per second in `/proc/PID/stat` times.
fn clock_ticks() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        // SAFETY: sysconf has no memory-safety preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100)
    })
}

/// A `/proc` tree.
#[derive(Debug, Clone)]
pub struct ProcFs {
    root: PathBuf,
}

impl Default for ProcFs {
    fn default() -> Self {
        ProcFs::new("/proc")
    }
}

impl ProcFs {
    /// The tree at `root` (`/proc` normally).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ProcFs { root: root.into() }
    }

    fn path(&self, pid: u32, name: &str) -> PathBuf {
        let mut path = self.root.join(pid.to_string());
        path.push(name);
        path
    }

    fn read(&self, pid: u32, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.path(pid, name)).ok()
    }

    fn link(&self, pid: u32, name: &str) -> Option<Vec<u8>> {
        std::fs::read_link(self.path(pid, name))
            .ok()
            .map(|p| p.as_os_str().as_bytes().to_vec())
    }

    /// Everything about `pid`; `None` when it does not exist.
    pub fn process(&self, pid: u32) -> Option<ProcInfo> {
        let stat = self.read(pid, "stat")?;
        let mut info = parse_stat(&stat)?;
        if let Some(cmdline) = self.read(pid, "cmdline") {
            info.argv = split_nul(&cmdline);
        }
        info.exepath = self.link(pid, "exe").unwrap_or_default();
        info.cwd = self.cwd(pid).unwrap_or_default();
        info.status = self.status(pid).unwrap_or_default();
        info.loginuid = self.loginuid(pid);
        Some(info)
    }

    /// Ids and capabilities.
    pub fn status(&self, pid: u32) -> Option<Status> {
        let status = self.read(pid, "status")?;
        Some(parse_status(&String::from_utf8_lossy(&status)))
    }

    /// The working directory.
    pub fn cwd(&self, pid: u32) -> Option<Vec<u8>> {
        self.link(pid, "cwd")
    }

    /// The audit login uid (-1 when unset).
    pub fn loginuid(&self, pid: u32) -> i64 {
        self.read(pid, "loginuid")
            .and_then(|v| String::from_utf8_lossy(&v).trim().parse::<u32>().ok())
            .map_or(-1, |v| if v == u32::MAX { -1 } else { i64::from(v) })
    }

    /// The container `pid` is in: `Some(None)` on the host, `None` when `/proc` cannot tell.
    pub fn container(&self, pid: u32) -> Option<Option<Container>> {
        let cgroup = self.read(pid, "cgroup")?;
        let cgroup = String::from_utf8_lossy(&cgroup);
        if let Some(found) = container::from_cgroup(&cgroup) {
            return Some(Some(found));
        }
        if container::cgroup_is_root(&cgroup) {
            let mountinfo = self.read(pid, "mountinfo").unwrap_or_default();
            return Some(container::from_mountinfo(&String::from_utf8_lossy(
                &mountinfo,
            )));
        }
        Some(None)
    }

    /// The environment, NUL-separated.
    pub fn environ(&self, pid: u32) -> Option<Vec<u8>> {
        self.read(pid, "environ")
    }

    /// What fd `fd` of `pid` is.
    pub fn fd(&self, pid: u32, fd: i32) -> Option<FdLink> {
        let name = format!("fd/{fd}");
        let target = self.link(pid, &name)?;
        let flags = self
            .read(pid, &format!("fdinfo/{fd}"))
            .and_then(|info| parse_fdinfo_flags(&String::from_utf8_lossy(&info)))
            .unwrap_or(0);
        let directory = target.first() == Some(&b'/')
            && std::fs::metadata(self.path(pid, &name)).is_ok_and(|m| m.is_dir());
        Some(FdLink {
            target,
            flags,
            directory,
        })
    }

    /// The socket with inode `inode` in `pid`'s network namespace.
    pub fn socket(&self, pid: u32, inode: u64) -> Option<SocketInfo> {
        let tables: [(&str, i32, i32); 4] = [
            ("net/tcp", libc::AF_INET, libc::SOCK_STREAM),
            ("net/tcp6", libc::AF_INET6, libc::SOCK_STREAM),
            ("net/udp", libc::AF_INET, libc::SOCK_DGRAM),
            ("net/udp6", libc::AF_INET6, libc::SOCK_DGRAM),
        ];
        for (name, domain, ty) in tables {
            let Some(table) = self.read(pid, name) else {
                continue;
            };
            if let Some(found) = find_inet(&String::from_utf8_lossy(&table), inode, domain, ty) {
                return Some(found);
            }
        }
        let unix = self.read(pid, "net/unix")?;
        find_unix(&String::from_utf8_lossy(&unix), inode)
    }

    /// The root, for messages.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// `pid (comm) state ppid pgrp session tty_nr ...`; comm may hold spaces and parentheses, so
/// it is taken up to the last `)`.
fn parse_stat(stat: &[u8]) -> Option<ProcInfo> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let comm = stat.get(open + 1..close)?.to_vec();
    let rest = String::from_utf8_lossy(stat.get(close + 2..)?).into_owned();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    let as_u32 = |i: usize| num(i).and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
    Some(ProcInfo {
        comm,
        ppid: as_u32(1),
        pgid: as_u32(2),
        sid: as_u32(3),
        tty: as_u32(4),
        start_ts: num(19).map_or(0, |ticks| {
            ticks.saturating_mul(1_000_000_000) / clock_ticks()
        }),
        loginuid: -1,
        ..ProcInfo::default()
    })
}

fn parse_status(status: &str) -> Status {
    let vpid = status
        .lines()
        .find_map(|line| line.strip_prefix("NSpid:"))
        .and_then(|v| v.split_whitespace().last())
        .and_then(|v| v.parse().ok());
    Status {
        creds: Creds::from_proc_status(status),
        vpid,
    }
}

fn parse_fdinfo_flags(fdinfo: &str) -> Option<u64> {
    fdinfo
        .lines()
        .find_map(|line| line.strip_prefix("flags:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 8).ok())
}

/// Splits a NUL-separated list (`/proc/PID/cmdline`).
pub fn split_nul(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// `0100007F:0CEA`: the address as the kernel's in-memory words in hex, the port in host order.
fn parse_inet(field: &str, domain: i32) -> Option<SockAddr> {
    let (addr, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| {
        addr.get(i * 8..i * 8 + 8)
            .and_then(|w| u32::from_str_radix(w, 16).ok())
            .map(u32::to_ne_bytes)
    };
    let ip = if domain == libc::AF_INET {
        IpAddr::V4(Ipv4Addr::from(word(0)?))
    } else {
        let mut octets = [0u8; 16];
        for i in 0..4 {
            octets[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
        }
        IpAddr::V6(Ipv6Addr::from(octets))
    };
    Some(match ip {
        IpAddr::V4(addr) => SockAddr::Inet { addr, port },
        IpAddr::V6(addr) => SockAddr::Inet6 {
            addr,
            port,
            scope_id: 0,
        },
    })
}

fn unspecified(addr: &SockAddr) -> bool {
    match addr {
        SockAddr::Inet { addr, port } => addr.is_unspecified() && *port == 0,
        SockAddr::Inet6 { addr, port, .. } => addr.is_unspecified() && *port == 0,
        _ => false,
    }
}

/// A row of `/proc/net/{tcp,udp}{,6}` whose inode column is `inode`.
fn find_inet(table: &str, inode: u64, domain: i32, ty: i32) -> Option<SocketInfo> {
    const TCP_LISTEN: &str = "0A";
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.get(9).and_then(|v| v.parse::<u64>().ok()) != Some(inode) {
            continue;
        }
        let local = cols.get(1).and_then(|v| parse_inet(v, domain));
        let remote = cols
            .get(2)
            .and_then(|v| parse_inet(v, domain))
            .filter(|a| !unspecified(a));
        return Some(SocketInfo {
            domain,
            ty,
            local,
            listening: ty == libc::SOCK_STREAM && cols.get(3) == Some(&TCP_LISTEN),
            remote,
        });
    }
    None
}

/// A row of `/proc/net/unix` (`Num RefCount Protocol Flags Type St Inode Path`).
fn find_unix(table: &str, inode: u64) -> Option<SocketInfo> {
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.get(6).and_then(|v| v.parse::<u64>().ok()) != Some(inode) {
            continue;
        }
        let ty = cols
            .get(4)
            .and_then(|v| i32::from_str_radix(v, 16).ok())
            .unwrap_or(0);
        let path = cols.get(7).map(|p| {
            let abstract_name = p.starts_with('@');
            SockAddr::Unix {
                path: p.trim_start_matches('@').as_bytes().to_vec(),
                abstract_name,
            }
        });
        return Some(SocketInfo {
            domain: libc::AF_UNIX,
            ty,
            local: path,
            remote: None,
            listening: cols.get(3) == Some(&"00010000"),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let procfs = ProcFs::default();
        let me = std::process::id();
        let info = procfs.process(me).expect("own /proc entry");
        assert!(!info.comm.is_empty());
        assert!(!info.exepath.is_empty());
        assert!(info.ppid > 0);
        assert!(info.start_ts > 0);
        assert!(procfs.process(u32::MAX - 1).is_none());
    }

    #[test]
    fn stat_with_a_hostile_comm() {
        let info = parse_stat(b"42 (a) b (c) S 7 42 40 34816 0 0 0 0 0 0 0 0 0 0 20 0 1 0 250 0 0")
            .expect("parses");
        assert_eq!(info.comm, b"a) b (c");
        assert_eq!(
            (info.ppid, info.pgid, info.sid, info.tty),
            (7, 42, 40, 34816)
        );
        assert_eq!(info.start_ts, 250 * 1_000_000_000 / clock_ticks());
    }

    #[test]
    fn status_ids_and_caps() {
        let s = parse_status(
            "Name:\tsh\nUid:\t1000\t0\t0\t0\nGid:\t5\t6\t7\t8\nCapInh:\t0000000000000000\n\
             CapPrm:\t000001ffffffffff\nCapEff:\t0000000000200000\nNSpid:\t4242\t7\n",
        );
        assert_eq!(s.creds.uids, [1000, 0, 0, 0]);
        assert_eq!(s.creds.gids, [5, 6, 7, 8]);
        assert_eq!(s.creds.caps, [1 << 21, 0x1ff_ffff_ffff, 0]);
        assert_eq!(s.vpid, Some(7));
    }

    #[test]
    fn sockets_by_inode() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
                   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 111 1\n\
                   1: 0201A8C0:D431 0101A8C0:01BB 01 00000000:00000000 00:00000000 00000000 0 0 222 1\n";
        let listening = find_inet(tcp, 111, libc::AF_INET, libc::SOCK_STREAM).expect("row");
        assert!(listening.listening && listening.remote.is_none());
        assert_eq!(
            listening.local,
            Some(SockAddr::Inet {
                addr: [127, 0, 0, 1].into(),
                port: 3306
            })
        );
        let out = find_inet(tcp, 222, libc::AF_INET, libc::SOCK_STREAM).expect("row");
        assert_eq!(
            out.remote,
            Some(SockAddr::Inet {
                addr: [192, 168, 1, 1].into(),
                port: 443
            })
        );
        let unix = "Num       RefCount Protocol Flags    Type St Inode Path\n\
                    0000000000000000: 00000002 00000000 00010000 0001 01 333 /run/a.sock\n";
        let found = find_unix(unix, 333).expect("row");
        assert_eq!(found.ty, libc::SOCK_STREAM);
        assert!(find_unix(unix, 1).is_none());
        assert_eq!(
            parse_fdinfo_flags("pos:\t0\nflags:\t02100002\n"),
            Some(0o2100002)
        );
    }
}
