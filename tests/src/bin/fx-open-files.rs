//! `fx-open-files D`: a fixed sequence of file opens under directory `D`.
//!
//! Process start-up (before `main`) already opens some files, all with
//! `openat(AT_FDCWD, ..., O_RDONLY|O_CLOEXEC)`: the dynamic loader opens
//! `/etc/ld.so.cache`, `/lib/x86_64-linux-gnu/libgcc_s.so.1` and
//! `/lib/x86_64-linux-gnu/libc.so.6`; the Rust std runtime opens
//! `/proc/self/maps`. Filter those out (e.g. keep only paths under `D`).
//!
//! Then, on its only thread, in this order (paths are passed verbatim as
//! `D` + `"/..."`, so a relative `D` gives relative paths; fd numbers assume
//! fds 0-2 are open and nothing else is, so the lowest free fd is 3):
//!
//! 1. `openat(AT_FDCWD, "D/fx-a.txt", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0640)`
//!    = 3 (glibc's `openat()` wrapper issues the `openat` syscall)
//! 2. `write(3, "hello\n", 6)` = 6
//! 3. `close(3)` = 0
//! 4. `open("D/fx-a.txt", O_RDONLY)` = 3 — the legacy x86_64 `open` syscall
//!    (number 2), issued through `syscall(SYS_open, path, O_RDONLY, 0)`
//!    (the third, mode argument is 0)
//! 5. `close(3)` = 0
//! 6. `openat(AT_FDCWD, "D/does-not-exist", O_RDONLY)` = -1 ENOENT, issued
//!    through `syscall(SYS_openat, AT_FDCWD, path, O_RDONLY, 0)`
//! 7. `unlinkat(AT_FDCWD, "D/fx-a.txt", 0)` = 0
//! 8. `exit_group(0)` (preceded, as for every fixture whose `main` returns,
//!    by std's exit path: `sigaltstack(SS_DISABLE)` and `munmap` of the
//!    main thread's alternate signal stack)
//!
//! Nothing is printed on stdout. If any step gives another result than the
//! one above (step 6 must fail with exactly ENOENT), it prints a message on
//! stderr and exits with 1 right away; a usage error exits with 2.

use std::ffi::{CString, OsStr};
use std::io::Error;
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;

fn path_in(dir: &OsStr, name: &str) -> Result<CString, String> {
    let mut bytes = dir.as_bytes().to_vec();
    bytes.push(b'/');
    bytes.extend_from_slice(name.as_bytes());
    CString::new(bytes).map_err(|e| format!("path contains a NUL byte: {e}"))
}

fn run(dir: &OsStr) -> Result<(), String> {
    let a = path_in(dir, "fx-a.txt")?;
    let missing = path_in(dir, "does-not-exist")?;

    // SAFETY: `a` is a valid NUL-terminated string that outlives the call.
    let fd = unsafe {
        libc::openat(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
            0o640 as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(format!(
            "openat({a:?}) for writing: {}",
            Error::last_os_error()
        ));
    }
    let data = b"hello\n";
    // SAFETY: `data` is valid for `data.len()` bytes; `fd` is our open fd.
    let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    if n != data.len() as isize {
        return Err(format!("write returned {n}: {}", Error::last_os_error()));
    }
    // SAFETY: `fd` is an fd we own and close exactly once.
    if unsafe { libc::close(fd) } != 0 {
        return Err(format!("close after write: {}", Error::last_os_error()));
    }

    // SAFETY: raw `open` syscall with a valid NUL-terminated path; every
    // argument is passed as a full c_long so no register has garbage bits.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open,
            a.as_ptr() as libc::c_long,
            libc::O_RDONLY as libc::c_long,
            0 as libc::c_long,
        )
    };
    if fd < 0 {
        return Err(format!("open({a:?}, O_RDONLY): {}", Error::last_os_error()));
    }
    // SAFETY: `fd` is the fd the kernel just returned to us.
    if unsafe { libc::close(fd as libc::c_int) } != 0 {
        return Err(format!("close after open: {}", Error::last_os_error()));
    }

    // SAFETY: raw `openat` syscall with a valid NUL-terminated path.
    let r = unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD as libc::c_long,
            missing.as_ptr() as libc::c_long,
            libc::O_RDONLY as libc::c_long,
            0 as libc::c_long,
        )
    };
    if r >= 0 {
        // SAFETY: unexpectedly got an fd; close it before reporting.
        unsafe { libc::close(r as libc::c_int) };
        return Err(format!("openat({missing:?}) unexpectedly succeeded"));
    }
    let err = Error::last_os_error();
    if err.raw_os_error() != Some(libc::ENOENT) {
        return Err(format!("openat({missing:?}): expected ENOENT, got {err}"));
    }

    // SAFETY: `a` is a valid NUL-terminated path.
    if unsafe { libc::unlinkat(libc::AT_FDCWD, a.as_ptr(), 0) } != 0 {
        return Err(format!("unlinkat({a:?}): {}", Error::last_os_error()));
    }
    Ok(())
}

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: fx-open-files DIR");
        return ExitCode::from(2);
    };
    match run(&dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fx-open-files: {e}");
            ExitCode::FAILURE
        }
    }
}
