#!/usr/bin/env bash
# Restore-grade backup of a database of at least 500 MiB (benches/large-db.toml,
# one lab member with its host and the simulated API), side by side in one run,
# taking turns, RUNS times each:
#   backup --via api        (debug pod, cluster-backup.sh, both files through exec)
#   backup --via ssh        (the lab's hosts as ssh reaches them: files read directly)
#   backup --snapshot-only  (the direct stream from the member)
# Wall time and MB/s of each (the snapshot's size over the whole run), then where
# the time of the first --via api run went, from its JSON lines' elapsed_seconds.
# Usage: bash benches/backup_restore_grade.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
runs="${1:-3}"
cargo build --release --quiet
work="$(mktemp -d)"
trap 'stop_lab; rm -rf "$work"' EXIT
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
bin="$PWD/target/release/etcd-console"

start_lab "$work/lab" --scenario benches/large-db.toml --members 1
size=$(etcdctl endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["dbSize"])')
echo "one member, DB $(( size / 1048576 )) MiB"

declare -A took
run_one() { # KIND RUN
  local kind="$1" run="$2" extra=()
  case "$kind" in
    api) extra=(--via api) ;;
    ssh) extra=(--via ssh) ;;
    snapshot) extra=(--snapshot-only) ;;
  esac
  local t0; t0=$(now_ms)
  "$bin" backup --dir "$work/$kind-$run" "${extra[@]}" -o json --log-dir "$work/logs" >"$work/$kind-$run.jsonl"
  took[$kind]+="$(( $(now_ms) - t0 )) "
}
kinds=(api ssh snapshot)
for run in $(seq "$runs"); do
  for i in 0 1 2; do run_one "${kinds[$(( (i + run) % 3 ))]}" "$run"; done
  [ "$run" -eq 1 ] && cp "$work/api-1.jsonl" "$work/phases.jsonl"
  rm -rf "$work"/*-"$run"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rate() { python3 -c "print(round($size / 1e6 / ($1 / 1000)))"; }
for kind in "${kinds[@]}"; do
  # shellcheck disable=SC2086
  m=$(median ${took[$kind]})
  printf '%-16s median %6s ms = %4s MB/s   (%s)\n' "$kind" "$m" "$(rate "$m")" "${took[$kind]% }"
done
echo "where the time of a --via api run goes (seconds from its start):"
python3 - "$work/phases.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def name(l):
    action = l.get("action") or l["event"]
    if action == "fetch":
        return "fetch snapshot" if str(l.get("path", "")).endswith(".db") else "fetch archive"
    return action
marks = [(name(l), l["elapsed_seconds"]) for l in lines
         if "elapsed_seconds" in l and l["event"] in ("began", "checked")]
last = max(t for _, t in marks)
print("  (each step from its start to the next one's; the last, publishing, is not timed)")
for (step, at), (_, nxt) in zip(marks, marks[1:] + [("end", last)]):
    print(f"  {step:<16} {nxt - at:7.2f} s")
PY
