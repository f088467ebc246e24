//! kube-rs (the client the console uses) against the lab's simulated API:
//! lists, watches and patches; conflicts, missing groups and read-only
//! tokens give the status codes a real API server gives.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use k8s_openapi::api::certificates::v1::{CertificateSigningRequest, CertificateSigningRequestSpec};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::ByteString;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::{Client, Config};
use serde_json::json;

use common::*;
use etcd_console_lab::Lab;

async fn client(lab: &Lab, context: &str) -> Client {
    let kubeconfig = Kubeconfig::read_from(lab.kubeconfig.clone().unwrap()).unwrap();
    let options = KubeConfigOptions { context: Some(context.to_string()), ..KubeConfigOptions::default() };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options).await.unwrap();
    Client::try_from(config).unwrap()
}

fn openshift(client: &Client, group: &str, version: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    Api::all_with(client.clone(), &resource)
}

fn status_code(error: &kube::Error) -> (u16, String) {
    match error {
        kube::Error::Api(status) => (status.code, status.reason.clone()),
        other => panic!("not an API error: {other}"),
    }
}

fn ready(pod: &Pod) -> Option<String> {
    pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready").map(|c| c.status.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_lists_watches_patches_and_sees_real_status_codes() {
    let lab = lab_scenario("healthy", 1.0).await;
    let admin = client(&lab, "lab").await;

    let pods: Api<Pod> = Api::namespaced(admin.clone(), "openshift-etcd");
    let listed = pods.list(&ListParams::default().labels("k8s-app=etcd")).await.unwrap();
    let ips: Vec<String> = listed.items.iter().filter_map(|p| p.status.as_ref()?.pod_ip.clone()).collect();
    let member_ips: Vec<String> = lab.members.iter().map(|m| m.ip.to_string()).collect();
    assert_eq!(ips, member_ips, "one pod per member, at the member's address");
    let masters =
        Api::<Node>::all(admin.clone()).list(&ListParams::default().labels("node-role.kubernetes.io/master")).await;
    assert_eq!(masters.unwrap().items.len(), 3);
    let first = pods.list(&ListParams::default().limit(2)).await.unwrap();
    let token = first.metadata.continue_.clone().unwrap_or_default();
    assert!(!token.is_empty(), "a limited list pages");
    let rest = pods.list(&ListParams::default().limit(2).continue_token(&token)).await.unwrap();
    let paged: Vec<_> = first.items.iter().chain(&rest.items).filter_map(|p| p.metadata.name.clone()).collect();
    assert_eq!(paged, ["etcd-master-0", "etcd-master-1", "etcd-master-2"]);
    let on_node = pods.list(&ListParams::default().fields("spec.nodeName=master-1")).await.unwrap();
    assert_eq!(on_node.items.len(), 1);
    // A server-side dry run deletes nothing; a stale precondition is a conflict.
    let dry = kube::api::DeleteParams { dry_run: true, ..kube::api::DeleteParams::default() };
    pods.delete("etcd-master-2", &dry).await.unwrap();
    assert!(pods.get("etcd-master-2").await.is_ok(), "a dry run deletes nothing");
    let stale = kube::api::DeleteParams {
        preconditions: Some(kube::api::Preconditions { resource_version: Some("1".into()), uid: None }),
        ..kube::api::DeleteParams::default()
    };
    assert_eq!(status_code(&pods.delete("etcd-master-2", &stale).await.unwrap_err()), (409, "Conflict".to_string()));
    let bad_field = pods.list(&ListParams::default().fields("spec.hostname=x")).await.unwrap_err();
    assert_eq!(status_code(&bad_field).0, 400);

    // Merge patch, then a write with a stale resourceVersion: 409 Conflict.
    let etcds = openshift(&admin, "operator.openshift.io", "v1", "Etcd", "etcds");
    let before = etcds.get("cluster").await.unwrap();
    let patched = etcds
        .patch(
            "cluster",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"forceRedeploymentReason": "kube-rs-1"}})),
        )
        .await
        .unwrap();
    assert_ne!(patched.metadata.resource_version, before.metadata.resource_version);
    assert_eq!(patched.data["spec"]["forceRedeploymentReason"], "kube-rs-1");
    let conflict = etcds.replace("cluster", &PostParams::default(), &before).await.unwrap_err();
    assert_eq!(status_code(&conflict), (409, "Conflict".to_string()));
    let json_patch: json_patch::Patch =
        serde_json::from_value(json!([{"op": "replace", "path": "/spec/logLevel", "value": "Debug"}])).unwrap();
    let patched = etcds.patch("cluster", &PatchParams::default(), &Patch::<()>::Json(json_patch)).await.unwrap();
    assert_eq!(patched.data["spec"]["logLevel"], "Debug");

    // A group this cluster does not serve, and a missing object: 404.
    let routes = openshift(&admin, "route.openshift.io", "v1", "Route", "routes");
    assert_eq!(status_code(&routes.list(&ListParams::default()).await.unwrap_err()).0, 404);
    assert_eq!(status_code(&etcds.get("other").await.unwrap_err()), (404, "NotFound".to_string()));

    // The read-only token reads, and gets 403 for any change; SelfSubjectAccessReview says so.
    let viewer = client(&lab, "lab-readonly").await;
    let viewer_etcds = openshift(&viewer, "operator.openshift.io", "v1", "Etcd", "etcds");
    assert!(viewer_etcds.get("cluster").await.is_ok());
    let forbidden = viewer_etcds
        .patch("cluster", &PatchParams::default(), &Patch::Merge(json!({"spec": {"logLevel": "Normal"}})))
        .await
        .unwrap_err();
    assert_eq!(status_code(&forbidden), (403, "Forbidden".to_string()));
    let review = |verb: &str| SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.to_string()),
                group: Some("operator.openshift.io".into()),
                resource: Some("etcds".into()),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let reviews = Api::<SelfSubjectAccessReview>::all(viewer.clone());
    let may_patch = reviews.create(&PostParams::default(), &review("patch")).await.unwrap();
    let may_watch = reviews.create(&PostParams::default(), &review("watch")).await.unwrap();
    assert_eq!(may_patch.status.map(|s| s.allowed), Some(false));
    assert_eq!(may_watch.status.map(|s| s.allowed), Some(true));
    let admin_reviews = Api::<SelfSubjectAccessReview>::all(admin.clone());
    let admin_may = admin_reviews.create(&PostParams::default(), &review("patch")).await.unwrap();
    assert_eq!(admin_may.status.map(|s| s.allowed), Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kube_rs_watcher_sees_an_etcd_pod_go_unready_when_its_member_freezes() {
    let lab = lab_scenario("healthy", 1.0).await;
    let admin = client(&lab, "lab").await;
    let pods: Api<Pod> = Api::namespaced(admin, "openshift-etcd");
    let frozen = lab.follower().await.unwrap();
    let pod_name = format!("etcd-{}", lab.members[frozen].name);
    let mut events = watcher(pods, watcher::Config::default().labels("k8s-app=etcd")).boxed();
    // The initial list arrives first.
    let mut initial = 0;
    while let Some(event) = tokio::time::timeout(Duration::from_secs(10), events.try_next()).await.unwrap().unwrap() {
        match event {
            watcher::Event::InitApply(_) => initial += 1,
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(initial, 3);
    lab.pause_member(frozen).unwrap();
    let unready = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = events.try_next().await.unwrap() {
            if let watcher::Event::Apply(pod) = event {
                if pod.metadata.name.as_deref() == Some(pod_name.as_str()) {
                    return ready(&pod);
                }
            }
        }
        None
    })
    .await
    .unwrap();
    lab.resume_member(frozen).unwrap();
    assert_eq!(unready.as_deref(), Some("False"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csr_created_and_approved_through_kube_rs_is_issued() {
    let lab = lab_scenario("healthy", 1.0).await;
    let admin = client(&lab, "lab").await;
    let csrs: Api<CertificateSigningRequest> = Api::all(admin.clone());
    let pem = etcd_console_lab::api::seed::node_csr_pem("worker-0").unwrap();
    let request = CertificateSigningRequest {
        metadata: kube::api::ObjectMeta { name: Some("csr-kube-rs".into()), ..Default::default() },
        spec: CertificateSigningRequestSpec {
            request: ByteString(pem.into_bytes()),
            signer_name: "kubernetes.io/kubelet-serving".into(),
            usages: Some(vec!["digital signature".into(), "server auth".into()]),
            ..Default::default()
        },
        status: None,
    };
    csrs.create(&PostParams::default(), &request).await.unwrap();
    let again = csrs.create(&PostParams::default(), &request).await.unwrap_err();
    assert_eq!(status_code(&again), (409, "AlreadyExists".to_string()));
    let approval = json!({"status": {"conditions": [{"type": "Approved", "status": "True", "reason": "KubeRsApprove", "message": "approved by the test"}]}});
    csrs.patch_approval("csr-kube-rs", &PatchParams::default(), &Patch::Merge(approval)).await.unwrap();
    let issued = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let csr = csrs.get("csr-kube-rs").await.unwrap();
            if let Some(cert) = csr.status.and_then(|s| s.certificate) {
                return cert.0;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap();
    assert!(String::from_utf8_lossy(&issued).starts_with("-----BEGIN CERTIFICATE-----"));
    // An invalid CSR (no request) is refused with 422.
    let empty = CertificateSigningRequest {
        metadata: kube::api::ObjectMeta { name: Some("csr-empty".into()), ..Default::default() },
        spec: CertificateSigningRequestSpec {
            signer_name: "kubernetes.io/kubelet-serving".into(),
            ..Default::default()
        },
        status: None,
    };
    assert_eq!(status_code(&csrs.create(&PostParams::default(), &empty).await.unwrap_err()).0, 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_from_a_forgotten_revision_gets_410_in_the_stream() {
    use kube::api::{WatchEvent, WatchParams};
    let lab = lab_scenario("healthy", 1.0).await;
    let store = lab.api.as_ref().unwrap().store.clone();
    let configmaps = etcd_console_lab::api::catalog::find("", "v1", "configmaps").unwrap();
    let old = store.revision();
    // More changes than the server keeps for watches to resume from.
    for i in 0..20_001 {
        store.create(configmaps, "default", json!({"metadata": {"name": format!("churn-{i}")}}), false).unwrap();
    }
    let admin = client(&lab, "lab").await;
    let api: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(admin, "default");
    let mut stream = api.watch(&WatchParams::default().timeout(5), &old.to_string()).await.unwrap().boxed();
    let first = tokio::time::timeout(Duration::from_secs(10), stream.try_next()).await.unwrap().unwrap();
    match first {
        Some(WatchEvent::Error(status)) => assert_eq!((status.code, status.reason.as_str()), (410, "Expired")),
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    // Outlandish input is refused, never a crash: the API still answers afterwards.
    let far = api.watch(&WatchParams::default().timeout(1), &u64::MAX.to_string()).await;
    assert!(far.is_ok());
    let nodes: Api<Node> = Api::all(client(&lab, "lab").await);
    for bad in [json!({"spec": "x"}), json!({"metadata": {"labels": "x"}})] {
        let refused = nodes.patch("worker-0", &PatchParams::default(), &Patch::Merge(bad)).await.unwrap_err();
        assert_eq!(status_code(&refused).0, 422);
    }
    assert!(nodes.get("worker-0").await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_with_a_selector_sees_objects_leave_it() {
    // 600x: the forced redeployment relabels each etcd pod within a second.
    let lab = lab_scenario("healthy", 600.0).await;
    let admin = client(&lab, "lab").await;
    let pods: Api<Pod> = Api::namespaced(admin.clone(), "openshift-etcd");
    let mut events = watcher(pods, watcher::Config::default().labels("revision=7")).boxed();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.try_next()).await.unwrap().unwrap();
        if matches!(event, Some(watcher::Event::InitDone)) {
            break;
        }
    }
    let etcds = openshift(&admin, "operator.openshift.io", "v1", "Etcd", "etcds");
    etcds
        .patch("cluster", &PatchParams::default(), &Patch::Merge(json!({"spec": {"forceRedeploymentReason": "leave"}})))
        .await
        .unwrap();
    let mut left = Vec::new();
    while left.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(10), events.try_next()).await.unwrap().unwrap() {
            Some(watcher::Event::Delete(pod)) => left.push(pod.metadata.name.unwrap_or_default()),
            Some(_) => {}
            None => break,
        }
    }
    left.sort();
    assert_eq!(left, ["etcd-master-0", "etcd-master-1", "etcd-master-2"], "each pod leaves revision=7 as it rolls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_reads_secrets_metadata_without_their_data() {
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::{GetParams, WatchParams};
    use kube::core::Request;
    const COMPONENT: &str = "encryption.apiserver.operator.openshift.io/component";
    const MODE: &str = "encryption.apiserver.operator.openshift.io/mode";
    const URL: &str = "/api/v1/namespaces/openshift-config-managed/secrets";
    let lab = lab_scenario("encryption-in-progress", 1.0).await;
    let admin = client(&lab, "lab").await;
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), "openshift-config-managed");
    let keys = ListParams::default().labels(COMPONENT);

    // list_metadata: names, labels and annotations of the three key secrets.
    let listed = secrets.list_metadata(&keys).await.unwrap();
    let names: Vec<String> = listed.items.iter().filter_map(|s| s.metadata.name.clone()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("encryption-key-") && n.ends_with("-1")), "{names:?}");
    for item in &listed.items {
        let types = item.types.as_ref().unwrap();
        assert_eq!((types.kind.as_str(), types.api_version.as_str()), ("PartialObjectMetadata", "meta.k8s.io/v1"));
        assert!(item.metadata.labels.as_ref().unwrap().contains_key(COMPONENT));
        assert_eq!(item.metadata.annotations.as_ref().unwrap()[MODE], "aescbc");
        assert!(item.metadata.resource_version.is_some() && item.metadata.uid.is_some());
    }
    assert!(!listed.metadata.resource_version.unwrap_or_default().is_empty());
    // The body on the wire, exactly as kube-rs asks for it, carries no data.
    let raw = admin.request_text(Request::new(URL).list_metadata(&keys).unwrap()).await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        (body["kind"].as_str(), body["apiVersion"].as_str()),
        (Some("PartialObjectMetadataList"), Some("meta.k8s.io/v1"))
    );
    assert_eq!(body["items"].as_array().unwrap().len(), 3);
    for item in body["items"].as_array().unwrap() {
        let mut fields: Vec<&String> = item.as_object().unwrap().keys().collect();
        fields.sort();
        assert_eq!(fields, ["apiVersion", "kind", "metadata"]);
    }
    assert!(
        !raw.contains("\"data\"") && !raw.contains("operator.openshift.io-key") && !raw.contains("Opaque"),
        "{raw}"
    );
    // ...whereas a normal list of the same secrets does carry it.
    let full = secrets.list(&keys).await.unwrap();
    assert!(full.items.iter().all(|s| s.data.as_ref().is_some_and(|d| !d.is_empty())));

    // get_metadata of one of them.
    let one = secrets.get_metadata(&names[0]).await.unwrap();
    assert_eq!(one.metadata.name.as_deref(), Some(names[0].as_str()));
    assert_eq!(one.metadata.annotations.as_ref().unwrap()[MODE], "aescbc");
    let raw_one = admin.request_text(Request::new(URL).get_metadata(&names[0], &GetParams::default()).unwrap()).await;
    let raw_one = raw_one.unwrap();
    let body_one: serde_json::Value = serde_json::from_str(&raw_one).unwrap();
    assert_eq!(body_one["kind"], "PartialObjectMetadata");
    assert!(body_one.get("data").is_none() && body_one.get("type").is_none(), "{raw_one}");
    assert_eq!(status_code(&secrets.get_metadata("encryption-key-none-1").await.unwrap_err()).0, 404);

    // Paging: limit 1 gives a continue token; following it walks all three, then stops.
    let mut paged = Vec::new();
    let mut token = String::new();
    for page in 0..3 {
        let mut params = keys.clone().limit(1);
        if !token.is_empty() {
            params = params.continue_token(&token);
        }
        let listed = secrets.list_metadata(&params).await.unwrap();
        assert_eq!(listed.items.len(), 1);
        paged.extend(listed.items.iter().filter_map(|s| s.metadata.name.clone()));
        token = listed.metadata.continue_.clone().unwrap_or_default();
        assert_eq!(token.is_empty(), page == 2, "a continue token on every page but the last");
    }
    assert_eq!(paged, names, "the pages, in order, are the whole list");

    // A list rendering asked of one object, and an object rendering of a list: 406, as the API server answers.
    let mut mismatched = Request::new(URL).get_metadata(&names[0], &GetParams::default()).unwrap();
    mismatched.headers_mut().insert(
        hyper::header::ACCEPT,
        hyper::header::HeaderValue::from_static("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"),
    );
    assert_eq!(status_code(&admin.request_text(mismatched).await.unwrap_err()), (406, "NotAcceptable".to_string()));
    let mut mismatched = Request::new(URL).list_metadata(&keys).unwrap();
    mismatched.headers_mut().insert(
        hyper::header::ACCEPT,
        hyper::header::HeaderValue::from_static(
            "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json",
        ),
    );
    assert_eq!(status_code(&admin.request_text(mismatched).await.unwrap_err()), (406, "NotAcceptable".to_string()));

    // A metadata watch sends each object's metadata only.
    let watch = Request::new(URL).watch_metadata(&WatchParams::default().labels(COMPONENT).timeout(1), "0").unwrap();
    let events = admin.request_text(watch).await.unwrap();
    let events: Vec<serde_json::Value> = events.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 3);
    for event in &events {
        assert_eq!(
            (event["type"].as_str(), event["object"]["kind"].as_str()),
            (Some("ADDED"), Some("PartialObjectMetadata"))
        );
        assert!(event["object"].get("data").is_none());
    }

    // The read-only token may list what it may list today, secrets included.
    let viewer = client(&lab, "lab-readonly").await;
    let viewer_secrets: Api<Secret> = Api::namespaced(viewer, "openshift-config-managed");
    assert_eq!(viewer_secrets.list_metadata(&keys).await.unwrap().items.len(), 3);
}
