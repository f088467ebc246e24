//! The lab's `/usr/local/bin/cluster-backup.sh` and `cluster-restore.sh`,
//! doing for real what the cluster's scripts do, with the real etcdctl and
//! tar: a snapshot and the static pods' resources saved side by side; the
//! recovery host's static pods stopped, its data moved aside, the snapshot
//! restored as a single-member cluster, the pods started again.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use super::manifest::{self, ClusterState};
use super::{
    crictl, kubelet, timestamp, write_atomically, Host, HostOutput, DATA_DIR, MANIFESTS, STATIC_POD_RESOURCES,
};

/// Where cluster-restore.sh puts the static-pod manifests it stops.
pub const MANIFESTS_STOPPED: &str = "/home/core/assets/manifests-stopped";
/// Where cluster-restore.sh moves the recovery host's old etcd data.
pub const DATA_DIR_BACKUP: &str = "/var/lib/etcd-backup";
/// How long the restore waits for a container to stop, and for etcd to answer.
const WAIT_LIMIT: Duration = Duration::from_secs(60);
const COMPONENTS: [&str; 4] = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"];

struct Ran {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs a tool, killed if it outlives `limit`; its output read as it comes.
fn run_limited(mut command: Command, limit: Duration) -> Ran {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            return Ran {
                success: false,
                stdout: String::new(),
                stderr: format!("cannot run {:?}: {e}\n", command.get_program()),
            }
        }
    };
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).to_string()
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let deadline = Instant::now() + limit;
    let (success, late) = loop {
        match child.try_wait() {
            Ok(Some(status)) => break (status.success(), false),
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break (false, true);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break (false, false),
        }
    };
    let mut stderr = err.join().unwrap_or_default();
    if late {
        stderr.push_str(&format!("{:?} did not finish within {}s\n", command.get_program(), limit.as_secs()));
    }
    Ran { success, stdout: out.join().unwrap_or_default(), stderr }
}

/// etcdctl as the host's etcd pod runs it: API 3, the member's own certificate, its own endpoint.
fn etcdctl(host: &Host) -> Command {
    let mut command = Command::new(&host.inventory.etcdctl_bin);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ETCDCTL_") {
            command.env_remove(name);
        }
    }
    command
        .env("ETCDCTL_API", "3")
        .env("ETCDCTL_CACERT", &host.spec.ca)
        .env("ETCDCTL_CERT", &host.spec.cert)
        .env("ETCDCTL_KEY", &host.spec.key)
        .env("ETCDCTL_ENDPOINTS", &host.spec.client_url);
    command
}

/// The snapshot restore of the restore-etcd pod: etcdutl with etcd 3.5 (3.5 deprecates
/// `etcdctl snapshot restore` for it), etcdctl with 3.4 (which has no etcdutl).
fn snapshot_restorer(host: &Host) -> Command {
    match &host.inventory.etcdutl_bin {
        Some(etcdutl) => {
            let mut command = Command::new(etcdutl);
            for (name, _) in std::env::vars_os() {
                if name.to_string_lossy().starts_with("ETCDCTL_") {
                    command.env_remove(name);
                }
            }
            command
        }
        None => etcdctl(host),
    }
}

/// Tool output with the host root's real location taken out, so paths read as host paths.
fn as_host_paths(host: &Host, text: &str) -> String {
    text.replace(&host.root.display().to_string(), "")
}

/// A script's run so far: what it printed, then how it ends.
struct Script<'a> {
    host: &'a Host,
    name: &'static str,
    output: HostOutput,
}

impl<'a> Script<'a> {
    fn new(host: &'a Host, name: &'static str) -> Self {
        Self { host, name, output: HostOutput::ok("") }
    }

    fn say(&mut self, line: &str) {
        self.output.stdout.push_str(line);
        self.output.stdout.push('\n');
    }

    fn tool(&mut self, ran: &Ran) {
        self.output.stdout.push_str(&as_host_paths(self.host, &ran.stdout));
        self.output.stderr.push_str(&as_host_paths(self.host, &ran.stderr));
    }

    fn fail(mut self, why: &str) -> HostOutput {
        self.output.exit_code = 1;
        self.output.stderr.push_str(&format!("{}: {why}\n", self.name));
        self.output
    }

    fn path(&self, host_path: &str) -> Result<PathBuf, String> {
        self.host.path(host_path)
    }
}

/// The newest `<component>-pod-<N>` in the static-pod resources: (N, its directory).
fn latest_resources(resources: &Path, component: &str) -> Option<(u32, PathBuf)> {
    let prefix = format!("{component}-pod-");
    fs::read_dir(resources)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let revision = name.strip_prefix(&prefix)?.parse::<u32>().ok()?;
            e.path().is_dir().then(|| (revision, e.path()))
        })
        .max_by_key(|(revision, _)| *revision)
}

/// `cluster-backup.sh DIR`: an etcd snapshot of this host's member and the latest static-pod
/// resources, saved in DIR as `snapshot_<ts>.db` and `static_kuberesources_<ts>.tar.gz`.
/// `--force` takes it during a rollout too, its names marked `__POSSIBLY_DIRTY__`.
pub fn backup(host: &Host, dir_arg: &str, force: bool) -> HostOutput {
    let mut script = Script::new(host, "cluster-backup.sh");
    let (dir, resources) = match (script.path(dir_arg), script.path(STATIC_POD_RESOURCES)) {
        (Ok(dir), Ok(resources)) => (dir, resources),
        (Err(e), _) | (_, Err(e)) => return script.fail(&e),
    };
    let mut latest = Vec::new();
    for component in COMPONENTS {
        let Some((revision, _)) = latest_resources(&resources, component) else {
            return script.fail(&format!("no static-pod resources of {component} in {STATIC_POD_RESOURCES}"));
        };
        let found = format!("{STATIC_POD_RESOURCES}/{component}-pod-{revision}");
        script.say(&format!("found latest {component}: {found}"));
        latest.push(found.trim_start_matches('/').to_string());
    }
    if kubelet::etcd_process(&host.root).is_none() {
        return script.fail(&format!(
            "etcd is not running on {}: take the backup on a control-plane host whose etcd member runs",
            host.spec.name
        ));
    }
    if let Err(e) = fs::create_dir_all(&dir) {
        return script.fail(&format!("cannot create {dir_arg}: {e}"));
    }
    let mut version = etcdctl(host);
    version.arg("version");
    let ran = run_limited(version, Duration::from_secs(10));
    script.tool(&ran);
    let ts = format!("{}{}", timestamp(SystemTime::now()), if force { "__POSSIBLY_DIRTY__" } else { "" });
    let shown = dir_arg.trim_end_matches('/');
    let snapshot = dir.join(format!("snapshot_{ts}.db"));
    let archive = dir.join(format!("static_kuberesources_{ts}.tar.gz"));
    let mut save = etcdctl(host);
    save.args(["snapshot", "save"]).arg(&snapshot);
    let ran = run_limited(save, Duration::from_secs(300));
    script.tool(&ran);
    if !ran.success {
        let _ = fs::remove_file(&snapshot);
        return script.fail(&format!("the snapshot of {} failed (see above); nothing was saved", host.spec.client_url));
    }
    let mut status = etcdctl(host);
    status.args(["snapshot", "status", "-w", "json"]).arg(&snapshot);
    let ran = run_limited(status, Duration::from_secs(60));
    script.tool(&ran);
    if !ran.success {
        let _ = fs::remove_file(&snapshot);
        return script.fail(&format!("{shown}/snapshot_{ts}.db does not read back as a snapshot; nothing was saved"));
    }
    if super::faults::has(&host.inventory.lab_dir, super::faults::Fault::BackupFailsHalfWay, Some(&host.spec.name)) {
        // The snapshot stays, as the real script leaves it when it dies here.
        return script.fail("tar: static-pod-resources: Cannot open: Input/output error (a lab fault)");
    }
    // The archive holds the encryption configuration: made 0600 before tar writes into it.
    let made = {
        use std::os::unix::fs::OpenOptionsExt;
        fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&archive)
    };
    if let Err(e) = made {
        let _ = fs::remove_file(&snapshot);
        return script.fail(&format!("cannot create {shown}/static_kuberesources_{ts}.tar.gz: {e}; nothing was saved"));
    }
    let mut tar = Command::new("tar");
    tar.arg("-czf").arg(&archive).arg("-C").arg(&host.root).args(&latest);
    let ran = run_limited(tar, Duration::from_secs(60));
    if !ran.success {
        script.tool(&ran);
        let _ = fs::remove_file(&snapshot);
        let _ = fs::remove_file(&archive);
        return script.fail("cannot archive the static-pod resources; nothing was saved");
    }
    script.say(&format!("snapshot db and kube resources are successfully saved to {shown}"));
    script.output
}

/// Waits until `done` holds, a dot printed per look; false after WAIT_LIMIT.
fn wait_with_dots(script: &mut Script, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + WAIT_LIMIT;
    loop {
        if done() {
            script.output.stdout.push_str("complete\n");
            return true;
        }
        if Instant::now() > deadline {
            script.output.stdout.push('\n');
            return false;
        }
        script.output.stdout.push('.');
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The backup in DIR: its timestamp, snapshot and archive, or why it is not one backup.
fn find_backup(dir: &Path, dir_arg: &str) -> Result<(String, PathBuf, PathBuf), String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map_err(|e| format!("cannot read the backup directory {dir_arg}: {e}"))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    let snapshots: Vec<&String> = names.iter().filter(|n| n.starts_with("snapshot_") && n.ends_with(".db")).collect();
    let [snapshot] = snapshots.as_slice() else {
        return Err(format!(
            "{dir_arg} must hold exactly one snapshot_<timestamp>.db, it holds {}{}",
            snapshots.len(),
            if snapshots.is_empty() {
                String::new()
            } else {
                format!(": {}", snapshots.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))
            }
        ));
    };
    let ts = snapshot.trim_start_matches("snapshot_").trim_end_matches(".db").to_string();
    let archive = format!("static_kuberesources_{ts}.tar.gz");
    if !names.contains(&archive) {
        let others: Vec<&String> = names.iter().filter(|n| n.starts_with("static_kuberesources_")).collect();
        return Err(format!(
            "{dir_arg} has {snapshot} but no {archive}{}: \
             the snapshot and the static-pod resources must come from the same backup",
            if others.is_empty() {
                String::new()
            } else {
                format!(" (it has {})", others.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))
            }
        ));
    }
    Ok((ts, dir.join(snapshot.as_str()), dir.join(archive)))
}

/// `cluster-restore.sh DIR` on the recovery host: stops its static pods, moves etcd's data
/// aside, restores the snapshot as a single-member cluster, starts the pods again.
/// Nothing changes when DIR does not hold one good backup.
pub fn restore(host: &Host, dir_arg: &str) -> HostOutput {
    let mut script = Script::new(host, "cluster-restore.sh");
    let node = host.spec.name.clone();
    let dir = match script.path(dir_arg) {
        Ok(dir) if dir.is_dir() => dir,
        Ok(_) => return script.fail(&format!("backup directory {dir_arg} not found")),
        Err(e) => return script.fail(&e),
    };
    let (ts, snapshot, archive) = match find_backup(&dir, dir_arg) {
        Ok(found) => found,
        Err(e) => return script.fail(&format!("{e}; nothing was changed")),
    };
    let mut status = etcdctl(host);
    status.args(["snapshot", "status", "-w", "json"]).arg(&snapshot);
    let ran = run_limited(status, Duration::from_secs(60));
    if !ran.success {
        script.tool(&ran);
        return script.fail(&format!("snapshot_{ts}.db is not a readable etcd snapshot; nothing was changed"));
    }
    let mut list = Command::new("tar");
    list.arg("-tzf").arg(&archive);
    let ran = run_limited(list, Duration::from_secs(60));
    let inside = |entry: &str| entry.trim_start_matches("./").starts_with("etc/kubernetes/static-pod-resources/");
    if !ran.success || ran.stdout.lines().any(|l| !inside(l)) {
        script.tool(&Ran { success: false, stdout: String::new(), stderr: ran.stderr });
        return script.fail(&format!(
            "static_kuberesources_{ts}.tar.gz is not an archive of /etc/kubernetes/static-pod-resources; \
             nothing was changed"
        ));
    }
    let paths = (|| -> Result<_, String> {
        Ok((
            script.path(MANIFESTS)?,
            script.path(MANIFESTS_STOPPED)?,
            script.path(DATA_DIR)?,
            script.path(DATA_DIR_BACKUP)?,
            script.path(STATIC_POD_RESOURCES)?,
        ))
    })();
    let (manifests, stopped, data_dir, data_backup, resources) = match paths {
        Ok(paths) => paths,
        Err(e) => return script.fail(&e),
    };
    if let Err(e) = fs::create_dir_all(&stopped) {
        return script.fail(&format!("cannot create {MANIFESTS_STOPPED}: {e}; nothing was changed"));
    }

    // From here on the host changes; a failure says where things are.
    let stopped_note = format!("the stopped manifests are in {MANIFESTS_STOPPED}");
    for file in
        ["kube-scheduler-pod.yaml", "kube-controller-manager-pod.yaml", "etcd-pod.yaml", "kube-apiserver-pod.yaml"]
    {
        if manifests.join(file).exists() {
            script.say(&format!("...stopping {file}"));
            if let Err(e) = fs::rename(manifests.join(file), stopped.join(file)) {
                return script.fail(&format!("cannot move {MANIFESTS}/{file} to {MANIFESTS_STOPPED}: {e}"));
            }
        }
    }
    for container in ["etcd", "etcdctl", "etcd-metrics", "kube-controller-manager", "kube-apiserver", "kube-scheduler"]
    {
        script.say(&format!("Waiting for container {container} to stop"));
        if !wait_with_dots(&mut script, || crictl::containers(host).iter().all(|r| r.name != container)) {
            return script
                .fail(&format!("container {container} did not stop within {}s; {stopped_note}", WAIT_LIMIT.as_secs()));
        }
    }
    if let Err(e) = fs::create_dir_all(&data_backup) {
        return script.fail(&format!("cannot create {DATA_DIR_BACKUP}: {e}; {stopped_note}"));
    }
    if data_dir.join("member").exists() {
        if data_backup.join("member").exists() {
            script.say(&format!("removing the previous backup {DATA_DIR_BACKUP}/member"));
            if let Err(e) = fs::remove_dir_all(data_backup.join("member")) {
                return script.fail(&format!("cannot remove {DATA_DIR_BACKUP}/member: {e}; {stopped_note}"));
            }
        }
        script.say(&format!("Moving etcd data-dir {DATA_DIR}/member to {DATA_DIR_BACKUP}"));
        if let Err(e) = fs::rename(data_dir.join("member"), data_backup.join("member")) {
            return script.fail(&format!("cannot move {DATA_DIR}/member: {e}; {stopped_note}"));
        }
    }
    if data_dir.exists() && fs::remove_dir(&data_dir).is_err() {
        // Something besides member/ was there: keep it too.
        let aside = format!("{DATA_DIR_BACKUP}/data-dir-{}", timestamp(SystemTime::now()));
        script.say(&format!("Moving the rest of {DATA_DIR} to {aside}"));
        let moved = script.path(&aside).and_then(|to| fs::rename(&data_dir, to).map_err(|e| e.to_string()));
        if let Err(e) = moved {
            return script.fail(&format!("cannot move {DATA_DIR} aside: {e}; {stopped_note}"));
        }
    }
    let mut unpack = Command::new("tar");
    unpack.arg("-xzf").arg(&archive).arg("-C").arg(&host.root);
    let ran = run_limited(unpack, Duration::from_secs(60));
    if !ran.success {
        script.tool(&ran);
        return script.fail(&format!("cannot unpack static_kuberesources_{ts}.tar.gz; {stopped_note}"));
    }
    script.say(&format!("unpacked static_kuberesources_{ts}.tar.gz into {STATIC_POD_RESOURCES}"));

    let mut token_bytes = [0u8; 4];
    crate::random_bytes(&mut token_bytes);
    let token = format!(
        "etcd-console-lab-restore-{}-{}",
        timestamp(SystemTime::now()),
        token_bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let initial_cluster = format!("{node}={}", host.spec.peer_url);
    script.say(&format!("restoring snapshot_{ts}.db into {DATA_DIR} as a single-member cluster"));
    let mut restore = snapshot_restorer(host);
    restore
        .args(["snapshot", "restore"])
        .arg(&snapshot)
        .args(["--name", &node, "--initial-cluster", &initial_cluster, "--initial-cluster-token", &token])
        .args(["--initial-advertise-peer-urls", &host.spec.peer_url, "--data-dir"])
        .arg(&data_dir);
    let ran = run_limited(restore, Duration::from_secs(300));
    script.tool(&ran);
    if !ran.success {
        return script.fail(&format!(
            "the snapshot restore failed (see above); the old data is in {DATA_DIR_BACKUP}/member, {stopped_note}"
        ));
    }

    script.say("starting restore-etcd static pod");
    let command = manifest::etcd_command(&host.inventory, &host.spec, &initial_cluster, &token, ClusterState::New);
    let yaml = manifest::etcd_pod_yaml(&node, manifest::REVISION, &command, true);
    if let Err(e) = write_atomically(&manifests.join(manifest::ETCD.file), &yaml) {
        return script.fail(&format!("{e}; {stopped_note}"));
    }
    for pod in [manifest::KUBE_APISERVER, manifest::KUBE_CONTROLLER_MANAGER, manifest::KUBE_SCHEDULER] {
        script.say(&format!("starting {}", pod.file));
        let from_resources = latest_resources(&resources, pod.component)
            .map(|(revision, dir)| {
                (format!("static-pod-resources/{}-pod-{revision}/{}", pod.component, pod.file), dir.join(pod.file))
            })
            .filter(|(_, path)| path.is_file());
        let started = match from_resources {
            Some((shown, path)) => {
                script.say(&shown);
                fs::copy(&path, manifests.join(pod.file)).map(|_| ())
            }
            None => {
                script.say(&format!("{MANIFESTS_STOPPED}/{}", pod.file));
                fs::rename(stopped.join(pod.file), manifests.join(pod.file))
            }
        };
        if let Err(e) = started {
            return script.fail(&format!("cannot start {}: {e}; {stopped_note}", pod.file));
        }
    }
    script.say("Waiting for etcd to answer");
    let answers = || {
        let mut health = etcdctl(host);
        health.args(["endpoint", "health", "--dial-timeout=1s", "--command-timeout=2s"]);
        run_limited(health, Duration::from_secs(5)).success
    };
    if !wait_with_dots(&mut script, answers) {
        return script.fail(&format!(
            "etcd did not answer within {}s after the restore; its log is {}",
            WAIT_LIMIT.as_secs(),
            host.inventory.log(&node).display()
        ));
    }
    script.say(&format!(
        "etcd, kube-apiserver, kube-controller-manager and kube-scheduler were stopped and then started on {node}; \
         etcd runs as a single-member cluster restored from snapshot_{ts}.db"
    ));
    script.output
}
