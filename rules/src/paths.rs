//! Which paths and access modes of an open the rules can match: under `open_write and fd.name
//! startswith /etc/`, only writes below `/etc/`. A driver may then leave out the other opens
//! ([`OpenFilter`](lanner_common::OpenFilter)), which no rule could match.
//!
//! The analysis is conservative, like the one on results (`results.rs`): a condition says
//! something about the path only through checks every way through it must pass. The prefixes
//! and suffixes it finds hold for the path as the call named it only when that path is
//! absolute and normalized (then it is `fd.name`); the filter judges no other path
//! ([`needs_resolving`](lanner_common::paths::needs_resolving)), nor calls through another ABI
//! than x86_64. So a check that only such calls can pass (`fd.nameraw contains ../`,
//! `evt.abi = i386`) needs nothing of the calls the filter judges: no way through it.

use lanner_common::paths::{PathPattern, PathRule, ACCESS_ANY, ACCESS_READ, ACCESS_WRITE};
use lanner_common::Abi;

use crate::eval::{Check, CmpOp, Matcher, Node};
use crate::events::EventCode;

/// What a condition requires of an open's path and access mode, for events of one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathNeed {
    /// It can hold whatever the path and access mode.
    Any,
    /// On a call the filter judges (x86_64, absolute normalized path), it can hold only when
    /// one of these does. Empty: on no such call (the filter keeps every call it can match).
    Alts(Vec<PathRule>),
}

impl PathNeed {
    /// Holds on no call the filter judges.
    pub(crate) fn never() -> PathNeed {
        PathNeed::Alts(Vec::new())
    }

    /// Either condition: the ways of both.
    pub(crate) fn or(self, other: PathNeed) -> PathNeed {
        match (self, other) {
            (PathNeed::Any, _) | (_, PathNeed::Any) => PathNeed::Any,
            (PathNeed::Alts(mut a), PathNeed::Alts(b)) => {
                a.extend(b);
                PathNeed::Alts(a)
            }
        }
    }

    /// Both conditions: what either requires is required, so either side alone is a valid
    /// (weaker) answer; an access-only side narrows the other's access modes.
    fn and(self, other: PathNeed) -> PathNeed {
        match (self, other) {
            (PathNeed::Any, x) | (x, PathNeed::Any) => x,
            (PathNeed::Alts(a), PathNeed::Alts(b)) => PathNeed::Alts(and_alts(a, b)),
        }
    }
}

fn and_alts(a: Vec<PathRule>, b: Vec<PathRule>) -> Vec<PathRule> {
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    if access_only(&b) {
        return restrict(a, access_mask(&b));
    }
    if access_only(&a) {
        return restrict(b, access_mask(&a));
    }
    // Patterns are not intersected (a prefix and a suffix have no common form): keep the side
    // that leaves out more.
    if vagueness(&a) <= vagueness(&b) {
        a
    } else {
        b
    }
}

/// Whether the alternatives say nothing of the path, only of the access mode.
fn access_only(alts: &[PathRule]) -> bool {
    alts.iter().all(|r| says_nothing(&r.pattern))
}

/// Whether every path the filter judges has `pattern`: `""` or `/` as a prefix (such paths
/// are absolute).
fn says_nothing(pattern: &PathPattern) -> bool {
    matches!(pattern, PathPattern::Prefix(p) if p.is_empty() || p == b"/")
}

fn access_mask(alts: &[PathRule]) -> u8 {
    alts.iter().fold(0, |mask, r| mask | r.access)
}

/// `alts` with their access modes cut to `mask`; an alternative left with none is dropped.
fn restrict(alts: Vec<PathRule>, mask: u8) -> Vec<PathRule> {
    alts.into_iter()
        .filter_map(|mut r| {
            r.access &= mask;
            (r.access != 0).then_some(r)
        })
        .collect()
}

/// Lower is more selective: fewer alternatives that allow any path, then fewer alternatives.
fn vagueness(alts: &[PathRule]) -> (usize, usize) {
    let any = alts.iter().filter(|r| says_nothing(&r.pattern)).count();
    (any, alts.len())
}

/// What `node` requires of the path and access mode of an open of type `ev`.
pub(crate) fn path_need(node: &Node, ev: EventCode) -> PathNeed {
    match node {
        Node::And(items) => items
            .iter()
            .fold(PathNeed::Any, |need, n| need.and(path_need(n, ev))),
        Node::Or(items) => items
            .iter()
            .fold(PathNeed::never(), |need, n| need.or(path_need(n, ev))),
        // A negation can hold for any path as far as this analysis knows.
        Node::Not(_) => PathNeed::Any,
        Node::Shared(_, inner) => path_need(inner, ev),
        Node::EventType(set) => {
            if set.contains(ev) {
                PathNeed::Any
            } else {
                PathNeed::never()
            }
        }
        Node::Check(check) => check_need(check),
    }
}

fn check_need(check: &Check) -> PathNeed {
    // `!=`, ancestors and transformed values are not the plain field this reasons about.
    if check.negate || check.field.any_ancestor || !check.field.transformers.is_empty() {
        return PathNeed::Any;
    }
    let m = &check.matcher;
    match check.field.id.name() {
        "fd.name" => fd_name_need(m),
        // The path as passed: only what makes it need resolving is known to be kept.
        "fd.nameraw" => unresolved_need(m).unwrap_or(PathNeed::Any),
        "fd.directory" => fd_directory_need(m),
        "fd.filename" => fd_filename_need(m),
        "evt.is_open_read" => open_access_need(m, ACCESS_READ),
        "evt.is_open_write" => open_access_need(m, ACCESS_WRITE),
        "evt.abi" => abi_need(m),
        _ => PathNeed::Any,
    }
}

/// Whether `node` can hold on an open of type `ev` only when the open's descriptor is not a
/// directory (`fd.typechar = 'f'`, `fd.type = file`), or only on calls through another ABI
/// than x86_64 (which the filter keeps): then an x86_64 open of a directory is one it cannot
/// match. Conservative like [`path_need`]: negations, transformers and other fields say
/// nothing.
pub(crate) fn needs_non_directory(node: &Node, ev: EventCode) -> bool {
    match node {
        Node::And(items) => items.iter().any(|n| needs_non_directory(n, ev)),
        Node::Or(items) => items.iter().all(|n| needs_non_directory(n, ev)),
        Node::Not(_) => false,
        Node::Shared(_, inner) => needs_non_directory(inner, ev),
        // A branch for other event types never holds on this one.
        Node::EventType(set) => !set.contains(ev),
        Node::Check(check) => check_needs_non_directory(check),
    }
}

fn check_needs_non_directory(check: &Check) -> bool {
    if check.negate || check.field.any_ancestor || !check.field.transformers.is_empty() {
        return false;
    }
    let directory: &[u8] = match check.field.id.name() {
        "fd.typechar" => b"d",
        "fd.type" => b"directory",
        // Only calls through another ABI pass: the filter judges none of those.
        "evt.abi" => return abi_need(&check.matcher) == PathNeed::never(),
        _ => return false,
    };
    match &check.matcher {
        Matcher::StrCmp(CmpOp::Eq, want) => &**want != directory,
        Matcher::StrIn(set) => !set.iter().any(|v| &**v == directory),
        _ => false,
    }
}

/// `fd.name` is the path itself (for the paths the filter judges).
fn fd_name_need(m: &Matcher) -> PathNeed {
    if let Some(need) = unresolved_need(m) {
        return need;
    }
    match m {
        // `= X` as a prefix: a weaker test, which the filter has.
        Matcher::StartsWith(p) | Matcher::StrCmp(CmpOp::Eq, p) => alts([prefix(p)]),
        Matcher::StrIn(set) => alts(set.iter().map(|p| prefix(p))),
        Matcher::PMatch(list) => alts(list.iter().map(|p| prefix(p))),
        Matcher::EndsWith(s) => alts([suffix(s)]),
        Matcher::Glob(g) => match g.literal_prefix() {
            p if p.is_empty() => PathNeed::Any,
            p => alts([prefix(&p)]),
        },
        _ => PathNeed::Any,
    }
}

/// What a path never holds unless it needs resolving, which the filter then keeps (see
/// `needs_resolving`: any `..` at all, `//`, `/./`).
const UNRESOLVED: [&[u8]; 3] = [b"..", b"//", b"/./"];

/// `Some(never)` when every path `m` matches contains a part of [`UNRESOLVED`].
fn unresolved_need(m: &Matcher) -> Option<PathNeed> {
    let unresolved = match m {
        Matcher::Contains(finder) => has_unresolved(finder.needle()),
        // The needle is lowercase; the parts have no letters.
        Matcher::IContains(needle) => has_unresolved(needle),
        Matcher::Glob(g) => UNRESOLVED.iter().any(|part| g.has_literal(part)),
        _ => false,
    };
    unresolved.then(PathNeed::never)
}

fn has_unresolved(needle: &[u8]) -> bool {
    UNRESOLVED
        .iter()
        .any(|part| memchr::memmem::find(needle, part).is_some())
}

/// `fd.directory` is the path before its last `/` (`/` for a file in the root), so the path
/// starts with it and a `/`.
fn fd_directory_need(m: &Matcher) -> PathNeed {
    match m {
        Matcher::StrCmp(CmpOp::Eq, d) => alts([prefix(&dir_prefix(d))]),
        Matcher::StrIn(set) => alts(set.iter().map(|d| prefix(&dir_prefix(d)))),
        Matcher::StartsWith(p) => alts([prefix(p)]),
        Matcher::PMatch(list) => alts(list.iter().map(|p| prefix(p))),
        _ => PathNeed::Any,
    }
}

/// `/etc` and `/etc/` give `/etc/`; `/` gives `/`.
fn dir_prefix(dir: &[u8]) -> Vec<u8> {
    let end = dir.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
    [&dir[..end], b"/"].concat()
}

/// `fd.filename` is the path after its last `/`.
fn fd_filename_need(m: &Matcher) -> PathNeed {
    let slashed = |f: &[u8]| suffix(&[b"/", f].concat());
    match m {
        Matcher::StrCmp(CmpOp::Eq, f) => alts([slashed(f)]),
        Matcher::StrIn(set) => alts(set.iter().map(|f| slashed(f))),
        Matcher::EndsWith(s) => alts([suffix(s)]),
        _ => PathNeed::Any,
    }
}

/// `evt.is_open_read = true`, `evt.is_open_write = true`: the open's access mode has `access`
/// (the engine and the filter read it from the same `O_ACCMODE` bits).
fn open_access_need(m: &Matcher, access: u8) -> PathNeed {
    match m {
        Matcher::BoolEq(true) => alts([PathRule {
            pattern: any_path(),
            access,
        }]),
        _ => PathNeed::Any,
    }
}

/// `evt.abi` compared to other ABIs than x86_64: the filter judges no such call.
fn abi_need(m: &Matcher) -> PathNeed {
    let x86_64 = Abi::X86_64.name().as_bytes();
    let other_abi = match m {
        Matcher::StrCmp(CmpOp::Eq, abi) => &**abi != x86_64,
        Matcher::StrIn(set) => !set.contains(x86_64),
        _ => false,
    };
    if other_abi {
        PathNeed::never()
    } else {
        PathNeed::Any
    }
}

fn alts(rules: impl IntoIterator<Item = PathRule>) -> PathNeed {
    PathNeed::Alts(rules.into_iter().collect())
}

/// The pattern every path has.
fn any_path() -> PathPattern {
    PathPattern::Prefix(Vec::new())
}

fn prefix(p: &[u8]) -> PathRule {
    PathRule {
        pattern: PathPattern::Prefix(p.to_vec()),
        access: ACCESS_ANY,
    }
}

fn suffix(s: &[u8]) -> PathRule {
    PathRule {
        pattern: PathPattern::Suffix(s.to_vec()),
        access: ACCESS_ANY,
    }
}

/// `rules` without repeats or rules another covers (a shorter prefix or suffix, with at
/// least its access modes), sorted; the same opens match.
pub(crate) fn simplify(rules: Vec<PathRule>) -> Vec<PathRule> {
    let merged = lanner_common::paths::merge_access(rules);
    merged
        .iter()
        .enumerate()
        .filter(|&(i, r)| {
            !merged
                .iter()
                .enumerate()
                .any(|(j, q)| i != j && covers(q, r))
        })
        .map(|(_, r)| r.clone())
        .collect()
}

/// Whether every open `r` allows, `q` allows too.
fn covers(q: &PathRule, r: &PathRule) -> bool {
    let access = r.access & !q.access == 0;
    let pattern = match (&q.pattern, &r.pattern) {
        (PathPattern::Prefix(a), PathPattern::Prefix(b)) => b.starts_with(a),
        (PathPattern::Suffix(a), PathPattern::Suffix(b)) => b.ends_with(a),
        (a, PathPattern::Suffix(_)) => says_nothing(a),
        (PathPattern::Suffix(_), PathPattern::Prefix(_)) => false,
    };
    access && pattern
}

#[cfg(test)]
mod tests {
    use crate::test_support::{id, rule, rules};
    use crate::{load_str, LoadOptions};
    use lanner_common::paths::{PathPattern, PathRule, ACCESS_ANY, ACCESS_READ, ACCESS_WRITE};

    const OPEN_MACROS: &str =
        "- macro: open_write\n  condition: (evt.type in (open,openat,openat2) \
         and evt.is_open_write=true and fd.typechar='f' and fd.num>=0)\n\
         - macro: open_read\n  condition: (evt.type in (open,openat,openat2) \
         and evt.is_open_read=true and fd.typechar='f' and fd.num>=0)\n";

    fn open_paths(condition: &str) -> Option<Vec<PathRule>> {
        rules(&[OPEN_MACROS, &rule("r", condition)].concat()).open_paths(id("openat"))
    }

    fn prefix(p: &str, access: u8) -> PathRule {
        PathRule {
            pattern: PathPattern::Prefix(p.as_bytes().to_vec()),
            access,
        }
    }

    fn suffix(s: &str, access: u8) -> PathRule {
        PathRule {
            pattern: PathPattern::Suffix(s.as_bytes().to_vec()),
            access,
        }
    }

    #[test]
    fn a_write_below_etc_rule_needs_writes_below_etc() {
        let got = open_paths(
            "evt.type in (open,openat) and evt.is_open_write=true and fd.name startswith /etc/ \
             and not proc.name in (x)",
        );
        assert_eq!(got, Some(vec![prefix("/etc/", ACCESS_WRITE)]));
    }

    #[test]
    fn names_and_directories_are_prefixes_filenames_suffixes() {
        let got = open_paths(
            "open_read and (fd.name in (/etc/shadow, /etc/sudoers) or fd.directory in (/etc/pam.d))",
        );
        assert_eq!(
            got,
            Some(vec![
                prefix("/etc/pam.d/", ACCESS_READ),
                prefix("/etc/shadow", ACCESS_READ),
                prefix("/etc/sudoers", ACCESS_READ),
            ])
        );
        let got = open_paths("open_write and fd.filename in (.bash_history)");
        assert_eq!(got, Some(vec![suffix("/.bash_history", ACCESS_WRITE)]));
        let got = open_paths("open_read and fd.directory = / and fd.name endswith .key");
        assert_eq!(
            got,
            Some(vec![suffix(".key", ACCESS_READ)]),
            "/ says nothing"
        );
        let got = open_paths("open_read and fd.name startswith /srv/ and fd.name endswith .key");
        assert_eq!(
            got,
            Some(vec![prefix("/srv/", ACCESS_READ)]),
            "the first of a tie"
        );
    }

    #[test]
    fn globs_and_pmatch_give_their_literal_prefix() {
        assert_eq!(
            open_paths("open_read and fd.name glob '/home/*/.ssh/*'"),
            Some(vec![prefix("/home/", ACCESS_READ)])
        );
        assert_eq!(
            open_paths("open_read and fd.name pmatch (/var/log, /srv/)"),
            Some(vec![
                prefix("/srv/", ACCESS_READ),
                prefix("/var/log", ACCESS_READ)
            ])
        );
        assert_eq!(
            open_paths("open_read and fd.name glob '*.pem'"),
            Some(vec![prefix("", ACCESS_READ)]),
            "no literal prefix: reads of any path"
        );
    }

    #[test]
    fn covered_rules_are_dropped_and_access_modes_merged() {
        let got = open_paths(
            "(open_read and fd.name startswith /etc/) or (open_write and fd.name startswith /etc/) \
             or (open_read and fd.name = /etc/shadow)",
        );
        assert_eq!(got, Some(vec![prefix("/etc/", ACCESS_ANY)]));
    }

    #[test]
    fn a_rule_that_can_match_any_path_allows_no_filtering() {
        for condition in [
            "fd.name contains id_rsa",
            "evt.type = openat and proc.name = sh",
            "evt.type = openat and not fd.name startswith /etc/",
            "evt.type = openat and fd.name != /etc/shadow",
            "open_read and fd.name startswith /etc/ or proc.name = sh",
            "evt.type = openat and tolower(fd.name) startswith /etc/",
            "evt.type = openat and fd.name glob '*.pem'",
            "evt.type = openat and evt.is_open_write = false",
        ] {
            assert_eq!(open_paths(condition), None, "{condition}");
        }
    }

    #[test]
    fn an_access_mode_alone_is_an_any_path_rule() {
        assert_eq!(
            open_paths("open_write and proc.name = sh"),
            Some(vec![prefix("", ACCESS_WRITE)])
        );
    }

    #[test]
    fn branches_for_other_event_types_do_not_widen() {
        let got = open_paths(
            "(open_write and fd.name startswith /etc/) or (evt.type = execve and proc.name = sh)",
        );
        assert_eq!(got, Some(vec![prefix("/etc/", ACCESS_WRITE)]));
        let set = rules(&rule("r", "evt.type = execve and proc.name = sh"));
        assert_eq!(set.open_paths(id("openat")), Some(vec![]), "no rule");
    }

    #[test]
    fn checks_only_kept_calls_pass_need_nothing() {
        for condition in [
            "evt.abi = i386 and evt.type = openat",
            "evt.abi in (i386, x32) and evt.type = openat",
            "open_read and fd.nameraw contains '../' and fd.nameraw glob '*../*../*'",
            "open_read and fd.name contains '//'",
            "open_read and fd.name glob '*/./*'",
        ] {
            assert_eq!(open_paths(condition), Some(vec![]), "{condition}");
        }
        assert_eq!(open_paths("evt.abi = x86_64 and evt.type = openat"), None);
    }

    fn non_directory(condition: &str) -> bool {
        rules(&[OPEN_MACROS, &rule("r", condition)].concat())
            .opens_need_non_directories(id("openat"))
    }

    #[test]
    fn opens_of_directories_are_unmatched_only_under_file_checks_on_every_way() {
        assert!(non_directory("open_read and fd.name startswith /etc/"));
        assert!(non_directory("open_write or open_read"));
        assert!(non_directory("evt.type = openat and fd.type = file"));
        assert!(non_directory("evt.type = openat and fd.typechar in (f, p)"));
        assert!(!non_directory(
            "evt.type = openat and fd.name startswith /etc/"
        ));
        assert!(!non_directory(
            "open_read or (evt.type = openat and proc.name = ls)"
        ));
        assert!(!non_directory("evt.type = openat and fd.typechar = d"));
        assert!(!non_directory("evt.type = openat and not fd.typechar = d"));
        assert!(!non_directory("evt.type = openat and fd.typechar != f"));
        assert!(non_directory(
            "open_read or (evt.type = openat and evt.abi = i386)"
        ));
        assert!(!non_directory("evt.type = openat and evt.abi = x86_64"));
    }

    #[test]
    fn the_embedded_default_rules_allow_filtering() {
        let yaml = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../agent/rules/default.yaml"
        ));
        // As the agent loads them (`engine::default_ruleset`).
        let set = load_str(
            "<embedded>/default.yaml",
            yaml,
            LoadOptions::new().strict(true),
        )
        .expect("default.yaml loads");
        let got = set.open_paths(id("openat"));
        let Some(list) = &got else {
            panic!("some rule matches any openat");
        };
        let shown: Vec<String> = list.iter().map(show).collect();
        assert!(
            list.contains(&prefix("/etc/", ACCESS_WRITE))
                || list.contains(&prefix("/etc/", ACCESS_ANY)),
            "{shown:#?}"
        );
        assert!(
            list.iter().any(|r| matches!(&r.pattern,
                PathPattern::Suffix(s) if s.ends_with(b".bash_history"))),
            "{shown:#?}"
        );
        assert!(
            !list.iter().any(|r| matches!(&r.pattern,
                PathPattern::Prefix(p) if p.is_empty() || p == b"/")),
            "{shown:#?}"
        );
    }

    fn show(r: &PathRule) -> String {
        let (kind, bytes) = match &r.pattern {
            PathPattern::Prefix(p) => ("prefix", p),
            PathPattern::Suffix(s) => ("suffix", s),
        };
        format!("{kind} {} {}", String::from_utf8_lossy(bytes), r.access)
    }
}
