//! The restore procedures as lists of steps: the runbook's order, each step
//! with where it runs, what it does, how it is checked, and whether it is the
//! point of no return. The lists are made from what the cluster is (its
//! hosts, workers, network, machines), so a plan shows only what applies.

use serde::{Deserialize, Serialize};

/// Where a step runs, as the runbooks tag it (§0.2, §9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// The Kubernetes/OpenShift API, from the bastion.
    Api,
    /// etcd's own API (read only: the restore never writes to etcd itself).
    Etcd,
    /// A shell on a control-plane host (ssh, or the lab's hosts).
    Host,
    /// Something only a person can do or judge.
    Person,
}

impl Place {
    pub fn as_str(&self) -> &'static str {
        match self {
            Place::Api => "api",
            Place::Etcd => "etcd",
            Place::Host => "host",
            Place::Person => "person",
        }
    }
}

/// The static-pod operators rolled out again after a restore (§3.9 steps 18-21).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operator {
    Etcd,
    KubeApiServer,
    KubeControllerManager,
    KubeScheduler,
}

impl Operator {
    /// The resource's plural in operator.openshift.io/v1 (its object is named `cluster`).
    pub fn plural(self) -> &'static str {
        match self {
            Operator::Etcd => "etcds",
            Operator::KubeApiServer => "kubeapiservers",
            Operator::KubeControllerManager => "kubecontrollermanagers",
            Operator::KubeScheduler => "kubeschedulers",
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Operator::Etcd => "Etcd",
            Operator::KubeApiServer => "KubeAPIServer",
            Operator::KubeControllerManager => "KubeControllerManager",
            Operator::KubeScheduler => "KubeScheduler",
        }
    }

    /// The name `oc` uses for it.
    pub fn short(self) -> &'static str {
        match self {
            Operator::Etcd => "etcd",
            Operator::KubeApiServer => "kubeapiserver",
            Operator::KubeControllerManager => "kubecontrollermanager",
            Operator::KubeScheduler => "kubescheduler",
        }
    }
}

/// What a step does. Host commands are the runbook's text, sent as is over
/// ssh (or to the lab's host) and shown for copying with `--manual-hosts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Act {
    /// Nothing to do: the step is its check.
    Nothing,
    Host {
        node: String,
        command: String,
    },
    /// `scp -r` of the backup directory to the recovery host.
    CopyBackup {
        node: String,
        to: String,
    },
    /// Reboot a host: the command, then its etcd member seen going away (the check sees it back).
    Reboot {
        node: String,
        command: String,
    },
    /// Run on each node the check of an earlier step found NotReady (step 9a).
    HostOnNotReady {
        command: String,
    },
    /// Run on each worker step 9a touched (the nodes it was given that are not control-plane hosts):
    /// step 10w, their kubelets restarted as step 10 restarts the control plane's.
    HostOnTouchedWorkers {
        command: String,
    },
    QuorumGuard {
        off: bool,
    },
    /// `spec.forceRedeploymentReason` = `recovery-<RFC 3339 ns>`; the reason is chosen when the step starts.
    ForceRedeployment {
        operator: Operator,
    },
    /// Approve the Pending CSRs the console can validate (node-bootstrapper and kubelet-serving of known nodes).
    ApproveCsrs,
    DeletePods {
        namespace: String,
        selector: String,
        node: Option<String>,
    },
    /// Delete a lost control-plane host's Machine; the engine refuses the recovery host's.
    DeleteMachine {
        name: String,
        node: String,
    },
    /// Set the webhooks that would reject pods to `failurePolicy: Ignore`, or back to `Fail`.
    WebhooksFailurePolicy {
        to_ignore: bool,
    },
    /// Hosted: `spec.pausedUntil` of the HostedCluster ("true" pauses, "" resumes).
    PauseReconciliation {
        paused: bool,
    },
    /// Hosted: `spec.replicas` of a Deployment or StatefulSet in the control-plane namespace.
    Scale {
        kind: String,
        name: String,
        replicas: i32,
    },
    /// Hosted: a helper Deployment (the runbook's `etcd-data`) whose one pod mounts a member's claim at `/var/lib`.
    CreateDataPod {
        deployment: String,
        claim: String,
        image: String,
    },
    /// Hosted: the snapshot streamed into a data pod (`oc cp`), its SHA-256 compared there.
    CopySnapshot {
        deployment: String,
        to: String,
    },
    /// Hosted: commands run in a data pod one after the other (`oc exec`), each to exit 0.
    PodExec {
        deployment: String,
        commands: Vec<Vec<String>>,
    },
    /// Hosted: in a data pod, the member's current data moved aside (`mv FROM TO`), kept on its claim and
    /// checked there; nothing to do when the claim holds no data, or when TO is there already (done before).
    SetAside {
        deployment: String,
        from: String,
        to: String,
    },
    /// Hosted: delete a Deployment (and so its pods).
    DeleteDeployment {
        name: String,
    },
    Person {
        instruction: String,
    },
}

/// How a step is known to have worked. The executor polls a check until it
/// holds or `limit_seconds` pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Check {
    /// The act's own answer is the check (exit 0, a 2xx).
    Answer,
    /// The command prints nothing (e.g. `crictl ps | grep etcd` once the pod has stopped).
    HostPrintsNothing {
        node: String,
        command: String,
    },
    /// The command prints something (e.g. the one etcd container on the recovery host).
    HostPrintsSomething {
        node: String,
        command: String,
    },
    /// etcd answers with exactly this many started members, all healthy.
    EtcdMembers {
        count: usize,
    },
    NodesReady,
    /// Each worker step 9a touched is Ready, or its kubelet asks for a client certificate again (a
    /// node-bootstrapper CSR of it is pending, for step 11): the kubelet came back from its restart.
    WorkersBootstrapping,
    NoValidPendingCsrs,
    /// `count` pods matching the selector (on `node`, if given) Running and ready.
    PodsRunning {
        namespace: String,
        selector: String,
        node: Option<String>,
        count: Option<usize>,
    },
    /// A new Machine for the lost host's role is Running.
    MachineReplaced {
        name: String,
    },
    QuorumGuardOff {
        off: bool,
    },
    AllNodesAtLatestRevision {
        operator: Operator,
    },
    NoFailWebhooks,
    /// These webhooks (`<kind>/<name>[<index>]`, as surveyed) have this failurePolicy, or are gone:
    /// what the step patched, not every webhook there is (others are only named).
    FailurePolicy {
        webhooks: Vec<String>,
        policy: String,
    },
    /// The API answers with the certificate-based kubeconfig (`oc whoami`).
    ApiAnswers,
    /// Hosted: the HostedCluster's `spec.pausedUntil`.
    Paused {
        paused: bool,
    },
    /// Hosted: the workload has this many replicas, and no more pods.
    Replicas {
        kind: String,
        name: String,
        replicas: i32,
    },
    /// Hosted: no pod matches the selector any more.
    NoPods {
        namespace: String,
        selector: String,
    },
    /// Hosted: `count` members healthy, and every one at the same revision with the same
    /// key-value hash (no member kept other data than the restored one).
    MembersAgree {
        count: usize,
    },
    /// The person says it is done.
    PersonConfirms,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The runbook's step number (e.g. "4.1"), with the host when the step repeats per host.
    pub id: String,
    pub title: String,
    pub place: Place,
    /// The node it concerns (host steps and per-node API steps).
    pub node: Option<String>,
    pub act: Act,
    pub check: Check,
    /// How long the check may take before the step fails (the runbooks' "wait a few minutes").
    pub limit_seconds: u64,
    /// The first step that changes the cluster beyond undoing: the gates must pass before it.
    pub point_of_no_return: bool,
    /// What the person sees: the exact command(s), for copying with --manual-hosts.
    pub shown: Vec<String>,
    /// Whether an interrupted run may do it again after its re-check finds it not done.
    #[serde(default = "yes")]
    pub redo_safe: bool,
}

fn yes() -> bool {
    true
}

/// What a standalone plan is made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Layout {
    pub recovery_host: String,
    /// Every control-plane host, recovery host included, in the order the cluster lists them.
    pub control_plane: Vec<String>,
    /// Control-plane hosts declared lost: no ssh steps; their Machine is deleted and made again.
    pub lost: Vec<(String, Option<String>)>,
    pub workers: Vec<String>,
    pub ovn: bool,
    /// Webhooks with `failurePolicy: Fail` (kind/name).
    pub fail_webhooks: Vec<String>,
    /// Where the backup directory goes on the recovery host.
    pub remote_backup_dir: String,
    /// The backup directory here, on the bastion.
    pub backup_dir: String,
    /// The chosen backup's files in it (the directory may hold several backups): only they are copied.
    #[serde(default)]
    pub backup_files: Vec<String>,
    /// keepalived's API VIPs (on-premises platforms): step 6 checks the recovery host holds one.
    #[serde(default)]
    pub api_vips: Vec<String>,
    /// A cluster-wide proxy (step 7): its variables, which the Machine Config Operator keeps in
    /// `/etc/mco/proxy.env` on every node, are exported for the restore script.
    #[serde(default)]
    pub proxy: bool,
}

const MANIFESTS: &[(&str, &str)] = &[
    ("etcd-pod.yaml", "etcd"),
    ("kube-apiserver-pod.yaml", "kube-apiserver"),
    ("kube-controller-manager-pod.yaml", "kube-controller-manager"),
    ("kube-scheduler-pod.yaml", "kube-scheduler"),
];

const MINUTE: u64 = 60;
/// The restore script every OpenShift control-plane host has.
pub const RESTORE_SCRIPT: &str = "/usr/local/bin/cluster-restore.sh";
/// Where the Machine Config Operator keeps the cluster-wide proxy's variables on each node.
pub const PROXY_ENV: &str = "/etc/mco/proxy.env";

fn step(id: impl Into<String>, title: impl Into<String>, place: Place, act: Act, check: Check) -> Step {
    let shown = match &act {
        Act::Host { command, .. } | Act::HostOnNotReady { command } | Act::HostOnTouchedWorkers { command } => {
            vec![command.clone()]
        }
        _ => Vec::new(),
    };
    Step {
        id: id.into(),
        title: title.into(),
        place,
        node: None,
        act,
        check,
        limit_seconds: MINUTE,
        point_of_no_return: false,
        shown,
        redo_safe: true,
    }
}

fn on(mut step: Step, node: &str) -> Step {
    step.node = Some(node.to_string());
    step
}

fn within(mut step: Step, seconds: u64) -> Step {
    step.limit_seconds = seconds;
    step
}

fn showing(mut step: Step, shown: Vec<String>) -> Step {
    step.shown = shown;
    step
}

/// The `crictl` check the runbook runs after moving a manifest: prints nothing once the pod is gone.
pub fn crictl_check(container: &str) -> String {
    let exclude = if container == "etcd" { "operator|etcd-guard" } else { "operator|guard" };
    format!("sudo crictl ps | grep {container} | egrep -v \"{exclude}\"")
}

fn host(node: &str, id: &str, title: &str, command: &str) -> Step {
    on(
        step(id, title, Place::Host, Act::Host { node: node.to_string(), command: command.to_string() }, Check::Answer),
        node,
    )
}

fn host_check(node: &str, id: &str, title: &str, check: Check, command: &str, minutes: u64) -> Step {
    let mut s = within(on(step(id, title, Place::Host, Act::Nothing, check), node), minutes * MINUTE);
    s.shown = vec![command.to_string()];
    s
}

fn api(id: &str, title: &str, act: Act, check: Check, minutes: u64) -> Step {
    within(step(id, title, Place::Api, act, check), minutes * MINUTE)
}

/// Standalone OpenShift 4.x, the modern long form (§3.9), trimmed to what applies.
pub fn standalone(layout: &Layout) -> Vec<Step> {
    let recovery = layout.recovery_host.as_str();
    let lost: Vec<&str> = layout.lost.iter().map(|(node, _)| node.as_str()).collect();
    let others: Vec<&str> =
        layout.control_plane.iter().map(String::as_str).filter(|n| *n != recovery && !lost.contains(n)).collect();
    let mut steps = Vec::new();

    if !layout.fail_webhooks.is_empty() {
        steps.push(api(
            "0",
            format!("set failurePolicy Ignore on {} (back to Fail at the end)", layout.fail_webhooks.join(", "))
                .as_str(),
            Act::WebhooksFailurePolicy { to_ignore: true },
            Check::NoFailWebhooks,
            1,
        ));
    }
    let remote = layout.remote_backup_dir.as_str();
    steps.push(showing(
        on(
            step(
                "3",
                format!("copy the backup to {recovery}:{remote}"),
                Place::Host,
                Act::CopyBackup { node: recovery.to_string(), to: remote.to_string() },
                Check::Answer,
            ),
            recovery,
        ),
        vec![if layout.backup_files.is_empty() {
            format!("scp -r {}/* core@{recovery}:{remote}/", layout.backup_dir.trim_end_matches('/'))
        } else {
            let dir = layout.backup_dir.trim_end_matches('/');
            let files: Vec<String> = layout.backup_files.iter().map(|f| format!("{dir}/{f}")).collect();
            // -p keeps the 0600 of the static resources (they hold the encryption configuration).
            format!("scp -p {} core@{recovery}:{remote}/", files.join(" "))
        }],
    ));

    if let Some(copy) = steps.last_mut() {
        copy.limit_seconds = 30 * MINUTE;
    }
    if layout.proxy {
        // Known before the point of no return, not when the script needs it.
        steps.push(host(
            recovery,
            "7",
            &format!("the cluster-wide proxy's variables are on {recovery} ({PROXY_ENV}) for the restore script"),
            &format!("sudo test -r {PROXY_ENV}"),
        ));
    }
    for node in &others {
        for (n, (manifest, container)) in MANIFESTS.iter().enumerate() {
            let number = 4 + 2 * n;
            let mut moved = host(
                node,
                &format!("4.{}@{node}", number - 3),
                &format!("stop {container} on {node}"),
                &format!("sudo mv -v /etc/kubernetes/manifests/{manifest} /tmp"),
            );
            moved.point_of_no_return = steps.iter().all(|s: &Step| !s.point_of_no_return);
            steps.push(moved);
            let check = crictl_check(container);
            steps.push(host_check(
                node,
                &format!("4.{}@{node}", number - 2),
                &format!("{container} stopped on {node}"),
                Check::HostPrintsNothing { node: node.to_string(), command: check.clone() },
                &check,
                5,
            ));
        }
        steps.push(host(
            node,
            &format!("4.9@{node}"),
            &format!("move etcd's data aside on {node}"),
            "sudo mv -v /var/lib/etcd/ /tmp",
        ));
    }

    if !layout.api_vips.is_empty() {
        let pattern = layout.api_vips.iter().map(|v| v.replace('.', "\\.")).collect::<Vec<_>>().join("|");
        let command = format!("ip -o address | egrep 'inet6? ({pattern})/'");
        steps.push(host_check(
            recovery,
            "6",
            &format!("keepalived: the API VIP is on {recovery}"),
            Check::HostPrintsSomething { node: recovery.to_string(), command: command.clone() },
            &command,
            2,
        ));
    }
    // Step 7: with a cluster-wide proxy the script needs its variables; read on the host from the
    // file the MCO keeps, so that no proxy credential is in a command, the journal or the log.
    let script = if layout.proxy {
        format!("sudo -E sh -c 'set -a; . {PROXY_ENV}; set +a; exec {RESTORE_SCRIPT} {remote}'")
    } else {
        format!("sudo -E {RESTORE_SCRIPT} {remote}")
    };
    let mut restore = within(host(recovery, "8", &format!("restore the snapshot on {recovery}"), &script), 15 * MINUTE);
    // Run twice, the script would move the restored data aside as "the previous backup".
    restore.redo_safe = false;
    steps.push(restore);
    steps.push(within(
        step(
            "8v",
            "etcd runs one member, the restored one",
            Place::Etcd,
            Act::Nothing,
            Check::EtcdMembers { count: 1 },
        ),
        5 * MINUTE,
    ));
    steps.push(api("9", "every node Ready", Act::Nothing, Check::NodesReady, 10));
    steps.push(within(
        step(
            "9a",
            "on each node still NotReady: delete the kubelet's PEM files",
            Place::Host,
            // As root, so the glob expands with root's rights (the kubelet's pki is not readable by core).
            Act::HostOnNotReady { command: "sudo sh -c 'rm -f /var/lib/kubelet/pki/*.pem'".into() },
            Check::Answer,
        ),
        MINUTE,
    ));
    for node in std::iter::once(recovery).chain(others.iter().copied()) {
        steps.push(host(
            node,
            &format!("10@{node}"),
            &format!("restart the kubelet on {node}"),
            "sudo systemctl restart kubelet.service",
        ));
    }
    if !layout.workers.is_empty() {
        // 9a may have deleted the PEM files of workers too: without a restart their kubelets never
        // ask for new certificates, and step 11 would wait for nodes that cannot come back.
        steps.push(within(
            step(
                "10w",
                "restart the kubelet on each worker step 9a touched",
                Place::Host,
                Act::HostOnTouchedWorkers { command: "sudo systemctl restart kubelet.service".into() },
                Check::WorkersBootstrapping,
            ),
            5 * MINUTE,
        ));
        steps.push(api(
            "11",
            "approve the pending CSRs that are valid",
            Act::ApproveCsrs,
            Check::NoValidPendingCsrs,
            10,
        ));
    }
    let one_etcd = crictl_check("etcd");
    steps.push(host_check(
        recovery,
        "12.1",
        &format!("one etcd container runs on {recovery}"),
        Check::HostPrintsSomething { node: recovery.to_string(), command: one_etcd.clone() },
        &one_etcd,
        5,
    ));
    steps.push(api(
        "12.2",
        "one etcd pod Running",
        Act::Nothing,
        Check::PodsRunning {
            namespace: "openshift-etcd".into(),
            selector: "k8s-app=etcd".into(),
            node: None,
            count: Some(1),
        },
        10,
    ));
    if !layout.fail_webhooks.is_empty() {
        // The webhook configurations are in etcd: the restore brought back the backup's.
        steps.push(api(
            "12.3",
            "webhooks back from the backup: failurePolicy Ignore again",
            Act::WebhooksFailurePolicy { to_ignore: true },
            Check::FailurePolicy { webhooks: layout.fail_webhooks.clone(), policy: "Ignore".into() },
            1,
        ));
    }
    if layout.ovn {
        let ns = "openshift-ovn-kubernetes".to_string();
        steps.push(api(
            "13",
            "restart the ovnkube-control-plane pods",
            Act::DeletePods { namespace: ns.clone(), selector: "app=ovnkube-control-plane".into(), node: None },
            Check::PodsRunning {
                namespace: ns.clone(),
                selector: "app=ovnkube-control-plane".into(),
                node: None,
                count: None,
            },
            10,
        ));
        // One node at a time: the recovery host, the other control-plane hosts, then the rest.
        let order = std::iter::once(recovery)
            .chain(others.iter().copied())
            .map(|n| (n, true))
            .chain(layout.workers.iter().map(|n| (n.as_str(), false)));
        for (node, control_plane) in order {
            if control_plane {
                steps.push(host(
                    node,
                    &format!("14.1@{node}"),
                    &format!("delete the OVN databases on {node}"),
                    "sudo sh -c 'rm -f /var/lib/ovn-ic/etc/*.db'",
                ));
                steps.push(host(
                    node,
                    &format!("14.2@{node}"),
                    &format!("restart Open vSwitch on {node}"),
                    "sudo systemctl restart ovs-vswitchd ovsdb-server",
                ));
            }
            steps.push(on(
                api(
                    &format!("14.3@{node}"),
                    &format!("restart the ovnkube-node pod on {node}"),
                    Act::DeletePods {
                        namespace: ns.clone(),
                        selector: "app=ovnkube-node".into(),
                        node: Some(node.to_string()),
                    },
                    Check::PodsRunning {
                        namespace: ns.clone(),
                        selector: "app=ovnkube-node".into(),
                        node: Some(node.to_string()),
                        count: Some(1),
                    },
                    10,
                ),
                node,
            ));
        }
    }
    for (node, machine) in &layout.lost {
        match machine {
            Some(machine) => {
                steps.push(on(
                    api(
                        &format!("15@{node}"),
                        &format!("delete the lost host's Machine {machine}; a new one is made"),
                        Act::DeleteMachine { name: machine.clone(), node: node.clone() },
                        Check::MachineReplaced { name: machine.clone() },
                        30,
                    ),
                    node,
                ));
            }
            None => steps.push(on(
                step(
                    format!("15@{node}"),
                    format!("make {node} again the way it was installed (no Machine: UPI or bare metal)"),
                    Place::Person,
                    Act::Person {
                        instruction: format!(
                            "recreate the control-plane host {node} as it was installed, then confirm"
                        ),
                    },
                    Check::PersonConfirms,
                ),
                node,
            )),
        }
    }
    steps.push(api("16", "quorum guard off", Act::QuorumGuard { off: true }, Check::QuorumGuardOff { off: true }, 1));
    let redeploy = |id: &str, operator: Operator, minutes: u64| {
        [
            api(
                id,
                &format!("force a new {} rollout", operator.short()),
                Act::ForceRedeployment { operator },
                Check::Answer,
                1,
            ),
            api(
                &format!("{id}v"),
                &format!("{} AllNodesAtLatestRevision", operator.short()),
                Act::Nothing,
                Check::AllNodesAtLatestRevision { operator },
                minutes,
            ),
        ]
    };
    let [etcd_patch, etcd_wait] = redeploy("18", Operator::Etcd, 60);
    steps.push(etcd_patch);
    steps.push(api(
        "19",
        "quorum guard back on",
        Act::QuorumGuard { off: false },
        Check::QuorumGuardOff { off: false },
        1,
    ));
    steps.push(etcd_wait);
    for (id, operator) in [
        ("21.1", Operator::KubeApiServer),
        ("21.3", Operator::KubeControllerManager),
        ("21.5", Operator::KubeScheduler),
    ] {
        steps.extend(redeploy(id, operator, 60));
    }
    let count = layout.control_plane.len();
    steps.push(within(
        step(
            "22",
            format!("{count} etcd members started and healthy"),
            Place::Etcd,
            Act::Nothing,
            Check::EtcdMembers { count },
        ),
        30 * MINUTE,
    ));
    steps.push(api(
        "22v",
        format!("{count} etcd pods Running").as_str(),
        Act::Nothing,
        Check::PodsRunning {
            namespace: "openshift-etcd".into(),
            selector: "k8s-app=etcd".into(),
            node: None,
            count: Some(count),
        },
        10,
    ));
    if !layout.fail_webhooks.is_empty() {
        steps.push(api(
            "0b",
            format!("set failurePolicy back to Fail on {}", layout.fail_webhooks.join(", ")).as_str(),
            Act::WebhooksFailurePolicy { to_ignore: false },
            Check::FailurePolicy { webhooks: layout.fail_webhooks.clone(), policy: "Fail".into() },
            1,
        ));
    }
    // The runbook gives no command or order: one host at a time, the recovery host last, each back
    // (its etcd member healthy again, all members answering) before the next.
    for node in others.iter().copied().chain(std::iter::once(recovery)) {
        let mut reboot = within(
            on(
                step(
                    format!("23@{node}"),
                    format!("reboot {node} and wait until it is back"),
                    Place::Host,
                    Act::Reboot { node: node.to_string(), command: "sudo systemctl reboot".into() },
                    Check::EtcdMembers { count },
                ),
                node,
            ),
            20 * MINUTE,
        );
        reboot.shown = vec!["sudo systemctl reboot".into()];
        steps.push(reboot);
    }
    steps.push(api("24", "the API answers with the certificate-based kubeconfig", Act::Nothing, Check::ApiAnswers, 10));
    steps
}

/// What a hosted plan is made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HostedLayout {
    pub namespace: String,
    pub name: String,
    /// `<namespace>-<name>`.
    pub control_plane_namespace: String,
    /// The etcd StatefulSet's image: the data pods run it (it has `etcdutl`).
    pub etcd_image: String,
    /// The members' `--initial-cluster-token`.
    pub token: String,
    /// Each replica's member (name, peer URL), replica 0 first: replica N's claim is `data-etcd-N`.
    pub members: Vec<(String, String)>,
    /// The etcd-writers' replicas before the restore.
    #[serde(default)]
    pub writers: Vec<(String, i32)>,
    /// When the plan was made (`YYYY-MM-DD_HHMMSS`): each member's data is set aside as
    /// `/var/lib/data.before-restore-<it>` on its claim.
    #[serde(default)]
    pub planned_at: String,
}

/// The etcd-writers the hosted procedure stops first and starts last.
pub const WRITERS: &[&str] = &["kube-apiserver", "openshift-apiserver", "openshift-oauth-apiserver"];
/// Where the snapshot is copied in a data pod, and the member's data directory there (its claim is at /var/lib).
pub const POD_SNAPSHOT: &str = "/var/lib/restored.snap.db";
pub const POD_DATA_DIR: &str = "/var/lib/data";

/// The runbook's helper Deployment for replica `index`'s claim: `etcd-data` for member 0, `etcd-data-N` after.
pub fn data_deployment(index: usize) -> String {
    if index == 0 {
        "etcd-data".into()
    } else {
        format!("etcd-data-{index}")
    }
}

impl HostedLayout {
    /// Where each member's data goes before the restore replaces it, on its own claim.
    pub fn set_aside_dir(&self) -> String {
        let at = if self.planned_at.is_empty() { "restore" } else { self.planned_at.as_str() };
        format!("{POD_DATA_DIR}.before-restore-{at}")
    }

    /// `name=peer-url,...` of every member, as the restored data will know them.
    pub fn initial_cluster(&self) -> String {
        self.members.iter().map(|(n, u)| format!("{n}={u}")).collect::<Vec<_>>().join(",")
    }

    /// The `etcdutl snapshot restore` a data pod runs for member `index` (§5.3 step 3), as argv.
    pub fn restore_command(&self, index: usize) -> Vec<String> {
        let (name, peer) = self.members.get(index).cloned().unwrap_or_default();
        [
            "etcdutl",
            "snapshot",
            "restore",
            POD_SNAPSHOT,
            &format!("--data-dir={POD_DATA_DIR}"),
            "--skip-hash-check",
            "--name",
            &name,
            &format!("--initial-cluster-token={}", self.token),
            "--initial-cluster",
            &self.initial_cluster(),
            "--initial-advertise-peer-urls",
            &peer,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}

/// A step of `restore abort` (through the API, 10 minutes to hold).
pub fn abort_step(id: &str, title: &str, act: Act, check: Check) -> Step {
    api(id, title, act, check, 10)
}

fn oc_exec(ns: &str, deployment: &str, argv: &[String]) -> String {
    format!("oc exec -n {ns} deployment/{deployment} -- {}", argv.join(" "))
}

/// A hosted control plane's etcd, on premises (§5.3); everything through the
/// management cluster's API. One deliberate change from the runbook: it deletes
/// the claims of members 1 and 2 so that they "come back empty", but an empty
/// member started beside the restored one never gets its data (raft sends only
/// what comes after the restore's own entries: with etcd 3.4 they stay at
/// revision 1, without a key, while member 0 has the snapshot's). So every
/// member's claim is restored from the same snapshot, as etcd's disaster
/// recovery does, each through its own data pod; and step 3.8 checks that every
/// member holds the same data.
pub fn hosted(layout: &HostedLayout) -> Vec<Step> {
    let hc = format!("{}/{}", layout.namespace, layout.name);
    let ns = layout.control_plane_namespace.as_str();
    let replicas = layout.members.len().max(1);
    let mut steps = Vec::new();
    let mut pause = showing(
        api(
            "1",
            &format!("pause reconciliation of HostedCluster {hc}"),
            Act::PauseReconciliation { paused: true },
            Check::Paused { paused: true },
            1,
        ),
        vec![format!(
            "oc patch -n {} hostedclusters/{} -p '{{\"spec\":{{\"pausedUntil\":\"true\"}}}}' --type=merge",
            layout.namespace, layout.name
        )],
    );
    pause.point_of_no_return = true;
    steps.push(pause);
    for writer in WRITERS {
        steps.push(showing(
            api(
                &format!("1@{writer}"),
                &format!("scale {writer} to 0 (the hosted cluster's API goes away)"),
                Act::Scale { kind: "Deployment".into(), name: (*writer).into(), replicas: 0 },
                Check::Replicas { kind: "Deployment".into(), name: (*writer).into(), replicas: 0 },
                5,
            ),
            vec![format!("oc scale -n {ns} deployment/{writer} --replicas=0")],
        ));
    }
    steps.push(showing(
        api(
            "3.1",
            "scale the etcd StatefulSet to 0 (every member stops)",
            Act::Scale { kind: "StatefulSet".into(), name: "etcd".into(), replicas: 0 },
            Check::Replicas { kind: "StatefulSet".into(), name: "etcd".into(), replicas: 0 },
            5,
        ),
        vec![format!("oc scale -n {ns} statefulset/etcd --replicas=0")],
    ));
    for (index, (member, _)) in layout.members.iter().enumerate() {
        let claim = format!("data-etcd-{index}");
        let deployment = data_deployment(index);
        let at = |id: &str| format!("{id}@{claim}");
        steps.push(showing(
            api(
                &at("3.2"),
                &format!("start the {deployment} pod with {claim} mounted at /var/lib"),
                Act::CreateDataPod {
                    deployment: deployment.clone(),
                    claim: claim.clone(),
                    image: layout.etcd_image.clone(),
                },
                Check::PodsRunning {
                    namespace: ns.to_string(),
                    selector: format!("app={deployment}"),
                    node: None,
                    count: Some(1),
                },
                5,
            ),
            vec![
                format!(
                    "oc apply -n {ns} -f -   # Deployment {deployment}: image {}, claim {claim} at /var/lib, sleeping",
                    layout.etcd_image
                ),
                format!("oc get -n {ns} pods -l app={deployment}"),
            ],
        ));
        steps.push(showing(
            api(
                &at("3.3"),
                &format!("copy the snapshot into {deployment} as {POD_SNAPSHOT} (its SHA-256 checked there)"),
                Act::CopySnapshot { deployment: deployment.clone(), to: POD_SNAPSHOT.into() },
                Check::Answer,
                10,
            ),
            vec![format!("oc cp <snapshot> {ns}/<{deployment} pod>:{POD_SNAPSHOT}")],
        ));
        let aside = layout.set_aside_dir();
        steps.push(showing(
            api(
                &at("3.3a"),
                &format!("set {member}'s current data in {claim} aside as {aside} (kept, not deleted)"),
                Act::SetAside { deployment: deployment.clone(), from: POD_DATA_DIR.into(), to: aside.clone() },
                Check::Answer,
                5,
            ),
            vec![
                oc_exec(ns, &deployment, &["mv".into(), POD_DATA_DIR.into(), aside.clone()]),
                oc_exec(ns, &deployment, &["test".into(), "-d".into(), aside.clone()]),
            ],
        ));
        // What is left in the data directory now is only a restore of ours begun before (its data is aside).
        let restore = vec![
            vec!["rm".to_string(), "-rf".into(), POD_DATA_DIR.into()],
            vec!["mkdir".to_string(), "-p".into(), POD_DATA_DIR.into()],
            layout.restore_command(index),
        ];
        let shown = restore.iter().map(|argv| oc_exec(ns, &deployment, argv)).collect();
        steps.push(showing(
            api(
                &at("3.4"),
                &format!("replace {member}'s data in {claim} with the snapshot (etcdutl snapshot restore)"),
                Act::PodExec { deployment: deployment.clone(), commands: restore },
                Check::Answer,
                15,
            ),
            shown,
        ));
        let remove = vec![vec!["rm".to_string(), "-f".into(), POD_SNAPSHOT.into()]];
        let shown = remove.iter().map(|argv| oc_exec(ns, &deployment, argv)).collect();
        steps.push(showing(
            api(
                &at("3.5"),
                &format!("remove the snapshot's copy from {claim}"),
                Act::PodExec { deployment: deployment.clone(), commands: remove },
                Check::Answer,
                2,
            ),
            shown,
        ));
        steps.push(showing(
            api(
                &at("3.6"),
                &format!("delete the {deployment} Deployment (its pod lets go of {claim})"),
                Act::DeleteDeployment { name: deployment.clone() },
                Check::NoPods { namespace: ns.to_string(), selector: format!("app={deployment}") },
                5,
            ),
            vec![format!("oc delete -n {ns} deployment/{deployment}")],
        ));
    }
    steps.push(showing(
        api(
            "3.7",
            &format!("scale the etcd StatefulSet back to {replicas}"),
            Act::Scale { kind: "StatefulSet".into(), name: "etcd".into(), replicas: replicas as i32 },
            Check::PodsRunning {
                namespace: ns.to_string(),
                selector: "app=etcd".into(),
                node: None,
                count: Some(replicas),
            },
            15,
        ),
        vec![
            format!("oc scale -n {ns} statefulset/etcd --replicas={replicas}"),
            format!("oc get -n {ns} pods -l app=etcd -w"),
        ],
    ));
    steps.push(within(
        step(
            "3.8",
            format!("{replicas} members healthy, every one with the restored data (same revision and hash)"),
            Place::Etcd,
            Act::Nothing,
            Check::MembersAgree { count: replicas },
        ),
        5 * MINUTE,
    ));
    for writer in WRITERS {
        // The runbook says 3 whatever it was; a single-replica control plane may never make 3 Ready.
        let count = layout.writers.iter().find(|(w, _)| w == writer).map(|(_, n)| *n).filter(|n| *n > 0).unwrap_or(3);
        steps.push(showing(
            api(
                &format!("3.9@{writer}"),
                &format!("scale {writer} back to {count} (as it was before the restore)"),
                Act::Scale { kind: "Deployment".into(), name: (*writer).into(), replicas: count },
                Check::Replicas { kind: "Deployment".into(), name: (*writer).into(), replicas: count },
                10,
            ),
            vec![format!("oc scale deployment -n {ns} --replicas={count} {writer}")],
        ));
    }
    steps.push(showing(
        api(
            "4",
            &format!("resume reconciliation of HostedCluster {hc}"),
            Act::PauseReconciliation { paused: false },
            Check::Paused { paused: false },
            1,
        ),
        vec![format!(
            "oc patch -n {} hostedclusters/{} -p '{{\"spec\":{{\"pausedUntil\":\"\"}}}}' --type=merge",
            layout.namespace, layout.name
        )],
    ));
    steps
}
