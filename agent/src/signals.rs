//! Signal forwarding: the agent stands where the workload's entrypoint was, so the signals sent
//! to it (`docker stop`'s SIGTERM, a supervisor's SIGHUP) are meant for the workload.
//!
//! The forwarded signals are blocked in every thread (the mask is set before any thread starts
//! and inherited) and taken by one thread with `sigwaitinfo`. Signals a terminal sends (Ctrl-C,
//! `si_code == SI_KERNEL`) already reach the workload through its process group, so forwarding
//! them would deliver them twice; those are only noted.
//!
//! One signal may be kept by the agent instead, as its rules-reload request (`--reload-signal`;
//! SIGHUP by default with `--system`, where there is no workload to forward to): it sets
//! `reload`, which the event loop checks, and is not forwarded.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

/// The signals passed on to the workload.
pub const FORWARDED: [i32; 7] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

/// Shared with the forwarding thread.
#[derive(Debug, Default)]
pub struct Forwarder {
    /// The workload's pid once started (0 before), and the signals that came before it
    /// existed. One lock for both, so that a signal arriving while the target is being set is
    /// either forwarded at once or kept for `set_target`, never lost between the two.
    target: Mutex<Target>,
    /// A terminating signal arrived (used to end `--system` captures).
    pub terminate: AtomicBool,
    /// The signal that asks for a rules reload (0: none; every signal is forwarded).
    reload_signal: AtomicI32,
    /// A rules reload was asked for and not yet done.
    pub reload: AtomicBool,
}

#[derive(Debug, Default)]
struct Target {
    pid: i32,
    early: Vec<i32>,
}

fn forwarded_set() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset/sigaddset initialise it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in FORWARDED {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

/// Blocks the forwarded signals in the calling thread (call first thing in `main`, so every
/// thread inherits the mask) and starts the forwarding thread.
pub fn install() -> std::io::Result<Arc<Forwarder>> {
    let set = forwarded_set();
    // SAFETY: set is initialised; the old mask is not needed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc));
    }
    let forwarder = Arc::new(Forwarder::default());
    let shared = Arc::clone(&forwarder);
    std::thread::Builder::new()
        .name("lanner-signals".into())
        .spawn(move || loop {
            // SAFETY: siginfo_t is plain data, filled by sigwaitinfo.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: valid set and out-pointer.
            let sig = unsafe { libc::sigwaitinfo(&set, &mut info) };
            if sig < 0 {
                continue;
            }
            shared.deliver(sig, info.si_code == libc::SI_KERNEL);
        })?;
    Ok(forwarder)
}

impl Forwarder {
    fn state(&self) -> std::sync::MutexGuard<'_, Target> {
        match self.target.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn deliver(&self, sig: i32, from_terminal: bool) {
        if sig == self.reload_signal.load(Ordering::SeqCst) && !from_terminal {
            tracing::debug!(signal = sig, "rules reload asked for");
            self.reload.store(true, Ordering::SeqCst);
            return;
        }
        if matches!(sig, libc::SIGTERM | libc::SIGINT | libc::SIGQUIT) {
            self.terminate.store(true, Ordering::SeqCst);
        }
        if from_terminal {
            tracing::debug!(
                signal = sig,
                "terminal signal; the workload's process group has it"
            );
            return;
        }
        let mut state = self.state();
        if state.pid <= 0 {
            state.early.push(sig);
            return;
        }
        let target = state.pid;
        tracing::debug!(
            signal = sig,
            pid = target,
            "forwarding signal to the workload"
        );
        // SAFETY: kill with integer arguments.
        if unsafe { libc::kill(target, sig) } != 0 {
            tracing::debug!(
                signal = sig,
                pid = target,
                "forwarding failed: {}",
                std::io::Error::last_os_error()
            );
        }
    }

    /// Keeps `sig` as the rules-reload request instead of forwarding it (0: forward all).
    pub fn set_reload_signal(&self, sig: i32) {
        self.reload_signal.store(sig, Ordering::SeqCst);
    }

    /// Sets the workload's pid and passes on the signals that came before it existed.
    pub fn set_target(&self, pid: u32) {
        let Ok(pid) = i32::try_from(pid) else {
            return;
        };
        let mut state = self.state();
        state.pid = pid;
        for sig in state.early.drain(..) {
            // SAFETY: kill with integer arguments.
            unsafe { libc::kill(pid, sig) };
        }
    }
}
