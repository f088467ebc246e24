#!/usr/bin/env bash
# Whole processes side by side, one run: `etcd-console status` (discovery +
# status + health + member list of every member) against the three etcdctl
# calls that give the same picture, timed by hyperfine (installed if missing).
# Usage: bash benches/status_vs_etcdctl.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
runs="${1:-20}"
need_hyperfine
cargo build --release --quiet
work="$(mktemp -d)"
cleanup() { stop_lab; rm -rf "$work"; }
trap cleanup EXIT
start_lab "$work/lab"
ours="$PWD/target/release/etcd-console status -o json --log-dir $work/logs"
theirs="sh -c 'etcdctl endpoint status --cluster -w json; etcdctl endpoint health --cluster; etcdctl alarm list'"
hyperfine -N --warmup 2 --runs "$runs" "$ours" "$theirs"
