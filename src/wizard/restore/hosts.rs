//! Shells on the control-plane hosts: the system `ssh` client (as the runbook
//! does it, one command per connection, never a password prompt), or the lab's
//! hosts when the console runs in a lab (`ETCD_CONSOLE_LAB_DIR`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

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

#[derive(Debug, Clone)]
pub enum Hosts {
    /// `options` are given to ssh and scp as `-o` (a port, a jump host).
    Ssh {
        user: String,
        key: Option<PathBuf>,
        options: Vec<String>,
    },
    Lab {
        dir: PathBuf,
    },
}

impl Hosts {
    pub fn describe(&self) -> String {
        match self {
            Hosts::Ssh { user, key, .. } => match key {
                Some(key) => format!("ssh as {user} with {}", key.display()),
                None => format!("ssh as {user}"),
            },
            Hosts::Lab { dir } => format!("the lab's hosts in {}", dir.display()),
        }
    }

    fn ssh_args(key: &Option<PathBuf>, options: &[String]) -> Vec<String> {
        // ssh keeps the first value given for an option: the person's come first.
        let mut args: Vec<String> = options.iter().flat_map(|o| ["-o".to_string(), o.clone()]).collect();
        args.extend([
            "-o".to_string(),
            "BatchMode=yes".to_string(),
            "-o".to_string(),
            "ServerAliveInterval=15".to_string(),
            "-o".to_string(),
            "ServerAliveCountMax=4".to_string(),
            "-o".to_string(),
            "ConnectTimeout=10".to_string(),
            "-o".to_string(),
            "StrictHostKeyChecking=accept-new".to_string(),
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

    /// Runs `command` on the host (its InternalIP for ssh, its name in the lab) within `limit`.
    pub async fn run(&self, node: &str, ip: &str, command: &str, limit: Duration) -> Result<HostOutput, String> {
        match self {
            Hosts::Ssh { user, key, options } => {
                let mut args = Self::ssh_args(key, options);
                args.push(format!("{user}@{ip}"));
                args.push("--".into());
                args.push(command.to_string());
                run_process("ssh", &args, limit).await.map_err(|e| format!("ssh to {node} ({ip}): {e}"))
            }
            Hosts::Lab { dir } => {
                let (dir, node_name, command_text) = (dir.clone(), node.to_string(), command.to_string());
                let task = tokio::task::spawn_blocking(move || crate::lab::hosts::run(&dir, &node_name, &command_text));
                match tokio::time::timeout(limit, task).await {
                    Ok(Ok(output)) => {
                        Ok(HostOutput { exit_code: output.exit_code, stdout: output.stdout, stderr: output.stderr })
                    }
                    Ok(Err(e)) => Err(format!("the lab host {node} failed: {e}")),
                    Err(_) => {
                        Err(format!("the lab host {node} gave no answer within {}", humantime::format_duration(limit)))
                    }
                }
            }
        }
    }

    /// Copies the backup directory's files to `remote` on the host.
    pub async fn copy(
        &self,
        node: &str,
        ip: &str,
        local: &Path,
        remote: &str,
        limit: Duration,
    ) -> Result<String, String> {
        match self {
            Hosts::Ssh { user, key, options } => {
                let made = self.run(node, ip, &format!("mkdir -p '{remote}'"), limit).await?;
                if made.exit_code != 0 {
                    return Err(format!("mkdir -p {remote} on {node} failed: {}", made.text()));
                }
                let mut args = Self::ssh_args(key, options);
                args.push("-r".into());
                let files = std::fs::read_dir(local)
                    .map_err(|e| format!("cannot read {}: {e}", local.display()))?
                    .flatten()
                    .map(|e| e.path().display().to_string());
                args.extend(files);
                args.push(format!("{user}@{ip}:{remote}/"));
                let output = run_process("scp", &args, limit).await.map_err(|e| format!("scp to {node}: {e}"))?;
                if output.exit_code == 0 {
                    Ok(format!("copied to {node}:{remote}"))
                } else {
                    Err(format!("scp to {node} failed (exit {}): {}", output.exit_code, output.text()))
                }
            }
            Hosts::Lab { dir } => {
                let (dir, node_name, local, remote_dir) =
                    (dir.clone(), node.to_string(), local.to_path_buf(), remote.to_string());
                let task = tokio::task::spawn_blocking(move || {
                    crate::lab::hosts::copy_to(&dir, &node_name, &local, &remote_dir)
                });
                match tokio::time::timeout(limit, task).await {
                    Ok(Ok(Ok(()))) => Ok(format!("copied to {node}:{remote}")),
                    Ok(Ok(Err(e))) => Err(e),
                    Ok(Err(e)) => Err(format!("the copy to {node} failed: {e}")),
                    Err(_) => Err(format!("the copy to {node} took longer than {}", humantime::format_duration(limit))),
                }
            }
        }
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
