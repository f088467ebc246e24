//! One reading of everything the OpenShift panes show, for `status`: the
//! questions asked concurrently, each under the request timeout; a part that
//! fails (group not served, 403) is named in `problems` and the rest stands.

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde::Serialize;
use serde_json::Value;

use super::csr::{self, CsrClass};
use super::model::{self, Encryption, OperatorStatus, Rollout};
use super::{within, ApiError, Connection};

#[derive(Debug, Clone, Serialize)]
pub struct CsrSummary {
    pub name: String,
    pub signer: String,
    pub requestor: String,
    pub class: CsrClass,
    pub reason: String,
}

/// The `openshift` object of `status -o json`. Field names are a contract.
#[derive(Debug, Clone, Serialize)]
pub struct OpenShiftReport {
    pub server: String,
    pub encryption: Option<Encryption>,
    pub rollouts: Vec<Rollout>,
    pub cluster_operators: Vec<OperatorStatus>,
    pub csrs_pending: Vec<CsrSummary>,
    /// On a HyperShift management cluster: each HostedCluster's encryption and pause.
    pub hosted_clusters: Vec<model::HostedClusterState>,
    pub banners: Vec<String>,
    /// etcd/cluster runs with the quorum guard off (`unsupportedConfigOverrides`).
    pub quorum_guard_off: bool,
    /// Parts that could not be read, each saying why (not OpenShift, forbidden, unreachable).
    pub problems: Vec<String>,
}

/// The static-pod operators, as `oc get <resource>` names them, with their kinds and plurals.
pub const STATIC_POD_OPERATORS: &[(&str, &str, &str)] = &[
    ("etcd", "Etcd", "etcds"),
    ("kubeapiserver", "KubeAPIServer", "kubeapiservers"),
    ("kubecontrollermanager", "KubeControllerManager", "kubecontrollermanagers"),
    ("kubescheduler", "KubeScheduler", "kubeschedulers"),
];

/// The operators that report `Encrypted`, as the runbook's queries name them.
pub const ENCRYPTING: &[(&str, &str, &str)] = &[
    ("openshiftapiserver", "OpenShiftAPIServer", "openshiftapiservers"),
    ("kubeapiserver", "KubeAPIServer", "kubeapiservers"),
    ("authentication.operator.openshift.io", "Authentication", "authentications"),
];

/// The encryption state from the singletons the watches hold (None before APIServer or
/// KubeAPIServer is known): the console's panes and the timeline read it the same way.
pub fn encryption_of<'a>(
    one: impl Fn(super::watch::Watched) -> Option<&'a serde_json::Value>,
) -> Option<model::Encryption> {
    use super::watch::Watched;
    let apiserver = one(Watched::ApiServer);
    let kas = one(Watched::KubeApiServer);
    (apiserver.is_some() || kas.is_some()).then(|| {
        model::encryption(
            apiserver,
            &[
                (ENCRYPTING[0].0, one(Watched::OpenShiftApiServer)),
                (ENCRYPTING[1].0, kas),
                (ENCRYPTING[2].0, one(Watched::Authentication)),
            ],
        )
    })
}

/// Each static-pod operator's rollout, from the singletons the watches hold.
pub fn rollouts_of<'a>(one: impl Fn(super::watch::Watched) -> Option<&'a serde_json::Value>) -> Vec<model::Rollout> {
    use super::watch::Watched;
    let kinds = [Watched::Etcd, Watched::KubeApiServer, Watched::KubeControllerManager, Watched::KubeScheduler];
    STATIC_POD_OPERATORS
        .iter()
        .zip(kinds)
        .filter_map(|((name, _, _), what)| one(what).map(|o| model::rollout(name, o)))
        .collect()
}

/// The ClusterOperators the runbooks look at.
pub const RELATED_OPERATORS: &[&str] =
    &["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "openshift-apiserver", "authentication"];

/// The ClusterOperators of a list whose names are in `names`, as the panes read them.
pub fn cluster_operators_named(list: &kube::api::ObjectList<DynamicObject>, names: &[&str]) -> Vec<OperatorStatus> {
    list.items
        .iter()
        .filter_map(|o| serde_json::to_value(o).ok())
        .map(|o| model::cluster_operator(&o))
        .filter(|o| names.contains(&o.name.as_str()))
        .collect()
}

/// A cluster-scoped `group/v1` kind.
pub(crate) fn api(connection: &Connection, group: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, "v1", kind), plural);
    Api::all_with(connection.client.clone(), &resource)
}

async fn cluster_object(connection: &Connection, group: &str, kind: &str, plural: &str) -> Result<Value, String> {
    let object = within(
        connection,
        &format!("reading {plural}.{group}/cluster"),
        api(connection, group, kind, plural).get("cluster"),
    )
    .await?;
    serde_json::to_value(object).map_err(|e| e.to_string())
}

pub async fn observe(connection: &Connection) -> OpenShiftReport {
    let op = "operator.openshift.io";
    let operators_api = api(connection, "config.openshift.io", "ClusterOperator", "clusteroperators");
    let all = ListParams::default();
    let hosted_api = Api::<DynamicObject>::all_with(
        connection.client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("hypershift.openshift.io", "v1beta1", "HostedCluster"),
            "hostedclusters",
        ),
    );
    let (apiserver, oas, kas, auth, etcd, kcm, ks, cos, csrs, hosted) = tokio::join!(
        cluster_object(connection, "config.openshift.io", "APIServer", "apiservers"),
        cluster_object(connection, op, "OpenShiftAPIServer", "openshiftapiservers"),
        cluster_object(connection, op, "KubeAPIServer", "kubeapiservers"),
        cluster_object(connection, op, "Authentication", "authentications"),
        cluster_object(connection, op, "Etcd", "etcds"),
        cluster_object(connection, op, "KubeControllerManager", "kubecontrollermanagers"),
        cluster_object(connection, op, "KubeScheduler", "kubeschedulers"),
        within(connection, "listing clusteroperators", operators_api.list(&all)),
        csr::pending(connection, &[]),
        hosted_api.list(&all),
    );
    let mut problems = Vec::new();
    let mut keep = |result: &Result<Value, String>| match result {
        Ok(value) => Some(value.clone()),
        Err(e) => {
            problems.push(e.clone());
            None
        }
    };
    let apiserver = keep(&apiserver);
    let (oas, kas, auth) = (keep(&oas), keep(&kas), keep(&auth));
    let statics = [keep(&etcd), kas.clone(), keep(&kcm), keep(&ks)];
    if apiserver.is_none() && kas.is_none() && statics[0].is_none() {
        problems.insert(
            0,
            "no OpenShift configuration or operator objects could be read: not an OpenShift cluster, or no rights to read them".into(),
        );
    }
    let encryption = (apiserver.is_some() || kas.is_some()).then(|| {
        model::encryption(
            apiserver.as_ref(),
            &[(ENCRYPTING[0].0, oas.as_ref()), (ENCRYPTING[1].0, kas.as_ref()), (ENCRYPTING[2].0, auth.as_ref())],
        )
    });
    let rollouts: Vec<Rollout> = STATIC_POD_OPERATORS
        .iter()
        .zip(&statics)
        .filter_map(|((name, _, _), object)| object.as_ref().map(|o| model::rollout(name, o)))
        .collect();
    let cluster_operators = match cos {
        Ok(list) => cluster_operators_named(&list, RELATED_OPERATORS),
        Err(e) => {
            problems.push(e.to_string());
            Vec::new()
        }
    };
    let csrs_pending = match csrs {
        Ok(pending) => pending
            .into_iter()
            .map(|c| CsrSummary {
                name: c.name,
                signer: c.signer,
                requestor: c.requestor,
                class: c.class,
                reason: c.reason,
            })
            .collect(),
        Err(e) => {
            problems.push(e);
            Vec::new()
        }
    };
    let now = std::time::SystemTime::now();
    let hosted = hosted.map_err(|e| ApiError::from_kube("listing hostedclusters.hypershift.io", &e));
    let hosted_clusters: Vec<model::HostedClusterState> = match hosted {
        Ok(list) => list
            .items
            .iter()
            .filter_map(|o| serde_json::to_value(o).ok())
            .map(|o| model::hosted_cluster(&o, now))
            .collect(),
        // Not a management cluster: nothing to say.
        Err(ApiError::NotFound { .. }) => Vec::new(),
        Err(e) => {
            problems.push(e.to_string());
            Vec::new()
        }
    };
    let empty = model::encryption(None, &[]);
    let mut banners = model::banners(statics[0].as_ref(), &rollouts, encryption.as_ref().unwrap_or(&empty));
    banners.extend(model::hosted_banners(&hosted_clusters));
    OpenShiftReport {
        quorum_guard_off: statics[0].as_ref().is_some_and(model::quorum_guard_off),
        server: connection.server.clone(),
        encryption,
        rollouts,
        cluster_operators,
        csrs_pending,
        hosted_clusters,
        banners,
        problems,
    }
}

impl OpenShiftReport {
    /// The API could not be reached or the kubeconfig not used.
    pub fn unreachable(problem: String) -> Self {
        Self {
            server: String::new(),
            encryption: None,
            rollouts: Vec::new(),
            cluster_operators: Vec::new(),
            csrs_pending: Vec::new(),
            hosted_clusters: Vec::new(),
            banners: Vec::new(),
            quorum_guard_off: false,
            problems: vec![problem],
        }
    }

    /// A few lines under `status`'s member table.
    pub fn to_text(&self) -> String {
        // Everything but our own words is the cluster's: shown escaped, one line each.
        let s = crate::units::safe_text;
        let mut out = format!("\nopenshift {}\n", s(&self.server));
        for problem in &self.problems {
            out.push_str(&format!("  ! {}\n", s(problem)));
        }
        for banner in &self.banners {
            out.push_str(&format!("  WARNING {}\n", s(banner)));
        }
        if let Some(e) = &self.encryption {
            out.push_str(&format!("  encryption {}\n", s(&e.kind)));
            for c in &e.conditions {
                out.push_str(&format!("    {:<38} {:<22} {}\n", s(&c.resource), s(&c.reason), s(&c.message)));
            }
        }
        for r in &self.rollouts {
            out.push_str(&format!(
                "  {:<22} revision {:<4} {:<26} {}\n",
                s(&r.operator),
                r.latest_revision,
                s(&r.reason),
                s(&r.message)
            ));
        }
        for h in &self.hosted_clusters {
            out.push_str(&format!(
                "  hostedcluster {}/{}  secretEncryption {}{}\n",
                s(&h.namespace),
                s(&h.name),
                s(h.secret_encryption.as_deref().unwrap_or("none")),
                h.paused_until.as_ref().map(|u| format!("  PAUSED until {}", s(u))).unwrap_or_default()
            ));
        }
        let invalid = self.csrs_pending.iter().filter(|c| !c.class.is_valid()).count();
        out.push_str(&format!("  pending CSRs {} ({invalid} unexpected)\n", self.csrs_pending.len()));
        out
    }
}
