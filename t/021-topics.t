# vi:filetype=perl
#
# webpush_topics: change a subscription's followed topics without
# re-subscribing.  PUT replaces the set, POST adds, DELETE removes; the
# answer is the resulting set.  Only the owner's subscription (404
# otherwise); bad topic names are named and change nothing.

use Test::Nginx::Socket 'no_plan';
use FindBin;
no warnings "once";
require "$FindBin::Bin/webpush-helpers.pl";

repeat_each(1);
no_shuffle();

our $prefix = '{t021}:';
our $http_config = webpush_http_config($prefix);

our $config = <<'_EOC_';
    location = /api/push/subscribe { webpush_subscribe; }
    location = /api/push/topics { webpush_topics; }
_EOC_

our $u1 = "Content-Type: application/json\n" . bearer(sub => 'user-021-1');
our $u2 = "Content-Type: application/json\n" . bearer(sub => 'user-021-2');
our $ep = endpoint_url('t021-1');

sub topics_req {
    my ($method, @topics) = @_;
    return "$method /api/push/topics\n"
         . $main::JSON->encode({ endpoint => $::ep, topics => \@topics });
}

sub topics {
    return main::psql(qq{SELECT coalesce(string_agg(t."topic", ',' ORDER BY t."topic"), '')
        FROM "PushSubscriptionTopic" t JOIN "PushSubscription" s ON s."id" = t."subscriptionId"
        WHERE s."endpoint" = } . main::sql_quote($::ep));
}

sub cleanup {
    psql(q{DELETE FROM "PushSubscription" WHERE "endpoint" LIKE 'https://fcm.googleapis.com/fcm/send/t-t021-%'});
}

cleanup();
add_cleanup_handler(\&cleanup);
install_check_section();
default_configs($http_config, $config);

run_tests();

__DATA__

=== TEST 1: subscribe with topics, then PUT replaces, POST adds, DELETE removes
--- more_headers eval: [($::u1) x 5]
--- request eval
["POST /api/push/subscribe\n" . main::sub_body('t021-1', topics => ['event:1']),
 main::topics_req('PUT', 'event:2', 'event:3', 'event:2'),
 main::topics_req('POST', 'event:4', 'event:3'),
 main::topics_req('DELETE', 'event:2', 'event:9'),
 main::topics_req('PUT')]
--- error_code eval
[201, 200, 200, 200, 200]
--- response_body_like eval
[qr/"created":true/,
 qr/^\{"id":"[0-9a-f-]{36}","topics":\["event:2","event:3"\]\}$/,
 qr/"topics":\["event:2","event:3","event:4"\]\}$/,
 qr/"topics":\["event:3","event:4"\]\}$/,
 qr/"topics":\[\]\}$/]
--- check
my @want = ('event:1', 'event:2,event:3', 'event:2,event:3,event:4', 'event:3,event:4', '');
is(main::topics(), $want[$idx], "stored set after request $idx");
--- no_error_log
[error]



=== TEST 2: another user's subscription, or an unknown endpoint: 404, nothing changes
--- init
main::psql(q{INSERT INTO "PushSubscriptionTopic" ("subscriptionId", "topic") SELECT "id", 'event:kept' FROM "PushSubscription" WHERE "endpoint" LIKE '%/t-t021-1'});
--- more_headers eval: [$::u2, $::u2, $::u1]
--- request eval
[main::topics_req('PUT', 'event:x'), main::topics_req('DELETE', 'event:kept'),
 "PUT /api/push/topics\n" . $main::JSON->encode({endpoint => main::endpoint_url('t021-none'), topics => ['a']})]
--- error_code eval
[404, 404, 404]
--- response_body_like eval
[(qr/^\{"error":\{"code":"not_found","message":"no subscription with this endpoint for this user"\}\}$/) x 3]
--- check
is(main::topics(), 'event:kept', 'unchanged');



=== TEST 3: bad inputs: named, 4xx, nothing changes
--- more_headers eval: [($::u1) x 9]
--- request eval
[map { "PUT /api/push/topics\n$_" }
 '{"endpoint":"' . $::ep . '"}',
 '{"endpoint":"' . $::ep . '","topics":"event:1"}',
 '{"endpoint":"' . $::ep . '","topics":["ok",7]}',
 '{"endpoint":"' . $::ep . '","topics":["bad topic"]}',
 '{"endpoint":"' . $::ep . '","topics":[' . CORE::join(',', map { "\"t$_\"" } 1..65) . ']}',
 '{"endpoint":"' . $::ep . '","topics":[],"topic":"x"}',
 '{"topics":[]}',
 '{"endpoint":"javascript:alert(1)","topics":[]}',
 'nope']
--- error_code eval
[422, 422, 422, 422, 422, 422, 422, 422, 400]
--- response_body_like eval
[qr/"code":"missing_field","message":"topics/,
 qr/"code":"invalid_type","message":"topics/,
 qr/"code":"invalid_type","message":"topics\[1\]/,
 qr/"code":"invalid_value","message":"topics\[0\]/,
 qr/"code":"too_many","message":"topics/,
 qr/"code":"unknown_field","message":"topic/,
 qr/"code":"missing_field","message":"endpoint/,
 qr/"code":"invalid_endpoint"/,
 qr/"code":"invalid_json"/]
--- check
is(main::topics(), 'event:kept', "unchanged after request $idx");



=== TEST 3b: adding past 64 topics: 422, nothing added
--- init
main::psql(q{DELETE FROM "PushSubscriptionTopic" WHERE "subscriptionId" IN (SELECT "id" FROM "PushSubscription" WHERE "endpoint" LIKE '%/t-t021-1')});
--- more_headers eval: [($::u1) x 3]
--- request eval
[main::topics_req('PUT', map { "a$_" } 1..60),
 main::topics_req('POST', map { "b$_" } 1..5),
 main::topics_req('POST', 'a1', 'a2', 'b1', 'b2', 'b3', 'b4')]
--- error_code eval
[200, 422, 200]
--- response_body_like eval
[qr/"topics"/, qr/^\{"error":\{"code":"too_many","message":"topics: a subscription follows at most 64 topics"\}\}$/, qr/"b4"/]
--- check
my @n = (60, 60, 64);
is(main::psql(q{SELECT count(*) FROM "PushSubscriptionTopic" t JOIN "PushSubscription" s ON s."id" = t."subscriptionId" WHERE s."endpoint" LIKE '%/t-t021-1'}), $n[$idx], "count after request $idx");



=== TEST 4: methods: GET is 405 with Allow; no token is 401
--- more_headers eval: [$::u1, "Content-Type: application/json"]
--- request eval
["GET /api/push/topics", main::topics_req('PUT', 'a')]
--- error_code eval
[405, 401]
--- response_headers eval
[{Allow => 'PUT, POST, DELETE'}, {'WWW-Authenticate' => 'Bearer realm="webpush"'}]
