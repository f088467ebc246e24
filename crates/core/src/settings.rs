//! The plain settings core's clients and executors take. The console builds
//! them from its flags; the lab and the tests build them by hand.

use std::path::PathBuf;
use std::time::Duration;

/// The OpenShift default etcd quota (--quota-backend-bytes on OpenShift 4.x).
pub const DEFAULT_QUOTA_BYTES: u64 = 8 * 1024 * 1024 * 1024;

/// How to reach etcd directly, with etcdctl's conventions.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// Client URLs used to discover the members; empty: found through the cluster, else 127.0.0.1:2379.
    pub endpoints: Vec<String>,
    /// CA bundle that signed the members' server certificates (PEM).
    pub cacert: Option<PathBuf>,
    /// Client certificate (PEM).
    pub cert: Option<PathBuf>,
    /// Client private key (PEM).
    pub key: Option<PathBuf>,
    /// Time limit of every call to a member.
    pub command_timeout: Duration,
    /// Time limit to open a connection to a member.
    pub dial_timeout: Duration,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            endpoints: Vec::new(),
            cacert: None,
            cert: None,
            key: None,
            command_timeout: Duration::from_secs(5),
            dial_timeout: Duration::from_secs(2),
        }
    }
}

/// How etcd found through the cluster is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtcdVia {
    /// The pod IP when it answers, else a port-forward.
    Auto,
    PodIp,
    PortForward,
}

/// How to reach the Kubernetes/OpenShift API, with kubectl's conventions.
#[derive(Debug, Clone)]
pub struct KubeSettings {
    /// Kubeconfig file (None: $KUBECONFIG, then ~/.kube/config).
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (None: its current context).
    pub context: Option<String>,
    /// Namespace, where one is needed (None: the context's).
    pub namespace: Option<String>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// On a management cluster: the etcd of this HostedCluster (NAMESPACE/NAME).
    pub hosted_cluster: Option<String>,
    pub etcd_via: EtcdVia,
}

impl KubeSettings {
    /// The kubeconfig's user of the chosen context (the name of its `users` entry), when the
    /// kubeconfig can be read: who acts, for the timeline and the audit log. Reads a local file.
    pub fn user(&self) -> Option<String> {
        use kube::config::Kubeconfig;
        let config = match &self.kubeconfig {
            Some(path) => Kubeconfig::read_from(path),
            None => Kubeconfig::read(),
        }
        .ok()?;
        let context = self.context.clone().or(config.current_context.clone())?;
        config.contexts.iter().find(|c| c.name == context)?.context.as_ref()?.user.clone().filter(|u| !u.is_empty())
    }
}

impl Default for KubeSettings {
    fn default() -> Self {
        KubeSettings {
            kubeconfig: None,
            context: None,
            namespace: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            hosted_cluster: None,
            etcd_via: EtcdVia::Auto,
        }
    }
}
