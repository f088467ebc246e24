//! A surveyed cluster as the restore engine sees it, for its tests and the
//! console's screen tests.

use super::*;

pub fn host(name: &str, ip: &str) -> HostFacts {
    HostFacts {
        name: name.into(),
        ip: ip.into(),
        ready: true,
        machine: Some(format!("lab-x8k2p-{name}")),
        reachable: Some(Ok(())),
        recovery: Some(RecoveryFacts { sudo: Ok(()), restore_script: Ok(()), hostname: Ok(name.to_string()) }),
    }
}

/// A worker whose shell answered.
pub fn worker(name: &str, ip: &str) -> HostFacts {
    HostFacts { name: name.into(), ip: ip.into(), ready: true, machine: None, reachable: Some(Ok(())), recovery: None }
}

pub fn survey() -> Survey {
    Survey {
        api_url: "https://api.lab:6443".into(),
        cluster_name: "lab-x8k2p".into(),
        cluster_id: Some("5c1a".into()),
        version: Some("4.14.8".into()),
        backup: BackupFacts {
            dir: "/b".into(),
            timestamp: Some("2026-12-02_010203".into()),
            snapshot: Some("snapshot_2026-12-02_010203.db".into()),
            static_resources: Some("static_kuberesources_2026-12-02_010203.tar.gz".into()),
            files_problem: None,
            static_problem: None,
            verified: Some(true),
            revision: Some(812),
            verification: "revision 812, 1204 keys".into(),
            cluster_id: Some("5c1a".into()),
            version: Some("4.14.8".into()),
            identity_source: Some("the snapshot's ClusterVersion".into()),
            ..BackupFacts::default()
        },
        control_plane: vec![
            host("master-0", "10.0.0.10"),
            host("master-1", "10.0.0.11"),
            host("master-2", "10.0.0.12"),
        ],
        workers: vec!["worker-0".into(), "worker-1".into()],
        worker_hosts: vec![worker("worker-0", "10.0.1.20"), worker("worker-1", "10.0.1.21")],
        ovn: true,
        fail_webhooks: Vec::new(),
        ignored_webhooks: Vec::new(),
        certificate_kubeconfig: Some(Ok(())),
        quorum_guard_off: false,
        hosted: None,
        api_vips: Vec::new(),
        proxy: false,
        unreadable: None,
    }
}
