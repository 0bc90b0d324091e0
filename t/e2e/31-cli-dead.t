#!/usr/bin/perl
# webpush-cli dead list|retry|drop on the dead-letter stream of prefix
# {t31}: (no sender reads it, so the replayed jobs stay where the cli put
# them): both kinds of letters (a whole job; one delivery), retry by id and
# --all, --renew, a malformed job that cannot be replayed, drop, missing
# ids, and the usage and environment errors.
use strict;
use warnings;
use Test::More;
use FindBin;
require "$FindBin::Bin/30-cli-lib.pl";

our ($cli, $json);

plan skip_all => 'REDIS_PORT not set (source the stack dev.env)'
    unless $ENV{REDIS_PORT};
plan skip_all => "$cli not built" unless -x $cli;

my $P = '{t31}:';
my %env = (WEBPUSH_QUEUE_PREFIX => $P);
redis_clear($P);

sub job_json {
    my ($id, %o) = @_;
    return $json->encode({ v => 1, id => $id, type => 'event_update',
        to => { userId => 'u31' }, payload => { title => 'dead' },
        ttl => $o{ttl} // 3600, createdAt => $o{created} // int(time() * 1000) });
}

sub add_dead {
    my (@fields) = @_;
    my $id = redis_raw('XADD', "${P}dead", '*', @fields);
    return $id;
}

sub jobs_in_stream {
    my $raw = redis_raw('XRANGE', "${P}jobs", '-', '+');
    return map { eval { $json->decode($_) } || () } grep { /^\{/ } split /\n/, $raw;
}

my $j1 = 'aaaaaaaa-0000-4000-8000-000000000031';
my $j2 = 'bbbbbbbb-0000-4000-8000-000000000031';
my $j3 = 'cccccccc-0000-4000-8000-000000000031';
my $old = int(time() * 1000) - 7200_000;        # TTL 3600 s long gone

my $e1 = add_dead('id', '1-1', 'job', job_json($j1), 'reason', 'database unavailable');
my $e2 = add_dead('id', '1-2', 'job', job_json($j2, created => $old), 'reason', 'too many attempts');
my $e3 = add_dead('kind', 'delivery', 'jobId', $j3, 'entry', '1-3',
                  'subscription', 'sub-31', 'attempts', 4, 'reason', 'HTTP 503');
my $e4 = add_dead('id', '1-4', 'job', '{"v":1,"nonsense":true}', 'reason', 'malformed job');

# ---- list ----------------------------------------------------------------

{
    my ($rc, $out) = cli(\%env, 'dead', 'list');
    is($rc, 0, 'dead list exits 0');
    like($out, qr/^\Q$e1\E .* job\s+\Q$j1\E\s+event_update\s+database unavailable$/m,
         'lists a dead job: entry, kind, job id, type, reason');
    like($out, qr/^\Q$e3\E .* delivery\s+\Q$j3\E .*HTTP 503 \(subscription sub-31\)$/m,
         'lists a dead delivery with its subscription');
    like($out, qr/^\Q$e4\E .*\(malformed job\)/m, 'marks a malformed job');
    like($out, qr/^4 dead entries$/m, 'counts them');

    ($rc, $out) = cli(\%env, 'dead', 'list', '--count', 1);
    like($out, qr/^4 dead entries \(oldest shown first; --count N for more\)/m,
         '--count limits and says so');
    unlike($out, qr/\Q$e2\E/, '... showing only the oldest');
}

# ---- retry -----------------------------------------------------------------

{
    my ($rc, $out, $err) = cli(\%env, 'dead', 'retry', $e1);
    is($rc, 0, 'dead retry ENTRY exits 0') or diag($err);
    like($out, qr/retried \Q$e1\E: job \Q$j1\E queued again/, '... says what');
    my @jobs = jobs_in_stream();
    is(scalar @jobs, 1, 'one job on the jobs stream');
    is($jobs[0]{id}, $j1, '... with its original id');
    is($jobs[0]{payload}{title}, 'dead', '... and payload');
    like(redis('XINFO', 'GROUPS', "${P}jobs"), qr/senders/,
         'the consumer group exists, so a starting sender cannot skip it');
    unlike((cli(\%env, 'dead', 'list'))[1], qr/\Q$e1\E/, 'it left the dead stream');

    ($rc, $out, $err) = cli(\%env, 'dead', 'retry', $e1);
    is($rc, 1, 'retrying it again: exit 1');
    like($err, qr/no dead entry \Q$e1\E/, '... no such entry');
    is(scalar(jobs_in_stream()), 1, '... and nothing queued twice');
}

{
    my ($rc, $out, $err) = cli(\%env, 'dead', 'retry', $e3);
    is($rc, 1, 'a delivery letter cannot be retried: exit 1');
    like($err, qr/single delivery's letter, not a job/, '... says why');
    ($rc, $out, $err) = cli(\%env, 'dead', 'retry', $e4);
    is($rc, 1, 'a malformed job cannot be retried: exit 1');
    like($err, qr/malformed job .*drop it/, '... says why');
    is(scalar(jobs_in_stream()), 1, 'neither reached the jobs stream');
}

{
    # expired TTL: warned; --renew restarts it
    my ($rc, $out, $err) = cli(\%env, 'dead', 'retry', '--all');
    is($rc, 1, 'retry --all exits 1 when some entries cannot be replayed');
    like($err, qr/warning: job \Q$j2\E's TTL ran out/, 'warns of an expired TTL');
    my ($j) = grep { $_->{id} eq $j2 } jobs_in_stream();
    is($j && $j->{createdAt}, $old, 'without --renew the job keeps its createdAt');
    like((cli(\%env, 'dead', 'list'))[1], qr/^2 dead entries$/m,
         'the two unreplayable letters stay');

    redis('DEL', "${P}jobs");
    my $e5 = add_dead('id', '1-5', 'job', job_json($j2, created => $old), 'reason', 'x');
    my $t0 = int(time() * 1000);
    ($rc, $out, $err) = cli(\%env, 'dead', 'retry', $e5, '--renew');
    is($rc, 0, 'retry --renew exits 0') or diag($err);
    unlike($err, qr/TTL ran out/, '... no expiry warning');
    ($j) = jobs_in_stream();
    ok($j && $j->{createdAt} >= $t0, '--renew restarts the TTL (createdAt now)');
}

# ---- drop ------------------------------------------------------------------

{
    my ($rc, $out) = cli(\%env, 'dead', 'drop', $e3);
    is($rc, 0, 'dead drop ENTRY exits 0');
    like($out, qr/dropped \Q$e3\E/, '... says so');
    ($rc, $out) = cli(\%env, 'dead', 'drop', '--all');
    is($rc, 0, 'dead drop --all exits 0');
    like((cli(\%env, 'dead', 'list'))[1], qr/^0 dead entries$/m, 'the stream is empty');
    ($rc) = cli(\%env, 'dead', 'drop', '1-1');
    is($rc, 1, 'dropping a missing entry exits 1');
}

# ---- usage and environment ------------------------------------------------------

my @usage = ([[], 'no action'], [['revive'], 'unknown action'],
             [['retry'], 'retry without ids'], [['drop', '1-1', '--all'], 'ids and --all'],
             [['list', '1-1'], 'list with ids'], [['drop', 'abc'], 'not an entry id'],
             [['drop', '--all', '--renew'], '--renew with drop'],
             [['list', '--count', 'x'], 'bad --count']);
for my $u (@usage) {
    my ($rc, undef, $err) = cli(\%env, 'dead', @{ $u->[0] });
    is($rc, 2, "dead: $u->[1] -> exit 2");
    like($err, qr/usage: webpush-cli dead/, "... prints the usage: $u->[1]");
}
{
    my $e = add_dead('id', '1-6', 'job', job_json($j1), 'reason', 'x');
    my ($rc, undef, $err) = cli({ %env, REDIS_URL => 'redis://127.0.0.1:1' }, 'dead', 'retry', '--all');
    is($rc, 4, 'dead retry with Redis unreachable -> exit 4');
    ($rc, undef, $err) = cli({ %env, REDIS_URL => 'ftp://x' }, 'dead', 'list');
    is($rc, 3, 'dead list with a malformed REDIS_URL -> exit 3');
    ($rc, undef, $err) = cli({ %env, WEBPUSH_QUEUE_PREFIX => "a b" }, 'dead', 'list');
    is($rc, 3, 'a prefix with a blank -> exit 3');
    like($err, qr/WEBPUSH_QUEUE_PREFIX/, '... naming the variable');
    like((cli(\%env, 'dead', 'list'))[1], qr/^1 dead entry$/m, 'nothing changed by the failures');
}

# ---- two operators replaying at once: each job queued exactly once ----------

{
    redis_clear($P);
    my @ids = map { sprintf('eeeeeeee-0000-4000-8000-%012d', $_) } 1 .. 30;
    add_dead('id', "1-$_", 'job', job_json($ids[$_ - 1]), 'reason', 'x') for 1 .. 30;
    my @pids;
    for my $n (1 .. 2) {
        my $pid = fork() // die "fork: $!";
        if ($pid == 0) {
            $ENV{WEBPUSH_QUEUE_PREFIX} = $P;
            open(STDOUT, '>', '/dev/null'); open(STDERR, '>', '/dev/null');
            exec($cli, 'dead', 'retry', '--all') or exit 127;
        }
        push @pids, $pid;
    }
    waitpid($_, 0) for @pids;
    my @jobs = jobs_in_stream();
    is(scalar @jobs, 30, 'two concurrent `dead retry --all`: 30 jobs queued, none twice');
    my %seen = map { $_->{id} => 1 } @jobs;
    is(scalar keys %seen, 30, '... each of the 30 ids once');
    like((cli(\%env, 'dead', 'list'))[1], qr/^0 dead entries$/m, '... and the dead stream is empty');
}

# ---- a Redis with a password ------------------------------------------------------

{
    my $port = start_redis('--requirepass', 'pw-t31-secret');
    my %e = (%env, REDIS_URL => "redis://:pw-t31-secret\@127.0.0.1:$port");
    my ($rc, $out, $err) = cli(\%e, 'dead', 'list');
    is($rc, 0, 'the right password in REDIS_URL: exit 0') or diag($err);
    ($rc, $out, $err) = cli({ %e, REDIS_URL => "redis://:wrong-t31\@127.0.0.1:$port" }, 'dead', 'list');
    is($rc, 3, 'a wrong password: exit 3');
    like($err, qr/refused the password \(REDIS_URL\)/, '... says so');
    unlike($out . $err, qr/wrong-t31/, '... without printing it');
    ($rc, $out, $err) = cli({ %e, REDIS_URL => "redis://127.0.0.1:$port" }, 'dead', 'list');
    is($rc, 3, 'no password where one is needed: exit 3');
    ($rc, $out, $err) = cli({ %e, REDIS_URL => undef, REDIS_HOST => '127.0.0.1',
                              REDIS_PORT => $port, REDIS_PASSWORD => 'pw-t31-secret' },
                            'dead', 'list');
    is($rc, 0, 'REDIS_HOST/REDIS_PORT/REDIS_PASSWORD work too');
}

redis_clear($P);
done_testing();
