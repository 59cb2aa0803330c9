//! `lanner fargate patch`: rewrites an ECS task definition so that its containers run under
//! `lanner run --driver ptrace`, the only instrumentation Fargate allows (no kernel access; a
//! container may add `SYS_PTRACE` and nothing else).
//!
//! The rewrite touches only what it must: each selected container's `entryPoint`, `command`,
//! `linuxParameters.capabilities` and, with a sidecar image, `volumesFrom` and `dependsOn`, plus
//! the sidecar container itself. Every other field, known to us or not, is kept as it was, in
//! its order (serde_json's `preserve_order`), so that a diff of the output shows only lanner's
//! changes. Patching a patched definition changes nothing, so the command can sit in a deploy
//! pipeline that runs on every release.

use serde_json::{Map, Value};

/// The name of the sidecar container that carries the lanner binary.
pub const SIDECAR_NAME: &str = "lanner";

/// Where the lanner binary is inside the containers by default (the sidecar image's volume).
pub const DEFAULT_LANNER_PATH: &str = "/lanner/lanner";

/// The arguments between lanner's path and the workload's command.
const RUN_ARGS: [&str; 4] = ["run", "--driver", "ptrace", "--"];

/// The only capability Fargate lets a container add, and the one ptrace needs.
const CAPABILITY: &str = "SYS_PTRACE";

/// Why a task definition could not be patched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PatchError {
    /// The document is neither a task definition nor `{"taskDefinition": {...}}`.
    #[error("not an ECS task definition: expected an object with `containerDefinitions` (or {{\"taskDefinition\": {{...}}}} as `aws ecs describe-task-definition` prints it)")]
    NotATaskDefinition,
    /// `--containers` named a container the task definition does not have.
    #[error("no container named `{name}` in the task definition (it has: {known})")]
    UnknownContainer {
        /// The name asked for.
        name: String,
        /// The names the task definition has, comma-separated.
        known: String,
    },
    /// A container has neither `entryPoint` nor `command`, so what it runs is only in its image.
    #[error("container `{container}` has no entryPoint or command in the task definition, so what it runs is known only to its image (its ENTRYPOINT/CMD); lanner cannot wrap it from here. Put the image's ENTRYPOINT and CMD into the container's `entryPoint`/`command` (`docker inspect --format '{{{{json .Config.Entrypoint}}}} {{{{json .Config.Cmd}}}}' IMAGE` shows them) and patch again")]
    NoCommand {
        /// The container's name.
        container: String,
    },
    /// A field has a JSON type ECS does not accept there.
    #[error("container `{container}`: `{field}` must be {expected}")]
    BadField {
        /// The container's name.
        container: String,
        /// The field's path.
        field: &'static str,
        /// What ECS expects there.
        expected: &'static str,
    },
}

/// What to patch and how.
#[derive(Debug, Clone)]
pub struct PatchOptions {
    /// Where the lanner binary is inside the patched containers.
    pub lanner_path: String,
    /// The image of a sidecar that carries lanner to the other containers; `None` when the
    /// application images already contain it.
    pub sidecar_image: Option<String>,
    /// The containers to wrap; all of them (except the sidecar) when empty.
    pub containers: Vec<String>,
}

impl Default for PatchOptions {
    fn default() -> Self {
        PatchOptions {
            lanner_path: DEFAULT_LANNER_PATH.to_owned(),
            sidecar_image: None,
            containers: Vec::new(),
        }
    }
}

/// What a patch did, for the user.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PatchReport {
    /// Containers whose command now runs under lanner.
    pub wrapped: Vec<String>,
    /// Containers that already ran under lanner (left as they were, but for lanner's path).
    pub already_wrapped: Vec<String>,
    /// Whether the sidecar container was added (false: it was there already, or no sidecar).
    pub sidecar_added: bool,
}

/// Patches `doc` in place: a task definition, bare or under `taskDefinition`.
pub fn patch(doc: &mut Value, opts: &PatchOptions) -> Result<PatchReport, PatchError> {
    let task = task_definition(doc)?;
    let containers = task
        .get_mut("containerDefinitions")
        .and_then(Value::as_array_mut)
        .ok_or(PatchError::NotATaskDefinition)?;
    let selected = select(containers, &opts.containers)?;
    let mut report = PatchReport::default();
    for container in containers.iter_mut() {
        let name = container_name(container);
        if !selected.contains(&name) {
            continue;
        }
        let Some(def) = container.as_object_mut() else {
            continue;
        };
        if wrap_command(def, &name, &opts.lanner_path)? {
            report.wrapped.push(name.clone());
        } else {
            report.already_wrapped.push(name.clone());
        }
        add_capability(def, &name)?;
        if opts.sidecar_image.is_some() {
            use_sidecar(def, &name)?;
        }
    }
    if let Some(image) = &opts.sidecar_image {
        report.sidecar_added = put_sidecar(containers, image, &opts.lanner_path);
    }
    Ok(report)
}

/// The task definition object inside `doc`.
fn task_definition(doc: &mut Value) -> Result<&mut Map<String, Value>, PatchError> {
    let root = doc.as_object_mut().ok_or(PatchError::NotATaskDefinition)?;
    // `describe-task-definition` wraps it (next to `tags`); `register-task-definition
    // --cli-input-json` and the console's JSON view give it bare.
    if root.contains_key("containerDefinitions") {
        return Ok(root);
    }
    root.get_mut("taskDefinition")
        .and_then(Value::as_object_mut)
        .filter(|task| task.contains_key("containerDefinitions"))
        .ok_or(PatchError::NotATaskDefinition)
}

fn container_name(container: &Value) -> String {
    container
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The names of the containers to wrap: those asked for (which must exist), or every
/// container but the sidecar.
fn select(containers: &[Value], wanted: &[String]) -> Result<Vec<String>, PatchError> {
    let names: Vec<String> = containers.iter().map(container_name).collect();
    if wanted.is_empty() {
        return Ok(names.into_iter().filter(|n| n != SIDECAR_NAME).collect());
    }
    for name in wanted {
        if !names.contains(name) || name == SIDECAR_NAME {
            return Err(PatchError::UnknownContainer {
                name: name.clone(),
                known: names.join(", "),
            });
        }
    }
    Ok(wanted.to_vec())
}

/// A field that ECS types as a list of strings; `None` when absent (or null).
fn strings(
    def: &Map<String, Value>,
    container: &str,
    field: &'static str,
) -> Result<Option<Vec<String>>, PatchError> {
    let bad = || PatchError::BadField {
        container: container.to_owned(),
        field,
        expected: "a list of strings",
    };
    match def.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or_else(bad))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad()),
    }
}

fn string_array<S: AsRef<str>>(items: &[S]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|s| Value::String(s.as_ref().to_owned()))
            .collect(),
    )
}

/// Whether an entryPoint is lanner's wrapper already (whatever path lanner had then).
fn is_wrapper(entry_point: &[String]) -> bool {
    match entry_point.split_first() {
        Some((program, args)) => {
            program.rsplit('/').next() == Some("lanner")
                && args.first().map(String::as_str) == Some("run")
        }
        None => false,
    }
}

/// Makes the container run `lanner run --driver ptrace -- <entryPoint> <command>`. Returns
/// false when it already ran under lanner.
fn wrap_command(
    def: &mut Map<String, Value>,
    name: &str,
    lanner_path: &str,
) -> Result<bool, PatchError> {
    let entry_point = strings(def, name, "entryPoint")?.unwrap_or_default();
    let command = strings(def, name, "command")?.unwrap_or_default();
    let wrapper: Vec<&str> = std::iter::once(lanner_path).chain(RUN_ARGS).collect();
    if is_wrapper(&entry_point) {
        // Only lanner's path may have changed; the arguments and the command are ours.
        if entry_point.first().map(String::as_str) != Some(lanner_path) {
            let mut updated = entry_point;
            if let Some(program) = updated.first_mut() {
                lanner_path.clone_into(program);
            }
            def.insert("entryPoint".to_owned(), string_array(&updated));
        }
        return Ok(false);
    }
    if entry_point.is_empty() && command.is_empty() {
        return Err(PatchError::NoCommand {
            container: name.to_owned(),
        });
    }
    let workload: Vec<String> = entry_point.into_iter().chain(command).collect();
    // `insert` keeps an existing key where it was, so a diff shows the values changing only.
    def.insert("entryPoint".to_owned(), string_array(&wrapper));
    def.insert("command".to_owned(), string_array(&workload));
    Ok(true)
}

/// The object at `def[key]`, created empty when absent.
fn object_at<'a>(
    def: &'a mut Map<String, Value>,
    key: &str,
    container: &str,
    field: &'static str,
) -> Result<&'a mut Map<String, Value>, PatchError> {
    let slot = def
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().ok_or_else(|| PatchError::BadField {
        container: container.to_owned(),
        field,
        expected: "an object",
    })
}

/// The array at `def[key]`, created empty when absent.
fn array_at<'a>(
    def: &'a mut Map<String, Value>,
    key: &str,
    container: &str,
    field: &'static str,
) -> Result<&'a mut Vec<Value>, PatchError> {
    let slot = def
        .entry(key.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    if slot.is_null() {
        *slot = Value::Array(Vec::new());
    }
    slot.as_array_mut().ok_or_else(|| PatchError::BadField {
        container: container.to_owned(),
        field,
        expected: "a list",
    })
}

/// Adds `SYS_PTRACE` to `linuxParameters.capabilities.add`, once; and takes it out of `drop`,
/// where it would undo the add.
fn add_capability(def: &mut Map<String, Value>, name: &str) -> Result<(), PatchError> {
    let linux = object_at(def, "linuxParameters", name, "linuxParameters")?;
    let caps = object_at(linux, "capabilities", name, "linuxParameters.capabilities")?;
    let add = array_at(caps, "add", name, "linuxParameters.capabilities.add")?;
    if !add.iter().any(|c| c.as_str() == Some(CAPABILITY)) {
        add.push(Value::String(CAPABILITY.to_owned()));
    }
    if let Some(drop) = caps.get_mut("drop").and_then(Value::as_array_mut) {
        drop.retain(|c| c.as_str() != Some(CAPABILITY));
    }
    Ok(())
}

/// Mounts the sidecar's volume (the lanner binary) into the container, and starts the
/// container only once the sidecar has run successfully.
fn use_sidecar(def: &mut Map<String, Value>, name: &str) -> Result<(), PatchError> {
    let volumes = array_at(def, "volumesFrom", name, "volumesFrom")?;
    if !volumes
        .iter()
        .any(|v| v.get("sourceContainer").and_then(Value::as_str) == Some(SIDECAR_NAME))
    {
        let mut volume = Map::new();
        volume.insert("sourceContainer".into(), SIDECAR_NAME.into());
        volume.insert("readOnly".into(), true.into());
        volumes.push(Value::Object(volume));
    }
    let depends = array_at(def, "dependsOn", name, "dependsOn")?;
    if !depends
        .iter()
        .any(|d| d.get("containerName").and_then(Value::as_str) == Some(SIDECAR_NAME))
    {
        // SUCCESS rather than START: the sidecar only runs `lanner --version` and exits, so
        // waiting for a zero exit proves the binary runs on this platform before the
        // workload's entrypoint depends on it. (Docker fills the volume at container creation,
        // so START would work too, but a broken binary would then show up as the app failing.)
        let mut dependency = Map::new();
        dependency.insert("containerName".into(), SIDECAR_NAME.into());
        dependency.insert("condition".into(), "SUCCESS".into());
        depends.push(Value::Object(dependency));
    }
    Ok(())
}

/// Adds the sidecar container (or points the existing one at `image`). Returns whether it was
/// added.
fn put_sidecar(containers: &mut Vec<Value>, image: &str, lanner_path: &str) -> bool {
    if let Some(existing) = containers
        .iter_mut()
        .filter_map(Value::as_object_mut)
        .find(|c| c.get("name").and_then(Value::as_str) == Some(SIDECAR_NAME))
    {
        existing.insert("image".into(), image.into());
        return false;
    }
    let mut sidecar = Map::new();
    sidecar.insert("name".into(), SIDECAR_NAME.into());
    sidecar.insert("image".into(), image.into());
    // Not essential: it exits as soon as it has run, and the task must go on without it.
    sidecar.insert("essential".into(), false.into());
    // The image is FROM scratch: no shell, nothing to run but lanner itself.
    sidecar.insert(
        "entryPoint".into(),
        string_array(&[lanner_path, "--version"]),
    );
    containers.push(Value::Object(sidecar));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(json: &str) -> Value {
        serde_json::from_str(json).expect("test JSON")
    }

    fn patched(json: &str, opts: &PatchOptions) -> Value {
        let mut value = doc(json);
        patch(&mut value, opts).expect("patch");
        value
    }

    const APP: &str = r#"{"family":"f","containerDefinitions":[
        {"name":"app","image":"i","entryPoint":["/bin/sh","-c"],"command":["exec app"],
         "linuxParameters":{"initProcessEnabled":false,"capabilities":{"add":["NET_ADMIN"],"drop":["SYS_PTRACE"]}}}]}"#;

    #[test]
    fn wraps_entrypoint_and_command() {
        let out = patched(APP, &PatchOptions::default());
        let app = &out["containerDefinitions"][0];
        assert_eq!(
            app["entryPoint"],
            doc(r#"["/lanner/lanner","run","--driver","ptrace","--"]"#)
        );
        assert_eq!(app["command"], doc(r#"["/bin/sh","-c","exec app"]"#));
        assert_eq!(
            app["linuxParameters"]["capabilities"],
            doc(r#"{"add":["NET_ADMIN","SYS_PTRACE"],"drop":[]}"#)
        );
        assert_eq!(app["linuxParameters"]["initProcessEnabled"], false);
    }

    #[test]
    fn command_only_and_entrypoint_only() {
        let out = patched(
            r#"{"containerDefinitions":[{"name":"a","command":["x","y"]},{"name":"b","entryPoint":["z"]}]}"#,
            &PatchOptions::default(),
        );
        assert_eq!(
            out["containerDefinitions"][0]["command"],
            doc(r#"["x","y"]"#)
        );
        assert_eq!(out["containerDefinitions"][1]["command"], doc(r#"["z"]"#));
        assert_eq!(
            out["containerDefinitions"][1]["linuxParameters"],
            doc(r#"{"capabilities":{"add":["SYS_PTRACE"]}}"#)
        );
    }

    #[test]
    fn no_command_names_the_container() {
        let mut value = doc(r#"{"containerDefinitions":[{"name":"web","image":"nginx"}]}"#);
        let err = patch(&mut value, &PatchOptions::default()).expect_err("no command");
        let message = err.to_string();
        assert!(message.contains("`web`"), "{message}");
        assert!(message.contains("ENTRYPOINT"), "{message}");
    }

    #[test]
    fn patching_twice_is_patching_once() {
        let opts = PatchOptions {
            sidecar_image: Some("lanner:1".into()),
            ..PatchOptions::default()
        };
        let once = patched(APP, &opts);
        let mut twice = once.clone();
        let report = patch(&mut twice, &opts).expect("patch");
        assert_eq!(once, twice);
        assert_eq!(report.already_wrapped, ["app"]);
        assert!(!report.sidecar_added);
    }

    #[test]
    fn sidecar_mode_adds_the_sidecar_and_wires_it() {
        let opts = PatchOptions {
            sidecar_image: Some("lanner:1".into()),
            ..PatchOptions::default()
        };
        let out = patched(APP, &opts);
        let app = &out["containerDefinitions"][0];
        assert_eq!(
            app["volumesFrom"],
            doc(r#"[{"sourceContainer":"lanner","readOnly":true}]"#)
        );
        assert_eq!(
            app["dependsOn"],
            doc(r#"[{"containerName":"lanner","condition":"SUCCESS"}]"#)
        );
        let sidecar = &out["containerDefinitions"][1];
        assert_eq!(sidecar["name"], "lanner");
        assert_eq!(sidecar["essential"], false);
        assert_eq!(sidecar["image"], "lanner:1");
    }

    #[test]
    fn wrapped_under_describe_output_and_selected_containers() {
        let json = r#"{"taskDefinition":{"containerDefinitions":[
            {"name":"a","command":["x"]},{"name":"b","command":["y"]}]},"tags":[]}"#;
        let opts = PatchOptions {
            containers: vec!["b".into()],
            ..PatchOptions::default()
        };
        let out = patched(json, &opts);
        let defs = &out["taskDefinition"]["containerDefinitions"];
        assert_eq!(defs[0]["command"], doc(r#"["x"]"#));
        assert!(defs[0].get("entryPoint").is_none());
        assert_eq!(defs[1]["command"], doc(r#"["y"]"#));
        assert_eq!(out["tags"], doc("[]"));
        let mut value = doc(json);
        let opts = PatchOptions {
            containers: vec!["c".into()],
            ..PatchOptions::default()
        };
        assert!(matches!(
            patch(&mut value, &opts),
            Err(PatchError::UnknownContainer { .. })
        ));
    }

    #[test]
    fn a_new_lanner_path_replaces_the_old_one() {
        let once = patched(APP, &PatchOptions::default());
        let mut moved = once.clone();
        let opts = PatchOptions {
            lanner_path: "/opt/lanner".into(),
            ..PatchOptions::default()
        };
        patch(&mut moved, &opts).expect("patch");
        let app = &moved["containerDefinitions"][0];
        assert_eq!(app["entryPoint"][0], "/opt/lanner");
        assert_eq!(app["command"], once["containerDefinitions"][0]["command"]);
    }

    #[test]
    fn other_documents_are_refused() {
        for json in ["[]", r#"{"family":"x"}"#, r#"{"taskDefinition":{}}"#] {
            assert!(matches!(
                patch(&mut doc(json), &PatchOptions::default()),
                Err(PatchError::NotATaskDefinition)
            ));
        }
    }
}
