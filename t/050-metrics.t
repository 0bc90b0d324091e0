# vi:filetype=perl
#
# webpush_metrics: Prometheus text with requests by route and status
# (shared memory), the database pool, dependency failures, queue depth
# and the senders' counters and latency histogram from Redis, and the
# periodically refreshed active subscriptions figure.

use Test::Nginx::Socket 'no_plan';
use FindBin;
require "$FindBin::Bin/webpush-helpers.pl";

repeat_each(1);
no_shuffle();

our $prefix = '{t050}:';
our $http_config = webpush_http_config($prefix)
                 . "    webpush_active_subscriptions_refresh 1s;\n";

our $config = <<'_EOC_';
    location = /api/push/vapid-public-key { webpush_vapid_key; }
    location = /api/push/send { webpush_send; }
    location = /metrics { webpush_metrics; }
_EOC_

# Queue and sender state as the senders would leave it.
sub seed_redis {
    my $p = $::prefix;
    main::redis_clean($p);
    main::redis('XADD', "${p}jobs", '*', 'job', '{}') for 1..3;
    main::redis('XGROUP', 'CREATE', "${p}jobs", 'senders', '0');
    main::redis('XREADGROUP', 'GROUP', 'senders', 'c1', 'COUNT', '1',
                'STREAMS', "${p}jobs", '>');
    main::redis('ZADD', "${p}scheduled", '1', 'a', '2', 'b');
    main::redis('ZADD', "${p}retry", '1', 'c');
    main::redis('XADD', "${p}dead", '*', 'job', '{}');
    main::redis('HSET', "${p}metrics", 'sent', '5', 'failed_4xx', '2',
                'failed_5xx', '1', 'failed_network', '0', 'retried', '3',
                'disabled', '1', 'expired', '0', 'jobs_done', '4');
    main::redis('HSET', "${p}metrics:latency", 'le_1', '2', 'le_10', '1',
                'le_50', '3', 'le_100', '1', 'le_250', '0', 'le_500', '0',
                'le_1000', '0', 'le_2500', '0', 'le_5000', '0', 'le_inf', '1',
                'sum_ms', '6120', 'count', '8');
}

seed_redis();
add_cleanup_handler(sub { redis_clean($prefix) });
install_check_section();
default_configs($http_config, $config);

run_tests();

__DATA__

=== TEST 1: requests by route and status, counted in shared memory
--- more_headers eval
["", "", "Content-Type: application/json", ""]
--- request eval
["GET /api/push/vapid-public-key", "GET /api/push/vapid-public-key",
 "POST /api/push/send\n{}", "GET /metrics"]
--- error_code eval
[200, 200, 401, 200]
--- check
if ($idx == 3) {
    like($body, qr/^webpush_http_requests_total\{route="vapid_key",status="200"\} 2$/m, 'vapid 200 x2');
    like($body, qr/^webpush_http_requests_total\{route="send",status="401"\} 1$/m, 'send 401');
    like($body, qr/^# TYPE webpush_http_requests_total counter$/m, 'TYPE line');
}
--- response_headers eval
[{}, {}, {}, {'Content-Type' => 'text/plain; version=0.0.4; charset=utf-8', 'Cache-Control' => 'no-store'}]
--- no_error_log
[error]



=== TEST 2: queue depth and the senders' counters from Redis
--- request
GET /metrics
--- response_body_like eval
[qr/^webpush_redis_up 1$/m]
--- check
like($body, qr/^webpush_queue_jobs\{state="waiting"\} 2$/m, 'waiting = lag');
like($body, qr/^webpush_queue_jobs\{state="pending"\} 1$/m, 'pending');
like($body, qr/^webpush_queue_jobs\{state="scheduled"\} 2$/m, 'scheduled');
like($body, qr/^webpush_queue_jobs\{state="retrying"\} 1$/m, 'retrying');
like($body, qr/^webpush_queue_jobs\{state="dead"\} 1$/m, 'dead');
like($body, qr/^webpush_sender_sent_total 5$/m, 'sent');
like($body, qr/^webpush_sender_failed_total\{class="4xx"\} 2$/m, '4xx');
like($body, qr/^webpush_sender_failed_total\{class="5xx"\} 1$/m, '5xx');
like($body, qr/^webpush_sender_failed_total\{class="network"\} 0$/m, 'network');
like($body, qr/^webpush_sender_retried_total 3$/m, 'retried');
like($body, qr/^webpush_sender_disabled_total 1$/m, 'disabled');
like($body, qr/^webpush_sender_jobs_done_total 4$/m, 'jobs done');
like($body, qr/^webpush_sender_delivery_latency_ms_bucket\{le="1"\} 2$/m, 'le 1');
like($body, qr/^webpush_sender_delivery_latency_ms_bucket\{le="5"\} 2$/m, 'cumulative le 5 (le_2, le_5 absent: 0)');
like($body, qr/^webpush_sender_delivery_latency_ms_bucket\{le="10"\} 3$/m, 'cumulative le 10');
like($body, qr/^webpush_sender_delivery_latency_ms_bucket\{le="50"\} 6$/m, 'cumulative le 50');
like($body, qr/^webpush_sender_delivery_latency_ms_bucket\{le="100"\} 7$/m, 'cumulative le 100');
like($body, qr/^webpush_sender_delivery_latency_ms_bucket\{le="5000"\} 7$/m, 'cumulative le 5000');
like($body, qr/^webpush_sender_delivery_latency_ms_bucket\{le="\+Inf"\} 8$/m, '+Inf');
my @le = $body =~ /^webpush_sender_delivery_latency_ms_bucket\{le="([^"]+)"\}/mg;
is("@le", '1 2 5 10 25 50 100 250 500 1000 2500 5000 +Inf', 'the buckets, in order');
like($body, qr/^webpush_sender_delivery_latency_ms_sum 6120$/m, 'sum');
like($body, qr/^webpush_sender_delivery_latency_ms_count 8$/m, 'count');
like($body, qr/^webpush_db_pool_connections\{state="idle"\} \d+$/m, 'pool');
like($body, qr/^# HELP webpush_db_pool_connections .*the worker that answered/m, 'pool HELP says per worker');



=== TEST 3: active subscriptions: refreshed by a timer, not counted per scrape
--- init
main::psql(q{INSERT INTO "PushSubscription" ("userId", "endpoint", "p256dh", "auth") VALUES ('u050', 'https://fcm.googleapis.com/fcm/send/t-t050-1', 'k', 'a') ON CONFLICT DO NOTHING});
--- request
GET /metrics
--- wait: 0
--- timeout: 5
--- check
if ($body !~ /webpush_active_subscriptions /) {
    # the first refresh runs half a second after start
    select(undef, undef, undef, 1.5);
}
my $want = main::psql(q{SELECT count(*) FROM "PushSubscription" WHERE "enabled"});
my $got = `curl -s http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}/metrics`;
like($got, qr/^webpush_active_subscriptions $want$/m, 'active subscriptions');
like($got, qr/^webpush_active_subscriptions_updated_seconds \d+$/m, 'updated');
main::psql(q{DELETE FROM "PushSubscription" WHERE "endpoint" = 'https://fcm.googleapis.com/fcm/send/t-t050-1'});
--- no_error_log
[error]



=== TEST 4: Redis down: the rest is served, redis_up 0, failure counted
--- http_config eval
my $c = main::webpush_http_config($::prefix);
$c =~ s{redis://127.0.0.1:\$TEST_NGINX_REDIS_PORT}{redis://127.0.0.1:1};
$c;
--- request
GET /metrics
--- response_body_like eval
qr/^webpush_redis_up 0$/m
--- check
unlike($body, qr/webpush_queue_jobs/, 'no queue figures');
like($body, qr/^webpush_db_pool_connections/m, 'pool still there');



=== TEST 5: POST is 405
--- request
POST /metrics
x
--- error_code: 405
--- response_headers
Allow: GET, HEAD



=== TEST 6: nothing but the route configured: served, no database or Redis figures needed
--- http_config
--- config
    location = /metrics { webpush_metrics; }
--- request eval
["GET /metrics", "HEAD /metrics"]
--- response_body_like eval
[qr/^webpush_redis_up 0$/m, qr/^$/]
--- no_error_log
[error]
