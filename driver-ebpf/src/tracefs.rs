//! tracefs, where the per-syscall tracepoints are named: mounted on demand, and the event name
//! of each syscall (some differ from the syscall's: `fstat` is `newfstat`).

use std::path::Path;

/// Where tracefs lives on current kernels.
const TRACEFS: &str = "/sys/kernel/tracing";

/// Mounts tracefs at its usual place when nothing is there (libbpf looks tracepoints up in it).
pub fn ensure_mounted() -> Result<(), String> {
    if Path::new(TRACEFS).join("events").is_dir() {
        return Ok(());
    }
    let source = c"tracefs";
    let target = c"/sys/kernel/tracing";
    // SAFETY: mount(2) with NUL-terminated strings and no data.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            source.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(format!(
            "tracefs is not mounted at {TRACEFS} and mounting it failed: {} \
             (mount it, or use the raw attach mode)",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Whether per-syscall tracepoints can be found here.
pub fn has_syscall_events() -> bool {
    Path::new(TRACEFS).join("events/syscalls").is_dir()
        || Path::new("/sys/kernel/debug/tracing/events/syscalls").is_dir()
}

/// The tracepoint name part for `syscall` (`sys_enter_<this>`), if the kernel has one.
pub fn syscall_event(syscall: &str) -> Option<String> {
    let events = Path::new(TRACEFS).join("events/syscalls");
    [syscall.to_owned(), format!("new{syscall}")]
        .into_iter()
        .find(|name| events.join(format!("sys_enter_{name}")).is_dir())
}
