//! The engine: process/fd state kept from events, rule evaluation over it, alerts.
//!
//! Per event: the state is updated first (so an `execve` is judged with the new program, an
//! `openat` with its new fd), then only the rules indexed under the event's type are evaluated,
//! then processes that exited are dropped.

mod alert;
mod caps;
mod procfs;
mod source;
mod state;
mod users;

use lanner_common::syscalls::SyscallId;
use lanner_common::time::WallClock;
use lanner_common::{Event, EventKind, SyscallSet};
use lanner_rules::{EventCode, LoadOptions, NonSyscall, Ruleset, StateNeeds};

pub use alert::Alert;
pub use state::{resolve_path, FdKind, Process, State};

/// Falco's upstream rules (Apache-2.0), unchanged.
pub const FALCO_RULES: &str = include_str!("../../rules/falco_rules.yaml");
/// lanner's own rules, loaded after Falco's (they use its macros and lists).
pub const LANNER_RULES: &str = include_str!("../../rules/lanner_rules.yaml");

/// Loads the embedded default ruleset: Falco's rules, then lanner's. (The error is boxed: a
/// rules error carries its whole position and item, and this is returned once per run.)
pub fn default_ruleset(strict: bool) -> Result<Ruleset, Box<lanner_rules::Error>> {
    let mut loader = lanner_rules::Loader::new(LoadOptions::new().strict(strict));
    loader
        .load_str("<embedded>/falco_rules.yaml", FALCO_RULES)
        .map_err(Box::new)?;
    loader
        .load_str("<embedded>/lanner_rules.yaml", LANNER_RULES)
        .map_err(Box::new)?;
    loader.compile().map_err(Box::new)
}

/// Syscalls the fd table is kept by.
const FD_SYSCALLS: &str = "open,openat,openat2,creat,socket,socketpair,connect,bind,accept,\
    accept4,dup,dup2,dup3,close,pipe,pipe2,chdir,fchdir";
/// Syscalls that change process state the rules read (cwd, user ids).
const PROCESS_SYSCALLS: &str = "chdir,fchdir,setuid,setreuid,setresuid";

/// What the drivers must trace for `ruleset`: the syscalls its rules can match, plus those the
/// state needs for the fields the rules read, and no more. A ruleset that never reads fd state
/// does not pull in `close` or `dup`. Process lifecycle comes from the drivers' fork/exec/exit
/// events, which need no syscall in the set.
pub fn interest(ruleset: &Ruleset) -> SyscallSet {
    let mut set = ruleset.syscalls();
    let needs = ruleset.state_needs();
    let mut add = |names: &str| {
        for name in names.split(',') {
            if let Some(id) = SyscallId::from_name(name) {
                set.insert(id);
            }
        }
    };
    if needs.contains(StateNeeds::FD) {
        add(FD_SYSCALLS);
    }
    if needs.contains(StateNeeds::PROCESS) {
        add(PROCESS_SYSCALLS);
    }
    set
}

/// Counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct EngineStats {
    /// Events processed.
    pub events: u64,
    /// Events on which rules were evaluated.
    pub evaluated: u64,
    /// Alerts raised.
    pub alerts: u64,
}

/// The engine.
pub struct Engine {
    ruleset: Ruleset,
    state: State,
    users: users::Users,
    hostname: Vec<u8>,
    clock: WallClock,
    stats: EngineStats,
}

fn hostname() -> Vec<u8> {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return b"unknown".to_vec();
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    buf[..len].to_vec()
}

impl Engine {
    /// An engine evaluating `ruleset`.
    pub fn new(ruleset: Ruleset) -> Engine {
        Engine {
            ruleset,
            state: State::new(),
            users: users::Users::load(),
            hostname: hostname(),
            clock: WallClock::new(),
            stats: EngineStats::default(),
        }
    }

    /// The rules.
    pub fn ruleset(&self) -> &Ruleset {
        &self.ruleset
    }

    /// The host name alerts carry.
    pub fn hostname(&self) -> String {
        String::from_utf8_lossy(&self.hostname).into_owned()
    }

    /// The clock alerts are dated with.
    pub fn clock(&self) -> &WallClock {
        &self.clock
    }

    /// The state (for tests and tools).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Counters so far.
    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    /// The event type rules know `event` by, if rules can match it at all.
    fn code(event: &Event) -> Option<EventCode> {
        match &event.kind {
            EventKind::Syscall(call) => Some(EventCode::Syscall(call.id)),
            EventKind::Exit(_) if event.pid == event.tid => {
                Some(EventCode::Other(NonSyscall::ProcExit))
            }
            _ => None,
        }
    }

    /// Updates the state with `event` and appends the alerts it raises.
    pub fn process(&mut self, event: &Event, alerts: &mut Vec<Alert>) {
        self.stats.events += 1;
        self.state.apply(event);
        if let Some(code) = Self::code(event) {
            if !self.ruleset.rules_for(code).is_empty() {
                self.stats.evaluated += 1;
                // Ancestors are read lazily from /proc the first time a rule may need them.
                self.state.ensure_with_ancestors(event.pid, 8);
                let view = source::View {
                    event,
                    num: self.stats.events,
                    code,
                    state: &self.state,
                    users: &self.users,
                    hostname: &self.hostname,
                    clock: &self.clock,
                };
                let before = alerts.len();
                for rule in self.ruleset.matching(code, &view) {
                    alerts.push(Alert::new(event.ts, rule, &view));
                }
                self.stats.alerts += (alerts.len() - before) as u64;
            }
        }
        self.state.collect_exited();
    }
}
