//! A CertificateSigningRequest object as the API serves it, read into the
//! console's pending list.
use etcd_console_core::openshift::csr;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;

fn main() {
    let context = csr::CsrContext::nodes_only(Vec::new(), "no Machine API in this target");
    afl::fuzz!(|data: &[u8]| {
        let Ok(object) = serde_json::from_slice::<CertificateSigningRequest>(data) else { return };
        for pending in csr::pending_from(std::slice::from_ref(&object), &context) {
            assert!(!pending.reason.is_empty());
            let _ = pending.subject();
        }
    });
}
