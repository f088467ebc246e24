//! Where the members are looked for: the endpoints given (as etcdctl), or the
//! cluster the kubeconfig points at (its etcd pods and client secret).

use std::sync::Arc;

use super::Connector;
use crate::cluster::MemberIdentity;
use crate::etcd::discovery::{Finder, Found, Scope};
use crate::etcd::tls::TlsFiles;
use crate::settings::{ConnectionSettings, KubeSettings};

/// etcd's default client address, used when nothing else says where etcd is.
pub const DEFAULT_ENDPOINT: &str = "127.0.0.1:2379";

#[derive(Clone)]
pub enum EtcdSource {
    Endpoints { seeds: Vec<String>, connector: Connector },
    Cluster(Finder),
}

/// A source made ready to ask: the seed URLs and a connector that reaches them.
pub struct Reached {
    pub seeds: Vec<String>,
    pub connector: Connector,
    /// What was found through the cluster (holds its port-forwards open).
    pub found: Option<Arc<Found>>,
}

impl EtcdSource {
    /// The endpoints when given; else the cluster when a kubeconfig is there (or
    /// `--hosted-cluster` says so); else 127.0.0.1:2379. Err is bad input (exit 2).
    pub fn choose(connection: &ConnectionSettings, kube: Option<&KubeSettings>) -> Result<EtcdSource, String> {
        if let Some(kube) = kube {
            let scope = match &kube.hosted_cluster {
                Some(_) if !connection.endpoints.is_empty() => {
                    return Err("give either --endpoints (or ETCDCTL_ENDPOINTS) or --hosted-cluster, not both".into())
                }
                Some(text) => Some(Scope::parse_hosted(text)?),
                None if connection.endpoints.is_empty() && crate::openshift::configured(kube) => {
                    Some(Scope::Standalone)
                }
                None => None,
            };
            if let Some(scope) = scope {
                // Certificate files given beside a kubeconfig are checked now, as with --endpoints.
                TlsFiles::from_args(connection).load().map_err(|e| e.to_string())?;
                return Ok(EtcdSource::Cluster(Finder {
                    kube: kube.clone(),
                    scope,
                    via: kube.etcd_via,
                    connection: connection.clone(),
                }));
            }
        }
        let seeds = if connection.endpoints.is_empty() {
            vec![DEFAULT_ENDPOINT.to_string()]
        } else {
            connection.endpoints.clone()
        };
        let connector = Connector::from_args(connection).map_err(|e| e.to_string())?;
        Ok(EtcdSource::Endpoints { seeds, connector })
    }

    /// What the console is looking at, for its title line.
    pub fn describe(&self) -> String {
        match self {
            EtcdSource::Endpoints { seeds, .. } => {
                let short =
                    |e: &String| e.split_once("://").map(|(_, rest)| rest.to_string()).unwrap_or_else(|| e.clone());
                match seeds.as_slice() {
                    [one] => short(one),
                    [first, rest @ ..] => format!("{} +{}", short(first), rest.len()),
                    [] => String::new(),
                }
            }
            EtcdSource::Cluster(finder) => finder.describe(),
        }
    }

    /// What to check when nothing answers.
    pub fn hint(&self) -> &'static str {
        match self {
            EtcdSource::Endpoints { .. } => "Check --endpoints (or ETCDCTL_ENDPOINTS) and that the members run.",
            EtcdSource::Cluster(_) => {
                "Check the etcd pods, or give --endpoints and the certificate flags to skip the cluster."
            }
        }
    }

    pub async fn reach(&self) -> Result<Reached, String> {
        match self {
            EtcdSource::Endpoints { seeds, connector } => {
                Ok(Reached { seeds: seeds.clone(), connector: connector.clone(), found: None })
            }
            EtcdSource::Cluster(finder) => {
                let found = finder.find().await?;
                Ok(Reached { seeds: found.seeds(), connector: found.connector.clone(), found: Some(Arc::new(found)) })
            }
        }
    }
}

impl Reached {
    /// Routes the members' URLs (through port-forwards where needed).
    pub async fn route(&self, members: &[MemberIdentity]) {
        if let Some(found) = &self.found {
            found.route_members(members).await;
        }
    }
}
