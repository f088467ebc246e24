//! The questions asked of one member each round: Status, a linearizable read,
//! and MemberList, together, each under the command timeout. Nothing here
//! writes to etcd (alarms are read from Status, not from the Alarm RPC, which
//! goes through raft).

use std::time::{Duration, Instant};

use etcd_client::Client;

use super::connect::{call, describe, timed, EtcdError};
use crate::cluster::{split_status_errors, MemberIdentity, MemberSample, StatusSample};

/// Said when a member's URL answers with another member ID (a restore made a new cluster there).
pub const ANOTHER_MEMBER: &str = "the URL now belongs to another member";

pub async fn sample_member(client: &Client, member_id: u64, limit: Duration) -> MemberSample {
    let started = Instant::now();
    let (status, health, members) =
        tokio::join!(status(client.clone(), limit), health(client.clone(), limit), member_list(client.clone(), limit));
    let status = status.and_then(|s| {
        if s.member_id != member_id && s.member_id != 0 {
            Err(format!("answered as member {:x}, not {:x}: {ANOTHER_MEMBER}", s.member_id, member_id))
        } else {
            Ok(s)
        }
    });
    MemberSample { member_id, started, finished: Instant::now(), status, health, members }
}

async fn status(mut client: Client, limit: Duration) -> Result<StatusSample, String> {
    let response = timed(limit, async { client.status().await.map_err(describe) }).await?;
    let header = response.header();
    let (alarms, errors) = split_status_errors(response.errors());
    Ok(StatusSample {
        cluster_id: header.map(|h| h.cluster_id()).unwrap_or_default(),
        member_id: header.map(|h| h.member_id()).unwrap_or_default(),
        version: response.version().to_string(),
        leader_id: response.leader(),
        raft_term: response.raft_term(),
        raft_index: response.raft_index(),
        raft_applied_index: response.raft_applied_index(),
        db_size_bytes: u64::try_from(response.db_size()).unwrap_or_default(),
        db_size_in_use_bytes: u64::try_from(response.raft_used_db_size()).unwrap_or_default(),
        is_learner: response.is_learner(),
        // etcd 3.6 says its quota (0 before).
        quota_bytes: u64::try_from(response.db_size_quota()).ok().filter(|q| *q > 0),
        alarms,
        errors,
    })
}

/// etcdctl endpoint health's read: a linearizable Get of "health". A
/// permission error still proves the member serves reads.
async fn health(mut client: Client, limit: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    match call(limit, client.get("health", None)).await {
        Ok(_) | Err(EtcdError::PermissionDenied(_)) => Ok(started.elapsed()),
        Err(e) => Err(e.to_string()),
    }
}

pub async fn member_list(mut client: Client, limit: Duration) -> Result<Vec<MemberIdentity>, String> {
    let response = timed(limit, async { client.member_list().await.map_err(describe) }).await?;
    Ok(response
        .members()
        .iter()
        .map(|m| MemberIdentity {
            id: m.id(),
            name: m.name().to_string(),
            client_urls: m.client_urls().to_vec(),
            peer_urls: m.peer_urls().to_vec(),
            is_learner: m.is_learner(),
        })
        .collect())
}
