#!/usr/bin/perl
# TTL 0 and Microsoft's WNS.  A job with ttl 0 ("deliver only if the
# browser is reachable now") goes out at once with TTL: 0, not recorded as
# expired.  WNS (the mock with --wns) answers 400 when X-WNS-Cache-Policy
# does not agree with the TTL: endpoints matching WEBPUSH_WNS_ENDPOINTS
# (default *.notify.windows.com; here the mock's address) get "cache", or
# "no-cache" for TTL 0, over HTTP/2 and HTTP/1.1 and from `webpush-cli
# send-test`; other endpoints never get the header.  Without the header a
# TTL-0 push to WNS fails as the real service would make it fail, and the
# reason WNS gives in X-WNS-Error-Description (its body is empty) is in
# the PushError row.  A WNS 410 "Domain Blocked" is about the sender: the
# subscription is kept (a circuit, as for 401/403); any other 410 disables
# it.
use strict;
use warnings;
use FindBin;
use Test::More;
BEGIN { require "$FindBin::Bin/20_sender_lib.pm"; SenderTest->import }

need_stack();

my $prefix = '{t27}:';
my $plain  = '{t27p}:';
my $prefb  = '{t27b}:';
for my $p ($prefix, $plain, $prefb) {
    redis('DEL', map { "$p$_" } qw(jobs dead retry scheduled metrics
          metrics:latency senders finish));
}

my ($wns, $wns1, $other) = start_mocks(['m27w', '--wns'],
                                       ['m27w1', '--wns', '--http1-only'],
                                       ['m27o']);
my $allow = join(',', map { "127.0.0.1:$_" } $wns, $wns1, $other);
my $run = uid();

my @w  = subscribe_many($wns, 2);
add_subs(\@w, "w-$run");
my @w1 = subscribe_many($wns1, 1);
add_subs(\@w1, "w1-$run");
my @o  = subscribe_many($other, 1);
add_subs(\@o, "o-$run");

# The WNS mocks are WNS to this sender; the other mock is not.
my $snd = start_sender('t27', WEBPUSH_QUEUE_PREFIX => $prefix,
                       WEBPUSH_ALLOWED_ENDPOINTS => $allow,
                       WEBPUSH_WNS_ENDPOINTS =>
                           "127.0.0.1:$wns, 127.0.0.1:$wns1");

sub last_msg {              # the last request the mock recorded for a sub
    my ($port, $id) = @_;
    my $m = mock_messages($port, $id, 1);
    return $m->[-1] // {};
}

# ---- TTL 0 is sent, with TTL: 0 ---------------------------------------------
{
    my $j = enqueue($prefix, job_json(to => { userIds => ["w-$run", "w1-$run",
                                                         "o-$run"] },
                                      ttl => 0));
    my $l = wait_log($j);
    is($l && "$l->{subscriptionCount}/$l->{sentCount}/$l->{failedCount}",
       '4/4/0', 'ttl 0: 4 subscriptions, all sent (not expired)');
    is($l && $l->{metadata}{expired}, JSON::PP::false, '... not expired');
    my $m = last_msg($wns, $w[0][1]);
    is($m->{status}, 201, 'WNS over HTTP/2: accepted');
    is($m->{headers}{ttl}, '0', '... TTL: 0');
    is($m->{headers}{'x-wns-cache-policy'}, 'no-cache',
       '... X-WNS-Cache-Policy: no-cache');
    is($m->{protocol}, 'h2', '... over HTTP/2');
    $m = last_msg($wns1, $w1[0][1]);
    is($m->{status}, 201, 'WNS over HTTP/1.1: accepted');
    is($m->{headers}{'x-wns-cache-policy'}, 'no-cache', '... no-cache');
    is($m->{protocol}, 'http/1.1', '... over HTTP/1.1');
    $m = last_msg($other, $o[0][1]);
    is($m->{headers}{ttl}, '0', 'another service: TTL: 0');
    ok(!exists $m->{headers}{'x-wns-cache-policy'},
       '... and no X-WNS-Cache-Policy');
}

# ---- TTL > 0: "cache" -------------------------------------------------------
{
    my $j = enqueue($prefix, job_json(to => { userId => "w-$run" },
                                      ttl => 600));
    my $l = wait_log($j);
    is($l && $l->{sentCount}, 2, 'ttl 600 to WNS: 2 sent');
    my $m = last_msg($wns, $w[1][1]);
    is($m->{headers}{'x-wns-cache-policy'}, 'cache',
       '... X-WNS-Cache-Policy: cache');
    ok($m->{headers}{ttl} > 590 && $m->{headers}{ttl} <= 600,
       '... TTL is what is left of 600');
}

# ---- a sender that does not know the endpoint is WNS ------------------------
{
    my $p = start_sender('t27p', WEBPUSH_QUEUE_PREFIX => $plain,
                         WEBPUSH_ALLOWED_ENDPOINTS => $allow);
    my $j = enqueue($plain, job_json(to => { userId => "w1-$run" }, ttl => 0));
    my $l = wait_log($j);
    is($l && "$l->{sentCount}/$l->{failedCount}", '0/1',
       'TTL 0 to WNS without the header: failed (WNS answers 400)');
    my $m = last_msg($wns1, $w1[0][1]);
    is($m->{status}, 400, '... 400 from the WNS mock');
    ok(!exists $m->{headers}{'x-wns-cache-policy'}, '... no header sent');
    is(psql(qq{SELECT count(*) FROM "PushError" WHERE "jobId" = '$j'
               AND error LIKE '%Ttl value conflicts with X-WNS-Cache-Policy%'}),
       1, '... the PushError row quotes X-WNS-Error-Description');
    is(psql(qq{SELECT enabled FROM "PushSubscription"
               WHERE id = 's-$w1[0][1]'}), 't', '... subscription kept');
    my ($st) = stop_sender($p);
    is($st, 0, '... that sender exits 0');

    refuses_to_start('malformed', 'WEBPUSH_WNS_ENDPOINTS',
                     WEBPUSH_QUEUE_PREFIX => $plain,
                     WEBPUSH_ALLOWED_ENDPOINTS => $allow,
                     WEBPUSH_WNS_ENDPOINTS => 'https://x');
}

# ---- 410: "Domain Blocked" keeps the subscription, others disable -----------
{
    my ($blocked_port) = start_mocks(['m27b', '--wns']);
    my ($bsub, $bid) = subscribe($blocked_port, behaviour => {
        status => 410, wns_error => 'Domain Blocked' });
    my ($esub, $eid) = subscribe($wns, behaviour => {
        status => 410, wns_error => 'The channel has expired' });
    add_subs([[$bsub, $bid], [$esub, $eid]], "b-$run");
    my $sb = start_sender('t27b', WEBPUSH_QUEUE_PREFIX => $prefb,
                          PUSH_RETRY_ATTEMPTS => 0,
                          WEBPUSH_ALLOWED_ENDPOINTS =>
                              "$allow,127.0.0.1:$blocked_port",
                          WEBPUSH_WNS_ENDPOINTS =>
                              "127.0.0.1:$wns,127.0.0.1:$blocked_port");
    my $j = enqueue($prefb, job_json(to => { userId => "b-$run" }));
    my $l = wait_log($j);
    is($l && "$l->{sentCount}/$l->{failedCount}", '0/2',
       '410 from WNS twice: both failed');
    is(psql(qq{SELECT enabled FROM "PushSubscription" WHERE id = 's-$bid'}),
       't', '"Domain Blocked": the subscription is kept');
    is(psql(qq{SELECT count(*) FROM "PushError" WHERE "jobId" = '$j'
               AND endpoint = '$bsub->{endpoint}'
               AND error LIKE '%410: Domain Blocked%'}), 1,
       '... its PushError row says why');
    like(slurp($sb->{log}), qr/blocked this sender.*circuit open/,
         '... and the sender raises it loudly (circuit open)');
    is(psql(qq{SELECT enabled FROM "PushSubscription" WHERE id = 's-$eid'}),
       'f', 'another 410 ("The channel has expired"): disabled');
    my ($st) = stop_sender($sb);
    is($st, 0, '... that sender exits 0');
}

# ---- webpush-cli send-test --------------------------------------------------
{
    my $sub = $JSON->encode($w[0][0]);
    my $cli = sender_bin() =~ s{webpush-sender\z}{webpush-cli}r;
    local $ENV{WEBPUSH_ALLOWED_ENDPOINTS} = $allow;
    local $ENV{WEBPUSH_WNS_ENDPOINTS} = "127.0.0.1:$wns";
    local $ENV{WEBPUSH_CA_FILE} = tmpdir() . '/cert.pem';
    my $out = `'$cli' send-test --subscription '$sub' --payload hi --ttl 0 2>&1`;
    is($? >> 8, 0, 'send-test, ttl 0, to WNS: exit 0') or diag($out);
    my $m = last_msg($wns, $w[0][1]);
    is($m->{headers}{'x-wns-cache-policy'}, 'no-cache',
       '... X-WNS-Cache-Policy: no-cache');
}

# leave no enabled subscription behind for later "all" audiences
psql(qq{DELETE FROM "PushSubscription" WHERE "userId" LIKE '%-$run'});

my ($st) = stop_sender($snd);
is($st, 0, 'the sender exits 0 on SIGTERM');

done_testing();
