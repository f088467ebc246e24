//! The lab's hosts as the restore reaches them: core's [`HostShell`], answered
//! by each host's agent instead of an sshd.

use std::path::{Path, PathBuf};
use std::time::Duration;

use etcd_console_core::hosts::{Fetch, HostOutput, HostShell};
use futures::future::BoxFuture;

/// The hosts of the lab running in `dir` (as given to `lab serve --dir`).
#[derive(Debug, Clone)]
pub struct LabShell {
    pub dir: PathBuf,
}

impl LabShell {
    pub fn new(dir: PathBuf) -> LabShell {
        LabShell { dir }
    }

    async fn run_here(&self, node: &str, command: &str, limit: Duration) -> Result<HostOutput, String> {
        let (dir, node_name, command_text) = (self.dir.clone(), node.to_string(), command.to_string());
        let task = tokio::task::spawn_blocking(move || crate::hosts::run(&dir, &node_name, &command_text));
        match tokio::time::timeout(limit, task).await {
            Ok(Ok(output)) => {
                Ok(HostOutput { exit_code: output.exit_code, stdout: output.stdout, stderr: output.stderr })
            }
            Ok(Err(e)) => Err(format!("the lab host {node} failed: {e}")),
            Err(_) => Err(format!("the lab host {node} gave no answer within {}", humantime::format_duration(limit))),
        }
    }

    async fn copy_here(&self, node: &str, local: &Path, remote: &str, limit: Duration) -> Result<String, String> {
        let (dir, node_name, local, remote_dir) =
            (self.dir.clone(), node.to_string(), local.to_path_buf(), remote.to_string());
        let task = tokio::task::spawn_blocking(move || crate::hosts::copy_to(&dir, &node_name, &local, &remote_dir));
        match tokio::time::timeout(limit, task).await {
            Ok(Ok(Ok(()))) => Ok(format!("copied to {node}:{remote}")),
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(e)) => Err(format!("the copy to {node} failed: {e}")),
            Err(_) => Err(format!("the copy to {node} took longer than {}", humantime::format_duration(limit))),
        }
    }
}

impl LabShell {
    async fn fetch_here(&self, node: &str, remote: &str) -> Result<Fetch, String> {
        let (dir, node_name, remote_path) = (self.dir.clone(), node.to_string(), remote.to_string());
        let local = tokio::task::spawn_blocking(move || crate::hosts::readable_path(&dir, &node_name, &remote_path))
            .await
            .map_err(|e| format!("the lab host {node} failed: {e}"))??;
        let file = tokio::fs::File::open(&local).await.map_err(|e| format!("sudo cat {remote} on {node}: {e}"))?;
        Ok(Fetch { reader: Box::pin(file), ended: Box::pin(async { Ok(()) }) })
    }
}

impl HostShell for LabShell {
    fn describe(&self) -> String {
        format!("the lab's hosts in {}", self.dir.display())
    }

    fn run<'a>(
        &'a self,
        node: &'a str,
        _ip: &'a str,
        command: &'a str,
        limit: Duration,
    ) -> BoxFuture<'a, Result<HostOutput, String>> {
        Box::pin(self.run_here(node, command, limit))
    }

    fn copy<'a>(
        &'a self,
        node: &'a str,
        _ip: &'a str,
        local: &'a Path,
        remote: &'a str,
        limit: Duration,
    ) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(self.copy_here(node, local, remote, limit))
    }

    fn fetch<'a>(&'a self, node: &'a str, _ip: &'a str, remote: &'a str) -> BoxFuture<'a, Result<Fetch, String>> {
        Box::pin(self.fetch_here(node, remote))
    }
}
