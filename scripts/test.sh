#!/usr/bin/env bash
# Runs every test: unit tests, whole-screen snapshots, and the integration
# tests against real etcd clusters, etcdctl and tmux.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Snapshots are compared, never rewritten, here.
export INSTA_UPDATE=no
cargo test --all-targets -- --test-threads 4
