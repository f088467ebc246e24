//! The lab's control-plane hosts. Each master has a host root,
//! `DIR/hosts/<node>/`, laid out like an RHCOS host (static-pod manifests and
//! resources, `/var/lib/etcd` holding the member's real data, kubelet and OVN
//! files); a kubelet in the lab process runs etcd from its manifest
//! ([`kubelet`]); and a host agent, the lab's stand-in for sshd, runs the
//! runbook's ssh commands on a host's files from any process ([`run`]). In the
//! hosted scenario a host's `/var/lib` is its etcd replica's volume instead,
//! with the member's data in `/var/lib/data` (see `api::hosted_cp`). Each
//! worker of the API has a host root too, with a kubelet's files only
//! ([`prepare_worker`]): the agent answers it as it answers a master, and the
//! simulated API hears its kubelet restarted ([`kubelet::worker_restarts`]).
//!
//! `DIR/hosts.json` (the [`Inventory`]) says what each host is: addresses,
//! ports, certificates, the etcd binary. The lab writes it once at start; the
//! agent and the simulated operators read it.

pub mod agent;
pub mod crictl;
pub mod faults;
pub mod kubelet;
pub mod manifest;
pub mod scale_up;
pub mod scripts;

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use etcd_console_core::settings::ConnectionSettings;

/// The inventory's file in the lab directory.
pub const INVENTORY: &str = "hosts.json";
/// Where the static-pod manifests are, on a host.
pub const MANIFESTS: &str = "/etc/kubernetes/manifests";
pub const STATIC_POD_RESOURCES: &str = "/etc/kubernetes/static-pod-resources";
/// etcd's data directory, on a host.
pub const DATA_DIR: &str = "/var/lib/etcd";
/// A hosted control plane's etcd data directory, inside the replica's volume
/// (its claim `data-etcd-N` is mounted at the pod's `/var/lib`, as HyperShift has it).
pub const POD_DATA_DIR: &str = "/var/lib/data";
/// Where a hosted etcd replica's volume is mounted in its pods (and, in the lab, the host's `/var/lib`).
pub const POD_VOLUME: &str = "/var/lib";
/// Where an ssh session starts (relative paths are from here).
pub const HOME: &str = "/home/core";
/// The lab kubelet's own state on a host (the etcd process it runs, a restart asked for).
pub const KUBELET_STATE: &str = "/run/lab-kubelet";
/// In a host root: present, the host answers no ssh.
pub const UNREACHABLE: &str = ".unreachable";
/// In a host root: present, `sudo -n` asks for a password (a host where core has no passwordless sudo).
pub const SUDO_NEEDS_PASSWORD: &str = ".sudo-needs-password";
/// In a host root: present, the host was powered off for good (its instance is gone).
pub const POWERED_OFF: &str = ".powered-off";
/// How long `lab lose` waits for the running lab's kubelet to take its request.
const LOSE_TAKEN_WITHIN: Duration = Duration::from_secs(5);

/// One control-plane host of the lab and its etcd member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostSpec {
    pub name: String,
    /// Its own loopback address (127.0.0.11, .12, ...).
    pub ip: String,
    pub client_url: String,
    /// The client URL the member advertises (differs on an isolated pod network).
    pub advertised_url: String,
    pub peer_url: String,
    /// The member's serving/peer certificate, key and CA, inside the host root.
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

/// What the lab's hosts are, shared with the host agent (another process) through DIR/hosts.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    pub lab_dir: PathBuf,
    pub etcd_bin: PathBuf,
    pub etcdctl_bin: PathBuf,
    /// etcd 3.5's offline tool, beside its etcd; None with etcd 3.4 (its etcdctl restores).
    #[serde(default)]
    pub etcdutl_bin: Option<PathBuf>,
    pub quota_bytes: u64,
    /// The lab's CA and its client certificate (what etcdctl and the operators use).
    pub ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub hosts: Vec<HostSpec>,
    /// The members are a hosted control plane's etcd replicas: each host's
    /// `/var/lib` is its replica's volume and etcd's data is in `/var/lib/data`.
    #[serde(default)]
    pub hosted: bool,
    /// The workers (the API's nodes that are not masters): a host root each, with a kubelet's
    /// files and no etcd member, answering the restore's commands for them.
    #[serde(default)]
    pub workers: Vec<WorkerSpec>,
}

/// A worker host of the lab: its node's name and InternalIP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerSpec {
    pub name: String,
    pub ip: String,
}

impl Inventory {
    pub fn load(lab_dir: &Path) -> Result<Self, String> {
        let path = lab_dir.join(INVENTORY);
        let text = fs::read_to_string(&path).map_err(|e| {
            format!(
                "{} is not a lab directory ({}: {e}): start one with `etcd-console lab serve --dir DIR`",
                lab_dir.display(),
                path.display()
            )
        })?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn save(&self) -> Result<(), String> {
        let path = self.lab_dir.join(INVENTORY);
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// etcd's data directory on a host: `/var/lib/etcd`, or `/var/lib/data` for a hosted control plane.
    pub fn data_dir(&self) -> &'static str {
        if self.hosted {
            POD_DATA_DIR
        } else {
            DATA_DIR
        }
    }

    /// Member `node`'s data directory in the lab.
    pub fn data_path(&self, node: &str) -> PathBuf {
        map_path(&self.root(node), self.data_dir()).unwrap_or_else(|_| self.root(node).join("var/lib/etcd"))
    }

    pub fn index(&self, node: &str) -> Option<usize> {
        self.hosts.iter().position(|h| h.name == node)
    }

    pub fn host(&self, node: &str) -> Option<&HostSpec> {
        self.hosts.iter().find(|h| h.name == node)
    }

    /// A worker, as a host an ssh session reaches: its name and address, no etcd member.
    pub fn worker(&self, node: &str) -> Option<HostSpec> {
        let worker = self.workers.iter().find(|w| w.name == node)?;
        let root = self.root(node);
        Some(HostSpec {
            name: worker.name.clone(),
            ip: worker.ip.clone(),
            client_url: String::new(),
            advertised_url: String::new(),
            peer_url: String::new(),
            cert: root.join("no-etcd-member"),
            key: root.join("no-etcd-member"),
            ca: root.join("no-etcd-member"),
        })
    }

    /// The host root of `node`: DIR/hosts/<node>.
    pub fn root(&self, node: &str) -> PathBuf {
        self.lab_dir.join("hosts").join(node)
    }

    /// etcd's log of `node`: DIR/logs/<node>.log.
    pub fn log(&self, node: &str) -> PathBuf {
        self.lab_dir.join("logs").join(format!("{node}.log"))
    }

    /// Flags that reach every member with the lab's client certificate.
    pub fn connection(&self) -> ConnectionSettings {
        ConnectionSettings {
            endpoints: self.hosts.iter().map(|h| h.client_url.clone()).collect(),
            cacert: Some(self.ca.clone()),
            cert: Some(self.client_cert.clone()),
            key: Some(self.client_key.clone()),
            command_timeout: Duration::from_secs(5),
            dial_timeout: Duration::from_secs(2),
        }
    }

    /// Whether ssh would reach `node`: it has a host root without the unreachable mark.
    pub fn reachable(&self, node: &str) -> bool {
        let root = self.root(node);
        root.is_dir() && !root.join(UNREACHABLE).exists()
    }
}

/// Maps a path on a host (absolute, or relative to /home/core) into its host root.
pub fn map_path(root: &Path, host_path: &str) -> Result<PathBuf, String> {
    let absolute = if host_path.starts_with('/') { PathBuf::from(host_path) } else { Path::new(HOME).join(host_path) };
    let mut mapped = root.to_path_buf();
    for component in absolute.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => mapped.push(part),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(format!("lab host: a path with '..' does not map onto the lab's host: {host_path}"))
            }
        }
    }
    Ok(mapped)
}

/// A host an ssh session reached.
#[derive(Debug, Clone)]
pub struct Host {
    pub inventory: Inventory,
    pub spec: HostSpec,
    pub root: PathBuf,
}

impl Host {
    /// The path on the host mapped into its root.
    pub fn path(&self, host_path: &str) -> Result<PathBuf, String> {
        map_path(&self.root, host_path)
    }
}

/// What an ssh command gave back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostOutput {
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl HostOutput {
    pub fn ok(stdout: impl Into<String>) -> Self {
        Self { exit_code: 0, stdout: stdout.into(), stderr: String::new() }
    }

    pub fn failed(exit_code: i32, stderr: impl Into<String>) -> Self {
        let mut stderr = stderr.into();
        if !stderr.is_empty() && !stderr.ends_with('\n') {
            stderr.push('\n');
        }
        Self { exit_code, stdout: String::new(), stderr }
    }
}

/// Reaches `node` as ssh would: the host, or ssh's own failure (exit 255).
fn connect(lab_dir: &Path, node: &str) -> Result<Host, HostOutput> {
    let inventory = Inventory::load(lab_dir).map_err(|e| HostOutput::failed(255, format!("lab host: {e}")))?;
    let Some(spec) = inventory.host(node).cloned().or_else(|| inventory.worker(node)) else {
        return Err(HostOutput::failed(
            255,
            format!("ssh: Could not resolve hostname {node}: Name or service not known"),
        ));
    };
    if !inventory.reachable(node) {
        return Err(HostOutput::failed(255, format!("ssh: connect to host {} port 22: Connection refused", spec.ip)));
    }
    let root = inventory.root(node);
    Ok(Host { inventory, spec, root })
}

/// Runs `command` (the text an SRE types after `ssh core@<node>`) on the lab's host `node`.
/// Only the runbook's vocabulary is known; anything else exits 127.
pub fn run(lab_dir: &Path, node: &str, command: &str) -> HostOutput {
    match connect(lab_dir, node) {
        Ok(host) => agent::execute(&host, command),
        Err(refused) => refused,
    }
}

/// Where the file `remote` of `node` is in the lab, as `sudo cat` over ssh reaches it: the
/// host must answer ssh and the file must be there.
pub fn readable_path(lab_dir: &Path, node: &str, remote: &str) -> Result<PathBuf, String> {
    let host = connect(lab_dir, node).map_err(|refused| refused.stderr.trim_end().to_string())?;
    let path = host.path(remote)?;
    if !path.is_file() {
        return Err(format!("cat: {remote}: No such file or directory"));
    }
    Ok(path)
}

/// Runs `command` on `node` as its kubelet runs a debug pod's `chroot /host ...`: as root on
/// the host, whether or not it answers ssh (a powered-off host runs nothing).
pub fn run_as_kubelet(lab_dir: &Path, node: &str, command: &str) -> HostOutput {
    let inventory = match Inventory::load(lab_dir) {
        Ok(inventory) => inventory,
        Err(e) => return HostOutput::failed(1, e),
    };
    let Some(spec) = inventory.host(node).cloned() else {
        return HostOutput::failed(1, format!("no host {node} in the lab"));
    };
    if powered_off(&inventory, node) {
        return HostOutput::failed(1, format!("{node} is powered off"));
    }
    let root = inventory.root(node);
    agent::execute(&Host { inventory, spec, root }, command)
}

/// Copies to `node` as `mkdir -p REMOTE; scp -r LOCAL/* core@<node>:REMOTE/` does: a directory's
/// files land in REMOTE (made if missing, existing files replaced); a file lands in REMOTE when
/// that is a directory, else becomes REMOTE.
pub fn copy_to(lab_dir: &Path, node: &str, local: &Path, remote: &str) -> Result<(), String> {
    let host = connect(lab_dir, node).map_err(|refused| refused.stderr.trim_end().to_string())?;
    let mut target = host.path(remote)?;
    if !local.exists() {
        return Err(format!("{}: No such file or directory", local.display()));
    }
    let scp_error = |e: std::io::Error| format!("scp: {remote}: {e}");
    if local.is_dir() {
        fs::create_dir_all(&target).map_err(scp_error)?;
        for entry in fs::read_dir(local).map_err(|e| format!("{}: {e}", local.display()))? {
            let entry = entry.map_err(|e| format!("{}: {e}", local.display()))?;
            copy_tree(&entry.path(), &target.join(entry.file_name())).map_err(scp_error)?;
        }
        return Ok(());
    }
    if target.is_dir() {
        let name = local.file_name().ok_or_else(|| format!("{}: not a file name", local.display()))?;
        target.push(name);
    }
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(scp_error)?;
    }
    copy_tree(local, &target).map_err(scp_error)
}

/// Copies a file or a directory tree (files and directories only; links are followed).
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    if from.is_dir() {
        fs::create_dir_all(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        fs::copy(from, to).map(|_| ())
    }
}

/// Makes `node` refuse ssh (or answer again): what a host down or cut off looks like from the bastion.
pub fn set_unreachable(lab_dir: &Path, node: &str, unreachable: bool) -> Result<(), String> {
    let mark = lab_dir.join("hosts").join(node).join(UNREACHABLE);
    if unreachable {
        fs::write(&mark, "this host answers no ssh (etcd-console lab)\n")
            .map_err(|e| format!("cannot write {}: {e}", mark.display()))
    } else {
        match fs::remove_file(&mark) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("cannot remove {}: {e}", mark.display())),
        }
    }
}

/// The machine API deleted `node`'s Machine: the instance is gone. Its member dies
/// (the kubelet reads the request) and the host answers no ssh.
pub fn power_off(inventory: &Inventory, node: &str) -> Result<(), String> {
    let root = inventory.root(node);
    if !root.is_dir() {
        return Err(format!("lab: no host root {}", root.display()));
    }
    write(&root.join(POWERED_OFF), "this host's instance is gone (etcd-console lab)\n")?;
    write(&kubelet::power_off_request(&root), "powered off\n")?;
    set_unreachable(&inventory.lab_dir, node, true)
}

/// A host crashed (its instance stopped, not gone): marked powered off as far as the cloud
/// and the node controller see it; its kubelet already let its member go.
pub fn mark_stopped(inventory: &Inventory, node: &str) -> Result<(), String> {
    let root = inventory.root(node);
    write(&root.join(POWERED_OFF), "this host's instance is stopped (etcd-console lab)\n")
}

/// Whether `node` was powered off and its kubelet has let its member go.
pub fn powered_off(inventory: &Inventory, node: &str) -> bool {
    let root = inventory.root(node);
    root.join(POWERED_OFF).exists() && !kubelet::power_off_request(&root).exists()
}

/// `etcd-console lab lose --dir DIR NODE`: the host is lost for good, as a dead
/// instance: its member killed, no ssh, its Node's status unknown, until its
/// Machine is deleted and the machine API's replacement brings a new host.
pub fn lose_cli(lab_dir: &Path, node: &str) -> Result<String, String> {
    lose(lab_dir, node, LOSE_TAKEN_WITHIN)
}

/// [`lose_cli`], waiting `within` for the running lab's kubelet to take the request.
fn lose(lab_dir: &Path, node: &str, within: Duration) -> Result<String, String> {
    let inventory = Inventory::load(lab_dir)?;
    if inventory.hosted {
        return Err("the hosted lab's members are pods of a StatefulSet, with no Machine to replace a host".into());
    }
    if inventory.host(node).is_none() {
        let names: Vec<&str> = inventory.hosts.iter().map(|h| h.name.as_str()).collect();
        return Err(format!("no lab host {node} (the hosts: {})", names.join(", ")));
    }
    if inventory.root(node).join(POWERED_OFF).exists() {
        return Ok(format!("{node} is already lost"));
    }
    let was_reachable = inventory.reachable(node);
    power_off(&inventory, node)?;
    let request = kubelet::power_off_request(&inventory.root(node));
    let deadline = std::time::Instant::now() + within;
    while request.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if request.exists() {
        // No kubelet took it: undo, so that a lab started later does not lose the host by surprise.
        let root = inventory.root(node);
        let _ = fs::remove_file(&request);
        let _ = fs::remove_file(root.join(POWERED_OFF));
        if was_reachable {
            let _ = set_unreachable(lab_dir, node, false);
        }
        return Err(format!(
            "no lab answered in {} (is `etcd-console lab serve --dir {}` running?): nothing changed",
            lab_dir.display(),
            lab_dir.display()
        ));
    }
    Ok(format!(
        "{node} is lost: its member is killed and it answers no ssh. Delete its Machine \
         (or restore with --lost-host {node}) and the machine API brings a new host."
    ))
}

/// A new instance in place of a lost host, as a replacement Machine brings: a
/// host root laid out afresh (no etcd manifest, no etcd data: the etcd
/// operator's scale-up adds the member), answering ssh, its kubelet started
/// from nothing. The member's certificates come from the lab's PKI
/// (`DIR/pki/<node>.crt`, `.key`, `ca.crt`: the names the operator would issue).
/// Failing half-way, the host stays powered off, to be tried again.
pub fn reinstall(inventory: &Inventory, node: &str) -> Result<(), String> {
    let host = inventory.host(node).ok_or_else(|| format!("lab: no host {node}"))?;
    let pki = inventory.lab_dir.join("pki");
    let (cert, key) = (pki.join(format!("{node}.crt")), pki.join(format!("{node}.key")));
    if let Some(missing) = [&cert, &key, &inventory.ca].into_iter().find(|f| !f.is_file()) {
        return Err(format!("cannot install a new {node}: {} is missing", missing.display()));
    }
    let root = inventory.root(node);
    fs::remove_dir_all(&root).map_err(|e| format!("cannot remove {}: {e}", root.display()))?;
    let made = prepare(inventory, host, &cert, &key, &inventory.ca)
        .and_then(|()| write(&kubelet::installed_request(&root), "a new host\n"));
    if let Err(e) = made {
        let _ = fs::create_dir_all(&root);
        let _ = write(&root.join(POWERED_OFF), "this host's instance is gone (etcd-console lab)\n");
        let _ = set_unreachable(&inventory.lab_dir, node, true);
        return Err(e);
    }
    Ok(())
}

/// `etcd-console lab host --dir DIR NODE -- COMMAND`: prints what the host said, exits with its code.
pub fn run_cli(lab_dir: &Path, node: &str, words: &[String]) -> i32 {
    use std::io::Write;
    let output = run(lab_dir, node, &words.join(" "));
    let _ = std::io::stdout().write_all(output.stdout.as_bytes());
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(output.stderr.as_bytes());
    output.exit_code
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Writes a file whole or not at all (a kubelet polling it never reads half of it).
pub fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.writing"));
    write(&temporary, text)?;
    fs::rename(&temporary, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

const PLACEHOLDER_PEM: &str = "-----BEGIN CERTIFICATE-----\n\
    ZXRjZC1jb25zb2xlIGxhYjogYSBwbGFjZWhvbGRlciwgbm90IGEgY2VydGlmaWNhdGU=\n\
    -----END CERTIFICATE-----\n";

/// Lays out the host root of `host` (its etcd manifest is written by the caller):
/// static-pod manifests and resources, the member's certificates, kubelet and OVN files.
pub fn prepare(
    inventory: &Inventory,
    host: &HostSpec,
    pki_cert: &Path,
    pki_key: &Path,
    pki_ca: &Path,
) -> Result<(), String> {
    let root = inventory.root(&host.name);
    let at = |p: &str| map_path(&root, p);
    for dir in [MANIFESTS, STATIC_POD_RESOURCES, "/tmp", HOME, "/var/lib", KUBELET_STATE] {
        let path = at(dir)?;
        fs::create_dir_all(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    }
    // The member's certificates where the etcd operator puts them (the pods see them as static-pod-certs).
    for (from, to) in [(pki_cert, &host.cert), (pki_key, &host.key), (pki_ca, &host.ca)] {
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        fs::copy(from, to).map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))?;
    }
    let node = &host.name;
    for pod in &manifest::STATIC_PODS[1..] {
        let yaml = manifest::static_pod_yaml(pod, node, manifest::REVISION);
        write(&at(&format!("{MANIFESTS}/{}", pod.file))?, &yaml)?;
    }
    // Two revisions of each component's resources, so "the latest" means something.
    for pod in &manifest::STATIC_PODS {
        for revision in [manifest::REVISION - 1, manifest::REVISION] {
            let dir = format!("{STATIC_POD_RESOURCES}/{}-pod-{revision}", pod.component);
            let config = format!(
                "# etcd-console lab: {} configuration, revision {revision}\n\
                 apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\n  namespace: {}\n\
                 data:\n  revision: \"{revision}\"\n",
                pod.component, pod.namespace
            );
            if pod.component == "etcd" {
                write(&at(&format!("{dir}/configmaps/etcd-pod/pod.yaml"))?, &config)?;
                let ca = fs::read_to_string(pki_ca).map_err(|e| format!("cannot read {}: {e}", pki_ca.display()))?;
                write(&at(&format!("{dir}/configmaps/etcd-serving-ca/ca-bundle.crt"))?, &ca)?;
            } else {
                write(&at(&format!("{dir}/configmaps/config/config.yaml"))?, &config)?;
                write(&at(&format!("{dir}/{}", pod.file))?, &manifest::static_pod_yaml(pod, node, revision))?;
                write(&at(&format!("{dir}/secrets/serving-cert/tls.crt"))?, PLACEHOLDER_PEM)?;
            }
        }
    }
    // The scripts every control-plane host has (the host agent runs their lab versions; `test -x` sees these).
    for script in ["cluster-backup.sh", "cluster-restore.sh"] {
        let path = at(&format!("/usr/local/bin/{script}"))?;
        write(
            &path,
            &format!("#!/bin/sh\n# etcd-console lab: the host agent runs the lab's {script} for this file\n"),
        )?;
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("cannot make {} executable: {e}", path.display()))?;
    }
    if inventory.hosted {
        // The host's /var/lib is the etcd replica's volume: nothing but etcd's data goes there.
        write(&at("/etc/hostname")?, &format!("{node}\n"))?;
        return Ok(());
    }
    for db in ["ovnnb_db.db", "ovnsb_db.db"] {
        write(
            &at(&format!("/var/lib/ovn-ic/etc/{db}"))?,
            "OVSDB CLUSTER 0 0\n{\"lab\": \"a placeholder database\"}\n",
        )?;
    }
    kubelet_pems(&root)?;
    write(&at("/etc/hostname")?, &format!("{node}\n"))?;
    Ok(())
}

/// The kubelet's client and serving certificates, as a node has them in /var/lib/kubelet/pki.
const KUBELET_PEMS: [&str; 4] = [
    "kubelet-client-2024-01-01-00-00-00.pem",
    "kubelet-client-current.pem",
    "kubelet-server-2024-01-01-00-00-00.pem",
    "kubelet-server-current.pem",
];

fn kubelet_pems(root: &Path) -> Result<(), String> {
    for pem in KUBELET_PEMS {
        write(&map_path(root, &format!("/var/lib/kubelet/pki/{pem}"))?, PLACEHOLDER_PEM)?;
    }
    Ok(())
}

/// Lays out a worker's host root: a kubelet's files (its PEM files, its state directory), its
/// hostname, core's home. No manifests, no etcd: the restore only deletes the kubelet's PEM files
/// on a worker (step 9a) and restarts its kubelet (step 10w), which then files a node-bootstrapper CSR.
pub fn prepare_worker(inventory: &Inventory, worker: &WorkerSpec) -> Result<(), String> {
    let root = inventory.root(&worker.name);
    for dir in ["/tmp", HOME, "/var/lib", KUBELET_STATE] {
        let path = map_path(&root, dir)?;
        fs::create_dir_all(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    }
    kubelet_pems(&root)?;
    write(&map_path(&root, "/etc/hostname")?, &format!("{}\n", worker.name))
}

/// The cluster-backup timestamp, `YYYY-MM-DD_HHMMSS` (UTC).
pub fn timestamp(at: std::time::SystemTime) -> String {
    let text = humantime::format_rfc3339_seconds(at).to_string();
    // 2024-05-01T12:34:56Z
    let (date, time) = text.split_once('T').unwrap_or((&text, ""));
    format!("{date}_{}", time.trim_end_matches('Z').replace(':', ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_paths_map_into_the_root_and_never_out_of_it() {
        let root = Path::new("/lab/hosts/master-0");
        assert_eq!(map_path(root, "/var/lib/etcd/").unwrap(), root.join("var/lib/etcd"));
        assert_eq!(map_path(root, "assets/backup").unwrap(), root.join("home/core/assets/backup"));
        assert_eq!(map_path(root, "/").unwrap(), root.to_path_buf());
        assert!(map_path(root, "/var/../../etc").is_err());
    }

    #[test]
    fn losing_a_host_needs_a_serving_lab_and_one_of_its_hosts_and_powers_it_off_once() {
        let dir = tempfile::tempdir().unwrap();
        assert!(lose_cli(dir.path(), "master-0").unwrap_err().contains("is not a lab directory"));
        let root = dir.path().join("hosts/master-0");
        let host = HostSpec {
            name: "master-0".into(),
            ip: "127.0.0.11".into(),
            client_url: "https://127.0.0.11:2379".into(),
            advertised_url: "https://127.0.0.11:2379".into(),
            peer_url: "https://127.0.0.11:2380".into(),
            cert: root.join("cert.pem"),
            key: root.join("key.pem"),
            ca: root.join("ca.pem"),
        };
        let mut inventory = Inventory {
            lab_dir: dir.path().to_path_buf(),
            etcd_bin: "/usr/bin/etcd".into(),
            etcdctl_bin: "/usr/bin/etcdctl".into(),
            etcdutl_bin: None,
            quota_bytes: 1 << 30,
            ca: dir.path().join("ca.pem"),
            client_cert: dir.path().join("client.pem"),
            client_key: dir.path().join("client-key.pem"),
            hosts: vec![host],
            hosted: false,
            workers: Vec::new(),
        };
        inventory.save().unwrap();
        fs::create_dir_all(&root).unwrap();
        assert!(lose_cli(dir.path(), "master-9").unwrap_err().contains("no lab host master-9 (the hosts: master-0)"));
        assert!(inventory.reachable("master-0"));
        // No lab serving: nobody takes the request, and nothing is left changed.
        let refused = lose(dir.path(), "master-0", Duration::from_millis(200)).unwrap_err();
        assert!(refused.contains("no lab answered"), "{refused}");
        assert!(inventory.reachable("master-0") && !root.join(POWERED_OFF).exists());
        assert!(!kubelet::power_off_request(&root).exists());
        // A kubelet that takes the request (as the lab's does, every 200 ms).
        let request = kubelet::power_off_request(&root);
        let kubelet = std::thread::spawn(move || {
            for _ in 0..100 {
                if fs::remove_file(&request).is_ok() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            false
        });
        let said = lose(dir.path(), "master-0", Duration::from_secs(5)).unwrap();
        assert!(kubelet.join().unwrap(), "the kubelet was asked to kill the member");
        assert!(said.contains("--lost-host master-0"), "{said}");
        assert!(!inventory.reachable("master-0"), "a lost host answers no ssh");
        assert!(powered_off(&inventory, "master-0"), "powered off once the kubelet has let the member go");
        assert_eq!(lose_cli(dir.path(), "master-0").unwrap(), "master-0 is already lost");
        inventory.hosted = true;
        inventory.save().unwrap();
        assert!(lose_cli(dir.path(), "master-0").unwrap_err().contains("no Machine"));
    }

    #[test]
    fn backup_timestamps_read_as_the_script_writes_them() {
        let at = std::time::UNIX_EPOCH + Duration::from_secs(1_624_647_635);
        assert_eq!(timestamp(at), "2021-06-25_190035");
    }
}
