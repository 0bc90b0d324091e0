# vi:filetype=perl
#
# The health routes (webpush_health, webpush_health_database, _redis,
# _vapid, _sender) against the shared stack's PostgreSQL and Redis: good
# and bad answers, every way of giving the connection settings
# (postgresql:// URL with Prisma's parameters, conninfo, unix socket, host
# names resolved at load time, env:NAME, the seed's REDIS_* variables),
# and the configuration errors (which never echo a password).  Sender
# heartbeats are written under a key prefix private to this file.

use Test::Nginx::Socket 'no_plan';
use FindBin;

require "$FindBin::Bin/private-services.pl";

repeat_each(1);
no_shuffle();

$ENV{TEST_NGINX_VAPID_PUBLIC_KEY} ||=
    'BGtkbcjrO12YMoDuq2sCQeHlu47uPx3SHTgFKZFYiBW8Qr0D9vgyZSZPdw6_4ZFEI9Snk1VEAj2qTYI1I1YxBXE';
$ENV{TEST_NGINX_PG_PORT} ||= 5432;
$ENV{TEST_NGINX_PG_SOCKET} ||= '/var/run/postgresql';
$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

# nothing listens there
$ENV{TEST_NGINX_T030_CLOSED_PORT} = wpt_free_port();

# heartbeats under a prefix of our own: other files and senders never see it
our $prefix = "{t030-$$}:";
$ENV{TEST_NGINX_T030_PREFIX} = $prefix;

$ENV{WEBPUSH_T030_DATABASE_URL} =
    "postgresql://postgres\@127.0.0.1:$ENV{TEST_NGINX_PG_PORT}/webpush"
    . "?sslmode=disable";

# the seed's variables, for "webpush_redis env"
delete $ENV{REDIS_URL};
$ENV{REDIS_HOST} = '127.0.0.1';
$ENV{REDIS_PORT} = $ENV{TEST_NGINX_REDIS_PORT};
delete $ENV{REDIS_PASSWORD};
$ENV{WEBPUSH_QUEUE_PREFIX} = $prefix;

our $http_config = <<'_EOC_';
    webpush_vapid_public_key $TEST_NGINX_VAPID_PUBLIC_KEY;
    webpush_postgres postgresql://postgres@127.0.0.1:$TEST_NGINX_PG_PORT/webpush?sslmode=disable;
    webpush_redis redis://127.0.0.1:$TEST_NGINX_REDIS_PORT "prefix=$TEST_NGINX_T030_PREFIX";
_EOC_

our $config = <<'_EOC_';
    location = /api/push/health { webpush_health; }
    location = /api/push/health/database { webpush_health_database; }
    location = /api/push/health/redis { webpush_health_redis; }
    location = /api/push/health/vapid { webpush_health_vapid; }
    location = /api/push/health/sender { webpush_health_sender; }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value(http_config => $::http_config)
        unless defined $block->http_config;
    $block->set_value(config => $::config) unless defined $block->config;
});

sub beat {
    my $now = time;
    wpt_redis_cmd($ENV{TEST_NGINX_REDIS_PORT}, 'ZADD', "${prefix}senders",
                  $now, 'sender-a:1', $now - 100, 'sender-dead:2');
}

add_cleanup_handler(sub {
    wpt_redis_cmd($ENV{TEST_NGINX_REDIS_PORT}, 'DEL', "${prefix}senders");
});

run_tests();

__DATA__

=== TEST 1: database: SELECT 1 through the pool
--- request
GET /api/push/health/database
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like: ^\{"status":"ok","checks":\{"database":\{"status":"ok","latencyMs":\d+\}\}\}$
--- no_error_log
[error]
[alert]



=== TEST 2: redis: PING
--- request
GET /api/push/health/redis
--- response_body_like: ^\{"status":"ok","checks":\{"redis":\{"status":"ok","latencyMs":\d+\}\}\}$
--- no_error_log
[error]



=== TEST 3: vapid: the configured key
--- request
GET /api/push/health/vapid
--- response_body_like: ^\{"status":"ok","checks":\{"vapid":\{"status":"ok","latencyMs":0\}\}\}$



=== TEST 4: sender: live heartbeats counted and named, stale ones not
--- init
main::beat();
--- request
GET /api/push/health/sender
--- response_body_like: ^\{"status":"ok","checks":\{"sender":\{"status":"ok","latencyMs":\d+,"count":1,"senders":\["sender-a:1"\]\}\}\}$



=== TEST 5: all checks healthy: 200
--- init
main::beat();
--- request
GET /api/push/health
--- response_body_like: ^\{"status":"ok","checks":\{"database":\{"status":"ok","latencyMs":\d+\},"redis":\{"status":"ok","latencyMs":\d+\},"vapid":\{"status":"ok","latencyMs":\d+\},"sender":\{"status":"ok","latencyMs":\d+,"count":1,"senders":\["sender-a:1"\]\}\}\}$
--- no_error_log
[error]



=== TEST 6: HEAD: headers only
--- request
HEAD /api/push/health/vapid
--- response_headers
Content-Type: application/json
--- response_body eval: ""



=== TEST 7: POST: 405 with Allow and a JSON error
--- request
POST /api/push/health
{"x":1}
--- more_headers
Content-Type: application/json
--- error_code: 405
--- response_headers
Allow: GET, HEAD
--- response_body_like: ^\{"error":\{"code":"method_not_allowed","message":"[^"]+"\}\}$



=== TEST 8: sender: no heartbeat under this prefix: 503
--- http_config
    webpush_redis redis://127.0.0.1:$TEST_NGINX_REDIS_PORT "prefix={t030-none}:";
--- request
GET /api/push/health/sender
--- error_code: 503
--- response_body_like: ^\{"status":"error","error":\{"code":"unhealthy","message":"sender: no sender heartbeat in the last 15 s"\},"checks":\{"sender":\{"status":"error","latencyMs":\d+,"error":"no sender heartbeat in the last 15 s","count":0,"senders":\[\]\}\}\}$



=== TEST 9: database refused: 503 at once
--- http_config
    webpush_postgres "hostaddr=127.0.0.1 port=$TEST_NGINX_T030_CLOSED_PORT user=postgres dbname=webpush";
--- request
GET /api/push/health/database
--- timeout: 1
--- error_code: 503
--- response_headers
Content-Type: application/json
--- response_body_like: "database":\{"status":"error","latencyMs":\d+,"error":"unavailable"\}
--- error_log
PostgreSQL connect failed



=== TEST 10: database refused: the whole health route says which check failed
--- http_config
    webpush_vapid_public_key $TEST_NGINX_VAPID_PUBLIC_KEY;
    webpush_postgres "hostaddr=127.0.0.1 port=$TEST_NGINX_T030_CLOSED_PORT user=postgres dbname=webpush";
    webpush_redis redis://127.0.0.1:$TEST_NGINX_REDIS_PORT "prefix={t030-none}:";
--- request
GET /api/push/health
--- timeout: 1
--- error_code: 503
--- response_body_like: ^\{"status":"error","error":\{"code":"unhealthy","message":"database: unavailable; sender: [^"]+"\},"checks":\{"database":\{"status":"error".*"redis":\{"status":"ok".*"vapid":\{"status":"ok"



=== TEST 11: Redis refused: 503 at once
--- http_config
    webpush_redis redis://127.0.0.1:$TEST_NGINX_T030_CLOSED_PORT;
--- request
GET /api/push/health/redis
--- timeout: 1
--- error_code: 503
--- response_body_like: "redis":\{"status":"error","latencyMs":\d+,"error":"unavailable"\}



=== TEST 12: nothing configured: every check is a 503 saying so
--- http_config
--- request
GET /api/push/health
--- error_code: 503
--- response_body_like: ^\{"status":"error","error":\{"code":"unhealthy","message":"database: not configured; redis: not configured; vapid: not configured; sender: Redis not configured"\}



=== TEST 13: PostgreSQL over the unix socket directory
--- http_config
    webpush_postgres "host=$TEST_NGINX_PG_SOCKET port=$TEST_NGINX_PG_PORT user=postgres dbname=webpush";
--- request
GET /api/push/health/database
--- response_body_like: "database":\{"status":"ok"
--- no_error_log
[error]



=== TEST 14: Prisma's URL parameters (schema -> search_path, connection_limit dropped)
--- http_config
    webpush_postgres "postgresql://postgres@127.0.0.1:$TEST_NGINX_PG_PORT/webpush?schema=public&connection_limit=5&sslmode=disable&pool_timeout=10";
--- request
GET /api/push/health/database
--- response_body_like: "database":\{"status":"ok"
--- no_error_log
[error]



=== TEST 15: a host name is resolved at load time (hostaddr pinned)
--- http_config
    webpush_postgres "host=localhost port=$TEST_NGINX_PG_PORT user=postgres dbname=webpush sslmode=disable" max_conns=2;
    webpush_redis redis://localhost:$TEST_NGINX_REDIS_PORT/0;
--- request
GET /api/push/health/database
--- response_body_like: "database":\{"status":"ok"
--- no_error_log
[error]



=== TEST 16: the URL from the environment (env:NAME), Redis from the seed's REDIS_HOST/REDIS_PORT
--- main_config
    env WEBPUSH_T030_DATABASE_URL;
    env REDIS_HOST;
    env REDIS_PORT;
    env WEBPUSH_QUEUE_PREFIX;
--- http_config
    webpush_vapid_public_key $TEST_NGINX_VAPID_PUBLIC_KEY;
    webpush_postgres env:WEBPUSH_T030_DATABASE_URL;
    webpush_redis env;
--- init
main::beat();
--- request
GET /api/push/health
--- response_body_like: ^\{"status":"ok".*"senders":\["sender-a:1"\]
--- no_error_log
[error]



=== TEST 17: bad parameter: nginx -t fails
--- http_config
    webpush_postgres "host=/tmp" max_conn=3;
--- must_die
--- error_log
invalid parameter "max_conn=3"



=== TEST 18: bad pool size or timeout
--- http_config
    webpush_postgres "host=/tmp" max_conns=0 query_timeout=soon;
--- must_die
--- error_log
invalid value in "max_conns=0"



=== TEST 19: an unparsable conninfo is refused without echoing the password
--- http_config
    webpush_postgres "host=/tmp password=s3cr3t-t030 s3cr3t-t030b";
--- must_die
--- error_log
invalid PostgreSQL connection string (literal value)
--- no_error_log
s3cr3t-t030



=== TEST 20: an unknown host name fails at load time, not at request time
--- http_config
    webpush_postgres "host=no-such-host.invalid port=5432 user=postgres";
--- must_die
--- error_log
cannot resolve PostgreSQL host "no-such-host.invalid"



=== TEST 21: rediss:// is refused (hiredis 0.14 has no TLS), the password not echoed
--- http_config
    webpush_redis rediss://:t030-redis-pw@127.0.0.1:6380;
--- must_die
--- error_log
invalid Redis connection
--- no_error_log
t030-redis-pw



=== TEST 22: duplicate
--- http_config
    webpush_redis redis://127.0.0.1:6379;
    webpush_redis redis://127.0.0.1:6379;
--- must_die
--- error_log
"webpush_redis" directive is duplicate
