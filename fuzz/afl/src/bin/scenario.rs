//! A lab scenario file (TOML).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let text = String::from_utf8_lossy(data);
        match etcd_console_lab::scenario::Scenario::parse("fuzzed", &text) {
            Ok(scenario) => {
                let _ = scenario.quota_bytes();
                let _ = scenario.fragment_bytes();
            }
            Err(e) => assert!(e.contains("fuzzed"), "{e}"),
        }
    });
}
