//! The host and Kubernetes recipes in `deploy/`: the DaemonSet has the settings the eBPF driver
//! needs and no more, its rules load, and the systemd unit is one systemd accepts
//! (`systemd-analyze verify`, skipped with a reason where systemd is not installed).

mod common;

use common::LANNER;

use std::path::{Path, PathBuf};
use std::process::Command;

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Value};

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A plain scalar as YAML 1.2's core schema reads it; quoted and block scalars are strings.
fn scalar(value: &str, style: ScalarStyle) -> Value {
    if style != ScalarStyle::Plain {
        return Value::String(value.to_owned());
    }
    match value {
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        _ => value
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(value.to_owned())),
    }
}

/// Every document of a YAML stream, as JSON values (anchors and tags are not used here).
fn yaml_documents(src: &str) -> Vec<Value> {
    enum Open {
        Seq(Vec<Value>),
        Map(Map<String, Value>, Option<String>),
    }
    let mut docs = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut parser = Parser::new_from_str(src);
    while let Some(event) = parser.next_event() {
        let (event, _) = event.unwrap_or_else(|e| panic!("YAML: {e}"));
        let value = match event {
            Event::Scalar(value, style, _, _) => scalar(&value, style),
            Event::SequenceStart(..) => {
                stack.push(Open::Seq(Vec::new()));
                continue;
            }
            Event::MappingStart(..) => {
                stack.push(Open::Map(Map::new(), None));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Open::Seq(items)) => Value::Array(items),
                Some(Open::Map(map, _)) => Value::Object(map),
                None => panic!("unbalanced YAML"),
            },
            Event::Alias(_) => panic!("aliases are not used in deploy/"),
            _ => continue,
        };
        match stack.last_mut() {
            None => docs.push(value),
            Some(Open::Seq(items)) => items.push(value),
            Some(Open::Map(map, key)) => match key.take() {
                Some(k) => {
                    map.insert(k, value);
                }
                None => {
                    let k = match value {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    *key = Some(k);
                }
            },
        }
    }
    docs
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

#[test]
fn daemonset_has_what_the_ebpf_driver_needs_and_no_more() {
    let docs = yaml_documents(&read(&deploy("kubernetes/daemonset.yaml")));
    let ds = find(&docs, "DaemonSet", "lanner");
    assert_eq!(ds["apiVersion"], "apps/v1");
    let namespace = ds["metadata"]["namespace"].as_str().expect("namespace");
    find(&docs, "Namespace", namespace);
    let selector = &ds["spec"]["selector"]["matchLabels"];
    let pod = &ds["spec"]["template"];
    for (k, v) in selector.as_object().expect("matchLabels") {
        assert_eq!(
            &pod["metadata"]["labels"][k], v,
            "the selector matches the pod"
        );
    }
    let spec = &pod["spec"];
    assert_eq!(
        spec["hostPID"], true,
        "--system watches the node's processes"
    );
    assert_ne!(spec["hostNetwork"], true, "not needed");
    let containers = spec["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];

    let args = strings(&c["args"]);
    assert_eq!(
        &args[..5],
        ["run", "--driver", "ebpf", "--system", "--rules"]
    );
    let rules_path = args[5];

    let sc = &c["securityContext"];
    assert_ne!(sc["privileged"], true, "capabilities, not privileged");
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"]);
    let add = strings(&sc["capabilities"]["add"]);
    for cap in ["BPF", "PERFMON", "SYS_RESOURCE", "SYS_PTRACE"] {
        assert!(add.contains(&cap), "{cap} in {add:?}");
    }
    assert!(!add.contains(&"SYS_ADMIN"), "{add:?}");

    for key in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(
                !c["resources"][key][resource].is_null(),
                "resources.{key}.{resource}"
            );
        }
    }

    // Mounts: each names a volume; the rules file is in the ConfigMap's mount; the host's
    // tracefs and bpffs come in by hostPath.
    let volumes = spec["volumes"].as_array().expect("volumes");
    let volume = |name: &str| {
        volumes
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no volume {name}"))
    };
    let mounts = c["volumeMounts"].as_array().expect("volumeMounts");
    let mut host_paths = Vec::new();
    let mut rules_file = None;
    for mount in mounts {
        let path = mount["mountPath"].as_str().expect("mountPath");
        let v = volume(mount["name"].as_str().expect("mount name"));
        if let Some(host) = v["hostPath"]["path"].as_str() {
            assert_eq!(
                host, path,
                "host paths are mounted where they are on the host"
            );
            host_paths.push(host);
        }
        if let Some(cm) = v["configMap"]["name"].as_str() {
            assert_eq!(mount["readOnly"], true);
            let file = rules_path
                .strip_prefix(path)
                .map(|f| f.trim_start_matches('/'))
                .expect("--rules is inside the ConfigMap's mount");
            rules_file = Some(find(&docs, "ConfigMap", cm)["data"][file].clone());
        }
    }
    for needed in ["/sys/kernel/tracing", "/sys/fs/bpf"] {
        assert!(host_paths.contains(&needed), "{needed} in {host_paths:?}");
    }

    // The rules in the ConfigMap load, strictly.
    let rules = rules_file
        .and_then(|r| r.as_str().map(str::to_owned))
        .expect("the ConfigMap has the rules file");
    lanner_rules::load_str(
        "configmap/rules.yaml",
        &rules,
        lanner_rules::LoadOptions::new().strict(true),
    )
    .expect("the ConfigMap's rules load");
}

/// `key=value` lines of a unit file (later ones of the same key appended, as systemd does for
/// list settings).
fn unit_settings(unit: &str) -> Vec<(&str, &str)> {
    unit.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .collect()
}

#[test]
fn systemd_unit_runs_the_ebpf_driver_with_bpf_capabilities_only() {
    let unit = read(&deploy("host/lanner.service"));
    let settings = unit_settings(&unit);
    let get = |key: &str| -> Vec<&str> {
        settings
            .iter()
            .filter(|(k, _)| *k == key)
            .flat_map(|(_, v)| v.split_whitespace())
            .collect()
    };
    assert_eq!(
        get("ExecStart"),
        [
            "/usr/local/bin/lanner",
            "run",
            "--driver",
            "ebpf",
            "--system",
            "--rules",
            "/etc/lanner/rules.yaml",
            "--alerts-out",
            "/var/log/lanner/alerts.jsonl"
        ]
    );
    for key in ["CapabilityBoundingSet", "AmbientCapabilities"] {
        let caps = get(key);
        for cap in [
            "CAP_BPF",
            "CAP_PERFMON",
            "CAP_SYS_RESOURCE",
            "CAP_SYS_PTRACE",
        ] {
            assert!(caps.contains(&cap), "{key}: {cap}");
        }
        assert!(!caps.contains(&"CAP_SYS_ADMIN"), "{key}");
    }
    let filter = get("SystemCallFilter");
    for call in ["bpf", "perf_event_open"] {
        assert!(
            filter.contains(&call),
            "SystemCallFilter lets {call} through"
        );
    }
    assert!(get("ReadWritePaths").contains(&"/var/log/lanner"));
    assert_eq!(get("NoNewPrivileges"), ["yes"]);
}

#[test]
fn systemd_accepts_the_unit() {
    let found = Command::new("systemd-analyze").arg("--version").output();
    if !found.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: systemd-analyze is not installed");
        return;
    }
    // verify checks that ExecStart's program exists: point it at the binary under test.
    let unit = read(&deploy("host/lanner.service")).replace("/usr/local/bin/lanner", LANNER);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("systemd-verify");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join("lanner.service");
    std::fs::write(&path, unit).expect("write unit");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // verify only warns about some mistakes (unknown settings among them).
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("lanner.service"))
        .collect();
    assert!(ours.is_empty(), "{stderr}");
}

#[test]
fn install_script_is_valid_sh() {
    let out = Command::new("sh")
        .arg("-n")
        .arg(deploy("host/install.sh"))
        .output()
        .expect("sh runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
