#!/usr/bin/perl
# Crash safety of webpush-sender:
#  - kill -9 a sender in the middle of a topic broadcast to a slow mock;
#    a second sender takes the job over (XAUTOCLAIM) and finishes it from
#    the last checkpoint: every subscription gets the message, duplicates
#    stay within the pipeline window (WEBPUSH_PIPELINE_PAGES pages of
#    WEBPUSH_PAGE_SIZE: the pages delivered but not yet committed), the
#    NotificationLog counts are exact;
#  - SIGTERM in the middle of a broadcast: the sender finishes its page,
#    commits, hands the job back and exits 0 promptly; another sender
#    finishes it at once (no claim-idle wait) with no duplicate at all.
use strict;
use warnings;
use FindBin;
use Test::More;
use Time::HiRes qw(time sleep);
BEGIN { require "$FindBin::Bin/20_sender_lib.pm"; SenderTest->import }

need_stack();

my $prefix = '{t22}:';
redis('DEL', map { "$prefix$_" } qw(jobs dead retry scheduled metrics
      metrics:latency senders finish));

my $port = start_mock('m22');
my $page = 30;
my $window = 2;                         # WEBPUSH_PIPELINE_PAGES
my $bound = $window * $page;
my %env = (WEBPUSH_QUEUE_PREFIX => $prefix,
           WEBPUSH_ALLOWED_ENDPOINTS => "127.0.0.1:$port",
           WEBPUSH_PAGE_SIZE => $page, WEBPUSH_PIPELINE_PAGES => $window,
           PUSH_CONCURRENCY_LIMIT => 10);
my $run = uid();

# n subscriptions answering after delay ms, on topic $topic.
sub audience {
    my ($n, $delay, $topic) = @_;
    my @subs = subscribe_many($port, $n, behaviour => { delay_ms => $delay });
    add_subs(\@subs, "crash-$run", $topic);
    return @subs;
}

sub tally { tally_subs($port, $_[0]) }

# ---- kill -9 mid-broadcast, takeover ---------------------------------------
{
    my $N = 240;
    my @subs = audience($N, 40, "crash-$run");
    my $a = start_sender('t22a', %env, WEBPUSH_CLAIM_IDLE => 1000);
    my $job = enqueue($prefix, job_json(to => { topic => "crash-$run" }));
    my $t0 = time();
    my $mid = wait_for(sub {
        my $c = 0;
        $c += $_ for values %{ msgs_by_sub($port) };
        $c >= 60 ? $c : 0
    }, 30);
    ok($mid, "first sender is mid-broadcast ($mid of $N delivered)");
    stop_sender($a, 'KILL');
    ok(!wait_log($job, 0.2), '... killed with -9 before finishing');

    my $b = start_sender('t22b', %env, WEBPUSH_CLAIM_IDLE => 1000);
    my $log = wait_log($job, 60);
    ok($log, sprintf('second sender took over and finished (%.1f s)',
                     time() - $t0));
    my ($missing, $dups) = tally(\@subs);
    diag(SenderTest::slurp($_->{log})) for $missing ? ($a, $b) : ();
    is($missing, 0, 'every subscription got the message');
    ok($dups <= $bound, "duplicates $dups <= the pipeline window ($window"
       . " pages of $page)");
    diag("kill -9 takeover: $dups duplicate deliveries (bound: $bound)");
    is($log->{subscriptionCount}, $N, 'NotificationLog: subscriptionCount exact');
    is($log->{sentCount}, $N, '... sentCount exact (a redone page counts once)');
    is(redis('--raw', 'EXISTS', "${prefix}progress:$job"), 0,
       '... job state cleaned up');
    is(redis('--raw', 'XLEN', "${prefix}jobs"), 0, '... stream entry acked');
    my ($st) = stop_sender($b);
    is($st, 0, 'second sender exits 0');
}

# ---- SIGTERM mid-broadcast: clean hand-back --------------------------------
{
    mock_api($port, 'POST', '/_mock/reset', '{"keep_subscriptions":true}');
    my $N = 120;
    my @subs = audience($N, 150, "term-$run");
    my $c = start_sender('t22c', %env);      # default claim idle: 60 s
    my $job = enqueue($prefix, job_json(to => { topic => "term-$run" }));
    wait_for(sub { my $n = msgs_by_sub($port); scalar(keys %$n) >= 20 }, 30);
    my ($st, $secs) = stop_sender($c, 'TERM');
    is($st, 0, 'SIGTERM mid-broadcast: exit 0');
    ok($secs < 5, sprintf('... in %.1f s (page finished, job handed back)',
                          $secs));
    like(SenderTest::slurp($c->{log}), qr/job handed back/, '... logged');

    my $t0 = time();
    my $d = start_sender('t22d', %env);      # default claim idle too
    my $log = wait_log($job, 30);
    ok($log && time() - $t0 < 20,
       sprintf('another sender finished it at once (%.1f s, no 60 s claim'
               . ' wait)', time() - $t0));
    my ($missing, $dups) = tally(\@subs);
    diag(SenderTest::slurp($_->{log})) for $missing ? ($c, $d) : ();
    is($missing, 0, 'every subscription got the message');
    is($dups, 0, 'no duplicate: the page was committed before exit');
    is($log && $log->{sentCount}, $N, 'sentCount exact');
    stop_sender($d);
}

done_testing();
