#!/bin/bash
# bench/api_bench.sh: the module's routes against their ceilings, side by
# side in one run, same concurrency, loopback, plain HTTP/1.1 keep-alive:
#
#   vapid-public-key  vs  nginx's own `return 200` of the same body
#                         (target: >= 80 %)
#   subscribe         vs  pgbench running the same upsert statement
#                         (extended protocol, like the module) with as many
#                         clients as wrk has connections (target: >= 70 %)
#   send              vs  redis-benchmark XADD of a job of the same size
#                         (target: >= 50 %)
#
# Each line: requests/s, p50 and p99 latency, and the ratio.  The machine
# is shared: read ratios, not absolute figures.  Needs wrk (apt-get install
# wrk).  Env: BENCH_SECONDS (5), BENCH_CONC (50), BENCH_THREADS (2), BUILD.
set -eu
cd "$(dirname "$0")/.."
top=$PWD
case "${BUILD:-build}" in /*) build=$BUILD ;; *) build=$top/${BUILD:-build} ;; esac
SECS=${BENCH_SECONDS:-5}
CONC=${BENCH_CONC:-50}
THREADS=${BENCH_THREADS:-2}
work=$(mktemp -d /tmp/wpapibench.XXXXXX)
chmod 0755 "$work"
nginx_started=''

command -v wrk >/dev/null || { echo "api_bench: wrk missing (apt-get install wrk)" >&2; exit 1; }

cleanup() {
    if [ -n "$nginx_started" ] && [ -f "$work/nginx.pid" ]; then
        kill -QUIT "$(cat "$work/nginx.pid")" 2>/dev/null || true
        sleep 0.5
    fi
    util/stack.sh stop "$work/stack" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- PostgreSQL + Redis, then our own nginx --------------------------------
STACK_SKIP="nginx sender" BUILD=$build util/stack.sh start "$work/stack" >/dev/null
set -a
# shellcheck disable=SC1091
. "$work/stack/dev.env"
set +a

port=$(free_port)
mkdir -p "$work/logs" "$work/tmp"
key_json="{\"publicKey\":\"$VAPID_PUBLIC_KEY\"}"
cat >"$work/nginx.conf" <<EOF
load_module $build/nginx/ngx_http_webpush_module.so;
worker_processes 2;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/tmp;
    proxy_temp_path $work/tmp;
    fastcgi_temp_path $work/tmp;
    uwsgi_temp_path $work/tmp;
    scgi_temp_path $work/tmp;
    keepalive_requests 1000000;

    webpush_vapid_public_key $VAPID_PUBLIC_KEY;
    webpush_postgres "$DATABASE_URL" max_conns=$CONC max_waiting=1024;
    webpush_redis "$REDIS_URL" "prefix={bench}:";
    webpush_jwt_secret "$JWT_SECRET";

    server {
        listen 127.0.0.1:$port;
        location = /return200 {
            default_type application/json;
            return 200 '$key_json';
        }
        location = /api/push/vapid-public-key { webpush_vapid_key; }
        location = /api/push/subscribe { webpush_subscribe; }
        location = /api/push/send { webpush_send; }
    }
}
EOF
nginx -p "$work/" -c "$work/nginx.conf" -e "$work/logs/error.log"
nginx_started=1
base=http://127.0.0.1:$port

user_tok=$("$build/webpush-cli" token --sub bench-user)
admin_tok=$("$build/webpush-cli" token --sub bench-ops --role admin)
auth=$(printf '%s' "$VAPID_PUBLIC_KEY")

# ---- wrk scripts ----------------------------------------------------------
cat >"$work/subscribe.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $user_tok"
math.randomseed(os.time() + math.floor(os.clock() * 1e6))
request = function()
    local body = string.format('{"endpoint":"https://fcm.googleapis.com/fcm/send/b%d",'
        .. '"keys":{"p256dh":"$auth","auth":"MDEyMzQ1Njc4OWFiY2RlZg"}}',
        math.random(1, 2000000000))
    return wrk.format(nil, nil, nil, body)
end
EOF

job_payload='{"title":"Concert moved","body":"The show starts at 21:00 instead of 20:00","url":"/events/123"}'
send_body="{\"type\":\"event_update\",\"eventId\":\"123\",\"to\":{\"topic\":\"event:123\"},\"payload\":$job_payload}"
cat >"$work/send.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $admin_tok"
wrk.body = '$send_body'
EOF

# wrk: "rps p50_ms p99_ms non2xx"
run_wrk() {
    local out
    out=$(wrk -t"$THREADS" -c"$CONC" -d"${SECS}s" --latency "$@" 2>&1)
    printf '%s\n' "$out" | awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
                         if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec:/ { rps = $2 }
        /^ +50%/ { p50 = ms($2) }
        /^ +99%/ { p99 = ms($2) }
        /Non-2xx/ { bad = $NF }
        END { printf "%.0f %.2f %.2f %d\n", rps, p50, p99, bad + 0 }'
}

row() {   # name rps p50 p99 peer_name peer_rps peer_p50 peer_p99 target
    local ratio
    ratio=$(awk -v a="$2" -v b="$6" 'BEGIN { printf "%.0f", (b > 0 ? 100 * a / b : 0) }')
    printf '%-18s %9s req/s  p50 %6s ms  p99 %6s ms  | %-22s %9s /s  p50 %6s ms  p99 %6s ms  | %4s %% (target %s %%)\n' \
        "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "$ratio" "$9"
}

echo "api_bench: $CONC connections, $THREADS wrk threads, ${SECS}s each, loopback HTTP/1.1"

# warm the pool and the connections
wrk -t1 -c"$CONC" -d1s -s "$work/subscribe.lua" "$base/api/push/subscribe" >/dev/null 2>&1 || true

# ---- 1. VAPID key vs return 200 -------------------------------------------
read -r r1 a1 b1 e1 < <(run_wrk "$base/return200")
read -r r2 a2 b2 e2 < <(run_wrk "$base/api/push/vapid-public-key")
row "vapid-public-key" "$r2" "$a2" "$b2" "nginx return 200" "$r1" "$a1" "$b1" 80
[ "$e1$e2" = 00 ] || echo "  (non-2xx answers: return200 $e1, vapid $e2)"

# ---- 2. subscribe vs pgbench, same statement -------------------------------
read -r r3 a3 b3 e3 < <(run_wrk -s "$work/subscribe.lua" "$base/api/push/subscribe")
# The module's statement, with literals for pgbench's variables.
sql=$(sed -n '/ngx_http_webpush_subscribe_sql\[\] =/,/;$/p' src/ngx_http_webpush_subscribe.c \
      | sed '1d; s/^ *"//; s/" *$//; s/";$//; s/\\"/"/g' | tr -d '\n')
sql=${sql//\$1/\'bench-user\'}
sql=${sql//\$2/\'https://fcm.googleapis.com/fcm/send/p\' || :n}
sql=${sql//\$3/\'$VAPID_PUBLIC_KEY\'}
sql=${sql//\$4/\'MDEyMzQ1Njc4OWFiY2RlZg\'}
sql=${sql//\$5/\'wrk\'}
sql=${sql//\$6/\'false\'}
sql=${sql//\$7/\'\{\}\'}
printf '\\set n random(1, 2000000000)\n%s;\n' "$sql" >"$work/upsert.sql"
pgout=$(pgbench -n -M extended -c "$CONC" -j "$THREADS" -T "$SECS" \
        -l --log-prefix="$work/pgb" -f "$work/upsert.sql" "$DATABASE_URL" 2>&1) \
    || { echo "$pgout" >&2; exit 1; }
r4=$(printf '%s\n' "$pgout" | sed -nE 's/^tps = ([0-9.]+) .*/\1/p' | head -1)
read -r a4 b4 < <(cat "$work"/pgb* | awk '{print $3 / 1000}' | sort -n \
    | awk '{ v[NR] = $1 } END { printf "%.2f %.2f\n", v[int(NR * 0.5)], v[int(NR * 0.99)] }')
row "subscribe" "$r3" "$a3" "$b3" "pgbench same upsert" "${r4%.*}" "$a4" "$b4" 70
[ "$e3" = 0 ] || echo "  (non-2xx answers: subscribe $e3)"

# ---- 3. send vs redis-benchmark XADD ---------------------------------------
read -r r5 a5 b5 e5 < <(run_wrk -s "$work/send.lua" "$base/api/push/send")
job=$(redis-cli -p "$REDIS_PORT" --raw XREVRANGE '{bench}:jobs' + - COUNT 1 | sed -n 3p)
rbout=$(redis-benchmark -p "$REDIS_PORT" -c "$CONC" -n $((CONC * 2000)) \
        XADD '{bench}:rb' '*' job "$job" 2>&1)
r6=$(printf '%s\n' "$rbout" | sed -nE 's/.*throughput summary: ([0-9.]+) requests per second.*/\1/p' | tail -1)
read -r a6 b6 < <(printf '%s\n' "$rbout" | awk '/latency summary/ { getline; getline; print $3, $5 }')
row "send" "$r5" "$a5" "$b5" "redis-benchmark XADD" "${r6%.*}" "$a6" "$b6" 50
echo "  (job JSON ${#job} bytes)"
[ "$e5" = 0 ] || echo "  (non-2xx answers: send $e5)"
