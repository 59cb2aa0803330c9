//! Driver probing and selection: `lanner drivers`, and what `--driver auto` picks.

use anyhow::{bail, Result};
use lanner_common::driver::{Driver, ProbeReport};
use lanner_common::SyscallSet;

use crate::cli::{DriverChoice, EbpfMode};

/// What this machine (and this build) allows the eBPF driver to do.
#[cfg(feature = "ebpf")]
fn ebpf_probe() -> ProbeReport {
    lanner_driver_ebpf::probe()
}

/// A build without the `ebpf` feature (the static ptrace-only binary) has no eBPF driver,
/// whatever the machine allows.
#[cfg(not(feature = "ebpf"))]
fn ebpf_probe() -> ProbeReport {
    ProbeReport::unavailable(
        "ebpf",
        "this lanner was built without the eBPF driver (ptrace-only build, no `ebpf` feature)",
    )
}

/// Every driver's probe, in preference order for `auto`.
pub fn probe_all() -> Vec<ProbeReport> {
    vec![ebpf_probe(), lanner_driver_ptrace::probe()]
}

/// `lanner drivers`: one block per driver.
pub fn print_report() -> String {
    probe_all().iter().map(ToString::to_string).collect()
}

#[cfg(feature = "ebpf")]
fn ebpf_driver(settings: EbpfSettings, calls: &Reporting) -> Result<Box<dyn Driver>> {
    use lanner_driver_ebpf::{AttachMode, EbpfDriver, Options};
    let mode = match settings.mode {
        EbpfMode::Auto => None,
        EbpfMode::Raw => Some(AttachMode::Raw),
        EbpfMode::PerSyscall => Some(AttachMode::PerSyscall),
        EbpfMode::Fentry => Some(AttachMode::Fentry),
    };
    if settings.floor {
        tracing::warn!(
            "--ebpf-floor: the syscall programs return at once; no syscall is reported and no \
             rule on one can fire"
        );
    }
    let mut driver = EbpfDriver::new(Options {
        mode,
        ring_bytes: settings.ring_mib << 20,
        floor: settings.floor,
    });
    driver.set_entry_only(calls.entry_only);
    driver.set_result_filters(calls.result_filters.clone());
    driver.set_lazy_closes(calls.lazy_closes);
    driver.set_open_filter(calls.open_filter.clone());
    Ok(Box::new(driver))
}

#[cfg(not(feature = "ebpf"))]
fn ebpf_driver(_settings: EbpfSettings, _calls: &Reporting) -> Result<Box<dyn Driver>> {
    bail!("this lanner was built without the eBPF driver (no `ebpf` feature)")
}

fn ptrace_driver(calls: &Reporting) -> Box<dyn Driver> {
    let mut driver = lanner_driver_ptrace::PtraceDriver::new();
    driver.set_entry_only(calls.entry_only);
    driver.set_result_filters(calls.result_filters.clone());
    driver.set_lazy_closes(calls.lazy_closes);
    driver.set_open_filter(calls.open_filter.clone());
    Box::new(driver)
}

/// `auto` when the eBPF driver cannot run (`why`): the ptrace driver, unless the whole system
/// is to be watched, which only the eBPF driver can.
pub fn auto_fallback(system: bool, calls: &Reporting, why: &str) -> Result<Box<dyn Driver>> {
    if system {
        bail!("--system needs the eBPF driver, which cannot run here: {why}");
    }
    let ptrace = lanner_driver_ptrace::probe();
    if !ptrace.available {
        bail!("no driver can run here:\nebpf: unavailable: {why}\n{ptrace}");
    }
    tracing::info!("driver: ptrace (ebpf unavailable: {why})");
    Ok(ptrace_driver(calls))
}

/// How the drivers may report calls of the interest set, beyond tracing them.
#[derive(Debug, Clone, Default)]
pub struct Reporting {
    /// Syscalls whose result nothing reads, which a driver may report at entry.
    pub entry_only: SyscallSet,
    /// Calls no rule could match by their result, which a driver may leave out.
    pub result_filters: Vec<lanner_common::ResultFilter>,
    /// `close` may be left out, descriptors used after a close marked stale instead (the eBPF
    /// driver follows descriptors in the kernel; the ptrace driver compares the files they
    /// refer to and does not stop at closes).
    pub lazy_closes: bool,
    /// Opens no rule could match by their path and access mode, which a driver may leave out.
    pub open_filter: Option<lanner_common::OpenFilter>,
}

/// How the eBPF driver is to run (`lanner run`'s `--ebpf-*` options).
// The ptrace-only build takes the options and reads none of them.
#[cfg_attr(not(feature = "ebpf"), allow(dead_code))]
#[derive(Debug, Clone, Copy)]
pub struct EbpfSettings {
    pub mode: EbpfMode,
    pub ring_mib: usize,
    /// Benchmarks: the attach mechanism alone (`--ebpf-floor`).
    pub floor: bool,
}

/// Builds the driver `choice` asks for, or says why it cannot run here.
pub fn select(
    choice: DriverChoice,
    ebpf: EbpfSettings,
    system: bool,
    calls: &Reporting,
) -> Result<Box<dyn Driver>> {
    match choice {
        DriverChoice::Ptrace => {
            let report = lanner_driver_ptrace::probe();
            if !report.available {
                bail!("{report}");
            }
            Ok(ptrace_driver(calls))
        }
        // Asked for by name: no probe (it loads every program, and the fentry probe's, which
        // took ~40% of the agent's start-up); starting loads them once, and a refusal there is
        // reported with the verifier's log all the same.
        DriverChoice::Ebpf => ebpf_driver(ebpf, calls),
        // No probe: starting the eBPF driver loads its programs once, and when the kernel
        // refuses them the caller falls back to ptrace (`auto_fallback`).
        DriverChoice::Auto if cfg!(feature = "ebpf") => ebpf_driver(ebpf, calls),
        DriverChoice::Auto => auto_fallback(system, calls, "this lanner was built without it"),
    }
}
