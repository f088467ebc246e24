#!/usr/bin/env bash
# Idle cost of the console: CPU seconds and resident memory of the TUI watching
# a 3-member lab with the default 2 s refresh for 60 s, in a real terminal (tmux).
# Usage: bash benches/idle.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
seconds="${1:-60}"
cargo build --release --quiet
work="$(mktemp -d)"
socket="ecl-idle-$$"
cleanup() {
  tmux -L "$socket" kill-server 2>/dev/null || true
  stop_lab
  rm -rf "$work"
}
trap cleanup EXIT
hz="$(getconf CLK_TCK)"
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
# measure LAB LOGS [FLAGS...]: the console on LAB's environment in tmux, its CPU over $seconds
# and its resident memory at the end, into the variables cpu_s, pct, rss_kib, hwm_kib.
measure() {
  local lab="$1" logs="$2"
  shift 2
  local flags="${*:+$* }"
  tmux -L "$socket" new-session -d -x 120 -y 40 "bash -c '. $lab/lab.env; exec ./target/release/etcd-console ${flags}--log-dir $logs'"
  sleep 5
  pid="$(pgrep -f "^./target/release/etcd-console ${flags}--log-dir $logs" | head -1)"
  local start end
  start="$(ticks)"
  sleep "$seconds"
  end="$(ticks)"
  rss_kib="$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")"
  hwm_kib="$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")"
  cpu_s="$(echo "scale=3; ($end - $start) / $hz" | bc)"
  pct="$(echo "scale=3; 100 * ($end - $start) / $hz / $seconds" | bc)"
}

start_lab "$work/lab"
measure "$work/lab" "$work/logs"
echo "idle TUI, 3 members, refresh 2s, ${seconds}s: cpu ${cpu_s}s (${pct}% of one core), RSS ${rss_kib} KiB (peak ${hwm_kib} KiB)"

# The same with the timeline full (10,000 events, its bound) and the CSR flood's 5,000 pending
# CSRs watched: the console's memory with everything it keeps at its largest.
tmux -L "$socket" kill-server 2>/dev/null || true
stop_lab
start_lab "$work/flood" --scenario csr-flood
measure "$work/flood" "$work/logs2" --timeline-prefill 10000
pending="$(tmux -L "$socket" capture-pane -p | grep -o '[0-9]* CSR[^·]*' | head -1 || true)"
echo "idle TUI, csr-flood lab ($pending), timeline of 10000 events, ${seconds}s: cpu ${cpu_s}s (${pct}% of one core), RSS ${rss_kib} KiB (peak ${hwm_kib} KiB)"
