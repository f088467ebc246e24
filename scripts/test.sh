#!/usr/bin/env bash
# Runs every test: unit tests, whole-screen snapshots, and the integration
# tests against real etcd clusters, etcdctl and tmux, on etcd 3.4 then 3.5.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Snapshots are compared, never rewritten, here.
export INSTA_UPDATE=no
# Benchmarks run once each in criterion's test mode: they must build and work.
cargo test --workspace --benches
# cargo-nextest (on this kind of machine with the toolchain) runs test files side by side
# (.config/nextest.toml); without it, `cargo test` runs them one after the other (slower).
if cargo nextest --version >/dev/null 2>&1; then
    all() { cargo nextest run --workspace --lib --bins --tests; }
    fuzz() { cargo nextest run --workspace --lib -E 'test(/^fuzz::/)' --test-threads 2; }
    integration() { cargo nextest run --workspace --tests -E 'kind(test)'; }
else
    echo "cargo-nextest not found: the tests run one file at a time" >&2
    all() { cargo test --workspace --lib --bins --tests -- --test-threads 4; }
    fuzz() { cargo test --workspace --lib fuzz:: -- --test-threads 2; }
    integration() { cargo test --workspace --test '*' -- --test-threads 4; }
fi
# Everything on Debian's etcd 3.4.
all
# The fuzz targets (crates/*/src/fuzz.rs) again, each for FUZZ_SECONDS (10 s here, two at a
# time: about 70 s in all; benches/fuzz.sh runs them longer).
FUZZ_SECONDS="${FUZZ_SECONDS:-10}" fuzz
# Every integration test again on etcd 3.5.1 (what OpenShift 4.9 to 4.14 run): every lab they
# start, its hosts' tools and the etcdctl that referees them are 3.5's.
ETCD_CONSOLE_ETCD_VERSION=3.5 integration
