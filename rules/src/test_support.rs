//! What the crate's unit tests share: rulesets from YAML text.

use lanner_common::SyscallId;

use crate::{load_str, LoadOptions, Ruleset};

/// The rules in `yaml`, loaded as `t.yaml`.
pub(crate) fn rules(yaml: &str) -> Ruleset {
    load_str("t.yaml", yaml, LoadOptions::new()).expect("rules load")
}

/// A syscall by name.
pub(crate) fn id(name: &str) -> SyscallId {
    SyscallId::from_name(name).expect("a syscall")
}

/// One rule's YAML, with `condition` and placeholders for the rest.
pub(crate) fn rule(name: &str, condition: &str) -> String {
    format!(
        "- rule: {name}\n  desc: d\n  condition: {condition}\n  output: o\n  priority: NOTICE\n"
    )
}
