# vi:filetype=perl
#
# Requests are counted across workers: with two workers and a reuseport
# listener spreading connections over both, every scrape (whichever worker
# answers it) shows the total.

use Test::Nginx::Socket 'no_plan';
use FindBin;
require "$FindBin::Bin/webpush-helpers.pl";

repeat_each(1);
no_shuffle();
master_on();
workers(2);

install_check_section();

run_tests();

__DATA__

=== TEST 1: 40 requests over both workers, the total in every scrape
--- http_config
    webpush_vapid_public_key $TEST_NGINX_VAPID_PUBLIC_KEY;
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 reuseport;
        location = /k {
            webpush_vapid_key;
            add_header X-Pid $pid;
        }
        location = /metrics {
            webpush_metrics;
            add_header X-Pid $pid;
        }
    }
--- config
    location = /port { return 200 "$TEST_NGINX_RAND_PORT_1"; }
--- request
GET /port
--- timeout: 10
--- check
my $port = $body;
my (%pids, $ok);
for (1 .. 40) {
    my $h = `curl -s -D - -o /dev/null http://127.0.0.1:$port/k`;
    $ok++ if $h =~ m{^HTTP/1.1 200}m;
    $pids{$1} = 1 if $h =~ /^X-Pid: (\d+)/mi;
}
is($ok, 40, '40 answers');
# reuseport hashes each new connection's source port: both workers serve
is(scalar(keys %pids), 2, 'both workers answered');
my %seen;
for (1 .. 10) {
    my $m = `curl -s -D - http://127.0.0.1:$port/metrics`;
    $seen{$1} = 1 if $m =~ /^X-Pid: (\d+)/mi;
    like($m, qr/^webpush_http_requests_total\{route="vapid_key",status="200"\} 40$/m,
         'the total, whichever worker answers');
}
