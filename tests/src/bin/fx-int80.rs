//! `fx-int80 PATH` / `fx-int80 getpid`: a 64-bit (x86_64) process making
//! 32-bit (i386 ABI) syscalls through `int 0x80`.
//!
//! A tracer sees these as compat syscalls (strace prints `[ Process PID=..
//! runs in 32 bit mode. ]`; for ptrace the syscall number is an i386 number
//! and the arguments are in ebx, ecx, edx...; seccomp data has
//! `arch == AUDIT_ARCH_I386`).
//!
//! `fx-int80 PATH`, after the usual start-up:
//! 1. `mmap(NULL, 4096, PROT_READ|PROT_WRITE,
//!    MAP_PRIVATE|MAP_ANONYMOUS|MAP_32BIT, -1, 0)` = A (64-bit syscall; A
//!    is below 2 GiB, so it fits in 32 bits)
//! 2. PATH plus a NUL is copied to A (no syscall); PATH must be < 4096 bytes.
//! 3. i386 `open` via `int 0x80`: eax = 5, ebx = A, ecx = 0 (O_RDONLY),
//!    edx = 0 (mode). strace shows `open("PATH", O_RDONLY) = fd` in 32-bit
//!    mode. The result is fd (3 normally) or -errno (e.g. -2 for ENOENT).
//! 4. `write(1, "<result>\n", ..)`: the result in decimal, e.g. `3\n` or
//!    `-2\n` (64-bit syscall, strace shows it back in 64 bit mode).
//! 5. if the open succeeded: `close(fd)` = 0 (64-bit close).
//! 6. `munmap(A, 4096)` = 0.
//! 7. exit status 0 if the open succeeded (result >= 0), 2 otherwise.
//!
//! `fx-int80 getpid`:
//! 1. i386 `getpid` via `int 0x80`: eax = 20 (ebx, ecx, edx = 0) = P.
//! 2. `write(1, "P\n", ..)`.
//! 3. the 64-bit `getpid()` = P (glibc does not cache the pid).
//! 4. exit status 0 if both results are equal, otherwise a message on stderr
//!    and exit status 1.
//!
//! Any other failure (usage, mmap failed, PATH too long) prints a message on
//! stderr and exits with 1. On non-x86_64 targets the fixture always exits
//! with 1 ("unsupported").

use std::process::ExitCode;

#[cfg(target_arch = "x86_64")]
mod imp {
    use std::ffi::OsStr;
    use std::io::{Error, Write};
    use std::os::unix::ffi::OsStrExt;
    use std::process::ExitCode;

    const I386_OPEN: u32 = 5;
    const I386_GETPID: u32 = 20;
    const PAGE: usize = 4096;

    /// Makes an i386 syscall through `int 0x80` and returns eax.
    ///
    /// # Safety
    ///
    /// The syscall's arguments must be valid for it (e.g. pointers point to
    /// readable, NUL-terminated memory below 4 GiB), and the syscall must
    /// not break Rust's invariants (e.g. no munmap of live memory).
    unsafe fn int80(nr: u32, a: u32, b: u32, c: u32) -> i32 {
        let ret: i32;
        // rbx is reserved by LLVM and cannot be an asm operand, so the first
        // argument goes through a scratch register swapped into rbx around
        // the trap. The kernel restores every register but eax on return;
        // r8-r11 are declared clobbered anyway because kernels before 4.17
        // zeroed them on an int 0x80 from 64-bit code. `int` switches to the
        // kernel stack and never touches the user stack, hence `nostack`.
        // Memory is not `nomem`/`readonly`: the syscall reads the path.
        // SAFETY: guaranteed by the caller (see the function's contract); rbx
        // is restored by the second xchg before the asm block ends.
        unsafe {
            core::arch::asm!(
                "xchg {a:r}, rbx",
                "int 0x80",
                "xchg {a:r}, rbx",
                a = inout(reg) u64::from(a) => _,
                inlateout("eax") nr => ret,
                in("ecx") b,
                in("edx") c,
                out("r8") _,
                out("r9") _,
                out("r10") _,
                out("r11") _,
                options(nostack),
            );
        }
        ret
    }

    /// Writes `line` on stdout with a single write(2), reporting failures.
    fn print_line(line: &str) -> Result<(), String> {
        let mut out = std::io::stdout().lock();
        out.write_all(line.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| format!("writing stdout: {e}"))
    }

    fn open_mode(path: &OsStr) -> ExitCode {
        let bytes = path.as_bytes();
        if bytes.len() >= PAGE || bytes.contains(&0) {
            eprintln!("fx-int80: path too long or contains NUL");
            return ExitCode::FAILURE;
        }
        // SAFETY: anonymous private mapping at a kernel-chosen address; no
        // existing memory is affected.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT,
                -1,
                0,
            )
        };
        if page == libc::MAP_FAILED {
            eprintln!("fx-int80: mmap(MAP_32BIT): {}", Error::last_os_error());
            return ExitCode::FAILURE;
        }
        let Ok(addr) = u32::try_from(page as usize) else {
            eprintln!("fx-int80: mmap(MAP_32BIT) returned {page:p}, above 4 GiB");
            return ExitCode::FAILURE;
        };
        // SAFETY: `page` is a fresh writable mapping of PAGE bytes and
        // bytes.len() + 1 <= PAGE; the source does not overlap it.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), page.cast::<u8>(), bytes.len());
            page.cast::<u8>().add(bytes.len()).write(0);
        }
        // SAFETY: i386 open(path, O_RDONLY, 0) with `addr` pointing to a
        // NUL-terminated string in our mapping, below 4 GiB.
        let fd = unsafe { int80(I386_OPEN, addr, 0, 0) };
        let printed = print_line(&format!("{fd}\n"));
        let mut code = if fd >= 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        };
        if fd >= 0 {
            // SAFETY: `fd` is the fd the kernel just returned to us.
            if unsafe { libc::close(fd) } != 0 {
                eprintln!("fx-int80: close({fd}): {}", Error::last_os_error());
                code = ExitCode::FAILURE;
            }
        }
        // SAFETY: `page` is our mapping and nothing refers to it any more.
        if unsafe { libc::munmap(page, PAGE) } != 0 {
            eprintln!("fx-int80: munmap: {}", Error::last_os_error());
            code = ExitCode::FAILURE;
        }
        if let Err(e) = printed {
            eprintln!("fx-int80: {e}");
            code = ExitCode::FAILURE;
        }
        code
    }

    fn getpid_mode() -> ExitCode {
        // SAFETY: i386 getpid takes no arguments and touches no memory.
        let pid32 = unsafe { int80(I386_GETPID, 0, 0, 0) };
        if let Err(e) = print_line(&format!("{pid32}\n")) {
            eprintln!("fx-int80: {e}");
            return ExitCode::FAILURE;
        }
        // SAFETY: getpid has no preconditions and cannot fail.
        let pid64 = unsafe { libc::getpid() };
        if pid32 == pid64 {
            ExitCode::SUCCESS
        } else {
            eprintln!("fx-int80: int 0x80 getpid gave {pid32}, getpid() gave {pid64}");
            ExitCode::FAILURE
        }
    }

    pub fn main() -> ExitCode {
        match std::env::args_os().nth(1) {
            Some(a) if a == "getpid" => getpid_mode(),
            Some(path) => open_mode(&path),
            None => {
                eprintln!("usage: fx-int80 PATH | fx-int80 getpid");
                ExitCode::FAILURE
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn main() -> ExitCode {
    imp::main()
}

#[cfg(not(target_arch = "x86_64"))]
fn main() -> ExitCode {
    eprintln!("fx-int80: unsupported: needs x86_64");
    ExitCode::FAILURE
}
