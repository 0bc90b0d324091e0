#!/usr/bin/perl
# The backup and restore commands of docs/operations.md, run exactly as the
# document shows them (each is checked to appear there verbatim) against
# the test stack: pg_dump of the tables, pg_restore into a scratch database
# (same row counts, migrations recorded), and a Redis RDB snapshot
# (BGSAVE) loaded by a scratch redis-server that still has a queued job.
# Also: the metrics list matches what the metrics route serves (names and
# types), and each documented health route answers.
use strict;
use warnings;
use Test::More;
use FindBin;
use File::Spec;
require "$FindBin::Bin/30-cli-lib.pl";

our ($cli, $build, $tmp);

plan skip_all => 'DATABASE_URL/REDIS_URL not set (source the stack dev.env)'
    unless $ENV{DATABASE_URL} && $ENV{REDIS_URL} && $ENV{REDIS_PORT};
plan skip_all => "$cli not built" unless -x $cli;
for my $tool (qw(pg_dump pg_restore psql redis-cli redis-server)) {
    plan skip_all => "$tool missing"
        unless grep { -x "$_/$tool" } split /:/, $ENV{PATH};
}

my $doc = slurp("$FindBin::Bin/../../docs/operations.md");

# The documented commands, word for word.
my $PG_DUMP = q{pg_dump -Fc --no-owner -d "$DATABASE_URL" -f webpush.dump}
    . q{ -t '"PushSubscription"' -t '"PushSubscriptionTopic"'}
    . q{ -t '"PushSubscriptionKeyMismatch"'}
    . q{ -t '"NotificationLog"' -t '"PushError"' -t webpush_schema_migrations};
my $PG_RESTORE = q{pg_restore --no-owner --exit-on-error -d "$RESTORE_URL" webpush.dump};
my $MIGRATE_STATUS = q{DATABASE_URL="$RESTORE_URL" webpush-cli migrate --status};
my $BGSAVE = q{redis-cli -u "$REDIS_URL" BGSAVE};
my $LASTSAVE = q{redis-cli -u "$REDIS_URL" INFO persistence};
my $DIR = q{redis-cli -u "$REDIS_URL" CONFIG GET dir};
my $AOF = q{redis-cli -u "$REDIS_URL" CONFIG GET appendonly};

# pg_dump's line is wrapped in the document: compare without the breaks.
(my $flat = $doc) =~ s/ *\\\n\s*/ /g;
for my $c ($PG_DUMP, $PG_RESTORE, $MIGRATE_STATUS, $BGSAVE, $LASTSAVE,
           $DIR, $AOF) {
    ok(index($flat, $c) >= 0, "docs/operations.md shows: $c");
}

# The shell runs them in a scratch directory, webpush-cli on PATH.
my $work = "$tmp/ops";
mkdir $work or die "$work: $!";
sub sh {
    my ($cmd, $env) = @_;
    my $bin = File::Spec->rel2abs($build);
    return run_env({ PATH => "$bin:$ENV{PATH}", %{ $env || {} } },
                   ['sh', '-c', "cd '$work' && $cmd"]);
}

# --- PostgreSQL ---------------------------------------------------------

(my $restore_url = $ENV{DATABASE_URL}) =~ s{/([^/?]+)(\?|$)}{/t51_restore$2}
    or die "cannot derive a scratch database URL";
psql('DROP DATABASE IF EXISTS t51_restore');
psql('CREATE DATABASE t51_restore');
END { eval { psql('DROP DATABASE IF EXISTS t51_restore') } }

psql(q{DELETE FROM "PushSubscription" WHERE "userId" LIKE 't51-%'});
psql(q{DELETE FROM "NotificationLog" WHERE "type" = 't51'});
psql(q{DELETE FROM "PushError" WHERE "endpoint" LIKE 'https://t51.invalid/%'});
psql(q{INSERT INTO "PushSubscription" ("userId", "endpoint", "p256dh", "auth")
       SELECT 't51-' || i, 'https://t51.invalid/' || i, 'k', 'a'
       FROM generate_series(1, 25) i});
psql(q{INSERT INTO "PushSubscriptionTopic" ("subscriptionId", "topic")
       SELECT "id", 't51:x' FROM "PushSubscription" WHERE "userId" LIKE 't51-%'});
psql(q{INSERT INTO "PushSubscriptionKeyMismatch" ("subscriptionId", "vapidKey", "reason")
       SELECT "id", 'BOld', 't51 mismatch' FROM "PushSubscription"
       WHERE "userId" IN ('t51-1', 't51-2', 't51-3')});
psql(q{INSERT INTO "NotificationLog" ("type", "payload") VALUES ('t51', '{}'), ('t51', '{}')});
psql(q{INSERT INTO "PushError" ("endpoint", "error") VALUES ('https://t51.invalid/1', 'x')});

my %q = (
    'PushSubscription' => q{SELECT count(*) FROM "PushSubscription" WHERE "userId" LIKE 't51-%'},
    'PushSubscriptionTopic' => q{SELECT count(*) FROM "PushSubscriptionTopic" WHERE "topic" = 't51:x'},
    'PushSubscriptionKeyMismatch' => q{SELECT count(*) FROM "PushSubscriptionKeyMismatch" WHERE "reason" = 't51 mismatch'},
    'NotificationLog' => q{SELECT count(*) FROM "NotificationLog" WHERE "type" = 't51'},
    'PushError' => q{SELECT count(*) FROM "PushError" WHERE "endpoint" LIKE 'https://t51.invalid/%'},
    'webpush_schema_migrations' => q{SELECT count(*) FROM webpush_schema_migrations},
);
my %before = map { $_ => psql($q{$_}) } keys %q;

my ($rc, $out, $err) = sh($PG_DUMP);
is($rc, 0, 'pg_dump of the tables') or diag $err;
ok(-s "$work/webpush.dump", 'the dump file is written');

($rc, $out, $err) = sh($PG_RESTORE, { RESTORE_URL => $restore_url });
is($rc, 0, 'pg_restore into an empty database') or diag $err;

{
    local $ENV{DATABASE_URL} = $restore_url;
    for my $t (sort keys %q) {
        is(psql($q{$t}), $before{$t}, "restored $t: $before{$t} rows");
    }
    # What the migration adds survives: the id default, the topics' cascade.
    psql(q{INSERT INTO "PushSubscription" ("userId", "endpoint", "p256dh", "auth")
           VALUES ('t51-new', 'https://t51.invalid/new', 'k', 'a')});
    like(psql(q{SELECT "id" FROM "PushSubscription" WHERE "userId" = 't51-new'}),
         qr/^[0-9a-f-]{36}$/, 'restored tables keep the generated id default');
    psql(q{DELETE FROM "PushSubscription" WHERE "userId" = 't51-1'});
    is(psql($q{PushSubscriptionTopic}), $before{PushSubscriptionTopic} - 1,
       'restored topics still go with their subscription');
    is(psql($q{PushSubscriptionKeyMismatch}),
       $before{PushSubscriptionKeyMismatch} - 1,
       'restored key-mismatch flags still go with their subscription');
}

($rc, $out, $err) = sh($MIGRATE_STATUS, { RESTORE_URL => $restore_url });
is($rc, 0, 'migrate --status on the restored database') or diag $err;
like($out, qr/001_init/, 'it lists the migrations') or diag $out . $err;
like($out, qr/\b0 pending\b/, 'no migration pending after a restore')
    or diag $out . $err;

psql(q{DELETE FROM "PushSubscription" WHERE "userId" LIKE 't51-%'});
psql(q{DELETE FROM "NotificationLog" WHERE "type" = 't51'});
psql(q{DELETE FROM "PushError" WHERE "endpoint" LIKE 'https://t51.invalid/%'});

# --- Redis --------------------------------------------------------------

my $P = '{t51}:';
redis_clear($P);
($rc, $out, $err) = cli({ WEBPUSH_QUEUE_PREFIX => $P },
                        'send', '--all', '--title', 't51 backup');
is($rc, 0, 'a job waits in the queue (no sender reads this prefix)')
    or diag $err;
chomp(my $job = $out);

($rc, $out, $err) = sh($AOF);
is($rc, 0, 'CONFIG GET appendonly') or diag $err;
like($out, qr/^appendonly\n(yes|no)$/m, 'appendonly is reported');

# A BGSAVE still running from elsewhere: wait it out first.
my $idle = sub {
    my (undef, $o) = sh($LASTSAVE);
    return $o =~ /^rdb_bgsave_in_progress:0\r?$/m ? $o : undef;
};
ok(wait_for($idle, 10), 'no snapshot in progress');
($rc, $out, $err) = sh($BGSAVE);
is($rc, 0, 'BGSAVE') or diag $err;
like($out, qr/Background saving started|already in progress/, 'BGSAVE accepted');
ok(wait_for($idle, 10), 'the snapshot finished');
like($idle->() // '', qr/^rdb_last_bgsave_status:ok\r?$/m, 'and succeeded');

($rc, $out, $err) = sh($DIR);
my ($dir) = $out =~ /^dir\n(.+)$/m;
ok($dir && -s "$dir/dump.rdb", 'CONFIG GET dir shows where dump.rdb is')
    or diag $out;

# Restore: a scratch redis-server started on a copy of the file.
my $rdir = "$tmp/redis";
mkdir $rdir or die;
system('cp', "$dir/dump.rdb", "$rdir/dump.rdb") == 0 or die "cp failed";
my $sock = "$rdir/redis.sock";
my $pid = fork() // die;
if ($pid == 0) {
    open(STDOUT, '>', "$rdir/log") or die;
    open(STDERR, '>&', \*STDOUT) or die;
    exec('redis-server', '--port', '0', '--unixsocket', $sock,
         '--dir', $rdir, '--dbfilename', 'dump.rdb', '--appendonly', 'no',
         '--save', '') or die;
}
$main::kids{$pid} = 'redis-server';
ok(wait_for(sub { -S $sock }, 10), 'scratch redis-server started on the copy')
    or diag slurp("$rdir/log");

($rc, $out, $err) = run_env({}, ['redis-cli', '-s', $sock, 'XLEN', "${P}jobs"]);
is($out + 0, 1, 'the restored Redis has the waiting job');
($rc, $out, $err) = cli({ WEBPUSH_QUEUE_PREFIX => $P,
                          REDIS_URL => "unix://$sock" }, 'job', $job);
is($rc, 0, 'webpush-cli job finds it in the restored Redis') or diag $err;
like($out, qr/queued/, 'still queued') or diag $out;

kill 'TERM', $pid;
waitpid($pid, 0);
delete $main::kids{$pid};
redis_clear($P);

# --- the metrics list and the health routes, against the stack's nginx -----

SKIP: {
    skip 'API_URL/API_CA_FILE not set', 6
        unless $ENV{API_URL} && $ENV{API_CA_FILE};
    my %doc;
    while ($doc =~ /^\| `(webpush_[a-z_]+)` \| (counter|gauge|histogram) \|/mg) {
        $doc{$1} = $2;
    }
    ok(scalar(keys %doc) >= 15, 'docs/operations.md lists the metrics');
    my ($rc, $out) = run_env({}, ['curl', '-sS', '--max-time', '10',
        '--cacert', $ENV{API_CA_FILE}, "$ENV{API_URL}/api/push/metrics"]);
    my %served = $out =~ /^# TYPE (\S+) (\S+)$/mg;
    ok(scalar(keys %served) >= 10, 'the metrics route answers') or diag $out;
    my @missing = grep { ($doc{$_} // '') ne $served{$_} } sort keys %served;
    is("@missing", '', 'every metric served is documented with its type');
    # the two active_subscriptions gauges appear after the first count only
    my @extra = grep { !$served{$_} && !/^webpush_active_subscriptions/ }
                sort keys %doc;
    is("@extra", '', 'every documented metric is served');

    my @routes = $doc =~ m{^\| `(/api/push/health[a-z/]*)` \(`webpush_health}mg;
    is(scalar(@routes), 5, 'docs/operations.md lists the five health routes');
    my $bad = '';
    for my $route (@routes) {
        ($rc, $out) = run_env({}, ['curl', '-sS', '--max-time', '10',
            '-o', '/dev/null', '-w', '%{http_code}',
            '--cacert', $ENV{API_CA_FILE}, "$ENV{API_URL}$route"]);
        $bad .= " $route:$out" unless $out =~ /^(200|503)$/;
    }
    is($bad, '', 'each health route answers 200 or 503');
}

done_testing();
