//! `etcd-console status`: one round of the same questions the console asks,
//! printed once. Exit 0 healthy, 1 degraded, 2 bad input or no member answered.

use std::time::Instant;

use tokio::task::JoinSet;

use crate::cli::{ConnectionArgs, ConsoleArgs, KubeArgs, OutputFormat};
use crate::cluster::report::{StatusReport, EXIT_UNUSABLE};
use crate::cluster::ClusterState;
use crate::etcd::poller::{ask, clients_for, discover};
use crate::etcd::Connector;
use crate::openshift::report::OpenShiftReport;

/// Takes one round of samples; Err is a message for the user (exit 2).
pub async fn observe(connection: &ConnectionArgs, quota_bytes: u64) -> Result<ClusterState, String> {
    let connector = Connector::from_args(connection).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let members = discover(&connection.endpoints, &connector).await.map_err(|errors| {
        let hint = if errors.contains("(the member") {
            ""
        } else {
            "\nCheck --endpoints (or ETCDCTL_ENDPOINTS) and that the members run."
        };
        format!("no etcd member answered at {}:\n{errors}{hint}", connection.endpoints.join(","))
    })?;
    let mut state = ClusterState::new(quota_bytes, started);
    state.set_members(members.clone(), started);
    let mut rounds = JoinSet::new();
    for (id, client) in clients_for(&members, &connector).await {
        rounds.spawn(ask(client, id, &connector));
    }
    while let Some(joined) = rounds.join_next().await {
        if let Ok(sample) = joined {
            state.apply_sample(sample);
        }
    }
    Ok(state)
}

/// The OpenShift side, when a kubeconfig is there to read (None otherwise):
/// asked at the same time as the members, so it adds no waiting.
async fn observe_openshift(kube: &KubeArgs) -> Option<OpenShiftReport> {
    if !crate::openshift::configured(kube) {
        return None;
    }
    match crate::openshift::connect(kube).await {
        Ok(connection) => Some(crate::openshift::report::observe(&connection).await),
        Err(e) => Some(OpenShiftReport::unreachable(e)),
    }
}

pub async fn run(connection: &ConnectionArgs, console: &ConsoleArgs, kube: &KubeArgs, output: OutputFormat) -> i32 {
    let (state, openshift) = tokio::join!(observe(connection, console.quota_bytes), observe_openshift(kube));
    let state = match state {
        Ok(state) => state,
        Err(message) => {
            eprintln!("etcd-console: {message}");
            return EXIT_UNUSABLE;
        }
    };
    if state.members.iter().all(|m| !m.is_up()) {
        let errors: Vec<String> = state
            .members
            .iter()
            .map(|m| format!("  {}: {}", m.identity.endpoint(), m.error.as_deref().unwrap_or("?")))
            .collect();
        eprintln!("etcd-console: the member list was read, but no member answered Status:\n{}", errors.join("\n"));
        return EXIT_UNUSABLE;
    }
    let report = StatusReport::build(&state, Instant::now());
    match output {
        OutputFormat::Json => {
            let mut value = serde_json::to_value(&report).unwrap_or_default();
            value["openshift"] = serde_json::to_value(&openshift).unwrap_or_default();
            match serde_json::to_string_pretty(&value) {
                Ok(json) => println!("{json}"),
                Err(e) => {
                    eprintln!("etcd-console: cannot encode the report: {e}");
                    return EXIT_UNUSABLE;
                }
            }
        }
        OutputFormat::Table => {
            print!("{}", report.to_table());
            if let Some(openshift) = &openshift {
                print!("{}", openshift.to_text());
            }
        }
    }
    tracing::info!(members = report.members.len(), exit = report.exit_code(), "status printed");
    report.exit_code()
}
