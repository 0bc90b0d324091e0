#!/bin/bash
# The dev/test stack on 127.0.0.1: PostgreSQL 15, Redis, nginx with the
# webpush module over HTTPS, and webpush-sender.  All state in one dir.
#
#   util/stack.sh start DIR   start everything, write DIR/dev.env, migrate
#   util/stack.sh stop [DIR]  stop what `start DIR` started (default ./var)
#   util/stack.sh run [DIR]   start DIR (default ./var), wait for Ctrl-C or
#                             TERM, then stop: this is `make run`
#   util/stack.sh status [DIR]
#
# `start` picks random free ports; `run` (and STACK_STABLE_PORTS=1) prefers
# API 8443, PostgreSQL 55432, Redis 56379 when free.  In `run` mode Redis
# keeps an AOF in DIR (closer to production); for tests it keeps nothing.
# The TLS certificate, VAPID keys, JWT secret and the database persist in
# DIR, so `make run` twice keeps them.  Every pid is recorded in DIR and
# `stop` signals only those (after checking each is still ours).
#
# Environment: BUILD (default build, relative to the tree or absolute),
# STACK_PERSIST=1 (Redis AOF also for `start`), STACK_NGINX_CONF_IN (default
# util/nginx.conf.in), STACK_SKIP ("nginx", "sender" or both: do not start
# those), PG_BIN (PostgreSQL server bin dir), and the tunables LOG_LEVEL,
# PUSH_*, ENABLE_*, VAPID_SUBJECT, which reach dev.env.
# WEBPUSH_ALLOWED_ENDPOINTS and WEBPUSH_CA_FILE, when set, reach dev.env and
# so the module and the sender.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
case "${BUILD:-build}" in
    /*) build=$BUILD ;;
    *)  build=$top/${BUILD:-build} ;;
esac
cli=$build/webpush-cli
sender=$build/webpush-sender
sender_name=$sender
module=$build/nginx/ngx_http_webpush_module.so
export WEBPUSH_CLIENT_DIR=${WEBPUSH_CLIENT_DIR:-$top/client}  # /demo/ in nginx.conf.in
ready_path=/api/push/vapid-public-key

# shellcheck source=util/lib-stack.sh
. "$top/util/lib-stack.sh"

usage() {
    echo "usage: $0 start DIR | stop [DIR] | run [DIR] | status [DIR]" >&2
    exit 2
}

# Make $1 absolute (creating it unless $2 is "existing"); sets $dir.
# For stop and status, a missing dir means nothing runs: exit 0 at once.
set_dir() {
    case "$1" in
        *[[:space:]]*) err "the stack dir must not contain blanks: $1"; exit 2 ;;
    esac
    if [ "${2:-}" = existing ] && [ ! -d "$1" ]; then
        say "nothing running in $1 (no such directory)"
        exit 0
    fi
    mkdir -p "$1" || { err "cannot create $1"; exit 1; }
    dir=$(cd "$1" && pwd)
}

# Load the ports `start` recorded (missing file: nothing was started).
load_state() {
    API_PORT='' PG_PORT='' REDIS_PORT='' SENDER_BIN=$sender
    if [ -f "$dir/stack.state" ]; then
        # shellcheck disable=SC1091
        . "$dir/stack.state"
    fi
    sender_name=$SENDER_BIN
    api_url=https://127.0.0.1:$API_PORT
}

skipped() {
    case " ${STACK_SKIP:-} " in *" $1 "*|*" $1,"*|*",$1 "*|*",$1,"*) return 0 ;; esac
    return 1
}

# ---- start ---------------------------------------------------------------

# Run one start step ("$2 ..."), say how long it took; on failure stop
# what was started and exit 1.
step() {
    local name=$1 t0 t1
    shift
    t0=$(date +%s%N)
    if ! "$@"; then
        fail "$name: failed to start"
    fi
    t1=$(date +%s%N)
    say "  $name: ok ($(( (t1 - t0) / 1000000 )) ms)"
}

# Stop whatever this start got to, report, exit 1.
fail() {
    err "$1"
    err "stopping what was started in $dir"
    do_stop >&2 || true
    exit 1
}

do_start() {
    local taken="" t0 t1 want_api want_pg want_redis

    t0=$(date +%s%N)
    load_state
    if [ -n "$(running)" ]; then
        err "a stack is already running in $dir ($(running | tr '\n' ' '))"
        err "stop it first: $0 stop $dir"
        exit 1
    fi

    # An interrupted start stops what it got to.
    trap 'fail "interrupted"' INT TERM HUP

    # postgres must reach DIR/pg, nginx workers (nobody) DIR/nginx.
    chmod 0755 "$dir"
    mkdir -p "$dir/logs"

    if [ "${STACK_STABLE_PORTS:-0}" = 1 ]; then
        want_api=8443 want_pg=55432 want_redis=56379
    else
        want_api='' want_pg='' want_redis=''
    fi
    API_PORT=$(pick_port "$want_api") || fail "no free port for the API"
    taken=$API_PORT
    PG_PORT=$(pick_port "$want_pg") || fail "no free port for PostgreSQL"
    taken="$taken $PG_PORT"
    REDIS_PORT=$(pick_port "$want_redis") || fail "no free port for Redis"
    printf 'API_PORT=%s\nPG_PORT=%s\nREDIS_PORT=%s\nSENDER_BIN=%s\n' \
        "$API_PORT" "$PG_PORT" "$REDIS_PORT" "$sender" >"$dir/stack.state"
    api_url=https://127.0.0.1:$API_PORT

    step "PostgreSQL on 127.0.0.1:$PG_PORT" pg_start
    step "Redis on 127.0.0.1:$REDIS_PORT" redis_start
    step "TLS certificate" tls_make
    step "VAPID keys, JWT secret" secrets_make
    step "$(rel "$dir")/dev.env" env_write
    step "migrations" migrate
    if ! skipped nginx; then
        step "nginx + module on $api_url" nginx_start
    fi
    if ! skipped sender; then
        step "webpush-sender" sender_start
    fi

    trap - INT TERM HUP
    t1=$(date +%s%N)
    say "stack started in $(( (t1 - t0) / 1000000 )) ms"
}

# ---- stop ----------------------------------------------------------------

do_stop() {
    load_state
    sender_stop
    nginx_stop
    [ -n "$REDIS_PORT" ] && redis_stop
    pg_stop
}

# "name pid" of each of our processes still alive.
running() {
    local p
    p=$(live_pid "$dir/sender.pid" "$sender_name")
    [ -n "$p" ] && echo "sender $p"
    p=$(live_pid "$dir/nginx/nginx.pid" "$dir/nginx/")
    [ -n "$p" ] && echo "nginx $p"
    if [ -n "$REDIS_PORT" ]; then
        p=$(live_pid "$dir/redis/redis.pid" "redis-server 127.0.0.1:$REDIS_PORT")
        [ -n "$p" ] && echo "redis $p"
    fi
    p=$(live_pid "$dir/pg/data/postmaster.pid" "$dir/pg/data")
    [ -n "$p" ] && echo "postgres $p"
    return 0
}

# ---- info ----------------------------------------------------------------

rel() {
    case "$1" in
        "$PWD"/*) echo "${1#"$PWD"/}" ;;
        *) echo "$1" ;;
    esac
}

print_info() {
    local d f='  %-22s %-30s %s\n'
    d=$(rel "$dir")
    echo
    echo "webpush stack in $d"
    # shellcheck disable=SC2059
    {
        printf "$f" "API (nginx + module)" "$api_url" "logs: $d/nginx/logs/"
        printf "$f" "webpush-sender" \
            "pid $(cat "$dir/sender.pid" 2>/dev/null || echo -)" \
            "log:  $d/logs/sender.log"
        printf "$f" "PostgreSQL" "127.0.0.1:$PG_PORT/webpush" \
            "log:  $d/logs/postgres.log"
        printf "$f" "Redis" "127.0.0.1:$REDIS_PORT" "log:  $d/logs/redis.log"
    }
    cat <<EOF

Try it:
  . $d/dev.env
  curl --cacert "\$API_CA_FILE" "\$API_URL/api/push/vapid-public-key"
  TOKEN=\$($(rel "$cli") token --sub user-1)
  curl --cacert "\$API_CA_FILE" -H "Authorization: Bearer \$TOKEN" \\
       -H 'Content-Type: application/json' "\$API_URL/api/push/subscribe" \\
       -d '{"endpoint":"https://fcm.googleapis.com/fcm/send/demo-1","keys":{"p256dh":"BKOCQyDEnwSEVV3mseO2YFDT7BMqYB5FwsCBU4ND52JjJ0dzOGpzbWax0zwJKFC1trBW88gxuHUZ8bcUCq7H-dI","auth":"Rkiw-wPcSkOC7j9GKjhZ0Q"}}'
  Demo page: \$API_URL/demo/demo.html   (trust \$API_CA_FILE first; see client/README.md)
  psql "\$DATABASE_URL"        redis-cli -p \$REDIS_PORT
Stop: make stop   (or: util/stack.sh stop $d)
EOF
}

# ---- main ----------------------------------------------------------------

[ $# -ge 1 ] || usage
cmd=$1
shift

case "$cmd" in
start)
    [ $# -eq 1 ] || usage
    set_dir "$1"
    persist=${STACK_PERSIST:-0}
    do_start
    print_info
    ;;
stop)
    [ $# -le 1 ] || usage
    set_dir "${1:-$top/var}" existing
    out=$(do_stop)
    printf '%s\n' "${out:-nothing running in $dir}"
    ;;
status)
    [ $# -le 1 ] || usage
    set_dir "${1:-$top/var}" existing
    load_state
    out=$(running)
    printf '%s\n' "${out:-nothing running in $dir}"
    ;;
run)
    [ $# -le 1 ] || usage
    set_dir "${1:-$top/var}"
    persist=1
    export STACK_STABLE_PORTS=1
    do_start
    print_info
    trap 'echo; echo "stopping..."; do_stop; exit 0' INT TERM HUP
    echo
    echo "running; Ctrl-C stops everything"
    # Wake up regularly so the trap runs promptly; notice a dead service.
    while :; do
        sleep 1 &
        wait $! || true
        if ! skipped sender && [ -z "$(live_pid "$dir/sender.pid" "$sender_name")" ]; then
            err "webpush-sender exited; see $(rel "$dir")/logs/sender.log"
            show_log "$dir/logs/sender.log" 20
            do_stop
            exit 1
        fi
    done
    ;;
*)
    usage
    ;;
esac
