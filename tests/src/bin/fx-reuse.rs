//! `fx-reuse`: a descriptor closed and its number reused by a call no driver reports, then
//! used by one it does.
//!
//! On its only thread, in this order (`pipe2` is outside the interest sets the tests use):
//!
//! 1. `openat("/etc/hostname")`, the descriptor closed;
//! 2. `pipe2`, whose read end takes the lowest number: the one just closed;
//! 3. `dup2` of that read end to 40 (a driver that left the close out marks its first argument
//!    stale: what a consumer holds for the number is the file's, and it is a pipe now);
//! 4. `openat("/etc/hostname")`, `dup2` of it to 41 (its first argument is not stale);
//! 5. everything closed; exits 0, or 1 when the read end did not reuse the number.

fn main() {
    // SAFETY: plain syscalls on descriptors of this process and a NUL-terminated literal.
    unsafe {
        let file = libc::open(c"/etc/hostname".as_ptr(), libc::O_RDONLY);
        libc::close(file);
        let mut ends = [0i32; 2];
        if libc::pipe2(ends.as_mut_ptr(), 0) != 0 || ends[0] != file {
            std::process::exit(1);
        }
        libc::dup2(ends[0], 40);
        let again = libc::open(c"/etc/hostname".as_ptr(), libc::O_RDONLY);
        libc::dup2(again, 41);
        for fd in [ends[0], ends[1], 40, again, 41] {
            libc::close(fd);
        }
    }
}
