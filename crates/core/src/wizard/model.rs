//! What the model-based tests of the engines share: a small seeded generator,
//! so a failing sequence is found again from its seed alone.

/// SplitMix64: tiny, fast and good enough to pick faults; the same seed gives
/// the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// How many random runs each property drives; `MODEL_CASES` raises it for a
/// longer hunt (`MODEL_CASES=20000 cargo test -p etcd-console-core --lib model`).
pub fn cases(default: u64) -> u64 {
    std::env::var("MODEL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs `one` for seeds `0..n`, each with its own trace; a broken invariant panics with its seed and
/// the steps before it. The outcomes are counted by their variant's name.
pub fn run_seeds<O: std::fmt::Debug>(
    n: u64,
    mut one: impl FnMut(u64, &mut Vec<String>) -> Result<O, String>,
) -> std::collections::BTreeMap<String, u64> {
    let mut outcomes = std::collections::BTreeMap::new();
    for seed in 0..n {
        let mut trace = Vec::new();
        match one(seed, &mut trace) {
            Ok(outcome) => {
                let kind = format!("{outcome:?}").split([' ', '{', '(']).next().unwrap_or_default().to_string();
                *outcomes.entry(kind).or_default() += 1;
            }
            Err(broken) => panic!("seed {seed}: {broken}\n  after:\n    {}", trace.join("\n    ")),
        }
    }
    outcomes
}
