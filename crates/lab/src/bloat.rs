//! The `bloat` scenario's keys: what fills a real OpenShift etcd, in small.
//! One namespace's events (attached to one lease, as the API server attaches
//! events to leases), one operator's custom resources (one of them far larger
//! than the rest), and one ConfigMap rewritten many times with no compaction
//! after. The figures are fixed so that tests can check an analysis of a
//! snapshot against them.

use etcd_client::{Client, PutOptions, Txn, TxnOp};

/// The namespace whose events fill the database.
pub const EVENTS_NAMESPACE: &str = "noisy-app";
pub const EVENTS: usize = 2000;
pub const EVENT_BYTES: usize = 1024;
/// A quieter namespace, for the events' second row.
pub const QUIET_NAMESPACE: &str = "quiet";
pub const QUIET_EVENTS: usize = 20;
/// The events' lease TTL (as the API server's `--event-ttl`, 3h).
pub const EVENT_TTL_SECONDS: i64 = 3 * 3600;
/// The operator's custom resources: `/kubernetes.io/<CR_GROUP>/<CR_PLURAL>/<CR_NAMESPACE>/widget-NNNN`.
pub const CR_GROUP: &str = "widgets.example.com";
pub const CR_PLURAL: &str = "widgets";
pub const CR_NAMESPACE: &str = "widget-operator";
pub const CRS: usize = 400;
pub const CR_BYTES: usize = 4096;
/// The largest object of all: one custom resource of 300 KiB.
pub const HUGE_CR: &str = "/kubernetes.io/widgets.example.com/widgets/widget-operator/widget-huge";
pub const HUGE_CR_BYTES: usize = 300 * 1024;
/// The ConfigMap written `CONFIGMAP_WRITES` times, never compacted.
pub const CONFIGMAP: &str = "/kubernetes.io/configmaps/churn/leader-lock";
pub const CONFIGMAP_WRITES: usize = 100;
pub const CONFIGMAP_BYTES: usize = 8192;
/// Puts per transaction (etcd's default `--max-txn-ops` is 128).
const BATCH: usize = 100;

fn filler(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + ((i + seed) % 26) as u8).collect()
}

/// Puts in transactions of `BATCH`, made as they go (a scaled-up run never holds them all).
async fn put_all(
    client: &mut Client,
    puts: impl Iterator<Item = (String, Vec<u8>)>,
    options: Option<PutOptions>,
) -> Result<(), String> {
    let mut puts = puts.peekable();
    while puts.peek().is_some() {
        let batch: Vec<TxnOp> = puts.by_ref().take(BATCH).map(|(k, v)| TxnOp::put(k, v, options.clone())).collect();
        client.txn(Txn::new().and_then(batch)).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Writes the scenario's keys (a few seconds: batched puts, except the ConfigMap's revisions).
/// `scale` multiplies the events and the small custom resources (for benchmarks: 300 is over 1 GiB).
pub async fn write(client: &mut Client, scale: usize) -> Result<(), String> {
    let lease = client.lease_grant(EVENT_TTL_SECONDS, None).await.map_err(|e| e.to_string())?.id();
    let events = (0..EVENTS * scale)
        .map(|i| (format!("/kubernetes.io/events/{EVENTS_NAMESPACE}/pod-{i:07}.event"), filler(EVENT_BYTES, i)))
        .chain(
            (0..QUIET_EVENTS)
                .map(|i| (format!("/kubernetes.io/events/{QUIET_NAMESPACE}/pod-{i:07}.event"), filler(EVENT_BYTES, i))),
        );
    put_all(client, events, Some(PutOptions::new().with_lease(lease))).await?;
    let crs = (0..CRS * scale)
        .map(|i| (format!("/kubernetes.io/{CR_GROUP}/{CR_PLURAL}/{CR_NAMESPACE}/widget-{i:06}"), filler(CR_BYTES, i)))
        .chain(std::iter::once((HUGE_CR.to_string(), filler(HUGE_CR_BYTES, 0))));
    put_all(client, crs, None).await?;
    for write in 0..CONFIGMAP_WRITES {
        client.put(CONFIGMAP, filler(CONFIGMAP_BYTES, write), None).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}
