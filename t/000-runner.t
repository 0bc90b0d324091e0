# vi:filetype=perl
#
# Self-test of the Test::Nginx::Socket runner (t/lib/Test/Nginx/Socket.pm).
# Only stock nginx directives are used, so this file also runs under the
# real openresty Test::Nginx:  prove -I t/lib t/000-runner.t

use Test::Nginx::Socket 'no_plan';

repeat_each(2);
no_shuffle();

$ENV{TEST_NGINX_SELFTEST_WORD} ||= 'hello-from-env';

our $http_config = <<'_EOC_';
    map $uri $selftest_mapped {
        default "mapped-by-http-config";
    }
_EOC_

# Blocks whose name mentions "preprocessor" get a default http_config.
add_block_preprocessor(sub {
    my $block = shift;
    if ($block->name =~ /preprocessor/ && !defined $block->http_config) {
        $block->set_value('http_config', <<'_EOC_');
    map $uri $from_preprocessor {
        default "set-by-preprocessor";
    }
_EOC_
    }
});

# "--- init" sets $::init_ran; this check proves it ran before the request.
add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx) = @_;
    if ($block->name =~ /init section/) {
        ok($::init_ran, $block->name . " - init ran before the request");
    }
});

$::init_ran = 0;

run_tests();

__DATA__

=== TEST 1: default status 200 and exact body
--- config
    location = /t {
        return 200 "hello\n";
    }
--- request
GET /t
--- response_body
hello
--- no_error_log
[error]
[alert]



=== TEST 2: error_code and body filters (chomp)
--- config
    location = /t {
        return 201 "created";
    }
--- request
    GET /t
--- error_code: 201
--- response_body chomp
created



=== TEST 3: response_body eval
--- config
    location = /t {
        return 200 "a\tb\n";
    }
--- request
GET /t
--- response_body eval
"a\tb\n"



=== TEST 4: response_body_like and response_body_unlike
--- config
    location = /t {
        return 200 "id=12345;ok";
    }
--- request
GET /t
--- response_body_like: ^id=\d+;ok$
--- response_body_unlike: error



=== TEST 5: response_headers exact and absent
--- config
    location = /t {
        add_header X-Selftest "value one";
        return 200 "h";
    }
--- request
GET /t
--- response_headers
X-Selftest: value one
Content-Type: text/plain
!X-Not-There
--- response_body chomp
h



=== TEST 6: response_headers_like
--- config
    location = /t {
        add_header X-Num 42;
        return 200 "h";
    }
--- request
GET /t
--- response_headers_like
Server: nginx.*
X-Num: \d+



=== TEST 7: more_headers reach nginx
--- config
    location = /t {
        return 200 "got=$http_x_selftest host=$host";
    }
--- more_headers
# a comment line
X-Selftest: abc
--- request
GET /t
--- response_body chomp
got=abc host=localhost



=== TEST 8: request body and the trimmed Content-Length
--- config
    location = /cl {
        return 200 "cl=$content_length";
    }
--- more_headers
Content-Type: application/json
--- request
POST /cl
{"a":1}
--- response_body chomp
cl=7



=== TEST 9: request eval arrayref with per-request expectations
--- config
    location = /a {
        return 200 "a";
    }
    location = /b {
        return 201 "b";
    }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 201]
--- response_body eval
["a", "b"]



=== TEST 10: no --- config reuses the previous block's config
--- request
GET /b
--- error_code: 201
--- response_body chomp
b



=== TEST 11: http_config and main_config
--- main_config
    worker_rlimit_nofile 2048;
--- http_config eval: $::http_config
--- config
    location = /t {
        return 200 $selftest_mapped;
    }
    location = /conf {
        alias $TEST_NGINX_SERVER_ROOT/conf/nginx.conf;
    }
--- request eval
["GET /t", "GET /conf"]
--- response_body_like eval
[qr/^mapped-by-http-config$/, qr/worker_rlimit_nofile 2048;.*http \{.*map \$uri \$selftest_mapped.*server \{.*listen\s+\d+;.*client_max_body_size 30M;.*location = \/conf.*events \{/s]



=== TEST 12: $TEST_NGINX_* substitution in config
--- config
    location = /t {
        return 200 "$TEST_NGINX_SELFTEST_WORD port=$TEST_NGINX_SERVER_PORT";
    }
--- request
GET /t
--- response_body_like: ^hello-from-env port=\d+$



=== TEST 13: error_log literal lines for a missing file
--- config
    location /files/ {
        root html;
    }
--- request
GET /files/missing.txt
--- error_code: 404
--- error_log
open() "
No such file or directory
--- no_error_log
[alert]
[emerg]



=== TEST 14: error_log eval with qr// and arrayref
--- config
    location /files/ {
        root html;
    }
--- request
GET /files/also-missing.txt
--- error_code: 404
--- error_log eval
[qr/open\(\) "[^"]+also-missing\.txt" failed/, "(2: No such file or directory)"]
--- no_error_log eval
qr/\[crit\]/



=== TEST 15: no_error_log with log_not_found off
--- config
    location /files/ {
        root html;
        log_not_found off;
    }
--- request
GET /files/missing.txt
--- error_code: 404
--- no_error_log
[error]
No such file



=== TEST 16: grep_error_log and grep_error_log_out
--- config
    location /files/ {
        root html;
    }
--- request
GET /files/missing.txt
--- error_code: 404
--- grep_error_log: No such file or directory
--- grep_error_log_out
No such file or directory



=== TEST 17: error_page
--- config
    location = /t {
        error_page 404 = /fallback;
        return 404;
    }
    location = /fallback {
        return 200 "fallback";
    }
--- request
GET /t
--- response_body chomp
fallback



=== TEST 18: user_files served from html/
--- config
--- user_files
>>> hello.txt
hello file
>>> sub/dir/x.html
<p>x</p>
--- request eval
["GET /hello.txt", "GET /sub/dir/x.html"]
--- response_body eval
["hello file\n", "<p>x</p>\n"]



=== TEST 19: raw_request
--- config
    location = /t {
        return 200 "raw ok";
    }
--- raw_request eval
"GET /t HTTP/1.0\r\nHost: localhost\r\n\r\n"
--- response_body chomp
raw ok



=== TEST 20: pipelined_requests
--- config
    location = /a {
        return 200 "a";
    }
    location = /b {
        return 201 "b";
    }
--- pipelined_requests eval
["GET /a", "GET /b"]
--- error_code eval
[200, 201]
--- response_body eval
["a", "b"]



=== TEST 21: timeout with abort (the header never ends)
--- config
    location = /t {
        return 200 "never";
    }
--- raw_request eval
"GET /t HTTP/1.1\r\nHost: localhost\r\n"
--- timeout: 200ms
--- abort
--- ignore_response



=== TEST 22: timeout that is long enough
--- config
    location = /t {
        return 200 "in time";
    }
--- request
GET /t
--- timeout: 5
--- wait: 0.05
--- response_body chomp
in time



=== TEST 23: init section
--- init
$::init_ran = 1;
--- config
    location = /t {
        return 200 "init";
    }
--- request
GET /t
--- response_body chomp
init



=== TEST 24: preprocessor sets a default http_config
--- config
    location = /t {
        return 200 $from_preprocessor;
    }
--- request
GET /t
--- response_body chomp
set-by-preprocessor



=== TEST 25: skip_eval skips a block that would fail
--- skip_eval: 2: 1
--- config
    location = /t {
        return 200 "x";
    }
--- request
GET /t
--- error_code: 599
--- response_body
not this



=== TEST 26: SKIP skips a block that would fail
--- SKIP
--- config
    location = /t {
        return 500;
    }
--- request
GET /t
--- response_body
never checked



=== TEST 27: log_level section
--- log_level: warn
--- config
    location /files/ {
        root html;
    }
--- request
GET /files/missing.txt
--- error_code: 404
--- error_log
[error]
--- no_error_log
[debug]
[info]
--- LAST



=== TEST 28: after LAST, never run
--- config
    location = /t {
        return 500;
    }
--- request
GET /t
--- response_body
never checked
