//! The restore's host steps over the real OpenSSH client and server: an sshd
//! started on loopback with its own host key and one authorized key, reached
//! with `--ssh-user`, `--ssh-key` and `--ssh-option` exactly as a bastion
//! reaches the control-plane hosts (BatchMode: never a prompt).
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use etcd_console_core::hosts::{HostShell, SshShell};

const ADDRESSES: &[&str] = &["127.0.0.11", "127.0.0.12", "127.0.0.13"];

struct Sshd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sshd {
    fn key(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// What every connection of the test needs: the port, and a known_hosts of its own.
    fn options(&self) -> Vec<String> {
        vec![
            format!("Port={}", self.port),
            format!("UserKnownHostsFile={}", self.dir.path().join("known_hosts").display()),
        ]
    }

    fn hosts(&self, key: Option<PathBuf>) -> SshShell {
        SshShell { user: whoami(), key, options: self.options() }
    }
}

fn whoami() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// A real sshd on the lab's host addresses, as the current user (the CI runs as root).
fn start_sshd() -> Sshd {
    let sshd = Path::new("/usr/sbin/sshd");
    assert!(sshd.exists(), "no /usr/sbin/sshd: `bash scripts/setup.sh` installs openssh-server");
    let dir = tempfile::tempdir().unwrap();
    keygen(&dir.path().join("host_key"));
    keygen(&dir.path().join("client_key"));
    std::fs::copy(dir.path().join("client_key.pub"), dir.path().join("authorized_keys")).unwrap();
    // sshd's privilege separation directory (absent where sshd never ran).
    let _ = std::fs::create_dir_all("/run/sshd");
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen: String = ADDRESSES.iter().map(|a| format!("ListenAddress {a}\n")).collect();
    let config = format!(
        "Port {port}\n{listen}HostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\nPidFile {d}/sshd.pid\n\
         StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
         PermitRootLogin prohibit-password\nLogLevel ERROR\nSubsystem sftp /usr/lib/openssh/sftp-server\n",
        d = dir.path().display()
    );
    std::fs::write(dir.path().join("sshd_config"), config).unwrap();
    let child = Command::new(sshd)
        .args(["-D", "-e", "-f"])
        .arg(dir.path().join("sshd_config"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("sshd.log")).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::net::TcpStream::connect((ADDRESSES[0], port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "sshd did not listen: {:?}",
            std::fs::read_to_string(dir.path().join("sshd.log"))
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Sshd { child, port, dir }
}

#[tokio::test(flavor = "multi_thread")]
async fn host_commands_run_over_real_ssh_with_their_output_and_exit_code_and_the_backup_is_copied_with_scp() {
    let sshd = start_sshd();
    let hosts = sshd.hosts(Some(sshd.key()));
    let limit = Duration::from_secs(30);

    let out = hosts.run("master-1", ADDRESSES[1], "echo on-the-host; echo complaint >&2; exit 3", limit).await.unwrap();
    assert_eq!(out.exit_code, 3, "{out:?}");
    assert_eq!(out.stdout.trim(), "on-the-host");
    assert_eq!(out.stderr.trim(), "complaint");
    assert_eq!(out.text(), "on-the-host\ncomplaint");

    // The runbook's glob, expanded on the host as the executor sends it.
    let work = sshd.dir.path().join("host");
    std::fs::create_dir_all(work.join("manifests")).unwrap();
    std::fs::write(work.join("manifests/etcd-pod.yaml"), "kind: Pod\n").unwrap();
    let moved = format!("sh -c 'mv -v {0}/manifests/*.yaml {0}/'", work.display());
    let out = hosts.run("master-1", ADDRESSES[1], &moved, limit).await.unwrap();
    assert_eq!(out.exit_code, 0, "{out:?}");
    assert!(work.join("etcd-pod.yaml").exists() && !work.join("manifests/etcd-pod.yaml").exists());

    // Step 3: the backup directory's files, with scp, into a directory made first.
    let backup = sshd.dir.path().join("bastion-backup");
    std::fs::create_dir_all(&backup).unwrap();
    std::fs::write(backup.join("snapshot_2026-12-02_010203.db"), vec![7u8; 200_000]).unwrap();
    std::fs::write(backup.join("static_kuberesources_2026-12-02_010203.tar.gz"), b"tar").unwrap();
    let remote = sshd.dir.path().join("remote/assets/backup");
    let said = hosts.copy("master-0", ADDRESSES[0], &backup, &remote.display().to_string(), limit).await.unwrap();
    assert!(said.contains("copied to master-0"), "{said}");
    assert_eq!(std::fs::read(remote.join("snapshot_2026-12-02_010203.db")).unwrap(), vec![7u8; 200_000]);
    assert_eq!(std::fs::read(remote.join("static_kuberesources_2026-12-02_010203.tar.gz")).unwrap(), b"tar");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_key_or_a_closed_port_is_a_clear_answer_at_once_never_a_prompt() {
    let sshd = start_sshd();
    let limit = Duration::from_secs(30);
    let other = sshd.dir.path().join("other_key");
    keygen(&other);
    let started = Instant::now();
    let out = sshd.hosts(Some(other)).run("master-2", ADDRESSES[2], "true", limit).await.unwrap();
    assert_eq!(out.exit_code, 255, "{out:?}");
    assert!(out.stderr.contains("Permission denied"), "{out:?}");

    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let hosts = SshShell { user: whoami(), key: Some(sshd.key()), options: vec![format!("Port={closed}")] };
    let out = hosts.run("master-2", "127.0.0.1", "true", limit).await.unwrap();
    assert_eq!(out.exit_code, 255, "{out:?}");
    assert!(out.stderr.contains("refused"), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(20), "BatchMode: no prompt waited for");
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_plan_reaches_every_control_plane_host_over_ssh_when_not_in_a_lab() {
    let sshd = start_sshd();
    // The lab's API and members; its nodes' InternalIPs are where this sshd listens.
    let lab = lab_scenario("restore", 300.0).await;
    let backup = lab.dir.join("bastion-backup");
    let made = {
        let mut c = Command::new(console_bin());
        c.args(["lab", "host", "--dir"]).arg(&lab.dir).args([
            "master-0",
            "--",
            "sudo -E /usr/local/bin/cluster-backup.sh /home/core/backup",
        ]);
        run_with_limit(c, Duration::from_secs(60))
    };
    assert!(made.status.success(), "{}{}", stdout(&made), stderr(&made));
    std::fs::create_dir_all(&backup).unwrap();
    for entry in std::fs::read_dir(lab.dir.join("hosts/master-0/home/core/backup")).unwrap().flatten() {
        std::fs::copy(entry.path(), backup.join(entry.file_name())).unwrap();
    }
    let plan_with = |options: &[String]| {
        let mut command = Command::new(console_bin());
        command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", &lab.dir);
        for (name, value) in lab.env() {
            command.env(name, value);
        }
        command.env_remove("ETCD_CONSOLE_LAB_DIR");
        command.env("KUBECONFIG", lab.kubeconfig.as_ref().unwrap());
        command.args(["--context", "lab-admin-cert", "restore", "plan", "--backup"]).arg(&backup);
        command.args(["--recovery-host", "master-0", "--ssh-user", &whoami(), "--ssh-key"]).arg(sshd.key());
        for option in options {
            command.args(["--ssh-option", option]);
        }
        command.args(["-o", "json"]);
        let output = run_with_limit(command, Duration::from_secs(90));
        let plan: serde_json::Value = stdout(&output)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .find(|l: &serde_json::Value| l["event"] == "plan")
            .unwrap_or_else(|| panic!("{}{}", stdout(&output), stderr(&output)));
        (output.status.code(), plan)
    };
    let gate = |plan: &serde_json::Value, id: &str| {
        let gate = plan["gates"].as_array().unwrap().iter().find(|g| g["id"] == id).cloned().unwrap();
        (gate["passed"] == true, gate["detail"].as_str().unwrap().to_string())
    };
    let known_hosts = sshd.dir.path().join("known_hosts");
    let known = |ip: &str| {
        let out = Command::new("ssh-keygen")
            .args(["-F", &format!("[{ip}]:{}", sshd.port), "-f"])
            .arg(&known_hosts)
            .output()
            .unwrap();
        out.status.success()
    };

    // Never seen before: the other hosts' keys are added, the recovery host's is refused, with how to add it.
    let (code, plan) = plan_with(&sshd.options());
    assert_eq!(code, Some(1));
    let (passed, detail) = gate(&plan, "recovery_host");
    assert!(!passed, "{detail}");
    assert!(detail.contains("Host key verification failed"), "{detail}");
    assert!(
        detail.contains("the recovery host's key is never accepted unseen (StrictHostKeyChecking=yes)"),
        "{detail}"
    );
    assert!(detail.contains(&format!("ssh-keyscan -H {} >> ~/.ssh/known_hosts", ADDRESSES[0])), "{detail}");
    assert!(!known(ADDRESSES[0]), "the recovery host's key was not added");
    assert!(known(ADDRESSES[1]) && known(ADDRESSES[2]), "the other hosts' keys are added (accept-new)");

    // Added by the person: it answers, and what the restore script needs is checked on it over ssh.
    // This machine is no control-plane host: no cluster-restore.sh, another name.
    let scanned = Command::new("ssh-keyscan").args(["-p", &sshd.port.to_string(), ADDRESSES[0]]).output().unwrap();
    assert!(scanned.status.success());
    let mut file = std::fs::OpenOptions::new().append(true).open(&known_hosts).unwrap();
    std::io::Write::write_all(&mut file, &scanned.stdout).unwrap();
    let (code, plan) = plan_with(&sshd.options());
    assert_eq!(code, Some(1));
    assert_eq!(gate(&plan, "hosts_reachable"), (true, "master-0, master-1, master-2".to_string()));
    let (passed, detail) = gate(&plan, "recovery_host");
    assert!(!passed, "{detail}");
    assert!(detail.starts_with("master-0: "), "{detail}");
    assert!(detail.contains("/usr/local/bin/cluster-restore.sh is not there or not executable"), "{detail}");
    assert!(detail.contains("not master-0"), "{detail}");
    assert!(!detail.contains("host key"), "{detail}");

    // The person's own StrictHostKeyChecking wins, for the recovery host too.
    let fresh = sshd.dir.path().join("fresh_known_hosts");
    let options = vec![
        format!("Port={}", sshd.port),
        format!("UserKnownHostsFile={}", fresh.display()),
        "StrictHostKeyChecking=accept-new".to_string(),
    ];
    let (_, plan) = plan_with(&options);
    assert!(gate(&plan, "hosts_reachable").0, "{plan}");
    assert!(!gate(&plan, "recovery_host").1.contains("host key"), "{plan}");

    // The same plan with sshd gone: every host unreachable, and the gate says why.
    drop(sshd);
    let mut again = Command::new(console_bin());
    again.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", &lab.dir);
    for (name, value) in lab.env() {
        again.env(name, value);
    }
    again.env_remove("ETCD_CONSOLE_LAB_DIR");
    again.env("KUBECONFIG", lab.kubeconfig.as_ref().unwrap());
    again.args(["--context", "lab-admin-cert", "restore", "plan", "--backup"]).arg(&backup);
    again.args(["--recovery-host", "master-0", "--ssh-user", "core", "-o", "json"]);
    again.args(["--ssh-option", "Port=1", "--ssh-option", "ConnectTimeout=3"]);
    let output = run_with_limit(again, Duration::from_secs(90));
    assert_eq!(output.status.code(), Some(1), "{}{}", stdout(&output), stderr(&output));
    let plan: serde_json::Value = stdout(&output)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .find(|l: &serde_json::Value| l["event"] == "plan")
        .unwrap_or_else(|| panic!("{}{}", stdout(&output), stderr(&output)));
    let reachable = plan["gates"].as_array().unwrap().iter().find(|g| g["id"] == "hosts_reachable").unwrap();
    assert_eq!(reachable["passed"], false, "{reachable}");
    assert!(reachable["detail"].as_str().unwrap().contains("refused"), "{reachable}");
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_via_ssh_reads_a_nodes_file_back_byte_for_byte_with_sudo_and_says_when_it_cannot() {
    use tokio::io::AsyncReadExt;
    let sshd = start_sshd();
    let hosts = sshd.hosts(Some(sshd.key()));
    // A binary file of 3 MiB (every byte value, no text): what cluster-backup.sh leaves, root's own.
    let file = sshd.dir.path().join("snapshot_2026-12-02_010203.db");
    let bytes: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();
    let remote = file.display().to_string();
    let mut fetch = hosts.fetch("master-1", ADDRESSES[1], &remote).await.unwrap();
    let mut read = Vec::new();
    fetch.reader.read_to_end(&mut read).await.unwrap();
    fetch.ended.await.unwrap();
    assert!(read == bytes, "{} bytes came, {} were there", read.len(), bytes.len());

    // A file that is not there: the bytes stop and the end says why.
    let missing = sshd.dir.path().join("no-such-file").display().to_string();
    let mut fetch = hosts.fetch("master-1", ADDRESSES[1], &missing).await.unwrap();
    let mut read = Vec::new();
    fetch.reader.read_to_end(&mut read).await.unwrap();
    let ended = fetch.ended.await.unwrap_err();
    assert!(read.is_empty());
    assert!(ended.contains("No such file") && ended.contains("master-1"), "{ended}");
}
