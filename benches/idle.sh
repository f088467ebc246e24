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
start_lab "$work/lab"
tmux -L "$socket" new-session -d -x 120 -y 40 "bash -c '. $work/lab/lab.env; exec ./target/release/etcd-console --log-dir $work/logs'"
sleep 3
pid="$(pgrep -f "^./target/release/etcd-console --log-dir $work/logs" | head -1)"
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz="$(getconf CLK_TCK)"
start="$(ticks)"
sleep "$seconds"
end="$(ticks)"
rss_kib="$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")"
hwm_kib="$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")"
cpu_s="$(echo "scale=3; ($end - $start) / $hz" | bc)"
pct="$(echo "scale=3; 100 * ($end - $start) / $hz / $seconds" | bc)"
echo "idle TUI, 3 members, refresh 2s, ${seconds}s: cpu ${cpu_s}s (${pct}% of one core), RSS ${rss_kib} KiB (peak ${hwm_kib} KiB)"

# The same with the timeline full (10,000 events, its bound) and the CSR flood's 5,000 pending
# CSRs watched: the console's memory with everything it keeps at its largest.
tmux -L "$socket" kill-server 2>/dev/null || true
stop_lab
start_lab "$work/flood" --scenario csr-flood
tmux -L "$socket" new-session -d -x 120 -y 40 "bash -c '. $work/flood/lab.env; exec ./target/release/etcd-console --timeline-prefill 10000 --log-dir $work/logs2'"
sleep 5
pid="$(pgrep -f "^./target/release/etcd-console --timeline-prefill 10000 --log-dir $work/logs2" | head -1)"
start="$(ticks)"
sleep "$seconds"
end="$(ticks)"
rss_kib="$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")"
hwm_kib="$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")"
cpu_s="$(echo "scale=3; ($end - $start) / $hz" | bc)"
pct="$(echo "scale=3; 100 * ($end - $start) / $hz / $seconds" | bc)"
pending="$(tmux -L "$socket" capture-pane -p | grep -o '[0-9]* CSR[^·]*' | head -1 || true)"
echo "idle TUI, csr-flood lab ($pending), timeline of 10000 events, ${seconds}s: cpu ${cpu_s}s (${pct}% of one core), RSS ${rss_kib} KiB (peak ${hwm_kib} KiB)"
