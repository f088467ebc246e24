#!/usr/bin/env bash
# Opens the console on a 3-member lab of real etcd members (no cluster needed).
# Extra arguments go to `etcd-console lab`, e.g. --members 5 --quota-bytes 64MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --quiet
exec ./target/release/etcd-console lab "$@"
