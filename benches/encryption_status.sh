#!/usr/bin/env bash
# Whole processes side by side, one run, on the lab: `etcd-console encryption
# status` (APIServer, the three operators' Encrypted conditions, the
# ClusterOperators, ClusterVersion, the key secrets' names, HostedClusters and
# SelfSubjectAccessReview, asked concurrently) against the runbook's three
# kubectl jsonpath queries (§2.2) run one after another, which give only the
# three conditions. Timed by hyperfine (installed if missing).
# Usage: bash benches/encryption_status.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
runs="${1:-20}"
need_hyperfine
cargo build --release --quiet
work="$(mktemp -d)"
cleanup() { stop_lab; rm -rf "$work"; }
trap cleanup EXIT
start_lab "$work/lab" --scenario encryption-in-progress
export KUBECACHEDIR="$work/kube-cache"
ours="$PWD/target/release/etcd-console encryption status -o json --log-dir $work/logs"
query='{range .items[0].status.conditions[?(@.type=="Encrypted")]}{.reason}{"\n"}{.message}{"\n"}'
cat > "$work/runbook.sh" <<SCRIPT
kubectl get openshiftapiserver -o=jsonpath='$query'
kubectl get kubeapiserver -o=jsonpath='$query'
kubectl get authentication.operator.openshift.io -o=jsonpath='$query'
SCRIPT
# Once first: kubectl's discovery cache is warm for every timed run, as on a bastion.
sh "$work/runbook.sh" >/dev/null
# -i: status exits 1 while a migration runs, as it should here.
hyperfine -N -i --warmup 2 --runs "$runs" "$ours" "sh $work/runbook.sh"
