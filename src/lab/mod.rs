//! The embedded lab: a cluster of real etcd members on loopback with TLS,
//! started from /usr/bin/etcd. Used by `etcd-console lab`, `lab serve` and
//! every integration test, so there is one way to start a cluster.

pub mod api;
pub mod certs;
pub mod scenario;
pub mod serve;

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::cli::ConnectionArgs;
use crate::etcd::Connector;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("etcd is not installed at {0}: install it with `sudo apt-get install etcd-server etcd-client` (or give --etcd-bin / ETCD_BIN)")]
    MissingEtcd(PathBuf),
    #[error("{0}")]
    Io(String),
    #[error("cannot make the lab's certificates: {0}")]
    Pki(String),
    #[error("lab member {name} did not start: {reason}\nits log ({log}) ends with:\n{tail}")]
    MemberFailed { name: String, reason: String, log: String, tail: String },
}

#[derive(Debug, Clone)]
pub struct LabOptions {
    pub members: u8,
    pub quota_bytes: u64,
    pub etcd_bin: PathBuf,
    /// Where certificates, data and logs go; a temporary directory when None.
    pub dir: Option<PathBuf>,
    /// What state the lab starts in (etcd made real, OpenShift seeded).
    pub scenario: scenario::Scenario,
    /// Serve the simulated OpenShift API (and write DIR/kubeconfig).
    pub api: bool,
    /// How many times faster than real time the simulated operators work.
    pub speed: f64,
    /// The members advertise, and their pods carry, addresses the bastion cannot
    /// reach (127.0.1.x, where nothing listens), as a cluster's pod network seen from
    /// outside: only the API's port-forward gets through.
    pub isolated_pods: bool,
}

impl Default for LabOptions {
    fn default() -> Self {
        Self {
            members: 3,
            quota_bytes: crate::cli::DEFAULT_QUOTA_BYTES,
            etcd_bin: PathBuf::from("/usr/bin/etcd"),
            dir: None,
            scenario: scenario::Scenario::healthy(),
            api: true,
            speed: 1.0,
            isolated_pods: false,
        }
    }
}

#[derive(Debug)]
pub struct LabMember {
    pub name: String,
    /// Its own loopback address (127.0.0.11, .12, ...), as each host has its own IP.
    pub ip: std::net::IpAddr,
    pub client_url: String,
    /// The client URL it advertises (its `client_url`, unless the pod network is isolated).
    pub advertised_url: String,
    pub peer_url: String,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    process: Option<Child>,
}

impl LabMember {
    pub fn pid(&self) -> Option<Pid> {
        self.process.as_ref().and_then(|p| i32::try_from(p.id()).ok()).map(Pid::from_raw)
    }
}

#[derive(Debug)]
pub struct Lab {
    pub dir: PathBuf,
    pub pki: certs::LabPki,
    pub members: Vec<LabMember>,
    pub scenario: scenario::Scenario,
    /// The simulated OpenShift API, when started.
    pub api: Option<api::ApiServer>,
    /// DIR/kubeconfig for kubectl and kube-rs, when the API runs.
    pub kubeconfig: Option<PathBuf>,
    _temp: Option<tempfile::TempDir>,
}

/// Free loopback ports, held until all are chosen so they differ.
fn free_ports(count: usize) -> Result<Vec<u16>, LabError> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| LabError::Io(format!("cannot find a free loopback port: {e}")))?;
    listeners.iter().map(|l| l.local_addr().map(|a| a.port()).map_err(|e| LabError::Io(e.to_string()))).collect()
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0)
}

fn tail_of(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl Lab {
    /// Starts the members and waits until every one serves a linearizable read.
    pub async fn start(options: LabOptions) -> Result<Lab, LabError> {
        if !options.etcd_bin.is_file() {
            return Err(LabError::MissingEtcd(options.etcd_bin.clone()));
        }
        // A port taken between choosing it and etcd binding it fails the start; try again with new ports.
        let mut last_error = None;
        for _ in 0..3 {
            match Self::start_once(&options).await {
                Ok(lab) => return Ok(lab),
                Err(e @ LabError::MemberFailed { .. }) => last_error = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or_else(|| LabError::Io("the lab did not start".into())))
    }

    async fn start_once(options: &LabOptions) -> Result<Lab, LabError> {
        let (dir, temp) = match &options.dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("etcd-console-lab-")
                    .tempdir()
                    .map_err(|e| LabError::Io(format!("cannot make a temporary directory: {e}")))?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let dir = std::path::absolute(&dir).map_err(|e| LabError::Io(format!("{}: {e}", dir.display())))?;
        for sub in ["pki", "data", "logs"] {
            let path = dir.join(sub);
            if path.exists() {
                fs::remove_dir_all(&path).map_err(|e| LabError::Io(format!("cannot clear {}: {e}", path.display())))?;
            }
            fs::create_dir_all(&path).map_err(|e| LabError::Io(format!("cannot create {}: {e}", path.display())))?;
        }
        let names: Vec<(String, std::net::IpAddr)> = (0..options.members)
            .map(|i| (format!("master-{i}"), std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 11 + i))))
            .collect();
        // The address a member has on the (isolated) pod network: 127.0.1.x for 127.0.0.x.
        let pod_ip = |ip: &std::net::IpAddr| match ip {
            std::net::IpAddr::V4(v4) if options.isolated_pods => {
                let [a, b, _, d] = v4.octets();
                std::net::IpAddr::V4(std::net::Ipv4Addr::new(a, b, 1, d))
            }
            other => *other,
        };
        let certified: Vec<(String, Vec<std::net::IpAddr>)> =
            names.iter().map(|(name, ip)| (name.clone(), vec![*ip, pod_ip(ip)])).collect();
        let pki = certs::generate(&dir.join("pki"), &certified)?;
        let ports = free_ports(names.len() * 2)?;
        let mut members: Vec<LabMember> = names
            .iter()
            .enumerate()
            .map(|(i, (name, ip))| LabMember {
                name: name.clone(),
                ip: *ip,
                client_url: format!("https://{ip}:{}", ports[2 * i]),
                advertised_url: format!("https://{}:{}", pod_ip(ip), ports[2 * i]),
                peer_url: format!("https://{ip}:{}", ports[2 * i + 1]),
                data_dir: dir.join("data").join(name),
                log: dir.join("logs").join(format!("{name}.log")),
                process: None,
            })
            .collect();
        let initial_cluster =
            members.iter().map(|m| format!("{}={}", m.name, m.peer_url)).collect::<Vec<_>>().join(",");
        let token = format!("etcd-console-lab-{}", std::process::id());
        for (member, certs) in members.iter_mut().zip(&pki.members) {
            let log = fs::File::create(&member.log)
                .map_err(|e| LabError::Io(format!("cannot create {}: {e}", member.log.display())))?;
            let log_err = log.try_clone().map_err(|e| LabError::Io(e.to_string()))?;
            let child = Command::new(&options.etcd_bin)
                .arg(format!("--name={}", member.name))
                .arg(format!("--data-dir={}", member.data_dir.display()))
                .arg(format!("--listen-client-urls={}", member.client_url))
                .arg(format!("--advertise-client-urls={}", member.advertised_url))
                .arg(format!("--listen-peer-urls={}", member.peer_url))
                .arg(format!("--initial-advertise-peer-urls={}", member.peer_url))
                .arg(format!("--initial-cluster={initial_cluster}"))
                .arg(format!("--initial-cluster-token={token}"))
                .arg("--initial-cluster-state=new")
                .arg(format!("--cert-file={}", certs.cert.display()))
                .arg(format!("--key-file={}", certs.key.display()))
                .arg(format!("--trusted-ca-file={}", pki.ca.display()))
                .arg("--client-cert-auth")
                .arg(format!("--peer-cert-file={}", certs.cert.display()))
                .arg(format!("--peer-key-file={}", certs.key.display()))
                .arg(format!("--peer-trusted-ca-file={}", pki.ca.display()))
                .arg("--peer-client-cert-auth")
                .arg(format!("--quota-backend-bytes={}", options.quota_bytes))
                .arg("--logger=zap")
                .arg("--log-outputs=stderr")
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log_err)
                .spawn()
                .map_err(|e| LabError::Io(format!("cannot run {}: {e}", options.etcd_bin.display())))?;
            member.process = Some(child);
        }
        let mut lab =
            Lab { dir, pki, members, scenario: options.scenario.clone(), api: None, kubeconfig: None, _temp: temp };
        lab.wait_ready(Duration::from_secs(30)).await?;
        lab.make_etcd_state().await?;
        if options.api {
            let views = lab
                .members
                .iter()
                .map(|m| api::seed::MemberView {
                    name: m.name.clone(),
                    ip: m.ip.to_string(),
                    pod_ip: m
                        .advertised_url
                        .split("://")
                        .nth(1)
                        .and_then(|r| r.rsplit_once(':'))
                        .map(|(h, _)| h.to_string())
                        .unwrap_or_else(|| m.ip.to_string()),
                    client_port: port_of(&m.client_url),
                    peer_port: port_of(&m.peer_url),
                    pid: m.pid().map(Pid::as_raw),
                })
                .collect();
            let server = api::ApiServer::start(&lab.pki, views, &lab.scenario, options.speed)?;
            lab.kubeconfig = Some(server.write_kubeconfig(&lab.dir.join("kubeconfig"), &lab.pki.ca)?);
            lab.api = Some(server);
        }
        Ok(lab)
    }

    /// Makes the scenario's etcd state real on the members: a fragmented
    /// database, a database filled to NOSPACE, stopped followers.
    async fn make_etcd_state(&mut self) -> Result<(), LabError> {
        let setup = self.scenario.etcd.clone();
        let fragment = self.scenario.fragment_bytes().map_err(LabError::Io)?;
        if fragment.is_none() && !setup.fill_until_nospace && setup.stop_members == 0 {
            return Ok(());
        }
        let scenario_name = self.scenario.name.clone();
        let fail = |what: &str, e: String| LabError::Io(format!("scenario {scenario_name}: {what}: {e}"));
        let connector = Connector::from_args(&self.connection()).map_err(|e| fail("connect", e.to_string()))?;
        let mut client =
            connector.client(&self.members[0].client_url).await.map_err(|e| fail("connect", e.to_string()))?;
        const VALUE: usize = 512 * 1024;
        let value = vec![b'x'; VALUE];
        if let Some(total) = fragment {
            let count = total.div_ceil(VALUE as u64);
            for i in 0..count {
                client
                    .put(format!("/lab/fragment/{i:06}"), value.clone(), None)
                    .await
                    .map_err(|e| fail("write", e.to_string()))?;
            }
            // Keep one value in ten: the rest becomes free pages once compacted.
            let mut revision = 0;
            for i in (0..count).filter(|i| i % 10 != 0) {
                let answer = client
                    .delete(format!("/lab/fragment/{i:06}"), None)
                    .await
                    .map_err(|e| fail("delete", e.to_string()))?;
                revision = answer.header().map(|h| h.revision()).unwrap_or(revision);
            }
            if revision > 0 {
                client
                    .compact(revision, Some(etcd_client::CompactionOptions::new().with_physical()))
                    .await
                    .map_err(|e| fail("compact", e.to_string()))?;
            }
            // Pages freed by the compaction count as free once later writes have
            // committed (etcd's backend commits every 100 ms).
            for i in 0..3 {
                client.put("/lab/settled", i.to_string(), None).await.map_err(|e| fail("write", e.to_string()))?;
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        }
        if setup.fill_until_nospace {
            let mut raised = false;
            for i in 0..100_000u32 {
                match client.put(format!("/lab/fill/{i:06}"), value.clone(), None).await {
                    Ok(_) => {}
                    Err(e) if e.to_string().contains("database space exceeded") => {
                        raised = true;
                        break;
                    }
                    Err(e) => return Err(fail("fill", e.to_string())),
                }
            }
            if !raised {
                return Err(fail("fill", "etcd never raised NOSPACE".into()));
            }
        }
        for _ in 0..setup.stop_members {
            let follower = self.follower().await.ok_or_else(|| fail("stop a member", "no follower answers".into()))?;
            tracing::info!(member = %self.members[follower].name, "lab scenario: member stopped");
            self.kill_member(follower)?;
        }
        Ok(())
    }

    /// Connection flags that reach this lab, as a user would pass them.
    pub fn connection(&self) -> ConnectionArgs {
        ConnectionArgs {
            endpoints: self.endpoints(),
            cacert: Some(self.pki.ca.clone()),
            cert: Some(self.pki.client.cert.clone()),
            key: Some(self.pki.client.key.clone()),
            command_timeout: Duration::from_secs(5),
            dial_timeout: Duration::from_secs(2),
        }
    }

    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(|m| m.client_url.clone()).collect()
    }

    /// The environment etcdctl (and etcd-console) read.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ETCDCTL_API", "3".to_string()),
            ("ETCDCTL_ENDPOINTS", self.endpoints().join(",")),
            ("ETCDCTL_CACERT", self.pki.ca.display().to_string()),
            ("ETCDCTL_CERT", self.pki.client.cert.display().to_string()),
            ("ETCDCTL_KEY", self.pki.client.key.display().to_string()),
        ]
    }

    /// Writes `lab.env`: `source` it and etcdctl reaches the lab.
    pub fn write_env_file(&self) -> Result<PathBuf, LabError> {
        let path = self.dir.join("lab.env");
        let mut text =
            String::from("# etcd-console lab: source this file, then run etcdctl, kubectl or etcd-console.\n");
        for (name, value) in self.env() {
            text.push_str(&format!("export {name}='{value}'\n"));
        }
        if let Some(kubeconfig) = &self.kubeconfig {
            text.push_str(&format!("export KUBECONFIG='{}'\n", kubeconfig.display()));
        }
        fs::write(&path, text).map_err(|e| LabError::Io(format!("cannot write {}: {e}", path.display())))?;
        Ok(path)
    }

    async fn wait_ready(&mut self, limit: Duration) -> Result<(), LabError> {
        let mut args = self.connection();
        args.command_timeout = Duration::from_secs(2);
        let connector = Connector::from_args(&args).map_err(|e| LabError::Pki(e.to_string()))?;
        let deadline = Instant::now() + limit;
        let mut pending: Vec<usize> = (0..self.members.len()).collect();
        while !pending.is_empty() {
            for i in 0..self.members.len() {
                if let Some(reason) = self.exited(i) {
                    return Err(self.failure(i, reason));
                }
            }
            let mut still = Vec::new();
            for &i in &pending {
                let ready = match connector.client(&self.members[i].client_url).await {
                    Ok(mut client) => crate::etcd::connect::timed(Duration::from_secs(2), async {
                        client.get("health", None).await.map_err(|e| e.to_string())
                    })
                    .await
                    .is_ok(),
                    Err(_) => false,
                };
                if !ready {
                    still.push(i);
                }
            }
            pending = still;
            if let Some(&i) = pending.first() {
                if Instant::now() > deadline {
                    return Err(self.failure(i, format!("not ready after {}s", limit.as_secs())));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        Ok(())
    }

    /// The index of the member the answering members name as leader.
    pub async fn leader(&self) -> Option<usize> {
        let connector = Connector::from_args(&self.connection()).ok()?;
        let mut ids = Vec::new();
        let mut leader = None;
        for member in &self.members {
            let answer = match connector.client(&member.client_url).await {
                Ok(mut client) => crate::etcd::connect::timed(Duration::from_secs(2), async {
                    client.status().await.map_err(|e| e.to_string())
                })
                .await
                .ok(),
                Err(_) => None,
            };
            ids.push(answer.as_ref().and_then(|s| s.header().map(|h| h.member_id())));
            leader = leader.or(answer.map(|s| s.leader()).filter(|&id| id != 0));
        }
        let leader = leader?;
        ids.iter().position(|id| *id == Some(leader))
    }

    /// A member that is not the leader (to freeze one without an election).
    pub async fn follower(&self) -> Option<usize> {
        let leader = self.leader().await?;
        (0..self.members.len()).find(|&i| i != leader)
    }

    fn exited(&mut self, index: usize) -> Option<String> {
        let process = self.members[index].process.as_mut()?;
        match process.try_wait() {
            Ok(Some(status)) => Some(format!("etcd exited ({status})")),
            _ => None,
        }
    }

    fn failure(&self, index: usize, reason: String) -> LabError {
        let member = &self.members[index];
        LabError::MemberFailed {
            name: member.name.clone(),
            reason,
            log: member.log.display().to_string(),
            tail: tail_of(&member.log, 8),
        }
    }

    fn signal(&self, index: usize, signal: Signal) -> Result<(), LabError> {
        let pid = self
            .members
            .get(index)
            .and_then(LabMember::pid)
            .ok_or_else(|| LabError::Io(format!("lab member {index} is not running")))?;
        kill(pid, signal).map_err(|e| LabError::Io(format!("cannot send {signal} to lab member {index}: {e}")))
    }

    /// Freezes a member (SIGSTOP): it keeps its sockets but answers nothing, as a hung member does.
    pub fn pause_member(&self, index: usize) -> Result<(), LabError> {
        self.signal(index, Signal::SIGSTOP)
    }

    pub fn resume_member(&self, index: usize) -> Result<(), LabError> {
        self.signal(index, Signal::SIGCONT)
    }

    /// Stops a member for good (SIGKILL), as a crashed host.
    pub fn kill_member(&mut self, index: usize) -> Result<(), LabError> {
        let member = self.members.get_mut(index).ok_or_else(|| LabError::Io(format!("no lab member {index}")))?;
        if let Some(mut process) = member.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
        Ok(())
    }

    /// Stops every member, one after the other: SIGTERM, then SIGKILL for one
    /// still there after `grace`. One at a time, because a leader stopping
    /// hands its leadership over first, and waits for that while its peers
    /// are stopping too.
    pub fn stop(&mut self, grace: Duration) {
        for member in &mut self.members {
            let Some(mut process) = member.process.take() else { continue };
            if let Ok(pid) = i32::try_from(process.id()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGCONT);
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline && matches!(process.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut api) = self.api.take() {
            api.stop();
        }
        self.stop(Duration::ZERO);
    }
}

/// Random bytes from the kernel (tokens, keys, IDs); a clock-derived fill if
/// /dev/urandom cannot be read, which the lab survives.
pub fn random_bytes(out: &mut [u8]) {
    use std::io::Read;
    let read = fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(out));
    if read.is_err() {
        let mut x = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        for b in out.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
    }
}
