//! pods/portforward's `ports` query values.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let text = String::from_utf8_lossy(data);
        let values: Vec<&str> = text.split('&').collect();
        if let Ok(ports) = etcd_console_lab::api::portforward::requested_ports(&values) {
            assert!(!ports.is_empty() && ports.iter().all(|p| *p > 0));
        }
    });
}
