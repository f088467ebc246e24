//! A read-only Kubernetes API that serves a directory of objects exactly as they
//! are (the referee's objects captured from real clusters): discovery, lists,
//! gets, and watches that stay open and quiet. Plain HTTP on loopback, one
//! thread per connection; everything else is a Kubernetes-shaped 404 or 405.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

struct Object {
    group: String,
    version: String,
    plural: String,
    kind: String,
    namespace: Option<String>,
    name: String,
    value: Value,
}

pub struct FixtureApi {
    pub url: String,
    pub kubeconfig: PathBuf,
    stop: Arc<AtomicBool>,
}

impl Drop for FixtureApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn load(dir: &Path) -> Vec<Object> {
    let mut objects = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for file in files {
        let value: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let api_version = value["apiVersion"].as_str().unwrap_or("v1").to_string();
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version.clone()),
        };
        let kind = value["kind"].as_str().unwrap_or_default().to_string();
        objects.push(Object {
            plural: format!("{}s", kind.to_lowercase()),
            group,
            version,
            kind,
            namespace: value["metadata"]["namespace"].as_str().map(str::to_string),
            name: value["metadata"]["name"].as_str().unwrap_or_default().to_string(),
            value,
        });
    }
    objects
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": message, "reason": reason, "code": code}),
    )
}

/// The answer to one GET.
fn answer(objects: &[Object], path: &str) -> (u16, Value) {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    // (group, version, rest)
    let (group, version, rest): (&str, &str, &[&str]) = match parts.as_slice() {
        ["api"] => return (200, json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})),
        ["apis"] => {
            let mut groups: Vec<(String, String)> =
                objects.iter().filter(|o| !o.group.is_empty()).map(|o| (o.group.clone(), o.version.clone())).collect();
            groups.sort();
            groups.dedup();
            let groups: Vec<Value> = groups
                .iter()
                .map(|(g, v)| {
                    let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
                    json!({"name": g, "versions": [gv], "preferredVersion": gv})
                })
                .collect();
            return (200, json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}));
        }
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return status(404, "NotFound", "the server could not find the requested resource"),
    };
    let of_group = || objects.iter().filter(move |o| o.group == group);
    if rest.is_empty() {
        let mut seen = Vec::new();
        let resources: Vec<Value> = of_group()
            .filter(|o| {
                let new = !seen.contains(&o.plural);
                seen.push(o.plural.clone());
                new
            })
            .map(|o| {
                json!({"name": o.plural, "singularName": o.kind.to_lowercase(), "namespaced": o.namespace.is_some(),
                       "kind": o.kind, "verbs": ["get", "list", "watch"]})
            })
            .collect();
        let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
        return (
            200,
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
        );
    }
    let (namespace, plural, name) = match rest {
        ["namespaces", ns, plural] => (Some(*ns), *plural, None),
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name)),
        [plural] => (None, *plural, None),
        [plural, name] => (None, *plural, Some(*name)),
        _ => return status(404, "NotFound", "the server could not find the requested resource"),
    };
    let matching: Vec<&Object> = of_group()
        .filter(|o| o.plural == plural)
        .filter(|o| namespace.is_none() || o.namespace.as_deref() == namespace)
        .collect();
    let api_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    let served = |o: &Object| {
        let mut v = o.value.clone();
        v["apiVersion"] = json!(api_version);
        v
    };
    match name {
        Some(name) => match matching.iter().find(|o| o.name == name) {
            Some(o) => (200, served(o)),
            None => status(404, "NotFound", &format!("{plural} \"{name}\" not found")),
        },
        None => {
            let kind = matching.first().map(|o| o.kind.clone()).unwrap_or_default();
            let items: Vec<Value> = matching.iter().map(|o| served(o)).collect();
            (
                200,
                json!({"kind": format!("{kind}List"), "apiVersion": api_version,
                         "metadata": {"resourceVersion": "1"}, "items": items}),
            )
        }
    }
}

fn handle(mut stream: TcpStream, objects: Arc<Vec<Object>>, stop: Arc<AtomicBool>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(clone) = stream.try_clone() else { return };
    let mut reader = BufReader::new(clone);
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let mut words = request.split_whitespace();
        let (method, target) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        if method == "GET" && query.split('&').any(|q| q == "watch=true" || q == "watch=1") {
            // A watch: open, and quiet until the client or the test goes away.
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
            if stream.write_all(head.as_bytes()).is_err() {
                return;
            }
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(200));
            }
            return;
        }
        let (code, value) = match method {
            "GET" => answer(&objects, path),
            // A review of what this user may do: nothing (the objects are only to be read).
            "POST" if path.ends_with("/selfsubjectaccessreviews") => {
                let mut review: Value = serde_json::from_slice(&body).unwrap_or_else(|_| json!({}));
                review["status"] = json!({"allowed": false, "reason": "the fixture API is read-only"});
                (201, review)
            }
            _ => status(405, "MethodNotAllowed", "the fixture API is read-only"),
        };
        let text = value.to_string();
        let reason = match code {
            200 => "OK",
            201 => "Created",
            404 => "Not Found",
            _ => "Method Not Allowed",
        };
        let response = format!(
            "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
        if stream.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

impl FixtureApi {
    /// Serves the objects of `dir`; its kubeconfig is written into `work`.
    pub fn serve(dir: &Path, work: &Path) -> FixtureApi {
        let objects = Arc::new(load(dir));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let (objects, stop) = (objects.clone(), stopping.clone());
                        std::thread::spawn(move || handle(stream, objects, stop));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        std::fs::create_dir_all(work).unwrap();
        let kubeconfig = work.join("fixture-kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fixture\n  cluster:\n    server: {url}\nusers:\n- name: \
             fixture\n  user:\n    token: fixture\ncontexts:\n- name: fixture\n  context:\n    cluster: fixture\n    user: \
             fixture\ncurrent-context: fixture\n"
        );
        std::fs::write(&kubeconfig, text).unwrap();
        FixtureApi { url, kubeconfig, stop }
    }
}
