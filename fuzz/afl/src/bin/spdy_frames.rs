//! What kubectl's exec writes over SPDY/3.1: frames, their header blocks.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        etcd_console_lab::api::spdy::fuzz_entry_frames(data);
    });
}
