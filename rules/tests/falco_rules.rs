//! Keeps the upstream Falco ruleset loading (the copy vendored in agent/rules, unchanged from
//! upstream).

use lanner_rules::{load_files, LoadOptions};

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../agent/rules/falco_rules.yaml"
);

#[test]
fn falco_rules_yaml_loads() {
    let ruleset = load_files(&[PATH], LoadOptions::new()).expect("falco_rules.yaml loads");
    let s = ruleset.summary();
    println!("{s}");
    for (ev, rules) in ruleset.why() {
        println!("{ev}: {}", rules.join(", "));
    }
    assert_eq!(s.compiled + s.skipped.len(), 25, "{s}");
    assert!(s.compiled >= 23, "{s}");
}

/// A tiny field source: (field name, argument) -> string or number.
struct Src(Vec<(&'static str, &'static str, Val)>);

#[derive(Clone, Copy)]
enum Val {
    S(&'static str),
    N(i64),
    B(bool),
}

impl lanner_rules::FieldSource for Src {
    fn get(
        &self,
        field: lanner_rules::FieldId,
        arg: &lanner_rules::FieldArg<'_>,
    ) -> lanner_rules::Value<'_> {
        use lanner_rules::{FieldArg, Value};
        let arg = match arg {
            FieldArg::None => String::new(),
            FieldArg::Index(i) => i.to_string(),
            FieldArg::Key(k) => (*k).to_owned(),
        };
        match self
            .0
            .iter()
            .find(|(f, a, _)| *f == field.name() && *a == arg)
        {
            Some((_, _, Val::S(s))) => Value::Str(s.as_bytes()),
            Some((_, _, Val::N(n))) => Value::Num(*n),
            Some((_, _, Val::B(b))) => Value::Bool(*b),
            None => Value::Missing,
        }
    }
}

#[test]
fn falco_rules_evaluate() {
    use lanner_rules::event_type_by_name;
    use Val::{B, N, S};
    let rs = load_files(&[PATH], LoadOptions::new()).expect("falco_rules.yaml loads");
    let fired = |ev: &str, src: &Src| -> Vec<String> {
        let ev = event_type_by_name(ev).expect("event type");
        rs.matching(ev, src).map(|r| r.name.clone()).collect()
    };

    // cat reading /etc/shadow on the host.
    let mut shadow = vec![
        ("evt.is_open_read", "", B(true)),
        ("fd.typechar", "", S("f")),
        ("fd.num", "", N(3)),
        ("fd.name", "", S("/etc/shadow")),
        ("fd.directory", "", S("/etc")),
        ("proc.name", "", S("cat")),
        ("proc.pname", "", S("bash")),
        ("proc.cmdline", "", S("cat /etc/shadow")),
        ("proc.aname", "1", S("bash")),
        ("proc.aname", "2", S("sshd")),
        ("container.id", "", S("host")),
        ("evt.num", "", N(7)),
        ("user.name", "", S("root")),
    ];
    assert_eq!(
        fired("openat", &Src(shadow.clone())),
        ["Read sensitive file untrusted"]
    );
    assert!(
        fired("close", &Src(shadow.clone())).is_empty(),
        "close is not in the rule's interest"
    );
    shadow[5] = ("proc.name", "", S("sshd"));
    assert!(
        fired("openat", &Src(shadow)).is_empty(),
        "sshd is a trusted reader"
    );

    // An interactive shell in a container, as `kubectl exec -it` starts it.
    let shell = Src(vec![
        ("container.id", "", S("0123456789ab")),
        ("proc.name", "", S("bash")),
        ("proc.tty", "", N(34816)),
        ("proc.pname", "", S("runc:[1:CHILD]")),
        ("evt.num", "", N(9)),
        ("proc.aname", "1", S("runc:[1:CHILD]")),
    ]);
    assert_eq!(fired("execve", &shell), ["Terminal shell in container"]);

    // Truncating a log file.
    let truncate = Src(vec![
        ("evt.is_open_write", "", B(true)),
        ("fd.typechar", "", S("f")),
        ("fd.num", "", N(4)),
        ("fd.name", "", S("/var/log/auth.log")),
        ("fd.directory", "", S("/var/log")),
        ("fd.filename", "", S("auth.log")),
        ("evt.arg", "flags", S("O_WRONLY|O_TRUNC")),
        ("proc.name", "", S("sh")),
        ("evt.num", "", N(11)),
        ("container.id", "", S("host")),
    ]);
    assert_eq!(fired("open", &truncate), ["Clear Log Activities"]);

    // Outputs carry their fields.
    let r = rs.rule_by_name("Clear Log Activities").expect("rule");
    let out = r.output.render(&truncate);
    assert!(
        out.starts_with("Log files were tampered | file=/var/log/auth.log evt_type=<NA>"),
        "{out}"
    );
    assert!(r.output.fields().iter().any(|f| f.name == "proc.cmdline"));
}
