//! Building clients: one per member URL, all with the same TLS material and
//! time limits. Clients connect lazily, so building one never waits.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use etcd_client::{Client, ConnectOptions, TlsOptions};

use super::tls::TlsFiles;
use crate::cli::ConnectionArgs;

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
}

#[derive(Clone)]
pub struct Connector {
    tls: Option<TlsOptions>,
    pub files: TlsFiles,
    pub dial_timeout: Duration,
    pub command_timeout: Duration,
}

impl Connector {
    pub fn from_args(args: &ConnectionArgs) -> Result<Self, EtcdError> {
        let files = TlsFiles::from_args(args);
        let tls = files.load()?;
        Ok(Self { tls, files, dial_timeout: args.dial_timeout, command_timeout: args.command_timeout })
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
        if url.starts_with("https://") {
            options = options.with_tls(self.tls.clone().unwrap_or_default());
        }
        timed(self.command_timeout, async { Client::connect([url.as_str()], Some(options)).await.map_err(describe) })
            .await
    }

    /// Explains a failure in terms of the flags the user gave.
    pub fn explain(&self, error: &str) -> String {
        self.files.explain(error)
    }
}

/// Runs `future` for at most `limit`; a late answer becomes "no answer within Ns".
pub async fn timed<T>(limit: Duration, future: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    match tokio::time::timeout(limit, future).await {
        Ok(result) => result,
        Err(_) => Err(format!("no answer within {}", humantime::format_duration(limit))),
    }
}

/// An etcd error in one readable line: the gRPC message and the innermost
/// cause (where tonic keeps "Connection refused" or the TLS reason).
pub fn describe(error: etcd_client::Error) -> String {
    match error {
        etcd_client::Error::GRpcStatus(status) => {
            let mut text = status.message().to_string();
            let mut innermost = None;
            let mut source = std::error::Error::source(&status);
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
        other => describe_chain(&other),
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
