//! A CSR's PEM request (`spec.request`, base64 aside): decoded, then
//! classified with each signer, against no node and against the node it names.
use etcd_console_core::openshift::csr::{self, CsrClass, KnownNode};

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(request) = csr::decode_request(data) else { return };
        let empty = csr::CsrContext::nodes_only(Vec::new(), "no Machine API in this target");
        let node = request.common_name.as_deref().and_then(|cn| cn.strip_prefix("system:node:")).unwrap_or("master-0");
        let addresses = request
            .dns_names
            .iter()
            .map(|n| ("Hostname".to_string(), n.clone()))
            .chain(request.ip_addresses.iter().map(|a| ("InternalIP".to_string(), a.clone())))
            .collect();
        let known = KnownNode { name: node.to_string(), addresses, ready: true };
        let named = csr::CsrContext::nodes_only(vec![known], "no Machine API in this target");
        for signer in [csr::CLIENT_SIGNER, csr::SERVING_SIGNER] {
            let (class, reason) = csr::classify(signer, csr::BOOTSTRAPPER, &[], Some(&request), None, &empty);
            assert!(!reason.is_empty());
            // No usages asked: never a kubelet's certificate.
            assert_eq!(class, CsrClass::Unexpected);
            let usages = ["digital signature".to_string(), "client auth".to_string(), "server auth".to_string()];
            let requestor = request.common_name.clone().unwrap_or_default();
            for (who, context) in
                [(csr::BOOTSTRAPPER, &named), (requestor.as_str(), &named), (requestor.as_str(), &empty)]
            {
                let (_, reason) = csr::classify(signer, who, &usages, Some(&request), None, context);
                assert!(!reason.is_empty());
            }
        }
    });
}
