//! Talking to the Kubernetes/OpenShift API: the connection (kubectl's
//! conventions: --kubeconfig, KUBECONFIG, --context, -n), and one module per
//! thing the runbooks read or change there.

pub mod csr;
pub mod debug_pod;
pub mod diagnosis;
pub mod error;
pub mod forward;
pub mod model;
pub mod quota;
pub mod report;
pub mod watch;

use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::Value;

pub use error::ApiError;

use crate::settings::KubeSettings;

/// The field manager of every write etcd-console makes through the API.
pub const FIELD_MANAGER: &str = "etcd-console";

/// Longer than a watch's server-side timeout (290 s).
const WATCH_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// A client for the API and what the user should see of where it points.
#[derive(Clone)]
pub struct Connection {
    pub client: Client,
    /// The API server's URL, as the kubeconfig names it.
    pub server: String,
    pub namespace: String,
    pub request_timeout: std::time::Duration,
}

/// Whether there is a kubeconfig to use: --kubeconfig, KUBECONFIG, or ~/.kube/config.
pub fn configured(args: &KubeSettings) -> bool {
    args.kubeconfig.is_some()
        || std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty())
        || directories::BaseDirs::new().is_some_and(|d| d.home_dir().join(".kube/config").is_file())
}

/// Reads the kubeconfig and makes a client; the error says what to do.
pub async fn connect(args: &KubeSettings) -> Result<Connection, ApiError> {
    let kubeconfig = match &args.kubeconfig {
        Some(path) => Kubeconfig::read_from(path)
            .map_err(|e| ApiError::KubeconfigUnreadable { path: path.clone(), detail: e.to_string() })?,
        None => Kubeconfig::read().map_err(|e| ApiError::NoKubeconfig { detail: e.to_string() })?,
    };
    let options = KubeConfigOptions { context: args.context.clone(), ..KubeConfigOptions::default() };
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| ApiError::KubeconfigUnusable { detail: e.to_string() })?;
    config.connect_timeout = Some(args.connect_timeout);
    // Watches sit quiet for minutes (kube-rs asks the server to end them after
    // 290 s), so the socket's read timeout must outlast that; single requests
    // are bounded by `within`.
    config.read_timeout = Some(WATCH_READ_TIMEOUT);
    config.write_timeout = Some(args.request_timeout);
    let server = config.cluster_url.to_string().trim_end_matches('/').to_string();
    let namespace = args.namespace.clone().unwrap_or_else(|| config.default_namespace.clone());
    let client =
        Client::try_from(config).map_err(|e| ApiError::NoClient { server: server.clone(), detail: e.to_string() })?;
    Ok(Connection { client, server, namespace, request_timeout: args.request_timeout })
}

/// One line for an API failure while doing `what`, saying what to do where we can.
pub fn explain(error: &kube::Error, what: &str) -> String {
    ApiError::from_kube(what, error).to_string()
}

impl Connection {
    /// How long one request may take: the request timeout and half again.
    pub fn limit(&self) -> std::time::Duration {
        self.request_timeout + self.request_timeout / 2
    }
}

/// `future` under the request timeout (kube's own timeouts cover reads; this
/// also bounds connection set-up and anything else that could hang).
pub async fn within<T>(
    connection: &Connection,
    what: &str,
    future: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> Result<T, ApiError> {
    within_limit(connection, connection.limit(), what, future).await
}

/// `future` under `limit`: the API's answer by kind, or Timeout.
pub async fn within_limit<T>(
    connection: &Connection,
    limit: std::time::Duration,
    what: &str,
    future: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(limit, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(ApiError::from_kube(what, &e)),
        Err(_) => Err(ApiError::timeout(what, &connection.server, limit)),
    }
}

/// One thing to ask SelfSubjectAccessReview about.
pub struct Access<'a> {
    pub verb: &'a str,
    pub group: &'a str,
    pub resource: &'a str,
    pub subresource: Option<&'a str>,
    pub name: Option<&'a str>,
}

/// Whether this kubeconfig's user may do `what` (SelfSubjectAccessReview); Err when it cannot be asked.
pub async fn may(connection: &Connection, what: &Access<'_>) -> Result<bool, ApiError> {
    use k8s_openapi::api::authorization::v1::{
        ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
    };
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(what.verb.into()),
                group: Some(what.group.into()),
                resource: Some(what.resource.into()),
                subresource: what.subresource.map(str::to_string),
                name: what.name.map(str::to_string),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let reviews: kube::Api<SelfSubjectAccessReview> = kube::Api::all(connection.client.clone());
    let answer =
        within(connection, "asking what this user may do", reviews.create(&kube::api::PostParams::default(), &review))
            .await?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}

/// An object by name: Ok(None) when the API does not have it (404).
pub async fn get_object(
    connection: &Connection,
    api: Api<DynamicObject>,
    what: &str,
    name: &str,
) -> Result<Option<Value>, ApiError> {
    match within(connection, &format!("reading {what}"), api.get(name)).await {
        Ok(object) => serde_json::to_value(object).map(Some).map_err(|e| ApiError::Decode { detail: e.to_string() }),
        Err(ApiError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The objects of a type: Ok(None) when the API does not serve the type (404).
pub async fn list_objects(
    connection: &Connection,
    api: Api<DynamicObject>,
    what: &str,
    params: &ListParams,
) -> Result<Option<Vec<Value>>, ApiError> {
    let listed = list_of(connection, api, what, params).await?;
    Ok(listed.map(|items| items.into_iter().filter_map(|o| serde_json::to_value(o).ok()).collect()))
}

/// Objects of a type k8s-openapi has (`Api<Node>`, `Api<Pod>` ...); Ok(None) when the API does
/// not serve the type (404).
pub async fn list_of<K>(
    connection: &Connection,
    api: Api<K>,
    what: &str,
    params: &ListParams,
) -> Result<Option<Vec<K>>, ApiError>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match within(connection, &format!("listing {what}"), api.list(params)).await {
        Ok(list) => Ok(Some(list.items)),
        Err(ApiError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A JSON merge patch, as etcd-console's field manager.
pub async fn merge_patch(
    connection: &Connection,
    api: Api<DynamicObject>,
    what: &str,
    name: &str,
    body: &Value,
) -> Result<(), ApiError> {
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() };
    within(connection, &format!("patching {what}"), api.patch(name, &params, &Patch::Merge(body))).await.map(|_| ())
}

/// Deletes an object; one already gone (404) counts as deleted.
pub async fn delete_object(
    connection: &Connection,
    api: Api<DynamicObject>,
    what: &str,
    name: &str,
) -> Result<(), ApiError> {
    let what = format!("deleting {what}");
    match within(connection, &what, api.delete(name, &DeleteParams::default())).await {
        Ok(_) | Err(ApiError::NotFound { .. }) => Ok(()),
        // Said without the server, as it always was.
        Err(ApiError::Timeout { limit, .. }) => Err(ApiError::Timeout { what, server: None, limit }),
        Err(e) => Err(e),
    }
}

/// Every reader of OpenShift objects, on one object: what the fuzz targets (the proptest ones
/// here and AFL's in fuzz/afl) feed outside bytes to. Reads only; a panic is the finding.
#[doc(hidden)]
pub fn read_every_way(object: &serde_json::Value) {
    use self::{diagnosis, model, quota};
    let encryption = model::encryption(Some(object), &[("kube-apiserver", Some(object)), ("authentication", None)]);
    let rollout = model::rollout("etcd", object);
    let _ = model::cluster_operator(object);
    let _ = model::quorum_guard_off(object);
    let _ = model::banners(Some(object), std::slice::from_ref(&rollout), &encryption);
    let hosted = model::hosted_cluster(object, std::time::SystemTime::now());
    let _ = model::hosted_banners(&[hosted]);
    let _ = model::node_row(object);
    let _ = diagnosis::pod_facts(object);
    let _ = diagnosis::node_ready(object);
    let _ = diagnosis::slim_node(object);
    let _ = diagnosis::machine_facts(object);
    let _ = diagnosis::etcd_degraded(object);
    let _ = quota::container_quota(object);
    let _ = quota::pod_quota(object);
    let _ = quota::backend_quota_gib(object);
    if let Some(text) = object.as_str() {
        let _ = diagnosis::parse_time(text);
        let parts: Vec<&str> = text.split(' ').collect();
        let _ = quota::quota_in_command(&parts);
    }
}
