#!/bin/bash
# The whole test suite, as `make test` runs it:
#   1. lib/ unit tests, then the same tests under ASan+UBSan
#   2. fuzz targets, briefly, over their seed corpora
#   3. a throwaway stack (PostgreSQL, Redis, nginx + module, sender) on
#      fresh random ports, then the Test::Nginx suite (t/*.t) and the
#      end-to-end suite (t/e2e/*.t), its sender and cli files again with
#      ASan+UBSan builds of both (make bins-asan), and the browser test
#      (t/browser/) against it
# The stack is torn down on any exit.  Ends with "N passed, N failed" and
# exits non-zero if anything failed.
#
# `util/test-all.sh nginx` runs only the Test::Nginx files, on the
# Test::Nginx found in $TEST_NGINX_LIB (default: our runner in t/lib).
set -u
cd "$(dirname "$0")/.."
top=$PWD
mode=${1:-all}
build=${BUILD:-build}

total_pass=0
total_fail=0
failed_suites=()

# Add a suite's counts; $1 = name, $2 = passed, $3 = failed.
tally() {
    total_pass=$((total_pass + $2))
    total_fail=$((total_fail + $3))
    if [ "$3" -ne 0 ]; then
        failed_suites+=("$1")
    fi
}

# Run one C test binary (prints "N passed, N failed" at its end).
run_c_test() {
    local name=$1 bin=$2 out p f rc
    out=$("$bin" 2>&1)
    rc=$?
    printf '%s\n' "$out" | grep -E '^(not ok|#)' | sed "s|^|[$name] |"
    read -r p f < <(printf '%s\n' "$out" \
        | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' | tail -n 1)
    p=${p:-0}
    f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "[$name] exited with status $rc"
        f=1
    fi
    echo "$name: $p passed, $f failed"
    tally "$name" "$p" "$f"
}

# Run prove and count subtests from its summary.
run_prove() {
    local name=$1 out rc tests failed
    shift
    out=$(prove --timer "$@" 2>&1)
    rc=$?
    printf '%s\n' "$out" | sed "s|^|[$name] |"
    tests=$(printf '%s\n' "$out" | sed -nE 's/^Files=[0-9]+, Tests=([0-9]+),.*/\1/p')
    failed=$(printf '%s\n' "$out" \
        | sed -nE 's/.*Failed ([0-9]+)\/[0-9]+ subtests.*/\1/p' \
        | awk '{s += $1} END {print s + 0}')
    tests=${tests:-0}
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
        failed=1            # a file died or had a bad plan
    fi
    tally "$name" $((tests - failed < 0 ? 0 : tests - failed)) "$failed"
}

stack=""
stop_stack() {
    if [ -n "$stack" ]; then
        util/stack.sh stop "$stack" >/dev/null 2>&1 || true
        if [ "${KEEP_STACK:-}" = "" ]; then
            rm -rf "$stack"
        else
            echo "stack dir kept: $stack"
        fi
    fi
}
trap stop_stack EXIT
trap 'exit 130' INT TERM

start_stack() {
    stack=$(mktemp -d /tmp/webpush-test.XXXXXX)
    if ! util/stack.sh start "$stack"; then
        echo "could not start the test stack"
        tally "stack" 0 1
        return 1
    fi
    set -a
    # shellcheck disable=SC1091
    . "$stack/dev.env"
    set +a
    export TEST_NGINX_BINARY=${TEST_NGINX_BINARY:-nginx}
    export TEST_NGINX_LOAD_MODULES=$top/$build/nginx/ngx_http_webpush_module.so
    export TEST_NGINX_SERVROOT=$stack/servroot
    export TEST_NGINX_PORT
    TEST_NGINX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    export TEST_NGINX_SERVER_PORT=$TEST_NGINX_PORT
    export TEST_NGINX_PG_PORT=$PG_PORT TEST_NGINX_PG_SOCKET=$PG_SOCKET_DIR
    export TEST_NGINX_REDIS_PORT=$REDIS_PORT
    export TEST_NGINX_VAPID_PUBLIC_KEY=$VAPID_PUBLIC_KEY
    export TEST_NGINX_JWT_SECRET=$JWT_SECRET
    export WEBPUSH_TOP=$top WEBPUSH_BUILD=$top/$build
}

# The sender's and the cli's end-to-end files again, with both built under
# ASan+UBSan (make bins-asan): a report or a leak at exit aborts the
# process, which fails the file.  $@: files (default: the sender and cli
# ones).
e2e_asan() {
    if [ ! -x "$build/asan/bin/webpush-sender" ]; then
        echo "[e2e-asan] no $build/asan/bin (make bins-asan): not run"
        return
    fi
    local files=("$@")
    [ ${#files[@]} -gt 0 ] || files=(t/e2e/2*.t t/e2e/3[0-3]*.t)
    WEBPUSH_BUILD=$top/$build/asan/bin \
    ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        run_prove "e2e-asan" -I t/lib "${files[@]}"
}

# The sender's libcurl engine (WEBPUSH_HTTP2_CLIENT=libcurl, the fallback
# for our own HTTP/2 client) through the delivery, response-code and crash
# files: it must keep the same contract.  $@: files.
e2e_libcurl() {
    local files=("$@")
    [ ${#files[@]} -gt 0 ] || files=(t/e2e/20-*.t t/e2e/21-*.t t/e2e/22-*.t t/e2e/27-*.t)
    WEBPUSH_HTTP2_CLIENT=libcurl run_prove "e2e-libcurl" -I t/lib "${files[@]}"
}

nginx_tests() {
    local lib=${TEST_NGINX_LIB:-t/lib}
    run_prove "test-nginx" -I "$lib" t/
}

case "$mode" in
all)
    for b in "$build"/test/test_*; do
        [ -x "$b" ] && run_c_test "unit/$(basename "$b")" "$b"
    done
    for b in "$build"/asan/test_*; do
        [ -x "$b" ] && ASAN_OPTIONS=detect_leaks=1 \
            run_c_test "asan/$(basename "$b")" "$b"
    done
    if ls "$build"/fuzz/fuzz_* >/dev/null 2>&1; then
        out=$(util/fuzz-smoke.sh "$build"/fuzz/fuzz_*)
        printf '%s\n' "$out" | sed 's|^|[fuzz] |'
        read -r p f < <(printf '%s\n' "$out" \
            | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/p')
        tally "fuzz" "${p:-0}" "${f:-1}"
    fi
    if start_stack; then
        nginx_tests
        if ls t/e2e/*.t >/dev/null 2>&1; then
            run_prove "e2e" -I t/lib t/e2e/
        fi
        e2e_asan
        e2e_libcurl
        # client/ in headless Chromium against this stack (t/browser/run.sh)
        run_prove "browser" t/browser/
    fi
    ;;
nginx)
    start_stack && nginx_tests
    ;;
e2e)
    # util/test-all.sh e2e [t/e2e/NN-file.t ...]: a few e2e files only
    shift || true
    start_stack && run_prove "e2e" -I t/lib "${@:-t/e2e/}"
    ;;
e2e-asan)
    # util/test-all.sh e2e-asan [files]: the same under ASan+UBSan builds
    shift || true
    start_stack && e2e_asan "$@"
    ;;
e2e-libcurl)
    # util/test-all.sh e2e-libcurl [files]: the sender on its libcurl engine
    shift || true
    start_stack && e2e_libcurl "$@"
    ;;
*)
    echo "usage: $0 [all|nginx|e2e [files]|e2e-asan [files]|e2e-libcurl [files]]" >&2
    exit 2
    ;;
esac

if [ ${#failed_suites[@]} -gt 0 ]; then
    echo "failed suites: ${failed_suites[*]}"
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ "$total_pass" -gt 0 ]
