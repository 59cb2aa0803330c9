//! File descriptors: what each one refers to, as `fd.*` fields show it.

// Fx hashing: fds are small integers the kernel hands out, not attacker-chosen strings worth
// SipHash's DoS resistance, and the table is hit on every event.
use rustc_hash::FxHashMap as HashMap;

use lanner_common::decode::sockaddr::SockAddr;

use super::procfs::{FdLink, SocketInfo};

/// Kinds of fd that are neither files nor sockets nor pipes, named as Falco's `fd.type` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnonKind {
    Event,
    Signal,
    Timer,
    Inotify,
    Epoll,
    Bpf,
    IoUring,
    Userfault,
    Perf,
    Pidfd,
    Other,
}

impl AnonKind {
    /// From the syscall that creates one.
    pub fn of_syscall(name: &str) -> AnonKind {
        match name {
            "eventfd" | "eventfd2" => AnonKind::Event,
            "signalfd" | "signalfd4" => AnonKind::Signal,
            "timerfd_create" => AnonKind::Timer,
            "inotify_init" | "inotify_init1" | "fanotify_init" => AnonKind::Inotify,
            "epoll_create" | "epoll_create1" => AnonKind::Epoll,
            "bpf" => AnonKind::Bpf,
            "io_uring_setup" => AnonKind::IoUring,
            "userfaultfd" => AnonKind::Userfault,
            "perf_event_open" => AnonKind::Perf,
            "pidfd_open" | "pidfd_getfd" => AnonKind::Pidfd,
            _ => AnonKind::Other,
        }
    }

    /// From an `anon_inode:` link target (`[eventfd]`, `inotify`, `bpf-map`, ...).
    fn of_anon_inode(name: &[u8]) -> AnonKind {
        let name = name.strip_prefix(b"[").unwrap_or(name);
        let name = name.strip_suffix(b"]").unwrap_or(name);
        match name {
            b"eventfd" => AnonKind::Event,
            b"signalfd" => AnonKind::Signal,
            b"timerfd" => AnonKind::Timer,
            b"inotify" | b"fanotify" => AnonKind::Inotify,
            b"eventpoll" => AnonKind::Epoll,
            b"io_uring" => AnonKind::IoUring,
            b"userfaultfd" => AnonKind::Userfault,
            b"perf_event" => AnonKind::Perf,
            b"pidfd" => AnonKind::Pidfd,
            n if n.starts_with(b"bpf") => AnonKind::Bpf,
            _ => AnonKind::Other,
        }
    }

    /// `(fd.type, fd.typechar)`.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            AnonKind::Event => ("event", "e"),
            AnonKind::Signal => ("signalfd", "s"),
            AnonKind::Timer => ("timerfd", "t"),
            AnonKind::Inotify => ("inotify", "i"),
            AnonKind::Epoll => ("eventpoll", "l"),
            AnonKind::Bpf => ("bpf", "b"),
            AnonKind::IoUring => ("io_uring", "r"),
            AnonKind::Userfault => ("userfaultfd", "u"),
            AnonKind::Perf => ("unknown", "o"),
            AnonKind::Pidfd => ("pidfd", "P"),
            AnonKind::Other => ("unknown", "o"),
        }
    }

    /// The name `/proc/PID/fd/N` shows, which is what `fd.name` shows.
    fn link_name(self) -> &'static str {
        match self {
            AnonKind::Event => "anon_inode:[eventfd]",
            AnonKind::Signal => "anon_inode:[signalfd]",
            AnonKind::Timer => "anon_inode:[timerfd]",
            AnonKind::Inotify => "anon_inode:inotify",
            AnonKind::Epoll => "anon_inode:[eventpoll]",
            AnonKind::Bpf => "anon_inode:bpf",
            AnonKind::IoUring => "anon_inode:[io_uring]",
            AnonKind::Userfault => "anon_inode:[userfaultfd]",
            AnonKind::Perf => "anon_inode:[perf_event]",
            AnonKind::Pidfd => "anon_inode:[pidfd]",
            AnonKind::Other => "anon_inode",
        }
    }
}

/// A file or directory opened by path.
#[derive(Debug, Clone, PartialEq)]
pub struct FileFd {
    /// Absolute, normalized path.
    pub path: Vec<u8>,
    /// The path as the caller wrote it, when that differs (`fd.nameraw`).
    pub raw: Option<Vec<u8>>,
    /// Open flags.
    pub flags: u64,
    /// Opened as a directory (`O_DIRECTORY`, or `/proc` says so).
    pub directory: bool,
}

/// A socket.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SocketFd {
    /// `AF_*`.
    pub domain: i32,
    /// `SOCK_*` type, without `SOCK_NONBLOCK`/`SOCK_CLOEXEC`.
    pub ty: i32,
    /// `IPPROTO_*`.
    pub proto: i32,
    /// Local address, once bound or accepted.
    pub local: Option<SockAddr>,
    /// Peer address: the one connected to, accepted from, or last sent to.
    pub remote: Option<SockAddr>,
    /// This end listens or accepted the connection.
    pub server: bool,
    /// `connect` or `accept` made it a connection.
    pub connected: bool,
}

/// What an fd refers to.
#[derive(Debug, Clone, PartialEq)]
pub enum FdKind {
    File(FileFd),
    Socket(SocketFd),
    /// One end of a pipe.
    Pipe,
    /// A `memfd_create` file, with the name it was given.
    Memfd(Vec<u8>),
    Anon(AnonKind),
    /// Something only `/proc` could name, or nothing at all (an fd `/proc` no longer has):
    /// kept so that the lookup is not repeated.
    Unknown(Vec<u8>),
}

/// One open fd.
#[derive(Debug, Clone, PartialEq)]
pub struct Fd {
    pub kind: FdKind,
    /// Closed by a successful exec.
    pub cloexec: bool,
}

impl Fd {
    /// An fd that survives exec.
    pub fn new(kind: FdKind) -> Fd {
        Fd {
            kind,
            cloexec: false,
        }
    }

    /// `(fd.type, fd.typechar)`, as Falco names them.
    pub fn type_names(&self) -> (&'static str, &'static str) {
        match &self.kind {
            FdKind::File(f) if f.directory => ("directory", "d"),
            FdKind::File(_) => ("file", "f"),
            FdKind::Pipe => ("pipe", "p"),
            FdKind::Memfd(_) => ("memfd", "m"),
            FdKind::Anon(kind) => kind.names(),
            FdKind::Unknown(_) => ("unknown", "o"),
            FdKind::Socket(s) => match s.domain {
                libc::AF_INET => ("ipv4", "4"),
                libc::AF_INET6 => ("ipv6", "6"),
                libc::AF_UNIX => ("unix", "u"),
                libc::AF_NETLINK => ("netlink", "n"),
                _ => ("unknown", "o"),
            },
        }
    }

    /// The name of an fd that is not a file or a socket (`fd.name`).
    pub fn other_name(&self) -> Option<&[u8]> {
        match &self.kind {
            FdKind::Pipe => Some(b"pipe"),
            FdKind::Memfd(name) => Some(name),
            FdKind::Anon(kind) => Some(kind.link_name().as_bytes()),
            FdKind::Unknown(name) if !name.is_empty() => Some(name),
            _ => None,
        }
    }

    /// An fd as `/proc` shows it; `socket` finds a socket's details by inode when asked.
    pub fn from_link(link: FdLink, socket: impl FnOnce(u64) -> Option<SocketInfo>) -> Fd {
        let FdLink {
            target,
            flags,
            directory,
        } = link;
        let cloexec = flags & libc::O_CLOEXEC as u64 != 0;
        let kind = if let Some(name) = target.strip_prefix(b"/memfd:") {
            let name = name.strip_suffix(b" (deleted)").unwrap_or(name);
            let mut full = b"memfd:".to_vec();
            full.extend_from_slice(name);
            FdKind::Memfd(full)
        } else if target.first() == Some(&b'/') {
            FdKind::File(FileFd {
                path: target,
                raw: None,
                flags,
                directory,
            })
        } else if let Some(inode) = bracketed(&target, b"socket:") {
            match inode.and_then(socket) {
                Some(info) => FdKind::Socket(SocketFd {
                    domain: info.domain,
                    ty: info.ty,
                    proto: 0,
                    connected: info.remote.is_some(),
                    server: info.listening,
                    local: info.local,
                    remote: info.remote,
                }),
                None => FdKind::Unknown(target),
            }
        } else if bracketed(&target, b"pipe:").is_some() {
            FdKind::Pipe
        } else if let Some(anon) = target.strip_prefix(b"anon_inode:") {
            FdKind::Anon(AnonKind::of_anon_inode(anon))
        } else {
            FdKind::Unknown(target)
        };
        Fd { kind, cloexec }
    }
}

/// The inode of a `socket:[123]` link target.
pub fn socket_inode(target: &[u8]) -> Option<u64> {
    bracketed(target, b"socket:").flatten()
}

/// `socket:[123]` -> Some(Some(123)) for prefix `socket:`.
fn bracketed(target: &[u8], prefix: &[u8]) -> Option<Option<u64>> {
    let rest = target.strip_prefix(prefix)?;
    let inner = rest.strip_prefix(b"[")?.strip_suffix(b"]")?;
    Some(std::str::from_utf8(inner).ok().and_then(|s| s.parse().ok()))
}

/// A process's fds.
#[derive(Debug, Clone)]
pub struct FdTable {
    fds: HashMap<i32, Fd>,
}

/// Room made when a process's table is made (a lifecycle event), so that its first opens (on
/// the per-event path) do not grow it.
const INITIAL_FDS: usize = 8;

impl Default for FdTable {
    fn default() -> Self {
        FdTable {
            fds: HashMap::with_capacity_and_hasher(INITIAL_FDS, Default::default()),
        }
    }
}

impl FdTable {
    /// The fd `num`.
    #[inline]
    pub fn get(&self, num: i32) -> Option<&Fd> {
        self.fds.get(&num)
    }

    /// The fd `num`, to change it.
    pub fn get_mut(&mut self, num: i32) -> Option<&mut Fd> {
        self.fds.get_mut(&num)
    }

    /// Sets `num` (replacing whatever it was).
    pub fn insert(&mut self, num: i32, fd: Fd) -> Option<Fd> {
        self.fds.insert(num, fd)
    }

    /// Closes `num`, returning what it was.
    pub fn remove(&mut self, num: i32) -> Option<Fd> {
        self.fds.remove(&num)
    }

    /// Closes `first..=last`.
    pub fn remove_range(&mut self, first: i32, last: i32) {
        // Walk whichever is smaller: the table or the range.
        let span = i64::from(last) - i64::from(first);
        if span >= 0 && (span as u64) < self.fds.len() as u64 {
            for num in first..=last {
                self.fds.remove(&num);
            }
        } else {
            self.fds.retain(|&num, _| num < first || num > last);
        }
    }

    /// Marks `first..=last` close-on-exec.
    pub fn set_cloexec_range(&mut self, first: i32, last: i32) {
        for (_, fd) in self
            .fds
            .iter_mut()
            .filter(|(&n, _)| n >= first && n <= last)
        {
            fd.cloexec = true;
        }
    }

    /// What an exec leaves: the fds without close-on-exec.
    pub fn exec(&mut self) {
        self.fds.retain(|_, fd| !fd.cloexec);
    }

    /// Empties the table, yielding every fd (for their buffers to be reused).
    pub fn drain(&mut self) -> impl Iterator<Item = Fd> + '_ {
        self.fds.drain().map(|(_, fd)| fd)
    }

    /// Number of fds known.
    pub fn len(&self) -> usize {
        self.fds.len()
    }

    /// Whether no fd is known.
    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }

    /// Every fd, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (i32, &Fd)> {
        self.fds.iter().map(|(&n, fd)| (n, fd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(target: &[u8], flags: u64) -> FdLink {
        FdLink {
            target: target.to_vec(),
            flags,
            directory: false,
        }
    }

    #[test]
    fn proc_links_classify() {
        let file = Fd::from_link(link(b"/etc/passwd", libc::O_CLOEXEC as u64), |_| None);
        assert_eq!(file.type_names(), ("file", "f"));
        assert!(file.cloexec);
        let pipe = Fd::from_link(link(b"pipe:[77]", 0), |_| None);
        assert_eq!(pipe.type_names(), ("pipe", "p"));
        let event = Fd::from_link(link(b"anon_inode:[eventfd]", 0), |_| None);
        assert_eq!(event.type_names(), ("event", "e"));
        let memfd = Fd::from_link(link(b"/memfd:payload (deleted)", 0), |_| None);
        assert_eq!(memfd.other_name(), Some(&b"memfd:payload"[..]));
        let socket = Fd::from_link(link(b"socket:[99]", 0), |inode| {
            assert_eq!(inode, 99);
            Some(SocketInfo {
                domain: libc::AF_INET,
                ty: libc::SOCK_STREAM,
                local: None,
                remote: None,
                listening: true,
            })
        });
        assert_eq!(socket.type_names(), ("ipv4", "4"));
        let unknown = Fd::from_link(link(b"socket:[99]", 0), |_| None);
        assert_eq!(unknown.type_names(), ("unknown", "o"));
    }

    #[test]
    fn ranges_and_exec() {
        let mut table = FdTable::default();
        for n in 0..10 {
            let _ = table.insert(n, Fd::new(FdKind::Pipe));
        }
        table.remove_range(3, 5);
        assert!(table.get(4).is_none() && table.get(6).is_some());
        table.remove_range(8, i32::MAX);
        assert_eq!(table.len(), 5);
        table.set_cloexec_range(0, 1);
        table.exec();
        assert_eq!(table.len(), 3);
    }
}
