//! Alerts in Falco's shapes: the JSON line that Falcosidekick and other Falco consumers read,
//! and the text line.

use lanner_common::time::WallClock;
use lanner_rules::{CompiledRule, FieldSource, Priority, Value};
use serde::Serialize;

/// One alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Boot-clock ns of the event.
    pub ts: u64,
    /// The rule's name.
    pub rule: String,
    pub priority: Priority,
    /// Event source (`syscall`).
    pub source: String,
    pub tags: Vec<String>,
    /// The rule's output with its `%field`s substituted.
    pub output: String,
    /// Every field of the output with its value (`null` when unknown), plus `evt.time`, as
    /// Falco sends them.
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
    /// The alert `rule` raises for the event `fields` shows, which happened at `ts`.
    pub fn new<S: FieldSource + ?Sized>(
        ts: u64,
        clock: &WallClock,
        rule: &CompiledRule,
        fields: &S,
    ) -> Alert {
        let template = rule.output.fields();
        let mut output_fields = Vec::with_capacity(template.len() + 1);
        // Falco's output starts with `%evt.time`, so its output_fields always carry it, as
        // Unix ns; consumers (Falcosidekick among them) expect at least one field.
        output_fields.push((
            "evt.time".to_owned(),
            serde_json::Value::from(clock.unix_ns(ts)),
        ));
        for field in template {
            if field.name != "evt.time" {
                output_fields.push((field.name.clone(), json_value(field.value(fields))));
            }
        }
        Alert {
            ts,
            rule: rule.name.clone(),
            priority: rule.priority,
            source: rule.source.clone(),
            tags: rule.tags.clone(),
            output: rule.output.render(fields),
            output_fields,
        }
    }

    /// Adds fields beyond the rule's output (as Falco's `append_output` does); a field the
    /// rule's output has already keeps the rule's value.
    pub fn add_fields(&mut self, fields: Vec<(String, serde_json::Value)>) {
        for (name, value) in fields {
            if !self.output_fields.iter().any(|(n, _)| *n == name) {
                self.output_fields.push((name, value));
            }
        }
    }

    /// `HH:MM:SS.nnnnnnnnn: Priority output`: Falco's text line (UTC).
    pub fn text(&self, clock: &WallClock) -> String {
        let time = clock.rfc3339(self.ts);
        // "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" -> "HH:MM:SS.nnnnnnnnn"
        let time_of_day = time.get(11..time.len().saturating_sub(1)).unwrap_or(&time);
        format!("{time_of_day}: {} {}", self.priority, self.output)
    }

    /// Falco's JSON alert, one line: `time`, `rule`, `priority`, `source`, `hostname`, `tags`,
    /// `output` (the text line) and `output_fields`.
    pub fn json(&self, clock: &WallClock, hostname: &str) -> String {
        // Keys in alphabetical order, as Falco writes them.
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
        // Sorted by name, as Falco writes them (the map keeps insertion order: the crate is
        // built with serde_json's `preserve_order` for `lanner fargate patch`).
        let mut fields = self.output_fields.clone();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        let wire = Wire {
            hostname,
            output: self.text(clock),
            output_fields: fields.into_iter().collect(),
            priority: self.priority.name(),
            rule: &self.rule,
            source: &self.source,
            tags: &self.tags,
            time: clock.rfc3339(self.ts),
        };
        // Serializing strings, numbers and maps of them cannot fail; were it to, the line
        // still says which rule fired.
        serde_json::to_string(&wire).unwrap_or_else(|e| {
            format!(
                "{{\"rule\":{},\"error\":{}}}",
                serde_json::Value::from(self.rule.as_str()),
                serde_json::Value::from(e.to_string())
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
        Alert {
            ts: 0,
            rule: "R".into(),
            priority: Priority::Informational,
            source: "syscall".into(),
            tags: vec!["t".into()],
            output: "x=1".into(),
            output_fields: vec![
                ("evt.time".into(), 5u64.into()),
                ("proc.name".into(), "cat".into()),
                ("fd.name".into(), serde_json::Value::Null),
            ],
        }
    }

    #[test]
    fn text_line_is_time_priority_output() {
        let clock = WallClock::new();
        let line = alert().text(&clock);
        let (time, rest) = line.split_once(": ").expect("separator");
        assert_eq!(time.len(), "HH:MM:SS.nnnnnnnnn".len(), "{line}");
        assert_eq!(rest, "Informational x=1");
    }

    #[test]
    fn json_has_what_falcosidekick_requires() {
        let clock = WallClock::new();
        let json: serde_json::Value =
            serde_json::from_str(&alert().json(&clock, "h")).expect("JSON");
        assert_eq!(json["rule"], "R");
        assert_eq!(json["priority"], "Informational");
        assert_eq!(json["source"], "syscall");
        assert_eq!(json["hostname"], "h");
        assert_eq!(json["tags"][0], "t");
        assert_eq!(json["output_fields"]["proc.name"], "cat");
        assert!(json["output_fields"]["fd.name"].is_null());
        assert!(json["output"]
            .as_str()
            .is_some_and(|o| o.ends_with("Informational x=1")));
        let time = json["time"].as_str().expect("time");
        // 2026-11-28T15:41:07.123456789Z
        assert_eq!(time.len(), 30, "{time}");
        assert!(time.ends_with('Z'));
    }
}
