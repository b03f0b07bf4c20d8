#!/usr/bin/env bash
# One command for the kernel gateway bench: starts an Atrium portal (bench/lib/portal.sh), runs every target
# in one run, and stops the portal.
#   bash bench/run-kernel-bench.sh [extra kernel-bench.ts flags, e.g. --iterations 300 or --concurrent 110]
#   ATRIUM_BENCH_TARGETS=direct,atrium,... picks targets; a burst larger than ATRIUM_BENCH_MAX_KERNELS (100)
#   shows Atrium's quota refusals.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/portal.sh
node --import tsx bench/kernel-bench.ts --targets "${ATRIUM_BENCH_TARGETS:-direct,atrium,jeg,kg,jeg-nodelay,kg-nodelay}" \
  --atrium-url "http://localhost:$PORT" --atrium-token "$TOKEN" "$@"
