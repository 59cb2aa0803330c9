//! Clocks. Events carry `CLOCK_BOOTTIME` nanoseconds, the clock both the tracer (by
//! `clock_gettime`) and BPF programs (`bpf_ktime_get_boot_ns`) can read; [`WallClock`] turns them
//! into wall-clock time for output.

/// Nanoseconds on `clk`.
fn clock_ns(clk: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime cannot fail for these clock ids
    // on Linux >= 2.6.39 (and if it did, `ts` stays zeroed, which is a visible, harmless value).
    unsafe { libc::clock_gettime(clk, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// Now, in `CLOCK_BOOTTIME` nanoseconds (the event timestamp clock).
pub fn boottime_ns() -> u64 {
    clock_ns(libc::CLOCK_BOOTTIME)
}

/// Converts event timestamps to Unix time. The offset is measured once; boot time and wall time
/// then drift apart only if the wall clock is stepped, which output tolerates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    offset_ns: u64,
}

impl WallClock {
    /// Measures the offset between boot time and wall time now.
    pub fn new() -> Self {
        let real = clock_ns(libc::CLOCK_REALTIME);
        let boot = boottime_ns();
        WallClock {
            offset_ns: real.saturating_sub(boot),
        }
    }

    /// Unix time of an event timestamp, in nanoseconds.
    pub fn unix_ns(&self, ts: u64) -> u64 {
        ts.saturating_add(self.offset_ns)
    }

    /// RFC 3339 UTC with nanoseconds (`2026-11-28T15:41:07.123456789Z`), as Falco prints `time`.
    pub fn rfc3339(&self, ts: u64) -> String {
        format_rfc3339_nanos(self.unix_ns(ts))
    }
}

impl Default for WallClock {
    fn default() -> Self {
        Self::new()
    }
}

/// Formats Unix nanoseconds as RFC 3339 UTC with nine fractional digits.
pub fn format_rfc3339_nanos(unix_ns: u64) -> String {
    let secs = unix_ns / 1_000_000_000;
    let nanos = unix_ns % 1_000_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(format_rfc3339_nanos(0), "1970-01-01T00:00:00.000000000Z");
        // 2000-02-29T12:34:56.000000007Z: a leap day in a century leap year.
        assert_eq!(
            format_rfc3339_nanos(951_827_696_000_000_007),
            "2000-02-29T12:34:56.000000007Z"
        );
        assert_eq!(
            format_rfc3339_nanos(1_796_000_000_123_456_789),
            "2026-11-30T00:53:20.123456789Z"
        );
    }

    #[test]
    fn boottime_moves_forward() {
        let a = boottime_ns();
        let b = boottime_ns();
        assert!(b >= a && a > 0);
        let wall = WallClock::new();
        assert!(wall.unix_ns(a) > 1_600_000_000_000_000_000);
    }
}
