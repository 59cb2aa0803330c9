//! `cargo xtask kernel-test`: the integration tests again, on another kernel, booted under qemu.
//!
//! The host's kernel is one kernel among those users run. Debian 12's and Amazon Linux 2023's
//! are 6.1, whose verifier refuses programs a newer one accepts (it did refuse ours), and which
//! may take trampoline programs the host's lockdown refuses. This boots a kernel package from
//! Debian's archive (the one registry of kernels this machine reaches) under qemu's TCG emulation
//! (the host's /dev/kvm cannot run a guest here), with the host's root file system shared
//! read-only over 9p. The guest chroots into it and runs the test binaries already built on the
//! host, as they run there, with the same fixtures and paths: only the kernel differs.
//!
//! Everything it fetches and builds is kept under `target/kernels/`.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::json;

use crate::run_cmd::{run, section};

/// The kernel tested by default: Debian 12's, the 6.1 series that Amazon Linux 2023 runs too.
pub const DEFAULT_KERNEL: &str = "linux-image-amd64";

/// The kernels `cargo xtask test` boots, and whether only for the smoke tests: Debian 12's 6.1
/// in full, and the newest 6.12 Debian builds for it (Debian 13's series, which Amazon Linux
/// 2023 offers too) for the smoke tests. Each found what the host's kernel let pass.
pub const TESTED_KERNELS: &[(&str, bool)] = &[(DEFAULT_KERNEL, false), ("6.12", true)];

/// What the guest's init prints last, with the test script's exit status.
const EXIT_MARKER: &str = "lanner-kernel-test: exit ";

/// How much longer tests may take in the emulated guest (lanner_common's
/// `TEST_TIME_SCALE_ENV`): its agent loads in seconds, not tenths.
const EMULATION_SLOWDOWN: u32 = 20;

/// A guest that runs this long is stuck.
const GUEST_TIMEOUT: Duration = Duration::from_secs(40 * 60);

/// The modules that mount the host's files over 9p; what they depend on is added.
const WANTED_MODULES: &[&str] = &["virtio_pci", "9pnet_virtio", "9p"];

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The Debian kernel package to boot: a package name (a metapackage such as
    /// linux-image-amd64 is resolved to the image it depends on), or a series such as 6.12 for
    /// the newest amd64 image of it in the archive.
    #[arg(long, default_value = DEFAULT_KERNEL)]
    pub kernel: String,
    /// Only the test binaries with these names (default: every integration test of
    /// lanner-tests, and lanner's `ebpf`).
    #[arg(long = "test")]
    pub tests: Vec<String>,
    /// Only the cross-driver comparisons (same_under_both_drivers: every attach mode, the
    /// embedded rules' alerts), a few minutes: enough to catch a kernel that refuses the
    /// programs.
    #[arg(long)]
    pub smoke: bool,
    /// Arguments for each test binary, after `--` (a filter, say).
    #[arg(last = true)]
    pub test_args: Vec<String>,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            kernel: DEFAULT_KERNEL.to_string(),
            tests: Vec::new(),
            smoke: false,
            test_args: Vec::new(),
        }
    }
}

/// Boots the kernel and runs the tests in it; fails when any fails.
pub fn run_kernel_test(root: &Path, args: &Args) -> Result<()> {
    let package = image_package(&args.kernel)?;
    section(&format!("integration tests on {package}, under qemu"));
    let kernels = root.join("target").join("kernels");
    std::fs::create_dir_all(&kernels).with_context(|| format!("creating {}", kernels.display()))?;
    let kernel = fetch_kernel(&kernels, &package)?;
    let initrd = build_initrd(&kernel)?;
    let only = if args.smoke && args.tests.is_empty() {
        vec![SMOKE_TEST.to_string()]
    } else {
        args.tests.clone()
    };
    let binaries = test_binaries(root, &only)?;
    let script = kernel.dir.join("run.sh");
    std::fs::write(&script, guest_script(&binaries, &args.test_args))
        .with_context(|| format!("writing {}", script.display()))?;
    match boot(root, &kernel, &initrd, &script)? {
        Verdict::Passed => Ok(()),
        Verdict::Failed(code) => bail!("tests failed on kernel {} (exit {code})", kernel.release),
        Verdict::Hung => {
            // Seen once in many runs, on a host loaded with other guests: both vCPUs stuck in
            // the guest's kernel. Once more, so that an emulator's stall does not fail CI; the
            // trace above stays in the log, and a second hang fails.
            eprintln!(
                "\nWARNING: the guest's kernel locked up (trace above); booting it once more"
            );
            match boot(root, &kernel, &initrd, &script)? {
                Verdict::Passed => Ok(()),
                Verdict::Failed(code) => {
                    bail!("tests failed on kernel {} (exit {code})", kernel.release)
                }
                Verdict::Hung => bail!("the guest's kernel {} locked up twice", kernel.release),
            }
        }
    }
}

/// How a guest ended.
enum Verdict {
    Passed,
    /// The test script's exit status.
    Failed(i32),
    /// Without a verdict: the kernel panicked (a soft lockup, with `softlockup_panic`) or the
    /// watchdog killed it.
    Hung,
}

/// A kernel unpacked from its package.
struct Kernel {
    /// Where it is kept.
    dir: PathBuf,
    /// The bootable image.
    image: PathBuf,
    /// Its release (`uname -r`).
    release: String,
}

/// The image package `name` stands for: the newest of a series ("6.12"), the image a
/// metapackage depends on, or itself.
fn image_package(name: &str) -> Result<String> {
    if name.split('.').all(|part| part.parse::<u32>().is_ok()) {
        return newest_of_series(name);
    }
    let out = Command::new("apt-cache")
        .args(["depends", name])
        .output()
        .context("starting apt-cache (the kernel comes from Debian's archive)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let image = text.lines().find_map(|line| {
        let dep = line.trim().strip_prefix("Depends: ")?;
        dep.starts_with("linux-image-").then(|| dep.to_string())
    });
    match image {
        Some(image) => Ok(image),
        None if out.status.success() => Ok(name.to_string()),
        None => bail!(
            "apt-cache knows no package {name}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    }
}

/// The newest generic amd64 image of kernel series `series` in the archive.
fn newest_of_series(series: &str) -> Result<String> {
    let pattern = format!("^linux-image-{}[.-]", series.replace('.', "\\."));
    let out = Command::new("apt-cache")
        .args(["search", "--names-only", &pattern])
        .output()
        .context("starting apt-cache (the kernel comes from Debian's archive)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let names = text
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| name.ends_with("-amd64") || name.ends_with("-amd64-unsigned"))
        .filter(|name| !name.contains("-cloud-") && !name.contains("-rt-"));
    names
        .max_by_key(|name| version_key(name))
        .map(str::to_string)
        .with_context(|| format!("the archive has no amd64 image of kernel {series}"))
}

/// The numbers in a package name, in order, for comparing versions.
fn version_key(name: &str) -> Vec<u64> {
    name.split(|c: char| !c.is_ascii_digit())
        .filter_map(|digits| digits.parse().ok())
        .collect()
}

/// Downloads and unpacks `package` under `kernels` once; later runs reuse it.
fn fetch_kernel(kernels: &Path, package: &str) -> Result<Kernel> {
    let dir = kernels.join(package);
    let unpacked = dir.join("root");
    if !unpacked.join("boot").is_dir() {
        let download = || {
            Command::new("apt-get")
                .args(["download", "-q", package])
                .current_dir(kernels)
                .status()
                .map(|status| status.success())
                .unwrap_or(false)
        };
        // Lists older than the archive name versions it no longer holds: update and retry.
        if !download() {
            run(kernels, "apt-get", &["update", "-q"])?;
            if !download() {
                bail!("apt-get download {package} failed");
            }
        }
        let deb = std::fs::read_dir(kernels)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .find(|path| {
                path.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{package}_")) && n.ends_with(".deb"))
            })
            .with_context(|| format!("apt-get download left no {package}_*.deb"))?;
        let partial = dir.join("root.partial");
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir_all(&partial)?;
        run(
            kernels,
            "dpkg-deb",
            &["-x", &deb.to_string_lossy(), &partial.to_string_lossy()],
        )?;
        std::fs::rename(&partial, &unpacked)?;
        std::fs::remove_file(&deb)?;
    }
    let image = std::fs::read_dir(unpacked.join("boot"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-"))
        })
        .with_context(|| format!("{package} has no boot/vmlinuz-*"))?;
    let release = image
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("vmlinuz-"))
        .context("the image's name")?
        .to_string();
    Ok(Kernel {
        dir,
        image,
        release,
    })
}

/// The modules that must be loaded, in an order that loads each after what it depends on:
/// (name, path of its uncompressed object).
fn modules_to_load(kernel: &Kernel) -> Result<Vec<(String, PathBuf)>> {
    let base = kernel.dir.join("root/lib/modules").join(&kernel.release);
    let mut found = std::collections::HashMap::new();
    let mut stack = vec![base.join("kernel")];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                if let Some(module) = name
                    .strip_suffix(".ko")
                    .or_else(|| name.strip_suffix(".ko.xz"))
                {
                    found.insert(module.replace('-', "_"), path.clone());
                }
            }
        }
    }
    let builtin = std::fs::read_to_string(base.join("modules.builtin")).unwrap_or_default();
    let is_builtin = |module: &str| {
        builtin.lines().any(|line| {
            Path::new(line)
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".ko"))
                .is_some_and(|n| n.replace('-', "_") == module)
        })
    };
    let mut order: Vec<(String, PathBuf)> = Vec::new();
    fn visit(
        module: &str,
        found: &std::collections::HashMap<String, PathBuf>,
        is_builtin: &dyn Fn(&str) -> bool,
        order: &mut Vec<(String, PathBuf)>,
        depth: usize,
    ) -> Result<()> {
        if order.iter().any(|(name, _)| name == module) {
            return Ok(());
        }
        if depth > 32 {
            bail!("module dependencies loop at {module}");
        }
        let Some(path) = found.get(module) else {
            if is_builtin(module) {
                return Ok(());
            }
            bail!("the kernel has no module {module}, built in or loadable");
        };
        let object = uncompressed(path)?;
        for dep in module_depends(&object)? {
            visit(&dep, found, is_builtin, order, depth + 1)?;
        }
        order.push((module.to_string(), object));
        Ok(())
    }
    for module in WANTED_MODULES {
        visit(module, &found, &is_builtin, &mut order, 0)?;
    }
    Ok(order)
}

/// `path` itself, or its xz-decompressed copy beside it.
fn uncompressed(path: &Path) -> Result<PathBuf> {
    let Some(stem) = path.to_str().and_then(|p| p.strip_suffix(".xz")) else {
        return Ok(path.to_path_buf());
    };
    let plain = PathBuf::from(stem);
    if !plain.exists() {
        run(
            Path::new("."),
            "xz",
            &["--decompress", "--keep", &path.to_string_lossy()],
        )?;
    }
    Ok(plain)
}

/// The `depends=` entry of a module object's .modinfo strings.
fn module_depends(object: &Path) -> Result<Vec<String>> {
    let bytes = std::fs::read(object).with_context(|| format!("reading {}", object.display()))?;
    let key = b"depends=";
    let Some(at) = bytes.windows(key.len()).position(|w| w == key) else {
        return Ok(Vec::new());
    };
    let rest = &bytes[at + key.len()..];
    let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    Ok(String::from_utf8_lossy(&rest[..end])
        .split(',')
        .filter(|d| !d.is_empty())
        .map(|d| d.replace('-', "_"))
        .collect())
}

/// The guest's init: load the 9p modules, mount the host's root, chroot into it and run the
/// script named on the kernel command line, then print its status and power off. The guest's
/// own /tmp, /run and /dev/shm are fresh (the host's root is read-only); the project is
/// mounted again on top of them.
fn init_script(modules: &[(String, PathBuf)]) -> String {
    let names: Vec<&str> = modules.iter().map(|(name, _)| name.as_str()).collect();
    format!(
        r#"#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
for m in {modules}; do $B insmod /modules/$m.ko || echo "lanner-kernel-test: insmod $m failed"; done
$B mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000 host /host || echo "lanner-kernel-test: 9p mount failed"
cd /host
$B mount -t proc proc proc
$B mount -t sysfs sys sys
$B mount -t devtmpfs dev dev
$B mkdir -p dev/shm dev/pts
$B mount -t tmpfs shm dev/shm
$B mount -t devpts devpts dev/pts
$B mount -t tmpfs tmp tmp
$B mount -t tmpfs run run
$B mount -t tracefs tracefs sys/kernel/tracing
$B mount -t securityfs securityfs sys/kernel/security
$B mount -t bpf bpf sys/fs/bpf
$B mount -t cgroup2 cgroup2 sys/fs/cgroup
$B ip link set lo up
# The project again, on top: wherever it lives (under /tmp, say) it is not hidden.
project=$($B sed -n 's/.*lanner_project=\([^ ]*\).*/\1/p' /proc/cmdline)
$B mkdir -p "/host$project"
$B mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000 project "/host$project" || echo "lanner-kernel-test: project mount failed"
script=$($B sed -n 's/.*lanner_script=\([^ ]*\).*/\1/p' /proc/cmdline)
$B chroot /host /bin/sh "$script"
echo "{EXIT_MARKER}$?"
$B poweroff -f
"#,
        modules = names.join(" ")
    )
}

/// The initramfs: busybox, the init, the modules. Rebuilt every run (it is small).
fn build_initrd(kernel: &Kernel) -> Result<PathBuf> {
    let busybox = Path::new("/bin/busybox");
    if !busybox.exists() {
        bail!("/bin/busybox is missing (Debian's busybox-static: cargo xtask install-deps)");
    }
    let modules = modules_to_load(kernel)?;
    let dir = kernel.dir.join("initrd");
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["bin", "proc", "host", "modules"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    std::fs::copy(busybox, dir.join("bin/busybox"))?;
    for (name, object) in &modules {
        std::fs::copy(object, dir.join("modules").join(format!("{name}.ko")))
            .with_context(|| format!("copying {}", object.display()))?;
    }
    let init = dir.join("init");
    std::fs::write(&init, init_script(&modules))?;
    std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755))?;
    let archive = kernel.dir.join("initrd.cpio");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "find . | /bin/busybox cpio -o -H newc > '{}'",
            archive.display()
        ))
        .current_dir(&dir)
        .stderr(Stdio::null())
        .status()
        .context("packing the initramfs")?;
    if !status.success() {
        bail!("packing the initramfs failed ({status})");
    }
    Ok(archive)
}

/// The smoke tests' binary.
const SMOKE_TEST: &str = "same_under_both_drivers";

/// The integration tests run by default: those of lanner-tests (the drivers' suite, of which
/// the eBPF cases: the ptrace cases run on the host, and some of them are timed too tightly
/// for an emulated CPU), and the agent's own eBPF tests (attach, detach, `--system`, verifier
/// errors).
fn runs_by_default(package_dir: &str, name: &str) -> bool {
    package_dir == "tests" || (package_dir == "agent" && name == "ebpf")
}

/// An integration test binary.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct TestBinary {
    name: String,
    /// Its package's folder, where cargo runs it.
    dir: PathBuf,
    exe: PathBuf,
}

/// The integration test binaries to run (built if they are not yet).
fn test_binaries(root: &Path, only: &[String]) -> Result<Vec<TestBinary>> {
    let out = Command::new("cargo")
        .args([
            "test",
            "-p",
            "lanner-tests",
            "-p",
            "lanner",
            "--tests",
            "--no-run",
            "--message-format=json",
        ])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .context("starting cargo test --no-run")?;
    if !out.status.success() {
        bail!("building the test binaries failed");
    }
    let mut binaries = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // One JSON message per line; an integration test's artifact is a target of kind
        // "test" with an executable.
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" || message["target"]["kind"] != json!(["test"])
        {
            continue;
        }
        let (Some(name), Some(exe), Some(manifest)) = (
            message["target"]["name"].as_str(),
            message["executable"].as_str(),
            message["manifest_path"].as_str(),
        ) else {
            continue;
        };
        let name = name.to_string();
        let Some(dir) = Path::new(manifest).parent() else {
            continue;
        };
        let package_dir = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let wanted = if only.is_empty() {
            runs_by_default(package_dir, &name)
        } else {
            only.contains(&name)
        };
        if wanted {
            binaries.push(TestBinary {
                name,
                dir: dir.to_path_buf(),
                exe: PathBuf::from(exe),
            });
        }
    }
    if binaries.is_empty() {
        bail!("no test binary to run (names asked for: {only:?})");
    }
    binaries.sort();
    Ok(binaries)
}

/// The script the guest runs: each test binary in turn, as on the host, with every driver
/// required (a driver the guest kernel cannot run fails its tests instead of skipping them).
fn guest_script(binaries: &[TestBinary], test_args: &[String]) -> String {
    let mut script = format!(
        "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root\n\
         export LANNER_TEST_REQUIRE=ptrace,ebpf,ebpf-fentry \
         LANNER_TEST_TIME_SCALE={EMULATION_SLOWDOWN}\n\
         echo \"lanner-kernel-test: kernel $(uname -r)\"\n",
    );
    script.push_str("failed=0\n");
    let args: Vec<String> = test_args.iter().map(|a| format!("'{a}'")).collect();
    for binary in binaries {
        let filter = if binary.name == "drivers" && test_args.is_empty() {
            "::ebpf".to_string()
        } else {
            args.join(" ")
        };
        let _ = writeln!(
            script,
            "echo \"lanner-kernel-test: {}\"\n\
             cd '{}' && '{}' --test-threads 2 {filter} || failed=1",
            binary.name,
            binary.dir.display(),
            binary.exe.display(),
        );
        // The drivers' suite once more in the fentry attach mode, which the host's kernel may
        // refuse: its eBPF cases but those of 32-bit calls, which the mode cannot see.
        if binary.name == "drivers" && test_args.is_empty() {
            let _ = writeln!(
                script,
                "echo \"lanner-kernel-test: {} in the fentry mode\"\n\
                 cd '{}' && LANNER_TEST_EBPF_MODE=fentry '{}' --test-threads 2 ::ebpf \
                 --skip int80 || failed=1",
                binary.name,
                binary.dir.display(),
                binary.exe.display(),
            );
        }
    }
    script.push_str("exit $failed\n");
    script
}

/// Boots the guest, shows what it prints, and returns its tests' verdict.
fn boot(root: &Path, kernel: &Kernel, initrd: &Path, script: &Path) -> Result<Verdict> {
    let started = Instant::now();
    // Both go on the kernel's command line, which splits at spaces.
    if root.to_string_lossy().contains(char::is_whitespace) {
        bail!(
            "the project's path has a space, which a kernel command line cannot carry: {}",
            root.display()
        );
    }
    // Warnings (a stack trace among them) reach the console, the boot's chatter does not; a
    // soft lockup panics the guest, which then ends at once (-no-reboot) with its trace
    // printed, instead of hanging until the watchdog.
    let append = format!(
        "console=ttyS0 loglevel=5 softlockup_panic=1 panic=-1 lanner_project={} \
         lanner_script={}",
        root.display(),
        script.display()
    );
    let project = format!(
        "local,path={},mount_tag=project,security_model=none,readonly=on,multidevs=remap",
        root.display()
    );
    let mut child = Command::new("qemu-system-x86_64")
        // One host thread runs both vCPUs in turn: with a thread each (thread=multi), a vCPU
        // running a tracepoint's call site while the other patched it (text_poke_bp, as an
        // attach does) locked both up, now and then.
        .args([
            "-accel",
            "tcg,thread=single",
            "-cpu",
            "max",
            "-smp",
            "2",
            "-m",
            "4G",
        ])
        .args(["-nographic", "-no-reboot", "-kernel"])
        .arg(&kernel.image)
        .arg("-initrd")
        .arg(initrd)
        .args([
            "-virtfs",
            "local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap",
            "-virtfs",
            &project,
            "-append",
            &append,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context(
            "starting qemu-system-x86_64 (Debian's qemu-system-x86: cargo xtask install-deps)",
        )?;
    let stdout = child.stdout.take().context("qemu's output")?;
    // The watchdog: a guest that hangs is killed, which ends its output.
    let pid = child.id();
    let watchdog = std::thread::spawn(move || {
        let deadline = Instant::now() + GUEST_TIMEOUT;
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_secs(1));
            if !Path::new(&format!("/proc/{pid}")).exists() {
                return;
            }
        }
        let _ = Command::new("kill").arg(pid.to_string()).status();
    });
    let mut verdict = None;
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = strip_terminal_codes(&String::from_utf8_lossy(&line));
        eprint!("{text}");
        if let Some(code) = text.trim().strip_prefix(EXIT_MARKER) {
            verdict = code.trim().parse::<i32>().ok();
        }
    }
    let status = child.wait()?;
    let _ = watchdog.join();
    eprintln!(
        "\nguest on {} ran {:.0} s (qemu {status})",
        kernel.release,
        started.elapsed().as_secs_f64()
    );
    Ok(match verdict {
        Some(0) => Verdict::Passed,
        Some(code) => Verdict::Failed(code),
        None => Verdict::Hung,
    })
}

/// The firmware's and console's escape sequences, which garble a CI log.
fn strip_terminal_codes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                while let Some(&next) = chars.peek() {
                    chars.next();
                    if next.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        if c != '\r' {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_resolves_by_the_numbers_in_package_names() {
        let newest = [
            "linux-image-6.12.9+deb12-amd64-unsigned",
            "linux-image-6.12.117+deb12-amd64-unsigned",
            "linux-image-6.12.74+deb12-amd64-unsigned",
        ]
        .into_iter()
        .max_by_key(|name| version_key(name));
        assert_eq!(newest, Some("linux-image-6.12.117+deb12-amd64-unsigned"));
    }

    #[test]
    fn terminal_codes_are_stripped_and_text_kept() {
        assert_eq!(
            strip_terminal_codes("\x1b[?7l\x1b[2Jlanner-kernel-test: exit 0\r\n"),
            "lanner-kernel-test: exit 0\n"
        );
    }

    #[test]
    fn the_guest_script_runs_every_binary_and_fails_if_any_fails() {
        let binary = |name: &str, dir: &str| TestBinary {
            name: name.into(),
            dir: PathBuf::from(dir),
            exe: PathBuf::from(format!("/src/target/{name}-1")),
        };
        let script = guest_script(
            &[binary("a", "/src/tests"), binary("b", "/src/agent")],
            &["ebpf".into()],
        );
        assert!(script
            .contains("cd '/src/tests' && '/src/target/a-1' --test-threads 2 'ebpf' || failed=1"));
        assert!(script
            .contains("cd '/src/agent' && '/src/target/b-1' --test-threads 2 'ebpf' || failed=1"));
        assert!(script.contains("LANNER_TEST_REQUIRE=ptrace,ebpf"));
        // The drivers' suite: its eBPF cases, then again in the fentry mode.
        let script = guest_script(&[binary("drivers", "/src/tests")], &[]);
        assert!(script.contains("'/src/target/drivers-1' --test-threads 2 ::ebpf || failed=1"));
        assert!(script.contains(
            "LANNER_TEST_EBPF_MODE=fentry '/src/target/drivers-1' --test-threads 2 ::ebpf \
             --skip int80 || failed=1"
        ));
        assert!(script.trim_end().ends_with("exit $failed"));
    }
}
