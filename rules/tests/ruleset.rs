//! Loader, compiler, interest and evaluation tests through the public API.

use std::collections::HashMap;

use lanner_common::SyscallId;
use lanner_rules::{
    event_type_by_name, load_str, Error, EventCode, FieldArg, FieldId, FieldSource, LoadOptions,
    Loader, NonSyscall, Priority, Ruleset, Value,
};

/// A tiny field source: (field name, argument) -> value.
#[derive(Default)]
struct Src {
    vals: HashMap<(String, String), Val>,
}

enum Val {
    S(String),
    N(i64),
    B(bool),
    Ip(std::net::IpAddr),
}

impl Src {
    fn with(mut self, field: &str, v: Val) -> Self {
        let (name, arg) = match field.split_once('[') {
            Some((n, a)) => (n.to_owned(), a.trim_end_matches(']').to_owned()),
            None => (field.to_owned(), String::new()),
        };
        self.vals.insert((name, arg), v);
        self
    }
    fn s(self, field: &str, v: &str) -> Self {
        self.with(field, Val::S(v.into()))
    }
    fn n(self, field: &str, v: i64) -> Self {
        self.with(field, Val::N(v))
    }
    fn b(self, field: &str, v: bool) -> Self {
        self.with(field, Val::B(v))
    }
}

impl FieldSource for Src {
    fn get(&self, field: FieldId, arg: &FieldArg<'_>) -> Value<'_> {
        let arg = match arg {
            FieldArg::None => String::new(),
            FieldArg::Index(i) => i.to_string(),
            FieldArg::Key(k) => (*k).to_owned(),
        };
        match self.vals.get(&(field.name().to_owned(), arg)) {
            Some(Val::S(s)) => Value::Str(s.as_bytes()),
            Some(Val::N(n)) => Value::Num(*n),
            Some(Val::B(b)) => Value::Bool(*b),
            Some(Val::Ip(ip)) => Value::Ip(*ip),
            None => Value::Missing,
        }
    }
}

fn ev(name: &str) -> EventCode {
    event_type_by_name(name).expect(name)
}

fn load(yaml: &str) -> Ruleset {
    load_str("t.yaml", yaml, LoadOptions::new()).unwrap_or_else(|e| panic!("load failed: {e}"))
}

fn load_err(yaml: &str) -> Error {
    match load_str("t.yaml", yaml, LoadOptions::new()) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn line_col(e: &Error) -> (u32, u32) {
    let p = e.pos().unwrap_or_else(|| panic!("no position in {e}"));
    assert_eq!(&*p.file, "t.yaml");
    (p.line, p.col)
}

fn rule(cond: &str) -> String {
    format!("- rule: r\n  desc: d\n  condition: {cond}\n  output: o\n  priority: WARNING\n")
}

/// Whether rule `r` (condition `cond`) matches the event.
fn eval(cond: &str, e: &str, src: &Src) -> bool {
    let rs = load(&rule(cond));
    let r = rs.rule_by_name("r").expect("rule");
    r.matches(ev(e), src)
}

// ---- errors, each with its exact position ----

#[test]
fn malformed_yaml() {
    let e = load_err("- rule: x\n  desc: [a\n");
    assert!(matches!(e, Error::Yaml { .. }), "{e}");
    assert_eq!(line_col(&e).0, 3);
}

#[test]
fn unknown_field_is_skipped_or_fatal_when_strict() {
    let y = rule("evt.type = open and proc.nosuch = 1");
    let rs = load(&y);
    let s = rs.summary();
    assert_eq!((s.compiled, s.skipped.len()), (0, 1));
    let e = &s.skipped[0].error;
    assert!(
        matches!(e, Error::UnknownField { field, .. } if field == "proc.nosuch"),
        "{e}"
    );
    assert_eq!(line_col(e), (3, 34));
    let e = load_str("t.yaml", &y, LoadOptions::new().strict(true)).expect_err("strict");
    assert!(
        e.to_string()
            .starts_with("t.yaml:3:34: rule 'r': unknown field 'proc.nosuch'"),
        "{e}"
    );
}

#[test]
fn undefined_macro() {
    let e = load_err(&rule("evt.type = open and not nosuch"));
    assert!(
        matches!(&e, Error::UndefinedMacro { name, .. } if name == "nosuch"),
        "{e}"
    );
    assert_eq!(line_col(&e), (3, 38));
}

#[test]
fn macro_cycle() {
    let e = load_err("- macro: a\n  condition: b\n- macro: b\n  condition: proc.name = x or a\n");
    assert!(
        matches!(&e, Error::MacroCycle { cycle, .. } if cycle == &["a", "b", "a"]),
        "{e}"
    );
    assert_eq!(line_col(&e), (4, 31));
    let e = load_err("- macro: a\n  condition: not a\n");
    assert!(matches!(e, Error::MacroCycle { .. }), "{e}");
}

#[test]
fn list_used_as_macro() {
    let e = load_err(&format!(
        "- list: l\n  items: [a]\n{}",
        rule("evt.type = open and l")
    ));
    assert!(
        matches!(&e, Error::ListAsMacro { name, .. } if name == "l"),
        "{e}"
    );
    assert_eq!(line_col(&e), (5, 34));
}

#[test]
fn wrong_operator_for_type() {
    let e = load_err(&rule("fd.num contains 3"));
    assert!(
        matches!(&e, Error::OperatorType { op, ty: "number", .. } if op == "contains"),
        "{e}"
    );
    assert_eq!(line_col(&e), (3, 21));
    let e = load_err(&rule("fd.num = abc"));
    assert!(matches!(&e, Error::BadValue { .. }), "{e}");
    assert_eq!(line_col(&e), (3, 23));
    let e = load_err(&rule("evt.failed startswith t"));
    assert!(matches!(&e, Error::OperatorType { .. }), "{e}");
}

#[test]
fn unterminated_string() {
    let e = load_err(&rule("proc.name = 'abc"));
    assert!(
        matches!(&e, Error::Syntax { message, .. } if message.contains("unterminated")),
        "{e}"
    );
    assert_eq!(line_col(&e), (3, 26));
}

#[test]
fn syntax_error_in_a_folded_block_points_into_the_block() {
    let y = "- rule: r\n  desc: d\n  condition: >\n    evt.type = open\n    and (proc.name = a\n  output: o\n  priority: INFO\n";
    let e = load_err(y);
    assert!(matches!(e, Error::Syntax { .. }), "{e}");
    assert_eq!(line_col(&e), (5, 23));
}

#[test]
fn unknown_event_type_and_missing_keys() {
    let rs = load(&rule("evt.type = nosuchcall"));
    assert!(matches!(
        rs.summary().skipped[0].error,
        Error::UnknownEventType { .. }
    ));
    let e = load_err("- rule: r\n  desc: d\n  condition: evt.type = open\n  priority: INFO\n");
    assert!(
        e.to_string().contains("missing required key 'output'"),
        "{e}"
    );
    assert_eq!(line_col(&e), (1, 3));
    let e = load_err("- rule: r\n  desc: d\n  condition: a\n  output: o\n  priority: LOUD\n");
    assert!(e.to_string().contains("unknown priority 'LOUD'"), "{e}");
    assert_eq!(line_col(&e), (5, 13));
    let e = load_err("- macro: m\n  condition: x.y = 1\n  append: true\n");
    assert!(matches!(e, Error::NothingToOverride { .. }), "{e}");
}

// ---- priorities ----

#[test]
fn priorities() {
    for (s, p) in [
        ("emergency", Priority::Emergency),
        ("INFO", Priority::Informational),
        ("Informational", Priority::Informational),
        ("debug", Priority::Debug),
        ("Warning", Priority::Warning),
    ] {
        assert_eq!(Priority::parse(s), Some(p), "{s}");
    }
    assert!(Priority::parse("loud").is_none());
    assert_eq!(Priority::Informational.to_string(), "Informational");
}

// ---- macros, lists ----

#[test]
fn macros_expand_and_lists_nest() {
    let y = "
- list: inner
  items: [bash, '\"(systemd)\"']
- list: outer
  items: [inner, zsh]
- list: nested_yaml
  items: [[a, b], c]
- macro: shell
  condition: proc.name in (outer, sh)
- rule: r
  desc: d
  condition: evt.type = execve and shell and not proc.pname in (nested_yaml)
  output: o
  priority: INFO
";
    let rs = load(y);
    let r = rs.rule_by_name("r").expect("r");
    for name in ["bash", "zsh", "sh", "(systemd)"] {
        assert!(
            r.matches(
                ev("execve"),
                &Src::default().s("proc.name", name).s("proc.pname", "x")
            ),
            "{name}"
        );
    }
    assert!(!r.matches(
        ev("execve"),
        &Src::default().s("proc.name", "inner").s("proc.pname", "x")
    ));
    assert!(!r.matches(
        ev("execve"),
        &Src::default().s("proc.name", "bash").s("proc.pname", "b")
    ));
    assert!(!r.matches(
        ev("openat"),
        &Src::default().s("proc.name", "bash").s("proc.pname", "x")
    ));
}

#[test]
fn list_references_only_see_earlier_lists() {
    // As in Falco, a list item naming a list defined later stays a literal.
    let y = "
- list: a
  items: [b]
- list: b
  items: [x]
- rule: r
  desc: d
  condition: proc.name in (a)
  output: o
  priority: INFO
";
    let rs = load(y);
    let r = rs.rule_by_name("r").expect("r");
    assert!(r.matches(ev("open"), &Src::default().s("proc.name", "b")));
    assert!(!r.matches(ev("open"), &Src::default().s("proc.name", "x")));
}

// ---- append / override ----

#[test]
fn append_and_override_across_files() {
    let base = "
- list: l
  items: [a]
- macro: m
  condition: proc.name in (l)
- rule: r
  desc: d
  condition: evt.type = open and m
  output: first
  priority: INFO
  tags: [t1]
";
    let extra = "
- list: l
  items: [b]
  append: true
- macro: m
  condition: or proc.name = c
  override:
    condition: append
- rule: r
  output: second %proc.name
  priority: ERROR
  tags: [t2]
  override:
    output: replace
    priority: replace
    tags: append
";
    let mut loader = Loader::new(LoadOptions::new());
    loader.load_str("base.yaml", base).expect("base");
    loader.load_str("extra.yaml", extra).expect("extra");
    let rs = loader.compile().expect("compile");
    let r = rs.rule_by_name("r").expect("r");
    for (name, want) in [("a", true), ("b", true), ("c", true), ("d", false)] {
        assert_eq!(
            r.matches(ev("open"), &Src::default().s("proc.name", name)),
            want,
            "{name}"
        );
    }
    assert_eq!(r.priority, Priority::Error);
    assert_eq!(r.tags, ["t1", "t2"]);
    assert_eq!(
        r.output.render(&Src::default().s("proc.name", "a")),
        "second a"
    );

    // Replacing a condition, and disabling a rule with `enabled` alone.
    let third = "
- rule: r
  condition: evt.type = close
  override:
    condition: replace
- rule: r
  enabled: false
";
    let mut loader = Loader::new(LoadOptions::new());
    loader.load_str("base.yaml", base).expect("base");
    loader.load_str("third.yaml", third).expect("third");
    let rs = loader.compile().expect("compile");
    let r = rs.rule_by_name("r").expect("r");
    assert!(!r.enabled);
    assert!(r.matches(ev("close"), &Src::default()));
    assert!(rs.syscalls().is_empty(), "disabled rules bring in nothing");
    assert_eq!(rs.summary().disabled, 1);

    // An error in appended text points into the file that appended it.
    let bad = "- macro: m\n  condition: and (\n  append: true\n";
    let mut loader = Loader::new(LoadOptions::new());
    loader.load_str("base.yaml", base).expect("base");
    loader.load_str("bad.yaml", bad).expect("bad loads");
    let e = loader.compile().expect_err("syntax");
    let p = e.pos().expect("pos");
    assert_eq!((&*p.file, p.line, p.col), ("bad.yaml", 2, 19), "{e}");
}

// ---- exceptions ----

#[test]
fn exceptions_compile_like_falco() {
    let y = "
- list: allowed
  items: [apk, npm]
- rule: r
  desc: d
  condition: evt.type = open and fd.name startswith /usr
  output: o
  priority: INFO
  exceptions:
    - name: writer_dir
      fields: [proc.name, fd.directory]
      comps: [=, in]
      values:
        - [dpkg, [/usr/lib, /usr/share]]
        - [rpm, /usr/bin]
    - name: by_name
      fields: proc.name
      values: [allowed, yum]
    - name: by_prefix
      fields: [fd.name]
      comps: [startswith]
      values: [[/usr/local/]]
";
    let rs = load(y);
    let r = rs.rule_by_name("r").expect("r");
    let m = |p: &str, dir: &str, name: &str| {
        r.matches(
            ev("open"),
            &Src::default()
                .s("proc.name", p)
                .s("fd.directory", dir)
                .s("fd.name", name),
        )
    };
    assert!(m("cat", "/usr/lib", "/usr/lib/x"));
    assert!(!m("dpkg", "/usr/lib", "/usr/lib/x"));
    assert!(!m("dpkg", "/usr/share", "/usr/share/x"));
    assert!(m("dpkg", "/usr/bin", "/usr/bin/x"));
    assert!(!m("rpm", "/usr/bin", "/usr/bin/x"));
    assert!(!m("npm", "/usr/x", "/usr/x/y"));
    assert!(!m("yum", "/usr/x", "/usr/x/y"));
    assert!(!m("cat", "/usr/local", "/usr/local/x"));
    assert_eq!(r.exception_fields, ["proc.name", "fd.directory", "fd.name"]);

    let e = load_err(&format!(
        "{}  exceptions:\n    - name: bad\n      fields: [proc.name, fd.name]\n      values:\n        - [a]\n",
        rule("evt.type = open")
    ));
    assert!(matches!(e, Error::Exception { .. }), "{e}");
    assert_eq!(line_col(&e), (10, 11));
}

#[test]
fn exceptions_append_values() {
    let y = "
- rule: r
  desc: d
  condition: evt.type = open
  output: o
  priority: INFO
  exceptions:
    - name: e
      fields: [proc.name]
      values: [[a]]
- rule: r
  exceptions:
    - name: e
      values: [[b]]
      fields: [proc.name]
  append: true
";
    let rs = load(y);
    let r = rs.rule_by_name("r").expect("r");
    assert!(!r.matches(ev("open"), &Src::default().s("proc.name", "a")));
    assert!(!r.matches(ev("open"), &Src::default().s("proc.name", "b")));
    assert!(r.matches(ev("open"), &Src::default().s("proc.name", "c")));
}

// ---- operators ----

#[test]
fn each_operator() {
    let s = Src::default()
        .s("proc.name", "bash")
        .s("fd.name", "/etc/shadow")
        .s("proc.cmdline", "Grep BEGIN PRIVATE key")
        .n("fd.num", 3)
        .b("evt.is_open_read", true)
        .with("fd.sip", Val::Ip("10.1.2.3".parse().expect("ip")))
        .with("fd.cip", Val::Ip("192.168.0.9".parse().expect("ip")))
        .n("fd.sport", 22)
        .s("proc.aname[1]", "sshd")
        .s("proc.aname[2]", "systemd")
        .s("evt.arg[flags]", "O_RDONLY|O_TRUNC");
    let t = |c: &str| eval(c, "open", &s);
    assert!(t("proc.name = bash") && t("proc.name == bash") && !t("proc.name != bash"));
    assert!(
        t("fd.num < 4")
            && t("fd.num <= 3")
            && t("fd.num > 2")
            && t("fd.num >= 3")
            && !t("fd.num > 3")
    );
    assert!(t("proc.name in (zsh, bash)") && !t("proc.name in (zsh)") && !t("proc.name in ()"));
    assert!(t("proc.name intersects (bash)"));
    assert!(t("fd.name pmatch (/etc, /usr)") && !t("fd.name pmatch (/et)"));
    assert!(t("fd.name contains shad") && !t("fd.name contains SHAD"));
    assert!(t("proc.cmdline icontains 'begin private'"));
    assert!(t("fd.name startswith /etc/") && t("fd.name endswith shadow"));
    assert!(t("fd.name glob '/etc/*'") && !t("fd.name glob '/usr/*'"));
    assert!(t("fd.name exists") && !t("fd.directory exists"));
    assert!(t("evt.is_open_read = true") && !t("evt.is_open_read = false"));
    assert!(
        t("fd.sip = 10.1.2.3") && t("fd.snet = \"10.0.0.0/8\"") && t("fd.snet in (\"10.0.0.0/8\")")
    );
    assert!(
        t("fd.ip = 192.168.0.9") && t("fd.net = \"192.168.0.0/16\"") && !t("fd.ip != 192.168.0.9")
    );
    assert!(t("fd.net != \"127.0.0.0/8\""));
    assert!(t("fd.port = 22") && t("fd.sport in (22, 2222)"));
    assert!(t("proc.aname = systemd") && t("proc.aname in (sshd)") && !t("proc.aname = init"));
    assert!(t("proc.aname[2] = systemd") && !t("proc.aname != sshd") && t("proc.aname != init"));
    assert!(t("evt.arg.flags contains O_TRUNC") && t("evt.arg[flags] contains O_TRUNC"));
    assert!(t("tolower(proc.cmdline) contains 'begin private'") && t("toupper(proc.name) = BASH"));
    assert!(t("basename(fd.name) = shadow") && t("len(proc.name) = 4"));
    assert!(t("proc.name = val(proc.name)") && !t("proc.name = val(fd.name)"));
    // A missing value makes any comparison false, even !=.
    assert!(!t("proc.pname != bash") && t("not proc.pname = bash"));
    assert!(t("evt.type = open") && t("evt.type in (open, openat)") && t("evt.type != close"));
    assert!(t("syscall.type = open"));
}

/// `fd.ip`/`fd.net`/`fd.port` are "either" fields. Where the engine knows only one end (a
/// connect's local end is not read from /proc for conditions), `!=` must judge the known end:
/// Falco's `outbound` macro (`fd.ip != "0.0.0.0" and fd.net != "127.0.0.0/8"`) depends on it.
#[test]
fn either_fields_with_one_end_unknown() {
    let s = Src::default()
        .with("fd.sip", Val::Ip("198.51.100.1".parse().expect("ip")))
        .n("fd.sport", 4444);
    let t = |c: &str| eval(c, "connect", &s);
    assert!(t("fd.ip != \"0.0.0.0\"") && t("fd.net != \"127.0.0.0/8\""));
    assert!(t("fd.ip = 198.51.100.1") && !t("fd.ip != 198.51.100.1"));
    assert!(t("fd.port != 22") && !t("fd.port != 4444"));
    // Neither end known: no comparison holds, as for any missing value.
    let none = Src::default();
    assert!(!eval("fd.ip != \"0.0.0.0\"", "connect", &none));
    assert!(!eval("fd.ip = \"0.0.0.0\"", "connect", &none));
}

// ---- interest ----

fn interest(cond: &str) -> Vec<String> {
    let rs = load(&rule(cond));
    let set = rs.rule_by_name("r").expect("r").interest;
    if set.is_all() {
        return vec!["ALL".into()];
    }
    set.iter().map(|e| e.name().to_owned()).collect()
}

#[test]
fn interest_extraction() {
    assert_eq!(interest("evt.type = open"), ["open"]);
    assert_eq!(
        interest("evt.type in (open, openat) and proc.name = x"),
        ["open", "openat"]
    );
    assert_eq!(interest("proc.name = x"), ["ALL"]);
    assert_eq!(interest("evt.type = open or proc.name = x"), ["ALL"]);
    assert_eq!(
        interest("evt.type = open or evt.type = close"),
        ["open", "close"]
    );
    assert_eq!(interest("not (evt.type = open and proc.name = x)"), ["ALL"]);
    assert_eq!(interest("not not evt.type = open"), ["open"]);
    assert_eq!(interest("evt.type = procexit"), ["procexit"]);
    let all_but_open = interest("evt.type != open");
    assert!(
        !all_but_open.contains(&"open".to_owned()) && all_but_open.contains(&"openat".to_owned())
    );
    assert_eq!(interest("not evt.type != open"), ["open"]);
    let not_open = interest("not evt.type = open and proc.name = x");
    assert!(!not_open.contains(&"open".to_owned()) && not_open.contains(&"procexit".to_owned()));
    assert_eq!(
        interest("evt.type = open and evt.type = close"),
        Vec::<String>::new()
    );
    assert_eq!(interest("evt.type in (pread)"), ["pread64"]);
}

#[test]
fn ruleset_index_and_why() {
    let y = format!(
        "{}{}",
        rule("evt.type in (open, openat) and fd.name = x"),
        "- rule: s\n  desc: d\n  condition: evt.type = openat\n  output: o\n  priority: INFO\n"
    );
    let rs = load(&y);
    let openat = ev("openat");
    assert_eq!(rs.rules_for(openat).len(), 2);
    assert_eq!(rs.rules_for(ev("open")).len(), 1);
    assert!(rs.rules_for(ev("close")).is_empty());
    assert!(rs
        .rules_for(EventCode::Other(NonSyscall::ProcExit))
        .is_empty());
    let why = rs.why();
    assert_eq!(why.len(), 2);
    assert!(why
        .iter()
        .any(|(e, names)| *e == openat && names == &["r", "s"]));
    let open = SyscallId::from_name("open").expect("open");
    assert!(rs.syscalls().contains(open));
    let src = Src::default().s("fd.name", "x");
    let names: Vec<_> = rs.matching(openat, &src).map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["r", "s"]);
}

// ---- outputs ----

#[test]
fn output_templates() {
    let y = "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: \"file=%fd.name gp=%proc.aname[2] p=%(proc.name) 100% flags=%evt.arg.flags x=%user.name.\"\n  priority: INFO\n";
    let rs = load(y);
    let r = rs.rule_by_name("r").expect("r");
    let names: Vec<_> = r.output.fields().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "fd.name",
            "proc.aname[2]",
            "proc.name",
            "evt.arg.flags",
            "user.name"
        ]
    );
    let src = Src::default()
        .s("fd.name", "/x")
        .s("proc.aname[2]", "init")
        .s("proc.name", "cat")
        .s("evt.arg[flags]", "O_RDONLY");
    assert_eq!(
        r.output.render(&src),
        "file=/x gp=init p=cat 100% flags=O_RDONLY x=<NA>."
    );
    let e = load_str("t.yaml", "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: a %proc.nosuch\n  priority: INFO\n", LoadOptions::new().strict(true))
        .expect_err("unknown output field");
    assert_eq!(line_col(&e), (4, 14));
}

// ---- non-syscall sources and items ----

#[test]
fn other_sources_and_items() {
    let y = "- required_engine_version: 0.57.0\n- required_plugin_versions:\n    - name: container\n      version: 0.4.0\n- rule: k\n  desc: d\n  condition: ka.verb = get\n  output: o\n  priority: INFO\n  source: k8s_audit\n- weird: 1\n";
    let rs = load(y);
    assert_eq!(rs.required_engine_version(), Some("0.57.0"));
    assert_eq!(
        rs.required_plugins(),
        [("container".to_owned(), "0.4.0".to_owned())]
    );
    assert!(matches!(
        rs.summary().skipped[0].error,
        Error::UnsupportedSource { .. }
    ));
    assert_eq!(rs.summary().warnings.len(), 1);
}

/// Counts the field reads it serves.
struct Counting<'a> {
    inner: &'a Src,
    reads: std::cell::Cell<usize>,
}

impl FieldSource for Counting<'_> {
    fn get(&self, field: FieldId, arg: &FieldArg<'_>) -> Value<'_> {
        self.reads.set(self.reads.get() + 1);
        self.inner.get(field, arg)
    }
}

#[test]
fn a_macro_is_tested_once_per_event_for_all_rules_that_use_it() {
    let rs = load(concat!(
        "- macro: is_x\n  condition: proc.name = x\n",
        "- rule: a\n  desc: d\n  condition: evt.type = open and is_x and fd.name = /a\n  output: o\n  priority: WARNING\n",
        "- rule: b\n  desc: d\n  condition: evt.type = open and is_x and fd.name = /b\n  output: o\n  priority: WARNING\n",
    ));
    let (a, b) = (
        rs.rule_by_name("a").expect("a"),
        rs.rule_by_name("b").expect("b"),
    );
    let x_b = Src::default().s("proc.name", "x").s("fd.name", "/b");
    let y_b = Src::default().s("proc.name", "y").s("fd.name", "/b");
    let mut memo = rs.memo();
    let mut both = |src: &Src| {
        let counting = Counting {
            inner: src,
            reads: std::cell::Cell::new(0),
        };
        memo.next_event();
        let fired = (
            a.matches_with(ev("open"), &counting, &mut memo),
            b.matches_with(ev("open"), &counting, &mut memo),
        );
        (fired, counting.reads.get())
    };
    // proc.name once, fd.name for each rule.
    assert_eq!(both(&x_b), ((false, true), 3));
    // The next event's value is its own, not the one kept for the previous event.
    assert_eq!(both(&y_b), ((false, false), 1));
    assert_eq!(both(&x_b), ((false, true), 3));
    // Without a memo, each rule tests the macro itself, with the same outcome.
    let counting = Counting {
        inner: &x_b,
        reads: std::cell::Cell::new(0),
    };
    assert!(!a.matches(ev("open"), &counting) && b.matches(ev("open"), &counting));
    assert_eq!(counting.reads.get(), 4);
}
