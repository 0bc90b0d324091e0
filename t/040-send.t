# vi:filetype=perl
#
# webpush_send: validation of everything the sender would fail on later
# (each bad field named, 413 for a payload over 3993 bytes), the job JSON
# on the stream, scheduled sends in the delayed set, Idempotency-Key
# (same jobId, one entry), Redis down: 503.

use Test::Nginx::Socket 'no_plan';
use FindBin;
use POSIX ();
require "$FindBin::Bin/webpush-helpers.pl";

repeat_each(1);
no_shuffle();

# Not the stack sender's "{webpush}:": nothing consumes these jobs.
our $prefix = '{t040}:';
our $http_config = webpush_http_config($prefix)
                 . "    webpush_ttl_default 3600;\n";

our $config = <<'_EOC_';
    location = /api/push/send { webpush_send; }
_EOC_

our $admin = "Content-Type: application/json\n"
           . bearer(sub => 'admin-040', role => 'admin');

sub xlen  { return main::redis('XLEN', "$::prefix" . 'jobs') }
sub zcard { return main::redis('ZCARD', "$::prefix" . 'scheduled') }

# The newest job on the stream, decoded.
sub last_job {
    my @l = split /\n/, main::redis('XREVRANGE', "$::prefix" . 'jobs', '+', '-',
                                     'COUNT', '1');
    return undef unless @l == 3 && $l[1] eq 'job';
    return JSON::PP::decode_json($l[2]);
}

sub send_body {
    my (%o) = @_;
    no warnings 'once';
    my $doc = { type => 'event_update', to => { all => JSON::PP::true() },
                payload => { title => 'Hi' }, %o };
    delete $doc->{$_} for grep { !defined $o{$_} && exists $o{$_} } keys %o;
    return $main::JSON->encode($doc);
}

# sendAt values (request sections are evaluated before a block's init)
our $at = (time + 3600) * 1000;
our $rfc = POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime(time + 7200));

# A payload object whose compact JSON is exactly $n bytes.
sub payload_of {
    my $n = shift;
    return { d => 'x' x ($n - length('{"d":""}')) };
}

redis_clean($prefix);
add_cleanup_handler(sub { redis_clean($prefix) });
install_check_section();
default_configs($http_config, $config);

run_tests();

__DATA__

=== TEST 1: send to everyone: 202, the job on the stream
--- more_headers eval: $::admin
--- request eval
"POST /api/push/send\n" . main::send_body(eventId => 'e1')
--- error_code: 202
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"jobId":"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"\}$
--- check
my ($id) = $body =~ /"jobId":"([^"]+)"/;
is(main::xlen(), 1, 'one entry');
my $job = main::last_job();
is($job->{id}, $id, 'job id = jobId');
is($job->{type}, 'event_update', 'type');
is($job->{eventId}, 'e1', 'eventId');
ok($job->{to}{all}, 'to all');
is_deeply($job->{payload}, {title => 'Hi'}, 'payload');
is($job->{ttl}, 3600, 'ttl from webpush_ttl_default');
ok(abs($job->{createdAt} - time * 1000) < 60000, 'createdAt is now');
ok(!exists $job->{sendAt} || !$job->{sendAt}, 'not scheduled');
--- no_error_log
[error]



=== TEST 2: the audiences: userId (number becomes text), userIds, topic
--- more_headers eval: [($::admin) x 3]
--- request eval
["POST /api/push/send\n" . main::send_body(to => {userId => 7}, ttl => 0, urgency => 'high', topic => 'scores'),
 "POST /api/push/send\n" . main::send_body(to => {userIds => ['a', 'b', 'a']}),
 "POST /api/push/send\n" . main::send_body(to => {topic => 'event:123'})]
--- error_code eval
[202, 202, 202]
--- check
my $job = main::last_job();
if ($idx == 0) {
    is($job->{to}{userId}, '7', 'user id as text');
    is($job->{ttl}, 0, 'ttl 0 kept');
    is($job->{urgency}, 'high', 'urgency');
    is($job->{topic}, 'scores', 'topic');
} elsif ($idx == 1) {
    is_deeply($job->{to}{userIds}, ['a', 'b'], 'duplicates dropped');
} else {
    is($job->{to}{topic}, 'event:123', 'topic audience');
}



=== TEST 3: payload of 3993 bytes: accepted; 3994: 413 with a clear error
--- init
main::redis_clean($::prefix);
--- more_headers eval: [$::admin, $::admin]
--- request eval
["POST /api/push/send\n" . main::send_body(payload => main::payload_of(3993)),
 "POST /api/push/send\n" . main::send_body(payload => main::payload_of(3994))]
--- error_code eval
[202, 413]
--- response_body_like eval
[qr/jobId/, qr/^\{"error":\{"code":"payload_too_large","message":"payload[^"]*3993[^"]*"\}\}$/]
--- check
is(main::xlen(), 1, "one job after request $idx");



=== TEST 4: bad fields: each named, 422, nothing enqueued
--- init
main::redis_clean($::prefix);
--- more_headers eval: [($::admin) x 27]
--- request eval
my $far = (time + 40 * 86400) * 1000;
[map { "POST /api/push/send\n" . $_ }
 main::send_body(ttl => -1),
 main::send_body(ttl => 2419201),
 main::send_body(ttl => '60'),
 main::send_body(ttl => 1.5),
 main::send_body(urgency => 'urgent'),
 main::send_body(topic => 'has space'),
 main::send_body(topic => 'x' x 33),
 main::send_body(topic => 'abcde'),
 main::send_body(sendAt => 'tomorrow'),
 main::send_body(sendAt => '2030-01-02T03:04:05'),
 main::send_body(sendAt => $far),
 main::send_body(ttL => 60),
 main::send_body(type => undef),
 main::send_body(type => 'bad type!'),
 main::send_body(to => undef),
 main::send_body(to => {all => JSON::PP::true(), userId => 'u'}),
 main::send_body(to => {userIds => []}),
 main::send_body(to => {userIds => ['ok', {}]}),
 main::send_body(to => {topic => 'bad topic'}),
 main::send_body(to => {all => JSON::PP::false()}),
 main::send_body(to => {everyone => JSON::PP::true()}),
 main::send_body(payload => undef),
 main::send_body(payload => 'text'),
 main::send_body(eventId => {}),
 main::send_body(to => {userId => ''}),
 main::send_body(eventId => 'x' x 129),
 main::send_body(to => {userIds => [map { "u$_" } 1..10001]}),
]
--- error_code eval
[(422) x 27]
--- response_body_like eval
[qr/"code":"invalid_value","message":"ttl/,
 qr/"code":"invalid_value","message":"ttl/,
 qr/"code":"invalid_type","message":"ttl/,
 qr/"code":"invalid_(type|value)","message":"ttl/,
 qr/"code":"invalid_value","message":"urgency/,
 qr/"code":"invalid_value","message":"topic/,
 qr/"code":"(invalid_value|too_long)","message":"topic/,
 qr/"code":"invalid_value","message":"topic/,
 qr/"code":"invalid_value","message":"sendAt/,
 qr/"code":"invalid_value","message":"sendAt/,
 qr/"code":"invalid_value","message":"sendAt/,
 qr/"code":"unknown_field","message":"ttL/,
 qr/"code":"missing_field","message":"type/,
 qr/"code":"invalid_value","message":"type/,
 qr/"code":"missing_field","message":"to/,
 qr/"code":"invalid_value","message":"to/,
 qr/"code":"invalid_value","message":"to.userIds/,
 qr/"code":"invalid_type","message":"to.userIds\[1\]/,
 qr/"code":"invalid_value","message":"to.topic/,
 qr/"code":"invalid_value","message":"to.all/,
 qr/"code":"unknown_field","message":"to.everyone/,
 qr/"code":"missing_field","message":"payload/,
 qr/"code":"invalid_type","message":"payload/,
 qr/"code":"invalid_type","message":"eventId/,
 qr/"code":"invalid_value","message":"to.userId/,
 qr/"code":"too_long","message":"eventId/,
 qr/"code":"too_many","message":"to.userIds/,
]
--- check
is(main::xlen(), 0, "nothing enqueued after request $idx");
--- no_error_log
[error]



=== TEST 5: not JSON: 400; wrong content type: 415; GET: 405
--- more_headers eval: [$::admin, $::admin =~ s{application/json}{application/x-www-form-urlencoded}r, $::admin]
--- request eval
["POST /api/push/send\n{\"type\":", "POST /api/push/send\ntype=x", "GET /api/push/send"]
--- error_code eval
[400, 415, 405]
--- response_body_like eval
[qr/"code":"invalid_json"/, qr/"code":"unsupported_media_type"/, qr/"code":"method_not_allowed"/]



=== TEST 6: a body over 1 MiB: JSON 413
--- config
    location = /api/push/send {
        client_max_body_size 2m;
        webpush_send;
    }
--- more_headers eval: $::admin
--- request eval
"POST /api/push/send\n" . main::send_body(pad => 'x' x (1024 * 1024))
--- error_code: 413
--- response_body_like: "code":"body_too_large"



=== TEST 6b: a large valid body (read back from nginx's temporary file), chunked too
--- init
main::redis_clean($::prefix);
--- config
    location = /api/push/send {
        client_body_buffer_size 1k;
        webpush_send;
    }
--- raw_request eval
my $b = main::send_body(to => {userIds => [map { "user-$_" } 1..3000]});
[main::raw_chunked('/api/push/send', $::admin, $b)->[0]]
--- error_code: 202
--- check
my $job = main::last_job();
is(scalar @{$job->{to}{userIds}}, 3000, 'all 3000 user ids');
is($job->{to}{userIds}[2999], 'user-3000', 'the last one intact');
--- no_error_log
[error]



=== TEST 6c: the same with Content-Length
--- init
main::redis_clean($::prefix);
--- config
    location = /api/push/send {
        client_body_buffer_size 1k;
        webpush_send;
    }
--- more_headers eval: $::admin
--- request eval
"POST /api/push/send\n" . main::send_body(to => {userIds => [map { "user-$_" } 1..3000]})
--- error_code: 202
--- check
is(scalar @{main::last_job()->{to}{userIds}}, 3000, 'all 3000 user ids');



=== TEST 7: sendAt in the future: the job lands in the scheduled set, scored by sendAt
--- init
main::redis_clean($::prefix);
--- more_headers eval: $::admin
--- request eval
"POST /api/push/send\n" . main::send_body(sendAt => $::at)
--- error_code: 202
--- check
my ($id) = $body =~ /"jobId":"([^"]+)"/;
is(main::xlen(), 0, 'not on the stream');
is(main::zcard(), 1, 'in the scheduled set');
my @m = split /\n/, main::redis('ZRANGE', "$::prefix" . 'scheduled', '0', '-1', 'WITHSCORES');
my $job = JSON::PP::decode_json($m[0]);
is($job->{id}, $id, 'job id');
is($job->{sendAt}, $::at, 'sendAt in the job');
is($m[1], $::at, 'score = sendAt ms');



=== TEST 8: sendAt as RFC 3339 in the future; sendAt in the past is now
--- init
main::redis_clean($::prefix);
--- more_headers eval: [$::admin, $::admin]
--- request eval
["POST /api/push/send\n" . main::send_body(sendAt => $::rfc),
 "POST /api/push/send\n" . main::send_body(sendAt => '2001-01-01T00:00:00Z')]
--- error_code eval
[202, 202]
--- check
if ($idx == 0) {
    is(main::zcard(), 1, 'scheduled');
} else {
    is(main::xlen(), 1, 'the past one went to the stream');
}



=== TEST 9: Idempotency-Key: a repeat answers the same jobId and enqueues nothing
--- init
main::redis_clean($::prefix);
--- more_headers eval: ["$::admin\nIdempotency-Key: order-1", "$::admin\nIdempotency-Key: order-1", "$::admin\nIdempotency-Key: order-2"]
--- request eval
[("POST /api/push/send\n" . main::send_body()) x 3]
--- error_code eval
[202, 202, 202]
--- response_headers eval
[{'!Idempotent-Replayed' => ''}, {'Idempotent-Replayed' => 'true'}, {'!Idempotent-Replayed' => ''}]
--- check
our @ids;
my ($id) = $body =~ /"jobId":"([^"]+)"/;
push @ids, $id;
if ($idx == 1) {
    is($ids[1], $ids[0], 'same jobId');
    is(main::xlen(), 1, 'one entry');
    is(main::redis('TTL', "$::prefix" . 'idem:admin-040:order-1') > 86000 ? 1 : 0, 1, 'kept a day');
}
if ($idx == 2) {
    isnt($ids[2], $ids[0], 'another key, another job');
    is(main::xlen(), 2, 'two entries');
}



=== TEST 10: the same key from another caller is another job
--- more_headers eval
"Content-Type: application/json\n" . main::bearer(sub => 'admin-other', role => 'admin') . "\nIdempotency-Key: order-1"
--- request eval
"POST /api/push/send\n" . main::send_body()
--- error_code: 202
--- check
is(main::xlen(), 3, 'a third entry');



=== TEST 11: Idempotency-Key with a scheduled send
--- init
main::redis_clean($::prefix);
--- more_headers eval: [("$::admin\nIdempotency-Key: later-1") x 2]
--- request eval
[("POST /api/push/send\n" . main::send_body(sendAt => $::at)) x 2]
--- error_code eval
[202, 202]
--- check
is(main::zcard(), 1, 'scheduled once');
is(main::xlen(), 0, 'nothing on the stream');



=== TEST 11b: the same key with another body: 422, nothing enqueued
--- init
main::redis_clean($::prefix);
--- more_headers eval: [("$::admin\nIdempotency-Key: reuse-1") x 3]
--- request eval
["POST /api/push/send\n" . main::send_body(eventId => 'a'),
 "POST /api/push/send\n" . main::send_body(eventId => 'b'),
 "POST /api/push/send\n" . main::send_body(eventId => 'a')]
--- error_code eval
[202, 422, 202]
--- response_body_like eval
[qr/jobId/, qr/^\{"error":\{"code":"idempotency_key_reused"/, qr/jobId/]
--- check
is(main::xlen(), 1, "one entry after request $idx");



=== TEST 12: an over-long Idempotency-Key: 400
--- more_headers eval: "$::admin\nIdempotency-Key: " . ('k' x 256)
--- request eval
"POST /api/push/send\n" . main::send_body()
--- error_code: 400
--- response_body_like: "code":"invalid_idempotency_key"



=== TEST 13: the TTL default from the environment (PUSH_TTL_DEFAULT)
--- init
main::redis_clean($::prefix);
$ENV{WEBPUSH_T_TTL} = '120';
--- main_config
env WEBPUSH_T_TTL;
--- http_config eval
main::webpush_http_config($::prefix) . "webpush_ttl_default env:WEBPUSH_T_TTL 86400;\n"
--- more_headers eval: $::admin
--- request eval
"POST /api/push/send\n" . main::send_body()
--- error_code: 202
--- check
is(main::last_job()->{ttl}, 120, 'ttl from env');



=== TEST 14: a bad TTL default refuses to start
--- http_config eval
main::webpush_http_config($::prefix) . "webpush_ttl_default 9999999;\n"
--- must_die
--- error_log
invalid TTL "9999999": expected 0..2419200 seconds



=== TEST 15: Redis unreachable: 503 with Retry-After
--- http_config eval
my $c = main::webpush_http_config($::prefix);
$c =~ s{redis://127.0.0.1:\$TEST_NGINX_REDIS_PORT}{redis://127.0.0.1:1};
$c;
--- more_headers eval: $::admin
--- request eval
"POST /api/push/send\n" . main::send_body()
--- error_code: 503
--- response_headers
Retry-After: 5
--- response_body_like: "code":"queue_unavailable"
--- timeout: 6
