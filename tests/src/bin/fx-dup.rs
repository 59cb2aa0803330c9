//! `fx-dup`: descriptor copies with known results, and one open that works and one that fails.
//!
//! After the ordinary start-up, on its only thread, in this order:
//!
//! 1. `dup(2)` = 3 (the lowest free descriptor; 0-2 are open);
//! 2. `close(0)`;
//! 3. `dup(2)` = 0 (now the lowest free one);
//! 4. `dup2(3, 9)` = 9;
//! 5. `openat(AT_FDCWD, "/etc/hostname", O_RDONLY)` = 4, or above;
//! 6. `openat(AT_FDCWD, "/nonexistent/lanner-fx-dup", O_RDONLY)` = -ENOENT.
//!
//! Then prints the five results on stdout, space-separated, and exits 0.

fn main() {
    // SAFETY: plain syscalls on descriptors of this process and NUL-terminated literals.
    let results = unsafe {
        let a = libc::dup(2);
        libc::close(0);
        let b = libc::dup(2);
        let c = libc::dup2(a, 9);
        let ok = libc::open(c"/etc/hostname".as_ptr(), libc::O_RDONLY);
        let bad = libc::open(c"/nonexistent/lanner-fx-dup".as_ptr(), libc::O_RDONLY);
        [a, b, c, ok, bad]
    };
    let line: Vec<String> = results.iter().map(ToString::to_string).collect();
    println!("{}", line.join(" "));
}
