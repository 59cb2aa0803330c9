//! `fx-vfork-exec [--vfork]`: runs `/bin/true` in a vfork-style child.
//!
//! In both modes the child is exec'ed as
//! `execve("/bin/true", ["true"], [])` (argv is exactly `["true"]`, the
//! environment is empty) and the parent then calls `wait4(pid, &status, 0,
//! NULL)` (glibc's `waitpid`), which returns `pid`. Exit status 0 when the
//! child exited normally with 0; otherwise a message on stderr and status 1.
//! Nothing is printed on stdout.
//!
//! Default mode (no argument): `posix_spawn(&pid, "/bin/true", NULL, NULL,
//! argv, envp)`. glibc 2.36 implements it as (parent): `mmap(NULL, 36864,
//! PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_STACK, -1, 0)` for a
//! child stack, `rt_sigprocmask(SIG_BLOCK, ~[], [])`, then
//! `clone3({flags=CLONE_VM|CLONE_VFORK, exit_signal=SIGCHLD, stack=...,
//! stack_size=0x9000}, 88)` = child pid — so the child shares the parent's
//! memory and the parent is suspended until the child execs. The child makes
//! `rt_sigprocmask(SIG_BLOCK, NULL, ..)`, then for each signal 1..64 except
//! SIGKILL/SIGSTOP an `rt_sigaction(sig, NULL, &old)` query followed (unless
//! the signal is ignored, e.g. SIGPIPE) by `rt_sigaction(sig, SIG_DFL)`;
//! then `rt_sigprocmask(SIG_SETMASK, [])` and the `execve` above (= 0). No
//! `vfork` syscall and no `clone` (legacy) syscall is made in this mode. The
//! parent then `munmap`s the stack, `rt_sigprocmask(SIG_SETMASK, [])`, and
//! waits.
//!
//! `--vfork` mode: the raw `vfork` syscall (x86_64 number 58, no arguments)
//! — strace shows `vfork()`. The child makes exactly one more syscall,
//! the `execve` above; if that fails it calls `exit_group(127)` (the parent
//! then reports the failure and exits 1). The vfork/execve/exit_group
//! sequence is one inline-asm block that uses only registers, so the child
//! never writes to the memory (stack) it shares with the parent. (This is
//! why it does not call `libc::vfork()`: that binding is deprecated because
//! a Rust caller of vfork corrupts the shared stack, rust-lang/libc#1596.)

use std::ffi::{c_char, CStr};
use std::io::Error;
use std::process::ExitCode;
use std::ptr;

const TRUE_PATH: &CStr = c"/bin/true";
const TRUE_ARG0: &CStr = c"true";

/// posix_spawn /bin/true; returns the child's pid.
fn spawn_posix(
    argv: &[*const c_char; 2],
    envp: &[*const c_char; 1],
) -> Result<libc::pid_t, String> {
    let mut pid: libc::pid_t = 0;
    // SAFETY: `pid` is a valid out-pointer; the path, argv and envp are
    // NUL-terminated strings / NULL-terminated arrays that outlive the call;
    // NULL file actions and attributes are allowed.
    let rc = unsafe {
        libc::posix_spawn(
            &mut pid,
            TRUE_PATH.as_ptr(),
            ptr::null(),
            ptr::null(),
            argv.as_ptr() as *const *mut c_char,
            envp.as_ptr() as *const *mut c_char,
        )
    };
    if rc != 0 {
        return Err(format!("posix_spawn: {}", Error::from_raw_os_error(rc)));
    }
    Ok(pid)
}

/// Raw vfork; the child execs /bin/true or exit_group(127)s. Returns the
/// child's pid in the parent.
#[cfg(target_arch = "x86_64")]
fn spawn_vfork(
    argv: &[*const c_char; 2],
    envp: &[*const c_char; 1],
) -> Result<libc::pid_t, String> {
    let ret: i64;
    // SAFETY: the asm makes the vfork syscall. In the child (rax == 0) it
    // only issues execve with the already-prepared pointers held in
    // rdi/rsi/rdx (valid NUL-terminated string and NULL-terminated arrays
    // that the suspended parent keeps alive) and, if that returns,
    // exit_group(127); it never returns to Rust code and never writes memory,
    // so the shared address space and stack are untouched. In the parent,
    // the syscall instruction clobbers only rax (result), rcx and r11, which
    // are declared; rdi/rsi/rdx are preserved by the kernel. No stack use.
    unsafe {
        core::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "mov eax, {execve}",
            "syscall",
            "mov edi, 127",
            "mov eax, {exit_group}",
            "syscall",
            "ud2",
            "2:",
            execve = const libc::SYS_execve,
            exit_group = const libc::SYS_exit_group,
            inlateout("rax") libc::SYS_vfork => ret,
            in("rdi") TRUE_PATH.as_ptr(),
            in("rsi") argv.as_ptr(),
            in("rdx") envp.as_ptr(),
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
    }
    if ret < 0 {
        return Err(format!(
            "vfork: {}",
            Error::from_raw_os_error((-ret) as i32)
        ));
    }
    Ok(ret as libc::pid_t)
}

#[cfg(not(target_arch = "x86_64"))]
fn spawn_vfork(
    _argv: &[*const c_char; 2],
    _envp: &[*const c_char; 1],
) -> Result<libc::pid_t, String> {
    Err("--vfork mode is only implemented on x86_64".to_string())
}

fn run(use_vfork: bool) -> Result<(), String> {
    let argv: [*const c_char; 2] = [TRUE_ARG0.as_ptr(), ptr::null()];
    let envp: [*const c_char; 1] = [ptr::null()];
    let pid = if use_vfork {
        spawn_vfork(&argv, &envp)?
    } else {
        spawn_posix(&argv, &envp)?
    };
    let mut status: libc::c_int = 0;
    // SAFETY: `status` is a valid out-pointer; `pid` is our child.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    if r != pid {
        return Err(format!("waitpid({pid}) = {r}: {}", Error::last_os_error()));
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else if libc::WIFEXITED(status) {
        Err(format!("child exited with {}", libc::WEXITSTATUS(status)))
    } else if libc::WIFSIGNALED(status) {
        Err(format!("child killed by signal {}", libc::WTERMSIG(status)))
    } else {
        Err(format!("unexpected wait status {status:#x}"))
    }
}

fn main() -> ExitCode {
    let use_vfork = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--vfork") => true,
        Some(other) => {
            eprintln!("usage: fx-vfork-exec [--vfork] (got {other:?})");
            return ExitCode::from(2);
        }
    };
    match run(use_vfork) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fx-vfork-exec: {e}");
            ExitCode::FAILURE
        }
    }
}
