//! Waiting for the next stop by polling for a few microseconds before sleeping in `waitpid`.
//!
//! Every ptrace stop is a hand-over: the tracee stops and wakes the tracer, the tracer resumes
//! the tracee. On a multi-vCPU VM whose idle vCPUs halt at once (no guest halt polling, as on
//! the Firecracker VMs measured here), a tracer asleep in `waitpid` sits on a halted vCPU, and
//! waking it is an interrupt to a sleeping host thread: tens of microseconds per stop. A tracer
//! that polls for a little while keeps its vCPU awake and sees the stop as soon as it happens.
//! Measured here (docs/benchmarks.md): traced open/close loops 2.6x faster, `close(dup())` 2.8x.
//!
//! Polling costs the agent CPU, so it is done only while it pays: after a few polls in a row
//! that found nothing, the tracer sleeps at once until a stop again comes soon after it went to
//! sleep (a busy stretch of traced calls). A poll that found nothing costs [`POLL_FOR`] of CPU,
//! so between busy stretches the waste is bounded by that per stop. And never when the tracer
//! has only one CPU to run on: there the tracee waits for the very CPU the tracer would be
//! polling on.

use std::time::{Duration, Instant};

/// How long to poll for the next stop. A traced call's round trip (stop, resume, the workload's
/// next traced call) takes a few microseconds of the workload's own time in a syscall-heavy
/// stretch, but a program starting (the loader's opens, tens of microseconds apart) or a fork
/// (the child's first stop) leaves longer gaps, and each gap the tracer sleeps through costs a
/// wake-up of 30-70 microseconds on the VMs measured here. 100 microseconds covers those gaps:
/// against 30, `execl` under ptrace +12%, process creation +60% (docs/benchmarks.md), for more
/// agent CPU between busy stretches.
pub const POLL_FOR: Duration = Duration::from_micros(100);

/// Polls in a row that may find nothing before polling stops: a halted vCPU's wake-up makes
/// some round trips longer than the poll even in a busy stretch.
const FRUITLESS_POLLS: u8 = 4;

/// A sleep this short for a stop means a busy stretch again: polling resumes.
const BUSY_AGAIN: Duration = Duration::from_millis(1);

/// Whether and when the tracer polls before it sleeps.
#[derive(Debug)]
pub struct Spinner {
    /// More than one CPU to run on.
    allowed: bool,
    /// Polling pays: the stops come close together.
    pays: bool,
    /// Polls in a row that found nothing.
    fruitless: u8,
}

impl Spinner {
    /// A spinner for the calling thread (its CPU affinity decides whether it may ever poll).
    pub fn new() -> Spinner {
        Spinner {
            allowed: cpus_allowed() > 1,
            pays: true,
            fruitless: 0,
        }
    }

    /// Polls `try_wait` for up to [`POLL_FOR`] while polling pays: `Ok(Some(report))` when a
    /// report came, `Ok(None)` when the caller should sleep.
    pub fn poll<T, E>(
        &mut self,
        mut try_wait: impl FnMut() -> Result<Option<T>, E>,
    ) -> Result<Option<T>, E> {
        if !(self.allowed && self.pays) {
            return Ok(None);
        }
        let start = Instant::now();
        loop {
            if let Some(report) = try_wait()? {
                self.fruitless = 0;
                return Ok(Some(report));
            }
            if start.elapsed() >= POLL_FOR {
                self.fruitless += 1;
                if self.fruitless >= FRUITLESS_POLLS {
                    self.pays = false;
                }
                return Ok(None);
            }
            std::hint::spin_loop();
        }
    }

    /// After sleeping `slept` for a report: a short sleep means the stops come close together
    /// again.
    pub fn slept(&mut self, slept: Duration) {
        if !self.pays && slept < BUSY_AGAIN {
            self.pays = true;
            self.fruitless = 0;
        }
    }
}

/// The CPUs the calling thread may run on (1 when the affinity cannot be read: never poll then).
fn cpus_allowed() -> usize {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_getaffinity fills at most its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return 1;
        }
        usize::try_from(libc::CPU_COUNT(&set)).unwrap_or(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_that_find_nothing_stop_polling_until_stops_come_close_again() {
        let mut spinner = Spinner {
            allowed: true,
            pays: true,
            fruitless: 0,
        };
        for _ in 0..FRUITLESS_POLLS {
            let mut asked = 0;
            let found: Result<Option<u32>, ()> = spinner.poll(|| {
                asked += 1;
                Ok(None)
            });
            assert_eq!(found, Ok(None));
            assert!(asked > 1, "polled for a while");
        }
        // Not again: the caller sleeps at once.
        let mut asked_again = 0;
        let _ = spinner.poll(|| -> Result<Option<u32>, ()> {
            asked_again += 1;
            Ok(None)
        });
        assert_eq!(asked_again, 0);
        // A long sleep: still not.
        spinner.slept(Duration::from_millis(5));
        assert_eq!(spinner.poll(|| Ok::<_, ()>(Some(7))), Ok(None));
        // A sleep that ended soon: a busy stretch again.
        spinner.slept(Duration::from_micros(200));
        assert_eq!(spinner.poll(|| Ok::<_, ()>(Some(7))), Ok(Some(7)));
        // A poll that finds something starts the count of fruitless ones over.
        for _ in 0..FRUITLESS_POLLS - 1 {
            assert_eq!(spinner.poll(|| Ok::<Option<u32>, ()>(None)), Ok(None));
        }
        assert_eq!(spinner.poll(|| Ok::<_, ()>(Some(8))), Ok(Some(8)));
        assert_eq!(spinner.poll(|| Ok::<Option<u32>, ()>(None)), Ok(None));
        assert_eq!(spinner.poll(|| Ok::<_, ()>(Some(9))), Ok(Some(9)));
    }

    #[test]
    fn one_cpu_never_polls() {
        let mut spinner = Spinner {
            allowed: false,
            pays: true,
            fruitless: 0,
        };
        assert_eq!(spinner.poll(|| Ok::<_, ()>(Some(1))), Ok(None));
    }

    #[test]
    fn errors_end_the_poll() {
        let mut spinner = Spinner::new();
        spinner.allowed = true;
        assert_eq!(spinner.poll(|| Err::<Option<u32>, _>("gone")), Err("gone"));
    }
}
