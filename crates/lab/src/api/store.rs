//! The lab API's object store: every object as JSON under (type, namespace,
//! name), one resourceVersion counter for all of them (as etcd's revision is
//! for a real cluster), and a bounded history of changes that watches resume
//! from.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::catalog::{self, ResourceType};
use super::errors::ApiError;
use super::validation;

/// Changes kept for watches to resume from; older resourceVersions get 410.
const HISTORY: usize = 20_000;

/// A pod annotated `"true"` is deleted as a kubelet deletes a running pod: a DELETE
/// sets its deletionTimestamp (Terminating) and its controller removes it once its
/// containers have stopped (the hosted etcd replicas, whose processes are real).
pub const GRACEFUL_DELETION_ANNOTATION: &str = "lab.etcd-console/graceful-deletion";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Added,
    Modified,
    Deleted,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Added => "ADDED",
            EventKind::Modified => "MODIFIED",
            EventKind::Deleted => "DELETED",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Change {
    pub revision: u64,
    pub type_index: usize,
    pub kind: EventKind,
    pub object: Value,
    /// The object before a modification (a watch with a selector it no
    /// longer matches sends DELETED).
    pub previous: Option<Value>,
}

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The object: for types with a status subresource, status is kept.
    Main,
    /// Only `.status` changes.
    Status,
    /// Everything, status included: the simulated controllers' own writes.
    All,
}

type Key = (usize, String, String);

#[derive(Debug)]
struct Inner {
    objects: BTreeMap<Key, Value>,
    revision: u64,
    history: VecDeque<Arc<Change>>,
    uid_counter: u64,
}

#[derive(Debug)]
pub struct Store {
    inner: Mutex<Inner>,
    changes: broadcast::Sender<Arc<Change>>,
    uid_seed: [u8; 8],
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

pub fn rfc3339(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

pub fn str_at<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn key_of(type_index: usize, namespace: &str, name: &str) -> Key {
    (type_index, namespace.to_string(), name.to_string())
}

fn namespace_key(namespace: &str) -> Option<Key> {
    catalog::find("", "v1", "namespaces").map(|ns| key_of(ns, "", namespace))
}

/// The changes after a revision, and the receiver of those to come.
pub type Following = (Vec<Arc<Change>>, broadcast::Receiver<Arc<Change>>);

/// DeleteOptions.preconditions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Preconditions {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

pub struct Listing {
    pub items: Vec<Value>,
    pub revision: u64,
    /// Key of the last item when a limit cut the list short.
    pub continue_after: Option<(String, String)>,
}

impl Store {
    pub fn new(uid_seed: [u8; 8]) -> Self {
        let (changes, _) = broadcast::channel(8192);
        Self {
            inner: Mutex::new(Inner {
                objects: BTreeMap::new(),
                revision: 1,
                history: VecDeque::new(),
                uid_counter: 0,
            }),
            changes,
            uid_seed,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave an object half-written
        // (each write replaces whole values), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn revision(&self) -> u64 {
        self.lock().revision
    }

    fn uid(&self, counter: u64) -> String {
        let s = self.uid_seed;
        let c = counter.to_be_bytes();
        format!(
            "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-4{:01x}{:02x}-8{:01x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            s[0],
            s[1],
            s[2],
            s[3],
            s[4],
            s[5],
            s[6] & 0xf,
            s[7],
            c[1] & 0xf,
            c[2],
            c[3],
            c[4],
            c[5],
            c[6],
            c[7],
            c[0]
        )
    }

    fn record(&self, inner: &mut Inner, type_index: usize, kind: EventKind, object: Value, previous: Option<Value>) {
        let change = Arc::new(Change { revision: inner.revision, type_index, kind, object, previous });
        if inner.history.len() == HISTORY {
            inner.history.pop_front();
        }
        inner.history.push_back(change.clone());
        // No receivers is fine: nobody is watching.
        let _ = self.changes.send(change);
    }

    pub fn get(&self, type_index: usize, namespace: &str, name: &str) -> Result<Value, ApiError> {
        let rt = catalog::get(type_index);
        self.lock()
            .objects
            .get(&key_of(type_index, namespace, name))
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, name))
    }

    pub fn exists(&self, type_index: usize, namespace: &str, name: &str) -> bool {
        self.lock().objects.contains_key(&key_of(type_index, namespace, name))
    }

    /// Objects of a type, optionally in one namespace, filtered, from after
    /// `start` (a continue token's key), at most `limit`.
    pub fn list(
        &self,
        type_index: usize,
        namespace: Option<&str>,
        filter: &dyn Fn(&Value) -> bool,
        start: Option<(String, String)>,
        limit: Option<usize>,
    ) -> Listing {
        let inner = self.lock();
        let lower = match &start {
            Some((ns, name)) => std::ops::Bound::Excluded(key_of(type_index, ns, name)),
            None => std::ops::Bound::Included(key_of(type_index, namespace.unwrap_or(""), "")),
        };
        let upper = std::ops::Bound::Excluded(key_of(type_index + 1, "", ""));
        let mut items = Vec::new();
        let mut continue_after = None;
        for ((_, ns, _), object) in inner.objects.range((lower, upper)) {
            if namespace.is_some_and(|want| want != ns) {
                if namespace.is_some_and(|want| ns.as_str() > want) {
                    break;
                }
                continue;
            }
            if !filter(object) {
                continue;
            }
            if limit.is_some_and(|l| items.len() >= l) {
                continue_after = items.last().map(|o: &Value| {
                    (str_at(o, "/metadata/namespace").to_string(), str_at(o, "/metadata/name").to_string())
                });
                break;
            }
            items.push(object.clone());
        }
        Listing { items, revision: inner.revision, continue_after }
    }

    /// Creates an object; `name` comes from metadata.name or generateName.
    pub fn create(
        &self,
        type_index: usize,
        namespace: &str,
        mut object: Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let rt = catalog::get(type_index);
        if !object.is_object() {
            return Err(ApiError::bad_request("the body of the request is not a JSON object"));
        }
        let mut inner = self.lock();
        inner.uid_counter += 1;
        let counter = inner.uid_counter;
        let mut name = str_at(&object, "/metadata/name").to_string();
        if name.is_empty() {
            let prefix = str_at(&object, "/metadata/generateName");
            if !prefix.is_empty() {
                name = format!("{prefix}{}", generated_suffix(counter ^ u64::from_be_bytes(self.uid_seed)));
            }
        }
        if rt.namespaced {
            let body_ns = str_at(&object, "/metadata/namespace");
            if !body_ns.is_empty() && body_ns != namespace {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            if !namespace_key(namespace).is_some_and(|k| inner.objects.contains_key(&k)) {
                return Err(ApiError::namespace_not_found(namespace));
            }
        }
        let causes = validation::check(rt, &name, &object);
        if !causes.is_empty() {
            return Err(ApiError::invalid(rt, &name, &causes));
        }
        let key = key_of(type_index, if rt.namespaced { namespace } else { "" }, &name);
        if inner.objects.contains_key(&key) {
            return Err(ApiError::already_exists(rt, &name));
        }
        inner.revision += 1;
        let revision = inner.revision;
        object["apiVersion"] = json!(rt.api_version());
        object["kind"] = json!(rt.kind);
        let metadata = &mut object["metadata"];
        if !metadata.is_object() {
            *metadata = json!({});
        }
        metadata["name"] = json!(name);
        if rt.namespaced {
            metadata["namespace"] = json!(namespace);
        } else if let Some(m) = metadata.as_object_mut() {
            m.remove("namespace");
        }
        metadata["uid"] = json!(self.uid(counter));
        metadata["resourceVersion"] = json!(revision.to_string());
        metadata["generation"] = json!(1);
        if str_at(&object, "/metadata/creationTimestamp").is_empty() {
            object["metadata"]["creationTimestamp"] = json!(now_rfc3339());
        }
        if dry_run {
            inner.revision -= 1;
            return Ok(object);
        }
        inner.objects.insert(key, object.clone());
        self.record(&mut inner, type_index, EventKind::Added, object.clone(), None);
        Ok(object)
    }

    /// Replaces an object. A resourceVersion in the body must be current (409 otherwise).
    pub fn update(
        &self,
        type_index: usize,
        namespace: &str,
        name: &str,
        object: Value,
        part: Part,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        self.apply(type_index, namespace, name, part, dry_run, |_| Ok(object))
    }

    /// Computes the new object from the current one and writes it, under one
    /// lock, so no other write falls between (a patch, a controller's change).
    /// A resourceVersion in the result must be the current one (409 otherwise).
    pub fn apply(
        &self,
        type_index: usize,
        namespace: &str,
        name: &str,
        part: Part,
        dry_run: bool,
        change: impl FnOnce(&Value) -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        let rt = catalog::get(type_index);
        let mut inner = self.lock();
        let key = key_of(type_index, namespace, name);
        let current = inner.objects.get(&key).cloned().ok_or_else(|| ApiError::not_found(rt, name))?;
        let mut object = change(&current)?;
        if !object.is_object() {
            return Err(ApiError::bad_request("the body of the request is not a JSON object"));
        }
        let body_name = str_at(&object, "/metadata/name");
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let wanted_rv = str_at(&object, "/metadata/resourceVersion");
        if !wanted_rv.is_empty() && wanted_rv != str_at(&current, "/metadata/resourceVersion") {
            return Err(ApiError::conflict(rt, name));
        }
        let has_status = rt.has_subresource("status");
        match part {
            Part::Main if has_status => object["status"] = current.get("status").cloned().unwrap_or(Value::Null),
            Part::Status => {
                let status = object.get("status").cloned().unwrap_or(Value::Null);
                object = current.clone();
                object["status"] = status;
            }
            _ => {}
        }
        if object.get("status").is_some_and(Value::is_null) {
            if let Some(o) = object.as_object_mut() {
                o.remove("status");
            }
        }
        // What the server owns comes from the stored object, whatever the body says.
        object["apiVersion"] = json!(rt.api_version());
        object["kind"] = json!(rt.kind);
        if !object["metadata"].is_object() {
            object["metadata"] = json!({});
        }
        for field in ["name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "generation"] {
            match current["metadata"].get(field) {
                Some(value) => object["metadata"][field] = value.clone(),
                None => {
                    if let Some(m) = object["metadata"].as_object_mut() {
                        m.remove(field);
                    }
                }
            }
        }
        let causes = validation::check(rt, name, &object);
        if !causes.is_empty() {
            return Err(ApiError::invalid(rt, name, &causes));
        }
        if part != Part::Status && object.get("spec") != current.get("spec") {
            let generation = current["metadata"]["generation"].as_i64().unwrap_or(1).saturating_add(1);
            object["metadata"]["generation"] = json!(generation);
        }
        if dry_run {
            return Ok(object);
        }
        let mut probe = object.clone();
        probe["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
        if probe == current {
            // A no-op write keeps the resourceVersion and wakes no watch, as on a real server.
            return Ok(current);
        }
        inner.revision += 1;
        object["metadata"]["resourceVersion"] = json!(inner.revision.to_string());
        let finalized = object["metadata"].get("deletionTimestamp").is_some()
            && object["metadata"]["finalizers"].as_array().is_none_or(Vec::is_empty);
        if finalized {
            inner.objects.remove(&key);
            self.record(&mut inner, type_index, EventKind::Deleted, object.clone(), Some(current));
        } else {
            inner.objects.insert(key, object.clone());
            self.record(&mut inner, type_index, EventKind::Modified, object.clone(), Some(current));
        }
        Ok(object)
    }

    /// Changes an object in place (the controllers' writes): atomic, no conflict check.
    pub fn modify(
        &self,
        type_index: usize,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut Value),
    ) -> Result<Value, ApiError> {
        self.apply(type_index, namespace, name, Part::All, false, |current| {
            let mut object = current.clone();
            change(&mut object);
            if let Some(m) = object["metadata"].as_object_mut() {
                m.remove("resourceVersion");
            }
            Ok(object)
        })
    }

    /// Deletes an object, or marks it for deletion while finalizers remain.
    pub fn delete(&self, type_index: usize, namespace: &str, name: &str, dry_run: bool) -> Result<Value, ApiError> {
        self.delete_if(type_index, namespace, name, dry_run, &Preconditions::default())
    }

    /// Deletes an object if it still has the uid / resourceVersion the client names.
    pub fn delete_if(
        &self,
        type_index: usize,
        namespace: &str,
        name: &str,
        dry_run: bool,
        preconditions: &Preconditions,
    ) -> Result<Value, ApiError> {
        self.delete_with(type_index, namespace, name, dry_run, preconditions, false)
    }

    /// Deletes an object as [`Store::delete_if`]; a pod marked for graceful deletion
    /// ([`GRACEFUL_DELETION_ANNOTATION`]) is only marked (deletionTimestamp) until its
    /// controller has stopped its containers and calls [`Store::remove`], unless `immediate`
    /// (`--grace-period=0 --force`).
    pub fn delete_with(
        &self,
        type_index: usize,
        namespace: &str,
        name: &str,
        dry_run: bool,
        preconditions: &Preconditions,
        immediate: bool,
    ) -> Result<Value, ApiError> {
        let rt = catalog::get(type_index);
        let mut inner = self.lock();
        let key = key_of(type_index, namespace, name);
        let mut object = inner.objects.get(&key).cloned().ok_or_else(|| ApiError::not_found(rt, name))?;
        for (field, wanted) in [("uid", &preconditions.uid), ("resourceVersion", &preconditions.resource_version)] {
            let actual = str_at(&object, &format!("/metadata/{field}"));
            if let Some(wanted) = wanted.as_deref().filter(|w| *w != actual) {
                return Err(ApiError::precondition_failed(rt, name, field, wanted, actual));
            }
        }
        if dry_run {
            return Ok(object);
        }
        let has_finalizers = object["metadata"]["finalizers"].as_array().is_some_and(|f| !f.is_empty());
        let graceful = !immediate
            && rt.kind == "Pod"
            && object.pointer(&format!("/metadata/annotations/{}", GRACEFUL_DELETION_ANNOTATION.replace('/', "~1")))
                == Some(&json!("true"));
        if graceful && !has_finalizers {
            if object["metadata"].get("deletionTimestamp").is_some() {
                return Ok(object);
            }
            inner.revision += 1;
            object["metadata"]["resourceVersion"] = json!(inner.revision.to_string());
            object["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
            object["metadata"]["deletionGracePeriodSeconds"] = json!(30);
            let previous = inner.objects.insert(key, object.clone());
            self.record(&mut inner, type_index, EventKind::Modified, object.clone(), previous);
            return Ok(object);
        }
        inner.revision += 1;
        object["metadata"]["resourceVersion"] = json!(inner.revision.to_string());
        if has_finalizers {
            if object["metadata"].get("deletionTimestamp").is_none() {
                object["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
            }
            let previous = inner.objects.insert(key, object.clone());
            self.record(&mut inner, type_index, EventKind::Modified, object.clone(), previous);
            return Ok(object);
        }
        inner.objects.remove(&key);
        self.record(&mut inner, type_index, EventKind::Deleted, object.clone(), None);
        if catalog::get(type_index).kind == "Namespace" {
            // The namespace's contents go with it.
            let inside: Vec<Key> = inner.objects.keys().filter(|(_, ns, _)| ns == name).cloned().collect();
            for key in inside {
                if let Some(mut gone) = inner.objects.remove(&key) {
                    inner.revision += 1;
                    gone["metadata"]["resourceVersion"] = json!(inner.revision.to_string());
                    self.record(&mut inner, key.0, EventKind::Deleted, gone, None);
                }
            }
        }
        Ok(object)
    }

    /// Removes an object whatever its finalizers or grace (a kubelet done with a
    /// terminating pod); None when it was already gone.
    pub fn remove(&self, type_index: usize, namespace: &str, name: &str) -> Option<Value> {
        let mut inner = self.lock();
        let mut object = inner.objects.remove(&key_of(type_index, namespace, name))?;
        inner.revision += 1;
        object["metadata"]["resourceVersion"] = json!(inner.revision.to_string());
        self.record(&mut inner, type_index, EventKind::Deleted, object.clone(), None);
        Some(object)
    }

    /// The changes after `revision` (oldest first) and a receiver for the
    /// ones to come, taken together so none falls between them.
    pub fn follow(&self, after: u64) -> Result<Following, ApiError> {
        let inner = self.lock();
        let oldest_kept = inner.history.front().map(|c| c.revision).unwrap_or(inner.revision + 1);
        if after.saturating_add(1) < oldest_kept && after < inner.revision && inner.history.len() == HISTORY {
            return Err(ApiError::expired(after, oldest_kept));
        }
        let past = inner.history.iter().filter(|c| c.revision > after).cloned().collect();
        Ok((past, self.changes.subscribe()))
    }

    /// The current objects and a receiver for the changes after them, taken
    /// under one lock (a watch that starts with the current objects).
    pub fn list_and_follow(
        &self,
        type_index: usize,
        namespace: Option<&str>,
        filter: &dyn Fn(&Value) -> bool,
    ) -> (Vec<Value>, broadcast::Receiver<Arc<Change>>) {
        let inner = self.lock();
        let receiver = self.changes.subscribe();
        let lower = key_of(type_index, namespace.unwrap_or(""), "");
        let upper = key_of(type_index + 1, "", "");
        let items = inner
            .objects
            .range(lower..upper)
            .filter(|((_, ns, _), o)| namespace.is_none_or(|want| want == ns) && filter(o))
            .map(|(_, o)| o.clone())
            .collect();
        (items, receiver)
    }

    /// Every object of every type: for the controllers' scans.
    pub fn all_of(&self, type_index: usize) -> Vec<Value> {
        self.list(type_index, None, &|_| true, None, None).items
    }
}

/// Five characters as the API server appends to a generateName.
pub fn generated_suffix(mut n: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut out = String::new();
    for _ in 0..5 {
        n = n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        out.push(char::from(ALPHABET[((n >> 33) % ALPHABET.len() as u64) as usize]));
    }
    out
}

pub fn type_index(rt: &ResourceType) -> Option<usize> {
    catalog::find(rt.group, rt.version, rt.plural)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (Store, usize, usize) {
        let store = Store::new([1, 2, 3, 4, 5, 6, 7, 8]);
        let ns = catalog::find("", "v1", "namespaces").unwrap();
        let pods = catalog::find("", "v1", "pods").unwrap();
        store.create(ns, "", json!({"metadata": {"name": "openshift-etcd"}}), false).unwrap();
        (store, ns, pods)
    }

    #[test]
    fn stale_updates_conflict_and_noop_writes_keep_the_version() {
        let (store, _, pods) = store();
        let pod = store.create(pods, "openshift-etcd", json!({"metadata": {"name": "etcd-master-0"}}), false).unwrap();
        let rv = str_at(&pod, "/metadata/resourceVersion").to_string();
        let mut changed = pod.clone();
        changed["metadata"]["labels"] = json!({"k8s-app": "etcd"});
        let updated =
            store.update(pods, "openshift-etcd", "etcd-master-0", changed.clone(), Part::Main, false).unwrap();
        assert_ne!(str_at(&updated, "/metadata/resourceVersion"), rv);
        let again = store.update(pods, "openshift-etcd", "etcd-master-0", changed, Part::Main, false);
        assert_eq!(again.map_err(|e| e.code), Err(409));
        let same = store.update(pods, "openshift-etcd", "etcd-master-0", updated.clone(), Part::Main, false).unwrap();
        assert_eq!(same["metadata"]["resourceVersion"], updated["metadata"]["resourceVersion"]);
    }

    #[test]
    fn status_is_its_own_subresource() {
        let (store, _, pods) = store();
        store.create(pods, "openshift-etcd", json!({"metadata": {"name": "p"}, "spec": {"a": 1}}), false).unwrap();
        let main = json!({"metadata": {"name": "p"}, "spec": {"a": 2}, "status": {"phase": "Running"}});
        let after = store.update(pods, "openshift-etcd", "p", main, Part::Main, false).unwrap();
        assert_eq!(after["spec"]["a"], 2);
        assert!(after.get("status").is_none());
        assert_eq!(after["metadata"]["generation"], 2);
        let status = json!({"metadata": {"name": "p"}, "spec": {"a": 3}, "status": {"phase": "Running"}});
        let after = store.update(pods, "openshift-etcd", "p", status, Part::Status, false).unwrap();
        assert_eq!((after["spec"]["a"].clone(), after["status"]["phase"].clone()), (json!(2), json!("Running")));
    }

    #[test]
    fn creating_in_a_missing_namespace_is_404_and_finalizers_hold_deletion() {
        let (store, ns, pods) = store();
        assert_eq!(
            store.create(pods, "nowhere", json!({"metadata": {"name": "p"}}), false).map_err(|e| e.code),
            Err(404)
        );
        store
            .create(pods, "openshift-etcd", json!({"metadata": {"name": "p", "finalizers": ["lab/hold"]}}), false)
            .unwrap();
        let marked = store.delete(pods, "openshift-etcd", "p", false).unwrap();
        assert!(marked["metadata"]["deletionTimestamp"].is_string());
        assert!(store.exists(pods, "openshift-etcd", "p"));
        store.modify(pods, "openshift-etcd", "p", |o| o["metadata"]["finalizers"] = json!([])).unwrap();
        assert!(!store.exists(pods, "openshift-etcd", "p"));
        store.delete(ns, "", "openshift-etcd", false).unwrap();
        assert_eq!(store.all_of(pods).len(), 0);
    }

    #[test]
    fn a_watch_from_a_revision_no_longer_kept_is_expired() {
        let (store, ns, _) = store();
        let start = store.revision();
        for i in 0..=HISTORY {
            store.create(ns, "", json!({"metadata": {"name": format!("n{i}")}}), false).unwrap();
        }
        let error = store.follow(start).map(|_| ()).unwrap_err();
        assert_eq!((error.code, error.reason), (410, "Expired"));
        assert!(store.follow(store.revision() - 5).is_ok());
    }

    #[test]
    fn watches_resume_after_a_revision_and_lists_page() {
        let (store, _, pods) = store();
        let start = store.revision();
        for i in 0..5 {
            store.create(pods, "openshift-etcd", json!({"metadata": {"name": format!("p{i}")}}), false).unwrap();
        }
        let (past, _rx) = store.follow(start).unwrap();
        assert_eq!(past.len(), 5);
        assert!(past.iter().all(|c| c.kind == EventKind::Added));
        let page = store.list(pods, Some("openshift-etcd"), &|_| true, None, Some(2));
        assert_eq!(page.items.len(), 2);
        let next = store.list(pods, Some("openshift-etcd"), &|_| true, page.continue_after, Some(10));
        assert_eq!(str_at(&next.items[0], "/metadata/name"), "p2");
        assert!(next.continue_after.is_none());
    }
}
