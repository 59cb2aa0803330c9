//! The agent's counters, as a periodic stats line in the logs (`--stats-interval`) and in
//! Prometheus' text exposition format (`--metrics-addr`, `GET /metrics`).
//!
//! The loop bumps relaxed atomics; the logger and the endpoint read them from their own
//! threads. The HTTP side is a few lines over `std::net`: one request per connection, a read
//! timeout so that a silent client cannot hold the endpoint, nothing but `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::outputs::Counters;

/// Errors starting the metrics endpoint or the stats logger.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// The address could not be listened on.
    #[error("listening on {addr} for metrics: {source}")]
    Bind {
        /// The address given.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// A thread could not be started.
    #[error("starting the metrics thread: {0}")]
    Thread(std::io::Error),
}

/// The counters.
#[derive(Debug, Default)]
pub struct Metrics {
    events: AtomicU64,
    dropped: AtomicU64,
    /// Alerts by rule name (and its priority).
    alerts: Mutex<BTreeMap<String, (&'static str, u64)>>,
    outputs: Mutex<Vec<Arc<Counters>>>,
}

/// The agent process's own resource use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// User plus system CPU time of every thread, in seconds.
    pub cpu_seconds: f64,
    /// Resident set size in bytes (0 when `/proc/self/statm` cannot be read).
    pub rss_bytes: u64,
}

impl Usage {
    /// Now.
    pub fn current() -> Usage {
        // SAFETY: getrusage fills the zeroed struct it is given.
        let usage = unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_SELF, &mut usage);
            usage
        };
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        // SAFETY: sysconf with a constant name.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let rss_pages = std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
            .unwrap_or(0);
        Usage {
            cpu_seconds: secs(usage.ru_utime) + secs(usage.ru_stime),
            rss_bytes: rss_pages * u64::try_from(page).unwrap_or(4096),
        }
    }
}

/// A snapshot for the stats line.
#[derive(Debug, Clone, Copy)]
struct Snapshot {
    at: Instant,
    events: u64,
    cpu_seconds: f64,
}

impl Metrics {
    /// No counts yet.
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    /// One event from the driver.
    pub fn event(&self) {
        self.events.fetch_add(1, Ordering::Relaxed);
    }

    /// `count` events the driver reported lost.
    pub fn dropped(&self, count: u64) {
        self.dropped.fetch_add(count, Ordering::Relaxed);
    }

    /// One alert raised by `rule`.
    pub fn alert(&self, rule: &str, priority: &'static str) {
        let mut alerts = match self.alerts.lock() {
            Ok(alerts) => alerts,
            Err(poisoned) => poisoned.into_inner(),
        };
        match alerts.get_mut(rule) {
            Some((_, n)) => *n += 1,
            None => {
                alerts.insert(rule.to_owned(), (priority, 1));
            }
        }
    }

    /// Shows `output`'s undelivered count.
    pub fn watch_output(&self, output: Arc<Counters>) {
        match self.outputs.lock() {
            Ok(mut outputs) => outputs.push(output),
            Err(poisoned) => poisoned.into_inner().push(output),
        }
    }

    /// Events so far.
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    fn alerts_total(&self) -> u64 {
        match self.alerts.lock() {
            Ok(alerts) => alerts.values().map(|(_, n)| n).sum(),
            Err(poisoned) => poisoned.into_inner().values().map(|(_, n)| n).sum(),
        }
    }

    fn undelivered(&self) -> Vec<(&'static str, u64)> {
        let outputs = match self.outputs.lock() {
            Ok(outputs) => outputs,
            Err(poisoned) => poisoned.into_inner(),
        };
        outputs.iter().map(|c| (c.name, c.undelivered())).collect()
    }

    /// Prometheus' text exposition format (version 0.0.4): each family's HELP and TYPE, then
    /// its samples.
    pub fn prometheus(&self) -> String {
        let usage = Usage::current();
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, String)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let plain = |value: String| vec![(String::new(), value)];
        family(
            "lanner_events_total",
            "counter",
            "Events the driver delivered.",
            &plain(self.events().to_string()),
        );
        family(
            "lanner_events_dropped_total",
            "counter",
            "Events the driver lost.",
            &plain(self.dropped.load(Ordering::Relaxed).to_string()),
        );
        let alerts = match self.alerts.lock() {
            Ok(alerts) => alerts.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let by_rule: Vec<_> = alerts
            .iter()
            .map(|(rule, (priority, n))| {
                (
                    format!(
                        "{{rule=\"{}\",priority=\"{priority}\"}}",
                        escape_label(rule)
                    ),
                    n.to_string(),
                )
            })
            .collect();
        family(
            "lanner_alerts_total",
            "counter",
            "Alerts raised, by rule.",
            &by_rule,
        );
        let by_output: Vec<_> = self
            .undelivered()
            .into_iter()
            .map(|(output, n)| (format!("{{output=\"{output}\"}}"), n.to_string()))
            .collect();
        family(
            "lanner_alerts_undelivered_total",
            "counter",
            "Alerts an output could not deliver (dropped on a full queue, refused, given up on).",
            &by_output,
        );
        family(
            "lanner_agent_cpu_seconds_total",
            "counter",
            "CPU time the agent used (user and system, all threads).",
            &plain(usage.cpu_seconds.to_string()),
        );
        family(
            "lanner_agent_rss_bytes",
            "gauge",
            "The agent's resident memory.",
            &plain(usage.rss_bytes.to_string()),
        );
        out
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            at: Instant::now(),
            events: self.events(),
            cpu_seconds: Usage::current().cpu_seconds,
        }
    }

    /// Logs one stats line: rates since `last`, totals, resource use.
    fn log_stats(&self, last: &Snapshot) -> Snapshot {
        let now = self.snapshot();
        let secs = now.at.duration_since(last.at).as_secs_f64().max(1e-3);
        let usage = Usage::current();
        let undelivered: u64 = self.undelivered().iter().map(|(_, n)| n).sum();
        tracing::info!(
            target: STATS_TARGET,
            events_per_sec = %format!("{:.0}", (now.events - last.events) as f64 / secs),
            events = now.events,
            dropped = self.dropped.load(Ordering::Relaxed),
            alerts = self.alerts_total(),
            undelivered,
            cpu_pct = %format!("{:.1}", (now.cpu_seconds - last.cpu_seconds) / secs * 100.0),
            rss_mib = %format!("{:.1}", usage.rss_bytes as f64 / (1024.0 * 1024.0)),
            "stats"
        );
        now
    }
}

/// The log target of the stats line: on by default (`warn,lanner::stats=info`), so that
/// `--stats-interval` shows without `LANNER_LOG`.
pub const STATS_TARGET: &str = "lanner::stats";

/// `"` `\` and newlines escaped, as label values need.
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The stats logger thread; stops when dropped.
pub struct StatsLogger {
    stop: Option<Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StatsLogger {
    /// Logs a stats line every `interval` until dropped.
    pub fn spawn(metrics: Arc<Metrics>, interval: Duration) -> Result<StatsLogger, MetricsError> {
        let (stop, stopped): (Sender<()>, Receiver<()>) = crossbeam_channel::bounded(1);
        let thread = std::thread::Builder::new()
            .name("lanner-stats".into())
            .spawn(move || {
                let mut last = metrics.snapshot();
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    last = metrics.log_stats(&last);
                }
            })
            .map_err(MetricsError::Thread)?;
        Ok(StatsLogger {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for StatsLogger {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves `GET /metrics` on `addr` from a thread that lives as long as the process. Returns
/// the address bound (useful with port 0).
pub fn serve(addr: &str, metrics: Arc<Metrics>) -> Result<SocketAddr, MetricsError> {
    let bind_err = |source| MetricsError::Bind {
        addr: addr.to_owned(),
        source,
    };
    let listener = TcpListener::bind(addr).map_err(bind_err)?;
    let local = listener.local_addr().map_err(bind_err)?;
    std::thread::Builder::new()
        .name("lanner-metrics".into())
        .spawn(move || {
            for stream in listener.incoming() {
                match stream {
                    Ok(stream) => {
                        if let Err(err) = answer(stream, &metrics) {
                            tracing::debug!("metrics request: {err}");
                        }
                    }
                    Err(err) => tracing::debug!("metrics accept: {err}"),
                }
            }
        })
        .map_err(MetricsError::Thread)?;
    Ok(local)
}

/// Reads one request (its head; a GET has no body) and answers it.
fn answer(mut stream: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    let head = String::from_utf8_lossy(&head);
    let mut parts = head.lines().next().unwrap_or_default().split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or_default();
    let (status, kind, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.prometheus(),
        ),
        ("GET" | "HEAD", _) => (
            "404 Not Found",
            "text/plain",
            "only /metrics here\n".to_owned(),
        ),
        _ => (
            "405 Method Not Allowed",
            "text/plain",
            "GET /metrics\n".to_owned(),
        ),
    };
    let mut reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        reply.push_str(&body);
    }
    stream.write_all(reply.as_bytes())?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_every_family_and_escaped_labels() {
        let metrics = Metrics::new();
        metrics.event();
        metrics.event();
        metrics.dropped(3);
        metrics.alert("Read \"x\" \\ y", "Warning");
        metrics.alert("Read \"x\" \\ y", "Warning");
        let text = metrics.prometheus();
        assert!(text.contains("\nlanner_events_total 2\n"), "{text}");
        assert!(text.contains("\nlanner_events_dropped_total 3\n"), "{text}");
        assert!(
            text.contains(
                "\nlanner_alerts_total{rule=\"Read \\\"x\\\" \\\\ y\",priority=\"Warning\"} 2\n"
            ),
            "{text}"
        );
        assert!(text.contains("# TYPE lanner_agent_rss_bytes gauge\n"));
        assert!(text.contains("\nlanner_agent_cpu_seconds_total "));
        let rss: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("lanner_agent_rss_bytes "))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!(rss > 0, "{text}");
    }
}
