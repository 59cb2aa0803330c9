//! Signal names and numbers, x86_64 numbering, real-time signals as the kernel counts them.

use std::fmt::Write as _;

/// The kernel's first real-time signal. glibc reserves the first two or three for itself and
/// reports a higher `SIGRTMIN`, but a tracer sees raw numbers, so names use the kernel's view.
const SIGRTMIN: i32 = 32;
/// The kernel's last real-time signal (`_NSIG`).
const SIGRTMAX: i32 = 64;

/// The standard signals by number. Aliases (`SIGIOT`, `SIGPOLL`, `SIGCLD`) are in [`ALIASES`].
const SIGNALS: &[(i32, &str)] = &[
    (libc::SIGHUP, "SIGHUP"),
    (libc::SIGINT, "SIGINT"),
    (libc::SIGQUIT, "SIGQUIT"),
    (libc::SIGILL, "SIGILL"),
    (libc::SIGTRAP, "SIGTRAP"),
    (libc::SIGABRT, "SIGABRT"),
    (libc::SIGBUS, "SIGBUS"),
    (libc::SIGFPE, "SIGFPE"),
    (libc::SIGKILL, "SIGKILL"),
    (libc::SIGUSR1, "SIGUSR1"),
    (libc::SIGSEGV, "SIGSEGV"),
    (libc::SIGUSR2, "SIGUSR2"),
    (libc::SIGPIPE, "SIGPIPE"),
    (libc::SIGALRM, "SIGALRM"),
    (libc::SIGTERM, "SIGTERM"),
    (libc::SIGSTKFLT, "SIGSTKFLT"),
    (libc::SIGCHLD, "SIGCHLD"),
    (libc::SIGCONT, "SIGCONT"),
    (libc::SIGSTOP, "SIGSTOP"),
    (libc::SIGTSTP, "SIGTSTP"),
    (libc::SIGTTIN, "SIGTTIN"),
    (libc::SIGTTOU, "SIGTTOU"),
    (libc::SIGURG, "SIGURG"),
    (libc::SIGXCPU, "SIGXCPU"),
    (libc::SIGXFSZ, "SIGXFSZ"),
    (libc::SIGVTALRM, "SIGVTALRM"),
    (libc::SIGPROF, "SIGPROF"),
    (libc::SIGWINCH, "SIGWINCH"),
    (libc::SIGIO, "SIGIO"),
    (libc::SIGPWR, "SIGPWR"),
    (libc::SIGSYS, "SIGSYS"),
];

/// Other names for standard signals, accepted by [`from_name`] but never printed.
const ALIASES: &[(i32, &str)] = &[
    (libc::SIGIOT, "SIGIOT"),
    (libc::SIGPOLL, "SIGPOLL"),
    // SIGCLD is the System V name; `libc` does not define it.
    (libc::SIGCHLD, "SIGCLD"),
];

/// The name of a signal: `SIGKILL`; `SIGRTMIN`, `SIGRTMIN+3`, `SIGRTMAX` for the real-time
/// range 32..=64; anything else (including 0) as its decimal number.
pub fn name(sig: i32) -> String {
    let mut out = String::new();
    write_name(&mut out, sig);
    out
}

/// Appends the name [`name`] gives `sig` to `out`.
pub(crate) fn write_name(out: &mut String, sig: i32) {
    if let Some(&(_, n)) = SIGNALS.iter().find(|&&(v, _)| v == sig) {
        out.push_str(n);
    } else if sig == SIGRTMIN {
        out.push_str("SIGRTMIN");
    } else if sig == SIGRTMAX {
        out.push_str("SIGRTMAX");
    } else if sig > SIGRTMIN && sig < SIGRTMAX {
        let _ = write!(out, "SIGRTMIN+{}", sig - SIGRTMIN);
    } else {
        let _ = write!(out, "{sig}");
    }
}

/// The number of a signal given by name or number: `SIGTERM`, `TERM`, `term`, `15`,
/// `SIGRTMIN+3`, `SIGRTMAX-1`, and the aliases `SIGIOT`, `SIGPOLL`, `SIGCLD`. Numbers must be
/// in 0..=64.
pub fn from_name(name: &str) -> Option<i32> {
    let name = name.trim();
    if name.bytes().all(|b| b.is_ascii_digit()) {
        return name.parse().ok().filter(|n| (0..=SIGRTMAX).contains(n));
    }
    let bare = match name.get(..3) {
        Some(prefix) if prefix.eq_ignore_ascii_case("SIG") => &name[3..],
        _ => name,
    };
    if let Some(&(v, _)) = SIGNALS
        .iter()
        .chain(ALIASES)
        .find(|&&(_, n)| n[3..].eq_ignore_ascii_case(bare))
    {
        return Some(v);
    }
    realtime(bare)
}

/// `RTMIN`, `RTMIN+N`, `RTMAX`, `RTMAX-N` (any case), within 32..=64.
fn realtime(bare: &str) -> Option<i32> {
    let head = bare.get(..5)?;
    let rest = &bare[5..];
    let (base, sign) = if head.eq_ignore_ascii_case("RTMIN") {
        (SIGRTMIN, '+')
    } else if head.eq_ignore_ascii_case("RTMAX") {
        (SIGRTMAX, '-')
    } else {
        return None;
    };
    let sig = if rest.is_empty() {
        base
    } else {
        let digits = rest.strip_prefix(sign)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let offset: i32 = digits.parse().ok()?;
        if sign == '+' {
            base.checked_add(offset)?
        } else {
            base.checked_sub(offset)?
        }
    };
    (SIGRTMIN..=SIGRTMAX).contains(&sig).then_some(sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_names() {
        assert_eq!(name(libc::SIGKILL), "SIGKILL");
        assert_eq!(name(9), "SIGKILL");
        assert_eq!(name(1), "SIGHUP");
        assert_eq!(name(6), "SIGABRT");
        assert_eq!(name(7), "SIGBUS");
        assert_eq!(name(10), "SIGUSR1");
        assert_eq!(name(15), "SIGTERM");
        assert_eq!(name(16), "SIGSTKFLT");
        assert_eq!(name(17), "SIGCHLD");
        assert_eq!(name(19), "SIGSTOP");
        assert_eq!(name(29), "SIGIO");
        assert_eq!(name(30), "SIGPWR");
        assert_eq!(name(31), "SIGSYS");
        for sig in 1..=31 {
            assert!(name(sig).starts_with("SIG"), "{sig}");
        }
    }

    #[test]
    fn realtime_and_others() {
        assert_eq!(name(0), "0");
        assert_eq!(name(32), "SIGRTMIN");
        assert_eq!(name(33), "SIGRTMIN+1");
        assert_eq!(name(34), "SIGRTMIN+2");
        assert_eq!(name(63), "SIGRTMIN+31");
        assert_eq!(name(64), "SIGRTMAX");
        assert_eq!(name(65), "65");
        assert_eq!(name(-1), "-1");
    }

    #[test]
    fn parse() {
        assert_eq!(from_name("SIGTERM"), Some(15));
        assert_eq!(from_name("TERM"), Some(15));
        assert_eq!(from_name("term"), Some(15));
        assert_eq!(from_name("SigTerm"), Some(15));
        assert_eq!(from_name("15"), Some(15));
        assert_eq!(from_name("0"), Some(0));
        assert_eq!(from_name("64"), Some(64));
        assert_eq!(from_name("65"), None);
        assert_eq!(from_name("-1"), None);
        assert_eq!(from_name("SIGRTMIN+3"), Some(35));
        assert_eq!(from_name("rtmin"), Some(32));
        assert_eq!(from_name("SIGRTMAX"), Some(64));
        assert_eq!(from_name("SIGRTMAX-2"), Some(62));
        assert_eq!(from_name("SIGRTMIN+33"), None);
        assert_eq!(from_name("SIGRTMIN-1"), None);
        assert_eq!(from_name("SIGRTMIN+"), None);
        assert_eq!(from_name("SIGRTMIN++1"), None);
        assert_eq!(from_name("SIGIOT"), Some(libc::SIGABRT));
        assert_eq!(from_name("poll"), Some(libc::SIGIO));
        assert_eq!(from_name("SIGCLD"), Some(libc::SIGCHLD));
        assert_eq!(from_name("SIG"), None);
        assert_eq!(from_name(""), None);
        assert_eq!(from_name("SIGFOO"), None);
        assert_eq!(from_name("SIGé"), None);
    }

    #[test]
    fn round_trip() {
        for sig in 0..=64 {
            assert_eq!(from_name(&name(sig)), Some(sig), "{sig}");
        }
    }
}
