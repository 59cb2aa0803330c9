//! Evaluation: compiled condition trees run against a [`FieldSource`].
//!
//! Per event the engine asks the source for field values by [`FieldId`]; string values are
//! borrowed (`Value::Str`), so the common path allocates nothing. Lists are pre-compiled to hash
//! sets, string operators work on bytes, `evt.type` tests are bit tests on the event's
//! [`EventCode`], and a field that has no value for this event ([`Value::Missing`]) makes any
//! comparison on it false (as in Falco, where `proc.name != x` is false when there is no name).
//!
//! A macro's expansion is the same tree wherever it is used, so its value for one event is the
//! same in every rule: [`Node::Shared`] marks an expanded macro, and a [`Memo`] keeps the values
//! computed for the current event. The rules one event type brings mostly start with the same
//! macros (`open_read`, `open_write`, `spawned_process`...), which are then tested once per event
//! instead of once per rule.

use rustc_hash::FxHashSet as HashSet;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::net::IpAddr;

use memchr::memmem;

use crate::ast::Transformer;
use crate::events::{EventCode, EventSet};
use crate::fields::{FieldId, MAX_ANCESTORS};
use crate::glob::Glob;

/// A field's argument, as passed to [`FieldSource::get`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldArg<'a> {
    /// No argument.
    None,
    /// A number: ancestor level for `proc.aname[N]` (0 = the process, 1 = parent, ...),
    /// argument position for `evt.arg[N]` (from 0).
    Index(u32),
    /// A name: `evt.arg.flags` / `evt.arg[flags]`, `proc.env[HOME]`.
    Key(&'a str),
}

/// A field's value for one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// The field has no value for this event (no fd, no parent, unknown user...).
    Missing,
    /// Bytes borrowed from the source's state.
    Str(&'a [u8]),
    /// Bytes computed for this request.
    Owned(Vec<u8>),
    /// A number.
    Num(i64),
    /// A boolean.
    Bool(bool),
    /// An IP address.
    Ip(IpAddr),
}

impl Value<'_> {
    /// The value as bytes, if it is a string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Str(s) => Some(s),
            Value::Owned(s) => Some(s),
            _ => None,
        }
    }

    /// Renders the value as Falco prints it (`<NA>` for a missing value).
    pub fn render(&self) -> Cow<'_, str> {
        match self {
            Value::Missing => Cow::Borrowed("<NA>"),
            Value::Str(s) => String::from_utf8_lossy(s),
            Value::Owned(s) => String::from_utf8_lossy(s),
            Value::Num(n) => Cow::Owned(n.to_string()),
            Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Value::Ip(ip) => Cow::Owned(ip.to_string()),
        }
    }

    fn num(&self) -> Option<i64> {
        match self {
            Value::Num(n) => Some(*n),
            Value::Bool(b) => Some(i64::from(*b)),
            Value::Str(_) | Value::Owned(_) => std::str::from_utf8(self.as_bytes()?)
                .ok()?
                .trim()
                .parse()
                .ok(),
            _ => None,
        }
    }
}

/// Where field values come from: the engine's state tracker for a live event, or a test's
/// table. `get` is called only for fields of kind [`FieldKind::Direct`](crate::fields::FieldKind).
pub trait FieldSource {
    /// The value of `field` (with `arg`) for the current event.
    fn get(&self, field: FieldId, arg: &FieldArg<'_>) -> Value<'_>;
}

impl<T: FieldSource + ?Sized> FieldSource for &T {
    fn get(&self, field: FieldId, arg: &FieldArg<'_>) -> Value<'_> {
        (**self).get(field, arg)
    }
}

/// A field argument, owned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ArgOwned {
    None,
    Index(u32),
    Key(Box<str>),
}

impl ArgOwned {
    fn borrow(&self) -> FieldArg<'_> {
        match self {
            ArgOwned::None => FieldArg::None,
            ArgOwned::Index(i) => FieldArg::Index(*i),
            ArgOwned::Key(k) => FieldArg::Key(k),
        }
    }
}

/// A field reference in a compiled condition or output.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldRef {
    pub id: FieldId,
    pub arg: ArgOwned,
    /// Innermost first.
    pub transformers: Box<[Transformer]>,
    /// `proc.aname` without an argument: any ancestor from the parent up.
    pub any_ancestor: bool,
}

impl FieldRef {
    /// The value, transformers applied (for "any ancestor" fields, the parent's).
    pub fn value<'s, S: FieldSource + ?Sized>(&self, src: &'s S) -> Value<'s> {
        let v = if self.any_ancestor {
            src.get(self.id, &FieldArg::Index(1))
        } else {
            src.get(self.id, &self.arg.borrow())
        };
        self.transform(v)
    }

    fn transform<'s>(&self, mut v: Value<'s>) -> Value<'s> {
        for t in self.transformers.iter() {
            v = apply(*t, v);
        }
        v
    }
}

fn apply(t: Transformer, v: Value<'_>) -> Value<'_> {
    match (t, v) {
        (_, Value::Missing) => Value::Missing,
        (Transformer::Len, v) => match v.as_bytes() {
            Some(b) => Value::Num(i64::try_from(b.len()).unwrap_or(i64::MAX)),
            None => Value::Missing,
        },
        (Transformer::ToLower, Value::Str(s)) => Value::Owned(s.to_ascii_lowercase()),
        (Transformer::ToLower, Value::Owned(mut s)) => {
            s.make_ascii_lowercase();
            Value::Owned(s)
        }
        (Transformer::ToUpper, Value::Str(s)) => Value::Owned(s.to_ascii_uppercase()),
        (Transformer::ToUpper, Value::Owned(mut s)) => {
            s.make_ascii_uppercase();
            Value::Owned(s)
        }
        (Transformer::Basename, Value::Str(s)) => Value::Str(basename(s)),
        (Transformer::Basename, Value::Owned(s)) => Value::Owned(basename(&s).to_vec()),
        (_, v) => v,
    }
}

fn basename(s: &[u8]) -> &[u8] {
    match memchr::memrchr(b'/', s) {
        Some(i) => &s[i + 1..],
        None => s,
    }
}

/// Ordering comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    fn test(self, o: Ordering) -> bool {
        match self {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Le => o != Ordering::Greater,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Ge => o != Ordering::Less,
        }
    }
}

/// An IP network (an address is a network of full prefix length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn parse(s: &str) -> Option<IpNet> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().ok().filter(|&p| p <= max)?,
            None => max,
        };
        Some(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            (IpAddr::V4(_), IpAddr::V6(a)) => a
                .to_ipv4_mapped()
                .is_some_and(|a| self.contains(IpAddr::V4(a))),
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

/// What a check tests a value against.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    Exists,
    StrCmp(CmpOp, Box<[u8]>),
    StrIn(HashSet<Box<[u8]>>),
    Contains(Box<memmem::Finder<'static>>),
    IContains(Box<[u8]>),
    StartsWith(Box<[u8]>),
    EndsWith(Box<[u8]>),
    Glob(Glob),
    PMatch(Box<[Box<[u8]>]>),
    NumCmp(CmpOp, i64),
    NumIn(HashSet<i64>),
    BoolEq(bool),
    IpIn(Box<[IpNet]>),
    FieldCmp(CmpOp, Box<FieldRef>),
}

impl Matcher {
    fn test<S: FieldSource + ?Sized>(&self, v: &Value<'_>, src: &S) -> bool {
        match self {
            Matcher::Exists => true,
            Matcher::StrCmp(op, want) => with_bytes(v, |b| op.test(b.cmp(want))),
            Matcher::StrIn(set) => with_bytes(v, |b| set.contains(b)),
            Matcher::Contains(f) => with_bytes(v, |b| f.find(b).is_some()),
            Matcher::IContains(needle) => with_bytes(v, |b| icontains(b, needle)),
            Matcher::StartsWith(p) => with_bytes(v, |b| b.starts_with(p)),
            Matcher::EndsWith(p) => with_bytes(v, |b| b.ends_with(p)),
            Matcher::Glob(g) => with_bytes(v, |b| g.matches(b)),
            Matcher::PMatch(prefixes) => {
                with_bytes(v, |b| prefixes.iter().any(|p| path_prefix(p, b)))
            }
            Matcher::NumCmp(op, n) => v.num().is_some_and(|x| op.test(x.cmp(n))),
            Matcher::NumIn(set) => v.num().is_some_and(|x| set.contains(&x)),
            Matcher::BoolEq(want) => match v {
                Value::Bool(b) => b == want,
                other => other.num().is_some_and(|n| (n != 0) == *want),
            },
            Matcher::IpIn(nets) => match v {
                Value::Ip(ip) => nets.iter().any(|n| n.contains(*ip)),
                other => with_bytes(other, |b| {
                    let ip = std::str::from_utf8(b)
                        .ok()
                        .and_then(|s| s.parse::<IpAddr>().ok());
                    ip.is_some_and(|ip| nets.iter().any(|n| n.contains(ip)))
                }),
            },
            Matcher::FieldCmp(op, other) => {
                let w = other.value(src);
                match (v, &w) {
                    (_, Value::Missing) => false,
                    (Value::Num(a), b) => b.num().is_some_and(|b| op.test(a.cmp(&b))),
                    (Value::Ip(a), Value::Ip(b)) => *op == CmpOp::Eq && a == b,
                    (Value::Bool(a), Value::Bool(b)) => op.test(a.cmp(b)),
                    (a, b) => match (a.as_bytes(), b.as_bytes()) {
                        (Some(a), Some(b)) => op.test(a.cmp(b)),
                        _ => false,
                    },
                }
            }
        }
    }
}

/// Runs `f` on the value's bytes; numbers and booleans are formatted into a stack buffer.
#[inline]
fn with_bytes(v: &Value<'_>, f: impl FnOnce(&[u8]) -> bool) -> bool {
    match v {
        Value::Str(s) => f(s),
        Value::Owned(s) => f(s),
        Value::Num(n) => {
            let mut buf = [0u8; 24];
            let len = fmt_i64(*n, &mut buf);
            f(&buf[buf.len() - len..])
        }
        Value::Bool(b) => f(if *b { b"true" } else { b"false" }),
        Value::Ip(ip) => f(ip.to_string().as_bytes()),
        Value::Missing => false,
    }
}

/// Writes `n` right-aligned into `buf`; returns its length.
fn fmt_i64(n: i64, buf: &mut [u8; 24]) -> usize {
    let mut i = buf.len();
    let mut m = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    buf.len() - i
}

/// ASCII case-insensitive substring test; `needle` is lowercase.
fn icontains(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    hay.windows(needle.len()).any(|w| {
        w.iter()
            .zip(needle)
            .all(|(a, b)| a.to_ascii_lowercase() == *b)
    })
}

/// `pmatch`: `value` is `prefix` or a path below it.
fn path_prefix(prefix: &[u8], value: &[u8]) -> bool {
    value.starts_with(prefix)
        && (value.len() == prefix.len()
            || prefix.ends_with(b"/")
            || value.get(prefix.len()) == Some(&b'/'))
}

/// One comparison.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub field: FieldRef,
    pub matcher: Matcher,
    /// `!=`: true when the value is present and does not match.
    pub negate: bool,
}

impl Check {
    fn eval<S: FieldSource + ?Sized>(&self, src: &S) -> bool {
        if !self.field.any_ancestor {
            let v = self.field.value(src);
            if v == Value::Missing {
                return false;
            }
            return self.matcher.test(&v, src) != self.negate;
        }
        // Any ancestor: `=`-like operators hold if some ancestor matches; `!=` if none does
        // (and there is at least one ancestor).
        let mut seen = false;
        for level in 1..=MAX_ANCESTORS {
            let v = self
                .field
                .transform(src.get(self.field.id, &FieldArg::Index(level)));
            if v == Value::Missing {
                break;
            }
            seen = true;
            if self.matcher.test(&v, src) {
                return !self.negate;
            }
        }
        seen && self.negate
    }
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Not(Box<Node>),
    /// The event's type is in the set.
    EventType(Box<EventSet>),
    Check(Box<Check>),
    /// An expanded macro, whose value a [`Memo`] keeps for the event in its slot.
    Shared(u32, Box<Node>),
}

impl Node {
    pub fn eval<S: FieldSource + ?Sized>(&self, ev: EventCode, src: &S, memo: &mut Memo) -> bool {
        match self {
            Node::And(items) => items.iter().all(|n| n.eval(ev, src, memo)),
            Node::Or(items) => items.iter().any(|n| n.eval(ev, src, memo)),
            Node::Not(n) => !n.eval(ev, src, memo),
            Node::EventType(set) => set.contains(ev),
            Node::Check(c) => c.eval(src),
            Node::Shared(slot, inner) => match memo.get(*slot) {
                Some(value) => value,
                None => {
                    let value = inner.eval(ev, src, memo);
                    memo.set(*slot, value);
                    value
                }
            },
        }
    }
}

/// The values of shared sub-conditions (expanded macros) computed for the current event.
///
/// Each slot holds `stamp << 1 | value`, where `stamp` is the event the value was computed for,
/// so moving to the next event is one increment, not a clear. A memo with fewer slots than the
/// ruleset (such as `Memo::default()`) computes what it cannot keep.
#[derive(Debug, Clone, Default)]
pub struct Memo {
    stamp: u32,
    slots: Vec<u32>,
}

impl Memo {
    /// The stamp after which the slots are cleared and stamps start over.
    const LAST_STAMP: u32 = u32::MAX >> 1;

    /// A memo for a ruleset with `slots` shared sub-conditions.
    pub fn new(slots: usize) -> Memo {
        Memo {
            stamp: 1,
            slots: vec![0; slots],
        }
    }

    /// Forgets the values of the previous event (call before evaluating a new event's rules).
    #[inline]
    pub fn next_event(&mut self) {
        if self.stamp == Self::LAST_STAMP {
            self.slots.fill(0);
            self.stamp = 0;
        }
        self.stamp += 1;
    }

    #[inline]
    fn get(&self, slot: u32) -> Option<bool> {
        let kept = *self.slots.get(slot as usize)?;
        (kept >> 1 == self.stamp).then_some(kept & 1 == 1)
    }

    #[inline]
    fn set(&mut self, slot: u32, value: bool) {
        let stamp = self.stamp;
        if let Some(kept) = self.slots.get_mut(slot as usize) {
            *kept = stamp << 1 | u32::from(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_like_display() {
        for n in [0, 7, -1, 42, i64::MIN, i64::MAX] {
            let mut buf = [0u8; 24];
            let len = fmt_i64(n, &mut buf);
            assert_eq!(&buf[24 - len..], n.to_string().as_bytes());
        }
    }

    #[test]
    fn nets() {
        let n = IpNet::parse("10.0.0.0/8").expect("net");
        assert!(n.contains("10.1.2.3".parse().expect("ip")));
        assert!(!n.contains("11.1.2.3".parse().expect("ip")));
        assert!(IpNet::parse("0.0.0.0/0")
            .expect("any")
            .contains("1.2.3.4".parse().expect("ip")));
        assert!(IpNet::parse("10.0.0.0/33").is_none());
        let one = IpNet::parse("::1").expect("v6");
        assert!(one.contains("::1".parse().expect("ip")));
    }

    #[test]
    fn a_memo_keeps_values_for_one_event_only() {
        let mut memo = Memo::new(2);
        assert_eq!(memo.get(0), None);
        memo.set(0, true);
        memo.set(1, false);
        assert_eq!((memo.get(0), memo.get(1)), (Some(true), Some(false)));
        memo.next_event();
        assert_eq!((memo.get(0), memo.get(1)), (None, None));
        // Slots it does not have are never kept.
        memo.set(7, true);
        assert_eq!(memo.get(7), None);
        // Stamps start over without reviving old values.
        memo.set(0, true);
        memo.stamp = Memo::LAST_STAMP;
        memo.next_event();
        assert_eq!(memo.get(0), None);
    }

    #[test]
    fn helpers() {
        assert!(icontains(b"Hello WORLD", b"o wor"));
        assert!(!icontains(b"abc", b"abcd"));
        assert!(path_prefix(b"/etc", b"/etc/passwd") && path_prefix(b"/etc", b"/etc"));
        assert!(!path_prefix(b"/etc", b"/etcx"));
        assert_eq!(basename(b"/usr/bin/ls"), b"ls");
    }
}
