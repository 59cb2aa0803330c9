//! Opens a driver may leave out: those whose path and access mode no rule can match.
//!
//! Most of what a workload opens (libraries, its own data, `/proc`) no rule asks about. When
//! every rule that can match an open needs its path to start or end a certain way (`fd.name
//! startswith /etc/`, `fd.directory in (/etc/pam.d)`, `fd.filename in (.bash_history)`), a
//! driver can leave out the others: the eBPF driver in the kernel, before it writes a record,
//! the ptrace driver before it hands the event on. This is lanner's in-kernel filtering of
//! opens; [`OpenFilter::keeps`] is its one definition, which the eBPF programs mirror.
//!
//! The judgement is made on the path as the call named it, which is what a rule sees (`fd.name`
//! is that path made absolute and normalized) only when it is already absolute and normalized:
//! every other path is kept ([`needs_resolving`]). So is every call through another ABI than
//! x86_64 (rules may ask for the ABI), every call whose path could not be read whole, and, when
//! the engine records written files, every open for writing or creating.

use crate::event::{Captured, RawSyscall};
use crate::syscalls::{Abi, SyscallId};

/// The open reads the file (`O_RDONLY` or `O_RDWR`).
pub const ACCESS_READ: u8 = 1;
/// The open writes the file (`O_WRONLY` or `O_RDWR`).
pub const ACCESS_WRITE: u8 = 2;
/// Either.
pub const ACCESS_ANY: u8 = ACCESS_READ | ACCESS_WRITE;

/// The longest prefix compared; a longer one is cut to this length (a weaker test, so no
/// fewer opens are kept). The eBPF driver's prefix trie has keys of this size.
pub const PREFIX_MAX: usize = 64;
/// The longest suffix compared, likewise.
pub const SUFFIX_MAX: usize = 32;
/// The longest path judged; a longer one is kept (the eBPF programs scan at most this much).
pub const SCAN_MAX: usize = 256;

/// How a path may look for some rule to match it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathPattern {
    /// Starts with these bytes (`fd.name startswith /etc/`; `fd.name = X` is tested as a
    /// prefix too, a weaker test).
    Prefix(Vec<u8>),
    /// Ends with these bytes (`fd.filename = X` is the suffix `/X`).
    Suffix(Vec<u8>),
}

/// One way a rule can match an open: a path pattern and the access modes it allows
/// (`ACCESS_*` bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathRule {
    /// What the path looks like.
    pub pattern: PathPattern,
    /// `ACCESS_READ`, `ACCESS_WRITE` or both.
    pub access: u8,
}

/// Where an open-family syscall has its path and its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenCall {
    /// The syscall.
    pub id: SyscallId,
    /// The parameter holding the path.
    pub path: u8,
    /// The parameter holding the `O_*` flags; `None` when the call has none that can be read
    /// from a register (`creat`, which always writes; `openat2`, whose flags are in a struct):
    /// such a call is taken to read and write.
    pub flags: Option<u8>,
}

/// The opens a driver may leave out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFilter {
    /// The calls it applies to.
    pub calls: Vec<OpenCall>,
    /// The ways some rule can match an open; an open matching none is left out. Cut to
    /// [`PREFIX_MAX`] / [`SUFFIX_MAX`], sorted, without repeats.
    pub rules: Vec<PathRule>,
    /// Keep every open that may write or create a file, whatever its path (the engine
    /// records written files for `proc.is_exe_upper_layer`).
    pub keep_writes: bool,
    /// Leave out every read-only open of a directory ([`opens_a_directory`]), whatever its
    /// path: every rule that can match an open needs a file (`fd.typechar = 'f'`), and the
    /// engine takes an `O_DIRECTORY` open for a directory.
    pub directories_left_out: bool,
}

impl OpenFilter {
    /// A filter for `calls` from `rules`, cut to the compared lengths, one rule per pattern
    /// ([`merge_access`]); when every write is kept anyway, their write bits are dropped, and
    /// rules left with none.
    pub fn new(calls: Vec<OpenCall>, rules: Vec<PathRule>, keep_writes: bool) -> OpenFilter {
        let rules: Vec<PathRule> = rules
            .into_iter()
            .map(|mut r| {
                if keep_writes {
                    r.access &= !ACCESS_WRITE;
                }
                r
            })
            .map(|mut r| {
                match &mut r.pattern {
                    PathPattern::Prefix(p) => p.truncate(PREFIX_MAX),
                    PathPattern::Suffix(s) => {
                        let cut = s.len().saturating_sub(SUFFIX_MAX);
                        s.drain(..cut);
                    }
                }
                r
            })
            .collect();
        OpenFilter {
            calls,
            rules: merge_access(rules),
            keep_writes,
            directories_left_out: false,
        }
    }

    /// The same filter, leaving out read-only opens of directories or not (see
    /// [`OpenFilter::directories_left_out`]).
    pub fn leaving_out_directories(mut self, on: bool) -> OpenFilter {
        self.directories_left_out = on;
        self
    }

    /// A filter for `calls` that keeps every open (what replaces a filter the rules no longer
    /// allow).
    pub fn keep_all(calls: Vec<OpenCall>) -> OpenFilter {
        OpenFilter::new(
            calls,
            vec![PathRule {
                pattern: PathPattern::Prefix(Vec::new()),
                access: ACCESS_ANY,
            }],
            false,
        )
    }

    /// Where `id` has its path and flags, when the filter applies to it.
    pub fn call(&self, id: SyscallId) -> Option<&OpenCall> {
        self.calls.iter().find(|c| c.id == id)
    }

    /// [`OpenFilter::keeps`] for a captured call: true for a call the filter does not apply
    /// to.
    pub fn keeps_raw(&self, raw: &RawSyscall) -> bool {
        let Some(call) = raw.id.and_then(|id| self.call(id)) else {
            return true;
        };
        let path = match raw.mem.get(usize::from(call.path)) {
            Some(Captured::Bytes(path)) => Some(path.as_slice()),
            _ => None,
        };
        let flags = call
            .flags
            .and_then(|i| raw.args.get(usize::from(i)).copied());
        self.keeps(raw.abi.unwrap_or(Abi::X86_64), path, flags)
    }

    /// Whether an open through `abi` of `path` (`None`: not read whole) with `flags` (`None`:
    /// the call has none; see [`OpenCall::flags`]) is kept.
    pub fn keeps(&self, abi: Abi, path: Option<&[u8]>, flags: Option<u64>) -> bool {
        if abi != Abi::X86_64 {
            return true;
        }
        if self.directories_left_out && flags.is_some_and(opens_a_directory) {
            return false;
        }
        let access = flags.map_or(ACCESS_ANY, access_of);
        if self.keep_writes && (access & ACCESS_WRITE != 0 || flags.is_none_or(creates)) {
            return true;
        }
        let Some(path) = path else {
            return true;
        };
        if needs_resolving(path) {
            return true;
        }
        self.rules.iter().any(|r| {
            r.access & access != 0
                && match &r.pattern {
                    PathPattern::Prefix(p) => path.starts_with(p),
                    PathPattern::Suffix(s) => path.ends_with(s),
                }
        })
    }
}

/// A new open filter handed from the agent's thread (a rules reload) to the thread that
/// applies it, which looks at every round for the price of one atomic load.
#[derive(Debug, Default)]
pub struct FilterUpdate {
    posted: std::sync::atomic::AtomicBool,
    next: std::sync::Mutex<Option<Option<OpenFilter>>>,
}

impl FilterUpdate {
    /// Hands over `filter` (`None`: keep every open), replacing one not yet taken.
    pub fn post(&self, filter: Option<OpenFilter>) {
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *next = Some(filter);
        self.posted
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// The filter posted since the last call, if any.
    pub fn take(&self) -> Option<Option<OpenFilter>> {
        if !self.posted.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.posted
            .store(false, std::sync::atomic::Ordering::Relaxed);
        next.take()
    }
}

/// `rules` with one rule per pattern, holding the access modes of all of that pattern's rules
/// (rules without any are dropped); sorted.
pub fn merge_access(mut rules: Vec<PathRule>) -> Vec<PathRule> {
    rules.retain(|r| r.access != 0);
    rules.sort();
    let mut out: Vec<PathRule> = Vec::with_capacity(rules.len());
    for r in rules {
        match out.last_mut() {
            Some(last) if last.pattern == r.pattern => last.access |= r.access,
            _ => out.push(r),
        }
    }
    out
}

/// The access modes of an open with `flags`.
pub fn access_of(flags: u64) -> u8 {
    match flags & libc::O_ACCMODE as u64 {
        x if x == libc::O_RDONLY as u64 => ACCESS_READ,
        x if x == libc::O_WRONLY as u64 => ACCESS_WRITE,
        // O_RDWR, and the invalid 3.
        _ => ACCESS_ANY,
    }
}

fn creates(flags: u64) -> bool {
    flags & libc::O_CREAT as u64 != 0
}

/// The open flags a read of a directory has none of: an access mode but read-only
/// (`O_RDONLY` is 0), `O_CREAT`, `O_TRUNC`, and `O_TMPFILE`'s own bit (its flag includes
/// `O_DIRECTORY`'s).
pub const NOT_A_DIRECTORY_READ: u64 = libc::O_ACCMODE as u64
    | libc::O_CREAT as u64
    | libc::O_TRUNC as u64
    | (libc::O_TMPFILE & !libc::O_DIRECTORY) as u64;

/// Whether an open with `flags` is a read-only open of a directory: `O_DIRECTORY`, and none of
/// [`NOT_A_DIRECTORY_READ`]. The engine names the descriptor a directory (`fd.typechar` `d`);
/// no file is written.
pub fn opens_a_directory(flags: u64) -> bool {
    flags & libc::O_DIRECTORY as u64 != 0 && flags & NOT_A_DIRECTORY_READ == 0
}

/// Whether `path` is not the absolute, normalized path a rule would see: relative, with an
/// empty, `.` or `..` component, or a trailing slash. Also any `..` at all, so that a rule on
/// the raw path containing `../` (directory traversal) sees every such open.
pub fn needs_resolving(path: &[u8]) -> bool {
    if path.len() > SCAN_MAX
        || path.first() != Some(&b'/')
        || (path.len() > 1 && path.ends_with(b"/"))
    {
        return true;
    }
    if path.ends_with(b"/.") {
        return true;
    }
    path.windows(2).any(|w| w == b".." || w == b"//") || path.windows(3).any(|w| w == b"/./")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> SyscallId {
        SyscallId::from_name(name).expect("a syscall")
    }

    fn filter(keep_writes: bool) -> OpenFilter {
        OpenFilter::new(
            vec![OpenCall {
                id: id("openat"),
                path: 1,
                flags: Some(2),
            }],
            vec![
                PathRule {
                    pattern: PathPattern::Prefix(b"/etc/".to_vec()),
                    access: ACCESS_WRITE,
                },
                PathRule {
                    pattern: PathPattern::Prefix(b"/etc/shadow".to_vec()),
                    access: ACCESS_READ,
                },
                PathRule {
                    pattern: PathPattern::Suffix(b"/.bash_history".to_vec()),
                    access: ACCESS_WRITE,
                },
            ],
            keep_writes,
        )
    }

    const RDONLY: Option<u64> = Some(libc::O_RDONLY as u64);
    const WRONLY: Option<u64> = Some(libc::O_WRONLY as u64);

    #[test]
    fn an_open_no_rule_can_match_is_left_out() {
        let f = filter(false);
        assert!(!f.keeps(Abi::X86_64, Some(b"/tmp/x"), RDONLY));
        assert!(
            !f.keeps(Abi::X86_64, Some(b"/etc/passwd"), RDONLY),
            "read, not write"
        );
        assert!(f.keeps(Abi::X86_64, Some(b"/etc/passwd"), WRONLY));
        assert!(f.keeps(Abi::X86_64, Some(b"/etc/shadow"), RDONLY));
        assert!(f.keeps(Abi::X86_64, Some(b"/etc/shadow"), Some(libc::O_RDWR as u64)));
        assert!(f.keeps(Abi::X86_64, Some(b"/root/.bash_history"), WRONLY));
        assert!(!f.keeps(Abi::X86_64, Some(b"/root/.bash_history"), RDONLY));
    }

    #[test]
    fn directory_reads_are_left_out_only_when_asked_and_only_reads() {
        let dir = |extra: i32| Some((libc::O_RDONLY | libc::O_DIRECTORY | extra) as u64);
        let plain = filter(false);
        assert!(plain.keeps(Abi::X86_64, Some(b"/etc/shadow"), dir(0)));
        assert!(plain.keeps(Abi::X86_64, Some(b"."), dir(0)), "relative");
        let f = filter(false).leaving_out_directories(true);
        assert!(!f.keeps(Abi::X86_64, Some(b"/etc/shadow"), dir(0)));
        assert!(
            !f.keeps(Abi::X86_64, Some(b"."), dir(libc::O_CLOEXEC)),
            "relative too"
        );
        assert!(!f.keeps(Abi::X86_64, None, dir(0)), "its path unread");
        // Not a read of a directory: kept as before.
        assert!(f.keeps(Abi::X86_64, Some(b"/etc/shadow"), RDONLY));
        assert!(f.keeps(Abi::X86_64, Some(b"/etc/shadow"), dir(libc::O_CREAT)));
        let tmpfile = Some((libc::O_TMPFILE | libc::O_RDWR) as u64);
        let writes_kept = filter(true).leaving_out_directories(true);
        assert!(
            writes_kept.keeps(Abi::X86_64, Some(b"/tmp"), tmpfile),
            "O_TMPFILE writes"
        );
        assert!(
            f.keeps(Abi::I386, Some(b"/etc/shadow"), dir(0)),
            "another ABI"
        );
        assert!(opens_a_directory(
            (libc::O_DIRECTORY | libc::O_NONBLOCK) as u64
        ));
        assert!(!opens_a_directory(
            (libc::O_DIRECTORY | libc::O_TRUNC) as u64
        ));
        assert!(!opens_a_directory(
            (libc::O_DIRECTORY | libc::O_WRONLY) as u64
        ));
    }

    #[test]
    fn paths_the_rules_would_see_otherwise_are_kept() {
        let f = filter(false);
        for path in [
            &b"etc/shadow"[..],
            b"../etc/shadow",
            b"/tmp/../etc/shadow",
            b"//etc/shadow",
            b"/./etc/shadow",
            b"/tmp/",
            b"/tmp/.",
            b"/tmp/..",
            b"/tmp/a..b",
        ] {
            assert!(
                f.keeps(Abi::X86_64, Some(path), RDONLY),
                "{}",
                String::from_utf8_lossy(path)
            );
        }
        assert!(!f.keeps(Abi::X86_64, Some(b"/tmp/.hidden"), RDONLY));
        assert!(f.keeps(Abi::X86_64, None, RDONLY), "unreadable path");
        assert!(f.keeps(Abi::I386, Some(b"/tmp/x"), RDONLY), "other ABI");
    }

    #[test]
    fn writes_are_kept_when_the_engine_records_them() {
        let f = filter(true);
        assert_eq!(
            f.rules,
            [PathRule {
                pattern: PathPattern::Prefix(b"/etc/shadow".to_vec()),
                access: ACCESS_READ,
            }],
            "the patterns for writes alone are dropped"
        );
        assert!(f.keeps(Abi::X86_64, Some(b"/etc/shadow"), RDONLY));
        assert!(f.keeps(Abi::X86_64, Some(b"/tmp/x"), WRONLY));
        assert!(f.keeps(
            Abi::X86_64,
            Some(b"/tmp/x"),
            Some((libc::O_RDONLY | libc::O_CREAT) as u64)
        ));
        assert!(
            f.keeps(Abi::X86_64, Some(b"/tmp/x"), None),
            "creat, openat2"
        );
        assert!(!f.keeps(Abi::X86_64, Some(b"/tmp/x"), RDONLY));
    }

    #[test]
    fn long_patterns_are_cut_to_a_weaker_test() {
        let long = vec![b'a'; 100];
        let f = OpenFilter::new(
            Vec::new(),
            vec![
                PathRule {
                    pattern: PathPattern::Prefix([b"/".as_slice(), &long].concat()),
                    access: ACCESS_ANY,
                },
                PathRule {
                    pattern: PathPattern::Suffix([&long, b"z".as_slice()].concat()),
                    access: ACCESS_ANY,
                },
            ],
            false,
        );
        let PathPattern::Prefix(p) = &f.rules[0].pattern else {
            panic!("a prefix first: {:?}", f.rules);
        };
        assert_eq!(p.len(), PREFIX_MAX);
        let PathPattern::Suffix(s) = &f.rules[1].pattern else {
            panic!("then a suffix: {:?}", f.rules);
        };
        assert_eq!(s.len(), SUFFIX_MAX);
        assert!(s.ends_with(b"az"));
    }
}
