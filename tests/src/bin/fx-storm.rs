//! `fx-storm D THREADS SECONDS`: an open/close load generator.
//!
//! The main thread spawns THREADS (>= 1) threads with `std::thread`
//! (`clone3`, see `fx-threads`); SECONDS is a non-negative decimal number
//! (fractions allowed) and the run ends SECONDS after the threads were
//! released. All threads wait on a `std::sync::Barrier` (futex) so they run
//! concurrently. Thread `t` (t = 0..THREADS-1) then makes, through
//! `syscall(SYS_openat, ...)` and `close`:
//!
//! 1. `openat(AT_FDCWD, "D/storm-<t>", O_WRONLY|O_CREAT|O_CLOEXEC, 0600)` = fd,
//!    `close(fd)` = 0 — once; the file is not truncated and is left in place.
//! 2. then, repeatedly until the deadline:
//!    `openat(AT_FDCWD, "D/storm-<t>", O_RDONLY|O_CLOEXEC)` = fd,
//!    `close(fd)` = 0. The clock (`Instant::now`, normally the vDSO, so no
//!    syscall) is read once every 64 iterations, so a thread may overshoot
//!    the deadline by up to 63 open/close pairs.
//!
//! After joining all threads the main thread prints the total number of
//! successful `openat` syscalls made by all storm threads (the creating
//! opens of step 1 included), i.e. exactly the number of `openat` calls on
//! `D/storm-*` paths, as `opens N\n` on stdout (the only stdout output), and
//! exits with 0. If any open or close fails, that thread stops, a message
//! goes to stderr and the exit status is 1 (no `opens` line is printed);
//! usage errors exit with 2.

use std::ffi::{CString, OsStr};
use std::io::{Error, Write};
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

fn open_close(path: &CString, flags: libc::c_int) -> Result<(), String> {
    // SAFETY: raw `openat` syscall with a valid NUL-terminated path that
    // outlives the call; all arguments are passed as full c_longs.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD as libc::c_long,
            path.as_ptr() as libc::c_long,
            flags as libc::c_long,
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

/// One storm thread; returns its number of successful opens.
fn storm(path: &CString, barrier: &Barrier, duration: Duration) -> Result<u64, String> {
    barrier.wait();
    let deadline = Instant::now() + duration;
    open_close(path, libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC)?;
    let mut opens: u64 = 1;
    loop {
        if opens % 64 == 1 && Instant::now() >= deadline {
            return Ok(opens);
        }
        open_close(path, libc::O_RDONLY | libc::O_CLOEXEC)?;
        opens += 1;
    }
}

fn run(dir: &OsStr, threads: usize, duration: Duration) -> Result<u64, String> {
    let barrier = Arc::new(Barrier::new(threads));
    let mut handles = Vec::with_capacity(threads);
    for t in 0..threads {
        let mut bytes = dir.as_bytes().to_vec();
        bytes.extend_from_slice(format!("/storm-{t}").as_bytes());
        let path = CString::new(bytes).map_err(|e| format!("bad path: {e}"))?;
        let barrier = Arc::clone(&barrier);
        let h = std::thread::Builder::new()
            .name(format!("fx-storm-{t}"))
            .spawn(move || storm(&path, &barrier, duration))
            .map_err(|e| format!("spawning thread {t}: {e}"))?;
        handles.push(h);
    }
    let mut total = 0;
    let mut errors = Vec::new();
    for (t, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(Ok(n)) => total += n,
            Ok(Err(e)) => errors.push(format!("thread {t}: {e}")),
            Err(_) => errors.push(format!("thread {t} panicked")),
        }
    }
    if errors.is_empty() {
        Ok(total)
    } else {
        Err(errors.join("; "))
    }
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("fx-storm: {msg}\nusage: fx-storm DIR THREADS SECONDS");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let [dir, threads, seconds] = args.as_slice() else {
        return usage("expected 3 arguments");
    };
    let threads = match threads.to_str().and_then(|s| s.parse::<usize>().ok()) {
        Some(n) if n > 0 => n,
        _ => return usage("THREADS must be a positive integer"),
    };
    let duration = match seconds
        .to_str()
        .and_then(|s| s.parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
    {
        Some(d) => d,
        None => return usage("SECONDS must be a non-negative number"),
    };
    match run(dir, threads, duration) {
        Ok(total) => {
            let mut out = std::io::stdout().lock();
            match out
                .write_all(format!("opens {total}\n").as_bytes())
                .and_then(|()| out.flush())
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("fx-storm: writing stdout: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("fx-storm: {e}");
            ExitCode::FAILURE
        }
    }
}
