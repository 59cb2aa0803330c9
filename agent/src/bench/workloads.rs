//! The benchmark workloads, modelled on UnixBench's index tests and written for this project.
//! Each runs for a fixed time inside `lanner bench-workload NAME --seconds S` and prints how many
//! iterations it completed and the seconds it ran; the score is their quotient. The workload
//! times itself so that an agent's start-up and shut-down (loading and verifying programs,
//! draining buffers) are not charged to it as if they slowed every iteration: `lanner bench`
//! reports them apart.

use std::ffi::CString;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Every workload, in report order: (name, what it does).
pub const ALL: &[(&str, &str)] = &[
    ("syscall", "close(dup(fd)), getpid, getuid, umask"),
    ("pipe", "512-byte write+read on one pipe"),
    (
        "context1",
        "two processes passing a counter through two pipes",
    ),
    ("spawn", "fork + exit + wait"),
    ("execl", "a process that execs itself with a counter"),
    ("fstime-256", "file copy with 256-byte buffers"),
    ("fstime-1024", "file copy with 1024-byte buffers"),
    ("fstime-4096", "file copy with 4096-byte buffers"),
    ("shell", "sh running sort | grep | wc over a text file"),
    (
        "openstorm",
        "4 threads opening, reading and closing small files",
    ),
];

/// Micro-benchmarks, outside the index (run them with `--tests`): what one kind of syscall
/// costs under each driver, the figures the eBPF driver's targets are stated in.
pub const MICRO: &[(&str, &str)] = &[
    ("getppid", "a getppid loop: a syscall no rule traces"),
    ("openat", "openat + close of one file: traced syscalls"),
    ("forkexec", "fork + exec /bin/true + wait"),
];

/// Whether `name` is a workload (index or micro).
pub fn known(name: &str) -> bool {
    ALL.iter().chain(MICRO).any(|(n, _)| *n == name)
}

/// What a workload did: its iterations (KiB for `fstime`) and the seconds it took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub units: u64,
    pub seconds: f64,
}

/// Runs workload `name` for `seconds`.
pub fn run(name: &str, seconds: f64, extra: &[String]) -> Result<Measured> {
    if name == "execl" {
        return execl(seconds, extra);
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let units = match name {
        "syscall" => Ok(syscall(deadline)),
        "pipe" => pipe(deadline),
        "context1" => context_switch(deadline),
        "spawn" => spawn(deadline),
        "fstime-256" => file_copy(deadline, 256),
        "fstime-1024" => file_copy(deadline, 1024),
        "fstime-4096" => file_copy(deadline, 4096),
        "shell" => shell(deadline),
        "openstorm" => open_storm(deadline),
        "getppid" => Ok(getppid(deadline)),
        "openat" => open_close(deadline),
        "forkexec" => fork_exec(deadline),
        other => bail!("unknown workload {other}; known: {}", names()),
    }?;
    Ok(Measured {
        units,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The names, comma separated.
pub fn names() -> String {
    ALL.iter()
        .chain(MICRO)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

fn syscall(deadline: Instant) -> u64 {
    let mut n = 0;
    while Instant::now() < deadline {
        for _ in 0..1000 {
            // SAFETY: plain syscalls on our own fd 2 (a dup of it is closed at once).
            unsafe {
                libc::close(libc::dup(2));
                libc::getpid();
                libc::getuid();
                libc::umask(0o022);
            }
        }
        n += 1000;
    }
    n
}

fn getppid(deadline: Instant) -> u64 {
    let mut n = 0;
    while Instant::now() < deadline {
        for _ in 0..10_000 {
            // SAFETY: no arguments, cannot fail.
            unsafe { libc::getppid() };
        }
        n += 10_000;
    }
    n
}

fn open_close(deadline: Instant) -> Result<u64> {
    let dir = scratch_dir()?;
    let path = CString::new(dir.join("f").to_string_lossy().into_owned())?;
    std::fs::write(dir.join("f"), b"x")?;
    let mut n = 0;
    while Instant::now() < deadline {
        for _ in 0..1000 {
            // SAFETY: a NUL-terminated path we own; the fd is closed at once.
            unsafe {
                let fd = libc::openat(libc::AT_FDCWD, path.as_ptr(), libc::O_RDONLY);
                if fd < 0 {
                    bail!(
                        "openat {}: {}",
                        dir.display(),
                        std::io::Error::last_os_error()
                    );
                }
                libc::close(fd);
            }
        }
        n += 1000;
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(n)
}

fn fork_exec(deadline: Instant) -> Result<u64> {
    let mut n = 0;
    while Instant::now() < deadline {
        let status = std::process::Command::new("/bin/true").status()?;
        if !status.success() {
            bail!("/bin/true failed: {status}");
        }
        n += 1;
    }
    Ok(n)
}

fn os_pipe() -> Result<(std::fs::File, std::fs::File)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe writes two new fds, which the Files then own.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error()).context("pipe");
    }
    // SAFETY: fresh fds owned by nobody else.
    Ok(unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    })
}

fn pipe(deadline: Instant) -> Result<u64> {
    let (mut r, mut w) = os_pipe()?;
    let buf = [7u8; 512];
    let mut back = [0u8; 512];
    let mut n = 0;
    while Instant::now() < deadline {
        for _ in 0..100 {
            w.write_all(&buf)?;
            r.read_exact(&mut back)?;
        }
        n += 100;
    }
    Ok(n)
}

fn context_switch(deadline: Instant) -> Result<u64> {
    let (mut r1, mut w1) = os_pipe()?;
    let (mut r2, mut w2) = os_pipe()?;
    // SAFETY: the child only does reads and writes on inherited pipes, then _exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        bail!("fork: {}", std::io::Error::last_os_error());
    }
    if pid == 0 {
        // The parent's ends: while the child holds a copy of w1, it would never read EOF.
        drop(w1);
        drop(r2);
        let mut word = [0u8; 8];
        while r1.read_exact(&mut word).is_ok() {
            let v = u64::from_ne_bytes(word) + 1;
            if w2.write_all(&v.to_ne_bytes()).is_err() {
                break;
            }
        }
        // SAFETY: leave the forked child without running the parent's destructors.
        unsafe { libc::_exit(0) };
    }
    drop(r1);
    drop(w2);
    let mut counter = 0u64;
    let mut word = [0u8; 8];
    while Instant::now() < deadline {
        w1.write_all(&counter.to_ne_bytes())?;
        r2.read_exact(&mut word)?;
        counter = u64::from_ne_bytes(word);
    }
    drop(w1);
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    Ok(counter)
}

fn spawn(deadline: Instant) -> Result<u64> {
    let mut n = 0;
    while Instant::now() < deadline {
        // SAFETY: the child exits at once.
        let pid = unsafe { libc::fork() };
        match pid {
            -1 => bail!("fork: {}", std::io::Error::last_os_error()),
            // SAFETY: see above.
            0 => unsafe { libc::_exit(0) },
            // SAFETY: reaping our own child.
            _ => unsafe {
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            },
        }
        n += 1;
    }
    Ok(n)
}

/// `execl`: `lanner bench-workload execl --seconds S [START_NS COUNT]`: each generation execs
/// the next with count + 1 until `S` seconds after the first one started; the last reports.
fn execl(seconds: f64, extra: &[String]) -> Result<Measured> {
    let now = realtime_ns();
    let (start, count) = match extra {
        [start, count] => (start.parse::<u64>()?, count.parse::<u64>()?),
        _ => (now, 0),
    };
    if now >= start + (seconds * 1e9) as u64 {
        return Ok(Measured {
            units: count,
            seconds: now.saturating_sub(start) as f64 / 1e9,
        });
    }
    let exe = std::env::current_exe().context("own executable")?;
    let args = [
        exe.to_string_lossy().into_owned(),
        "bench-workload".into(),
        "execl".into(),
        "--seconds".into(),
        seconds.to_string(),
        start.to_string(),
        (count + 1).to_string(),
    ];
    let c_args: Vec<CString> = args
        .iter()
        .map(|a| CString::new(a.as_str()))
        .collect::<Result<_, _>>()?;
    let mut ptrs: Vec<*const libc::c_char> = c_args.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: NUL-terminated argv of live CStrings; execv only returns on failure.
    unsafe { libc::execv(c_args[0].as_ptr(), ptrs.as_ptr()) };
    Err(std::io::Error::last_os_error()).context("execv")
}

fn realtime_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn scratch_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("lanner-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn file_copy(deadline: Instant, buf_size: usize) -> Result<u64> {
    let dir = scratch_dir()?;
    let src = dir.join("src");
    std::fs::write(&src, vec![b'x'; 256 * 1024])?;
    let mut buf = vec![0u8; buf_size];
    let mut bytes = 0u64;
    while Instant::now() < deadline {
        let mut from = std::fs::File::open(&src)?;
        let mut to = std::fs::File::create(dir.join("dst"))?;
        loop {
            let n = from.read(&mut buf)?;
            if n == 0 {
                break;
            }
            to.write_all(&buf[..n])?;
            bytes += n as u64;
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    // Score in KiB copied, like UnixBench's fstime.
    Ok(bytes / 1024)
}

fn shell(deadline: Instant) -> Result<u64> {
    let dir = scratch_dir()?;
    let text = dir.join("words");
    let words: String = (0..2000)
        .map(|i| format!("word{} line {}\n", i * 7919 % 2000, i))
        .collect();
    std::fs::write(&text, words)?;
    let script = format!(
        "sort {0} | grep 'word1' | wc -l > /dev/null",
        text.display()
    );
    let mut n = 0;
    while Instant::now() < deadline {
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .status()?;
        if !status.success() {
            bail!("shell pipeline failed: {status}");
        }
        n += 1;
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(n)
}

fn open_storm(deadline: Instant) -> Result<u64> {
    let dir = scratch_dir()?;
    for i in 0..64 {
        std::fs::write(dir.join(format!("f{i}")), b"some content")?;
    }
    let total: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let dir = &dir;
                scope.spawn(move || {
                    let mut n = 0u64;
                    let mut buf = [0u8; 64];
                    while Instant::now() < deadline {
                        for i in 0..64 {
                            if let Ok(mut f) =
                                std::fs::File::open(dir.join(format!("f{}", (i + t) % 64)))
                            {
                                let _ = f.read(&mut buf);
                                n += 1;
                            }
                        }
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    std::fs::remove_dir_all(&dir).ok();
    Ok(total)
}
