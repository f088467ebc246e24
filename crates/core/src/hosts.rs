//! Shells on the control-plane hosts, behind one trait: the product's is the
//! system `ssh` client (as the runbook does it, one command per connection,
//! never a password prompt); the lab gives its own hosts. The restore never
//! knows which.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncReadExt};

/// What a command on a host gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostOutput {
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl HostOutput {
    /// stdout and stderr, trimmed, for the journal and the screen.
    pub fn text(&self) -> String {
        let mut text = self.stdout.trim_end().to_string();
        let err = self.stderr.trim_end();
        if !err.is_empty() {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(err);
        }
        text
    }
}

/// A file being read off a host: its bytes as they come, then how the reading ended.
pub struct Fetch {
    pub reader: Pin<Box<dyn AsyncRead + Send>>,
    /// Resolves once the reader is drained: Err when the far side failed (a missing file,
    /// a refused sudo), whatever bytes came before.
    pub ended: BoxFuture<'static, Result<(), String>>,
}

/// Quotes a word for a POSIX shell on the far side.
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c)) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// A way to run the runbook's commands on a control-plane host and to copy a
/// backup there. Every call has a time limit and reports what the host said.
pub trait HostShell: Send + Sync {
    /// How hosts are reached, for the plan and the journal ("ssh as core").
    fn describe(&self) -> String;

    /// Runs `command` on the host (reached at its InternalIP `ip`, or by its name) within `limit`.
    fn run<'a>(
        &'a self,
        node: &'a str,
        ip: &'a str,
        command: &'a str,
        limit: Duration,
    ) -> BoxFuture<'a, Result<HostOutput, String>>;

    /// [`HostShell::run`] on a host whose key must be known already (the recovery host): where the
    /// shell would accept a key not seen before, it does not here.
    fn run_known<'a>(
        &'a self,
        node: &'a str,
        ip: &'a str,
        command: &'a str,
        limit: Duration,
    ) -> BoxFuture<'a, Result<HostOutput, String>> {
        self.run(node, ip, command, limit)
    }

    /// Copies the files of the local directory `local` into `remote` on the host.
    fn copy<'a>(
        &'a self,
        node: &'a str,
        ip: &'a str,
        local: &'a Path,
        remote: &'a str,
        limit: Duration,
    ) -> BoxFuture<'a, Result<String, String>>;

    /// Reads the file `remote` off the host as root (`sudo cat`), as a stream.
    fn fetch<'a>(&'a self, node: &'a str, ip: &'a str, remote: &'a str) -> BoxFuture<'a, Result<Fetch, String>>;
}

impl std::fmt::Debug for dyn HostShell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// The system ssh and scp. `options` are given to both as `-o` (a port, a jump host).
#[derive(Debug, Clone)]
pub struct SshShell {
    pub user: String,
    pub key: Option<PathBuf>,
    pub options: Vec<String>,
}

/// How a host's key is checked when the person did not say (`--ssh-option StrictHostKeyChecking=...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostKeys {
    /// A key not seen before is added (and a changed one refused): `accept-new`.
    AcceptNew,
    /// Only a key already known: `yes` (the recovery host).
    KnownOnly,
}

/// Whether the person's options set StrictHostKeyChecking (`Key=value` or `Key value`, any case).
fn sets_host_key_checking(options: &[String]) -> bool {
    options.iter().any(|o| {
        o.trim().split(['=', ' ', '\t']).next().is_some_and(|k| k.eq_ignore_ascii_case("StrictHostKeyChecking"))
    })
}

/// What to do when ssh refused a host's key: say how to add it, after checking it.
fn host_key_hint(node: &str, ip: &str, output: &mut HostOutput) {
    if output.exit_code == 255 && output.stderr.contains("Host key verification failed") {
        output.stderr.push_str(&format!(
            "{node}'s host key is not known here, and the recovery host's key is never accepted unseen (StrictHostKeyChecking=yes): \
             compare `ssh-keyscan {ip}` with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` run on {node}'s console, then add it \
             (`ssh-keyscan -H {ip} >> ~/.ssh/known_hosts`, or the file your UserKnownHostsFile names), or say how with --ssh-option StrictHostKeyChecking=...\n"
        ));
    }
}

impl SshShell {
    fn ssh_args(key: &Option<PathBuf>, options: &[String], host_keys: HostKeys) -> Vec<String> {
        // ssh keeps the first value given for an option: the person's come first.
        let mut args: Vec<String> = options.iter().flat_map(|o| ["-o".to_string(), o.clone()]).collect();
        if !sets_host_key_checking(options) {
            let value = match host_keys {
                HostKeys::AcceptNew => "accept-new",
                HostKeys::KnownOnly => "yes",
            };
            args.extend(["-o".to_string(), format!("StrictHostKeyChecking={value}")]);
        }
        args.extend([
            "-o".to_string(),
            "BatchMode=yes".to_string(),
            "-o".to_string(),
            "ServerAliveInterval=15".to_string(),
            "-o".to_string(),
            "ServerAliveCountMax=4".to_string(),
            "-o".to_string(),
            "ConnectTimeout=10".to_string(),
            // Errors still come through; "Permanently added ... to the list of known hosts" does not.
            "-o".to_string(),
            "LogLevel=ERROR".to_string(),
        ]);
        if let Some(key) = key {
            args.push("-i".into());
            args.push(key.display().to_string());
        }
        args
    }

    async fn run_here(
        &self,
        node: &str,
        ip: &str,
        command: &str,
        limit: Duration,
        host_keys: HostKeys,
    ) -> Result<HostOutput, String> {
        let mut args = Self::ssh_args(&self.key, &self.options, host_keys);
        args.push(format!("{}@{ip}", self.user));
        args.push("--".into());
        args.push(command.to_string());
        let mut output = run_process("ssh", &args, limit).await.map_err(|e| format!("ssh to {node} ({ip}): {e}"))?;
        if host_keys == HostKeys::KnownOnly {
            host_key_hint(node, ip, &mut output);
        }
        Ok(output)
    }

    async fn copy_here(
        &self,
        node: &str,
        ip: &str,
        local: &Path,
        remote: &str,
        limit: Duration,
    ) -> Result<String, String> {
        let made = self.run_here(node, ip, &format!("mkdir -p '{remote}'"), limit, HostKeys::AcceptNew).await?;
        if made.exit_code != 0 {
            return Err(format!("mkdir -p {remote} on {node} failed: {}", made.text()));
        }
        let mut args = Self::ssh_args(&self.key, &self.options, HostKeys::AcceptNew);
        args.push("-r".into());
        // The modes too: the static resources archive (the encryption configuration) stays 0600.
        args.push("-p".into());
        let files = std::fs::read_dir(local)
            .map_err(|e| format!("cannot read {}: {e}", local.display()))?
            .flatten()
            .map(|e| e.path().display().to_string());
        args.extend(files);
        args.push(format!("{}@{ip}:{remote}/", self.user));
        let output = run_process("scp", &args, limit).await.map_err(|e| format!("scp to {node}: {e}"))?;
        if output.exit_code == 0 {
            Ok(format!("copied to {node}:{remote}"))
        } else {
            Err(format!("scp to {node} failed (exit {}): {}", output.exit_code, output.text()))
        }
    }
}

impl SshShell {
    async fn fetch_here(&self, node: &str, ip: &str, remote: &str) -> Result<Fetch, String> {
        let mut args = Self::ssh_args(&self.key, &self.options, HostKeys::AcceptNew);
        args.push(format!("{}@{ip}", self.user));
        args.push("--".into());
        args.push(format!("sudo -n cat -- {}", shell_quote(remote)));
        let mut child = tokio::process::Command::new("ssh")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot run ssh: {e}"))?;
        let stdout = child.stdout.take().ok_or("ssh gave no stdout")?;
        let mut stderr = child.stderr.take();
        let (node, remote) = (node.to_string(), remote.to_string());
        let ended: BoxFuture<'static, Result<(), String>> = Box::pin(async move {
            let mut said = String::new();
            if let Some(stderr) = stderr.as_mut() {
                let _ = stderr.read_to_string(&mut said).await;
            }
            match child.wait().await {
                Ok(status) if status.success() => Ok(()),
                Ok(status) => Err(format!(
                    "sudo cat {remote} on {node} failed (exit {}): {}",
                    status.code().unwrap_or(-1),
                    said.trim()
                )),
                Err(e) => Err(format!("ssh to {node}: {e}")),
            }
        });
        Ok(Fetch { reader: Box::pin(stdout), ended })
    }
}

impl HostShell for SshShell {
    fn describe(&self) -> String {
        match &self.key {
            Some(key) => format!("ssh as {} with {}", self.user, key.display()),
            None => format!("ssh as {}", self.user),
        }
    }

    fn run<'a>(
        &'a self,
        node: &'a str,
        ip: &'a str,
        command: &'a str,
        limit: Duration,
    ) -> BoxFuture<'a, Result<HostOutput, String>> {
        Box::pin(self.run_here(node, ip, command, limit, HostKeys::AcceptNew))
    }

    fn run_known<'a>(
        &'a self,
        node: &'a str,
        ip: &'a str,
        command: &'a str,
        limit: Duration,
    ) -> BoxFuture<'a, Result<HostOutput, String>> {
        Box::pin(self.run_here(node, ip, command, limit, HostKeys::KnownOnly))
    }

    fn copy<'a>(
        &'a self,
        node: &'a str,
        ip: &'a str,
        local: &'a Path,
        remote: &'a str,
        limit: Duration,
    ) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(self.copy_here(node, ip, local, remote, limit))
    }

    fn fetch<'a>(&'a self, node: &'a str, ip: &'a str, remote: &'a str) -> BoxFuture<'a, Result<Fetch, String>> {
        Box::pin(self.fetch_here(node, ip, remote))
    }
}

async fn run_process(program: &str, args: &[String], limit: Duration) -> Result<HostOutput, String> {
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(Ok(output)) => Ok(HostOutput {
            exit_code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }),
        Ok(Err(e)) => Err(format!("{program} failed: {e}")),
        Err(_) => Err(format!("no answer within {}", humantime::format_duration(limit))),
    }
}
