//! `fx-reuse`: a descriptor closed and its number reused by a call no driver reports, then
//! used by one it does.
//!
//! On its only thread, in this order (`pipe2` and `fcntl` are outside the interest sets the
//! tests use):
//!
//! 1. `openat("/etc/hostname")`, the descriptor closed;
//! 2. `pipe2`, whose read end takes the lowest number: the one just closed;
//! 3. `dup2` of that read end to 40 (a driver that left the close out marks its first argument
//!    stale: what a consumer holds for the number is the file's, and it is a pipe now);
//! 4. `openat("/etc/hostname")`, `dup2` of it to 41 (its first argument is not stale);
//! 5. everything closed; exits 0, or 1 when the read end did not reuse the number.
//!
//! `fx-reuse exec`: instead, opens `/etc/hostname`, `dup2`s it to 50, makes 50 close-on-exec
//! with `fcntl` (which no driver reports) and execs itself as `fx-reuse exec'd`, which takes 50
//! again for a pipe's read end (`fcntl(F_DUPFD, 50)`: the exec closed it; the dynamic loader's
//! own opens take low numbers) and `dup2`s it to 40.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // SAFETY: plain syscalls on descriptors of this process, NUL-terminated strings, and an
    // exec of this program with a NULL-terminated argv.
    unsafe {
        match args.get(1).map(String::as_str) {
            Some("exec") => {
                let file = libc::open(c"/etc/hostname".as_ptr(), libc::O_RDONLY);
                libc::dup2(file, 50);
                libc::fcntl(50, libc::F_SETFD, libc::FD_CLOEXEC);
                let Ok(me) = std::ffi::CString::new(args[0].clone()) else {
                    std::process::exit(1);
                };
                let argv = [me.as_ptr(), c"exec'd".as_ptr(), std::ptr::null()];
                libc::execv(me.as_ptr(), argv.as_ptr());
                std::process::exit(1);
            }
            Some("exec'd") => {
                let mut ends = [0i32; 2];
                if libc::pipe2(ends.as_mut_ptr(), 0) != 0
                    || libc::fcntl(ends[0], libc::F_DUPFD, 50) != 50
                {
                    std::process::exit(1);
                }
                libc::dup2(50, 40);
            }
            _ => {
                let file = libc::open(c"/etc/hostname".as_ptr(), libc::O_RDONLY);
                libc::close(file);
                let ends = reuse(file);
                let again = libc::open(c"/etc/hostname".as_ptr(), libc::O_RDONLY);
                libc::dup2(again, 41);
                for fd in [ends[0], ends[1], again, 41] {
                    libc::close(fd);
                }
            }
        }
    }
}

/// A pipe that takes the number `closed`, its read end duplicated to 40.
///
/// # Safety
/// Plain syscalls on this process's descriptors.
unsafe fn reuse(closed: i32) -> [i32; 2] {
    let mut ends = [0i32; 2];
    // SAFETY: pipe2 writes two ints into `ends`; dup2 and close take descriptors.
    unsafe {
        if libc::pipe2(ends.as_mut_ptr(), 0) != 0 || ends[0] != closed {
            std::process::exit(1);
        }
        libc::dup2(ends[0], 40);
        libc::close(40);
    }
    ends
}
