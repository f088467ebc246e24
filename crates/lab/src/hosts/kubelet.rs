//! The lab kubelet: one thread per host, in the lab process, makes the etcd
//! member follow the host's etcd manifest every 200 ms. Manifest there and no
//! process: etcd starts with the manifest's command (output appended to
//! DIR/logs/<node>.log). Manifest gone, or its command changed: SIGTERM, then
//! SIGKILL after a grace. A member that exits by itself is started again with
//! a growing back-off, unless its host crashed ([`Kubelet::crash`]) or was
//! powered off for good (its Machine deleted: [`power_off_request`]); a host
//! installed afresh in its place runs again ([`installed_request`]).
//!
//! What runs is told two ways: a pid table in memory ([`MemberPids`], for the
//! lab and its simulated operators) and `/run/lab-kubelet/etcd.json` in the
//! host root (for the host agent, another process).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::{manifest, map_path, write_atomically, Inventory, KUBELET_STATE, MANIFESTS};

/// How often the kubelet looks at a host's manifest.
pub const SYNC_EVERY: Duration = Duration::from_millis(200);
/// How long a member stopped for its manifest has before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);
/// The longest wait before a member that exited by itself is started again.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The pid of each host's etcd process (None while none runs), shared by the lab,
/// its kubelet and the simulated operators.
#[derive(Debug, Clone)]
pub struct MemberPids(Arc<[AtomicI32]>);

impl MemberPids {
    pub fn new(count: usize) -> Self {
        Self((0..count).map(|_| AtomicI32::new(0)).collect())
    }

    pub fn get(&self, index: usize) -> Option<i32> {
        self.0.get(index).map(|p| p.load(Ordering::SeqCst)).filter(|&pid| pid > 0)
    }

    fn set(&self, index: usize, pid: Option<i32>) {
        if let Some(slot) = self.0.get(index) {
            slot.store(pid.unwrap_or(0), Ordering::SeqCst);
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Nodes whose kubelet was restarted (`systemctl restart kubelet.service`), for the simulated API to hear.
#[derive(Debug, Clone, Default)]
pub struct KubeletRestarts(Arc<Mutex<Vec<String>>>);

impl KubeletRestarts {
    fn push(&self, node: &str) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(node.to_string());
    }

    /// The restarts since the last call, oldest first.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The workers whose kubelet was restarted since the last call (`systemctl restart kubelet.service`
/// left its request in their host root): the lab runs no kubelet thread for a worker, so the
/// simulated API takes the requests itself, oldest worker first.
pub fn worker_restarts(inventory: &Inventory) -> Vec<String> {
    inventory
        .workers
        .iter()
        .filter(|w| fs::remove_file(restart_request(&inventory.root(&w.name))).is_ok())
        .map(|w| w.name.clone())
        .collect()
}

/// The etcd process a host's kubelet runs, as its state file tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtcdProcess {
    pub pid: i32,
    /// How many times the container was started again in this pod (crictl's ATTEMPT).
    pub attempt: u32,
    pub started_unix_ms: u64,
}

impl EtcdProcess {
    pub fn started(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.started_unix_ms)
    }
}

fn state_file(root: &Path) -> PathBuf {
    map_path(root, &format!("{KUBELET_STATE}/etcd.json")).unwrap_or_else(|_| root.join("run/lab-kubelet/etcd.json"))
}

/// How the etcd container last ended by itself in this pod, as the kubelet keeps it for the
/// pod's `lastState.terminated` and its restart back-off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtcdExit {
    /// The attempt that ended (0 for the pod's first container): the pod's `restartCount` then.
    pub attempt: u32,
    pub exit_code: i32,
    pub started_unix_ms: u64,
    pub finished_unix_ms: u64,
    /// The back-off before the next start.
    pub backoff_ms: u64,
}

impl EtcdExit {
    pub fn started(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.started_unix_ms)
    }

    pub fn finished(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.finished_unix_ms)
    }
}

fn exit_file(root: &Path) -> PathBuf {
    map_path(root, &format!("{KUBELET_STATE}/etcd-exit.json"))
        .unwrap_or_else(|_| root.join("run/lab-kubelet/etcd-exit.json"))
}

/// How the host's etcd container last exited by itself, since its pod was (re)made; None when
/// it never did (or the host crashed: a dead host reports nothing).
pub fn etcd_last_exit(root: &Path) -> Option<EtcdExit> {
    let text = fs::read_to_string(exit_file(root)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The host's etcd process as the kubelet last recorded it, alive or not (for its start time and attempt).
pub fn etcd_recorded(root: &Path) -> Option<EtcdProcess> {
    let text = fs::read_to_string(state_file(root)).ok()?;
    serde_json::from_str(&text).ok()
}

/// How long a rebooting lab host stays down.
const REBOOT_TAKES: Duration = Duration::from_secs(3);

/// The file `systemctl restart kubelet.service` leaves for the kubelet.
pub fn restart_request(root: &Path) -> PathBuf {
    map_path(root, &format!("{KUBELET_STATE}/restart")).unwrap_or_else(|_| root.join("run/lab-kubelet/restart"))
}

pub fn etcd_manifest(root: &Path) -> PathBuf {
    map_path(root, &format!("{MANIFESTS}/{}", manifest::ETCD.file))
        .unwrap_or_else(|_| root.join("etc/kubernetes/manifests/etcd-pod.yaml"))
}

/// The host's etcd process, while it is alive.
pub fn etcd_process(root: &Path) -> Option<EtcdProcess> {
    let text = fs::read_to_string(state_file(root)).ok()?;
    let process: EtcdProcess = serde_json::from_str(&text).ok()?;
    crate::api::operators::process_alive_running(process.pid).0.then_some(process)
}

#[derive(Default)]
struct Slot {
    child: Option<Child>,
    /// The command the child runs.
    command: Vec<String>,
    /// The host crashed: nothing runs on it again.
    crashed: bool,
    /// Why the member first exited by itself (a failed start shows here).
    first_exit: Option<String>,
    attempt: u32,
    crashes: u32,
    retry_at: Option<Instant>,
    /// When the running child started (wall clock, ms since the epoch).
    started_unix_ms: u64,
}

struct Shared {
    inventory: Arc<Inventory>,
    slots: Vec<Mutex<Slot>>,
    pids: MemberPids,
    restarts: KubeletRestarts,
    stopping: AtomicBool,
}

impl Shared {
    fn slot(&self, index: usize) -> Option<MutexGuard<'_, Slot>> {
        self.slots.get(index).map(|s| s.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn root(&self, index: usize) -> PathBuf {
        self.inventory.hosts.get(index).map(|h| self.inventory.root(&h.name)).unwrap_or_default()
    }

    fn forget(&self, index: usize) {
        self.pids.set(index, None);
        let _ = fs::remove_file(state_file(&self.root(index)));
    }

    /// A new pod (manifest gone or changed) or a dead host: no container history is left.
    fn forget_exits(&self, index: usize) {
        let _ = fs::remove_file(exit_file(&self.root(index)));
    }
}

pub struct Kubelet {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Kubelet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kubelet").field("pids", &self.shared.pids).finish_non_exhaustive()
    }
}

fn spawn(command: &[String], log: &Path) -> Result<Child, String> {
    let (program, args) = command.split_first().ok_or_else(|| "the etcd container has no command".to_string())?;
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut etcd = Command::new(program);
    // etcd reads ETCD_* variables as flags, and refuses one the command line also sets.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ETCD") {
            etcd.env_remove(name);
        }
    }
    etcd.args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))
}

fn pid_of(child: &Child) -> Option<i32> {
    i32::try_from(child.id()).ok()
}

/// SIGTERM (waking a frozen process first), then SIGKILL after `grace` or as soon as the lab stops.
fn terminate(mut child: Child, grace: Duration, stopping: &AtomicBool) {
    if let Some(pid) = pid_of(&child).map(Pid::from_raw) {
        let _ = kill(pid, Signal::SIGCONT);
        let _ = kill(pid, Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && !stopping.load(Ordering::SeqCst) && matches!(child.try_wait(), Ok(None)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn backoff(crashes: u32) -> Duration {
    Duration::from_secs(1u64 << crashes.saturating_sub(1).min(4)).min(MAX_BACKOFF)
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// One look at a host: reap, start, or stop its member as the manifest says.
fn sync(shared: &Shared, index: usize) {
    let Some(host) = shared.inventory.hosts.get(index) else { return };
    let root = shared.inventory.root(&host.name);
    let wanted = fs::read_to_string(etcd_manifest(&root)).ok().and_then(|t| manifest::etcd_command_of(&t));
    let now = Instant::now();
    let to_stop = {
        let Some(mut slot) = shared.slot(index) else { return };
        let exited = slot.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
        if let Some(status) = exited {
            slot.child = None;
            tracing::warn!(node = %host.name, %status, "lab kubelet: etcd exited");
            slot.first_exit.get_or_insert_with(|| format!("etcd exited ({status})"));
            if !slot.crashed {
                slot.crashes += 1;
                let wait = backoff(slot.crashes);
                // A signal's death reads as a shell has it (128 + the signal), as the container runtime reports it.
                use std::os::unix::process::ExitStatusExt;
                let exit_code = status.code().or_else(|| status.signal().map(|s| 128 + s)).unwrap_or(1);
                let exit = EtcdExit {
                    attempt: slot.attempt,
                    exit_code,
                    started_unix_ms: slot.started_unix_ms,
                    finished_unix_ms: unix_ms(SystemTime::now()),
                    backoff_ms: wait.as_millis() as u64,
                };
                if let Ok(text) = serde_json::to_string(&exit) {
                    if let Err(e) = write_atomically(&exit_file(&root), &text) {
                        tracing::warn!(node = %host.name, error = %e, "lab kubelet: cannot record how etcd exited");
                    }
                }
                slot.attempt += 1;
                slot.retry_at = Some(now + wait);
            }
            // After the exit is recorded: whoever sees no process finds how it ended.
            shared.forget(index);
        }
        if slot.crashed || shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        match wanted {
            Some(command) if slot.child.is_none() => {
                if !slot.command.is_empty() && command != slot.command {
                    // Another pod in place of the crashlooping one: no back-off, no restarts behind it.
                    shared.forget_exits(index);
                    slot.attempt = 0;
                    slot.crashes = 0;
                    slot.retry_at = None;
                }
                if slot.retry_at.is_some_and(|at| now < at) {
                    return;
                }
                match spawn(&command, &shared.inventory.log(&host.name)) {
                    Ok(child) => {
                        let pid = pid_of(&child);
                        tracing::info!(node = %host.name, pid, "lab kubelet: etcd started from its manifest");
                        let process = EtcdProcess {
                            pid: pid.unwrap_or(0),
                            attempt: slot.attempt,
                            started_unix_ms: unix_ms(SystemTime::now()),
                        };
                        slot.started_unix_ms = process.started_unix_ms;
                        if let Ok(text) = serde_json::to_string(&process) {
                            if let Err(e) = write_atomically(&state_file(&root), &text) {
                                let node = &host.name;
                                tracing::warn!(%node, error = %e, "lab kubelet: cannot record the etcd process");
                            }
                        }
                        shared.pids.set(index, pid);
                        slot.child = Some(child);
                        slot.command = command;
                        slot.retry_at = None;
                    }
                    Err(e) => {
                        tracing::warn!(node = %host.name, error = %e, "lab kubelet: etcd did not start");
                        slot.first_exit.get_or_insert(e);
                        slot.crashes += 1;
                        slot.retry_at = Some(now + backoff(slot.crashes));
                    }
                }
                None
            }
            Some(command) if command != slot.command => {
                tracing::info!(node = %host.name, "lab kubelet: the etcd manifest changed, stopping the member");
                slot.child.take()
            }
            None if slot.child.is_some() => {
                tracing::info!(node = %host.name, "lab kubelet: the etcd manifest is gone, stopping the member");
                slot.child.take()
            }
            // The manifest of a crashlooping pod taken away: the pod is gone, and with it its restarts.
            None if slot.attempt > 0 || slot.retry_at.is_some() => {
                shared.forget_exits(index);
                slot.command.clear();
                slot.attempt = 0;
                slot.crashes = 0;
                slot.retry_at = None;
                None
            }
            _ => None,
        }
    };
    if let Some(child) = to_stop {
        // Outside the lock: a crash or a pause may come meanwhile.
        terminate(child, STOP_GRACE, &shared.stopping);
        if let Some(mut slot) = shared.slot(index) {
            shared.forget(index);
            shared.forget_exits(index);
            slot.command.clear();
            slot.attempt = 0;
            slot.crashes = 0;
            slot.retry_at = None;
        }
    }
}

/// The file `systemctl reboot` leaves for the kubelet.
pub fn reboot_request(root: &Path) -> PathBuf {
    map_path(root, &format!("{KUBELET_STATE}/reboot")).unwrap_or_else(|_| root.join("run/lab-kubelet/reboot"))
}

/// The file the machine API leaves when it deletes the host's Machine: the
/// instance is gone, its member dies and nothing runs there again.
pub fn power_off_request(root: &Path) -> PathBuf {
    map_path(root, &format!("{KUBELET_STATE}/power-off")).unwrap_or_else(|_| root.join("run/lab-kubelet/power-off"))
}

/// The file a fresh install leaves in a host root: its kubelet runs what the manifests say again.
pub fn installed_request(root: &Path) -> PathBuf {
    map_path(root, &format!("{KUBELET_STATE}/installed")).unwrap_or_else(|_| root.join("run/lab-kubelet/installed"))
}

/// Host `index` is gone: its member dies (SIGKILL) and nothing starts it again.
fn crash(shared: &Shared, index: usize) {
    let Some(mut slot) = shared.slot(index) else { return };
    slot.crashed = true;
    slot.retry_at = None;
    match slot.child.take() {
        Some(mut child) => {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Being stopped by its thread right now: that thread reaps it.
        None => {
            if let Some(pid) = shared.pids.get(index) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
    slot.command.clear();
    shared.forget(index);
    shared.forget_exits(index);
}

/// A new host stands where a lost one was: its kubelet starts from nothing.
fn installed(shared: &Shared, index: usize) {
    if let Some(mut slot) = shared.slot(index).filter(|slot| slot.crashed) {
        *slot = Slot::default();
    }
}

/// A reboot: the member goes down now and comes back from its manifest after the host's boot time.
fn reboot(shared: &Shared, index: usize, node: &str) {
    let child = shared.slot(index).and_then(|mut slot| {
        slot.retry_at = Some(Instant::now() + REBOOT_TAKES);
        slot.child.take()
    });
    tracing::info!(node, "lab kubelet: the host reboots");
    if let Some(child) = child {
        terminate(child, STOP_GRACE, &shared.stopping);
        shared.forget(index);
        if let Some(mut slot) = shared.slot(index) {
            slot.command.clear();
        }
    }
}

fn host_loop(shared: Arc<Shared>, index: usize) {
    let Some(host) = shared.inventory.hosts.get(index) else { return };
    let restart = restart_request(&shared.inventory.root(&host.name));
    let rebooting = reboot_request(&shared.inventory.root(&host.name));
    let power_off = power_off_request(&shared.inventory.root(&host.name));
    let fresh = installed_request(&shared.inventory.root(&host.name));
    while !shared.stopping.load(Ordering::SeqCst) {
        if fs::remove_file(&fresh).is_ok() {
            tracing::info!(node = %host.name, "lab kubelet: a new host installed in its place");
            installed(&shared, index);
        }
        if fs::remove_file(&power_off).is_ok() {
            tracing::info!(node = %host.name, "lab kubelet: the host is powered off (lost, or its Machine deleted)");
            crash(&shared, index);
        }
        if fs::remove_file(&restart).is_ok() {
            tracing::info!(node = %host.name, "lab kubelet: restarted (systemctl restart kubelet.service)");
            shared.restarts.push(&host.name);
        }
        if fs::remove_file(&rebooting).is_ok() {
            reboot(&shared, index, &host.name);
        }
        sync(&shared, index);
        std::thread::park_timeout(SYNC_EVERY);
    }
}

impl Kubelet {
    /// Starts one kubelet thread per host of the inventory; each starts its member at once.
    pub fn start(inventory: Arc<Inventory>) -> Result<Self, String> {
        let count = inventory.hosts.len();
        let shared = Arc::new(Shared {
            inventory,
            slots: (0..count).map(|_| Mutex::new(Slot::default())).collect(),
            pids: MemberPids::new(count),
            restarts: KubeletRestarts::default(),
            stopping: AtomicBool::new(false),
        });
        let mut kubelet = Self { shared: shared.clone(), threads: Vec::new() };
        for index in 0..count {
            let shared = shared.clone();
            let thread = std::thread::Builder::new()
                .name(format!("lab-kubelet-{index}"))
                .spawn(move || host_loop(shared, index))
                .map_err(|e| format!("cannot start the lab kubelet: {e}"))?;
            kubelet.threads.push(thread);
        }
        Ok(kubelet)
    }

    pub fn pids(&self) -> MemberPids {
        self.shared.pids.clone()
    }

    pub fn restarts(&self) -> KubeletRestarts {
        self.shared.restarts.clone()
    }

    /// Why host `index`'s member first exited by itself, if it has.
    pub fn first_exit(&self, index: usize) -> Option<String> {
        self.shared.slot(index).and_then(|s| s.first_exit.clone())
    }

    /// The host crashed: its member dies (SIGKILL) and nothing starts it again.
    pub fn crash(&self, index: usize) {
        crash(&self.shared, index);
    }

    /// Stops the kubelet, then every member one after the other: SIGTERM, and
    /// SIGKILL for one still there after `grace`. One at a time, because a leader
    /// stopping hands its leadership over first, and waits for that while its
    /// peers are stopping too.
    pub fn stop(&mut self, grace: Duration) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        for thread in &self.threads {
            thread.thread().unpark();
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        let running = AtomicBool::new(false);
        for index in 0..self.shared.slots.len() {
            let child = self.shared.slot(index).and_then(|mut s| s.child.take());
            if let Some(child) = child {
                terminate(child, grace, &running);
            }
            self.shared.forget(index);
        }
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.stop(Duration::ZERO);
    }
}
