#!/usr/bin/perl
# webpush-cli stats and doctor.  stats shows known subscriptions, queue
# contents, heartbeats and last hour's figures (prefix {t33}:); doctor says
# ok for a healthy system (a private Redis with AOF, a live sender) and
# names the problem and its remedy, with the documented exit code, for
# each broken thing.  Both only read: no key appears, no row changes.
use strict;
use warnings;
use Test::More;
use File::Copy qw(copy);
use FindBin;
require "$FindBin::Bin/30-cli-lib.pl";

our ($cli, $sender, $json, $tmp, $top);

plan skip_all => 'DATABASE_URL/REDIS_PORT not set (source the stack dev.env)'
    unless $ENV{DATABASE_URL} && $ENV{REDIS_PORT} && $ENV{VAPID_PUBLIC_KEY};
plan skip_all => "$cli or $sender not built" unless -x $cli && -x $sender;

my $P = '{t33}:';
my $D = '{t33d}:';
my %env = (WEBPUSH_QUEUE_PREFIX => $P, WEBPUSH_SQL_DIR => "$top/sql");
redis_clear($_) for $P, $D;
psql(q{DELETE FROM "PushSubscription" WHERE "endpoint" LIKE 'https://t33.invalid/%'});

# ---- stats -----------------------------------------------------------------

psql(q{INSERT INTO "PushSubscription" ("userId", "endpoint", "p256dh", "auth", "enabled") VALUES
       ('t33-a', 'https://t33.invalid/1', 'k', 'a', true),
       ('t33-b', 'https://t33.invalid/2', 'k', 'a', true),
       ('t33-c', 'https://t33.invalid/3', 'k', 'a', false)});
psql(q{INSERT INTO "NotificationLog" ("type", "payload", "subscriptionCount", "sentCount", "failedCount") VALUES ('t33', '{}', 3, 2, 1)});
psql(q{INSERT INTO "PushError" ("endpoint", "error", "statusCode") VALUES ('https://t33.invalid/3', 'gone', 410)});

redis('XGROUP', 'CREATE', "${P}jobs", 'senders', '0', 'MKSTREAM');
redis('XADD', "${P}jobs", '*', 'job', '{}') for 1 .. 3;
redis('XREADGROUP', 'GROUP', 'senders', 'c33', 'COUNT', 1, 'STREAMS', "${P}jobs", '>');
redis('ZADD', "${P}scheduled", 1, 'a', 2, 'b');
redis('ZADD', "${P}retry", 1, 'x|1|s');
redis('XADD', "${P}dead", '*', 'id', '1-1', 'job', '{}', 'reason', 'r') for 1 .. 4;
redis('HSET', "${P}sender:s33", 'pid', 4242, 'seen', 7, 'jobs', 9);
redis('EXPIRE', "${P}sender:s33", 60);
redis('HSET', "${P}metrics", 'sent', 11);

sub keys_under {
    (my $pat = $_[0]) =~ s/([*?\[\]\\])/\\$1/g;
    return join ',', sort split /\n/, redis_raw('--scan', '--pattern', "$pat*");
}
my $keys_before = keys_under($P);

{
    my ($rc, $out, $err) = cli(\%env, 'stats');
    is($rc, 0, 'stats exits 0') or diag($err);
    like($out, qr/^  enabled\s+\d+$/m, 'subscriptions enabled');
    like($out, qr/^  other key\s+\d+\s+\(enabled, made with another VAPID key: not sent to\)$/m,
         'subscriptions made with another VAPID key');
    like($out, qr/^    t33\.invalid\s+2\s+1$/m, 'per push service: t33.invalid 2 enabled, 1 disabled');
    like($out, qr/^queue \(prefix \Q$P\E\)$/m, 'queue section names the prefix');
    like($out, qr/^  waiting\s+2\b/m, 'waiting 2');
    like($out, qr/^  pending\s+1$/m, 'pending 1');
    like($out, qr/^    c33\s+1 pending, idle \d+ ms$/m, 'pending per consumer');
    like($out, qr/^  scheduled\s+2\b/m, 'scheduled 2');
    like($out, qr/^  retrying\s+1\b/m, 'retrying 1');
    like($out, qr/^  dead\s+4\b/m, 'dead 4');
    like($out, qr/^  s33: .*pid=4242/m, 'live sender from its heartbeat');
    like($out, qr/^\s+sent=11$/m, 'counters from <prefix>metrics');
    like($out, qr/^  jobs\s+[1-9]\d* finished: \d+ subscriptions, \d+ sent, \d+ failed$/m, 'last hour\'s jobs');
    like($out, qr/^    410\s+[1-9]\d*$/m, 'last hour\'s failures by status');
    is(keys_under($P), $keys_before, 'stats changed no key');

    ($rc, undef, $err) = cli({ %env, WEBPUSH_QUEUE_PREFIX => '{t33-none}:' }, 'stats');
    is($rc, 0, 'stats of an unused prefix exits 0');
    is(keys_under('{t33-none}:'), '', '... and creates nothing there');

    ($rc, undef, $err) = cli({ %env, DATABASE_URL => undef }, 'stats');
    is($rc, 3, 'stats without DATABASE_URL -> exit 3');
    ($rc, undef, $err) = cli({ %env, DATABASE_URL => 'postgresql://u@127.0.0.1:1/x' }, 'stats');
    is($rc, 4, 'stats with PostgreSQL unreachable -> exit 4');
    ($rc, undef, $err) = cli({ %env, REDIS_URL => 'redis://127.0.0.1:1' }, 'stats');
    is($rc, 4, 'stats with Redis unreachable -> exit 4');
    like($err, qr/Redis at 127\.0\.0\.1:1 \(REDIS_URL\) unreachable/, '... says which');
    ($rc) = cli(\%env, 'stats', '--verbose');
    is($rc, 2, 'stats with an unknown option -> exit 2');
}

# ---- doctor: healthy -----------------------------------------------------------

my $rport = start_redis('--appendonly', 'yes');
my %denv = (%env, WEBPUSH_QUEUE_PREFIX => $D,
            REDIS_URL => "redis://127.0.0.1:$rport");
my $spid = start_sender($D, 1, 't33-doc', redis_port => $rport,
                        env => { REDIS_URL => "redis://127.0.0.1:$rport" });
{
    my ($rc, $out, $err) = cli(\%denv, 'doctor');
    is($rc, 0, 'doctor on a healthy system exits 0') or diag($out . $err);
    for my $check (qw(env database schema redis subject vapid clock senders queue)) {
        like($out, qr/^ok    \Q$check\E /m, "doctor: ok $check");
    }
    unlike($out, qr/^(warn|FAIL)/m, 'no warn or FAIL line');
    like($out, qr/^ok    senders   1 sender alive$/m, 'counts the live sender');
}

# ---- doctor: each problem, its remedy and exit code ---------------------------

sub doctor_says {
    my ($name, $envx, $want_rc, $re, @args) = @_;
    my ($rc, $out, $err) = cli({ %denv, %$envx }, 'doctor', @args);
    is($rc, $want_rc, "doctor: $name -> exit $want_rc") or diag($out . $err);
    like($out, $re, "doctor: $name: says so");
    return $out;
}

{
    my $out = doctor_says('subject Apple refuses', { VAPID_SUBJECT => 'mailto:ops@localhost' },
                          3, qr/^FAIL  subject .*\n\s+-> use mailto:/m);
    my (undef, $keys) = cli({}, 'generate-vapid-keys', '--json');
    my $other = eval { $json->decode($keys) } || {};
    doctor_says('private key of another pair', { VAPID_PRIVATE_KEY => $other->{privateKey} },
                3, qr/^FAIL  vapid .*\n\s+-> make a pair with: webpush-cli generate-vapid-keys/m);
    doctor_says('VAPID keys missing', { VAPID_PUBLIC_KEY => undef },
                3, qr/^FAIL  vapid .*VAPID_PUBLIC_KEY/m);
    doctor_says('DATABASE_URL unset', { DATABASE_URL => undef },
                3, qr/^FAIL  database  DATABASE_URL is not set.*\n\s+-> set DATABASE_URL=/m);
    doctor_says('PostgreSQL unreachable', { DATABASE_URL => 'postgresql://u@127.0.0.1:1/x' },
                4, qr/^FAIL  database .*\n\s+-> is PostgreSQL running there/m);
    doctor_says('Redis unreachable', { REDIS_URL => 'redis://127.0.0.1:1' },
                4, qr/^FAIL  redis     Redis at 127\.0\.0\.1:1 unreachable\n\s+-> is Redis running there/m);
    doctor_says('Redis without AOF', { REDIS_URL => "redis://127.0.0.1:$ENV{REDIS_PORT}" },
                1, qr/^warn  redis     appendonly is off.*\n\s+-> set appendonly yes/m);
    doctor_says('no sender under the prefix', { WEBPUSH_QUEUE_PREFIX => '{t33-none}:' },
                1, qr/^FAIL  senders   no live sender under prefix \{t33-none\}:.*\n\s+-> start webpush-sender/m);
    doctor_says('bad allow-list', { WEBPUSH_ALLOWED_ENDPOINTS => 'https://x/' },
                3, qr/^FAIL  env .*\n\s+-> fix WEBPUSH_ALLOWED_ENDPOINTS/m);
    doctor_says('unreachable API', {}, 4,
                qr{^FAIL  api       https://127\.0\.0\.1:1/api/push/health: .*\n\s+-> is nginx running}m,
                '--api', 'https://127.0.0.1:1/');

    # a pending migration: reported, not applied
    mkdir "$tmp/sql";
    copy($_, "$tmp/sql/") for glob("$top/sql/*.sql");
    open(my $f, '>', "$tmp/sql/999_t33.sql") or die;
    print $f "CREATE TABLE t33_never (x int);\n";
    close $f;
    doctor_says('a pending migration', { WEBPUSH_SQL_DIR => "$tmp/sql" },
                1, qr/^FAIL  schema    1 of \d+ migrations pending\n\s+-> run: webpush-cli migrate$/m);
    is(psql(q{SELECT to_regclass('t33_never') IS NULL}), 't', '... and did not apply it');

    # queue lag: an entry waiting for two minutes, and dead letters
    my $ms = int(time() * 1000) - 120_000;
    system("redis-cli -p $rport XADD '${D}jobs' $ms-0 job '{}' >/dev/null");
    system("redis-cli -p $rport XADD '${D}dead' '*' id 1-1 job '{}' reason r >/dev/null");
    # the live sender would take the entry; stop it first
    is(stop_pid($spid), 0, 'our sender stops cleanly');
    system("redis-cli -p $rport XADD '${D}jobs' $ms-1 job '{}' >/dev/null");
    my $out2 = doctor_says('old waiting job, dead letters, no sender', {}, 1,
                           qr/^warn  queue     oldest waiting job queued 1[12]\d s ago\n\s+-> senders are behind/m);
    like($out2, qr/^warn  dead      \d+ dead-lettered entr(y|ies)\n\s+-> inspect them: webpush-cli dead list/m,
         'doctor: dead letters are a warning with the command to inspect them');
    # jobs in a stream that has no consumer group yet
    system("redis-cli -p $rport XADD '{t33g}:jobs' '*' job '{}' >/dev/null");
    doctor_says('jobs but no consumer group', { WEBPUSH_QUEUE_PREFIX => '{t33g}:' }, 1,
                qr/^FAIL  queue     1 job in \{t33g\}:jobs but no consumer group "senders".*\n\s+-> create the group from the start of the stream: redis-cli XGROUP CREATE '\{t33g\}:jobs' senders 0$/m);
    my ($rc) = cli(\%denv, 'doctor', '--bogus');
    is($rc, 2, 'doctor with an unknown option -> exit 2');
}

# ---- doctor --api against the stack's nginx, when it serves health -------------

SKIP: {
    skip 'no API_URL in the stack', 2 unless $ENV{API_URL} && $ENV{API_CA_FILE};
    my $code = `curl -s -o /dev/null -w '%{http_code}' --cacert '$ENV{API_CA_FILE}' '$ENV{API_URL}/api/push/health'`;
    skip "the module's health route answers $code here", 2 unless $code =~ /^(200|503)$/;
    my ($rc, $out) = cli({ %env, WEBPUSH_CA_FILE => undef }, 'doctor', '--api', $ENV{API_URL});
    like($out, qr/^(ok  |FAIL)  api       \Q$ENV{API_URL}\E\/api\/push\/health: $code/m,
         'doctor --api reports the health route\'s answer (CA from API_CA_FILE)');
    like($out, qr/^ok    api       the module serves the same VAPID public key$/m,
         'doctor --api: the module serves our VAPID public key');
}

ok(no_secrets_leaked(), 'no output contained a secret');
psql(q{DELETE FROM "PushSubscription" WHERE "endpoint" LIKE 'https://t33.invalid/%'});
psql(q{DELETE FROM "NotificationLog" WHERE "type" = 't33'});
psql(q{DELETE FROM "PushError" WHERE "endpoint" LIKE 'https://t33.invalid/%'});
redis_clear($_) for $P, $D;
done_testing();
