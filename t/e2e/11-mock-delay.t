#!/usr/bin/perl
# The mock push service's delay (t/mock/pushservice.py --delay-ms N,
# PUT /_mock/delay, a behaviour step's delay_ms): every push request is
# held N ms after it arrived without holding up the others, and the stats
# say how many were held at once and over how many connections.  Driven by
# t/mock/pushclient.py (its own encryption and VAPID), so it needs no
# stack.  Asserts on the mock's counters, never on wall-clock time.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep);

my $python = '/usr/bin/python3';
my $top    = $ENV{WEBPUSH_TOP} || '.';
my $mock   = "$top/t/mock/pushservice.py";
my $client = "$top/t/mock/pushclient.py";

plan skip_all => 'python3-h2 / python3-cryptography missing'
    unless system($python, '-c', 'import h2, cryptography') == 0;

my $tmp  = tempdir(CLEANUP => 1);
my $json = JSON::PP->new->utf8->canonical;
my $mock_pid;

END {
    if ($mock_pid) {
        kill 'TERM', $mock_pid;
        waitpid($mock_pid, 0);
    }
}

sub slurp {
    open(my $f, '<', $_[0]) or return '';
    local $/;
    my $t = <$f>;
    return defined $t ? $t : '';
}

# Run a command; returns (exit code, stdout).
sub run {
    my @cmd = @_;
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open(STDOUT, '>', "$tmp/out") or die;
        open(STDERR, '>', "$tmp/err") or die;
        exec(@cmd) or die "exec $cmd[0]: $!";
    }
    waitpid($pid, 0);
    return ($? >> 8, slurp("$tmp/out"));
}

# The mock's inspection API: (HTTP status, decoded JSON body).
my $port;
sub api {
    my ($method, $path, $body) = @_;
    my @cmd = ('curl', '-s', '--cacert', "$tmp/cert.pem", '-X', $method,
               '-o', "$tmp/api.out", '-w', '%{http_code}');
    push @cmd, '-H', 'Content-Type: application/json', '--data-binary', $body
        if defined $body;
    my (undef, $code) = run(@cmd, "https://127.0.0.1:$port$path");
    my $text = slurp("$tmp/api.out");
    return ($code + 0, eval { $json->decode($text) } // $text);
}

sub stats { return (api('GET', '/_mock/stats'))[1] }

# pushclient.py --count N [--h2]: the statuses, in request order.
sub push_many {
    my ($sub, $n, @opts) = @_;
    my ($rc, $out) = run($python, $client, '--subscription', $sub,
                         '--cafile', "$tmp/cert.pem", '--payload', 'held',
                         '--count', $n, @opts);
    return map { (split ' ', $_)[0] } grep { length } split /\n/, $out;
}

# ---- start ----------------------------------------------------------------

my ($rc) = run($python, $mock, '--delay-ms', '-1', '--port', 0);
isnt($rc, 0, '--delay-ms -1 is refused');

$mock_pid = fork() // die "fork: $!";
if ($mock_pid == 0) {
    open(STDOUT, '>', "$tmp/mock.log") or die;
    open(STDERR, '>&', \*STDOUT) or die;
    exec($python, $mock, '--port', 0, '--write-cert', "$tmp/cert.pem",
         '--ready-file', "$tmp/port", '--delay-ms', 200) or die "exec: $!";
}
for (1 .. 100) {
    last if -s "$tmp/port";
    die "mock exited:\n" . slurp("$tmp/mock.log")
        if waitpid($mock_pid, WNOHANG) == $mock_pid;
    sleep 0.1;
}
($port) = slurp("$tmp/port") =~ /^(\d+)/ or die "mock did not start";

my ($code, $sub) = api('POST', '/_mock/subscriptions', '{}');
is($code, 201, 'subscription created');
$sub = $json->encode($sub);

is(stats()->{delay_ms}, 200, 'stats report the delay given by --delay-ms');
is_deeply((api('GET', '/_mock/delay'))[1], { delay_ms => 200 },
          'GET /_mock/delay reports it too');

# ---- 20 streams on one HTTP/2 connection are held together ---------------

my @st = push_many($sub, 20, '--h2');
is(scalar(grep { $_ eq '201' } @st), 20, 'h2: 20 requests answered 201');
my $s = stats();
cmp_ok($s->{max_concurrent}, '>=', 20,
       'h2: all 20 were held at once (max_concurrent)');
is($s->{concurrent}, 0, 'none is held any more');
is_deeply($s->{push_connections_by_protocol}, { h2 => 1 },
          'h2: one connection carried them');
is_deeply([values %{ $s->{push_requests_by_conn} }], [20],
          'h2: push_requests_by_conn counts 20 on it');
my (undef, $m) = api('GET', '/_mock/messages');
is(scalar(grep { ($_->{payload} // '') eq 'held' && $_->{vapid} }
          @{ $m->{messages} }), 20,
   'every delayed request was decrypted and its VAPID verified');

# ---- HTTP/1.1: one request a connection, connections held together -------

api('POST', '/_mock/reset', '{"keep_subscriptions": true}');
@st = push_many($sub, 5);
is(scalar(grep { $_ eq '201' } @st), 5, 'http/1.1: 5 requests answered 201');
$s = stats();
cmp_ok($s->{max_concurrent}, '>=', 5,
       'http/1.1: the 5 connections were held at once');
is_deeply($s->{push_connections_by_protocol}, { 'http/1.1' => 5 },
          'http/1.1: 5 connections carried requests');
is_deeply([sort values %{ $s->{push_requests_by_conn} }], [1, 1, 1, 1, 1],
          'http/1.1: one request on each');

# ---- the delay at run time, and a behaviour step's own delay ---------------

($code) = api('PUT', '/_mock/delay', '{"delay_ms": -5}');
is($code, 400, 'PUT /_mock/delay refuses a negative delay');
($code, my $d) = api('PUT', '/_mock/delay', '{"delay_ms": 0}');
is($code, 200, 'PUT /_mock/delay');
is(stats()->{delay_ms}, 0, 'the delay is now 0');

my ($id) = $json->decode($sub)->{endpoint} =~ m{/push/([^/]+)$};
($code) = api('PUT', "/_mock/subscriptions/$id/behaviour",
              '{"delay_ms": 300, "times": 20}');
is($code, 200, 'behaviour with its own delay set');
api('POST', '/_mock/reset', '{"keep_subscriptions": true}');
@st = push_many($sub, 20, '--h2');
is(scalar(grep { $_ eq '201' } @st), 20, 'h2: 20 more answered 201');
cmp_ok(stats()->{max_concurrent}, '>=', 20,
       "a behaviour step's delay_ms holds requests the same way");

done_testing();
