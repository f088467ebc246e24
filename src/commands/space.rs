//! `etcd-console space`: what fills etcd, read live from one follower with the
//! load bounded (`--max-qps`, `--max-requests`), or counted in the newest
//! verified backup (`--from-backup`). Exit 0 a whole reading, 1 a partial one,
//! 2 bad input or nothing to read.

use super::output::errln;
use std::io::IsTerminal;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::output::{outln, safe};
use crate::cli::{ConsoleArgs, OutputFormat, SpaceArgs};
use etcd_console_core::etcd::source::EtcdSource;
use etcd_console_core::settings::{ConnectionSettings, KubeSettings};
use etcd_console_core::space::live::{self, LiveOptions};
use etcd_console_core::space::walk::WalkOptions;
use etcd_console_core::space::{history, percent_text, resource_label, Reading, Source};
use etcd_console_core::units::{format_age, format_bytes};

/// The reading's options from the flags.
pub fn options(connection: &ConnectionSettings, console: &ConsoleArgs, args: Option<&SpaceArgs>) -> LiveOptions {
    let defaults = WalkOptions::default();
    LiveOptions {
        walk: WalkOptions {
            page: args.map_or(defaults.page, |a| a.page as usize),
            breakdown: args.map_or(defaults.breakdown, |a| a.breakdown),
            max_requests: args.map_or(defaults.max_requests, |a| a.max_requests),
            ..defaults
        },
        max_qps: console.max_qps,
        timeout: connection.command_timeout,
        member: args.and_then(|a| a.member.clone()),
    }
}

pub async fn run(connection: &ConnectionSettings, console: &ConsoleArgs, kube: &KubeSettings, args: &SpaceArgs) -> i32 {
    let source = match EtcdSource::choose(connection, Some(kube)) {
        Ok(source) => source,
        Err(e) => {
            errln!("etcd-console: {e}");
            return 2;
        }
    };
    let options = options(connection, console, Some(args));
    let target = match live::reach(&source, options.member.as_deref()).await {
        Ok(target) => target,
        Err(e) => {
            errln!("etcd-console: {e}\n{}", source.hint());
            return 2;
        }
    };
    if args.from_backup {
        return from_backup(console, target.cluster_id, args.output).await;
    }
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        super::interrupt::interrupted().await;
        stop.cancel();
    });
    let show_progress = args.output == OutputFormat::Table && std::io::stderr().is_terminal();
    tracing::info!(target: "audit", action = "space", member = ?target.source, max_qps = options.max_qps, "live space reading");
    let mut reading = live::read(&target, &options, &cancel, |so_far| {
        if show_progress {
            eprint!("\r\x1b[Kreading: {} requests, {} resources ...", so_far.requests, so_far.resources.len());
        }
    })
    .await;
    if show_progress {
        eprint!("\r\x1b[K");
    }
    let kept = console.space_dir.clone().or_else(etcd_console_core::paths::space_dir);
    if let Some(dir) = &kept {
        if let Err(e) = history::compare_and_keep(dir, &mut reading) {
            errln!("etcd-console: the reading is not kept for the next comparison: {e}");
        }
    }
    tracing::info!(
        target: "audit",
        action = "space",
        requests = reading.requests,
        keys = reading.total_keys,
        seconds = reading.duration_seconds,
        partial = reading.partial.as_deref().unwrap_or(""),
        "live space reading done"
    );
    print(&reading, args.output);
    if let Some(why) = &reading.partial {
        errln!("etcd-console: partial reading: {}", safe(why));
        return 1;
    }
    0
}

/// The newest verified backup of the cluster in the backup directory, analysed.
async fn from_backup(console: &ConsoleArgs, cluster_id: u64, output: OutputFormat) -> i32 {
    let Some(dir) = console.backup_dir.clone().or_else(etcd_console_core::paths::backups_dir) else {
        errln!("etcd-console: no backup directory: give --backup-dir");
        return 2;
    };
    match tokio::task::spawn_blocking(move || etcd_console_core::space::from_latest_backup(&dir, cluster_id)).await {
        Ok(Ok(reading)) => {
            print(&reading, output);
            match &reading.partial {
                Some(why) => {
                    errln!("etcd-console: partial analysis: {}", safe(why));
                    1
                }
                None => 0,
            }
        }
        Ok(Err(e)) => {
            errln!("etcd-console: {}", safe(&e));
            2
        }
        Err(e) => {
            errln!("etcd-console: the analysis stopped: {e}");
            2
        }
    }
}

fn print(reading: &Reading, output: OutputFormat) {
    match output {
        OutputFormat::Json => outln!("{}", serde_json::to_value(reading).unwrap_or_default()),
        OutputFormat::Table => {
            for line in describe(reading) {
                outln!("{line}");
            }
        }
    }
}

/// The reading as lines: where from, the totals, what grew, then the ranked resources.
pub fn describe(reading: &Reading) -> Vec<String> {
    let mut lines = Vec::new();
    let approx = if reading.estimated { "~" } else { "" };
    match &reading.source {
        Source::Member { member, leader, db_size, db_size_in_use, .. } => {
            lines.push(format!(
                "live reading of {} ({}) at revision {}, {}",
                safe(member),
                if *leader { "the leader: no healthy follower" } else { "a follower" },
                reading.revision,
                reading.taken_at
            ));
            lines.push(format!(
                "{} keys, {approx}{} live (estimated from {} sampled objects); DB {}, {} in use",
                reading.total_keys,
                format_bytes(reading.bytes),
                reading.sampled,
                format_bytes(*db_size),
                format_bytes(*db_size_in_use)
            ));
            lines.push(format!(
                "cost: {} serializable range requests in {:.1} s, {} of values read",
                reading.requests,
                reading.duration_seconds,
                format_bytes(reading.sampled_bytes)
            ));
        }
        Source::Snapshot { file, .. } => {
            lines.push(format!("backup {} at revision {}, taken {}", safe(file), reading.revision, reading.taken_at));
            lines.push(format!(
                "{} keys, {} live, {} held by old revisions not yet compacted (every record counted)",
                reading.total_keys,
                format_bytes(reading.bytes),
                format_bytes(reading.history_bytes.unwrap_or(0))
            ));
        }
    }
    if let Some(previous) = &reading.previous {
        let growth = reading.growth(3, true);
        let said = if growth.is_empty() { "nothing grew".to_string() } else { growth.join("; ") };
        lines.push(format!(
            "since the reading {} ago ({} keys): {}",
            format_age(Duration::from_secs(previous.since_seconds)),
            previous.total_keys,
            said
        ));
    }
    if let Some(why) = &reading.partial {
        lines.push(format!("PARTIAL: {}", safe(why)));
    }
    lines.push(String::new());
    lines.push(format!(
        "{:<4}  {:>9}  {:>10}  {:>6}  {:>7}  RESOURCE (PREFIX) / TOP NAMESPACES",
        "RANK",
        "KEYS",
        if reading.estimated { "~BYTES" } else { "BYTES" },
        "SHARE",
        "KEYS ±"
    ));
    let whole = reading.bytes.max(1) as f64;
    for (rank, group) in reading.resources.iter().enumerate() {
        let change = match &group.change {
            Some(c) => match c.keys_percent {
                Some(pct) => percent_text(pct).replace(' ', ""),
                None => "new".into(),
            },
            None => String::new(),
        };
        lines.push(format!(
            "{:<4}  {:>9}  {:>10}  {:>5.1}%  {:>7}  {} ({})",
            rank + 1,
            group.keys,
            format_bytes(group.bytes),
            group.bytes as f64 * 100.0 / whole,
            change,
            resource_label(&group.resource),
            safe(&group.prefix)
        ));
        for namespace in group.namespaces.iter().take(3) {
            lines.push(format!(
                "{:<4}  {:>9}  {:>10}  {:>6}  {:>7}    {}",
                "",
                namespace.keys,
                format_bytes(namespace.bytes),
                "",
                "",
                if namespace.namespace.is_empty() { "(cluster-scoped)".into() } else { safe(&namespace.namespace) }
            ));
        }
    }
    if reading.estimated {
        lines.push(String::new());
        lines.push(
            "~BYTES are estimates: each resource's keys are counted, its bytes are its count times the mean of the \
             objects sampled where it (and, for the largest, each namespace) starts. `--from-backup` counts every \
             byte of the newest verified backup."
                .into(),
        );
    }
    lines
}
