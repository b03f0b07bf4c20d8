#!/usr/bin/env bash
# One command for the YARN launch bench (bench/yarn/yarn-launch-bench.ts): Atrium's spark_python_yarn_cluster
# kernel against Jupyter Enterprise Gateway 3.3.0's own, alternating, on one Hadoop mini cluster at ports +7000.
# It provisions what it needs (cached under ~/.cache/atrium), starts and stops everything itself, and never
# builds Atrium's web app: it needs an existing production build (.next) in this checkout.
#   bash bench/yarn/run-yarn-bench.sh [--reps 5] [--warmup 1] [--port-offset 7000] [--out FILE] [--keep-work]
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -f .next/BUILD_ID ]; then
  echo "No production build (.next/BUILD_ID) in $(pwd): this bench does not run 'next build'." >&2
  echo "Build first: node server/cli/atrium.mjs build" >&2
  exit 2
fi
exec node --import tsx bench/yarn/yarn-launch-bench.ts "$@"
