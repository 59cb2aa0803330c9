//! `cargo xtask install-deps`: the machine prerequisites, installed only where missing.
//!
//! - `strace`: tests compare the ptrace driver's events with strace's.
//! - `linux-libc-dev`: the uapi headers the syscall tables are generated from.
//! - `clang-19`, `libelf-dev`, `zlib1g-dev`, `pkg-config`, `make`: the eBPF driver's build
//!   (kernel-side C compiled by clang, libbpf built from source by libbpf-sys).
//! - `qemu-system-x86`, `busybox-static`, `xz-utils`: `cargo xtask kernel-test` boots another
//!   kernel (Debian's own package, fetched with apt-get download) with a busybox initramfs.
//! - rustup components `rustfmt` and `clippy`: the lint gates.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Result};

use crate::run_cmd::{on_path, run, section};

/// Debian packages the project needs.
pub const APT_PACKAGES: &[&str] = &[
    "strace",
    "linux-libc-dev",
    "clang-19",
    "libelf-dev",
    "zlib1g-dev",
    "pkg-config",
    "make",
    "qemu-system-x86",
    "busybox-static",
    "xz-utils",
];

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn is_root() -> bool {
    // SAFETY: geteuid takes nothing and cannot fail.
    unsafe { libc_geteuid() == 0 }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// Installs what is missing.
pub fn run_install(root: &Path) -> Result<()> {
    section("prerequisites");
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| !installed(p))
        .collect();
    if missing.is_empty() {
        eprintln!("apt packages: all present ({})", APT_PACKAGES.join(", "));
    } else if !on_path("apt-get") {
        bail!(
            "missing packages {} and no apt-get to install them",
            missing.join(", ")
        );
    } else if !is_root() {
        bail!(
            "missing packages {}; run as root, or: sudo apt-get install {}",
            missing.join(", "),
            missing.join(" ")
        );
    } else {
        eprintln!("apt packages to install: {}", missing.join(", "));
        std::env::set_var("DEBIAN_FRONTEND", "noninteractive");
        run(root, "apt-get", &["update", "-q"])?;
        let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
        args.extend(&missing);
        run(root, "apt-get", &args)?;
    }
    for component in ["rustfmt", "clippy"] {
        let tool = if component == "rustfmt" {
            "cargo-fmt"
        } else {
            "cargo-clippy"
        };
        if on_path(tool) {
            continue;
        }
        if !on_path("rustup") {
            bail!("{component} is missing and there is no rustup to add it");
        }
        run(root, "rustup", &["component", "add", component])?;
    }
    Ok(())
}
