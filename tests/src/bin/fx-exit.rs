//! `fx-exit N`: exits with status `N` after one `getppid`.
//!
//! After the ordinary process start-up (execve, dynamic loader, glibc and
//! Rust std runtime initialisation, none of which open files or exit), the
//! program makes exactly these syscalls, in this order, on its only thread:
//!
//! 1. `getppid()` = the parent's pid (the agent / tracer, or whatever
//!    spawned the fixture).
//! 2. `exit_group(N)` (glibc's `_exit(N)` issues `exit_group`); the process
//!    exit status seen by the parent is `N & 0xff`. Nothing is flushed and
//!    no atexit handlers run.
//!
//! Nothing is printed on stdout. If `N` is missing or not an integer, it
//! prints a message on stderr and exits with 2 (without calling `getppid`).

use std::process::ExitCode;

fn main() -> ExitCode {
    let arg = match std::env::args().nth(1) {
        Some(a) => a,
        None => {
            eprintln!("usage: fx-exit N");
            return ExitCode::from(2);
        }
    };
    let code: libc::c_int = match arg.parse() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("fx-exit: bad exit code {arg:?}: {e}");
            return ExitCode::from(2);
        }
    };
    // SAFETY: getppid has no preconditions and cannot fail.
    let _ppid = unsafe { libc::getppid() };
    // SAFETY: _exit has no preconditions; it terminates the process without
    // running destructors, which is the point of this fixture.
    unsafe { libc::_exit(code) }
}
