# vi:filetype=perl
#
# webpush_subscribe: POST upserts "PushSubscription" keyed by endpoint
# (201 new, 200 updated, re-assigned to a new user, re-enabled), stores
# the followed topics; DELETE removes the caller's own row only.  Every
# bad input answers its JSON error and writes nothing.

use Test::Nginx::Socket 'no_plan';
use FindBin;
require "$FindBin::Bin/webpush-helpers.pl";

repeat_each(1);
no_shuffle();

our $prefix = '{t020}:';
our $http_config = webpush_http_config($prefix);

our $config = <<'_EOC_';
    location = /api/push/subscribe { webpush_subscribe; }
_EOC_

our $u1 = "Content-Type: application/json\n" . bearer(sub => 'user-020-1');
our $u2 = "Content-Type: application/json\n" . bearer(sub => 'user-020-2');

sub rows {
    my $tag = shift;
    return main::psql(qq{SELECT count(*) FROM "PushSubscription" WHERE "endpoint" = }
                      . main::sql_quote(main::endpoint_url($tag)));
}

sub row {
    my ($tag, $cols) = @_;
    return main::psql(qq{SELECT $cols FROM "PushSubscription" WHERE "endpoint" = }
                      . main::sql_quote(main::endpoint_url($tag)));
}

sub topics {
    my $tag = shift;
    return main::psql(qq{SELECT coalesce(string_agg(t."topic", ',' ORDER BY t."topic"), '')
        FROM "PushSubscriptionTopic" t JOIN "PushSubscription" s ON s."id" = t."subscriptionId"
        WHERE s."endpoint" = } . main::sql_quote(main::endpoint_url($tag)));
}

sub cleanup {
    psql(q{DELETE FROM "PushSubscription" WHERE "endpoint" LIKE 'https://fcm.googleapis.com/fcm/send/t-t020-%'});
}

cleanup();
add_cleanup_handler(\&cleanup);
install_check_section();
default_configs($http_config, $config);

run_tests();

__DATA__

=== TEST 1: a new subscription: 201 with the row id, row as sent
--- http_config eval: $::http_config
--- config eval: $::config
--- more_headers eval: "$::u1\nUser-Agent: Mozilla/5.0 (test)"
--- request eval
"POST /api/push/subscribe\n" . main::sub_body('t020-1')
--- error_code: 201
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"id":"[0-9a-f-]{36}","created":true\}$
--- check
my ($id) = $body =~ /"id":"([^"]+)"/;
is(main::row('t020-1', q{"id" || '|' || "userId" || '|' || "p256dh" || '|' || "auth" || '|' || "ua" || '|' || "enabled"}),
   "$id|user-020-1|$ENV{TEST_NGINX_VAPID_PUBLIC_KEY}|" . main::b64url('0123456789abcdef') . "|Mozilla/5.0 (test)|true",
   "row stored");
is(main::topics('t020-1'), '', 'no topics');
--- no_error_log
[error]



=== TEST 2: the same endpoint again: 200, same id, lastSeenAt moves
--- init
main::psql(q{UPDATE "PushSubscription" SET "lastSeenAt" = '2000-01-01' WHERE "endpoint" LIKE '%/t-t020-1'});
--- more_headers eval: $::u1
--- request eval
"POST /api/push/subscribe\n" . main::sub_body('t020-1')
--- error_code: 200
--- response_body_like: ^\{"id":"[0-9a-f-]{36}","created":false\}$
--- check
my ($id) = $body =~ /"id":"([^"]+)"/;
is(main::row('t020-1', q{"id"}), $id, 'same row');
is(main::row('t020-1', q{"lastSeenAt" > now() - interval '1 minute'}), 't', 'lastSeenAt updated');
is(main::rows('t020-1'), 1, 'one row');



=== TEST 3: a disabled subscription is enabled again
--- init
main::psql(q{UPDATE "PushSubscription" SET "enabled" = false WHERE "endpoint" LIKE '%/t-t020-1'});
--- more_headers eval: $::u1
--- request eval
"POST /api/push/subscribe\n" . main::sub_body('t020-1')
--- error_code: 200
--- check
is(main::row('t020-1', q{"enabled"}), 't', 'enabled');



=== TEST 4: topics are stored
--- more_headers eval: $::u1
--- request eval
"POST /api/push/subscribe\n" . main::sub_body('t020-4', topics => ['event:1', 'event:2', 'event:1'])
--- error_code: 201
--- check
is(main::topics('t020-4'), 'event:1,event:2', 'topics stored, duplicates once');



=== TEST 5: topics given again replace the set; absent topics keep it
--- more_headers eval: [$::u1, $::u1, $::u1]
--- request eval
["POST /api/push/subscribe\n" . main::sub_body('t020-4', topics => ['event:2', 'event:3']),
 "POST /api/push/subscribe\n" . main::sub_body('t020-4'),
 "POST /api/push/subscribe\n" . main::sub_body('t020-4', topics => undef)]
--- error_code eval
[200, 200, 200]
--- check
is(main::topics('t020-4'), 'event:2,event:3', "topics after request $idx");



=== TEST 6: an empty topics list clears the set
--- more_headers eval: $::u1
--- request eval
"POST /api/push/subscribe\n" . main::sub_body('t020-4', topics => [])
--- error_code: 200
--- check
is(main::topics('t020-4'), '', 'cleared');



=== TEST 7: an endpoint that moves to another user is re-assigned; the old user's topics go
--- init
main::psql(q{INSERT INTO "PushSubscriptionTopic" ("subscriptionId", "topic") SELECT "id", 'event:old' FROM "PushSubscription" WHERE "endpoint" LIKE '%/t-t020-4'});
--- more_headers eval: $::u2
--- request eval
"POST /api/push/subscribe\n" . main::sub_body('t020-4')
--- error_code: 200
--- check
is(main::row('t020-4', q{"userId"}), 'user-020-2', 're-assigned');
is(main::topics('t020-4'), '', 'previous user topics removed');
is(main::rows('t020-4'), 1, 'still one row');



=== TEST 8: DELETE of another user's subscription: 404, row kept
--- more_headers eval: $::u1
--- request eval
"DELETE /api/push/subscribe\n" . '{"endpoint":"' . main::endpoint_url('t020-4') . '"}'
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"no subscription with this endpoint for this user"}}
--- check
is(main::rows('t020-4'), 1, 'row kept');



=== TEST 9: DELETE by the owner: 204, row and topics gone; again: 404
--- init
main::psql(q{INSERT INTO "PushSubscriptionTopic" ("subscriptionId", "topic") SELECT "id", 'event:9' FROM "PushSubscription" WHERE "endpoint" LIKE '%/t-t020-4'});
--- more_headers eval: [$::u2, $::u2]
--- request eval
["DELETE /api/push/subscribe\n" . main::sub_body('t020-4'),
 "DELETE /api/push/subscribe\n" . main::sub_body('t020-4')]
--- error_code eval
[204, 404]
--- response_body eval
["", qr/not_found/]
--- check
is(main::rows('t020-4'), 0, 'row gone');
is(main::psql(q{SELECT count(*) FROM "PushSubscriptionTopic" WHERE "topic" = 'event:9'}), 0, 'topics gone');



=== TEST 9b: DELETE ?endpoint= without a body (percent-encoded)
--- init
main::psql(q{INSERT INTO "PushSubscription" ("userId", "endpoint", "p256dh", "auth") VALUES ('user-020-1', 'https://fcm.googleapis.com/fcm/send/t-t020-9b?x=1', 'k', 'a')});
--- more_headers eval: [$::u1, $::u1, $::u1, $::u1]
--- request eval
["DELETE /api/push/subscribe?endpoint=https%3A%2F%2Ffcm.googleapis.com%2Ffcm%2Fsend%2Ft-t020-9b%3Fx%3D1",
 "DELETE /api/push/subscribe?endpoint=https%3A%2F%2Ffcm.googleapis.com%2Ffcm%2Fsend%2Ft-t020-9b%3Fx%3D1",
 "DELETE /api/push/subscribe?endpoint=https%3A%2F%2Ffcm.googleapis.com%2F%00x",
 "DELETE /api/push/subscribe?other=1"]
--- error_code eval
[204, 404, 422, 422]
--- response_body_like eval
["", qr/not_found/, qr/"code":"invalid_endpoint"/, qr/"code":"missing_field","message":"endpoint: required, in a JSON body or as \?endpoint="/]
--- check
is(main::psql(q{SELECT count(*) FROM "PushSubscription" WHERE "endpoint" LIKE '%t-t020-9b%'}), 0, 'gone');



=== TEST 10: DELETE needs an endpoint
--- more_headers eval: [$::u1, $::u1, $::u1]
--- request eval
["DELETE /api/push/subscribe\n{}",
 "DELETE /api/push/subscribe\n{\"endpoint\":42}",
 "DELETE /api/push/subscribe\n{\"endpoint\":\"ftp://x\"}"]
--- error_code eval
[422, 422, 422]
--- response_body_like eval
[qr/"code":"missing_field","message":"endpoint/, qr/"code":"invalid_type"/, qr/"code":"invalid_endpoint"/]



=== TEST 11: chunked request body
--- raw_request eval
main::raw_chunked('/api/push/subscribe', $::u1, main::sub_body('t020-11'))
--- error_code: 201
--- check
is(main::rows('t020-11'), 1, 'stored');



=== TEST 12: GET: 405 with Allow
--- more_headers eval: $::u1
--- request
GET /api/push/subscribe
--- error_code: 405
--- response_headers
Allow: POST, DELETE
--- response_body_like: "code":"method_not_allowed"



=== TEST 13: bad inputs: status, code and field, nothing written
--- more_headers eval: [($::u1) x 20]
--- request eval
my $k = $ENV{TEST_NGINX_VAPID_PUBLIC_KEY};
my $a = main::b64url('0123456789abcdef');
my $e = main::endpoint_url('t020-13');
[map { "POST /api/push/subscribe\n$_" }
 'not json',
 '[1,2]',
 '{"keys":{"p256dh":"' . $k . '","auth":"' . $a . '"}}',
 '{"endpoint":"http://fcm.googleapis.com/fcm/send/t-t020-13","keys":{"p256dh":"' . $k . '","auth":"' . $a . '"}}',
 '{"endpoint":"https://evil.example.com/t-t020-13","keys":{"p256dh":"' . $k . '","auth":"' . $a . '"}}',
 '{"endpoint":"https://127.0.0.1/t-t020-13","keys":{"p256dh":"' . $k . '","auth":"' . $a . '"}}',
 '{"endpoint":"https://u:p@fcm.googleapis.com/t-t020-13","keys":{"p256dh":"' . $k . '","auth":"' . $a . '"}}',
 '{"endpoint":"' . $e . '"}',
 '{"endpoint":"' . $e . '","keys":{"p256dh":"!!!","auth":"' . $a . '"}}',
 '{"endpoint":"' . $e . '","keys":{"p256dh":"' . main::b64url('x' x 32) . '","auth":"' . $a . '"}}',
 '{"endpoint":"' . $e . '","keys":{"p256dh":"' . $k . '","auth":"' . main::b64url('short') . '"}}',
 '{"endpoint":"' . $e . '","keys":{"p256dh":"' . $k . '"}}',
 '{"endpoint":"' . $e . '","keys":{"p256dh":"' . $k . '","auth":"' . $a . '"},"topics":"event:1"}',
 '{"endpoint":"' . $e . '","keys":{"p256dh":"' . $k . '","auth":"' . $a . '"},"topics":["ok","bad topic"]}',
 '{"endpoint":"' . $e . '","keys":{"p256dh":"' . $k . '","auth":"' . $a . '"},"topics":[' . CORE::join(',', map { "\"t$_\"" } 1..65) . ']}',
 '{"endpoint":"' . $e . '","keys":{"p256dh":"' . $k . '","auth":"' . $a . '"},"expirationTime":"soon"}',
 '{"endpoint":' . $e . '}',
 '{"endpoint":"' . $e . '","endpoint":"' . $e . '"}',
 '{"endpoint":"' . $e . '","keys":{"p256dh":"' . $k . '","auth":"' . $a . '"},"topics":[1]}',
 '{"endpoint":"' . $e . '","keys":{"p256dh":"' . $k . '","auth":"' . $a . '"},"topics":["' . ('x' x 129) . '"]}',
]
--- error_code eval
[400, 400, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 422, 400, 400, 422, 422]
--- response_body_like eval
[qr/"code":"invalid_json"/,
 qr/"code":"invalid_json"/,
 qr/"code":"missing_field","message":"endpoint/,
 qr/"code":"invalid_endpoint"/,
 qr/"code":"endpoint_not_allowed"/,
 qr/"code":"(invalid_endpoint|endpoint_not_allowed)"/,
 qr/"code":"invalid_endpoint"/,
 qr/"code":"missing_field","message":"keys/,
 qr/"code":"invalid_base64","message":"keys.p256dh/,
 qr/"code":"invalid_key","message":"keys.p256dh/,
 qr/"code":"invalid_key","message":"keys.auth/,
 qr/"code":"missing_field","message":"keys.auth/,
 qr/"code":"invalid_type","message":"topics/,
 qr/"code":"invalid_value","message":"topics\[1\]/,
 qr/"code":"too_many","message":"topics/,
 qr/"code":"invalid_type","message":"expirationTime/,
 qr/"code":"invalid_json"/,
 qr/"code":"invalid_json"/,
 qr/"code":"invalid_type","message":"topics\[0\]/,
 qr/"code":"too_long","message":"topics\[0\]/,
]
--- check
is(main::rows('t020-13'), 0, "request $idx wrote nothing");
--- no_error_log
[error]



=== TEST 14: wrong Content-Type: 415
--- more_headers eval: [$::u1 =~ s{application/json}{text/plain}r, $::u1 =~ s{application/json}{application/jsonx}r, $::u1 =~ s{application/json}{Application/JSON; charset=utf-8}r]
--- request eval
["POST /api/push/subscribe\n" . main::sub_body('t020-14'),
 "POST /api/push/subscribe\n" . main::sub_body('t020-14'),
 "POST /api/push/subscribe\n" . main::sub_body('t020-14')]
--- error_code eval
[415, 415, 201]
--- response_body_like eval
[qr/"code":"unsupported_media_type"/, qr/"code":"unsupported_media_type"/, qr/"id"/]



=== TEST 15: body over the route's bound (8 KiB): JSON 413 before reading
--- more_headers eval: $::u1
--- request eval
"POST /api/push/subscribe\n" . main::sub_body('t020-15', pad => 'x' x 9000)
--- error_code: 413
--- response_body_like: ^\{"error":\{"code":"body_too_large","message":"the request body is larger than 8192 bytes"\}\}$
--- check
is(main::rows('t020-15'), 0, 'nothing written');



=== TEST 16: client_max_body_size below the route's bound: nginx refuses first; error_page keeps it JSON
--- config
    location = /api/push/subscribe {
        client_max_body_size 100;
        error_page 413 = @json413;
        webpush_subscribe;
    }
    location @json413 {
        default_type application/json;
        return 413 '{"error":{"code":"body_too_large","message":"the request body is too large"}}';
    }
--- more_headers eval: $::u1
--- request eval
"POST /api/push/subscribe\n" . main::sub_body('t020-16')
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_body_like: "code":"body_too_large"



=== TEST 17: a chunked body over the bound: 413 as JSON as well
--- config eval: $::config
--- raw_request eval
main::raw_chunked('/api/push/subscribe', $::u1, main::sub_body('t020-17', pad => 'x' x 9000))
--- error_code: 413
--- response_body_like: "code":"body_too_large"



=== TEST 18: no body at all: 411; an empty body: 400
--- raw_request eval
my ($auth) = $::u1 =~ /^(Authorization: .*)$/m;
["POST /api/push/subscribe HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n$auth\r\nConnection: close\r\n\r\n"]
--- error_code: 411
--- response_body_like: "code":"length_required"



=== TEST 19: an empty body: 400
--- raw_request eval
my ($auth) = $::u1 =~ /^(Authorization: .*)$/m;
["POST /api/push/subscribe HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n$auth\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"]
--- error_code: 400
--- response_body_like: "code":"invalid_json"



=== TEST 20: the refused body is read: the next request on the connection works
--- pipelined_requests eval
my ($auth) = $::u1 =~ /^(Authorization: .*)$/m;
["POST /api/push/subscribe\n" . ('x' x 5000), "POST /api/push/subscribe\n" . main::sub_body('t020-20')]
--- more_headers eval: $::u1
--- error_code eval
[400, 201]



=== TEST 21: allowed endpoints from the configuration
--- http_config eval
$::http_config . "webpush_allowed_endpoints 'push.example.com, *.example.org:8443';\n"
--- config eval: $::config
--- more_headers eval: [$::u1, $::u1, $::u1]
--- request eval
my $k = $ENV{TEST_NGINX_VAPID_PUBLIC_KEY};
my $a = main::b64url('0123456789abcdef');
[map { "POST /api/push/subscribe\n{\"endpoint\":\"$_\",\"keys\":{\"p256dh\":\"$k\",\"auth\":\"$a\"}}" }
 'https://push.example.com/t-t020-21', 'https://a.b.example.org:8443/t-t020-21', main::endpoint_url('t020-21')]
--- error_code eval
[201, 201, 422]
--- response_body_like eval
[qr/"id"/, qr/"id"/, qr/"code":"endpoint_not_allowed"/]
--- check
main::psql(q{DELETE FROM "PushSubscription" WHERE "endpoint" LIKE '%example.%/t-t020-21'}) if $idx == 2;



=== TEST 22: allowed endpoints from the environment, with a fallback when unset
--- main_config
env WEBPUSH_T_ALLOWED;
env WEBPUSH_T_UNSET_ALLOWED;
--- init
$ENV{WEBPUSH_T_ALLOWED} = 'push.example.net';
delete $ENV{WEBPUSH_T_UNSET_ALLOWED};
--- http_config eval
$::http_config . "webpush_allowed_endpoints env:WEBPUSH_T_ALLOWED;\n"
--- config eval: $::config
--- more_headers eval: $::u1
--- request eval
"POST /api/push/subscribe\n" . main::sub_body('t020-22')
--- error_code: 422
--- response_body_like: "code":"endpoint_not_allowed"



=== TEST 23: unset variable with a fallback list: the fallback applies
--- main_config
env WEBPUSH_T_UNSET_ALLOWED;
--- http_config eval
$::http_config . "webpush_allowed_endpoints env:WEBPUSH_T_UNSET_ALLOWED default;\n"
--- config eval: $::config
--- more_headers eval: $::u1
--- request eval
"POST /api/push/subscribe\n" . main::sub_body('t020-23')
--- error_code: 201



=== TEST 24: a bad allow-list refuses to start
--- http_config eval
$::http_config . "webpush_allowed_endpoints 'fcm.googleapis.com,,';\n"
--- config eval: $::config
--- must_die
--- error_log
invalid allowed endpoints (literal value)



=== TEST 24b: the route without webpush_postgres refuses to start, naming that route
--- http_config eval
my $c = $::http_config;
$c =~ s{webpush_postgres [^\n]*\n}{};
$c;
--- config
    location = /api/push/vapid-public-key { webpush_vapid_key; }
    location = /api/push/subscribe { webpush_subscribe; }
--- must_die
--- error_log
"webpush_subscribe" requires "webpush_postgres" in the http block



=== TEST 25: the database unreachable: 503 with Retry-After, JSON
--- http_config eval
my $c = $::http_config;
$c =~ s{webpush_postgres [^\n]*\n}{webpush_postgres "postgresql://postgres\@127.0.0.1:1/webpush" connect_timeout=1s;\n};
$c;
--- config eval: $::config
--- more_headers eval: $::u1
--- request eval
"POST /api/push/subscribe\n" . main::sub_body('t020-25')
--- error_code: 503
--- response_headers
Retry-After: 5
Content-Type: application/json
--- response_body_like: "code":"database_unavailable"
--- timeout: 5
