//! Alerts in Falco's shapes: the JSON line (what Falcosidekick and other Falco consumers read)
//! and the text line.

use lanner_common::time::WallClock;
use lanner_rules::{CompiledRule, FieldSource, Priority, Value};
use serde::Serialize;

/// One alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Boot-clock ns of the event.
    pub ts: u64,
    pub rule: String,
    pub priority: Priority,
    pub source: String,
    pub tags: Vec<String>,
    /// The rule's output with `%field`s substituted.
    pub output: String,
    /// Every field of the output, with its value (`null` when unknown).
    pub output_fields: Vec<(String, serde_json::Value)>,
}

fn json_value(value: Value<'_>) -> serde_json::Value {
    match value {
        Value::Missing => serde_json::Value::Null,
        Value::Num(n) => n.into(),
        Value::Bool(b) => b.into(),
        other => serde_json::Value::String(other.render().into_owned()),
    }
}

impl Alert {
    /// The alert `rule` raises for the event `source` shows.
    pub fn new<S: FieldSource + ?Sized>(ts: u64, rule: &CompiledRule, source: &S) -> Alert {
        Alert {
            ts,
            rule: rule.name.clone(),
            priority: rule.priority,
            source: rule.source.clone(),
            tags: rule.tags.clone(),
            output: rule.output.render(source),
            output_fields: rule
                .output
                .fields()
                .iter()
                .map(|f| (f.name.clone(), json_value(f.value(source))))
                .collect(),
        }
    }

    /// `HH:MM:SS.nnnnnnnnn: Priority output`, Falco's text line (UTC).
    pub fn text(&self, clock: &WallClock) -> String {
        let time = clock.rfc3339(self.ts);
        // "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" -> "HH:MM:SS.nnnnnnnnn"
        let clock_part = time.get(11..time.len().saturating_sub(1)).unwrap_or(&time);
        format!("{clock_part}: {} {}", self.priority, self.output)
    }

    /// Falco's JSON alert.
    pub fn json(&self, clock: &WallClock, hostname: &str) -> String {
        #[derive(Serialize)]
        struct Wire<'a> {
            hostname: &'a str,
            output: String,
            output_fields: serde_json::Map<String, serde_json::Value>,
            priority: &'a str,
            rule: &'a str,
            source: &'a str,
            tags: &'a [String],
            time: String,
        }
        let wire = Wire {
            hostname,
            output: self.text(clock),
            output_fields: self.output_fields.iter().cloned().collect(),
            priority: self.priority.name(),
            rule: &self.rule,
            source: &self.source,
            tags: &self.tags,
            time: clock.rfc3339(self.ts),
        };
        serde_json::to_string(&wire).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}
