# Sourced by the scripts that need a lab in the background.
# start_lab DIR [etcd-console flags...]: starts `lab serve` in DIR, waits for
# DIR/lab.env, exports its variables and sets LAB_PID.
start_lab() {
  local dir="$1"
  shift
  ./target/release/etcd-console lab serve --dir "$dir" --log-dir "$dir/../logs" "$@" >/dev/null 2>&1 &
  LAB_PID=$!
  for _ in $(seq 150); do
    [ -f "$dir/lab.env" ] && break
    kill -0 "$LAB_PID" 2>/dev/null || { echo "the lab did not start: see $dir/../logs and $dir/logs" >&2; return 1; }
    sleep 0.2
  done
  set -a
  . "$dir/lab.env"
  set +a
}

stop_lab() {
  [ -n "${LAB_PID:-}" ] && kill "$LAB_PID" 2>/dev/null && wait "$LAB_PID" 2>/dev/null || true
}

# need_hyperfine: installs Debian's hyperfine when it is missing (the comparison scripts time with it).
need_hyperfine() {
  command -v hyperfine >/dev/null 2>&1 && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq hyperfine >/dev/null
}
