//! Malformed input never panics: a small deterministic fuzz over conditions and rules files
//! (the cargo-fuzz target in `fuzz/` does the same at scale).

use lanner_rules::{check_syntax, load_str, LoadOptions};

/// xorshift, so the test needs no dependency and is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const TOKENS: &[&str] = &[
    "(",
    ")",
    " and ",
    " or ",
    "not ",
    "proc.name",
    "proc.aname[2]",
    "evt.type",
    "fd.num",
    "=",
    "!=",
    "<",
    " in ",
    " contains ",
    " glob ",
    " exists",
    " pmatch ",
    "'a",
    "\"b\"",
    "'",
    "\"",
    "\\",
    ",",
    "x",
    "open",
    "m",
    "l",
    "[",
    "]",
    "tolower(",
    "val(",
    "-1",
    "/etc/*",
    "é",
    "\n",
    "%",
    "evt.arg.flags",
    "fd.ip",
    "10.0.0.0/8",
];

#[test]
fn random_conditions_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let n = (rng.next() % 12) as usize;
        let cond: String = (0..n).map(|_| rng.pick(TOKENS)).collect();
        let _ = check_syntax(&cond);
        let yaml = format!(
            "- list: l\n  items: [a, b]\n- macro: m\n  condition: proc.name = x\n- rule: r\n  desc: d\n  condition: {:?}\n  output: \"%proc.name {}\"\n  priority: INFO\n",
            cond, cond.replace(['"', '\\', '\n'], "")
        );
        let _ = load_str("f.yaml", &yaml, LoadOptions::new());
    }
}

#[test]
fn pathological_inputs_are_errors() {
    let deep = format!(
        "- list: l\n  items: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(load_str("f.yaml", &deep, LoadOptions::new()).is_err());
    // Each macro uses the previous one twice: 2^40 nodes if expanded naively.
    let mut y = String::from("- macro: m0\n  condition: proc.name = x\n");
    for i in 1..=40 {
        y += &format!("- macro: m{i}\n  condition: m{p} or m{p}\n", p = i - 1);
    }
    y += "- rule: r\n  desc: d\n  condition: m40\n  output: o\n  priority: INFO\n";
    let rs = load_str("f.yaml", &y, LoadOptions::new()).expect("skipped, not fatal");
    assert_eq!(rs.summary().skipped.len(), 1);
    // A long chain of macros.
    let mut y = String::from("- macro: m0\n  condition: proc.name = x\n");
    for i in 1..=5000 {
        y += &format!("- macro: m{i}\n  condition: m{}\n", i - 1);
    }
    assert!(
        load_str("f.yaml", &y, LoadOptions::new()).is_ok(),
        "unused: fine"
    );
    y += "- rule: r\n  desc: d\n  condition: m5000\n  output: o\n  priority: INFO\n";
    assert!(load_str("f.yaml", &y, LoadOptions::new()).is_err());
    // The same chain defined the other way round.
    let mut y = String::new();
    for i in (1..=5000).rev() {
        y += &format!("- macro: m{i}\n  condition: m{}\n", i - 1);
    }
    y += "- macro: m0\n  condition: proc.name = x\n";
    assert!(load_str("f.yaml", &y, LoadOptions::new()).is_err());
}

#[test]
fn random_yaml_never_panics() {
    let mut rng = Rng(42);
    let parts = [
        "- ",
        "rule: ",
        "macro: ",
        "list: ",
        "items: ",
        "condition: ",
        "[",
        "]",
        "{",
        "}",
        "\n",
        "  ",
        ":",
        "'",
        "\"",
        "&a ",
        "*a",
        "override:",
        "append: true",
        "x",
    ];
    for _ in 0..3000 {
        let n = (rng.next() % 20) as usize;
        let y: String = (0..n).map(|_| rng.pick(&parts)).collect();
        let _ = load_str("f.yaml", &y, LoadOptions::new());
    }
}
