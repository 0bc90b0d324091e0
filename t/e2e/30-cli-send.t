#!/usr/bin/perl
# webpush-cli send and job, end to end: jobs enqueued by the cli (from
# options and from a file) are run by a real webpush-sender (our own, under
# the prefix {t30}:) against the mock push service, which decrypts what it
# got; `send --wait` and `job` report the NotificationLog figures; sendAt
# in the future goes to the scheduled set; every refusal path exits with
# its code and queues nothing.  Also: --help of every command.
use strict;
use warnings;
use Test::More;
use FindBin;
use JSON::PP ();
require "$FindBin::Bin/30-cli-lib.pl";

our ($cli, $sender, $json, %kids, $tmp);

plan skip_all => 'DATABASE_URL/REDIS_PORT not set (source the stack dev.env)'
    unless $ENV{DATABASE_URL} && $ENV{REDIS_PORT};
plan skip_all => "$cli or $sender not built" unless -x $cli && -x $sender;
plan skip_all => 'python3-h2 / python3-cryptography missing'
    unless mock_usable();

my $P = '{t30}:';
my %env = (WEBPUSH_QUEUE_PREFIX => $P);
redis_clear($P);
psql(q{DELETE FROM "PushSubscription" WHERE "userId" LIKE 't30-%'});

# ---- --help everywhere ---------------------------------------------------

for my $c (qw(generate-vapid-keys token migrate send-test send job dead
              stats cleanup doctor)) {
    my ($rc, $out) = cli({}, $c, '--help');
    is($rc, 0, "$c --help exits 0");
    like($out, qr/^usage: webpush-cli \Q$c\E/, "$c --help prints its usage");
}
{
    my ($rc, $out) = cli({}, '--help');
    like($out, qr/exit codes: 0 ok, 1 failed, 2 usage, 3 configuration,/,
         'webpush-cli --help documents the exit codes');
}

# ---- refusals: nothing queued --------------------------------------------

sub queued { return (redis('XLEN', "${P}jobs") =~ /(\d+)/)[0] + (redis('ZCARD', "${P}scheduled") =~ /(\d+)/)[0] }

my @bad = (
    [[], 2, qr/exactly one of --user, --users, --topic, --all/, 'no audience'],
    [['--user', 'a', '--all'], 2, qr/exactly one of/, 'two audiences'],
    [['--user', 'a', '--ttl', 'soon'], 2, qr/ttl: must be an integer/, 'ttl not a number'],
    [['--user', 'a', '--ttl', '99999999'], 2, qr/ttl/, 'ttl too large'],
    [['--user', 'a', '--urgency', 'asap'], 2, qr/urgency: must be very-low, low, normal or high/, 'bad urgency'],
    [['--user', 'a', '--push-topic', 'a b'], 2, qr/topic/, 'bad Topic header'],
    [['--users', 'a,,b'], 2, qr/to\.userIds\[1\]/, 'empty user id in --users'],
    [['--user', 'a', '--type', 'has space'], 2, qr/type/, 'bad type'],
    [['--user', 'a', '--send-at', 'tomorrow'], 2, qr/sendAt/, 'bad sendAt'],
    [['--user', 'a', '--send-at', '2099-01-01T00:00:00Z'], 2, qr/sendAt: at most 30 days ahead/, 'sendAt too far'],
    [['--user', 'a', '--title', 'x' x 4000], 2, qr/payload/, 'payload too large'],
    [['--user', 'a', '--bogus'], 2, qr/unknown option "--bogus"/, 'unknown option'],
    [['--file', "$tmp/nope.json"], 2, qr/cannot open/, 'missing --file'],
    [['--file', '-', '--user', 'a'], 2, qr/--file holds the whole request/, '--file with options'],
);
for my $b (@bad) {
    my ($args, $want, $re, $name) = @$b;
    my ($rc, $out, $err) = cli(\%env, 'send', @$args);
    is($rc, $want, "send refuses: $name (exit $want)");
    like($err, $re, "... and says why: $name");
    is($out, '', "... prints no job id: $name");
}
{
    my ($rc, $out, $err) = run_env(\%env, [$cli, 'send', '--file', '-'],
        '{"type":"x","to":{"all":true},"payload":{},"ttL":5}');
    is($rc, 2, 'send --file: unknown member refused (exit 2)');
    like($err, qr/ttL: unknown member/, '... naming it');
}
is(queued(), 0, 'no refused send queued anything');

# environment and servers
{
    my ($rc, undef, $err) = cli({ %env, REDIS_URL => 'http://127.0.0.1' },
                                'send', '--all');
    is($rc, 3, 'send: malformed REDIS_URL -> exit 3');
    like($err, qr/REDIS_URL must start with redis:\/\//, '... says so');

    ($rc, undef, $err) = cli({ %env, REDIS_URL => 'redis://127.0.0.1:1' },
                             'send', '--all');
    is($rc, 4, 'send: Redis unreachable -> exit 4');
    like($err, qr/unreachable/, '... says so');

    ($rc, undef, $err) = cli({ %env, REDIS_URL => "redis://:wrong\@127.0.0.1:$ENV{REDIS_PORT}" },
                             'send', '--all');
    ok($rc == 3 || $rc == 0, 'send: a password Redis does not need is harmless or exit 3');

    ($rc, undef, $err) = cli({ %env, PUSH_TTL_DEFAULT => 'forever' },
                             'send', '--all');
    is($rc, 3, 'send: bad PUSH_TTL_DEFAULT -> exit 3');
    is(queued(), $rc == 0 ? 1 : 0, 'nothing queued by the failed sends');
    redis_clear($P);
}

# ---- scheduled (no sender yet) ----------------------------------------------

{
    my $at = time() * 1000 + 3600_000;
    my ($rc, $out, $err) = cli(\%env, 'send', '--topic', 'event:t30',
                               '--send-at', $at, '--title', 'later');
    is($rc, 0, 'send --send-at (epoch ms, 1 h ahead) exits 0');
    my ($id) = $out =~ /^([0-9a-f-]{36})$/m;
    ok($id, 'prints a UUID job id');
    like($err, qr/scheduled for/, 'says it is scheduled');
    is((redis('ZCARD', "${P}scheduled") =~ /(\d+)/)[0], 1,
       'it waits in the scheduled set');
    my $member = redis_raw('ZRANGE', "${P}scheduled", 0, -1);
    my $job = eval { $json->decode($member) } || {};
    is($job->{id}, $id, 'the scheduled job carries the printed id');
    is($job->{sendAt}, $at, '... and sendAt');
    is_deeply($job->{to}, { topic => 'event:t30' }, '... and the audience');

    ($rc, $out) = cli(\%env, 'job', $id);
    is($rc, 0, 'job ID of a scheduled job exits 0');
    like($out, qr/^state:\s+scheduled/m, '... state scheduled');
    like($out, qr/^due:/m, '... with its due time');
    redis('DEL', "${P}scheduled");
}

# ---- queued, then run by a real sender -------------------------------------

my $port = start_mock();
my @subs = map { add_subscription($port, 't30-u1') } 1 .. 2;
my $sub3 = add_subscription($port, 't30-u2');

my ($id1, $id2);
{
    my ($rc, $out, $err) = cli(\%env, 'send', '--user', 't30-u1',
        '--type', 'event_update', '--event-id', 'e30', '--title', 'Moved',
        '--body', "Now at 21:00 \x{e2}\x{9c}\x{93}", '--url', '/e/30',
        '--icon', '/i.png', '--tag', 'e30', '--ttl', '600',
        '--urgency', 'high', '--push-topic', 'e30upd');
    is($rc, 0, 'send --user ... exits 0 (no sender yet)') or diag($err);
    ($id1) = $out =~ /^([0-9a-f-]{36})$/m;
    ok($id1, 'prints the job id');
    like($err, qr/queued as stream entry \d+-\d+/, 'says it is queued');

    my $entries = redis_raw('XRANGE', "${P}jobs", '-', '+');
    my ($text) = $entries =~ /^(\{"v":1.*\})$/m;
    my $job = eval { $json->decode($text) } || {};
    is($job->{id}, $id1, 'the stream entry carries the id (field "job")');
    is($job->{type}, 'event_update', '... type');
    is($job->{eventId}, 'e30', '... eventId');
    is_deeply($job->{to}, { userId => 't30-u1' }, '... to.userId');
    is($job->{ttl}, 600, '... ttl');
    is($job->{urgency}, 'high', '... urgency');
    is($job->{topic}, 'e30upd', '... Topic header');
    is_deeply($job->{payload}, { title => 'Moved',
        body => "Now at 21:00 \x{2713}", url => '/e/30', icon => '/i.png',
        tag => 'e30' }, '... payload from --title --body --url --icon --tag');

    ($rc, $out) = cli(\%env, 'job', $id1);
    is($rc, 0, 'job ID of a waiting job exits 0');
    like($out, qr/^state:\s+queued/m, '... state queued');
}

my $spid = start_sender($P, $port, 't30-a');

{
    my ($rc, $out, $err) = cli(\%env, 'send', '--user', 't30-u1', '--wait',
                               '--timeout', '30');
    ok(1, 'sender started');
    # the first job (queued before the sender) and this one both finish
    is($rc, 0, 'send --wait exits 0 when the job finished') or diag($err);
    ($id2) = $out =~ /^([0-9a-f-]{36})$/m;
    like($out, qr/^state:\s+finished/m, '--wait prints the final state');
    like($out, qr/^subscriptions: 2$/m, '... 2 subscriptions');
    like($out, qr/^sent:\s+2$/m, '... 2 sent');
    like($out, qr/^failed:\s+0$/m, '... 0 failed');
}

ok(wait_for(sub { (cli(\%env, 'job', $id1))[1] =~ /state:\s+finished/ }, 20),
   'the job queued before the sender started finished too');
{
    my ($rc, $out) = cli(\%env, 'job', $id1);
    is($rc, 0, 'job ID of a finished job exits 0');
    like($out, qr/^sent:\s+2$/m, '... with NotificationLog figures');
    is(psql(qq{SELECT concat_ws(' ', "type", "eventId", "sentCount")
                FROM "NotificationLog" WHERE "id" = '$id1'}),
       'event_update e30 2', 'its NotificationLog row has the job id');

    my $m = mock_messages($port, $subs[0]);
    my ($mine) = grep { $_->{payload} && $_->{payload} =~ /Moved/ } @$m;
    ok($mine, 'the mock decrypted the message');
    my $p = eval { $json->decode(do { my $x = $mine->{payload}; utf8::encode($x); $x }) } || {};
    is($p->{title}, 'Moved', '... payload title');
    is($mine->{headers}{urgency}, 'high', '... Urgency header');
    is($mine->{headers}{topic}, 'e30upd', '... Topic header');
    is(scalar @{ mock_messages($port, $sub3) }, 0, 'the other user got nothing');
}

# --file, the send route's body, to two users
{
    open(my $f, '>', "$tmp/req.json") or die;
    print $f $json->encode({ type => 'reminder', to => { userIds => ['t30-u2', 't30-nobody'] },
                             payload => { title => 'From a file' }, ttl => 60 });
    close $f;
    my ($rc, $out, $err) = cli(\%env, 'send', '--file', "$tmp/req.json",
                               '--wait', '--timeout', '30');
    is($rc, 0, 'send --file FILE --wait exits 0') or diag($err);
    like($out, qr/^subscriptions: 1$/m, '... one subscription (t30-u2)');
    like($out, qr/^sent:\s+1$/m, '... sent');
    ok((grep { ($_->{payload} // '') =~ /From a file/ } @{ mock_messages($port, $sub3) }),
       'the mock got the file\'s payload');
}

# a near sendAt is promoted by the sender and then run
{
    my $at = int(time() * 1000) + 4000;
    my ($rc, $out, $err) = cli(\%env, 'send', '--user', 't30-u2',
        '--title', 'soon', '--send-at', $at, '--wait', '--timeout', '30');
    is($rc, 0, 'send --send-at (4 s ahead) --wait finishes') or diag($err);
    like($err, qr/scheduled for/, '... went through the scheduled set');
    like($out, qr/^sent:\s+1$/m, '... and was sent');
}

# ---- job: fan-out done, deliveries waiting for a retry (progress hash) ---------

{
    my $rid = 'dddddddd-0000-4000-8000-000000000030';
    my $job = $json->encode({ v => 1, id => $rid, type => 'retrying30',
        to => { all => JSON::PP::true }, payload => {}, ttl => 60,
        createdAt => int(time() * 1000) });
    redis('HSET', "${P}progress:7-7", 'job', $job, 'total', 5, 'sent', 3,
          'failed', 0, 'pending', 2, 'done', 1);
    my ($rc, $out) = cli(\%env, 'job', $rid);
    is($rc, 0, 'job ID of a job with open retries exits 0');
    like($out, qr/^state:\s+retrying/m, '... state retrying');
    like($out, qr/^entry:\s+7-7 \(fan-out done, 2 deliveries waiting to be retried\)/m,
         '... with its entry and open retries');
    like($out, qr/^progress: 5 subscriptions done: 3 sent/m, '... and its counts');
    redis('DEL', "${P}progress:7-7");
}

# ---- job: refusals -----------------------------------------------------------

{
    my ($rc, $out, $err) = cli(\%env, 'job', '00000000-0000-4000-8000-000000000000');
    is($rc, 1, 'job of an unknown id exits 1');
    like($err, qr/no job 00000000/, '... and says so');
    ($rc, undef, $err) = cli(\%env, 'job', 'not a job');
    is($rc, 2, 'job with a malformed id exits 2');
    ($rc) = cli(\%env, 'job');
    is($rc, 2, 'job without an id exits 2');
    ($rc, undef, $err) = cli({ %env, DATABASE_URL => undef }, 'job', $id1);
    is($rc, 3, 'job without DATABASE_URL exits 3');
    like($err, qr/DATABASE_URL is not set/, '... and says so');
    ($rc, undef, $err) = cli({ %env, DATABASE_URL => 'postgresql://u@127.0.0.1:1/x' }, 'job', $id1);
    is($rc, 4, 'job with PostgreSQL unreachable exits 4');
    ($rc, undef, $err) = cli({ %env, REDIS_URL => 'redis://127.0.0.1:1' }, 'job', $id1);
    is($rc, 4, 'job with Redis unreachable exits 4');
}

is(stop_pid($spid), 0, 'our sender stops cleanly on TERM');
ok(no_secrets_leaked(), 'no cli output contained a secret');

psql(q{DELETE FROM "PushSubscription" WHERE "userId" LIKE 't30-%'});
redis_clear($P);

done_testing();
