//! Talking to the Kubernetes/OpenShift API: the connection (kubectl's
//! conventions: --kubeconfig, KUBECONFIG, --context, -n), and one module per
//! thing the runbooks read or change there.

pub mod csr;
pub mod forward;
pub mod model;
pub mod report;
pub mod watch;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::settings::KubeSettings;

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

/// Reads the kubeconfig and makes a client; Err is a message that says what to do.
pub async fn connect(args: &KubeSettings) -> Result<Connection, String> {
    let kubeconfig = match &args.kubeconfig {
        Some(path) => {
            Kubeconfig::read_from(path).map_err(|e| format!("cannot read the kubeconfig {}: {e}", path.display()))?
        }
        None => Kubeconfig::read()
            .map_err(|e| format!("no kubeconfig to reach the API ({e}): give --kubeconfig FILE or set KUBECONFIG"))?,
    };
    let options = KubeConfigOptions { context: args.context.clone(), ..KubeConfigOptions::default() };
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| format!("the kubeconfig cannot be used: {e}"))?;
    config.connect_timeout = Some(args.connect_timeout);
    // Watches sit quiet for minutes (kube-rs asks the server to end them after
    // 290 s), so the socket's read timeout must outlast that; single requests
    // are bounded by `within`.
    config.read_timeout = Some(WATCH_READ_TIMEOUT);
    config.write_timeout = Some(args.request_timeout);
    let server = config.cluster_url.to_string().trim_end_matches('/').to_string();
    let namespace = args.namespace.clone().unwrap_or_else(|| config.default_namespace.clone());
    let client = Client::try_from(config).map_err(|e| format!("cannot make a client for {server}: {e}"))?;
    Ok(Connection { client, server, namespace, request_timeout: args.request_timeout })
}

/// One line for an API failure while doing `what`, saying what to do where we can.
pub fn explain(error: &kube::Error, what: &str) -> String {
    match error {
        kube::Error::Api(status) => match status.code {
            401 => format!("{what}: the API refused the credentials (401 Unauthorized): log in again or check the kubeconfig's user"),
            403 => format!("{what}: not allowed (403 Forbidden): {}", status.message),
            404 => format!("{what}: not found (404): {}", status.message),
            code => format!("{what}: {} ({code} {})", status.message, status.reason),
        },
        other => format!("{what}: the API did not answer: {other}"),
    }
}

/// `future` under the request timeout (kube's own timeouts cover reads; this
/// also bounds connection set-up and anything else that could hang).
pub async fn within<T>(
    connection: &Connection,
    what: &str,
    future: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> Result<T, String> {
    let limit = connection.request_timeout + connection.request_timeout / 2;
    match tokio::time::timeout(limit, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(explain(&e, what)),
        Err(_) => {
            Err(format!("{what}: no answer from {} within {}", connection.server, humantime::format_duration(limit)))
        }
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
pub async fn may(connection: &Connection, what: &Access<'_>) -> Result<bool, String> {
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
    api: kube::api::Api<kube::api::DynamicObject>,
    what: &str,
    name: &str,
) -> Result<Option<serde_json::Value>, String> {
    let limit = connection.request_timeout + connection.request_timeout / 2;
    match tokio::time::timeout(limit, api.get(name)).await {
        Ok(Ok(object)) => serde_json::to_value(object).map(Some).map_err(|e| e.to_string()),
        Ok(Err(kube::Error::Api(status))) if status.code == 404 => Ok(None),
        Ok(Err(e)) => Err(explain(&e, &format!("reading {what}"))),
        Err(_) => Err(format!(
            "reading {what}: no answer from {} within {}",
            connection.server,
            humantime::format_duration(limit)
        )),
    }
}
