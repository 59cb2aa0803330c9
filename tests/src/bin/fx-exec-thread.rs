//! `fx-exec-thread`: a non-leader thread calls execve while the leader waits.
//!
//! The main (leader) thread, tid = pid = P, spawns one thread with
//! `std::thread` (glibc: `clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|
//! CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|
//! CLONE_CHILD_CLEARTID, ...})` = T) and then blocks forever in `pause()`
//! (re-entered in a loop if a handled signal interrupts it).
//!
//! The new thread T calls `execv("/bin/echo", ["echo", "from-thread"])`,
//! i.e. the syscall `execve("/bin/echo", ["echo", "from-thread"], envp)`
//! with the fixture's own environment, made on tid T != P. The kernel kills
//! the leader (its `pause` never returns; it just disappears, strace shows
//! `+++ superseded by execve in pid T +++`), and the exec'ing thread takes
//! over the thread group id: after the exec, the process is pid P again
//! and execve returns 0 on P (a ptrace tracer sees PTRACE_EVENT_EXEC
//! reported for P with PTRACE_GETEVENTMSG = T, the former tid).
//!
//! `/bin/echo` then prints `from-thread\n` on stdout (the only stdout output)
//! and exits with 0. If execv fails, the thread prints a message on stderr
//! and the process exits with 1.

use std::ffi::{c_char, CStr};
use std::io::Error;
use std::process::ExitCode;

const ECHO: &CStr = c"/bin/echo";
const ARG0: &CStr = c"echo";
const ARG1: &CStr = c"from-thread";

fn exec_echo() -> ! {
    let argv: [*const c_char; 3] = [ARG0.as_ptr(), ARG1.as_ptr(), std::ptr::null()];
    // SAFETY: the path is a NUL-terminated string and argv a NULL-terminated
    // array of NUL-terminated strings, all alive for the whole call.
    unsafe { libc::execv(ECHO.as_ptr(), argv.as_ptr()) };
    eprintln!(
        "fx-exec-thread: execv(/bin/echo): {}",
        Error::last_os_error()
    );
    std::process::exit(1);
}

fn main() -> ExitCode {
    if let Err(e) = std::thread::Builder::new()
        .name("fx-exec".to_string())
        .spawn(|| exec_echo())
    {
        eprintln!("fx-exec-thread: spawning thread: {e}");
        return ExitCode::FAILURE;
    }
    loop {
        // SAFETY: pause has no preconditions; it returns only after a
        // caught signal's handler ran, in which case we simply pause again.
        unsafe { libc::pause() };
    }
}
