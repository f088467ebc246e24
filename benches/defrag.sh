#!/usr/bin/env bash
# The defrag wizard's cost, on a fresh `fragmented` lab per run (96 MiB
# written, nine tenths deleted, compacted), in the same run:
#   gate:      one gate of ours (member list, then every member's Status and
#              linearizable read, together), from the journal's timestamps,
#              beside the runbook's check between members
#              (`etcdctl endpoint health --cluster` + `endpoint status --cluster`);
#   whole run: `etcd-console defrag --all --wait 0s` (gates, leader last, one at
#              a time, health after each) beside `etcdctl defrag --cluster`
#              (all members, no check at all).
# Usage: bash benches/defrag.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
runs="${1:-3}"
cargo build --release --quiet
work="$(mktemp -d)"
trap 'stop_lab; rm -rf "$work"' EXIT
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
bin="$PWD/target/release/etcd-console"

ours=(); theirs=(); gates=(); checks=()
for run in $(seq "$runs"); do
  start_lab "$work/lab-ours-$run" --scenario fragmented --no-api
  t0=$(now_ms)
  "$bin" defrag --all --yes --wait 0s --i-know-wait-is-short --journal-dir "$work/journal-$run" --log-dir "$work/logs" >/dev/null
  ours+=($(( $(now_ms) - t0 )))
  gates+=("$(python3 - "$work/journal-$run" <<'PY'
import json, sys, glob, datetime
def t(s): return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
begun = None; spans = []
for line in open(glob.glob(sys.argv[1] + "/defrag-*.jsonl")[0]):
    r = json.loads(line)
    if r.get("action") == "Observe":
        if r["event"] == "begin": begun = t(r["at"])
        elif r["event"] == "end" and begun is not None: spans.append(t(r["at"]) - begun)
print(round(sum(spans) / len(spans) * 1000))
PY
)")
  t0=$(now_ms)
  etcdctl endpoint health --cluster >/dev/null 2>&1
  etcdctl endpoint status --cluster >/dev/null 2>&1
  checks+=($(( $(now_ms) - t0 )))
  stop_lab

  start_lab "$work/lab-etcdctl-$run" --scenario fragmented --no-api
  t0=$(now_ms)
  etcdctl defrag --cluster >/dev/null
  theirs+=($(( $(now_ms) - t0 )))
  stop_lab
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "one gate (ours, all 3 members):                 median $(median "${gates[@]}") ms   (${gates[*]})"
echo "runbook check (etcdctl health + status):        median $(median "${checks[@]}") ms   (${checks[*]})"
echo "whole run, etcd-console defrag --all --wait 0s: median $(median "${ours[@]}") ms   (${ours[*]})"
echo "etcdctl defrag --cluster (no checks, no order): median $(median "${theirs[@]}") ms   (${theirs[*]})"
