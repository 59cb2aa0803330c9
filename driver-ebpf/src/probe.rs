//! What this machine allows the eBPF driver: probed by loading the real programs (what the
//! verifier accepts is the only reliable answer), once per process.

use std::mem::MaybeUninit;
use std::sync::OnceLock;

use lanner_common::driver::{Feature, ProbeReport};
use libbpf_rs::skel::{OpenSkel, SkelBuilder};

use std::path::Path;

use crate::session;
use crate::skel::LannerSkelBuilder;
use crate::tracefs;

fn reason(err: lanner_common::DriverError) -> String {
    match err {
        lanner_common::DriverError::Unavailable { reason, .. } => reason,
        other => other.to_string(),
    }
}

fn load_programs() -> Result<(), String> {
    libbpf_rs::set_print(Some((
        libbpf_rs::PrintLevel::Info,
        session::collect_libbpf_log,
    )));
    let mut object = MaybeUninit::uninit();
    let mut open = LannerSkelBuilder::default()
        .open(&mut object)
        .map_err(|e| reason(session::load_error("opening the programs", e)))?;
    // Trampoline programs are probed apart (a kernel that refuses them runs the other modes).
    open.progs.lanner_fentry_probe.set_autoload(false);
    open.progs.lanner_fentry_body.set_autoload(false);
    open.progs.lanner_fexit_body.set_autoload(false);
    open.load()
        .map_err(|e| reason(session::load_error("loading the programs", e)))?;
    Ok(())
}

/// Whether the kernel accepts trampoline programs, probed once per process (or learned from
/// a full probe).
static FENTRY: OnceLock<bool> = OnceLock::new();

/// Whether the fentry attach mode can run here.
pub fn fentry_accepted() -> bool {
    *FENTRY.get_or_init(|| fentry_allowed().is_ok())
}

/// Whether the kernel accepts a trampoline (fentry) program on a syscall function: loads the
/// probe program alone and attaches it for a moment. The error says which step was refused.
fn fentry_allowed() -> Result<(), String> {
    let mut object = MaybeUninit::uninit();
    let mut open = LannerSkelBuilder::default()
        .open(&mut object)
        .map_err(|e| format!("opening the programs: {e}"))?;
    for mut prog in open.open_object_mut().progs_mut() {
        let probe = prog.name() == std::ffi::OsStr::new("lanner_fentry_probe");
        prog.set_autoload(probe);
    }
    // The maps are created all the same: keep the ring buffer small for a probe.
    open.maps
        .events
        .set_max_entries(4096)
        .map_err(|e| format!("sizing the ring buffer: {e}"))?;
    let skel = open
        .load()
        .map_err(|e| format!("loading an fentry program: {e}"))?;
    let link = skel
        .progs
        .lanner_fentry_probe
        .attach()
        .map_err(|e| format!("attaching an fentry program: {e}"))?;
    drop(link);
    Ok(())
}

/// Whether the kernel runs `int 0x80` syscalls for 64-bit processes (IA32 emulation), probed
/// once per process.
pub fn has_ia32_emulation() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(probe_ia32_emulation)
}

fn probe_ia32_emulation() -> bool {
    // SAFETY: fork, then in the child only async-signal-safe calls.
    unsafe {
        let pid = libc::fork();
        if pid == 0 {
            // getpid through the i386 entry (20 in the i386 table): with IA32 emulation off the
            // kernel kills the process with SIGSEGV, otherwise it returns our pid.
            let ret: i64;
            std::arch::asm!("int 0x80", inlateout("eax") 20i64 => ret, options(nostack));
            libc::_exit(if ret as i32 == libc::getpid() { 0 } else { 1 });
        }
        if pid < 0 {
            return false;
        }
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
    }
}

/// Why the programs cannot load here before anything is tried, when the kernel lacks BTF
/// (their field offsets are relocated against it).
pub(crate) fn missing_btf() -> Option<&'static str> {
    (!Path::new("/sys/kernel/btf/vmlinux").exists()).then_some(
        "the kernel has no BTF (/sys/kernel/btf/vmlinux); it needs CONFIG_DEBUG_INFO_BTF",
    )
}

fn run_probe() -> ProbeReport {
    if let Some(reason) = missing_btf() {
        return ProbeReport::unavailable("ebpf", reason);
    }
    if let Err(reason) = load_programs() {
        return ProbeReport::unavailable("ebpf", reason);
    }
    let ia32 = has_ia32_emulation();
    let fentry = fentry_allowed();
    let _ = FENTRY.set(fentry.is_ok());
    ProbeReport {
        driver: "ebpf",
        available: true,
        reason: None,
        features: vec![
            Feature {
                name: "BTF",
                present: true,
                note: "/sys/kernel/btf/vmlinux: field offsets relocated at load (CO-RE)".into(),
            },
            Feature {
                name: "raw attach mode",
                present: true,
                note: "tp_btf sys_enter/sys_exit with the interest bitmap; sees every ABI".into(),
            },
            Feature {
                name: "per-syscall attach mode",
                present: tracefs::has_syscall_events() || Path::new("/sys/kernel/tracing").is_dir(),
                note: "syscalls:sys_enter_<name> for just the interest set (tracefs, mounted on \
                       demand); blind to 32-bit syscalls"
                    .into(),
            },
            Feature {
                name: "fentry",
                present: fentry.is_ok(),
                note: match &fentry {
                    Ok(()) => "trampoline programs on syscall functions are accepted: the \
                               fentry attach mode can run; blind to 32-bit syscalls"
                        .into(),
                    Err(why) => format!("trampoline programs are refused: {why}"),
                },
            },
            Feature {
                name: "32-bit syscalls",
                present: ia32,
                note: if ia32 {
                    "the kernel runs int 0x80 syscalls: auto picks the raw mode, which judges \
                     them by the i386 table"
                        .into()
                } else if fentry.is_ok() {
                    "the kernel has no 32-bit syscall entry: auto picks the fentry mode".into()
                } else {
                    "the kernel has no 32-bit syscall entry: auto picks the per-syscall mode".into()
                },
            },
        ],
    }
}

/// What this machine allows the eBPF driver to do.
pub fn probe() -> ProbeReport {
    static REPORT: OnceLock<ProbeReport> = OnceLock::new();
    REPORT.get_or_init(run_probe).clone()
}
