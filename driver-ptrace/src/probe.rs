//! What this machine allows the ptrace driver to do, found by trying rather than guessing from
//! versions: a throwaway child is forked, seized and inspected.

use std::sync::OnceLock;

use lanner_common::driver::{Feature, ProbeReport};

use crate::sys;

/// `SECCOMP_GET_ACTION_AVAIL` (Linux 4.14).
const SECCOMP_GET_ACTION_AVAIL: libc::c_uint = 2;
/// `CAP_SYS_ADMIN`'s bit in the capability sets.
const CAP_SYS_ADMIN: u32 = 21;

/// Probes the machine.
pub fn probe() -> ProbeReport {
    let mut features = Vec::new();
    let ptrace = probe_seize();
    features.push(Feature {
        name: "ptrace",
        present: ptrace.is_ok(),
        note: match &ptrace {
            Ok(()) => "PTRACE_SEIZE of a child works".into(),
            Err(why) => why.clone(),
        },
    });
    let seccomp = seccomp_trace_available();
    features.push(Feature {
        name: "seccomp",
        present: seccomp.is_ok(),
        note: match &seccomp {
            Ok(()) => "SECCOMP_RET_TRACE filters are available".into(),
            Err(why) => why.clone(),
        },
    });
    let info = has_syscall_info();
    features.push(Feature {
        name: "PTRACE_GET_SYSCALL_INFO",
        present: info,
        note: if info {
            "syscall ABI read from the kernel (Linux 5.3+)".into()
        } else {
            "missing (Linux < 5.3): registers are read instead, ABI from the filter's return data"
                .into()
        },
    });
    let admin = has_cap_sys_admin();
    features.push(Feature {
        name: "CAP_SYS_ADMIN",
        present: admin,
        note: if admin {
            "the filter is installed without no_new_privs; setuid binaries work as usual".into()
        } else {
            "absent: the filter needs no_new_privs, so setuid binaries in the workload do not \
             elevate"
                .into()
        },
    });
    let reason = match (&ptrace, &seccomp) {
        (Err(why), _) | (Ok(()), Err(why)) => Some(why.clone()),
        _ => None,
    };
    ProbeReport {
        driver: crate::NAME,
        available: reason.is_none(),
        reason,
        features,
    }
}

/// Whether `PTRACE_GET_SYSCALL_INFO` is there: probed once, on a real tracee.
pub fn has_syscall_info() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| with_stopped_child(|pid| sys::syscall_info(pid).is_ok()).unwrap_or(false))
}

fn probe_seize() -> Result<(), String> {
    with_stopped_child(|_| ()).map_err(|e| {
        let hint = match std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope") {
            Ok(scope) if scope.trim() == "3" => " (kernel.yama.ptrace_scope is 3: ptrace is off)",
            _ => " (in a container, add the SYS_PTRACE capability)",
        };
        format!("{e}{hint}")
    })
}

/// Forks a child that pauses, seizes it, stops it with `PTRACE_INTERRUPT`, runs `inspect`, and
/// kills it.
fn with_stopped_child<T>(inspect: impl FnOnce(i32) -> T) -> Result<T, String> {
    // SAFETY: the child only calls pause and _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        // SAFETY: async-signal-safe calls in the child.
        unsafe {
            libc::pause();
            libc::_exit(0)
        }
    }
    let outcome = (|| {
        // No PTRACE_O_TRACEEXIT: the child must die at once when killed below, not stop at exit.
        sys::seize_with(pid, libc::PTRACE_O_EXITKILL).map_err(|e| e.to_string())?;
        // SAFETY: ptrace with integer arguments.
        if unsafe { libc::ptrace(libc::PTRACE_INTERRUPT, pid, 0, 0) } != 0 {
            return Err(format!(
                "PTRACE_INTERRUPT: {}",
                std::io::Error::last_os_error()
            ));
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        if unsafe { libc::waitpid(pid, &mut status, libc::__WALL) } != pid {
            return Err(format!("waitpid: {}", std::io::Error::last_os_error()));
        }
        Ok(inspect(pid))
    })();
    // Kill and reap it for good: the tracer thread that runs later waits for every child of
    // this process, and must find none of ours.
    // SAFETY: kill and reap our own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        loop {
            let mut status = 0;
            let rc = libc::waitpid(pid, &mut status, libc::__WALL);
            if rc == -1 && *libc::__errno_location() == libc::EINTR {
                continue;
            }
            if rc == -1 || libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                break;
            }
        }
    }
    outcome
}

fn seccomp_trace_available() -> Result<(), String> {
    let action: u32 = libc::SECCOMP_RET_TRACE;
    // SAFETY: the kernel reads one u32 from the pointer.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_GET_ACTION_AVAIL,
            0,
            &action as *const u32,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    Err(match err.raw_os_error() {
        Some(libc::ENOSYS) => "the kernel has no seccomp(2) (CONFIG_SECCOMP_FILTER off?)".into(),
        Some(libc::EOPNOTSUPP) => "the kernel does not offer SECCOMP_RET_TRACE".into(),
        Some(libc::EINVAL) => "the kernel is too old for SECCOMP_GET_ACTION_AVAIL (< 4.14)".into(),
        _ => format!("seccomp(SECCOMP_GET_ACTION_AVAIL): {err}"),
    })
}

pub(crate) fn has_cap_sys_admin() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_SYS_ADMIN) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_reports_every_feature() {
        let report = probe();
        let names: Vec<_> = report.features.iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                "ptrace",
                "seccomp",
                "PTRACE_GET_SYSCALL_INFO",
                "CAP_SYS_ADMIN"
            ]
        );
        assert_eq!(report.available, report.reason.is_none());
    }
}
