# vi:filetype=perl
#
# The module skeleton: it loads, reads the VAPID public key (literal, env:,
# file:), validates it at config time and serves it on webpush_vapid_key.

use Test::Nginx::Socket 'no_plan';
use Compress::Zlib qw(crc32);

repeat_each(1);
no_shuffle();

# The example key of the web-push README; `make test` passes the stack's.
$ENV{TEST_NGINX_VAPID_PUBLIC_KEY} ||=
    'BGtkbcjrO12YMoDuq2sCQeHlu47uPx3SHTgFKZFYiBW8Qr0D9vgyZSZPdw6_4ZFEI9Snk1VEAj2qTYI1I1YxBXE';

# For the env: blocks (nginx inherits our environment).
$ENV{WEBPUSH_T_VAPID} = $ENV{TEST_NGINX_VAPID_PUBLIC_KEY};
delete $ENV{WEBPUSH_T_UNSET};

our $key  = $ENV{TEST_NGINX_VAPID_PUBLIC_KEY};
our $body = qq{{"publicKey":"$key"}};
our $etag = sprintf '"%08x"', crc32($body);

# The same key with its base64 padding, as a file: may hold it.
our $padded = $key . ('=' x ((4 - length($key) % 4) % 4));

our $http_config = <<'_EOC_';
    webpush_vapid_public_key $TEST_NGINX_VAPID_PUBLIC_KEY;
_EOC_

our $config = <<'_EOC_';
    location = /api/push/vapid-public-key {
        webpush_vapid_key;
    }
_EOC_

run_tests();

__DATA__

=== TEST 1: GET serves the key as JSON, cacheable
--- http_config eval: $::http_config
--- config eval: $::config
--- request
GET /api/push/vapid-public-key
--- response_body eval: $::body
--- response_headers eval
"Content-Type: application/json
Cache-Control: public, max-age=3600
ETag: $::etag
Content-Length: " . length($::body)
--- no_error_log
[error]
[alert]



=== TEST 2: HEAD: same headers, no body
--- http_config eval: $::http_config
--- config eval: $::config
--- request
HEAD /api/push/vapid-public-key
--- response_body
--- response_headers eval
"Content-Type: application/json
Cache-Control: public, max-age=3600
Content-Length: " . length($::body)
--- no_error_log
[error]



=== TEST 3: POST with a body: 405, Allow and a JSON error
--- http_config eval: $::http_config
--- config eval: $::config
--- more_headers
Content-Type: application/json
--- request
POST /api/push/vapid-public-key
{"publicKey":"attacker"}
--- error_code: 405
--- response_headers
Allow: GET, HEAD
Content-Type: application/json
Cache-Control: no-store
--- response_body chomp
{"error":{"code":"method_not_allowed","message":"method POST is not allowed here; allowed: GET, HEAD"}}
--- no_error_log
[error]



=== TEST 4: the refused body is discarded: the next request on the connection works
--- http_config eval: $::http_config
--- config eval: $::config
--- pipelined_requests eval
["DELETE /api/push/vapid-public-key\n" . ('x' x 5000),
 "GET /api/push/vapid-public-key"]
--- error_code eval
[405, 200]
--- response_body eval
[qq{{"error":{"code":"method_not_allowed","message":"method DELETE is not allowed here; allowed: GET, HEAD"}}},
 $::body]
--- no_error_log
[error]



=== TEST 5: GET with a body still answers (body discarded)
--- http_config eval: $::http_config
--- config eval: $::config
--- request
GET /api/push/vapid-public-key
ignored body
--- response_body eval: $::body
--- no_error_log
[error]



=== TEST 6: If-None-Match with the current ETag: 304
--- http_config eval: $::http_config
--- config eval: $::config
--- more_headers eval
"If-None-Match: $::etag"
--- request
GET /api/push/vapid-public-key
--- error_code: 304
--- response_body
--- response_headers eval
"ETag: $::etag"



=== TEST 7: webpush_vapid_key_max_age, inherited from the server level
--- http_config eval: $::http_config
--- config
    webpush_vapid_key_max_age 10m;
    location = /api/push/vapid-public-key {
        webpush_vapid_key;
    }
--- request
GET /api/push/vapid-public-key
--- response_headers
Cache-Control: public, max-age=600
--- response_body eval: $::body



=== TEST 8: nested locations do not inherit the route
--- http_config eval: $::http_config
--- config
    location /api/push/ {
        webpush_vapid_key;
        location /api/push/other {
            return 204;
        }
    }
--- request eval
["GET /api/push/vapid-public-key", "GET /api/push/other"]
--- error_code eval
[200, 204]
--- response_body eval
[$::body, ""]



=== TEST 9: key from the environment (env NAME; in the main context)
--- main_config
env WEBPUSH_T_VAPID;
--- http_config
webpush_vapid_public_key env:WEBPUSH_T_VAPID;
--- config eval: $::config
--- request
GET /api/push/vapid-public-key
--- response_body eval: $::body
--- no_error_log
[error]



=== TEST 10: key from "env NAME=value;" without the variable in the environment
--- main_config eval
"env WEBPUSH_T_SET_IN_CONF=$::key;"
--- http_config
webpush_vapid_public_key env:WEBPUSH_T_SET_IN_CONF;
--- config eval: $::config
--- request
GET /api/push/vapid-public-key
--- response_body eval: $::body



=== TEST 11: key from a file (padded, surrounded by white space): served canonical
--- http_config
webpush_vapid_public_key file:../html/vapid.pub;
--- config eval: $::config
--- user_files eval
">>> vapid.pub\n\n  $::padded  \n\n"
--- request
GET /api/push/vapid-public-key
--- response_body eval: $::body



=== TEST 12: the key directive may come after the route in the http block
--- http_config
server {
    listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    location = /k { webpush_vapid_key; }
}
webpush_vapid_public_key $TEST_NGINX_VAPID_PUBLIC_KEY;
--- config eval: $::config
--- request
GET /api/push/vapid-public-key
--- response_body eval: $::body



=== TEST 13: bad key (32 bytes, a private key by the look of it) refuses to start
--- http_config
webpush_vapid_public_key AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA;
--- config eval: $::config
--- must_die
--- error_log
invalid VAPID public key (literal value): decodes to 32 bytes (is it the private key?)



=== TEST 14: bad key (not base64url) refuses to start
--- http_config
webpush_vapid_public_key BGtkbcjrO12YMoDuq2sCQeHl+47uPx3SHTgFKZFYiBW8Qr0D9vgyZSZPdw6/4ZFEI9Snk1VEAj2qTYI1I1YxBXE;
--- config eval: $::config
--- must_die
--- error_log
invalid VAPID public key (literal value): webpush_vapid_public_key: invalid base64url character



=== TEST 15: 65 bytes but not an uncompressed point refuses to start
--- http_config
webpush_vapid_public_key AGtkbcjrO12YMoDuq2sCQeHlu47uPx3SHTgFKZFYiBW8Qr0D9vgyZSZPdw6_4ZFEI9Snk1VEAj2qTYI1I1YxBXE;
--- config eval: $::config
--- must_die
--- error_log
invalid VAPID public key (literal value): first byte is 0x00, expected 0x04



=== TEST 16: 0x04 || X || Y not on the P-256 curve refuses to start
--- http_config
webpush_vapid_public_key BAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE;
--- config eval: $::config
--- must_die
--- error_log
invalid VAPID public key (literal value): webpush_vapid_public_key: not a point on the P-256 curve



=== TEST 17: the route without a key refuses to start
--- http_config
--- config eval: $::config
--- must_die
--- error_log
"webpush_vapid_key" requires "webpush_vapid_public_key"



=== TEST 18: env: naming an unset variable refuses to start
--- main_config
env WEBPUSH_T_UNSET;
--- http_config
webpush_vapid_public_key env:WEBPUSH_T_UNSET;
--- config eval: $::config
--- must_die
--- error_log
environment variable "WEBPUSH_T_UNSET" is not set



=== TEST 19: file: naming a missing file refuses to start
--- http_config
webpush_vapid_public_key file:/nonexistent/vapid.pub;
--- config eval: $::config
--- must_die
--- error_log
open() "/nonexistent/vapid.pub" failed



=== TEST 20: webpush_vapid_public_key is an http-level directive only
--- http_config eval: $::http_config
--- config
    location = /api/push/vapid-public-key {
        webpush_vapid_public_key BGtkbcjrO12YMoDuq2sCQeHlu47uPx3SHTgFKZFYiBW8Qr0D9vgyZSZPdw6_4ZFEI9Snk1VEAj2qTYI1I1YxBXE;
        webpush_vapid_key;
    }
--- must_die
--- error_log
"webpush_vapid_public_key" directive is not allowed here
