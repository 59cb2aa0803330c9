//! Reading the ring buffer's records (layout in src/bpf/lanner.h, Rust types generated from it)
//! into owned values. Every length is checked against the record: a malformed record is an
//! error naming what was wrong, never an out-of-bounds read.

use lanner_common::event::{Captured, Creds};
use lanner_common::syscalls::Abi;

use crate::skel::types::{
    lanner_cap, lanner_exec, lanner_fork, lanner_hdr, lanner_sys, lanner_task_exit,
};

// enum lanner_kind
const REC_ENTER: u16 = 1;
const REC_EXIT: u16 = 2;
const REC_FORK: u16 = 3;
const REC_EXEC: u16 = 4;
const REC_TASK_EXIT: u16 = 5;
const REC_WHOLE: u16 = 6;

// enum lanner_cap_status
const CAPST_BYTES: u8 = 0;
const CAPST_TRUNCATED: u8 = 1;
const CAPST_NULL: u8 = 2;
const CAPST_UNREADABLE: u8 = 3;
const CAPST_LIST: u8 = 4;
const CAPST_ITEM: u8 = 5;
const CAPST_ITEM_UNREADABLE: u8 = 6;

/// A record that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("malformed ring buffer record ({what}, {len} bytes)")]
pub struct Malformed {
    what: &'static str,
    len: usize,
}

/// What the header of every record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// CLOCK_BOOTTIME nanoseconds.
    pub ts: u64,
    /// Thread group id.
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
}

/// A syscall's entry or exit half.
#[derive(Debug, Clone, PartialEq)]
pub struct SysHalf {
    /// Who and when.
    pub hdr: Header,
    /// Entered through which ABI.
    pub abi: Abi,
    /// The number as entered.
    pub nr: u64,
    /// The i386 socketcall operation, or 0.
    pub op: u32,
    /// The return value (exit halves).
    pub ret: i64,
    /// The arguments (for socketcall, the words it pointed to).
    pub args: [u64; 6],
    /// Reported at entry, without an exit half.
    pub entry_only: bool,
    /// Descriptor arguments closed since a record told of them (bit i: argument i).
    pub stale_fds: u8,
    /// Memory read for some arguments in this half, by argument index (most halves read one
    /// or none: a six-slot array made every record a few hundred bytes to move).
    pub captures: Vec<(u8, Captured)>,
}

/// One ring buffer record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A syscall was entered.
    Enter(SysHalf),
    /// A syscall returned.
    Exit(SysHalf),
    /// A syscall reported once, at its exit, its input arguments read there (all but execs).
    Whole(SysHalf),
    /// A task was created; the header names the parent.
    Fork {
        /// The parent.
        hdr: Header,
        /// The child's thread group id.
        child_pid: u32,
        /// The child's thread id.
        child_tid: u32,
        /// 0 fork, 1 vfork, 2 clone.
        kind: u32,
        /// Same thread group.
        thread: bool,
    },
    /// A successful exec; the header names the process after it.
    Exec {
        /// Who.
        hdr: Header,
        /// The thread that exec'd, before it took over the process id.
        former_tid: u32,
        /// The executable's path, when the kernel side could tell it.
        exe: Option<Vec<u8>>,
        /// The ids and capabilities the new program runs with.
        creds: Creds,
        /// Its cgroup v2 path, when the kernel side could tell it.
        cgroup: Option<Vec<u8>>,
        /// The new argv, NUL-separated.
        args: Vec<u8>,
        /// The name the exec was asked for, from the kernel's copy, when it could be read.
        filename: Option<Vec<u8>>,
    },
    /// A task ended.
    TaskExit {
        /// Who.
        hdr: Header,
        /// A wait status.
        exit_code: i32,
        /// The last task of its thread group.
        group_dead: bool,
    },
}

/// Copies a `T` out of `data` at `offset`, if it fits.
fn read<T: Copy>(data: &[u8], offset: usize, what: &'static str) -> Result<T, Malformed> {
    let end = offset
        .checked_add(std::mem::size_of::<T>())
        .filter(|&end| end <= data.len())
        .ok_or(Malformed {
            what,
            len: data.len(),
        })?;
    let bytes = &data[offset..end];
    // SAFETY: `bytes` holds size_of::<T>() bytes; T is a plain C struct of integers (generated
    // from lanner.h) for which every bit pattern is valid; read_unaligned needs no alignment.
    Ok(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

fn header(h: &lanner_hdr) -> Header {
    Header {
        ts: h.ts,
        pid: h.pid,
        tid: h.tid,
    }
}

fn abi(raw: u16) -> Abi {
    match raw {
        1 => Abi::I386,
        2 => Abi::X32,
        _ => Abi::X86_64,
    }
}

const fn pad8(n: usize) -> usize {
    (n + 7) & !7
}

/// Parses one record.
pub fn parse(data: &[u8]) -> Result<Record, Malformed> {
    let hdr: lanner_hdr = read(data, 0, "header")?;
    match hdr.kind {
        REC_ENTER | REC_EXIT | REC_WHOLE => {
            let sys: lanner_sys = read(data, 0, "syscall")?;
            let mut captures: Vec<(u8, Captured)> = Vec::new();
            let mut off = std::mem::size_of::<lanner_sys>();
            for _ in 0..sys.ncap {
                let cap: lanner_cap = read(data, off, "capture")?;
                off += std::mem::size_of::<lanner_cap>();
                let len = cap.len as usize;
                let payload = data.get(off..off + len).ok_or(Malformed {
                    what: "capture payload",
                    len: data.len(),
                })?;
                off += pad8(len);
                let index = cap.arg;
                let Some(&addr) = sys.args.get(usize::from(index)) else {
                    return Err(Malformed {
                        what: "capture argument index",
                        len: data.len(),
                    });
                };
                let captured = match cap.status {
                    CAPST_BYTES => Captured::Bytes(payload.to_vec()),
                    CAPST_TRUNCATED => Captured::Truncated(payload.to_vec()),
                    CAPST_NULL => Captured::Null,
                    CAPST_UNREADABLE => Captured::Unreadable {
                        addr,
                        errno: cap.err,
                    },
                    CAPST_LIST => Captured::List(Vec::new()),
                    CAPST_ITEM | CAPST_ITEM_UNREADABLE => {
                        let item = if cap.status == CAPST_ITEM {
                            payload.to_vec()
                        } else {
                            // As the ptrace driver marks an argv string it could not read.
                            b"<unreadable>".to_vec()
                        };
                        // Items follow the list they belong to.
                        match captures.last_mut() {
                            Some((i, Captured::List(list))) if *i == index => list.push(item),
                            _ => {
                                return Err(Malformed {
                                    what: "argv item outside a list",
                                    len: data.len(),
                                })
                            }
                        }
                        continue;
                    }
                    _ => {
                        return Err(Malformed {
                            what: "capture status",
                            len: data.len(),
                        })
                    }
                };
                captures.push((index, captured));
            }
            let half = SysHalf {
                hdr: header(&sys.hdr),
                abi: abi(sys.hdr.abi),
                nr: u64::from(sys.nr),
                op: sys.op,
                ret: sys.ret,
                args: sys.args,
                entry_only: sys.entry_only != 0,
                stale_fds: sys.stale_fds,
                captures,
            };
            Ok(match hdr.kind {
                REC_ENTER => Record::Enter(half),
                REC_EXIT => Record::Exit(half),
                _ => Record::Whole(half),
            })
        }
        REC_FORK => {
            let fork: lanner_fork = read(data, 0, "fork")?;
            Ok(Record::Fork {
                hdr: header(&fork.hdr),
                child_pid: fork.child_pid,
                child_tid: fork.child_tid,
                kind: fork.fork_kind,
                thread: fork.thread != 0,
            })
        }
        REC_EXEC => {
            let exec: lanner_exec = read(data, 0, "exec")?;
            // Four byte strings follow, each padded to 8.
            let mut off = std::mem::size_of::<lanner_exec>();
            let mut next = |len: u32, what: &'static str| {
                let len = len as usize;
                let bytes = data.get(off..off + len).ok_or(Malformed {
                    what,
                    len: data.len(),
                })?;
                off += pad8(len);
                Ok::<_, Malformed>(bytes)
            };
            let exe = next(exec.exe_len, "exec path")?;
            let args = next(exec.args_len, "exec argv")?;
            let cgroup = next(exec.cgroup_len, "exec cgroup")?;
            let filename = next(exec.filename_len, "exec filename")?;
            Ok(Record::Exec {
                hdr: header(&exec.hdr),
                former_tid: exec.former_tid,
                exe: (!exe.is_empty()).then(|| exe.to_vec()),
                args: args.to_vec(),
                creds: Creds {
                    uids: exec.uids,
                    gids: exec.gids,
                    caps: exec.caps,
                },
                cgroup: (!cgroup.is_empty()).then(|| cgroup.to_vec()),
                filename: (!filename.is_empty()).then(|| filename.to_vec()),
            })
        }
        REC_TASK_EXIT => {
            let exit: lanner_task_exit = read(data, 0, "task exit")?;
            Ok(Record::TaskExit {
                hdr: header(&exit.hdr),
                exit_code: exit.exit_code,
                group_dead: exit.group_dead != 0,
            })
        }
        _ => Err(Malformed {
            what: "record kind",
            len: data.len(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::mem::{offset_of, size_of, MaybeUninit};

    use libbpf_rs::skel::SkelBuilder as _;

    use crate::skel::types::{
        lanner_cap, lanner_exec, lanner_fork, lanner_hdr, lanner_plan, lanner_sys, lanner_task_exit,
    };
    use crate::skel::LannerSkelBuilder;

    /// The layout table the compiler of lanner.bpf.c wrote into the object (`lanner_layout`)
    /// against what Rust sees in the generated types: a field added on one side only, or a
    /// padding difference, fails here instead of garbling records. Opening the object needs
    /// no privileges: nothing is loaded.
    #[test]
    fn kernel_and_driver_see_the_same_record_layout() {
        let mut object = MaybeUninit::uninit();
        let open = LannerSkelBuilder::default()
            .open(&mut object)
            .expect("the embedded object opens");
        let seen_by_bpf = open
            .maps
            .rodata_data
            .as_deref()
            .expect("the object has read-only data")
            .lanner_layout;
        let seen_by_rust = [
            size_of::<lanner_plan>(),
            size_of::<lanner_hdr>(),
            offset_of!(lanner_hdr, size),
            offset_of!(lanner_hdr, kind),
            size_of::<lanner_sys>(),
            offset_of!(lanner_sys, ret),
            offset_of!(lanner_sys, args),
            offset_of!(lanner_sys, ncap),
            size_of::<lanner_cap>(),
            offset_of!(lanner_cap, len),
            size_of::<lanner_fork>(),
            offset_of!(lanner_fork, fork_kind),
            size_of::<lanner_exec>(),
            offset_of!(lanner_exec, args_len),
            offset_of!(lanner_exec, caps),
            offset_of!(lanner_exec, cgroup_len),
            offset_of!(lanner_exec, filename_len),
            size_of::<lanner_task_exit>(),
            offset_of!(lanner_task_exit, group_dead),
        ]
        .map(|n| n as u32);
        assert_eq!(seen_by_bpf, seen_by_rust);
        assert_eq!(
            size_of::<lanner_plan>(),
            crate::plan::bytes(&crate::plan::build(&Default::default(), &Default::default())[0])
                .len(),
            "plan::bytes writes the whole plan value"
        );
    }
}
