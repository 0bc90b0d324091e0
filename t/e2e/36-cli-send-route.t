#!/usr/bin/perl
# webpush-cli send and the module's POST /api/push/send write the same
# job: the same body through both (sendAt an hour ahead, so both wait in
# the stack's scheduled set and no sender takes them) gives identical job
# JSON but for id and createdAt; the cli follows the route's job; a bad
# body gets the same error code from both.
use strict;
use warnings;
use Test::More;
use FindBin;
require "$FindBin::Bin/30-cli-lib.pl";

our ($cli, $json, $tmp);

plan skip_all => 'API_URL/API_CA_FILE not set (source the stack dev.env)'
    unless $ENV{API_URL} && $ENV{API_CA_FILE} && $ENV{REDIS_PORT} && $ENV{JWT_SECRET};
plan skip_all => "$cli not built" unless -x $cli;

my $P = $ENV{WEBPUSH_QUEUE_PREFIX} || '{webpush}:';     # the module's
my (undef, $token) = cli({}, 'token', '--sub', 'ops36', '--role', 'admin');
chomp $token;

# POST the body to the route; returns (status, decoded answer).
sub route_send {
    my ($body) = @_;
    open(my $f, '>', "$tmp/body.json") or die; print $f $body; close $f;
    open(my $p, '-|', 'curl', '-s', '--cacert', $ENV{API_CA_FILE},
         '-o', "$tmp/route.out", '-w', '%{http_code}',
         '-H', "Authorization: Bearer $token",
         '-H', 'Content-Type: application/json',
         '--data-binary', "\@$tmp/body.json", "$ENV{API_URL}/api/push/send")
        or die "curl: $!";
    my $code = <$p>;
    close $p;
    my $text = slurp("$tmp/route.out");
    return ($code + 0, eval { $json->decode($text) } // $text);
}

sub scheduled_job {
    my ($id) = @_;
    for my $m (split /\n/, redis_raw('ZRANGE', "${P}scheduled", 0, -1)) {
        my $j = eval { $json->decode($m) } or next;
        return ($j, $m) if $j->{id} eq $id;
    }
    return;
}

my $at = int(time()) * 1000 + 3600_000;
my $body = $json->encode({ type => 'event_update', eventId => 'e36',
    to => { userIds => ['u36-1', 7, 'u36-1'] },
    payload => { title => "Moved \x{2713}", body => 'now', url => '/e/36' },
    ttl => 600, urgency => 'high', topic => 'e36t', sendAt => $at });

my ($code, $ans) = route_send($body);
SKIP: {
    skip "the send route answers $code here", 8 unless $code == 202;
    my $rid = ref $ans ? $ans->{jobId} : undef;
    ok($rid, 'the route answers 202 with a jobId');

    my ($rc, $out, $err) = run_env({ WEBPUSH_QUEUE_PREFIX => $P },
                                   [$cli, 'send', '--file', '-'], $body);
    is($rc, 0, 'webpush-cli send --file takes the same body') or diag($err);
    my ($cid) = $out =~ /^([0-9a-f-]{36})$/m;

    my ($rj, $rraw) = scheduled_job($rid);
    my ($cj, $craw) = scheduled_job($cid);
    ok($rj && $cj, 'both jobs wait in the scheduled set');
    for my $j ($rj, $cj) {
        next unless $j;
        delete $j->{id};
        delete $j->{createdAt};
    }
    is_deeply($cj, $rj, 'the same job JSON but for id and createdAt');
    is_deeply($cj && $cj->{to}, { userIds => ['u36-1', '7'] },
              '... (userIds deduplicated, numbers as strings, by both)');

    ($rc, $out) = cli({ WEBPUSH_QUEUE_PREFIX => $P }, 'job', $rid);
    is($rc, 0, 'webpush-cli job follows the route\'s job');
    like($out, qr/^state:\s+scheduled/m, '... scheduled');

    redis('ZREM', "${P}scheduled", $rraw, $craw);
    ok(!scheduled_job($rid) && !scheduled_job($cid), 'cleaned up');
}

# the same refusals, the same codes
my @bad = (
    '{"type":"x","to":{"all":true},"payload":{},"ttL":1}',
    '{"type":"x","to":{"all":true}}',
    '{"type":"x","to":{"all":true,"topic":"a"},"payload":{}}',
    '{"type":"x","to":{"userIds":[]},"payload":{}}',
    '{"type":"x","to":{"all":true},"payload":{},"urgency":"now"}',
    '{"type":"x","to":{"all":true},"payload":{},"topic":"abcde"}',
    '{"type":"x y","to":{"all":true},"payload":{}}',
    '{"type":"x","to":{"all":true},"payload":[]}',
    '{"type":"x","to":{"all":true},"payload":{},"sendAt":"soon"}',
    'not json',
);
for my $b (@bad) {
    my ($c, $a) = route_send($b);
    SKIP: {
        skip "the send route answers $c here", 2 unless ref $a && $a->{error};
        my ($rc, undef, $err) = run_env({ WEBPUSH_QUEUE_PREFIX => '{t36}:' },
                                        [$cli, 'send', '--file', '-'], $b);
        is($rc, 2, "cli refuses $b (exit 2)");
        like($err, qr/\(\Q$a->{error}{code}\E\); nothing queued/,
             "... with the route's code $a->{error}{code}");
    }
}
redis_clear('{t36}:');

done_testing();
