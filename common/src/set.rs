//! `SyscallSet`: a fixed-size bitset over the canonical syscall id space.

use std::fmt;

use crate::syscalls::{Abi, SyscallId, ID_SPACE};

const WORDS: usize = ID_SPACE / 64;

/// A set of syscalls, by canonical id. Cheap to copy; membership is one shift and mask, so it is
/// what both drivers consult first (the ptrace driver to build its seccomp filter, the eBPF driver
/// as the in-kernel interest bitmap).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SyscallSet {
    words: [u64; WORDS],
}

impl SyscallSet {
    /// The empty set.
    pub const fn new() -> Self {
        SyscallSet { words: [0; WORDS] }
    }

    /// Every known syscall.
    pub fn all() -> Self {
        SyscallId::all().collect()
    }

    /// Adds `id`; returns whether it was new.
    pub fn insert(&mut self, id: SyscallId) -> bool {
        let (word, bit) = Self::slot(id);
        let was = self.words[word] & bit != 0;
        self.words[word] |= bit;
        !was
    }

    /// Removes `id`; returns whether it was present.
    pub fn remove(&mut self, id: SyscallId) -> bool {
        let (word, bit) = Self::slot(id);
        let was = self.words[word] & bit != 0;
        self.words[word] &= !bit;
        was
    }

    /// Whether `id` is in the set.
    #[inline]
    pub fn contains(&self, id: SyscallId) -> bool {
        let (word, bit) = Self::slot(id);
        self.words[word] & bit != 0
    }

    /// Whether the raw syscall `nr` entered by `abi` is in the set.
    #[inline]
    pub fn contains_raw(&self, abi: Abi, nr: u64) -> bool {
        SyscallId::from_abi(abi, nr).is_some_and(|id| self.contains(id))
    }

    /// Adds every member of `other`.
    pub fn extend_from(&mut self, other: &SyscallSet) {
        for (a, b) in self.words.iter_mut().zip(other.words.iter()) {
            *a |= b;
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// Members in id order.
    pub fn iter(&self) -> impl Iterator<Item = SyscallId> + '_ {
        (0..ID_SPACE).filter_map(move |i| {
            let raw = i as u16;
            (self.words[i / 64] & (1 << (i % 64)) != 0)
                .then(|| SyscallId::from_raw(raw))
                .flatten()
        })
    }

    /// The raw numbers of `abi` whose syscalls are in the set, ascending. This is what a driver
    /// installs in the kernel. For i386 it includes `socketcall` when any socket operation it
    /// multiplexes is in the set, so that the multiplexed form cannot be used to hide one.
    pub fn abi_numbers(&self, abi: Abi) -> Vec<u64> {
        let mut numbers: Vec<u64> = self.iter().flat_map(|id| id.numbers_in(abi)).collect();
        if abi == Abi::I386 {
            let multiplexed = (1..=20).filter_map(crate::syscalls::socketcall::target);
            if multiplexed.into_iter().any(|(id, _)| self.contains(id)) {
                numbers.push(crate::syscalls::socketcall::I386_NR);
            }
        }
        numbers.sort_unstable();
        numbers.dedup();
        numbers
    }

    /// Parses a comma-separated list of syscall names.
    pub fn parse_names(list: &str) -> Result<Self, UnknownSyscall> {
        let mut set = SyscallSet::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let id = SyscallId::from_name(name).ok_or_else(|| UnknownSyscall(name.to_string()))?;
            set.insert(id);
        }
        Ok(set)
    }

    fn slot(id: SyscallId) -> (usize, u64) {
        let raw = usize::from(id.raw());
        (raw / 64, 1u64 << (raw % 64))
    }
}

/// A syscall name that no table knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown syscall name {0:?}")]
pub struct UnknownSyscall(pub String);

impl FromIterator<SyscallId> for SyscallSet {
    fn from_iter<I: IntoIterator<Item = SyscallId>>(iter: I) -> Self {
        let mut set = SyscallSet::new();
        for id in iter {
            set.insert(id);
        }
        set
    }
}

impl fmt::Debug for SyscallSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(SyscallId::name))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> SyscallId {
        SyscallId::from_name(name).expect(name)
    }

    #[test]
    fn insert_contains_remove() {
        let mut set = SyscallSet::new();
        assert!(set.is_empty());
        assert!(set.insert(id("openat")));
        assert!(!set.insert(id("openat")));
        assert!(set.contains(id("openat")));
        assert!(!set.contains(id("read")));
        assert_eq!(set.len(), 1);
        assert!(set.remove(id("openat")));
        assert!(set.is_empty());
    }

    #[test]
    fn raw_lookup_follows_the_abi() {
        let set = SyscallSet::parse_names("open").expect("parse");
        assert!(set.contains_raw(Abi::I386, 5));
        assert!(!set.contains_raw(Abi::X86_64, 5));
        assert!(set.contains_raw(Abi::X86_64, 2));
    }

    #[test]
    fn abi_numbers_include_every_i386_twin_and_socketcall() {
        let set = SyscallSet::parse_names("chown,connect").expect("parse");
        assert_eq!(set.abi_numbers(Abi::X86_64), vec![42, 92]);
        let i386 = set.abi_numbers(Abi::I386);
        for nr in [182, 212, 102, 362] {
            assert!(i386.contains(&nr), "i386 {nr} missing from {i386:?}");
        }
    }

    #[test]
    fn parse_names_reports_the_unknown_name() {
        assert_eq!(
            SyscallSet::parse_names("open,nope"),
            Err(UnknownSyscall("nope".into()))
        );
    }

    #[test]
    fn iter_in_id_order() {
        let set = SyscallSet::parse_names("openat,read,close").expect("parse");
        let names: Vec<_> = set.iter().map(SyscallId::name).collect();
        assert_eq!(names, ["read", "close", "openat"]);
    }
}
