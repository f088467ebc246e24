#!/usr/bin/env bash
# `etcd-console snapshot analyze` on a snapshot of over 1 GiB in use
# (benches/analyze-db.toml: the bloat scenario 300 times over, one member),
# in MB/s beside `etcdctl snapshot status` (one walk, CRC-32C) and a plain
# read of the file (`cat > /dev/null`), with each one's peak RSS
# (`/usr/bin/time -v`). The file is read once first: every figure is with
# the file in the page cache (the cold-cache rate is the disk's).
# Usage: bash benches/snapshot_analyze.sh [RUNS]   (SNAPSHOT=FILE skips the lab and uses FILE)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
runs="${1:-3}"
cargo build --release --quiet
work="$(mktemp -d)"
trap 'stop_lab; rm -rf "$work"' EXIT
bin="$PWD/target/release/etcd-console"

snapshot="${SNAPSHOT:-}"
if [ -z "$snapshot" ]; then
  t0=$(date +%s)
  start_lab "$work/lab" --scenario benches/analyze-db.toml --no-api --members 1
  echo "lab filled in $(( $(date +%s) - t0 )) s"
  snapshot="$work/big.db"
  etcdctl snapshot save "$snapshot" >/dev/null
  stop_lab
fi
size=$(stat -c %s "$snapshot")
echo "snapshot $(( size / 1048576 )) MiB"
cat "$snapshot" >/dev/null

# measure NAME CMD...: seconds and peak RSS of one run, appended to NAME's lists.
declare -A secs rss
measure() {
  local name="$1"; shift
  /usr/bin/time -v -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || { cat "$work/stderr" >&2; return 1; }
  local elapsed kb
  elapsed=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; print s}' "$work/time")
  kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time")
  secs[$name]="${secs[$name]:-} $elapsed"
  rss[$name]="${rss[$name]:-} $kb"
}
for _ in $(seq "$runs"); do
  measure cat cat "$snapshot"
  measure status etcdctl snapshot status "$snapshot"
  measure analyze "$bin" snapshot analyze -o json "$snapshot" --log-dir "$work/logs"
done
"$bin" snapshot analyze "$snapshot" --log-dir "$work/logs" | sed -n 1,12p
median() { printf '%s\n' $@ | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for name in cat status analyze; do
  s=$(median ${secs[$name]}); k=$(median ${rss[$name]})
  printf '%-8s median %6.2f s = %5.0f MB/s   peak RSS %4d MiB   (runs:%s s)\n' \
    "$name" "$s" "$(python3 -c "print($size / 1e6 / max($s, 0.01))")" $(( k / 1024 )) "${secs[$name]}"
done
