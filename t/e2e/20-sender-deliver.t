#!/usr/bin/perl
# webpush-sender delivers to every audience kind (userId, userIds, topic,
# all) through the mock push service, which decrypts every body with the
# subscription's key and verifies VAPID: each subscription gets the payload
# exactly once; the NotificationLog row, the metrics hashes and the
# heartbeat (hash + senders set) are right; HTTP/1.1 works too; a stored
# key off the curve fails alone in its encryption batch; a bad
# configuration refuses to start with a clear message.
use strict;
use warnings;
use FindBin;
use Test::More;
BEGIN { require "$FindBin::Bin/20_sender_lib.pm"; SenderTest->import }

need_stack();

my $prefix = '{t20}:';
redis('DEL', map { "$prefix$_" } qw(jobs dead retry scheduled metrics
      metrics:latency senders finish));

my $port = start_mock('m20');
my $p1   = start_mock('m20h1', '--http1-only');
my %env  = (WEBPUSH_QUEUE_PREFIX => $prefix,
            WEBPUSH_ALLOWED_ENDPOINTS => "127.0.0.1:$port,127.0.0.1:$p1");

my $snd = start_sender('t20a', %env);

# The engine in use is the one asked for (util/test-all.sh runs this file
# on both): its name is in the "started" line.
{
    my $want = $ENV{WEBPUSH_HTTP2_CLIENT} // 'native';
    my $line = wait_for(sub { (grep { /"msg":"started"/ }
                                    split /\n/, slurp($snd->{log}))[0] }, 10);
    my $got = $line ? eval { $JSON->decode($line)->{client} } : undef;
    is($got, $want, "the sender started on its $want HTTP client");
}

my $run = uid();
my $payload = { title => "Concert moved \x{2713}", body => 'Now at 21:00' };

# ---- userId ---------------------------------------------------------------
{
    my @subs = subscribe_many($port, 2);
    add_subs(\@subs, "u-$run");
    my $id = enqueue($prefix, job_json(to => { userId => "u-$run" },
                                       payload => $payload, eventId => 'e1',
                                       urgency => 'high', topic => 'abcd'));
    my $log = wait_log($id);
    ok($log, 'userId: NotificationLog row written');
    is($log->{subscriptionCount}, 2, '... subscriptionCount 2');
    is($log->{sentCount}, 2, '... sentCount 2');
    is($log->{failedCount}, 0, '... failedCount 0');
    is($log->{userId}, "u-$run", '... userId recorded');
    is($log->{eventId}, 'e1', '... eventId recorded');
    is($log->{payload}{body}, 'Now at 21:00', '... payload recorded');
    is($log->{metadata}{jobId}, $id, '... metadata.jobId');
    ok(defined $log->{metadata}{durationMs}, '... metadata has timings');
    is($log->{metadata}{expired}, JSON::PP::false, '... not expired');
    for my $s (@subs) {
        my $m = mock_messages($port, $s->[1]);
        is(scalar @$m, 1, "userId: sub $s->[1] got exactly one message");
        is($JSON->decode($m->[0]{payload_b64} ? do {
               my $b = $m->[0]{payload_b64};
               $b =~ tr/-_/+\//;
               require MIME::Base64;
               MIME::Base64::decode_base64($b);
           } : '{}')->{title}, $payload->{title},
           '... decrypted payload matches');
        is($m->[0]{headers}{urgency}, 'high', '... Urgency header');
        is($m->[0]{headers}{topic}, 'abcd', '... Topic header');
        ok($m->[0]{headers}{ttl} > 3500 && $m->[0]{headers}{ttl} <= 3600,
           '... TTL header is what is left of the TTL');
        is($m->[0]{vapid}{k}, $ENV{VAPID_PUBLIC_KEY}, '... VAPID verified');
        is($m->[0]{protocol}, 'h2', '... over HTTP/2');
    }
}

# ---- userIds, topic, HTTP/1.1 ---------------------------------------------
{
    my @a = subscribe_many($port, 2);
    my @b = subscribe_many($port, 1);
    my @c = subscribe_many($p1, 2);
    add_subs(\@a, "ua-$run");
    add_subs(\@b, "ub-$run");
    add_subs(\@c, "uc-$run", "topic-$run");
    my @other = subscribe_many($port, 1);
    add_subs(\@other, "ux-$run");

    my $j1 = enqueue($prefix, job_json(to => { userIds => ["ua-$run",
                                                         "ub-$run"] }));
    my $j2 = enqueue($prefix, job_json(to => { topic => "topic-$run" },
                                       payload => $payload,
                                       urgency => 'low', topic => 'wxyz'));
    my $l1 = wait_log($j1);
    my $l2 = wait_log($j2);
    is($l1 && $l1->{sentCount}, 3, 'userIds: 3 sent');
    is($l1 && $l1->{userId}, undef, '... no single userId');
    is($l2 && $l2->{sentCount}, 2, 'topic: 2 sent');
    my $n = msgs_by_sub($port);
    is(scalar(grep { ($n->{$_->[1]} // 0) == 1 } @a, @b), 3,
       'userIds: each subscription exactly once');
    is($n->{ $other[0][1] } // 0, 0, '... a user not targeted got nothing');
    my $n1 = msgs_by_sub($p1);
    is(scalar(grep { ($n1->{$_->[1]} // 0) == 1 } @c), 2,
       'topic over HTTP/1.1: each subscription exactly once');
    my $m = mock_messages($p1, $c[0][1]);
    is($m->[0]{protocol}, 'http/1.1', '... over HTTP/1.1');
    is($m->[0]{headers}{urgency}, 'low', '... Urgency header');
    is($m->[0]{headers}{topic}, 'wxyz', '... Topic header');
    ok($m->[0]{headers}{ttl} > 3500 && $m->[0]{headers}{ttl} <= 3600,
       '... TTL header is what is left of the TTL');
    is($m->[0]{vapid}{k}, $ENV{VAPID_PUBLIC_KEY}, '... VAPID verified');
    my $b = $m->[0]{payload_b64} // '';
    $b =~ tr/-_/+\//;
    require MIME::Base64;
    is(eval { $JSON->decode(MIME::Base64::decode_base64($b))->{title} },
       $payload->{title}, '... decrypted payload matches');
}

# ---- all: every enabled subscription --------------------------------------
{
    my @d = subscribe_many($port, 2);
    my @ids = add_subs(\@d, "ud-$run");
    psql(qq{UPDATE "PushSubscription" SET enabled = false WHERE id = '$ids[1]'});
    my $before = msgs_by_sub($port);
    # made with another VAPID key (t/e2e/25): left out of every audience
    my $enabled = psql('SELECT count(*) FROM "PushSubscription" s WHERE enabled
        AND NOT EXISTS (SELECT 1 FROM "PushSubscriptionKeyMismatch" k
                        WHERE k."subscriptionId" = s.id)');
    my $j = enqueue($prefix, job_json(to => { all => JSON::PP::true }));
    my $l = wait_log($j, 30);
    is($l && $l->{subscriptionCount}, $enabled,
       'all: subscriptionCount = enabled subscriptions not flagged');
    my $after = msgs_by_sub($port);
    is(($after->{ $d[0][1] } // 0) - ($before->{ $d[0][1] } // 0), 1,
       '... an enabled subscription got it once');
    is($after->{ $d[1][1] } // 0, 0, '... a disabled one got nothing');
}

# ---- stored keys that are not P-256 points fail alone --------------------
# 40 subscriptions in one topic (more than two encryption batches of 16);
# three rows have a p256dh of 65 bytes off the curve (a corrupt row): the
# 37 others are each delivered (the mock decrypts them), the three fail
# with a PushError row naming the key and are not disabled.
{
    require MIME::Base64;
    my @e = subscribe_many($port, 40);
    my @ids = add_subs(\@e, "ue-$run", "bad-keys-$run");
    my %bad = map { $_ => 1 } (3, 17, 38);
    for my $i (keys %bad) {
        (my $b64 = $e[$i][0]{keys}{p256dh}) =~ tr/-_/+\//;
        my $raw = MIME::Base64::decode_base64($b64);
        substr($raw, 64, 1) = chr(ord(substr($raw, 64, 1)) ^ 1);
        (my $enc = MIME::Base64::encode_base64($raw, '')) =~ tr/+\//-_/;
        $enc =~ s/=+\z//;
        psql(qq{UPDATE "PushSubscription" SET p256dh = '$enc'
                WHERE id = '$ids[$i]'});
    }
    my $before = msgs_by_sub($port);
    my $j = enqueue($prefix, job_json(to => { topic => "bad-keys-$run" }));
    my $l = wait_log($j, 30);
    is($l && "$l->{subscriptionCount}/$l->{sentCount}/$l->{failedCount}",
       '40/37/3', 'keys off the curve: 40 subscriptions, 37 sent, 3 failed');
    my $after = msgs_by_sub($port);
    my @wrong = grep {
        ($after->{ $e[$_][1] } // 0) - ($before->{ $e[$_][1] } // 0)
            != ($bad{$_} ? 0 : 1)
    } 0 .. $#e;
    ok(!@wrong, '... each good one delivered and decrypted once, the bad'
                . ' ones nothing') or diag("wrong: @wrong");
    my $in = join(',', map { "'$ids[$_]'" } keys %bad);
    my $eps = join(',', map { "'$e[$_][0]{endpoint}'" } keys %bad);
    is(psql(qq{SELECT count(*) FROM "PushError" WHERE "jobId" = '$j'
               AND endpoint IN ($eps) AND error LIKE '%not a point on the%'}),
       3, '... a PushError row for each, naming the key');
    is(psql(qq{SELECT count(*) FROM "PushSubscription"
               WHERE id IN ($in) AND enabled}), 3, '... none disabled');
    # out of the way of later "all" sends
    psql(qq{DELETE FROM "PushSubscription" WHERE id IN ($in)});
}

# ---- metrics, heartbeat ---------------------------------------------------
{
    my %m;
    wait_for(sub {
        %m = split /\n/, redis('--raw', 'HGETALL', "${prefix}metrics");
        ($m{jobs_done} // 0) >= 4
    }, 5);
    ok(($m{sent} // 0) >= 8, "metrics: sent counted ($m{sent})");
    ok(($m{jobs_done} // 0) >= 4, '... jobs_done counted');
    my %h = split /\n/, redis('--raw', 'HGETALL', "${prefix}metrics:latency");
    my $sum = 0;
    $sum += $h{$_} // 0 for qw(le_1 le_2 le_5 le_10 le_25 le_50 le_100
                                le_250 le_500 le_1000 le_2500 le_5000 le_inf);
    is($sum, $h{count}, 'latency buckets are non-cumulative: sum = count');
    ok(defined $h{sum_ms}, '... sum_ms present');
    my $score = redis('--raw', 'ZSCORE', "${prefix}senders", 't20a');
    ok($score && abs($score - time()) < 30, 'heartbeat: senders set score');
    is(redis('--raw', 'EXISTS', "${prefix}sender:t20a"), 1,
       '... heartbeat hash');
    my $ttl = redis('--raw', 'TTL', "${prefix}sender:t20a");
    ok($ttl > 0 && $ttl <= 15, '... expires within 15 s');
}

# ---- SIGTERM: exit 0, heartbeat removed -----------------------------------
{
    my ($st, $secs) = stop_sender($snd);
    is($st, 0, 'SIGTERM: exit 0');
    ok($secs < 5, sprintf('... within %.1f s', $secs));
    is(redis('--raw', 'ZSCORE', "${prefix}senders", 't20a'), '',
       '... removed from the senders set');
    unlike(SenderTest::slurp($snd->{log}), qr/\Q$ENV{VAPID_PRIVATE_KEY}\E/,
           '... the log never holds the private key');
    my @lines = split /\n/, SenderTest::slurp($snd->{log});
    is(scalar(grep { !eval { $JSON->decode($_); 1 } } @lines), 0,
       '... every log line is JSON');
}

# ---- bad configuration refuses to start -----------------------------------
{
    my @cases = (
        [ { VAPID_PRIVATE_KEY => undef }, qr/VAPID_PRIVATE_KEY/, 'missing key' ],
        [ { VAPID_PUBLIC_KEY => 'notakey' }, qr/VAPID/, 'malformed key' ],
        [ { VAPID_PUBLIC_KEY => 'BA1Hxzyi1RUM1b5wjxsn7nGxAszw2u61m164i3MrAIxHF6YK5h4SDYic-dRuU_RCPCfA5aq9ojSwk5Y2EmClBPs' },
          qr/VAPID.*(match|pair|correspond|belong)/i, 'mismatched keys' ],
        [ { VAPID_SUBJECT => 'ops@example.com' }, qr/VAPID_SUBJECT/,
          'subject without mailto:' ],
        [ { VAPID_SUBJECT => 'mailto:ops@localhost' }, qr/VAPID_SUBJECT/,
          'localhost subject' ],
        [ { PUSH_CONCURRENCY_LIMIT => 'lots' }, qr/PUSH_CONCURRENCY_LIMIT/,
          'bad concurrency' ],
    );
    for my $c (@cases) {
        my $s = start_sender("t20bad", %env, %{ $c->[0] });
        my ($st) = stop_sender($s, 'ZERO', 10);
        is($st >> 8, 78, "refuses to start on a $c->[2] (exit 78)");
        my $log = SenderTest::slurp($s->{log});
        like($log, $c->[1], '... with a message naming it');
        unlink $s->{log};
    }
}

done_testing();
