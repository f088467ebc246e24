//! Legacy discovery documents (`/api`, `/apis`, `/apis/G/V`, `/version`):
//! what kubectl and kube-rs read to map `kubectl get csr` to a URL.

use serde_json::{json, Value};

use super::catalog::{self, ResourceType};

pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "27",
        "gitVersion": "v1.27.6+etcd-console-lab",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.20.10",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

pub fn api_versions(server: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}]
    })
}

/// A group with the versions it serves, the first preferred.
fn group_entry(group: &str, versions: &[&str]) -> Value {
    let gv = |version: &str| json!({"groupVersion": format!("{group}/{version}"), "version": version});
    let preferred = versions.first().map(|v| gv(v)).unwrap_or(Value::Null);
    json!({"name": group, "versions": versions.iter().map(|v| gv(v)).collect::<Vec<_>>(), "preferredVersion": preferred})
}

pub fn group_list(plain_kubernetes: bool) -> Value {
    let groups: Vec<Value> = catalog::groups()
        .into_iter()
        .filter(|(g, _)| !(plain_kubernetes && catalog::is_openshift(g)))
        .map(|(g, v)| group_entry(g, &v))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn group(name: &str) -> Option<Value> {
    let (g, v) = catalog::groups().into_iter().find(|(g, _)| *g == name)?;
    let mut entry = group_entry(g, &v);
    entry["kind"] = json!("APIGroup");
    entry["apiVersion"] = json!("v1");
    Some(entry)
}

fn verbs(rt: &ResourceType) -> Vec<&'static str> {
    if rt.virtual_only {
        vec!["create"]
    } else {
        vec!["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    }
}

pub fn resource_list(group: &str, version: &str) -> Value {
    let mut resources = Vec::new();
    for rt in catalog::TYPES.iter().filter(|t| t.group == group && t.version == version) {
        let mut entry = json!({
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": verbs(rt),
        });
        if !rt.short_names.is_empty() {
            entry["shortNames"] = json!(rt.short_names);
        }
        // `kubectl get all` expands to the types in the "all" category.
        if matches!((rt.group, rt.plural), ("", "pods") | ("apps", "deployments" | "statefulsets" | "daemonsets")) {
            entry["categories"] = json!(["all"]);
        }
        resources.push(entry);
        for sub in rt.subresources {
            let mut entry = json!({
                "name": format!("{}/{sub}", rt.plural),
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": ["get", "patch", "update"],
            });
            if *sub == "portforward" {
                entry["kind"] = json!("PodPortForwardOptions");
                entry["verbs"] = json!(["create", "get"]);
            }
            if *sub == "exec" {
                entry["kind"] = json!("PodExecOptions");
                entry["verbs"] = json!(["create", "get"]);
            }
            if *sub == "scale" {
                entry["group"] = json!("autoscaling");
                entry["version"] = json!("v1");
                entry["kind"] = json!("Scale");
            }
            resources.push(entry);
        }
    }
    let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

/// `/openapi/v2` with no schema in it: kubectl (`apply`'s validation, its
/// field-validation check) reads it and, finding no type, validates nothing
/// client-side; the server checks what it stores. Protobuf (what kubectl asks
/// for: an empty `Document` is zero bytes) or JSON.
pub fn openapi_v2<B>(request: &hyper::Request<B>) -> hyper::Response<super::server::Body> {
    let accept = request.headers().get(hyper::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (content_type, body) = if accept.contains("protobuf") {
        ("application/com.github.proto-openapi.spec.v2.v1.0+protobuf", Vec::new())
    } else {
        let document = json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": super::seed::KUBELET_VERSION}, "paths": {}, "definitions": {}});
        ("application/json", serde_json::to_vec(&document).unwrap_or_default())
    };
    let mut response = hyper::Response::new(super::server::body(body));
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}
