//! Which results of a syscall the rules can match: for `dup` under a rule that requires
//! `evt.rawres in (0, 1, 2)`, only 0 to 2. A driver may then leave out calls with other results
//! (the eBPF driver in the kernel, before writing a record), which no rule could match.
//!
//! The analysis is conservative: a condition says nothing about the result unless a check on
//! `evt.rawres` is one of the terms every way through it must pass.

use crate::eval::{CmpOp, Matcher, Node};
use crate::events::EventCode;

/// What a condition requires of the raw result, for events of one type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResultNeed {
    /// The condition cannot hold for this event type at all.
    Never,
    /// It can hold only when the result is in `lo..=hi`.
    Range(i64, i64),
    /// It can hold whatever the result.
    Any,
}

impl ResultNeed {
    fn and(self, other: ResultNeed) -> ResultNeed {
        match (self, other) {
            (ResultNeed::Never, _) | (_, ResultNeed::Never) => ResultNeed::Never,
            (ResultNeed::Any, x) | (x, ResultNeed::Any) => x,
            (ResultNeed::Range(a, b), ResultNeed::Range(c, d)) => {
                let (lo, hi) = (a.max(c), b.min(d));
                if lo > hi {
                    ResultNeed::Never
                } else {
                    ResultNeed::Range(lo, hi)
                }
            }
        }
    }

    /// The hull: a range that covers both (a superset when they are apart, which is safe).
    pub(crate) fn or(self, other: ResultNeed) -> ResultNeed {
        match (self, other) {
            (ResultNeed::Never, x) | (x, ResultNeed::Never) => x,
            (ResultNeed::Any, _) | (_, ResultNeed::Any) => ResultNeed::Any,
            (ResultNeed::Range(a, b), ResultNeed::Range(c, d)) => {
                ResultNeed::Range(a.min(c), b.max(d))
            }
        }
    }
}

/// What `node` requires of the result of an event of type `ev`.
pub(crate) fn result_need(node: &Node, ev: EventCode) -> ResultNeed {
    match node {
        Node::And(items) => items
            .iter()
            .fold(ResultNeed::Any, |need, n| need.and(result_need(n, ev))),
        Node::Or(items) => items
            .iter()
            .fold(ResultNeed::Never, |need, n| need.or(result_need(n, ev))),
        // A negation can hold for any result as far as this analysis knows.
        Node::Not(_) => ResultNeed::Any,
        Node::Shared(_, inner) => result_need(inner, ev),
        Node::EventType(set) => {
            if set.contains(ev) {
                ResultNeed::Any
            } else {
                ResultNeed::Never
            }
        }
        Node::Check(check) => {
            let plain = !check.negate
                && !check.field.any_ancestor
                && check.field.transformers.is_empty()
                && check.field.id.name() == "evt.rawres";
            if !plain {
                return ResultNeed::Any;
            }
            match &check.matcher {
                Matcher::NumIn(set) => match (set.iter().min(), set.iter().max()) {
                    (Some(&lo), Some(&hi)) => ResultNeed::Range(lo, hi),
                    _ => ResultNeed::Never,
                },
                Matcher::NumCmp(op, n) => match op {
                    CmpOp::Eq => ResultNeed::Range(*n, *n),
                    CmpOp::Lt => ResultNeed::Range(i64::MIN, n.saturating_sub(1)),
                    CmpOp::Le => ResultNeed::Range(i64::MIN, *n),
                    CmpOp::Gt => ResultNeed::Range(n.saturating_add(1), i64::MAX),
                    CmpOp::Ge => ResultNeed::Range(*n, i64::MAX),
                },
                _ => ResultNeed::Any,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::{id, rule, rules};

    #[test]
    fn a_rawres_term_every_match_needs_confines_the_result() {
        let set = rules(&rule(
            "r",
            "evt.type in (dup, dup2, dup3) and evt.rawres in (0, 1, 2) and proc.name != x",
        ));
        assert_eq!(set.result_range(id("dup")), Some((0, 2)));
        assert_eq!(set.result_range(id("dup3")), Some((0, 2)));
        assert_eq!(set.result_range(id("openat")), None, "no rule matches it");
    }

    #[test]
    fn comparisons_give_half_open_ranges_and_two_rules_their_hull() {
        let set = rules(
            &[
                rule("a", "evt.type = dup and evt.rawres = 0"),
                rule(
                    "b",
                    "evt.type = dup and evt.rawres > 9 and evt.rawres <= 20",
                ),
                rule("c", "evt.type = socket and evt.rawres < 0"),
            ]
            .concat(),
        );
        assert_eq!(set.result_range(id("dup")), Some((0, 20)));
        assert_eq!(set.result_range(id("socket")), Some((i64::MIN, -1)));
    }

    #[test]
    fn a_rule_that_can_match_without_the_term_confines_nothing() {
        for condition in [
            // One branch needs any result.
            "evt.type = dup and (evt.rawres = 1 or proc.name = sh)",
            // A negation, an inequality, another field: not understood, so any result.
            "evt.type = dup and not evt.rawres = 1",
            "evt.type = dup and evt.rawres != 1",
            "evt.type = dup and evt.res = SUCCESS",
        ] {
            let set = rules(&rule("r", condition));
            assert_eq!(set.result_range(id("dup")), None, "{condition}");
        }
        let set = rules(
            &[
                rule("a", "evt.type = dup and evt.rawres = 0"),
                rule("b", "evt.type in (dup, openat) and proc.name = sh"),
            ]
            .concat(),
        );
        assert_eq!(set.result_range(id("dup")), None, "rule b needs every dup");
    }

    #[test]
    fn branches_for_other_event_types_do_not_count() {
        let set = rules(&rule(
            "r",
            "(evt.type = dup and evt.rawres = 2) or (evt.type = openat and proc.name = sh)",
        ));
        assert_eq!(set.result_range(id("dup")), Some((2, 2)));
        assert_eq!(set.result_range(id("openat")), None);
    }

    #[test]
    fn the_embedded_style_redirect_rule_needs_only_standard_streams() {
        let set = rules(
            "- macro: dup\n  condition: (evt.type in (dup, dup2, dup3))\n\
             - list: allowed\n  items: [a]\n\
             - rule: Redirect\n  desc: d\n  condition: >\n    dup\n    and evt.rawres in (0, 1, 2)\n    \
             and fd.type in (\"ipv4\", \"ipv6\")\n    and not proc.name in (allowed)\n  \
             output: o\n  priority: NOTICE\n",
        );
        assert_eq!(set.result_range(id("dup2")), Some((0, 2)));
    }
}
