#!/usr/bin/perl
# webpush-cli send-test against the mock push service (t/mock), which
# decrypts every body and verifies VAPID with its own Python code.  Uses
# the stack's VAPID keys (dev.env sourced); starts its own mock on a free
# port with a fresh self-signed certificate.  Checks the happy path over
# HTTP/2 and HTTP/1.1, every refusal path and its exit code, and that the
# mock itself rejects bad requests (so a 201 from it means something).
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep);

my $python = '/usr/bin/python3';
my $top    = $ENV{WEBPUSH_TOP}   || '.';
my $build  = $ENV{WEBPUSH_BUILD} || "$top/build";
my $cli    = "$build/webpush-cli";
my $mock   = "$top/t/mock/pushservice.py";
my $client = "$top/t/mock/pushclient.py";

plan skip_all => 'VAPID_PUBLIC_KEY/VAPID_PRIVATE_KEY not set (source the stack dev.env)'
    unless $ENV{VAPID_PUBLIC_KEY} && $ENV{VAPID_PRIVATE_KEY};
plan skip_all => "$cli not built" unless -x $cli;
plan skip_all => 'python3-h2 / python3-cryptography missing'
    unless system($python, '-c', 'import h2, cryptography') == 0;

my $tmp  = tempdir(CLEANUP => 1);
my $json = JSON::PP->new->utf8->canonical;
my $priv = $ENV{VAPID_PRIVATE_KEY};
my $subject = $ENV{VAPID_SUBJECT} || 'mailto:ops@example.com';
my %mocks;                      # pid => 1, killed at the end
my @outputs;                    # every cli output, checked for the secret

END {
    for my $pid (keys %mocks) {
        kill 'TERM', $pid;
        waitpid($pid, 0);
    }
}

# ---- helpers ------------------------------------------------------------

sub slurp {
    open(my $f, '<', $_[0]) or return '';
    local $/;
    my $t = <$f>;
    return defined $t ? $t : '';
}

# Start a mock; returns its port.  @extra: more pushservice.py options.
sub start_mock {
    my ($name, @extra) = @_;
    my $ready = "$tmp/$name.port";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open(STDOUT, '>', "$tmp/$name.log") or die;
        open(STDERR, '>&', \*STDOUT) or die;
        exec($python, $mock, '--port', 0, '--cert', "$tmp/cert.pem",
             '--key', "$tmp/key.pem", '--ready-file', $ready, @extra)
            or die "exec: $!";
    }
    $mocks{$pid} = 1;
    for (1 .. 100) {
        return (slurp($ready) =~ /^(\d+)/)[0] if -s $ready;
        die "mock exited:\n" . slurp("$tmp/$name.log")
            if waitpid($pid, WNOHANG) == $pid;
        sleep 0.1;
    }
    die "mock did not start:\n" . slurp("$tmp/$name.log");
}

# curl to the mock's inspection API; returns (HTTP status, decoded body).
sub api {
    my ($port, $method, $path, $body) = @_;
    my @cmd = ('curl', '-s', '--cacert', "$tmp/cert.pem", '-X', $method,
               '-o', "$tmp/api.out", '-w', '%{http_code}',
               "https://127.0.0.1:$port$path");
    push @cmd, '-H', 'Content-Type: application/json', '--data-binary', $body
        if defined $body;
    open(my $p, '-|', @cmd) or die "curl: $!";
    my $code = <$p>;
    close $p;
    my $text = slurp("$tmp/api.out");
    my $obj = eval { $json->decode($text) };
    return ($code + 0, $obj // $text);
}

# Register a subscription; returns (toJSON() text, id).
sub subscribe {
    my ($port, %opts) = @_;
    my ($code, $sub) = api($port, 'POST', '/_mock/subscriptions',
                           $json->encode(\%opts));
    die "subscribe: $code" unless $code == 201;
    my ($id) = $sub->{endpoint} =~ m{/push/([^/]+)$};
    return ($json->encode($sub), $id);
}

sub messages {
    my ($port, $id, $all) = @_;
    my (undef, $m) = api($port, 'GET', "/_mock/messages?sub=$id"
                                       . ($all ? '&all=1' : ''));
    return $m->{messages};
}

sub push_count {
    my (undef, $s) = api($_[0], 'GET', '/_mock/stats');
    return $s->{push_requests};
}

# Run a program with %$env overriding the environment (undef deletes);
# returns (exit code, stdout, stderr).
sub run {
    my ($env, @cmd) = @_;
    local %ENV = %ENV;
    for my $k (keys %$env) {
        if (defined $env->{$k}) { $ENV{$k} = $env->{$k} } else { delete $ENV{$k} }
    }
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open(STDOUT, '>', "$tmp/out") or die;
        open(STDERR, '>', "$tmp/err") or die;
        exec(@cmd) or die "exec $cmd[0]: $!";
    }
    waitpid($pid, 0);
    my @r = ($? >> 8, slurp("$tmp/out"), slurp("$tmp/err"));
    push @outputs, $r[1] . $r[2];
    return @r;
}

# ---- setup --------------------------------------------------------------

my ($rc, $out, $err) = run({}, 'openssl', 'req', '-x509', '-newkey', 'ec',
    '-pkeyopt', 'ec_paramgen_curve:P-256', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-nodes', '-days', '1',
    '-keyout', "$tmp/key.pem", '-out', "$tmp/cert.pem");
$rc == 0 or die "openssl req failed: $err";

($rc, $out, $err) = run({}, $python, $mock, '--self-test');
is($rc, 0, 'mock crypto passes the RFC 8291 / RFC 8292 vectors');

my $port   = start_mock('h2');
my $origin = "https://127.0.0.1:$port";
my %env    = (WEBPUSH_CA_FILE => "$tmp/cert.pem",
              WEBPUSH_ALLOWED_ENDPOINTS => "127.0.0.1:$port",
              VAPID_SUBJECT => $subject);

sub send_test {
    my ($env, @args) = @_;
    return run({ %env, %$env }, $cli, 'send-test', @args);
}

# ---- the mock proves it checks ------------------------------------------

{
    my ($sub) = subscribe($port);
    my @c = ($python, $client, '--subscription', $sub, '--cafile',
             "$tmp/cert.pem", '--payload', 'from python');
    my %want = ('' => 201, 'no-ttl' => 400, 'bad-urgency' => 400,
                'long-topic' => 400, 'crypto-key' => 400,
                'corrupt-body' => 400, 'bad-delimiter' => 400,
                'big-body' => 413, 'no-auth' => 401, 'forge-jwt' => 403,
                'wrong-aud' => 403, 'expired' => 403, 'far-exp' => 403,
                'bad-sub' => 403);
    for my $b (sort keys %want) {
        my ($r, $o) = run({}, @c, $b ? ('--break', $b) : ());
        my ($status) = $o =~ /^(\d+)/;
        is($status, $want{$b},
           "mock answers $want{$b} to a " . ($b || 'correct') . ' request');
    }

    # plain curl, no TTL, no VAPID: the first check (TTL) answers
    my ($id) = $json->decode($sub)->{endpoint} =~ m{/push/(.+)$};
    my ($code, $body) = api($port, 'POST', "/push/$id", 'x');
    is($code, 400, 'curl without TTL: 400');
    is(ref $body && $body->{errno}, 111, '... autopush errno 111');
}

# ---- happy path, HTTP/2 --------------------------------------------------

my $payload = qq({"title":"Concert moved","body":"Now at 21:00 \x{2713} \\"late\\""});
utf8::encode($payload);
{
    my ($sub, $id) = subscribe($port,
                               applicationServerKey => $ENV{VAPID_PUBLIC_KEY});
    my ($r, $o, $e) = send_test({}, '--subscription', $sub,
                                '--payload', $payload);
    is($r, 0, 'send-test exits 0 on 201') or diag($e);
    like($o, qr{^HTTP/2 201}m, 'prints the status line (HTTP/2 201)');
    like($o, qr{^location: \Q$origin\E/m/}mi, 'prints the Location header');

    my $m = messages($port, $id);
    is(scalar @$m, 1, 'mock accepted exactly one message');
    my $got = $m->[0]{payload};
    utf8::encode($got);
    is($got, $payload, 'mock decrypted exactly the payload');
    is($m->[0]{vapid}{aud}, $origin, 'VAPID aud = push service origin');
    is($m->[0]{vapid}{sub}, $subject, 'VAPID sub = VAPID_SUBJECT');
    is($m->[0]{vapid}{k}, $ENV{VAPID_PUBLIC_KEY}, 'VAPID k = our public key');
    my $exp = $m->[0]{vapid}{exp} - time;
    ok($exp > 11 * 3600 && $exp <= 12 * 3600 + 60, 'VAPID exp about now + 12 h');
    is($m->[0]{protocol}, 'h2', 'delivered over HTTP/2');
    is($m->[0]{headers}{'content-encoding'}, 'aes128gcm', 'Content-Encoding');
    is($m->[0]{headers}{ttl}, $ENV{PUSH_TTL_DEFAULT} || 86400,
       'TTL defaults to PUSH_TTL_DEFAULT / 86400');

    ($r) = send_test({}, '--subscription', $sub, '--payload', 'x',
                     '--ttl', 60, '--urgency', 'high', '--topic', 'game-42_');
    is($r, 0, 'send-test with --ttl/--urgency/--topic');
    $m = messages($port, $id)->[-1];
    is_deeply([@{$m->{headers}}{qw(ttl urgency topic)}],
              [60, 'high', 'game-42_'], '... sent as TTL, Urgency, Topic');

    open(my $f, '>', "$tmp/sub.json") or die;
    print $f $sub;
    close $f;
    ($r) = send_test({}, '--subscription', "$tmp/sub.json", '--payload', 'f');
    is($r, 0, 'subscription from a file');
}

# ---- answers that are not 2xx --------------------------------------------

{
    # registered under another application server key
    my ($sub, $id) = subscribe($port, applicationServerKey =>
        'BGtkbcjrO12YMoDuq2sCQeHlu47uPx3SHTgFKZFYiBW8Qr0D9vgyZSZPdw6_4ZFEI9Snk1VEAj2qTYI1I1YxBXE');
    my ($r, $o) = send_test({}, '--subscription', $sub, '--payload', 'x');
    is($r, 1, 'wrong VAPID key: exit 1');
    like($o, qr{^HTTP/\S+ 403}m, '... 403 printed');
    like($o, qr/VapidPkHashMismatch/, '... with the reason');
    is(scalar @{messages($port, $id)}, 0, '... nothing accepted');

    ($sub) = subscribe($port, behaviour => { status => 410 });
    ($r, $o) = send_test({}, '--subscription', $sub, '--payload', 'x');
    is($r, 1, 'subscription gone: exit 1');
    like($o, qr{^HTTP/\S+ 410}m, '... 410 printed');

    ($sub) = subscribe($port, behaviour => { status => 429, times => 1,
                       retry_after => 60, retry_after_date => JSON::PP::true });
    ($r, $o) = send_test({}, '--subscription', $sub, '--payload', 'x');
    is($r, 1, '429: exit 1');
    like($o, qr/^retry-after: \w{3}, \d\d \w{3} \d{4} [\d:]{8} GMT/mi,
         '... Retry-After as an HTTP-date');
    like($o, qr/\(Retry-After: (5[5-9]|60) s\)/, '... parsed to seconds');
    ($r) = send_test({}, '--subscription', $sub, '--payload', 'x');
    is($r, 0, '... and the next try succeeds');

    ($sub) = subscribe($port, behaviour => { status => 503, retry_after => 7 });
    ($r, $o) = send_test({}, '--subscription', $sub, '--payload', 'x');
    is($r, 1, '503: exit 1');
    like($o, qr/\(Retry-After: 7 s\)/, '... delta-seconds Retry-After parsed');
}

# ---- refused before any request ------------------------------------------

{
    my ($sub, $id) = subscribe($port);
    my $before = push_count($port);

    my ($r, $o, $e) = send_test({}, '--subscription', $sub,
                                '--payload', 'a' x 3994);
    ok($r != 0, 'payload of 3994 bytes: refused');
    like($e, qr/3993/, '... saying the limit');
    ($r) = send_test({}, '--subscription', $sub, '--payload', 'a' x 3993);
    is($r, 0, 'payload of 3993 bytes: sent');
    is(messages($port, $id)->[-1]{payload}, 'a' x 3993, '... intact');
    $before++;

    ($r, $o, $e) = send_test({ WEBPUSH_ALLOWED_ENDPOINTS => undef },
                             '--subscription', $sub, '--payload', 'x');
    ok($r != 0, 'endpoint not on the allow-list: refused');
    like($e, qr/not an allowed push service/, '... saying why');

    ($r, $o, $e) = send_test({ WEBPUSH_CA_FILE => undef },
                             '--subscription', $sub, '--payload', 'x');
    is($r, 4, 'self-signed service without WEBPUSH_CA_FILE: exit 4');
    like($e, qr/certificate/i, '... TLS verification error');

    ($r, $o, $e) = send_test({ VAPID_PRIVATE_KEY => undef },
                             '--subscription', $sub, '--payload', 'x');
    is($r, 3, 'VAPID_PRIVATE_KEY missing: exit 3');
    like($e, qr/VAPID_PRIVATE_KEY/, '... naming the variable');

    ($r) = send_test({ VAPID_PUBLIC_KEY =>
        'BGtkbcjrO12YMoDuq2sCQeHlu47uPx3SHTgFKZFYiBW8Qr0D9vgyZSZPdw6_4ZFEI9Snk1VEAj2qTYI1I1YxBXE' },
        '--subscription', $sub, '--payload', 'x');
    is($r, 3, 'VAPID keys that are not a pair: exit 3');

    ($r, $o, $e) = send_test({}, '--subscription', $sub, '--payload', 'x',
                             '--urgency', 'urgent');
    is($r, 2, 'bad --urgency: exit 2');
    like($e, qr/--urgency/, '... naming the option');
    ($r) = send_test({}, '--subscription', $sub, '--payload', 'x',
                     '--topic', 'no:colons');
    is($r, 2, 'bad --topic: exit 2');
    ($r) = send_test({}, '--subscription', $sub, '--payload', 'x',
                     '--ttl', 'soon');
    is($r, 2, 'bad --ttl: exit 2');
    ($r) = send_test({}, '--subscription', '{"endpoint":"https://127.0.0.1:'
                     . $port . '/push/x"}', '--payload', 'x');
    is($r, 2, 'subscription without keys: exit 2');
    ($r) = send_test({}, '--payload', 'x');
    is($r, 2, 'no --subscription: exit 2');

    is(push_count($port), $before, 'none of these reached the push service');
}

# ---- timeout --------------------------------------------------------------

{
    my ($sub) = subscribe($port, behaviour => { delay_ms => 3000 });
    my ($r, $o, $e) = send_test({ WEBPUSH_REQUEST_TIMEOUT => 500 },
                                '--subscription', $sub, '--payload', 'x');
    is($r, 4, 'push service slower than the timeout: exit 4');
    like($e, qr/timed out/i, '... timed out');
}

# ---- HTTP/1.1 service -------------------------------------------------------

{
    my $p1 = start_mock('h1', '--http1-only');
    my ($sub, $id) = subscribe($p1,
                               applicationServerKey => $ENV{VAPID_PUBLIC_KEY});
    my ($r, $o) = send_test({ WEBPUSH_ALLOWED_ENDPOINTS => "127.0.0.1:$p1" },
                            '--subscription', $sub, '--payload', 'over h1');
    is($r, 0, 'HTTP/1.1-only service: exit 0');
    like($o, qr{^HTTP/1.1 201}m, '... HTTP/1.1 201');
    my $m = messages($p1, $id);
    is($m->[0]{payload}, 'over h1', '... decrypted');
    is($m->[0]{headers}{'content-length'}, length($m->[0]{payload}) + 103,
       '... Content-Length = 86 + payload + 1 + 16');
    ok(!exists $m->[0]{headers}{expect}, '... no Expect: 100-continue');
}

ok(!grep({ index($_, $priv) >= 0 } @outputs),
   'the VAPID private key never appears in any output');

done_testing();
