#!/usr/bin/env bash
# Whole processes side by side, one run: `etcd-console status` (discovery +
# status + health + member list of every member) against the three etcdctl
# calls that give the same picture. Uses farm-bench when present, else hyperfine.
# Usage: bash benches/status_vs_etcdctl.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
runs="${1:-20}"
cargo build --release --quiet
work="$(mktemp -d)"
cleanup() { stop_lab; rm -rf "$work"; }
trap cleanup EXIT
start_lab "$work/lab"
ours="$PWD/target/release/etcd-console status -o json --log-dir $work/logs"
theirs="sh -c 'etcdctl endpoint status --cluster -w json; etcdctl endpoint health --cluster; etcdctl alarm list'"
if command -v farm-bench >/dev/null 2>&1; then
  farm-bench -n "$runs" --warmup 2 --vs "$theirs" -- $ours
else
  hyperfine -N --warmup 2 --runs "$runs" "$ours" "$theirs"
fi
