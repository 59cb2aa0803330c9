//! `fx-bad-pointer`: syscalls whose pointer arguments are unreadable, so the
//! kernel fails them with EFAULT (and a tracer that reads the tracee's memory
//! for those arguments must cope with the unreadable address).
//!
//! After the usual start-up, on its only thread, in this order:
//!
//! 1. `openat(AT_FDCWD, 0x1, O_RDONLY)` = -1 EFAULT, through
//!    `syscall(SYS_openat, AT_FDCWD, 1, O_RDONLY, 0)`.
//! 2. `mmap(NULL, 4096, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1,
//!    0)` = A, then `munmap(A, 4096)` = 0.
//! 3. `open(A, O_RDONLY)` = -1 EFAULT — the legacy x86_64 `open` syscall,
//!    through `syscall(SYS_open, A, O_RDONLY, 0)`; A is the address of the
//!    page just unmapped (nothing is mapped in between: single thread, no
//!    allocation between the munmap and the open).
//! 4. `socket(AF_INET, SOCK_STREAM, 0)` = fd (3 normally).
//! 5. `connect(fd, 0x10, 16)` = -1 EFAULT.
//! 6. `close(fd)` = 0.
//! 7. exit status 0 if steps 1, 3 and 5 all failed with EFAULT; otherwise
//!    a message per unexpected result on stderr and exit status 1 (all steps
//!    are still made, in order).
//!
//! Nothing is printed on stdout.

use std::io::Error;
use std::process::ExitCode;

/// Checks that a raw syscall result is -1 with errno EFAULT.
fn expect_efault(what: &str, ret: libc::c_long, errors: &mut Vec<String>) {
    let err = Error::last_os_error();
    if ret != -1 {
        errors.push(format!("{what}: expected EFAULT, got {ret}"));
        if ret >= 0 && what.contains("open") {
            // SAFETY: an open unexpectedly returned an fd we now own.
            unsafe { libc::close(ret as libc::c_int) };
        }
    } else if err.raw_os_error() != Some(libc::EFAULT) {
        errors.push(format!("{what}: expected EFAULT, got {err}"));
    }
}

fn main() -> ExitCode {
    let mut errors = Vec::new();

    // SAFETY: the kernel validates the path pointer and returns EFAULT for
    // the unmapped address 0x1; no memory of ours is accessed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD as libc::c_long,
            1 as libc::c_long,
            libc::O_RDONLY as libc::c_long,
            0 as libc::c_long,
        )
    };
    expect_efault("openat(AT_FDCWD, 0x1, O_RDONLY)", r, &mut errors);

    // SAFETY: fresh anonymous mapping at a kernel-chosen address.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if page == libc::MAP_FAILED {
        eprintln!("fx-bad-pointer: mmap: {}", Error::last_os_error());
        return ExitCode::FAILURE;
    }
    // SAFETY: `page` is our own mapping and nothing refers to it.
    if unsafe { libc::munmap(page, 4096) } != 0 {
        eprintln!("fx-bad-pointer: munmap: {}", Error::last_os_error());
        return ExitCode::FAILURE;
    }
    // SAFETY: `page` is now unmapped; the kernel validates the pointer and
    // returns EFAULT. We never dereference it ourselves.
    let r = unsafe {
        libc::syscall(
            libc::SYS_open,
            page as libc::c_long,
            libc::O_RDONLY as libc::c_long,
            0 as libc::c_long,
        )
    };
    expect_efault("open(<unmapped page>, O_RDONLY)", r, &mut errors);

    // SAFETY: socket has no memory-safety preconditions.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    if fd < 0 {
        eprintln!("fx-bad-pointer: socket: {}", Error::last_os_error());
        return ExitCode::FAILURE;
    }
    // SAFETY: the kernel validates the address pointer 0x10 and returns
    // EFAULT; no memory of ours is accessed.
    let r = unsafe { libc::connect(fd, 0x10 as *const libc::sockaddr, 16) };
    expect_efault("connect(fd, 0x10, 16)", libc::c_long::from(r), &mut errors);
    // SAFETY: `fd` is our socket, closed exactly once.
    if unsafe { libc::close(fd) } != 0 {
        errors.push(format!("close(socket): {}", Error::last_os_error()));
    }

    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        for e in &errors {
            eprintln!("fx-bad-pointer: {e}");
        }
        ExitCode::FAILURE
    }
}
