//! The engine: process/fd state kept from events, Falco rules evaluated over it, alerts in
//! Falco's shapes.
//!
//! Per event: the state is updated first (so an `execve` is judged with the new program, an
//! `openat` with its new fd), then only the rules indexed under the event's type are evaluated,
//! then what the event ended (an exited process, a closed fd) is dropped.
//!
//! Modules, one job each: `state` (the tables and how events change them), `fields` (field
//! values over an event and the state), `alert` (Falco's output shapes), `users` (names for
//! ids), `caps` (capability names).

mod alert;
mod caps;
mod fields;
mod state;
mod users;
mod workload;

use std::path::PathBuf;

use lanner_common::time::WallClock;
use lanner_common::{Event, EventKind, SyscallSet};
use lanner_rules::{EventCode, LoadOptions, Memo, NonSyscall, Ruleset, StateNeeds};

pub use alert::Alert;
pub use fields::unserved as unserved_fields;
pub use state::{
    basename, dirname, resolve_path, AnonKind, Caps, Container, Fd, FdKind, FdTable, FileFd, Ids,
    ProcFs, Process, SocketFd, State,
};
pub use workload::WorkloadContainer;

/// The embedded default rules (adapted from Falco's; see the file's header).
pub const DEFAULT_RULES: &str = include_str!("../../rules/default.yaml");

/// Loads the embedded default ruleset. Strict: every rule in it must compile, so an engine
/// change that stops serving a field it uses fails here (and in the tests), not silently.
#[expect(
    clippy::result_large_err,
    reason = "the rules crate's own error type, returned once per run"
)]
pub fn default_ruleset() -> Result<Ruleset, lanner_rules::Error> {
    lanner_rules::load_str(
        "<embedded>/default.yaml",
        DEFAULT_RULES,
        LoadOptions::new().strict(true),
    )
}

/// What the drivers must trace for `ruleset`: the syscalls its rules can match, plus those the
/// state needs for the fields the rules read, and no more. A ruleset that never reads fd state
/// does not pull in `close` or `dup`. Process lifecycle comes from the drivers' fork, exec and
/// exit events, which need no syscall in the set.
pub fn interest(ruleset: &Ruleset) -> SyscallSet {
    let mut set = ruleset.syscalls();
    set.extend_from(&state::syscalls_for(ruleset.state_needs()));
    set
}

/// The calls the drivers may leave out for `ruleset`: of each traced syscall whose results the
/// rules confine (`dup` under `evt.rawres in (0, 1, 2)`), those with other results, unless the
/// state needs every call. `dup` is the exception the state can afford: it returns a fresh
/// descriptor (the lowest free one, never one still open), so a copy the engine does not see
/// leaves no stale entry behind, and a later event on it loads it from /proc like an inherited
/// one. (`dup2`/`dup3` may replace an open descriptor, so the state keeps all of them.)
pub fn result_filters(ruleset: &Ruleset) -> Vec<lanner_common::ResultFilter> {
    let state = state::syscalls_for(ruleset.state_needs());
    let dup = lanner_common::SyscallId::from_name("dup");
    ruleset
        .syscalls()
        .iter()
        .filter(|&id| !state.contains(id) || Some(id) == dup)
        .filter_map(|id| {
            let (lo, hi) = ruleset.result_range(id)?;
            Some(lanner_common::ResultFilter { id, lo, hi })
        })
        .collect()
}

/// The opens the drivers may leave out for `ruleset` (see [`lanner_common::OpenFilter`]):
/// those of the traced open-family calls whose path and access mode no rule can match.
/// `None` when some rule can match an open whatever its path. The state needs no open it
/// leaves out: a descriptor the engine was not told of is read from /proc when a later event
/// uses it (and its stale entry, if any, is marked so by the drivers: see
/// `SyscallEvent::stale_fds`), except opens that write or create a file, which it records for
/// `proc.is_exe_upper_layer`: those are kept when it does. `None` too when a rule matches
/// `close`: it reads the file its descriptor was opened on, which only the open tells.
pub fn open_filter(ruleset: &Ruleset) -> Option<lanner_common::OpenFilter> {
    if lanner_common::SyscallId::from_name("close")
        .is_some_and(|close| ruleset.syscalls().contains(close))
    {
        return None;
    }
    let calls = state::open_calls(&interest(ruleset));
    if calls.is_empty() {
        return None;
    }
    let mut rules = Vec::new();
    for call in &calls {
        rules.extend(ruleset.open_paths(call.id)?);
    }
    let keep_writes = ruleset.state_needs().contains(StateNeeds::FILE_WRITES);
    // The engine takes an O_DIRECTORY open for a directory (`fd.typechar` d): where every rule
    // on opens needs a file, no rule can match one.
    let directories = calls
        .iter()
        .all(|call| ruleset.opens_need_non_directories(call.id));
    Some(
        lanner_common::OpenFilter::new(calls, rules, keep_writes)
            .leaving_out_directories(directories),
    )
}

/// Counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EngineStats {
    /// Events processed.
    pub events: u64,
    /// Events on which rules were evaluated.
    pub evaluated: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Events the drivers reported lost (the sum of their drop records).
    pub dropped: u64,
}

/// Where the engine reads the machine's state: the real files by default, fakes in tests.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The `/proc` tree.
    pub proc_root: PathBuf,
    /// The user database (`user.name`).
    pub passwd: PathBuf,
    /// The group database (`group.name`).
    pub group: PathBuf,
    /// The host name alerts carry; the machine's when `None`.
    pub hostname: Option<String>,
    /// The container every process the engine sees is in, when the agent was told it (the
    /// ECS task metadata endpoint): it serves the `container.*` fields for every process and
    /// its fields go into every alert. Only for a wrapped workload: `--system` sees processes
    /// of every container.
    pub workload: Option<WorkloadContainer>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            proc_root: PathBuf::from("/proc"),
            passwd: PathBuf::from("/etc/passwd"),
            group: PathBuf::from("/etc/group"),
            hostname: None,
            workload: None,
        }
    }
}

/// The engine.
pub struct Engine {
    ruleset: Ruleset,
    state: State,
    host: fields::Host,
    stats: EngineStats,
    /// Alerts per rule, by the rule's index in the ruleset.
    by_rule: Vec<u64>,
    /// The values of macros for the event being evaluated, shared by its rules.
    memo: Memo,
    /// Whether rules read fd state (and so may need an fd loaded from `/proc`).
    reads_fds: bool,
    /// Where the user database is, for a ruleset swapped in later that needs it.
    users_files: (PathBuf, PathBuf),
}

/// The machine's host name (`gethostname(2)`), or `unknown`.
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf, which we own.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".to_owned();
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

/// The event type rules know `event` by, if rules can match it at all.
fn code(event: &Event) -> Option<EventCode> {
    match &event.kind {
        EventKind::Syscall(call) => Some(EventCode::Syscall(call.id)),
        EventKind::Exit(_) if event.pid == event.tid => {
            Some(EventCode::Other(NonSyscall::ProcExit))
        }
        EventKind::Drop(_) => Some(EventCode::Other(NonSyscall::Drop)),
        _ => None,
    }
}

impl Engine {
    /// An engine evaluating `ruleset` on this machine.
    pub fn new(ruleset: Ruleset) -> Engine {
        Engine::with_config(ruleset, EngineConfig::default())
    }

    /// An engine evaluating `ruleset`, reading the machine's state where `config` says.
    pub fn with_config(ruleset: Ruleset, config: EngineConfig) -> Engine {
        let needs = ruleset.state_needs();
        let users = if needs.contains(StateNeeds::USER) {
            users::Users::from_files(&config.passwd, &config.group)
        } else {
            users::Users::default()
        };
        Engine {
            users_files: (config.passwd, config.group),
            by_rule: vec![0; ruleset.rules().len()],
            memo: ruleset.memo(),
            reads_fds: needs.contains(StateNeeds::FD),
            state: State::with_procfs(ProcFs::new(config.proc_root), needs),
            host: fields::Host {
                users,
                hostname: config.hostname.unwrap_or_else(hostname),
                clock: WallClock::new(),
                workload: config.workload,
            },
            stats: EngineStats::default(),
            ruleset,
        }
    }

    /// The rules.
    pub fn ruleset(&self) -> &Ruleset {
        &self.ruleset
    }

    /// Swaps in `ruleset`, keeping the process and fd state built so far (a rules reload).
    /// Returns the state the new rules read that this engine does not keep: that state was not
    /// needed when the engine started, so the events that build it are not being traced, and
    /// fields reading it may be missing. The user database is loaded now if newly needed.
    pub fn replace_ruleset(&mut self, ruleset: Ruleset) -> StateNeeds {
        let needs = ruleset.state_needs();
        if needs.contains(StateNeeds::USER)
            && !self.ruleset.state_needs().contains(StateNeeds::USER)
        {
            self.host.users = users::Users::from_files(&self.users_files.0, &self.users_files.1);
        }
        let kept = self.state.tracking();
        let mut missing = StateNeeds::NONE;
        for need in [
            StateNeeds::PROCESS,
            StateNeeds::FD,
            StateNeeds::CONTAINER,
            StateNeeds::FILE_WRITES,
        ] {
            if needs.contains(need) && !kept.contains(need) {
                missing |= need;
            }
        }
        self.reads_fds = needs.contains(StateNeeds::FD);
        self.by_rule = vec![0; ruleset.rules().len()];
        self.memo = ruleset.memo();
        self.ruleset = ruleset;
        missing
    }

    /// The host name alerts carry.
    pub fn hostname(&self) -> String {
        self.host.hostname.clone()
    }

    /// The clock alerts are dated with.
    pub fn clock(&self) -> &WallClock {
        &self.host.clock
    }

    /// The state (for tests and tools).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Counters so far.
    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    /// Alerts raised per rule, most first (rules that raised none are left out).
    pub fn alerts_by_rule(&self) -> Vec<(&str, u64)> {
        let mut out: Vec<(&str, u64)> = self
            .ruleset
            .rules()
            .iter()
            .zip(&self.by_rule)
            .filter(|(_, &n)| n > 0)
            .map(|(r, &n)| (r.name.as_str(), n))
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        out
    }

    /// `alert` as Falco's JSON line, with this engine's clock and host name.
    pub fn alert_json(&self, alert: &Alert) -> String {
        alert.json(&self.host.clock, &self.host.hostname)
    }

    /// `alert` as Falco's text line.
    pub fn alert_text(&self, alert: &Alert) -> String {
        alert.text(&self.host.clock)
    }

    /// Records that the agent (`parent`) started the workload `root`. No driver reports that
    /// fork (it happens before tracing starts), and an eBPF driver's events arrive after the
    /// fact, when a short workload may already be gone from /proc: without this, its
    /// ancestors (`proc.aname`, `proc.pname` of its children) would be unknown.
    pub fn adopt_workload(&mut self, parent: u32, root: u32) {
        self.state.adopt(parent, root);
    }

    /// Updates the state with `event` and appends the alerts it raises to `alerts`.
    pub fn process(&mut self, event: &Event, alerts: &mut Vec<Alert>) {
        self.stats.events += 1;
        if let EventKind::Drop(drop) = &event.kind {
            self.stats.dropped += drop.count;
        }
        self.state.apply(event);
        if let Some(code) = code(event) {
            let rules = self.ruleset.rules_for(code);
            if !rules.is_empty() {
                self.stats.evaluated += 1;
                if self.reads_fds {
                    // An fd the table never saw created is read from /proc, now that a rule
                    // may need it.
                    self.state.load_event_fd(event.pid);
                }
                let view =
                    fields::View::new(event, code, self.stats.events, &self.state, &self.host);
                self.memo.next_event();
                for &idx in rules {
                    let Some(rule) = self.ruleset.rule(idx) else {
                        continue;
                    };
                    if rule.matches_with(code, &view, &mut self.memo) {
                        view.set_rendering(true);
                        let mut alert = Alert::new(event.ts, &self.host.clock, rule, &view);
                        if let Some(workload) = &self.host.workload {
                            alert.add_fields(workload.alert_fields());
                        }
                        alerts.push(alert);
                        view.set_rendering(false);
                        self.stats.alerts += 1;
                        if let Some(n) = self.by_rule.get_mut(idx as usize) {
                            *n += 1;
                        }
                    }
                }
            }
        }
        self.state.end_event();
    }
}
