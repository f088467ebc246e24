//! A PATCH body: the first byte picks merge, strategic-merge or JSON patch.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Some((&which, body)) = data.split_first() else { return };
        assert!(etcd_console_lab::api::server::fuzz_entry_patch(which, body));
    });
}
