//! Building clients: one per member URL, all with the same TLS material and
//! time limits. Clients connect lazily, so building one never waits.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use etcd_client::{Certificate, ConnectOptions, Identity, TlsOptions};

pub use etcd_client::Client;

use super::tls::TlsFiles;
use crate::settings::ConnectionSettings;

/// What went wrong with etcd: the TLS material, or a call to a member, by
/// kind (from the gRPC code), each saying in its text what etcd said.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    #[error("cannot read {flag} {path}: {source}")]
    ReadFile { flag: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{flag} {path} holds no PEM {kind} block: give the PEM file etcdctl would use")]
    NotPem { flag: &'static str, path: PathBuf, kind: &'static str },
    #[error("{0}")]
    Flags(String),
    #[error("no etcd member answered:\n{0}")]
    NoMemberAnswered(String),
    /// No answer within our time limit (the call is dropped; what it asked may still happen).
    #[error("no answer within {}", humantime::format_duration(*limit))]
    Timeout { limit: Duration },
    /// The member cannot be reached, or the connection broke (gRPC Unavailable, transport, I/O).
    #[error("{0}")]
    Unavailable(String),
    /// The TLS handshake failed: a CA that does not sign the other side, a certificate refused.
    #[error("{0}")]
    Tls(String),
    /// etcd's authentication refused the request (gRPC PermissionDenied).
    #[error("{0}")]
    PermissionDenied(String),
    /// NOSPACE: the database reached its quota (`mvcc: database space exceeded`).
    #[error("{0}")]
    NoSpace(String),
    /// The revision asked for has been compacted away (`mvcc: required revision has been compacted`).
    #[error("{0}")]
    Compacted(String),
    /// Any other status etcd answered with.
    #[error("{message}")]
    Status { code: tonic::Code, message: String },
    /// The client failed before asking (a bad URL or argument).
    #[error("{0}")]
    Client(String),
}

impl EtcdError {
    /// Whether the call was cut rather than answered: what it asked (a defrag) may still run.
    pub fn broke_off(&self) -> bool {
        match self {
            EtcdError::Unavailable(_) | EtcdError::Tls(_) => true,
            EtcdError::Status { code, .. } => {
                matches!(code, tonic::Code::Cancelled | tonic::Code::Unknown | tonic::Code::DeadlineExceeded)
            }
            _ => false,
        }
    }
}

/// An etcd error by kind, its text in one readable line: the gRPC message and
/// the innermost cause (where tonic keeps "Connection refused" or the TLS reason).
impl From<etcd_client::Error> for EtcdError {
    fn from(error: etcd_client::Error) -> EtcdError {
        match error {
            etcd_client::Error::GRpcStatus(status) => {
                let text = status_text(&status);
                match status.code() {
                    tonic::Code::Unavailable | tonic::Code::Unknown if looks_like_tls(&text) => EtcdError::Tls(text),
                    tonic::Code::Unavailable => EtcdError::Unavailable(text),
                    tonic::Code::PermissionDenied => EtcdError::PermissionDenied(text),
                    tonic::Code::ResourceExhausted if text.contains("database space exceeded") => {
                        EtcdError::NoSpace(text)
                    }
                    tonic::Code::OutOfRange if text.contains("compacted") => EtcdError::Compacted(text),
                    code => EtcdError::Status { code, message: text },
                }
            }
            cut @ (etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_)) => {
                let text = describe_chain(&cut);
                if looks_like_tls(&text) {
                    EtcdError::Tls(text)
                } else {
                    EtcdError::Unavailable(text)
                }
            }
            other => EtcdError::Client(describe_chain(&other)),
        }
    }
}

/// For the callers that still carry errors as text.
impl From<EtcdError> for String {
    fn from(error: EtcdError) -> String {
        error.to_string()
    }
}

/// Whether a failure's words are a TLS handshake's (rustls' and tonic's).
pub fn looks_like_tls(error: &str) -> bool {
    let lower = error.to_ascii_lowercase();
    ["unknownissuer", "unknown issuer", "certificate", "badsignature", "unknown ca"].iter().any(|n| lower.contains(n))
}

/// Where a member URL is really dialled: a local end of a port-forward, with the
/// name its certificate is checked against (the URL's own host, which the
/// member's serving certificate names).
#[derive(Debug, Clone)]
pub struct Route {
    /// host:port to dial.
    pub address: String,
    /// The name the member's certificate must carry.
    pub server_name: String,
    /// How the user should see it, e.g. "port-forward to openshift-etcd/etcd-master-0".
    pub via: String,
    /// The tunnel's last failure (the kubelet's words), named when a connection fails.
    pub last_error: Option<Arc<std::sync::Mutex<Option<String>>>>,
}

/// The routes of member URLs reached other than directly (shared by every clone of a Connector).
#[derive(Debug, Clone, Default)]
pub struct Routes(Arc<RwLock<HashMap<String, Route>>>);

impl Routes {
    pub fn get(&self, url: &str) -> Option<Route> {
        let map = self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(url).cloned()
    }

    pub fn set(&self, url: String, route: Route) {
        let mut map = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(url, route);
    }

    pub fn remove(&self, url: &str) {
        let mut map = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.remove(url);
    }
}

/// Where the TLS material came from, so failures can name it.
#[derive(Debug, Clone)]
pub enum TlsOrigin {
    Files(TlsFiles),
    /// Read from the cluster, e.g. "secret openshift-etcd/etcd-client and configmap openshift-etcd/etcd-ca-bundle".
    Cluster(String),
}

impl TlsOrigin {
    pub fn explain(&self, error: &str) -> String {
        match self {
            TlsOrigin::Files(files) => files.explain(error),
            TlsOrigin::Cluster(origin) => {
                if looks_like_tls(error) {
                    format!(
                        "{error} (the TLS material came from {origin}: give --cacert/--cert/--key to use other files)"
                    )
                } else {
                    error.to_string()
                }
            }
        }
    }
}

/// PEM texts of a client TLS identity and the CA, as read from the cluster.
pub struct TlsPem {
    pub ca: Vec<u8>,
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

#[derive(Clone)]
pub struct Connector {
    tls: Option<TlsOptions>,
    pub origin: TlsOrigin,
    pub routes: Routes,
    pub dial_timeout: Duration,
    pub command_timeout: Duration,
}

impl Connector {
    pub fn from_args(args: &ConnectionSettings) -> Result<Self, EtcdError> {
        let files = TlsFiles::from_args(args);
        let tls = files.load()?;
        Ok(Self {
            tls,
            origin: TlsOrigin::Files(files),
            routes: Routes::default(),
            dial_timeout: args.dial_timeout,
            command_timeout: args.command_timeout,
        })
    }

    /// TLS from PEM texts read elsewhere (the cluster's secret); `origin` names them in errors.
    pub fn from_pem(pem: &TlsPem, origin: String, args: &ConnectionSettings) -> Result<Self, EtcdError> {
        let has = |bytes: &[u8], kind: &str| {
            String::from_utf8_lossy(bytes)
                .lines()
                .any(|l| l.starts_with("-----BEGIN ") && l.trim_end().ends_with(&format!("{kind}-----")))
        };
        for (bytes, what, kind) in [
            (&pem.ca, "the CA bundle", "CERTIFICATE"),
            (&pem.cert, "the client certificate", "CERTIFICATE"),
            (&pem.key, "the client key", "PRIVATE KEY"),
        ] {
            if !has(bytes, kind) {
                return Err(EtcdError::Flags(format!("{what} in {origin} holds no PEM {kind} block")));
            }
        }
        use super::tls::{check_certificates, Want};
        check_certificates(&pem.ca, &format!("the CA bundle in {origin}"), Want::Ca)?;
        check_certificates(&pem.cert, &format!("the client certificate in {origin}"), Want::Current)?;
        let tls = TlsOptions::new()
            .ca_certificate(Certificate::from_pem(pem.ca.clone()))
            .identity(Identity::from_pem(pem.cert.clone(), pem.key.clone()));
        Ok(Self {
            tls: Some(tls),
            origin: TlsOrigin::Cluster(origin),
            routes: Routes::default(),
            dial_timeout: args.dial_timeout,
            command_timeout: args.command_timeout,
        })
    }

    /// etcdctl's rule: a URL without a scheme is https when TLS files are given.
    pub fn normalize(&self, endpoint: &str) -> String {
        let endpoint = endpoint.trim();
        if endpoint.contains("://") {
            return endpoint.to_string();
        }
        if self.tls.is_some() {
            format!("https://{endpoint}")
        } else {
            format!("http://{endpoint}")
        }
    }

    /// A client bound to exactly one URL (never load-balanced across members,
    /// so what it reports is that member's view).
    pub async fn client(&self, endpoint: &str) -> Result<Client, String> {
        let url = self.normalize(endpoint);
        if url.starts_with("http://") && self.tls.is_some() {
            return Err(format!("{url} is plain http but TLS files were given: use https://"));
        }
        // The per-call limit is ours (`timed`), so a silent member always reads "no answer within Ns".
        let mut options = ConnectOptions::new().with_connect_timeout(self.dial_timeout);
        let mut dial = url.clone();
        let route = self.routes.get(&url);
        if url.starts_with("https://") {
            let mut tls = self.tls.clone().unwrap_or_default();
            if let Some(route) = &route {
                dial = format!("https://{}", route.address);
                tls = tls.domain_name(route.server_name.clone());
            }
            options = options.with_tls(tls);
        } else if let Some(route) = &route {
            dial = format!("http://{}", route.address);
        }
        timed(self.command_timeout, async { Client::connect([dial.as_str()], Some(options)).await.map_err(describe) })
            .await
    }

    /// Explains a failure in terms of the flags (or the cluster objects) the TLS material came from.
    pub fn explain(&self, error: &str) -> String {
        self.origin.explain(error)
    }

    /// Explains a failure at `endpoint`: the TLS material's origin, and for a member
    /// reached through a port-forward, the tunnel and its last failure.
    pub fn explain_at(&self, endpoint: &str, error: &str) -> String {
        let explained = self.origin.explain(error);
        match self.routes.get(&self.normalize(endpoint)) {
            Some(route) if route.via.starts_with("port-forward") => {
                let tunnel = route
                    .last_error
                    .and_then(|slot| slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone())
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default();
                format!("{explained} (through {}{tunnel})", route.via)
            }
            _ => explained,
        }
    }
}

/// Runs `future` for at most `limit`; a late answer becomes "no answer within Ns".
pub async fn timed<T>(limit: Duration, future: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    match tokio::time::timeout(limit, future).await {
        Ok(result) => result,
        Err(_) => Err(EtcdError::Timeout { limit }.to_string()),
    }
}

/// One call to etcd for at most `limit`: its answer, or what went wrong by kind.
pub async fn call<T>(
    limit: Duration,
    future: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, EtcdError> {
    match tokio::time::timeout(limit, future).await {
        Ok(result) => result.map_err(EtcdError::from),
        Err(_) => Err(EtcdError::Timeout { limit }),
    }
}

/// An etcd error in one readable line: the gRPC message and the innermost
/// cause (where tonic keeps "Connection refused" or the TLS reason).
pub fn describe(error: etcd_client::Error) -> String {
    EtcdError::from(error).to_string()
}

/// A gRPC status's message with its innermost cause, or its code when it says nothing.
fn status_text(status: &tonic::Status) -> String {
    let mut text = status.message().to_string();
    let mut innermost = None;
    let mut source = std::error::Error::source(status);
    while let Some(cause) = source {
        innermost = Some(cause.to_string());
        source = cause.source();
    }
    if let Some(cause) = innermost.filter(|c| !text.contains(c.as_str())) {
        text = if text.is_empty() { cause } else { format!("{text}: {cause}") };
    }
    if text.is_empty() {
        format!("{:?}", status.code())
    } else {
        text
    }
}

/// Any error with its causes, one line.
pub fn describe_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: tonic::Code, message: &str) -> EtcdError {
        EtcdError::from(etcd_client::Error::GRpcStatus(tonic::Status::new(code, message)))
    }

    #[test]
    fn grpc_codes_map_to_kinds_and_the_words_stay_etcds() {
        let compacted = status(tonic::Code::OutOfRange, "etcdserver: mvcc: required revision has been compacted");
        assert!(matches!(compacted, EtcdError::Compacted(_)));
        assert_eq!(compacted.to_string(), "etcdserver: mvcc: required revision has been compacted");
        let future = status(tonic::Code::OutOfRange, "etcdserver: mvcc: required revision is a future revision");
        assert!(matches!(future, EtcdError::Status { code: tonic::Code::OutOfRange, .. }));
        let full = status(tonic::Code::ResourceExhausted, "etcdserver: mvcc: database space exceeded");
        assert!(matches!(full, EtcdError::NoSpace(_)));
        assert_eq!(full.to_string(), "etcdserver: mvcc: database space exceeded");
        let busy = status(tonic::Code::ResourceExhausted, "etcdserver: too many requests");
        assert!(matches!(busy, EtcdError::Status { .. }));
        let denied = status(tonic::Code::PermissionDenied, "etcdserver: permission denied");
        assert!(matches!(denied, EtcdError::PermissionDenied(_)) && !denied.broke_off());
        let refused = status(tonic::Code::Unavailable, "tcp connect error: Connection refused (os error 111)");
        assert!(matches!(refused, EtcdError::Unavailable(_)) && refused.broke_off());
        let tls = status(tonic::Code::Unavailable, "invalid peer certificate: UnknownIssuer");
        assert!(matches!(tls, EtcdError::Tls(_)) && tls.broke_off());
        assert_eq!(tls.to_string(), "invalid peer certificate: UnknownIssuer");
        let cancelled = status(tonic::Code::Cancelled, "");
        assert!(matches!(cancelled, EtcdError::Status { .. }) && cancelled.broke_off());
        assert_eq!(cancelled.to_string(), "Cancelled", "a status without words says its code");
        assert_eq!(describe(etcd_client::Error::InvalidArgs("no endpoint".into())), "invalid arguments: no endpoint");
        assert_eq!(String::from(full), "etcdserver: mvcc: database space exceeded");
    }

    #[tokio::test]
    async fn a_call_past_its_limit_is_a_timeout_saying_no_answer() {
        let never = std::future::pending::<Result<(), etcd_client::Error>>();
        let late = call(Duration::from_millis(20), never).await.unwrap_err();
        assert!(matches!(late, EtcdError::Timeout { limit } if limit == Duration::from_millis(20)));
        assert!(!late.broke_off());
        assert_eq!(late.to_string(), "no answer within 20ms");
        let never = std::future::pending::<Result<(), String>>();
        assert_eq!(timed(Duration::from_millis(20), never).await.unwrap_err(), "no answer within 20ms");
    }
}
