//! What `kubectl exec` runs in a lab pod: no container, an interpreter of the
//! commands the runbooks use, with the pod's volumes mapped to lab
//! directories (its claims to their volumes, an etcd pod's TLS files to the
//! lab's certificates). A path outside the pod's volumes is refused (exit 1);
//! an unknown command exits 127 (`<cmd>: command not found`).
//!
//! - files ([`files`]): `rm [-rf] P`, `mkdir [-p] P`, `ls [-la] P`,
//!   `test -e|-d|-f|-s P` (and `[ ... ]`), `sha256sum P`, `cat P`, `head -c N [P]`,
//!   and `sh -c 'cat > P'` / `bash -c 'cat > P'` (stdin into a file, to its end)
//!   or `sh -c 'head -c N > P'` (its first N bytes: a client that cannot end
//!   stdin, a v4 stream, copies that way);
//! - tools ([`tools`]): `etcdctl ...` (the real one, its paths mapped; in an
//!   etcd pod `https://localhost:2379` is its member), `etcdutl snapshot
//!   restore|status ...` (etcd 3.4 has no etcdutl: its etcdctl with etcdutl's
//!   rules), and `tar xmf - -C DIR` / `tar cf - P` (the real tar, for `kubectl cp`);
//! - `env [VAR=VALUE ...] CMD`, `sh -c 'CMD'` of one plain command, `exit N`,
//!   `echo`, `true`, `false`.

pub mod files;
pub mod tools;

use std::future::Future;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;

use super::hosted_cp::{volume_dir, MEMBER_ANNOTATION};
use super::store::str_at;
use super::HostsLink;
use crate::hosts::{HostSpec, Inventory};

/// A volume (or one file) of a pod, where the lab keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Where the pod sees it (absolute).
    pub pod_path: String,
    pub host: PathBuf,
    /// A directory (a volume), or one file (a secret's key).
    pub directory: bool,
    pub read_only: bool,
}

/// A pod path resolved onto the lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The pod path, normalized.
    pub pod_path: String,
    pub host: PathBuf,
    pub mount: Mount,
}

/// What an exec needs of its pod.
#[derive(Debug, Clone, Default)]
pub struct PodContext {
    pub pod: String,
    pub mounts: Vec<Mount>,
    /// The member an etcd pod runs (`localhost:2379` there).
    pub member: Option<HostSpec>,
    pub inventory: Option<Arc<Inventory>>,
    /// The lab host a node debug pod runs on (its `/` at `/host`): `chroot /host CMD` runs there.
    pub node: Option<String>,
}

/// The TLS files HyperShift mounts in an etcd pod (RUNBOOKS §2.6), and which of the lab's they are.
fn etcd_tls(inventory: &Inventory, member: &HostSpec) -> Vec<Mount> {
    let file = |pod_path: &str, host: &Path| Mount {
        pod_path: pod_path.to_string(),
        host: host.to_path_buf(),
        directory: false,
        read_only: true,
    };
    vec![
        file("/etc/etcd/tls/etcd-ca/ca.crt", &inventory.ca),
        file("/etc/etcd/tls/client/etcd-client-ca.crt", &inventory.ca),
        file("/etc/etcd/tls/client/etcd-client.crt", &inventory.client_cert),
        file("/etc/etcd/tls/client/etcd-client.key", &inventory.client_key),
        file("/etc/etcd/tls/server/server.crt", &member.cert),
        file("/etc/etcd/tls/server/server.key", &member.key),
        file("/etc/etcd/tls/peer/peer.crt", &member.cert),
        file("/etc/etcd/tls/peer/peer.key", &member.key),
    ]
}

impl PodContext {
    /// The pod's claims mounted in `container`, where the pod mounts them; for an
    /// etcd pod also its TLS files and its member.
    pub fn of(pod: &Value, container: &str, hosts: Option<&HostsLink>) -> Self {
        let name = str_at(pod, "/metadata/name").to_string();
        let namespace = str_at(pod, "/metadata/namespace");
        let Some(link) = hosts else { return Self { pod: name, ..Self::default() } };
        let inventory = link.inventory.clone();
        if let Some(node) = super::operators::host_root_pod_node(pod).filter(|n| inventory.host(n).is_some()) {
            let root =
                Mount { pod_path: "/host".into(), host: inventory.root(&node), directory: true, read_only: false };
            return Self { pod: name, mounts: vec![root], member: None, inventory: Some(inventory), node: Some(node) };
        }
        let volumes = pod.pointer("/spec/volumes").and_then(Value::as_array).cloned().unwrap_or_default();
        let mounts_of = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|c| c["name"] == container))
            .and_then(|c| c.get("volumeMounts"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut mounts = Vec::new();
        for mount in &mounts_of {
            let volume = volumes.iter().find(|v| v["name"] == mount["name"]);
            let claim = volume.map(|v| str_at(v, "/persistentVolumeClaim/claimName")).unwrap_or("");
            let path = normalize(str_at(mount, "/mountPath"));
            if claim.is_empty() || path == "/" {
                continue;
            }
            let sub = str_at(mount, "/subPath");
            let mut host = volume_dir(&inventory, namespace, claim);
            if !sub.is_empty() && !sub.split('/').any(|p| p == "..") {
                host = host.join(sub);
            }
            mounts.push(Mount { pod_path: path, host, directory: true, read_only: mount["readOnly"] == true });
        }
        let member_name =
            pod.pointer("/metadata/annotations").and_then(|a| a.get(MEMBER_ANNOTATION)).and_then(Value::as_str);
        let member = member_name.and_then(|n| inventory.host(n)).cloned();
        if let Some(member) = &member {
            mounts.extend(etcd_tls(&inventory, member));
        }
        Self { pod: name, mounts, member, inventory: Some(inventory), node: None }
    }

    /// Maps a pod path (relative ones are from `/`, the pods' working directory) onto the lab.
    pub fn resolve(&self, path: &str) -> Result<Resolved, String> {
        let pod_path = normalize(path);
        let mut best: Option<(&Mount, PathBuf)> = None;
        for mount in &self.mounts {
            let host = if !mount.directory {
                (pod_path == mount.pod_path).then(|| mount.host.clone())
            } else if pod_path == mount.pod_path {
                Some(mount.host.clone())
            } else {
                pod_path.strip_prefix(&format!("{}/", mount.pod_path)).map(|rest| mount.host.join(rest))
            };
            if let Some(host) = host {
                if best.as_ref().is_none_or(|(b, _)| mount.pod_path.len() > b.pod_path.len()) {
                    best = Some((mount, host));
                }
            }
        }
        match best {
            Some((mount, host)) => Ok(Resolved { pod_path, host, mount: mount.clone() }),
            None => {
                let volumes: Vec<&str> =
                    self.mounts.iter().filter(|m| m.directory).map(|m| m.pod_path.as_str()).collect();
                Err(if volumes.is_empty() {
                    format!("{path}: outside the pod's volumes (pod {} mounts no volume the lab maps)", self.pod)
                } else {
                    format!(
                        "{path}: outside the pod's volumes (the lab maps only {} of pod {})",
                        volumes.join(", "),
                        self.pod
                    )
                })
            }
        }
    }

    /// Lab paths in a text said as the pod sees them (a tool's messages).
    pub fn unmap(&self, text: &str) -> String {
        let mut mounts: Vec<&Mount> = self.mounts.iter().collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.host.as_os_str().len()));
        let mut text = text.to_string();
        for mount in mounts {
            let host = mount.host.display().to_string();
            if !host.is_empty() {
                text = text.replace(&host, &mount.pod_path);
            }
        }
        text
    }
}

/// An absolute path with `.` and `..` resolved as the kernel would for a path without links.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    format!("/{}", parts.join("/"))
}

/// Where a command writes: stdout (1) and stderr (2) frames for the exec stream.
#[derive(Clone)]
pub struct Output(mpsc::Sender<(u8, Vec<u8>)>);

impl Output {
    pub async fn out(&self, data: impl Into<Vec<u8>>) {
        let data = data.into();
        if !data.is_empty() {
            let _ = self.0.send((1, data)).await;
        }
    }

    pub async fn err(&self, text: impl Into<String>) {
        let mut text = text.into();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        if !text.is_empty() {
            let _ = self.0.send((2, text.into_bytes())).await;
        }
    }
}

/// The command's stdin, when the client sends one; EOF when it closes it.
pub struct Stdin(Option<mpsc::Receiver<Vec<u8>>>);

impl Stdin {
    pub async fn next(&mut self) -> Option<Vec<u8>> {
        match &mut self.0 {
            Some(receiver) => receiver.recv().await,
            None => None,
        }
    }
}

/// Runs `command` in the pod; its exit code.
pub async fn run(
    context: &PodContext,
    command: &[String],
    stdin: Option<mpsc::Receiver<Vec<u8>>>,
    out: mpsc::Sender<(u8, Vec<u8>)>,
) -> i32 {
    let out = Output(out);
    let mut stdin = Stdin(stdin);
    execute(context, Vec::new(), command.to_vec(), &mut stdin, &out).await
}

type Running<'a> = Pin<Box<dyn Future<Output = i32> + Send + 'a>>;

/// One command: `env` is the environment assignments before it.
fn execute<'a>(
    context: &'a PodContext,
    mut env: Vec<(String, String)>,
    mut argv: Vec<String>,
    stdin: &'a mut Stdin,
    out: &'a Output,
) -> Running<'a> {
    Box::pin(async move {
        // `env A=B CMD` and leading assignments.
        if argv.first().map(String::as_str) == Some("env") {
            argv.remove(0);
        }
        while let Some((name, value)) = argv.first().and_then(|w| assignment(w)) {
            env.push((name, value));
            argv.remove(0);
        }
        let Some(first) = argv.first().cloned() else {
            for (name, value) in &env {
                out.out(format!("{name}={value}\n")).await;
            }
            return 0;
        };
        let args = &argv[1..];
        let program = first.rsplit('/').next().unwrap_or(&first);
        match program {
            "sh" | "bash" => shell(context, env, &first, args, stdin, out).await,
            "chroot" => chroot(context, args, stdin, out).await,
            "etcdctl" => tools::etcdctl(context, &env, args, out).await,
            "etcdutl" => tools::etcdutl(context, args, out).await,
            "tar" => tools::tar(context, args, stdin, out).await,
            "rm" => files::rm(context, args, out).await,
            "mkdir" => files::mkdir(context, args, out).await,
            "mv" => files::mv(context, args, out).await,
            "ls" => files::ls(context, args, out).await,
            "test" => files::test(context, args, out).await,
            "[" if args.last().map(String::as_str) == Some("]") => {
                files::test(context, &args[..args.len() - 1], out).await
            }
            "sha256sum" => files::sha256sum(context, args, out).await,
            "head" => files::head(context, args, stdin, out).await,
            "cat" => files::cat(context, args, stdin, out).await,
            "echo" => {
                out.out(format!("{}\n", args.join(" "))).await;
                0
            }
            "true" => 0,
            "false" => 1,
            _ => {
                out.err(format!("{first}: command not found")).await;
                127
            }
        }
    })
}

/// `chroot /host CMD...` in a node debug pod: the file commands on the host's files, anything
/// else (cluster-backup.sh, hostname, crictl ...) by the host's agent, as root on the node.
async fn chroot(context: &PodContext, args: &[String], stdin: &mut Stdin, out: &Output) -> i32 {
    let (Some(root), Some(node), Some(inventory)) = (args.first(), &context.node, &context.inventory) else {
        out.err("chroot: cannot change root directory: Operation not permitted").await;
        return 125;
    };
    let resolved = match context.resolve(root) {
        Ok(resolved) if resolved.host.is_dir() => resolved,
        _ => {
            out.err(format!("chroot: cannot change root directory to '{root}': No such file or directory")).await;
            return 125;
        }
    };
    let argv: Vec<String> = args[1..].to_vec();
    let Some(program) = argv.first().map(|p| p.rsplit('/').next().unwrap_or(p).to_string()) else {
        out.err("chroot: the lab runs no interactive shell; give a command").await;
        return 125;
    };
    if matches!(
        program.as_str(),
        "cat" | "ls" | "rm" | "mkdir" | "test" | "sha256sum" | "head" | "echo" | "true" | "false"
    ) {
        let inner = PodContext {
            pod: context.pod.clone(),
            mounts: vec![Mount { pod_path: String::new(), host: resolved.host, directory: true, read_only: false }],
            member: None,
            inventory: context.inventory.clone(),
            node: None,
        };
        return execute(&inner, Vec::new(), argv, stdin, out).await;
    }
    let command: Vec<String> = argv.iter().map(|w| etcd_console_core::hosts::shell_quote(w)).collect();
    let (lab_dir, node, text) = (inventory.lab_dir.clone(), node.clone(), command.join(" "));
    let ran = tokio::task::spawn_blocking(move || crate::hosts::run_as_kubelet(&lab_dir, &node, &text)).await;
    match ran {
        Ok(output) => {
            out.out(output.stdout.into_bytes()).await;
            out.err(output.stderr).await;
            output.exit_code
        }
        Err(e) => {
            out.err(format!("the lab host failed: {e}")).await;
            1
        }
    }
}

/// `NAME=VALUE` (a shell variable assignment).
fn assignment(word: &str) -> Option<(String, String)> {
    let (name, value) = word.split_once('=')?;
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    valid.then(|| (name.to_string(), value.to_string()))
}

/// Splits a shell command line into words (quotes and backslashes as sh reads them);
/// Err names the first character this one-command shell does not do.
pub fn words(script: &str) -> Result<Vec<String>, char> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = script.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(next) = chars.next() {
                                word.push(next);
                            }
                        }
                        '$' | '`' => return Err(q),
                        _ => word.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '|' | '&' | ';' | '<' | '(' | ')' | '$' | '`' | '*' | '?' => return Err(c),
            _ => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// `sh -c SCRIPT`: `exit N`, `cat > FILE` / `cat >> FILE` (stdin into a file), or one plain command.
async fn shell(
    context: &PodContext,
    env: Vec<(String, String)>,
    name: &str,
    args: &[String],
    stdin: &mut Stdin,
    out: &Output,
) -> i32 {
    let script = match args {
        [flag, script, ..] if flag == "-c" => script.clone(),
        [flag, script, ..] if flag.starts_with('-') && flag.ends_with('c') => script.clone(),
        _ => {
            out.err(format!("{name}: the lab's pods run no interactive shell: give it a command with -c")).await;
            return 2;
        }
    };
    // `cat > FILE` and `head -c N > FILE`: the only redirections, those copies into a pod use.
    let redirect = if script.contains(">>") { ">>" } else { ">" };
    if let Some((before, after)) = script.split_once(redirect) {
        let command = words(before).unwrap_or_default();
        let command: Vec<&str> = command.iter().map(String::as_str).collect();
        let target = words(after);
        let limit = match command.as_slice() {
            ["cat"] | ["cat", "-"] => Some(None),
            ["head", rest @ ..] => files::head_bytes(rest).map(Some),
            _ => None,
        };
        return match (limit, target.as_deref()) {
            (Some(limit), Ok([file])) => files::stdin_into(context, file, redirect == ">>", limit, stdin, out).await,
            _ => {
                out.err(format!(
                    "{name}: the lab's pod shell redirects only `cat > FILE` and `head -c N > FILE` (not: {script})"
                ))
                .await;
                2
            }
        };
    }
    match words(&script) {
        Ok(words) if words.first().map(String::as_str) == Some("exit") => {
            words.get(1).and_then(|n| n.parse::<i32>().ok()).unwrap_or(0) & 0xff
        }
        Ok(words) if words.is_empty() => 0,
        Ok(words) => execute(context, env, words, stdin, out).await,
        Err(c) => {
            out.err(format!("{name}: the lab's pod shell runs one plain command (`{c}` is not done: {script})")).await;
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> PodContext {
        PodContext {
            pod: "etcd-data-x".into(),
            mounts: vec![
                Mount {
                    pod_path: "/var/lib".into(),
                    host: PathBuf::from("/lab/hosts/master-0/var/lib"),
                    directory: true,
                    read_only: false,
                },
                Mount {
                    pod_path: "/etc/etcd/tls/etcd-ca/ca.crt".into(),
                    host: PathBuf::from("/lab/pki/ca.crt"),
                    directory: false,
                    read_only: true,
                },
            ],
            member: None,
            inventory: None,
            node: None,
        }
    }

    #[test]
    fn paths_map_into_the_pods_volumes_and_nowhere_else() {
        let context = context();
        let data = context.resolve("/var/lib/data/../data/member").map(|r| r.host);
        assert_eq!(data, Ok(PathBuf::from("/lab/hosts/master-0/var/lib/data/member")));
        assert_eq!(context.resolve("/var/lib").map(|r| r.host), Ok(PathBuf::from("/lab/hosts/master-0/var/lib")));
        assert_eq!(context.resolve("var/lib/x").map(|r| r.pod_path), Ok("/var/lib/x".to_string()));
        assert!(context.resolve("/var/lib/../../etc/passwd").is_err());
        assert!(context.resolve("/var/libx").is_err());
        assert!(context.resolve("/etc/etcd/tls/etcd-ca").is_err());
        assert!(context.resolve("/etc/etcd/tls/etcd-ca/ca.crt").is_ok_and(|r| r.mount.read_only));
        let refused = context.resolve("/tmp/x").err().unwrap_or_default();
        assert!(refused.contains("outside the pod's volumes") && refused.contains("/var/lib"), "{refused}");
        assert_eq!(context.unmap("open /lab/hosts/master-0/var/lib/data: x"), "open /var/lib/data: x");
    }

    #[test]
    fn shell_words_split_as_sh_splits_them() {
        assert_eq!(words("cat  > '/var/lib/a b'"), Ok(vec!["cat".to_string(), ">".into(), "/var/lib/a b".into()]));
        assert_eq!(
            words(r#"ls -l "/var/lib" x\ y"#),
            Ok(vec!["ls".to_string(), "-l".into(), "/var/lib".into(), "x y".into()])
        );
        assert_eq!(words("ls | wc"), Err('|'));
        assert_eq!(assignment("ETCDCTL_API=3"), Some(("ETCDCTL_API".to_string(), "3".to_string())));
        assert_eq!(assignment("--data-dir=/x"), None);
    }
}
