//! `fx-signals MODE [ARG]`: signal-handling scenarios. All stdout output is
//! written with raw `write(1, ...)` calls (one call per message, nothing
//! buffered), so it is visible as soon as it is written. After the usual
//! start-up (which installs std's SIGSEGV/SIGBUS handlers and sets SIGPIPE to
//! SIG_IGN), the modes do:
//!
//! `wait-term`:
//! 1. `rt_sigaction(SIGTERM, {handler, mask=[], flags=SA_RESTORER})` = 0
//! 2. `rt_sigaction(SIGUSR1, {handler, mask=[], flags=SA_RESTORER})` = 0
//! 3. `write(1, "ready\n", 6)` = 6
//! 4. `pause()` in a loop (each interrupted by a caught signal returns -1
//!    EINTR, or ERESTARTNOHAND as seen by a tracer, and is re-entered).
//!
//!    On SIGUSR1 the handler does `write(1, "got SIGUSR1\n", 12)` and returns
//!    (`rt_sigreturn`), then `pause()` again. On SIGTERM the handler does
//!    `write(1, "got SIGTERM\n", 12)` then `exit_group(42)` (`_exit(42)`):
//!    the process exit status is 42. Other signals have their default
//!    action.
//!
//! `self-stop`:
//! 1. `write(1, "before\n", 7)` = 7
//! 2. `raise(SIGSTOP)`: glibc 2.36 does `gettid()`, `getpid()`,
//!    `tgkill(pid, pid, SIGSTOP)` = 0 (si_code SI_TKILL), and the process
//!    stops (group-stop) until it gets SIGCONT; tgkill then returns 0.
//! 3. `write(1, "after\n", 6)` = 6
//! 4. `exit_group(0)`.
//!
//! `die-by N`: unless N is SIGKILL (9) or SIGSTOP (19), first
//! `rt_sigaction(N, {SIG_DFL, mask=[], flags=SA_RESTORER})` = 0 (the Rust
//! runtime catches SIGSEGV/SIGBUS and ignores SIGPIPE; this restores the
//! default action); then `getpid()` = P and `kill(P, N)`. For a signal whose
//! default action terminates (9 = SIGKILL, 15 = SIGTERM, 11 = SIGSEGV, 13 =
//! SIGPIPE, ...), the process dies from signal N during kill (wait status
//! WIFSIGNALED with WTERMSIG == N; core-dumping signals may also set
//! WCOREDUMP). For SIGKILL strace shows `kill(P, SIGKILL) = ?`, for others
//! `kill(P, N) = 0` followed by the delivery. If kill returns (a signal
//! ignored by default such as SIGCHLD), or if N is invalid (e.g. 99: glibc's
//! sigaction wrapper fails with EINVAL without any syscall), a message goes
//! to stderr and the exit status is 1.
//!
//! `rt-signal`: with S = SIGRTMIN+3 (= 37 with glibc, whose SIGRTMIN is 34;
//! strace names it `SIGRT_5`, counting from the kernel's SIGRTMIN 32):
//! 1. `rt_sigaction(S, {handler, mask=[], flags=SA_RESTORER|SA_SIGINFO})` = 0
//! 2. `getpid()` = P
//! 3. `kill(P, S)` = 0; the signal is delivered on return from this kill,
//!    so the handler runs before kill returns (handler makes no syscalls;
//!    `rt_sigreturn` afterwards).
//! 4. The handler must have run exactly once with `si_signo == S`,
//!    `si_code == SI_USER` (0) and `si_pid == P` — i.e. the signal and its
//!    siginfo reached the process unchanged. If it hasn't run yet, the
//!    fixture waits up to 1 s (`nanosleep` 10 ms at a time) before failing.
//! 5. `write(1, "rt ok\n", 6)` = 6, then `exit_group(0)`.
//!
//! On a failed check it writes a message on stderr and exits with 1.
//!
//! A usage error (unknown mode, bad N) exits with 2.

use std::io::Error;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

/// Writes all of `msg` to fd 1 with raw write(2); async-signal-safe.
fn write_stdout(msg: &[u8]) {
    let mut rest = msg;
    while !rest.is_empty() {
        // SAFETY: `rest` is valid for `rest.len()` bytes for the whole call.
        let n = unsafe { libc::write(1, rest.as_ptr().cast(), rest.len()) };
        if n <= 0 {
            // Interrupted or broken stdout: nothing useful can be done from
            // here (this may run inside a signal handler).
            if n < 0 && Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        rest = &rest[n as usize..];
    }
}

/// Installs `handler` (or SIG_DFL) for `sig` with sigaction; `siginfo`
/// selects SA_SIGINFO.
fn install(sig: libc::c_int, handler: libc::sighandler_t, siginfo: bool) -> Result<(), String> {
    // SAFETY: sigaction is a plain C struct for which all-zeroes is valid.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = handler;
    sa.sa_flags = if siginfo { libc::SA_SIGINFO } else { 0 };
    // SAFETY: `sa.sa_mask` is a valid sigset_t to initialise.
    unsafe { libc::sigemptyset(&mut sa.sa_mask) };
    // SAFETY: `sa` is fully initialised; the handler is SIG_DFL or an
    // extern "C" function whose signature matches the flags and that only
    // does async-signal-safe work.
    if unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) } != 0 {
        return Err(format!("sigaction({sig}): {}", Error::last_os_error()));
    }
    Ok(())
}

extern "C" fn on_sigterm(_sig: libc::c_int) {
    write_stdout(b"got SIGTERM\n");
    // SAFETY: _exit is async-signal-safe and has no preconditions.
    unsafe { libc::_exit(42) }
}

extern "C" fn on_sigusr1(_sig: libc::c_int) {
    write_stdout(b"got SIGUSR1\n");
}

fn wait_term() -> Result<(), String> {
    type Handler = extern "C" fn(libc::c_int);
    install(
        libc::SIGTERM,
        on_sigterm as Handler as libc::sighandler_t,
        false,
    )?;
    install(
        libc::SIGUSR1,
        on_sigusr1 as Handler as libc::sighandler_t,
        false,
    )?;
    write_stdout(b"ready\n");
    loop {
        // SAFETY: pause has no preconditions; it returns after a handler ran.
        unsafe { libc::pause() };
    }
}

fn self_stop() -> Result<(), String> {
    write_stdout(b"before\n");
    // SAFETY: raise has no memory-safety preconditions.
    if unsafe { libc::raise(libc::SIGSTOP) } != 0 {
        return Err(format!("raise(SIGSTOP): {}", Error::last_os_error()));
    }
    write_stdout(b"after\n");
    Ok(())
}

fn die_by(arg: Option<String>) -> Result<(), String> {
    // The caller validated the argument; parse again here for the value.
    let sig: libc::c_int = arg
        .as_deref()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "die-by needs a signal number".to_string())?;
    if sig != libc::SIGKILL && sig != libc::SIGSTOP {
        install(sig, libc::SIG_DFL, false)?;
    }
    // SAFETY: getpid has no preconditions and cannot fail.
    let pid = unsafe { libc::getpid() };
    // SAFETY: kill has no memory-safety preconditions.
    let r = unsafe { libc::kill(pid, sig) };
    if r != 0 {
        return Err(format!("kill(self, {sig}): {}", Error::last_os_error()));
    }
    Err(format!("still alive after kill(self, {sig})"))
}

static RT_COUNT: AtomicU32 = AtomicU32::new(0);
static RT_SIGNO: AtomicI32 = AtomicI32::new(0);
static RT_CODE: AtomicI32 = AtomicI32::new(i32::MIN);
static RT_PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_rt(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    RT_SIGNO.store(sig, Ordering::SeqCst);
    if !info.is_null() {
        // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo_t.
        let (code, pid) = unsafe { ((*info).si_code, (*info).si_pid()) };
        RT_CODE.store(code, Ordering::SeqCst);
        RT_PID.store(pid, Ordering::SeqCst);
    }
    RT_COUNT.fetch_add(1, Ordering::SeqCst);
}

fn rt_signal() -> Result<(), String> {
    let sig = libc::SIGRTMIN() + 3;
    type SaSigaction = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);
    install(sig, on_rt as SaSigaction as libc::sighandler_t, true)?;
    // SAFETY: getpid has no preconditions and cannot fail.
    let pid = unsafe { libc::getpid() };
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(pid, sig) } != 0 {
        return Err(format!("kill(self, {sig}): {}", Error::last_os_error()));
    }
    let mut waited = 0;
    while RT_COUNT.load(Ordering::SeqCst) == 0 && waited < 100 {
        let ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 10_000_000,
        };
        // SAFETY: `ts` is a valid timespec; the remainder pointer may be NULL.
        unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
        waited += 1;
    }
    let count = RT_COUNT.load(Ordering::SeqCst);
    let signo = RT_SIGNO.load(Ordering::SeqCst);
    let code = RT_CODE.load(Ordering::SeqCst);
    let from = RT_PID.load(Ordering::SeqCst);
    if count != 1 || signo != sig || code != libc::SI_USER || from != pid {
        return Err(format!(
            "expected one signal {sig} with si_code SI_USER and si_pid {pid}; \
             got count={count} signo={signo} si_code={code} si_pid={from}"
        ));
    }
    write_stdout(b"rt ok\n");
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mode = args.next();
    let arg = args.next();
    let result = match mode.as_deref() {
        Some("wait-term") => wait_term(),
        Some("self-stop") => self_stop(),
        Some("die-by") => {
            if arg
                .as_deref()
                .and_then(|s| s.parse::<libc::c_int>().ok())
                .is_none()
            {
                eprintln!("usage: fx-signals die-by SIGNUM");
                return ExitCode::from(2);
            }
            die_by(arg)
        }
        Some("rt-signal") => rt_signal(),
        _ => {
            eprintln!("usage: fx-signals wait-term|self-stop|die-by N|rt-signal");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fx-signals: {e}");
            ExitCode::FAILURE
        }
    }
}
