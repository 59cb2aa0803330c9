//! `fx-threads D [N]`: N threads (default 4) each create one file in `D`.
//!
//! Process start-up opens `/etc/ld.so.cache`, the shared libraries and
//! `/proc/self/maps` (see `fx-open-files`); filter by paths under `D`.
//!
//! The main thread spawns N threads with `std::thread` (glibc 2.36
//! `pthread_create`: `mmap` + `mprotect` for the stack, then
//! `clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|
//! CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, ...})`
//! per thread). All N threads first wait on a `std::sync::Barrier` (futex
//! calls), so they are all alive at the same time: each open below therefore
//! happens on a distinct tid, and none of them is the main thread's tid
//! (= the pid). Then thread `i` (i = 0..N-1, in no particular order across
//! threads) makes exactly:
//!
//! 1. `openat(AT_FDCWD, "D/thread-<i>.txt", O_WRONLY|O_CREAT|O_CLOEXEC, 0600)`
//!    = some fd >= 3, through `syscall(SYS_openat, ...)`; the file is not
//!    truncated and is left in place afterwards
//! 2. `close(fd)` = 0
//!
//! Each thread also makes the usual std thread set-up/tear-down syscalls
//! (rseq, set_robust_list, sigaltstack, mmap/munmap/mprotect for the
//! alternate signal stack, rt_sigprocmask, futex, madvise) and ends with the
//! `exit(0)` syscall (not exit_group). The main
//! thread joins all threads (futex) and exits with `exit_group(0)`.
//!
//! Nothing is printed on stdout. If a thread's open or close fails, or a
//! thread cannot be spawned, a message goes to stderr and the exit status is
//! 1; a usage error exits with 2.

use std::ffi::{CString, OsStr};
use std::io::Error;
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;
use std::sync::{Arc, Barrier};

fn open_and_close(path: &CString) -> Result<(), String> {
    // SAFETY: raw `openat` syscall with a valid NUL-terminated path that
    // outlives the call; all arguments are passed as full c_longs.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD as libc::c_long,
            path.as_ptr() as libc::c_long,
            (libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC) as libc::c_long,
            0o600 as libc::c_long,
        )
    };
    if fd < 0 {
        return Err(format!("openat({path:?}): {}", Error::last_os_error()));
    }
    // SAFETY: `fd` is the fd the kernel just returned; closed exactly once.
    if unsafe { libc::close(fd as libc::c_int) } != 0 {
        return Err(format!("close({fd}): {}", Error::last_os_error()));
    }
    Ok(())
}

fn run(dir: &OsStr, n: usize) -> Result<(), String> {
    let mut paths = Vec::with_capacity(n);
    for i in 0..n {
        let mut bytes = dir.as_bytes().to_vec();
        bytes.extend_from_slice(format!("/thread-{i}.txt").as_bytes());
        paths.push(CString::new(bytes).map_err(|e| format!("bad path: {e}"))?);
    }
    let barrier = Arc::new(Barrier::new(n));
    let mut handles = Vec::with_capacity(n);
    for (i, path) in paths.into_iter().enumerate() {
        let barrier = Arc::clone(&barrier);
        let h = std::thread::Builder::new()
            .name(format!("fx-thread-{i}"))
            .spawn(move || {
                barrier.wait();
                open_and_close(&path)
            })
            .map_err(|e| format!("spawning thread {i}: {e}"))?;
        handles.push(h);
    }
    let mut errors = Vec::new();
    for (i, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => errors.push(format!("thread {i}: {e}")),
            Err(_) => errors.push(format!("thread {i} panicked")),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: fx-threads DIR [N]");
        return ExitCode::from(2);
    };
    let n = match args.next() {
        None => 4,
        Some(s) => match s.to_str().and_then(|s| s.parse::<usize>().ok()) {
            Some(n) if n > 0 => n,
            _ => {
                eprintln!("fx-threads: N must be a positive integer, got {s:?}");
                return ExitCode::from(2);
            }
        },
    };
    match run(&dir, n) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fx-threads: {e}");
            ExitCode::FAILURE
        }
    }
}
