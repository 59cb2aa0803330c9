//! `--alerts-program CMD`: alerts, one per line, written to the stdin of `sh -c CMD`, as Falco's
//! `program_output` does with `keep_alive: true`: one program for the whole run, not one per
//! alert.
//!
//! When the program has ended, the next alert starts it again. An alert whose write fails (the
//! program died between two alerts) is counted as undelivered; alerts the program had not read
//! from the pipe when it died cannot be known, and the restart warning says so.
//!
//! The program's stdout goes to the agent's stderr: the agent's stdout is the workload's. It
//! runs in its own process group, so that a Ctrl-C meant for the workload does not end it before
//! the last alerts are written; it ends when its stdin closes at the agent's exit.

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use super::worker::{Closing, Deliver};

/// A program fed alerts on its stdin.
pub struct ProgramOut {
    command: String,
    running: Option<(Child, ChildStdin)>,
    /// Times the program has been started.
    starts: u64,
}

impl ProgramOut {
    /// A program output for `sh -c command`; the program starts with the first alert.
    pub fn new(command: &str) -> ProgramOut {
        ProgramOut {
            command: command.to_owned(),
            running: None,
            starts: 0,
        }
    }

    fn start(&mut self) -> std::io::Result<()> {
        let stdout = std::io::stderr().as_fd().try_clone_to_owned()?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .stdin(Stdio::piped())
            .stdout(Stdio::from(stdout))
            .process_group(0)
            .spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("no pipe to the program's stdin"))?;
        self.starts += 1;
        self.running = Some((child, stdin));
        Ok(())
    }

    /// Whether the program is still running. The ptrace driver reaps every child of the agent
    /// (it must, to reap the workload's orphans), so "no such child" means it ended too.
    fn alive(child: &mut Child) -> Result<(), String> {
        match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(status.to_string()),
            Err(_) => Err("ended".to_owned()),
        }
    }
}

impl Deliver for ProgramOut {
    fn deliver(&mut self, alert: &str, _closing: &Closing) -> bool {
        if let Some((child, _)) = self.running.as_mut() {
            if let Err(status) = Self::alive(child) {
                tracing::warn!(
                    program = self.command,
                    "the alerts program ended ({status}); starting it again (alerts it had not \
                     read are lost)"
                );
                self.running = None;
            }
        }
        if self.running.is_none() {
            if let Err(err) = self.start() {
                tracing::warn!(
                    program = self.command,
                    "cannot start the alerts program: {err}"
                );
                return false;
            }
            if self.starts == 1 {
                tracing::debug!(program = self.command, "alerts program started");
            }
        }
        let Some((_, stdin)) = self.running.as_mut() else {
            return false;
        };
        let mut line = Vec::with_capacity(alert.len() + 1);
        line.extend_from_slice(alert.as_bytes());
        line.push(b'\n');
        match stdin.write_all(&line) {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!(
                    program = self.command,
                    "writing an alert to the alerts program failed: {err}; it starts again \
                     with the next alert"
                );
                self.running = None;
                false
            }
        }
    }

    fn close(&mut self, closing: &Closing) {
        let Some((mut child, stdin)) = self.running.take() else {
            return;
        };
        // EOF: the program finishes its work and ends.
        drop(stdin);
        loop {
            match child.try_wait() {
                Ok(Some(status)) if !status.success() => {
                    tracing::warn!(program = self.command, "the alerts program ended: {status}");
                    return;
                }
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => {}
            }
            if !closing.pause(Duration::from_millis(20)) {
                tracing::warn!(
                    program = self.command,
                    "the alerts program did not end after its input closed; killing it"
                );
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
        }
    }
}
