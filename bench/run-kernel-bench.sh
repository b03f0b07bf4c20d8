#!/usr/bin/env bash
# One command for the kernel gateway bench: starts an Atrium portal (production build, embedded database,
# kernels from the bench's own kernel venv so every target runs the same ipykernel), makes a user and a
# token, runs every target in one run, and stops the portal.
#   bash bench/run-kernel-bench.sh [extra kernel-bench.ts flags, e.g. --iterations 300 or --concurrent 110]
set -euo pipefail
cd "$(dirname "$0")/.."
node bench/setup.mjs >/dev/null
KERNEL_PY=$(ls -d "${ATRIUM_CACHE_DIR:-$HOME/.cache/atrium}"/bench-venv-*/kernel/bin/python | head -1)
[ -n "${ATRIUM_BENCH_SKIP_BUILD:-}" ] || node server/cli/atrium.mjs build  # skip only when .next is current
DATA=$(mktemp -d /tmp/atrium-bench-portal-XXXX)
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
export ATRIUM_DATA_DIR="$DATA" ATRIUM_PYTHON="$KERNEL_PY" PORT ATRIUM_ADMIN_EMAIL=admin@bench.test ATRIUM_ADMIN_PASSWORD=bench-admin-pw
setsid node server/cli/atrium.mjs start >"$DATA/portal.log" 2>&1 &
PORTAL=$!
trap 'kill -TERM -- -$PORTAL 2>/dev/null || true; sleep 2; kill -KILL -- -$PORTAL 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 120); do curl -fs "http://localhost:$PORT/api" >/dev/null && break; sleep 1; done
curl -fs "http://localhost:$PORT/api" >/dev/null || { echo "Atrium did not start; see $DATA/portal.log"; cat "$DATA/portal.log"; exit 1; }
printf 'bench-user-pw\n' | node server/cli/atrium.mjs users add bench@bench.test --password-stdin >/dev/null
TOKEN=$(node server/cli/atrium.mjs tokens create --user bench@bench.test)
# Room for a --concurrent burst: at most ATRIUM_BENCH_MAX_KERNELS kernels at once (a larger burst shows the
# refusals); vCores, memory and budget out of the way.
node server/cli/atrium.mjs quota set --user bench@bench.test --max-kernels "${ATRIUM_BENCH_MAX_KERNELS:-100}" \
  --max-vcores 10000 --max-memory-gb 100000 --monthly-vcore-hours 1000000 >/dev/null
node --import tsx bench/kernel-bench.ts --targets "${ATRIUM_BENCH_TARGETS:-direct,atrium,jeg,kg,jeg-nodelay,kg-nodelay}" \
  --atrium-url "http://localhost:$PORT" --atrium-token "$TOKEN" "$@"
