//! The agent's threads that drain the drivers run ahead of the workload.
//!
//! A CPU-bound workload with more runnable threads than the machine has cores would otherwise
//! get most of the CPU by fair share, and an eBPF driver's ring buffer would overflow while the
//! agent waited for its turn: events lost. The agent's work is bounded by what the workload
//! does, so giving its reader and engine threads a higher weight costs the workload only that
//! work, done promptly instead of late. Only the calling thread is changed (Linux nice values
//! are per thread), after the workload was spawned, so the workload keeps its own.

/// The nice value the draining threads ask for: a weight of about ten times a nice-0 thread.
pub const AGENT_NICE: i32 = -10;

/// Raises the calling thread to [`AGENT_NICE`]. Returns the OS error when not permitted
/// (without `CAP_SYS_NICE`), which callers log and go on: it is an improvement, not a need.
pub fn raise_current_thread() -> std::io::Result<()> {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    // SAFETY: setpriority on our own thread id; no memory is passed.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, AGENT_NICE) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs in its own thread, so the test harness's other threads keep their priority.
    #[test]
    fn raises_only_the_calling_thread_when_permitted() {
        std::thread::spawn(|| {
            // SAFETY: getpriority only reads (nice values here are never -1, so no errno check).
            let before = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
            match raise_current_thread() {
                Ok(()) => {
                    // SAFETY: as above, for the calling thread.
                    let now = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
                    assert_eq!(now, AGENT_NICE);
                    // SAFETY: as above, for the process's main thread.
                    let main = unsafe {
                        libc::getpriority(libc::PRIO_PROCESS, libc::getpid() as libc::id_t)
                    };
                    assert_eq!(main, before, "other threads keep their nice value");
                }
                Err(err) => {
                    assert_eq!(err.raw_os_error(), Some(libc::EACCES), "{err}");
                    eprintln!("skipped: raising the priority is not permitted here ({err})");
                }
            }
        })
        .join()
        .expect("the thread ran");
    }
}
