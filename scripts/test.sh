#!/usr/bin/env bash
# Runs every test: unit tests, whole-screen snapshots, and the integration
# tests against real etcd clusters, etcdctl and tmux.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Snapshots are compared, never rewritten, here.
export INSTA_UPDATE=no
# Benchmarks run once each in criterion's test mode: they must build and work.
cargo test --benches
cargo test --workspace --lib --bins --tests -- --test-threads 4
