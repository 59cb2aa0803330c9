//! Event types as rules name them (`evt.type = openat`, `evt.type = procexit`) and sets of them.
//!
//! Most Falco event types are syscalls and map to a [`SyscallId`]; a few are not ([`NonSyscall`]).
//! Falco's names that differ from the kernel's (`pread` for `pread64`, `llseek` for `_llseek`,
//! ...) are translated.

use std::fmt;

use lanner_common::{SyscallId, SyscallSet};

/// Falco event types that are not syscalls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum NonSyscall {
    /// `procexit`: a process (thread) exited — the process-exit lifecycle event.
    ProcExit,
    /// `container`: container lifecycle (no driver produces it yet).
    Container,
    /// `drop`: events were lost.
    Drop,
    /// `switch`: a context switch (no driver produces it).
    Switch,
    /// `signaldeliver`: a signal was delivered.
    SignalDeliver,
    /// `page_fault`.
    PageFault,
    /// `pluginevent`, `asyncevent`, `notification`, `infra`, `cpu_hotplug`, `k8s`, `mesos`,
    /// `tracer`, `scapevent`: events that no driver here produces.
    Other,
}

impl NonSyscall {
    /// Every member, in bit order.
    pub const ALL: [NonSyscall; 7] = [
        NonSyscall::ProcExit,
        NonSyscall::Container,
        NonSyscall::Drop,
        NonSyscall::Switch,
        NonSyscall::SignalDeliver,
        NonSyscall::PageFault,
        NonSyscall::Other,
    ];

    const fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// Falco's name for it.
    pub const fn name(self) -> &'static str {
        match self {
            NonSyscall::ProcExit => "procexit",
            NonSyscall::Container => "container",
            NonSyscall::Drop => "drop",
            NonSyscall::Switch => "switch",
            NonSyscall::SignalDeliver => "signaldeliver",
            NonSyscall::PageFault => "page_fault",
            NonSyscall::Other => "other",
        }
    }
}

/// What kind of event is being evaluated: a completed syscall, or one of the non-syscall events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventCode {
    /// A syscall, by canonical id.
    Syscall(SyscallId),
    /// Anything else.
    Other(NonSyscall),
}

impl EventCode {
    /// The name rules use for it (`openat`, `procexit`).
    pub fn name(self) -> &'static str {
        match self {
            EventCode::Syscall(id) => id.name(),
            EventCode::Other(o) => o.name(),
        }
    }
}

impl fmt::Display for EventCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<SyscallId> for EventCode {
    fn from(id: SyscallId) -> Self {
        EventCode::Syscall(id)
    }
}

/// Falco event-type names that are not the kernel's syscall names.
const RENAMES: &[(&str, &str)] = &[
    ("pread", "pread64"),
    ("pwrite", "pwrite64"),
    ("llseek", "_llseek"),
    ("fstatat", "newfstatat"),
    ("stat64", "stat"),
    ("lstat64", "lstat"),
    ("fstat64", "fstat"),
    ("sendfile64", "sendfile"),
    ("umount", "umount2"),
];

/// Resolves a Falco event-type name to the events it denotes. `execve` is a syscall like any
/// other (the exec lifecycle is reported as the execve syscall event).
pub fn event_type_by_name(name: &str) -> Option<EventCode> {
    let other = match name {
        "procexit" => Some(NonSyscall::ProcExit),
        "container" => Some(NonSyscall::Container),
        "drop" => Some(NonSyscall::Drop),
        "switch" => Some(NonSyscall::Switch),
        "signaldeliver" => Some(NonSyscall::SignalDeliver),
        "page_fault" => Some(NonSyscall::PageFault),
        "pluginevent" | "asyncevent" | "notification" | "infra" | "cpu_hotplug" | "k8s"
        | "mesos" | "tracer" | "scapevent" | "meta" => Some(NonSyscall::Other),
        _ => None,
    };
    if let Some(o) = other {
        return Some(EventCode::Other(o));
    }
    if let Some(id) = SyscallId::from_name(name) {
        return Some(EventCode::Syscall(id));
    }
    let renamed = RENAMES
        .iter()
        .find(|(falco, _)| *falco == name)
        .map(|(_, k)| *k)?;
    SyscallId::from_name(renamed).map(EventCode::Syscall)
}

/// A set of event types: syscalls plus non-syscall events.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EventSet {
    /// The syscalls.
    pub syscalls: SyscallSet,
    other: u8,
}

impl EventSet {
    /// The empty set.
    pub const fn empty() -> Self {
        EventSet {
            syscalls: SyscallSet::new(),
            other: 0,
        }
    }

    /// Every event type.
    pub fn all() -> Self {
        let other = NonSyscall::ALL.iter().fold(0, |acc, n| acc | n.bit());
        EventSet {
            syscalls: SyscallSet::all(),
            other,
        }
    }

    /// Adds one.
    pub fn insert(&mut self, code: EventCode) {
        match code {
            EventCode::Syscall(id) => {
                self.syscalls.insert(id);
            }
            EventCode::Other(o) => self.other |= o.bit(),
        }
    }

    /// Membership.
    #[inline]
    pub fn contains(&self, code: EventCode) -> bool {
        match code {
            EventCode::Syscall(id) => self.syscalls.contains(id),
            EventCode::Other(o) => self.other & o.bit() != 0,
        }
    }

    /// Union.
    pub fn union(&self, other: &EventSet) -> EventSet {
        let mut out = *self;
        out.syscalls.extend_from(&other.syscalls);
        out.other |= other.other;
        out
    }

    /// Intersection.
    pub fn intersection(&self, other: &EventSet) -> EventSet {
        let syscalls = self
            .syscalls
            .iter()
            .filter(|id| other.syscalls.contains(*id))
            .collect();
        EventSet {
            syscalls,
            other: self.other & other.other,
        }
    }

    /// Everything not in the set.
    pub fn complement(&self) -> EventSet {
        let all = EventSet::all();
        let syscalls = all
            .syscalls
            .iter()
            .filter(|id| !self.syscalls.contains(*id))
            .collect();
        EventSet {
            syscalls,
            other: all.other & !self.other,
        }
    }

    /// Whether it holds every event type.
    pub fn is_all(&self) -> bool {
        *self == EventSet::all()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.syscalls.is_empty() && self.other == 0
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.syscalls.len() + self.other.count_ones() as usize
    }

    /// Members: syscalls in id order, then non-syscall events.
    pub fn iter(&self) -> impl Iterator<Item = EventCode> + '_ {
        self.syscalls.iter().map(EventCode::Syscall).chain(
            NonSyscall::ALL
                .into_iter()
                .filter(|o| self.other & o.bit() != 0)
                .map(EventCode::Other),
        )
    }
}

impl fmt::Debug for EventSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("{all}");
        }
        f.debug_set()
            .entries(self.iter().map(EventCode::name))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            event_type_by_name("openat").map(EventCode::name),
            Some("openat")
        );
        assert_eq!(
            event_type_by_name("pread").map(EventCode::name),
            Some("pread64")
        );
        assert_eq!(
            event_type_by_name("procexit"),
            Some(EventCode::Other(NonSyscall::ProcExit))
        );
        assert!(event_type_by_name("nosuch").is_none());
    }

    #[test]
    fn set_algebra() {
        let open = event_type_by_name("open").expect("open");
        let mut s = EventSet::empty();
        s.insert(open);
        let c = s.complement();
        assert!(!c.contains(open));
        assert!(c.contains(EventCode::Other(NonSyscall::ProcExit)));
        assert_eq!(c.len() + 1, EventSet::all().len());
        assert!(c.union(&s).is_all());
        assert!(c.intersection(&s).is_empty());
    }
}
