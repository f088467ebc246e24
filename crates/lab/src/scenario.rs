//! Lab scenarios (`--scenario NAME|FILE`): a TOML file saying what state the
//! lab starts in. etcd states are made for real on the members (writes,
//! compaction, a stopped process); OpenShift states are seeded into the
//! simulated API. The built-in ones live in `assets/scenarios/`.

use std::path::Path;

use serde::Deserialize;

use etcd_console_core::units::parse_bytes;

/// The scenarios shipped with the binary, by name.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("healthy", include_str!("../../../assets/scenarios/healthy.toml")),
    ("fragmented", include_str!("../../../assets/scenarios/fragmented.toml")),
    ("nospace", include_str!("../../../assets/scenarios/nospace.toml")),
    ("bloat", include_str!("../../../assets/scenarios/bloat.toml")),
    ("member-down", include_str!("../../../assets/scenarios/member-down.toml")),
    ("member-corrupt", include_str!("../../../assets/scenarios/member-corrupt.toml")),
    ("encryption-in-progress", include_str!("../../../assets/scenarios/encryption-in-progress.toml")),
    ("encryption-degraded", include_str!("../../../assets/scenarios/encryption-degraded.toml")),
    ("encryption-older", include_str!("../../../assets/scenarios/encryption-older.toml")),
    ("post-restore", include_str!("../../../assets/scenarios/post-restore.toml")),
    ("restore", include_str!("../../../assets/scenarios/restore.toml")),
    ("csr-flood", include_str!("../../../assets/scenarios/csr-flood.toml")),
    ("hosted", include_str!("../../../assets/scenarios/hosted.toml")),
    ("hosted-member-crashloop", include_str!("../../../assets/scenarios/hosted-member-crashloop.toml")),
    ("kubernetes", include_str!("../../../assets/scenarios/kubernetes.toml")),
];

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(skip)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// A hosted-control-plane management cluster instead of a standalone one.
    #[serde(default)]
    pub hosted: bool,
    /// A plain Kubernetes API: no OpenShift group is served (the console must say so plainly).
    #[serde(default)]
    pub plain_kubernetes: bool,
    /// etcd's backend quota, e.g. "16MiB" (default: the console's --quota-bytes).
    pub quota: Option<String>,
    #[serde(default)]
    pub etcd: EtcdSetup,
    #[serde(default)]
    pub cluster: ClusterSetup,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EtcdSetup {
    /// Write this much (e.g. "96MiB"), delete nine tenths of it, compact: a
    /// large DB with little in use.
    pub fragment: Option<String>,
    /// One namespace's events, one operator's custom resources and one ConfigMap's
    /// uncompacted revisions fill the database (the figures: `bloat.rs`).
    #[serde(default)]
    pub bloat: bool,
    /// With `bloat`: this many times the events and small custom resources (1 by default;
    /// `benches/analyze-db.toml` takes over 1 GiB with 300).
    #[serde(default)]
    pub bloat_scale: u16,
    /// Write until etcd raises the NOSPACE alarm.
    #[serde(default)]
    pub fill_until_nospace: bool,
    /// Followers whose etcd process is stopped.
    #[serde(default)]
    pub stop_members: u8,
    /// Followers whose data is damaged (the start of `member/snap/db` overwritten while the
    /// member was stopped): their etcd exits at start and the kubelet restarts it with its
    /// back-off, a crash loop. Their hosts stay up.
    #[serde(default)]
    pub corrupt_members: u8,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClusterSetup {
    #[serde(default = "two")]
    pub workers: u8,
    /// APIServer spec.encryption.type the cluster runs with ("" = never enabled).
    #[serde(default)]
    pub encryption: String,
    /// A migration to `encryption` started this many minutes ago and still running.
    pub encryption_started_minutes_ago: Option<u64>,
    /// The encrypting operator (openshiftapiserver, kubeapiserver, authentication)
    /// whose migration fails a quarter of the way through, every time: it never
    /// completes and its ClusterOperator goes Degraded.
    pub encryption_degrades: Option<String>,
    /// How many operators report Encrypted: 3 (4.14), or 2 as on 4.5/4.6 where
    /// the OpenShift API server migrates the OAuth tokens and Authentication says nothing.
    #[serde(default = "three")]
    pub encryption_operators: u8,
    /// Nodes whose kubelet is not Ready.
    #[serde(default)]
    pub not_ready: Vec<String>,
    /// Pending node-bootstrapper (kube-apiserver-client-kubelet) CSRs, one per node named.
    #[serde(default)]
    pub pending_bootstrap_csrs: Vec<String>,
    /// Pending kubelet-serving CSRs, one per node named.
    #[serde(default)]
    pub pending_serving_csrs: Vec<String>,
    /// This many more pending CSRs (a flood), spread over the nodes.
    #[serde(default)]
    pub csr_flood: u32,
    /// Operators (etcd, kubeapiserver, kubecontrollermanager, kubescheduler)
    /// caught mid-rollout: one node at the new revision, the others behind.
    #[serde(default)]
    pub rollouts_in_progress: Vec<String>,
    /// etcd's quorum guard switched off (spec.unsupportedConfigOverrides), as
    /// the restore procedure leaves it until its last step.
    #[serde(default)]
    pub quorum_guard_off: bool,
    /// Admission webhooks whose failurePolicy is Fail (the restore procedure
    /// sets them to Ignore first): 1 seeds the ValidatingWebhookConfiguration
    /// `lab-policy`, 2 also the MutatingWebhookConfiguration `lab-defaults`.
    #[serde(default)]
    pub fail_webhooks: u8,
    /// The cluster-machine-approver approves the CSRs of a replacement Machine's new node, as
    /// on a cluster where it works (the default); false leaves them Pending for someone to
    /// approve (so that a console's approval can be rehearsed).
    #[serde(default = "yes")]
    pub machine_approver: bool,
    /// The ControlPlaneMachineSet `cluster` is Active (4.12 and later installs): it replaces a
    /// deleted master Machine. False: there is none, as on clusters installed before; a master
    /// Machine deleted is not replaced, and one created in its place is provisioned on the host
    /// whose Machine is gone.
    #[serde(default = "yes")]
    pub control_plane_machine_set: bool,
}

fn yes() -> bool {
    true
}

fn two() -> u8 {
    2
}

fn three() -> u8 {
    3
}

impl Default for ClusterSetup {
    fn default() -> Self {
        Self {
            workers: 2,
            encryption: String::new(),
            encryption_started_minutes_ago: None,
            encryption_degrades: None,
            encryption_operators: 3,
            not_ready: Vec::new(),
            pending_bootstrap_csrs: Vec::new(),
            pending_serving_csrs: Vec::new(),
            csr_flood: 0,
            rollouts_in_progress: Vec::new(),
            quorum_guard_off: false,
            fail_webhooks: 0,
            machine_approver: true,
            control_plane_machine_set: true,
        }
    }
}

impl Scenario {
    pub fn healthy() -> Self {
        Self { name: "healthy".into(), ..Self::default() }
    }

    /// A built-in name or a path to a TOML file.
    pub fn load(name_or_path: &str) -> Result<Self, String> {
        let (name, text) = match BUILT_IN.iter().find(|(name, _)| *name == name_or_path) {
            Some((name, text)) => (name.to_string(), text.to_string()),
            None if Path::new(name_or_path).is_file() => {
                let text =
                    std::fs::read_to_string(name_or_path).map_err(|e| format!("cannot read {name_or_path}: {e}"))?;
                (name_or_path.to_string(), text)
            }
            None => {
                let names: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "no scenario {name_or_path:?}: give one of {} or a path to a scenario file",
                    names.join(", ")
                ));
            }
        };
        Self::parse(&name, &text)
    }

    pub fn parse(name: &str, text: &str) -> Result<Self, String> {
        let mut scenario: Scenario = toml::from_str(text).map_err(|e| format!("scenario {name}: {e}"))?;
        scenario.name = name.to_string();
        scenario.quota_bytes()?;
        scenario.fragment_bytes()?;
        const TYPES: &[&str] = &["", "identity", "aescbc", "aesgcm"];
        if !TYPES.contains(&scenario.cluster.encryption.as_str()) {
            return Err(format!("scenario {name}: encryption must be one of identity, aescbc, aesgcm"));
        }
        let cluster = &scenario.cluster;
        if !matches!(cluster.encryption_operators, 2 | 3) {
            return Err(format!(
                "scenario {name}: encryption_operators is 3 (as on 4.14) or 2 (as on 4.5/4.6), not {}",
                cluster.encryption_operators
            ));
        }
        if let Some(degrades) = &cluster.encryption_degrades {
            const ENCRYPTING: &[&str] = &["openshiftapiserver", "kubeapiserver", "authentication"];
            if !ENCRYPTING.contains(&degrades.as_str()) {
                return Err(format!(
                    "scenario {name}: encryption_degrades: no encrypting operator {degrades:?} (give {})",
                    ENCRYPTING.join(", ")
                ));
            }
            if degrades == "authentication" && cluster.encryption_operators == 2 {
                return Err(format!(
                    "scenario {name}: encryption_degrades = \"authentication\" needs encryption_operators = 3 \
                     (with 2 the Authentication operator does not encrypt)"
                ));
            }
        }
        if cluster.workers > 20 {
            return Err(format!("scenario {name}: at most 20 workers"));
        }
        if cluster.pending_bootstrap_csrs.len() > 100 || cluster.pending_serving_csrs.len() > 100 {
            return Err(format!("scenario {name}: at most 100 named pending CSRs of each kind (csr_flood makes more)"));
        }
        if cluster.csr_flood > 100_000 {
            return Err(format!("scenario {name}: csr_flood is at most 100000"));
        }
        if cluster.fail_webhooks > 2 {
            return Err(format!(
                "scenario {name}: fail_webhooks is 0, 1 (a validating webhook) or 2 (and a mutating one)"
            ));
        }
        if scenario.etcd.stop_members > 3 {
            return Err(format!("scenario {name}: stop_members is at most 3"));
        }
        // Quorum must hold for the lab to start and be recovered: one member damaged or stopped of three.
        if scenario.etcd.corrupt_members > 1 || (scenario.etcd.corrupt_members > 0 && scenario.etcd.stop_members > 0) {
            return Err(format!(
                "scenario {name}: corrupt_members is 0 or 1, and not beside stop_members (quorum must hold)"
            ));
        }
        const OPERATORS: &[&str] = &["etcd", "kubeapiserver", "kubecontrollermanager", "kubescheduler"];
        if let Some(bad) = scenario.cluster.rollouts_in_progress.iter().find(|o| !OPERATORS.contains(&o.as_str())) {
            return Err(format!("scenario {name}: no static-pod operator {bad:?} (give {})", OPERATORS.join(", ")));
        }
        Ok(scenario)
    }

    pub fn quota_bytes(&self) -> Result<Option<u64>, String> {
        self.quota.as_deref().map(parse_bytes).transpose().map_err(|e| format!("scenario {}: quota: {e}", self.name))
    }

    pub fn fragment_bytes(&self) -> Result<Option<u64>, String> {
        self.etcd
            .fragment
            .as_deref()
            .map(parse_bytes)
            .transpose()
            .map_err(|e| format!("scenario {}: etcd.fragment: {e}", self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_scenario_parses() {
        for (name, _) in BUILT_IN {
            let scenario = Scenario::load(name).unwrap();
            assert_eq!(scenario.name, *name);
            assert!(!scenario.description.is_empty(), "{name} says what it is");
        }
        assert_eq!(Scenario::load("csr-flood").unwrap().cluster.csr_flood, 5000);
        assert!(Scenario::load("hosted").unwrap().hosted);
        assert!(Scenario::load("bloat").unwrap().etcd.bloat);
        let degraded = Scenario::load("encryption-degraded").unwrap().cluster;
        assert_eq!(degraded.encryption_degrades.as_deref(), Some("openshiftapiserver"));
        assert_eq!(degraded.encryption, "identity");
        let older = Scenario::load("encryption-older").unwrap().cluster;
        assert_eq!((older.encryption_operators, older.encryption.as_str()), (2, ""));
        assert_eq!(Scenario::load("healthy").unwrap().cluster.encryption_operators, 3);
        assert_eq!(Scenario::load("healthy").unwrap().cluster.fail_webhooks, 0);
        assert_eq!(Scenario::load("member-corrupt").unwrap().etcd.corrupt_members, 1);
        let hosted_crashloop = Scenario::load("hosted-member-crashloop").unwrap();
        assert!(hosted_crashloop.hosted && hosted_crashloop.etcd.corrupt_members == 1);
        let restore = Scenario::load("restore").unwrap().cluster;
        assert_eq!((restore.fail_webhooks, restore.workers), (1, 2));
    }

    #[test]
    fn bad_scenarios_say_what_is_wrong() {
        assert!(Scenario::load("no-such").unwrap_err().contains("healthy"));
        assert!(Scenario::parse("x", "quota = \"lots\"").unwrap_err().contains("quota"));
        assert!(Scenario::parse("x", "colour = 1").unwrap_err().contains("colour"));
        assert!(Scenario::parse("x", "[cluster]\nencryption = \"rot13\"").is_err());
        assert!(Scenario::parse("x", "[cluster]\nrollouts_in_progress = [\"dns\"]").is_err());
        assert!(Scenario::parse("x", "[cluster]\nworkers = 250").unwrap_err().contains("workers"));
        assert!(Scenario::parse("x", "[cluster]\nfail_webhooks = 3").unwrap_err().contains("fail_webhooks"));
        assert!(Scenario::parse("x", "[etcd]\ncorrupt_members = 2").unwrap_err().contains("quorum"));
        assert!(Scenario::parse("x", "[etcd]\ncorrupt_members = 1\nstop_members = 1").unwrap_err().contains("quorum"));
        assert!(Scenario::parse("x", "[cluster]\nencryption_operators = 4")
            .unwrap_err()
            .contains("encryption_operators"));
        assert!(Scenario::parse("x", "[cluster]\nencryption_operators = -1")
            .unwrap_err()
            .contains("encryption_operators"));
        assert!(Scenario::parse("x", "[cluster]\nencryption_degrades = \"etcd\"")
            .unwrap_err()
            .contains("kubeapiserver"));
        let no_auth = "[cluster]\nencryption_operators = 2\nencryption_degrades = \"authentication\"";
        assert!(Scenario::parse("x", no_auth).unwrap_err().contains("encryption_operators = 3"));
        assert!(Scenario::parse("x", "[cluster]\nencryption_operators = 2\nencryption_degrades = \"kubeapiserver\"")
            .is_ok());
    }
}
