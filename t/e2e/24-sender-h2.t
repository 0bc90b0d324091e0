#!/usr/bin/perl
# webpush-sender's own HTTP/2 client (sender/h2.c) against the mock push
# service's HTTP/2 side, through the real sender, Redis and PostgreSQL:
#   a. a 200-subscription broadcast, 50 in flight: each subscription gets
#      exactly one correctly decrypted message, all over HTTP/2, on one
#      connection;
#   b. RST_STREAM(REFUSED_STREAM): the request is sent again without using
#      up an attempt (delivered with PUSH_RETRY_ATTEMPTS=0), at most 3 times,
#      then it is an ordinary retry; a 201 followed by RST_STREAM is sent;
#   c. GOAWAY in the middle of a batch: every subscription exactly once, no
#      retry needed (the streams above last_stream_id are sent again);
#   d. the connection dropped without an answer: retried with backoff and
#      delivered once; with the retries used up, a failed delivery with a
#      PushError row, the subscription stays enabled;
#   e. SETTINGS_MAX_CONCURRENT_STREAMS 4: never more streams open on one
#      connection (more connections instead), everything delivered, also
#      when the service refuses the excess at once (--strict-streams);
#   f. a service without h2 in ALPN: HTTP/1.1, logged once;
#   g. WEBPUSH_HTTP2_CLIENT=libcurl still speaks HTTP/2; a bad value exits
#      78 naming the variable;
#   h. a request timeout on HTTP/2: retried, and the other streams on the
#      same connection are answered while the slow one waits;
#   i. WEBPUSH_CRYPTO_THREADS=2 (encryption on worker threads): a broadcast
#      exactly once, each payload decrypted; SIGTERM exits 0; a bad value
#      exits 78; WEBPUSH_IDLE_TIMEOUT: a connection idle longer is not
#      reused, one idle less long is;
#   j. a connect that cannot finish and a TLS handshake that cannot: each
#      fails on its own budget (WEBPUSH_CONNECT_TIMEOUT, WEBPUSH_TLS_TIMEOUT)
#      and says which; a bad value exits 78.
use strict;
use warnings;
use FindBin;
use Test::More;
use Time::HiRes qw(time sleep);
use MIME::Base64 qw(decode_base64);
BEGIN { require "$FindBin::Bin/20_sender_lib.pm"; SenderTest->import }

need_stack();

my $T0 = time();
my @prefixes = map { "{t24$_}:" } '', qw(r d h g i);
for my $p (@prefixes) {
    redis('DEL', map { "$p$_" } qw(jobs dead retry scheduled metrics
          metrics:latency senders finish));
}
my ($prefix, $pref0, $prefd, $prefh, $prefg, $prefi) = @prefixes;

my @spec = ((map { [$_] } qw(a b c d g h i)), ['e', '--max-streams', 4],
            ['e2', '--max-streams', 4, '--strict-streams'],
            ['f', '--http1-only']);
my %mock;
@mock{ map { $_->[0] } @spec } =
    start_mocks(map { ["m24$_->[0]", @$_[1 .. $#$_]] } @spec);
my $allow = join(',', map { "127.0.0.1:$_" } values %mock);

my %common = (WEBPUSH_ALLOWED_ENDPOINTS => $allow,
              PUSH_CONCURRENCY_LIMIT => 50, ENABLE_ERROR_TRACKING => 'true',
              PUSH_RETRY_DELAY => 100, WEBPUSH_HTTP2_CLIENT => undef);
# the main sender: native HTTP/2 client, 50 in flight
my $snd = start_sender('t24', %common, WEBPUSH_QUEUE_PREFIX => $prefix);
# refusals are not attempts: no retry at all allowed
my $snd0 = start_sender('t24r', %common, WEBPUSH_QUEUE_PREFIX => $pref0,
                        PUSH_RETRY_ATTEMPTS => 0);
# dropped connections: one retry
my $sndd = start_sender('t24d', %common, WEBPUSH_QUEUE_PREFIX => $prefd,
                        PUSH_RETRY_ATTEMPTS => 1);
# request timeouts
my $sndh = start_sender('t24h', %common, WEBPUSH_QUEUE_PREFIX => $prefh,
                        PUSH_RETRY_ATTEMPTS => 2,
                        WEBPUSH_REQUEST_TIMEOUT => 2000);
my $run = uid();

sub enabled {
    psql(qq{SELECT enabled FROM "PushSubscription" WHERE id = '$_[0]'});
}

sub pusherrors {        # "statusCode|error" per PushError row
    my ($ep) = @_;
    my $out = psql(qq{SELECT coalesce("statusCode"::text, '') || '|' || error
                      FROM "PushError" WHERE endpoint = '$ep'
                      ORDER BY "createdAt"});
    return grep { length } split /\n/, $out;
}

sub pusherror_count {   # PushError rows of these subscriptions (toJSON, id)
    my ($subs) = @_;
    my $in = join(',', map { "'$_->[0]{endpoint}'" } @$subs);
    return psql(qq{SELECT count(*) FROM "PushError" WHERE endpoint IN ($in)});
}

sub records {           # every request the mock processed for a subscription
    my ($port, $id) = @_;
    return @{ mock_messages($port, $id, 1) };
}

sub delivered {         # accepted (201) and answered
    my ($port, $id) = @_;
    return scalar grep { $_->{status} == 201 && !$_->{cancelled} }
                       records($port, $id);
}

sub title_of {
    my ($m) = @_;
    my $b = $m->{payload_b64} // return '';
    $b =~ tr/-_/+\//;
    my $obj = eval { $JSON->decode(decode_base64($b)) } // {};
    return $obj->{title} // '';
}

sub exactly_once {      # subscriptions (toJSON, id) delivered exactly once
    my ($port, $subs) = @_;
    my $n = msgs_by_sub($port);
    return scalar grep { ($n->{$_->[1]} // 0) == 1 } @$subs;
}

sub log_lines {
    my ($s, $re) = @_;
    return scalar grep { /$re/ } split /\n/, SenderTest::slurp($s->{log});
}

note(sprintf('%.1f s', time() - $T0));
# ---- a. broadcast over HTTP/2, 50 in flight ---------------------------------
{
    my $port = $mock{a};
    my @subs = subscribe_many($port, 200);
    add_subs(\@subs, "ua-$run");
    my $title = "broadcast $run \x{2713}";
    my $t0 = time();
    my $j = enqueue($prefix, job_json(to => { userId => "ua-$run" },
                                      payload => { title => $title }));
    my $l = wait_log($j, 30);
    my $dt = time() - $t0;
    is($l && $l->{sentCount}, 200, sprintf('a. broadcast: 200 sent (%.1f s)',
                                          $dt));
    is($l && $l->{failedCount}, 0, '... none failed');
    is(exactly_once($port, \@subs), 200,
       '... every subscription got exactly one message');
    my @m = @{ mock_messages($port) };
    is(scalar(grep { title_of($_) eq $title } @m), 200,
       '... each decrypted by the mock to the payload sent');
    is(scalar(grep { $_->{protocol} eq 'h2' } @m), 200, '... all over HTTP/2');
    is(scalar(grep { ($_->{vapid}{k} // '') eq $ENV{VAPID_PUBLIC_KEY} } @m),
       200, '... all with a verified VAPID token');
    my $st = mock_stats($port);
    is($st->{connections_by_protocol}{h2}, 1,
       '... on one HTTP/2 connection (50 in flight < 100 streams allowed)');
    ok($st->{max_streams_per_conn} > 1 && $st->{max_streams_per_conn} <= 50,
       "... multiplexed: up to $st->{max_streams_per_conn} streams at once"
       . ' (PUSH_CONCURRENCY_LIMIT 50)');
}

note(sprintf('%.1f s', time() - $T0));
# ---- b. RST_STREAM(REFUSED_STREAM): resent, not an attempt --------------------
{
    my $port = $mock{b};
    my ($r1, $r1id) = subscribe($port, behaviour => { h2 => 'refuse',
                                                       times => 1 });
    my ($r3, $r3id) = subscribe($port, behaviour => { h2 => 'refuse',
                                                       times => 3 });
    my ($ra, $raid) = subscribe($port, behaviour => { h2 => 'refuse' });
    my @ok = subscribe_many($port, 3);
    my ($r1sid, $r3sid, $rasid) = add_subs([[$r1, $r1id], [$r3, $r3id],
                                            [$ra, $raid]], "ub-$run");
    add_subs(\@ok, "ub-$run");
    my $j = enqueue($pref0, job_json(to => { userId => "ub-$run" }));
    my $l = wait_log($j, 20);

    my @rec = records($port, $r1id);
    is(scalar(@rec), 2, 'b. refused once: two requests reached the mock');
    is($rec[0]{transport}, 'refuse', '... the first refused (not processed)');
    is(delivered($port, $r1id), 1, '... delivered exactly once');
    is(scalar(pusherrors($r1->{endpoint})), 0, '... no PushError row');
    is(enabled($r1sid), 't', '... still enabled');
    is(delivered($port, $r3id), 1,
       'b. refused 3 times: delivered on the 4th request, with'
       . ' PUSH_RETRY_ATTEMPTS=0 (a resend is not a retry)');
    is(scalar(records($port, $r3id)), 4, '... 4 requests');
    is(exactly_once($port, \@ok), 3, '... the other subscriptions once each');
    is($l && $l->{sentCount}, 5, '... NotificationLog: 5 sent');
    is($l && $l->{failedCount}, 1, '... 1 failed: the one always refused');
    is($l && $l->{metadata}{retried}, 0, '... and no retry was scheduled');

    is(delivered($port, $raid), 0, 'b. always refused: never delivered');
    is(scalar(records($port, $raid)), 4,
       '... 4 requests (3 resends), then an ordinary retry: none left');
    my @pe = pusherrors($ra->{endpoint});
    is(scalar(@pe), 1, '... one PushError row');
    like($pe[0] // '', qr/^\|gave up after 1 attempts: .*refused/,
         '... no status, the reason says it was refused');
    is(enabled($rasid), 't', '... the subscription stays enabled');
    is(mock_stats($port)->{by_transport}{refuse}, 1 + 3 + 4,
       '... the mock refused 8 streams in all');
}

# a 201 and then RST_STREAM: sent (sending it again would deliver twice)
{
    my $port = $mock{b};
    my ($ar, $arid) = subscribe($port, behaviour => { h2 => 'answer_then_reset',
                                                       times => 1 });
    add_subs([[$ar, $arid]], "ub2-$run");
    my $l = wait_log(enqueue($pref0, job_json(to => { userId => "ub2-$run" })),
                     20);
    is($l && $l->{sentCount}, 1, 'b. 201 then RST_STREAM: counted as sent');
    is(scalar(records($port, $arid)), 1, '... one request, not sent again');
    is(mock_stats($port)->{by_transport}{answer_then_reset}, 1,
       '... (the mock did reset the stream after its answer)');
}

note(sprintf('%.1f s', time() - $T0));
# ---- c. GOAWAY in the middle of a batch --------------------------------------
{
    my $port = $mock{c};
    my @subs = subscribe_many($port, 40);
    my @sids = add_subs(\@subs, "uc-$run");
    # the audience goes out in id order: pick the middle one
    my @order = sort { $sids[$a] cmp $sids[$b] } 0 .. $#sids;
    my $mid = $subs[ $order[20] ][1];
    mock_api($port, 'PUT', "/_mock/subscriptions/$mid/behaviour",
             $JSON->encode({ h2 => 'goaway', times => 1 }));
    my $j = enqueue($prefix, job_json(to => { userId => "uc-$run" }));
    my $l = wait_log($j, 20);
    my $st = mock_stats($port);
    is($st->{by_transport}{goaway}, 1, 'c. the mock sent GOAWAY once');
    is(exactly_once($port, \@subs), 40,
       '... every subscription delivered exactly once (none lost, no'
       . ' duplicate)');
    my %conns;
    $conns{ $_->{conn} }++ for @{ mock_messages($port) };
    ok(keys(%conns) >= 2, '... the streams above last_stream_id went on a'
                          . ' new connection (' . join(', ', map {
                              "conn $_: $conns{$_}" } sort keys %conns) . ')');
    is($l && $l->{sentCount}, 40, '... NotificationLog: 40 sent');
    is($l && $l->{metadata}{retried}, 0,
       '... no retry: unprocessed streams are resent, not retried');
    is(pusherror_count(\@subs), 0, '... no PushError row');
}

note(sprintf('%.1f s', time() - $T0));
# ---- d. connection dropped without an answer ---------------------------------
{
    my $port = $mock{d};
    my ($d1, $d1id) = subscribe($port, behaviour => { h2 => 'drop',
                                                       times => 1 });
    my ($d1sid) = add_subs([[$d1, $d1id]], "ud1-$run");
    my $j = enqueue($prefd, job_json(to => { userId => "ud1-$run" }));
    my $l = wait_log($j, 20);
    my @rec = records($port, $d1id);
    is($l && $l->{sentCount}, 1, 'd. dropped once: delivered');
    is($l && $l->{metadata}{retried}, 1, '... after one retry');
    is(scalar(@rec), 2, '... two requests');
    is($rec[0]{transport}, 'drop', '... the first one dropped, unprocessed');
    is(delivered($port, $d1id), 1, '... exactly one delivery');
    is(scalar(pusherrors($d1->{endpoint})), 0, '... no PushError row');
    ok(@rec == 2 && $rec[1]{conn} != $rec[0]{conn},
       '... the retry went on a new connection');

    my ($d2, $d2id) = subscribe($port, behaviour => { h2 => 'drop' });
    my ($d2sid) = add_subs([[$d2, $d2id]], "ud2-$run");
    $j = enqueue($prefd, job_json(to => { userId => "ud2-$run" }));
    $l = wait_log($j, 20);
    is($l && $l->{failedCount}, 1, 'd. always dropped: failed');
    is($l && $l->{metadata}{retried}, 1, '... after PUSH_RETRY_ATTEMPTS (1)'
                                          . ' retry');
    is(scalar(records($port, $d2id)), 2, '... two requests');
    is(delivered($port, $d2id), 0, '... never delivered');
    my @pe = pusherrors($d2->{endpoint});
    is(scalar(@pe), 1, '... one PushError row');
    like($pe[0] // '', qr/^\|gave up after 2 attempts/,
         '... without a status, "gave up after 2 attempts"');
    is(enabled($d2sid), 't', '... the subscription stays enabled');
}

note(sprintf('%.1f s', time() - $T0));
# ---- e. SETTINGS_MAX_CONCURRENT_STREAMS 4 ------------------------------------
{
    my $port = $mock{e};
    my @subs = subscribe_many($port, 60);
    add_subs(\@subs, "ue-$run");
    my $j = enqueue($prefix, job_json(to => { userId => "ue-$run" }));
    my $l = wait_log($j, 30);
    is($l && $l->{sentCount}, 60, 'e. max 4 streams: all 60 sent');
    is(exactly_once($port, \@subs), 60, '... each exactly once');
    my $st = mock_stats($port);
    note("e. mock stats: " . $JSON->encode($st));
    ok($st->{connections_by_protocol}{h2} > 1,
       "... more connections instead ($st->{connections_by_protocol}{h2})");
    ok($st->{connections_by_protocol}{h2} <= 64, '... at most 64');
    ok($st->{max_streams_per_conn} <= 4,
       "... never more than 4 streams open on one connection (saw"
       . " $st->{max_streams_per_conn})");
    ok($st->{max_streams_per_conn_acked} <= 4,
       '... once the sender acknowledged the SETTINGS, at most 4 (saw '
       . "$st->{max_streams_per_conn_acked})");

    # a server that enforces its limit at once (nginx): the excess streams
    # are refused, sent again, and nothing is lost or doubled
    my $sp = $mock{e2};
    my @s2 = subscribe_many($sp, 60);
    my @ids2 = add_subs(\@s2, "ue2-$run");
    $j = enqueue($pref0, job_json(to => { userId => "ue2-$run" }));
    $l = wait_log($j, 30);
    $st = mock_stats($sp);
    note("e. strict mock stats: " . $JSON->encode($st));
    is($l && $l->{sentCount}, 60, 'e. max 4 streams, enforced at once: all 60'
                                  . ' sent with PUSH_RETRY_ATTEMPTS=0');
    is(exactly_once($sp, \@s2), 60, '... each exactly once');
    is(pusherror_count(\@s2), 0, '... no PushError row');
}

note(sprintf('%.1f s', time() - $T0));
# ---- f. no h2 in ALPN: HTTP/1.1 ------------------------------
{
    my $port = $mock{f};
    my @subs = subscribe_many($port, 5);
    add_subs(\@subs, "uf-$run");
    my $l = wait_log(enqueue($prefix, job_json(to => { userId => "uf-$run" })),
                     20);
    is($l && $l->{sentCount}, 5, 'f. http/1.1-only service: 5 sent');
    is(exactly_once($port, \@subs), 5, '... each exactly once');
    my @m = @{ mock_messages($port) };
    is(scalar(grep { $_->{protocol} eq 'http/1.1' } @m), 5,
       '... over HTTP/1.1');
    $l = wait_log(enqueue($prefix, job_json(to => { userId => "uf-$run" })),
                  20);
    is($l && $l->{sentCount}, 5, '... a second job too');
    is(log_lines($snd, qr/speaks no HTTP\/2: HTTP\/1\.1 from now on/), 1,
       '... "speaks no HTTP/2" logged once');
}

note(sprintf('%.1f s', time() - $T0));
# ---- g. WEBPUSH_HTTP2_CLIENT -------------------------------------------------
{
    my $port = $mock{g};
    my $sndg = start_sender('t24g', %common, WEBPUSH_QUEUE_PREFIX => $prefg,
                            WEBPUSH_HTTP2_CLIENT => 'libcurl');
    my @subs = subscribe_many($port, 3);
    add_subs(\@subs, "ug-$run");
    my $l = wait_log(enqueue($prefg, job_json(to => { userId => "ug-$run" })),
                     20);
    is($l && $l->{sentCount}, 3, 'g. WEBPUSH_HTTP2_CLIENT=libcurl: 3 sent');
    is(exactly_once($port, \@subs), 3, '... each exactly once');
    is(scalar(grep { $_->{protocol} eq 'h2' } @{ mock_messages($port) }), 3,
       '... over HTTP/2');
    my ($st) = stop_sender($sndg);
    is($st, 0, '... exits 0 on SIGTERM');

    refuses_to_start('g', 'WEBPUSH_HTTP2_CLIENT', %common,
                     WEBPUSH_QUEUE_PREFIX => $prefg,
                     WEBPUSH_HTTP2_CLIENT => 'bogus');
}

note(sprintf('%.1f s', time() - $T0));
# ---- h. a request timeout on HTTP/2 ------------------------------------------
{
    my $port = $mock{h};
    my ($slow, $slowid) = subscribe($port, behaviour => { delay_ms => 5000,
                                                          times => 1 });
    my @fast = subscribe_many($port, 10);
    my ($slowsid) = add_subs([[$slow, $slowid]], "uh-$run");
    add_subs(\@fast, "uh-$run");
    my $t0 = time();
    my $j = enqueue($prefh, job_json(to => { userId => "uh-$run" }));
    my $got = wait_for(sub { exactly_once($port, \@fast) == 10 }, 10);
    my $dt = time() - $t0;
    ok($got && $dt < 1.8, sprintf('h. the other 10 delivered in %.2f s, while'
                                  . ' the slow one waits (2 s timeout)', $dt));
    my $l = wait_log($j, 20);
    is($l && $l->{sentCount}, 11, '... all 11 sent in the end');
    is($l && $l->{metadata}{retried}, 1, '... the slow one after one retry');
    my @rec = records($port, $slowid);
    is(scalar(@rec), 2, '... two requests for it');
    ok(@rec == 2 && $rec[0]{cancelled},
       '... the first reset by the sender at its timeout');
    my ($waited, $after) = @rec == 2 && $rec[0]{cancelled_at}
        ? ($rec[0]{cancelled_at} - $rec[0]{received_at},
           $rec[1]{received_at} - $rec[0]{cancelled_at}) : (0, -1);
    ok($waited >= 1.8 && $waited < 4,
       sprintf('... after %.2f s (WEBPUSH_REQUEST_TIMEOUT 2 s)', $waited));
    ok($after >= 0, sprintf('... the retry came %.2f s after that', $after));
    my %fastconn = map { $_->{conn} => 1 }
                   grep { $_->{sub} ne $slowid } @{ mock_messages($port) };
    ok(exists $fastconn{ $rec[0]{conn} },
       '... the fast ones went on the slow one\'s connection');
    is(delivered($port, $slowid), 1, '... delivered once');
}

note(sprintf('%.1f s', time() - $T0));
# ---- i. encryption on worker threads -----------------------------------------
{
    my $port = $mock{i};
    my $sndi = start_sender('t24i', %common, WEBPUSH_QUEUE_PREFIX => $prefi,
                            WEBPUSH_CRYPTO_THREADS => 2,
                            WEBPUSH_IDLE_TIMEOUT => 1500);
    my @subs = subscribe_many($port, 150);
    add_subs(\@subs, "ui-$run");
    my $title = "threads $run";
    my $l = wait_log(enqueue($prefi, job_json(to => { userId => "ui-$run" },
                                              payload => { title => $title })),
                     30);
    is($l && $l->{sentCount}, 150, 'i. WEBPUSH_CRYPTO_THREADS=2: 150 sent');
    is(exactly_once($port, \@subs), 150, '... each exactly once');
    is(scalar(grep { title_of($_) eq $title } @{ mock_messages($port) }), 150,
       '... each decrypted by the mock to the payload sent');

    # idle connections: reused within WEBPUSH_IDLE_TIMEOUT, not after
    my ($one) = subscribe_many($port, 1);
    add_subs([$one], "ui1-$run");
    my $conns = sub { mock_stats($port)->{connections_by_protocol}{h2} };
    my $c0 = $conns->();
    for my $pause (0.2, 2.5) {
        sleep $pause;
        wait_log(enqueue($prefi, job_json(to => { userId => "ui1-$run" })),
                 10);
    }
    is($conns->() - $c0, 1, 'i. WEBPUSH_IDLE_TIMEOUT 1.5 s: reused after'
                            . ' 0.2 s idle, a new connection after 2.5 s');
    my ($st) = stop_sender($sndi);
    is($st, 0, '... exits 0 on SIGTERM');

    refuses_to_start('i', 'WEBPUSH_CRYPTO_THREADS', %common,
                     WEBPUSH_QUEUE_PREFIX => $prefi,
                     WEBPUSH_CRYPTO_THREADS => 'many');
}

# ---- j. connect and TLS timeouts ---------------------------------------------
# A listener whose accept queue is full drops new SYNs (the connect cannot
# finish); one that takes connections and never answers the ClientHello
# (the TLS handshake cannot).  Each has its own budget: the error names
# the phase and the budget that ran out.
{
    use IO::Socket::INET;
    # backlog 1 (IO::Socket makes 0 into 5): two connections never
    # accepted fill the queue; the kernel then drops new SYNs
    my $full = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                     LocalPort => 0, Proto => 'tcp')
        or die "listen: $!";
    my @queued = map {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1', Blocking => 0,
                              PeerPort => $full->sockport, Proto => 'tcp')
    } 1 .. 4;
    my $mute = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1',
                                     LocalPort => 0, Proto => 'tcp')
        or die "listen: $!";
    my @ports = ($full->sockport, $mute->sockport);
    my ($keys) = subscribe($mock{a});
    my @subs = map {
        [{ %$keys, endpoint => "https://127.0.0.1:$_/push/j$_" }, "j$_"]
    } @ports;
    add_subs(\@subs, "uj-$run");
    my $prefj = '{t24j}:';
    redis('DEL', map { "$prefj$_" } qw(jobs dead retry scheduled metrics
          metrics:latency senders finish));
    my $sndj = start_sender('t24j', %common, WEBPUSH_QUEUE_PREFIX => $prefj,
                            WEBPUSH_ALLOWED_ENDPOINTS =>
                                join(',', map { "127.0.0.1:$_" } @ports),
                            PUSH_RETRY_ATTEMPTS => 0,
                            WEBPUSH_CONNECT_TIMEOUT => 700,
                            WEBPUSH_TLS_TIMEOUT => 900);
    my $l = wait_log(enqueue($prefj, job_json(to => { userId => "uj-$run" })),
                     20);
    is($l && "$l->{sentCount}/$l->{failedCount}", '0/2',
       'j. no connect, no TLS: both failed');
    my ($pc) = pusherrors($subs[0][0]{endpoint});
    like($pc // '', qr/Connection timed out after 700 milliseconds/,
         '... the connect ran out of WEBPUSH_CONNECT_TIMEOUT') or diag($pc);
    my ($pt) = pusherrors($subs[1][0]{endpoint});
    like($pt // '', qr/TLS handshake with \S+ timed out after 900 milliseconds/,
         '... the handshake ran out of WEBPUSH_TLS_TIMEOUT') or diag($pt);
    my ($st) = stop_sender($sndj);
    is($st, 0, '... the sender exits 0 on SIGTERM');

    refuses_to_start('j', 'WEBPUSH_TLS_TIMEOUT', %common,
                     WEBPUSH_QUEUE_PREFIX => $prefj,
                     WEBPUSH_TLS_TIMEOUT => 'soon');
    close $_ for grep { defined } @queued;
}

# leave no enabled subscription behind for later "all" audiences
psql(qq{DELETE FROM "PushSubscription" WHERE "userId" LIKE 'u%-$run'});

for my $s ($snd, $snd0, $sndd, $sndh) {
    my ($st) = stop_sender($s);
    is($st, 0, "sender $s->{name} exits 0 on SIGTERM");
}
diag(sprintf('24-sender-h2.t: %.1f s', time() - $T0));

done_testing();
