#!/usr/bin/perl
# webpush-sender survives its Redis and its PostgreSQL going away in the
# middle of a broadcast: it keeps running, reconnects with backoff, and
# finishes every job; nothing is lost (every subscription gets the message,
# duplicates stay within the pipeline window), a job enqueued while PostgreSQL is down
# goes out once it is back.  Uses a private redis-server (AOF, fsync
# always) and a private PostgreSQL cluster, never the shared stack's.
use strict;
use warnings;
use FindBin;
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);
use IO::Socket::INET;
BEGIN { require "$FindBin::Bin/20_sender_lib.pm"; SenderTest->import }

need_stack();
my ($pgbin) = grep { -x "$_/initdb" } '/usr/lib/postgresql/15/bin',
                                       glob('/usr/lib/postgresql/*/bin');
plan skip_all => 'PostgreSQL server binaries not found' unless $pgbin;
plan skip_all => 'redis-server not found'
    unless system('sh', '-c', 'command -v redis-server >/dev/null') == 0;

my $tmp = tmpdir();
chmod 0755, $tmp;
my $prefix = '{t23}:';

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0) or die;
    return $s->sockport;
}

sub quiet {         # run a command, output to a log; returns exit status
    my ($log, @cmd) = @_;
    my $pid = fork() // die;
    if ($pid == 0) {
        open(STDOUT, '>>', $log); open(STDERR, '>&', \*STDOUT);
        exec(@cmd) or exit 127;
    }
    waitpid($pid, 0);
    return $? >> 8;
}

# ---- private Redis ---------------------------------------------------------
my $rport = free_port();
my $rurl  = "redis://127.0.0.1:$rport";
mkdir "$tmp/redis";
my $redis_pid;
sub redis_up {
    $redis_pid = fork() // die;
    if ($redis_pid == 0) {
        open(STDOUT, '>>', "$tmp/redis.log"); open(STDERR, '>&', \*STDOUT);
        exec('redis-server', '--bind', '127.0.0.1', '--port', $rport,
             '--dir', "$tmp/redis", '--appendonly', 'yes', '--appendfsync',
             'always', '--save', '') or exit 127;
    }
    wait_for(sub { SenderTest::redis_raw($rurl, 'PING') eq 'PONG' }, 10)
        or die "private redis did not start";
}
sub redis_down {
    kill 'TERM', $redis_pid;
    waitpid($redis_pid, 0);
}
END { local $?; if ($redis_pid) { kill 'KILL', $redis_pid; waitpid($redis_pid, 0) } }
redis_up();

# ---- private PostgreSQL ----------------------------------------------------
my $pport = free_port();
my $pgdir = "$tmp/pg";
mkdir $pgdir; mkdir "$pgdir/run";
system('chown', '-R', 'postgres:postgres', $pgdir) if $> == 0;
my @as_pg = $> == 0 ? ('runuser', '-u', 'postgres', '--') : ();
quiet("$tmp/initdb.log", @as_pg, "$pgbin/initdb", '-D', "$pgdir/data",
      '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C.UTF-8',
      '--no-sync') == 0 or BAIL_OUT('initdb failed: ' . SenderTest::slurp("$tmp/initdb.log"));
sub pg_up {
    quiet("$tmp/pgctl.log", @as_pg, "$pgbin/pg_ctl", '-D', "$pgdir/data",
          '-l', "$pgdir/pg.log", '-w', '-t', '20', '-o',
          "-k $pgdir/run -p $pport -c listen_addresses=127.0.0.1 -c fsync=off",
          'start') == 0 or die 'pg_ctl start failed';
}
sub pg_down {
    quiet("$tmp/pgctl.log", @as_pg, "$pgbin/pg_ctl", '-D', "$pgdir/data",
          '-m', 'fast', '-w', 'stop');
}
END { local $?; pg_down() if -f "$pgdir/data/postmaster.pid" }
pg_up();
my $purl = "postgresql://postgres\@127.0.0.1:$pport/postgres";
# the schema of the stack's database, tables only
system("pg_dump --schema-only --no-owner '$ENV{DATABASE_URL}'"
       . " | psql -X -q -d '$purl' >/dev/null 2>&1");
is(psql('SELECT count(*) FROM "PushSubscription"', $purl), '0',
   'private PostgreSQL has the schema');

# ---- audience, sender -------------------------------------------------------
my $port = start_mock('m23');
my $page = 20;
my $run  = uid();
my $N    = 100;
my @subs = subscribe_many($port, $N, behaviour => { delay_ms => 30 });
add_subs(\@subs, "r-$run", "restart-$run", $purl);
my @one = subscribe($port);
add_subs([\@one], "one-$run", undef, $purl);

my $snd = start_sender('t23', WEBPUSH_QUEUE_PREFIX => $prefix,
                       WEBPUSH_ALLOWED_ENDPOINTS => "127.0.0.1:$port",
                       DATABASE_URL => $purl, REDIS_URL => $rurl,
                       REDIS_HOST => undef, REDIS_PORT => undef,
                       WEBPUSH_PAGE_SIZE => $page,
                       WEBPUSH_PIPELINE_PAGES => 2,
                       PUSH_CONCURRENCY_LIMIT => 10,
                       WEBPUSH_CLAIM_IDLE => 1000,
                       WEBPUSH_CONNECT_TIMEOUT => 1000);

sub delivered { my $c = 0; $c += $_ for values %{ msgs_by_sub($port) }; $c }

sub check_all {
    my ($what) = @_;
    my ($missing, $dups) = tally_subs($port, \@subs);
    is($missing, 0, "$what: every subscription got the message");
    ok($dups <= 2 * $page, "$what: duplicates $dups <= the pipeline window"
       . " (2 pages of $page)");
    diag("$what: $dups duplicate deliveries");
}

# ---- Redis restart mid-broadcast -------------------------------------------
{
    my $job = enqueue($prefix, job_json(to => { topic => "restart-$run" }), $rurl);
    ok(wait_for(sub { delivered() >= 40 }, 30), 'broadcast under way');
    redis_down();
    sleep 1.5;
    ok(kill(0, $snd->{pid}), 'sender still running while Redis is down');
    redis_up();
    my $log = wait_log($job, 60, $purl);
    ok($log, 'Redis restart: the job finished');
    is($log && $log->{sentCount}, $N, '... sentCount exact');
    check_all('Redis restart');
    like(SenderTest::slurp($snd->{log}), qr/Redis unavailable, retrying/,
         '... the sender logged the outage and retried');
}

# ---- PostgreSQL restart mid-broadcast; a job enqueued while it is down ------
{
    mock_api($port, 'POST', '/_mock/reset', '{"keep_subscriptions":true}');
    my $job = enqueue($prefix, job_json(to => { topic => "restart-$run" }), $rurl);
    ok(wait_for(sub { delivered() >= 40 }, 30), 'second broadcast under way');
    pg_down();
    my $j2 = enqueue($prefix, job_json(to => { userId => "one-$run" }), $rurl);
    sleep 1.5;
    ok(kill(0, $snd->{pid}), 'sender still running while PostgreSQL is down');
    pg_up();
    my $log = wait_log($job, 60, $purl);
    ok($log, 'PostgreSQL restart: the job finished');
    is($log && $log->{sentCount}, $N, '... sentCount exact');
    check_all('PostgreSQL restart');
    my $l2 = wait_log($j2, 30, $purl);
    is($l2 && $l2->{sentCount}, 1,
       'a job enqueued while PostgreSQL was down is delivered');
    is(scalar @{ mock_messages($port, $one[1]) }, 1, '... exactly once');
}

my ($st) = stop_sender($snd);
is($st, 0, 'sender exits 0');

done_testing();
