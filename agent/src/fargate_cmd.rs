//! `lanner fargate patch`: file in, file (or stdout) out, a summary on stderr.

use std::io::Write;

use anyhow::{Context, Result};
use lanner::fargate::{self, PatchOptions};

use crate::cli::FargatePatchArgs;

/// Reads the task definition, patches it, writes it back out as indented JSON.
pub fn patch(args: &FargatePatchArgs) -> Result<()> {
    let path = &args.task_definition;
    // `-`: standard input, for `aws ecs describe-task-definition ... | lanner fargate patch -`.
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading the standard input")?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
    };
    let mut doc: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let opts = PatchOptions {
        lanner_path: args.lanner_path.clone(),
        sidecar_image: args.sidecar_image.clone(),
        containers: args.containers.clone(),
    };
    if args.sidecar_image.is_some() && !args.lanner_path.starts_with("/lanner/") {
        // The sidecar image's volume is /lanner: another path is not in it.
        tracing::warn!(
            "--lanner-path {} is outside /lanner, the sidecar image's volume; the sidecar and the \
             wrapped containers will not find lanner there unless your sidecar image puts it there",
            args.lanner_path
        );
    }
    let report =
        fargate::patch(&mut doc, &opts).with_context(|| format!("patching {}", path.display()))?;
    let mut json = serde_json::to_string_pretty(&doc).context("serializing the result")?;
    json.push('\n');
    match &args.output {
        Some(out) => {
            std::fs::write(out, json).with_context(|| format!("writing {}", out.display()))?
        }
        None => std::io::stdout()
            .write_all(json.as_bytes())
            .context("writing the result")?,
    }
    if !report.wrapped.is_empty() {
        tracing::info!("wrapped: {}", report.wrapped.join(", "));
    }
    if !report.already_wrapped.is_empty() {
        tracing::info!(
            "already under lanner: {}",
            report.already_wrapped.join(", ")
        );
    }
    if report.sidecar_added {
        tracing::info!("added the sidecar container `{}`", fargate::SIDECAR_NAME);
    }
    Ok(())
}
