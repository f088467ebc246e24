//! `etcd-console snapshot status FILE`, `snapshot verify FILE` and `snapshot
//! analyze FILE`: a snapshot read in Rust, read-only, without etcd. Exit 0
//! sound, 1 the file is not a sound snapshot (truncated, damaged, foreign; for
//! `analyze`, also records skipped or a walk stopped by a damaged page, the
//! figures read until then still given), 2 it cannot be read at all.

use super::output::errln;
use serde_json::json;

use super::output::outln;
use crate::cli::{OutputFormat, SnapshotCommand};
use etcd_console_core::backup::analyze::{self, Analysis};
use etcd_console_core::backup::snapshot::{self, Trailer};
use etcd_console_core::units::format_bytes;

pub fn run(command: &SnapshotCommand) -> i32 {
    let (path, output, verifying) = match command {
        SnapshotCommand::Status { file, output } => (file, *output, false),
        SnapshotCommand::Verify { file, output } => (file, *output, true),
        SnapshotCommand::Analyze { file, output } => return run_analyze(file, *output),
    };
    let file = match snapshot::open(path) {
        Ok(file) => file,
        Err(e) => {
            errln!("etcd-console: {e}");
            return 2;
        }
    };
    let result = if verifying {
        snapshot::verify(&file).map(|(trailer, status)| (Some(trailer), status))
    } else {
        snapshot::status(&file).map(|status| (None, status))
    };
    let (trailer, status) = match result {
        Ok(found) => found,
        Err(e) => {
            if output == OutputFormat::Json {
                outln!("{}", json!({"file": path, "ok": false, "error": e.to_string()}));
            }
            errln!("etcd-console: {}: {e}", path.display());
            return 1;
        }
    };
    match output {
        OutputFormat::Json => {
            let mut value = serde_json::to_value(&status).unwrap_or_default();
            if let Some(trailer) = &trailer {
                value["ok"] = json!(true);
                value["sha256"] = serde_json::to_value(trailer).unwrap_or_default();
                value["file"] = json!(path);
            }
            outln!("{value}");
        }
        OutputFormat::Table => {
            if let Some(trailer) = trailer {
                match trailer {
                    Trailer::Matches => outln!("{}: SHA-256 matches; bbolt structure sound", path.display()),
                    Trailer::Absent => outln!(
                        "{}: no SHA-256 trailer: a raw copy of a member's database (member/snap/db), not a \
                         snapshot from etcd; bbolt structure sound",
                        path.display()
                    ),
                }
            }
            outln!("HASH      REVISION  TOTAL KEYS  TOTAL SIZE");
            outln!(
                "{:<8x}  {:<8}  {:<10}  {}",
                status.hash,
                status.revision,
                status.total_key,
                format_bytes(status.total_size)
            );
        }
    }
    0
}

fn run_analyze(path: &std::path::Path, output: OutputFormat) -> i32 {
    let file = match snapshot::open(path) {
        Ok(file) => file,
        Err(e) => {
            errln!("etcd-console: {e}");
            return 2;
        }
    };
    let analysis = match analyze::analyze(&file) {
        Ok(analysis) => analysis,
        Err(e) => {
            if output == OutputFormat::Json {
                outln!("{}", json!({"file": path, "ok": false, "error": e.to_string()}));
            }
            errln!("etcd-console: {}: {e}", path.display());
            return 1;
        }
    };
    match output {
        OutputFormat::Json => outln!("{}", serde_json::to_value(&analysis).unwrap_or_default()),
        OutputFormat::Table => print_analysis(&analysis),
    }
    if let Some(reason) = &analysis.partial {
        errln!(
            "etcd-console: {}: partial analysis: the walk stopped at a damaged page ({reason}); the figures cover \
             what came before it. Run `etcd-console snapshot verify` on it, and analyze another backup",
            path.display()
        );
    }
    if analysis.skipped.records > 0 {
        errln!(
            "etcd-console: {}: {} records ({}) of the key bucket could not be read and are not counted: {}",
            path.display(),
            analysis.skipped.records,
            format_bytes(analysis.skipped.bytes),
            analysis.skipped.reasons.join("; ")
        );
    }
    i32::from(!analysis.is_complete())
}

fn print_analysis(analysis: &Analysis) {
    outln!(
        "{} live keys, {} live; {} held by {} old revisions not yet compacted (revision {}, compacted at {})",
        analysis.total_keys,
        format_bytes(analysis.live_bytes),
        format_bytes(analysis.history_bytes),
        analysis.revisions - analysis.total_keys,
        analysis.revision,
        analysis.compact_revision.map(|r| r.to_string()).unwrap_or_else(|| "none".into())
    );
    outln!("");
    outln!(
        "{:<4}  {:>9}  {:>10}  {:>10}  {:>6}  RESOURCE (PREFIX) / TOP NAMESPACES",
        "RANK",
        "KEYS",
        "LIVE",
        "HISTORY",
        "SHARE"
    );
    let whole = (analysis.live_bytes + analysis.history_bytes).max(1) as f64;
    for (rank, resource) in analysis.resources.iter().enumerate() {
        let share = (resource.bytes + resource.history_bytes) as f64 * 100.0 / whole;
        outln!(
            "{:<4}  {:>9}  {:>10}  {:>10}  {:>5.1}%  {} ({})",
            rank + 1,
            resource.keys,
            format_bytes(resource.bytes),
            format_bytes(resource.history_bytes),
            share,
            if resource.resource.is_empty() { "(no prefix)" } else { &resource.resource },
            resource.prefix
        );
        for namespace in resource.namespaces.iter().take(3) {
            outln!(
                "{:<4}  {:>9}  {:>10}  {:>10}  {:>6}    {}",
                "",
                namespace.keys,
                format_bytes(namespace.bytes),
                "",
                "",
                namespace.namespace
            );
        }
    }
    outln!("");
    outln!("LARGEST OBJECTS");
    for object in &analysis.largest {
        outln!("{:>10}  {}", format_bytes(object.bytes), object.key);
    }
    let leases = &analysis.leases;
    outln!("");
    outln!("{} leases; {} live keys ({}) attached to one", leases.count, leases.keys, format_bytes(leases.bytes));
    for lease in &leases.top {
        let ttl = lease.ttl_seconds.map(|t| format!("TTL {t}s")).unwrap_or_else(|| "not in the lease bucket".into());
        outln!("{:>10}  {:>6} keys  lease {} ({ttl})", format_bytes(lease.bytes), lease.keys, lease.id);
    }
}
