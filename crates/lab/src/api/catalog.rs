//! The resource types the lab's API serves: what discovery lists and what the
//! router resolves a path against. Names, groups and short names are those of
//! a real OpenShift 4.14 / HyperShift management cluster.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceType {
    /// "" for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    /// Subresources beyond the object itself: "status", "scale", "approval".
    pub subresources: &'static [&'static str],
    /// Built into kube-apiserver (accepts strategic merge patch); otherwise a custom resource.
    pub builtin: bool,
    /// Only `create` (reviews); never stored.
    pub virtual_only: bool,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pods`, `apiservers.config.openshift.io`: how error messages name the type.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.contains(&name)
    }
}

const fn rt(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> ResourceType {
    ResourceType {
        group,
        version,
        plural,
        singular,
        kind,
        namespaced,
        short_names: &[],
        subresources: &[],
        builtin: false,
        virtual_only: false,
    }
}

const fn builtin(mut t: ResourceType) -> ResourceType {
    t.builtin = true;
    t
}

const fn short(mut t: ResourceType, names: &'static [&'static str]) -> ResourceType {
    t.short_names = names;
    t
}

const fn sub(mut t: ResourceType, subs: &'static [&'static str]) -> ResourceType {
    t.subresources = subs;
    t
}

const fn review(mut t: ResourceType) -> ResourceType {
    t.virtual_only = true;
    t.builtin = true;
    t
}

const STATUS: &[&str] = &["status"];
const STATUS_SCALE: &[&str] = &["status", "scale"];

pub const TYPES: &[ResourceType] = &[
    // core/v1
    sub(short(builtin(rt("", "v1", "namespaces", "namespace", "Namespace", false)), &["ns"]), STATUS),
    sub(short(builtin(rt("", "v1", "nodes", "node", "Node", false)), &["no"]), STATUS),
    sub(short(builtin(rt("", "v1", "pods", "pod", "Pod", true)), &["po"]), &["status", "portforward", "exec"]),
    builtin(rt("", "v1", "secrets", "secret", "Secret", true)),
    short(builtin(rt("", "v1", "configmaps", "configmap", "ConfigMap", true)), &["cm"]),
    sub(
        short(
            builtin(rt("", "v1", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", true)),
            &["pvc"],
        ),
        STATUS,
    ),
    // apps/v1
    sub(short(builtin(rt("apps", "v1", "deployments", "deployment", "Deployment", true)), &["deploy"]), STATUS_SCALE),
    sub(short(builtin(rt("apps", "v1", "statefulsets", "statefulset", "StatefulSet", true)), &["sts"]), STATUS_SCALE),
    sub(short(builtin(rt("apps", "v1", "daemonsets", "daemonset", "DaemonSet", true)), &["ds"]), STATUS),
    // admissionregistration.k8s.io/v1: the webhooks a restore disarms (failurePolicy Fail -> Ignore)
    builtin(rt(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "validatingwebhookconfiguration",
        "ValidatingWebhookConfiguration",
        false,
    )),
    builtin(rt(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "mutatingwebhookconfiguration",
        "MutatingWebhookConfiguration",
        false,
    )),
    // certificates.k8s.io/v1
    sub(
        short(
            builtin(rt(
                "certificates.k8s.io",
                "v1",
                "certificatesigningrequests",
                "certificatesigningrequest",
                "CertificateSigningRequest",
                false,
            )),
            &["csr"],
        ),
        &["status", "approval"],
    ),
    // authorization / authentication reviews
    review(rt(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "selfsubjectaccessreview",
        "SelfSubjectAccessReview",
        false,
    )),
    review(rt("authentication.k8s.io", "v1", "selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview", false)),
    // Also beta, as on Kubernetes 1.27 (OpenShift 4.14), where a kubectl of that version asks for it.
    review(rt(
        "authentication.k8s.io",
        "v1beta1",
        "selfsubjectreviews",
        "selfsubjectreview",
        "SelfSubjectReview",
        false,
    )),
    // config.openshift.io/v1
    sub(rt("config.openshift.io", "v1", "apiservers", "apiserver", "APIServer", false), STATUS),
    sub(
        short(
            rt("config.openshift.io", "v1", "clusteroperators", "clusteroperator", "ClusterOperator", false),
            &["co"],
        ),
        STATUS,
    ),
    sub(rt("config.openshift.io", "v1", "clusterversions", "clusterversion", "ClusterVersion", false), STATUS),
    sub(rt("config.openshift.io", "v1", "proxies", "proxy", "Proxy", false), STATUS),
    sub(rt("config.openshift.io", "v1", "infrastructures", "infrastructure", "Infrastructure", false), STATUS),
    sub(rt("config.openshift.io", "v1", "networks", "network", "Network", false), STATUS),
    // operator.openshift.io/v1
    sub(rt("operator.openshift.io", "v1", "etcds", "etcd", "Etcd", false), STATUS),
    sub(rt("operator.openshift.io", "v1", "kubeapiservers", "kubeapiserver", "KubeAPIServer", false), STATUS),
    sub(
        rt(
            "operator.openshift.io",
            "v1",
            "kubecontrollermanagers",
            "kubecontrollermanager",
            "KubeControllerManager",
            false,
        ),
        STATUS,
    ),
    sub(rt("operator.openshift.io", "v1", "kubeschedulers", "kubescheduler", "KubeScheduler", false), STATUS),
    sub(
        rt("operator.openshift.io", "v1", "openshiftapiservers", "openshiftapiserver", "OpenShiftAPIServer", false),
        STATUS,
    ),
    sub(rt("operator.openshift.io", "v1", "authentications", "authentication", "Authentication", false), STATUS),
    // machine.openshift.io/v1beta1
    sub(rt("machine.openshift.io", "v1beta1", "machines", "machine", "Machine", true), STATUS),
    // machine.openshift.io/v1: the control plane machine set, which replaces a deleted master Machine.
    sub(
        rt(
            "machine.openshift.io",
            "v1",
            "controlplanemachinesets",
            "controlplanemachineset",
            "ControlPlaneMachineSet",
            true,
        ),
        STATUS,
    ),
    // hypershift.openshift.io/v1beta1
    sub(
        short(
            rt("hypershift.openshift.io", "v1beta1", "hostedclusters", "hostedcluster", "HostedCluster", true),
            &["hc", "hcs"],
        ),
        STATUS,
    ),
    sub(
        short(
            rt(
                "hypershift.openshift.io",
                "v1beta1",
                "hostedcontrolplanes",
                "hostedcontrolplane",
                "HostedControlPlane",
                true,
            ),
            &["hcp", "hcps"],
        ),
        STATUS,
    ),
    sub(
        short(rt("hypershift.openshift.io", "v1beta1", "nodepools", "nodepool", "NodePool", true), &["np", "nps"]),
        STATUS_SCALE,
    ),
];

/// Index of a type by group, version and plural.
pub fn find(group: &str, version: &str, plural: &str) -> Option<usize> {
    TYPES.iter().position(|t| t.group == group && t.version == version && t.plural == plural)
}

/// Index of a type by group and kind (the first served version).
pub fn by_kind(group: &str, kind: &str) -> Option<usize> {
    TYPES.iter().position(|t| t.group == group && t.kind == kind)
}

pub fn get(index: usize) -> &'static ResourceType {
    &TYPES[index.min(TYPES.len() - 1)]
}

/// The groups in discovery order, each with the versions it serves (the preferred one first).
pub fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for t in TYPES.iter().filter(|t| !t.group.is_empty()) {
        match groups.iter_mut().find(|(g, _)| *g == t.group) {
            Some((_, versions)) if !versions.contains(&t.version) => versions.push(t.version),
            Some(_) => {}
            None => groups.push((t.group, vec![t.version])),
        }
    }
    groups
}

/// OpenShift's own API groups (absent on a plain Kubernetes cluster).
pub fn is_openshift(group: &str) -> bool {
    group.ends_with(".openshift.io")
}

pub fn group_served(group: &str, version: &str) -> bool {
    TYPES.iter().any(|t| t.group == group && t.version == version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_are_unique_within_a_group_version() {
        for (i, a) in TYPES.iter().enumerate() {
            for b in &TYPES[i + 1..] {
                assert!(!(a.group == b.group && a.version == b.version && a.plural == b.plural), "{} twice", a.plural);
            }
        }
        let authentication = groups().into_iter().find(|(g, _)| *g == "authentication.k8s.io");
        assert_eq!(authentication, Some(("authentication.k8s.io", vec!["v1", "v1beta1"])));
    }

    #[test]
    fn finds_the_runbook_resources() {
        assert!(find("operator.openshift.io", "v1", "etcds").is_some());
        assert!(find("certificates.k8s.io", "v1", "certificatesigningrequests").is_some());
        assert_eq!(get(find("config.openshift.io", "v1", "apiservers").unwrap_or(0)).kind, "APIServer");
        assert!(find("route.openshift.io", "v1", "routes").is_none());
        for (group, plural) in [
            ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
            ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
            ("config.openshift.io", "infrastructures"),
            ("config.openshift.io", "networks"),
            ("apps", "daemonsets"),
        ] {
            assert!(find(group, "v1", plural).is_some(), "{plural}");
        }
        assert!(get(by_kind("admissionregistration.k8s.io", "ValidatingWebhookConfiguration").unwrap_or(0)).builtin);
    }
}
