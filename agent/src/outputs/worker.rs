//! A queued output: a bounded queue in front of one delivery thread, with every alert that could
//! not be delivered counted.
//!
//! The agent's loop must never wait for a slow or unreachable consumer (with the ptrace driver a
//! stalled loop stalls the workload), so alerts are handed over with `try_send`. When the queue
//! is full the *new* alert is dropped and counted, as Falco's outputs queue does: the alerts kept
//! are the first of an incident, in order, with no gap in the middle.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::OutputError;

/// How one output delivers an alert. Runs on the output's own thread.
pub trait Deliver: Send + 'static {
    /// Delivers `alert` (one line, no newline), retrying as the output sees fit until `closing`
    /// says the deadline has passed. Returns whether the alert was delivered.
    fn deliver(&mut self, alert: &str, closing: &Closing) -> bool;

    /// Called once after the last alert, before the thread ends (close pipes, wait for
    /// children), within `closing`'s deadline.
    fn close(&mut self, _closing: &Closing) {}
}

/// The shutdown deadline, shared with the delivery thread: unset while the agent runs; set when
/// it exits, after which the thread delivers what is queued until then and gives up on the rest.
#[derive(Debug, Default)]
pub struct Closing {
    deadline: Mutex<Option<Instant>>,
    changed: Condvar,
}

impl Closing {
    fn deadline(&self) -> Option<Instant> {
        match self.deadline.lock() {
            Ok(deadline) => *deadline,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    fn set(&self, deadline: Instant) {
        match self.deadline.lock() {
            Ok(mut slot) => *slot = Some(deadline),
            Err(poisoned) => *poisoned.into_inner() = Some(deadline),
        }
        self.changed.notify_all();
    }

    /// Time left before the deadline: `None` while the agent runs (no deadline yet).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline()
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Whether the deadline has passed.
    pub fn expired(&self) -> bool {
        self.remaining().is_some_and(|left| left.is_zero())
    }

    /// Waits `pause` (a retry's back-off), cut short at the deadline. Returns false when the
    /// deadline has passed, so that the caller gives up.
    pub fn pause(&self, pause: Duration) -> bool {
        let until = Instant::now() + pause;
        let mut guard = match self.deadline.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        loop {
            let now = Instant::now();
            let end = match *guard {
                Some(deadline) if deadline <= now => return false,
                Some(deadline) => deadline.min(until),
                None => until,
            };
            if end <= now {
                return true;
            }
            guard = match self.changed.wait_timeout(guard, end - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

/// Counters of one output; readable while it runs (the metrics endpoint shows them).
#[derive(Debug)]
pub struct Counters {
    /// The output's name (`http`, `program`), the metrics' `output` label.
    pub name: &'static str,
    /// Alerts handed to the delivery thread.
    accepted: AtomicU64,
    /// Alerts delivered.
    delivered: AtomicU64,
    /// Alerts dropped before the queue (full, or the thread gone).
    dropped: AtomicU64,
    /// Alerts the thread refused or gave up on.
    failed: AtomicU64,
    /// Whether a full queue has been reported already.
    full_reported: AtomicBool,
}

impl Counters {
    fn new(name: &'static str) -> Self {
        Counters {
            name,
            accepted: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            full_reported: AtomicBool::new(false),
        }
    }

    /// Alerts delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Alerts handed to the delivery thread so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Alerts dropped before the queue so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Alerts that could not be delivered so far.
    pub fn undelivered(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed)
    }
}

/// What an output did, reported when it is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Alerts delivered.
    pub delivered: u64,
    /// Alerts not delivered (dropped, refused, given up on, or still queued at the deadline).
    pub undelivered: u64,
}

/// A running queued output.
pub struct Worker {
    tx: Option<Sender<String>>,
    counters: Arc<Counters>,
    closing: Arc<Closing>,
    thread: Option<JoinHandle<()>>,
    done: Receiver<()>,
    capacity: usize,
}

impl Worker {
    /// Starts the delivery thread for `deliver`, behind a queue of `capacity` alerts.
    pub fn spawn(
        name: &'static str,
        capacity: usize,
        mut deliver: impl Deliver,
    ) -> Result<Worker, OutputError> {
        let (tx, rx) = crossbeam_channel::bounded::<String>(capacity.max(1));
        let (done_tx, done) = crossbeam_channel::bounded::<()>(1);
        let counters = Arc::new(Counters::new(name));
        let closing = Arc::new(Closing::default());
        let thread = {
            let counters = Arc::clone(&counters);
            let closing = Arc::clone(&closing);
            std::thread::Builder::new()
                .name(format!("lanner-{name}"))
                .spawn(move || {
                    // Ends when the sender is dropped and the queue is empty.
                    for alert in rx.iter() {
                        if !closing.expired() && deliver.deliver(&alert, &closing) {
                            counters.delivered.fetch_add(1, Ordering::Relaxed);
                        } else {
                            counters.failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    deliver.close(&closing);
                    let _ = done_tx.send(());
                })
                .map_err(|source| OutputError::Thread { name, source })?
        };
        Ok(Worker {
            tx: Some(tx),
            counters,
            closing,
            thread: Some(thread),
            done,
            capacity,
        })
    }

    /// The counters, for metrics.
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }

    /// Queues `alert`; never blocks. A full queue (or a dead thread) drops it and counts it.
    pub fn send(&self, alert: String) {
        let Some(tx) = &self.tx else {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        match tx.try_send(alert) {
            Ok(()) => {
                self.counters.accepted.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                if !self.counters.full_reported.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        output = self.counters.name,
                        "alert queue full ({} alerts waiting): new alerts are dropped and \
                         counted until it drains",
                        self.capacity
                    );
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Stops taking alerts, delivers what is queued within `grace`, then reports. Whatever is
    /// not delivered by then is counted as undelivered, even if the thread is stuck.
    pub fn close(mut self, grace: Duration) -> Report {
        let deadline = Instant::now() + grace;
        self.closing.set(deadline);
        drop(self.tx.take());
        // The thread honours the deadline; the extra second covers a request already in flight.
        let finished = self
            .done
            .recv_timeout(grace + Duration::from_secs(1))
            .is_ok();
        if finished {
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
        let accepted = self.counters.accepted.load(Ordering::Relaxed);
        let delivered = self.counters.delivered();
        // Dropped before the queue, plus accepted but never delivered (refused, given up on, or
        // still queued when a stuck thread was left behind).
        let undelivered =
            self.counters.dropped.load(Ordering::Relaxed) + accepted.saturating_sub(delivered);
        Report {
            delivered,
            undelivered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Delivers once `gate` lets it (one message per alert), or gives up at the deadline.
    struct Gated {
        gate: Receiver<()>,
    }

    impl Deliver for Gated {
        fn deliver(&mut self, _alert: &str, closing: &Closing) -> bool {
            loop {
                if self.gate.try_recv().is_ok() {
                    return true;
                }
                if !closing.pause(Duration::from_millis(5)) {
                    return false;
                }
            }
        }
    }

    #[test]
    fn full_queue_drops_new_alerts_and_counts_them() {
        let (open, gate) = crossbeam_channel::unbounded();
        let worker = Worker::spawn("test", 2, Gated { gate }).expect("worker");
        // One in delivery (held by the gate), two queued, then the queue is full.
        for i in 0..6 {
            worker.send(format!("alert {i}"));
            std::thread::sleep(Duration::from_millis(10));
        }
        let counters = worker.counters();
        assert_eq!(counters.accepted(), 3);
        assert_eq!(counters.dropped(), 3);
        assert_eq!(counters.undelivered(), 3);
        // Two get through; the third is still held when the deadline passes.
        open.send(()).expect("gate");
        open.send(()).expect("gate");
        let report = worker.close(Duration::from_millis(300));
        assert_eq!(
            report,
            Report {
                delivered: 2,
                undelivered: 4
            }
        );
    }

    #[test]
    fn pause_ends_early_when_closing_starts() {
        let closing = Arc::new(Closing::default());
        let setter = Arc::clone(&closing);
        let started = Instant::now();
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            setter.set(Instant::now());
        });
        assert!(!closing.pause(Duration::from_secs(10)));
        assert!(started.elapsed() < Duration::from_secs(5));
        waker.join().expect("thread");
        assert!(closing.expired());
    }
}
