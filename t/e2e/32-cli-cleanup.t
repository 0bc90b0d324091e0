#!/usr/bin/perl
# webpush-cli cleanup: old disabled subscriptions (with their topics), old
# subscriptions flagged as made with another VAPID key and not seen since, old
# NotificationLog and PushError rows go; recent ones and enabled
# subscriptions stay; --dry-run counts and deletes nothing; --days and the
# per-kind overrides; small batches; stream trimming never cuts a waiting
# or pending entry; and cleanup looped while a real sender fans a job out
# (prefix {t32}:) loses nothing that is not old.
use strict;
use warnings;
use Test::More;
use FindBin;
require "$FindBin::Bin/30-cli-lib.pl";

our ($cli, $sender, $json);

plan skip_all => 'DATABASE_URL/REDIS_PORT not set (source the stack dev.env)'
    unless $ENV{DATABASE_URL} && $ENV{REDIS_PORT};
plan skip_all => "$cli or $sender not built" unless -x $cli && -x $sender;
plan skip_all => 'python3-h2 / python3-cryptography missing'
    unless mock_usable();

my $P = '{t32}:';
my $S = '{t32s}:';
my %env = (WEBPUSH_QUEUE_PREFIX => $P);
redis_clear($_) for $P, $S;

sub clean_rows {
    psql(q{DELETE FROM "PushSubscription" WHERE "userId" LIKE 't32-%'});
    psql(q{DELETE FROM "NotificationLog" WHERE "type" LIKE 't32%'});
    psql(q{DELETE FROM "PushError" WHERE "endpoint" LIKE 'https://t32.invalid/%'});
}
clean_rows();

# Old and recent rows of every kind, marked t32.
sub seed {
    psql(q{DELETE FROM "PushSubscription" WHERE "endpoint" LIKE 'https://t32.invalid/%'});
    psql(q{DELETE FROM "NotificationLog" WHERE "type" IN ('t32-old', 't32-new')});
    psql(q{DELETE FROM "PushError" WHERE "endpoint" LIKE 'https://t32.invalid/%'});
    psql(q{INSERT INTO "PushSubscription" ("userId", "endpoint", "p256dh", "auth", "enabled", "lastSeenAt") VALUES
           ('t32-old-disabled', 'https://t32.invalid/1', 'k', 'a', false, LOCALTIMESTAMP - interval '40 days'),
           ('t32-recent-disabled', 'https://t32.invalid/2', 'k', 'a', false, LOCALTIMESTAMP - interval '5 days'),
           ('t32-old-enabled', 'https://t32.invalid/3', 'k', 'a', true, LOCALTIMESTAMP - interval '40 days')});
    psql(q{INSERT INTO "PushSubscriptionTopic" ("subscriptionId", "topic")
           SELECT "id", 't32:old' FROM "PushSubscription" WHERE "userId" = 't32-old-disabled'});
    psql(q{INSERT INTO "NotificationLog" ("type", "payload", "createdAt") VALUES
           ('t32-old', '{}', LOCALTIMESTAMP - interval '40 days'),
           ('t32-old', '{}', LOCALTIMESTAMP - interval '41 days'),
           ('t32-old', '{}', LOCALTIMESTAMP - interval '42 days'),
           ('t32-new', '{}', LOCALTIMESTAMP - interval '1 day')});
    psql(q{INSERT INTO "PushError" ("endpoint", "error", "createdAt") VALUES
           ('https://t32.invalid/old', 'x', LOCALTIMESTAMP - interval '40 days'),
           ('https://t32.invalid/new', 'x', LOCALTIMESTAMP)});
}

sub counts {
    return psql(q{SELECT
        (SELECT count(*) FROM "PushSubscription" WHERE "userId" LIKE 't32-%') || ' ' ||
        (SELECT count(*) FROM "PushSubscriptionTopic" WHERE "topic" = 't32:old') || ' ' ||
        (SELECT count(*) FROM "NotificationLog" WHERE "type" IN ('t32-old', 't32-new')) || ' ' ||
        (SELECT count(*) FROM "PushError" WHERE "endpoint" LIKE 'https://t32.invalid/%')});
}

seed();
is(counts(), '3 1 4 2', 'seeded: 3 subscriptions, 1 topic row, 4 logs, 2 errors');

# ---- refusals change nothing --------------------------------------------------

{
    my ($rc, undef, $err) = cli({ %env, DATABASE_URL => undef }, 'cleanup');
    is($rc, 3, 'cleanup without DATABASE_URL -> exit 3');
    like($err, qr/DATABASE_URL is not set/, '... says so');
    ($rc, undef, $err) = cli({ %env, DATABASE_URL => 'postgresql://u@127.0.0.1:1/x' }, 'cleanup');
    is($rc, 4, 'PostgreSQL unreachable -> exit 4');
    ($rc, undef, $err) = cli({ %env, REDIS_URL => 'redis://127.0.0.1:1' }, 'cleanup');
    is($rc, 4, 'Redis unreachable -> exit 4 (before any delete)');
    for my $bad (['--days', '-1'], ['--days', 'x'], ['--batch', '0'], ['--frobnicate'], ['--days']) {
        ($rc, undef, $err) = cli(\%env, 'cleanup', @$bad);
        is($rc, 2, "cleanup @$bad -> exit 2");
    }
    is(counts(), '3 1 4 2', 'nothing deleted by the refused runs');
}

# ---- dry run, cutoffs ---------------------------------------------------------------

{
    my ($rc, $out, $err) = cli(\%env, 'cleanup', '--dry-run');
    is($rc, 0, 'cleanup --dry-run exits 0') or diag($err);
    like($out, qr/^dry run, nothing deleted/m, 'says it is a dry run');
    like($out, qr/^would delete [1-9]\d* disabled subscriptions$/m, 'counts subscriptions');
    like($out, qr/^would delete [3-9]\d* NotificationLog rows$/m, 'counts logs');
    like($out, qr/^would delete [1-9]\d* PushError rows$/m, 'counts errors');
    like($out, qr/^would trim \d+ acknowledged entries of \Q$P\Ejobs older than 30 days$/m,
         'counts stream entries');
    is(counts(), '3 1 4 2', '--dry-run deleted nothing');

    ($rc, $out) = cli(\%env, 'cleanup', '--days', 60);
    is($rc, 0, 'cleanup --days 60 exits 0');
    is(counts(), '3 1 4 2', '... and 40-day-old rows are younger than that');

    ($rc, $out) = cli(\%env, 'cleanup', '--days', 60, '--log-days', 30, '--batch', 1);
    is($rc, 0, 'cleanup --log-days 30 --batch 1 exits 0');
    like($out, qr/^deleted [3-9]\d* NotificationLog rows$/m, '... batch after batch');
    is(counts(), '3 1 1 1', '... logs and errors went, subscriptions stayed');

    ($rc, $out) = cli(\%env, 'cleanup');
    is($rc, 0, 'cleanup (30 days) exits 0');
    like($out, qr/^deleted [1-9]\d* disabled subscriptions$/m, 'deletes the old disabled subscription');
    is(counts(), '2 0 1 1', '... and its topic row; the recent disabled and the old enabled one stay');
    is(psql(q{SELECT string_agg("userId", ',' ORDER BY "userId") FROM "PushSubscription" WHERE "userId" LIKE 't32-%'}),
       't32-old-enabled,t32-recent-disabled', 'exactly the right subscriptions are left');
}

# ---- subscriptions made with another VAPID key --------------------------------------

{
    psql(q{DELETE FROM "PushSubscription" WHERE "userId" LIKE 't32k-%'});
    psql(q{INSERT INTO "PushSubscription" ("userId", "endpoint", "p256dh", "auth", "enabled", "lastSeenAt") VALUES
           ('t32k-old', 'https://t32.invalid/k1', 'k', 'a', true, LOCALTIMESTAMP - interval '40 days'),
           ('t32k-seen', 'https://t32.invalid/k2', 'k', 'a', true, LOCALTIMESTAMP - interval '2 days'),
           ('t32k-recent', 'https://t32.invalid/k3', 'k', 'a', true, LOCALTIMESTAMP - interval '40 days'),
           ('t32k-unflagged', 'https://t32.invalid/k4', 'k', 'a', true, LOCALTIMESTAMP - interval '40 days')});
    psql(q{INSERT INTO "PushSubscriptionKeyMismatch" ("subscriptionId", "vapidKey", "reason", "createdAt")
           SELECT "id", 'BOld', 'HTTP 403: VapidPkHashMismatch',
                  LOCALTIMESTAMP - CASE "userId" WHEN 't32k-recent' THEN interval '3 days'
                                                 ELSE interval '35 days' END
           FROM "PushSubscription" WHERE "userId" IN ('t32k-old', 't32k-seen', 't32k-recent')});
    my $left = sub {
        psql(q{SELECT string_agg("userId", ',' ORDER BY "userId") FROM "PushSubscription" WHERE "userId" LIKE 't32k-%'});
    };

    my ($rc, $out) = cli(\%env, 'cleanup', '--dry-run');
    like($out, qr/^would delete 1 subscriptions made with another VAPID key$/m,
         'dry run counts the one flagged long ago and not seen since');
    ($rc, $out) = cli(\%env, 'cleanup');
    is($rc, 0, 'cleanup exits 0');
    like($out, qr/^deleted 1 subscriptions made with another VAPID key$/m, '... deletes it');
    is($left->(), 't32k-recent,t32k-seen,t32k-unflagged',
       '... flagged recently, seen recently, or never flagged: kept');
    is(psql(q{SELECT count(*) FROM "PushSubscriptionKeyMismatch" k JOIN "PushSubscription" s
              ON s."id" = k."subscriptionId" WHERE s."userId" LIKE 't32k-%'}), 2,
       '... its flag went with it, the others keep theirs');
    psql(q{DELETE FROM "PushSubscription" WHERE "userId" LIKE 't32k-%'});
}

# ---- stream trimming -----------------------------------------------------------------

{
    my $jobs = "${S}jobs";
    redis('XGROUP', 'CREATE', $jobs, 'senders', '0', 'MKSTREAM');
    redis('XADD', $jobs, '1000-1', 'job', 'acked');
    redis('XADD', $jobs, '1000-2', 'job', 'pending');
    redis('XADD', $jobs, '1000-3', 'job', 'delivered-acked');
    redis('XADD', $jobs, '1000-4', 'job', 'waiting');
    redis('XREADGROUP', 'GROUP', 'senders', 'c1', 'COUNT', 3, 'STREAMS', $jobs, '>');
    redis('XACK', $jobs, 'senders', '1000-1', '1000-3');
    my $recent = redis_raw('XADD', $jobs, '*', 'job', 'recent');

    my %e = (WEBPUSH_QUEUE_PREFIX => $S);
    my ($rc, $out) = cli(\%e, 'cleanup', '--dry-run');
    like($out, qr/^would trim 1 acknowledged entries/m,
         'dry run: only the acked entry before the oldest pending one');
    is(redis('XLEN', $jobs), '(integer) 5', '... and trims nothing');

    ($rc, $out) = cli(\%e, 'cleanup');
    is($rc, 0, 'cleanup trims the stream');
    like($out, qr/^trimmed 1 acknowledged entries/m, '... one entry');
    my $left = redis_raw('XRANGE', $jobs, '-', '+');
    unlike($left, qr/^acked$/m, 'the acked old entry is gone');
    like($left, qr/^pending$/m, 'the pending entry stays');
    like($left, qr/^delivered-acked$/m, 'an acked entry after a pending one stays (MINID)');
    like($left, qr/^waiting$/m, 'the waiting (never delivered) entry stays');
    like($left, qr/^recent$/m, 'the recent entry stays');

    redis('XACK', $jobs, 'senders', '1000-2');
    ($rc, $out) = cli(\%e, 'cleanup');
    like($out, qr/^trimmed 2 acknowledged entries/m,
         'once acked, the old entries up to the last delivered go');
    $left = redis_raw('XRANGE', $jobs, '-', '+');
    like($left, qr/^waiting$/m, 'the waiting entry still stays');

    redis('DEL', $jobs);
    redis('XADD', $jobs, '1000-1', 'job', 'no group yet');
    ($rc, $out) = cli(\%e, 'cleanup');
    like($out, qr/^trimmed 0 /m, 'a stream without a group: nothing is trimmed');
}

# ---- concurrently with a sender --------------------------------------------

{
    my $port = start_mock();
    my @ids = add_subscriptions($port, 60, 't32-c', 't32:all');
    # five of them are gone: the sender disables them (recent: kept)
    for my $id (@ids[0 .. 4]) {
        mock_api($port, 'PUT', "/_mock/subscriptions/$id/behaviour", '{"status":410}');
    }
    seed();
    local $ENV{WEBPUSH_PAGE_SIZE} = 7;
    my $spid = start_sender($P, $port, 't32-a');

    my ($rc, $out, $err) = cli(\%env, 'send', '--topic', 't32:all', '--type', 't32-run',
                               '--title', 'during cleanup');
    is($rc, 0, 'a 60-subscription topic job is queued');
    my ($id) = $out =~ /^([0-9a-f-]{36})$/m;

    my $runs = 0;
    my $fails = 0;
    while ($runs < 40) {
        my ($crc) = cli(\%env, 'cleanup', '--batch', 2);
        $fails++ if $crc != 0;
        $runs++;
        last if $runs >= 3 && (cli(\%env, 'job', $id))[1] =~ /state:\s+finished/;
    }
    is($fails, 0, "cleanup ran $runs times during the fan-out, always exit 0");

    ok(wait_for(sub { (cli(\%env, 'job', $id))[1] =~ /state:\s+finished/ }, 60),
       'the job finished');
    my (undef, $jo) = cli(\%env, 'job', $id);
    like($jo, qr/^subscriptions: 60$/m, '... over all 60 subscriptions');
    like($jo, qr/^sent:\s+55$/m, '... 55 sent');
    like($jo, qr/^failed:\s+5$/m, '... 5 failed (410)');
    is(scalar @{ mock_messages($port) }, 55, 'the mock accepted 55 messages');
    is(psql(q{SELECT count(*) FILTER (WHERE NOT "enabled") || ' ' || count(*)
              FROM "PushSubscription" WHERE "userId" LIKE 't32-c%'}), '5 60',
       'the 5 gone subscriptions are disabled, and recent, so cleanup kept them');
    is(psql(qq{SELECT count(*) FROM "NotificationLog" WHERE "id" = '$id'}), 1,
       'the job\'s NotificationLog row is there');
    is(psql(q{SELECT count(*) FROM "PushError" WHERE "statusCode" = 410 AND "endpoint" LIKE 'https://127.0.0.1:%'
              AND "createdAt" > LOCALTIMESTAMP - interval '10 minutes'}) >= 5 ? 1 : 0, 1,
       'its PushError rows are there');
    is(counts(), '62 0 1 1', 'the old seeded rows went, every recent row stayed');
    is(stop_pid($spid), 0, 'the sender stops cleanly');
}

clean_rows();
psql(q{DELETE FROM "PushSubscription" WHERE "userId" LIKE 't32-c%'});
redis_clear($_) for $P, $S;
done_testing();
