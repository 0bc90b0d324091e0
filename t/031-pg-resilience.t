# vi:filetype=perl
#
# PostgreSQL frozen (SIGSTOP on the postmaster and every backend) and
# thawed, on a private cluster started here (never the shared stack's).
# One nginx for the whole file (same conf, no restart between blocks), so
# the pool's connections live across blocks:
#   - while frozen, the VAPID key route and the Redis and VAPID health
#     routes answer at once; subscribe times out to a 503 (Retry-After)
#     within query_timeout, the database health check too (connect
#     timeout); a full wait queue answers 503 at once (NGX_BUSY);
#   - after SIGCONT everything works again, without a reload, and the pool
#     holds no more connections than max_conns;
#   - PostgreSQL restarted: 503 at once while it is down, healthy again
#     after, without a reload.

BEGIN { $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} = 0 }

use Test::Nginx::Socket 'no_plan';
use FindBin;

require "$FindBin::Bin/private-services.pl";
require "$FindBin::Bin/webpush-helpers.pl";

repeat_each(1);
no_shuffle();

$ENV{TEST_NGINX_VAPID_PUBLIC_KEY} ||=
    'BGtkbcjrO12YMoDuq2sCQeHlu47uPx3SHTgFKZFYiBW8Qr0D9vgyZSZPdw6_4ZFEI9Snk1VEAj2qTYI1I1YxBXE';

our $pg = wpt_pg_start();
our $rd = wpt_redis_start();

$ENV{TEST_NGINX_T031_PG_PORT} = $pg->{port};

# the schema, for the subscribe route
for my $f (sort glob("$FindBin::Bin/../sql/*.sql")) {
    wpt_quiet("psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $pg->{port}"
              . " -U postgres -d postgres -f $f")
        or die "cannot apply $f";
}

our $user = "Content-Type: application/json\n" . bearer(sub => 'user-031');
$ENV{TEST_NGINX_T031_REDIS_PORT} = $rd->{port};

# max_conns=1, max_waiting=1: the third concurrent query finds the queue
# full.  wait_timeout is longer than query + connect timeouts, so a waiter
# fails because the server is down, not because it waited too long.
our $http_config = <<'_EOC_';
    webpush_vapid_public_key $TEST_NGINX_VAPID_PUBLIC_KEY;
    webpush_postgres "hostaddr=127.0.0.1 port=$TEST_NGINX_T031_PG_PORT user=postgres dbname=postgres sslmode=disable application_name=webpush-t031"
                     max_conns=1 max_waiting=1 connect_timeout=1s
                     query_timeout=1s wait_timeout=4s;
    webpush_redis redis://127.0.0.1:$TEST_NGINX_T031_REDIS_PORT command_timeout=1s;
    webpush_jwt_secret $TEST_NGINX_JWT_SECRET;
    # the metrics' background count would take the one waiting slot
    webpush_active_subscriptions_refresh 1h;
_EOC_

our $config = <<'_EOC_';
    location = /api/push/vapid-public-key { webpush_vapid_key; }
    location = /api/push/subscribe { webpush_subscribe; }
    location = /api/push/health { webpush_health; }
    location = /api/push/health/database { webpush_health_database; }
    location = /api/push/health/redis { webpush_health_redis; }
    location = /api/push/health/vapid { webpush_health_vapid; }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value(http_config => $::http_config)
        unless defined $block->http_config;
    $block->set_value(config => $::config) unless defined $block->config;
});

sub port { server_port() }

add_cleanup_handler(sub {
    wpt_pg_thaw();
    my @bad = wpt_leak_lines(server_root() . '/logs/error.log');
    ok(!@bad, "031: no [alert] or leaked socket in error.log") or diag(@bad);
});

run_tests();

__DATA__

=== TEST 1: warm up: one pooled connection, database healthy
--- request
GET /api/push/health/database
--- response_body_like: ^\{"status":"ok","checks":\{"database":\{"status":"ok","latencyMs":\d+\}\}\}$
--- error_log
webpush pg: prepare "webpush_health"
--- no_error_log
[error]
[alert]



=== TEST 1a: the health query, prepared on first use, is only executed now
--- request
GET /api/push/health/database
--- response_body_like: "database":\{"status":"ok"
--- no_error_log
webpush pg: prepare
[error]



=== TEST 1b: subscribe works
--- init
# let the metrics' first count (0.5 s after start) finish before freezing
select undef, undef, undef, 0.8;
--- more_headers eval: $::user
--- request eval
"POST /api/push/subscribe\n" . main::sub_body('t031-1')
--- error_code: 201
--- no_error_log
[error]



=== TEST 2: frozen: the VAPID key route answers at once
--- init
main::wpt_pg_freeze() > 1 or die "nothing frozen";
--- request
GET /api/push/vapid-public-key
--- timeout: 0.5
--- response_body_like: "publicKey"
--- no_error_log
[error]



=== TEST 3: frozen: Redis health answers at once
--- request
GET /api/push/health/redis
--- timeout: 0.5
--- response_body_like: "redis":\{"status":"ok"
--- no_error_log
[error]



=== TEST 4: frozen: VAPID health answers at once
--- request
GET /api/push/health/vapid
--- timeout: 0.5
--- response_body_like: "vapid":\{"status":"ok"
--- no_error_log
[error]



=== TEST 5: frozen: subscribe on the pooled connection times out to a 503 within query_timeout
--- more_headers eval: $::user
--- request eval
"POST /api/push/subscribe\n" . main::sub_body('t031-1')
--- timeout: 2.5
--- error_code: 503
--- response_headers_like
Retry-After: \d+
--- response_body_like: ^\{"error":\{"code":"database_unavailable","message":"[^"]+"\}\}$
--- error_log
PostgreSQL query timed out after 1000 ms



=== TEST 5b: frozen: the database health check times out to a 503 (connect timeout)
--- request
GET /api/push/health/database
--- timeout: 2.5
--- error_code: 503
--- response_headers
Content-Type: application/json
Cache-Control: no-store
--- response_body_like: ^\{"status":"error","error":\{"code":"unhealthy","message":"database: unavailable"\},"checks":\{"database":\{"status":"error","latencyMs":(9\d\d|1\d\d\d),"error":"unavailable"\}\}\}$
--- error_log
PostgreSQL connect timed out after 1000 ms



=== TEST 6: frozen: concurrent queries: one times out, one waits then fails, one finds the queue full (503 at once)
--- init
# past the backoff of the connect that just failed: a real attempt again
select undef, undef, undef, 0.6;
my $r = main::wpt_http_parallel(main::port(),
    ['/api/push/health/database', '/api/push/health/database',
     '/api/push/health/database', '/api/push/health/redis'], 5, 0.15);
Test::More::is($r->[0][0], 503, "first: 503");
Test::More::cmp_ok($r->[0][2], '<', 2.5, "first: within connect_timeout")
    or Test::More::diag($r->[0][1]);
Test::More::is($r->[1][0], 503, "second (waited): 503");
Test::More::cmp_ok($r->[1][2], '<', 3.5, "second: before wait_timeout")
    or Test::More::diag($r->[1][1]);
Test::More::is($r->[2][0], 503, "third (queue full): 503");
Test::More::cmp_ok($r->[2][2], '<', 0.5, "third: at once")
    or Test::More::diag($r->[2][1]);
Test::More::like($r->[2][1], qr/no connection free/, "third: busy");
Test::More::is($r->[3][0], 200, "Redis health meanwhile: 200");
Test::More::cmp_ok($r->[3][2], '<', 0.5, "Redis health meanwhile: at once");
--- request
GET /api/push/health/vapid
--- timeout: 0.5



=== TEST 7: frozen: the whole health route is a 503 naming the database, Redis and VAPID ok
--- request
GET /api/push/health
--- timeout: 2.5
--- error_code: 503
--- response_body_like: "database":\{"status":"error".*"redis":\{"status":"ok".*"vapid":\{"status":"ok"



=== TEST 8: thawed: the database is healthy again, without a reload
--- init
main::wpt_pg_thaw();
my $t = main::wpt_wait_status(main::port(), '/api/push/health/database',
                              200, 15);
Test::More::ok(defined $t, "database healthy again after SIGCONT")
    and Test::More::diag(sprintf "back after %.1f s", $t);
--- request
GET /api/push/health/database
--- response_body_like: "database":\{"status":"ok"
--- no_error_log
[error]
[alert]



=== TEST 8b: thawed: subscribe works again (the same endpoint: updated)
--- more_headers eval: $::user
--- request eval
"POST /api/push/subscribe\n" . main::sub_body('t031-1')
--- error_code: 200
--- no_error_log
[error]



=== TEST 9: thawed: the pool holds at most max_conns connections
--- init
my $n;
for (1 .. 50) {
    $n = main::wpt_psql("SELECT count(*) FROM pg_stat_activity"
                        . " WHERE application_name = 'webpush-t031'");
    last if defined $n && $n ne '' && $n <= 1;
    select undef, undef, undef, 0.1;
}
Test::More::cmp_ok($n, '<=', 1, "at most max_conns=1 server connections");
--- request
GET /api/push/health/redis
--- response_body_like: "redis":\{"status":"ok"



=== TEST 10: PostgreSQL stopped: the pooled connection is gone, 503 at once
--- init
main::wpt_pg_server_stop();
select undef, undef, undef, 0.2;
--- request
GET /api/push/health/database
--- timeout: 1
--- error_code: 503
--- response_body_like: "database":\{"status":"error","latencyMs":\d+,"error":"unavailable"\}



=== TEST 11: PostgreSQL started again: healthy without a reload
--- init
main::wpt_pg_server_start();
my $t = main::wpt_wait_status(main::port(), '/api/push/health/database',
                              200, 15);
Test::More::ok(defined $t, "database healthy again after the restart")
    and Test::More::diag(sprintf "back after %.1f s", $t);
--- request
GET /api/push/health/database
--- response_body_like: "database":\{"status":"ok"
--- no_error_log
[error]
