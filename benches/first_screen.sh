#!/usr/bin/env bash
# Time from starting the console to a complete first screen, in a real terminal
# (tmux, polled every few milliseconds), against the lab; beside it, the
# runbook's commands that show the same things (etcdctl and kubectl), timed in
# the same run.
#   members:    every member's health and figures, leader known
#   openshift:  encryption type and conditions, the four rollouts, the operators
#   csrs:       the CSR view of a lab holding 5,000 pending CSRs
# Usage: bash benches/first_screen.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
runs="${1:-5}"
cargo build --release --quiet
work="$(mktemp -d)"
socket="ecl-first-$$"
cleanup() {
  tmux -L "$socket" kill-server 2>/dev/null || true
  stop_lab
  [ -n "${FLOOD_PID:-}" ] && kill "$FLOOD_PID" 2>/dev/null && wait "$FLOOD_PID" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

members_complete() { [ "$(grep -cE 'master-[0-9] .* ok [0-9.]+ms' <<<"$1")" -eq 3 ] && grep -q '3/3 healthy' <<<"$1"; }
openshift_complete() {
  grep -q 'type identity' <<<"$1" && grep -q 'kubescheduler ' <<<"$1" && grep -q 'openshift-apiserver ' <<<"$1" &&
    [ "$(grep -c 'EncryptionDisabled' <<<"$1")" -eq 3 ]
}
csrs_complete() { grep -q 'Pending CSRs (5000' <<<"$1" && grep -q 'class ' <<<"$1"; }

# measure LABEL CHECK COMMAND: milliseconds from start to CHECK passing, RUNS times.
measure() {
  local label="$1" check="$2" command="$3" times=() screen start elapsed run
  for run in $(seq "$runs"); do
    # A server of its own per run: a server still shutting down cannot take the next session.
    socket="ecl-first-$$-$RANDOM-$run"
    start="$(now_ms)"
    tmux -L "$socket" new-session -d -x 130 -y 40 "$command"
    while :; do
      screen="$(tmux -L "$socket" capture-pane -p 2>/dev/null || true)"
      if "$check" "$screen"; then break; fi
      if [ $(( $(now_ms) - start )) -gt 30000 ]; then
        echo "$label: no complete screen within 30 s; last screen:" >&2
        echo "$screen" >&2
        return 1
      fi
      sleep 0.005
    done
    elapsed=$(( $(now_ms) - start ))
    times+=("$elapsed")
    tmux -L "$socket" kill-server 2>/dev/null || true
  done
  report "$label" "${times[@]}"
}

# time_commands LABEL COMMAND: milliseconds the command takes, RUNS times.
time_commands() {
  local label="$1" command="$2" times=() start
  for _ in $(seq "$runs"); do
    start="$(now_ms)"
    bash -c "$command" >/dev/null 2>&1
    times+=("$(( $(now_ms) - start ))")
  done
  report "$label" "${times[@]}"
}

report() {
  local label="$1"
  shift
  local sorted
  sorted="$(printf '%s\n' "$@" | sort -n)"
  printf '%-62s median %5d ms   min %5d   max %5d   (%s runs)\n' "$label" \
    "$(sed -n "$(( ($# + 1) / 2 ))p" <<<"$sorted")" "$(head -1 <<<"$sorted")" "$(tail -1 <<<"$sorted")" "$#"
}

console="$PWD/target/release/etcd-console"
start_lab "$work/lab"
kubeconfig="$KUBECONFIG"
plain="unset KUBECONFIG ETCDCTL_ENDPOINTS ETCDCTL_CACERT ETCDCTL_CERT ETCDCTL_KEY;"
logs="--log-dir $work/logs"

echo "lab: 3 members, scenario healthy; terminal 130x40; $runs runs each"
measure "console, members, --endpoints (ETCDCTL_*)" members_complete \
  ". $work/lab/lab.env; unset KUBECONFIG; exec $console $logs"
measure "console, members, kubeconfig alone (pod IPs)" members_complete \
  "$plain exec $console --kubeconfig $kubeconfig $logs"
measure "console, members, kubeconfig alone (port-forwards)" members_complete \
  "$plain exec $console --kubeconfig $kubeconfig --etcd-via port-forward $logs"
measure "console, OpenShift view" openshift_complete \
  ". $work/lab/lab.env; exec $console --view openshift $logs"
time_commands "runbook: etcdctl member list + endpoint status + health" \
  "etcdctl member list -w table && etcdctl endpoint status --cluster -w table && etcdctl endpoint health --cluster"
jp='{range .status.conditions[?(@.type=="Encrypted")]}{.reason}{"\n"}{.message}{"\n"}{end}'
np='{range .status.conditions[?(@.type=="NodeInstallerProgressing")]}{.reason}{"\n"}{.message}{"\n"}{end}'
time_commands "runbook: kubectl, encryption + 4 rollouts + operators" \
  "export KUBECACHEDIR=$work/kube-cache; kubectl get apiserver cluster -o jsonpath='{.spec.encryption.type}' &&
   for r in openshiftapiserver kubeapiserver authentication.operator.openshift.io; do kubectl get \$r cluster -o jsonpath='$jp'; done &&
   for r in etcd kubeapiserver kubecontrollermanager kubescheduler; do kubectl get \$r cluster -o jsonpath='$np'; done &&
   kubectl get clusteroperators"

# A second lab holding 5,000 pending CSRs.
LAB_PID_HEALTHY="$LAB_PID"
start_lab "$work/flood" --scenario csr-flood
FLOOD_PID="$LAB_PID"
LAB_PID="$LAB_PID_HEALTHY"
measure "console, CSR view, 5,000 pending" csrs_complete \
  ". $work/flood/lab.env; exec $console --view csrs $logs"
time_commands "runbook: kubectl get csr (5,000 pending)" \
  "export KUBECONFIG=$work/flood/kubeconfig KUBECACHEDIR=$work/kube-cache; kubectl get csr"
