//! Made-up clusters for unit tests, screen snapshots and benchmarks. Real etcd
//! is used everywhere a real answer can be had; these exist so screens can be
//! shown in states that are slow or unsafe to produce (no leader, 85 % quota).

use std::time::{Duration, Instant};

use super::{ClusterState, MemberIdentity, MemberSample, StatusSample};

const IDS: [u64; 7] = [
    0x8e9e_05c5_2164_694d,
    0x91bc_3c39_8fb3_c146,
    0xfd42_2379_fda5_0e48,
    0x2c0b_1f7e_6a19_83d2,
    0x5a7d_00c4_9e21_bb10,
    0x6f31_92de_0c44_a8e7,
    0xb3e8_41a2_7d90_1c55,
];
pub const CLUSTER_ID: u64 = 0xcdf8_1819_4e3a_8c32;

pub fn member_id(index: usize) -> u64 {
    IDS[index % IDS.len()]
}

pub fn identity(index: usize) -> MemberIdentity {
    MemberIdentity {
        id: member_id(index),
        name: format!("etcd-{index}"),
        client_urls: vec![format!("https://10.0.0.{}:2379", 10 + index)],
        peer_urls: vec![format!("https://10.0.0.{}:2380", 10 + index)],
        is_learner: false,
    }
}

pub fn status(index: usize, db_size_bytes: u64, db_size_in_use_bytes: u64) -> StatusSample {
    StatusSample {
        cluster_id: CLUSTER_ID,
        member_id: member_id(index),
        version: "3.5.14".into(),
        leader_id: member_id(0),
        raft_term: 4,
        raft_index: 81_234 + index as u64,
        raft_applied_index: 81_234,
        db_size_bytes,
        db_size_in_use_bytes,
        is_learner: false,
        quota_bytes: None,
        alarms: Vec::new(),
        errors: Vec::new(),
    }
}

pub fn ok_sample(index: usize, at: Instant, db_size_bytes: u64, db_size_in_use_bytes: u64) -> MemberSample {
    MemberSample {
        member_id: member_id(index),
        started: at,
        finished: at,
        status: Ok(status(index, db_size_bytes, db_size_in_use_bytes)),
        health: Ok(Duration::from_millis(3 + index as u64)),
        // Not compared unless a test sets it: see healthy_cluster.
        members: Err("not asked".into()),
    }
}

pub fn failed_sample(index: usize, at: Instant, error: &str) -> MemberSample {
    MemberSample {
        member_id: member_id(index),
        started: at,
        finished: at,
        status: Err(error.to_string()),
        health: Err(error.to_string()),
        members: Err(error.to_string()),
    }
}

/// `n` healthy members, etcd-0 leading, each about 40 MiB.
pub fn healthy_cluster(n: usize, at: Instant) -> ClusterState {
    let mut state = ClusterState::new(8 << 30, at);
    state.set_members((0..n).map(identity).collect(), at);
    for i in 0..n {
        let mut sample = ok_sample(i, at, (40 + 3 * i as u64) << 20, (31 + i as u64) << 20);
        sample.members = Ok((0..n).map(identity).collect());
        state.apply_sample(sample);
    }
    state
}

/// A 4th member, a learner, that answers Status with `applied` as its applied index and
/// refuses the linearizable read as etcd refuses it on a learner.
pub fn learner_sample(index: usize, at: Instant, applied: u64) -> MemberSample {
    let mut sample = ok_sample(index, at, 20 << 20, 18 << 20);
    if let Ok(s) = sample.status.as_mut() {
        s.is_learner = true;
        s.raft_applied_index = applied;
        s.raft_index = applied;
    }
    sample.health = Err(format!("etcdserver: {}", super::LEARNER_READ_REFUSED));
    sample.members = Err(format!("etcdserver: {}", super::LEARNER_READ_REFUSED));
    sample
}

/// `healthy_cluster(voters)` and a learner beside it, `applied` entries in.
pub fn cluster_with_learner(voters: usize, at: Instant, applied: u64) -> ClusterState {
    let mut state = healthy_cluster(voters, at);
    let mut identities: Vec<MemberIdentity> = (0..voters).map(identity).collect();
    let mut learner = identity(voters);
    learner.name = format!("etcd-{voters}");
    learner.is_learner = true;
    identities.push(learner);
    state.set_members(identities.clone(), at);
    for i in 0..voters {
        let mut sample = ok_sample(i, at, (40 + 3 * i as u64) << 20, (31 + i as u64) << 20);
        sample.members = Ok(identities.clone());
        state.apply_sample(sample);
    }
    state.apply_sample(learner_sample(voters, at, applied));
    state
}
