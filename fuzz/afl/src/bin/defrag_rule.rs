//! The defrag wizard's --rule: an expression parsed, then asked of figures
//! from the input's first 24 bytes (the rest is the expression).
use etcd_console_core::wizard::defrag::{Figures, Rule};

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let (numbers, text) = data.split_at(data.len().min(24));
        let mut figures = [0u64; 3];
        for (figure, bytes) in figures.iter_mut().zip(numbers.chunks(8)) {
            let mut word = [0u8; 8];
            word[..bytes.len()].copy_from_slice(bytes);
            *figure = u64::from_le_bytes(word);
        }
        let Ok(text) = std::str::from_utf8(text) else { return };
        match Rule::expression(text) {
            Ok(rule) => {
                let _ = rule.applies(&Figures { db_size: figures[0], db_size_in_use: figures[1], quota: figures[2] });
                assert!(rule.describe().contains(text));
            }
            Err(e) => assert!(e.starts_with("--rule "), "{e}"),
        }
    });
}
