//! Certificate signing requests: which are pending, what each asks for
//! (decoded from its PKCS#10 request), whether it is what a restore expects
//! (a node-bootstrapper client CSR, or a kubelet-serving CSR of a known
//! node), and approving them through the `approval` subresource. The safety
//! rules (never approve an unexpected CSR in bulk, nothing under
//! --read-only, only pending ones) are in `plan`, whatever the front end.

use std::time::{Duration, SystemTime};

use k8s_openapi::api::certificates::v1::{CertificateSigningRequest, CertificateSigningRequestCondition};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams, PostParams};
use serde::Serialize;

use super::{within, Connection};

pub const BOOTSTRAPPER: &str = "system:serviceaccount:openshift-machine-config-operator:node-bootstrapper";
pub const CLIENT_SIGNER: &str = "kubernetes.io/kube-apiserver-client-kubelet";
pub const SERVING_SIGNER: &str = "kubernetes.io/kubelet-serving";
const NODE_PREFIX: &str = "system:node:";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CsrClass {
    /// A new node's kubelet asking for its client certificate (approve during a restore).
    NodeBootstrapper,
    /// A known node's kubelet asking for its serving certificate.
    KubeletServing,
    /// Anything else: shown, flagged, never approved in bulk.
    Unexpected,
}

impl CsrClass {
    pub fn as_str(self) -> &'static str {
        match self {
            CsrClass::NodeBootstrapper => "node-bootstrapper",
            CsrClass::KubeletServing => "kubelet-serving",
            CsrClass::Unexpected => "unexpected",
        }
    }

    pub fn is_valid(self) -> bool {
        self != CsrClass::Unexpected
    }
}

/// What the PKCS#10 request itself asks for.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DecodedRequest {
    pub common_name: Option<String>,
    pub organizations: Vec<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<String>,
}

/// A node the cluster knows, with the addresses its serving certificate may name.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownNode {
    pub name: String,
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PendingCsr {
    pub name: String,
    pub signer: String,
    pub requestor: String,
    pub class: CsrClass,
    /// Why it is in its class (for unexpected ones: what is wrong).
    pub reason: String,
    pub usages: Vec<String>,
    pub request: Option<DecodedRequest>,
    #[serde(skip)]
    pub created: Option<SystemTime>,
}

impl PendingCsr {
    pub fn age(&self, now: SystemTime) -> Option<Duration> {
        self.created.and_then(|c| now.duration_since(c).ok())
    }

    /// `CN=system:node:x O=system:nodes` as a person reads it.
    pub fn subject(&self) -> String {
        let Some(request) = &self.request else { return "(request not readable)".into() };
        let mut parts = Vec::new();
        if let Some(cn) = &request.common_name {
            parts.push(format!("CN={cn}"));
        }
        parts.extend(request.organizations.iter().map(|o| format!("O={o}")));
        parts.extend(request.dns_names.iter().map(|d| format!("DNS={d}")));
        parts.extend(request.ip_addresses.iter().map(|i| format!("IP={i}")));
        parts.join(" ")
    }
}

/// Decodes a PEM PKCS#10 request (as `spec.request` carries it, base64 aside).
pub fn decode_request(pem: &[u8]) -> Result<DecodedRequest, String> {
    use x509_parser::certification_request::X509CertificationRequest;
    use x509_parser::extensions::{GeneralName, ParsedExtension};
    use x509_parser::prelude::FromDer;
    // Parsed, not verified: the API server checked the request's signature when it
    // was created, and verifying 5,000 of them again costs 0.4 s of CPU.
    let (_, block) = x509_parser::pem::parse_x509_pem(pem).map_err(|e| format!("the request is not PEM: {e}"))?;
    if !block.label.ends_with("CERTIFICATE REQUEST") {
        return Err(format!("the PEM block is a {}, not a CERTIFICATE REQUEST", block.label));
    }
    let (_, parsed) =
        X509CertificationRequest::from_der(&block.contents).map_err(|e| format!("not a PKCS#10 request: {e}"))?;
    let subject = &parsed.certification_request_info.subject;
    let text = |a: &x509_parser::x509::AttributeTypeAndValue<'_>| a.as_str().ok().map(str::to_string);
    // Go's x509 (the API server, the signers) takes the last CN of several, a reader the
    // first: a subject with two could be approved for one node and be another. Refused.
    let common_names = subject.iter_common_name().count();
    if common_names > 1 {
        return Err(format!("its subject carries {common_names} common names (CN)"));
    }
    let mut request = DecodedRequest {
        common_name: subject.iter_common_name().next().and_then(text),
        organizations: subject.iter_organization().filter_map(text).collect(),
        ..DecodedRequest::default()
    };
    for extension in parsed.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::SubjectAlternativeName(san) = extension {
            for name in &san.general_names {
                match name {
                    GeneralName::DNSName(dns) => request.dns_names.push(dns.to_string()),
                    GeneralName::IPAddress(bytes) => {
                        let ip = match bytes.len() {
                            4 => <[u8; 4]>::try_from(*bytes).ok().map(|b| std::net::IpAddr::from(b).to_string()),
                            16 => <[u8; 16]>::try_from(*bytes).ok().map(|b| std::net::IpAddr::from(b).to_string()),
                            _ => None,
                        };
                        request.ip_addresses.extend(ip);
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(request)
}

fn only_usages(usages: &[String], allowed: &[&str], required: &str) -> bool {
    usages.iter().any(|u| u == required) && usages.iter().all(|u| allowed.contains(&u.as_str()))
}

/// Sorts a pending CSR into its class, with the reason.
pub fn classify(
    signer: &str,
    requestor: &str,
    usages: &[String],
    request: Option<&DecodedRequest>,
    nodes: &[KnownNode],
) -> (CsrClass, String) {
    let unexpected = |why: String| (CsrClass::Unexpected, why);
    let Some(request) = request else { return unexpected("its request cannot be decoded".into()) };
    let cn = request.common_name.as_deref().unwrap_or("");
    let Some(node) = cn.strip_prefix(NODE_PREFIX) else {
        return unexpected(format!("its subject {cn:?} is not a node (system:node:<name>)"));
    };
    if request.organizations != ["system:nodes"] {
        return unexpected(format!("its organisation is {:?}, not system:nodes", request.organizations));
    }
    match signer {
        CLIENT_SIGNER => {
            if requestor != BOOTSTRAPPER {
                return unexpected(format!("a kubelet client CSR filed by {requestor}, not the node-bootstrapper"));
            }
            if !request.dns_names.is_empty() || !request.ip_addresses.is_empty() {
                return unexpected("a client CSR that names hosts or addresses".into());
            }
            if !only_usages(usages, &["digital signature", "key encipherment", "client auth"], "client auth") {
                return unexpected(format!("usages {usages:?} are not a kubelet client's"));
            }
            let known = if nodes.iter().any(|n| n.name == node) { "a known node" } else { "a node not registered yet" };
            (
                CsrClass::NodeBootstrapper,
                format!("client certificate for {known}, {node}, filed by the node-bootstrapper"),
            )
        }
        SERVING_SIGNER => {
            if requestor != cn {
                return unexpected(format!("filed by {requestor} for {cn}: a node may only ask for itself"));
            }
            let Some(known) = nodes.iter().find(|n| n.name == node) else {
                return unexpected(format!("serving certificate for {node}, which is not a node of this cluster"));
            };
            if !only_usages(usages, &["digital signature", "key encipherment", "server auth"], "server auth") {
                return unexpected(format!("usages {usages:?} are not a kubelet's serving usages"));
            }
            let foreign: Vec<&String> = request
                .ip_addresses
                .iter()
                .chain(&request.dns_names)
                .filter(|a| !known.addresses.contains(a) && **a != known.name)
                .collect();
            if !foreign.is_empty() {
                return unexpected(format!("names {foreign:?}, which are not {node}'s addresses"));
            }
            (CsrClass::KubeletServing, format!("serving certificate for the known node {node}"))
        }
        other => unexpected(format!("signer {other} is not a kubelet's")),
    }
}

/// Pending = neither approved nor denied (kubectl's CONDITION `Pending`).
pub fn is_pending(csr: &CertificateSigningRequest) -> bool {
    let conditions = csr.status.as_ref().and_then(|s| s.conditions.as_ref());
    !conditions.is_some_and(|c| c.iter().any(|c| c.type_ == "Approved" || c.type_ == "Denied"))
}

pub fn known_nodes(nodes: &[Node]) -> Vec<KnownNode> {
    nodes
        .iter()
        .filter_map(|n| {
            let name = n.metadata.name.clone()?;
            let addresses = n
                .status
                .as_ref()
                .and_then(|s| s.addresses.as_ref())
                .map(|a| a.iter().map(|a| a.address.clone()).collect())
                .unwrap_or_default();
            Some(KnownNode { name, addresses })
        })
        .collect()
}

/// One pending CSR, classified; None when it is approved or denied. The
/// request is decoded by `decode` (so a caller can keep decodings).
pub fn to_pending(
    csr: &CertificateSigningRequest,
    nodes: &[KnownNode],
    decode: impl FnOnce(&[u8]) -> Option<DecodedRequest>,
) -> Option<PendingCsr> {
    if !is_pending(csr) {
        return None;
    }
    let spec = &csr.spec;
    let usages = spec.usages.clone().unwrap_or_default();
    let requestor = spec.username.clone().unwrap_or_default();
    let request = decode(&spec.request.0);
    let (class, reason) = classify(&spec.signer_name, &requestor, &usages, request.as_ref(), nodes);
    Some(PendingCsr {
        name: csr.metadata.name.clone().unwrap_or_default(),
        signer: spec.signer_name.clone(),
        requestor,
        class,
        reason,
        usages,
        request,
        created: csr.metadata.creation_timestamp.as_ref().map(|t| SystemTime::from(t.0)),
    })
}

pub fn pending_from(csrs: &[CertificateSigningRequest], nodes: &[KnownNode]) -> Vec<PendingCsr> {
    csrs.iter().filter_map(|csr| to_pending(csr, nodes, |pem| decode_request(pem).ok())).collect()
}

/// Every pending CSR, classified against the cluster's nodes.
pub async fn pending(connection: &Connection) -> Result<Vec<PendingCsr>, String> {
    let csrs: Api<CertificateSigningRequest> = Api::all(connection.client.clone());
    let nodes: Api<Node> = Api::all(connection.client.clone());
    let all = within(connection, "listing CSRs", csrs.list(&ListParams::default())).await?;
    let nodes = within(connection, "listing nodes", nodes.list(&ListParams::default())).await?;
    Ok(pending_from(&all.items, &known_nodes(&nodes.items)))
}

/// Which CSRs to approve.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    Named(Vec<String>),
    AllValid,
}

#[derive(Debug, Clone)]
pub struct ApprovalPlan {
    pub approve: Vec<PendingCsr>,
    /// Names left out, and why.
    pub refused: Vec<(String, String)>,
}

/// What an approval would do; the safety rules live here.
pub fn plan(pending: &[PendingCsr], selection: &Selection, read_only: bool) -> Result<ApprovalPlan, String> {
    if read_only {
        return Err("read-only: approving CSRs is disabled (--read-only)".into());
    }
    let mut plan = ApprovalPlan { approve: Vec::new(), refused: Vec::new() };
    match selection {
        Selection::AllValid => {
            for csr in pending {
                if csr.class.is_valid() {
                    plan.approve.push(csr.clone());
                } else {
                    plan.refused
                        .push((csr.name.clone(), format!("unexpected, never approved in bulk: {}", csr.reason)));
                }
            }
        }
        Selection::Named(names) => {
            for name in names {
                match pending.iter().find(|c| &c.name == name) {
                    Some(csr) if !plan.approve.iter().any(|c| c.name == csr.name) => plan.approve.push(csr.clone()),
                    Some(_) => {}
                    None => plan.refused.push((name.clone(), "not pending (approved, denied, or no such CSR)".into())),
                }
            }
        }
    }
    Ok(plan)
}

/// What a denial would do: only named pending CSRs, never with --read-only
/// (a denial is final: the node must file a new request).
pub fn plan_denial(pending: &[PendingCsr], names: &[String], read_only: bool) -> Result<ApprovalPlan, String> {
    if read_only {
        return Err("read-only: denying CSRs is disabled (--read-only)".into());
    }
    let mut plan = plan(pending, &Selection::Named(names.to_vec()), false)?;
    plan.refused.iter_mut().for_each(|(_, why)| *why = why.replace("approved, denied", "already approved or denied"));
    Ok(plan)
}

/// Approves one CSR as `oc adm certificate approve` does: its conditions plus
/// Approved, written to the approval subresource at the version read (a CSR
/// someone else approved or denied meanwhile is left alone).
pub async fn approve(connection: &Connection, name: &str) -> Result<(), String> {
    decide(connection, name, "Approved", "EtcdConsoleApprove", "This CSR was approved by etcd-console.").await
}

/// Denies one CSR (`oc adm certificate deny`), the same way.
pub async fn deny(connection: &Connection, name: &str) -> Result<(), String> {
    decide(connection, name, "Denied", "EtcdConsoleDeny", "This CSR was denied by etcd-console.").await
}

async fn decide(connection: &Connection, name: &str, verdict: &str, reason: &str, message: &str) -> Result<(), String> {
    let csrs: Api<CertificateSigningRequest> = Api::all(connection.client.clone());
    let mut csr = within(connection, &format!("reading CSR {name}"), csrs.get(name)).await?;
    if !is_pending(&csr) {
        return Err(format!("CSR {name} is no longer pending"));
    }
    let status = csr.status.get_or_insert_with(Default::default);
    status.conditions.get_or_insert_with(Vec::new).push(CertificateSigningRequestCondition {
        type_: verdict.into(),
        status: "True".into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_update_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff_now())),
        ..CertificateSigningRequestCondition::default()
    });
    let action = if verdict == "Approved" { "approving" } else { "denying" };
    within(
        connection,
        &format!("{action} CSR {name}"),
        csrs.replace_subresource("approval", name, &PostParams::default(), &csr),
    )
    .await?;
    let audit = if verdict == "Approved" { "csr approve" } else { "csr deny" };
    tracing::info!(target: "audit", action = audit, csr = name, "done");
    Ok(())
}

/// Whether this kubeconfig's user may approve CSRs (SelfSubjectAccessReview
/// for `update certificatesigningrequests/approval`); Err when it cannot be asked.
pub async fn may_approve(connection: &Connection) -> Result<bool, super::ApiError> {
    let what = super::Access {
        verb: "update",
        group: "certificates.k8s.io",
        resource: "certificatesigningrequests",
        subresource: Some("approval"),
        name: None,
    };
    super::may(connection, &what).await
}

fn jiff_now() -> k8s_openapi::jiff::Timestamp {
    k8s_openapi::jiff::Timestamp::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(cn: &str, orgs: &[&str]) -> DecodedRequest {
        DecodedRequest {
            common_name: Some(cn.into()),
            organizations: orgs.iter().map(|o| o.to_string()).collect(),
            ..DecodedRequest::default()
        }
    }

    fn nodes() -> Vec<KnownNode> {
        vec![KnownNode { name: "master-1".into(), addresses: vec!["10.0.0.11".into()] }]
    }

    fn usages(list: &[&str]) -> Vec<String> {
        list.iter().map(|u| u.to_string()).collect()
    }

    #[test]
    fn the_restores_csrs_are_valid() {
        let client = usages(&["digital signature", "client auth"]);
        let (class, _) = classify(
            CLIENT_SIGNER,
            BOOTSTRAPPER,
            &client,
            Some(&request("system:node:new-3", &["system:nodes"])),
            &nodes(),
        );
        assert_eq!(class, CsrClass::NodeBootstrapper);
        let serving = usages(&["digital signature", "server auth"]);
        let mut asks = request("system:node:master-1", &["system:nodes"]);
        asks.ip_addresses = vec!["10.0.0.11".into()];
        let (class, _) = classify(SERVING_SIGNER, "system:node:master-1", &serving, Some(&asks), &nodes());
        assert_eq!(class, CsrClass::KubeletServing);
    }

    #[test]
    fn anything_else_is_unexpected_and_says_why() {
        let serving = usages(&["digital signature", "server auth"]);
        let node_req = request("system:node:master-1", &["system:nodes"]);
        let cases = [
            classify(SERVING_SIGNER, "system:node:worker-9", &serving, Some(&node_req), &nodes()).1,
            classify(
                SERVING_SIGNER,
                "system:node:ghost",
                &serving,
                Some(&request("system:node:ghost", &["system:nodes"])),
                &nodes(),
            )
            .1,
            classify(CLIENT_SIGNER, "alice", &usages(&["client auth"]), Some(&node_req), &nodes()).1,
            classify(
                CLIENT_SIGNER,
                BOOTSTRAPPER,
                &usages(&["client auth"]),
                Some(&request("admin", &["system:masters"])),
                &nodes(),
            )
            .1,
            classify("example.com/custom", "system:node:master-1", &serving, Some(&node_req), &nodes()).1,
            classify(SERVING_SIGNER, "system:node:master-1", &usages(&["client auth"]), Some(&node_req), &nodes()).1,
        ];
        let expected = [
            "a node may only ask for itself",
            "not a node of this cluster",
            "not the node-bootstrapper",
            "is not a node",
            "is not a kubelet's",
            "not a kubelet's serving usages",
        ];
        for (reason, words) in cases.iter().zip(expected) {
            assert!(reason.contains(words), "{reason:?} should say {words:?}");
        }
        let mut foreign = node_req.clone();
        foreign.ip_addresses = vec!["192.168.9.9".into()];
        let (class, reason) = classify(SERVING_SIGNER, "system:node:master-1", &serving, Some(&foreign), &nodes());
        assert_eq!(class, CsrClass::Unexpected);
        assert!(reason.contains("192.168.9.9"));
        assert_eq!(classify(SERVING_SIGNER, "x", &serving, None, &nodes()).0, CsrClass::Unexpected);
    }

    fn pending_csr(name: &str, class: CsrClass) -> PendingCsr {
        PendingCsr {
            name: name.into(),
            signer: CLIENT_SIGNER.into(),
            requestor: BOOTSTRAPPER.into(),
            class,
            reason: "test".into(),
            usages: Vec::new(),
            request: None,
            created: None,
        }
    }

    #[test]
    fn bulk_approval_never_takes_an_unexpected_csr_and_read_only_takes_none() {
        let pending = [
            pending_csr("a", CsrClass::NodeBootstrapper),
            pending_csr("b", CsrClass::Unexpected),
            pending_csr("c", CsrClass::KubeletServing),
        ];
        let all = plan(&pending, &Selection::AllValid, false).unwrap();
        assert_eq!(all.approve.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(all.refused.len(), 1);
        assert!(all.refused[0].1.starts_with("unexpected"));
        let named = plan(&pending, &Selection::Named(vec!["b".into(), "zzz".into(), "b".into()]), false).unwrap();
        assert_eq!(named.approve.len(), 1, "named explicitly, an unexpected CSR may be approved, once");
        assert_eq!(named.refused, [("zzz".to_string(), "not pending (approved, denied, or no such CSR)".to_string())]);
        assert!(plan(&pending, &Selection::AllValid, true).is_err());
    }

    #[test]
    fn a_kubelet_request_decodes() {
        // A node-bootstrapper CSR of a real OKD 4.18 cluster, as the kubelet filed it.
        let csr = crate::referee::object(
            "sno-2023-03-09T14-31-10Z/certificatesigningrequest.certificates.k8s.io.csr-dxbnz.json",
        );
        let request = csr["spec"]["request"].as_str().unwrap();
        use base64::Engine;
        let pem = base64::engine::general_purpose::STANDARD.decode(request).unwrap();
        let decoded = decode_request(&pem).unwrap();
        assert_eq!(decoded.common_name.as_deref(), Some("system:node:okd4-control-plane-1.lab.okd.local"));
        assert_eq!(decoded.organizations, ["system:nodes"]);
        assert!(decode_request(b"junk").is_err());
    }

    #[test]
    fn a_subject_with_two_common_names_is_not_decoded_so_never_valid() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        // Two CN attributes: readers disagree on which one counts.
        params.distinguished_name.push(rcgen::DnType::CommonName, "system:node:new-worker");
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "system:nodes");
        let mut pem = params.serialize_request(&key).unwrap().pem().unwrap();
        let single = decode_request(pem.as_bytes()).unwrap();
        assert_eq!(single.common_name.as_deref(), Some("system:node:new-worker"));
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, "system:node:new-worker");
        params.distinguished_name = dn;
        params.custom_extensions.clear();
        // rcgen keeps one value per attribute type, so the second CN goes in as a raw RDN.
        let raw = rcgen::DnValue::Utf8String("system:node:master-0".into());
        params.distinguished_name.push(rcgen::DnType::CustomDnType(vec![2, 5, 4, 3]), raw);
        pem = params.serialize_request(&key).unwrap().pem().unwrap();
        let error = decode_request(pem.as_bytes()).err().unwrap_or_default();
        assert!(error.contains("2 common names"), "{error}");
        let (class, _) = classify(CLIENT_SIGNER, BOOTSTRAPPER, &["client auth".to_string()], None, &[]);
        assert_eq!(class, CsrClass::Unexpected);
    }
}
