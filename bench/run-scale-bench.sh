#!/usr/bin/env bash
# One command for the scale bench: starts an Atrium portal (bench/lib/portal.sh), runs bench/scale-bench.ts
# against it, and stops the portal.
#   bash bench/run-scale-bench.sh [--kernels 100] [--clients 1000] [--start-width 10] [--out FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
export ATRIUM_BENCH_MAX_KERNELS=${ATRIUM_BENCH_MAX_KERNELS:-1000}
export ATRIUM_BENCH_INSPECT=1 # the portal's memory after a collection, per kernel and per client
source bench/lib/portal.sh
node --import tsx bench/scale-bench.ts --atrium-url "http://localhost:$PORT" --atrium-token "$TOKEN" --atrium-pid "$PORTAL" --inspect-port "$INSPECT_PORT" "$@"
