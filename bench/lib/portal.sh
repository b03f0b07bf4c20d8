# Sourced by the bench scripts: starts an Atrium portal for a bench and stops it on exit.
# Production build, embedded database in a temp data dir, kernels from the bench's own kernel venv (so every
# target runs the same ipykernel), a user bench@bench.test with a personal token and a quota with room for
# ATRIUM_BENCH_MAX_KERNELS kernels (vCores, memory and budget out of the way).
# Sets: PORT, PORTAL (the portal's pid), TOKEN, DATA, and INSPECT_PORT with ATRIUM_BENCH_INSPECT=1.
# ATRIUM_BENCH_SKIP_BUILD=1 skips the build (only when
# .next is current).
node bench/setup.mjs >/dev/null
KERNEL_PY=$(ls -d "${ATRIUM_CACHE_DIR:-$HOME/.cache/atrium}"/bench-venv-*/kernel/bin/python | head -1)
[ -n "${ATRIUM_BENCH_SKIP_BUILD:-}" ] || node server/cli/atrium.mjs build
DATA=$(mktemp -d /tmp/atrium-bench-portal-XXXX)
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
export ATRIUM_DATA_DIR="$DATA" ATRIUM_PYTHON="$KERNEL_PY" PORT ATRIUM_ADMIN_EMAIL=admin@bench.test ATRIUM_ADMIN_PASSWORD=bench-admin-pw
# ATRIUM_BENCH_INSPECT=1: the portal's inspector listens on loopback (INSPECT_PORT), for the scale bench to read its
# memory after a garbage collection (bench/lib/inspector.ts). Off for the latency bench.
NODE_FLAGS=()
if [ -n "${ATRIUM_BENCH_INSPECT:-}" ]; then
  INSPECT_PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  NODE_FLAGS=(--inspect=127.0.0.1:"$INSPECT_PORT")
fi
setsid node "${NODE_FLAGS[@]}" server/cli/atrium.mjs start >"$DATA/portal.log" 2>&1 &
PORTAL=$!
trap 'kill -TERM -- -$PORTAL 2>/dev/null || true; sleep 2; kill -KILL -- -$PORTAL 2>/dev/null || true; [ -n "${ATRIUM_BENCH_KEEP_DATA:-}" ] && echo "portal data kept in $DATA" || rm -rf "$DATA"' EXIT
for _ in $(seq 1 120); do curl -fs "http://localhost:$PORT/api" >/dev/null && break; sleep 1; done
curl -fs "http://localhost:$PORT/api" >/dev/null || { echo "Atrium did not start; see $DATA/portal.log"; cat "$DATA/portal.log"; exit 1; }
printf 'bench-user-pw\n' | node server/cli/atrium.mjs users add bench@bench.test --password-stdin >/dev/null
TOKEN=$(node server/cli/atrium.mjs tokens create --user bench@bench.test)
node server/cli/atrium.mjs quota set --user bench@bench.test --max-kernels "${ATRIUM_BENCH_MAX_KERNELS:-100}" \
  --max-vcores 10000 --max-memory-gb 100000 --monthly-vcore-hours 1000000 >/dev/null
