//! Files that traced processes wrote: opened for writing, created, renamed or linked into place.
//! An exec of one of them is a program that was not there when the workload started (Falco's
//! `proc.is_exe_upper_layer`, which in a container means the same thing).
//!
//! Bounded: two generations of at most `CAPACITY / 2` paths each; when the current one fills,
//! the older is dropped. A workload that writes many files forgets the oldest first.

use rustc_hash::FxHashSet as HashSet;

const CAPACITY: usize = 1 << 16;

/// The set of written paths.
#[derive(Debug, Default)]
pub struct Written {
    current: HashSet<Box<[u8]>>,
    previous: HashSet<Box<[u8]>>,
}

impl Written {
    /// Records `path` (absolute, normalized) as written.
    pub fn insert(&mut self, path: &[u8]) {
        if self.current.contains(path) {
            return;
        }
        if self.current.len() >= CAPACITY / 2 {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(path.into());
    }

    /// Whether `path` was written.
    pub fn contains(&self, path: &[u8]) -> bool {
        self.current.contains(path) || self.previous.contains(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_recent_paths_within_bounds() {
        let mut written = Written::default();
        written.insert(b"/tmp/payload");
        assert!(written.contains(b"/tmp/payload"));
        assert!(!written.contains(b"/tmp/other"));
        for i in 0..CAPACITY {
            written.insert(format!("/tmp/{i}").as_bytes());
        }
        assert!(!written.contains(b"/tmp/payload"), "oldest forgotten");
        assert!(written.contains(format!("/tmp/{}", CAPACITY - 1).as_bytes()));
        assert!(written.current.len() + written.previous.len() <= CAPACITY);
    }
}
