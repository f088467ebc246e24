//! Any JSON as an OpenShift object: every model reader on it.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(object) = serde_json::from_slice::<serde_json::Value>(data) else { return };
        etcd_console_core::openshift::read_every_way(&object);
    });
}
