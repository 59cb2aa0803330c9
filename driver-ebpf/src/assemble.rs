//! Turning ring buffer records into the common event stream: most calls come whole, in one
//! record at their exit; an exec's entry and exit halves are joined per thread (the entry holds
//! the path and argv the caller passed, the exit the result); the
//! process tree is followed from fork, exec and exit records, and everything that cannot be
//! completed is reported as a drop, with the same reasons the ptrace driver gives.

// Keyed by kernel-assigned ids, looked up for every record: a fast hash, not SipHash's
// protection against chosen keys.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use lanner_common::event::{
    Captured, DropEvent, Event, EventKind, ExecEvent, ExitEvent, ExitStatus, ForkEvent, ForkKind,
    RawSyscall,
};
use lanner_common::syscalls::{ids, socketcall, Abi, SyscallId};
use lanner_common::ResultFilter;

use crate::records::{Header, Record, SysHalf};

/// Joins records into events.
#[derive(Debug, Default)]
pub struct Assembler {
    /// Entries waiting for their exit, by thread.
    pending: HashMap<u32, SysHalf>,
    /// Tasks traced since their creation (forked by a traced task), by tid.
    born: HashSet<u32>,
    /// Traced processes that have not ended, by tgid.
    live: HashSet<u32>,
    /// The workload's pid, until its first exec (before it, the agent's spawn is running).
    root_before_exec: Option<u32>,
    /// The workload's pid, and whether its end was reported.
    root: Option<u32>,
    root_ended: bool,
    /// A leader that ended while other threads of its process ran: its exit is reported when
    /// the process ends, so that `tid == pid` always means the whole process ended.
    leaders_gone: HashSet<u32>,
    /// Calls to leave out by their result, judged here for calls with an entry record (the
    /// kernel side judges one-record calls itself).
    filters: Vec<ResultFilter>,
    /// Threads whose exec succeeded and has not returned yet. x86_64 reports the return of
    /// every successful exec under execve's number, an execveat's too: with only one of the
    /// two traced, the exit record of an exec comes without its entry, or never comes. So a
    /// successful exec's call is reported at its exec record, and its exit record let go.
    exec_returning: HashSet<u32>,
}

fn id_of(half: &SysHalf) -> Option<SyscallId> {
    if half.abi == Abi::I386 && half.nr == socketcall::I386_NR && half.op != 0 {
        return socketcall::target(u64::from(half.op)).map(|(id, _)| id);
    }
    SyscallId::from_abi(half.abi, half.nr)
}

/// A new task's return from the call that created it (its parent made the call).
fn is_child_return(half: &SysHalf) -> bool {
    half.ret == 0
        && id_of(half).is_some_and(|id| matches!(id.name(), "clone" | "clone3" | "fork" | "vfork"))
}

fn is_exec(id: Option<SyscallId>) -> bool {
    id == Some(ids::EXECVE) || id == Some(ids::EXECVEAT)
}

fn raw(entry: SysHalf, exit: Option<SysHalf>) -> RawSyscall {
    let id = id_of(&entry);
    let mut mem: [Captured; 6] = Default::default();
    let mut keep = |captures: Vec<(u8, Captured)>| {
        for (index, captured) in captures {
            if let Some(slot) = mem.get_mut(usize::from(index)) {
                *slot = captured;
            }
        }
    };
    keep(entry.captures);
    let mut ret = 0;
    if let Some(exit) = exit {
        ret = exit.ret;
        // After a successful exec the registers are the new program's: nothing to re-read.
        // Otherwise what the exit read wins: what the kernel wrote (accepted peers, pipe fds),
        // or a string read again because its page was not yet in memory at entry.
        if !(is_exec(id) && ret == 0) {
            keep(exit.captures);
        }
    }
    RawSyscall {
        id,
        nr: entry.nr,
        abi: Some(entry.abi),
        args: entry.args,
        ret,
        mem,
        entry_only: entry.entry_only,
        stale_fds: entry.stale_fds,
    }
}

fn exec_filename(entry: &SysHalf) -> Option<Vec<u8>> {
    let index = match id_of(entry) {
        Some(id) if id == ids::EXECVE => 0,
        Some(id) if id == ids::EXECVEAT => 1,
        _ => return None,
    };
    entry
        .captures
        .iter()
        .find_map(|(i, captured)| match captured {
            Captured::Bytes(path) | Captured::Truncated(path) if *i == index => Some(path.clone()),
            _ => None,
        })
}

/// A successful execve whose filename could not be read at entry (a page of the caller's not
/// resident, which a non-faulting read cannot bring in) gets the kernel's own copy of it: the
/// very string the call was given. (An execveat's copy is "/dev/fd/<n>/..." for a path relative
/// to a descriptor, not its argument, so it is left as read.)
fn mend_exec_filename(entry: &mut SysHalf, asked: Option<&[u8]>) {
    let Some(asked) = asked else { return };
    if id_of(entry) != Some(ids::EXECVE) {
        return;
    }
    for (i, captured) in &mut entry.captures {
        if *i == 0 && matches!(captured, Captured::Unreadable { .. }) {
            *captured = Captured::Bytes(asked.to_vec());
        }
    }
}

fn proc_exe(pid: u32) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .map(|p| p.as_os_str().as_bytes().to_vec())
}

impl Assembler {
    /// An assembler for a workload started as `root` (or `None`: the whole system).
    pub fn new(root: Option<u32>, filters: Vec<ResultFilter>) -> Self {
        let mut live = HashSet::default();
        live.extend(root);
        let mut born = HashSet::default();
        born.extend(root);
        Assembler {
            root_before_exec: root,
            root,
            live,
            born,
            filters,
            ..Default::default()
        }
    }

    /// Whether every traced process has ended.
    pub fn all_ended(&self) -> bool {
        self.live.is_empty()
    }

    /// The traced processes still running, as far as the records tell.
    pub fn live(&self) -> impl Iterator<Item = u32> + '_ {
        self.live.iter().copied()
    }

    /// The workload's end as `wait` told it, when its exit record was lost (a full buffer):
    /// the stream still ends with the root's exit, and the loss itself is counted elsewhere.
    pub fn root_ended_unseen(&mut self, status: ExitStatus, ts: u64, out: &mut Vec<Event>) {
        let Some(root) = self.root.filter(|_| !self.root_ended) else {
            return;
        };
        self.root_ended = true;
        out.push(Event {
            ts,
            pid: root,
            tid: root,
            kind: EventKind::Exit(ExitEvent { status }),
        });
    }

    /// Forgets a process that ended without an exit record (one lost to a full buffer); one
    /// whose end was seen is not live any more and is left alone.
    pub fn forget(&mut self, pid: u32) {
        if !self.live.remove(&pid) {
            return;
        }
        self.pending.retain(|_, p| p.hdr.pid != pid);
    }

    fn drop_event(out: &mut Vec<Event>, hdr: Header, reason: &'static str) {
        out.push(Event {
            ts: hdr.ts,
            pid: hdr.pid,
            tid: hdr.tid,
            kind: EventKind::Drop(DropEvent { count: 1, reason }),
        });
    }

    fn syscall(out: &mut Vec<Event>, hdr: Header, raw: RawSyscall) {
        if let Some(syscall) = raw.decode() {
            out.push(Event {
                ts: hdr.ts,
                pid: hdr.pid,
                tid: hdr.tid,
                kind: EventKind::Syscall(syscall),
            });
        }
    }

    /// Whether the call `entry` began, which returned `ret`, is one no rule could match.
    fn left_out(&self, entry: &SysHalf, ret: i64) -> bool {
        !self.filters.is_empty()
            && id_of(entry).is_some_and(|id| ResultFilter::leaves_out(&self.filters, id, ret))
    }

    /// Adds the events `record` completes to `out`.
    pub fn push(&mut self, record: Record, out: &mut Vec<Event>) {
        match record {
            Record::Enter(half) => {
                if self.root_before_exec == Some(half.hdr.pid) && !is_exec(id_of(&half)) {
                    // The agent's own spawn code, between fork and exec.
                    return;
                }
                let hdr = half.hdr;
                self.exec_returning.remove(&hdr.tid);
                if half.entry_only {
                    Self::syscall(out, hdr, raw(half, None));
                } else if self.pending.insert(hdr.tid, half).is_some() {
                    Self::drop_event(out, hdr, "a syscall's exit was never reported");
                }
            }
            Record::Whole(half) => {
                if self.root_before_exec == Some(half.hdr.pid) || is_child_return(&half) {
                    return; // the agent's own spawn code, or a new task's first return
                }
                // (A result filter never needs judging here: the kernel side drops one-record
                // calls outside it before writing them.)
                let hdr = half.hdr;
                let ret = half.ret;
                let mut whole = raw(half, None);
                whole.ret = ret;
                Self::syscall(out, hdr, whole);
            }
            Record::Exit(half) => {
                let hdr = half.hdr;
                if self.exec_returning.remove(&hdr.tid) && is_exec(id_of(&half)) && half.ret == 0 {
                    // Reported at the exec record.
                    return;
                }
                if let Some(entry) = self.pending.remove(&hdr.tid) {
                    if !self.left_out(&entry, half.ret) {
                        Self::syscall(out, hdr, raw(entry, Some(half)));
                    }
                } else if self.born.contains(&hdr.tid)
                    && !is_child_return(&half)
                    && self.root_before_exec != Some(hdr.pid)
                {
                    // A task traced since its creation cannot have begun a call unseen: its
                    // entry record was lost.
                    tracing::debug!(
                        pid = hdr.pid,
                        tid = hdr.tid,
                        nr = half.nr,
                        ret = half.ret,
                        "an exit record without its entry"
                    );
                    Self::drop_event(out, hdr, "a syscall's entry was lost");
                }
                // Otherwise the call began before tracing did (a task already running when a
                // --system capture started): nothing to report.
            }
            Record::Fork {
                hdr,
                child_pid,
                child_tid,
                kind,
                thread,
            } => {
                if !thread {
                    self.live.insert(child_pid);
                }
                self.born.insert(child_tid);
                let kind = match kind {
                    0 => ForkKind::Fork,
                    1 => ForkKind::Vfork,
                    _ => ForkKind::Clone,
                };
                out.push(Event {
                    ts: hdr.ts,
                    pid: hdr.pid,
                    tid: hdr.tid,
                    kind: EventKind::Fork(ForkEvent {
                        child_pid,
                        child_tid,
                        kind,
                        thread: thread && kind == ForkKind::Clone,
                    }),
                });
            }
            Record::Exec {
                hdr,
                former_tid,
                exe,
                args,
                creds,
                cgroup,
                filename: asked,
            } => {
                if self.root_before_exec == Some(hdr.pid) {
                    self.root_before_exec = None;
                }
                let former = (former_tid != hdr.tid).then_some(former_tid);
                if let Some(former) = former {
                    // The exec'ing thread took over the leader's tid; the old leader is gone.
                    let moved = self.pending.remove(&former);
                    if self.pending.remove(&hdr.tid).is_some() {
                        Self::drop_event(
                            out,
                            hdr,
                            "the thread was replaced by an exec in another thread",
                        );
                    }
                    if let Some(moved) = moved {
                        self.pending.insert(hdr.tid, moved);
                    }
                    if self.born.remove(&former) {
                        self.born.insert(hdr.tid);
                    }
                    self.leaders_gone.remove(&hdr.pid);
                }
                let exe = exe.or_else(|| proc_exe(hdr.pid));
                if let Some(entry) = self.pending.get_mut(&hdr.tid) {
                    mend_exec_filename(entry, asked.as_deref());
                }
                let filename = self
                    .pending
                    .get(&hdr.tid)
                    .and_then(exec_filename)
                    .or_else(|| asked.clone())
                    .or_else(|| exe.clone())
                    .unwrap_or_default();
                let argv = args
                    .split(|&b| b == 0)
                    .filter(|s| !s.is_empty())
                    .map(<[u8]>::to_vec)
                    .collect();
                out.push(Event {
                    ts: hdr.ts,
                    pid: hdr.pid,
                    tid: hdr.tid,
                    kind: EventKind::Exec(Box::new(ExecEvent {
                        filename,
                        argv,
                        exe,
                        former_tid: former,
                        creds: Some(creds),
                        cgroup: cgroup
                            .map(|path| format!("0::{}\n", String::from_utf8_lossy(&path))),
                    })),
                });
                if self
                    .pending
                    .get(&hdr.tid)
                    .is_some_and(|entry| is_exec(id_of(entry)))
                {
                    if let Some(entry) = self.pending.remove(&hdr.tid) {
                        // Its result: 0.
                        if !self.left_out(&entry, 0) {
                            Self::syscall(out, hdr, raw(entry, None));
                        }
                    }
                }
                self.exec_returning.insert(hdr.tid);
            }
            Record::TaskExit {
                hdr,
                exit_code,
                group_dead,
            } => {
                if self.pending.remove(&hdr.tid).is_some() {
                    Self::drop_event(out, hdr, "the task died before its syscall returned");
                }
                self.born.remove(&hdr.tid);
                let status = ExitStatus::from_wait_status(exit_code).unwrap_or(ExitStatus::Code(0));
                let exit = |tid| Event {
                    ts: hdr.ts,
                    pid: hdr.pid,
                    tid,
                    kind: EventKind::Exit(ExitEvent { status }),
                };
                if hdr.tid == hdr.pid && !group_dead {
                    self.leaders_gone.insert(hdr.pid);
                    return;
                }
                if hdr.tid != hdr.pid {
                    out.push(exit(hdr.tid));
                }
                if group_dead {
                    if Some(hdr.pid) == self.root {
                        self.root_ended = true;
                    }
                    self.leaders_gone.remove(&hdr.pid);
                    out.push(exit(hdr.pid));
                    self.live.remove(&hdr.pid);
                    self.pending.retain(|_, p| p.hdr.pid != hdr.pid);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec_entry(nr: u64, captures: Vec<(u8, Captured)>) -> SysHalf {
        SysHalf {
            hdr: Header {
                ts: 1,
                pid: 7,
                tid: 7,
            },
            abi: Abi::X86_64,
            nr,
            op: 0,
            ret: 0,
            args: [0x1000, 0x2000, 0x3000, 0, 0, 0],
            entry_only: false,
            stale_fds: 0,
            captures,
        }
    }

    const UNREADABLE: Captured = Captured::Unreadable {
        addr: 0x1000,
        errno: libc::EFAULT,
    };

    #[test]
    fn an_execve_filename_unreadable_at_entry_is_the_kernels_copy() {
        let mut entry = exec_entry(59, vec![(0, UNREADABLE), (1, UNREADABLE)]);
        mend_exec_filename(&mut entry, Some(b"/bin/true"));
        assert_eq!(
            entry.captures[0],
            (0, Captured::Bytes(b"/bin/true".to_vec()))
        );
        // Only the filename: argv is another argument.
        assert_eq!(entry.captures[1], (1, UNREADABLE));
        assert_eq!(exec_filename(&entry), Some(b"/bin/true".to_vec()));
    }

    #[test]
    fn what_was_read_and_execveat_paths_are_left_as_they_are() {
        let read = Captured::Bytes(b"/usr/bin/env".to_vec());
        let mut entry = exec_entry(59, vec![(0, read.clone())]);
        mend_exec_filename(&mut entry, Some(b"/bin/true"));
        assert_eq!(entry.captures[0], (0, read));
        // execveat's path is relative to a descriptor; the kernel's copy is not the argument.
        let mut entry = exec_entry(322, vec![(1, UNREADABLE)]);
        mend_exec_filename(&mut entry, Some(b"/dev/fd/3/true"));
        assert_eq!(entry.captures[0], (1, UNREADABLE));
        // No copy: nothing to mend with.
        let mut entry = exec_entry(59, vec![(0, UNREADABLE)]);
        mend_exec_filename(&mut entry, None);
        assert_eq!(entry.captures[0], (0, UNREADABLE));
    }
}
