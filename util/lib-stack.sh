# shellcheck shell=bash disable=SC1091,SC2154
# Functions for util/stack.sh: one service each, all state in $dir.
# They use the globals stack.sh sets: top dir cli sender sender_name module
# api_url ready_path persist taken.
# Sourced, not run.  Each function prints its own clear error on stderr and
# returns non-zero; the caller decides to tear down.
#
# Layout of a stack dir ($dir):
#   stack.state         ports and paths picked by `start` (sourced by `stop`)
#   dev.env             what clients source (0600: holds the secrets)
#   secrets.env         VAPID keys and JWT secret, generated once, kept
#   tls/cert.pem, key.pem      self-signed, 127.0.0.1 + localhost, kept
#   pg/data  pg/run     PostgreSQL cluster (postgres-owned) and socket dir
#   redis/              redis pidfile, socket, AOF (make run)
#   nginx/conf/nginx.conf  nginx/logs/  nginx/tmp/
#   logs/{postgres,redis,sender}.log
#   sender.pid

# ---- small helpers -------------------------------------------------------

say() {
    printf '%s\n' "$*"
}

err() {
    printf 'stack: %s\n' "$*" >&2
}

# Print the last lines of a log file, indented, on stderr.
show_log() {
    if [ -s "$1" ]; then
        printf '  --- last lines of %s ---\n' "$1" >&2
        tail -n "${2:-15}" "$1" | sed 's/^/  | /' >&2
    fi
}

# Run a command as the postgres user when we are root (initdb and pg_ctl
# refuse to run as root), as ourselves otherwise.
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A free port: $1 if given and free, else a random one in 20000-32767
# (below Linux's ephemeral range), distinct from the ports in $taken.
pick_port() {
    local want=${1:-} p _
    if [ -n "$want" ] && ! port_busy "$want"; then
        echo "$want"
        return 0
    fi
    for _ in $(seq 1 50); do
        p=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 12768))
        case " $taken " in *" $p "*) continue ;; esac
        if ! port_busy "$p"; then
            echo "$p"
            return 0
        fi
    done
    err "no free port found"
    return 1
}

# Wait up to $1 tenths of a second for the command "$2 ..." to succeed.
wait_for() {
    local n=$1 _
    shift
    for _ in $(seq 1 "$n"); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# True when pid $1 exists and is not a zombie (PID 1 may be slow to reap
# orphans, and our own children stay zombies until we wait for them).
alive() {
    local stat
    [ -r "/proc/$1/stat" ] || return 1
    read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

# pid from file $1 if that process is alive and its command line contains
# $2 (so a recycled pid is never taken for ours); empty otherwise.
live_pid() {
    local pid
    [ -s "$1" ] || return 0
    pid=$(head -n 1 "$1" | tr -dc 0-9)
    [ -n "$pid" ] && alive "$pid" || return 0
    if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2"; then
        echo "$pid"
    fi
}

dead() {
    ! alive "$1"
}

# Send signal $2 to pid $1, then wait up to $3 tenths of a second for it
# to exit.  Returns non-zero if it is still there.
signal_wait() {
    kill "-$2" "$1" 2>/dev/null || return 0
    wait_for "$3" dead "$1"
}

# Stop pid $1 (named $2): signals $3, then TERM, then KILL.
stop_pid() {
    local pid=$1 name=$2 first=$3
    signal_wait "$pid" "$first" 100 && { say "stopped $name (pid $pid)"; return 0; }
    [ "$first" != TERM ] && signal_wait "$pid" TERM 30 \
        && { say "stopped $name (pid $pid, after TERM)"; return 0; }
    signal_wait "$pid" KILL 20
    say "killed $name (pid $pid): it did not stop on $first"
}

# Append NAME='value' (quoted for sh) to file $1 as an export line.
env_line() {
    local q="'\\''"
    printf "export %s='%s'\n" "$2" "${3//\'/$q}" >>"$1"
}

# ---- PostgreSQL ----------------------------------------------------------

pg_bin() {
    local b
    if [ -n "${PG_BIN:-}" ]; then
        echo "$PG_BIN"
        return 0
    fi
    for b in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        if [ -x "$b/initdb" ]; then
            echo "$b"
            return 0
        fi
    done
    err "PostgreSQL server binaries not found (apt-get install postgresql-15)"
    return 1
}

pg_start() {
    local bin data=$dir/pg/data log=$dir/logs/postgres.log
    bin=$(pg_bin) || return 1

    mkdir -p "$dir/pg/run"
    touch "$log"
    if [ "$(id -u)" = 0 ]; then
        chown postgres:postgres "$dir/pg" "$dir/pg/run" "$log"
        chmod 0755 "$dir/pg/run"
        if ! runuser -u postgres -- test -x "$dir/pg"; then
            err "user postgres cannot reach $dir/pg: every parent directory"
            err "must be searchable by others (chmod o+x)"
            return 1
        fi
    fi

    if [ ! -f "$data/PG_VERSION" ]; then
        if ! as_pg "$bin/initdb" -D "$data" -A trust -U postgres -E UTF8 \
                --locale=C.UTF-8 --no-sync >"$dir/pg/initdb.log" 2>&1; then
            err "initdb failed"
            show_log "$dir/pg/initdb.log"
            return 1
        fi
    fi

    if ! as_pg "$bin/pg_ctl" -D "$data" -l "$log" -w -t 20 -o "-k $dir/pg/run \
            -p $PG_PORT -c listen_addresses=127.0.0.1 \
            -c unix_socket_permissions=0777 -c max_connections=200 \
            -c fsync=off -c full_page_writes=off -c synchronous_commit=off" \
            start >/dev/null 2>&1; then
        err "PostgreSQL did not start on 127.0.0.1:$PG_PORT"
        show_log "$log"
        return 1
    fi

    if [ "$(psql_admin -Atc "SELECT 1 FROM pg_database
                             WHERE datname = 'webpush'")" != 1 ]; then
        if ! psql_admin -qc 'CREATE DATABASE webpush' >/dev/null; then
            err "could not create database webpush"
            return 1
        fi
    fi
}

psql_admin() {
    psql -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"
}

pg_stop() {
    local bin data=$dir/pg/data
    [ -f "$data/postmaster.pid" ] || return 0
    bin=$(pg_bin) || return 1
    if as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        if as_pg "$bin/pg_ctl" -D "$data" -m fast -w -t 20 stop >/dev/null; then
            say "stopped PostgreSQL ($data)"
        else
            err "pg_ctl stop failed for $data"
            return 1
        fi
    fi
}

# ---- Redis ---------------------------------------------------------------

redis_start() {
    local aof=no
    [ "$persist" = 1 ] && aof=yes
    mkdir -p "$dir/redis"
    rm -f "$dir/redis/redis.pid"
    if ! redis-server --bind 127.0.0.1 --port "$REDIS_PORT" \
            --unixsocket "$dir/redis/redis.sock" --unixsocketperm 777 \
            --save '' --appendonly "$aof" --dir "$dir/redis" \
            --daemonize yes --pidfile "$dir/redis/redis.pid" \
            --logfile "$dir/logs/redis.log" >/dev/null 2>&1 \
       || ! wait_for 50 redis_ping; then
        err "Redis did not start on 127.0.0.1:$REDIS_PORT"
        show_log "$dir/logs/redis.log"
        return 1
    fi
}

redis_ping() {
    local reply
    exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT" || return 1
    printf 'PING\r\n' >&3
    read -r -t 1 reply <&3 || reply=
    exec 3<&-
    [ "${reply%$'\r'}" = "+PONG" ]
}

redis_stop() {
    local pid
    pid=$(live_pid "$dir/redis/redis.pid" "redis-server 127.0.0.1:$REDIS_PORT")
    [ -n "$pid" ] && stop_pid "$pid" "Redis" TERM
    return 0
}

# ---- TLS certificate and secrets (generated once per stack dir) ----------

tls_make() {
    mkdir -p "$dir/tls"
    [ -s "$dir/tls/cert.pem" ] && [ -s "$dir/tls/key.pem" ] && return 0
    if ! (umask 077 && openssl req -x509 -newkey ec \
            -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
            -subj "/CN=localhost" \
            -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
            -addext "keyUsage=critical,digitalSignature,keyCertSign" \
            -addext "extendedKeyUsage=serverAuth" \
            -keyout "$dir/tls/key.pem" -out "$dir/tls/cert.pem") \
            >"$dir/tls/openssl.log" 2>&1; then
        err "could not generate the TLS certificate"
        show_log "$dir/tls/openssl.log"
        return 1
    fi
    chmod 0644 "$dir/tls/cert.pem"
    chmod 0600 "$dir/tls/key.pem"
}

secrets_make() {
    local json pub priv jwt f=$dir/secrets.env
    [ -s "$f" ] && return 0
    if [ ! -x "$cli" ]; then
        err "$cli not built (make bins)"
        return 1
    fi
    if ! json=$("$cli" generate-vapid-keys --json); then
        err "webpush-cli generate-vapid-keys failed"
        return 1
    fi
    pub=$(printf '%s' "$json" | sed -n 's/.*"publicKey" *: *"\([^"]*\)".*/\1/p')
    priv=$(printf '%s' "$json" | sed -n 's/.*"privateKey" *: *"\([^"]*\)".*/\1/p')
    if [ -z "$pub" ] || [ -z "$priv" ]; then
        err "unexpected output from generate-vapid-keys --json"
        return 1
    fi
    jwt=$(openssl rand -hex 32) || { err "openssl rand failed"; return 1; }
    (umask 077 && : >"$f.tmp")
    env_line "$f.tmp" VAPID_PUBLIC_KEY "$pub"
    env_line "$f.tmp" VAPID_PRIVATE_KEY "$priv"
    env_line "$f.tmp" JWT_SECRET "$jwt"
    mv "$f.tmp" "$f"
}

# ---- dev.env -------------------------------------------------------------

# Write dev.env: the seed's variable names plus ours.  Tunables set in the
# caller's environment (LOG_LEVEL, PUSH_*, ENABLE_*, VAPID_SUBJECT) win.
env_write() {
    local f=$dir/dev.env
    (umask 077 && : >"$f.tmp")
    {
        echo "# webpush dev stack in $dir, written by util/stack.sh start."
        echo "# Source it: . $f"
    } >>"$f.tmp"
    env_line "$f.tmp" DATABASE_URL "postgresql://postgres@127.0.0.1:$PG_PORT/webpush"
    env_line "$f.tmp" REDIS_URL "redis://127.0.0.1:$REDIS_PORT"
    env_line "$f.tmp" REDIS_HOST 127.0.0.1
    env_line "$f.tmp" REDIS_PORT "$REDIS_PORT"
    env_line "$f.tmp" REDIS_PASSWORD ""
    cat "$dir/secrets.env" >>"$f.tmp"
    env_line "$f.tmp" VAPID_SUBJECT "${VAPID_SUBJECT:-mailto:dev@example.com}"
    # unset: the sender sizes its in-flight requests itself (a hard cap)
    [ -n "${PUSH_CONCURRENCY_LIMIT:-}" ] &&
        env_line "$f.tmp" PUSH_CONCURRENCY_LIMIT "$PUSH_CONCURRENCY_LIMIT"
    env_line "$f.tmp" PUSH_TTL_DEFAULT "${PUSH_TTL_DEFAULT:-86400}"
    env_line "$f.tmp" PUSH_RETRY_ATTEMPTS "${PUSH_RETRY_ATTEMPTS:-3}"
    env_line "$f.tmp" PUSH_RETRY_DELAY "${PUSH_RETRY_DELAY:-1000}"
    env_line "$f.tmp" LOG_LEVEL "${LOG_LEVEL:-info}"
    env_line "$f.tmp" ENABLE_PUSH_METRICS "${ENABLE_PUSH_METRICS:-true}"
    env_line "$f.tmp" ENABLE_ERROR_TRACKING "${ENABLE_ERROR_TRACKING:-true}"
    env_line "$f.tmp" API_URL "https://127.0.0.1:$API_PORT"
    env_line "$f.tmp" API_CA_FILE "$dir/tls/cert.pem"
    env_line "$f.tmp" API_PORT "$API_PORT"
    env_line "$f.tmp" TLS_CERT_FILE "$dir/tls/cert.pem"
    env_line "$f.tmp" TLS_KEY_FILE "$dir/tls/key.pem"
    env_line "$f.tmp" PG_PORT "$PG_PORT"
    env_line "$f.tmp" PG_SOCKET_DIR "$dir/pg/run"
    env_line "$f.tmp" REDIS_SOCKET "$dir/redis/redis.sock"
    env_line "$f.tmp" STACK_DIR "$dir"
    env_line "$f.tmp" MODULE_PATH "$module"
    env_line "$f.tmp" WEBPUSH_SQL_DIR "$top/sql"
    if [ -n "${WEBPUSH_ALLOWED_ENDPOINTS+set}" ]; then
        env_line "$f.tmp" WEBPUSH_ALLOWED_ENDPOINTS "$WEBPUSH_ALLOWED_ENDPOINTS"
    fi
    if [ -n "${WEBPUSH_CA_FILE+set}" ]; then
        env_line "$f.tmp" WEBPUSH_CA_FILE "$WEBPUSH_CA_FILE"
    fi
    mv "$f.tmp" "$f"
}

# Run "$@" with dev.env (and nothing else of ours) exported.
with_env() {
    (set -a && . "$dir/dev.env" && set +a && exec "$@")
}

migrate() {
    if [ ! -x "$cli" ]; then
        err "$cli not built (make bins)"
        return 1
    fi
    if ! with_env "$cli" migrate --dir "$top/sql" >"$dir/logs/migrate.log" 2>&1; then
        err "webpush-cli migrate failed"
        show_log "$dir/logs/migrate.log"
        return 1
    fi
}

# ---- nginx + module ------------------------------------------------------

# Replace every @NAME@ (NAME in [A-Z0-9_]) in $1 by $NAME from dev.env and
# the environment; fail naming every unset one (an empty value is fine).
render_conf() {
    # shellcheck disable=SC2016
    with_env perl -e '
        my ($in, $out) = @ARGV;
        open(my $f, "<", $in) or die "cannot read $in: $!\n";
        local $/; my $t = <$f>; close $f;
        my %missing;
        $t =~ s{\@([A-Z_][A-Z0-9_]*)\@}{
            defined $ENV{$1} ? $ENV{$1} : do { $missing{$1} = 1; "" } }ge;
        if (%missing) {
            die "$in: no value for " . join(", ", map { "\@$_\@" }
                sort keys %missing) . " (not in dev.env nor the environment)\n";
        }
        open(my $o, ">", "$out.tmp") or die "cannot write $out: $!\n";
        print $o $t; close $o or die "cannot write $out: $!\n";
        rename("$out.tmp", $out) or die "cannot write $out: $!\n";
    ' "$1" "$2"
}

nginx_start() {
    local conf_in=${STACK_NGINX_CONF_IN:-$top/util/nginx.conf.in} pid
    local ngx=$dir/nginx

    if [ ! -f "$module" ]; then
        err "$module not built (make module)"
        return 1
    fi
    if [ ! -f "$conf_in" ]; then
        err "$conf_in not found"
        return 1
    fi
    mkdir -p "$ngx/conf" "$ngx/logs" "$ngx/tmp"
    render_conf "$conf_in" "$ngx/conf/nginx.conf" || return 1

    rm -f "$ngx/nginx.pid"
    if ! with_env nginx -p "$ngx/" -c conf/nginx.conf -e logs/error.log \
            >"$ngx/logs/start.log" 2>&1; then
        err "nginx did not start (conf: $ngx/conf/nginx.conf)"
        show_log "$ngx/logs/start.log"
        show_log "$ngx/logs/error.log"
        return 1
    fi
    if ! wait_for 50 test -s "$ngx/nginx.pid"; then
        err "nginx started but wrote no $ngx/nginx.pid (the conf must say"
        err "\"pid @STACK_DIR@/nginx/nginx.pid;\")"
        return 1
    fi
    if ! wait_for 100 api_ready; then
        err "nginx runs but $api_url$ready_path does not answer"
        curl -sS --max-time 2 --cacert "$dir/tls/cert.pem" \
            -o /dev/null "$api_url$ready_path" 2>&1 | sed 's/^/  /' >&2 || true
        show_log "$ngx/logs/error.log"
        return 1
    fi
}

api_ready() {
    curl -fsS --max-time 2 --cacert "$dir/tls/cert.pem" \
        -o /dev/null "$api_url$ready_path"
}

nginx_stop() {
    local pid
    pid=$(live_pid "$dir/nginx/nginx.pid" "$dir/nginx/")
    [ -n "$pid" ] && stop_pid "$pid" "nginx" QUIT
    return 0
}

# ---- the sender ----------------------------------------------------------

sender_start() {
    local pid rc log=$dir/logs/sender.log
    if [ ! -x "$sender" ]; then
        err "$sender not built (make bins)"
        return 1
    fi
    # Its own session, so a Ctrl-C on `make run` reaches only stack.sh,
    # which then stops the sender with TERM, in order.
    (set -a && . "$dir/dev.env" && set +a && cd "$dir" \
        && exec setsid "$sender") </dev/null >>"$log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/sender.pid"
    sleep 0.3
    if ! alive "$pid"; then
        rc=0
        wait "$pid" 2>/dev/null || rc=$?
        err "webpush-sender exited at once (status $rc)"
        show_log "$log" 20
        rm -f "$dir/sender.pid"
        return 1
    fi
}

sender_stop() {
    local pid
    pid=$(live_pid "$dir/sender.pid" "$sender_name")
    [ -n "$pid" ] && stop_pid "$pid" "webpush-sender" TERM
    rm -f "$dir/sender.pid"
    return 0
}
