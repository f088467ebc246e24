//! `etcd-console lab serve`: a headless lab that etcdctl and etcd-console reach
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! through DIR/lab.env, stopped cleanly by SIGTERM.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

fn in_lab_env(dir: &std::path::Path, command: &str) -> std::process::Output {
    let mut shell = Command::new("bash");
    shell.arg("-c").arg(format!(". {}/lab.env && {command}", dir.display()));
    run_with_limit(shell, Duration::from_secs(30))
}

fn etcd_processes_under(dir: &std::path::Path) -> usize {
    let pattern = format!("--data-dir={}/hosts/", dir.display());
    Command::new("pgrep")
        .args(["-f", "--", &pattern])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().count())
        .unwrap_or(0)
}

#[test]
fn lab_serve_writes_lab_env_that_etcdctl_and_the_console_use_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let lab_dir = dir.path().join("lab");
    let mut serve = Command::new(console_bin())
        .args(["lab", "serve", "--members", "3", "--dir"])
        .arg(&lab_dir)
        .arg("--log-dir")
        .arg(dir.path().join("logs"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !lab_dir.join("lab.env").exists() {
        assert!(Instant::now() < deadline, "no lab.env after 60s");
        assert!(matches!(serve.try_wait(), Ok(None)), "lab serve exited early");
        std::thread::sleep(Duration::from_millis(100));
    }
    let env = std::fs::read_to_string(lab_dir.join("lab.env")).unwrap_or_default();
    for name in ["ETCDCTL_API", "ETCDCTL_ENDPOINTS", "ETCDCTL_CACERT", "ETCDCTL_CERT", "ETCDCTL_KEY"] {
        assert!(env.contains(&format!("export {name}=")), "{env}");
    }

    let health = in_lab_env(&lab_dir, "etcdctl endpoint health --cluster");
    let healthy = String::from_utf8_lossy(&health.stdout).matches("is healthy").count()
        + String::from_utf8_lossy(&health.stderr).matches("is healthy").count();
    assert_eq!(healthy, 3, "{health:?}");

    let status = in_lab_env(
        &lab_dir,
        &format!("{} status --log-dir {}", console_bin().display(), dir.path().join("logs").display()),
    );
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    assert_eq!(stdout(&status).lines().filter(|l| l.starts_with("https://127.0.0.1")).count(), 3);

    // The simulated OpenShift API, reached by kubectl through KUBECONFIG from lab.env.
    assert!(env.contains(&format!("export KUBECONFIG='{}'", lab_dir.join("kubeconfig").display())), "{env}");
    let pods = in_lab_env(&lab_dir, "kubectl get pods -l k8s-app=etcd -n openshift-etcd");
    assert!(pods.status.success(), "{}", stderr(&pods));
    assert_eq!(names(&stdout(&pods)), ["etcd-master-0", "etcd-master-1", "etcd-master-2"]);
    let kubeconfig = std::fs::read_to_string(lab_dir.join("kubeconfig")).unwrap_or_default();
    let server = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: https://"))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no server in {kubeconfig}"));
    assert!(server.starts_with("127.0.0.1:"), "the API listens on loopback only: {server}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(lab_dir.join("kubeconfig")).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
    assert_eq!(mode, 0o600, "the kubeconfig holds tokens");

    assert_eq!(etcd_processes_under(&lab_dir), 3);
    let pid = Pid::from_raw(i32::try_from(serve.id()).unwrap_or_default());
    kill(pid, Signal::SIGTERM).unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Ok(Some(status)) = serve.try_wait() {
            break status.code();
        }
        assert!(Instant::now() < deadline, "lab serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(code, Some(0));
    assert_eq!(etcd_processes_under(&lab_dir), 0, "members left running after SIGTERM");
    // The API's socket went with the process (which exited above); a connect
    // check here could meet another test's lab reusing the port.
    let _ = server;
}

#[test]
fn a_missing_etcd_binary_says_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut command = Command::new(console_bin());
    command
        .args(["lab", "serve", "--etcd-bin", "/nonexistent/etcd", "--dir"])
        .arg(dir.path())
        .arg("--log-dir")
        .arg(dir.path().join("logs"));
    let output = run_with_limit(command, Duration::from_secs(20));
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("/nonexistent/etcd") && message.contains("apt-get install etcd-server"), "{message}");
    assert!(!message.contains("panicked"));
}
