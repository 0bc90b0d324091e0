#!/usr/bin/perl
# Delivery at a push service's round trip, and one broadcast shared by
# every sender:
#  - pipelining: a 5,000-subscription job to a mock that answers each
#    request after 50 ms; the sender keeps several pages in flight at once
#    (it logs, per committed page, how many pages were in the pipeline when
#    that page joined it), so the job takes far fewer round trips than it
#    has pages; everything delivered exactly once, counts exact;
#  - two senders share one broadcast: the job is cut into shards, each
#    sender delivers some of them, every subscription exactly once, one
#    NotificationLog row with exact counts, no state left behind;
#    `webpush-cli job` shows the shards' progress while it runs;
#  - kill -9 of one of two senders mid-broadcast: the other one takes the
#    dead one's shard over from its checkpoint; every subscription
#    delivered, duplicates within the pipeline window
#    (WEBPUSH_PIPELINE_PAGES x WEBPUSH_PAGE_SIZE).
use strict;
use warnings;
use FindBin;
use List::Util qw(max sum0);
use Test::More;
use Time::HiRes qw(time sleep);
BEGIN { require "$FindBin::Bin/20_sender_lib.pm"; SenderTest->import }

need_stack();

my $prefix = '{t28}:';
redis('DEL', map { "$prefix$_" } qw(jobs dead retry scheduled metrics
      metrics:latency senders finish shards));

my $port = start_mock('m28');
my $run = uid();
my %env = (WEBPUSH_QUEUE_PREFIX => $prefix,
           WEBPUSH_ALLOWED_ENDPOINTS => "127.0.0.1:$port",
           LOG_LEVEL => 'debug');
my $json = JSON::PP->new;
my $cli = SenderTest::sender_bin() =~ s/webpush-sender$/webpush-cli/r;

# The sender's JSON log lines with message $msg about job $job.
sub log_lines {
    my ($s, $msg, $job) = @_;
    my @out;
    for (split /\n/, SenderTest::slurp($s->{log})) {
        my $l = eval { $json->decode($_) } or next;
        push @out, $l if $l->{msg} eq $msg && ($l->{job} // '') eq $job;
    }
    return @out;
}

sub audience {
    my ($n, $delay, $name) = @_;
    my @subs = subscribe_many($port, $n, behaviour => { delay_ms => $delay });
    for (my $i = 0; $i < @subs; $i += 200) {     # one command line each
        my $j = $i + 199 < $#subs ? $i + 199 : $#subs;
        add_subs([@subs[$i .. $j]], "$name-$run", "$name-$run");
    }
    return @subs;
}

sub tally { tally_subs($port, $_[0]) }

sub counts_exact {
    my ($log, $n, $what) = @_;
    is($log && $log->{subscriptionCount}, $n,
       "$what: NotificationLog subscriptionCount exact");
    is($log && $log->{sentCount}, $n, '... sentCount exact');
    is($log && $log->{failedCount}, 0, '... failedCount 0');
}

# ---- pipelining at a 50 ms round trip --------------------------------------
{
    my $N = 5000;
    my @subs = audience($N, 50, 'pipe');
    my $s = start_sender('t28p', %env, WEBPUSH_SHARD_SIZE => 0,
                         WEBPUSH_PAGE_SIZE => 250);
    my $job = enqueue($prefix, job_json(to => { topic => "pipe-$run" }));
    my $log = wait_log($job, 180);
    counts_exact($log, $N, 'pipelined job');
    my ($missing, $dups) = tally(\@subs);
    is($missing, 0, '... every subscription got the message');
    is($dups, 0, '... exactly once');
    my @pages = log_lines($s, 'page committed', $job);
    is(scalar(@pages), 20, '... 20 pages of 250 committed');
    is_deeply([map { $_->{page} } @pages], [1 .. 20], '... in order');
    my $most = max(map { $_->{pages_in_flight} } @pages);
    ok($most >= 3, "... up to $most pages in flight at once (one after the"
       . ' other: 1)');
    my @targets = map { $_->{inflight_target} } @pages;
    ok(max(@targets) > 250, '... the in-flight target grew with the round'
       . ' trip (' . join(',', @targets[0, -1]) . ')');
    my ($st) = stop_sender($s);
    is($st, 0, '... sender exits 0');
}

my %shared = (%env, WEBPUSH_SHARD_SIZE => 100, WEBPUSH_PAGE_SIZE => 25,
              WEBPUSH_PIPELINE_PAGES => 2, WEBPUSH_CLAIM_IDLE => 1000);

sub two_senders {
    my ($tag) = @_;
    my @s = map { start_sender("t28$tag$_", %shared) } 1, 2;
    for my $s (@s) {
        ok(wait_for(sub { redis('--raw', 'ZSCORE', "${prefix}senders",
                                $s->{name}) }, 20), "$s->{name} is up");
    }
    return @s;
}

# ---- two senders share one broadcast ---------------------------------------
{
    my $N = 1200;
    my @subs = audience($N, 20, 'share');
    my @s = two_senders('s');
    my $job = enqueue($prefix, job_json(to => { topic => "share-$run" }));

    # while it runs, the cli shows the shards
    my $cli = wait_for(sub {
        my $o = `WEBPUSH_QUEUE_PREFIX='$prefix' $cli job $job 2>&1`;
        $o =~ /shards/ ? $o : '';
    }, 30) // '';
    like($cli, qr{shards\s*:?\s*\d+/12}, 'webpush-cli job shows the shards'
         . ' done of 12') or diag($cli);

    my $log = wait_log($job, 120);
    counts_exact($log, $N, 'shared broadcast');
    my ($missing, $dups) = tally(\@subs);
    is($missing, 0, '... every subscription got the message');
    is($dups, 0, '... exactly once');
    my @split = map { log_lines($_, 'job split into shards', $job) } @s;
    is(scalar(@split), 1, '... split once');
    is($split[0]{shards}, 12, '... into 12 shards of 100');
    my @share = map { sum0(map { $_->{sent} } log_lines($_, 'shard done',
                                                        $job)) } @s;
    ok($share[0] > 0 && $share[1] > 0,
       "... each sender delivered a part ($share[0] + $share[1])");
    is($share[0] + $share[1], $N, '... the parts add up to the audience');
    is(redis('--raw', 'ZCARD', "${prefix}shards"), 0, '... no shard left');
    is(redis('--raw', 'KEYS', "${prefix}shard:*"), '',
       '... shard state cleaned up');
    is(redis('--raw', 'KEYS', "${prefix}progress:*"), '',
       '... job state cleaned up');
    is(psql(qq{SELECT count(*) FROM "NotificationLog" WHERE id = '$job'}), 1,
       '... one NotificationLog row');
    stop_sender($_) for @s;
}

# ---- kill -9 of one of two senders mid-broadcast ---------------------------
{
    my $N = 1200;
    my $bound = $shared{WEBPUSH_PIPELINE_PAGES} * $shared{WEBPUSH_PAGE_SIZE};
    my @subs = audience($N, 50, 'kill');
    my ($a, $b) = two_senders('k');
    my $job = enqueue($prefix, job_json(to => { topic => "kill-$run" }));
    my $mid = wait_for(sub {
        my $c = sum0(values %{ msgs_by_sub($port) });
        scalar(log_lines($a, 'shard taken', $job)) && $c >= 300 ? $c : 0
    }, 60);
    ok($mid, "the first sender is delivering a shard ($mid delivered)");
    stop_sender($a, 'KILL');

    my $log = wait_log($job, 120);
    counts_exact($log, $N, 'kill -9 mid-broadcast');
    my ($missing, $dups) = tally(\@subs);
    is($missing, 0, '... every subscription got the message');
    ok($dups <= $bound, "... duplicates $dups <= the pipeline window"
       . " ($bound)");
    diag("kill -9 of one of two senders: $dups duplicate deliveries"
         . " (bound: $bound)");
    ok(scalar(log_lines($b, 'shard done', $job)) > 0,
       '... the other sender finished the shards');
    my ($st) = stop_sender($b);
    is($st, 0, '... it exits 0');
}

done_testing();
