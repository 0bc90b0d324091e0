#!/bin/bash
# Run every benchmark under bench/, each printing its figures next to the
# peer or limit it is compared with (measured in the same run).
set -eu
cd "$(dirname "$0")/.."
build=${BUILD:-build}
secs=${BENCH_SECONDS:-2}

echo "== bench/ece_bench: per-message encryption vs the EC floor"
"$build"/bench/ece_bench "$secs"

echo "== bench/sender_bench.sh: webpush-sender vs the crypto floor and Node web-push, on loopback and at a push service's round trip"
bench/sender_bench.sh

echo "== bench/api_bench.sh: the module's routes vs return 200, pgbench, redis-benchmark"
if command -v wrk >/dev/null; then
    BENCH_SECONDS=${BENCH_SECONDS:-5} bench/api_bench.sh
else
    echo "(skipped: wrk is not installed; make bench installs it)"
fi
