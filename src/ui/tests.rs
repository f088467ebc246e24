//! Whole-screen snapshots of the console in the states an SRE meets, drawn
//! with ratatui's TestBackend from made-up samples (states such as "no leader"
//! cannot be produced on demand with real members).

#![allow(clippy::panic)]
use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::style::Modifier;
use ratatui::Terminal;

use super::{draw, Theme};
use crate::app::App;
use etcd_console_core::cluster::fixtures::*;
use etcd_console_core::cluster::{Alarm, AlarmKind, Discovery};
use etcd_console_core::etcd::poller::PollEvent;

fn app_with(n: usize, t0: Instant) -> App {
    let mut app = App::new("10.0.0.10:2379 +2".into(), 8 << 30, Duration::from_secs(2), t0);
    app.cluster = healthy_cluster(n, t0);
    // Twenty seconds of history, growing a little.
    for step in 1..=10u64 {
        let at = t0 + Duration::from_secs(step * 2);
        for i in 0..n {
            let mut sample = ok_sample(
                i,
                at,
                ((40 + 3 * i as u64) << 20) + step * (256 << 10),
                ((31 + i as u64) << 20) + step * (200 << 10),
            );
            sample.members = Ok((0..n).map(identity).collect());
            app.on_poll(PollEvent::Sample(sample));
        }
    }
    app
}

fn screen(app: &App, width: u16, height: u16, theme: Theme, now: Instant) -> Terminal<TestBackend> {
    let mut terminal = match Terminal::new(TestBackend::new(width, height)) {
        Ok(t) => t,
        Err(e) => panic!("test backend: {e}"),
    };
    if let Err(e) = terminal.draw(|frame| draw(frame, app, theme, now)) {
        panic!("draw: {e}");
    }
    terminal
}

const COLOR: Theme = Theme { color: true };

#[test]
fn healthy_cluster_80x24() {
    let t0 = Instant::now();
    let app = app_with(3, t0);
    insta::assert_snapshot!(screen(&app, 80, 24, COLOR, t0 + Duration::from_secs(21)).backend());
}

#[test]
fn healthy_cluster_wide_shows_ids_and_raft() {
    let t0 = Instant::now();
    let app = app_with(3, t0);
    insta::assert_snapshot!(screen(&app, 130, 30, COLOR, t0 + Duration::from_secs(21)).backend());
}

#[test]
fn one_member_silent_shows_no_answer_and_keeps_its_last_figures() {
    let t0 = Instant::now();
    let mut app = app_with(3, t0);
    app.selected = 1;
    let last = t0 + Duration::from_secs(22);
    app.on_poll(PollEvent::Sample(failed_sample(1, last, "no answer within 5s")));
    for i in [0, 2] {
        app.on_poll(PollEvent::Sample(ok_sample(
            i,
            t0 + Duration::from_secs(36),
            (40 + 3 * i as u64) << 20,
            (31 + i as u64) << 20,
        )));
    }
    insta::assert_snapshot!(screen(&app, 80, 24, COLOR, t0 + Duration::from_secs(37)).backend());
}

#[test]
fn nospace_alarm() {
    let t0 = Instant::now();
    let mut app = app_with(3, t0);
    app.cluster.quota_bytes = 64 << 20;
    let at = t0 + Duration::from_secs(22);
    for i in 0..3 {
        let mut sample = ok_sample(i, at, 64 << 20, 63 << 20);
        if let Ok(s) = sample.status.as_mut() {
            s.alarms = vec![Alarm { member_id: member_id(2), kind: AlarmKind::NoSpace }];
        }
        app.on_poll(PollEvent::Sample(sample));
    }
    app.selected = 2;
    insta::assert_snapshot!(screen(&app, 80, 24, COLOR, at).backend());
}

/// The DB pane of the selected member, with the quota as it was read (or assumed).
mod quota {
    use super::*;
    use etcd_console_core::openshift::watch::{OpenShiftEvent, Watched};
    use serde_json::json;

    /// An etcd pod whose etcd container runs with `--quota-backend-bytes=quota` (its IP is member `i`'s).
    fn pod(i: usize, quota: u64) -> serde_json::Value {
        json!({"metadata": {"name": format!("etcd-master-{i}"), "namespace": "openshift-etcd", "labels": {"k8s-app": "etcd"}},
               "spec": {"nodeName": format!("master-{i}"), "containers": [
                   {"name": "etcdctl", "command": ["/bin/bash", "-c", "trap TERM INT; sleep infinity & wait"]},
                   {"name": "etcd", "command": ["etcd", format!("--name=master-{i}"), "--data-dir=/var/lib/etcd",
                                                format!("--quota-backend-bytes={quota}")]}]},
               "status": {"phase": "Running", "podIP": format!("10.0.0.{}", 10 + i),
                          "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-20T00:01:00Z"}],
                          "containerStatuses": [{"name": "etcd", "ready": true, "restartCount": 0, "state": {"running": {}}}]}})
    }

    #[test]
    fn an_assumed_quota_is_marked_so() {
        let t0 = Instant::now();
        let app = app_with(3, t0);
        let screen = screen(&app, 80, 24, COLOR, t0 + Duration::from_secs(21));
        insta::assert_snapshot!(screen.backend());
    }

    #[test]
    fn a_quota_read_from_the_pod_spec_says_so() {
        let t0 = Instant::now();
        let mut app = app_with(3, t0);
        let at = t0 + Duration::from_secs(20);
        let pods = (0..3).map(|i| pod(i, 64 << 20)).collect();
        app.openshift.on_event(OpenShiftEvent::Objects { what: Watched::EtcdPods, objects: pods, at });
        app.refresh_quotas();
        insta::assert_snapshot!(screen(&app, 80, 24, COLOR, t0 + Duration::from_secs(21)).backend());
    }
}

#[test]
fn the_alerts_overlay_gives_every_message() {
    let t0 = Instant::now();
    let mut app = app_with(3, t0);
    let at = t0 + Duration::from_secs(22);
    app.on_poll(PollEvent::Sample(failed_sample(1, at, "no answer within 5s")));
    let mut sample = ok_sample(2, at, 40 << 20, 31 << 20);
    if let Ok(s) = sample.status.as_mut() {
        s.leader_id = member_id(2);
    }
    app.on_poll(PollEvent::Sample(sample));
    app.show_alerts = true;
    insta::assert_snapshot!(screen(&app, 80, 24, COLOR, at).backend());
}

#[test]
fn no_leader() {
    let t0 = Instant::now();
    let mut app = app_with(3, t0);
    let at = t0 + Duration::from_secs(22);
    for i in 0..3 {
        let mut sample = ok_sample(i, at, 40 << 20, 31 << 20);
        sample.health = Err("etcdserver: no leader".into());
        if let Ok(s) = sample.status.as_mut() {
            s.leader_id = 0;
            s.errors = vec!["etcdserver: no leader".into()];
        }
        app.on_poll(PollEvent::Sample(sample));
    }
    insta::assert_snapshot!(screen(&app, 80, 24, COLOR, at).backend());
}

#[test]
fn unreachable_cluster_is_shown_and_retried() {
    let t0 = Instant::now();
    let mut app = App::new("https://10.0.0.10:2379".into(), 8 << 30, Duration::from_secs(2), t0);
    app.cluster.discovery = Discovery::Failed {
        error: "  https://10.0.0.10:2379: tcp connect error: Connection refused (os error 111)".into(),
        since: t0,
        retry_at: t0 + Duration::from_secs(16),
        attempt: 4,
    };
    insta::assert_snapshot!(screen(&app, 80, 24, COLOR, t0 + Duration::from_secs(12)).backend());
}

#[test]
fn seven_members_fit_80x24_with_help_open() {
    let t0 = Instant::now();
    let mut app = app_with(7, t0);
    app.show_help = true;
    insta::assert_snapshot!(screen(&app, 80, 24, COLOR, t0 + Duration::from_secs(21)).backend());
}

#[test]
fn without_colour_the_selection_is_still_marked() {
    let t0 = Instant::now();
    let mut app = app_with(3, t0);
    app.selected = 1;
    let terminal = screen(&app, 80, 24, Theme { color: false }, t0 + Duration::from_secs(21));
    let buffer = terminal.backend().buffer();
    // Row 6 (under the one-glance strip) is master-1's: reversed, with the marker, and no colour anywhere.
    let row: String = (0..80).map(|x| buffer[(x, 6)].symbol().to_string()).collect();
    assert!(buffer.content().iter().all(|c| c.bg == ratatui::style::Color::Reset));
    assert!(row.starts_with("│> etcd-1"), "{row}");
    assert!(buffer[(3, 6)].modifier.contains(Modifier::REVERSED));
    assert!(buffer.content().iter().all(|c| c.fg == ratatui::style::Color::Reset));
}

/// The operators' objects these screens show, worded as OpenShift's operators word them
/// (cluster-etcd-operator's static-pod status, library-go's Encrypted condition).
mod operator_fixtures {
    use serde_json::{json, Value};

    pub fn condition(kind: &str, status: &str, reason: &str, message: &str, at: &str) -> Value {
        json!({"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": at})
    }

    /// "N nodes are at revision R" groups, lowest revision first.
    fn revisions(nodes: &[(String, i64)]) -> String {
        let mut counts: Vec<(i64, usize)> = Vec::new();
        for (_, r) in nodes {
            match counts.iter_mut().find(|(rev, _)| rev == r) {
                Some((_, n)) => *n += 1,
                None => counts.push((*r, 1)),
            }
        }
        counts.sort_unstable();
        counts.iter().map(|(r, n)| format!("{n} nodes are at revision {r}")).collect::<Vec<_>>().join("; ")
    }

    /// A static-pod operator's status; every node already has the latest revision or is rolling to it.
    pub fn static_pod_status(nodes: &[(String, i64)], latest: i64, at: &str) -> Value {
        let settled = nodes.iter().all(|(_, r)| *r == latest);
        let progressing = if settled {
            condition("NodeInstallerProgressing", "False", "AllNodesAtLatestRevision", &revisions(nodes), at)
        } else {
            condition("NodeInstallerProgressing", "True", "NodeInstaller", &revisions(nodes), at)
        };
        let statuses: Vec<Value> = nodes
            .iter()
            .map(|(name, r)| match *r == latest {
                true => json!({"nodeName": name, "currentRevision": r}),
                false => json!({"nodeName": name, "currentRevision": r, "targetRevision": latest}),
            })
            .collect();
        json!({
            "latestAvailableRevision": latest,
            "readyReplicas": 0,
            "conditions": [
                progressing,
                condition("NodeInstallerDegraded", "False", "", "", at),
                condition("StaticPodsAvailable", "True", "AsExpected", &format!("{} nodes are active; {}", nodes.len(), revisions(nodes)), at),
            ],
            "nodeStatuses": statuses,
        })
    }

    /// Encrypted with `mode`, in progress or completed.
    pub fn encrypted_condition(resources: &str, mode: &str, in_progress: bool, at: &str) -> Value {
        match in_progress {
            true => condition(
                "Encrypted",
                "False",
                "EncryptionInProgress",
                &format!("Encryption ({mode}) in progress for: {resources}"),
                at,
            ),
            false => condition(
                "Encrypted",
                "True",
                "EncryptionCompleted",
                &format!("All resources encrypted: {resources}"),
                at,
            ),
        }
    }

    /// A ClusterOperator at ease, on 4.14.8.
    pub fn cluster_operator(name: &str, at: &str) -> Value {
        json!({
            "metadata": {"name": name},
            "spec": {},
            "status": {
                "conditions": [
                    condition("Available", "True", "AsExpected", "", at),
                    condition("Progressing", "False", "AsExpected", "", at),
                    condition("Degraded", "False", "AsExpected", "", at),
                    condition("Upgradeable", "True", "AsExpected", "", at),
                ],
                "versions": [{"name": "operator", "version": "4.14.8"}],
                "relatedObjects": [],
            }
        })
    }
}

mod openshift_views {
    use super::operator_fixtures as seed;
    use super::*;
    use crate::app::openshift::ApiState;
    use crate::app::View;
    use etcd_console_core::openshift::csr::{
        CsrClass, DecodedRequest, PendingCsr, BOOTSTRAPPER, CLIENT_SIGNER, SERVING_SIGNER,
    };
    use etcd_console_core::openshift::watch::{OpenShiftEvent, Watched};
    use serde_json::json;
    use std::time::SystemTime;

    const AT: &str = "2026-11-22T02:55:00Z";

    fn wall() -> SystemTime {
        humantime::parse_rfc3339("2026-11-22T03:00:00Z").unwrap_or(SystemTime::UNIX_EPOCH)
    }

    fn objects(app: &mut App, what: Watched, objects: Vec<serde_json::Value>, at: Instant) {
        app.openshift.on_event(OpenShiftEvent::Objects { what, objects, at });
    }

    fn operator(status: serde_json::Value, spec: serde_json::Value) -> serde_json::Value {
        json!({"metadata": {"name": "cluster"}, "spec": spec, "status": status})
    }

    /// The OpenShift side just after a restore: etcd and kube-apiserver rolling, an aescbc migration running.
    fn after_restore(t0: Instant) -> App {
        let mut app = app_with(3, t0);
        app.wall_clock = Some(wall());
        app.openshift.on_event(OpenShiftEvent::Connected { server: "https://api.ocp.example.com:6443".into() });
        let at = t0 + Duration::from_secs(20);
        let nodes =
            |revs: [i64; 3]| -> Vec<(String, i64)> { (0..3).map(|i| (format!("master-{i}"), revs[i])).collect() };
        let rolling = seed::static_pod_status(&nodes([7, 6, 6]), 7, AT);
        let done = seed::static_pod_status(&nodes([7, 7, 7]), 7, "2026-11-20T00:00:00Z");
        let encrypted = |resources: &str| seed::encrypted_condition(resources, "aescbc", true, AT);
        let mut kas = rolling.clone();
        if let Some(c) = kas["conditions"].as_array_mut() {
            c.push(encrypted("secrets, configmaps"));
        }
        objects(&mut app, Watched::ApiServer, vec![json!({"spec": {"encryption": {"type": "aescbc"}}})], at);
        objects(
            &mut app,
            Watched::Etcd,
            vec![operator(
                rolling.clone(),
                json!({"forceRedeploymentReason": "recovery-1", "unsupportedConfigOverrides": {"useUnsupportedUnsafeNonHANonProductionUnstableEtcd": true}}),
            )],
            at,
        );
        objects(
            &mut app,
            Watched::KubeApiServer,
            vec![operator(kas, json!({"forceRedeploymentReason": "recovery-1"}))],
            at,
        );
        objects(&mut app, Watched::KubeControllerManager, vec![operator(done.clone(), json!({}))], at);
        objects(&mut app, Watched::KubeScheduler, vec![operator(done, json!({}))], at);
        objects(
            &mut app,
            Watched::OpenShiftApiServer,
            vec![operator(json!({"conditions": [encrypted("routes.route.openshift.io")]}), json!({}))],
            at,
        );
        let mut etcd_co = seed::cluster_operator("etcd", "2026-11-20T00:00:00Z");
        etcd_co["status"]["conditions"][1] = seed::condition(
            "Progressing",
            "True",
            "NodeInstaller",
            "NodeInstallerProgressing: 2 nodes are at revision 6; 1 nodes are at revision 7",
            AT,
        );
        objects(
            &mut app,
            Watched::ClusterOperators,
            vec![etcd_co, seed::cluster_operator("kube-apiserver", "2026-11-20T00:00:00Z")],
            at,
        );
        let nodes = [("master-0", "master", true), ("master-1", "master", false), ("worker-1", "worker", false)]
            .iter()
            .map(|(name, role, ready)| {
                let mut labels = json!({"kubernetes.io/hostname": name});
                if *role == "master" {
                    labels["node-role.kubernetes.io/master"] = json!("");
                    labels["node-role.kubernetes.io/control-plane"] = json!("");
                } else {
                    labels["node-role.kubernetes.io/worker"] = json!("");
                }
                let (status, reason) = if *ready { ("True", "KubeletReady") } else { ("Unknown", "NodeStatusUnknown") };
                json!({
                    "metadata": {"name": name, "labels": labels},
                    "status": {
                        "conditions": [{"type": "Ready", "status": status, "reason": reason, "lastTransitionTime": AT}],
                        "nodeInfo": {"kubeletVersion": "v1.27.6+f67aeb3"}
                    }
                })
            })
            .collect();
        objects(&mut app, Watched::Nodes, nodes, at);
        objects(
            &mut app,
            Watched::Infrastructure,
            vec![json!({"status": {"infrastructureName": "ocp-lab-x7k2p"}})],
            at,
        );
        // What the event loop does after the watches' events: the quorum guard's badge comes from here.
        app.refresh_quotas();
        app
    }

    pub(crate) fn csr(name: &str, class: CsrClass, node: &str, minutes: u64) -> PendingCsr {
        let (signer, requestor, usages) = match class {
            CsrClass::NodeBootstrapper => {
                (CLIENT_SIGNER, BOOTSTRAPPER.to_string(), vec!["digital signature", "client auth"])
            }
            CsrClass::KubeletServing => {
                (SERVING_SIGNER, format!("system:node:{node}"), vec!["digital signature", "server auth"])
            }
            CsrClass::ClientRenewal => {
                (CLIENT_SIGNER, format!("system:node:{node}"), vec!["digital signature", "client auth"])
            }
            CsrClass::Unexpected => (SERVING_SIGNER, "alice".to_string(), vec!["digital signature", "server auth"]),
        };
        PendingCsr {
            name: name.into(),
            signer: signer.into(),
            requestor: requestor.clone(),
            class,
            reason: if class == CsrClass::Unexpected {
                format!("filed by {requestor} for system:node:{node}: a node may only ask for itself")
            } else {
                format!("as expected for {node}")
            },
            usages: usages.into_iter().map(String::from).collect(),
            request: Some(DecodedRequest {
                common_name: Some(format!("system:node:{node}")),
                organizations: vec!["system:nodes".into()],
                ..DecodedRequest::default()
            }),
            created: wall().checked_sub(Duration::from_secs(minutes * 60)),
            node: None,
            pending_limit: None,
        }
    }

    #[test]
    fn the_openshift_view_after_a_restore() {
        let t0 = Instant::now();
        let mut app = after_restore(t0);
        app.view = View::OpenShift;
        insta::assert_snapshot!(screen(&app, 130, 36, COLOR, t0 + Duration::from_secs(21)).backend());
    }

    #[test]
    fn the_csr_view_with_an_unexpected_csr_selected() {
        let t0 = Instant::now();
        let mut app = after_restore(t0);
        app.view = View::Csrs;
        let pending = vec![
            csr("csr-4hl85", CsrClass::NodeBootstrapper, "master-1", 13),
            csr("csr-zhhhp", CsrClass::NodeBootstrapper, "master-2", 3),
            csr("csr-2s94x", CsrClass::KubeletServing, "worker-1", 8),
            csr("csr-x9x9x", CsrClass::Unexpected, "worker-0", 1),
        ];
        app.openshift.on_event(OpenShiftEvent::Csrs { pending, at: t0 + Duration::from_secs(20) });
        app.on_action(crate::app::keys::Action::SelectLast);
        insta::assert_snapshot!(screen(&app, 120, 30, COLOR, t0 + Duration::from_secs(21)).backend());
    }

    /// After a restore: three bootstrapper CSRs, a serving one, an unexpected one.
    fn after_restore_with_csrs(t0: Instant) -> App {
        let mut app = after_restore(t0);
        let pending = vec![
            csr("csr-4hl85", CsrClass::NodeBootstrapper, "master-1", 13),
            csr("csr-zhhhp", CsrClass::NodeBootstrapper, "master-1", 9),
            csr("csr-kr5xq", CsrClass::NodeBootstrapper, "worker-1", 3),
            csr("csr-2s94x", CsrClass::KubeletServing, "worker-1", 8),
            csr("csr-x9x9x", CsrClass::Unexpected, "worker-0", 1),
        ];
        app.openshift.on_event(OpenShiftEvent::Csrs { pending, at: t0 + Duration::from_secs(20) });
        app
    }

    #[test]
    fn the_csr_list_names_each_csrs_node_and_keeps_names_whole_at_80x24_and_120x40() {
        let t0 = Instant::now();
        let mut app = after_restore_with_csrs(t0);
        app.view = View::Csrs;
        let narrow = screen(&app, 80, 24, COLOR, t0 + Duration::from_secs(21));
        let text = format!("{:?}", narrow.backend());
        assert!(text.contains("NODE") && text.contains("csr-kr5xq") && text.contains("worker-1"), "{text}");
        insta::assert_snapshot!("csr_list_80x24", narrow.backend());
        insta::assert_snapshot!(
            "csr_list_120x40",
            screen(&app, 120, 40, COLOR, t0 + Duration::from_secs(21)).backend()
        );
    }

    #[test]
    fn the_node_pane_shows_ready_roles_kubelet_and_pending_csrs_at_80x24_and_120x40() {
        let t0 = Instant::now();
        let mut app = after_restore_with_csrs(t0);
        // Tab from the CSRs comes to the nodes, and from the nodes back to the members.
        app.view = View::Csrs;
        app.on_action(crate::app::keys::Action::NextView);
        assert_eq!(app.view, View::Nodes);
        let narrow = screen(&app, 80, 24, COLOR, t0 + Duration::from_secs(21));
        let text = format!("{:?}", narrow.backend());
        assert!(text.contains("Nodes (3, 2 not Ready)"), "{text}");
        assert!(text.contains("v1.27.6+f67aeb3") && text.contains("control-plane,master"), "{text}");
        insta::assert_snapshot!("nodes_80x24", narrow.backend());
        insta::assert_snapshot!("nodes_120x40", screen(&app, 120, 40, COLOR, t0 + Duration::from_secs(21)).backend());
        app.on_action(crate::app::keys::Action::NextView);
        assert_eq!(app.view, View::Member);
    }

    #[test]
    fn approving_all_valid_shows_one_confirmation_naming_them() {
        let t0 = Instant::now();
        let mut app = after_restore(t0);
        app.view = View::Csrs;
        let pending = vec![
            csr("csr-4hl85", CsrClass::NodeBootstrapper, "master-1", 13),
            csr("csr-2s94x", CsrClass::KubeletServing, "worker-1", 8),
            csr("csr-x9x9x", CsrClass::Unexpected, "worker-0", 1),
        ];
        app.openshift.on_event(OpenShiftEvent::Csrs { pending, at: t0 + Duration::from_secs(20) });
        app.on_action(crate::app::keys::Action::ApproveAllValid);
        insta::assert_snapshot!(screen(&app, 120, 30, COLOR, t0 + Duration::from_secs(21)).backend());
    }

    #[test]
    fn without_a_kubeconfig_the_openshift_view_says_so() {
        let t0 = Instant::now();
        let mut app = app_with(3, t0);
        app.view = View::OpenShift;
        app.openshift.on_event(OpenShiftEvent::Unavailable {
            error: "no kubeconfig: give --kubeconfig FILE or set KUBECONFIG to see the OpenShift side".into(),
        });
        assert_eq!(
            app.openshift.api,
            ApiState::Unavailable(
                "no kubeconfig: give --kubeconfig FILE or set KUBECONFIG to see the OpenShift side".into()
            )
        );
        insta::assert_snapshot!(screen(&app, 100, 24, COLOR, t0 + Duration::from_secs(21)).backend());
    }

    #[test]
    fn a_failing_watch_says_for_how_long() {
        let t0 = Instant::now();
        let mut app = after_restore(t0);
        app.view = View::OpenShift;
        app.openshift.on_event(OpenShiftEvent::Trouble {
            what: Watched::Etcd,
            error: "watching: the API did not answer: connection refused".into(),
            at: t0 + Duration::from_secs(5),
        });
        let shown = screen(&app, 130, 36, COLOR, t0 + Duration::from_secs(65));
        let text = format!("{:?}", shown.backend());
        assert!(text.contains("API https://api.ocp.example.com:6443 failing for 1m00s:"), "{text}");
        assert!(text.contains("watching: the API did not answer: connection refused"), "{text}");
    }
}

mod defrag_wizard {
    use super::*;
    use crate::app::keys::Action;
    use etcd_console_core::wizard::defrag::executor::Progress;
    use etcd_console_core::wizard::defrag::{ClusterView, MemberReading, MemberView, Observed, Outcome};

    const MIB: u64 = 1 << 20;

    /// Three members of about 300 MiB with nine tenths free; etcd-0 leads.
    pub(super) fn fragmented(t0: Instant) -> App {
        let mut app = App::new("10.0.0.10:2379 +2".into(), 8 << 30, Duration::from_secs(2), t0);
        app.cluster = healthy_cluster(3, t0);
        for i in 0..3 {
            let mut sample = ok_sample(i, t0, (300 + i as u64) * MIB, (30 + i as u64) * MIB);
            sample.members = Ok((0..3).map(identity).collect());
            app.on_poll(PollEvent::Sample(sample));
        }
        app
    }

    pub(super) fn view(app: &App, shrunk: &[usize]) -> ClusterView {
        let members = (0..3)
            .map(|i| {
                let size = if shrunk.contains(&i) { (30 + i as u64) * MIB } else { (300 + i as u64) * MIB };
                let figures = etcd_console_core::wizard::defrag::Figures {
                    db_size: size,
                    db_size_in_use: (30 + i as u64) * MIB,
                    quota: app.cluster.quota_bytes,
                };
                MemberView {
                    id: member_id(i),
                    name: format!("etcd-{i}"),
                    is_learner: false,
                    reading: Ok(MemberReading {
                        figures,
                        leader_id: member_id(0),
                        raft_term: 4,
                        raft_index: 81_234,
                        raft_applied_index: 81_234,
                        health: Ok(()),
                        alarms: Vec::new(),
                        cluster_id: CLUSTER_ID,
                        version: "3.4.30".into(),
                    }),
                }
            })
            .collect();
        ClusterView { members, problem: None }
    }

    /// The plan confirmed and the run fed as the executor would, up to the wait after the first member.
    pub(super) fn running(t0: Instant) -> App {
        let mut app = fragmented(t0);
        app.on_action(Action::OpenDefrag);
        app.on_action(Action::Confirm);
        // d Enter Enter starts nothing: the confirmation takes only y.
        assert_eq!(app.on_action(Action::Confirm), None, "Enter confirmed a defrag");
        assert!(app.confirm.is_some());
        let Some(Effect::Start(Start::Defrag { run, unfinished: None })) = app.on_action(Action::Yes) else {
            panic!("no run started: {:?}", app.notice);
        };
        let mut run = *run;
        run.next_action();
        run.observe(Observed::Cluster(view(&app, &[])));
        run.next_action();
        run.observe(Observed::Defragmented(Ok(Duration::from_millis(1800))));
        run.next_action();
        run.observe(Observed::Cluster(view(&app, &[1])));
        app.on_defrag(Progress::Run(Box::new(run)));
        app.on_defrag(Progress::Countdown { left: Duration::from_secs(42), total: Duration::from_secs(60) });
        app
    }

    use crate::app::{Effect, Start};

    #[test]
    fn the_plan_lists_followers_first_the_leader_last_with_what_each_gives_back() {
        let t0 = Instant::now();
        let mut app = fragmented(t0);
        app.on_action(Action::OpenDefrag);
        insta::assert_snapshot!(screen(&app, 100, 30, COLOR, t0).backend());
    }

    #[test]
    fn the_confirmation_names_the_cluster_and_every_member_in_order() {
        let t0 = Instant::now();
        let mut app = fragmented(t0);
        app.on_action(Action::OpenDefrag);
        app.on_action(Action::ToggleMoveLeader);
        app.on_action(Action::Confirm);
        insta::assert_snapshot!(screen(&app, 100, 30, COLOR, t0).backend());
    }

    #[test]
    fn the_run_shows_sizes_before_and_after_and_the_countdown() {
        let t0 = Instant::now();
        let app = running(t0);
        insta::assert_snapshot!(screen(&app, 100, 30, COLOR, t0).backend());
    }

    #[test]
    fn a_run_hidden_by_esc_keeps_its_badge_in_the_header() {
        let t0 = Instant::now();
        let mut app = running(t0);
        app.on_action(Action::CloseOverlay);
        assert_eq!(app.open_wizard(), None, "Esc hid the wizard");
        let terminal = screen(&app, 80, 24, COLOR, t0);
        let buffer = terminal.backend().buffer();
        let badges: String = (0..80).map(|x| buffer[(x, 1)].symbol().to_string()).collect();
        assert!(badges.starts_with(" DEFRAG 1/3 · next 42s "), "{badges}");
        // Shown again, the wizard is where it was.
        app.on_action(Action::OpenDefrag);
        assert_eq!(app.open_wizard(), Some(crate::app::WizardKind::Defrag));
    }

    #[test]
    fn a_stopped_run_says_what_was_and_was_not_done() {
        let t0 = Instant::now();
        let mut app = running(t0);
        let mut run = app.defrag.as_ref().and_then(|w| w.run.clone()).unwrap_or_else(|| panic!("no run"));
        run.next_action();
        run.observe(Observed::Waited { aborted: false });
        run.next_action();
        let mut down = view(&app, &[1]);
        down.members[2].reading = Err("no answer within 5s".into());
        run.observe(Observed::Cluster(down));
        assert!(matches!(run.outcome(), Some(Outcome::Stopped { .. })));
        app.on_defrag(Progress::Run(Box::new(run)));
        insta::assert_snapshot!(screen(&app, 100, 30, COLOR, t0).backend());
        assert!(app.notice.as_deref().unwrap_or("").starts_with("defrag run stopped: etcd-2 does not answer"));
    }

    /// The lab's `nospace`: a 24 MiB quota filled with live data until every member raised
    /// NOSPACE; etcd-0 leads.
    pub(super) fn nospace(t0: Instant) -> App {
        let mut app = App::new("10.0.0.10:2379 +2".into(), 24 * MIB, Duration::from_secs(2), t0);
        app.cluster = healthy_cluster(3, t0);
        app.cluster.quota_bytes = 24 * MIB;
        for i in 0..3 {
            let mut sample = ok_sample(i, t0, 24 * MIB + (i as u64) * 64 * 1024, 23 * MIB + (i as u64) * 128 * 1024);
            sample.members = Ok((0..3).map(identity).collect());
            if let Ok(status) = &mut sample.status {
                status.alarms = (0..3).map(|m| Alarm { member_id: member_id(m), kind: AlarmKind::NoSpace }).collect();
            }
            app.on_poll(PollEvent::Sample(sample));
        }
        app
    }

    #[test]
    fn under_nospace_d_opens_the_nospace_form_at_80x24_and_120x40() {
        let t0 = Instant::now();
        let mut app = nospace(t0);
        app.on_action(Action::OpenDefrag);
        let nospace = app.defrag.as_ref().and_then(|w| w.nospace.clone());
        assert!(matches!(nospace, Some(Ok(_))), "{nospace:?}");
        insta::assert_snapshot!("nospace_form_80x24", screen(&app, 80, 24, COLOR, t0).backend());
        insta::assert_snapshot!("nospace_form_120x40", screen(&app, 120, 40, COLOR, t0).backend());
    }

    #[test]
    fn the_nospace_confirmation_names_the_cluster_and_the_three_steps_and_starts_compact_and_disarm() {
        let t0 = Instant::now();
        let mut app = nospace(t0);
        app.on_action(Action::OpenDefrag);
        app.on_action(Action::Confirm);
        let title = app.confirm.as_ref().map(|c| c.title.clone()).unwrap_or_default();
        assert_eq!(title, "Clear NOSPACE: compact, defragment 3 member(s), disarm?");
        let first = app.confirm.as_ref().map(|c| c.lines[0].clone()).unwrap_or_default();
        assert_eq!(first, "etcd cluster cdf818194e3a8c32", "without the API: the etcd cluster ID alone");
        insta::assert_snapshot!("nospace_confirm_120x40", screen(&app, 120, 40, COLOR, t0).backend());
        let Some(Effect::Start(Start::Defrag { run, unfinished: None })) = app.on_action(Action::Yes) else {
            panic!("no run started: {:?}", app.notice);
        };
        assert!(run.options.compact && run.options.disarm, "{:?}", run.options);
        assert_eq!(run.options.quota_bytes, 24 * MIB);
        assert_eq!(run.planned.last().map(|p| p.name.as_str()), Some("etcd-0"), "the leader last");

        // Read-only: the form is shown, the engine refuses the run.
        let mut app = nospace(t0);
        app.read_only = true;
        app.on_action(Action::OpenDefrag);
        app.on_action(Action::Confirm);
        assert_eq!(app.on_action(Action::Yes), None);
        assert!(app.notice.as_deref().unwrap_or("").contains("--read-only"), "{:?}", app.notice);
    }

    #[test]
    fn read_only_shows_the_plan_and_the_engine_refuses_the_run() {
        let t0 = Instant::now();
        let mut app = fragmented(t0);
        app.read_only = true;
        app.on_action(Action::OpenDefrag);
        app.on_action(Action::Confirm);
        assert_eq!(app.on_action(Action::Yes), None);
        assert!(app.notice.as_deref().unwrap_or("").contains("--read-only"), "{:?}", app.notice);
        assert!(app.defrag.as_ref().is_some_and(|w| w.run.is_none()), "a run was made");
    }
}

mod backup_wizard {
    use super::defrag_wizard::{fragmented, view};
    use super::*;
    use crate::app::backup::LastBackup;
    use crate::app::keys::Action;
    use crate::app::{Effect, Start, WizardKind};
    use etcd_console_core::wizard::backup::executor::Progress;
    use etcd_console_core::wizard::backup::{
        Action as Step, BackupOptions, BackupRun, Checked, Observed, OpenShiftFacts, Outcome, Streamed, Verified,
    };
    use std::time::SystemTime;

    const MIB: u64 = 1 << 20;

    /// 2026-12-01T03:04:05Z
    fn wall() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_094_245)
    }

    pub(super) fn ready(t0: Instant) -> App {
        let mut app = fragmented(t0);
        app.wall_clock = Some(wall());
        app.backup_dir = Some("/backups".into());
        app.last_backup = Some(Some(LastBackup {
            taken_at: wall() - Duration::from_secs(26 * 3600),
            member: "etcd-2".into(),
            possibly_dirty: false,
            restore_grade: true,
            restorable_at: None,
        }));
        app.on_action(Action::OpenBackup);
        app
    }

    /// The engine after its check, as the executor would feed it.
    pub(super) fn checked(app: &App, force: bool, openshift: OpenShiftFacts) -> BackupRun {
        let options = BackupOptions {
            dir: "/backups".into(),
            keys_dir: None,
            member: None,
            force,
            keep: None,
            stall_limit: Duration::from_secs(30),
            snapshot_only: true,
            via: Default::default(),
            node: None,
            read_only: false,
        };
        let mut run = BackupRun::new(options).unwrap_or_else(|e| panic!("{e}"));
        run.observe(Observed::Checked(Box::new(Checked {
            view: view(app, &[]),
            openshift,
            keys_problem: None,
            now: wall(),
            dir_names: Vec::new(),
            keys_dir_names: Vec::new(),
            stale_parts_removed: Vec::new(),
        })));
        run
    }

    pub(super) fn migrating() -> OpenShiftFacts {
        OpenShiftFacts::Unreachable { why: "reading clusterversion/version: no answer within 10s".into() }
    }

    #[test]
    fn the_wizard_says_what_it_will_do_and_the_members_pane_the_age_of_the_last_backup() {
        let t0 = Instant::now();
        let app = ready(t0);
        insta::assert_snapshot!(screen(&app, 100, 30, COLOR, t0).backend());
    }

    #[test]
    fn the_stream_shows_bytes_rate_and_time_left() {
        let t0 = Instant::now();
        let mut app = ready(t0);
        assert_eq!(app.on_action(Action::Confirm), Some(Effect::Start(Start::Backup { force: false, keys_dir: None })));
        let run = checked(&app, false, OpenShiftFacts::NotConfigured);
        let step = run.next_action();
        assert!(matches!(step, Step::Stream { .. }), "{step:?}");
        app.on_backup(Progress::Run(Box::new(run)));
        app.on_backup(Progress::Began(step));
        app.on_backup(Progress::Bytes {
            done: 120 * MIB,
            total: 301 * MIB + 32,
            rate: 80.0 * MIB as f64,
            eta: Some(Duration::from_millis(2260)),
        });
        insta::assert_snapshot!(screen(&app, 100, 30, COLOR, t0).backend());
        assert_eq!(app.on_action(Action::Stop), Some(Effect::Stop(WizardKind::Backup)));
    }

    #[test]
    fn a_refusal_offers_force_behind_a_confirmation_that_names_the_reason() {
        let t0 = Instant::now();
        let mut app = ready(t0);
        app.on_action(Action::Confirm);
        let run = checked(&app, false, migrating());
        assert!(matches!(run.outcome(), Some(Outcome::Refused { .. })));
        app.on_backup(Progress::Run(Box::new(run)));
        insta::assert_snapshot!("refused", screen(&app, 100, 30, COLOR, t0).backend());
        assert_eq!(app.on_action(Action::ForceBackup), None);
        insta::assert_snapshot!("force_confirmation", screen(&app, 100, 30, COLOR, t0).backend());
        assert_eq!(app.on_action(Action::Yes), Some(Effect::Start(Start::Backup { force: true, keys_dir: None })));
    }

    #[test]
    fn a_finished_backup_shows_where_it_is_and_what_it_holds() {
        let t0 = Instant::now();
        let mut app = ready(t0);
        app.on_action(Action::Confirm);
        let mut run = checked(&app, true, migrating());
        run.observe(Observed::Streamed(Ok(Streamed {
            bytes: 301 * MIB + 32,
            took: Duration::from_millis(3700),
            sha256: "5e".repeat(32),
            trailer_matches: true,
        })));
        run.observe(Observed::Verified(Ok(Verified {
            revision: 81_234,
            hash: 0x4d6b_22d5,
            total_keys: 9_120,
            total_size: 301 * MIB,
        })));
        run.observe(Observed::Published(Ok(Vec::new())));
        assert_eq!(run.outcome(), Some(&Outcome::Completed));
        app.on_backup(Progress::Run(Box::new(run)));
        app.last_backup = Some(Some(LastBackup {
            taken_at: wall(),
            member: "etcd-1".into(),
            possibly_dirty: true,
            restore_grade: false,
            restorable_at: Some(wall() - Duration::from_secs(3 * 3600)),
        }));
        insta::assert_snapshot!(screen(&app, 100, 30, COLOR, t0).backend());
        assert_eq!(app.notice.as_deref(), Some("backup taken and verified"));
    }
}

mod encryption_wizard {
    use super::defrag_wizard::fragmented;
    use super::operator_fixtures as seed;
    use super::*;
    use crate::app::keys::Action;
    use crate::app::{Answer, Change, Effect, Start, WizardKind};
    use etcd_console_core::openshift::watch::{OpenShiftEvent, Watched};
    use etcd_console_core::wizard::encryption::executor::Progress;
    use etcd_console_core::wizard::encryption::fixtures::{at, condition, reading};
    use etcd_console_core::wizard::encryption::{EncryptionRun, EncryptionType, KeySecret, Observed, Options};
    use serde_json::json;

    /// A cluster on aescbc, every operator done, as the watches report it.
    pub(super) fn on_aescbc(t0: Instant) -> App {
        let mut app = fragmented(t0);
        app.wall_clock = Some(at(0));
        app.backup_dir = Some("/backups".into());
        let done = "2026-11-30T02:00:00Z";
        let object = |resources: &str| json!({"metadata": {"name": "cluster"}, "status": {"conditions": [seed::encrypted_condition(resources, "aescbc", false, done)]}});
        let events = [
            (Watched::ApiServer, json!({"metadata": {"name": "cluster"}, "spec": {"encryption": {"type": "aescbc"}}})),
            (Watched::OpenShiftApiServer, object("routes.route.openshift.io")),
            (Watched::KubeApiServer, object("secrets, configmaps")),
            (
                Watched::Authentication,
                object("oauthaccesstokens.oauth.openshift.io, oauthauthorizetokens.oauth.openshift.io"),
            ),
        ];
        for (what, object) in events {
            app.openshift.on_event(OpenShiftEvent::Objects { what, objects: vec![object], at: t0 });
        }
        app
    }

    pub(super) fn options() -> Options {
        Options { wait: true, backup_first: false, stall_after: None, ..Options::default() }
    }

    #[test]
    fn on_an_encrypted_cluster_the_backup_wizard_says_the_keys_are_not_saved_and_s_saves_them_apart() {
        let t0 = Instant::now();
        let mut app = on_aescbc(t0);
        app.keys_dir = Some("/keys/etcd-console/encryption-keys".into());
        app.on_action(Action::OpenBackup);
        let before = format!("{:?}", screen(&app, 100, 30, COLOR, t0).backend());
        assert!(before.contains("The OpenShift backup (cluster-backup.sh) of cluster"), "{before}");
        assert!(before.contains("encrypted (aescbc): its keys are NOT saved with the backup"), "{before}");
        app.on_action(Action::OpenSpace);
        insta::assert_snapshot!(screen(&app, 100, 30, COLOR, t0).backend());
        let Some(Effect::Start(Start::Backup { keys_dir: Some(keys), .. })) = app.on_action(Action::Confirm) else {
            panic!("the run takes the keys directory")
        };
        assert!(keys.ends_with("encryption-keys"), "{}", keys.display());
        assert!(!keys.starts_with("/backups"), "apart from the backups");
    }

    /// The engine after reading an aescbc cluster, waiting for the yes to aesgcm.
    pub(super) fn asking() -> EncryptionRun {
        let mut run = EncryptionRun::new(EncryptionType::Aesgcm, options());
        run.next_action();
        run.observe(Observed::Read(Box::new(reading("aescbc", "EncryptionCompleted", "2026-11-30T02:00:00Z"))), at(0));
        run
    }

    /// The same run, answered yes and patched.
    pub(super) fn patched() -> EncryptionRun {
        let mut run = asking();
        run.answer(true);
        run.next_action();
        run.observe(Observed::Read(Box::new(reading("aescbc", "EncryptionCompleted", "2026-11-30T02:00:00Z"))), at(1));
        run.next_action();
        run.observe(Observed::Patched(Ok(())), at(2));
        run
    }

    #[test]
    fn the_wizard_shows_the_type_now_and_the_conditions_and_offers_the_others() {
        let t0 = Instant::now();
        let mut app = on_aescbc(t0);
        app.on_action(Action::OpenEncryption);
        let wizard = app.encryption.as_ref().unwrap();
        assert_eq!(wizard.target, EncryptionType::Identity, "opens on a type other than the cluster's");
        app.on_action(Action::SelectNext);
        app.on_action(Action::SelectNext);
        insta::assert_snapshot!(screen(&app, 110, 30, COLOR, t0).backend());
        app.on_action(Action::OpenBackup);
        assert!(!app.encryption.as_ref().unwrap().backup_first, "b toggles the backup first");
        assert!(app.backup.is_none(), "b belongs to the wizard here");
        assert_eq!(
            app.on_action(Action::Confirm),
            Some(Effect::Start(Start::Encryption { target: EncryptionType::Aesgcm, backup_first: false }))
        );
    }

    #[test]
    fn the_question_names_the_cluster_the_old_and_the_new_type() {
        let t0 = Instant::now();
        let mut app = on_aescbc(t0);
        app.on_action(Action::OpenEncryption);
        app.on_action(Action::SelectNext);
        app.on_action(Action::SelectNext);
        app.on_action(Action::Confirm);
        app.openshift.on_event(OpenShiftEvent::Connected { server: "https://api.lab:6443".into() });
        app.openshift.on_event(OpenShiftEvent::Objects {
            what: Watched::Infrastructure,
            objects: vec![json!({"status": {"infrastructureName": "lab-x8k2p"}})],
            at: t0,
        });
        app.on_encryption(Progress::Run(Box::new(asking())));
        let confirm = app.confirm.clone().unwrap();
        // The question whole; the cluster named as every confirmation names it, on the first line.
        assert_eq!(confirm.title, "Set encryption aescbc -> aesgcm?");
        assert_eq!(confirm.lines[0], "cluster lab-x8k2p (api.lab:6443) · etcd cdf818194e3a8c32");
        assert_eq!(confirm.change, Change::EncryptionYes);
        insta::assert_snapshot!(screen(&app, 110, 30, COLOR, t0).backend());
        assert_eq!(
            app.on_action(Action::CloseOverlay),
            Some(Effect::Answer(Answer::Encryption(false))),
            "no is an answer too"
        );
        app.on_encryption(Progress::Run(Box::new(asking())));
        assert!(app.confirm.is_none(), "asked once per run");
    }

    #[test]
    fn the_run_shows_each_operator_its_time_and_the_new_keys() {
        let t0 = Instant::now();
        let mut app = on_aescbc(t0);
        app.on_action(Action::OpenEncryption);
        app.on_action(Action::Confirm);
        let mut run = patched();
        let mut mid = reading("aesgcm", "EncryptionInProgress", "2026-12-01T00:01:00Z");
        mid.operators[0].encrypted = condition(
            "EncryptionCompleted",
            "All resources encrypted: routes.route.openshift.io",
            "2026-12-01T00:06:00Z",
        );
        for component in ["openshift-apiserver", "openshift-kube-apiserver", "openshift-oauth-apiserver"] {
            mid.keys.push(KeySecret {
                name: format!("encryption-key-{component}-2"),
                component: component.into(),
                mode: "aesgcm".into(),
                created: None,
            });
        }
        run.observe(Observed::Read(Box::new(mid)), at(362));
        app.wall_clock = Some(at(400));
        app.on_encryption(Progress::Run(Box::new(run.clone())));
        insta::assert_snapshot!(screen(&app, 110, 30, COLOR, t0).backend());
        assert_eq!(app.on_action(Action::Stop), Some(Effect::Stop(WizardKind::Encryption)));
        assert!(app.notice.as_deref().unwrap_or("").contains("goes on in the cluster"), "{:?}", app.notice);
    }

    #[test]
    fn a_degraded_operator_ends_the_run_with_what_is_not_completed() {
        let t0 = Instant::now();
        let mut app = on_aescbc(t0);
        app.on_action(Action::OpenEncryption);
        app.on_action(Action::Confirm);
        let mut run = patched();
        let mut broken = reading("aesgcm", "EncryptionInProgress", "2026-12-01T00:01:00Z");
        broken.operators[0].degraded.push(
            "EncryptionMigrationControllerDegraded: migrating routes.route.openshift.io failed: etcdserver: request timed out".into(),
        );
        run.observe(Observed::Read(Box::new(broken)), at(302));
        app.wall_clock = Some(at(310));
        app.on_encryption(Progress::Run(Box::new(run)));
        insta::assert_snapshot!(screen(&app, 110, 30, COLOR, t0).backend());
        assert!(
            app.notice.as_deref().unwrap_or("").starts_with("encryption aesgcm: an operator is Degraded"),
            "{:?}",
            app.notice
        );
    }

    #[test]
    fn the_question_waits_for_another_one_and_takes_only_y() {
        use crate::app::Confirm;
        let t0 = Instant::now();
        let mut app = on_aescbc(t0);
        app.on_action(Action::OpenEncryption);
        app.on_action(Action::SelectNext);
        app.on_action(Action::SelectNext);
        app.on_action(Action::Confirm);
        // Another question is up (a CSR approval) when the engine asks: it is not replaced.
        let other = Confirm {
            title: "Approve 1 CSR(s)?".into(),
            lines: Vec::new(),
            change: Change::ApproveCsrs(vec!["csr-a".into()]),
        };
        app.confirm = Some(other.clone());
        app.on_encryption(Progress::Run(Box::new(asking())));
        assert_eq!(app.confirm.as_ref().map(|c| c.title.clone()), Some(other.title));
        assert_eq!(app.on_action(Action::CloseOverlay), None, "the CSR question cancelled");
        // Now the encryption question comes up; Enter does not answer it, y does.
        assert_eq!(app.confirm.as_ref().map(|c| c.change.clone()), Some(Change::EncryptionYes));
        assert_eq!(app.on_action(Action::Confirm), None);
        assert!(app.confirm.is_some(), "Enter left it up");
        assert_eq!(app.on_action(Action::Yes), Some(Effect::Answer(Answer::Encryption(true))));
        assert!(app.confirm.is_none());
    }

    #[test]
    fn stopping_before_the_patch_says_nothing_was_patched() {
        let t0 = Instant::now();
        let mut app = on_aescbc(t0);
        app.on_action(Action::OpenEncryption);
        app.on_action(Action::Confirm);
        app.on_encryption(Progress::Run(Box::new(asking())));
        app.on_action(Action::CloseOverlay);
        assert_eq!(app.on_action(Action::Stop), Some(Effect::Stop(WizardKind::Encryption)));
        assert_eq!(app.notice.as_deref(), Some("stopping: nothing has been patched"));
    }
}

mod restore_wizard {
    use super::defrag_wizard::fragmented;
    use super::*;
    use crate::app::keys::Action;
    use crate::app::restore::Asked;
    use crate::app::{Answer, Effect, Start, WizardKind};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use etcd_console_core::wizard::restore::executor::Progress;
    use etcd_console_core::wizard::restore::fixtures::survey;
    use etcd_console_core::wizard::restore::{
        Action as RunAction, Observed, Options, Procedure, RestoreRun, StepResult,
    };

    pub(super) fn at(seconds: u64) -> std::time::SystemTime {
        std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000 + seconds)
    }

    pub(super) fn surveyed(plan_only: bool) -> RestoreRun {
        surveyed_for(Some("master-0"), plan_only)
    }

    pub(super) fn surveyed_for(host: Option<&str>, plan_only: bool) -> RestoreRun {
        let options = Options {
            recovery_host: host.map(str::to_string),
            remote_backup_dir: "/home/core/assets/backup".into(),
            plan_only,
            ..Options::default()
        };
        let mut run = RestoreRun::new(Procedure::Standalone, "/backups/restore".into(), options);
        run.next_action(at(0));
        run.observe(Observed::Surveyed(Box::new(survey())));
        run
    }

    pub(super) fn opened(t0: Instant) -> App {
        let mut app = fragmented(t0);
        app.restore_backup = Some("/backups/restore".into());
        assert_eq!(app.on_action(Action::OpenRestore), Some(Effect::PlanRestore { recovery_host: None }));
        app.on_restore(Progress::Run(Box::new(surveyed_for(None, true))));
        app
    }

    #[test]
    fn the_plan_shows_every_gate_and_the_point_of_no_return_for_the_chosen_recovery_host() {
        let t0 = Instant::now();
        let mut app = opened(t0);
        assert_eq!(
            app.on_action(Action::SelectNext),
            Some(Effect::PlanRestore { recovery_host: Some("master-0".into()) }),
            "a new recovery host is judged again"
        );
        app.on_restore(Progress::Run(Box::new(surveyed(true))));
        insta::assert_snapshot!(screen(&app, 110, 34, COLOR, t0).backend());
        assert_eq!(
            app.on_action(Action::Confirm),
            Some(Effect::Start(Start::Restore { recovery_host: "master-0".into() }))
        );
    }

    #[test]
    fn the_run_shows_the_checklist_the_step_being_done_and_the_typed_confirmation() {
        let t0 = Instant::now();
        let mut app = opened(t0);
        app.on_action(Action::SelectNext);
        app.on_restore(Progress::Run(Box::new(surveyed(true))));
        app.on_action(Action::Confirm);
        let mut run = surveyed(false);
        let RunAction::Confirm(confirmation) = run.next_action(at(1)) else { panic!() };
        app.ask_restore(Asked::Confirm(confirmation));
        for c in "lab-x8k".chars() {
            assert_eq!(app.on_restore_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)), None);
        }
        insta::assert_snapshot!("confirmation", screen(&app, 110, 34, COLOR, t0).backend());
        app.on_restore_key(KeyEvent::new(KeyCode::Char('2'), KeyModifiers::NONE));
        app.on_restore_key(KeyEvent::new(KeyCode::Char('p'), KeyModifiers::NONE));
        assert_eq!(
            app.on_restore_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
            Some(Effect::Answer(Answer::Restore("lab-x8k2p".into())))
        );
        run.observe(Observed::Typed("lab-x8k2p".into()));
        // The copy and master-1's stops done; the etcd check on master-2 being polled.
        loop {
            match run.next_action(at(2)) {
                RunAction::Perform { index, step, .. } if step.id == "4.2@master-2" => {
                    app.on_restore(Progress::Began { index, step: Box::new(step) });
                    break;
                }
                RunAction::Perform { index, .. } => {
                    let detail =
                        "renamed '/etc/kubernetes/manifests/etcd-pod.yaml' -> '/tmp/etcd-pod.yaml'".to_string();
                    run.observe(Observed::Performed { index, result: StepResult::Done { detail } });
                }
                other => panic!("{other:?}"),
            }
        }
        app.on_restore(Progress::Run(Box::new(run)));
        // A plan arriving late (asked before the run began) changes nothing on screen.
        app.on_restore(Progress::Run(Box::new(surveyed(true))));
        assert_eq!(app.restore.as_ref().unwrap().stage, crate::app::restore::Stage::Running);
        insta::assert_snapshot!("running", screen(&app, 110, 34, COLOR, t0).backend());
        assert_eq!(app.on_action(Action::Stop), Some(Effect::Stop(WizardKind::Restore)));
    }

    /// Keys go to the restore's prompt while it is up, so the restore stays on the lower half
    /// until it is answered, whatever else asks to come up.
    #[test]
    fn the_restore_prompt_keeps_the_restore_on_screen_until_it_is_answered() {
        let t0 = Instant::now();
        let mut app = opened(t0);
        app.on_action(Action::SelectNext);
        app.on_restore(Progress::Run(Box::new(surveyed(true))));
        app.on_action(Action::Confirm);
        app.on_action(Action::CloseOverlay);
        assert_eq!(app.open_wizard(), None, "Esc hides the running restore");
        let RunAction::Confirm(confirmation) = surveyed(false).next_action(at(1)) else { panic!() };
        app.ask_restore(Asked::Confirm(confirmation));
        assert_eq!(app.open_wizard(), Some(WizardKind::Restore), "the question brings it up");
        app.on_action(Action::OpenEncryption);
        assert_eq!(app.open_wizard(), Some(WizardKind::Restore));
        assert_eq!(
            app.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
            Some(Effect::Answer(Answer::Restore(String::new())))
        );
        assert_eq!(app.open_wizard(), Some(WizardKind::Encryption));
    }

    #[test]
    fn the_hosted_plan_needs_no_recovery_host_and_enter_runs_it() {
        let t0 = Instant::now();
        let mut app = fragmented(t0);
        app.restore_backup = Some("/backups/hosted".into());
        assert_eq!(app.on_action(Action::OpenRestore), Some(Effect::PlanRestore { recovery_host: None }));
        let mut s = survey();
        s.cluster_name = "hosted".into();
        s.hosted = Some(etcd_console_core::wizard::restore::HostedFacts {
            namespace: "clusters".into(),
            name: "hosted".into(),
            control_plane_namespace: "clusters-hosted".into(),
            etcd_replicas: 3,
            etcd_image: "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:etcd".into(),
            members: (0..3)
                .map(|i| (format!("etcd-{i}"), format!("https://etcd-{i}.etcd-discovery.clusters-hosted.svc:2380")))
                .collect(),
            ..Default::default()
        });
        let options = Options { hosted_cluster: Some("clusters/hosted".into()), plan_only: true, ..Options::default() };
        let mut run = RestoreRun::new(Procedure::Hosted, "/backups/hosted".into(), options);
        run.next_action(at(0));
        run.observe(Observed::Surveyed(Box::new(s)));
        app.on_restore(Progress::Run(Box::new(run)));
        assert_eq!(app.on_action(Action::SelectNext), None, "no recovery host to choose");
        insta::assert_snapshot!(screen(&app, 110, 34, COLOR, t0).backend());
        assert_eq!(
            app.on_action(Action::Confirm),
            Some(Effect::Start(Start::Restore { recovery_host: String::new() }))
        );
    }

    #[test]
    fn without_a_backup_the_wizard_says_how_to_give_one() {
        let t0 = Instant::now();
        let mut app = fragmented(t0);
        assert_eq!(app.on_action(Action::OpenRestore), None, "nothing to plan with");
        let text = format!("{:?}", screen(&app, 110, 30, COLOR, t0).backend());
        assert!(text.contains("--restore-backup DIR"), "{text}");
    }
}

/// Every key a pane, prompt or dialog offers comes from the key table, and the
/// handler for the state it is shown in acts on it.
mod key_hints {
    use super::defrag_wizard::{fragmented, running as defrag_running, view};
    use super::*;
    use crate::app::keys::{pressed, Context, Does, KEY_TABLE};
    use crate::app::{Answer, Effect};
    use crossterm::event::KeyEvent;
    use etcd_console_core::openshift::csr::CsrClass;
    use etcd_console_core::openshift::watch::OpenShiftEvent;

    /// As the event loop routes a key (tui.rs): the CSR filter, then the restore prompt, then the key table.
    /// A key as the event loop hands it over.
    fn press(app: &mut App, key: KeyEvent) -> Option<Effect> {
        app.on_key(key)
    }

    fn act(app: &mut App, action: crate::app::keys::Action) {
        app.on_action(action);
    }

    /// The console in a state where `context`'s keys are on screen.
    fn shown(context: Context, t0: Instant) -> App {
        use crate::app::keys::Action::*;
        match context {
            Context::Confirm => {
                let mut app = fragmented(t0);
                act(&mut app, OpenDefrag);
                act(&mut app, Confirm);
                app
            }
            Context::ConfirmEncryption => {
                let mut app = encryption::choosing(t0);
                act(&mut app, SelectNext);
                act(&mut app, Confirm);
                app.on_encryption(etcd_console_core::wizard::encryption::executor::Progress::Run(Box::new(
                    super::encryption_wizard::asking(),
                )));
                app
            }
            Context::Alerts => {
                let mut app = app_with(3, t0);
                act(&mut app, ToggleAlerts);
                app
            }
            Context::Retry => {
                let mut app = App::new("https://10.0.0.10:2379".into(), 8 << 30, Duration::from_secs(2), t0);
                app.cluster.discovery = Discovery::Failed {
                    error: "connection refused".into(),
                    since: t0,
                    retry_at: t0 + Duration::from_secs(16),
                    attempt: 4,
                };
                app
            }
            Context::CsrActions => {
                use super::openshift_views::csr;
                let mut app = app_with(3, t0);
                app.view = crate::app::View::Csrs;
                let pending = vec![
                    csr("csr-4hl85", CsrClass::NodeBootstrapper, "master-1", 13),
                    csr("csr-x9x9x", CsrClass::Unexpected, "worker-0", 1),
                ];
                app.openshift.on_event(OpenShiftEvent::Csrs { pending, at: t0 });
                app
            }
            Context::DefragResume => {
                let run = defrag_running(t0).defrag.and_then(|w| w.run).unwrap_or_else(|| panic!("no run"));
                let mut app = fragmented(t0);
                app.offer_resume(etcd_console_core::wizard::defrag::journal::Unfinished {
                    run,
                    in_flight: None,
                    last_written: "2026-12-01T03:04:05Z".into(),
                    path: "/journal".into(),
                });
                act(&mut app, OpenDefrag);
                app
            }
            Context::DefragPlan => {
                let mut app = fragmented(t0);
                act(&mut app, OpenDefrag);
                app
            }
            Context::DefragNospace => {
                let mut app = super::defrag_wizard::nospace(t0);
                act(&mut app, OpenDefrag);
                app
            }
            Context::DefragNoneNeeded => {
                // Little to give back: OpenShift's rule picks no member.
                let mut app = app_with(3, t0);
                act(&mut app, OpenDefrag);
                app
            }
            Context::DefragRunning => defrag_running(t0),
            Context::DefragFinished => {
                use etcd_console_core::wizard::defrag::{executor::Progress, Observed};
                let mut app = defrag_running(t0);
                let mut run = app.defrag.as_ref().and_then(|w| w.run.clone()).unwrap_or_else(|| panic!("no run"));
                run.next_action();
                run.observe(Observed::Waited { aborted: false });
                run.next_action();
                let mut down = view(&app, &[1]);
                down.members[2].reading = Err("no answer within 5s".into());
                run.observe(Observed::Cluster(down));
                app.on_defrag(Progress::Run(Box::new(run)));
                app
            }
            Context::BackupReady => super::backup_wizard::ready(t0),
            Context::BackupRunning => backup::running(t0),
            Context::BackupStopping => {
                let mut app = backup::running(t0);
                act(&mut app, Stop);
                app
            }
            Context::BackupFinished => backup::finished(t0, true),
            Context::BackupRefused => backup::finished(t0, false),
            Context::EncryptionChoosing => {
                let mut app = encryption::choosing(t0);
                // The middle type: ↑ and ↓ both choose another.
                act(&mut app, SelectNext);
                app
            }
            Context::EncryptionUnpatched => {
                use etcd_console_core::wizard::encryption::{EncryptionRun, EncryptionType};
                let mut app = encryption::choosing(t0);
                act(&mut app, Confirm);
                let mut run = EncryptionRun::new(EncryptionType::Aesgcm, super::encryption_wizard::options());
                run.next_action();
                app.on_encryption(etcd_console_core::wizard::encryption::executor::Progress::Run(Box::new(run)));
                app
            }
            Context::EncryptionFollowing => encryption::following(t0),
            Context::EncryptionStopping => {
                let mut app = encryption::following(t0);
                act(&mut app, Stop);
                app
            }
            Context::EncryptionFinished => {
                use etcd_console_core::wizard::encryption::fixtures::{at, reading};
                use etcd_console_core::wizard::encryption::Observed;
                let mut app = encryption::choosing(t0);
                act(&mut app, Confirm);
                let mut run = super::encryption_wizard::patched();
                let mut broken = reading("aesgcm", "EncryptionInProgress", "2026-12-01T00:01:00Z");
                broken.operators[0].degraded.push("EncryptionMigrationControllerDegraded: failed".into());
                run.observe(Observed::Read(Box::new(broken)), at(302));
                app.on_encryption(etcd_console_core::wizard::encryption::executor::Progress::Run(Box::new(run)));
                app
            }
            Context::RestoreChoose => super::restore_wizard::opened(t0),
            // With master-1 chosen ↑ and ↓ both choose another; every gate passes.
            Context::RestoreAnother | Context::RestoreReady => restore::planned(t0),
            Context::RestoreRunning => restore::running(t0),
            Context::RestoreName => {
                use etcd_console_core::wizard::restore::Action as RunAction;
                let mut app = restore::running(t0);
                let mut run = super::restore_wizard::surveyed(false);
                let RunAction::Confirm(confirmation) = run.next_action(super::restore_wizard::at(1)) else {
                    panic!("no confirmation")
                };
                app.ask_restore(crate::app::restore::Asked::Confirm(confirmation));
                app
            }
            Context::RestoreStep => {
                let mut app = restore::running(t0);
                let step = super::restore_wizard::surveyed(false).steps.first().cloned();
                let step = step.unwrap_or_else(|| panic!("no step"));
                app.ask_restore(crate::app::restore::Asked::Done(Box::new(step)));
                app
            }
            Context::MemberReady => super::member_wizard::planned(t0, 0),
            Context::MemberRefused => super::member_wizard::planned(t0, 1),
            Context::MemberResume => {
                let mut app = super::member_wizard::planned(t0, 1);
                app.member_journalled("etcd-1", "step member_back".into());
                app
            }
            Context::MemberRunning => super::member_wizard::running(t0),
            Context::MemberFinished => super::member_wizard::finished(t0),
            Context::MemberConfirm => super::member_wizard::asked_to_confirm(t0),
            Context::MemberStep => {
                use crate::app::member::fixtures::{crashlooping, surveyed};
                let mut app = super::member_wizard::running(t0);
                let mut survey = crashlooping(0);
                survey.version = Some("4.3.40".into());
                let step = surveyed(survey, false).steps.first().cloned();
                app.ask_member(crate::app::member::Asked::Done(Box::new(step.unwrap_or_else(|| panic!("no step")))));
                app
            }
            Context::Timeline => {
                use etcd_console_core::timeline::{Event, Kind, Source};
                let mut app = app_with(3, t0);
                for i in 0..5 {
                    let event = Event::new(
                        std::time::SystemTime::UNIX_EPOCH,
                        Kind::Notice,
                        Source::Console,
                        None,
                        format!("n{i}"),
                    );
                    app.timeline.push(event);
                }
                act(&mut app, ToggleTimeline);
                // In the middle: ↑ and ↓ both scroll.
                act(&mut app, SelectNext);
                app
            }
            Context::SpaceReading => super::space_view::opened(t0),
            Context::SpaceDone => {
                let mut app = super::space_view::read(t0);
                // In the middle: ↑ and ↓ both choose another resource.
                act(&mut app, SelectNext);
                app
            }
        }
    }

    mod backup {
        use super::super::backup_wizard::{checked, migrating, ready};
        use super::*;
        use etcd_console_core::wizard::backup::executor::Progress;
        use etcd_console_core::wizard::backup::{Observed, OpenShiftFacts, Streamed, Verified};

        pub(super) fn running(t0: Instant) -> App {
            let mut app = ready(t0);
            app.on_action(crate::app::keys::Action::Confirm);
            let run = checked(&app, false, OpenShiftFacts::NotConfigured);
            let step = run.next_action();
            app.on_backup(Progress::Run(Box::new(run)));
            app.on_backup(Progress::Began(step));
            app
        }

        /// Taken (with `completed`), else refused by a check --force overrides.
        pub(super) fn finished(t0: Instant, completed: bool) -> App {
            let mut app = ready(t0);
            app.on_action(crate::app::keys::Action::Confirm);
            let mut run = checked(&app, completed, migrating());
            if completed {
                run.observe(Observed::Streamed(Ok(Streamed {
                    bytes: 1 << 20,
                    took: Duration::from_millis(3700),
                    sha256: "5e".repeat(32),
                    trailer_matches: true,
                })));
                run.observe(Observed::Verified(Ok(Verified {
                    revision: 81_234,
                    hash: 0x4d6b_22d5,
                    total_keys: 9_120,
                    total_size: 1 << 20,
                })));
                run.observe(Observed::Published(Ok(Vec::new())));
            }
            app.on_backup(Progress::Run(Box::new(run)));
            app
        }
    }

    mod encryption {
        use super::super::encryption_wizard::{on_aescbc, patched};
        use super::*;
        use etcd_console_core::wizard::encryption::executor::Progress;

        pub(super) fn choosing(t0: Instant) -> App {
            let mut app = on_aescbc(t0);
            app.on_action(crate::app::keys::Action::OpenEncryption);
            app
        }

        pub(super) fn following(t0: Instant) -> App {
            let mut app = choosing(t0);
            app.on_action(crate::app::keys::Action::Confirm);
            app.on_encryption(Progress::Run(Box::new(patched())));
            app
        }
    }

    mod restore {
        use super::super::restore_wizard::{opened, surveyed, surveyed_for};
        use super::*;
        use crate::app::keys::Action;
        use etcd_console_core::wizard::restore::executor::Progress;

        pub(super) fn planned(t0: Instant) -> App {
            let mut app = opened(t0);
            app.on_action(Action::SelectNext);
            app.on_action(Action::SelectNext);
            app.on_restore(Progress::Run(Box::new(surveyed_for(Some("master-1"), true))));
            app
        }

        pub(super) fn running(t0: Instant) -> App {
            let mut app = planned(t0);
            app.on_action(Action::Confirm);
            app.on_restore(Progress::Run(Box::new(surveyed(false))));
            app
        }
    }

    fn rows(app: &App, now: Instant) -> Vec<String> {
        let terminal = screen(app, 200, 50, COLOR, now);
        let buffer = terminal.backend().buffer();
        (0..buffer.area.height)
            .map(|y| (0..buffer.area.width).map(|x| buffer[(x, y)].symbol().to_string()).collect())
            .collect()
    }

    /// What the person sees, and what each key offered there does: every hint listed for a
    /// context is on screen in its state, and pressing its key (each of them: ↑ and ↓) changes
    /// the console or hands the event loop something to do; none moves the members' selection.
    #[test]
    fn every_key_offered_is_one_its_state_handles() {
        let t0 = Instant::now();
        for context in Context::ALL {
            let app = shown(context, t0);
            let selected = app.selected;
            let rows = rows(&app, t0);
            for hint in context.hints() {
                let written = format!("{}{}", hint.lead, hint.label);
                assert!(
                    rows.iter().any(|row| row.contains(&written) && row.contains(hint.word)),
                    "{context:?}: {written:?} {:?} is not on screen:\n{}",
                    hint.word,
                    rows.join("\n")
                );
                let keys = pressed(hint.label).unwrap_or_else(|| panic!("{context:?}: no key {:?}", hint.label));
                for key in keys {
                    let mut app = app.clone();
                    let before = format!("{app:?}");
                    let effect = press(&mut app, key);
                    let after = format!("{app:?}");
                    assert!(
                        effect.is_some() || before != after,
                        "{context:?}: {:?} ({}) is offered but does nothing",
                        key.code,
                        hint.word
                    );
                    assert_eq!(app.selected, selected, "{context:?}: {:?} moved the members' selection", key.code);
                    if let Does::Edit(_) = hint.does {
                        assert!(
                            matches!(effect, Some(Effect::Answer(Answer::Restore(_) | Answer::Member(_)))),
                            "{context:?}: {effect:?}"
                        );
                    }
                }
            }
        }
    }

    /// Help is the key table: one line per entry, its label and (as far as the window is wide) its words.
    #[test]
    fn the_help_lists_every_entry_of_the_key_table() {
        let t0 = Instant::now();
        let mut app = app_with(3, t0);
        app.on_resize(200, 50);
        app.on_action(crate::app::keys::Action::ToggleHelp);
        let rows = rows(&app, t0);
        let line_of = |label: &str, description: &str| -> String {
            format!(" {label:<8}{description}").chars().take(58).collect()
        };
        for binding in KEY_TABLE {
            let line = line_of(binding.label, binding.description);
            assert!(rows.iter().any(|row| row.contains(&line)), "{:?} not in help:\n{}", line, rows.join("\n"));
        }
        for binding in crate::app::keys::EDIT_KEYS {
            let line = line_of(binding.label, binding.description);
            assert!(rows.iter().any(|row| row.contains(&line)), "{:?} not in help:\n{}", line, rows.join("\n"));
        }
        // Wide, every key of the members view is in the footer, and ? help ends it.
        let footer = rows.last().cloned().unwrap_or_default();
        for (keys, word) in crate::app::keys::footer_keys(crate::app::keys::Place::Members) {
            assert!(footer.contains(&format!(" {keys}  {word}")), "{keys} {word} not in the footer: {footer}");
        }
        assert!(footer.contains(" ?  help"), "{footer}");
    }
}

/// A member down as OpenShift shows it around the member: its pod crash-looping, its node
/// NotReady, its Machine's instance stopped, the etcd operator Degraded.
mod member_diagnosis {
    use super::operator_fixtures as seed;
    use super::*;
    use crate::app::keys::Action;
    use etcd_console_core::openshift::watch::{OpenShiftEvent, Watched};
    use serde_json::json;
    use std::time::SystemTime;

    fn wall() -> SystemTime {
        humantime::parse_rfc3339("2026-11-22T03:00:00Z").unwrap_or(SystemTime::UNIX_EPOCH)
    }

    fn objects(app: &mut App, what: Watched, objects: Vec<serde_json::Value>, at: Instant) {
        app.openshift.on_event(OpenShiftEvent::Objects { what, objects, at });
    }

    fn pod(i: usize, crashing: bool) -> serde_json::Value {
        let etcd = if crashing {
            json!({"name": "etcd", "ready": false, "restartCount": 7,
                   "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container=etcd"}},
                   "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2026-11-22T02:56:10Z"}}})
        } else {
            json!({"name": "etcd", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": "2026-11-20T00:00:00Z"}}})
        };
        let ready = if crashing { ("False", "2026-11-22T02:34:00Z") } else { ("True", "2026-11-20T00:01:00Z") };
        json!({"metadata": {"name": format!("etcd-master-{i}"), "namespace": "openshift-etcd"},
               "spec": {"nodeName": format!("master-{i}")},
               "status": {"phase": "Running", "podIP": format!("10.0.0.{}", 10 + i),
                          "conditions": [{"type": "Ready", "status": ready.0, "lastTransitionTime": ready.1}],
                          "containerStatuses": [etcd]}})
    }

    /// etcd-1 down for the cluster around it since 02:33 (its node went first).
    pub(super) fn member_down(t0: Instant) -> App {
        let mut app = app_with(3, t0);
        app.wall_clock = Some(wall());
        app.selected = 1;
        app.openshift.on_event(OpenShiftEvent::Connected { server: "https://api.ocp.example.com:6443".into() });
        let at = t0 + Duration::from_secs(20);
        app.on_poll(PollEvent::Sample(failed_sample(1, at, "tcp connect error: Connection refused (os error 111)")));
        objects(&mut app, Watched::EtcdPods, (0..3).map(|i| pod(i, i == 1)).collect(), at);
        let nodes = (0..3)
            .map(|i| {
                let (status, reason, since) = match i {
                    1 => ("Unknown", "NodeStatusUnknown", "2026-11-22T02:33:00Z"),
                    _ => ("True", "KubeletReady", "2026-11-20T00:00:00Z"),
                };
                json!({"metadata": {"name": format!("master-{i}")}, "status": {"conditions": [
                    {"type": "Ready", "status": status, "reason": reason, "lastTransitionTime": since}]}})
            })
            .collect();
        objects(&mut app, Watched::Nodes, nodes, at);
        let machines = (0..3)
            .map(|i| {
                let state = if i == 1 { "stopped" } else { "running" };
                json!({"metadata": {"name": format!("ocp-x7k2p-master-{i}"), "namespace": "openshift-machine-api"},
                       "status": {"phase": "Running", "nodeRef": {"kind": "Node", "name": format!("master-{i}")},
                                  "providerStatus": {"instanceState": state}}})
            })
            .collect();
        objects(&mut app, Watched::Machines, machines, at);
        let mut etcd = seed::cluster_operator("etcd", "2026-11-22T02:35:00Z");
        etcd["status"]["conditions"][2] = seed::condition(
            "Degraded",
            "True",
            "EtcdMembers_UnhealthyMembers",
            "NodeControllerDegraded: The master nodes not ready: node \"master-1\" not ready since 2026-11-22 02:33:00 +0000 UTC because NodeStatusUnknown (Kubelet stopped posting node status.)\nEtcdMembersDegraded: 2 of 3 members are available, etcd-1 is unhealthy",
            "2026-11-22T02:35:00Z",
        );
        objects(&mut app, Watched::ClusterOperators, vec![etcd], at);
        app
    }

    #[test]
    fn a_member_down_80x24_says_why_since_when_what_is_left_and_what_next() {
        let t0 = Instant::now();
        let app = member_down(t0);
        let terminal = screen(&app, 80, 24, COLOR, t0 + Duration::from_secs(24));
        let text = format!("{:?}", terminal.backend());
        // down since the node went NotReady (02:33), not since the console saw it (4 s).
        assert!(text.contains("down 27m00s"), "{text}");
        assert!(text.contains("can lose 0 more"), "{text}");
        insta::assert_snapshot!(terminal.backend());
    }

    #[test]
    fn a_member_down_120x40() {
        let t0 = Instant::now();
        let app = member_down(t0);
        insta::assert_snapshot!(screen(&app, 120, 40, COLOR, t0 + Duration::from_secs(24)).backend());
    }

    #[test]
    fn quorum_lost_points_to_the_restore() {
        let t0 = Instant::now();
        let mut app = member_down(t0);
        app.on_poll(PollEvent::Sample(failed_sample(2, t0 + Duration::from_secs(21), "no answer within 5s")));
        let terminal = screen(&app, 120, 40, COLOR, t0 + Duration::from_secs(24));
        let text = format!("{:?}", terminal.backend());
        assert!(text.contains("quorum lost"), "{text}");
        assert!(text.contains("restore plan"), "{text}");
    }

    #[test]
    fn d_with_a_member_down_refuses_at_once_without_asking() {
        let t0 = Instant::now();
        let mut app = member_down(t0);
        app.on_action(Action::OpenDefrag);
        app.on_action(Action::Confirm);
        assert!(app.confirm.is_none(), "no confirmation is asked");
        assert!(app.notice.as_deref().unwrap_or("").contains("etcd-1 is down"), "{:?}", app.notice);
        let text = format!("{:?}", screen(&app, 80, 24, COLOR, t0 + Duration::from_secs(24)).backend());
        assert!(text.contains("No plan: refused: etcd-1 is down"), "{text}");
    }

    #[test]
    fn a_learner_catching_up_is_shown_with_its_progress_not_as_a_fault() {
        let t0 = Instant::now();
        let mut app = App::new("10.0.0.10:2379 +3".into(), 8 << 30, Duration::from_secs(2), t0);
        app.cluster = cluster_with_learner(3, t0, 74_000);
        app.selected = 3;
        let terminal = screen(&app, 80, 24, COLOR, t0 + Duration::from_secs(2));
        let text = format!("{:?}", terminal.backend());
        assert!(text.contains("learner 91%") && text.contains("no alerts"), "{text}");
        insta::assert_snapshot!(terminal.backend());
    }
}

/// The member-replacement wizard (`M`) on engine values: plans and runs made by the engine
/// from surveys built here, as the executor would report them.
mod member_wizard {
    use super::*;
    use crate::app::keys::Action;
    use crate::app::member::fixtures::{crashlooping, surveyed};
    use crate::app::member::{Asked, Stage};
    use crate::app::{Answer, Effect, Start, WizardKind};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use etcd_console_core::wizard::member::engine::Action as RunAction;
    use etcd_console_core::wizard::member::executor::Progress;
    use etcd_console_core::wizard::member::{MemberRun, Observed, Outcome, StepResult};

    /// etcd-1 not answering (and `down` more after it), selected.
    fn members_down(t0: Instant, down: usize) -> App {
        let mut app = app_with(3, t0);
        let at = t0 + Duration::from_secs(20);
        for i in 1..=1 + down {
            app.on_poll(PollEvent::Sample(failed_sample(
                i,
                at,
                "tcp connect error: Connection refused (os error 111)",
            )));
        }
        app.selected = 1;
        app
    }

    /// `M` on etcd-1 and the engine's plan for it, with `down` more members down.
    pub(super) fn planned(t0: Instant, down: usize) -> App {
        let mut app = members_down(t0, down);
        assert_eq!(app.on_action(Action::OpenMember), Some(Effect::PlanMember { member: "etcd-1".into() }));
        app.on_member(Progress::Run(Box::new(surveyed(crashlooping(down), true))));
        app
    }

    /// Enter on a plan that passes: the run surveyed again, about to ask.
    pub(super) fn running(t0: Instant) -> App {
        let mut app = planned(t0, 0);
        assert_eq!(app.on_action(Action::Confirm), Some(Effect::Start(Start::Member { member: "etcd-1".into() })));
        app.on_member(Progress::Run(Box::new(surveyed(crashlooping(0), false))));
        app
    }

    pub(super) fn asked_to_confirm(t0: Instant) -> App {
        let mut app = running(t0);
        let RunAction::Confirm(confirmation) = surveyed(crashlooping(0), false).next_action() else {
            panic!("no confirmation")
        };
        app.ask_member(Asked::Confirm(confirmation));
        for c in "ocp-x7k2p/etc".chars() {
            assert_eq!(app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)), None);
        }
        app
    }

    /// What each step's check saw, as the executor says it.
    fn detail(id: &str) -> String {
        match id {
            "set_aside" => "moved etcd-pod.yaml and /var/lib/etcd aside to /var/lib/etcd-backup on master-1\nno etcd manifest and no data directory left on the node".into(),
            "remove_member" => "removed etcd-1 from etcd's member list".into(),
            "quorum_guard_off" => "etcd/cluster has the override".into(),
            "delete_secrets" => "deleted etcd-peer-master-1, etcd-serving-master-1, etcd-serving-metrics-master-1".into(),
            "quorum_guard_on" => "etcd/cluster has no unsupportedConfigOverrides".into(),
            other => format!("{other} checked"),
        }
    }

    /// The run past the confirmation, every step done up to the member coming back, which waits
    /// on its learner.
    pub(super) fn mid_way(t0: Instant) -> (App, MemberRun) {
        let mut app = asked_to_confirm(t0);
        assert_eq!(
            app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
            Some(Effect::Answer(Answer::Member("ocp-x7k2p/etc".into())))
        );
        let mut run = surveyed(crashlooping(0), false);
        run.next_action();
        run.observe(Observed::Typed("ocp-x7k2p/etcd-1".into()));
        loop {
            match run.next_action() {
                RunAction::Perform { index, step, .. } if step.id == "member_back" => {
                    app.on_member(Progress::Run(Box::new(run.clone())));
                    app.on_member(Progress::Began { index, step: step.clone() });
                    app.on_member(Progress::Waiting {
                        index,
                        detail: format!(
                            "master-1 ({:x}) is a learner, catching up (applied 48210 of the leader's 79034); 2 of 3 voting members; no voting member master-1 yet",
                            0x9e4c_1b2a_7d3f_5e60_u64
                        ),
                    });
                    break;
                }
                RunAction::Perform { index, step, reason } => {
                    app.on_member(Progress::Began { index, step: step.clone() });
                    let result = match reason {
                        Some(reason) => StepResult::Forced {
                            detail: format!("forceRedeploymentReason {reason}; latestAvailableRevision 9 -> 10"),
                            revision_before: Some(9),
                        },
                        None => StepResult::Done { detail: detail(&step.id) },
                    };
                    run.observe(Observed::Performed { index, result });
                }
                other => panic!("{other:?}"),
            }
        }
        (app, run)
    }

    pub(super) fn finished(t0: Instant) -> App {
        let (mut app, mut run) = mid_way(t0);
        let index = run.steps.len() - 1;
        let detail = "3 voting members started and healthy: etcd-0, master-1, etcd-2; etcd AllNodesAtLatestRevision (3 nodes are at revision 10); 3 etcd pods Running".to_string();
        run.observe(Observed::Performed { index, result: StepResult::Done { detail } });
        assert_eq!(run.next_action(), RunAction::Finished(Outcome::Completed));
        app.on_member(Progress::Run(Box::new(run)));
        app
    }

    /// Both sizes' snapshots; the text of both screens.
    fn both(name: &str, app: &App, now: Instant) -> String {
        let narrow = screen(app, 80, 24, COLOR, now);
        insta::assert_snapshot!(format!("{name}_80x24"), narrow.backend());
        let wide = screen(app, 120, 40, COLOR, now);
        insta::assert_snapshot!(format!("{name}_120x40"), wide.backend());
        format!("{:?}\n{:?}", narrow.backend(), wide.backend())
    }

    #[test]
    fn the_plan_for_a_crashlooping_member_with_every_gate_passing() {
        let t0 = Instant::now();
        let mut app = planned(t0, 0);
        let text = both("plan_passes", &app, t0 + Duration::from_secs(21));
        for words in [
            "[ok] member_unhealthy",
            "[ok] quorum_holds",
            "[ok] node_ready",
            "CrashLoopBackOff",
            "can lose 0 more",
            "Replacing an unhealthy etcd member",
            "$ mv /var/lib/etcd /var/lib/etcd-backup/etcd-data-2",
            "steps: set_aside, remove_member (no return)",
        ] {
            assert!(text.contains(words), "{words:?} not on screen:\n{text}");
        }
        assert_eq!(app.on_action(Action::Confirm), Some(Effect::Start(Start::Member { member: "etcd-1".into() })));
    }

    #[test]
    fn two_members_down_refuse_the_plan_at_the_quorum_gate_pointing_to_the_restore() {
        let t0 = Instant::now();
        let mut app = planned(t0, 1);
        let text = both("plan_refused", &app, t0 + Duration::from_secs(21));
        assert!(text.contains("[NO] quorum_holds") && text.contains("restore plan --backup DIR"), "{text}");
        assert_eq!(app.on_action(Action::Confirm), None, "Enter starts nothing");
        assert!(app.notice.as_deref().unwrap_or("").contains("gate quorum_holds does not pass"), "{:?}", app.notice);
        assert_eq!(app.member.as_ref().map(|w| w.stage), Some(Stage::Planning));
    }

    #[test]
    fn the_typed_confirmation_names_the_cluster_and_the_member() {
        let t0 = Instant::now();
        let mut app = asked_to_confirm(t0);
        let text = both("confirmation", &app, t0 + Duration::from_secs(21));
        assert!(text.contains("type ocp-x7k2p/etcd-1"), "{text}");
        assert_eq!(
            app.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
            Some(Effect::Answer(Answer::Member(String::new())))
        );
    }

    #[test]
    fn a_run_mid_way_shows_the_step_waiting_on_the_learner() {
        let t0 = Instant::now();
        let (mut app, _) = mid_way(t0);
        let text = both("running", &app, t0 + Duration::from_secs(21));
        assert!(text.contains("is a learner, catching up"), "{text}");
        assert_eq!(app.on_action(Action::Stop), Some(Effect::Stop(WizardKind::Member)));
    }

    #[test]
    fn a_finished_run_says_so_on_the_wizard_and_in_the_notice() {
        let t0 = Instant::now();
        let app = finished(t0);
        both("finished", &app, t0 + Duration::from_secs(21));
        assert!(app.notice.as_deref().unwrap_or("").contains("replaced"), "{:?}", app.notice);
    }
}

/// The space view (`s`): a live reading, ranked, with what grew; and while it reads.
mod space_view {
    use super::*;
    use crate::app::keys::Action;
    use crate::app::space::SpaceProgress;
    use crate::app::{Effect, Start, WizardKind};
    use etcd_console_core::space::{Change, Group, NamespaceShare, Previous, Reading, Source};

    fn group(resource: &str, prefix: &str, keys: u64, bytes: u64, before: Option<u64>) -> Group {
        Group {
            prefix: prefix.into(),
            resource: resource.into(),
            keys,
            bytes,
            history_bytes: None,
            sampled: keys.min(8),
            namespaces: Vec::new(),
            other_namespaces_keys: None,
            change: before.map(|b| Change {
                keys_before: b,
                bytes_before: bytes * b / keys.max(1),
                keys_percent: Some((keys as f64 - b as f64) * 100.0 / b as f64),
                bytes_percent: None,
            }),
        }
    }

    pub(super) fn reading() -> Reading {
        let mut events = group("events", "/kubernetes.io/events/", 41_200, 43 << 20, Some(29_400));
        events.namespaces = vec![
            NamespaceShare { namespace: "noisy-app".into(), keys: 38_000, bytes: 40 << 20 },
            NamespaceShare { namespace: "openshift-etcd".into(), keys: 3_200, bytes: 3 << 20 },
        ];
        let widgets = group(
            "widgets.example.com/widgets",
            "/kubernetes.io/widgets.example.com/widgets/",
            400,
            (1 << 20) + (600 << 10),
            Some(400),
        );
        let secrets = group("secrets", "/kubernetes.io/secrets/", 2_310, 9 << 20, Some(2_300));
        let cm = group("configmaps", "/kubernetes.io/configmaps/", 1_900, 6 << 20, Some(1_900));
        let resources = vec![events, secrets, cm, widgets];
        Reading {
            cluster_id: "8139e09c54b1f100".into(),
            source: Source::Member {
                member: "etcd-1".into(),
                member_id: "3ad5a99d29d861ee".into(),
                leader: false,
                db_size: 96 << 20,
                db_size_in_use: 71 << 20,
            },
            taken_at: "2026-12-07T03:10:00Z".into(),
            revision: 1_204_330,
            estimated: true,
            total_keys: 45_810,
            bytes: resources.iter().map(|g| g.bytes).sum(),
            history_bytes: None,
            resources,
            requests: 214,
            sampled: 1_180,
            sampled_bytes: 1_310 << 10,
            duration_seconds: 4.3,
            partial: None,
            previous: Some(Previous {
                taken_at: "2026-12-07T03:00:00Z".into(),
                since_seconds: 600,
                revision: 1_100_000,
                total_keys: 33_000,
                bytes: 60 << 20,
            }),
        }
    }

    pub(super) fn opened(t0: Instant) -> App {
        let mut app = app_with(3, t0);
        assert_eq!(app.on_action(Action::OpenSpace), Some(Effect::Start(Start::Space { from_backup: false })));
        assert_eq!(app.open_wizard(), Some(WizardKind::Space));
        app
    }

    pub(super) fn read(t0: Instant) -> App {
        let mut app = opened(t0);
        app.on_space(SpaceProgress::Done(Box::new(reading())));
        app
    }

    #[test]
    fn a_reading_ranks_what_fills_etcd_and_says_what_grew_at_80x24() {
        let t0 = Instant::now();
        let app = read(t0);
        insta::assert_snapshot!(screen(&app, 80, 24, COLOR, t0 + Duration::from_secs(21)).backend());
    }

    #[test]
    fn wide_it_shows_the_prefixes_and_the_selected_resources_namespaces() {
        let t0 = Instant::now();
        let mut app = read(t0);
        let text = format!("{:?}", screen(&app, 132, 36, COLOR, t0 + Duration::from_secs(21)).backend());
        assert!(text.contains("events  /kubernetes.io/events/"), "{text}");
        assert!(text.contains("events: noisy-app 38000 keys ~40.0 MiB"), "{text}");
        assert!(text.contains("in 10m00s: events +40 % (+11800 keys, ~12.3 MiB)"), "{text}");
        // ↓ selects the next resource: its namespaces (none walked) are said.
        app.on_action(Action::SelectNext);
        let text = format!("{:?}", screen(&app, 132, 36, COLOR, t0 + Duration::from_secs(21)).backend());
        assert!(text.contains("secrets: namespaces not walked"), "{text}");
    }

    #[test]
    fn while_reading_r_waits_x_stops_and_esc_hides_it_going_on() {
        let t0 = Instant::now();
        let mut app = opened(t0);
        let text = format!("{:?}", screen(&app, 100, 30, COLOR, t0).backend());
        assert!(text.contains("finding a healthy follower"), "{text}");
        assert_eq!(app.on_action(Action::RefreshNow), None, "one reading at a time");
        assert!(app.notice.as_deref().unwrap_or("").contains("x stops it"));
        assert_eq!(app.on_action(Action::Stop), Some(Effect::Stop(WizardKind::Space)));
        app.on_action(Action::CloseOverlay);
        assert_eq!(app.open_wizard(), None);
        assert!(app.space.is_some(), "the reading goes on, hidden");
        assert_eq!(app.on_action(Action::OpenSpace), None, "s shows it again without a second reading");
        // Done: r reads again, b counts the last backup, Esc closes.
        app.on_space(SpaceProgress::Done(Box::new(reading())));
        assert_eq!(app.on_action(Action::RefreshNow), Some(Effect::Start(Start::Space { from_backup: false })));
        app.on_space(SpaceProgress::Failed("no member is healthy: nothing to read from".into()));
        let text = format!("{:?}", screen(&app, 100, 30, COLOR, t0).backend());
        assert!(text.contains("the new reading failed: no member is healthy"), "the last reading stays: {text}");
        assert_eq!(app.on_action(Action::OpenBackup), Some(Effect::Start(Start::Space { from_backup: true })));
        app.on_space(SpaceProgress::Done(Box::new(reading())));
        app.on_action(Action::CloseOverlay);
        assert!(app.space.is_none());
    }
}

/// At 80x24: the help fits and scrolls to its end, the footer keeps the view's keys whole.
mod fits {
    use super::*;
    use crate::app::keys::Action;
    use crate::app::View;
    use etcd_console_core::openshift::csr::CsrClass;
    use etcd_console_core::openshift::watch::OpenShiftEvent;

    fn rows(terminal: &Terminal<TestBackend>) -> Vec<String> {
        let buffer = terminal.backend().buffer();
        let area = buffer.area;
        (0..area.height).map(|y| (0..area.width).map(|x| buffer[(x, y)].symbol().to_string()).collect()).collect()
    }

    fn help_at_80x24(t0: Instant) -> App {
        let mut app = app_with(3, t0);
        app.on_resize(80, 24);
        app.on_action(Action::ToggleHelp);
        app
    }

    #[test]
    fn the_help_at_80x24_fits_with_where_it_is_at_the_bottom() {
        let t0 = Instant::now();
        let app = help_at_80x24(t0);
        let terminal = screen(&app, 80, 24, COLOR, t0 + Duration::from_secs(21));
        let rows = rows(&terminal);
        assert!(rows[1].contains("Help: keys") && rows[22].contains("1–20 of"), "{rows:#?}");
        // Both borders are on screen: nothing is cut at the sides.
        assert!(rows[2].starts_with('│') && rows[2].ends_with('│'), "{rows:#?}");
        insta::assert_snapshot!(terminal.backend());
    }

    #[test]
    fn the_help_at_80x24_scrolled_to_its_end_shows_its_last_line() {
        let t0 = Instant::now();
        let mut app = help_at_80x24(t0);
        app.on_action(Action::SelectLast);
        let terminal = screen(&app, 80, 24, COLOR, t0 + Duration::from_secs(21));
        let rows = rows(&terminal);
        assert!(rows[21].contains("answered."), "the last line is the last row: {rows:#?}");
        insta::assert_snapshot!(terminal.backend());
        // Down at the end stays there; PgDn from the top reaches the same end in pages.
        let end = app.help_scroll;
        app.on_action(Action::SelectNext);
        assert_eq!(app.help_scroll, end, "not scrolled past the end");
        app.on_action(Action::SelectFirst);
        assert_eq!(app.help_scroll, 0);
        app.on_action(Action::PageDown);
        assert_eq!(app.help_scroll, 20.min(end));
        for _ in 0..5 {
            app.on_action(Action::PageDown);
        }
        assert_eq!(app.help_scroll, end);
        app.on_action(Action::PageUp);
        app.on_action(Action::SelectPrevious);
        assert_eq!(app.help_scroll, end.saturating_sub(21));
        // Closed and opened again, it starts at its top.
        app.on_action(Action::CloseOverlay);
        app.on_action(Action::ToggleHelp);
        assert_eq!(app.help_scroll, 0);
    }

    #[test]
    fn the_footer_at_80_columns_in_the_members_view_keeps_its_keys_whole() {
        let t0 = Instant::now();
        let app = app_with(3, t0);
        let terminal = screen(&app, 80, 24, COLOR, t0 + Duration::from_secs(21));
        let footer = rows(&terminal)[23].trim_end().to_string();
        assert!(footer.starts_with(" q  quit   Tab  view   ↑↓  select   t  timeline   d  defrag"), "{footer}");
        assert!(footer.ends_with("?  more"), "{footer}");
        insta::assert_snapshot!(terminal.backend());
    }

    #[test]
    fn the_footer_at_80_columns_in_the_csr_view_keeps_approve_deny_and_filter() {
        let t0 = Instant::now();
        let mut app = app_with(3, t0);
        app.view = View::Csrs;
        app.openshift.on_event(OpenShiftEvent::Connected { server: "https://api.ocp.example.com:6443".into() });
        let pending = vec![
            openshift_views::csr("csr-4hl85", CsrClass::NodeBootstrapper, "master-1", 13),
            openshift_views::csr("csr-2s94x", CsrClass::KubeletServing, "worker-1", 8),
        ];
        app.openshift.on_event(OpenShiftEvent::Csrs { pending, at: t0 + Duration::from_secs(20) });
        // The filter being typed shows its cursor in the list's title.
        app.on_action(Action::FilterCsrs);
        for c in "worker-1 x".chars() {
            app.on_key(crossterm::event::KeyEvent::new(
                crossterm::event::KeyCode::Char(c),
                crossterm::event::KeyModifiers::NONE,
            ));
        }
        app.on_key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char('w'),
            crossterm::event::KeyModifiers::CONTROL,
        ));
        let terminal = screen(&app, 80, 24, COLOR, t0 + Duration::from_secs(21));
        let rows = rows(&terminal);
        let footer = rows[23].trim_end();
        for key in ["A  approve", "V  all valid", "D  deny", "/  filter"] {
            assert!(footer.contains(key), "{key} in {footer}");
        }
        assert!(footer.ends_with("?  more"), "{footer}");
        assert!(!footer.contains("b  backup"), "backup gives way to the CSR keys: {footer}");
        assert!(rows[8].contains("/worker-1 ") && rows[8].contains("(1 of 2)"), "{rows:#?}");
        insta::assert_snapshot!(terminal.backend());
    }
}
