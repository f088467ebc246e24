//! What fills etcd, as one reading: keys and bytes per resource and namespace,
//! ranked by bytes. A reading is taken live from one member (`live`: counted
//! keys, bytes estimated from a sample, the load bounded) or from a backup's
//! snapshot (`snapshot analyze`: every record counted). Each live reading is
//! kept per cluster (`history`) so the next one says what grew, and how fast.

pub mod history;
pub mod live;
pub mod walk;

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::backup::analyze::Analysis;
use walk::Walk;

/// Where a reading came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// Read live from this member (a follower unless none answered).
    Member {
        member: String,
        /// Hex, as etcdctl prints it.
        member_id: String,
        leader: bool,
        db_size: u64,
        db_size_in_use: u64,
    },
    /// Counted in this snapshot file (every record read: nothing estimated).
    Snapshot { file: String, taken_at: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    pub cluster_id: String,
    pub source: Source,
    /// RFC 3339, when the reading was taken.
    pub taken_at: String,
    pub revision: i64,
    /// Bytes are estimated from a sample of each group (live), not counted (a snapshot).
    pub estimated: bool,
    pub total_keys: u64,
    /// Live keys' bytes as their records take them in the member's `key` bucket.
    pub bytes: u64,
    /// A snapshot's bytes held by old revisions not yet compacted (live: not known).
    pub history_bytes: Option<u64>,
    /// The most bytes first.
    pub resources: Vec<Group>,
    /// Requests sent to the member for this reading (live).
    pub requests: u64,
    /// Objects read to estimate the bytes, and their bytes.
    pub sampled: u64,
    pub sampled_bytes: u64,
    pub duration_seconds: f64,
    /// Why the reading is not whole, when it is not: its figures cover what was read.
    pub partial: Option<String>,
    /// The reading compared with, when there is one.
    pub previous: Option<Previous>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The key prefix that holds it, e.g. `/kubernetes.io/events/`; empty for keys outside any.
    pub prefix: String,
    /// `events`, `example.com/widgets`, or the first path segment outside Kubernetes.
    pub resource: String,
    pub keys: u64,
    pub bytes: u64,
    /// Old revisions' bytes (a snapshot only).
    pub history_bytes: Option<u64>,
    /// How many of its objects were read for its bytes; all of them: the bytes are exact.
    pub sampled: u64,
    /// Its namespaces, the most bytes first, when they are known: counted by a walk, or all
    /// sampled. Empty for cluster-scoped resources and keys outside Kubernetes.
    pub namespaces: Vec<NamespaceShare>,
    /// Keys of further namespaces a walk did not list one by one (more than it walks).
    pub other_namespaces_keys: Option<u64>,
    /// Against the previous reading of the same cluster.
    pub change: Option<Change>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamespaceShare {
    pub namespace: String,
    pub keys: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Previous {
    pub taken_at: String,
    pub since_seconds: u64,
    pub revision: i64,
    pub total_keys: u64,
    pub bytes: u64,
}

/// A group's figures then and now; the percentages are None when it was not there then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub keys_before: u64,
    pub bytes_before: u64,
    pub keys_percent: Option<f64>,
    pub bytes_percent: Option<f64>,
}

/// Resource names as people say them: `(no prefix)` for keys outside any.
pub fn resource_label(resource: &str) -> String {
    if resource.is_empty() {
        "(no prefix)".into()
    } else {
        crate::units::safe_text(resource)
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

impl Reading {
    /// The reading a walk made so far (its source and time given).
    pub fn from_walk(walk: &Walk, cluster_id: u64, source: Source, taken_at: SystemTime, took: Duration) -> Reading {
        let mut resources: Vec<Group> = walk
            .resources()
            .iter()
            .map(|r| {
                let listed = r.walked || r.tally.exact();
                let mut namespaces: Vec<NamespaceShare> = if listed {
                    r.namespaces
                        .iter()
                        .map(|(name, t)| NamespaceShare { namespace: lossy(name), keys: t.keys, bytes: t.bytes() })
                        .collect()
                } else {
                    Vec::new()
                };
                namespaces.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.namespace.cmp(&b.namespace)));
                Group {
                    prefix: lossy(&r.prefix),
                    resource: lossy(&r.resource),
                    keys: r.tally.keys,
                    bytes: r.bytes(),
                    history_bytes: None,
                    sampled: r.sampled(),
                    namespaces,
                    other_namespaces_keys: r.rest,
                    change: None,
                }
            })
            .collect();
        rank(&mut resources);
        let (sampled, sampled_bytes) = walk.resources().iter().fold((0, 0), |(n, b), r| {
            if r.walked {
                r.namespaces.values().fold((n, b), |(n, b), t| (n + t.sampled, b + t.sampled_bytes))
            } else {
                (n + r.tally.sampled, b + r.tally.sampled_bytes)
            }
        });
        Reading {
            cluster_id: format!("{cluster_id:x}"),
            source,
            taken_at: rfc3339(taken_at),
            revision: walk.revision(),
            estimated: true,
            total_keys: walk.total(),
            bytes: resources.iter().map(|g| g.bytes).sum(),
            history_bytes: None,
            resources,
            requests: walk.requests(),
            sampled,
            sampled_bytes,
            duration_seconds: took.as_secs_f64(),
            partial: walk.partial().map(str::to_string),
            previous: None,
        }
    }

    /// A snapshot's analysis as a reading: every figure counted.
    pub fn from_analysis(
        analysis: &Analysis,
        cluster_id: u64,
        file: String,
        backup_taken_at: Option<String>,
    ) -> Reading {
        let mut resources: Vec<Group> = analysis
            .resources
            .iter()
            .map(|r| Group {
                prefix: r.prefix.clone(),
                resource: r.resource.clone(),
                keys: r.keys,
                bytes: r.bytes,
                history_bytes: Some(r.history_bytes),
                sampled: r.keys,
                namespaces: r
                    .namespaces
                    .iter()
                    .map(|n| NamespaceShare { namespace: n.namespace.clone(), keys: n.keys, bytes: n.bytes })
                    .collect(),
                other_namespaces_keys: None,
                change: None,
            })
            .collect();
        rank(&mut resources);
        Reading {
            cluster_id: format!("{cluster_id:x}"),
            source: Source::Snapshot { file, taken_at: backup_taken_at.clone() },
            taken_at: backup_taken_at.unwrap_or_else(|| rfc3339(SystemTime::now())),
            revision: analysis.revision,
            estimated: false,
            total_keys: analysis.total_keys,
            bytes: analysis.live_bytes,
            history_bytes: Some(analysis.history_bytes),
            resources,
            requests: 0,
            sampled: analysis.total_keys,
            sampled_bytes: analysis.live_bytes,
            duration_seconds: 0.0,
            partial: analysis.partial.clone(),
            previous: None,
        }
    }

    /// Fills in each group's change since `before` (a reading of the same cluster).
    pub fn compare(&mut self, before: &Reading) {
        let (Some(now), Some(then)) = (parse(&self.taken_at), parse(&before.taken_at)) else { return };
        let since = now.duration_since(then).unwrap_or_default();
        self.previous = Some(Previous {
            taken_at: before.taken_at.clone(),
            since_seconds: since.as_secs(),
            revision: before.revision,
            total_keys: before.total_keys,
            bytes: before.bytes,
        });
        for group in &mut self.resources {
            let old = before.resources.iter().find(|g| g.prefix == group.prefix && g.resource == group.resource);
            let (keys_before, bytes_before) = old.map_or((0, 0), |g| (g.keys, g.bytes));
            let percent = |now: u64, then: u64| {
                (old.is_some() && then > 0).then(|| (now as f64 - then as f64) * 100.0 / then as f64)
            };
            group.change = Some(Change {
                keys_before,
                bytes_before,
                keys_percent: percent(group.keys, keys_before),
                bytes_percent: percent(group.bytes, bytes_before),
            });
        }
    }

    /// The groups that grew the most since the previous reading, as people say it:
    /// `events +40 % in 10m (+1204 keys, ~1.2 MiB)`; `new: example.com/widgets 2000 keys, ~8.0 MiB`.
    /// The percentage is of keys (counted, where bytes are estimated); the groups are ranked by
    /// the bytes their new keys add at their mean size now.
    pub fn growth(&self, at_most: usize, with_span: bool) -> Vec<String> {
        let Some(previous) = &self.previous else { return Vec::new() };
        let span = if with_span {
            format!(" in {}", crate::units::format_age(Duration::from_secs(previous.since_seconds)))
        } else {
            String::new()
        };
        let added = |g: &Group, c: &Change| {
            let new_keys = g.keys.saturating_sub(c.keys_before);
            (u128::from(new_keys) * u128::from(g.bytes) / u128::from(g.keys.max(1))) as u64
        };
        let mut grown: Vec<(&Group, &Change)> = self
            .resources
            .iter()
            .filter_map(|g| g.change.as_ref().map(|c| (g, c)))
            .filter(|(g, c)| g.keys > c.keys_before)
            .collect();
        grown.sort_by_key(|(g, c)| std::cmp::Reverse(added(g, c)));
        grown
            .into_iter()
            .take(at_most)
            .map(|(g, c)| match c.keys_percent {
                None => format!(
                    "new: {} {} keys, ~{}",
                    resource_label(&g.resource),
                    g.keys,
                    crate::units::format_bytes(g.bytes)
                ),
                Some(pct) => format!(
                    "{} {}{span} (+{} keys, ~{})",
                    resource_label(&g.resource),
                    percent_text(pct),
                    g.keys - c.keys_before,
                    crate::units::format_bytes(added(g, c))
                ),
            })
            .collect()
    }
}

/// The newest verified backup of the cluster in `dir`, analysed (blocking: it reads the whole
/// file). Err says why there is none to read.
pub fn from_latest_backup(dir: &std::path::Path, cluster_id: u64) -> Result<Reading, String> {
    use crate::wizard::backup::files;
    let existing = files::last_verified(dir, cluster_id).ok_or_else(|| {
        format!(
            "no verified backup of cluster {cluster_id:x} in {}: take one (b, or `etcd-console backup`), or read a \
             file with `etcd-console snapshot analyze FILE`",
            dir.display()
        )
    })?;
    let path = files::snapshot_of(&existing).ok_or_else(|| "the backup's metadata names no snapshot".to_string())?;
    let file = crate::backup::snapshot::open(&path).map_err(|e| e.to_string())?;
    let analysis = crate::backup::analyze::analyze(&file).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Reading::from_analysis(&analysis, cluster_id, path.display().to_string(), Some(existing.metadata.taken_at)))
}

/// `+40 %`, `-3 %`, `+0.4 %`.
pub fn percent_text(pct: f64) -> String {
    if pct.abs() >= 10.0 {
        format!("{pct:+.0} %")
    } else {
        format!("{pct:+.1} %")
    }
}

fn parse(text: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339(text).ok()
}

/// The most bytes first, then the most keys, then by prefix.
fn rank(groups: &mut [Group]) {
    groups.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(b.keys.cmp(&a.keys)).then_with(|| a.prefix.cmp(&b.prefix)));
}

#[cfg(test)]
mod tests;
