#!/usr/bin/env bash
# Regenerates the README's pictures: the real console on a real lab, in tmux,
# shown by xterm under Xvfb and captured with ImageMagick's `import`.
# Needs: xvfb xterm imagemagick fonts-dejavu-core x11-utils (installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
bash scripts/setup.sh
missing=()
for tool in Xvfb:xvfb xterm:xterm import:imagemagick xwininfo:x11-utils; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool##*:}")
done
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || missing+=(fonts-dejavu-core)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cargo build --release --quiet
bin="$PWD/target/release/etcd-console"
work="$(mktemp -d)"
socket="ecl-shots-$$"
display=":$((90 + RANDOM % 9))"
cleanup() {
  tmux -L "$socket" kill-server 2>/dev/null || true
  [ -n "${xterm_pid:-}" ] && kill "$xterm_pid" 2>/dev/null || true
  [ -n "${xvfb:-}" ] && kill "$xvfb" 2>/dev/null || true
  stop_lab
  rm -rf "$work"
}
trap cleanup EXIT

start_lab "$work/lab" --quota-bytes 256MiB

Xvfb "$display" -screen 0 1400x900x24 >/dev/null 2>&1 &
xvfb=$!
sleep 1
tmux -L "$socket" new-session -d -x 100 -y 30 "$bin --log-dir $work/logs --journal-dir $work/journal --backup-dir $work/backups --quota-bytes 256MiB"
DISPLAY="$display" xterm -tn xterm-256color -T ecl-shot -geometry 100x30+0+0 -fa 'DejaVu Sans Mono' -fs 11 -bg '#1e1e1e' -fg '#d4d4d4' \
  -e tmux -L "$socket" attach &
xterm_pid=$!
shoot() {
  local id
  id="$(DISPLAY="$display" xwininfo -name ecl-shot | awk '/Window id/ {print $4}')"
  DISPLAY="$display" import -window "$id" "screenshots/$1.png"
  echo "screenshots/$1.png"
}

# Some writes and deletes, so the DB grows, fragments and the plot has a shape.
value="$(head -c 60000 /dev/zero | tr '\0' 'x')"
for round in $(seq 12); do
  for i in $(seq 40); do etcdctl put "/kubernetes.io/events/demo/$round-$i" "$value" >/dev/null; done
  [ $((round % 3)) -eq 0 ] && etcdctl del --prefix "/kubernetes.io/events/demo/$((round - 1))-" >/dev/null
  sleep 2
done
sleep 3
shoot healthy

kill -STOP "$(pgrep -f -- "--data-dir=$work/lab/hosts/master-1/var/lib/etcd")"
tmux -L "$socket" send-keys j
sleep 14
shoot member-silent
kill -CONT "$(pgrep -f -- "--data-dir=$work/lab/hosts/master-1/var/lib/etcd")"

tmux -L "$socket" send-keys '?'
sleep 1
shoot help

# The backup wizard: a verified snapshot of a follower, the members pane giving its age.
tmux -L "$socket" send-keys Escape
sleep 1
tmux -L "$socket" send-keys b
sleep 1
tmux -L "$socket" send-keys Enter
sleep 4
shoot backup

# The defrag wizard: every member (the demo DB is below OpenShift's 100 MiB), started, first member done.
tmux -L "$socket" send-keys Escape
sleep 1
tmux -L "$socket" send-keys d
sleep 1
tmux -L "$socket" send-keys e
sleep 1
tmux -L "$socket" send-keys Enter
sleep 1
tmux -L "$socket" send-keys y
sleep 6
shoot defrag

# The incident timeline (t) after that: the defrag's steps with who did them, newest first.
tmux -L "$socket" send-keys Escape
sleep 1
tmux -L "$socket" send-keys t
sleep 1
shoot timeline
tmux -L "$socket" send-keys Escape
sleep 1

# The OpenShift side, just after a restore: a second lab whose simulated operators run 20x.
tmux -L "$socket" send-keys Escape
stop_lab
start_lab "$work/lab2" --scenario post-restore --speed 20
# A new window of the same tmux server (the xterm follows it), with the second lab's environment.
tmux -L "$socket" new-window "env ETCDCTL_ENDPOINTS=$ETCDCTL_ENDPOINTS ETCDCTL_CACERT=$ETCDCTL_CACERT ETCDCTL_CERT=$ETCDCTL_CERT ETCDCTL_KEY=$ETCDCTL_KEY KUBECONFIG=$KUBECONFIG $bin --log-dir $work/logs"
sleep 4
# The members view at a glance just after the restore: rollouts, CSRs, no backup yet.
shoot glance
tmux -L "$socket" send-keys Tab
sleep 2
shoot openshift
tmux -L "$socket" send-keys Tab
sleep 1
shoot csrs

# The encryption wizard: a third lab whose operators run 60x (a 20-minute migration in 20 s),
# the backup first, then the migration to aescbc caught with two operators done.
stop_lab
start_lab "$work/lab3" --speed 60
tmux -L "$socket" new-window "env ETCDCTL_ENDPOINTS=$ETCDCTL_ENDPOINTS ETCDCTL_CACERT=$ETCDCTL_CACERT ETCDCTL_CERT=$ETCDCTL_CERT ETCDCTL_KEY=$ETCDCTL_KEY KUBECONFIG=$KUBECONFIG $bin --log-dir $work/logs --backup-dir $work/backups3"
sleep 4
tmux -L "$socket" send-keys E
sleep 2
tmux -L "$socket" send-keys Enter
sleep 2
tmux -L "$socket" send-keys y
sleep 17
shoot encryption

# The restore wizard: a fourth lab, its hosts' scripts and the simulated operators at 300x; a
# backup taken on master-0 with cluster-backup.sh, then the restore asked from the console
# (recovery host master-0, the cluster's name typed) and caught mid-way.
stop_lab
start_lab "$work/lab4" --scenario restore --speed 300
"$bin" lab host master-0 -- sudo -E /usr/local/bin/cluster-backup.sh /home/core/backup >/dev/null 2>&1
tmux -L "$socket" new-window "env ETCDCTL_ENDPOINTS=$ETCDCTL_ENDPOINTS ETCDCTL_CACERT=$ETCDCTL_CACERT ETCDCTL_CERT=$ETCDCTL_CERT ETCDCTL_KEY=$ETCDCTL_KEY KUBECONFIG=$KUBECONFIG ETCD_CONSOLE_LAB_DIR=$ETCD_CONSOLE_LAB_DIR $bin --context lab-admin-cert --log-dir $work/logs --journal-dir $work/journal4 --restore-backup $work/lab4/hosts/master-0/home/core/backup"
sleep 4
tmux -L "$socket" send-keys R
sleep 2
tmux -L "$socket" send-keys Down
sleep 2
tmux -L "$socket" send-keys Enter
sleep 2
tmux -L "$socket" send-keys -l lab-7xk2p
tmux -L "$socket" send-keys Enter
sleep 20
shoot restore

# A member whose data is damaged, its etcd crashlooping: a fifth lab whose operators run 60x. The
# member selected: the diagnosis pane; then M: its plan; then Enter, the cluster and member typed,
# and the replacement caught as the etcd operator brings the member back.
tmux -L "$socket" send-keys Escape
stop_lab
start_lab "$work/lab5" --scenario member-corrupt --speed 60
down="$(kubectl get pods -n openshift-etcd --no-headers | awk '/CrashLoopBackOff/ {sub("etcd-", "", $1); print $1}')"
tmux -L "$socket" new-window "env ETCDCTL_ENDPOINTS=$ETCDCTL_ENDPOINTS ETCDCTL_CACERT=$ETCDCTL_CACERT ETCDCTL_CERT=$ETCDCTL_CERT ETCDCTL_KEY=$ETCDCTL_KEY KUBECONFIG=$KUBECONFIG ETCD_CONSOLE_LAB_DIR=$ETCD_CONSOLE_LAB_DIR $bin --context lab-admin-cert --log-dir $work/logs --journal-dir $work/journal5 --backup-dir $work/backups5"
sleep 4
tmux -L "$socket" send-keys g
for _ in 1 2 3; do
  tmux -L "$socket" capture-pane -p | grep -q "> $down" && break
  tmux -L "$socket" send-keys j
  sleep 0.5
done
sleep 3
shoot member-down
tmux -L "$socket" send-keys M
sleep 3
shoot member-plan
tmux -L "$socket" send-keys Enter
sleep 2
tmux -L "$socket" send-keys -l "lab-7xk2p/$down"
tmux -L "$socket" send-keys Enter
sleep 5
shoot member-replace

# NOSPACE: a sixth lab filled until etcd raised the alarm, the fill deleted; d opens the NOSPACE
# form with every member against the quota read from the etcd pods.
tmux -L "$socket" send-keys Escape
stop_lab
start_lab "$work/lab6" --scenario nospace
etcdctl del --prefix /lab/fill/ >/dev/null
tmux -L "$socket" new-window "env ETCDCTL_ENDPOINTS=$ETCDCTL_ENDPOINTS ETCDCTL_CACERT=$ETCDCTL_CACERT ETCDCTL_CERT=$ETCDCTL_CERT ETCDCTL_KEY=$ETCDCTL_KEY KUBECONFIG=$KUBECONFIG $bin --log-dir $work/logs --journal-dir $work/journal6"
sleep 5
tmux -L "$socket" send-keys d
sleep 2
shoot nospace

# What fills etcd: a seventh lab (the bloat scenario), s read once, then 300 more events in
# noisy-app and r: the growth said.
tmux -L "$socket" send-keys Escape
stop_lab
start_lab "$work/lab7" --scenario bloat
tmux -L "$socket" new-window "env ETCDCTL_ENDPOINTS=$ETCDCTL_ENDPOINTS ETCDCTL_CACERT=$ETCDCTL_CACERT ETCDCTL_CERT=$ETCDCTL_CERT ETCDCTL_KEY=$ETCDCTL_KEY KUBECONFIG=$KUBECONFIG $bin --log-dir $work/logs --space-dir $work/space7"
sleep 4
tmux -L "$socket" send-keys s
sleep 3
value="$(head -c 1000 /dev/zero | tr '\0' 'e')"
for i in $(seq 300); do etcdctl put "/kubernetes.io/events/noisy-app/late-$i" "$value" >/dev/null; done
tmux -L "$socket" send-keys r
sleep 3
shoot space

# Help at 80x24: a terminal of that size; the bottom border says where it is and how it scrolls.
kill "$xterm_pid" 2>/dev/null || true
tmux -L "$socket" send-keys Escape
DISPLAY="$display" xterm -tn xterm-256color -T ecl-shot -geometry 80x24+0+0 -fa 'DejaVu Sans Mono' -fs 11 -bg '#1e1e1e' -fg '#d4d4d4' \
  -e tmux -L "$socket" attach &
xterm_pid=$!
sleep 2
tmux -L "$socket" send-keys '?'
sleep 1
shoot help-80x24
