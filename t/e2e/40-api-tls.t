#!/usr/bin/perl
# The application routes on the stack's nginx: over TLS, with HTTP/2 and
# HTTP/1.1 (curl), as `make run` serves them (util/nginx.conf.in).
# Subscribe, topics, unsubscribe, send and metrics end to end, and the
# HTTP/2 flood trap: many refused request bodies on one connection must
# all be answered on that same connection (bodies read or discarded).
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64);

plan skip_all => 'API_URL/JWT_SECRET not set (source the stack dev.env)'
    unless $ENV{API_URL} && $ENV{JWT_SECRET} && $ENV{API_CA_FILE};
plan skip_all => 'curl without HTTP/2'
    unless `curl -V 2>/dev/null` =~ /HTTP2/;

my $api  = $ENV{API_URL};
my $json = JSON::PP->new->canonical;
my $tmp  = tempdir(CLEANUP => 1);
my $tag  = "e2e40-$$";
my $endpoint = "https://fcm.googleapis.com/fcm/send/$tag";

sub b64url {
    my $s = encode_base64(shift, '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

sub jwt {
    my %c = (exp => time + 600, @_);
    my $s = b64url('{"alg":"HS256","typ":"JWT"}') . '.' . b64url($json->encode(\%c));
    return "$s." . b64url(hmac_sha256($s, $ENV{JWT_SECRET}));
}

my $user  = jwt(sub => "user-$tag");
my $admin = jwt(sub => "ops-$tag", role => 'admin');

# curl; returns (status, body, extra -w fields...).
sub curl {
    my ($proto, $method, $path, %o) = @_;
    my $bodyfile = "$tmp/body";
    my @cmd = ('curl', '-s', $proto, '--cacert', $ENV{API_CA_FILE},
               '-o', $bodyfile, '-w', '%{http_code}', '-X', $method);
    push @cmd, '-H', "Authorization: Bearer $o{token}" if $o{token};
    push @cmd, '-H', 'Content-Type: application/json' if defined $o{data};
    push @cmd, '--data-binary', $o{data} if defined $o{data};
    push @cmd, "$api$path";
    open(my $fh, '-|', @cmd) or die "curl: $!";
    my $code = <$fh> // '';
    close $fh;
    open(my $b, '<', $bodyfile) or return ($code, '');
    local $/;
    my $body = <$b> // '';
    return ($code, $body);
}

sub psql {
    my $sql = shift;
    open(my $fh, '-|', 'psql', '-X', '-q', '-At', $ENV{DATABASE_URL}, '-c', $sql)
        or die "psql: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    $out =~ s/\s+\z//;
    return $out;
}

my $sub = $json->encode({
    endpoint => $endpoint,
    keys => { p256dh => $ENV{VAPID_PUBLIC_KEY}, auth => b64url('0123456789abcdef') },
    topics => ['event:e2e40'],
});

for my $proto ('--http2', '--http1.1') {
    my ($code, $body);

    ($code, $body) = curl($proto, 'GET', '/api/push/vapid-public-key');
    is($code, 200, "$proto: key");
    like($body, qr/"publicKey":"\Q$ENV{VAPID_PUBLIC_KEY}\E"/, "$proto: key body");

    ($code, $body) = curl($proto, 'POST', '/api/push/subscribe', token => $user, data => $sub);
    like($code, qr/^20[01]$/, "$proto: subscribe");
    my ($id) = $body =~ /"id":"([^"]+)"/;
    ok($id, "$proto: row id");
    is(psql(qq{SELECT "userId" FROM "PushSubscription" WHERE "id" = '$id'}),
       "user-$tag", "$proto: row stored");

    ($code, $body) = curl($proto, 'PUT', '/api/push/topics', token => $user,
                          data => $json->encode({endpoint => $endpoint, topics => ['event:a', 'event:b']}));
    is($code, 200, "$proto: topics");
    like($body, qr/"topics":\["event:a","event:b"\]/, "$proto: topics body");

    ($code, $body) = curl($proto, 'POST', '/api/push/send', token => $user,
                          data => '{"type":"t","to":{"all":true},"payload":{}}');
    is($code, 403, "$proto: a user may not send");

    ($code, $body) = curl($proto, 'POST', '/api/push/send', token => $admin,
                          data => $json->encode({type => 'e2e', to => {userId => "nobody-$tag"},
                                                 payload => {title => 'x'}}));
    is($code, 202, "$proto: send");
    like($body, qr/^\{"jobId":"[0-9a-f-]{36}"\}$/, "$proto: job id");

    ($code, $body) = curl($proto, 'POST', '/api/push/send', token => $admin,
                          data => '{"type":"t","to":{"all":true},"payload":{"d":"' . ('x' x 4000) . '"}}');
    is($code, 413, "$proto: payload too large");
    like($body, qr/"code":"payload_too_large"/, "$proto: 413 body");

    ($code, $body) = curl($proto, 'POST', '/api/push/subscribe', token => $user,
                          data => 'x' x (100 * 1024));
    is($code, 413, "$proto: body over client_max_body_size");
    like($body, qr/^\{"error":\{"code":"body_too_large"/, "$proto: 413 is JSON");

    ($code, $body) = curl($proto, 'DELETE', '/api/push/subscribe', token => $user,
                          data => $json->encode({endpoint => $endpoint}));
    is($code, 204, "$proto: unsubscribe");
    is(psql(qq{SELECT count(*) FROM "PushSubscription" WHERE "id" = '$id'}), 0,
       "$proto: row gone");

    ($code, $body) = curl($proto, 'GET', '/api/push/metrics');
    is($code, 200, "$proto: metrics");
    like($body, qr/^webpush_http_requests_total\{route="subscribe",status="204"\} \d+$/m,
         "$proto: counted");
}

# The flood trap: 60 POSTs with 8 KiB bodies that are all refused, on one
# HTTP/2 connection.  curl reuses the connection for every URL; a reset
# would show as a new connect or a 000.
my @args = ('curl', '-s');
my $big = "$tmp/big";
open(my $f, '>', $big) or die;
print $f 'y' x 8192;
close $f;
for my $i (1 .. 60) {
    my $path = ('/api/push/vapid-public-key', '/api/push/send',
                '/api/push/subscribe')[$i % 3];
    # options are per URL after --next
    push @args, '--http2', '--cacert', $ENV{API_CA_FILE},
                '-H', 'Content-Type: application/json',
                '-X', 'POST', '--data-binary', "\@$big", '-o', '/dev/null',
                '-w', '%{http_code} %{num_connects}\n', "$api$path";
    push @args, '--next' if $i < 60;
}
open(my $fh, '-|', @args) or die;
my @lines = <$fh>;
close $fh;
is(scalar @lines, 60, 'flood: 60 answers');
my @codes = map { (split ' ')[0] } @lines;
my $connects = 0;
$connects += (split ' ')[1] for @lines;
is_deeply([sort { $a <=> $b } keys %{{ map { $_ => 1 } @codes }}], [401, 405],
          'flood: every request answered (401 without a token, 405)');
ok($connects <= 1, "flood: one connection for all ($connects connects)");

psql(qq{DELETE FROM "PushSubscription" WHERE "endpoint" = '$endpoint'});

done_testing();
