//! Container context on AWS ECS: the task metadata endpoint (version 4), which the ECS agent
//! (and Fargate) offer every container at `$ECS_CONTAINER_METADATA_URI_V4`. `${URI}` describes
//! the container itself, `${URI}/task` the task. The agent reads both once at start-up, so that
//! alerts say which container, image, task and cluster they come from: inside a Fargate task
//! `/proc` shows none of it.

use std::time::Duration;

use serde::Deserialize;

use crate::engine::WorkloadContainer;

/// The environment variable ECS sets in every container (agent 1.39.0+, Fargate 1.4.0+).
pub const URI_ENV: &str = "ECS_CONTAINER_METADATA_URI_V4";

/// How long each request may take: the endpoint is local to the task and answers in
/// milliseconds; the workload's start waits for it.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Why the metadata could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EcsError {
    /// The request failed (connection, timeout, HTTP status).
    #[error("GET {url}: {source}")]
    Http {
        /// What was asked for.
        url: String,
        /// Why it failed.
        source: ureq::Error,
    },
    /// The answer is not the documented JSON.
    #[error("{url}: not task metadata JSON: {source}")]
    Json {
        /// What was asked for.
        url: String,
        /// Why it does not parse.
        source: serde_json::Error,
    },
}

/// The container document (`${URI}`), the parts lanner uses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerMetadata {
    /// The runtime's id (Fargate: `<task id>-<number>`; EC2: Docker's 64 hex digits).
    pub docker_id: String,
    /// The container's name in the task definition.
    pub name: String,
    /// The image reference from the task definition.
    pub image: String,
    /// The image's digest id (`sha256:...`).
    #[serde(rename = "ImageID", default)]
    pub image_id: Option<String>,
    /// Docker labels; ECS adds `com.amazonaws.ecs.task-arn`, `.cluster` and others.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// The task document (`${URI}/task`), the parts lanner uses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskMetadata {
    /// The cluster's ARN (or name, on older agents).
    #[serde(default)]
    pub cluster: Option<String>,
    /// The task's ARN.
    #[serde(rename = "TaskARN", default)]
    pub task_arn: Option<String>,
    /// The task definition's family.
    #[serde(default)]
    pub family: Option<String>,
    /// The task definition's revision (a string in the document).
    #[serde(default)]
    pub revision: Option<String>,
    /// The availability zone (agent 1.39.0+).
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// `FARGATE` or `EC2`.
    #[serde(default)]
    pub launch_type: Option<String>,
}

fn get(agent: &ureq::Agent, url: &str) -> Result<String, EcsError> {
    let http = |source| EcsError::Http {
        url: url.to_owned(),
        source,
    };
    agent
        .get(url)
        .call()
        .map_err(http)?
        .body_mut()
        .read_to_string()
        .map_err(http)
}

fn parse<T: for<'de> Deserialize<'de>>(url: &str, body: &str) -> Result<T, EcsError> {
    serde_json::from_str(body).map_err(|source| EcsError::Json {
        url: url.to_owned(),
        source,
    })
}

/// Reads the container and task documents under `uri`. The task document is optional: the
/// container's labels carry the task ARN and cluster too, so its failure is only a warning.
pub fn fetch(uri: &str) -> Result<WorkloadContainer, EcsError> {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        // The endpoint is link-local; an HTTP_PROXY meant for the workload must not take it.
        .proxy(None)
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let uri = uri.trim_end_matches('/');
    let container: ContainerMetadata = parse(uri, &get(&agent, uri)?)?;
    let task_url = format!("{uri}/task");
    let task = match get(&agent, &task_url).and_then(|body| parse(&task_url, &body)) {
        Ok(task) => Some(task),
        Err(err) => {
            tracing::warn!("ECS task metadata: {err}; using the container's labels");
            None
        }
    };
    Ok(workload(&container, task.as_ref()))
}

/// The workload container alerts carry, from the two documents.
pub fn workload(container: &ContainerMetadata, task: Option<&TaskMetadata>) -> WorkloadContainer {
    let label = |name: &str| container.labels.get(name).cloned();
    let from_task = |get: fn(&TaskMetadata) -> &Option<String>| task.and_then(|t| get(t).clone());
    let task_arn = from_task(|t| &t.task_arn).or_else(|| label("com.amazonaws.ecs.task-arn"));
    let cluster = from_task(|t| &t.cluster).or_else(|| label("com.amazonaws.ecs.cluster"));
    let family =
        from_task(|t| &t.family).or_else(|| label("com.amazonaws.ecs.task-definition-family"));
    let revision =
        from_task(|t| &t.revision).or_else(|| label("com.amazonaws.ecs.task-definition-version"));
    let extra = [
        ("ecs.task_arn", task_arn),
        ("ecs.cluster", cluster),
        ("ecs.task_family", family),
        ("ecs.task_revision", revision),
        ("ecs.availability_zone", from_task(|t| &t.availability_zone)),
        ("ecs.launch_type", from_task(|t| &t.launch_type)),
    ];
    WorkloadContainer {
        id: container.docker_id.clone(),
        name: container.name.clone(),
        image: container.image.clone(),
        image_id: container.image_id.clone().filter(|id| !id.is_empty()),
        runtime: "ecs",
        extra_fields: extra
            .into_iter()
            .filter_map(|(name, value)| value.map(|v| (name.to_owned(), v.into())))
            .collect(),
    }
}

/// When `ECS_CONTAINER_METADATA_URI_V4` is set: the workload container it describes, or a
/// warning and `None` when it cannot be read (the agent runs on without the context).
pub fn from_env() -> Option<WorkloadContainer> {
    let uri = std::env::var(URI_ENV).ok().filter(|u| !u.is_empty())?;
    match fetch(&uri) {
        Ok(workload) => {
            tracing::info!(
                container = workload.name,
                id = workload.id,
                image = workload.image,
                "ECS container metadata"
            );
            Some(workload)
        }
        Err(err) => {
            tracing::warn!(
                "ECS container metadata unavailable ({err}); alerts will not carry the container's name, image or task"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTAINER: &str = r#"{"DockerId":"cd189a933e5849daa93386466019ab50-2495160603","Name":"curl","DockerName":"curl",
        "Image":"111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest:latest",
        "ImageID":"sha256:25f3695bedfb454a50f12d127839a68ad3caf91e451c1da073db34c542c4d2cb",
        "Labels":{"com.amazonaws.ecs.cluster":"arn:aws:ecs:us-west-2:111122223333:cluster/default",
          "com.amazonaws.ecs.task-arn":"arn:aws:ecs:us-west-2:111122223333:task/default/cd189a933e5849daa93386466019ab50",
          "com.amazonaws.ecs.task-definition-family":"curltest","com.amazonaws.ecs.task-definition-version":"2"},
        "Limits":{"CPU":10,"Memory":128},"Type":"NORMAL"}"#;

    fn field<'a>(w: &'a WorkloadContainer, name: &str) -> Option<&'a serde_json::Value> {
        w.extra_fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    #[test]
    fn labels_stand_in_for_the_task_document() {
        let container: ContainerMetadata = parse("u", CONTAINER).expect("parses");
        let w = workload(&container, None);
        assert_eq!(w.name, "curl");
        assert_eq!(w.short_id(), "cd189a933e5849daa93386466019ab50-2495160603");
        assert_eq!(w.tag(), Some("latest"));
        assert_eq!(
            field(&w, "ecs.task_arn").and_then(|v| v.as_str()),
            Some(
                "arn:aws:ecs:us-west-2:111122223333:task/default/cd189a933e5849daa93386466019ab50"
            )
        );
        assert_eq!(
            field(&w, "ecs.task_revision").and_then(|v| v.as_str()),
            Some("2")
        );
        assert!(field(&w, "ecs.availability_zone").is_none());
    }

    #[test]
    fn the_task_document_wins() {
        let container: ContainerMetadata = parse("u", CONTAINER).expect("parses");
        let task: TaskMetadata = parse(
            "u",
            r#"{"Cluster":"c","TaskARN":"t","Family":"f","Revision":"3","AvailabilityZone":"us-west-2d","LaunchType":"FARGATE","Containers":[]}"#,
        )
        .expect("parses");
        let w = workload(&container, Some(&task));
        assert_eq!(field(&w, "ecs.cluster").and_then(|v| v.as_str()), Some("c"));
        assert_eq!(
            field(&w, "ecs.task_arn").and_then(|v| v.as_str()),
            Some("t")
        );
        assert_eq!(
            field(&w, "ecs.launch_type").and_then(|v| v.as_str()),
            Some("FARGATE")
        );
    }

    #[test]
    fn an_endpoint_that_does_not_answer_is_an_error_quickly() {
        // A port that was just free: nothing listens (connection refused).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let started = std::time::Instant::now();
        assert!(fetch(&format!("http://127.0.0.1:{port}/v4/x")).is_err());
        assert!(started.elapsed() < TIMEOUT + Duration::from_secs(1));
    }
}
