//! Bit flags by name: `O_WRONLY|O_CREAT|O_TRUNC`, `CLONE_VM|CLONE_VFORK|SIGCHLD`, ...
//!
//! Each family is a table of rows. A plain flag row names one or more bits that must all be
//! set; a field row names one value of a multi-bit field (the `O_ACCMODE` bits, the socket type,
//! the mmap type, the hugetlb size). Rows are tried in order and a row is skipped once any of its
//! bits were claimed by an earlier row, so composites (`O_SYNC`, `O_TMPFILE`) come before the
//! flags they contain. Bits no row claims are appended in hex. Values are x86_64's.

use std::fmt::Write as _;

use super::signal;
use crate::spec::FlagKind;

/// One row of a flag table: it matches when `bits & mask == value`.
#[derive(Debug, Clone, Copy)]
struct Row {
    mask: u64,
    value: u64,
    name: &'static str,
}

/// A flag of one or more bits, all of which must be set.
const fn bit(value: u64, name: &'static str) -> Row {
    Row {
        mask: value,
        value,
        name,
    }
}

/// One value of the multi-bit field `mask` (the value may be zero, as `O_RDONLY` is).
const fn field(mask: u64, value: u64, name: &'static str) -> Row {
    Row { mask, value, name }
}

/// A plain flag row straight from the `libc` constant of the same name. Every `libc` constant
/// used here fits in 32 bits; going through `u32` stops the ones typed `c_int` with the top bit
/// set (`CLONE_IO`) from sign-extending.
macro_rules! lc {
    ($name:ident) => {
        bit(libc::$name as u32 as u64, stringify!($name))
    };
}

/// A field row from the `libc` constant of the same name.
macro_rules! lc_field {
    ($mask:expr, $name:ident) => {
        field($mask, libc::$name as u32 as u64, stringify!($name))
    };
}

/// A family's table and what to print for zero.
struct Family {
    rows: &'static [Row],
    zero: &'static str,
}

/// `O_ACCMODE`.
const ACCMODE: u64 = libc::O_ACCMODE as u64;

/// `O_LARGEFILE` as the kernel sees it. `libc` defines it as 0 on x86_64 because glibc's
/// 64-bit ABI never needs it, but the kernel's bit is 0o100000 and callers do pass it.
const O_LARGEFILE: u64 = 0o100000;

const OPEN: &[Row] = &[
    lc_field!(ACCMODE, O_RDONLY),
    lc_field!(ACCMODE, O_WRONLY),
    lc_field!(ACCMODE, O_RDWR),
    lc!(O_CREAT),
    lc!(O_EXCL),
    lc!(O_NOCTTY),
    lc!(O_TRUNC),
    lc!(O_APPEND),
    lc!(O_NONBLOCK),
    // O_SYNC is __O_SYNC|O_DSYNC: name it whole, before O_DSYNC can claim its bit.
    lc!(O_SYNC),
    lc!(O_DSYNC),
    lc!(O_ASYNC),
    lc!(O_DIRECT),
    bit(O_LARGEFILE, "O_LARGEFILE"),
    // O_TMPFILE is __O_TMPFILE|O_DIRECTORY: name it whole, before O_DIRECTORY.
    lc!(O_TMPFILE),
    lc!(O_DIRECTORY),
    lc!(O_NOFOLLOW),
    lc!(O_NOATIME),
    lc!(O_CLOEXEC),
    lc!(O_PATH),
];

/// `AT_EACCESS` (faccessat2); `libc` lacks it. It shares 0x200 with `AT_REMOVEDIR`.
const AT_EACCESS: u64 = 0x200;

const AT: &[Row] = &[
    lc!(AT_SYMLINK_NOFOLLOW),
    bit(AT_EACCESS, "AT_EACCESS"),
    lc!(AT_SYMLINK_FOLLOW),
    lc!(AT_NO_AUTOMOUNT),
    lc!(AT_EMPTY_PATH),
    lc!(AT_STATX_FORCE_SYNC),
    lc!(AT_STATX_DONT_SYNC),
    lc!(AT_RECURSIVE),
];

const UNLINKAT: &[Row] = &[lc!(AT_REMOVEDIR)];

const RENAME: &[Row] = &[
    lc!(RENAME_NOREPLACE),
    lc!(RENAME_EXCHANGE),
    lc!(RENAME_WHITEOUT),
];

/// `CSIGNAL`: clone(2)'s low byte is the exit signal, not flags.
const CSIGNAL: u64 = 0xff;

// CLONE_NEWTIME (0x80) is absent on purpose: it lives inside the CSIGNAL byte, so clone(2)
// takes 0x80 as part of the exit signal. Only clone3, unshare and setns see it (`NAMESPACE`).
const CLONE: &[Row] = &[
    lc!(CLONE_VM),
    lc!(CLONE_FS),
    lc!(CLONE_FILES),
    lc!(CLONE_SIGHAND),
    lc!(CLONE_PIDFD),
    lc!(CLONE_PTRACE),
    lc!(CLONE_VFORK),
    lc!(CLONE_PARENT),
    lc!(CLONE_THREAD),
    lc!(CLONE_NEWNS),
    lc!(CLONE_SYSVSEM),
    lc!(CLONE_SETTLS),
    lc!(CLONE_PARENT_SETTID),
    lc!(CLONE_CHILD_CLEARTID),
    lc!(CLONE_DETACHED),
    lc!(CLONE_UNTRACED),
    lc!(CLONE_CHILD_SETTID),
    lc!(CLONE_NEWCGROUP),
    lc!(CLONE_NEWUTS),
    lc!(CLONE_NEWIPC),
    lc!(CLONE_NEWUSER),
    lc!(CLONE_NEWPID),
    lc!(CLONE_NEWNET),
    lc!(CLONE_IO),
    // clone3-only bits above 32; `libc` declares these as (overflowing) c_int, so hard-coded.
    bit(0x1_0000_0000, "CLONE_CLEAR_SIGHAND"),
    bit(0x2_0000_0000, "CLONE_INTO_CGROUP"),
];

/// What unshare(2) and setns(2) accept: the namespaces, plus the sharing flags unshare can undo
/// (CLONE_FS, CLONE_FILES, CLONE_SYSVSEM) and those it accepts when trivially satisfied.
const NAMESPACE: &[Row] = &[
    lc!(CLONE_NEWTIME),
    lc!(CLONE_VM),
    lc!(CLONE_FS),
    lc!(CLONE_FILES),
    lc!(CLONE_SIGHAND),
    lc!(CLONE_THREAD),
    lc!(CLONE_NEWNS),
    lc!(CLONE_SYSVSEM),
    lc!(CLONE_NEWCGROUP),
    lc!(CLONE_NEWUTS),
    lc!(CLONE_NEWIPC),
    lc!(CLONE_NEWUSER),
    lc!(CLONE_NEWPID),
    lc!(CLONE_NEWNET),
];

/// `MS_MGC_MSK`: mount(2) ignores the top 16 bits when they hold the old magic `MS_MGC_VAL`.
const MS_MGC_MSK: u64 = 0xffff_0000;

const MOUNT: &[Row] = &[
    lc_field!(MS_MGC_MSK, MS_MGC_VAL),
    lc!(MS_RDONLY),
    lc!(MS_NOSUID),
    lc!(MS_NODEV),
    lc!(MS_NOEXEC),
    lc!(MS_SYNCHRONOUS),
    lc!(MS_REMOUNT),
    lc!(MS_MANDLOCK),
    lc!(MS_DIRSYNC),
    lc!(MS_NOSYMFOLLOW),
    lc!(MS_NOATIME),
    lc!(MS_NODIRATIME),
    lc!(MS_BIND),
    lc!(MS_MOVE),
    lc!(MS_REC),
    lc!(MS_SILENT),
    lc!(MS_POSIXACL),
    lc!(MS_UNBINDABLE),
    lc!(MS_PRIVATE),
    lc!(MS_SLAVE),
    lc!(MS_SHARED),
    lc!(MS_RELATIME),
    lc!(MS_KERNMOUNT),
    lc!(MS_I_VERSION),
    lc!(MS_STRICTATIME),
    lc!(MS_LAZYTIME),
];

const UMOUNT: &[Row] = &[
    lc!(MNT_FORCE),
    lc!(MNT_DETACH),
    lc!(MNT_EXPIRE),
    lc!(UMOUNT_NOFOLLOW),
];

/// `SOCK_TYPE_MASK`: the socket type's bits in socket(2)'s `type`.
const SOCK_TYPE_MASK: u64 = 0xf;

const SOCKET_TYPE: &[Row] = &[
    lc_field!(SOCK_TYPE_MASK, SOCK_STREAM),
    lc_field!(SOCK_TYPE_MASK, SOCK_DGRAM),
    lc_field!(SOCK_TYPE_MASK, SOCK_RAW),
    lc_field!(SOCK_TYPE_MASK, SOCK_RDM),
    lc_field!(SOCK_TYPE_MASK, SOCK_SEQPACKET),
    lc_field!(SOCK_TYPE_MASK, SOCK_DCCP),
    // `libc` deprecates SOCK_PACKET (obsolete, but still accepted by the kernel).
    field(SOCK_TYPE_MASK, 10, "SOCK_PACKET"),
    lc!(SOCK_NONBLOCK),
    lc!(SOCK_CLOEXEC),
];

const ACCEPT4: &[Row] = &[lc!(SOCK_NONBLOCK), lc!(SOCK_CLOEXEC)];

/// The hugetlb page-size field shared by mmap and memfd_create (`HUGETLB_FLAG_ENCODE_MASK`
/// at `HUGETLB_FLAG_ENCODE_SHIFT`).
const HUGE_MASK: u64 = 0x3f << 26;

const MEMFD: &[Row] = &[
    lc!(MFD_CLOEXEC),
    lc!(MFD_ALLOW_SEALING),
    lc!(MFD_HUGETLB),
    // `libc` lacks these two (Linux 6.3).
    bit(0x8, "MFD_NOEXEC_SEAL"),
    bit(0x10, "MFD_EXEC"),
    lc_field!(HUGE_MASK, MFD_HUGE_64KB),
    lc_field!(HUGE_MASK, MFD_HUGE_512KB),
    lc_field!(HUGE_MASK, MFD_HUGE_1MB),
    lc_field!(HUGE_MASK, MFD_HUGE_2MB),
    lc_field!(HUGE_MASK, MFD_HUGE_8MB),
    lc_field!(HUGE_MASK, MFD_HUGE_16MB),
    lc_field!(HUGE_MASK, MFD_HUGE_32MB),
    lc_field!(HUGE_MASK, MFD_HUGE_256MB),
    lc_field!(HUGE_MASK, MFD_HUGE_512MB),
    lc_field!(HUGE_MASK, MFD_HUGE_1GB),
    lc_field!(HUGE_MASK, MFD_HUGE_2GB),
    lc_field!(HUGE_MASK, MFD_HUGE_16GB),
];

/// The flags of the `*_CLOEXEC`/`*_NONBLOCK` family: dup3, pipe2 (which also takes O_DIRECT),
/// eventfd2, signalfd4, timerfd_create, inotify_init1, epoll_create1, userfaultfd.
const CLOEXEC: &[Row] = &[lc!(O_NONBLOCK), lc!(O_DIRECT), lc!(O_CLOEXEC)];

const PROT: &[Row] = &[
    lc!(PROT_READ),
    lc!(PROT_WRITE),
    lc!(PROT_EXEC),
    // `libc` lacks PROT_SEM.
    bit(0x8, "PROT_SEM"),
    lc!(PROT_GROWSDOWN),
    lc!(PROT_GROWSUP),
];

/// The bits of mmap(2)'s mapping type that the named types use. The kernel's `MAP_TYPE` is
/// 0xf, but types beyond these (`MAP_DROPPABLE`, Linux 6.11) are left in the hex remainder.
const MAP_TYPE_BITS: u64 = 0x3;

const MAP: &[Row] = &[
    lc_field!(MAP_TYPE_BITS, MAP_SHARED),
    lc_field!(MAP_TYPE_BITS, MAP_PRIVATE),
    lc_field!(MAP_TYPE_BITS, MAP_SHARED_VALIDATE),
    lc!(MAP_FIXED),
    lc!(MAP_ANONYMOUS),
    lc!(MAP_32BIT),
    lc!(MAP_GROWSDOWN),
    lc!(MAP_DENYWRITE),
    lc!(MAP_EXECUTABLE),
    lc!(MAP_LOCKED),
    lc!(MAP_NORESERVE),
    lc!(MAP_POPULATE),
    lc!(MAP_NONBLOCK),
    lc!(MAP_STACK),
    lc!(MAP_HUGETLB),
    lc!(MAP_SYNC),
    lc!(MAP_FIXED_NOREPLACE),
    lc_field!(HUGE_MASK, MAP_HUGE_64KB),
    lc_field!(HUGE_MASK, MAP_HUGE_512KB),
    lc_field!(HUGE_MASK, MAP_HUGE_1MB),
    lc_field!(HUGE_MASK, MAP_HUGE_2MB),
    lc_field!(HUGE_MASK, MAP_HUGE_8MB),
    lc_field!(HUGE_MASK, MAP_HUGE_16MB),
    lc_field!(HUGE_MASK, MAP_HUGE_32MB),
    lc_field!(HUGE_MASK, MAP_HUGE_256MB),
    lc_field!(HUGE_MASK, MAP_HUGE_512MB),
    lc_field!(HUGE_MASK, MAP_HUGE_1GB),
    lc_field!(HUGE_MASK, MAP_HUGE_2GB),
    lc_field!(HUGE_MASK, MAP_HUGE_16GB),
];

const MSG: &[Row] = &[
    lc!(MSG_OOB),
    lc!(MSG_PEEK),
    lc!(MSG_DONTROUTE),
    lc!(MSG_CTRUNC),
    // `libc` lacks MSG_PROXY.
    bit(0x10, "MSG_PROXY"),
    lc!(MSG_TRUNC),
    lc!(MSG_DONTWAIT),
    lc!(MSG_EOR),
    lc!(MSG_WAITALL),
    lc!(MSG_FIN),
    lc!(MSG_SYN),
    lc!(MSG_CONFIRM),
    lc!(MSG_RST),
    lc!(MSG_ERRQUEUE),
    lc!(MSG_NOSIGNAL),
    lc!(MSG_MORE),
    lc!(MSG_WAITFORONE),
    lc!(MSG_ZEROCOPY),
    lc!(MSG_FASTOPEN),
    lc!(MSG_CMSG_CLOEXEC),
];

const ACCESS: &[Row] = &[lc!(R_OK), lc!(W_OK), lc!(X_OK)];

const FINIT_MODULE: &[Row] = &[
    lc!(MODULE_INIT_IGNORE_MODVERSIONS),
    lc!(MODULE_INIT_IGNORE_VERMAGIC),
    // `libc` lacks MODULE_INIT_COMPRESSED_FILE (Linux 5.17).
    bit(0x4, "MODULE_INIT_COMPRESSED_FILE"),
];

// `libc` has none of the io_uring constants; these are <linux/io_uring.h>'s.
const IO_URING_SETUP: &[Row] = &[
    bit(1 << 0, "IORING_SETUP_IOPOLL"),
    bit(1 << 1, "IORING_SETUP_SQPOLL"),
    bit(1 << 2, "IORING_SETUP_SQ_AFF"),
    bit(1 << 3, "IORING_SETUP_CQSIZE"),
    bit(1 << 4, "IORING_SETUP_CLAMP"),
    bit(1 << 5, "IORING_SETUP_ATTACH_WQ"),
    bit(1 << 6, "IORING_SETUP_R_DISABLED"),
    bit(1 << 7, "IORING_SETUP_SUBMIT_ALL"),
    bit(1 << 8, "IORING_SETUP_COOP_TASKRUN"),
    bit(1 << 9, "IORING_SETUP_TASKRUN_FLAG"),
    bit(1 << 10, "IORING_SETUP_SQE128"),
    bit(1 << 11, "IORING_SETUP_CQE32"),
    bit(1 << 12, "IORING_SETUP_SINGLE_ISSUER"),
    bit(1 << 13, "IORING_SETUP_DEFER_TASKRUN"),
    bit(1 << 14, "IORING_SETUP_NO_MMAP"),
    bit(1 << 15, "IORING_SETUP_REGISTERED_FD_ONLY"),
    bit(1 << 16, "IORING_SETUP_NO_SQARRAY"),
    bit(1 << 17, "IORING_SETUP_HYBRID_IOPOLL"),
];

/// The table and zero name of a family.
fn family(kind: FlagKind) -> Family {
    let (rows, zero) = match kind {
        FlagKind::Open => (OPEN, "O_RDONLY"),
        FlagKind::At => (AT, "0"),
        FlagKind::Unlinkat => (UNLINKAT, "0"),
        FlagKind::Rename => (RENAME, "0"),
        FlagKind::Clone => (CLONE, "0"),
        FlagKind::Mount => (MOUNT, "0"),
        FlagKind::Umount => (UMOUNT, "0"),
        FlagKind::SocketType => (SOCKET_TYPE, "0"),
        FlagKind::Accept4 => (ACCEPT4, "0"),
        FlagKind::Memfd => (MEMFD, "0"),
        FlagKind::Cloexec => (CLOEXEC, "0"),
        FlagKind::Prot => (PROT, "PROT_NONE"),
        FlagKind::Map => (MAP, "0"),
        FlagKind::Msg => (MSG, "0"),
        FlagKind::Access => (ACCESS, "F_OK"),
        FlagKind::FinitModule => (FINIT_MODULE, "0"),
        FlagKind::IoUringSetup => (IO_URING_SETUP, "0"),
        FlagKind::Namespace => (NAMESPACE, "0"),
    };
    Family { rows, zero }
}

/// Formats `bits` as `NAME|NAME|0xrest`: the names of the flags set, in table order, then any
/// bits no name covers in hex. Zero is the family's zero name (`O_RDONLY`, `PROT_NONE`, `F_OK`)
/// or `0`. For [`FlagKind::Clone`] the low byte is the exit signal and is shown by name
/// (`CLONE_VM|CLONE_VFORK|SIGCHLD`).
pub fn format(kind: FlagKind, bits: u64) -> String {
    let family = family(kind);
    if bits == 0 {
        return family.zero.to_owned();
    }
    let mut out = String::new();
    let mut claimed = 0u64;
    for row in family.rows {
        if row.mask != 0 && row.mask & claimed == 0 && bits & row.mask == row.value {
            push_sep(&mut out);
            out.push_str(row.name);
            claimed |= row.mask;
        }
    }
    if kind == FlagKind::Clone {
        // Out of range values (SIGRTMAX is 64) stay in the hex remainder.
        let sig = bits & CSIGNAL;
        if (1..=64).contains(&sig) {
            push_sep(&mut out);
            signal::write_name(&mut out, sig as i32);
            claimed |= CSIGNAL;
        }
    }
    let rest = bits & !claimed;
    if rest != 0 {
        push_sep(&mut out);
        let _ = write!(out, "{rest:#x}");
    }
    out
}

fn push_sep(out: &mut String) {
    if !out.is_empty() {
        out.push('|');
    }
}

/// The bits [`format`] shows as `text`: names, the family's zero name, signal names for
/// [`FlagKind::Clone`] and hex remainders, joined by `|`. `None` for a part it cannot read.
/// Used to read back recorded events.
pub fn parse(kind: FlagKind, text: &str) -> Option<u64> {
    let family = family(kind);
    let mut bits = 0u64;
    for part in text.split('|') {
        bits |= if part == family.zero || part == "0" {
            0
        } else if let Some(hex) = part.strip_prefix("0x") {
            u64::from_str_radix(hex, 16).ok()?
        } else if let Some(row) = family.rows.iter().find(|row| row.name == part) {
            row.value
        } else if kind == FlagKind::Clone {
            u64::try_from(signal::from_name(part)?).ok()?
        } else {
            return None;
        };
    }
    Some(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(kind: FlagKind, bits: impl TryInto<u64>) -> String {
        format(kind, bits.try_into().ok().expect("non-negative flags"))
    }

    #[test]
    fn open() {
        use libc::*;
        assert_eq!(
            f(FlagKind::Open, O_WRONLY | O_CREAT | O_TRUNC),
            "O_WRONLY|O_CREAT|O_TRUNC"
        );
        assert_eq!(format(FlagKind::Open, 0), "O_RDONLY");
        assert_eq!(
            f(FlagKind::Open, O_RDONLY | O_CLOEXEC),
            "O_RDONLY|O_CLOEXEC"
        );
        assert_eq!(
            f(FlagKind::Open, O_RDWR | O_APPEND | O_NONBLOCK),
            "O_RDWR|O_APPEND|O_NONBLOCK"
        );
        // 0x241 is what `> file` opens with, as it reaches the kernel.
        assert_eq!(format(FlagKind::Open, 0x241), "O_WRONLY|O_CREAT|O_TRUNC");
        assert_eq!(
            format(FlagKind::Open, (O_WRONLY | O_CREAT) as u64 | 0x8000_0000),
            "O_WRONLY|O_CREAT|0x80000000"
        );
        // An access mode of 3 has no name; its bits stay in the remainder.
        assert_eq!(f(FlagKind::Open, 3 | O_CREAT), "O_CREAT|0x3");
    }

    #[test]
    fn open_composites() {
        use libc::*;
        assert_eq!(libc::O_SYNC & libc::O_DSYNC, libc::O_DSYNC);
        assert_eq!(f(FlagKind::Open, O_WRONLY | O_SYNC), "O_WRONLY|O_SYNC");
        assert_eq!(f(FlagKind::Open, O_WRONLY | O_DSYNC), "O_WRONLY|O_DSYNC");
        assert_eq!(f(FlagKind::Open, O_RDWR | O_TMPFILE), "O_RDWR|O_TMPFILE");
        assert_eq!(
            f(FlagKind::Open, O_DIRECTORY | O_CLOEXEC),
            "O_RDONLY|O_DIRECTORY|O_CLOEXEC"
        );
        // __O_TMPFILE without O_DIRECTORY is not O_TMPFILE.
        assert_eq!(
            f(FlagKind::Open, O_TMPFILE & !O_DIRECTORY),
            "O_RDONLY|0x400000"
        );
        assert_eq!(format(FlagKind::Open, 0o100000), "O_RDONLY|O_LARGEFILE");
        assert_eq!(
            f(FlagKind::Open, O_PATH | O_NOFOLLOW),
            "O_RDONLY|O_NOFOLLOW|O_PATH"
        );
        assert_eq!(
            f(FlagKind::Open, O_ASYNC | O_DIRECT | O_NOATIME),
            "O_RDONLY|O_ASYNC|O_DIRECT|O_NOATIME"
        );
        assert_eq!(
            f(FlagKind::Open, O_EXCL | O_NOCTTY),
            "O_RDONLY|O_EXCL|O_NOCTTY"
        );
    }

    #[test]
    fn at_family() {
        use libc::*;
        assert_eq!(
            f(FlagKind::At, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH),
            "AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH"
        );
        assert_eq!(format(FlagKind::At, 0x200), "AT_EACCESS");
        assert_eq!(f(FlagKind::At, AT_SYMLINK_FOLLOW), "AT_SYMLINK_FOLLOW");
        assert_eq!(
            f(FlagKind::At, AT_RECURSIVE | AT_NO_AUTOMOUNT),
            "AT_NO_AUTOMOUNT|AT_RECURSIVE"
        );
        assert_eq!(format(FlagKind::At, 0), "0");
        assert_eq!(f(FlagKind::Unlinkat, AT_REMOVEDIR), "AT_REMOVEDIR");
        assert_eq!(format(FlagKind::Unlinkat, 0), "0");
        assert_eq!(format(FlagKind::Unlinkat, 0x100), "0x100");
        assert_eq!(format(FlagKind::Rename, 1), "RENAME_NOREPLACE");
        assert_eq!(format(FlagKind::Rename, 2), "RENAME_EXCHANGE");
        assert_eq!(format(FlagKind::Rename, 4 | 8), "RENAME_WHITEOUT|0x8");
    }

    #[test]
    fn clone() {
        use libc::*;
        assert_eq!(
            f(FlagKind::Clone, CLONE_VM | CLONE_VFORK | SIGCHLD),
            "CLONE_VM|CLONE_VFORK|SIGCHLD"
        );
        // glibc's fork().
        assert_eq!(
            f(
                FlagKind::Clone,
                CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD
            ),
            "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"
        );
        // glibc's pthread_create().
        let thread = CLONE_VM
            | CLONE_FS
            | CLONE_FILES
            | CLONE_SIGHAND
            | CLONE_THREAD
            | CLONE_SYSVSEM
            | CLONE_SETTLS
            | CLONE_PARENT_SETTID
            | CLONE_CHILD_CLEARTID;
        assert_eq!(
            f(FlagKind::Clone, thread),
            "CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|\
             CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID"
        );
        assert_eq!(
            f(
                FlagKind::Clone,
                CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | SIGCHLD
            ),
            "CLONE_NEWNS|CLONE_NEWUSER|CLONE_NEWPID|SIGCHLD"
        );
        assert_eq!(f(FlagKind::Clone, SIGCHLD), "SIGCHLD");
        assert_eq!(
            format(FlagKind::Clone, 0x8000_0000 | 34),
            "CLONE_IO|SIGRTMIN+2"
        );
        assert_eq!(format(FlagKind::Clone, 0), "0");
        // Not a signal: kept as hex.
        assert_eq!(f(FlagKind::Clone, CLONE_VM | 0x80), "CLONE_VM|0x80");
        assert_eq!(
            format(FlagKind::Clone, 0x1_0000_0000 | 17),
            "CLONE_CLEAR_SIGHAND|SIGCHLD"
        );
        assert_eq!(format(FlagKind::Clone, 0x10_0000_0000), "0x1000000000");
    }

    #[test]
    fn namespace() {
        use libc::*;
        assert_eq!(f(FlagKind::Namespace, CLONE_NEWNET), "CLONE_NEWNET");
        assert_eq!(
            f(FlagKind::Namespace, CLONE_NEWUSER | CLONE_NEWNS | CLONE_FS),
            "CLONE_FS|CLONE_NEWNS|CLONE_NEWUSER"
        );
        assert_eq!(format(FlagKind::Namespace, 0x80), "CLONE_NEWTIME");
        assert_eq!(
            f(
                FlagKind::Namespace,
                CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID
            ),
            "CLONE_NEWCGROUP|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWPID"
        );
        assert_eq!(format(FlagKind::Namespace, 0), "0");
        assert_eq!(
            f(FlagKind::Namespace, CLONE_FILES | CLONE_SYSVSEM | 1),
            "CLONE_FILES|CLONE_SYSVSEM|0x1"
        );
    }

    #[test]
    fn mount() {
        use libc::*;
        assert_eq!(format(FlagKind::Mount, MS_BIND | MS_REC), "MS_BIND|MS_REC");
        assert_eq!(
            format(FlagKind::Mount, MS_REMOUNT | MS_BIND | MS_RDONLY),
            "MS_RDONLY|MS_REMOUNT|MS_BIND"
        );
        assert_eq!(
            format(FlagKind::Mount, MS_REC | MS_PRIVATE),
            "MS_REC|MS_PRIVATE"
        );
        assert_eq!(
            format(FlagKind::Mount, MS_MGC_VAL | MS_RDONLY | MS_NOSUID),
            "MS_MGC_VAL|MS_RDONLY|MS_NOSUID"
        );
        assert_eq!(format(FlagKind::Mount, 0xc0ed_0000), "MS_MGC_VAL");
        assert_eq!(
            format(
                FlagKind::Mount,
                MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME
            ),
            "MS_NOSUID|MS_NODEV|MS_NOEXEC|MS_RELATIME"
        );
        assert_eq!(
            format(FlagKind::Mount, MS_LAZYTIME | MS_STRICTATIME | MS_SHARED),
            "MS_SHARED|MS_STRICTATIME|MS_LAZYTIME"
        );
        // Bits outside the magic are flags as usual.
        assert_eq!(
            format(FlagKind::Mount, MS_SLAVE | 1 << 40),
            "MS_SLAVE|0x10000000000"
        );
        assert_eq!(format(FlagKind::Mount, 0), "0");
        assert_eq!(f(FlagKind::Umount, MNT_DETACH), "MNT_DETACH");
        assert_eq!(
            f(FlagKind::Umount, MNT_FORCE | UMOUNT_NOFOLLOW),
            "MNT_FORCE|UMOUNT_NOFOLLOW"
        );
        assert_eq!(f(FlagKind::Umount, MNT_EXPIRE), "MNT_EXPIRE");
    }

    #[test]
    fn sockets() {
        use libc::*;
        assert_eq!(
            f(FlagKind::SocketType, SOCK_STREAM | SOCK_CLOEXEC),
            "SOCK_STREAM|SOCK_CLOEXEC"
        );
        assert_eq!(
            f(
                FlagKind::SocketType,
                SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC
            ),
            "SOCK_DGRAM|SOCK_NONBLOCK|SOCK_CLOEXEC"
        );
        assert_eq!(f(FlagKind::SocketType, SOCK_RAW), "SOCK_RAW");
        assert_eq!(format(FlagKind::SocketType, 6), "SOCK_DCCP");
        assert_eq!(format(FlagKind::SocketType, 10), "SOCK_PACKET");
        assert_eq!(format(FlagKind::SocketType, 7), "0x7");
        assert_eq!(format(FlagKind::SocketType, 0), "0");
        assert_eq!(f(FlagKind::Accept4, SOCK_CLOEXEC), "SOCK_CLOEXEC");
        assert_eq!(
            f(FlagKind::Accept4, SOCK_NONBLOCK | SOCK_CLOEXEC),
            "SOCK_NONBLOCK|SOCK_CLOEXEC"
        );
        assert_eq!(format(FlagKind::Accept4, 0), "0");
    }

    #[test]
    fn msg() {
        use libc::*;
        assert_eq!(f(FlagKind::Msg, MSG_NOSIGNAL), "MSG_NOSIGNAL");
        assert_eq!(
            f(FlagKind::Msg, MSG_DONTWAIT | MSG_PEEK),
            "MSG_PEEK|MSG_DONTWAIT"
        );
        assert_eq!(
            f(FlagKind::Msg, MSG_CMSG_CLOEXEC | MSG_WAITALL),
            "MSG_WAITALL|MSG_CMSG_CLOEXEC"
        );
        assert_eq!(format(FlagKind::Msg, 0x10), "MSG_PROXY");
        assert_eq!(
            f(FlagKind::Msg, MSG_ZEROCOPY | MSG_FASTOPEN),
            "MSG_ZEROCOPY|MSG_FASTOPEN"
        );
        assert_eq!(format(FlagKind::Msg, 0x4_0000), "0x40000");
        assert_eq!(format(FlagKind::Msg, 0), "0");
    }

    #[test]
    fn memory() {
        use libc::*;
        assert_eq!(format(FlagKind::Prot, 0), "PROT_NONE");
        assert_eq!(
            f(FlagKind::Prot, PROT_READ | PROT_WRITE),
            "PROT_READ|PROT_WRITE"
        );
        assert_eq!(
            f(FlagKind::Prot, PROT_READ | PROT_EXEC),
            "PROT_READ|PROT_EXEC"
        );
        assert_eq!(
            f(FlagKind::Prot, PROT_READ | PROT_GROWSDOWN | 0x8),
            "PROT_READ|PROT_SEM|PROT_GROWSDOWN"
        );
        assert_eq!(
            f(FlagKind::Map, MAP_PRIVATE | MAP_ANONYMOUS),
            "MAP_PRIVATE|MAP_ANONYMOUS"
        );
        assert_eq!(
            f(FlagKind::Map, MAP_SHARED | MAP_FIXED),
            "MAP_SHARED|MAP_FIXED"
        );
        assert_eq!(
            f(FlagKind::Map, MAP_SHARED_VALIDATE | MAP_SYNC),
            "MAP_SHARED_VALIDATE|MAP_SYNC"
        );
        assert_eq!(
            f(
                FlagKind::Map,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE
            ),
            "MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE|MAP_STACK"
        );
        assert_eq!(
            f(
                FlagKind::Map,
                MAP_PRIVATE | MAP_DENYWRITE | MAP_FIXED_NOREPLACE
            ),
            "MAP_PRIVATE|MAP_DENYWRITE|MAP_FIXED_NOREPLACE"
        );
        assert_eq!(
            f(
                FlagKind::Map,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB
            ),
            "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_HUGE_2MB"
        );
        assert_eq!(
            format(FlagKind::Map, 0x2 | (30 << 26)),
            "MAP_PRIVATE|MAP_HUGE_1GB"
        );
        assert_eq!(format(FlagKind::Map, 0), "0");
        assert_eq!(
            f(FlagKind::Memfd, MFD_CLOEXEC | MFD_ALLOW_SEALING),
            "MFD_CLOEXEC|MFD_ALLOW_SEALING"
        );
        assert_eq!(
            format(FlagKind::Memfd, 0x8 | 0x1),
            "MFD_CLOEXEC|MFD_NOEXEC_SEAL"
        );
        assert_eq!(format(FlagKind::Memfd, 0x10), "MFD_EXEC");
        assert_eq!(
            f(FlagKind::Memfd, MFD_HUGETLB | MFD_HUGE_2MB),
            "MFD_HUGETLB|MFD_HUGE_2MB"
        );
        assert_eq!(format(FlagKind::Memfd, 0x20), "0x20");
    }

    #[test]
    fn small_families() {
        use libc::*;
        assert_eq!(f(FlagKind::Cloexec, O_CLOEXEC), "O_CLOEXEC");
        assert_eq!(
            f(FlagKind::Cloexec, O_CLOEXEC | O_NONBLOCK),
            "O_NONBLOCK|O_CLOEXEC"
        );
        assert_eq!(f(FlagKind::Cloexec, O_DIRECT), "O_DIRECT");
        assert_eq!(format(FlagKind::Cloexec, 0), "0");
        assert_eq!(format(FlagKind::Access, 0), "F_OK");
        assert_eq!(f(FlagKind::Access, R_OK | W_OK | X_OK), "R_OK|W_OK|X_OK");
        assert_eq!(f(FlagKind::Access, X_OK), "X_OK");
        assert_eq!(format(FlagKind::Access, 8), "0x8");
        assert_eq!(format(FlagKind::FinitModule, 0), "0");
        assert_eq!(
            format(FlagKind::FinitModule, 1 | 2 | 4),
            "MODULE_INIT_IGNORE_MODVERSIONS|MODULE_INIT_IGNORE_VERMAGIC|MODULE_INIT_COMPRESSED_FILE"
        );
        assert_eq!(
            format(FlagKind::IoUringSetup, 2 | 4096 | 8192),
            "IORING_SETUP_SQPOLL|IORING_SETUP_SINGLE_ISSUER|IORING_SETUP_DEFER_TASKRUN"
        );
        assert_eq!(format(FlagKind::IoUringSetup, 1 << 31), "0x80000000");
    }

    #[test]
    fn every_row_is_named_and_nonzero() {
        let kinds = [
            FlagKind::Open,
            FlagKind::At,
            FlagKind::Unlinkat,
            FlagKind::Rename,
            FlagKind::Clone,
            FlagKind::Mount,
            FlagKind::Umount,
            FlagKind::SocketType,
            FlagKind::Accept4,
            FlagKind::Memfd,
            FlagKind::Cloexec,
            FlagKind::Prot,
            FlagKind::Map,
            FlagKind::Msg,
            FlagKind::Access,
            FlagKind::FinitModule,
            FlagKind::IoUringSetup,
            FlagKind::Namespace,
        ];
        for kind in kinds {
            for row in family(kind).rows {
                assert_ne!(row.mask, 0, "{kind:?} {}", row.name);
                assert_eq!(row.value & !row.mask, 0, "{kind:?} {}", row.name);
                // Plain flags format as exactly their own name.
                if row.mask == row.value {
                    let shown = format(kind, row.value);
                    // Open always names its access mode; O_RDONLY is zero.
                    let shown = shown.strip_prefix("O_RDONLY|").unwrap_or(&shown);
                    assert_eq!(shown, row.name, "{kind:?}");
                }
            }
        }
    }
}
