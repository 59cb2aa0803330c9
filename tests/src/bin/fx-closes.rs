//! `fx-closes`: closes of descriptors that traced calls told of, and of ones they did not.
//!
//! After the ordinary start-up, on its only thread, in this order (`fcntl` and `pipe2` are
//! outside any interest set the tests use, so a driver never tells of their descriptors):
//!
//! 1. `pipe2`, then `fcntl(F_DUPFD)` of its ends to 20 and 21, and the ends closed;
//! 2. `openat("/etc/hostname")`, `dup2` of it to 30, the opened descriptor closed;
//! 3. `close(20)`, `close(21)`: descriptors no traced call told of;
//! 4. `close(30)`, twice (the second fails with EBADF);
//! 5. `openat("/etc/hostname")`, `dup2` of it to 32, the opened descriptor closed; a fork, whose
//!    child closes 32 and 21 (gone already) and exits 0; the parent waits, closes 32, exits 0.

fn main() {
    // SAFETY: plain syscalls on descriptors of this process, NUL-terminated literals, and a
    // fork whose child makes only async-signal-safe calls before _exit.
    unsafe {
        let mut ends = [0i32; 2];
        if libc::pipe2(ends.as_mut_ptr(), 0) != 0 {
            std::process::exit(1);
        }
        libc::fcntl(ends[0], libc::F_DUPFD, 20);
        libc::fcntl(ends[1], libc::F_DUPFD, 21);
        libc::close(ends[0]);
        libc::close(ends[1]);

        let opened = libc::open(c"/etc/hostname".as_ptr(), libc::O_RDONLY);
        libc::dup2(opened, 30);
        libc::close(opened);
        libc::close(20);
        libc::close(21);
        libc::close(30);
        libc::close(30);

        let opened = libc::open(c"/etc/hostname".as_ptr(), libc::O_RDONLY);
        libc::dup2(opened, 32);
        libc::close(opened);
        match libc::fork() {
            0 => {
                libc::close(32);
                libc::close(21);
                libc::_exit(0);
            }
            -1 => std::process::exit(1),
            child => {
                let mut status = 0;
                libc::waitpid(child, &mut status, 0);
                libc::close(32);
            }
        }
    }
}
