//! `etcd-console status`: one round of the same questions the console asks,
//! printed once. Exit 0 healthy, 1 degraded, 2 bad input or no member answered.

use super::output::errln;
use std::time::Instant;

use tokio::task::JoinSet;

use super::output::{out_raw, outln};
use crate::cli::{ConsoleArgs, OutputFormat};
use etcd_console_core::cluster::report::{StatusReport, EXIT_UNUSABLE};
use etcd_console_core::cluster::ClusterState;
use etcd_console_core::etcd::discovery::Scope;
use etcd_console_core::etcd::poller::{ask, clients_for, discover};
use etcd_console_core::etcd::source::EtcdSource;
use etcd_console_core::openshift::diagnosis::Surroundings;
use etcd_console_core::openshift::report::OpenShiftReport;
use etcd_console_core::settings::{ConnectionSettings, KubeSettings};

/// What one round found: the state, and how members were reached when found through the cluster.
pub struct Observed {
    pub state: ClusterState,
    pub reach: Option<EtcdReach>,
}

/// The `etcd` object of `status -o json` when etcd was found through the cluster.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EtcdReach {
    pub found_through: String,
    pub namespace: String,
    pub pods: Vec<etcd_console_core::etcd::discovery::EtcdPod>,
    pub members: Vec<etcd_console_core::etcd::discovery::Reach>,
}

/// Takes one round of samples; Err is a message for the user (exit 2).
pub async fn observe(source: &EtcdSource, quota_bytes: u64) -> Result<Observed, String> {
    let started = Instant::now();
    let reached = source.reach().await.map_err(|e| format!("etcd not found through the cluster: {e}"))?;
    let members = discover(&reached.seeds, &reached.connector).await.map_err(|errors| {
        let hint = if errors.contains("(the member") || errors.contains("(the TLS material") {
            String::new()
        } else {
            format!("\n{}", source.hint())
        };
        format!("no etcd member answered at {}:\n{errors}{hint}", reached.seeds.join(","))
    })?;
    reached.route(&members).await;
    let mut state = ClusterState::new(quota_bytes, started);
    state.set_members(members.clone(), started);
    let mut rounds = JoinSet::new();
    for (id, client) in clients_for(&members, &reached.connector).await {
        let endpoint = members.iter().find(|m| m.id == id).map(|m| m.endpoint().to_string()).unwrap_or_default();
        rounds.spawn(ask(client, id, endpoint, &reached.connector));
    }
    while let Some(joined) = rounds.join_next().await {
        if let Ok(sample) = joined {
            state.apply_sample(sample);
        }
    }
    let reach = reached.found.as_ref().map(|found| EtcdReach {
        found_through: found.server().to_string(),
        namespace: found.namespace.clone(),
        pods: found.pods(),
        members: found.reach(),
    });
    Ok(Observed { state, reach })
}

/// The OpenShift side, when a kubeconfig is there to read (None otherwise), and what
/// surrounds etcd (its pods, nodes, Machines, operator): asked at the same time as the
/// members, so it adds no waiting.
async fn observe_openshift(kube: &KubeSettings) -> Option<(OpenShiftReport, Surroundings)> {
    if !etcd_console_core::openshift::configured(kube) {
        return None;
    }
    let scope = match kube.hosted_cluster.as_deref().map(Scope::parse_hosted) {
        Some(Ok(scope)) => scope,
        Some(Err(e)) => return Some((OpenShiftReport::unreachable(e), Surroundings::default())),
        None => Scope::Standalone,
    };
    match etcd_console_core::openshift::connect(kube).await {
        Ok(connection) => Some(tokio::join!(
            etcd_console_core::openshift::report::observe(&connection),
            etcd_console_core::openshift::diagnosis::observe(&connection, &scope),
        )),
        Err(e) => Some((OpenShiftReport::unreachable(e.to_string()), Surroundings::default())),
    }
}

/// The cluster's quota as `status` reads it (etcd 3.6's own figure, the etcd pods' spec, the etcd
/// operator), None when only the default could be assumed.
pub async fn read_quota(
    source: &EtcdSource,
    assumed: u64,
    kube: &KubeSettings,
) -> Option<etcd_console_core::cluster::quota::Quota> {
    let (observed, openshift) = tokio::join!(observe(source, assumed), observe_openshift(kube));
    let mut state = observed.ok()?.state;
    if let Some((_, surroundings)) = &openshift {
        let identities: Vec<_> = state.members.iter().map(|m| m.identity.clone()).collect();
        state.spec_quotas = surroundings.spec_quotas(&identities);
    }
    let quota = state.quota();
    (quota.source != etcd_console_core::cluster::quota::QuotaSource::Assumed).then_some(quota)
}

pub async fn run(
    connection: &ConnectionSettings,
    console: &ConsoleArgs,
    kube: &KubeSettings,
    output: OutputFormat,
) -> i32 {
    let source = match EtcdSource::choose(connection, Some(kube)) {
        Ok(source) => source,
        Err(e) => {
            errln!("etcd-console: {e}");
            return EXIT_UNUSABLE;
        }
    };
    let (observed, openshift) = tokio::join!(observe(&source, console.quota_bytes), observe_openshift(kube));
    let Observed { mut state, reach } = match observed {
        Ok(observed) => observed,
        Err(message) => {
            errln!("etcd-console: {message}");
            return EXIT_UNUSABLE;
        }
    };
    if state.members.iter().all(|m| !m.is_up()) {
        let errors: Vec<String> = state
            .members
            .iter()
            .map(|m| format!("  {}: {}", m.identity.endpoint(), m.error.as_deref().unwrap_or("?")))
            .collect();
        let hint = match source {
            EtcdSource::Endpoints { .. } => {
                "\nIf the members' addresses can only be reached inside the cluster, leave out --endpoints \
                 (and ETCDCTL_ENDPOINTS) and give --kubeconfig: etcd is then reached through the API (port-forward)."
            }
            EtcdSource::Cluster(_) => "",
        };
        errln!("etcd-console: the member list was read, but no member answered Status:\n{}{hint}", errors.join("\n"));
        return EXIT_UNUSABLE;
    }
    // The quota: --quota-bytes when given, else what etcd, the pods or the operator say.
    state.quota_given = console.quota_given;
    if let Some((_, surroundings)) = &openshift {
        let identities: Vec<_> = state.members.iter().map(|m| m.identity.clone()).collect();
        state.spec_quotas = surroundings.spec_quotas(&identities);
    }
    state.quorum_guard_off = openshift.as_ref().is_some_and(|(report, _)| report.quorum_guard_off);
    let mut report = StatusReport::build(&state, Instant::now());
    let openshift = openshift.map(|(mut openshift, surroundings)| {
        report = report.clone().with_surroundings(&state, &surroundings);
        for problem in &surroundings.problems {
            if !openshift.problems.contains(problem) {
                openshift.problems.push(problem.clone());
            }
        }
        openshift
    });
    match output {
        OutputFormat::Json => {
            let mut value = serde_json::to_value(&report).unwrap_or_default();
            value["openshift"] = serde_json::to_value(&openshift).unwrap_or_default();
            value["etcd_found"] = serde_json::to_value(&reach).unwrap_or_default();
            match serde_json::to_string_pretty(&value) {
                Ok(json) => outln!("{json}"),
                Err(e) => {
                    errln!("etcd-console: cannot encode the report: {e}");
                    return EXIT_UNUSABLE;
                }
            }
        }
        OutputFormat::Table => {
            if let Some(reach) = &reach {
                let forwarded = reach.members.iter().filter(|m| m.via == "port-forward").count();
                let answered = state.members.iter().filter(|m| m.is_up()).count();
                outln!(
                    "etcd found through {}: {} pods in {}, {answered} member(s) reached, {forwarded} through port-forwards",
                    reach.found_through,
                    reach.pods.len(),
                    reach.namespace,
                );
            }
            out_raw(&report.to_table());
            if let Some(openshift) = &openshift {
                out_raw(&openshift.to_text());
            }
        }
    }
    tracing::info!(members = report.members.len(), exit = report.exit_code(), "status printed");
    report.exit_code()
}
