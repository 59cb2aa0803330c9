//! Path arithmetic on raw bytes: what the kernel would resolve a relative path to, without
//! touching the filesystem (symlinks are not followed, so the result is the path as named).

/// Joins `path` to `base` unless it is absolute, and removes `.`, `..` and repeated slashes.
/// `base` may end in `/` or not.
pub fn resolve(base: &[u8], path: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    resolve_into(&mut out, base, path);
    out
}

/// [`resolve`] into `out` (emptied first), so that a caller can reuse a buffer.
pub fn resolve_into(out: &mut Vec<u8>, base: &[u8], path: &[u8]) {
    out.clear();
    if path.first() == Some(&b'/') {
        out.reserve(path.len() + 1);
    } else {
        out.reserve(base.len() + path.len() + 1);
        push_components(out, base);
    }
    push_components(out, path);
    if out.is_empty() {
        out.push(b'/');
    }
}

/// Appends the components of `path` to `out` (an absolute, normalized path without a trailing
/// slash, or empty for `/`), applying `.` and `..` as it goes.
fn push_components(out: &mut Vec<u8>, path: &[u8]) {
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                let cut = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                out.truncate(cut);
            }
            other => {
                out.push(b'/');
                out.extend_from_slice(other);
            }
        }
    }
}

/// The last component (`/usr/bin/cat` -> `cat`).
pub fn basename(path: &[u8]) -> &[u8] {
    match last_slash(path) {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// The directory part of an absolute path (`/etc/shadow` -> `/etc`, `/etc` -> `/`).
pub fn dirname(path: &[u8]) -> &[u8] {
    match last_slash(path) {
        Some(0) | None => b"/",
        Some(i) => &path[..i],
    }
}

fn last_slash(path: &[u8]) -> Option<usize> {
    path.iter().rposition(|&b| b == b'/')
}

/// `comm` as the kernel sets it at exec: the file name's last component, cut at 15 bytes
/// (TASK_COMM_LEN - 1).
pub fn comm_of(path: &[u8]) -> Vec<u8> {
    let base = basename(path);
    base[..base.len().min(15)].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_the_kernel_names_it() {
        assert_eq!(resolve(b"/home/u", b"x.txt"), b"/home/u/x.txt");
        assert_eq!(resolve(b"/home/u/", b"x.txt"), b"/home/u/x.txt");
        assert_eq!(resolve(b"/home/u", b"../../etc//shadow"), b"/etc/shadow");
        assert_eq!(resolve(b"/", b"./a/./b/.."), b"/a");
        assert_eq!(resolve(b"/anything", b"/etc/passwd"), b"/etc/passwd");
        assert_eq!(resolve(b"/", b".."), b"/");
        assert_eq!(resolve(b"/tmp", b""), b"/tmp");
        assert_eq!(resolve(b"", b"a"), b"/a");
    }

    #[test]
    fn names_and_directories() {
        assert_eq!(basename(b"/usr/bin/cat"), b"cat");
        assert_eq!(basename(b"cat"), b"cat");
        assert_eq!(dirname(b"/etc/shadow"), b"/etc");
        assert_eq!(dirname(b"/etc"), b"/");
        assert_eq!(comm_of(b"/usr/bin/cat"), b"cat");
        assert_eq!(comm_of(b"/x/a-very-long-program-name"), b"a-very-long-pro");
    }
}
