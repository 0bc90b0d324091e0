# vi:filetype=perl
#
# Redis stopped and restarted, then frozen (SIGSTOP) and thawed, on a
# private redis-server started here (never the shared stack's).  One nginx
# for the whole file (same conf, no restart, no reload between blocks):
#   - while Redis is down, send and the Redis and sender health routes
#     answer 503 at once, the VAPID key route is fine;
#   - after the restart the worker reconnects by itself: send enqueues;
#   - frozen, a command times out to a 503 within command_timeout, and the
#     connection comes back after SIGCONT.

BEGIN { $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} = 0 }

use Test::Nginx::Socket 'no_plan';
use FindBin;

require "$FindBin::Bin/private-services.pl";
require "$FindBin::Bin/webpush-helpers.pl";

repeat_each(1);
no_shuffle();

$ENV{TEST_NGINX_VAPID_PUBLIC_KEY} ||=
    'BGtkbcjrO12YMoDuq2sCQeHlu47uPx3SHTgFKZFYiBW8Qr0D9vgyZSZPdw6_4ZFEI9Snk1VEAj2qTYI1I1YxBXE';
$ENV{TEST_NGINX_PG_PORT} ||= 5432;

our $rd = wpt_redis_start();
$ENV{TEST_NGINX_T032_REDIS_PORT} = $rd->{port};

our $http_config = <<'_EOC_';
    webpush_vapid_public_key $TEST_NGINX_VAPID_PUBLIC_KEY;
    webpush_redis redis://127.0.0.1:$TEST_NGINX_T032_REDIS_PORT/0
                  "prefix={t032}:" connect_timeout=1s command_timeout=1s;
    webpush_jwt_secret $TEST_NGINX_JWT_SECRET;
    webpush_ttl_default 3600;
_EOC_

our $config = <<'_EOC_';
    location = /api/push/vapid-public-key { webpush_vapid_key; }
    location = /api/push/send { webpush_send; }
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

sub port { server_port() }

our $admin = "Content-Type: application/json\n"
           . bearer(sub => 'admin-032', role => 'admin');
our $send = "POST /api/push/send\n"
          . '{"type":"event_update","to":{"all":true},"payload":{"title":"Hi"}}';

add_cleanup_handler(sub {
    my @bad = wpt_leak_lines(server_root() . '/logs/error.log');
    ok(!@bad, "032: no [alert] or leaked socket in error.log") or diag(@bad);
});

run_tests();

__DATA__

=== TEST 1: Redis up: healthy
--- request
GET /api/push/health/redis
--- response_body_like: ^\{"status":"ok","checks":\{"redis":\{"status":"ok","latencyMs":\d+\}\}\}$
--- no_error_log
[error]
[alert]



=== TEST 2: Redis stopped: 503 at once, no hang
--- init
main::wpt_redis_stop();
select undef, undef, undef, 0.3;
--- request
GET /api/push/health/redis
--- timeout: 0.5
--- error_code: 503
--- response_body_like: ^\{"status":"error","error":\{"code":"unhealthy","message":"redis: unavailable"\},"checks":\{"redis":\{"status":"error","latencyMs":\d,"error":"unavailable"\}\}\}$



=== TEST 3: Redis stopped: the sender check is a 503 too, at once
--- request
GET /api/push/health/sender
--- timeout: 0.5
--- error_code: 503
--- response_body_like: "sender":\{"status":"error","latencyMs":\d+,"error":"Redis unavailable"\}



=== TEST 3b: Redis stopped: send answers 503 at once, with Retry-After
--- more_headers eval: $::admin
--- request eval: $::send
--- timeout: 0.5
--- error_code: 503
--- response_headers_like
Retry-After: \d+
--- response_body_like: ^\{"error":\{"code":"queue_unavailable","message":"[^"]+"\}\}$



=== TEST 4: Redis stopped: the VAPID key route is unaffected
--- request
GET /api/push/vapid-public-key
--- timeout: 0.5
--- response_body_like: "publicKey"



=== TEST 5: Redis restarted on its port: healthy again without a reload
--- init
main::wpt_redis_start();
my $t = main::wpt_wait_status(main::port(), '/api/push/health/redis', 200, 10);
Test::More::ok(defined $t, "Redis health back after the restart")
    and Test::More::diag(sprintf "back after %.1f s", $t);
--- request
GET /api/push/health/redis
--- response_body_like: "redis":\{"status":"ok"
--- no_error_log
[error]



=== TEST 5b: Redis restarted: send enqueues again (202), without a reload
--- more_headers eval: $::admin
--- request eval: $::send
--- error_code: 202
--- response_body_like: ^\{"jobId":"[0-9a-f-]{36}"\}$
--- no_error_log
[error]



=== TEST 6: a live sender heartbeat makes the sender check healthy
--- init
my $now = time;
main::wpt_redis_cmd('ZADD', '{t032}:senders', $now - 2, 'host-a:101',
                    $now - 60, 'host-b:202');
--- request
GET /api/push/health/sender
--- response_body_like: ^\{"status":"ok","checks":\{"sender":\{"status":"ok","latencyMs":\d+,"count":1,"senders":\["host-a:101"\]\}\}\}$



=== TEST 7: Redis frozen: a command times out to a 503 within command_timeout
--- init
main::wpt_redis_freeze();
--- request
GET /api/push/health/redis
--- timeout: 2.5
--- error_code: 503
--- response_body_like: "latencyMs":(9\d\d|1\d\d\d),"error":"unavailable"
--- error_log
Redis command timed out after 1000 ms



=== TEST 8: Redis frozen: VAPID health still answers at once
--- request
GET /api/push/health/vapid
--- timeout: 0.5



=== TEST 9: Redis thawed: healthy again without a reload
--- init
main::wpt_redis_thaw();
my $t = main::wpt_wait_status(main::port(), '/api/push/health/redis', 200, 10);
Test::More::ok(defined $t, "Redis health back after SIGCONT")
    and Test::More::diag(sprintf "back after %.1f s", $t);
--- request
GET /api/push/health/redis
--- response_body_like: "redis":\{"status":"ok"
--- no_error_log
[error]



=== TEST 10: a password (AUTH) and a database (SELECT) from the URL
--- init
main::wpt_redis_cmd('CONFIG', 'SET', 'requirepass', 't032-pw');
--- http_config
    webpush_redis redis://:t032-pw@127.0.0.1:$TEST_NGINX_T032_REDIS_PORT/2;
--- config
    location = /api/push/health/redis { webpush_health_redis; }
--- request
GET /api/push/health/redis
--- response_body_like: "redis":\{"status":"ok"
--- no_error_log
[error]



=== TEST 11: a wrong password: 503, logged without the password
--- http_config
    webpush_redis redis://:t032-wrong-pw@127.0.0.1:$TEST_NGINX_T032_REDIS_PORT;
--- config
    location = /api/push/health/redis { webpush_health_redis; }
--- request
GET /api/push/health/redis
--- error_code: 503
--- wait: 0.3
--- error_log
Redis AUTH failed
--- no_error_log
t032-wrong-pw
