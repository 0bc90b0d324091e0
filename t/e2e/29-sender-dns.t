#!/usr/bin/perl
# Name resolution never blocks delivery (sender/resolve.c): one job goes
# to 1,000 subscriptions on distinct hosts that do not resolve (under an
# allowed wildcard) and, behind them in audience order on the same page,
# 20 subscriptions on the mock push service.  A mock name server
# (t/mock/dnsserver.py, WEBPUSH_DNS_SERVERS) holds every query unanswered
# until the test lets it answer NXDOMAIN, so:
#   - all 20 mock subscriptions are delivered (the mock decrypts them)
#     while the lookups are still pending: as many as may run at once
#     (256) were asked together, none waiting for another's answer;
#   - once the names fail, their items are retried and dead-lettered as
#     network errors ("Could not resolve host: ..."), the job's log says
#     20 sent, 1,000 failed;
#   - the retries come from the negative cache: no name is asked twice;
#   - the healthy origin still works at once for the next job;
#   - WEBPUSH_DNS_SERVERS that is not a list of addresses: exit 78.
# Nothing here waits on a clock: each step waits for the event it checks.
use strict;
use warnings;
use FindBin;
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep);
BEGIN { require "$FindBin::Bin/20_sender_lib.pm"; SenderTest->import }

need_stack();

my $prefix = '{t29}:';
my $ndead  = 1000;
my $nlive  = 20;
my $nlookups = 256;     # sender/resolve.h: WP_RESOLVE_LOOKUPS
redis('DEL', map { "$prefix$_" } qw(jobs dead retry scheduled metrics
      metrics:latency senders finish));

my $port = start_mock('m29');

# ---- the mock name server -------------------------------------------------
my $tmp     = tmpdir();
my $ready   = "$tmp/dns29.port";
my $queries = "$tmp/dns29.queries";
my $release = "$tmp/dns29.release";
unlink $ready, $queries, $release;
my $dns_pid = fork() // die "fork: $!";
if ($dns_pid == 0) {
    open(STDOUT, '>', "$tmp/dns29.log") or die;
    open(STDERR, '>&', \*STDOUT) or die;
    exec('/usr/bin/python3', "$FindBin::Bin/../mock/dnsserver.py",
         '--port', 0, '--ready-file', $ready, '--queries-file', $queries,
         '--release-file', $release) or die "exec: $!";
}
END {               # waitpid must not change the exit status
    local $?;
    if ($dns_pid) { kill "KILL", $dns_pid; waitpid($dns_pid, 0) }
}
my $dns = wait_for(sub { -s $ready && (slurp($ready) =~ /^(\d+)/)[0] }, 20);
ok($dns, "mock name server listening on 127.0.0.1:$dns")
    or BAIL_OUT('no mock name server: ' . slurp("$tmp/dns29.log"));

sub asked {         # name => times asked (A and AAAA count apart)
    my %n;
    $n{$_}++ for grep { length } split /\n/, slurp($queries);
    return \%n;
}

# ---- the audience ---------------------------------------------------------
my $run  = uid();
my $user = "u29-$run";
my @live = subscribe_many($port, $nlive);
add_subs(\@live, $user);        # ids "s-<mock id>"

# the dead hosts' rows sort before the mock's ("r-" < "s-"): in audience
# order every healthy item is behind all 1,000 of them
my $k = $live[0][0]{keys};
psql(q{DELETE FROM "PushSubscription"
       WHERE endpoint LIKE 'https://x%.push.example.test/%'});  # earlier runs
psql(qq{INSERT INTO "PushSubscription" ("id", "userId", "endpoint", "p256dh",
                                        "auth")
         SELECT format('r-%s-%s', '$run', lpad(i::text, 4, '0')), '$user',
                format('https://x%s.push.example.test/push/%s-%s', i,
                       '$run', i),
                '$k->{p256dh}', '$k->{auth}'
         FROM generate_series(1, $ndead) i});

my $snd = start_sender('t29', WEBPUSH_QUEUE_PREFIX => $prefix,
    WEBPUSH_ALLOWED_ENDPOINTS => "127.0.0.1:$port,*.push.example.test",
    WEBPUSH_DNS_SERVERS => "127.0.0.1:$dns",
    # lookups stay pending for as long as the test holds them
    WEBPUSH_CONNECT_TIMEOUT => 600000,
    WEBPUSH_PAGE_SIZE => 2000,      # one page: nothing commits in between
    PUSH_RETRY_ATTEMPTS => 1, PUSH_RETRY_DELAY => 100);

my $job = enqueue($prefix, job_json(to => { userId => $user }));

# ---- while every lookup is pending -----------------------------------------
my $got = wait_for(sub {
    my $n = msgs_by_sub($port);
    (grep { $n->{$_->[1]} } @live) == $nlive ? $n : undef
}, 60);
ok($got, "all $nlive mock subscriptions delivered while every lookup is"
   . ' unanswered');
is((grep { ($got->{$_->[1]} // 0) == 1 } @live), $nlive,
   '... each exactly once, decrypted by the mock');
ok(!-e $release, '... (the name server has answered nothing yet)');

# as many lookups as may be under way at once (WP_RESOLVE_LOOKUPS) were
# asked: none waits behind another's answer; the rest wait for their turn
my $asked = wait_for(sub {
    my $a = asked();
    (grep { /^x\d+\.push\.example\.test$/ } keys %$a) >= $nlookups
        ? $a : undef
}, 60);
ok($asked, "$nlookups names asked at once, none waiting for another's"
   . ' answer');

is(psql(qq{SELECT count(*) FROM "NotificationLog" WHERE id = '$job'}), 0,
   '... and the job is not finished: its dead hosts wait on DNS');
ok(waitpid($snd->{pid}, WNOHANG) == 0, '... the sender is running');

# ---- the names fail ---------------------------------------------------------
open(my $f, '>', $release) or die "$release: $!";
close $f;

my $log = wait_log($job, 120);
ok($log, 'NXDOMAIN for all: the job finished');
is($log && $log->{sentCount}, $nlive, "... sentCount $nlive");
is($log && $log->{failedCount}, $ndead, "... failedCount $ndead");
is($log && $log->{metadata}{retried}, $ndead,
   '... each dead host retried once (a network error, not a permanent one)');

my @dead = grep { ($_->{subscription} // '') =~ /^r-\Q$run\E-/ }
           map { my %h = @{ $_->[1] }; \%h }
           @{ $JSON->decode(redis('--json', 'XRANGE', "${prefix}dead", '-',
                                  '+') || '[]') };
is(scalar @dead, $ndead, "$ndead dead letters");
my $why = qr/^gave up after 2 attempts: Could not resolve host:/
        . qr/ x\d+\.push\.example\.test \(Domain name not found\)$/;
is((grep { ($_->{reason} // '') =~ $why } @dead), $ndead,
   '... each "gave up after 2 attempts: Could not resolve host: <host>'
   . ' (Domain name not found)"')
    or diag($dead[0]{reason});

$asked = asked();
my @twice = grep { /^x\d+\./ && $asked->{$_} > 2 } keys %$asked;
is(scalar @twice, 0, 'retries answered by the negative cache: no name'
   . ' asked again after its NXDOMAIN (A and AAAA once each)')
    or diag("asked again: @twice[0 .. ($#twice < 4 ? $#twice : 4)]");

# ---- the healthy origin goes on ---------------------------------------------
my $user2 = "u29b-$run";
add_subs([ [ subscribe($port) ] ], $user2);
my $log2 = wait_log(enqueue($prefix, job_json(to => { userId => $user2 })),
                    30);
is($log2 && $log2->{sentCount}, 1, 'the next job to the mock origin is sent');

my ($st) = stop_sender($snd);
is($st, 0, 'the sender stops cleanly');
unlike(slurp($snd->{log}), qr/AddressSanitizer|runtime error/,
       'no sanitizer report');

# a name server that is not an address stops the sender at start
refuses_to_start('a host name as name server', 'WEBPUSH_DNS_SERVERS',
                 WEBPUSH_QUEUE_PREFIX => $prefix,
                 WEBPUSH_DNS_SERVERS => 'ns1.example.test:53');

done_testing();
