#!/bin/bash
# Run every benchmark under bench/, each printing its figures next to the
# peer or limit it is compared with (measured in the same run).
set -eu
cd "$(dirname "$0")/.."
build=${BUILD:-build}
secs=${BENCH_SECONDS:-2}

echo "== bench/ece_bench: per-message encryption vs the EC floor"
"$build"/bench/ece_bench "$secs"
