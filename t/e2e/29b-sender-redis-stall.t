#!/usr/bin/perl
# A hung Redis does not hold the delivery loop: the circuit and keyok
# markers the engine reads and writes while it delivers (a look at
# <prefix>circuit:<aud> once a second per origin, <prefix>keyok:<aud> after
# the first 2xx) go over a non-blocking link (sender/aredis.c).  A private
# redis-server is stopped (SIGSTOP) right after the first request of a
# page reaches the mock: every other request of the page still goes out,
# one after the other as answers come back (PUSH_CONCURRENCY_LIMIT=2),
# well within the Redis timeout (WEBPUSH_CONNECT_TIMEOUT 3 s, blocking
# calls waited 3 + 5 s).  After SIGCONT the job finishes, each
# subscription exactly once, and the keyok marker is written.
use strict;
use warnings;
use FindBin;
use Test::More;
use Time::HiRes qw(time);
use IO::Socket::INET;
BEGIN { require "$FindBin::Bin/20_sender_lib.pm"; SenderTest->import }

need_stack();
plan skip_all => 'redis-server not found'
    unless system('sh', '-c', 'command -v redis-server >/dev/null') == 0;

my $tmp = tmpdir();
my $prefix = '{t29b}:';

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0) or die;
    return $s->sockport;
}

# ---- private Redis (stopped and resumed by this test alone) ---------------
my $rport = free_port();
my $rurl  = "redis://127.0.0.1:$rport";
my $redis_pid = fork() // die;
if ($redis_pid == 0) {
    open(STDOUT, '>>', "$tmp/redis29.log"); open(STDERR, '>&', \*STDOUT);
    exec('redis-server', '--bind', '127.0.0.1', '--port', $rport, '--dir',
         $tmp, '--save', '', '--appendonly', 'no') or exit 127;
}
END {
    local $?;
    if ($redis_pid) {
        kill 'CONT', $redis_pid;
        kill 'KILL', $redis_pid;
        waitpid($redis_pid, 0);
    }
}
wait_for(sub { SenderTest::redis_raw($rurl, 'PING') eq 'PONG' }, 10)
    or BAIL_OUT('private redis did not start');

# ---- a page of 16 subscriptions, answered after 300 ms each ---------------
my $port = start_mock('m29b');
my $aud  = "https://127.0.0.1:$port";
my $run  = uid();
my $N    = 16;
my @subs = subscribe_many($port, $N, behaviour => { delay_ms => 300 });
add_subs(\@subs, "stall-$run");

my $snd = start_sender('t29b', WEBPUSH_QUEUE_PREFIX => $prefix,
                       WEBPUSH_ALLOWED_ENDPOINTS => "127.0.0.1:$port",
                       REDIS_URL => $rurl, REDIS_HOST => undef,
                       REDIS_PORT => undef,
                       WEBPUSH_PAGE_SIZE => 100,
                       PUSH_CONCURRENCY_LIMIT => 2,
                       WEBPUSH_CONNECT_TIMEOUT => 3000);

sub requests_seen { mock_stats($port)->{push_requests} // 0 }

my $job = enqueue($prefix, job_json(to => { userId => "stall-$run" }), $rurl);
ok(wait_for(sub { requests_seen() >= 1 }, 20), 'the first request is out');

# the page was read before its first request: from now on only the
# markers need Redis until the page is committed
kill 'STOP', $redis_pid;
my $t0 = time();
is(SenderTest::redis_raw($rurl, '-t', '0.3', 'PING'), '',
   'Redis is stopped (no PONG)');

my $all = wait_for(sub { requests_seen() >= $N }, 6);
my $dt = time() - $t0;
ok($all, sprintf('Redis stopped: all %d requests went out (%d seen) in'
                 . ' %.1f s, one after the other as answers came', $N,
                 requests_seen(), $dt));
ok($dt < 6, '... well within the 8 s a blocking marker call waited');
ok(kill(0, $snd->{pid}), '... the sender is running');

kill 'CONT', $redis_pid;
my $l = wait_log($job, 30);
is($l && $l->{sentCount}, $N, 'SIGCONT: the job finishes, sentCount exact');
my $n = msgs_by_sub($port);
is(scalar(grep { ($n->{ $_->[1] } // 0) == 1 } @subs), $N,
   '... each subscription exactly once');
ok(wait_for(sub { SenderTest::redis_raw($rurl, 'GET', "${prefix}keyok:$aud") }, 10),
   '... the keyok marker is written once Redis answers (or was before)');

my ($st) = stop_sender($snd);
is($st, 0, 'sender exits 0');

done_testing();
