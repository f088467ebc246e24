#!/usr/bin/env bash
# What one reading of "what fills etcd" costs the member, side by side in one
# run: `etcd-console space` (counted keys, sampled bytes, on a follower under
# --max-qps) against the pipeline SREs run today,
#   etcdctl get / --prefix --keys-only | cut -d/ -f3 | sort | uniq -c | sort -rn
# both aimed at the same follower of a 3-member lab filled by
# benches/space-db.toml. etcd is the referee of the cost: the Range calls it
# handled and the bytes it sent (its own /metrics, before and after), and the
# CPU its process used (/proc/PID/stat). The etcdctl pipeline is run both as
# SREs type it (linearizable: the leader is asked too) and serializable.
# Usage: bash benches/space_live.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
runs="${1:-3}"
cargo build --release --quiet
work="$(mktemp -d)"
trap 'stop_lab; rm -rf "$work"' EXIT
bin="$PWD/target/release/etcd-console"

t0=$(date +%s)
start_lab "$work/lab" --scenario benches/space-db.toml --no-api --members 3
echo "lab filled in $(( $(date +%s) - t0 )) s"
# The follower both read: the second member, unless it leads.
leader_id=$(etcdctl endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["leader"])')
read -r name url < <(etcdctl member list -w json | python3 -c '
import json, sys
leader = int(sys.argv[1])
for m in json.load(sys.stdin)["members"]:
    if m["ID"] != leader:
        print(m["name"], m["clientURLs"][0]); break' "$leader_id")
pid=$(pgrep -f -- "--name=$name " | head -1)
at() { ETCDCTL_ENDPOINTS="$url" etcdctl "$@"; }
tick=$(getconf CLK_TCK)
echo "follower $name ($url, pid $pid); $(at get / --prefix --keys-only --limit 1 -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])') keys; $(at endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["dbSize"] >> 20)') MiB DB"

metric() { # the sum of a metric's samples on $url matching the pattern
  curl -s --cacert "$ETCDCTL_CACERT" --cert "$ETCDCTL_CERT" --key "$ETCDCTL_KEY" "$url/metrics" |
    awk -v p="$1" 'index($0, p) == 1 { s += $NF } END { printf "%.0f\n", s }'
}
cpu() { awk -v t="$tick" '{ printf "%.3f\n", ($14 + $15) / t }' "/proc/$pid/stat"; }

declare -A ranges sent cpus walls
measure() { # NAME CMD: the member's Range calls, bytes sent and CPU seconds for one reading
  local key="$1"; shift
  local r0 b0 c0 t0 r1 b1 c1 t1
  r0=$(metric 'grpc_server_handled_total{grpc_code="OK",grpc_method="Range"'); b0=$(metric etcd_network_client_grpc_sent_bytes_total); c0=$(cpu)
  t0=$(date +%s.%N)
  "$@" >"$work/$key.out" 2>"$work/$key.err" || { cat "$work/$key.err" >&2; return 1; }
  t1=$(date +%s.%N)
  c1=$(cpu); r1=$(metric 'grpc_server_handled_total{grpc_code="OK",grpc_method="Range"'); b1=$(metric etcd_network_client_grpc_sent_bytes_total)
  ranges[$key]="${ranges[$key]:-} $((r1 - r0))"
  sent[$key]="${sent[$key]:-} $((b1 - b0))"
  cpus[$key]="${cpus[$key]:-} $(python3 -c "print(round($c1 - $c0, 3))")"
  walls[$key]="${walls[$key]:-} $(python3 -c "print(round($t1 - $t0, 2))")"
}
pipeline() { at "$@" get / --prefix --keys-only | cut -d/ -f3 | sed '/^$/d' | sort | uniq -c | sort -rn; }
for _ in $(seq "$runs"); do
  measure space "$bin" space --member "$name" -o json --space-dir "$work/space" --log-dir "$work/logs"
  measure etcdctl pipeline
  measure etcdctl_s pipeline --consistency=s
done
echo
echo "etcd-console space, as read:"
"$bin" space --member "$name" --space-dir "$work/space" --log-dir "$work/logs" | sed -n 1,12p
echo
echo "the pipeline, as read:"
head -5 "$work/etcdctl.out"
echo
median() { printf '%s\n' $@ | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-34s %12s %14s %14s %10s\n' "per reading (median of $runs)" "Range calls" "bytes sent" "member CPU s" "wall s"
for key in space etcdctl etcdctl_s; do
  case $key in
    space) label="etcd-console space (50 qps)";;
    etcdctl) label="etcdctl pipeline (linearizable)";;
    etcdctl_s) label="etcdctl pipeline (serializable)";;
  esac
  printf '%-34s %12s %14s %14s %10s\n' "$label" "$(median ${ranges[$key]})" "$(median ${sent[$key]})" "$(median ${cpus[$key]})" "$(median ${walls[$key]})"
done
echo "(Range calls of etcd-console include the member's share of its status round: one health read.)"
