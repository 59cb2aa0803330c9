//! Byte buffers kept for reuse. Opening a file stores its path in the fd table and closing it
//! drops the entry, so without reuse every open allocates. Entries that leave the table give
//! their buffers back here and the next open (or dup) takes one: a workload that opens and
//! closes files allocates nothing once the pool has warmed up.

use super::fd::{Fd, FdKind, FileFd};

/// Buffers kept at most: enough for the fds that are closed between two opens.
const MAX_BUFFERS: usize = 256;
/// New buffers start this large, so that a reused one seldom has to grow for a longer path.
const MIN_CAPACITY: usize = 128;
/// Larger buffers are freed rather than kept, so the pool stays small.
const MAX_CAPACITY: usize = 4096;

/// The pool.
#[derive(Debug, Default)]
pub struct Buffers {
    free: Vec<Vec<u8>>,
}

impl Buffers {
    /// An empty buffer, reused when one is free.
    pub fn take(&mut self) -> Vec<u8> {
        self.free
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(MIN_CAPACITY))
    }

    /// A buffer holding `bytes`.
    pub fn copy(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut buf = self.take();
        buf.extend_from_slice(bytes);
        buf
    }

    /// Gives `buf` back.
    pub fn put(&mut self, mut buf: Vec<u8>) {
        if self.free.len() < MAX_BUFFERS && (1..=MAX_CAPACITY).contains(&buf.capacity()) {
            buf.clear();
            self.free.push(buf);
        }
    }

    /// Gives back the buffers of an fd that left the table.
    pub fn recycle(&mut self, fd: Fd) {
        match fd.kind {
            FdKind::File(file) => {
                self.put(file.path);
                if let Some(raw) = file.raw {
                    self.put(raw);
                }
            }
            FdKind::Memfd(name) | FdKind::Unknown(name) => self.put(name),
            _ => {}
        }
    }

    /// A copy of `fd` (a dup) in buffers from the pool.
    pub fn clone_fd(&mut self, fd: &Fd) -> Fd {
        let kind = match &fd.kind {
            FdKind::File(file) => FdKind::File(FileFd {
                path: self.copy(&file.path),
                raw: file.raw.as_deref().map(|raw| self.copy(raw)),
                flags: file.flags,
                directory: file.directory,
            }),
            other => other.clone(),
        };
        Fd {
            kind,
            cloexec: fd.cloexec,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_empty_and_the_pool_is_bounded() {
        let mut pool = Buffers::default();
        let file = |path: &[u8]| {
            Fd::new(FdKind::File(FileFd {
                path: path.to_vec(),
                raw: Some(b"x".to_vec()),
                flags: 0,
                directory: false,
            }))
        };
        let fd = file(b"/etc/hostname");
        let copy = pool.clone_fd(&fd);
        assert_eq!(copy, fd);
        pool.recycle(fd);
        assert_eq!(pool.free.len(), 2);
        let buf = pool.take();
        assert!(buf.is_empty() && buf.capacity() > 0);
        for _ in 0..MAX_BUFFERS * 2 {
            pool.recycle(file(b"/a"));
        }
        assert_eq!(pool.free.len(), MAX_BUFFERS);
        pool.put(Vec::with_capacity(MAX_CAPACITY + 1));
        assert_eq!(pool.free.len(), MAX_BUFFERS);
    }
}
