#!/usr/bin/perl
# Meta-test for our Test::Nginx::Socket runner (t/lib/Test/Nginx/Socket.pm):
# writes small .t files into a temp dir, runs each with our runner and checks
#   - that broken expectations really FAIL (and which check fails),
#   - that runner-only features (use_hup, master_on, check_accum_error_log,
#     must_die, split packets, ...) PASS,
#   - that no nginx is left running afterwards (also after die / SIGINT).
# Not a .t file on purpose: it only makes sense for our runner.
#
#   perl t/lib/check-runner.pl          (from the repository root)

use strict;
use warnings;
use Cwd ();
use File::Temp ();
use Test::More;

my $lib = Cwd::abs_path('t/lib')
    or die "run me from the repository root\n";
my $dir = File::Temp::tempdir('check-runner-XXXXXX', TMPDIR => 1,
                              CLEANUP => 1);
my $n = 0;

# Run one .t text; returns (exit status, combined output, servroot prefix).
sub run_t {
    my ($text, %env) = @_;
    $n++;
    my $file = "$dir/case$n.t";
    open my $fh, '>', $file or die $!;
    print $fh $text;
    close $fh;
    my $sr = "$dir/servroot-$n";
    local $ENV{TEST_NGINX_RANDOMIZE} = 1;
    local $ENV{TEST_NGINX_SERVROOT}  = $sr;
    local @ENV{keys %env} = values %env;
    my $out = `cd $dir && $^X -I$lib $file 2>&1`;
    return ($? >> 8, $out, $sr);
}

# Any live (non-zombie) nginx whose -p argument is under this prefix?
sub nginx_left {
    my $prefix = shift;
    for my $p (glob '/proc/[0-9]*') {
        open my $c, '<', "$p/cmdline" or next;
        my $cmd = do { local $/; <$c> } // '';
        next unless $cmd =~ /nginx/ && index($cmd, $prefix) >= 0;
        open my $s, '<', "$p/stat" or next;
        my $stat = <$s> // '';
        return $p unless $stat =~ /\A\d+ \(.*\) [ZX] /s;
    }
    return;
}

sub block {
    my ($cfg, @rest) = @_;
    return "--- config\n$cfg\n" . join('', @rest);
}

my $head = "use Test::Nginx::Socket 'no_plan';\nno_shuffle();\nrun_tests();\n"
         . "__DATA__\n\n";

# --- cases that must fail --------------------------------------------------

my @failing = (
    ['wrong status', "=== TEST 1: x\n"
        . block("location = /t { return 404; }\n", "--- request\nGET /t\n"),
     qr/not ok \d+ - TEST 1: x - status code ok/],
    ['wrong body', "=== TEST 1: x\n"
        . block("location = /t { return 200 'a'; }\n",
                "--- request\nGET /t\n--- response_body chomp\nb\n"),
     qr/not ok \d+ - TEST 1: x - response_body/],
    ['body_like', "=== TEST 1: x\n"
        . block("location = /t { return 200 'abc'; }\n",
                "--- request\nGET /t\n--- response_body_like: ^b\n"),
     qr/not ok \d+ - TEST 1: x - response_body_like/],
    ['body_unlike', "=== TEST 1: x\n"
        . block("location = /t { return 200 'abc'; }\n",
                "--- request\nGET /t\n--- response_body_unlike: b\n"),
     qr/not ok \d+ - TEST 1: x - response_body_unlike/],
    ['header value', "=== TEST 1: x\n"
        . block("location = /t { add_header X-A 1; return 200; }\n",
                "--- request\nGET /t\n--- response_headers\nX-A: 2\n"),
     qr/not ok \d+ - TEST 1: x - header X-A ok/],
    ['header must be absent', "=== TEST 1: x\n"
        . block("location = /t { add_header X-A 1; return 200; }\n",
                "--- request\nGET /t\n--- response_headers\n!X-A\n"),
     qr/not ok \d+ - TEST 1: x - header X-A not present/],
    ['headers_like anchored', "=== TEST 1: x\n"
        . block("location = /t { add_header X-A 12; return 200; }\n",
                "--- request\nGET /t\n--- response_headers_like\nX-A: 1\n"),
     qr/not ok \d+ - TEST 1: x - header X-A like/],
    ['error_log missing', "=== TEST 1: x\n"
        . block("location = /t { return 200; }\n",
                "--- request\nGET /t\n--- error_log\nnever logged\n"),
     qr/not ok \d+ - TEST 1: x - pattern "never logged" should match/],
    ['no_error_log present', "=== TEST 1: x\n"
        . block("location /f/ { root html; }\n",
                "--- request\nGET /f/none\n--- error_code: 404\n"
                . "--- no_error_log\n[error]\n"),
     qr/not ok \d+ - TEST 1: x - pattern "\[error\]" should not match/],
    ['timeout without abort', "=== TEST 1: x\n"
        . block("location = /t { return 200; }\n",
                "--- raw_request eval\n\"GET /t HTTP/1.1\\r\\n\"\n"
                . "--- timeout: 100ms\n"),
     qr/not ok \d+ - ERROR: client socket timed out - TEST 1: x/],
    ['second request of an array', "=== TEST 1: x\n"
        . block("location = /a { return 200 'a'; }\n",
                "--- request eval\n[\"GET /a\", \"GET /a\"]\n"
                . "--- response_body eval\n[\"a\", \"b\"]\n"),
     qr/not ok \d+ - TEST 1: x - response_body - response is expected \(repeated req 0, req 1\)/],
    ['grep_error_log_out', "=== TEST 1: x\n"
        . block("location /f/ { root html; }\n",
                "--- request\nGET /f/none\n--- error_code: 404\n"
                . "--- grep_error_log: No such file\n"
                . "--- grep_error_log_out\nNo such file\nNo such file\n"),
     qr/not ok \d+ - TEST 1: x - grep_error_log_out/],
    ['bad nginx config', "=== TEST 1: x\n"
        . block("no_such_directive;\n", "--- request\nGET /t\n"),
     qr/not ok \d+ - TEST 1: x - nginx started/],
    ['undefined env var bails out', "=== TEST 1: x\n"
        . block("location = /t { return 200 \$TEST_NGINX_NOT_SET_ANYWHERE; }\n",
                "--- request\nGET /t\n"),
     qr/Bail out!.*No environment TEST_NGINX_NOT_SET_ANYWHERE defined/],
    ['die in a later block', "use Test::Nginx::Socket 'no_plan';\nno_shuffle();\n"
        . "add_block_preprocessor(sub { die \"boom\\n\" if \$_[0]->name =~ /2/ });\n"
        . "run_tests();\n__DATA__\n\n=== TEST 1: x\n"
        . block("location = /t { return 200; }\n", "--- request\nGET /t\n")
        . "\n=== TEST 2: y\n--- request\nGET /t\n",
     qr/boom/],
    ['plan mismatch', "use Test::Nginx::Socket;\nplan tests => 3 * blocks();\n"
        . "run_tests();\n__DATA__\n\n=== TEST 1: x\n"
        . block("location = /t { return 200; }\n", "--- request\nGET /t\n"),
     qr/planned 3 tests but ran 1/],
);

for my $c (@failing) {
    my ($what, $body, $expect) = @$c;
    my $text = $body =~ /\Ause / ? $body : $head . $body;
    my ($rc, $out, $sr) = run_t($text);
    ok($rc != 0, "$what: exits non-zero") or diag($out);
    like($out, $expect, "$what: the right check fails");
    ok(!nginx_left($sr), "$what: no nginx left running");
}

# --- cases that must pass ----------------------------------------------------

my @passing = (
    ['ONLY runs just that block', "=== TEST 1: bad\n"
        . block("location = /t { return 500; }\n", "--- request\nGET /t\n")
        . "\n=== TEST 2: good\n--- ONLY\n"
        . block("location = /t { return 200; }\n", "--- request\nGET /t\n"),
     qr/I found ONLY/],
    ['plan tests => N', "use Test::Nginx::Socket;\nrepeat_each(2);\n"
        . "plan tests => repeat_each() * 2 * blocks();\nrun_tests();\n"
        . "__DATA__\n\n=== TEST 1: x\n"
        . block("location = /t { return 200 'ok'; }\n",
                "--- request\nGET /t\n--- response_body chomp\nok\n"),
     qr/^1\.\.4$/m],
    ['check_accum_error_log', "use Test::Nginx::Socket 'no_plan';\n"
        . "repeat_each(2);\ncheck_accum_error_log();\nrun_tests();\n"
        . "__DATA__\n\n=== TEST 1: x\n"
        . block("location /f/ { root html; }\n",
                "--- request\nGET /f/none\n--- error_code: 404\n"
                . "--- grep_error_log: No such file\n"
                . "--- grep_error_log_out eval\n"
                . "[\"No such file\\n\", \"No such file\\nNo such file\\n\"]\n"),
     qr/ok \d+ - TEST 1: x - grep_error_log_out/],
    ['response_body_json_sort', "=== TEST 1: x\n"
        . block("location = /t { return 200 '{\"b\":1,\"a\":[2,{\"d\":3,\"c\":4}]}'; }\n",
                "--- request\nGET /t\n--- response_body_json_sort\n"
                . "{\"a\":[2,{\"c\":4,\"d\":3}],\"b\":1}\n"),
     qr/ok \d+ - TEST 1: x - response_body_json_sort/],
    ['split packets with delay', "=== TEST 1: x\n"
        . block("location = /cl { return 200 'cl=\$content_length'; }\n",
                "--- request eval\n"
                . "[[\"POST /cl\\nhel\", {value => \"lo\", delay_before => 0.05}]]\n"
                . "--- response_body chomp\ncl=5\n"),
     qr/ok \d+ - TEST 1: x - response_body/],
    ['must_die', "=== TEST 1: x\n--- must_die\n"
        . block("no_such_directive;\n", "--- request\nGET /t\n"
                . "--- error_log\nunknown directive\n"),
     qr/ok \d+ - TEST 1: x - nginx must die/],
    ['master_on + workers + use_hup + env_to_nginx + RAND_PORT',
     "use Test::Nginx::Socket 'no_plan';\nmaster_on();\nworkers(2);\n"
        . "use_hup();\nno_shuffle();\nenv_to_nginx('FOO=bar baz');\n"
        . "run_tests();\n__DATA__\n\n=== TEST 1: x\n"
        . block("location = /t { return 200 'one'; }\n"
                . "location = /conf { alias \$TEST_NGINX_SERVER_ROOT/conf/nginx.conf; }\n",
                "--- request eval\n[\"GET /t\", \"GET /conf\"]\n"
                . "--- response_body_like eval\n"
                . "[qr/^one\$/, qr/master_process on;.*worker_processes\\s+2;|worker_processes\\s+2;.*master_process on;.*env 'FOO=bar baz';/s]\n")
        . "\n=== TEST 2: y\n"
        . block("listen \$TEST_NGINX_RAND_PORT_1;\nlocation = /t { return 200 'two'; }\n",
                "--- request\nGET /t\n--- response_body chomp\ntwo\n"),
     qr/ok \d+ - TEST 2: y - response_body/],
    ['config_preamble, server_name, no_root_location',
     "use Test::Nginx::Socket 'no_plan';\nno_root_location();\n"
        . "server_name('selftest.local');\n"
        . "config_preamble(\"add_header X-Pre 1;\");\nrun_tests();\n"
        . "__DATA__\n\n=== TEST 1: x\n"
        . block("location / { return 200 '\$server_name'; }\n",
                "--- request\nGET /\n--- response_headers\nX-Pre: 1\n"
                . "--- response_body chomp\nselftest.local\n"),
     qr/ok \d+ - TEST 1: x - response_body/],
    ['cleanup handlers', "use Test::Nginx::Socket 'no_plan';\n"
        . "add_test_cleanup_handler(sub { print \"# test cleanup \", \$_[0]->name, \"\\n\" });\n"
        . "add_cleanup_handler(sub { print \"# final cleanup\\n\" });\n"
        . "run_tests();\n__DATA__\n\n=== TEST 1: x\n"
        . block("location = /t { return 200; }\n", "--- request\nGET /t\n"),
     qr/# test cleanup TEST 1: x\n.*# final cleanup/s],
    ['keep-alive response without EOF', "=== TEST 1: x\n"
        . block("location = /t { return 200 'ka'; }\n",
                "--- more_headers\nConnection: keep-alive\n"
                . "--- request\nGET /t\n--- timeout: 2\n"
                . "--- response_body chomp\nka\n"),
     qr/ok \d+ - TEST 1: x - response_body/],
    ['big bodies both ways', "=== TEST 1: x\n"
        . block("location = /cl { return 200 'cl=\$content_length'; }\n",
                "--- user_files eval\n[[\"big.txt\", \"x\" x 1000000]]\n"
                . "--- request eval\n"
                . "[\"GET /big.txt\", \"POST /cl\\n\" . (\"y\" x 100000)]\n"
                . "--- response_body eval\n[\"x\" x 1000000, \"cl=100000\"]\n"),
     qr/ok \d+ - TEST 1: x - response_body - response is expected \(repeated req 0, req 1\)/],
    ['chunked response body', "=== TEST 1: x\n"
        . block("location = /t { gzip off; ssi on; ssi_types text/plain; "
                . "return 200 'abc'; }\n",
                "--- request\nGET /t\n--- response_headers\n"
                . "Transfer-Encoding: chunked\n--- response_body chomp\nabc\n"),
     qr/ok \d+ - TEST 1: x - response_body/],
);

for my $c (@passing) {
    my ($what, $body, $expect) = @$c;
    my $text = $body =~ /\Ause / ? $body : $head . $body;
    my ($rc, $out, $sr) = run_t($text);
    is($rc, 0, "$what: passes") or diag($out);
    unlike($out, qr/^not ok/m, "$what: no failing check");
    like($out, $expect, "$what: expected output");
    ok(!nginx_left($sr), "$what: no nginx left running");
}

# --- SIGINT in the middle of a block stops nginx ------------------------------
{
    $n++;
    my $file = "$dir/case$n.t";
    open my $fh, '>', $file or die $!;
    print $fh $head . "=== TEST 1: hang\n"
        . block("location = /t { return 200; }\n",
                "--- raw_request eval\n\"GET /t HTTP/1.1\\r\\n\"\n"
                . "--- timeout: 20\n");
    close $fh;
    my $sr = "$dir/servroot-$n";
    local $ENV{TEST_NGINX_RANDOMIZE} = 1;
    local $ENV{TEST_NGINX_SERVROOT}  = $sr;
    my $pid = fork // die;
    if (!$pid) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        $SIG{INT} = 'DEFAULT';    # a background shell may ignore it
        exec $^X, "-I$lib", $file;
        exit 127;
    }
    my $up = 0;
    for (1 .. 500) {
        last if $up = nginx_left($sr);
        select undef, undef, undef, 0.01;
    }
    ok($up, "SIGINT: nginx was running");
    kill 'INT', $pid;
    waitpid $pid, 0;
    ok($? != 0, "SIGINT: the test file was interrupted");
    ok(!nginx_left($sr), "SIGINT: no nginx left running");
}

done_testing();
