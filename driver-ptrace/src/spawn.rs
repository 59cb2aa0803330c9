//! Starting the workload: fork, let the tracer seize the child, install the seccomp filter in
//! the child, exec.
//!
//! `std::process::Command` cannot be used: its `spawn` blocks until the child's exec succeeds,
//! but a traced child stops at its own execve and waits for the tracer, which is the thread
//! blocked in `spawn`. So this is a hand-written fork with the usual discipline: everything the
//! child needs is prepared before `fork`, and the child only makes async-signal-safe calls.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use lanner_common::driver::Command;
use lanner_common::DriverError;

use crate::filter::InstallableFilter;

/// What the child reports through the error pipe before `_exit(127)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildFailure {
    /// `chdir` to the requested directory failed.
    Chdir(i32),
    /// The seccomp filter could not be installed.
    Seccomp(i32),
    /// `execve` failed.
    Exec(i32),
}

impl ChildFailure {
    fn encode(self) -> [u8; 8] {
        let (stage, errno) = match self {
            ChildFailure::Chdir(e) => (1i32, e),
            ChildFailure::Seccomp(e) => (2, e),
            ChildFailure::Exec(e) => (3, e),
        };
        let mut out = [0u8; 8];
        out[..4].copy_from_slice(&stage.to_ne_bytes());
        out[4..].copy_from_slice(&errno.to_ne_bytes());
        out
    }

    fn decode(bytes: [u8; 8]) -> Option<ChildFailure> {
        let stage = i32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let errno = i32::from_ne_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        match stage {
            1 => Some(ChildFailure::Chdir(errno)),
            2 => Some(ChildFailure::Seccomp(errno)),
            3 => Some(ChildFailure::Exec(errno)),
            _ => None,
        }
    }

    /// The failure as a driver error.
    pub fn into_error(self, program: OsString) -> DriverError {
        let (what, errno) = match self {
            ChildFailure::Chdir(e) => ("changing directory", e),
            ChildFailure::Seccomp(e) => ("installing the seccomp filter", e),
            ChildFailure::Exec(e) => ("executing", e),
        };
        DriverError::Spawn {
            program,
            source: std::io::Error::new(
                std::io::Error::from_raw_os_error(errno).kind(),
                format!("{what}: {}", std::io::Error::from_raw_os_error(errno)),
            ),
        }
    }
}

/// A forked child, stopped before exec until [`Child::release`].
pub struct Child {
    /// Its pid.
    pub pid: i32,
    go: Option<OwnedFd>,
    errors: OwnedFd,
}

impl Child {
    /// Lets the child go on to install its filter and exec. Call after seizing it.
    pub fn release(&mut self) {
        if let Some(go) = self.go.take() {
            // Closing the write end wakes the child's read with EOF.
            drop(go);
        }
    }

    /// What the child reported before dying, if it failed before or at exec. Only meaningful
    /// once the child has exec'd (the pipe then reads EOF) or exited.
    pub fn failure(&self) -> Option<ChildFailure> {
        let mut buf = [0u8; 8];
        // SAFETY: reading into a local buffer from a pipe we own.
        let n = unsafe { libc::read(self.errors.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        (n == 8).then(|| ChildFailure::decode(buf)).flatten()
    }
}

/// Everything the child needs, allocated before fork.
struct Prepared {
    path: CString,
    argv: Vec<CString>,
    cwd: Option<CString>,
}

fn cstring(bytes: &OsStr, what: &str) -> Result<CString, DriverError> {
    CString::new(bytes.as_bytes()).map_err(|_| DriverError::Spawn {
        program: bytes.to_owned(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{what} contains a NUL byte"),
        ),
    })
}

pub use lanner_common::driver::resolve_program as resolve;

fn pipe() -> Result<(OwnedFd, OwnedFd), DriverError> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(DriverError::last_os_error("pipe2"));
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Forks a child that waits to be released, then installs `filter` and execs `command`.
pub fn fork_child(command: &Command, filter: &InstallableFilter) -> Result<Child, DriverError> {
    let program = command
        .argv
        .first()
        .ok_or_else(|| DriverError::Spawn {
            program: OsString::new(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"),
        })?
        .clone();
    let path = resolve(&program)?;
    let prepared = Prepared {
        path: cstring(path.as_os_str(), "the program path")?,
        argv: command
            .argv
            .iter()
            .map(|a| cstring(a, "an argument"))
            .collect::<Result<_, _>>()?,
        cwd: command
            .cwd
            .as_ref()
            .map(|d| cstring(d.as_os_str(), "the working directory"))
            .transpose()?,
    };
    let mut argv_ptrs: Vec<*const libc::c_char> =
        prepared.argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());

    let (go_read, go_write) = pipe()?;
    let (err_read, err_write) = pipe()?;

    // SAFETY: the child below only makes async-signal-safe calls on memory prepared above,
    // then execs or _exits; it never returns into Rust code of the parent.
    let pid = unsafe { libc::fork() };
    if pid == -1 {
        return Err(DriverError::last_os_error("fork"));
    }
    if pid == 0 {
        // SAFETY: in the child; see child_main.
        unsafe {
            child_main(
                [go_read.as_raw_fd(), go_write.as_raw_fd()],
                [err_read.as_raw_fd(), err_write.as_raw_fd()],
                &prepared,
                &argv_ptrs,
                filter,
            )
        }
    }
    drop(go_read);
    drop(err_write);
    // Non-blocking, so `failure` can be asked without hanging on a child still running.
    // SAFETY: fcntl on a pipe we own.
    unsafe {
        let fd = err_read.as_raw_fd();
        libc::fcntl(
            fd,
            libc::F_SETFL,
            libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK,
        );
    }
    Ok(Child {
        pid,
        go: Some(go_write),
        errors: err_read,
    })
}

/// The child between fork and exec.
///
/// # Safety
/// Must only run in a freshly forked child; it never returns.
unsafe fn child_main(
    [go, go_parent]: [libc::c_int; 2],
    [errors_parent, errors]: [libc::c_int; 2],
    prepared: &Prepared,
    argv: &[*const libc::c_char],
    filter: &InstallableFilter,
) -> ! {
    let fail = |failure: ChildFailure| -> ! {
        let bytes = failure.encode();
        // SAFETY: write and _exit are async-signal-safe.
        unsafe {
            libc::write(errors, bytes.as_ptr().cast(), bytes.len());
            libc::_exit(127)
        }
    };
    // SAFETY: async-signal-safe calls only, on memory prepared before fork.
    unsafe {
        // The parent's ends: with our copy of the go pipe's write end open, the read below would
        // never see EOF.
        libc::close(go_parent);
        libc::close(errors_parent);
        // Wait until the tracer has seized us: EOF on the pipe.
        let mut byte = 0u8;
        while libc::read(go, (&mut byte as *mut u8).cast(), 1) == -1
            && *libc::__errno_location() == libc::EINTR
        {}
        libc::close(go);

        // The agent blocks the signals it forwards and ignores SIGPIPE; the workload must start
        // with the defaults a shell would give it.
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);

        if let Some(cwd) = &prepared.cwd {
            if libc::chdir(cwd.as_ptr()) != 0 {
                fail(ChildFailure::Chdir(*libc::__errno_location()));
            }
        }
        if let Err(errno) = filter.install() {
            fail(ChildFailure::Seccomp(errno));
        }
        extern "C" {
            static environ: *const *const libc::c_char;
        }
        libc::execve(prepared.path.as_ptr(), argv.as_ptr(), environ);
        fail(ChildFailure::Exec(*libc::__errno_location()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn resolves_in_path_and_reports_missing_programs() {
        let sh = resolve(OsStr::new("sh")).expect("sh is in PATH");
        assert!(sh.is_absolute() && sh.ends_with("sh"));
        assert_eq!(
            resolve(OsStr::new("./relative/x")).expect("as given"),
            PathBuf::from("./relative/x")
        );
        let err = resolve(OsStr::new("no-such-program-lanner")).expect_err("missing");
        assert!(err.to_string().contains("command not found"), "{err}");
    }

    #[test]
    fn failure_codes_round_trip() {
        for f in [
            ChildFailure::Chdir(2),
            ChildFailure::Seccomp(13),
            ChildFailure::Exec(8),
        ] {
            assert_eq!(ChildFailure::decode(f.encode()), Some(f));
        }
    }
}
