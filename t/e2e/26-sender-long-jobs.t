#!/usr/bin/perl
# Long fan-outs.  A broadcast does not hold up the small jobs queued behind
# it: between two pages of a topic or "all" send, the sender runs the jobs
# for one user (or up to 100 userIds), or for a topic of at most two pages,
# that wait next in the stream, each as a whole job of its own; a userIds
# job for more than 100 users, and a second broadcast (a topic of six
# pages) behind it, wait their turn.  A broadcast longer than
# WEBPUSH_CLAIM_IDLE is not taken over from its live owner (it renews the
# entry every page); a stalled owner's job is taken over, and the owner,
# resumed, stops at once.  Everything is delivered exactly once (or within
# the page in flight, for the stall).  Entries next in line that are not
# jobs are dead-lettered between two pages and hold nothing up.
use strict;
use warnings;
use FindBin;
use Test::More;
use Time::HiRes qw(time sleep);
BEGIN { require "$FindBin::Bin/20_sender_lib.pm"; SenderTest->import }

need_stack();

my $prefix = '{t26}:';
redis('DEL', map { "$prefix$_" } qw(jobs dead retry scheduled metrics
      metrics:latency senders finish));

my $slow = start_mock('m26s');       # the broadcast's push service: slow
my $fast = start_mock('m26f');       # the small jobs' push service
my $run = uid();
my $topic = "t26:$run";

# 60 subscriptions answered after 150 ms each, 5 at a time, 10 per page:
# the broadcast takes about 2 s and has 6 page boundaries.
my @b = subscribe_many($slow, 60, behaviour => { delay_ms => 150 });
add_subs(\@b, "b-$run", $topic);
my @s1 = subscribe_many($fast, 1);
add_subs(\@s1, "u1-$run");
my @s2 = subscribe_many($fast, 2);
add_subs(\@s2, "u2-$run");
my @big = subscribe_many($fast, 1);
add_subs(\@big, "big-$run");
my @st = subscribe_many($fast, 3);             # a topic of 3: small
add_subs(\@st, "st-$run", "small-$topic");

my $snd = start_sender('t26', WEBPUSH_QUEUE_PREFIX => $prefix,
                       WEBPUSH_ALLOWED_ENDPOINTS =>
                           "127.0.0.1:$slow,127.0.0.1:$fast",
                       PUSH_CONCURRENCY_LIMIT => 5, WEBPUSH_PAGE_SIZE => 10);
wait_for(sub { redis('--raw', 'ZSCORE', "${prefix}senders", 't26') }, 10);

sub finished_ms {       # when a job's NotificationLog row was written
    my ($id) = @_;
    return psql(qq{SELECT (extract(epoch FROM "createdAt") * 1000)::bigint
                   FROM "NotificationLog" WHERE id = '$id'});
}

my $bc = enqueue($prefix, job_json(to => { topic => $topic }));
# wait until the broadcast is under way (its progress hash exists)
wait_for(sub {
    redis('--raw', 'KEYS', "${prefix}progress:*") =~ /progress/
}, 10);
my $j1 = enqueue($prefix, job_json(to => { userId => "u1-$run" }));
# Entries that are not jobs, next in line: dead-lettered between two pages
# too, so they do not hold up the small job behind them.
my @notjobs = (
    redis('--raw', 'XADD', "${prefix}jobs", '*', 'job', "not json $run"),
    redis('--raw', 'XADD', "${prefix}jobs", '*', 'other', "no job $run"),
    redis('--raw', 'XADD', "${prefix}jobs", '*', 'job',
          qq({"v":1,"id":"bad-$run","to":"all","payload":{}})));
my $j2 = enqueue($prefix, job_json(to => { userIds => ["u2-$run", "nobody"] }));
my $jt = enqueue($prefix, job_json(to => { topic => "small-$topic" }));
my @many = ("big-$run", map { "none-$_" } 1 .. 100);
my $j3 = enqueue($prefix, job_json(to => { userIds => \@many }));
my $bc2 = enqueue($prefix, job_json(to => { topic => $topic }));

my $l1 = wait_log($j1, 20);
my $l2 = wait_log($j2, 20);
my $lb = wait_log($bc, 30);
ok($l1 && $l2 && $lb, 'the broadcast and the small jobs all finish')
    or diag(slurp($snd->{log}));

SKIP: {
    skip 'a job did not finish', 13 unless $l1 && $l2 && $lb;

    is("$l1->{subscriptionCount}/$l1->{sentCount}", '1/1',
       'userId job: 1 subscription, sent');
    is("$l2->{subscriptionCount}/$l2->{sentCount}", '2/2',
       'userIds job (2 ids): 2 subscriptions, sent');
    ok(finished_ms($j1) < finished_ms($bc),
       'the userId job finished before the broadcast it was queued behind');
    ok(finished_ms($j2) < finished_ms($bc),
       '... and so did the small userIds job');
    my $lt = wait_log($jt, 20);
    is($lt && "$lt->{subscriptionCount}/$lt->{sentCount}", '3/3',
       'a topic of 3 subscriptions (at most two pages): 3 sent');
    ok($lt && finished_ms($jt) < finished_ms($bc),
       '... before the broadcast it was queued behind');
    is("$lb->{subscriptionCount}/$lb->{sentCount}/$lb->{failedCount}",
       '60/60/0', 'the broadcast: 60 subscriptions, all sent');

    # the dead-letter stream: entry id => when (ms) and why
    my @l = split /\n/, redis('--raw', 'XRANGE', "${prefix}dead", '-', '+');
    my %dead;
    for (my $i = 0; $i < @l; ) {
        my ($ms) = $l[$i++] =~ /^(\d+)-\d+$/;
        my %f;
        while ($i < @l && $l[$i] !~ /^\d+-\d+$/) {
            my $k = $l[$i++];
            $f{$k} = $l[$i++];
        }
        $dead{ $f{id} } = { ms => $ms, reason => $f{reason} // '' }
            if defined $f{id};
    }
    is(scalar(grep { $dead{$_} } @notjobs), 3,
       'the 3 entries that are not jobs are dead-lettered')
        or diag(join ' ', @l);
    ok(!grep({ !$dead{$_} || $dead{$_}{ms} >= finished_ms($bc) } @notjobs),
       '... between two pages of the broadcast, not after it');
    is($dead{ $notjobs[1] } && $dead{ $notjobs[1] }{reason},
       'entry has no job field', '... the one without a job says so');
    ok(!grep({ !$dead{$_} || $dead{$_}{reason} eq '' } @notjobs),
       '... each with a reason');

    my $lb2 = wait_log($bc2, 30);
    my $l3 = wait_log($j3, 30);
    ok($lb2 && finished_ms($bc2) > finished_ms($bc),
       'a second broadcast waits for the first (never run inside it)');
    ok($l3 && finished_ms($j3) > finished_ms($bc),
       'a userIds job for 101 users is not small: it waits its turn too');
}

my $n = msgs_by_sub($slow);
my @bad = grep { ($n->{ $_->[1] } // 0) != 2 } @b;
ok(!@bad, 'each broadcast subscription got each of the two broadcasts once')
    or diag(scalar(@bad) . ' wrong');
my $f = msgs_by_sub($fast);
is(join(',', map { $f->{ $_->[1] } // 0 } @s1, @s2, @big, @st),
   '1,1,1,1,1,1,1',
   'each small-job subscription got its message exactly once');
is(redis('XLEN', "${prefix}jobs"), '(integer) 0', 'every entry acked');
my ($st) = stop_sender($snd);
is($st, 0, 'the sender exits 0 on SIGTERM');

# ---- a long fan-out is not taken over from a live sender ---------------------
# Two senders that take over jobs idle for 1 s; a broadcast of ~2 s: its
# owner renews the entry every page, so the other never takes it.
{
    my %env = (WEBPUSH_QUEUE_PREFIX => $prefix, WEBPUSH_CLAIM_IDLE => 1000,
               WEBPUSH_ALLOWED_ENDPOINTS => "127.0.0.1:$slow",
               PUSH_CONCURRENCY_LIMIT => 5, WEBPUSH_PAGE_SIZE => 10);
    my $a = start_sender('t26a', %env);
    wait_for(sub { redis('--raw', 'ZSCORE', "${prefix}senders", 't26a') }, 10);
    my $before = msgs_by_sub($slow);
    my $j = enqueue($prefix, job_json(to => { topic => $topic }));
    wait_for(sub {
        redis('--raw', 'KEYS', "${prefix}progress:*") =~ /progress/
    }, 10);
    my $b = start_sender('t26b', %env);
    my $l = wait_log($j, 30);
    is($l && "$l->{subscriptionCount}/$l->{sentCount}", '60/60',
       'two senders, claim idle 1 s, a 2 s broadcast: all sent');
    my $after = msgs_by_sub($slow);
    my @dup = grep { ($after->{ $_->[1] } // 0) - ($before->{ $_->[1] } // 0)
                     != 1 } @b;
    is(scalar @dup, 0, '... each subscription exactly once: not taken over');
    unlike(slurp($a->{log}) . slurp($b->{log}), qr/taken over/,
           '... and no sender says it was');

# ---- a stalled sender's job is taken over; the stalled one then stops --------
    $before = $after;
    $j = enqueue($prefix, job_json(to => { topic => $topic }));
    my $owner;
    wait_for(sub {
        my $p = redis('--raw', 'XPENDING', "${prefix}jobs", 'senders', '-',
                      '+', 10);
        ($owner) = $p =~ /^(t26[ab])$/m;
        $owner
    }, 10);
    my ($o, $other) = ($owner // '') eq 't26a' ? ($a, $b) : ($b, $a);
    sleep 0.4;                          # a page or so under way
    kill 'STOP', $o->{pid};
    $l = wait_log($j, 30);              # the other takes it after 1 s idle
    kill 'CONT', $o->{pid};
    is($l && "$l->{subscriptionCount}/$l->{sentCount}", '60/60',
       'a stalled owner (SIGSTOP): the other sender takes the job over and'
       . ' finishes it');
    ok(wait_for(sub { slurp($o->{log}) =~ /job taken over by another sender/ },
                10),
       '... the stalled one, resumed, sees the job is no longer its own');
    sleep 0.5;
    $after = msgs_by_sub($slow);
    my ($missing, $extra) = (0, 0);
    for (@b) {
        my $got = ($after->{ $_->[1] } // 0) - ($before->{ $_->[1] } // 0);
        $missing++ if $got < 1;
        $extra += $got - 1 if $got > 1;
    }
    is($missing, 0, '... every subscription got it');
    ok($extra <= 10, "... duplicates within the page in flight ($extra <= 10)");
    is((stop_sender($a))[0], 0, 'sender a exits 0');
    is((stop_sender($b))[0], 0, 'sender b exits 0');
}

done_testing();
