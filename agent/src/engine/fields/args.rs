//! Syscall arguments as rules see them in `evt.arg.NAME` and `evt.args`: Falco's renderings
//! (flag and constant names, `AT_FDCWD`, `ip:port`, mode bits by name), so that upstream
//! conditions such as `evt.arg.flags contains O_TRUNC` or `evt.arg.mode contains S_ISUID` hold.

use std::cell::RefCell;
use std::fmt::Write as _;

use rustc_hash::FxHashMap as HashMap;

use lanner_common::decode::{consts, flags, signal};
use lanner_common::event::{Arg, ArgValue};
use lanner_common::spec::{FlagKind, ParamType};
use lanner_rules::Value;

/// Mode bits in the order libsinsp's table names them.
const MODE_BITS: [(u32, &str); 12] = [
    (0o1, "S_IXOTH"),
    (0o2, "S_IWOTH"),
    (0o4, "S_IROTH"),
    (0o10, "S_IXGRP"),
    (0o20, "S_IWGRP"),
    (0o40, "S_IRGRP"),
    (0o100, "S_IXUSR"),
    (0o200, "S_IWUSR"),
    (0o400, "S_IRUSR"),
    (0o1000, "S_ISVTX"),
    (0o2000, "S_ISGID"),
    (0o4000, "S_ISUID"),
];

/// `S_IXOTH|S_IROTH|...`, or `0` with no bit set.
fn mode_names(mode: u32) -> String {
    let mut out = String::new();
    for (bit, name) in MODE_BITS {
        if mode & bit != 0 {
            if !out.is_empty() {
                out.push('|');
            }
            out.push_str(name);
        }
    }
    if out.is_empty() {
        out.push('0');
    }
    out
}

/// Distinct flag values rendered and kept, at most (a few hundred are seen in practice).
const MAX_RENDERED_FLAGS: usize = 4096;

thread_local! {
    /// Flag values already rendered, so that `evt.arg.flags contains O_TRUNC`, evaluated on
    /// every open for writing, does not format (allocate) a string each time. Workloads use few
    /// distinct combinations; the strings are leaked, and bounded by `MAX_RENDERED_FLAGS`.
    static RENDERED_FLAGS: RefCell<HashMap<(FlagKind, u64), &'static str>> =
        RefCell::new(HashMap::default());
}

fn flag_names(kind: FlagKind, bits: u64) -> Value<'static> {
    RENDERED_FLAGS.with(|rendered| {
        let mut rendered = rendered.borrow_mut();
        if let Some(&names) = rendered.get(&(kind, bits)) {
            return Value::Str(names.as_bytes());
        }
        let names = flags::format(kind, bits);
        if rendered.len() >= MAX_RENDERED_FLAGS {
            return Value::Owned(names.into_bytes());
        }
        let names: &'static str = Box::leak(names.into_boxed_str());
        rendered.insert((kind, bits), names);
        Value::Str(names.as_bytes())
    })
}

/// One argument's value.
pub fn value(arg: &Arg) -> Value<'_> {
    match &arg.value {
        ArgValue::Bytes(b) | ArgValue::Truncated(b) => Value::Str(b),
        ArgValue::SockAddr(addr) => Value::Owned(addr.to_string().into_bytes()),
        ArgValue::FdPair([a, b]) => Value::Owned(format!("[{a},{b}]").into_bytes()),
        ArgValue::Argv(list) => Value::Owned(list.join(&b' ')),
        ArgValue::Int(v) => match arg.ty {
            Some(ParamType::DirFd) if *v == i64::from(libc::AT_FDCWD) => Value::Str(b"AT_FDCWD"),
            Some(ParamType::Signal) => Value::Owned(signal::name(*v as i32).into_bytes()),
            Some(ParamType::Const(kind)) => match consts::name(kind, *v) {
                Some(name) => Value::Str(name.as_bytes()),
                None => Value::Num(*v),
            },
            _ => Value::Num(*v),
        },
        ArgValue::UInt(v) => match arg.ty {
            Some(ParamType::Flags(kind)) => flag_names(kind, *v),
            Some(ParamType::Mode) => Value::Owned(mode_names(*v as u32).into_bytes()),
            Some(ParamType::Ptr) | None => Value::Owned(format!("{v:#x}").into_bytes()),
            _ => i64::try_from(*v).map_or(Value::Missing, Value::Num),
        },
        // A NULL pointer or memory the driver could not read: no value.
        _ => Value::Missing,
    }
}

/// `evt.args`: `name=value` pairs, space separated.
pub fn all(args: &[Arg]) -> Vec<u8> {
    let mut out = String::new();
    for arg in args {
        if !out.is_empty() {
            out.push(' ');
        }
        let _ = write!(out, "{}={}", arg.name, value(arg).render());
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lanner_common::spec::ConstKind;

    fn arg(ty: ParamType, value: ArgValue) -> Arg {
        Arg {
            name: "x",
            ty: Some(ty),
            value,
        }
    }

    #[test]
    fn renders_like_falco() {
        let open = arg(
            ParamType::Flags(FlagKind::Open),
            ArgValue::UInt((libc::O_WRONLY | libc::O_TRUNC) as u64),
        );
        assert!(value(&open).render().contains("O_TRUNC"));
        let mode = arg(ParamType::Mode, ArgValue::UInt(0o4755));
        assert_eq!(
            value(&mode).render(),
            "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID"
        );
        let domain = arg(
            ParamType::Const(ConstKind::SocketDomain),
            ArgValue::Int(i64::from(libc::AF_PACKET)),
        );
        assert_eq!(value(&domain), Value::Str(b"AF_PACKET"));
        let dirfd = arg(ParamType::DirFd, ArgValue::Int(i64::from(libc::AT_FDCWD)));
        assert_eq!(value(&dirfd), Value::Str(b"AT_FDCWD"));
        assert_eq!(value(&arg(ParamType::Path, ArgValue::Null)), Value::Missing);
        assert_eq!(
            all(&[arg(ParamType::Fd, ArgValue::Int(3)), dirfd]),
            b"x=3 x=AT_FDCWD"
        );
    }
}
