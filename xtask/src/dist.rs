//! `cargo xtask dist`: the statically linked, ptrace-only `lanner` for x86_64 Linux, the binary
//! that goes into Fargate images (`deploy/fargate/`), where the application image may have any
//! libc or none. Built, copied to `dist/` with the rules, checked static by reading its ELF
//! headers, then run on a real workload under the ptrace driver.
//!
//! `+crt-static` goes in the target-specific RUSTFLAGS and the build names `--target`: that
//! way build scripts and proc-macros (built for the host, without `--target`'s flags) stay
//! dynamic, as they must.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};

use crate::run_cmd::section;

const TARGET: &str = "x86_64-unknown-linux-gnu";
const RUSTFLAGS_VAR: &str = "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS";

/// `cargo xtask dist` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only build and check the binary; skip running a workload under it.
    #[arg(long)]
    pub no_smoke: bool,
}

/// The file name of the static binary in `dist/`.
pub fn binary_name() -> String {
    format!("lanner-{}-x86_64-linux-static", env!("CARGO_PKG_VERSION"))
}

/// Builds, copies, verifies and (unless `--no-smoke`) runs the static binary.
pub fn run_dist(root: &Path, args: &Args) -> Result<()> {
    section("static ptrace-only lanner (release)");
    let built = build(root)?;
    let dist = root.join("dist");
    std::fs::create_dir_all(dist.join("rules")).context("creating dist/")?;
    let binary = dist.join(binary_name());
    std::fs::copy(&built, &binary)
        .with_context(|| format!("copying {} to {}", built.display(), binary.display()))?;
    copy_rules(root, &dist.join("rules"))?;

    section("the binary is static");
    let bytes = std::fs::read(&binary).with_context(|| format!("reading {}", binary.display()))?;
    let linkage = elf::linkage(&bytes).context("reading the ELF headers")?;
    ensure!(
        linkage.interpreter.is_none(),
        "{} has a program interpreter ({}): not static",
        binary.display(),
        linkage.interpreter.as_deref().unwrap_or_default()
    );
    ensure!(
        linkage.needed.is_empty(),
        "{} needs shared libraries: {}",
        binary.display(),
        linkage.needed.join(", ")
    );
    eprintln!(
        "{}: static (no PT_INTERP, no DT_NEEDED), {} bytes",
        binary.display(),
        bytes.len()
    );

    if args.no_smoke {
        return Ok(());
    }
    section("the static binary raises an alert under the ptrace driver");
    smoke(&binary)
}

fn build(root: &Path) -> Result<PathBuf> {
    // A cross build would need a cross linker and an x86_64 glibc; not this command's job.
    ensure!(
        cfg!(all(target_arch = "x86_64", target_os = "linux")),
        "cargo xtask dist builds the x86_64 Linux binary on an x86_64 Linux machine"
    );
    let started = Instant::now();
    let args = [
        "build",
        "--release",
        "--locked",
        "--package",
        "lanner",
        "--bin",
        "lanner",
        "--no-default-features",
        "--target",
        TARGET,
    ];
    eprintln!(
        "+ {RUSTFLAGS_VAR}='-C target-feature=+crt-static' cargo {}",
        args.join(" ")
    );
    let status = Command::new("cargo")
        .args(args)
        .env(RUSTFLAGS_VAR, "-C target-feature=+crt-static")
        // The workspace's release profile keeps line tables for profiling; an image wants the
        // binary small (34 MB with them, 6.6 MB without): symbols stay for backtraces.
        .env("CARGO_PROFILE_RELEASE_DEBUG", "0")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
        .current_dir(root)
        .status()
        .context("starting cargo")?;
    if !status.success() {
        bail!("the static build failed ({status})");
    }
    eprintln!("built in {:.0?}", started.elapsed());
    Ok(root
        .join("target")
        .join(TARGET)
        .join("release")
        .join("lanner"))
}

fn copy_rules(root: &Path, to: &Path) -> Result<()> {
    let from = root.join("agent/rules");
    for entry in std::fs::read_dir(&from).with_context(|| format!("reading {}", from.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "yaml") {
            if let Some(name) = path.file_name() {
                std::fs::copy(&path, to.join(name))
                    .with_context(|| format!("copying {}", path.display()))?;
            }
        }
    }
    Ok(())
}

/// Runs `cat /etc/shadow` under the binary with a cleared environment (nothing from the build
/// machine's loader paths) and expects the embedded rules' alert.
fn smoke(binary: &Path) -> Result<()> {
    let drivers = Command::new(binary)
        .arg("drivers")
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    let report = String::from_utf8_lossy(&drivers.stdout);
    ensure!(
        report.contains("built without the eBPF driver"),
        "the dist binary should be ptrace-only, but `lanner drivers` says:\n{report}"
    );
    if !report.contains("ptrace: available") {
        eprintln!("SKIPPED: the ptrace driver cannot run here:\n{report}");
        return Ok(());
    }
    let started = Instant::now();
    let out = Command::new(binary)
        .args(["run", "--driver", "ptrace", "--"])
        .args(["/bin/sh", "-c", "cat /etc/shadow > /dev/null"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        out.status.success(),
        "the workload under the static binary failed ({}):\n{stderr}",
        out.status
    );
    let alert = stderr.lines().find(|line| {
        line.starts_with('{')
            && line.contains("\"rule\":\"Read sensitive file untrusted\"")
            && line.contains("/etc/shadow")
    });
    match alert {
        Some(line) => {
            eprintln!("alert in {:.0?}: {line}", started.elapsed());
            Ok(())
        }
        None => {
            bail!("no \"Read sensitive file untrusted\" alert from the static binary:\n{stderr}")
        }
    }
}

/// Just enough ELF reading to tell static from dynamic: the program interpreter and the
/// needed libraries (what `readelf -l` / `readelf -d` show).
mod elf {
    use anyhow::{bail, Context, Result};

    const PT_DYNAMIC: u32 = 2;
    const PT_INTERP: u32 = 3;
    const DT_NULL: u64 = 0;
    const DT_NEEDED: u64 = 1;
    const DT_STRTAB: u64 = 5;

    /// How a binary is linked.
    #[derive(Debug, Default)]
    pub struct Linkage {
        /// PT_INTERP: the dynamic loader it asks for.
        pub interpreter: Option<String>,
        /// DT_NEEDED: the shared libraries it asks for.
        pub needed: Vec<String>,
    }

    fn get<const N: usize>(bytes: &[u8], at: usize) -> Result<[u8; N]> {
        bytes
            .get(at..at + N)
            .and_then(|s| s.try_into().ok())
            .with_context(|| format!("truncated at offset {at}"))
    }

    fn u16_at(b: &[u8], at: usize) -> Result<u16> {
        Ok(u16::from_le_bytes(get(b, at)?))
    }

    fn u32_at(b: &[u8], at: usize) -> Result<u32> {
        Ok(u32::from_le_bytes(get(b, at)?))
    }

    fn u64_at(b: &[u8], at: usize) -> Result<u64> {
        Ok(u64::from_le_bytes(get(b, at)?))
    }

    fn usize_at(b: &[u8], at: usize) -> Result<usize> {
        usize::try_from(u64_at(b, at)?).context("offset out of range")
    }

    fn c_string(b: &[u8], at: usize) -> Result<String> {
        let rest = b.get(at..).context("string offset out of range")?;
        let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
    }

    /// One program header: (type, file offset, vaddr, file size).
    fn segments(b: &[u8]) -> Result<Vec<(u32, usize, u64, usize)>> {
        if b.get(..4) != Some(b"\x7fELF") {
            bail!("not an ELF file");
        }
        // ELFCLASS64, little-endian: what x86_64 Linux runs.
        if b.get(4) != Some(&2) || b.get(5) != Some(&1) {
            bail!("not a 64-bit little-endian ELF");
        }
        let phoff = usize_at(b, 0x20)?;
        let phentsize = usize::from(u16_at(b, 0x36)?);
        let phnum = usize::from(u16_at(b, 0x38)?);
        (0..phnum)
            .map(|i| {
                let at = phoff + i * phentsize;
                Ok((
                    u32_at(b, at)?,
                    usize_at(b, at + 8)?,
                    u64_at(b, at + 16)?,
                    usize_at(b, at + 32)?,
                ))
            })
            .collect()
    }

    /// The file offset of virtual address `vaddr` (DT_STRTAB holds an address).
    fn offset_of(b: &[u8], vaddr: u64) -> Result<usize> {
        const PT_LOAD: u32 = 1;
        let phoff = usize_at(b, 0x20)?;
        let phentsize = usize::from(u16_at(b, 0x36)?);
        for i in 0..usize::from(u16_at(b, 0x38)?) {
            let at = phoff + i * phentsize;
            let (kind, offset, start, size) = (
                u32_at(b, at)?,
                u64_at(b, at + 8)?,
                u64_at(b, at + 16)?,
                u64_at(b, at + 32)?,
            );
            if kind == PT_LOAD && (start..start + size).contains(&vaddr) {
                return usize::try_from(vaddr - start + offset).context("offset out of range");
            }
        }
        bail!("address {vaddr:#x} is in no loaded segment")
    }

    /// The interpreter and needed libraries of the ELF file `b`.
    pub fn linkage(b: &[u8]) -> Result<Linkage> {
        let mut linkage = Linkage::default();
        for (kind, offset, _, size) in segments(b)? {
            match kind {
                PT_INTERP => linkage.interpreter = Some(c_string(b, offset)?),
                PT_DYNAMIC => {
                    // A static-pie binary has a dynamic section (for its own relocations) but
                    // needs nothing; only DT_NEEDED entries make it dynamic.
                    let mut needed = Vec::new();
                    let mut strtab = None;
                    for entry in (offset..offset + size).step_by(16) {
                        let tag = u64_at(b, entry)?;
                        let value = u64_at(b, entry + 8)?;
                        match tag {
                            DT_NULL => break,
                            DT_NEEDED => needed.push(value),
                            DT_STRTAB => strtab = Some(value),
                            _ => {}
                        }
                    }
                    if !needed.is_empty() {
                        let strtab = offset_of(b, strtab.context("DT_NEEDED without DT_STRTAB")?)?;
                        for name in needed {
                            let at = usize::try_from(name).context("string offset")?;
                            linkage.needed.push(c_string(b, strtab + at)?);
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(linkage)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn this_test_binary_is_dynamic_and_says_so() {
            // Test binaries are linked as the host's default: dynamically, against libc.
            let exe = std::env::current_exe().expect("current exe");
            let bytes = std::fs::read(exe).expect("read");
            let linkage = linkage(&bytes).expect("ELF");
            assert!(linkage.interpreter.is_some());
            assert!(
                linkage.needed.iter().any(|n| n.starts_with("libc.so")),
                "{:?}",
                linkage.needed
            );
        }

        #[test]
        fn not_elf_is_an_error() {
            assert!(linkage(b"#!/bin/sh\n").is_err());
        }
    }
}
