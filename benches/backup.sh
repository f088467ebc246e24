#!/usr/bin/env bash
# Backup throughput, side by side in one run, on one lab member holding a
# database of at least 512 MiB (benches/large-db.toml: about 740 MiB):
#   etcd-console backup --member M  (stream, SHA-256 as it arrives, fsync,
#                                    read back: trailer + bbolt walk, metadata)
#   etcdctl snapshot save           (stream, fsync; no check of the trailer)
# taking turns first, RUNS times each; then `etcd-console snapshot verify`
# (SHA-256 trailer + every bbolt page) in MB/s beside `etcdctl snapshot status`.
# Usage: bash benches/backup.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
runs="${1:-3}"
cargo build --release --quiet
work="$(mktemp -d)"
trap 'stop_lab; rm -rf "$work"' EXIT
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
bin="$PWD/target/release/etcd-console"

start_lab "$work/lab" --scenario benches/large-db.toml --no-api --members 1
member=master-0
endpoint="${ETCDCTL_ENDPOINTS%%,*}"
size=$(etcdctl endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["dbSize"])')
echo "member $member at $endpoint, DB $(( size / 1048576 )) MiB"

ours=(); theirs=(); verify=(); status=()
ours_run() {
  local t0; t0=$(now_ms)
  "$bin" backup --dir "$work/ours-$1" --member "$member" --log-dir "$work/logs" >/dev/null
  ours+=($(( $(now_ms) - t0 )))
}
theirs_run() {
  local t0; t0=$(now_ms)
  env -u ETCDCTL_ENDPOINTS etcdctl --endpoints "$endpoint" snapshot save "$work/theirs-$1.db" >/dev/null 2>&1
  theirs+=($(( $(now_ms) - t0 )))
}
for run in $(seq "$runs"); do
  if (( run % 2 )); then ours_run "$run"; theirs_run "$run"; else theirs_run "$run"; ours_run "$run"; fi
  file=$(ls "$work/ours-$run"/snapshot_*.db)
  t0=$(now_ms); "$bin" snapshot verify "$file" --log-dir "$work/logs" >/dev/null; verify+=($(( $(now_ms) - t0 )))
  t0=$(now_ms); etcdctl snapshot status "$file" >/dev/null; status+=($(( $(now_ms) - t0 )))
  rm -rf "$work/ours-$run" "$work/theirs-$run.db"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rate() { python3 -c "print(round($size / 1e6 / ($1 / 1000)))"; }
m_ours=$(median "${ours[@]}"); m_theirs=$(median "${theirs[@]}"); m_verify=$(median "${verify[@]}"); m_status=$(median "${status[@]}")
echo "etcd-console backup (stream+fsync+verify+metadata): median $m_ours ms = $(rate "$m_ours") MB/s   (${ours[*]})"
echo "etcdctl snapshot save (stream+fsync):               median $m_theirs ms = $(rate "$m_theirs") MB/s   (${theirs[*]})"
echo "etcd-console snapshot verify (SHA-256 + pages):     median $m_verify ms = $(rate "$m_verify") MB/s   (${verify[*]})"
echo "etcdctl snapshot status (hash walk, no SHA-256):    median $m_status ms = $(rate "$m_status") MB/s   (${status[*]})"
