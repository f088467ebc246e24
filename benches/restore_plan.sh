#!/usr/bin/env bash
# Whole processes side by side, one run, on the `restore` lab: `etcd-console
# restore plan` (the backup's files, the snapshot verified end to end and its
# ClusterVersion read, ClusterVersion, Infrastructure, nodes, Machines,
# Network, OVN pods, etcd/cluster and both webhook kinds asked concurrently,
# a shell tried on every control-plane host) against what the runbook has an
# SRE run by hand before a restore to check the same (§3.9 prerequisites,
# §7.3): `etcdctl snapshot status`, `oc get clusterversion`, `get nodes`,
# `get machines`, the two webhook lists, `get etcd cluster -o yaml` and one
# ssh `true` per host (here the lab's host agent). Timed by hyperfine.
# Usage: bash benches/restore_plan.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
runs="${1:-20}"
need_hyperfine
cargo build --release --quiet
work="$(mktemp -d)"
cleanup() { stop_lab; rm -rf "$work"; }
trap cleanup EXIT
start_lab "$work/lab" --scenario restore --speed 300
export KUBECACHEDIR="$work/kube-cache"
bin="$PWD/target/release/etcd-console"
"$bin" lab host master-0 -- sudo -E /usr/local/bin/cluster-backup.sh /home/core/backup >/dev/null
cp -r "$work/lab/hosts/master-0/home/core/backup" "$work/backup"
snapshot="$(ls "$work"/backup/snapshot_*.db)"
ours="$bin --context lab-admin-cert restore plan --backup $work/backup --recovery-host master-0 -o json --log-dir $work/logs"
cat > "$work/by-hand.sh" <<SCRIPT
ETCDCTL_API=3 etcdctl snapshot status $snapshot -w json
kubectl get clusterversion version -o jsonpath='{.spec.clusterID} {.status.history[0].version}'
kubectl get nodes -o wide
kubectl get machines -n openshift-machine-api -o wide
kubectl get validatingwebhookconfigurations
kubectl get mutatingwebhookconfigurations
kubectl get etcd cluster -o yaml
for node in master-0 master-1 master-2; do $bin lab host \$node -- true; done
SCRIPT
# Once first: kubectl's discovery cache is warm for every timed run, as on a bastion.
sh "$work/by-hand.sh" >/dev/null 2>&1
hyperfine -N --warmup 2 --runs "$runs" "$ours" "sh $work/by-hand.sh"
