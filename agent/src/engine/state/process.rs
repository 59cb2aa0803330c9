//! One process (thread group): identity, program, credentials, container, and its fds.

use super::container::Container;
use super::fd::FdTable;
use super::path;
use super::procfs::{ProcInfo, Status};

/// User and group ids: real, effective, saved (as the `set*id` calls change them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ids {
    pub real: u32,
    pub effective: u32,
    pub saved: u32,
}

impl Ids {
    fn from_status(ids: [u32; 4]) -> Ids {
        Ids {
            real: ids[0],
            effective: ids[1],
            saved: ids[2],
        }
    }
}

/// Capability sets, as bit masks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caps {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

/// One process.
#[derive(Debug, Clone, Default)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    /// The pid in its own pid namespace.
    pub vpid: u32,
    pub sid: u32,
    pub pgid: u32,
    /// Controlling terminal device (0: none).
    pub tty: u32,
    /// `comm`: the executable's name, at most 15 bytes.
    pub name: Vec<u8>,
    /// argv[0].
    pub exe: Vec<u8>,
    /// The executable's full path.
    pub exepath: Vec<u8>,
    /// argv[1..].
    pub args: Vec<Vec<u8>>,
    /// Working directory, absolute, ending in `/` (as `proc.cwd` shows it).
    pub cwd: Vec<u8>,
    pub uids: Ids,
    pub gids: Ids,
    /// Audit login uid (-1: unset).
    pub loginuid: i64,
    pub caps: Caps,
    /// `None` on the host.
    pub container: Option<Container>,
    /// Boot-clock ns when it started (0: unknown).
    pub start_ts: u64,
    /// Its executable was written by a traced process after the agent started.
    pub exe_written: bool,
    pub fds: FdTable,
    /// `proc.cmdline` and `proc.args`, kept ready: many Falco macros read them on every event.
    cmdline_text: Vec<u8>,
    args_text: Vec<u8>,
}

impl Process {
    /// A process nothing is known about yet (events about it still build its state).
    pub fn unknown(pid: u32) -> Process {
        Process {
            pid,
            vpid: pid,
            loginuid: -1,
            ..Process::default()
        }
    }

    /// A process as `/proc` shows it.
    pub fn from_proc(pid: u32, info: ProcInfo) -> Process {
        let mut process = Process::unknown(pid);
        process.ppid = info.ppid;
        process.pgid = info.pgid;
        process.sid = info.sid;
        process.tty = info.tty;
        process.start_ts = info.start_ts;
        process.name = info.comm;
        process.exepath = info.exepath;
        process.loginuid = info.loginuid;
        process.set_cwd(&info.cwd);
        process.set_status(info.status);
        let mut argv = info.argv;
        if !argv.is_empty() {
            process.exe = argv.remove(0);
            process.args = argv;
        }
        process.refresh_lines();
        process
    }

    /// Takes ids and capabilities from `/proc/PID/status`.
    pub fn set_status(&mut self, status: Status) {
        let [effective, permitted, inheritable] = status.creds.caps;
        self.uids = Ids::from_status(status.creds.uids);
        self.gids = Ids::from_status(status.creds.gids);
        self.caps = Caps {
            effective,
            permitted,
            inheritable,
        };
        if let Some(vpid) = status.vpid {
            self.vpid = vpid;
        }
    }

    /// Sets the working directory (absolute, from `/proc` or a resolved `chdir`).
    pub fn set_cwd(&mut self, cwd: &[u8]) {
        self.cwd.clear();
        self.cwd.extend_from_slice(cwd);
        if self.cwd.last() != Some(&b'/') {
            self.cwd.push(b'/');
        }
    }

    /// The new program of a successful exec.
    pub fn exec(&mut self, filename: &[u8], argv: &[Vec<u8>], exepath: Vec<u8>) {
        // The kernel names the task after the path given to execve; a program run from an fd
        // (fexecve, an empty path) is named after what that fd was.
        self.name = if filename.is_empty() {
            path::comm_of(&exepath)
        } else {
            path::comm_of(filename)
        };
        match argv.split_first() {
            Some((first, rest)) => {
                self.exe.clone_from(first);
                self.args = rest.to_vec();
            }
            None => {
                self.exe = filename.to_vec();
                self.args.clear();
            }
        }
        self.exepath = exepath;
        self.refresh_lines();
        self.fds.exec();
    }

    /// A child made by fork: the parent's program, credentials and fds (a copy: the child's
    /// later opens and closes are its own).
    pub fn fork(&self, child: u32, ts: u64) -> Process {
        let mut process = self.clone();
        process.pid = child;
        process.ppid = self.pid;
        // Same pid namespace as the parent unless the parent is namespaced itself; then the
        // child's own number is unknown until /proc says.
        process.vpid = if self.vpid == self.pid { child } else { 0 };
        process.start_ts = ts;
        process
    }

    /// Recomputes the cached command lines after name or arguments changed.
    fn refresh_lines(&mut self) {
        self.args_text.clear();
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                self.args_text.push(b' ');
            }
            self.args_text.extend_from_slice(arg);
        }
        self.cmdline_text.clone_from(&self.name);
        if !self.args_text.is_empty() {
            self.cmdline_text.push(b' ');
            self.cmdline_text.extend_from_slice(&self.args_text);
        }
    }

    /// `proc.cmdline`: name and arguments.
    pub fn cmdline(&self) -> &[u8] {
        &self.cmdline_text
    }

    /// `proc.args`: the arguments, space separated.
    pub fn args_line(&self) -> &[u8] {
        &self.args_text
    }

    /// The container id as `container.id` shows it (`host` outside containers).
    pub fn container_id(&self) -> &str {
        self.container.as_ref().map_or("host", |c| &c.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_replaces_the_program_and_keeps_the_rest() {
        let mut p = Process::unknown(10);
        p.set_cwd(b"/srv");
        p.exec(
            b"/usr/bin/python3",
            &[b"python3".to_vec(), b"-c".to_vec(), b"print(1)".to_vec()],
            b"/usr/bin/python3.12".to_vec(),
        );
        assert_eq!(p.name, b"python3");
        assert_eq!(p.cmdline(), b"python3 -c print(1)");
        assert_eq!(p.args_line(), b"-c print(1)");
        assert_eq!(p.cwd, b"/srv/");
        let child = p.fork(11, 5);
        assert_eq!(
            (child.pid, child.ppid, child.vpid, child.start_ts),
            (11, 10, 11, 5)
        );
        assert_eq!(child.cmdline(), p.cmdline());
        assert_eq!(child.container_id(), "host");
    }
}
