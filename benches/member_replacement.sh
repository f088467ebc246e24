#!/usr/bin/env bash
# The three member replacements of the lab, each on a lab of its own at SPEED (default 1:
# the simulated operators at real time), `member replace --yes -o json`: the wall time of
# each and of each step (from its step_ended elapsed_seconds), so where a replacement waits
# can be read: the backup taken first, the machine API's provisioning, the etcd operator's
# scale-up (learner, promotion) and rollout, the StatefulSet's new pod.
# Usage: bash benches/member_replacement.sh [SPEED]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
speed="${1:-1}"
cargo build --release --quiet
work="$(mktemp -d)"
trap 'stop_lab; rm -rf "$work"' EXIT
bin="$PWD/target/release/etcd-console"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

for scenario in member-down member-corrupt hosted-member-crashloop; do
  start_lab "$work/$scenario" --scenario "$scenario" --speed "$speed"
  extra=()
  if [ "$scenario" = hosted-member-crashloop ]; then
    extra=(--hosted-cluster clusters/hosted)
    down="$(kubectl get pods -n clusters-hosted -l app=etcd --no-headers | awk '/CrashLoopBackOff/ {print $1}')"
    # The member of that pod, by its client URL's address.
    ip="$(kubectl get pod -n clusters-hosted "$down" -o jsonpath='{.status.podIP}')"
    member="$(etcdctl member list | awk -F', ' -v ip="$ip" 'index($5, ip) {print $3}')"
    unset ETCDCTL_ENDPOINTS
  else
    # etcdctl exits 1 with a member unhealthy: its JSON is what is read.
    health="$(etcdctl endpoint health --cluster -w json 2>/dev/null || true)"
    member="$(python3 -c '
import json, sys
bad = [e["endpoint"] for e in json.loads(sys.argv[1]) if not e["health"]]
print(bad[0] if bad else "")' "$health")"
    member="$(etcdctl member list | awk -F', ' -v url="$member" '$5 == url {print $3}')"
  fi
  t0=$(now_ms)
  "$bin" member replace "$member" "${extra[@]}" --yes --poll 1s -o json --context lab-admin-cert \
    --backup-dir "$work/$scenario-backups" --journal-dir "$work/$scenario-journal" --log-dir "$work/logs" \
    >"$work/$scenario.jsonl" || true
  wall=$(( $(now_ms) - t0 ))
  python3 - "$work/$scenario.jsonl" "$scenario" "$member" "$wall" <<'PY'
import json, sys
path, scenario, member, wall = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
steps, outcome = [], "?"
for line in open(path):
    try:
        v = json.loads(line)
    except ValueError:
        continue
    if v.get("event") == "step_ended":
        steps.append(f'{v["id"]} {v.get("elapsed_seconds") or 0:.1f}s')
    if v.get("event") == "outcome":
        outcome = v["message"].splitlines()[0]
print(f"{scenario} ({member}): {wall / 1000:.1f}s wall, {outcome}")
print("  " + ", ".join(steps))
PY
  stop_lab
done
