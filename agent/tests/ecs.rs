//! Container context from the ECS task metadata endpoint, through the real binary under the real
//! ptrace driver: a std `TcpListener` thread serves recorded v4 documents (in AWS's documented
//! shape, `tests/data/ecs/`) the way the ECS agent does, and the alert for `cat /etc/shadow`
//! must name the container and the task. An endpoint that does not answer costs a warning only.

mod common;

use common::{ptrace_available, LANNER};

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};

const TASK_ARN: &str =
    "arn:aws:ecs:us-west-2:111122223333:task/default/cd189a933e5849daa93386466019ab50";
const DOCKER_ID: &str = "cd189a933e5849daa93386466019ab50-2495160603";

fn data(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/ecs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Answers one request: the container document at `/v4/ID`, the task document at
/// `/v4/ID/task` (chunked, as Go's net/http sends a large body), 404 otherwise.
fn answer(stream: TcpStream, container: &str, task: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Skip the headers.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let path = request_line.split(' ').nth(1).unwrap_or_default();
    let mut out = stream;
    match path {
        "/v4/cd189a933e5849daa93386466019ab50-2495160603" => write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{container}",
            container.len()
        ),
        "/v4/cd189a933e5849daa93386466019ab50-2495160603/task" => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            )?;
            for chunk in task.as_bytes().chunks(1000) {
                write!(out, "{:x}\r\n", chunk.len())?;
                out.write_all(chunk)?;
                write!(out, "\r\n")?;
            }
            write!(out, "0\r\n\r\n")
        }
        _ => write!(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    }
}

/// Serves the recorded documents on 127.0.0.1; returns `ECS_CONTAINER_METADATA_URI_V4`.
fn serve_metadata() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let (container, task) = (data("container.json"), data("task.json"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if let Err(err) = answer(stream, &container, &task) {
                eprintln!("metadata server: {err}");
            }
        }
    });
    format!("http://127.0.0.1:{port}/v4/{DOCKER_ID}")
}

fn cat_shadow(uri: &str) -> Output {
    Command::new(LANNER)
        .args([
            "run",
            "--driver",
            "ptrace",
            "--",
            "sh",
            "-c",
            "cat /etc/shadow > /dev/null",
        ])
        .env("ECS_CONTAINER_METADATA_URI_V4", uri)
        .env("LANNER_LOG", "info")
        .output()
        .expect("lanner runs")
}

/// The alert lines (JSON) on stderr.
fn alerts(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn alerts_carry_the_ecs_container_and_task() {
    if !ptrace_available() {
        return;
    }
    let out = cat_shadow(&serve_metadata());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let alerts = alerts(&out);
    let alert = alerts
        .iter()
        .find(|a| a["rule"] == "Read sensitive file untrusted")
        .unwrap_or_else(|| panic!("no alert in: {stderr}"));
    let fields = &alert["output_fields"];
    assert_eq!(fields["container.id"], DOCKER_ID, "{alert}");
    assert_eq!(fields["container.name"], "api", "{alert}");
    assert_eq!(
        fields["container.image"],
        "111122223333.dkr.ecr.us-west-2.amazonaws.com/shop-api:1.4.2"
    );
    assert_eq!(fields["ecs.task_arn"], TASK_ARN, "{alert}");
    assert_eq!(
        fields["ecs.cluster"],
        "arn:aws:ecs:us-west-2:111122223333:cluster/default"
    );
    // From the task document only (not in the container's labels): it was read, chunked.
    assert_eq!(fields["ecs.availability_zone"], "us-west-2d", "{alert}");
    assert_eq!(fields["ecs.launch_type"], "FARGATE");
    assert!(!stderr.contains("WARN"), "{stderr}");
}

#[test]
fn an_endpoint_that_is_down_costs_a_warning_only() {
    if !ptrace_available() {
        return;
    }
    // A port that was just free: nothing listens on it.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let out = cat_shadow(&format!("http://127.0.0.1:{port}/v4/{DOCKER_ID}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("ECS container metadata unavailable"),
        "{stderr}"
    );
    let alerts = alerts(&out);
    let alert = alerts
        .iter()
        .find(|a| a["rule"] == "Read sensitive file untrusted")
        .unwrap_or_else(|| panic!("no alert in: {stderr}"));
    assert!(
        alert["output_fields"].get("ecs.task_arn").is_none(),
        "{alert}"
    );
}
