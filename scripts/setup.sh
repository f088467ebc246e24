#!/usr/bin/env bash
# Installs what etcd-console needs to build, run its lab and run its tests on a
# fresh Debian machine: protoc (etcd-client's build), the real etcd server and
# etcdctl, tmux (end-to-end tests), kubectl (the referee of the lab's simulated
# OpenShift API; Debian's kubernetes-client ships one), ssh and sshd (the restore's
# host steps, tested against a real sshd), sudo (what `backup --via ssh` runs
# there), curl (etcd's /metrics, the referee of the space reading's cost).
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

if [ "${#need[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is missing: install the Rust toolchain (https://rustup.rs), then run this again" >&2
  exit 1
fi
