#!/usr/bin/perl
# webpush-sender and subscriptions made under another VAPID key (the push
# service answers 401/403 "key mismatch": Apple VapidPkHashMismatch, FCM
# "do not correspond", autopush "VAPID public key mismatch"), against the
# mock push service (subscriptions registered with an applicationServerKey):
#   a. evidence from this sender (2xx from the origin): on one origin 8
#      subscriptions made with our key and 5 with an old one; the 5 are a
#      final failure each (one PushError row), flagged in
#      "PushSubscriptionKeyMismatch" (our key, the service's reason), never
#      disabled; the origin's circuit is not left open; the sender shares
#      its evidence as <prefix>keyok:<aud> and logs a warning;
#   b. flagged subscriptions are left out of audiences (userIds, topic,
#      userId): not counted, never asked again;
#   b2. a shared circuit that a key mismatch opened (another sender's) is
#      dropped by a sender that has seen the origin take our key;
#   c. the module's subscribe route (a private nginx with the module, its
#      allow-list naming the mock): the same endpoint with new keys clears
#      the flag, with identical keys keeps it;
#   f. a mismatch before any evidence opens the circuit, the first 2xx
#      closes it (and deletes the shared key), the retries are then flagged;
#   d. no evidence at all (every subscription of the origin made with
#      another key: our key is the wrong one): the old behaviour, the
#      circuit opens, nothing flagged or disabled, no keyok key;
#   e. evidence from another sender (<prefix>keyok:<aud> = our key): flagged
#      at once, no circuit; a keyok key holding another key is no evidence.
use strict;
use warnings;
use FindBin;
use File::Basename qw(dirname);
use File::Path qw(make_path);
use IO::Socket::INET;
use HTTP::Tiny;
use Test::More;
use Time::HiRes qw(time sleep);
use MIME::Base64 qw(decode_base64 encode_base64);
use Digest::SHA qw(hmac_sha256);
use POSIX qw(WNOHANG);
BEGIN { require "$FindBin::Bin/20_sender_lib.pm"; SenderTest->import }

need_stack();

my $T0 = time();
my $prefix = '{t25}:';
redis('DEL', map { "$prefix$_" } qw(jobs dead retry scheduled metrics
      metrics:latency senders finish));

my $our = $ENV{VAPID_PUBLIC_KEY};
my $old = old_key();
ok($old && $old ne $our, 'an old VAPID public key (not ours) to subscribe with')
    or die 'no second VAPID key';

my ($A, $B, $C, $D, $E) = start_mocks(['m25a'], ['m25b'], ['m25c'],
                                      ['m25d'], ['m25e']);
my %aud = (A => "https://127.0.0.1:$A", B => "https://127.0.0.1:$B",
           C => "https://127.0.0.1:$C", D => "https://127.0.0.1:$D",
           E => "https://127.0.0.1:$E");
my $allow = join(',', map { "127.0.0.1:$_" } $A, $B, $C, $D, $E);
my $snd = start_sender('t25', WEBPUSH_QUEUE_PREFIX => $prefix,
                       WEBPUSH_ALLOWED_ENDPOINTS => $allow,
                       PUSH_RETRY_ATTEMPTS => 3, PUSH_RETRY_DELAY => 100,
                       WEBPUSH_CIRCUIT_OPEN => 1000);
my $run = uid();
my $nginx;                                  # { pid, dir } of our nginx

# ---- helpers ---------------------------------------------------------------

# A fresh P-256 public key (b64url), by webpush-cli or python3-cryptography.
sub old_key {
    my $cli = dirname(sender_bin()) . '/webpush-cli';
    if (-x $cli) {
        my $out = `$cli generate-vapid-keys 2>/dev/null`;
        return $1 if $out =~ /Public Key:\s*\n\s*([A-Za-z0-9_-]{87})\s*$/m;
    }
    my $k = `/usr/bin/python3 -c '
import base64
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization as s
p = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
    s.Encoding.X962, s.PublicFormat.UncompressedPoint)
print(base64.urlsafe_b64encode(p).decode().rstrip("="))'`;
    chomp $k;
    return $k;
}

sub sql_list { join(',', map { "'$_'" } @_) }

sub rget {              # a Redis string ('' when absent)
    return redis('--raw', 'GET', $_[0]);
}

sub rexists { redis('--raw', 'EXISTS', $_[0]) }

# The flag rows of these subscription ids: { sid => [vapidKey, reason] }.
sub flags {
    my (@sids) = @_;
    my %f;
    return \%f unless @sids;
    my $j = psql(qq{SELECT coalesce(json_agg(json_build_array(
            "subscriptionId", "vapidKey", "reason")), '[]')
            FROM "PushSubscriptionKeyMismatch"
            WHERE "subscriptionId" IN (} . sql_list(@sids) . ')');
    for my $r (@{ $JSON->decode($j || '[]') }) {
        $f{ $r->[0] } = [ $r->[1], $r->[2] ];
    }
    return \%f;
}

sub n_enabled {
    my (@sids) = @_;
    return psql(qq{SELECT count(*) FROM "PushSubscription" WHERE enabled
                   AND id IN (} . sql_list(@sids) . ')');
}

sub requests {          # every request the mock saw for a subscription
    my ($port, $id) = @_;
    return scalar @{ mock_messages($port, $id, 1) };
}

sub plaintext {
    my ($m) = @_;
    my $b = $m->{payload_b64} // return undef;
    $b =~ tr/-_/+\//;
    return decode_base64($b);
}

sub sender_log { slurp($snd->{log}) }

sub b64url {
    my $s = encode_base64(shift, '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

sub user_token {        # HS256 JWT for the module (webpush_jwt_secret)
    my ($user) = @_;
    my $h = b64url('{"alg":"HS256","typ":"JWT"}') . '.'
          . b64url($JSON->encode({ sub => $user, exp => time() + 600 }));
    return "$h." . b64url(hmac_sha256($h, $ENV{JWT_SECRET}));
}

# Subscriptions (list of [toJSON, mock id]) spread over users; returns
# { sid => { sub, id, user } } and inserts them (with a topic).
sub spread {
    my ($subs, $users, $topic) = @_;
    my (%by_user, %out);
    my $i = 0;
    for my $s (@$subs) {
        my $u = $users->[$i++ % @$users];
        push @{ $by_user{$u} }, $s;
        $out{"s-$s->[1]"} = { sub => $s->[0], id => $s->[1], user => $u };
    }
    add_subs($by_user{$_}, $_, $topic) for sort keys %by_user;
    return \%out;
}

# ---- a. evidence from this sender ------------------------------------------
my @users = map { "u25a$_-$run" } 1 .. 4;
my $topic = "t25-$run";
my $payload = { title => "Key check \x{2713} $run", body => 'new key' };
my $new  = spread([subscribe_many($A, 8, applicationServerKey => $our)],
                  \@users, $topic);
my $orph = spread([subscribe_many($A, 5, applicationServerKey => $old)],
                  [reverse @users], $topic);
my @new_sids  = sort keys %$new;
my @orph_sids = sort keys %$orph;
my %asked;              # requests per orphaned subscription after job 1
{
    my $t0 = time();
    my $j1 = enqueue($prefix, job_json(to => { userIds => \@users },
                                       payload => $payload));
    my $l = wait_log($j1, 30);
    ok($l, sprintf('a: NotificationLog row written (%.1f s)', time() - $t0));
    is($l && $l->{subscriptionCount}, 13, 'a: subscriptionCount 13');
    is($l && $l->{sentCount}, 8, 'a: sentCount 8 (the subscriptions made'
                                 . ' with our key)');
    is($l && $l->{failedCount}, 5, 'a: failedCount 5 (the orphaned ones)');

    my @bad;
    for my $sid (@new_sids) {
        my $m = mock_messages($A, $new->{$sid}{id});
        my $pt = @$m == 1 ? plaintext($m->[0]) : undef;
        my $obj = defined $pt ? eval { $JSON->decode($pt) } : undef;
        push @bad, "$sid: " . scalar(@$m) . ' messages'
            unless @$m == 1 && $obj && $obj->{title} eq $payload->{title}
                   && ($m->[0]{vapid}{k} // '') eq $our;
    }
    ok(!@bad, 'a: each of the 8 got exactly one message, decrypted, with'
              . ' our key') or diag(join("\n", @bad));

    my $f = flags(@orph_sids);
    my @ok = grep { $f->{$_} && $f->{$_}[0] eq $our
                    && $f->{$_}[1] =~ /VapidPkHashMismatch/ } @orph_sids;
    is(scalar @ok, 5, 'a: each orphaned subscription flagged with our key'
                      . ' and the service\'s reason')
        or diag(explain($f));
    my @oneline = grep { $f->{$_}[1] =~ /^HTTP 403: \{ ?"reason": ?"VapidPkHashMismatch" ?\}$/ }
                  keys %$f;
    is(scalar @oneline, 5, 'a: the reason is the answer on one line'
                           . ' (the body\'s line breaks folded)')
        or diag(explain($f));
    is(scalar keys %{ flags(@new_sids) }, 0,
       'a: none of the 8 subscriptions made with our key is flagged');
    is(n_enabled(@new_sids, @orph_sids), 13, 'a: all 13 still enabled');

    my @eps = map { $orph->{$_}{sub}{endpoint} } @orph_sids;
    is(psql(qq{SELECT count(*) FROM "PushError" WHERE "jobId" = '$j1'
               AND endpoint IN (} . sql_list(@eps) . q{)
               AND error LIKE '%VapidPkHashMismatch%'}), 5,
       'a: one PushError row (VapidPkHashMismatch) per orphaned endpoint');
    is(psql(qq{SELECT count(*) FROM "PushError" WHERE "jobId" = '$j1'}), 5,
       '... and no other PushError row for the job');
    my @asked0 = grep { requests($A, $orph->{$_}{id}) < 1 } @orph_sids;
    ok(!@asked0, 'a: each orphaned subscription was tried (mock saw it)');

    is(rget("${prefix}keyok:$aud{A}"), $our,
       'a: <prefix>keyok:<aud> holds our public key');
    ok(redis('--raw', 'TTL', "${prefix}keyok:$aud{A}") > 86000,
       '... with a day\'s expiry');
    is(rexists("${prefix}circuit:$aud{A}"), 0,
       'a: no circuit key for the origin at the end');
    like(sender_log(), qr/"level":"warn"[^\n]*created with another VAPID key/,
         'a: a warn log line "created with another VAPID key"');
    %asked = map { $_ => requests($A, $orph->{$_}{id}) } @orph_sids;
}

# ---- b. flagged subscriptions are left out of audiences --------------------
{
    my @before = map { scalar @{ mock_messages($A, $new->{$_}{id}) } }
                 @new_sids;
    my $j2 = enqueue($prefix, job_json(to => { userIds => \@users },
                                       payload => $payload));
    my $j3 = enqueue($prefix, job_json(to => { topic => $topic }));
    my $j4 = enqueue($prefix, job_json(to => { userId => $users[0] }));
    my ($l2, $l3, $l4) = map { wait_log($_, 15) } $j2, $j3, $j4;
    is($l2 && $l2->{subscriptionCount}, 8,
       'b: userIds: subscriptionCount 8 (the flagged 5 left out)');
    is($l2 && "$l2->{sentCount}/$l2->{failedCount}", '8/0',
       '... 8 sent, 0 failed');
    is($l3 && "$l3->{subscriptionCount}/$l3->{sentCount}/$l3->{failedCount}",
       '8/8/0', 'b: topic: 8 subscriptions, 8 sent, 0 failed');
    my $n0 = grep { $new->{$_}{user} eq $users[0] } @new_sids;
    is($l4 && "$l4->{subscriptionCount}/$l4->{sentCount}/$l4->{failedCount}",
       "$n0/$n0/0", "b: userId: only the user's $n0 unflagged subscriptions");
    my @again = grep { requests($A, $orph->{$_}{id}) != $asked{$_} }
                @orph_sids;
    ok(!@again, 'b: the mock saw no new request for an orphaned subscription')
        or diag("asked again: @again");
    my $n = msgs_by_sub($A);
    my @short = grep { ($n->{ $new->{$_}{id} } // 0)
                       != ($new->{$_}{user} eq $users[0] ? 4 : 3) } @new_sids;
    ok(!@short, 'b: the others got each message exactly once')
        or diag(explain($n));
}

# ---- b2. a shared circuit that a key mismatch opened ----------------------
# Another sender, without our evidence yet, opened A's shared circuit on a
# mismatch answer; this sender has seen A take our key: it drops that key
# and goes on, where a circuit for any other 401/403 is honoured (21).
{
    redis('SET', "${prefix}circuit:$aud{A}",
          'HTTP 403: { "reason": "VapidPkHashMismatch" }', 'PX', 60000);
    sleep 1.2;          # a sender looks at the shared key once a second
    my $j = enqueue($prefix, job_json(to => { userIds => \@users }));
    my $l = wait_log($j, 15);           # the circuit would hold it 60 s
    is($l && "$l->{sentCount}/$l->{failedCount}", '8/0',
       'b2: a shared circuit opened by a key mismatch: the 8 are sent');
    is(rexists("${prefix}circuit:$aud{A}"), 0, '... and the shared key is gone');
}

# ---- c. the module's subscribe route clears the flag -----------------------
SKIP: {
    my $ngx_bin = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $module = $ENV{TEST_NGINX_LOAD_MODULES}
        || dirname(sender_bin()) . '/nginx/ngx_http_webpush_module.so';
    skip 'no nginx binary to run the module\'s subscribe route', 6
        unless system("command -v $ngx_bin >/dev/null 2>&1") == 0;
    skip "the module is not built ($module)", 6 unless -f $module;
    skip 'JWT_SECRET/REDIS_URL not set', 6
        unless $ENV{JWT_SECRET} && $ENV{REDIS_URL};

    my $port = start_nginx($ngx_bin, $module, "127.0.0.1:$A");
    ok($port, 'c: a private nginx with the module (allow-list: mock A)')
        or do {
            diag(slurp("$nginx->{dir}/logs/error.log")) if $nginx;
            skip 'our nginx did not start', 5;
        };
    my $http = HTTP::Tiny->new(timeout => 10);
    my $post = sub {
        my ($user, $body) = @_;
        my $r = $http->request('POST', "http://127.0.0.1:$port/api/push/subscribe",
            { content => $JSON->encode($body),
              headers => { 'content-type' => 'application/json',
                           authorization => 'Bearer ' . user_token($user) } });
        return ($r->{status}, eval { $JSON->decode($r->{content}) }
                              // $r->{content});
    };

    my ($x, $y) = @orph_sids[0, 1];
    my ($fresh) = subscribe($A, applicationServerKey => $our);
    my ($code, $ans) = $post->($orph->{$x}{user}, {
        endpoint => $orph->{$x}{sub}{endpoint}, expirationTime => undef,
        keys => $fresh->{keys} });
    is("$code " . (ref $ans ? ($ans->{id} // '') : $ans), "200 $x",
       'c: the orphaned endpoint posted with new keys: 200, the same row');
    is(psql(qq{SELECT p256dh FROM "PushSubscription" WHERE id = '$x'}),
       $fresh->{keys}{p256dh}, '... its keys replaced');
    ok(!flags($x)->{$x}, '... and its flag row is gone');

    ($code, $ans) = $post->($orph->{$y}{user}, {
        endpoint => $orph->{$y}{sub}{endpoint}, expirationTime => undef,
        keys => $orph->{$y}{sub}{keys} });
    is("$code " . (ref $ans ? ($ans->{id} // '') : $ans), "200 $y",
       'c: another orphaned endpoint posted with identical keys: 200');
    ok(flags($y)->{$y}, '... its flag row stays');
}

# ---- f. a mismatch before the evidence: circuit, then closed by a 2xx ------
{
    my @eu = ("u25e-$run");
    my $good = spread([subscribe_many($E, 1, applicationServerKey => $our,
                                      behaviour => { delay_ms => 800,
                                                     times => 1 })], \@eu);
    my $bad = spread([subscribe_many($E, 2, applicationServerKey => $old)],
                     \@eu);
    my $j = enqueue($prefix, job_json(to => { userId => $eu[0] }));
    my $circ = wait_for(sub { rget("${prefix}circuit:$aud{E}") }, 0.7);
    like($circ, qr/403.*VapidPkHashMismatch/s,
         'f: no evidence yet: the first mismatch answers open the circuit');
    my $l = wait_log($j, 15);
    is($l && "$l->{sentCount}/$l->{failedCount}", '1/2',
       'f: then the 2xx arrives: 1 sent, 2 failed');
    my $f = flags(keys %$bad);
    is(scalar(grep { $f->{$_} && $f->{$_}[0] eq $our } keys %$bad), 2,
       'f: the two retried after the 2xx are flagged');
    is(rexists("${prefix}circuit:$aud{E}"), 0, 'f: circuit key deleted');
    like(sender_log(), qr/"msg":"push service took our VAPID key: circuit closed[^\n]*"aud":"\Q$aud{E}\E"/,
         'f: logged: the 2xx closed the circuit');
    is(rget("${prefix}keyok:$aud{E}"), $our, 'f: keyok set');
    is(n_enabled(keys %$good, keys %$bad), 3, 'f: all enabled');
}

# ---- d. no evidence; e. evidence from another sender -----------------------
{
    my ($ub, $uc, $ud) = map { "u25$_-$run" } qw(b c d);
    my $sb = spread([subscribe_many($B, 4, applicationServerKey => $old)], [$ub]);
    my $sc = spread([subscribe_many($C, 3, applicationServerKey => $old)], [$uc]);
    my $sd = spread([subscribe_many($D, 2, applicationServerKey => $old)], [$ud]);
    redis('SET', "${prefix}keyok:$aud{C}", $our);          # another sender
    redis('SET', "${prefix}keyok:$aud{D}", $old);          # another key
    my ($jb, $jc, $jd) = map { enqueue($prefix, job_json(to => { userId => $_ }))
                             } $ub, $uc, $ud;

    my $cb = wait_for(sub { rget("${prefix}circuit:$aud{B}") }, 10);
    like($cb, qr/403/, 'd: no evidence: the circuit opens for the origin'
                       . ' (shared key, with the 403)');
    like(sender_log(), qr/"level":"error"[^\n]*refused our VAPID credentials: circuit open[^\n]*"aud":"\Q$aud{B}\E"/,
         'd: logged as a configuration error');
    is(scalar keys %{ flags(keys %$sb) }, 0, 'd: nothing flagged');
    is(n_enabled(keys %$sb), 4, 'd: all 4 enabled');
    is(rexists("${prefix}keyok:$aud{B}"), 0, 'd: no keyok key for the origin');

    my $lc = wait_log($jc, 15);
    is($lc && "$lc->{sentCount}/$lc->{failedCount}", '0/3',
       'e: keyok = our key (another sender\'s evidence): failedCount 3');
    my $fc = flags(keys %$sc);
    is(scalar(grep { $fc->{$_} && $fc->{$_}[0] eq $our
                     && $fc->{$_}[1] =~ /VapidPkHashMismatch/ } keys %$sc), 3,
       'e: all 3 flagged');
    is(requests($C, $_->{id}), 1, "e: $_->{id}: asked once, no retry")
        for values %$sc;
    is(rexists("${prefix}circuit:$aud{C}"), 0, 'e: no circuit key');
    is(n_enabled(keys %$sc), 3, 'e: all 3 enabled');

    my $cd = wait_for(sub { rget("${prefix}circuit:$aud{D}") }, 10);
    like($cd, qr/403/, 'e: keyok holding another key is no evidence:'
                       . ' circuit opens');
    is(scalar keys %{ flags(keys %$sd) }, 0, '... nothing flagged');
    is(rget("${prefix}keyok:$aud{D}"), $old, '... keyok left as it was');

    # the retries end as ordinary failures, still never flagged
    my ($lb, $ld) = map { wait_log($_, 15) } $jb, $jd;
    is($lb && "$lb->{sentCount}/$lb->{failedCount}", '0/4',
       'd: the job ends failed (4) once the attempts ran out');
    is($ld && "$ld->{sentCount}/$ld->{failedCount}", '0/2',
       'e: the keyok-other-key job ends failed (2)');
    is(scalar keys %{ flags(keys %$sb, keys %$sd) }, 0,
       'd, e: still nothing flagged after the retries');
    is(n_enabled(keys %$sb, keys %$sd), 6, 'd, e: all still enabled');
}

my ($st) = stop_sender($snd);
is($st, 0, 'sender exits 0 on SIGTERM');
stop_nginx();

unless (Test::More->builder->is_passing) {
    my @l = split /\n/, sender_log();
    splice(@l, 0, @l - 80) if @l > 80;
    diag("sender log (last lines):\n" . join("\n", @l));
}
diag(sprintf('run time %.1f s', time() - $T0));

done_testing();

# ---- our nginx (the stack's has the default allow-list) --------------------

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1, ReuseAddr => 1) or return;
    my $p = $s->sockport;
    close $s;
    return $p;
}

# One nginx process (master_process off), plain HTTP, only the subscribe
# route; returns its port once it answers.
sub start_nginx {
    my ($bin, $module, $allow) = @_;
    my $dir = tmpdir() . '/nginx';
    make_path(map { "$dir/$_" } qw(conf logs tmp/body tmp/proxy tmp/fastcgi
                                   tmp/uwsgi tmp/scgi));
    my $port = free_port() or return;
    open(my $c, '>', "$dir/conf/nginx.conf") or die;
    print $c <<"EOC";
load_module $module;
daemon off;
master_process off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log info;
env VAPID_PUBLIC_KEY;
env DATABASE_URL;
env REDIS_URL;
env JWT_SECRET;
events { worker_connections 64; }
http {
    access_log $dir/logs/access.log;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path       $dir/tmp/proxy;
    fastcgi_temp_path     $dir/tmp/fastcgi;
    uwsgi_temp_path       $dir/tmp/uwsgi;
    scgi_temp_path        $dir/tmp/scgi;
    webpush_vapid_public_key env:VAPID_PUBLIC_KEY;
    webpush_postgres env:DATABASE_URL;
    webpush_redis env;
    webpush_jwt_secret env:JWT_SECRET;
    webpush_allowed_endpoints '$allow';
    server {
        listen 127.0.0.1:$port;
        location = /api/push/subscribe { webpush_subscribe; }
    }
}
EOC
    close $c;
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open(STDOUT, '>>', "$dir/logs/start.log") or die;
        open(STDERR, '>&', \*STDOUT) or die;
        exec($bin, '-p', "$dir/", '-c', "$dir/conf/nginx.conf", '-e',
             "$dir/logs/error.log") or die "exec: $!";
    }
    $nginx = { pid => $pid, dir => $dir };
    my $http = HTTP::Tiny->new(timeout => 2);
    for (1 .. 100) {
        if (waitpid($pid, WNOHANG) == $pid) {
            diag("nginx exited:\n" . slurp("$dir/logs/start.log"));
            delete $nginx->{pid};
            return;
        }
        my $r = $http->get("http://127.0.0.1:$port/api/push/subscribe");
        return $port if $r->{status} != 599;
        sleep 0.05;
    }
    return;
}

sub stop_nginx {
    return unless $nginx && $nginx->{pid};
    kill 'QUIT', $nginx->{pid};
    for (1 .. 100) {
        if (waitpid($nginx->{pid}, WNOHANG) == $nginx->{pid}) {
            delete $nginx->{pid};
            return;
        }
        sleep 0.05;
    }
    kill 'KILL', $nginx->{pid};
    waitpid($nginx->{pid}, 0);
    delete $nginx->{pid};
}

END {
    local $?;
    if ($nginx && $nginx->{pid}) {
        kill 'KILL', $nginx->{pid};
        waitpid($nginx->{pid}, 0);
    }
}
