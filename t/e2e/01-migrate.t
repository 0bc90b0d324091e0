#!/usr/bin/perl
# webpush-cli migrate against the stack's PostgreSQL (dev.env sourced):
# idempotence, exact schema names, --status, exit codes, concurrency,
# checksum drift, a failing file, and adoption of a Prisma-made database.
# Each case works in a scratch database of its own, dropped at the end.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use File::Copy qw(copy);
use IO::Socket::INET;

plan skip_all => 'DATABASE_URL not set (source the stack dev.env)'
    unless $ENV{DATABASE_URL};

my $top   = $ENV{WEBPUSH_TOP}   || '.';
my $build = $ENV{WEBPUSH_BUILD} || "$top/build";
my $cli   = "$build/webpush-cli";
my $sql   = "$top/sql";
my $tmp   = tempdir(CLEANUP => 1);
my @scratch;

# ---- helpers ------------------------------------------------------------

# Run the cli with %$env overriding the environment (undef deletes);
# returns (exit code, stdout, stderr).
sub cli {
    my ($env, @args) = @_;
    local %ENV = %ENV;
    for my $k (keys %$env) {
        if (defined $env->{$k}) { $ENV{$k} = $env->{$k} } else { delete $ENV{$k} }
    }
    my ($o, $e) = ("$tmp/out", "$tmp/err");
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open(STDOUT, '>', $o) or die; open(STDERR, '>', $e) or die;
        exec($cli, @args) or die "exec $cli: $!";
    }
    waitpid($pid, 0);
    my $rc = $? >> 8;
    return ($rc, slurp($o), slurp($e));
}

sub slurp {
    open(my $f, '<', $_[0]) or return '';
    local $/;
    my $t = <$f>;
    return defined $t ? $t : '';
}

sub url_for {
    my ($db) = @_;
    (my $u = $ENV{DATABASE_URL}) =~ s{/[^/?]*(\?|$)}{/$db$1};
    return $u;
}

# psql -At on url; dies on SQL errors.  Returns stdout.
sub psql {
    my ($url, $sqltext) = @_;
    local $ENV{PGOPTIONS} = '-c client_min_messages=warning';
    open(my $p, '-|', 'psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1',
         '-d', $url, '-c', $sqltext) or die "psql: $!";
    local $/;
    my $out = <$p>;
    close($p) or die "psql failed ($?) on: $sqltext\n";
    return defined $out ? $out : '';
}

# True when sqltext runs without error (its output and errors discarded).
sub psql_ok {
    my ($url, $sqltext) = @_;
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open(STDOUT, '>', '/dev/null'); open(STDERR, '>', '/dev/null');
        exec('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $url,
             '-c', $sqltext) or exit 127;
    }
    waitpid($pid, 0);
    return $? == 0;
}

# A fresh database; returns its URL.
sub scratch_db {
    my ($tag) = @_;
    my $name = "wp_t_${tag}_$$";
    psql($ENV{DATABASE_URL}, qq{DROP DATABASE IF EXISTS "$name"});
    psql($ENV{DATABASE_URL}, qq{CREATE DATABASE "$name"});
    push @scratch, $name;
    return url_for($name);
}

sub migrate {
    my ($url, @args) = @_;
    return cli({ DATABASE_URL => $url, WEBPUSH_SQL_DIR => undef },
               'migrate', '--dir', $sql, @args);
}

END {
    for my $db (@scratch) {
        eval { psql($ENV{DATABASE_URL}, qq{DROP DATABASE IF EXISTS "$db"}) };
    }
}

my @files = sort grep { /^\d+_.*\.sql$/ } map { s{.*/}{}r } glob("$sql/*.sql");
ok(-x $cli, "$cli is built") or BAIL_OUT("no $cli");
ok(scalar(@files) >= 1 && $files[0] eq '001_init.sql', 'sql/ starts with 001_init.sql');

# ---- migrate twice ------------------------------------------------------

{
    my $url = scratch_db('twice');

    my ($rc, $out, $err) = migrate($url, '--status');
    is($rc, 0, '--status on an empty database: exit 0') or diag $err;
    like($out, qr/^pending\s+001_init\.sql/m, '--status lists 001 as pending');
    like($out, qr/^0 applied, ${\ scalar @files} pending$/m, '--status counts');
    is(psql($url, "SELECT to_regclass('webpush_schema_migrations') IS NULL"),
       "t\n", '--status creates nothing');

    ($rc, $out, $err) = migrate($url);
    is($rc, 0, 'first migrate: exit 0') or diag $err;
    like($out, qr/^applied $_ /m, "first migrate applies $_") for @files;
    is($err, '', 'first migrate: nothing on stderr');

    ($rc, $out, $err) = migrate($url);
    is($rc, 0, 'second migrate: exit 0') or diag $err;
    unlike($out, qr/^applied /m, 'second migrate applies nothing');
    like($out, qr/0 applied now, ${\ scalar @files} already applied/,
         'second migrate says so');

    ($rc, $out, $err) = migrate($url, '--status');
    is($rc, 0, '--status: exit 0');
    like($out, qr/^applied\s+$_\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/m,
         "--status: $_ applied, with its time") for @files;
    like($out, qr/^${\ scalar @files} applied, 0 pending$/m, '--status: none pending');
    my $pid = $$;
    like($out, qr/^database: postgres\@127\.0\.0\.1:\d+\/wp_t_twice_$pid$/m,
         '--status names the database');

    is(psql($url, 'SELECT version || \' \' || length(checksum)'
                . ' FROM webpush_schema_migrations ORDER BY version'),
       join('', map { /^(\d+)_/; "$1 64\n" } @files),
       'webpush_schema_migrations: one row per file, sha256 checksums');

    # ---- exact schema ---------------------------------------------------

    my %want = (
        PushSubscription => [
            'id|text|NO|(gen_random_uuid())::text', 'userId|text|NO|',
            'endpoint|text|NO|', 'p256dh|text|NO|', 'auth|text|NO|',
            'ua|text|YES|', 'enabled|boolean|NO|true',
            'createdAt|timestamp without time zone|NO|CURRENT_TIMESTAMP',
            'lastSeenAt|timestamp without time zone|NO|CURRENT_TIMESTAMP' ],
        NotificationLog => [
            'id|text|NO|(gen_random_uuid())::text', 'type|text|NO|',
            'eventId|text|YES|', 'userId|text|YES|',
            'subscriptionCount|integer|NO|0', 'sentCount|integer|NO|0',
            'failedCount|integer|NO|0', 'payload|jsonb|NO|',
            'metadata|jsonb|YES|',
            'createdAt|timestamp without time zone|NO|CURRENT_TIMESTAMP' ],
        PushError => [
            'id|text|NO|(gen_random_uuid())::text', 'endpoint|text|NO|',
            'error|text|NO|', 'statusCode|integer|YES|', 'jobId|text|YES|',
            'eventId|text|YES|',
            'createdAt|timestamp without time zone|NO|CURRENT_TIMESTAMP' ],
    );
    for my $t (sort keys %want) {
        my $cols = psql($url, qq{
            SELECT column_name, data_type, is_nullable,
                   COALESCE(column_default, '')
              FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name = '$t'
             ORDER BY ordinal_position});
        is($cols, join('', map { "$_\n" } @{ $want{$t} }),
           qq{"$t": columns, types, nullability, defaults});
    }
    is(psql($url, q{SELECT numeric_precision IS NULL, datetime_precision
                      FROM information_schema.columns
                     WHERE table_name = 'PushSubscription'
                       AND column_name = 'createdAt'}),
       "t|3\n", 'timestamps are TIMESTAMP(3)');

    my $idx = psql($url, q{
        SELECT indexname || ' ' || regexp_replace(indexdef,
                                                  ' ON public\.', ' ON ')
          FROM pg_indexes
         WHERE schemaname = 'public'
           AND tablename IN ('PushSubscription', 'NotificationLog', 'PushError')
         ORDER BY indexname});
    is($idx, join('', map { "$_\n" }
        'NotificationLog_createdAt_idx CREATE INDEX "NotificationLog_createdAt_idx" ON "NotificationLog" USING btree ("createdAt")',
        'NotificationLog_eventId_idx CREATE INDEX "NotificationLog_eventId_idx" ON "NotificationLog" USING btree ("eventId")',
        'NotificationLog_pkey CREATE UNIQUE INDEX "NotificationLog_pkey" ON "NotificationLog" USING btree (id)',
        'PushError_createdAt_idx CREATE INDEX "PushError_createdAt_idx" ON "PushError" USING btree ("createdAt")',
        'PushError_endpoint_idx CREATE INDEX "PushError_endpoint_idx" ON "PushError" USING btree (endpoint)',
        'PushError_pkey CREATE UNIQUE INDEX "PushError_pkey" ON "PushError" USING btree (id)',
        'PushSubscription_endpoint_key CREATE UNIQUE INDEX "PushSubscription_endpoint_key" ON "PushSubscription" USING btree (endpoint)',
        'PushSubscription_pkey CREATE UNIQUE INDEX "PushSubscription_pkey" ON "PushSubscription" USING btree (id)',
        'PushSubscription_userId_enabled_idx CREATE INDEX "PushSubscription_userId_enabled_idx" ON "PushSubscription" USING btree ("userId", enabled)',
    ), 'indexes: exact names and definitions');

    my $id = psql($url, q{INSERT INTO "PushSubscription"
                            ("userId", endpoint, p256dh, auth)
                          VALUES ('u1', 'https://fcm.googleapis.com/x', 'k', 'a')
                          RETURNING id});
    like($id, qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/,
         'an insert without id gets a UUID text id');
    ok(!psql_ok($url, q{INSERT INTO "PushSubscription"
                          ("userId", endpoint, p256dh, auth)
                        VALUES ('u2', 'https://fcm.googleapis.com/x', 'k', 'a')}),
       'endpoint is unique');
    ok(psql_ok($url, q{INSERT INTO "PushSubscription"
                         ("userId", endpoint, p256dh, auth)
                       VALUES ('u2', 'https://fcm.googleapis.com/y', 'k', 'a')}),
       '... another endpoint is fine');
}

# ---- configuration and connection errors ---------------------------------

{
    my ($rc, $out, $err) = cli({ DATABASE_URL => undef }, 'migrate');
    is($rc, 3, 'DATABASE_URL unset: exit 3');
    like($err, qr/DATABASE_URL is not set/, '... with a clear message');

    ($rc, $out, $err) = cli({ DATABASE_URL => '' }, 'migrate', '--status');
    is($rc, 3, 'DATABASE_URL empty: exit 3');

    ($rc, $out, $err) = cli({ DATABASE_URL => 'postgresql://u:hunter2x@127.0.0.1:5432/x?bogus=1' },
                            'migrate', '--dir', $sql);
    is($rc, 3, 'malformed DATABASE_URL: exit 3');
    unlike($err, qr/hunter2x/, '... and the password is not printed');

    # A port that was free a moment ago: nothing listens there.
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0) or die "socket: $!";
    my $port = $s->sockport;
    close($s);
    ($rc, $out, $err) = cli({ DATABASE_URL => "postgresql://postgres:s3cr%40tpw\@127.0.0.1:$port/webpush" },
                            'migrate', '--dir', $sql);
    is($rc, 4, 'unreachable database: exit 4');
    like($err, qr/cannot connect to PostgreSQL .*127\.0\.0\.1.*$port/,
         '... naming host and port');
    unlike($err, qr/s3cr/, '... without the password');

    ($rc, $out, $err) = cli({}, 'migrate', '--dir', "$tmp/nonexistent");
    is($rc, 3, 'missing --dir: exit 3');
    ($rc, $out, $err) = cli({}, 'migrate', '--bogus');
    is($rc, 2, 'unknown option: exit 2');
    like($err, qr/usage: webpush-cli migrate/, '... with usage');
}

# ---- a Prisma-style DATABASE_URL (?schema=..., connection_limit=...) ------

{
    my $url = scratch_db('schema');
    psql($url, 'CREATE SCHEMA "App"');
    my ($rc, $out, $err) = migrate("$url?schema=App&connection_limit=5&pool_timeout=10");
    is($rc, 0, 'a Prisma URL with ?schema=App&connection_limit=5 works') or diag $err;
    is(psql($url, q{SELECT string_agg(table_name, ',' ORDER BY table_name)
                      FROM information_schema.tables
                     WHERE table_schema = 'App'
                       AND table_name IN ('PushSubscription', 'PushError',
                                          'NotificationLog',
                                          'webpush_schema_migrations')}),
       "NotificationLog,PushError,PushSubscription,webpush_schema_migrations\n",
       '... and migrates into that schema');
    is(psql($url, q{SELECT count(*) FROM information_schema.tables
                     WHERE table_schema = 'public'}), "0\n",
       '... leaving public alone');
    ($rc, $out, $err) = migrate("$url?schema=App", '--status');
    like($out, qr/^${\ scalar @files} applied, 0 pending$/m,
         '--status reads that schema');
}

# ---- concurrent migrators ------------------------------------------------

{
    my $url = scratch_db('race');
    local $ENV{DATABASE_URL} = $url;
    my @pids;
    for my $i (1 .. 4) {
        my $pid = fork() // die "fork: $!";
        if ($pid == 0) {
            open(STDOUT, '>', "$tmp/race$i") or die;
            open(STDERR, '>&', \*STDOUT) or die;
            exec($cli, 'migrate', '--dir', $sql) or die;
        }
        push @pids, $pid;
    }
    my @rc = map { waitpid($_, 0); $? >> 8 } @pids;
    is("@rc", '0 0 0 0', '4 concurrent migrators all succeed');
    my $applied = () = join('', map { slurp("$tmp/race$_") } 1 .. 4)
                       =~ /^applied 001_init\.sql/mg;
    is($applied, 1, '... and exactly one applied 001');
}

# ---- checksum drift and a failing migration ------------------------------

{
    my $url = scratch_db('drift');
    my $dir = "$tmp/sql";
    mkdir $dir or die;
    copy("$sql/$_", "$dir/$_") or die for @files;
    local $ENV{DATABASE_URL} = $url;

    my ($rc, $out, $err) = cli({}, 'migrate', '--dir', $dir);
    is($rc, 0, 'migrate a copy of sql/') or diag $err;

    open(my $f, '>>', "$dir/001_init.sql") or die;
    print $f "-- an edited comment\n";
    close $f;
    ($rc, $out, $err) = cli({}, 'migrate', '--dir', $dir);
    is($rc, 0, 'an applied file changed: still exit 0');
    like($err, qr/warning: 001_init\.sql changed since it was applied/,
         '... with a warning');
    unlike($out, qr/^applied /m, '... and it is not re-applied');
    ($rc, $out, $err) = cli({}, 'migrate', '--dir', $dir, '--status');
    like($out, qr/^changed\s+001_init\.sql/m, '--status says changed');

    open($f, '>', "$dir/900_bad.sql") or die;
    print $f "CREATE TABLE wp_t_ok (x int);\n\nSELEC 1;\n";
    close $f;
    ($rc, $out, $err) = cli({}, 'migrate', '--dir', $dir);
    is($rc, 1, 'a failing migration: exit 1');
    like($err, qr/900_bad\.sql: line 3: syntax error/, '... names file and line');
    is(psql($url, q{SELECT to_regclass('wp_t_ok') IS NULL,
                           count(*) FROM webpush_schema_migrations
                     WHERE version = '900'}),
       "t|0\n", '... was rolled back and not recorded');
    ($rc, $out, $err) = cli({}, 'migrate', '--dir', $dir, '--status');
    like($out, qr/^pending\s+900_bad\.sql/m, '... and stays pending');

    unlink "$dir/900_bad.sql";
    open($f, '>', "$dir/900_also_001.sql") or die;
    close $f;
    copy("$dir/900_also_001.sql", "$dir/0900_dup.sql") or die;
    ($rc, $out, $err) = cli({}, 'migrate', '--dir', $dir);
    is($rc, 3, 'two files with one number: exit 3');
    like($err, qr/same number/, '... says so');
}

# ---- a database Prisma already migrated ----------------------------------

{
    my $url = scratch_db('prisma');

    # What `prisma migrate` generates for the seed's schema (no id default).
    psql($url, <<'SQL');
CREATE TABLE "PushSubscription" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "endpoint" TEXT NOT NULL,
    "p256dh" TEXT NOT NULL,
    "auth" TEXT NOT NULL,
    "ua" TEXT,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeenAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PushSubscription_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "NotificationLog" (
    "id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "eventId" TEXT,
    "userId" TEXT,
    "subscriptionCount" INTEGER NOT NULL DEFAULT 0,
    "sentCount" INTEGER NOT NULL DEFAULT 0,
    "failedCount" INTEGER NOT NULL DEFAULT 0,
    "payload" JSONB NOT NULL,
    "metadata" JSONB,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "NotificationLog_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "PushError" (
    "id" TEXT NOT NULL,
    "endpoint" TEXT NOT NULL,
    "error" TEXT NOT NULL,
    "statusCode" INTEGER,
    "jobId" TEXT,
    "eventId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PushError_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "PushSubscription_endpoint_key" ON "PushSubscription"("endpoint");
CREATE INDEX "PushSubscription_userId_enabled_idx" ON "PushSubscription"("userId", "enabled");
CREATE INDEX "NotificationLog_createdAt_idx" ON "NotificationLog"("createdAt");
CREATE INDEX "NotificationLog_eventId_idx" ON "NotificationLog"("eventId");
CREATE INDEX "PushError_endpoint_idx" ON "PushError"("endpoint");
CREATE INDEX "PushError_createdAt_idx" ON "PushError"("createdAt");
CREATE TABLE "_prisma_migrations" (id VARCHAR(36) PRIMARY KEY);
INSERT INTO "PushSubscription" (id, "userId", endpoint, p256dh, auth)
VALUES ('cuid-from-prisma', 'u1', 'https://fcm.googleapis.com/old', 'k', 'a');
SQL

    my ($rc, $out, $err) = migrate($url);
    is($rc, 0, 'migrate onto a Prisma-made database: exit 0') or diag $err;
    like($out, qr/^applied 001_init\.sql/m, '... 001 applied');
    is(psql($url, q{SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'
                     AND tablename IN ('PushSubscription', 'NotificationLog',
                                       'PushError')}),
       "9\n", '... no duplicate indexes');
    is(psql($url, q{SELECT id FROM "PushSubscription"}), "cuid-from-prisma\n",
       '... existing rows kept');
    like(psql($url, q{INSERT INTO "PushError" (endpoint, error)
                      VALUES ('https://x', 'gone') RETURNING id}),
         qr/^[0-9a-f-]{36}$/, '... ids now default to UUID text');
    ($rc, $out, $err) = migrate($url);
    unlike($out, qr/^applied /m, '... and a second run applies nothing');

    # A table of that name but another shape is refused, naming the column.
    my $bad = scratch_db('mismatch');
    psql($bad, q{CREATE TABLE "PushError" (id TEXT PRIMARY KEY,
                                           endpoint TEXT NOT NULL,
                                           error TEXT NOT NULL,
                                           "statusCode" TEXT)});
    ($rc, $out, $err) = migrate($bad);
    is($rc, 1, 'an existing table of another shape: exit 1');
    like($err, qr/"PushError"\."statusCode": want integer, found text/,
         '... naming the mismatched column');
    like($err, qr/"PushError"\."jobId": want text, found no such column/,
         '... and the missing one');
    is(psql($bad, q{SELECT count(*) FROM webpush_schema_migrations}), "0\n",
       '... nothing recorded');
}

done_testing();
