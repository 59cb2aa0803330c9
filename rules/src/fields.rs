//! The field table: every field a condition or an output may use, its value type, what argument
//! it takes, and which engine state it needs. A field not in this table is an error by name.
//!
//! A [`FieldSource`](crate::FieldSource) is asked for fields by [`FieldId`]; fields marked as
//! aliases here (`fd.snet` is `fd.sip` read as a network, `syscall.type` is `evt.type`) and
//! "either" fields (`fd.ip` is `fd.cip` or `fd.sip`) are rewritten by the compiler, so a source
//! never sees them.

use std::fmt;

/// A field's index in [`FIELDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldId(pub(crate) u16);

impl FieldId {
    /// The field's description.
    pub fn info(self) -> &'static FieldInfo {
        // The id was made from an index into FIELDS; fall back to the first entry rather than
        // panic if a caller forged one.
        FIELDS.get(usize::from(self.0)).unwrap_or(&FIELDS[0])
    }

    /// The field's name.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The index into [`FIELDS`].
    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// Looks a field up by its exact name (no argument).
    pub fn by_name(name: &str) -> Option<FieldId> {
        FIELDS
            .iter()
            .position(|f| f.name == name)
            .and_then(|i| u16::try_from(i).ok())
            .map(FieldId)
    }
}

impl fmt::Display for FieldId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A field's value type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldType {
    /// Bytes (usually text); string operators apply.
    Str,
    /// A signed 64-bit number.
    Num,
    /// `true` or `false`.
    Bool,
    /// An IP address; `=`/`in` compare with addresses or networks (CIDR).
    Ip,
    /// An IP address read as "in network": `fd.net = 10.0.0.0/8`.
    IpNet,
}

impl FieldType {
    /// The type's name, for messages.
    pub const fn name(self) -> &'static str {
        match self {
            FieldType::Str => "string",
            FieldType::Num => "number",
            FieldType::Bool => "bool",
            FieldType::Ip => "ip address",
            FieldType::IpNet => "ip network",
        }
    }
}

/// What argument a field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ArgKind {
    /// None.
    None,
    /// An optional ancestor level `[N]` (0 = the process itself, 1 = its parent, ...). Without
    /// it, a condition matches if *any* ancestor (from the parent up) matches (`proc.aname`).
    Ancestor,
    /// A required argument, by position (`evt.arg[1]`) or name (`evt.arg[flags]`, or dotted:
    /// `evt.arg.flags`).
    IndexOrKey,
    /// An optional name (`proc.env[HOME]`).
    OptionalKey,
}

/// Engine state that a field's value depends on, as a small bit set. The engine uses the union
/// over a ruleset to decide what the state tracker must follow (and so which syscalls it must
/// see besides the rules' own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StateNeeds(u8);

impl StateNeeds {
    /// Nothing beyond the event itself.
    pub const NONE: StateNeeds = StateNeeds(0);
    /// The process table (names, command lines, ancestry, credentials).
    pub const PROCESS: StateNeeds = StateNeeds(1);
    /// The fd table (paths and sockets behind file descriptors).
    pub const FD: StateNeeds = StateNeeds(2);
    /// The user and group database (names for ids).
    pub const USER: StateNeeds = StateNeeds(4);
    /// Container metadata.
    pub const CONTAINER: StateNeeds = StateNeeds(8);
    /// Which files traced processes wrote (created, opened for writing, renamed or linked
    /// into place): what tells a dropped binary from the image's own.
    pub const FILE_WRITES: StateNeeds = StateNeeds(16);

    /// Union.
    pub const fn union(self, other: StateNeeds) -> StateNeeds {
        StateNeeds(self.0 | other.0)
    }

    /// Whether every need in `other` is in `self`.
    pub const fn contains(self, other: StateNeeds) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether nothing is needed.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for StateNeeds {
    type Output = StateNeeds;
    fn bitor(self, rhs: StateNeeds) -> StateNeeds {
        self.union(rhs)
    }
}

impl std::ops::BitOrAssign for StateNeeds {
    fn bitor_assign(&mut self, rhs: StateNeeds) {
        *self = self.union(rhs);
    }
}

impl fmt::Display for StateNeeds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (StateNeeds::PROCESS, "process"),
            (StateNeeds::FD, "fd"),
            (StateNeeds::USER, "user"),
            (StateNeeds::CONTAINER, "container"),
            (StateNeeds::FILE_WRITES, "file-writes"),
        ];
        let mut first = true;
        for (need, name) in names {
            if self.contains(need) {
                if !first {
                    f.write_str("+")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// How a field is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldKind {
    /// Asked of the [`FieldSource`](crate::FieldSource) directly.
    Direct,
    /// The value of another field, read as this field's type (`fd.snet` is `fd.sip`).
    Alias(&'static str),
    /// True if the condition holds for either of two fields (`fd.ip`: `fd.cip` or `fd.sip`);
    /// `!=` holds when it holds for neither.
    Either(&'static str, &'static str),
}

/// One field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldInfo {
    /// Name, e.g. `proc.name`.
    pub name: &'static str,
    /// Value type.
    pub ty: FieldType,
    /// Argument.
    pub arg: ArgKind,
    /// State it depends on.
    pub needs: StateNeeds,
    /// How it is served.
    pub kind: FieldKind,
    /// One line of description.
    pub desc: &'static str,
}

const P: StateNeeds = StateNeeds::PROCESS;
const PU: StateNeeds = StateNeeds(StateNeeds::PROCESS.0 | StateNeeds::USER.0);
const PF: StateNeeds = StateNeeds(StateNeeds::PROCESS.0 | StateNeeds::FD.0);
const C: StateNeeds = StateNeeds(StateNeeds::PROCESS.0 | StateNeeds::CONTAINER.0);
const PW: StateNeeds = StateNeeds(StateNeeds::PROCESS.0 | StateNeeds::FILE_WRITES.0);
const N: StateNeeds = StateNeeds::NONE;

macro_rules! fields {
    ($($name:literal $ty:ident $arg:ident $needs:ident $kind:expr, $desc:literal;)*) => {
        /// The field table.
        pub static FIELDS: &[FieldInfo] = &[
            $(FieldInfo {
                name: $name,
                ty: FieldType::$ty,
                arg: ArgKind::$arg,
                needs: $needs,
                kind: $kind,
                desc: $desc,
            },)*
        ];
    };
}

const D: FieldKind = FieldKind::Direct;
const fn alias(of: &'static str) -> FieldKind {
    FieldKind::Alias(of)
}
const fn either(a: &'static str, b: &'static str) -> FieldKind {
    FieldKind::Either(a, b)
}

fields! {
    // ---- event ----
    "evt.type" Str None N D, "event type name (syscall name, or procexit, ...)";
    "evt.num" Num None N D, "event sequence number";
    "evt.time" Str None N D, "event time, formatted";
    "evt.rawtime" Num None N D, "event time, nanoseconds since the epoch";
    "evt.dir" Str None N D, "direction: '<' (exit) for a completed syscall, '>' for an entry";
    "evt.res" Str None N D, "result: SUCCESS or an errno name such as ENOENT";
    "evt.rawres" Num None N D, "raw return value";
    "evt.failed" Bool None N D, "true if the syscall failed";
    "evt.is_open_read" Bool None N D, "an open* opened for reading";
    "evt.is_open_write" Bool None N D, "an open* opened for writing";
    "evt.is_open_exec" Bool None N D, "an open* created an executable file";
    "evt.args" Str None N D, "all arguments, formatted";
    "evt.arg" Str IndexOrKey N D, "one argument, formatted (evt.arg.flags, evt.arg[1])";
    "evt.rawarg" Num IndexOrKey N D, "one argument, raw number";
    "evt.hostname" Str None N D, "host name";
    "evt.cpu" Num None N D, "CPU the event happened on";
    "evt.abspath" Str None PF D, "the event's path argument made absolute (against its dirfd or the cwd)";
    "evt.abspath.src" Str None PF D, "source path of rename, link and symlink calls, made absolute";
    "evt.abspath.dst" Str None PF D, "destination path of rename, link and symlink calls, made absolute";
    "evt.abi" Str None N D, "the syscall's ABI: x86_64, i386 (int 0x80, 32-bit code) or x32 (lanner)";
    "syscall.type" Str None N alias("evt.type"), "syscall name (as evt.type)";
    // ---- process ----
    "proc.pid" Num None P D, "process id (tgid)";
    "proc.ppid" Num None P D, "parent process id";
    "proc.vpid" Num None P D, "process id in its pid namespace";
    "proc.name" Str None P D, "process name (comm, up to 15 characters)";
    "proc.exe" Str None P D, "argv[0] as executed";
    "proc.exepath" Str None P D, "full path of the executable";
    "proc.cmdline" Str None P D, "name and arguments";
    "proc.args" Str None P D, "arguments, space separated";
    "proc.exeline" Str None P D, "exe and arguments";
    "proc.cwd" Str None P D, "current working directory";
    "proc.tty" Num None P D, "controlling terminal (0 if none)";
    "proc.sid" Num None P D, "session id";
    "proc.sname" Str None P D, "name of the session leader";
    "proc.vpgid" Num None P D, "process group id in its namespace";
    "proc.duration" Num None P D, "nanoseconds since the process started";
    "proc.loginshellid" Num None P D, "pid of the oldest shell ancestor";
    "proc.is_exe_from_memfd" Bool None P D, "executable is a memfd";
    "proc.is_exe_upper_layer" Bool None PW D, "executable was written after the workload started (Falco: in the overlayfs upper layer; lanner: written by a traced process)";
    "proc.exe_ino" Num None P D, "inode number of the executable";
    "proc.exe_ino.ctime" Num None P D, "executable's inode change time, ns since the epoch";
    "proc.exe_ino.mtime" Num None P D, "executable's modification time, ns since the epoch";
    "proc.exe_ino.ctime_duration_proc_start" Num None P D, "ns from the executable's ctime to the process start";
    "proc.env" Str OptionalKey P D, "environment (or one variable)";
    "proc.pname" Str None P D, "parent's name";
    "proc.pexe" Str None P D, "parent's exe";
    "proc.pexepath" Str None P D, "parent's executable path";
    "proc.pcmdline" Str None P D, "parent's command line";
    "proc.aname" Str Ancestor P D, "ancestor's name ([N]: N levels up; none: any ancestor)";
    "proc.aexe" Str Ancestor P D, "ancestor's exe";
    "proc.aexepath" Str Ancestor P D, "ancestor's executable path";
    "proc.acmdline" Str Ancestor P D, "ancestor's command line";
    "proc.apid" Num Ancestor P D, "ancestor's pid";
    // ---- thread ----
    "thread.tid" Num None P D, "thread id";
    "thread.vtid" Num None P D, "thread id in its pid namespace";
    "thread.cap_effective" Str None P D, "effective capabilities, space separated CAP_* names";
    "thread.cap_permitted" Str None P D, "permitted capabilities";
    "thread.cap_inheritable" Str None P D, "inheritable capabilities";
    // ---- user / group ----
    "user.uid" Num None P D, "effective user id";
    "user.name" Str None PU D, "effective user name";
    "user.loginuid" Num None P D, "audit login uid (-1 if unset)";
    "user.loginname" Str None PU D, "name of the login uid";
    "user.homedir" Str None PU D, "home directory";
    "user.shell" Str None PU D, "login shell";
    "group.gid" Num None P D, "effective group id";
    "group.name" Str None PU D, "effective group name";
    // ---- fd ----
    "fd.num" Num None PF D, "file descriptor number (-1 on failure)";
    "fd.name" Str None PF D, "path, or connection tuple for sockets";
    "fd.nameraw" Str None PF D, "path as passed, not normalized";
    "fd.directory" Str None PF D, "directory of the path";
    "fd.filename" Str None PF D, "last component of the path";
    "fd.typechar" Str None PF D, "type as one character: f 4 6 u p s e ...";
    "fd.type" Str None PF D, "type: file directory ipv4 ipv6 unix pipe ...";
    "fd.l4proto" Str None PF D, "transport: tcp udp icmp raw";
    "fd.sockfamily" Str None PF D, "socket family: ip or unix";
    "fd.sip" Ip None PF D, "server ip";
    "fd.cip" Ip None PF D, "client ip";
    "fd.lip" Ip None PF D, "local ip";
    "fd.rip" Ip None PF D, "remote ip";
    "fd.ip" Ip None PF either("fd.cip", "fd.sip"), "client or server ip";
    "fd.sport" Num None PF D, "server port";
    "fd.cport" Num None PF D, "client port";
    "fd.lport" Num None PF D, "local port";
    "fd.rport" Num None PF D, "remote port";
    "fd.port" Num None PF either("fd.cport", "fd.sport"), "client or server port";
    "fd.snet" IpNet None PF alias("fd.sip"), "server ip, matched against networks";
    "fd.cnet" IpNet None PF alias("fd.cip"), "client ip, matched against networks";
    "fd.lnet" IpNet None PF alias("fd.lip"), "local ip, matched against networks";
    "fd.rnet" IpNet None PF alias("fd.rip"), "remote ip, matched against networks";
    "fd.net" IpNet None PF either("fd.cnet", "fd.snet"), "client or server ip, matched against networks";
    "fd.connected" Bool None PF D, "socket is connected";
    "fd.name_changed" Bool None PF D, "the fd's name changed with this event";
    "fd.is_server" Bool None PF D, "the process is the server end";
    // ---- container ----
    "container.id" Str None C D, "container id, or 'host'";
    "container.name" Str None C D, "container name";
    "container.image" Str None C D, "image name with tag";
    "container.image.repository" Str None C D, "image repository";
    "container.image.tag" Str None C D, "image tag";
    "container.image.id" Str None C D, "image id";
    "container.type" Str None C D, "runtime type";
    "container.privileged" Bool None C D, "container runs privileged";
    "container.start_ts" Num None C D, "container start time, ns since the epoch";
    "container.info" Str None C D, "legacy summary (empty)";
}

/// The most ancestor levels an "any ancestor" check walks.
pub(crate) const MAX_ANCESTORS: u32 = 64;

/// Splits a dotted name into a field and a dotted argument, for fields that take one
/// (`evt.arg.flags` -> (`evt.arg`, `flags`)). Exact names win.
pub(crate) fn resolve_name(name: &str) -> Option<(FieldId, Option<&str>)> {
    if let Some(id) = FieldId::by_name(name) {
        return Some((id, None));
    }
    let mut best: Option<(FieldId, &str)> = None;
    for (i, f) in FIELDS.iter().enumerate() {
        if !matches!(f.arg, ArgKind::IndexOrKey | ArgKind::OptionalKey) {
            continue;
        }
        if let Some(rest) = name.strip_prefix(f.name).and_then(|r| r.strip_prefix('.')) {
            let better = best.is_none_or(|(b, _)| b.name().len() < f.name.len());
            if !rest.is_empty() && better {
                if let Ok(i) = u16::try_from(i) {
                    best = Some((FieldId(i), rest));
                }
            }
        }
    }
    best.map(|(id, rest)| (id, Some(rest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_references_resolve() {
        for (i, f) in FIELDS.iter().enumerate() {
            assert_eq!(
                FieldId::by_name(f.name).map(FieldId::index),
                Some(i),
                "{}",
                f.name
            );
            match f.kind {
                FieldKind::Direct => {}
                FieldKind::Alias(a) => assert!(FieldId::by_name(a).is_some(), "{a}"),
                FieldKind::Either(a, b) => {
                    assert!(FieldId::by_name(a).is_some() && FieldId::by_name(b).is_some())
                }
            }
        }
    }

    #[test]
    fn dotted_arguments() {
        let (id, arg) = resolve_name("evt.arg.flags").expect("evt.arg");
        assert_eq!((id.name(), arg), ("evt.arg", Some("flags")));
        assert_eq!(
            resolve_name("proc.name").map(|(i, a)| (i.name(), a)),
            Some(("proc.name", None))
        );
        assert!(resolve_name("proc.nope").is_none());
        assert!(resolve_name("evt.arg.").is_none());
    }

    #[test]
    fn needs_display() {
        assert_eq!(
            (StateNeeds::PROCESS | StateNeeds::USER).to_string(),
            "process+user"
        );
        assert_eq!(StateNeeds::NONE.to_string(), "none");
    }
}
