//! Certificate signing requests: which are pending, what each asks for
//! (decoded from its PKCS#10 request), whether it is what a restore expects
//! (a node-bootstrapper client CSR, or a kubelet-serving CSR of a known
//! node), and approving them through the `approval` subresource. The safety
//! rules (never approve an unexpected CSR in bulk, nothing under
//! --read-only, only pending ones, nothing in bulk past the pending bound)
//! are in `plan`, whatever the front end.
//!
//! The classes follow OpenShift's cluster-machine-approver (its `csr_check.go`):
//! a client CSR from the node-bootstrapper for a node not registered yet needs a
//! Machine without a nodeRef whose InternalDNS address is that node, filed from
//! 10 s before to 2 h after that Machine was created (or a node the SRE
//! declared); a serving CSR from the node itself may name only what the node
//! reports in its status (the approver compares a renewal with the kubelet's
//! current certificate, which the API does not show; the kubelet builds it from
//! those addresses) or, failing that, only its Machine's addresses; a node
//! renewing its own client certificate is left by the approver to
//! kube-controller-manager, which approves it for a registered node; node names
//! are DNS-1123 subdomains; past `max(machines, nodes) + 100` pending node CSRs
//! of the last hour the approver approves nothing, and neither does a bulk
//! approval here.

use std::time::{Duration, SystemTime};

use k8s_openapi::api::certificates::v1::{CertificateSigningRequest, CertificateSigningRequestCondition};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams, PostParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use serde::Serialize;

use super::{within, Connection};

pub const BOOTSTRAPPER: &str = "system:serviceaccount:openshift-machine-config-operator:node-bootstrapper";
pub const CLIENT_SIGNER: &str = "kubernetes.io/kube-apiserver-client-kubelet";
pub const SERVING_SIGNER: &str = "kubernetes.io/kubelet-serving";
const NODE_PREFIX: &str = "system:node:";
/// The cluster-machine-approver's margin: it approves nothing while more node CSRs of the
/// last hour are pending than `max(machines, nodes)` plus this.
pub const MAX_PENDING_OVER_MACHINES: usize = 100;
const RECENT_PENDING: Duration = Duration::from_secs(3600);
/// The approver's clock-skew allowance (`maxMachineClockSkew`): a bootstrapper CSR may be filed
/// up to this long before its Machine was created.
pub const MACHINE_CLOCK_SKEW: Duration = Duration::from_secs(10);
/// The approver's window (`maxMachineDelta`): a bootstrapper CSR filed this long or longer after
/// its Machine was created is not that Machine's first boot.
pub const MACHINE_DELTA: Duration = Duration::from_secs(2 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CsrClass {
    /// A new node's kubelet asking for its client certificate (approve during a restore).
    NodeBootstrapper,
    /// A known node's kubelet asking for its serving certificate.
    KubeletServing,
    /// A registered node's kubelet renewing its own client certificate with the one it holds.
    ClientRenewal,
    /// Anything else: shown, flagged, never approved in bulk.
    Unexpected,
}

impl CsrClass {
    pub fn as_str(self) -> &'static str {
        match self {
            CsrClass::NodeBootstrapper => "node-bootstrapper",
            CsrClass::KubeletServing => "kubelet-serving",
            CsrClass::ClientRenewal => "client-renewal",
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
    /// `status.addresses` as (type, address): `InternalIP`, `Hostname`, `InternalDNS`, ...
    pub addresses: Vec<(String, String)>,
    /// Its `Ready` condition is `True` (its kubelet holds a working client certificate).
    pub ready: bool,
}

/// A Machine of the Machine API (`machine.openshift.io`), as the approver reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownMachine {
    pub name: String,
    /// `status.nodeRef.name`: the node it became, once it did.
    pub node_ref: Option<String>,
    /// `status.addresses` as (type, address): `InternalDNS`, `InternalIP`, `Hostname`, ...
    pub addresses: Vec<(String, String)>,
    /// `metadata.creationTimestamp`: a bootstrapper CSR must follow it closely.
    pub created: Option<SystemTime>,
}

/// What a CSR is judged against: the nodes, the Machines, and the nodes the SRE declared.
#[derive(Debug, Clone)]
pub struct CsrContext {
    pub nodes: Vec<KnownNode>,
    /// Err: why the Machines could not be read (no Machine API, as on user-provisioned
    /// infrastructure, or a refusal), said in the reasons.
    pub machines: Result<Vec<KnownMachine>, String>,
    /// Nodes the SRE named (the restore's `--lost-host`, the member replacement's new machine).
    pub declared: Vec<String>,
}

impl CsrContext {
    /// Judged against nodes only (the Machines not read, for `why`).
    pub fn nodes_only(nodes: Vec<KnownNode>, why: &str) -> CsrContext {
        CsrContext { nodes, machines: Err(why.to_string()), declared: Vec::new() }
    }

    /// The approver's bound on pending node CSRs: `max(machines, nodes) + 100`.
    pub fn pending_limit(&self) -> usize {
        let machines = self.machines.as_ref().map(Vec::len).unwrap_or(0);
        machines.max(self.nodes.len()) + MAX_PENDING_OVER_MACHINES
    }

    fn machine_naming(&self, node: &str) -> Option<&KnownMachine> {
        self.machines
            .as_ref()
            .ok()?
            .iter()
            .find(|m| m.addresses.iter().any(|(kind, address)| kind == "InternalDNS" && same_dns_name(address, node)))
    }

    fn machine_of(&self, node: &str) -> Option<&KnownMachine> {
        self.machines.as_ref().ok()?.iter().find(|m| m.node_ref.as_deref() == Some(node))
    }
}

fn same_dns_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.').eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// Kubernetes' DNS-1123 subdomain: at most 253 characters, lowercase letters, digits, `-`
/// and `.`, each dot-separated label starting and ending with a letter or digit.
pub fn is_dns1123_subdomain(name: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            label.starts_with(alnum) && label.ends_with(alnum) && label.chars().all(|c| alnum(c) || c == '-')
        })
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
    /// The node it is for (`system:node:<node>`), when its subject names one.
    pub node: Option<String>,
    #[serde(skip)]
    pub created: Option<SystemTime>,
    /// The approver's bound on pending node CSRs, when known (`CsrContext::pending_limit`).
    #[serde(skip)]
    pub pending_limit: Option<usize>,
}

impl PendingCsr {
    pub fn age(&self, now: SystemTime) -> Option<Duration> {
        self.created.and_then(|c| now.duration_since(c).ok())
    }

    /// The node the CSR is for: its subject's `system:node:NAME` (a bootstrapper's too), else a
    /// node filing for itself as its requestor; None when neither names one.
    pub fn node_name(&self) -> Option<String> {
        let from_subject = || {
            let cn = self.request.as_ref()?.common_name.as_deref()?;
            cn.strip_prefix(NODE_PREFIX).map(str::to_string)
        };
        self.node.clone().or_else(from_subject).or_else(|| self.requestor.strip_prefix(NODE_PREFIX).map(str::to_string))
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

/// A kubelet's usages as the approver and kube-controller-manager accept them: `digital signature`
/// and `purpose` (`client auth` or `server auth`), `key encipherment` allowed besides (older kubelets,
/// RSA keys), nothing else.
fn kubelet_usages(usages: &[String], purpose: &str) -> bool {
    let allowed = ["digital signature", "key encipherment", purpose];
    [purpose, "digital signature"].iter().all(|needed| usages.iter().any(|u| u == needed))
        && usages.iter().all(|u| allowed.contains(&u.as_str()))
}

fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

fn same_ip(a: &str, b: &str) -> bool {
    match (a.parse::<std::net::IpAddr>(), b.parse::<std::net::IpAddr>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The names `request` asks for that `addresses` (typed, as a Node's or a Machine's status carries
/// them) do not give, as the approver matches them: a DNS name against `Hostname`, `InternalDNS` and
/// `ExternalDNS` addresses (and `own_name`), without case or trailing dot; an IP against
/// `InternalIP` and `ExternalIP` addresses.
fn names_outside<'a>(
    request: &'a DecodedRequest,
    addresses: &[(String, String)],
    own_name: Option<&str>,
) -> Vec<&'a str> {
    let of_kinds = |kinds: &[&str]| -> Vec<&str> {
        addresses.iter().filter(|(kind, _)| kinds.contains(&kind.as_str())).map(|(_, a)| a.as_str()).collect()
    };
    let dns: Vec<&str> = of_kinds(&["Hostname", "InternalDNS", "ExternalDNS"]).into_iter().chain(own_name).collect();
    let ips = of_kinds(&["InternalIP", "ExternalIP"]);
    let foreign_dns = request
        .dns_names
        .iter()
        .filter(|name| !name.is_empty() && !dns.iter().any(|d| same_dns_name(d, name)))
        .map(String::as_str);
    let foreign_ips = request.ip_addresses.iter().filter(|ip| !ips.iter().any(|a| same_ip(a, ip))).map(String::as_str);
    foreign_dns.chain(foreign_ips).collect()
}

/// Sorts a pending CSR into its class, with the reason, as the cluster-machine-approver
/// judges (see the module's header); everything else is unexpected, and says why.
/// `created` is the CSR's `metadata.creationTimestamp`.
pub fn classify(
    signer: &str,
    requestor: &str,
    usages: &[String],
    request: Option<&DecodedRequest>,
    created: Option<SystemTime>,
    context: &CsrContext,
) -> (CsrClass, String) {
    let unexpected = |why: String| (CsrClass::Unexpected, why);
    let Some(request) = request else { return unexpected("its request cannot be decoded".into()) };
    let cn = request.common_name.as_deref().unwrap_or("");
    let Some(node) = cn.strip_prefix(NODE_PREFIX) else {
        return unexpected(format!("its subject {cn:?} is not a node (system:node:<name>)"));
    };
    if !is_dns1123_subdomain(node) {
        return unexpected(format!("{node:?} cannot be a node's name: not a DNS-1123 subdomain"));
    }
    if request.organizations != ["system:nodes"] {
        return unexpected(format!("its organisation is {:?}, not system:nodes", request.organizations));
    }
    match signer {
        CLIENT_SIGNER => {
            let renewal = requestor == cn;
            if requestor != BOOTSTRAPPER && !renewal {
                return unexpected(format!(
                    "a kubelet client CSR filed by {requestor}, not the node-bootstrapper nor the node {node} itself"
                ));
            }
            if !request.dns_names.is_empty() || !request.ip_addresses.is_empty() {
                return unexpected("a client CSR that names hosts or addresses".into());
            }
            if !kubelet_usages(usages, "client auth") {
                return unexpected(format!("usages {usages:?} are not a kubelet client's"));
            }
            if renewal {
                client_renewal_for(node, context)
            } else {
                client_for(node, created, context)
            }
        }
        SERVING_SIGNER => {
            if requestor != cn {
                return unexpected(format!("filed by {requestor} for {cn}: a node may only ask for itself"));
            }
            if !kubelet_usages(usages, "server auth") {
                return unexpected(format!("usages {usages:?} are not a kubelet's serving usages"));
            }
            serving_for(node, request, context)
        }
        other => unexpected(format!("signer {other} is not a kubelet's")),
    }
}

/// A node's own serving CSR. The approver first compares a renewal with the certificate the
/// kubelet serves now (all names equal); it cannot reach it, or they differ, it falls back to the
/// Machine whose nodeRef is the node. The API does not show the kubelet's certificate, so the
/// nearest is what the kubelet builds it from: the addresses its node reports in its status.
fn serving_for(node: &str, request: &DecodedRequest, context: &CsrContext) -> (CsrClass, String) {
    let Some(known) = context.nodes.iter().find(|n| n.name == node) else {
        return (CsrClass::Unexpected, format!("serving certificate for {node}, which is not a node of this cluster"));
    };
    let outside_node = names_outside(request, &known.addresses, Some(&known.name));
    if outside_node.is_empty() {
        return (
            CsrClass::KubeletServing,
            format!(
                "serving certificate for the known node {node}, naming only its name and the addresses it \
                 reports (what its kubelet's current certificate is built from)"
            ),
        );
    }
    let machine = match (&context.machines, context.machine_of(node)) {
        (_, Some(machine)) => machine,
        (Err(why), None) => {
            return (
                CsrClass::Unexpected,
                format!(
                    "names {outside_node:?}, which are not {node}'s addresses (its status), and no Machine \
                     can vouch for them ({why})"
                ),
            )
        }
        (Ok(_), None) => {
            return (
                CsrClass::Unexpected,
                format!(
                    "names {outside_node:?}, which are not {node}'s addresses (its status), and no Machine has \
                     {node} as its node"
                ),
            )
        }
    };
    let outside_machine = names_outside(request, &machine.addresses, None);
    if outside_machine.is_empty() {
        return (
            CsrClass::KubeletServing,
            format!(
                "serving certificate for the known node {node}, naming only the addresses of its Machine {}",
                machine.name
            ),
        );
    }
    (
        CsrClass::Unexpected,
        format!(
            "names {outside_node:?}, which are not {node}'s addresses (its status), and {outside_machine:?}, \
             which are not its Machine {}'s",
            machine.name
        ),
    )
}

/// A kubelet renewing its client certificate with the one it holds (`system:node:<node>` for itself).
/// The approver passes these by (it takes only the node-bootstrapper's); kube-controller-manager
/// approves them (a node renewing for itself, `selfnodeclient`), which asks for a registered node.
fn client_renewal_for(node: &str, context: &CsrContext) -> (CsrClass, String) {
    if context.nodes.iter().any(|n| n.name == node) {
        (
            CsrClass::ClientRenewal,
            format!(
                "the registered node {node} renewing its own client certificate with the one it holds \
                 (kube-controller-manager approves these; the cluster-machine-approver leaves them to it)"
            ),
        )
    } else {
        (
            CsrClass::Unexpected,
            format!(
                "filed as system:node:{node} to renew a client certificate, but {node} is not a node of this cluster"
            ),
        )
    }
}

/// Whether a bootstrapper CSR filed at `created` falls in the approver's window for `machine`:
/// strictly after its creation less `MACHINE_CLOCK_SKEW`, strictly before its creation plus
/// `MACHINE_DELTA`. Err says the times.
fn within_machine_window(node: &str, created: Option<SystemTime>, machine: &KnownMachine) -> Result<(), String> {
    let Some(machine_created) = machine.created else {
        return Err(format!(
            "Machine {} that names {node} carries no creation time, so the cluster-machine-approver's window \
             (from {} s before to {} h after it) cannot hold",
            machine.name,
            MACHINE_CLOCK_SKEW.as_secs(),
            MACHINE_DELTA.as_secs() / 3600
        ));
    };
    let Some(csr_created) = created else {
        return Err(format!("the CSR carries no creation time to hold against Machine {}'s", machine.name));
    };
    let start = machine_created.checked_sub(MACHINE_CLOCK_SKEW).unwrap_or(machine_created);
    let end = machine_created.checked_add(MACHINE_DELTA).unwrap_or(machine_created);
    if csr_created > start && csr_created < end {
        return Ok(());
    }
    let when = if csr_created <= start { "before" } else { "after" };
    Err(format!(
        "filed at {}, {when} the cluster-machine-approver's window for Machine {} (created {}): from {} to {} \
         ({} s before to {} h after it); a CSR that {} is not that Machine's first boot",
        rfc3339(csr_created),
        machine.name,
        rfc3339(machine_created),
        rfc3339(start),
        rfc3339(end),
        MACHINE_CLOCK_SKEW.as_secs(),
        MACHINE_DELTA.as_secs() / 3600,
        if when == "before" { "early" } else { "late" }
    ))
}

/// A node-bootstrapper client CSR for `node`: valid for a registered node whose kubelet lost its
/// certificate (NotReady, as after a restore), for a node not registered yet that a Machine
/// without a nodeRef names and was created shortly before, or for a node the SRE declared.
fn client_for(node: &str, created: Option<SystemTime>, context: &CsrContext) -> (CsrClass, String) {
    let valid = |why: String| (CsrClass::NodeBootstrapper, why);
    let declared = context.declared.iter().any(|d| d == node);
    if declared {
        return valid(format!("client certificate for {node}, a node you declared, filed by the node-bootstrapper"));
    }
    if let Some(known) = context.nodes.iter().find(|n| n.name == node) {
        if known.ready {
            return (
                CsrClass::Unexpected,
                format!(
                    "the node {node} is registered and Ready, so its kubelet holds a client certificate; \
                     the cluster-machine-approver never approves a bootstrapper CSR for a registered node"
                ),
            );
        }
        return valid(format!(
            "client certificate for the registered node {node}, NotReady (its kubelet lost its certificate, \
             as after a restore), filed by the node-bootstrapper"
        ));
    }
    match &context.machines {
        Err(why) => (
            CsrClass::Unexpected,
            format!(
                "no Machine can vouch for {node} ({why}); the cluster-machine-approver does not approve it \
                 either: check the host, then approve it by name"
            ),
        ),
        Ok(_) => match context.machine_naming(node) {
            None => (
                CsrClass::Unexpected,
                format!("{node} is not a node, and no Machine has it as its InternalDNS address"),
            ),
            Some(machine) => match &machine.node_ref {
                Some(other) => (
                    CsrClass::Unexpected,
                    format!("Machine {} that names {node} already has its node ({other})", machine.name),
                ),
                None => match within_machine_window(node, created, machine) {
                    Ok(()) => valid(format!(
                        "client certificate for {node}, the new node of Machine {}, filed by the node-bootstrapper \
                         within the cluster-machine-approver's window after the Machine was created",
                        machine.name
                    )),
                    Err(why) => (CsrClass::Unexpected, why),
                },
            },
        },
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
                .map(|a| a.iter().map(|a| (a.type_.clone(), a.address.clone())).collect())
                .unwrap_or_default();
            let ready = n
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            Some(KnownNode { name, addresses, ready })
        })
        .collect()
}

/// The Machines' names, nodeRefs and addresses, from `machine.openshift.io` objects.
pub fn known_machines(machines: &[DynamicObject]) -> Vec<KnownMachine> {
    machines
        .iter()
        .map(|m| {
            let status = &m.data["status"];
            let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
            KnownMachine {
                name: m.metadata.name.clone().unwrap_or_default(),
                node_ref: text(&status["nodeRef"]["name"]),
                addresses: status["addresses"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|a| Some((text(&a["type"])?, text(&a["address"])?))).collect())
                    .unwrap_or_default(),
                created: m.metadata.creation_timestamp.as_ref().map(|t| SystemTime::from(t.0)),
            }
        })
        .collect()
}

/// The Machine API's Machines (`machine.openshift.io/v1beta1`, `openshift-machine-api`).
pub fn machine_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("machine.openshift.io", "v1beta1", "Machine"), "machines")
}

/// One pending CSR, classified; None when it is approved or denied. The
/// request is decoded by `decode` (so a caller can keep decodings).
pub fn to_pending(
    csr: &CertificateSigningRequest,
    context: &CsrContext,
    decode: impl FnOnce(&[u8]) -> Option<DecodedRequest>,
) -> Option<PendingCsr> {
    if !is_pending(csr) {
        return None;
    }
    let spec = &csr.spec;
    let usages = spec.usages.clone().unwrap_or_default();
    let requestor = spec.username.clone().unwrap_or_default();
    let request = decode(&spec.request.0);
    let created = csr.metadata.creation_timestamp.as_ref().map(|t| SystemTime::from(t.0));
    let (class, reason) = classify(&spec.signer_name, &requestor, &usages, request.as_ref(), created, context);
    let node = request.as_ref().and_then(|r| r.common_name.as_deref()?.strip_prefix(NODE_PREFIX)).map(str::to_string);
    Some(PendingCsr {
        name: csr.metadata.name.clone().unwrap_or_default(),
        signer: spec.signer_name.clone(),
        requestor,
        class,
        reason,
        usages,
        request,
        node,
        created,
        pending_limit: Some(context.pending_limit()),
    })
}

pub fn pending_from(csrs: &[CertificateSigningRequest], context: &CsrContext) -> Vec<PendingCsr> {
    csrs.iter().filter_map(|csr| to_pending(csr, context, |pem| decode_request(pem).ok())).collect()
}

/// Every pending CSR, classified against the cluster's nodes and Machines and the nodes
/// `declared` by the SRE.
pub async fn pending(connection: &Connection, declared: &[String]) -> Result<Vec<PendingCsr>, String> {
    let csrs: Api<CertificateSigningRequest> = Api::all(connection.client.clone());
    let nodes: Api<Node> = Api::all(connection.client.clone());
    let all = within(connection, "listing CSRs", csrs.list(&ListParams::default())).await?;
    let nodes = within(connection, "listing nodes", nodes.list(&ListParams::default())).await?;
    let context = CsrContext {
        nodes: known_nodes(&nodes.items),
        machines: read_machines(connection).await,
        declared: declared.to_vec(),
    };
    Ok(pending_from(&all.items, &context))
}

/// The Machines, or why they cannot be read (said in the CSRs' reasons).
pub async fn read_machines(connection: &Connection) -> Result<Vec<KnownMachine>, String> {
    let machines: Api<DynamicObject> =
        Api::namespaced_with(connection.client.clone(), "openshift-machine-api", &machine_resource());
    match within(connection, "listing Machines", machines.list(&ListParams::default())).await {
        Ok(list) => Ok(known_machines(&list.items)),
        Err(e) if e.is_not_found() => Err(NO_MACHINE_API.to_string()),
        Err(e) => Err(format!("the Machines cannot be read: {e}")),
    }
}

/// Why no Machine is read where the API serves none.
pub const NO_MACHINE_API: &str = "this cluster serves no Machine API, as on user-provisioned infrastructure";

/// How many pending node CSRs are younger than an hour (the approver's count), against the bound.
pub fn over_pending_limit(pending: &[PendingCsr], now: SystemTime) -> Option<(usize, usize)> {
    let limit = pending.iter().find_map(|c| c.pending_limit)?;
    let recent = pending
        .iter()
        .filter(|c| c.signer == CLIENT_SIGNER || c.signer == SERVING_SIGNER)
        .filter(|c| c.age(now).is_none_or(|age| age <= RECENT_PENDING))
        .count();
    (recent > limit).then_some((recent, limit))
}

/// What the pending bound says when it is passed, for the screen, the commands and the log.
pub fn over_limit_text(recent: usize, limit: usize) -> String {
    format!(
        "{recent} node CSRs pending from the last hour, past the cluster-machine-approver's bound of {limit} \
         (machines or nodes + {MAX_PENDING_OVER_MACHINES}): it approves none of them, and no bulk approval \
         does here; find who files them, deny the flood, approve by name"
    )
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
            if let Some((recent, limit)) = over_pending_limit(pending, SystemTime::now()) {
                let why = over_limit_text(recent, limit);
                plan.refused.extend(pending.iter().map(|c| (c.name.clone(), why.clone())));
                return Ok(plan);
            }
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
    tracing::info!(target: "audit", action = audit, csr = %crate::units::safe_text(name), "done");
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
        vec![KnownNode {
            name: "master-1".into(),
            addresses: vec![("InternalIP".into(), "10.0.0.11".into()), ("Hostname".into(), "master-1".into())],
            ready: true,
        }]
    }

    /// When the test cluster's Machines were created.
    fn machines_created() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000)
    }

    /// A CSR filed five minutes after the Machines were created: inside the approver's window.
    fn filed() -> Option<SystemTime> {
        Some(machines_created() + Duration::from_secs(300))
    }

    fn machine(name: &str, node: &str, node_ref: Option<&str>) -> KnownMachine {
        KnownMachine {
            name: name.into(),
            node_ref: node_ref.map(str::to_string),
            addresses: vec![("InternalDNS".into(), node.into()), ("InternalIP".into(), "10.0.0.23".into())],
            created: Some(machines_created()),
        }
    }

    fn context() -> CsrContext {
        CsrContext {
            nodes: nodes(),
            machines: Ok(vec![
                machine("infra-master-1", "master-1", Some("master-1")),
                machine("infra-new-3", "new-3", None),
            ]),
            declared: Vec::new(),
        }
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
            filed(),
            &context(),
        );
        assert_eq!(class, CsrClass::NodeBootstrapper);
        let serving = usages(&["digital signature", "server auth"]);
        let mut asks = request("system:node:master-1", &["system:nodes"]);
        asks.ip_addresses = vec!["10.0.0.11".into()];
        let (class, _) = classify(SERVING_SIGNER, "system:node:master-1", &serving, Some(&asks), filed(), &context());
        assert_eq!(class, CsrClass::KubeletServing);
    }

    #[test]
    fn anything_else_is_unexpected_and_says_why() {
        let serving = usages(&["digital signature", "server auth"]);
        let node_req = request("system:node:master-1", &["system:nodes"]);
        let cases = [
            classify(SERVING_SIGNER, "system:node:worker-9", &serving, Some(&node_req), filed(), &context()).1,
            classify(
                SERVING_SIGNER,
                "system:node:ghost",
                &serving,
                Some(&request("system:node:ghost", &["system:nodes"])),
                filed(),
                &context(),
            )
            .1,
            classify(CLIENT_SIGNER, "alice", &usages(&["client auth"]), Some(&node_req), filed(), &context()).1,
            classify(
                CLIENT_SIGNER,
                BOOTSTRAPPER,
                &usages(&["client auth"]),
                Some(&request("admin", &["system:masters"])),
                filed(),
                &context(),
            )
            .1,
            classify("example.com/custom", "system:node:master-1", &serving, Some(&node_req), filed(), &context()).1,
            classify(
                SERVING_SIGNER,
                "system:node:master-1",
                &usages(&["client auth"]),
                Some(&node_req),
                filed(),
                &context(),
            )
            .1,
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
        let (class, reason) =
            classify(SERVING_SIGNER, "system:node:master-1", &serving, Some(&foreign), filed(), &context());
        assert_eq!(class, CsrClass::Unexpected);
        assert!(reason.contains("192.168.9.9"));
        assert_eq!(classify(SERVING_SIGNER, "x", &serving, None, filed(), &context()).0, CsrClass::Unexpected);
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
            node: None,
            created: None,
            pending_limit: None,
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
    fn client_csrs_need_a_machine_without_node_or_a_declared_node_as_the_approver_does() {
        let client = usages(&["digital signature", "client auth"]);
        let ask = |node: &str, context: &CsrContext| {
            classify(
                CLIENT_SIGNER,
                BOOTSTRAPPER,
                &client,
                Some(&request(&format!("system:node:{node}"), &["system:nodes"])),
                filed(),
                context,
            )
        };
        let (class, reason) = ask("ghost", &context());
        assert_eq!(class, CsrClass::Unexpected);
        assert!(reason.contains("no Machine has it"), "{reason}");
        let (class, reason) = ask("new-3", &context());
        assert_eq!(class, CsrClass::NodeBootstrapper, "{reason}");
        assert!(reason.contains("Machine infra-new-3"), "{reason}");
        let (class, reason) = ask("master-1", &context());
        assert_eq!(class, CsrClass::Unexpected, "a Ready node has its certificate: {reason}");
        let mut not_ready = context();
        not_ready.nodes[0].ready = false;
        assert_eq!(ask("master-1", &not_ready).0, CsrClass::NodeBootstrapper, "NotReady after a restore");
        let mut machine_taken = context();
        machine_taken.machines = Ok(vec![machine("infra-x", "new-3", Some("other"))]);
        assert!(ask("new-3", &machine_taken).1.contains("already has its node"));
        let mut upi = context();
        upi.machines = Err(NO_MACHINE_API.into());
        let (class, reason) = ask("new-3", &upi);
        assert_eq!(class, CsrClass::Unexpected);
        assert!(reason.contains("user-provisioned") && reason.contains("approve it by name"), "{reason}");
        upi.declared = vec!["new-3".into()];
        assert_eq!(ask("new-3", &upi).0, CsrClass::NodeBootstrapper, "a node the SRE declared");
        for hostile in ["\u{1b}[2Jmaster-9", "worker\nO=system:masters", "UPPER", &"a".repeat(254), "-lead", "a..b", ""]
        {
            let (class, reason) = ask(hostile, &upi);
            assert_eq!(class, CsrClass::Unexpected, "{hostile:?}");
            assert!(reason.contains("DNS-1123"), "{reason}");
        }
    }

    #[test]
    fn serving_csrs_name_what_the_node_reports_or_else_what_its_machine_has() {
        let serving = usages(&["digital signature", "server auth"]);
        let ask = |asks: &DecodedRequest, context: &CsrContext| {
            classify(SERVING_SIGNER, "system:node:master-1", &serving, Some(asks), filed(), context)
        };
        // The renewal path: its name and the addresses its node reports, typed as the kubelet puts them.
        let mut asks = request("system:node:master-1", &["system:nodes"]);
        asks.dns_names = vec!["MASTER-1.".into()];
        asks.ip_addresses = vec!["10.0.0.11".into()];
        let (class, reason) = ask(&asks, &context());
        assert_eq!(class, CsrClass::KubeletServing, "{reason}");
        assert!(reason.contains("the addresses it reports"), "{reason}");
        // An IP given as a DNS name is not the node's DNS name.
        let mut as_dns = request("system:node:master-1", &["system:nodes"]);
        as_dns.dns_names = vec!["10.0.0.11".into()];
        let (class, reason) = ask(&as_dns, &context());
        assert_eq!(class, CsrClass::Unexpected, "{reason}");
        assert!(reason.contains("[\"10.0.0.11\"]") && reason.contains("Machine infra-master-1's"), "{reason}");
        // The approver's fallback: only the addresses of the Machine whose nodeRef is the node.
        let mut by_machine = request("system:node:master-1", &["system:nodes"]);
        by_machine.dns_names = vec!["master-1".into()];
        by_machine.ip_addresses = vec!["10.0.0.23".into()];
        let (class, reason) = ask(&by_machine, &context());
        assert_eq!(class, CsrClass::KubeletServing, "{reason}");
        assert!(reason.contains("the addresses of its Machine infra-master-1"), "{reason}");
        // Half the node's, half the Machine's: neither path takes it.
        let mut mixed = by_machine.clone();
        mixed.ip_addresses.push("10.0.0.11".into());
        let (class, reason) = ask(&mixed, &context());
        assert_eq!(class, CsrClass::Unexpected, "{reason}");
        assert!(reason.contains("[\"10.0.0.23\"], which are not master-1's addresses"), "{reason}");
        assert!(reason.contains("[\"10.0.0.11\"], which are not its Machine infra-master-1's"), "{reason}");
        // Without a Machine API the node's own addresses still hold; anything else cannot be vouched for.
        let mut upi = context();
        upi.machines = Err(NO_MACHINE_API.into());
        assert_eq!(ask(&asks, &upi).0, CsrClass::KubeletServing);
        let (class, reason) = ask(&by_machine, &upi);
        assert_eq!(class, CsrClass::Unexpected);
        assert!(reason.contains("no Machine can vouch") && reason.contains("user-provisioned"), "{reason}");
        let mut no_machine = context();
        no_machine.machines = Ok(Vec::new());
        let (class, reason) = ask(&by_machine, &no_machine);
        assert_eq!(class, CsrClass::Unexpected);
        assert!(reason.contains("no Machine has master-1 as its node"), "{reason}");
        let mut foreign = asks.clone();
        foreign.dns_names.push("api.example.com".into());
        let (class, reason) = ask(&foreign, &context());
        assert_eq!(class, CsrClass::Unexpected);
        assert!(reason.contains("api.example.com"), "{reason}");
        // The approver's usages: digital signature and server auth, key encipherment allowed besides.
        for (list, valid) in [
            (&["digital signature", "key encipherment", "server auth"][..], true),
            (&["server auth"][..], false),
            (&["digital signature", "server auth", "client auth"][..], false),
        ] {
            let (class, reason) =
                classify(SERVING_SIGNER, "system:node:master-1", &usages(list), Some(&asks), filed(), &context());
            assert_eq!(class.is_valid(), valid, "{list:?}: {reason}");
        }
    }

    #[test]
    fn a_bootstrapper_csr_must_follow_its_machines_creation_as_the_approver_times_it() {
        let client = usages(&["digital signature", "client auth"]);
        let new_3 = request("system:node:new-3", &["system:nodes"]);
        let at = |offset_secs: i64| {
            let born = machines_created();
            let when = if offset_secs < 0 {
                born - Duration::from_secs(offset_secs.unsigned_abs())
            } else {
                born + Duration::from_secs(offset_secs.unsigned_abs())
            };
            classify(CLIENT_SIGNER, BOOTSTRAPPER, &client, Some(&new_3), Some(when), &context())
        };
        // Strictly inside (created - 10 s, created + 2 h), as the approver's inTimeSpan.
        for inside in [-9, 0, 7199] {
            let (class, reason) = at(inside);
            assert_eq!(class, CsrClass::NodeBootstrapper, "{inside} s: {reason}");
            assert!(reason.contains("within the cluster-machine-approver's window"), "{reason}");
        }
        let (class, reason) = at(-10);
        assert_eq!(class, CsrClass::Unexpected, "{reason}");
        assert!(reason.contains("before the cluster-machine-approver's window for Machine infra-new-3"), "{reason}");
        assert!(reason.contains("filed at 2026-11-30T00:53:10Z"), "{reason}");
        assert!(reason.contains("(created 2026-11-30T00:53:20Z)"), "{reason}");
        let (class, reason) = at(7200);
        assert_eq!(class, CsrClass::Unexpected, "{reason}");
        assert!(reason.contains("filed at 2026-11-30T02:53:20Z, after"), "{reason}");
        assert!(reason.contains("from 2026-11-30T00:53:10Z to 2026-11-30T02:53:20Z (10 s before to 2 h after it)"));
        // A time missing on either side: the window cannot hold.
        let (class, reason) = classify(CLIENT_SIGNER, BOOTSTRAPPER, &client, Some(&new_3), None, &context());
        assert_eq!(class, CsrClass::Unexpected);
        assert!(reason.contains("carries no creation time"), "{reason}");
        let mut unborn = context();
        unborn.machines = Ok(vec![KnownMachine { created: None, ..machine("infra-new-3", "new-3", None) }]);
        let (class, reason) = classify(CLIENT_SIGNER, BOOTSTRAPPER, &client, Some(&new_3), filed(), &unborn);
        assert_eq!(class, CsrClass::Unexpected);
        assert!(reason.contains("Machine infra-new-3 that names new-3 carries no creation time"), "{reason}");
        // A node the SRE declared needs no Machine, so no window.
        let mut declared = context();
        declared.declared = vec!["new-3".into()];
        let late = Some(machines_created() + Duration::from_secs(86_400));
        let (class, reason) = classify(CLIENT_SIGNER, BOOTSTRAPPER, &client, Some(&new_3), late, &declared);
        assert_eq!(class, CsrClass::NodeBootstrapper, "{reason}");
        assert!(reason.contains("a node you declared"), "{reason}");
    }

    #[test]
    fn a_registered_node_renewing_its_own_client_certificate_is_valid_and_nothing_else_by_a_node() {
        let client = usages(&["digital signature", "key encipherment", "client auth"]);
        let renew = |requestor: &str, cn: &str| {
            classify(CLIENT_SIGNER, requestor, &client, Some(&request(cn, &["system:nodes"])), filed(), &context())
        };
        let (class, reason) = renew("system:node:master-1", "system:node:master-1");
        assert_eq!(class, CsrClass::ClientRenewal, "{reason}");
        assert_eq!(class.as_str(), "client-renewal");
        assert!(reason.contains("kube-controller-manager approves these"), "{reason}");
        let (class, reason) = renew("system:node:ghost", "system:node:ghost");
        assert_eq!(class, CsrClass::Unexpected);
        assert!(reason.contains("ghost is not a node of this cluster"), "{reason}");
        let (class, reason) = renew("system:node:master-1", "system:node:new-3");
        assert_eq!(class, CsrClass::Unexpected, "a node may not ask for another");
        assert!(reason.contains("not the node-bootstrapper nor the node new-3 itself"), "{reason}");
        let (class, reason) = classify(
            CLIENT_SIGNER,
            "system:node:master-1",
            &usages(&["client auth"]),
            Some(&request("system:node:master-1", &["system:nodes"])),
            filed(),
            &context(),
        );
        assert_eq!(class, CsrClass::Unexpected, "no digital signature: {reason}");
    }

    #[test]
    fn past_the_approvers_pending_bound_nothing_is_approved_in_bulk() {
        let context = context();
        assert_eq!(context.pending_limit(), 2 + MAX_PENDING_OVER_MACHINES);
        let mut flood: Vec<PendingCsr> = (0..=context.pending_limit())
            .map(|i| PendingCsr {
                pending_limit: Some(context.pending_limit()),
                ..pending_csr(&format!("csr-{i}"), CsrClass::NodeBootstrapper)
            })
            .collect();
        let all = plan(&flood, &Selection::AllValid, false).unwrap();
        assert!(all.approve.is_empty());
        assert_eq!(all.refused.len(), flood.len());
        assert!(all.refused[0].1.contains("past the cluster-machine-approver's bound of 102"), "{}", all.refused[0].1);
        let named = plan(&flood, &Selection::Named(vec!["csr-1".into()]), false).unwrap();
        assert_eq!(named.approve.len(), 1, "by name, still");
        flood.pop();
        assert_eq!(plan(&flood, &Selection::AllValid, false).unwrap().approve.len(), flood.len());
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
        let (class, _) = classify(CLIENT_SIGNER, BOOTSTRAPPER, &["client auth".to_string()], None, filed(), &context());
        assert_eq!(class, CsrClass::Unexpected);
    }
}
