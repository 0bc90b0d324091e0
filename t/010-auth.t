# vi:filetype=perl
#
# Auth for the application routes: the built-in HS256 JWT (missing,
# malformed, expired, not yet valid, forged, alg none, other algs, no
# user, wrong role) and auth taken from nginx variables; the 401
# challenge; 403 without the send permission; configuration errors.

use Test::Nginx::Socket 'no_plan';
use FindBin;
require "$FindBin::Bin/webpush-helpers.pl";

repeat_each(1);
no_shuffle();

our $prefix = '{t010}:';
our $http_config = webpush_http_config($prefix);

our $config = <<'_EOC_';
    location = /api/push/send { webpush_send; }
    location = /api/push/subscribe { webpush_subscribe; }
_EOC_

our $send = '{"type":"t","to":{"all":true},"payload":{"title":"hi"}}';
our $admin = bearer(sub => 'admin-1', role => 'admin');
our $user = bearer(sub => 'user-1');

install_check_section();
add_cleanup_handler(sub { redis_clean($prefix) });
redis_clean($prefix);

run_tests();

__DATA__

=== TEST 1: admin token: 202 with a job id
--- http_config eval: $::http_config
--- config eval: $::config
--- more_headers eval
"Content-Type: application/json\n$::admin"
--- request eval
"POST /api/push/send\n$::send"
--- error_code: 202
--- response_body_like: ^\{"jobId":"[0-9a-f-]{36}"\}$
--- no_error_log
[error]



=== TEST 2: no Authorization header: 401 with a bare Bearer challenge
--- http_config eval: $::http_config
--- config eval: $::config
--- more_headers
Content-Type: application/json
--- request eval
"POST /api/push/send\n$::send"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="webpush"
Content-Type: application/json
--- response_body chomp
{"error":{"code":"missing_token","message":"an \"Authorization: Bearer\" token is required"}}



=== TEST 3: not a Bearer scheme
--- http_config eval: $::http_config
--- config eval: $::config
--- more_headers
Content-Type: application/json
Authorization: Basic YWRtaW46YWRtaW4=
--- request eval
"POST /api/push/send\n$::send"
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="webpush", error="invalid_token", error_description="invalid_token"
--- response_body_like: "code":"invalid_token"



=== TEST 4: expired token
--- http_config eval: $::http_config
--- config eval: $::config
--- more_headers eval
"Content-Type: application/json\n" . main::bearer(sub => 'a', role => 'admin', exp => time - 3600)
--- request eval
"POST /api/push/send\n$::send"
--- error_code: 401
--- response_headers_like
WWW-Authenticate: Bearer realm="webpush", error="invalid_token", error_description="token_expired"
--- response_body_like: "code":"token_expired"



=== TEST 5: not yet valid (nbf an hour ahead)
--- http_config eval: $::http_config
--- config eval: $::config
--- more_headers eval
"Content-Type: application/json\n" . main::bearer(sub => 'a', role => 'admin', nbf => time + 3600)
--- request eval
"POST /api/push/send\n$::send"
--- error_code: 401
--- response_body_like: "code":"token_not_yet_valid"



=== TEST 6: forged: signed with another secret
--- http_config eval: $::http_config
--- config eval: $::config
--- more_headers eval
"Content-Type: application/json\n" . main::bearer(sub => 'a', role => 'admin', _secret => 'not-the-secret-not-the-secret-xx')
--- request eval
"POST /api/push/send\n$::send"
--- error_code: 401
--- response_body_like: "code":"invalid_token_signature"



=== TEST 7: alg none with an empty signature
--- http_config eval: $::http_config
--- config eval: $::config
--- more_headers eval
"Content-Type: application/json\nAuthorization: Bearer " . main::jwt_none(sub => 'a', role => 'admin')
--- request eval
"POST /api/push/send\n$::send"
--- error_code: 401
--- response_body_like: "code":"unsupported_token_algorithm"



=== TEST 8: alg HS512 header (alg pinned to HS256)
--- http_config eval: $::http_config
--- config eval: $::config
--- more_headers eval
"Content-Type: application/json\n" . main::bearer(sub => 'a', role => 'admin', _header => {alg => 'HS512', typ => 'JWT'})
--- request eval
"POST /api/push/send\n$::send"
--- error_code: 401
--- response_body_like: "code":"unsupported_token_algorithm"



=== TEST 9: garbage token
--- http_config eval: $::http_config
--- config eval: $::config
--- more_headers
Content-Type: application/json
Authorization: Bearer not.a.jwt
--- request eval
"POST /api/push/send\n$::send"
--- error_code: 401
--- response_body_like: "code":"invalid_token"



=== TEST 10: token without a user (no sub)
--- http_config eval: $::http_config
--- config eval: $::config
--- more_headers eval
"Content-Type: application/json\n" . main::bearer(role => 'admin')
--- request eval
"POST /api/push/send\n$::send"
--- error_code: 401
--- response_body_like: "code":"token_missing_user"



=== TEST 11: a user token may not send: 403
--- http_config eval: $::http_config
--- config eval: $::config
--- more_headers eval
"Content-Type: application/json\n$::user"
--- request eval
"POST /api/push/send\n$::send"
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"sending needs the token claim \"role\" to hold \"admin\""}}



=== TEST 12: another role value may not send either
--- http_config eval: $::http_config
--- config eval: $::config
--- more_headers eval
"Content-Type: application/json\n" . main::bearer(sub => 'a', role => 'editor')
--- request eval
"POST /api/push/send\n$::send"
--- error_code: 403



=== TEST 13: roles as an array work
--- http_config eval: $::http_config
--- config eval: $::config
--- more_headers eval
"Content-Type: application/json\n" . main::bearer(sub => 'a', role => ['user', 'admin'])
--- request eval
"POST /api/push/send\n$::send"
--- error_code: 202



=== TEST 14: webpush_send_role and webpush_jwt_user_claim
--- http_config eval
$::http_config . "webpush_send_role scope push:send;\nwebpush_jwt_user_claim uid;\n"
--- config eval: $::config
--- more_headers eval
["Content-Type: application/json\n" . main::bearer(uid => 'u9', scope => 'read push:send'),
 "Content-Type: application/json\n" . main::bearer(uid => 'u9', role => 'admin'),
 "Content-Type: application/json\n" . main::bearer(sub => 'u9', scope => 'push:send')]
--- request eval
["POST /api/push/send\n$::send", "POST /api/push/send\n$::send", "POST /api/push/send\n$::send"]
--- error_code eval
[202, 403, 401]



=== TEST 15: the subscribe route needs a token as well
--- http_config eval: $::http_config
--- config eval: $::config
--- more_headers
Content-Type: application/json
--- request eval
"POST /api/push/subscribe\n" . main::sub_body('auth-15')
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="webpush"



=== TEST 16: auth failures are checked before the body: 401, not 415
--- http_config eval: $::http_config
--- config eval: $::config
--- more_headers
Content-Type: text/plain
--- request
POST /api/push/send
hello
--- error_code: 401



=== TEST 17: the token is never logged
--- http_config eval: $::http_config
--- config eval: $::config
--- log_level: info
--- more_headers eval
"Content-Type: application/json\n" . main::bearer(sub => 'a', role => 'admin', _secret => 'not-the-secret-not-the-secret-xx')
--- request eval
"POST /api/push/send\n$::send"
--- error_code: 401
--- no_error_log eval
[qr/eyJ[A-Za-z0-9_-]{10,}/, $ENV{TEST_NGINX_JWT_SECRET}]



=== TEST 18: auth from variables (another auth layer set them)
--- http_config eval
my $c = $::http_config;
$c =~ s/webpush_jwt_secret[^\n]*\n//;
$c . <<'_EOC_';
map $http_x_user $webpush_user { default $http_x_user; }
map $http_x_role $webpush_may_send { admin 1; default 0; }
_EOC_
--- config
    location = /api/push/send {
        webpush_auth_user_variable $webpush_user;
        webpush_auth_send_variable $webpush_may_send;
        webpush_send;
    }
--- more_headers eval
["Content-Type: application/json\nX-User: u1\nX-Role: admin",
 "Content-Type: application/json\nX-User: u1\nX-Role: user",
 "Content-Type: application/json\nX-Role: admin"]
--- request eval
["POST /api/push/send\n$::send", "POST /api/push/send\n$::send", "POST /api/push/send\n$::send"]
--- error_code eval
[202, 403, 401]
--- response_body_like eval
[qr/jobId/, qr/"code":"forbidden"/, qr/"code":"unauthorized"/]



=== TEST 19: variables set at the server level are inherited
--- http_config eval
my $c = $::http_config;
$c =~ s/webpush_jwt_secret[^\n]*\n//;
$c;
--- config
    webpush_auth_user_variable $http_x_user;
    location = /api/push/send { webpush_send; }
--- more_headers
Content-Type: application/json
X-User: u1
--- request eval
"POST /api/push/send\n$::send"
--- error_code: 403
--- response_body_like: this caller may not send



=== TEST 20: an auth route with neither a secret nor a variable refuses to start
--- http_config eval
my $c = $::http_config;
$c =~ s/webpush_jwt_secret[^\n]*\n//;
$c;
--- config eval: $::config
--- must_die
--- error_log
"webpush_send" requires "webpush_jwt_secret" in the http block or "webpush_auth_user_variable"



=== TEST 21: the secret from the environment
--- main_config
env WEBPUSH_T_JWT;
--- init
$ENV{WEBPUSH_T_JWT} = $ENV{TEST_NGINX_JWT_SECRET};
--- http_config eval
my $c = $::http_config;
$c =~ s/webpush_jwt_secret[^\n]*\n/webpush_jwt_secret env:WEBPUSH_T_JWT;\n/;
$c;
--- config eval: $::config
--- more_headers eval
"Content-Type: application/json\n$::admin"
--- request eval
"POST /api/push/send\n$::send"
--- error_code: 202



=== TEST 22: a short secret is accepted with a warning that does not show it
--- http_config eval
my $c = $::http_config;
$c =~ s/webpush_jwt_secret[^\n]*\n/webpush_jwt_secret short-secret;\n/;
$c;
--- config eval: $::config
--- more_headers eval
"Content-Type: application/json\n" . main::bearer(sub => 'a', role => 'admin', _secret => 'short-secret')
--- request eval
"POST /api/push/send\n$::send"
--- error_code: 202
--- check
my $log = do { local (@ARGV, $/) = (Test::Nginx::Socket::server_root() . "/logs/error.log"); <> };
Test::More::like($log, qr/the JWT secret \(literal value\) is shorter than 32 bytes/, "warned");
Test::More::unlike($log, qr/short-secret/, "secret not logged");
