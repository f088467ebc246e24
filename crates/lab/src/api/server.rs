//! The lab's Kubernetes API over HTTPS: TLS with the lab's CA, bearer tokens
//! and client certificates, routing of `/api` and `/apis` paths to the store,
//! and watch streams.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, Limited};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch as signal;
use tokio_rustls::rustls;

use super::catalog::{self, ResourceType};
use super::discovery;
use super::errors::{ApiError, FieldCause};
use super::exec;
use super::hosted_cp::PVC_PROTECTION;
use super::portforward;
use super::selectors::{FieldSelector, LabelSelector};
use super::store::{str_at, Change, EventKind, Part, Preconditions, Store};
use super::table::{self, IncludeObject};

pub type Body = BoxBody<Bytes, Infallible>;

const BODY_LIMIT: usize = 3 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Viewer,
    /// Known but granted nothing: may only ask who it is and what it may do
    /// (a lab-signed certificate of no admin, such as a node's or etcd's client).
    Authenticated,
}

/// How a request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Token,
    Certificate,
}

/// Who a request is, as authentication found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub groups: Vec<String>,
    pub role: Role,
    pub credential: Credential,
}

/// The user and group whose certificate is cluster-admin, as the installer's kubeconfig has it.
pub const CERT_ADMIN_USER: &str = "system:admin";
pub const MASTERS_GROUP: &str = "system:masters";

impl Identity {
    /// A client certificate's subject read as the API server reads it: the
    /// common name is the user, each organization a group. `system:admin` or a
    /// member of `system:masters` is cluster-admin.
    pub fn from_certificate(user: &str, organizations: &[String]) -> Self {
        let admin = user == CERT_ADMIN_USER || organizations.iter().any(|o| o == MASTERS_GROUP);
        let mut groups = organizations.to_vec();
        groups.push("system:authenticated".to_string());
        Self {
            user: user.to_string(),
            groups,
            role: if admin { Role::Admin } else { Role::Authenticated },
            credential: Credential::Certificate,
        }
    }

    fn credential_name(&self) -> &'static str {
        match self.credential {
            Credential::Token => "token",
            Credential::Certificate => "certificate",
        }
    }
}

/// The identity in a client certificate (DER) the TLS handshake verified
/// against the lab's CA; None without a common name.
pub fn certificate_identity(der: &[u8]) -> Option<Identity> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let user = subject.iter_common_name().next()?.as_str().ok()?.to_string();
    if user.is_empty() {
        return None;
    }
    let groups: Vec<String> = subject.iter_organization().filter_map(|o| o.as_str().ok()).map(str::to_string).collect();
    Some(Identity::from_certificate(&user, &groups))
}

#[derive(Clone)]
pub struct Account {
    pub user: &'static str,
    pub token: String,
    pub role: Role,
}

impl std::fmt::Debug for Account {
    // The token never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account").field("user", &self.user).field("role", &self.role).finish_non_exhaustive()
    }
}

/// What a request handler needs: the store, who may do what, where we listen.
pub struct Shared {
    pub store: Arc<Store>,
    pub accounts: Vec<Account>,
    pub address: String,
    pub shutdown: signal::Receiver<bool>,
    /// Serve no OpenShift group (a plain Kubernetes cluster).
    pub plain_kubernetes: bool,
    /// The lab's hosts (the pods' volumes and members, for `pods/exec`).
    pub hosts: Option<super::HostsLink>,
    /// Claims get the `kubernetes.io/pvc-protection` finalizer (a controller releases it: the hosted scenario).
    pub pvc_protection: bool,
}

/// A pod with a privileged container or a host path volume.
fn privileged(pod: &Value) -> bool {
    let containers = pod.pointer("/spec/containers").and_then(Value::as_array);
    let volumes = pod.pointer("/spec/volumes").and_then(Value::as_array);
    containers.is_some_and(|c| c.iter().any(|c| c.pointer("/securityContext/privileged") == Some(&json!(true))))
        || volumes.is_some_and(|v| v.iter().any(|v| v.get("hostPath").is_some()))
}

/// The lab was told to refuse privileged pods (`lab fault debug-pods-forbidden`).
fn forbids_privileged(shared: &Shared) -> bool {
    shared.hosts.as_ref().is_some_and(|link| {
        crate::hosts::faults::has(&link.inventory.lab_dir, crate::hosts::faults::Fault::DebugPodsForbidden, None)
    })
}

pub fn empty() -> Body {
    body(Bytes::new())
}

pub fn body(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

fn json_response(code: u16, value: &Value) -> Response<Body> {
    let text = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(body(text));
    *response.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    response
}

fn error_response(error: &ApiError) -> Response<Body> {
    json_response(error.code, &error.status())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Debug, Default)]
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(text: Option<&str>) -> Self {
        Self(
            text.unwrap_or("")
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (percent_decode(k), percent_decode(v))
                })
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }
}

/// A resource path resolved against the catalog.
#[derive(Debug)]
struct Target {
    type_index: usize,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

impl Target {
    fn rt(&self) -> &'static ResourceType {
        catalog::get(self.type_index)
    }

    fn ns(&self) -> &str {
        self.namespace.as_deref().unwrap_or("")
    }
}

fn resolve(group: &str, version: &str, rest: &[&str]) -> Result<Target, ApiError> {
    // /namespaces/NS/<plural>/... is namespaced; /namespaces/NAME[/status] is a namespace.
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, tail @ ..] if group.is_empty() && *plural != "status" && *plural != "finalize" => {
            (Some(ns.to_string()), [&[*plural][..], tail].concat())
        }
        ["namespaces", ns, plural, tail @ ..] if !group.is_empty() => {
            (Some(ns.to_string()), [&[*plural][..], tail].concat())
        }
        _ => (None, rest.to_vec()),
    };
    let (plural, name, subresource) = match rest.as_slice() {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(name.to_string()), None),
        [plural, name, sub] => (*plural, Some(name.to_string()), Some(sub.to_string())),
        _ => return Err(ApiError::no_such_resource()),
    };
    let type_index = catalog::find(group, version, plural).ok_or_else(ApiError::no_such_resource)?;
    let rt = catalog::get(type_index);
    if rt.namespaced != namespace.is_some() && !(rt.namespaced && namespace.is_none() && name.is_none()) {
        return Err(ApiError::no_such_resource());
    }
    if let Some(sub) = &subresource {
        if !rt.has_subresource(sub) {
            return Err(ApiError::no_such_resource());
        }
    }
    Ok(Target { type_index, namespace, name, subresource })
}

fn verb_of(method: &Method, target: &Target, query: &Query) -> &'static str {
    // Connecting to a pod needs `create` on the subresource, whatever the method
    // (as API servers check WebSocket upgrades since the 1.35 hardening).
    if matches!(target.subresource.as_deref(), Some("portforward" | "exec")) {
        return "create";
    }
    match (method, target.name.is_some()) {
        (&Method::GET, false) if query.flag("watch") => "watch",
        (&Method::GET, false) => "list",
        (&Method::GET, true) => "get",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, false) => "deletecollection",
        (&Method::DELETE, true) => "delete",
        _ => "unknown",
    }
}

/// RBAC of the lab: the admin may do anything; the viewer reads, and asks
/// what it may do; any other authenticated user may only ask.
pub fn allowed(role: Role, verb: &str, rt: &ResourceType) -> bool {
    match role {
        Role::Admin => true,
        Role::Viewer => matches!(verb, "get" | "list" | "watch") || rt.virtual_only,
        Role::Authenticated => rt.virtual_only,
    }
}

/// How the client asked to see the answer: the `as=` of the first media type
/// its Accept header names (kubectl's server-side tables, kube-rs's metadata-only reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rendering {
    Object,
    Table,
    Metadata,
    MetadataList,
}

fn rendering(request: &Request<Incoming>) -> Rendering {
    let accept = request.headers().get(hyper::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let first = accept.split(',').next().unwrap_or("");
    let wanted = first.split(';').skip(1).find_map(|parameter| parameter.trim().strip_prefix("as="));
    match wanted {
        Some("Table") => Rendering::Table,
        Some("PartialObjectMetadata") => Rendering::Metadata,
        Some("PartialObjectMetadataList") => Rendering::MetadataList,
        _ => Rendering::Object,
    }
}

/// An object as `meta.k8s.io/v1` `PartialObjectMetadata`: its metadata and
/// nothing else (no spec, status or data).
fn partial_metadata(object: &Value) -> Value {
    let metadata = object.get("metadata").cloned().unwrap_or_else(|| json!({}));
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata})
}

/// 406, as the API server answers a metadata rendering that does not fit the answer's shape.
fn not_acceptable(message: &str) -> ApiError {
    ApiError { code: 406, reason: "NotAcceptable", message: message.to_string(), details: None }
}

fn continue_token(after: &(String, String)) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json!([after.0, after.1]).to_string())
}

fn parse_continue(token: &str) -> Result<(String, String), ApiError> {
    use base64::Engine;
    let bad = || ApiError::bad_request("continue key is not valid");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let pair: (String, String) = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    Ok(pair)
}

struct Filter {
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn from(query: &Query, rt: &ResourceType) -> Result<Self, ApiError> {
        Ok(Self {
            labels: LabelSelector::parse(query.get("labelSelector").unwrap_or("")).map_err(ApiError::bad_request)?,
            fields: FieldSelector::parse(query.get("fieldSelector").unwrap_or(""), rt.kind)
                .map_err(ApiError::bad_request)?,
        })
    }

    fn matches(&self, object: &Value) -> bool {
        self.labels.matches(object) && self.fields.matches(object)
    }
}

async fn read_body(request: Request<Incoming>) -> Result<Value, ApiError> {
    let bytes =
        Limited::new(request.into_body(), BODY_LIMIT).collect().await.map_err(|_| ApiError::too_large())?.to_bytes();
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("the body of the request could not be decoded as JSON: {e}")))
}

struct DeleteBody {
    dry_run: bool,
    preconditions: Preconditions,
    /// `gracePeriodSeconds: 0` (`kubectl delete --grace-period=0 --force`).
    immediate: bool,
}

/// DeleteOptions from the body of a DELETE (kubectl and kube-rs send dryRun
/// and preconditions there); an empty body is no options.
async fn read_delete_options(request: Request<Incoming>) -> Result<DeleteBody, ApiError> {
    let bytes =
        Limited::new(request.into_body(), BODY_LIMIT).collect().await.map_err(|_| ApiError::too_large())?.to_bytes();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(DeleteBody { dry_run: false, preconditions: Preconditions::default(), immediate: false });
    }
    let options: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("the body of the request could not be decoded as JSON: {e}")))?;
    let text = |pointer: &str| options.pointer(pointer).and_then(Value::as_str).map(str::to_string);
    Ok(DeleteBody {
        dry_run: options["dryRun"].as_array().is_some_and(|d| d.iter().any(|v| v == "All")),
        preconditions: Preconditions {
            uid: text("/preconditions/uid"),
            resource_version: text("/preconditions/resourceVersion"),
        },
        immediate: options["gracePeriodSeconds"].as_i64() == Some(0),
    })
}

fn scale_of(object: &Value) -> Value {
    let selector = object
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    let metadata = &object["metadata"];
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": metadata["name"], "namespace": metadata["namespace"], "uid": metadata["uid"],
            "resourceVersion": metadata["resourceVersion"], "creationTimestamp": metadata["creationTimestamp"],
        },
        "spec": {"replicas": object.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {"replicas": object.pointer("/status/replicas").cloned().unwrap_or(json!(0)), "selector": selector},
    })
}

/// The field of an item a strategic merge patch matches list items on (the
/// `patchMergeKey` of the built-in types' lists); None for a list the patch
/// replaces whole.
fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "webhooks"
        | "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "conditions" | "addresses" => Some("type"),
        "ownerReferences" => Some("uid"),
        "ports" => Some("containerPort"),
        _ => None,
    }
}

/// Lists of plain values a strategic merge patch adds to instead of replacing.
const MERGED_SETS: &[&str] = &["finalizers"];

fn directive(value: &Value) -> Option<&str> {
    value.get("$patch").and_then(Value::as_str)
}

/// A strategic merge patch, as the API server applies one to a built-in type:
/// a merge patch whose lists with a merge key (`webhooks` by `name`,
/// `conditions` by `type`, ...) merge item by item, with the `$patch`,
/// `$retainKeys` and `$deleteFromPrimitiveList` directives kubectl may send
/// (`$setElementOrder` is accepted and order left as it is).
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    let Some(fields) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if directive(patch) == Some("replace") {
        let mut replaced = fields.clone();
        replaced.remove("$patch");
        *target = Value::Object(replaced);
        return;
    }
    if !target.is_object() {
        *target = json!({});
    }
    let Some(map) = target.as_object_mut() else { return };
    for (key, value) in fields {
        if key.starts_with('$') {
            if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
                if let (Some(list), Some(gone)) = (map.get_mut(field).and_then(Value::as_array_mut), value.as_array()) {
                    list.retain(|v| !gone.contains(v));
                }
            }
            continue;
        }
        match value {
            Value::Null => {
                map.remove(key);
            }
            Value::Object(_) if directive(value) == Some("delete") => {
                map.remove(key);
            }
            Value::Object(_) => strategic_merge(map.entry(key.clone()).or_insert(Value::Null), value),
            Value::Array(items) => {
                let merged = merged_list(key, map.get(key), items);
                map.insert(key.clone(), merged);
            }
            _ => {
                map.insert(key.clone(), value.clone());
            }
        }
    }
    if let Some(keep) = fields.get("$retainKeys").and_then(Value::as_array) {
        map.retain(|k, _| keep.iter().any(|wanted| wanted == k));
    }
}

fn merged_list(field: &str, current: Option<&Value>, items: &[Value]) -> Value {
    let mut out = current.and_then(Value::as_array).cloned().unwrap_or_default();
    if items.iter().any(|i| directive(i) == Some("replace")) {
        return Value::Array(items.iter().filter(|i| directive(i).is_none()).cloned().collect());
    }
    match merge_key(field) {
        Some(key) if items.iter().all(Value::is_object) => {
            for item in items {
                let position = item.get(key).and_then(|id| out.iter().position(|o| o.get(key) == Some(id)));
                match (position, directive(item) == Some("delete")) {
                    (Some(i), true) => {
                        out.remove(i);
                    }
                    (None, true) => {}
                    (Some(i), false) => strategic_merge(&mut out[i], item),
                    (None, false) => {
                        let mut added = Value::Null;
                        strategic_merge(&mut added, item);
                        out.push(added);
                    }
                }
            }
            Value::Array(out)
        }
        _ if MERGED_SETS.contains(&field) => {
            for item in items {
                if !out.contains(item) {
                    out.push(item.clone());
                }
            }
            Value::Array(out)
        }
        _ => Value::Array(items.to_vec()),
    }
}

/// Fuzzing's entry (`fuzz/afl`): `bytes` as a PATCH body of one of the
/// three patch types (`which` modulo 3) against a pod, as the server applies
/// it; also the strategic merge alone. A patch that applied writes out as
/// JSON again; one refused has a status. False when either does not hold.
pub fn fuzz_entry_patch(which: u8, bytes: &[u8]) -> bool {
    const TYPES: [&str; 3] =
        ["application/merge-patch+json", "application/strategic-merge-patch+json", "application/json-patch+json"];
    let Ok(patch) = serde_json::from_slice::<Value>(bytes) else { return true };
    let Some(pods) = catalog::find("", "v1", "pods") else { return false };
    let rt = catalog::get(pods);
    let current = json!({
        "metadata": {"name": "etcd-master-0", "namespace": "openshift-etcd",
                     "labels": {"app": "etcd", "k8s-app": "etcd", "etcd": "true", "revision": "3"}},
        "spec": {"nodeName": "master-0", "restartPolicy": "Always",
                 "containers": [{"name": "etcd", "image": "etcd"}, {"name": "etcdctl", "image": "etcd"}]},
        "status": {"phase": "Running", "podIP": "10.0.0.10",
                   "conditions": [{"type": "Ready", "status": "True"}]}
    });
    let mut target = current.clone();
    strategic_merge(&mut target, &patch);
    match apply_patch(TYPES[usize::from(which % 3)], rt, &current, patch, "etcd-master-0") {
        Ok(patched) => serde_json::to_vec(&patched).is_ok(),
        Err(e) => !e.status().to_string().is_empty(),
    }
}

pub(crate) fn apply_patch(
    content_type: &str,
    rt: &ResourceType,
    current: &Value,
    patch: Value,
    name: &str,
) -> Result<Value, ApiError> {
    let mut patched = current.clone();
    match content_type.split(';').next().unwrap_or("").trim() {
        "application/merge-patch+json" => json_patch::merge(&mut patched, &patch),
        "application/strategic-merge-patch+json" if rt.builtin => strategic_merge(&mut patched, &patch),
        "application/json-patch+json" => {
            let operations: json_patch::Patch = serde_json::from_value(patch)
                .map_err(|e| ApiError::bad_request(format!("the JSON patch could not be decoded: {e}")))?;
            // Without json-patch's own undo: `patched` is a copy, dropped on an error, and that undo
            // panicked on a failed `move` (its source taken, the undo of an earlier remove then fails).
            json_patch::patch_unsafe(&mut patched, &operations).map_err(|e| {
                ApiError::invalid(rt, name, &[FieldCause::invalid("", "", &format!("the JSON patch failed: {e}"))])
            })?;
        }
        _ => return Err(ApiError::unsupported_media_type()),
    }
    Ok(patched)
}

fn self_subject_access_review(account: &Identity, mut review: Value) -> Value {
    let attributes = review.pointer("/spec/resourceAttributes").cloned().unwrap_or(Value::Null);
    let verb = str_at(&attributes, "/verb").to_string();
    let group = str_at(&attributes, "/group");
    let resource = str_at(&attributes, "/resource");
    let found = catalog::TYPES.iter().find(|t| t.group == group && t.plural == resource);
    let (allowed, reason) = match found {
        Some(rt) if allowed(account.role, &verb, rt) => {
            (true, format!("the lab's {} {} may {verb} {resource}", account.user, account.credential_name()))
        }
        Some(_) => (false, String::new()),
        None if account.role == Role::Admin => {
            (true, format!("the lab's {} {} may do anything", account.user, account.credential_name()))
        }
        None => (false, String::new()),
    };
    let mut status = json!({"allowed": allowed});
    if !reason.is_empty() {
        status["reason"] = json!(reason);
    }
    review["status"] = status;
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["kind"] = json!("SelfSubjectAccessReview");
    review
}

impl Account {
    pub fn groups(&self) -> Vec<&'static str> {
        match self.role {
            Role::Admin => vec![MASTERS_GROUP, "system:authenticated"],
            Role::Viewer | Role::Authenticated => vec!["system:authenticated"],
        }
    }

    pub fn identity(&self) -> Identity {
        Identity {
            user: self.user.to_string(),
            groups: self.groups().into_iter().map(str::to_string).collect(),
            role: self.role,
            credential: Credential::Token,
        }
    }
}

fn self_subject_review(account: &Identity, rt: &ResourceType) -> Value {
    let groups = json!(account.groups);
    json!({
        "kind": "SelfSubjectReview",
        "apiVersion": rt.api_version(),
        "metadata": {"creationTimestamp": null},
        "status": {"userInfo": {"username": account.user, "groups": groups}},
    })
}

/// Answers one request; `peer` is who the connection's client certificate says it is.
pub async fn handle(
    shared: Arc<Shared>,
    peer: Option<Arc<Identity>>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = match route(&shared, peer.as_deref(), request).await {
        Ok(response) => response,
        Err(error) => error_response(&error),
    };
    tracing::debug!(%method, %path, status = response.status().as_u16(), "lab api");
    Ok(response)
}

/// The client certificate first, then the bearer token, as kube-apiserver
/// tries its authenticators.
fn authenticate(shared: &Shared, peer: Option<&Identity>, request: &Request<Incoming>) -> Option<Identity> {
    if let Some(peer) = peer {
        return Some(peer.clone());
    }
    let header = request.headers().get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let token = header.strip_prefix("Bearer ")?.trim();
    shared.accounts.iter().find(|a| a.token == token).map(Account::identity)
}

async fn route(
    shared: &Arc<Shared>,
    peer: Option<&Identity>,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let path = request.uri().path().trim_end_matches('/').to_string();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["healthz" | "readyz" | "livez"] => return Ok(Response::new(body("ok"))),
        ["version"] => return Ok(json_response(200, &discovery::version())),
        _ => {}
    }
    let account = authenticate(shared, peer, &request).ok_or_else(ApiError::unauthorized)?;
    // A plain Kubernetes API serves none of OpenShift's groups: 404, as such a cluster answers.
    let hidden = |group: &str| shared.plain_kubernetes && catalog::is_openshift(group);
    if let ["apis", group, ..] = segments.as_slice() {
        if hidden(group) {
            return Err(ApiError::no_such_resource());
        }
    }
    if request.method() == Method::GET {
        match segments.as_slice() {
            ["openapi", "v2"] => return Ok(discovery::openapi_v2(&request)),
            ["api"] => return Ok(json_response(200, &discovery::api_versions(&shared.address))),
            ["api", "v1"] => return Ok(json_response(200, &discovery::resource_list("", "v1"))),
            ["apis"] => return Ok(json_response(200, &discovery::group_list(shared.plain_kubernetes))),
            ["apis", group] => {
                return discovery::group(group).map(|g| json_response(200, &g)).ok_or_else(ApiError::no_such_resource)
            }
            ["apis", group, version] if catalog::group_served(group, version) => {
                return Ok(json_response(200, &discovery::resource_list(group, version)))
            }
            _ => {}
        }
    }
    let (group, version, rest) = match segments.as_slice() {
        ["api", "v1", rest @ ..] if !rest.is_empty() => ("", "v1", rest),
        ["apis", group, version, rest @ ..] if !rest.is_empty() => (*group, *version, rest),
        _ => return Err(ApiError::no_such_resource()),
    };
    let target = resolve(group, version, rest)?;
    let query = Query::parse(request.uri().query());
    let verb = verb_of(request.method(), &target, &query);
    let rt = target.rt();
    if !allowed(account.role, verb, rt) {
        return Err(ApiError::forbidden(
            &account.user,
            verb,
            rt,
            target.subresource.as_deref(),
            target.namespace.as_deref(),
            target.name.as_deref(),
        ));
    }
    let dry_run = query.get("dryRun") == Some("All");
    let store = &shared.store;
    let ns = target.ns().to_string();
    let wanted = rendering(&request);
    match (verb, target.name.clone(), target.subresource.as_deref()) {
        ("create", Some(name), Some("portforward")) => {
            let pod = store.get(target.type_index, &ns, &name)?;
            let ports: Vec<String> = query.all("ports").into_iter().map(str::to_string).collect();
            portforward::upgrade(shared, request, &pod, &ports)
        }
        ("create", Some(name), Some("exec")) => {
            let pod = store.get(target.type_index, &ns, &name)?;
            let options = exec::ExecOptions {
                command: query.all("command").into_iter().map(str::to_string).collect(),
                container: query.get("container").filter(|c| !c.is_empty()).map(str::to_string),
                stdin: query.flag("stdin"),
                stdout: query.flag("stdout"),
                stderr: query.flag("stderr"),
                tty: query.flag("tty"),
            };
            exec::upgrade(shared, request, &pod, options)
        }
        ("list", _, _) => list(shared, &request, &target, &query),
        ("watch", _, _) => watch(shared, &request, &target, &query),
        ("get", Some(name), Some("scale")) => {
            Ok(json_response(200, &scale_of(&store.get(target.type_index, &ns, &name)?)))
        }
        ("get", Some(name), None) if wanted != Rendering::Object => {
            let object = store.get(target.type_index, &ns, &name)?;
            match wanted {
                Rendering::Metadata => Ok(json_response(200, &partial_metadata(&object))),
                Rendering::MetadataList => Err(not_acceptable(
                    "you requested PartialObjectMetadataList, but the requested object is not a list",
                )),
                _ => {
                    let revision = str_at(&object, "/metadata/resourceVersion").parse().unwrap_or(0);
                    let include = IncludeObject::parse(query.get("includeObject"));
                    Ok(json_response(200, &table::table(rt.kind, &[object], revision, include, true, None)))
                }
            }
        }
        ("get", Some(name), _) => Ok(json_response(200, &store.get(target.type_index, &ns, &name)?)),
        ("create", None, None) => {
            // `kubectl --as USER` (an admin may act as anyone, as on a real API): who files a CSR.
            let impersonated = (account.role == Role::Admin)
                .then(|| request.headers().get("Impersonate-User")?.to_str().ok().map(str::to_string))
                .flatten();
            let body = read_body(request).await?;
            match rt.kind {
                "SelfSubjectAccessReview" => Ok(json_response(201, &self_subject_access_review(&account, body))),
                "SelfSubjectReview" => Ok(json_response(201, &self_subject_review(&account, rt))),
                "CertificateSigningRequest" => {
                    // The requestor is whoever is authenticated, whatever the body says.
                    let mut body = body;
                    if body.is_object() && body.get("spec").is_none_or(|s| s.is_object() || s.is_null()) {
                        match &impersonated {
                            Some(user) => {
                                body["spec"]["username"] = json!(user);
                                body["spec"]["groups"] = json!(["system:authenticated"]);
                            }
                            None => {
                                body["spec"]["username"] = json!(account.user);
                                body["spec"]["groups"] = json!(account.groups);
                            }
                        }
                    }
                    Ok(json_response(201, &store.create(target.type_index, &ns, body, dry_run)?))
                }
                "Pod" if privileged(&body) && forbids_privileged(shared) => {
                    // The security context constraints admission's answer when none allows the pod.
                    let name = str_at(&body, "/metadata/name").to_string();
                    Err(ApiError::new(
                        403,
                        "Forbidden",
                        format!(
                            "pods \"{name}\" is forbidden: unable to validate against any security context \
                             constraint: [provider \"anyuid\": Forbidden: not usable by user or serviceaccount, \
                             spec.volumes[0]: Invalid value: \"hostPath\": hostPath volumes are not allowed to be \
                             used, spec.containers[0].securityContext.privileged: Invalid value: true: Privileged \
                             containers are not allowed]"
                        ),
                    ))
                }
                "PersistentVolumeClaim" if shared.pvc_protection => {
                    // The StorageObjectInUseProtection admission plugin's finalizer.
                    let mut body = body;
                    if body["metadata"].is_object() || body["metadata"].is_null() {
                        let finalizers = body["metadata"]["finalizers"].as_array().cloned().unwrap_or_default();
                        if !finalizers.iter().any(|f| f == PVC_PROTECTION) {
                            let mut finalizers = finalizers;
                            finalizers.push(json!(PVC_PROTECTION));
                            body["metadata"]["finalizers"] = json!(finalizers);
                        }
                    }
                    Ok(json_response(201, &store.create(target.type_index, &ns, body, dry_run)?))
                }
                _ => Ok(json_response(201, &store.create(target.type_index, &ns, body, dry_run)?)),
            }
        }
        ("update" | "patch", Some(name), sub) => {
            let content_type = request
                .headers()
                .get(hyper::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json")
                .to_string();
            let body = read_body(request).await?;
            let scale = sub == Some("scale");
            let part = match sub {
                Some("status") => Part::Status,
                Some("approval") => Part::All,
                _ => Part::Main,
            };
            // The patch is applied to the object as stored at the moment of the
            // write, so a controller's write in between cannot make it conflict.
            let stored = store.apply(target.type_index, &ns, &name, part, dry_run, |current| {
                let base = if scale { scale_of(current) } else { current.clone() };
                let wanted = if verb == "patch" { apply_patch(&content_type, rt, &base, body, &name)? } else { body };
                let wanted_rv = json!(str_at(&wanted, "/metadata/resourceVersion"));
                match sub {
                    Some("scale") => {
                        let mut object = current.clone();
                        object["spec"]["replicas"] = wanted.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
                        object["metadata"]["resourceVersion"] = wanted_rv;
                        Ok(object)
                    }
                    Some("approval") => {
                        let conditions = wanted.pointer("/status/conditions").cloned().unwrap_or(json!([]));
                        let has =
                            |kind: &str| conditions.as_array().is_some_and(|c| c.iter().any(|c| c["type"] == kind));
                        if has("Approved") && has("Denied") {
                            return Err(ApiError::invalid(
                                rt,
                                &name,
                                &[FieldCause::invalid(
                                    "status.conditions",
                                    "Approved,Denied",
                                    "Approved and Denied conditions are mutually exclusive",
                                )],
                            ));
                        }
                        let mut object = current.clone();
                        object["status"]["conditions"] = conditions;
                        object["metadata"]["resourceVersion"] = wanted_rv;
                        Ok(object)
                    }
                    _ => Ok(wanted),
                }
            })?;
            Ok(json_response(200, &if scale { scale_of(&stored) } else { stored }))
        }
        ("delete", Some(name), None) => {
            let options = read_delete_options(request).await?;
            let dry_run = dry_run || options.dry_run;
            let stored =
                store.delete_with(target.type_index, &ns, &name, dry_run, &options.preconditions, options.immediate)?;
            Ok(json_response(200, &stored))
        }
        ("deletecollection", None, None) => {
            let filter = Filter::from(&query, rt)?;
            let namespace = target.namespace.as_deref();
            let listing = store.list(target.type_index, namespace, &|o| filter.matches(o), None, None);
            let mut gone = Vec::new();
            for object in listing.items {
                let object_ns = str_at(&object, "/metadata/namespace").to_string();
                let name = str_at(&object, "/metadata/name").to_string();
                if let Ok(deleted) = store.delete(target.type_index, &object_ns, &name, dry_run) {
                    gone.push(deleted);
                }
            }
            Ok(json_response(
                200,
                &json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(), "metadata": {}, "items": gone}),
            ))
        }
        _ => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({verb})"
        ))),
    }
}

fn list(
    shared: &Shared,
    request: &Request<Incoming>,
    target: &Target,
    query: &Query,
) -> Result<Response<Body>, ApiError> {
    let rt = target.rt();
    let filter = Filter::from(query, rt)?;
    let start = query.get("continue").filter(|c| !c.is_empty()).map(parse_continue).transpose()?;
    let limit = query.get("limit").and_then(|l| l.parse::<usize>().ok()).filter(|&l| l > 0);
    let listing =
        shared.store.list(target.type_index, target.namespace.as_deref(), &|o| filter.matches(o), start, limit);
    let token = listing.continue_after.as_ref().map(continue_token);
    let (kind, api_version, items) = match rendering(request) {
        Rendering::Table => {
            let include = IncludeObject::parse(query.get("includeObject"));
            return Ok(json_response(
                200,
                &table::table(rt.kind, &listing.items, listing.revision, include, true, token.as_deref()),
            ));
        }
        Rendering::Metadata => {
            return Err(not_acceptable("you requested PartialObjectMetadata, but the requested object is a list"))
        }
        // Only the metadata leaves the server: listing Secrets this way carries none of their data.
        Rendering::MetadataList => (
            "PartialObjectMetadataList".to_string(),
            "meta.k8s.io/v1".to_string(),
            listing.items.iter().map(partial_metadata).collect(),
        ),
        Rendering::Object => (format!("{}List", rt.kind), rt.api_version(), listing.items),
    };
    let mut metadata = json!({"resourceVersion": listing.revision.to_string()});
    if let Some(token) = token {
        metadata["continue"] = json!(token);
    }
    Ok(json_response(200, &json!({"kind": kind, "apiVersion": api_version, "metadata": metadata, "items": items})))
}

fn watch(
    shared: &Arc<Shared>,
    request: &Request<Incoming>,
    target: &Target,
    query: &Query,
) -> Result<Response<Body>, ApiError> {
    let rt = target.rt();
    let filter = Filter::from(query, rt)?;
    let wanted = rendering(request);
    let as_table = wanted == Rendering::Table;
    // kube-rs's metadata watch asks for each event's object as PartialObjectMetadata.
    let as_metadata = wanted == Rendering::Metadata;
    let include = IncludeObject::parse(query.get("includeObject"));
    let timeout = query.get("timeoutSeconds").and_then(|t| t.parse::<u64>().ok()).map(Duration::from_secs);
    let from = query.get("resourceVersion").filter(|v| !v.is_empty() && *v != "0");
    let from = match from {
        Some(text) => {
            Some(text.parse::<u64>().map_err(|_| ApiError::bad_request(format!("invalid resource version: {text}")))?)
        }
        None => None,
    };
    let store = shared.store.clone();
    let type_index = target.type_index;
    let namespace = target.namespace.clone();
    let scope = move |change_type: usize, object: &Value| {
        change_type == type_index
            && namespace.as_deref().is_none_or(|ns| str_at(object, "/metadata/namespace") == ns)
            && filter.matches(object)
    };
    // Without a resourceVersion a watch starts with the current objects as ADDED events.
    let (initial, past, receiver, expired) = match from {
        Some(revision) => match store.follow(revision) {
            Ok((past, receiver)) => (Vec::new(), past, Some(receiver), None),
            Err(error) => (Vec::new(), Vec::new(), None, Some(error)),
        },
        None => {
            let (items, receiver) =
                store.list_and_follow(type_index, target.namespace.as_deref(), &|o| scope(type_index, o));
            (items, Vec::new(), Some(receiver), None)
        }
    };
    // What a watcher with this scope sees of a change: an object leaving the
    // selector is DELETED for it, one entering it ADDED.
    let event_of = move |change: &Change| -> Option<&'static str> {
        let now = scope(change.type_index, &change.object);
        let before = change.previous.as_ref().is_some_and(|p| scope(change.type_index, p));
        match (change.kind, now, before) {
            (EventKind::Deleted, true, _) | (EventKind::Modified, false, true) => Some("DELETED"),
            (EventKind::Added, true, _) | (EventKind::Modified, true, false) => Some("ADDED"),
            (EventKind::Modified, true, true) => Some("MODIFIED"),
            _ => None,
        }
    };
    let (mut sender, channel) = http_body_util::channel::Channel::<Bytes, Infallible>::new(64);
    let mut shutdown = shared.shutdown.clone();
    tokio::spawn(async move {
        let mut headers = true;
        let mut encode = |kind: &str, object: &Value| -> Bytes {
            let object = if as_table && kind != "ERROR" {
                let revision = str_at(object, "/metadata/resourceVersion").parse().unwrap_or(0);
                let t = table::table(rt.kind, std::slice::from_ref(object), revision, include, headers, None);
                headers = false;
                t
            } else if as_metadata && kind != "ERROR" {
                partial_metadata(object)
            } else {
                object.clone()
            };
            let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
            line.push(b'\n');
            Bytes::from(line)
        };
        if let Some(error) = expired {
            let _ = sender.send(Frame::data(encode("ERROR", &error.status()))).await;
            return;
        }
        for object in &initial {
            if sender.send(Frame::data(encode("ADDED", object))).await.is_err() {
                return;
            }
        }
        for change in &past {
            if let Some(kind) = event_of(change) {
                if sender.send(Frame::data(encode(kind, &change.object))).await.is_err() {
                    return;
                }
            }
        }
        let Some(mut receiver) = receiver else { return };
        let deadline = tokio::time::sleep(timeout.unwrap_or(Duration::from_secs(30 * 60)));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = shutdown.changed() => return,
                change = receiver.recv() => match change {
                    Ok(change) => {
                        if let Some(kind) = event_of(&change) {
                            if sender.send(Frame::data(encode(kind, &change.object))).await.is_err() {
                                return;
                            }
                        }
                    }
                    // Fell behind or the store went away: end the stream; the client re-watches.
                    Err(_) => return,
                },
            }
        }
    });
    let mut response = Response::new(channel.boxed());
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json;stream=watch"));
    Ok(response)
}

/// The TLS acceptor for the lab's serving certificate. A client may present a
/// certificate signed by `client_ca_der` (then it is who the certificate
/// says) or none (then its bearer token says).
pub fn tls_config(cert_der: Vec<u8>, key_der: Vec<u8>, client_ca_der: &[u8]) -> Result<rustls::ServerConfig, String> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(client_ca_der.to_vec())).map_err(|e| e.to_string())?;
    let clients = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| e.to_string())?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(clients)
        .with_single_cert(vec![CertificateDer::from(cert_der)], PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der)))
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Accepts connections until shutdown; each one served on its own task.
pub async fn serve(listener: TcpListener, config: rustls::ServerConfig, shared: Arc<Shared>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let mut shutdown = shared.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(error = %e, "lab api: accept failed");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        // As a Go server's sockets (the kube-apiserver's): no Nagle delay on small writes, such as
        // an exec stream's frames.
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut shutdown = shared.shutdown.clone();
            let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "lab api: TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            // The certificate the handshake verified names the client for every request on this connection.
            let peer = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|cert| certificate_identity(cert.as_ref()))
                .map(Arc::new);
            let service = hyper::service::service_fn(move |request| handle(shared.clone(), peer.clone(), request));
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .with_upgrades();
            tokio::select! {
                _ = connection => {}
                _ = shutdown.changed() => {}
            }
        });
    }
}

pub fn local_address(listener: &TcpListener) -> Option<SocketAddr> {
    listener.local_addr().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategic_merge_matches_webhooks_by_name() {
        let mut object = json!({"webhooks": [
            {"name": "a.lab.io", "failurePolicy": "Fail", "sideEffects": "None"},
            {"name": "b.lab.io", "failurePolicy": "Fail", "sideEffects": "None"},
        ], "metadata": {"labels": {"x": "1"}, "finalizers": ["one"]}});
        strategic_merge(
            &mut object,
            &json!({"webhooks": [{"name": "b.lab.io", "failurePolicy": "Ignore"}],
                    "metadata": {"labels": {"x": null, "y": "2"}, "finalizers": ["two"]}}),
        );
        assert_eq!(object["webhooks"][0]["failurePolicy"], "Fail");
        assert_eq!(
            object["webhooks"][1],
            json!({"name": "b.lab.io", "failurePolicy": "Ignore", "sideEffects": "None"})
        );
        assert_eq!(object["metadata"]["labels"], json!({"y": "2"}));
        assert_eq!(object["metadata"]["finalizers"], json!(["one", "two"]));

        // Directives: delete one item, add another, replace a whole list, drop from a set.
        strategic_merge(
            &mut object,
            &json!({"webhooks": [{"name": "a.lab.io", "$patch": "delete"}, {"name": "c.lab.io", "failurePolicy": "Fail"}],
                    "$setElementOrder/webhooks": [{"name": "b.lab.io"}, {"name": "c.lab.io"}],
                    "metadata": {"$deleteFromPrimitiveList/finalizers": ["one"]}}),
        );
        let names: Vec<&str> =
            object["webhooks"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["b.lab.io", "c.lab.io"]);
        assert_eq!(object["metadata"]["finalizers"], json!(["two"]));
        strategic_merge(&mut object, &json!({"webhooks": [{"$patch": "replace"}, {"name": "d.lab.io"}]}));
        assert_eq!(object["webhooks"], json!([{"name": "d.lab.io"}]));
        // A list without a merge key is replaced, as in a merge patch.
        strategic_merge(&mut object, &json!({"spec": {"args": ["a"]}}));
        strategic_merge(&mut object, &json!({"spec": {"args": ["b"]}}));
        assert_eq!(object["spec"]["args"], json!(["b"]));
    }

    #[test]
    fn a_client_certificate_names_its_user_and_groups() {
        let ca = rcgen::CertifiedIssuer::self_signed(
            rcgen::CertificateParams::new(Vec::<String>::new()).unwrap(),
            rcgen::KeyPair::generate().unwrap(),
        )
        .unwrap();
        let admin = crate::certs::issue_client(&ca, CERT_ADMIN_USER, Some(MASTERS_GROUP)).unwrap();
        let identity = certificate_identity(&admin.cert_der).unwrap();
        assert_eq!(identity.user, "system:admin");
        assert_eq!(identity.groups, ["system:masters", "system:authenticated"]);
        assert_eq!((identity.role, identity.credential), (Role::Admin, Credential::Certificate));
        let node = crate::certs::issue_client(&ca, "system:node:master-0", Some("system:nodes")).unwrap();
        let identity = certificate_identity(&node.cert_der).unwrap();
        assert_eq!(identity.role, Role::Authenticated);
        let pods = catalog::get(catalog::find("", "v1", "pods").unwrap());
        assert!(!allowed(identity.role, "list", pods));
        let review = catalog::get(catalog::find("authentication.k8s.io", "v1", "selfsubjectreviews").unwrap());
        assert!(allowed(identity.role, "create", review));
    }
}
