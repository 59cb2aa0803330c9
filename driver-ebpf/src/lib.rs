//! The eBPF driver. Not built yet (issue 4): `probe` says so, so that `lanner drivers` and
//! `--driver auto` can tell the user instead of failing obscurely.

use lanner_common::driver::ProbeReport;

/// What this machine allows the eBPF driver to do. Until the driver exists it is never available.
pub fn probe() -> ProbeReport {
    ProbeReport::unavailable("ebpf", "the eBPF driver is not part of this build yet")
}
