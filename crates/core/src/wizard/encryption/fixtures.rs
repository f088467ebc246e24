//! Readings of a cluster as the encryption engine sees them, for its tests and
//! the console's screen tests.

use std::time::{Duration, SystemTime};

use super::*;

pub fn condition(reason: &str, message: &str, since: &str) -> Option<Condition> {
    let status = if reason == "EncryptionCompleted" { "True" } else { "False" };
    Some(Condition { status: status.into(), reason: reason.into(), message: message.into(), since: Some(since.into()) })
}

pub fn operator(resource: &str, encrypted: Option<Condition>) -> OperatorReading {
    OperatorReading { resource: resource.into(), encrypted, degraded: Vec::new() }
}

pub fn co(name: &str, degraded: &str) -> OperatorStatus {
    OperatorStatus {
        name: name.into(),
        available: "True".into(),
        progressing: "False".into(),
        degraded: degraded.into(),
        message: if degraded == "True" { "EncryptionMigrationControllerDegraded: boom".into() } else { String::new() },
    }
}

/// The resources each operator migrates (4.14).
const RESOURCES: [(&str, &str); 3] = [
    ("openshiftapiserver", "routes.route.openshift.io"),
    ("kubeapiserver", "secrets, configmaps"),
    (
        "authentication.operator.openshift.io",
        "oauthaccesstokens.oauth.openshift.io, oauthauthorizetokens.oauth.openshift.io",
    ),
];

/// The message an operator writes beside `reason`.
pub fn message(reason: &str, kind: &str, resources: &str) -> String {
    match reason {
        "EncryptionCompleted" => format!("All resources encrypted: {resources}"),
        "EncryptionInProgress" => format!("Encryption ({kind}) in progress for: {resources}"),
        "DecryptionInProgress" => format!("Decryption in progress for: {resources}"),
        "DecryptionCompleted" => "Encryption mode set to identity and everything is decrypted".into(),
        _ => "Encryption is not enabled".into(),
    }
}

/// A cluster with `kind` configured and every operator on `reason`.
pub fn reading(kind: &str, reason: &str, since: &str) -> Reading {
    Reading {
        server: "https://api.lab:6443".into(),
        cluster_id: Some("5eed".into()),
        version: Some("4.14.8".into()),
        spec_type: Some(kind.into()),
        resource_version: Some("41".into()),
        operators: RESOURCES
            .iter()
            .map(|(r, resources)| operator(r, condition(reason, &message(reason, kind, resources), since)))
            .collect(),
        cluster_operators: ["kube-apiserver", "openshift-apiserver", "authentication"]
            .iter()
            .map(|n| co(n, "False"))
            .collect(),
        keys: Vec::new(),
        hosted_clusters: Vec::new(),
        may_patch: Some(true),
        not_openshift: false,
        problems: Vec::new(),
    }
}

pub fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
}
