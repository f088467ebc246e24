#!/usr/bin/env bash
# Runs every test: unit tests, whole-screen snapshots, and the integration
# tests against real etcd clusters, etcdctl and tmux, on etcd 3.4 then 3.5.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Snapshots are compared, never rewritten, here.
export INSTA_UPDATE=no
# Benchmarks run once each in criterion's test mode: they must build and work.
cargo test --benches
cargo test --workspace --lib --bins --tests -- --test-threads 4
# The fuzz targets (crates/*/src/fuzz.rs) again, each for FUZZ_SECONDS (10 s
# here, two at a time: about 70 s in all; benches/fuzz.sh runs them longer).
FUZZ_SECONDS="${FUZZ_SECONDS:-10}" cargo test -p etcd-console-core -p etcd-console-lab --lib fuzz:: -- --nocapture --test-threads 2
# Integration tests again on etcd 3.5.1 (what OpenShift 4.9 to 4.14 run): every lab
# they start, its hosts' tools and the etcdctl that referees them are 3.5's. For
# now the files proven on 3.5; `ETCD_CONSOLE_ETCD_VERSION=3.5 cargo test --test '*'`
# runs them all.
ETCD_CONSOLE_ETCD_VERSION=3.5 cargo test -p etcd-console --test status --test backup_runbook --test lab_serve -- --test-threads 4
