//! `etcd-console snapshot status FILE` and `snapshot verify FILE`: a snapshot
//! read in Rust, read-only, without etcd. Exit 0 sound, 1 the file is not a
//! sound snapshot (truncated, damaged, foreign), 2 it cannot be read at all.

use serde_json::json;

use super::output::outln;
use crate::cli::{OutputFormat, SnapshotCommand};
use etcd_console_core::backup::snapshot::{self, Trailer};
use etcd_console_core::units::format_bytes;

pub fn run(command: &SnapshotCommand) -> i32 {
    let (path, output, verifying) = match command {
        SnapshotCommand::Status { file, output } => (file, *output, false),
        SnapshotCommand::Verify { file, output } => (file, *output, true),
    };
    let file = match snapshot::open(path) {
        Ok(file) => file,
        Err(e) => {
            eprintln!("etcd-console: {e}");
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
            eprintln!("etcd-console: {}: {e}", path.display());
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
