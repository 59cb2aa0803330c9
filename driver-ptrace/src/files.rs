//! Lazy closes: `close` is not traced at all (no stop), and a later reported call whose
//! descriptor argument no longer refers to the file the consumer was last told of marks that
//! argument stale ([`SyscallEvent::stale_fds`](lanner_common::event::SyscallEvent::stale_fds)),
//! as the eBPF driver does.
//!
//! The eBPF driver sees every close in the kernel and clears a bit; a tracer that does not stop
//! at closes cannot. Instead it remembers, per process, which file (device and inode, from
//! `/proc/TID/fd/N`) each descriptor referred to when a reported call told the consumer of it,
//! and compares at the next reported call that uses the number, while the tracee is stopped at
//! the stop that reports it (a call left out by its result costs nothing here): a different
//! file, or none, means the descriptor was closed and the
//! number reused since (a pipe, an eventfd, `fcntl(F_DUPFD)`: calls that are not reported).
//! The same file reopened under the same number is not told apart: the consumer's name for it
//! is still right, though not the flags it was opened with. Anonymous inodes of one kind
//! (eventfds, say) share an inode, so one replacing another is not told apart either.
//!
//! The cost is a `statx` of a `/proc` link per descriptor a reported call uses or returns,
//! against a stop at every close: an open+close loop stops twice per round instead of three
//! times.

use lanner_common::event::{Captured, RawSyscall};
use lanner_common::spec::{self, ParamType, SpecFlags};
use rustc_hash::FxHashMap;

/// Which file a descriptor refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

/// The file descriptor `fd` of task `tid` refers to now; `None` when it is not open.
fn file_id(tid: i32, fd: i32) -> Option<FileId> {
    let path = std::ffi::CString::new(format!("/proc/{tid}/fd/{fd}")).ok()?;
    // SAFETY: an all-zero statx is a valid value of this plain C struct.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // AT_STATX_DONT_SYNC: the inode as cached. A network filesystem (EFS on Fargate) is not
    // asked, so a slow server cannot stall the tracee whose stop this is; the device and the
    // inode number never change anyway.
    // SAFETY: statx writes into `stx`; `path` is NUL-terminated.
    let rc = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::AT_STATX_DONT_SYNC,
            libc::STATX_INO,
            &mut stx,
        )
    };
    (rc == 0).then(|| FileId {
        dev: (u64::from(stx.stx_dev_major) << 32) | u64::from(stx.stx_dev_minor),
        ino: stx.stx_ino,
    })
}

/// Descriptor arguments (not the pairs a call writes) of a call.
fn fd_params(raw: &RawSyscall) -> impl Iterator<Item = (usize, i32)> + '_ {
    let params = raw
        .id
        .and_then(spec::lookup)
        .map_or(&[][..], |spec| spec.params);
    params
        .iter()
        .enumerate()
        .take(6)
        .filter(|(_, p)| matches!(p.ty, ParamType::Fd | ParamType::DirFd))
        .filter_map(|(i, _)| {
            // An `int` argument: the low 32 bits (AT_FDCWD arrives as 0xffffff9c from i386).
            let fd = raw.args[i] as u32 as i32;
            (fd >= 0).then_some((i, fd))
        })
}

/// What each traced process's consumer was told its descriptors were.
#[derive(Debug, Default)]
pub struct Told {
    by_process: FxHashMap<i32, FxHashMap<i32, FileId>>,
}

impl Told {
    /// A call is reported (at the stop that reports it: its entry, or its exit when its
    /// result is needed; never for a call left out by its result): marks its descriptor
    /// arguments stale (bit i: argument i refers to another file than the consumer was told
    /// of, or to none it was told of), and records what the consumer now knows: those
    /// arguments and the descriptors the call returned or wrote. A call changes none of its
    /// descriptor arguments but dup2's and dup3's target, which the consumer replaces anyway.
    pub fn report(&mut self, tgid: i32, tid: i32, raw: &mut RawSyscall) {
        let told = self.by_process.entry(tgid).or_default();
        let mut stale = 0u8;
        for (i, fd) in fd_params(raw) {
            let now = file_id(tid, fd);
            if now.is_none() || told.get(&fd) != now.as_ref() {
                stale |= 1 << i;
            }
            match now {
                Some(file) => told.insert(fd, file),
                None => told.remove(&fd),
            };
        }
        raw.stale_fds = stale;
        if raw.entry_only || raw.ret < 0 {
            return;
        }
        let Some(spec) = raw.id.and_then(spec::lookup) else {
            return;
        };
        let mut learn = |fd: i32| match file_id(tid, fd) {
            Some(file) => told.insert(fd, file),
            None => told.remove(&fd),
        };
        if spec.result_is_fd() {
            if let Ok(fd) = i32::try_from(raw.ret) {
                learn(fd);
            }
        } else if let Some(i) = spec
            .fd_pair()
            .filter(|_| spec.flags.contains(SpecFlags::CREATES_FD))
        {
            // pipe2, socketpair: the pair the call wrote (its result is 0).
            if let Some(Captured::Bytes(bytes)) = raw.mem.get(i) {
                for half in bytes.chunks_exact(4).take(2) {
                    let mut fd = [0u8; 4];
                    fd.copy_from_slice(half);
                    learn(i32::from_ne_bytes(fd));
                }
            }
        }
    }

    /// A new process (not a thread) starts with a copy of its parent's descriptors.
    pub fn forked(&mut self, parent: i32, child: i32) {
        if let Some(told) = self.by_process.get(&parent) {
            let copy = told.clone();
            self.by_process.insert(child, copy);
        }
    }

    /// The process has ended.
    pub fn ended(&mut self, tgid: i32) {
        self.by_process.remove(&tgid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lanner_common::syscalls::SyscallId;
    use std::os::fd::AsRawFd;

    fn call(name: &str, args: [u64; 6], ret: i64) -> RawSyscall {
        RawSyscall {
            id: SyscallId::from_name(name),
            args,
            ret,
            ..Default::default()
        }
    }

    /// Our own descriptors, judged as a tracer judges a tracee's.
    #[test]
    fn a_number_reused_for_another_file_is_stale_and_the_same_file_is_not() {
        let me = std::process::id() as i32;
        let file = std::fs::File::open("/etc/hostname").expect("open");
        let fd = file.as_raw_fd();
        let mut told = Told::default();
        // A failed dup: its argument is judged, no result learned.
        let mut dup = call("dup", [fd as u64, 0, 0, 0, 0, 0], -9);
        let stale = |told: &mut Told, raw: &mut RawSyscall| {
            told.report(me, me, raw);
            raw.stale_fds
        };
        assert_eq!(stale(&mut told, &mut dup), 1, "never told of");
        assert_eq!(stale(&mut told, &mut dup), 0, "the same file");

        // Another file takes the number.
        let other = std::fs::File::open("/proc/self/stat").expect("open");
        // SAFETY: dup2 onto our own descriptor, which `file` owns and still closes once.
        assert_eq!(unsafe { libc::dup2(other.as_raw_fd(), fd) }, fd);
        assert_eq!(stale(&mut told, &mut dup), 1, "another file");

        // A process forked with a copy keeps what its parent was told; an ended one nothing.
        told.forked(me, me + 1_000_000);
        told.ended(me);
        assert_eq!(told.by_process.len(), 1);
        let mut at_cwd = call("openat", [(-100i64) as u64, 0, 0, 0, 0, 0], -2);
        assert_eq!(
            stale(&mut told, &mut at_cwd),
            0,
            "AT_FDCWD is no descriptor"
        );
    }
}
