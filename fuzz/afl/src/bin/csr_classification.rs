//! The classification alone, of requests the fuzzer writes field by field
//! (lines: signer, requestor, usages, common name, organisations, DNS names,
//! IP addresses, then one known node a line as `name address address...`).
//! A CSR classified valid is a node's, with the organisation system:nodes, a
//! kubelet's usages and, for a serving certificate, filed by that node for
//! its own addresses.
use etcd_console_core::openshift::csr::{self, CsrClass, DecodedRequest, KnownNode};

fn list(line: &str) -> Vec<String> {
    if line.is_empty() {
        Vec::new()
    } else {
        line.split(',').map(str::to_string).collect()
    }
}

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let text = String::from_utf8_lossy(data);
        let mut lines = text.split('\n');
        let mut next = || lines.next().unwrap_or("");
        let (signer, requestor, usages) = (next().to_string(), next().to_string(), list(next()));
        let cn = next();
        let request = DecodedRequest {
            common_name: (cn != "-").then(|| cn.to_string()),
            organizations: list(next()),
            dns_names: list(next()),
            ip_addresses: list(next()),
        };
        let nodes: Vec<KnownNode> = text
            .split('\n')
            .skip(7)
            .map(|line| {
                let mut words = line.split(' ');
                let name = words.next().unwrap_or("").to_string();
                let addresses = words
                    .flat_map(|a| [("Hostname".to_string(), a.to_string()), ("InternalIP".to_string(), a.to_string())])
                    .collect();
                KnownNode { name, addresses, ready: true }
            })
            .collect();
        let context = csr::CsrContext::nodes_only(nodes, "no Machine API in this target");
        let (class, reason) = csr::classify(&signer, &requestor, &usages, Some(&request), None, &context);
        assert!(!reason.is_empty());
        if !class.is_valid() {
            return;
        }
        let cn = request.common_name.as_deref().unwrap_or("");
        assert!(cn.starts_with("system:node:"), "{cn:?} classified {class:?}");
        assert_eq!(request.organizations, vec!["system:nodes".to_string()]);
        let node = &cn["system:node:".len()..];
        match class {
            CsrClass::KubeletServing => {
                assert_eq!(requestor, cn);
                assert!(usages.iter().any(|u| u == "server auth"));
                let known = context.nodes.iter().find(|n| n.name == node);
                assert!(known.is_some(), "serving for an unknown node {node:?}");
                let plain = |n: &str| n.trim_end_matches('.').to_ascii_lowercase();
                if let Some(known) = known {
                    // An empty DNS name is skipped, as the machine-approver skips it.
                    let names = request.dns_names.iter().filter(|n| !n.is_empty()).chain(&request.ip_addresses);
                    for name in names {
                        let ours = plain(name);
                        assert!(
                            known.addresses.iter().any(|(_, a)| plain(a) == ours) || plain(&known.name) == ours,
                            "{name:?}"
                        );
                    }
                }
            }
            CsrClass::ClientRenewal => {
                assert_eq!(requestor, cn);
                assert!(context.nodes.iter().any(|n| n.name == node));
                assert!(usages.iter().any(|u| u == "client auth"));
                assert!(request.dns_names.is_empty() && request.ip_addresses.is_empty());
            }
            _ => {
                assert_eq!(requestor, csr::BOOTSTRAPPER);
                assert!(usages.iter().any(|u| u == "client auth"));
                assert!(request.dns_names.is_empty() && request.ip_addresses.is_empty());
            }
        }
    });
}
