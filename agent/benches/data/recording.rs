#![allow(dead_code, reason = "the benchmark and each test use different parts")]

//! The recorded workload (`workload.jsonl.gz`, made by `record.sh` next to this file), shared
//! by the engine benchmark and the tests that replay it (`#[path]`-included by each).

use std::io::BufReader;
use std::path::PathBuf;

use lanner::engine::{Engine, EngineConfig};
use lanner_common::Event;
use lanner_rules::Ruleset;

/// The gzipped recording.
pub fn path() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/data/workload.jsonl.gz"
    ))
}

/// Every event of the recording.
pub fn events() -> Vec<Event> {
    let file = std::fs::File::open(path()).expect("recording");
    let reader = BufReader::new(flate2::read::GzDecoder::new(file));
    lanner_common::replay::read_events(reader, "workload.jsonl.gz").expect("recording parses")
}

/// An engine that knows only what the recording tells it: the recorded processes are gone, and
/// a pid reused since must not leak into the results, so its `/proc` is an empty place.
pub fn engine(ruleset: Ruleset) -> Engine {
    Engine::with_config(
        ruleset,
        EngineConfig {
            proc_root: PathBuf::from("/nonexistent/lanner-replay/proc"),
            hostname: Some("replay".to_owned()),
            ..EngineConfig::default()
        },
    )
}

/// The upstream Falco rules (as many as compile) followed by the default ones, as
/// `--rules falco_rules.yaml --rules default.yaml` loads them.
pub fn upstream_and_default() -> Ruleset {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");
    let mut loader = lanner_rules::Loader::new(lanner_rules::LoadOptions::new());
    for name in ["falco_rules.yaml", "default.yaml"] {
        loader
            .load_file(std::path::Path::new(&format!("{dir}/{name}")))
            .expect("rules load");
    }
    loader.compile().expect("rules compile")
}
