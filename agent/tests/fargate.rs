//! `lanner fargate patch` on the example in `deploy/fargate/`, through the real binary: the
//! result has the shape ECS on Fargate accepts, patching twice is patching once, and nothing
//! but lanner's fields changes.

mod common;

use common::{ptrace_available, LANNER};

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value};

const SIDECAR_IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/lanner-sidecar:0.1.0";

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/fargate")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `lanner fargate patch INPUT -o OUT EXTRA...` and returns OUT's contents.
fn patch(input: &Path, name: &str, extra: &[&str]) -> Value {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fargate-{name}.json"));
    let status = Command::new(LANNER)
        .arg("fargate")
        .arg("patch")
        .arg(input)
        .arg("-o")
        .arg(&out)
        .args(extra)
        .output()
        .expect("lanner runs");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    read_json(&out)
}

fn obj<'a>(value: &'a Value, what: &str) -> &'a Map<String, Value> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("{what} must be an object: {value}"))
}

fn strings<'a>(value: &'a Value, what: &str) -> Vec<&'a str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{what} must be a list: {value}"))
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("{what} must hold strings: {v}"))
        })
        .collect()
}

/// Fargate's task sizes: cpu units and the memory (MiB) each allows.
fn fargate_size_ok(cpu: u32, memory: u32) -> bool {
    match cpu {
        256 => [512, 1024, 2048].contains(&memory),
        512 => (1024..=4096).contains(&memory) && memory.is_multiple_of(1024),
        1024 => (2048..=8192).contains(&memory) && memory.is_multiple_of(1024),
        2048 => (4096..=16384).contains(&memory) && memory.is_multiple_of(1024),
        4096 => (8192..=30720).contains(&memory) && memory.is_multiple_of(1024),
        _ => false,
    }
}

/// The checks ECS (register-task-definition) and Fargate make that a patch could break.
fn assert_fargate_shape(task: &Value) {
    let task = obj(task, "task definition");
    assert!(
        task.get("family")
            .and_then(Value::as_str)
            .is_some_and(|f| !f.is_empty()),
        "family"
    );
    assert_eq!(task["networkMode"], "awsvpc", "Fargate needs awsvpc");
    assert!(
        strings(&task["requiresCompatibilities"], "requiresCompatibilities").contains(&"FARGATE")
    );
    let number = |key: &str| -> u32 {
        task[key]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{key} must be a number as a string: {}", task[key]))
    };
    assert!(
        fargate_size_ok(number("cpu"), number("memory")),
        "a Fargate task size"
    );
    let containers = task["containerDefinitions"]
        .as_array()
        .expect("containerDefinitions is a list");
    assert!(!containers.is_empty());
    let names: Vec<&str> = containers
        .iter()
        .map(|c| c["name"].as_str().expect("every container has a name"))
        .collect();
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "container names are unique");
    assert!(
        containers.iter().any(|c| c["essential"] == true),
        "at least one essential container"
    );
    for container in containers {
        let name = container["name"].as_str().unwrap_or_default();
        let container = obj(container, name);
        assert!(
            container["image"].as_str().is_some_and(|i| !i.is_empty()),
            "{name}: image"
        );
        if let Some(essential) = container.get("essential") {
            assert!(essential.is_boolean(), "{name}: essential is a boolean");
        }
        for key in ["entryPoint", "command"] {
            if let Some(value) = container.get(key) {
                strings(value, &format!("{name}.{key}"));
            }
        }
        if let Some(caps) = container
            .get("linuxParameters")
            .and_then(|l| l.get("capabilities"))
        {
            let add = strings(&caps["add"], &format!("{name}: capabilities.add"));
            // The only capability Fargate lets a container add.
            assert!(add.iter().all(|c| *c == "SYS_PTRACE"), "{name}: {add:?}");
        }
        for dependency in container
            .get("dependsOn")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let target = dependency["containerName"].as_str().expect("containerName");
            assert!(
                names.contains(&target),
                "{name} depends on unknown {target}"
            );
            let condition = dependency["condition"].as_str().expect("condition");
            assert!(["START", "COMPLETE", "SUCCESS", "HEALTHY"].contains(&condition));
            if condition == "COMPLETE" || condition == "SUCCESS" {
                let target = containers.iter().find(|c| c["name"] == target);
                assert!(
                    target.is_some_and(|t| t["essential"] == false),
                    "{name}: a container waited on to complete cannot be essential"
                );
            }
        }
        for volume in container
            .get("volumesFrom")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let source = volume["sourceContainer"].as_str().expect("sourceContainer");
            assert!(
                names.contains(&source),
                "{name}: volumesFrom unknown {source}"
            );
        }
    }
}

/// Every container of `patched` that lanner wraps runs the original's entryPoint + command.
fn assert_wrapped(original: &Value, patched: &Value) {
    let originals = original["containerDefinitions"].as_array().expect("list");
    for before in originals {
        let name = &before["name"];
        let after = patched["containerDefinitions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| &c["name"] == name))
            .expect("container kept");
        assert_eq!(
            strings(&after["entryPoint"], "entryPoint"),
            ["/lanner/lanner", "run", "--driver", "ptrace", "--"]
        );
        let mut workload = Vec::new();
        for key in ["entryPoint", "command"] {
            if let Some(v) = before.get(key) {
                workload.extend(strings(v, key));
            }
        }
        assert_eq!(strings(&after["command"], "command"), workload, "{name}");
        let add = strings(&after["linuxParameters"]["capabilities"]["add"], "add");
        assert_eq!(add.iter().filter(|c| **c == "SYS_PTRACE").count(), 1);
    }
}

/// Removes what lanner sets, so that what remains must equal the original.
fn strip_lanner(task: &mut Value, sidecar: bool) {
    let Some(containers) = task["containerDefinitions"].as_array_mut() else {
        return;
    };
    if sidecar {
        containers.retain(|c| c["name"] != "lanner");
    }
    for container in containers.iter_mut().filter_map(Value::as_object_mut) {
        container.shift_remove("entryPoint");
        container.shift_remove("command");
        if let Some(linux) = container
            .get_mut("linuxParameters")
            .and_then(Value::as_object_mut)
        {
            linux.shift_remove("capabilities");
        }
        if sidecar {
            container.shift_remove("dependsOn");
            if let Some(v) = container
                .get_mut("volumesFrom")
                .and_then(Value::as_array_mut)
            {
                v.retain(|v| v["sourceContainer"] != "lanner");
            }
        }
        // What lanner had to create to hold its values, and an empty list ECS treats as absent,
        // are the same on both sides once gone.
        container.retain(|key, value| {
            !((key == "linuxParameters" && value.as_object().is_some_and(Map::is_empty))
                || (key == "volumesFrom" && value.as_array().is_some_and(Vec::is_empty)))
        });
    }
}

/// Keys in order, recursively: `preserve_order` must keep the user's layout.
fn key_order(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                key_order(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| key_order(v, out)),
        _ => {}
    }
}

#[test]
fn example_round_trips_in_image_mode() {
    let input = example_dir().join("task-definition.json");
    let original = read_json(&input);
    assert_fargate_shape(&original);
    let patched = patch(&input, "image", &[]);
    assert_fargate_shape(&patched);
    assert_wrapped(&original, &patched);
    assert_eq!(
        patched["containerDefinitions"].as_array().map(Vec::len),
        original["containerDefinitions"].as_array().map(Vec::len),
        "no sidecar without --sidecar-image"
    );

    let mut rest = patched.clone();
    let mut expected = original.clone();
    strip_lanner(&mut rest, false);
    strip_lanner(&mut expected, false);
    assert_eq!(rest, expected, "only lanner's fields changed");

    // The first output, patched again.
    let twice = patch(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("fargate-image.json"),
        "image-twice",
        &[],
    );
    assert_eq!(twice, patched, "patching twice is patching once");
}

#[test]
fn example_round_trips_in_sidecar_mode_and_matches_the_checked_in_result() {
    let input = example_dir().join("task-definition.json");
    let original = read_json(&input);
    let patched = patch(&input, "sidecar", &["--sidecar-image", SIDECAR_IMAGE]);
    assert_fargate_shape(&patched);
    assert_wrapped(&original, &patched);
    let containers = patched["containerDefinitions"].as_array().expect("list");
    let sidecar = containers
        .iter()
        .find(|c| c["name"] == "lanner")
        .expect("sidecar added");
    assert_eq!(sidecar["image"], SIDECAR_IMAGE);
    assert_eq!(sidecar["essential"], false);
    for container in containers.iter().filter(|c| c["name"] != "lanner") {
        assert_eq!(
            container["volumesFrom"],
            serde_json::json!([{"sourceContainer": "lanner", "readOnly": true}])
        );
        assert_eq!(
            container["dependsOn"],
            serde_json::json!([{"containerName": "lanner", "condition": "SUCCESS"}])
        );
    }

    let mut rest = patched.clone();
    let mut expected = original.clone();
    strip_lanner(&mut rest, true);
    strip_lanner(&mut expected, true);
    assert_eq!(rest, expected, "only lanner's fields changed");

    // Value equality ignores key order; the user's layout must survive too.
    let (mut before, mut after) = (Vec::new(), Vec::new());
    key_order(&expected, &mut before);
    key_order(&rest, &mut after);
    assert_eq!(after, before, "keys keep their order");

    let twice = patch(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("fargate-sidecar.json"),
        "sidecar-twice",
        &["--sidecar-image", SIDECAR_IMAGE],
    );
    assert_eq!(twice, patched, "patching twice is patching once");

    let checked_in = read_json(&example_dir().join("task-definition.patched.json"));
    assert_eq!(
        checked_in, patched,
        "deploy/fargate/task-definition.patched.json is stale: regenerate it with `lanner fargate patch deploy/fargate/task-definition.json --sidecar-image {SIDECAR_IMAGE} -o deploy/fargate/task-definition.patched.json`"
    );
}

#[test]
fn describe_output_and_unknown_fields_are_kept() {
    let task = read_json(&example_dir().join("task-definition.json"));
    let mut described =
        serde_json::json!({ "taskDefinition": task, "tags": [{"key": "team", "value": "shop"}] });
    // Fields ECS adds, and one it may add tomorrow: all must pass through.
    if let Some(t) = described["taskDefinition"].as_object_mut() {
        t.insert("revision".into(), 7.into());
        t.insert("status".into(), "ACTIVE".into());
        t.insert(
            "someFutureField".into(),
            serde_json::json!({"z": 1, "a": [2]}),
        );
    }
    if let Some(c) = described["taskDefinition"]["containerDefinitions"][0].as_object_mut() {
        c.insert("futureContainerField".into(), true.into());
    }
    let input = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fargate-described-in.json");
    std::fs::write(&input, described.to_string()).expect("write input");
    let patched = patch(&input, "described", &["--containers", "api"]);
    assert_eq!(patched["tags"], described["tags"]);
    let t = &patched["taskDefinition"];
    assert_eq!(t["revision"], 7);
    assert_eq!(t["someFutureField"], serde_json::json!({"z": 1, "a": [2]}));
    assert_eq!(t["containerDefinitions"][0]["futureContainerField"], true);
    assert_eq!(
        t["containerDefinitions"][0]["entryPoint"][0],
        "/lanner/lanner"
    );
    // Not selected: untouched.
    assert_eq!(
        t["containerDefinitions"][1],
        described["taskDefinition"]["containerDefinitions"][1]
    );
}

#[test]
fn a_container_without_a_command_is_an_error_naming_it() {
    let input = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fargate-nocmd.json");
    std::fs::write(
        &input,
        r#"{"family":"f","containerDefinitions":[{"name":"web","image":"nginx","essential":true}]}"#,
    )
    .expect("write input");
    let out = Command::new(LANNER)
        .args(["fargate", "patch"])
        .arg(&input)
        .output()
        .expect("lanner runs");
    assert_eq!(out.status.code(), Some(125));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`web`") && stderr.contains("ENTRYPOINT"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing written on failure");
}

#[test]
fn standard_input_to_standard_output() {
    use std::io::Write;
    use std::process::Stdio;
    let input = example_dir().join("task-definition.json");
    let mut child = Command::new(LANNER)
        .args(["fargate", "patch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lanner runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(read_json(&input).to_string().as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("lanner ends");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let piped: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(piped, patch(&input, "stdin-reference", &[]));
}

#[test]
fn the_patched_command_line_runs_the_workload_under_lanner() {
    if !ptrace_available() {
        return;
    }
    // What the container runtime will exec: entryPoint followed by command, with lanner where
    // the sidecar's volume puts it (here: the binary under test).
    let input = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fargate-exec-in.json");
    std::fs::write(
        &input,
        r#"{"family":"f","containerDefinitions":[{"name":"app","image":"x","essential":true,
            "entryPoint":["/bin/sh","-c"],"command":["cat /etc/shadow > /dev/null; exit 3"]}]}"#,
    )
    .expect("write input");
    let patched = patch(&input, "exec", &["--lanner-path", LANNER]);
    let container = &patched["containerDefinitions"][0];
    let argv: Vec<&str> = strings(&container["entryPoint"], "entryPoint")
        .into_iter()
        .chain(strings(&container["command"], "command"))
        .collect();
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .expect("the patched command line runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "the workload's status: {stderr}"
    );
    assert!(
        stderr.contains("\"rule\":\"Read sensitive file untrusted\""),
        "{stderr}"
    );
}

#[test]
fn the_sidecar_dockerfile_matches_what_the_patch_expects() {
    let dockerfile = std::fs::read_to_string(example_dir().join("Dockerfile.sidecar"))
        .expect("Dockerfile.sidecar");
    let lines: Vec<&str> = dockerfile
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert_eq!(lines.first(), Some(&"FROM scratch"), "no libc, no shell");
    let lanner = lanner::fargate::DEFAULT_LANNER_PATH;
    let volume = Path::new(lanner)
        .parent()
        .and_then(Path::to_str)
        .expect("a directory");
    assert!(
        lines.contains(&format!("VOLUME [\"{volume}\"]").as_str()),
        "{dockerfile}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("COPY dist/lanner-") && l.ends_with(lanner)),
        "the binary `cargo xtask dist` makes, at {lanner}: {dockerfile}"
    );
    // The sidecar container the patch adds runs the image's binary with --version.
    let input = example_dir().join("task-definition.json");
    let patched = patch(
        &input,
        "sidecar-dockerfile",
        &["--sidecar-image", SIDECAR_IMAGE],
    );
    let sidecar = patched["containerDefinitions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == "lanner"))
        .expect("sidecar");
    let entry = format!(
        "ENTRYPOINT [{}]",
        strings(&sidecar["entryPoint"], "entryPoint")
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert!(lines.contains(&entry.as_str()), "{entry} in {dockerfile}");
}
