//! Syscall identity: one canonical id per operation, whichever ABI the tracee entered it by.
//!
//! An x86_64 syscall's id is its x86_64 number. An i386 syscall maps to the id of its x86_64 twin
//! (same name, or a twin listed in `xtask/data/i386-twins.txt` such as `chown32` -> `chown`), so a
//! rule about `open` also sees a 32-bit `int 0x80` open. Syscalls only i386 has (`socketcall`,
//! `_llseek`, ...) get ids of their own from [`generated::I386_ONLY_BASE`] up.

#[rustfmt::skip]
#[allow(clippy::all)]
mod generated;

use std::fmt;
use std::sync::OnceLock;

pub use generated::ID_SPACE;

/// The ABI a syscall was entered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Abi {
    /// The native 64-bit ABI (`syscall` instruction).
    X86_64,
    /// The 32-bit compat ABI (`int 0x80`, `sysenter`, or a 32-bit process).
    I386,
    /// The x32 ABI (`syscall` with bit 30 set in the number).
    X32,
}

impl Abi {
    /// The `AUDIT_ARCH_*` value seccomp and `PTRACE_GET_SYSCALL_INFO` report for this ABI.
    pub const fn audit_arch(self) -> u32 {
        match self {
            Abi::X86_64 | Abi::X32 => AUDIT_ARCH_X86_64,
            Abi::I386 => AUDIT_ARCH_I386,
        }
    }

    /// Name as printed in events.
    pub const fn name(self) -> &'static str {
        match self {
            Abi::X86_64 => "x86_64",
            Abi::I386 => "i386",
            Abi::X32 => "x32",
        }
    }

    /// Classifies a syscall by its audit arch and raw number.
    pub const fn classify(audit_arch: u32, nr: u64) -> Option<Abi> {
        match audit_arch {
            AUDIT_ARCH_X86_64 if nr & X32_SYSCALL_BIT != 0 => Some(Abi::X32),
            AUDIT_ARCH_X86_64 => Some(Abi::X86_64),
            AUDIT_ARCH_I386 => Some(Abi::I386),
            _ => None,
        }
    }
}

impl fmt::Display for Abi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `AUDIT_ARCH_X86_64` from `<linux/audit.h>`.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `AUDIT_ARCH_I386` from `<linux/audit.h>`.
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `__X32_SYSCALL_BIT`: x32 syscalls are x86_64 entries with this bit set in the number.
pub const X32_SYSCALL_BIT: u64 = 0x4000_0000;

/// A canonical syscall id (see the module documentation).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SyscallId(u16);

impl SyscallId {
    /// The id for a raw syscall number entered by `abi`, if the kernel has such a syscall.
    /// x32 numbers map to their x86_64 twins (x32 shares the 64-bit table below bit 30).
    pub fn from_abi(abi: Abi, nr: u64) -> Option<SyscallId> {
        let (table, nr) = match abi {
            Abi::X86_64 => (&generated::X86_64_TO_ID, nr),
            Abi::X32 => (&generated::X86_64_TO_ID, nr & !X32_SYSCALL_BIT),
            Abi::I386 => (&generated::I386_TO_ID, nr),
        };
        let id = *table.get(usize::try_from(nr).ok()?)?;
        (id != generated::NONE).then_some(SyscallId(id))
    }

    /// The id of a syscall by name (x86_64 names, or the names of i386-only syscalls).
    pub fn from_name(name: &str) -> Option<SyscallId> {
        by_name()
            .binary_search_by(|(n, _)| (*n).cmp(name))
            .ok()
            .map(|i| by_name()[i].1)
    }

    /// Builds an id from its raw value, if some syscall has it.
    pub fn from_raw(raw: u16) -> Option<SyscallId> {
        names()
            .get(usize::from(raw))
            .filter(|name| !name.is_empty())
            .map(|_| SyscallId(raw))
    }

    /// The raw id (an index below [`ID_SPACE`]).
    pub const fn raw(self) -> u16 {
        self.0
    }

    /// True for syscalls that only the i386 ABI has (`socketcall`, `_llseek`, ...): they have
    /// no x86_64 twin, so a rule can only name them, never see them from 64-bit code.
    pub const fn is_i386_only(self) -> bool {
        self.0 >= generated::I386_ONLY_BASE
    }

    /// The syscall's name.
    pub fn name(self) -> &'static str {
        names().get(usize::from(self.0)).copied().unwrap_or("")
    }

    /// The syscall's number in `abi`, if that ABI has it.
    pub fn number_in(self, abi: Abi) -> Option<u64> {
        let table = match abi {
            Abi::X86_64 | Abi::X32 => &generated::X86_64_TO_ID,
            Abi::I386 => &generated::I386_TO_ID,
        };
        // An id may have several numbers in i386 (`chown` and `chown32`); the last is the one
        // with modern argument widths, which is what callers want.
        let nr = table.iter().rposition(|&id| id == self.0)? as u64;
        Some(if abi == Abi::X32 {
            nr | X32_SYSCALL_BIT
        } else {
            nr
        })
    }

    /// Every raw number in `abi` that maps to this id.
    pub fn numbers_in(self, abi: Abi) -> impl Iterator<Item = u64> {
        let table = match abi {
            Abi::X86_64 | Abi::X32 => &generated::X86_64_TO_ID,
            Abi::I386 => &generated::I386_TO_ID,
        };
        let bit = if abi == Abi::X32 { X32_SYSCALL_BIT } else { 0 };
        table
            .iter()
            .enumerate()
            .filter(move |(_, &id)| id == self.0)
            .map(move |(nr, _)| nr as u64 | bit)
    }

    /// All syscalls known, by id.
    pub fn all() -> impl Iterator<Item = SyscallId> {
        generated::NAMES.iter().map(|&(id, _)| SyscallId(id))
    }
}

impl fmt::Debug for SyscallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for SyscallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Names indexed by id ("" where no syscall has the id).
fn names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names = vec![""; ID_SPACE];
        for &(id, name) in generated::NAMES {
            names[usize::from(id)] = name;
        }
        names
    })
}

/// (name, id) sorted by name, for lookups by name.
fn by_name() -> &'static [(&'static str, SyscallId)] {
    static BY_NAME: OnceLock<Vec<(&'static str, SyscallId)>> = OnceLock::new();
    BY_NAME.get_or_init(|| {
        let mut v: Vec<_> = generated::NAMES
            .iter()
            .map(|&(id, name)| (name, SyscallId(id)))
            .collect();
        v.sort_unstable();
        v
    })
}

/// Well-known ids the drivers and the state tracker need by name, checked against the tables by
/// a test so that a regenerated table cannot silently move them.
pub mod ids {
    use super::SyscallId;
    macro_rules! known {
        ($($name:ident = $nr:expr;)*) => {
            $(#[doc = concat!("`", stringify!($name), "`")] pub const $name: SyscallId = SyscallId($nr);)*
            #[cfg(test)]
            pub(super) const ALL: &[(&str, SyscallId)] = &[$((stringify!($name), $name)),*];
        };
    }
    known! {
        CLONE = 56; FORK = 57; VFORK = 58; EXECVE = 59; EXIT = 60; EXIT_GROUP = 231;
        CLONE3 = 435; EXECVEAT = 322; RT_SIGRETURN = 15; RESTART_SYSCALL = 219;
        CONNECT = 42; ACCEPT = 43; SENDTO = 44; RECVFROM = 45; SENDMSG = 46; RECVMSG = 47;
        SHUTDOWN = 48; BIND = 49; LISTEN = 50; GETSOCKNAME = 51; GETPEERNAME = 52;
        SOCKETPAIR = 53; SETSOCKOPT = 54; GETSOCKOPT = 55; SOCKET = 41; ACCEPT4 = 288;
        RECVMMSG = 299; SENDMMSG = 307;
    }
}

/// The i386 `socketcall` multiplexer: its first argument selects one of these operations, whose
/// arguments are an array of 32-bit words at the address in its second argument.
pub mod socketcall {
    use super::{ids, SyscallId};

    /// `socketcall`'s raw i386 number.
    pub const I386_NR: u64 = 102;

    /// The operation a `socketcall` call number stands for, and how many argument words it takes.
    pub fn target(call: u64) -> Option<(SyscallId, usize)> {
        Some(match call {
            1 => (ids::SOCKET, 3),
            2 => (ids::BIND, 3),
            3 => (ids::CONNECT, 3),
            4 => (ids::LISTEN, 2),
            5 => (ids::ACCEPT, 3),
            6 => (ids::GETSOCKNAME, 3),
            7 => (ids::GETPEERNAME, 3),
            8 => (ids::SOCKETPAIR, 4),
            // 9 (send) and 10 (recv) are sendto/recvfrom without an address.
            9 | 11 => (ids::SENDTO, 6),
            10 | 12 => (ids::RECVFROM, 6),
            13 => (ids::SHUTDOWN, 2),
            14 => (ids::SETSOCKOPT, 5),
            15 => (ids::GETSOCKOPT, 5),
            16 => (ids::SENDMSG, 3),
            17 => (ids::RECVMSG, 3),
            18 => (ids::ACCEPT4, 4),
            19 => (ids::RECVMMSG, 5),
            20 => (ids::SENDMMSG, 4),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_ids_match_the_generated_table() {
        for (name, id) in ids::ALL {
            assert_eq!(id.name(), name.to_ascii_lowercase(), "ids::{name}");
        }
    }

    #[test]
    fn x86_64_numbers_are_ids() {
        let open = SyscallId::from_abi(Abi::X86_64, 2).expect("open");
        assert_eq!(open.name(), "open");
        assert_eq!(
            SyscallId::from_name("openat").map(SyscallId::raw),
            Some(257)
        );
    }

    #[test]
    fn i386_open_is_the_x86_64_open_not_fstat() {
        // i386 5 is open; read as x86_64 it would be fstat.
        let id = SyscallId::from_abi(Abi::I386, 5).expect("i386 5");
        assert_eq!(id.name(), "open");
        assert_eq!(
            SyscallId::from_abi(Abi::X86_64, 5).map(SyscallId::name),
            Some("fstat")
        );
    }

    #[test]
    fn i386_twins_share_the_x86_64_id() {
        let chown32 = SyscallId::from_abi(Abi::I386, 212).expect("chown32");
        assert_eq!(chown32.name(), "chown");
        let setuid32 = SyscallId::from_abi(Abi::I386, 213).expect("setuid32");
        assert_eq!(setuid32.name(), "setuid");
        assert_eq!(
            SyscallId::from_name("chown").and_then(|id| id.number_in(Abi::I386)),
            Some(212)
        );
    }

    #[test]
    fn i386_only_syscalls_have_ids_of_their_own() {
        let id = SyscallId::from_abi(Abi::I386, socketcall::I386_NR).expect("socketcall");
        assert_eq!(id.name(), "socketcall");
        assert!(id.raw() >= generated::I386_ONLY_BASE);
        assert_eq!(id.number_in(Abi::X86_64), None);
    }

    #[test]
    fn x32_maps_to_x86_64_table() {
        let id = SyscallId::from_abi(Abi::X32, X32_SYSCALL_BIT | 257).expect("x32 openat");
        assert_eq!(id.name(), "openat");
        assert_eq!(
            Abi::classify(AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 2),
            Some(Abi::X32)
        );
    }

    #[test]
    fn newer_syscalls_are_known() {
        assert_eq!(
            SyscallId::from_name("fchmodat2").map(SyscallId::raw),
            Some(452)
        );
        assert_eq!(
            SyscallId::from_abi(Abi::I386, 452).map(SyscallId::name),
            Some("fchmodat2")
        );
    }

    #[test]
    fn unknown_numbers_are_none() {
        assert_eq!(SyscallId::from_abi(Abi::X86_64, 400), None);
        assert_eq!(SyscallId::from_abi(Abi::X86_64, 1 << 20), None);
        assert_eq!(SyscallId::from_name("no_such_call"), None);
    }
}
