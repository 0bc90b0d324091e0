#!/bin/bash
# Run each fuzz target briefly over its seed corpus (t/fuzz/corpus/<name>),
# in a scratch corpus dir so the repository's seeds are never rewritten.
# Prints one TAP-ish line per target and a closing "N passed, N failed".
set -u
secs=${FUZZ_SMOKE_SECONDS:-8}
pass=0 fail=0
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

for f in "$@"; do
    name=$(basename "$f")
    seeds=t/fuzz/corpus/$name
    mkdir -p "$scratch/$name"
    args=("$scratch/$name")
    [ -d "$seeds" ] && args+=("$seeds")
    if "$f" -max_total_time="$secs" -timeout=5 -rss_limit_mb=1024 \
            "${args[@]}" >"$scratch/$name.log" 2>&1; then
        echo "ok - fuzz $name ($(grep -c . "$scratch/$name.log") log lines, ${secs}s)"
        pass=$((pass + 1))
    else
        echo "not ok - fuzz $name"
        tail -n 40 "$scratch/$name.log" | sed 's/^/#   /'
        fail=$((fail + 1))
    fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
