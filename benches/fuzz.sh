#!/usr/bin/env bash
# The structured fuzz targets (crates/core/src/fuzz.rs, crates/lab/src/fuzz.rs),
# each run alone for SECONDS (600 by default), one after the other, printing
# per target its total runs and executions per second. A failure stops the
# run with the minimal failing input proptest found.
# Usage: bash benches/fuzz.sh [SECONDS] [FILTER]
set -euo pipefail
cd "$(dirname "$0")/.."
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
