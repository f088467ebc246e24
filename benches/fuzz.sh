#!/usr/bin/env bash
# The fuzz targets of every parser of outside input, each run alone, one after
# the other.
#
# Structured (the default): the proptest targets (crates/core/src/fuzz.rs,
# crates/lab/src/fuzz.rs), each for SECONDS (600 by default), printing per
# target its total runs and executions per second. A failure stops the run
# with the minimal failing input proptest found.
# Usage: bash benches/fuzz.sh [SECONDS] [FILTER]
#
# Coverage-guided (--afl): the AFL++ targets of fuzz/afl (one binary per
# target, fed the same entry points), built with `cargo afl build --release`
# and run with `cargo afl fuzz -V SECONDS` from their seeds
# (fuzz/afl/seeds/<target>), printing per target its total execs, execs/s,
# corpus size and the crashes and hangs saved. Build and findings go under
# target/afl/ (out/<target>/default/{crashes,hangs}); a target's previous
# findings are kept as out/<target>.prev. Needs cargo-afl (`cargo install
# cargo-afl`, then `cargo afl config --build`).
# Usage: bash benches/fuzz.sh --afl [SECONDS] [FILTER]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--afl" ]; then
  seconds="${2:-600}"
  filter="${3:-}"
  root="$PWD/target/afl"
  build="$root/build"
  # No root tuning assumed: no CPU governor or core-pattern changes.
  export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
  (cd fuzz/afl && CARGO_TARGET_DIR="$build" cargo afl build --release -j 2 --bins)
  stat() { sed -n "s/^$1 *: *//p" "$2" | head -n 1; }
  for source in fuzz/afl/src/bin/*.rs; do
    target="$(basename "$source" .rs)"
    case "$target" in *"$filter"*) ;; *) continue ;; esac
    out="$root/out/$target"
    if [ -d "$out" ]; then
      rm -rf "$out.prev"
      mv "$out" "$out.prev"
    fi
    mkdir -p "$out"
    # -V: stop after SECONDS; the log keeps afl-fuzz's own account.
    (cd fuzz/afl && cargo afl fuzz -V "$seconds" -i "seeds/$target" -o "$out" "$build/release/$target") \
      >"$out.log" 2>&1 || echo "afl-fuzz $target stopped with an error: see $out.log"
    stats="$out/default/fuzzer_stats"
    if [ ! -f "$stats" ]; then
      echo "afl $target: no fuzzer_stats (see $out.log)"
      continue
    fi
    crashes="$(find "$out/default/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)"
    hangs="$(find "$out/default/hangs" -type f -name 'id:*' 2>/dev/null | wc -l)"
    echo "afl $target: $(stat execs_done "$stats") execs in $(stat run_time "$stats") s," \
      "$(stat execs_per_sec "$stats") execs/s, corpus $(stat corpus_count "$stats")" \
      "(found $(stat corpus_found "$stats")), edges $(stat edges_found "$stats"), crashes $crashes, hangs $hangs"
  done
  exit 0
fi

seconds="${1:-600}"
filter="${2:-}"
export FUZZ_SECONDS="$seconds"
for crate in etcd-console-core etcd-console-lab; do
  cargo test --quiet -p "$crate" --lib --no-run
  targets="$(cargo test --quiet -p "$crate" --lib -- --list 2>/dev/null | sed -n 's/^\(fuzz::fuzz_[a-z_]*\): test$/\1/p')"
  for target in $targets; do
    case "$target" in *"$filter"*) ;; *) continue ;; esac
    cargo test --quiet -p "$crate" --lib -- --exact "$target" --nocapture 2>&1 | grep -E '^fuzz |panicked|minimal failing|FAILED' || true
  done
done
