//! The backup executor's hands on a control-plane node: the runbook's
//! `cluster-backup.sh` run there — through a debug pod (`--via api`, as `oc
//! debug node/NAME` and `chroot /host`) or over ssh (`--via ssh`) — its two
//! files read back, and the node left as it was found.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::executor::{bytes_progress, names_in, BackupExecutor, Hashes, Progress};
use super::{files, RemotePlan, ScriptRan, Streamed, Via, REMOTE_DIR_PREFIX};
use crate::hosts::{shell_quote, Fetch, HostOutput};
use crate::openshift::debug_pod::{self, DebugPod};

/// What the debug namespaces of the backup are labelled with.
const PURPOSE: &str = "backup";
/// How long one quick command on the node may take (ls, rm).
const QUICK: Duration = Duration::from_secs(60);

impl BackupExecutor {
    fn shell(&self) -> Result<&std::sync::Arc<dyn crate::hosts::HostShell>, String> {
        self.shell.as_ref().ok_or_else(|| "--via ssh: no way to reach the hosts was given".to_string())
    }

    async fn connection(&self) -> Result<crate::openshift::Connection, String> {
        if let Some(connection) = self.connection.lock().await.clone() {
            return Ok(connection);
        }
        let kube = self.kube.as_ref().ok_or("--via api needs the cluster's kubeconfig")?;
        let connection = crate::openshift::connect(kube).await.map_err(|e| e.to_string())?;
        *self.connection.lock().await = Some(connection.clone());
        Ok(connection)
    }

    /// Runs `argv` as root on the node, the proxy's variables in its environment.
    async fn on_node(
        &self,
        remote: &RemotePlan,
        env: &[(String, String)],
        argv: &[String],
        limit: Duration,
    ) -> Result<HostOutput, String> {
        match remote.via {
            Via::Api => {
                let session = self.session.lock().await.clone();
                let pod = session.ok_or("the debug pod is not running")?;
                pod.run(env, argv, limit).await
            }
            Via::Ssh => {
                let mut text = String::from("sudo -E ");
                if !env.is_empty() {
                    text = String::from("sudo env ");
                    for (name, value) in env {
                        text.push_str(&format!("{name}={} ", shell_quote(value)));
                    }
                }
                text.push_str(&argv.iter().map(|a| shell_quote(a)).collect::<Vec<_>>().join(" "));
                self.shell()?.run(&remote.node, &remote.ip, &text, limit).await
            }
        }
    }

    /// Reaches the node: the debug pod made and running (`--via api`), or its shell answering
    /// (`--via ssh`). What earlier runs left (their namespaces, their directories on this node)
    /// is removed first.
    pub(super) async fn prepare(&self, remote: &RemotePlan) -> Result<Vec<String>, String> {
        let mut notes = Vec::new();
        // The remote directories of runs that may still be going on.
        let mut keep: Vec<String> = Vec::new();
        if remote.via == Via::Api {
            let connection = self.connection().await?;
            let image = match &self.debug_image {
                Some(image) => image.clone(),
                None => debug_pod::tools_image(&connection).await?,
            };
            for leftover in debug_pod::leftovers(&connection, PURPOSE).await? {
                if leftover.namespace == self.namespace {
                    continue;
                }
                if leftover.in_use && !leftover.owner_gone {
                    // Its pod runs: maybe someone else's backup right now. Left alone, with its directory.
                    notes.push(format!(
                        "namespace {} (a debug pod running on {}) left alone: another backup may be running; \
                         if not, `oc delete namespace {}`",
                        leftover.namespace, leftover.node, leftover.namespace
                    ));
                    keep.push(leftover.remote_dir.clone());
                    continue;
                }
                debug_pod::remove_namespace(&connection, &leftover.namespace).await?;
                notes.push(format!(
                    "removed namespace {} that an earlier backup left (its debug pod on {}{})",
                    leftover.namespace,
                    leftover.node,
                    if leftover.in_use { ", still running: the run that made it was killed" } else { "" }
                ));
            }
            let pod = DebugPod::start(
                &connection,
                &self.namespace,
                &remote.node,
                &image,
                PURPOSE,
                &remote.dir,
                self.pod_start_limit,
            )
            .await?;
            notes.push(format!("debug pod {}/{} running on {} (image {image})", pod.namespace, pod.pod, remote.node));
            *self.session.lock().await = Some(pod);
        } else {
            let answered = self.shell()?.run(&remote.node, &remote.ip, "true", QUICK).await?;
            if answered.exit_code != 0 {
                return Err(format!(
                    "ssh to {} answered exit {}: {}",
                    remote.node,
                    answered.exit_code,
                    answered.text()
                ));
            }
        }
        // Directories of earlier runs on this node (a crash between the script and the clean-up).
        let (parent, prefix) = REMOTE_DIR_PREFIX.rsplit_once('/').unwrap_or(("/home/core/assets", ""));
        let listed = self.on_node(remote, &[], &["ls".into(), parent.into()], QUICK).await?;
        if listed.exit_code == 0 {
            let ours = remote.dir.rsplit('/').next().unwrap_or("");
            for name in listed.stdout.split_whitespace().filter(|n| n.starts_with(prefix) && *n != ours) {
                let path = format!("{parent}/{name}");
                if keep.contains(&path) {
                    continue;
                }
                let removed = self.on_node(remote, &[], &["rm".into(), "-rf".into(), path.clone()], QUICK).await?;
                if removed.exit_code == 0 {
                    notes.push(format!("removed {path} on {} that an earlier backup left", remote.node));
                } else {
                    notes.push(format!("could not remove {path} on {}: {}", remote.node, removed.text()));
                }
            }
        }
        Ok(notes)
    }

    /// `cluster-backup.sh DIR` on the node, then which two files it made there.
    pub(super) async fn run_script(
        &self,
        remote: &RemotePlan,
        dir: &Path,
        keys_dir: Option<&Path>,
    ) -> Result<ScriptRan, String> {
        let mut argv = vec!["/usr/local/bin/cluster-backup.sh".to_string()];
        if remote.force {
            argv.push("--force".into());
        }
        argv.push(remote.dir.clone());
        tracing::info!(target: "audit", action = "cluster-backup.sh", node = %remote.node, via = remote.via.as_str(),
            dir = %remote.dir, "begin");
        let ran = self.on_node(remote, &remote.proxy, &argv, self.script_limit).await?;
        let output = ran.text();
        let last_of = |text: &str| text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").to_string();
        if ran.exit_code != 0 {
            let said = if ran.stderr.trim().is_empty() { last_of(&ran.stdout) } else { last_of(&ran.stderr) };
            return Err(format!("exit {} on {}: {said}", ran.exit_code, remote.node));
        }
        // Its own words are on stdout (etcdctl's log lines go to stderr, in between).
        let last = last_of(&ran.stdout);
        if !last.contains("successfully saved") {
            return Err(format!("it ended without saying it saved the backup: {last}"));
        }
        let listed = self.on_node(remote, &[], &["ls".into(), remote.dir.clone()], QUICK).await?;
        if listed.exit_code != 0 {
            return Err(format!("ls {} on {}: {}", remote.dir, remote.node, listed.text()));
        }
        let names: Vec<&str> = listed.stdout.split_whitespace().collect();
        let one = |prefix: &str, suffix: &str| -> Result<String, String> {
            let found: Vec<&&str> = names.iter().filter(|n| n.starts_with(prefix) && n.ends_with(suffix)).collect();
            match found.as_slice() {
                [one] => Ok(one.to_string()),
                _ => Err(format!(
                    "{} on {} holds {} {prefix}*{suffix} file(s), not one: {}",
                    remote.dir,
                    remote.node,
                    found.len(),
                    names.join(" ")
                )),
            }
        };
        let snapshot = one("snapshot_", ".db")?;
        let archive = one("static_kuberesources_", ".tar.gz")?;
        Ok(ScriptRan { snapshot, archive, output, dir_names: names_in(Some(dir)), keys_dir_names: names_in(keys_dir) })
    }

    /// Reads `path` off the node into a new `part`, hashing it as it comes; the part goes
    /// again on any failure.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn fetch(
        &self,
        remote: &RemotePlan,
        path: &str,
        part: &Path,
        snapshot: bool,
        expected: u64,
        stall_limit: Duration,
        progress: &mpsc::UnboundedSender<Progress>,
    ) -> Result<Streamed, String> {
        let fetch: Fetch = match remote.via {
            Via::Api => {
                let session = self.session.lock().await.clone();
                session.ok_or("the debug pod is not running")?.fetch(path).await?
            }
            Via::Ssh => self.shell()?.fetch(&remote.node, &remote.ip, path).await?,
        };
        if let Some(dir) = part.parent() {
            files::prepare_dir(dir)?;
        }
        let file = files::create_part(part)?;
        let mut made = super::executor::PartFile { path: part, keep: false };
        let received = receive(fetch, file, part, snapshot, expected, stall_limit, progress).await;
        made.keep = received.is_ok();
        received
    }

    /// Removes the remote directory, then the debug pod's namespace; what could not be removed.
    pub(super) async fn tear_down(&self, remote: &RemotePlan) -> Vec<String> {
        let mut problems = Vec::new();
        let reachable = remote.via == Via::Ssh || self.session.lock().await.is_some();
        if reachable {
            match self.on_node(remote, &[], &["rm".into(), "-rf".into(), remote.dir.clone()], QUICK).await {
                Ok(out) if out.exit_code == 0 => {
                    tracing::info!(target: "audit", action = "remote backup directory removed", node = %remote.node,
                        dir = %remote.dir, "done");
                }
                Ok(out) => problems.push(format!("{} on {}: rm -rf said {}", remote.dir, remote.node, out.text())),
                Err(e) => problems.push(format!("{} on {}: {e}", remote.dir, remote.node)),
            }
        }
        if remote.via == Via::Api {
            match self.connection().await {
                Ok(connection) => {
                    if let Err(e) = debug_pod::remove_namespace(&connection, &self.namespace).await {
                        problems.push(format!(
                            "namespace {} (oc delete namespace {}): {e}",
                            self.namespace, self.namespace
                        ));
                    }
                }
                Err(e) => problems.push(format!("namespace {}: {e}", self.namespace)),
            }
            *self.session.lock().await = None;
        }
        problems
    }
}

/// Copies the fetched stream into `file`: a limit on silence, not on length.
async fn receive(
    fetch: Fetch,
    mut file: std::fs::File,
    part: &Path,
    snapshot: bool,
    expected: u64,
    stall_limit: Duration,
    progress: &mpsc::UnboundedSender<Progress>,
) -> Result<Streamed, String> {
    use std::io::Write;
    let Fetch { mut reader, ended } = fetch;
    let started = Instant::now();
    let mut hashes = Hashes::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut done = 0u64;
    let mut last_report = Instant::now();
    loop {
        let read = match tokio::time::timeout(stall_limit, reader.read(&mut buffer)).await {
            Ok(Ok(read)) => read,
            Ok(Err(e)) => return Err(format!("{e} (after {done} bytes)")),
            Err(_) => {
                return Err(format!(
                    "nothing came for {} (after {done} bytes)",
                    humantime::format_duration(stall_limit)
                ))
            }
        };
        if read == 0 {
            break;
        }
        let chunk = &buffer[..read];
        tokio::task::block_in_place(|| file.write_all(chunk))
            .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
        hashes.update(chunk);
        done += read as u64;
        if snapshot && last_report.elapsed() >= Duration::from_millis(200) {
            last_report = Instant::now();
            let _ = progress.send(bytes_progress(done, expected.max(done), started.elapsed()));
        }
    }
    match tokio::time::timeout(stall_limit, ended).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err("the far side did not say how the copy ended".into()),
    }
    tokio::task::block_in_place(|| file.sync_all()).map_err(|e| format!("cannot sync {}: {e}", part.display()))?;
    if snapshot {
        let _ = progress.send(bytes_progress(done, done, started.elapsed()));
    }
    if done == 0 {
        return Err("the node sent nothing".into());
    }
    Ok(hashes.finish(started.elapsed()))
}
