#!/usr/bin/perl
# webpush-sender's response state machine against the mock push service:
# 410/404 disable at once and are never sent again; 400/413 fail the
# message without retry or disable; 401/403 never disable, open the
# origin's circuit (other subscriptions of that origin wait, then go);
# 429 + Retry-After (seconds and HTTP-date) is honoured, up to
# WEBPUSH_RETRY_AFTER_MAX (an hour: years, or a value past int64 in ms,
# pause nothing longer); 503 until the
# attempts run out dead-letters with the reason; a retry that would pass the
# TTL is dead-lettered as expired; WNS 406 is retried; a request timeout is
# retried; an expired job is not sent and is
# recorded as expired; a scheduled job (sendAt) goes out when due; a slow
# origin does not hold up another origin; a circuit opened by another
# sender (the shared key) is honoured.
use strict;
use warnings;
use FindBin;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(time sleep);
BEGIN { require "$FindBin::Bin/20_sender_lib.pm"; SenderTest->import }

need_stack();

my $prefix = '{t21}:';
redis('DEL', map { "$prefix$_" } qw(jobs dead retry scheduled metrics
      metrics:latency senders finish));

my $main = start_mock('m21');        # well-behaved origin + per-sub codes
my $auth = start_mock('m21a');       # 403 origin (circuit)
my $auth1 = start_mock('m21b');      # 401 origin
my $thr  = start_mock('m21t');       # throttling / failing origin
my $slow = start_mock('m21s');       # slow origin
# origins that answer an absurd Retry-After (each one is paused by it)
my ($far1, $far2) = start_mocks(['m21r1'], ['m21r2']);

my $allow = join(',', map { "127.0.0.1:$_" } $main, $auth, $auth1, $thr,
                 $slow, $far1, $far2);
my $snd = start_sender('t21', WEBPUSH_QUEUE_PREFIX => $prefix,
                       WEBPUSH_ALLOWED_ENDPOINTS => $allow,
                       PUSH_RETRY_ATTEMPTS => 2, PUSH_RETRY_DELAY => 100,
                       WEBPUSH_CIRCUIT_OPEN => 1500,
                       WEBPUSH_REQUEST_TIMEOUT => 1500);
my $run = uid();

sub enabled {
    psql(qq{SELECT enabled FROM "PushSubscription" WHERE id = '$_[0]'});
}

sub requests {      # every request the mock saw for a subscription
    my ($port, $id) = @_;
    return scalar @{ mock_messages($port, $id, 1) };
}

sub dead_for {      # dead-letter entries of a subscription id
    my ($sid) = @_;
    my $j = redis('--json', 'XRANGE', "${prefix}dead", '-', '+');
    my @out;
    for my $e (@{ $JSON->decode($j || '[]') }) {
        my %f = @{ $e->[1] };
        push @out, \%f if ($f{subscription} // '') eq $sid;
    }
    return @out;
}

sub pusherrors {
    my ($ep) = @_;
    return psql(qq{SELECT "statusCode" || ' ' || "jobId" FROM "PushError"
                   WHERE endpoint = '$ep' ORDER BY "createdAt"});
}

# ---- 410 / 404 / 413 / 400 on one origin ----------------------------------
my %code;
for my $c (410, 404, 413, 400) {
    my ($sub, $id) = subscribe($main, behaviour => { status => $c });
    my ($sid) = add_subs([[$sub, $id]], "u$c-$run");
    $code{$c} = { sub => $sub, id => $id, sid => $sid };
}
my ($oksub, $okid) = subscribe($main);
add_subs([[$oksub, $okid]], "u410-$run");   # same user as the 410 one
{
    my @jobs = map { enqueue($prefix, job_json(to => { userId => "u$_-$run" }))
                   } 410, 404, 413, 400;
    my @logs = map { wait_log($_) } @jobs;
    is($logs[0]{sentCount}, 1, '410: the user\'s other subscription sent');
    is($logs[0]{failedCount}, 1, '... the 410 one failed');
    is($logs[0]{metadata}{disabled}, 1, '... metadata.disabled 1');
    for my $i (0 .. 3) {
        my $c = (410, 404, 413, 400)[$i];
        my $s = $code{$c};
        is($logs[$i]{failedCount}, 1, "$c: failedCount 1");
        is(requests($main, $s->{id}), 1, "$c: exactly one request (no retry)");
        is(enabled($s->{sid}), ($c == 410 || $c == 404) ? 'f' : 't',
           "$c: " . (($c == 410 || $c == 404) ? 'disabled' : 'not disabled'));
        like(pusherrors($s->{sub}{endpoint}), qr/^$c \Q$jobs[$i]\E/,
             "$c: PushError row with status and jobId");
        is(scalar(dead_for($s->{sid})), 0, "$c: no dead letter (final)");
    }

    # sent again: the disabled ones get nothing, the others are tried again
    my @again = map { enqueue($prefix, job_json(to => { userId => "u$_-$run" }))
                    } 410, 404, 413;
    my @l2 = map { wait_log($_) } @again;
    is($l2[0]{subscriptionCount}, 1, '410: disabled subscription left out');
    is($l2[1]{subscriptionCount}, 0, '404: disabled subscription left out');
    is(requests($main, $code{410}{id}), 1, '410: never sent again');
    is(requests($main, $code{404}{id}), 1, '404: never sent again');
    is(requests($main, $code{413}{id}), 2, '413: a new message is tried');
}

# ---- 403 / 401: circuit breaker, never disable ----------------------------
{
    my ($bad, $badid) = subscribe($auth, behaviour => { status => 403 });
    my ($good, $goodid) = subscribe($auth);
    my ($bsid) = add_subs([[$bad, $badid]], "u403-$run");
    my ($gsid) = add_subs([[$good, $goodid]], "u403g-$run");
    my $j1 = enqueue($prefix, job_json(to => { userId => "u403-$run" }));
    my $circuit = wait_for(sub {
        redis('--raw', 'GET', "${prefix}circuit:https://127.0.0.1:$auth")
    }, 10);
    like($circuit, qr/403/, '403: circuit open for the origin (with reason)');
    my $t0 = time();
    my $j2 = enqueue($prefix, job_json(to => { userId => "u403g-$run" }));
    sleep 0.5;
    is(requests($auth, $goodid), 0,
       '... another subscription of that origin waits while it is open');
    my $l2 = wait_log($j2, 15);
    is($l2 && $l2->{sentCount}, 1, '... and is delivered after it closes');
    ok(time() - $t0 >= 0.8, sprintf('... %.1f s later', time() - $t0));
    ok(($l2->{metadata}{deferred} // 0) >= 1, '... counted as deferred');
    my $l1 = wait_log($j1, 15);
    is($l1 && $l1->{failedCount}, 1, '403: failed once the attempts ran out');
    is(enabled($bsid), 't', '403: subscription NOT disabled');
    my @d = dead_for($bsid);
    is(scalar @d, 1, '403: one dead letter');
    like($d[0]{reason} // '', qr/gave up after 3 attempts: HTTP 403/,
         '... reason names the attempts and the status');
    is(requests($auth, $badid), 3, '403: exactly 3 attempts, spaced by the circuit');
    like(SenderTest::slurp($snd->{log}),
         qr/"level":"error".*VAPID credentials.*circuit open/,
         '403: logged loudly (error level)');

    my ($b1, $b1id) = subscribe($auth1, behaviour => { status => 401 });
    my ($b1sid) = add_subs([[$b1, $b1id]], "u401-$run");
    my $l3 = wait_log(enqueue($prefix, job_json(to => { userId => "u401-$run" })), 15);
    is($l3 && $l3->{failedCount}, 1, '401: failed');
    is(enabled($b1sid), 't', '401: subscription NOT disabled');
    like((dead_for($b1sid))[0]{reason} // '', qr/HTTP 401/,
         '401: dead letter with the reason');
}

# ---- 429 Retry-After (seconds, date), 503 exhausted -----------------------
{
    my ($s1, $i1) = subscribe($thr, behaviour => { status => 429, times => 1,
                                                   retry_after => 1 });
    add_subs([[$s1, $i1]], "u429-$run");
    my $l = wait_log(enqueue($prefix, job_json(to => { userId => "u429-$run" })), 15);
    is($l && $l->{sentCount}, 1, '429 + Retry-After: delivered');
    is($l->{metadata}{retried}, 1, '... after one retry');
    my $m = mock_messages($thr, $i1, 1);
    is(scalar @$m, 2, '... two requests');
    ok($m->[1]{received_at} - $m->[0]{received_at} >= 0.9,
       sprintf('... %.2f s apart (Retry-After: 1)',
               $m->[1]{received_at} - $m->[0]{received_at}));

    my ($s2, $i2) = subscribe($thr, behaviour => { status => 503, times => 1,
                                                   retry_after => 2,
                                                   retry_after_date => JSON::PP::true });
    add_subs([[$s2, $i2]], "u503d-$run");
    $l = wait_log(enqueue($prefix, job_json(to => { userId => "u503d-$run" })), 15);
    is($l && $l->{sentCount}, 1, '503 + Retry-After HTTP-date: delivered');
    $m = mock_messages($thr, $i2, 1);
    ok(@$m == 2 && $m->[1]{received_at} - $m->[0]{received_at} >= 0.9,
       '... after waiting for the date');

    my ($s3, $i3) = subscribe($thr, behaviour => { status => 503 });
    my ($sid3) = add_subs([[$s3, $i3]], "u503-$run");
    $l = wait_log(enqueue($prefix, job_json(to => { userId => "u503-$run" })), 15);
    is($l && $l->{failedCount}, 1, '503 always: failed');
    is($l->{metadata}{retried}, 2, '... after PUSH_RETRY_ATTEMPTS (2) retries');
    is(requests($thr, $i3), 3, '... 3 requests in all');
    my @d = dead_for($sid3);
    like($d[0]{reason} // '', qr/gave up after 3 attempts: HTTP 503/,
         '... dead letter with the reason');
    is($d[0]{attempts}, 3, '... and the attempt count');

    # WNS throttling: 406 + Retry-After
    my ($s5, $i5) = subscribe($thr, behaviour => { status => 406, times => 1,
                                                   retry_after => 1 });
    add_subs([[$s5, $i5]], "u406-$run");
    $l = wait_log(enqueue($prefix, job_json(to => { userId => "u406-$run" })), 15);
    is($l && $l->{sentCount}, 1, 'WNS 406 + Retry-After: delivered');
    is(requests($thr, $i5), 2, '... on the second request');

    # Retry-After beyond the TTL: not retried, dead-lettered as expired
    my ($s4, $i4) = subscribe($thr, behaviour => { status => 429,
                                                   retry_after => 30 });
    my ($sid4) = add_subs([[$s4, $i4]], "u429ttl-$run");
    $l = wait_log(enqueue($prefix, job_json(to => { userId => "u429ttl-$run" },
                                           ttl => 10)), 15);
    is($l && $l->{failedCount}, 1, 'Retry-After past the TTL: failed');
    is($l->{metadata}{expiredCount}, 1, '... counted as expired');
    is(requests($thr, $i4), 1, '... never retried');
    like((dead_for($sid4))[0]{reason} // '', qr/TTL would pass/,
         '... dead letter says why');
}

# ---- expired job, scheduled job -------------------------------------------
{
    my ($s, $i) = subscribe($main);
    add_subs([[$s, $i]], "uexp-$run");
    my $l = wait_log(enqueue($prefix, job_json(to => { userId => "uexp-$run" },
                                              ttl => 5,
                                              createdAt => now_ms() - 10000)));
    is($l && $l->{metadata}{expired}, JSON::PP::true,
       'expired TTL: recorded as expired');
    is($l->{sentCount}, 0, '... sentCount 0');
    is(requests($main, $i), 0, '... nothing sent');

    my $at = now_ms() + 2000;
    my $j = enqueue($prefix, job_json(to => { userId => "uexp-$run" },
                                      sendAt => $at, ttl => 60));
    sleep 1;
    is(requests($main, $i), 0, 'sendAt: not sent before it is due');
    is(redis('--raw', 'ZCARD', "${prefix}scheduled"), 1,
       '... waits in the scheduled set');
    $l = wait_log($j, 10);
    is($l && $l->{sentCount}, 1, '... delivered when due');
    my $m = mock_messages($main, $i);
    ok($m->[0]{received_at} * 1000 >= $at - 50, '... not before sendAt');
}

# ---- a slow origin does not hold up another -------------------------------
{
    my ($ss, $si) = subscribe($slow, behaviour => { delay_ms => 3000,
                                                    times => 1 });
    my @fast = subscribe_many($main, 3);
    add_subs([[$ss, $si]], "umix-$run");
    add_subs(\@fast, "umix-$run");
    my $t0 = time();
    my $j = enqueue($prefix, job_json(to => { userId => "umix-$run" }));
    my $got = wait_for(sub {
        my $n = msgs_by_sub($main);
        3 == grep { $n->{$_->[1]} } @fast
    }, 10);
    my $dt = time() - $t0;
    ok($got && $dt < 1.4, sprintf('fast origin delivered in %.2f s while the'
                                  . ' slow one hangs', $dt));
    my $l = wait_log($j, 15);
    is($l && $l->{sentCount}, 4, '... and the slow one arrives too');
    is($l && $l->{metadata}{retried}, 1,
       '... after its request timed out (1.5 s) and was retried');
    ok(requests($slow, $si) >= 2, '... a second request was made');
}

# ---- a circuit opened by another sender is honoured -------------------------
{
    my ($s, $i) = subscribe($main);
    add_subs([[$s, $i]], "ushared-$run");
    redis('SET', "${prefix}circuit:https://127.0.0.1:$main", 'HTTP 403 elsewhere',
          'PX', 2500);
    sleep 1.1;              # senders look at the shared key once a second
    my $t0 = time();
    my $j = enqueue($prefix, job_json(to => { userId => "ushared-$run" }));
    sleep 0.6;
    is(requests($main, $i), 0, 'shared circuit key: the origin is left alone');
    my $l = wait_log($j, 15);
    is($l && $l->{sentCount}, 1, '... and served once the key expires');
    ok(time() - $t0 >= 1.2, sprintf('... %.1f s later', time() - $t0));
}

# ---- Retry-After beyond reason: at most WEBPUSH_RETRY_AFTER_MAX (3600 s) ---
for my $case ([$far1, '99999999999', '~3,000 years'],
              [$far2, '99999999999999999', 'past int64 once in ms']) {
    my ($port, $value, $what) = @$case;
    my ($s, $i) = subscribe($port, behaviour => { status => 429, times => 1,
                                                  retry_after => 0 + $value });
    my ($sid) = add_subs([[$s, $i]], "ufar$port-$run");
    my $t0 = now_ms();
    enqueue($prefix, job_json(to => { userId => "ufar$port-$run" },
                              ttl => 7200));
    # the retry item of that subscription, and when it is due
    my $due = wait_for(sub {
        my %z = split /\n/, redis('--raw', 'ZRANGE', "${prefix}retry", 0, -1,
                                  'WITHSCORES');
        my ($m) = grep { /\|\Q$sid\E$/ } keys %z;
        $m ? $z{$m} : undef;
    }, 15);
    ok($due, "Retry-After: $value ($what): retried, not dead-lettered");
    ok($due && $due >= $t0 + 3_590_000 && $due <= now_ms() + 3_600_000,
       sprintf('... due in %.0f s: the hour the cap allows',
               (($due // 0) - $t0) / 1000));
    is(scalar(dead_for($sid)), 0, '... no dead letter');
    is(requests($port, $i), 1, '... one request so far');
}
ok(waitpid($snd->{pid}, WNOHANG) == 0, '... the sender runs on');

# ---- metrics ---------------------------------------------------------------
{
    my %m;
    wait_for(sub {
        %m = split /\n/, redis('--raw', 'HGETALL', "${prefix}metrics");
        ($m{disabled} // 0) >= 2
    }, 5);
    is($m{disabled}, 2, 'metrics: disabled 2');
    ok(($m{retried} // 0) >= 6, 'metrics: retried counted');
    ok(($m{failed_4xx} // 0) >= 6, 'metrics: failed_4xx counted');
    ok(($m{failed_5xx} // 0) >= 4, 'metrics: failed_5xx counted');
    ok(($m{failed_network} // 0) >= 1, 'metrics: failed_network (timeout)');
    ok(($m{expired} // 0) >= 2, 'metrics: expired counted');
}

my ($st) = stop_sender($snd);
is($st, 0, 'sender exits 0 on SIGTERM');

done_testing();
