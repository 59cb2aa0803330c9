#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = lanner_rules::check_syntax(s);
        let yaml = format!(
            "- macro: m\n  condition: proc.name = x\n- rule: r\n  desc: d\n  condition: {s:?}\n  output: o\n  priority: INFO\n"
        );
        let _ = lanner_rules::load_str("fuzz.yaml", &yaml, lanner_rules::LoadOptions::new());
        let _ = lanner_rules::load_str("fuzz.yaml", s, lanner_rules::LoadOptions::new());
    }
});
