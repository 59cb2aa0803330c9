//! The open filter's two tries, as the kernel side looks them up (`open_left_out` in
//! lanner.bpf.c): a prefix trie keyed by a path's first bytes, and a suffix trie keyed by its
//! last bytes reversed. A trie answers with its longest matching entry alone, so each entry's
//! access bits are or-ed with those of every shorter entry it extends: `/etc/` for writing and
//! `/etc/shadow` for reading make `/etc/shadow` answer for both.

use lanner_common::paths::{PathPattern, PREFIX_MAX, SUFFIX_MAX};
use lanner_common::OpenFilter;

/// One trie entry: its key's bytes (`struct lanner_prefix_key` or `lanner_suffix_key`) and
/// its value (`LANNER_ACCESS_*` bits).
pub type Entry = (Vec<u8>, u8);

/// The prefix trie's entries and the suffix trie's.
pub fn entries(filter: &OpenFilter) -> (Vec<Entry>, Vec<Entry>) {
    let mut prefixes = Vec::new();
    let mut suffixes = Vec::new();
    for rule in &filter.rules {
        match &rule.pattern {
            PathPattern::Prefix(p) => prefixes.push((p.clone(), rule.access)),
            PathPattern::Suffix(s) => {
                suffixes.push((s.iter().rev().copied().collect(), rule.access))
            }
        }
    }
    (keys(prefixes, PREFIX_MAX), keys(suffixes, SUFFIX_MAX))
}

/// A filter that keeps what either keeps (its calls are `a`'s: both apply to the calls the
/// driver started with).
pub fn union(a: &OpenFilter, b: &OpenFilter) -> OpenFilter {
    let rules = a.rules.iter().chain(&b.rules).cloned().collect();
    // Built directly: `OpenFilter::new` drops write bits when writes are kept, which is
    // right for one filter's rules but not for a union whose write-keeping is the other's.
    let mut both = OpenFilter::new(a.calls.clone(), rules, false);
    both.keep_writes = a.keep_writes || b.keep_writes;
    both
}

/// Merges repeats, inherits the bits of shorter entries, and lays out the keys.
fn keys(mut items: Vec<(Vec<u8>, u8)>, width: usize) -> Vec<Entry> {
    items.sort();
    let mut merged: Vec<(Vec<u8>, u8)> = Vec::new();
    for (bytes, access) in items {
        match merged.last_mut() {
            Some((last, bits)) if *last == bytes => *bits |= access,
            _ => merged.push((bytes, access)),
        }
    }
    let inherited: Vec<(Vec<u8>, u8)> = merged
        .iter()
        .map(|(bytes, _)| {
            let bits = merged
                .iter()
                .filter(|(shorter, _)| bytes.starts_with(shorter))
                .fold(0, |acc, (_, b)| acc | b);
            (bytes.clone(), bits)
        })
        .collect();
    inherited
        .into_iter()
        .map(|(bytes, bits)| {
            let mut key = Vec::with_capacity(4 + width);
            key.extend_from_slice(&((bytes.len() * 8) as u32).to_ne_bytes());
            key.extend_from_slice(&bytes);
            key.resize(4 + width, 0);
            (key, bits)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lanner_common::paths::{ACCESS_READ, ACCESS_WRITE};
    use lanner_common::PathRule;

    fn rule(pattern: PathPattern, access: u8) -> PathRule {
        PathRule { pattern, access }
    }

    #[test]
    fn longer_entries_answer_for_the_shorter_ones_they_extend() {
        let filter = OpenFilter::new(
            Vec::new(),
            vec![
                rule(PathPattern::Prefix(b"/etc/".to_vec()), ACCESS_WRITE),
                rule(PathPattern::Prefix(b"/etc/shadow".to_vec()), ACCESS_READ),
                rule(PathPattern::Prefix(b"/usr/bin/".to_vec()), ACCESS_WRITE),
                rule(
                    PathPattern::Suffix(b"/.bash_history".to_vec()),
                    ACCESS_WRITE,
                ),
            ],
            false,
        );
        let (prefixes, suffixes) = entries(&filter);
        let find = |entries: &[Entry], bytes: &[u8]| {
            entries
                .iter()
                .find(|(key, _)| {
                    key[..4] == ((bytes.len() * 8) as u32).to_ne_bytes()
                        && &key[4..4 + bytes.len()] == bytes
                })
                .map(|(_, bits)| *bits)
        };
        assert_eq!(find(&prefixes, b"/etc/"), Some(ACCESS_WRITE));
        assert_eq!(
            find(&prefixes, b"/etc/shadow"),
            Some(ACCESS_READ | ACCESS_WRITE)
        );
        assert_eq!(find(&prefixes, b"/usr/bin/"), Some(ACCESS_WRITE));
        assert_eq!(find(&suffixes, b"yrotsih_hsab./"), Some(ACCESS_WRITE));
        assert!(prefixes.iter().all(|(key, _)| key.len() == 4 + PREFIX_MAX));
        assert!(suffixes.iter().all(|(key, _)| key.len() == 4 + SUFFIX_MAX));
    }
}
