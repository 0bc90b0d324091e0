# Helpers for the webpush-sender end-to-end tests (t/e2e/2*.t): a mock
# push service (t/mock), subscriptions in PostgreSQL, jobs in Redis, and
# webpush-sender processes of our own on a private queue prefix, so the
# stack's sender (prefix "{webpush}:") never sees them.
package SenderTest;
use strict;
use warnings;
use Exporter 'import';
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

our @EXPORT = qw(need_stack tmpdir start_mock mock_api subscribe subscribe_many
    mock_messages msgs_by_sub add_subs psql redis enqueue job_json
    start_sender stop_sender wait_for wait_log slurp uid now_ms $JSON
    sender_bin mock_stats start_mocks refuses_to_start tally_subs);

our $JSON = JSON::PP->new->utf8->canonical;
my $python = '/usr/bin/python3';
my $top    = $ENV{WEBPUSH_TOP}   || '.';
my $build  = $ENV{WEBPUSH_BUILD} || "$top/build";
my $tmp    = tempdir(CLEANUP => !$ENV{SENDER_TEST_KEEP});
my (%children, %http);
my $seq = 0;

# Skip the file unless the stack, the sender and python3-h2 are there.
sub need_stack {
    Test::More::plan(skip_all => 'stack env not set (DATABASE_URL, VAPID_*)')
        unless $ENV{DATABASE_URL} && $ENV{VAPID_PUBLIC_KEY};
    Test::More::plan(skip_all => 'webpush-sender not built')
        unless -x sender_bin();
    Test::More::plan(skip_all => 'python3-h2 missing')
        unless system('/usr/bin/python3', '-c', 'import h2, cryptography')
               == 0;
}

sub tmpdir { $tmp }
sub sender_bin { "$build/webpush-sender" }
sub now_ms { int(time() * 1000) }
sub uid { sprintf('t%d-%d-%d', $$, int(time() * 1000), ++$seq) }

sub slurp {
    open(my $f, '<', $_[0]) or return '';
    local $/;
    my $t = <$f>;
    return defined $t ? $t : '';
}

END {
    local $?;          # waitpid must not change the exit status
    for my $pid (keys %children) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
    }
}

sub certs {
    return if -s "$tmp/cert.pem";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open(STDOUT, '>', '/dev/null');
        open(STDERR, '>', '/dev/null');
        exec('openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
             'ec_paramgen_curve:P-256', '-subj', '/CN=127.0.0.1', '-addext',
             'subjectAltName=IP:127.0.0.1', '-nodes', '-days', '1', '-keyout',
             "$tmp/key.pem", '-out', "$tmp/cert.pem") or exit 127;
    }
    waitpid($pid, 0);
    $? == 0
        or die 'openssl req failed';
}

# Start a mock push service; returns its port.
sub start_mock {
    my ($name, @extra) = @_;
    return (start_mocks([$name, @extra]))[0];
}

# Start several mock push services at once (their start-up overlaps):
# ([name, @extra], ...); returns their ports in the same order.
sub start_mocks {
    my (@specs) = @_;
    certs();
    my @run;
    for my $spec (@specs) {
        my ($name, @extra) = @$spec;
        my $ready = "$tmp/$name.port";
        my $pid = fork() // die "fork: $!";
        if ($pid == 0) {
            open(STDOUT, '>', "$tmp/$name.log") or die;
            open(STDERR, '>&', \*STDOUT) or die;
            exec($python, "$top/t/mock/pushservice.py", '--port', 0, '--cert',
                 "$tmp/cert.pem", '--key', "$tmp/key.pem", '--ready-file',
                 $ready, @extra) or die "exec: $!";
        }
        $children{$pid} = 1;
        push @run, [$name, $pid, $ready];
    }
    my @ports;
    for my $r (@run) {
        my ($name, $pid, $ready) = @$r;
        my $port;
        for (1 .. 200) {
            if (-s $ready) {
                $port = (slurp($ready) =~ /^(\d+)/)[0];
                last;
            }
            die "mock exited:\n" . slurp("$tmp/$name.log")
                if waitpid($pid, WNOHANG) == $pid;
            sleep 0.1;
        }
        die "mock $name did not start" unless $port;
        push @ports, $port;
    }
    return @ports;
}

# The mock's inspection API over one keep-alive connection per port.
sub mock_api {
    my ($port, $method, $path, $body) = @_;
    certs();
    $http{$port} ||= HTTP::Tiny->new(keep_alive => 1, timeout => 30,
        verify_SSL => 1, SSL_options => { SSL_ca_file => "$tmp/cert.pem" });
    my $r = $http{$port}->request($method, "https://127.0.0.1:$port$path",
        defined $body ? { content => $body,
                          headers => { 'content-type' => 'application/json' } }
                      : {});
    my $obj = eval { $JSON->decode($r->{content}) };
    return ($r->{status}, $obj // $r->{content});
}

# A mock subscription: (toJSON hash, id).
sub subscribe {
    my ($port, %opts) = @_;
    my ($code, $sub) = mock_api($port, 'POST', '/_mock/subscriptions',
                                $JSON->encode(\%opts));
    die "subscribe: $code" unless $code == 201;
    my ($id) = $sub->{endpoint} =~ m{/push/([^/]+)$};
    return ($sub, $id);
}

# n subscriptions in one go: Python's http.client sends headers and body
# in one write (HTTP::Tiny's two writes meet Nagle + delayed ACK: 40 ms each).
my $bulk_py = <<'PY';
import http.client, json, ssl, sys
port, n, cafile, opts = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
c = http.client.HTTPSConnection("127.0.0.1", port,
        context=ssl.create_default_context(cafile=cafile))
out = []
for _ in range(n):
    c.request("POST", "/_mock/subscriptions", body=opts.encode(),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    out.append(json.loads(r.read()))
print(json.dumps(out))
PY

sub subscribe_many {
    my ($port, $n, %opts) = @_;
    certs();
    open(my $p, '-|', $python, '-c', $bulk_py, $port, $n, "$tmp/cert.pem",
         $JSON->encode(\%opts)) or die "python: $!";
    local $/;
    my $subs = $JSON->decode(<$p>);
    close $p;
    return map { my ($id) = $_->{endpoint} =~ m{/push/([^/]+)$}; [$_, $id] }
           @$subs;
}

sub mock_messages {
    my ($port, $id, $all) = @_;
    my $q = join('&', ($id ? "sub=$id" : ()), ($all ? 'all=1' : ()));
    my (undef, $m) = mock_api($port, 'GET', "/_mock/messages?$q");
    return $m->{messages};
}

sub mock_stats {
    my (undef, $s) = mock_api($_[0], 'GET', '/_mock/stats');
    return $s;
}

# Accepted messages per mock subscription id.
sub msgs_by_sub {
    my ($port) = @_;
    my %n;
    $n{$_->{sub}}++ for @{ mock_messages($port) };
    return \%n;
}

# (missing, duplicates): of the mock subscriptions @$subs at $port, how
# many got no message, and how many messages beyond one the others got.
sub tally_subs {
    my ($port, $subs) = @_;
    my $n = msgs_by_sub($port);
    my ($missing, $dups) = (0, 0);
    for (@$subs) {
        my $c = $n->{ $_->[1] } // 0;
        $missing++ if $c == 0;
        $dups += $c - 1 if $c > 1;
    }
    return ($missing, $dups);
}

sub psql {
    my ($sql, $url) = @_;
    open(my $p, '-|', 'psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1',
         '-d', $url // $ENV{DATABASE_URL}, '-c', $sql) or die "psql: $!";
    local $/;
    my $out = <$p> // '';
    close $p;
    $out =~ s/\s+\z//;
    return $out;
}

# Insert subscriptions: list of [toJSON, mock id], user id, topic (opt).
# Returns the database ids (= "s-<mock id>").
sub add_subs {
    my ($subs, $user, $topic, $url) = @_;
    my (@rows, @ids);
    for my $s (@$subs) {
        my ($sub, $id) = @$s;
        push @ids, "s-$id";
        push @rows, sprintf("('s-%s', '%s', '%s', '%s', '%s')", $id, $user,
                            $sub->{endpoint}, $sub->{keys}{p256dh},
                            $sub->{keys}{auth});
    }
    my $sql = 'INSERT INTO "PushSubscription" ("id", "userId", "endpoint",'
            . ' "p256dh", "auth") VALUES ' . join(',', @rows) . ';';
    if (defined $topic) {
        $sql .= 'INSERT INTO "PushSubscriptionTopic" ("subscriptionId",'
              . ' "topic") VALUES '
              . join(',', map { "('$_', '$topic')" } @ids) . ';';
    }
    psql($sql, $url);
    return @ids;
}

sub redis {
    my (@args) = @_;
    my $url = $ENV{REDIS_URL} // "redis://127.0.0.1:$ENV{REDIS_PORT}";
    open(my $p, '-|', 'redis-cli', '-u', $url, '--no-raw', @args)
        or die "redis-cli: $!";
    local $/;
    my $out = <$p> // '';
    close $p;
    $out =~ s/\s+\z//;
    return $out;
}

sub redis_raw {
    my ($url, @args) = @_;
    my $p;
    my $pid = open($p, '-|') // die "fork: $!";
    if ($pid == 0) {
        open(STDERR, '>', '/dev/null');   # "Could not connect" while down
        exec('redis-cli', '-u', $url, @args) or exit 127;
    }
    local $/;
    my $out = <$p> // '';
    close $p;
    $out =~ s/\s+\z//;
    return $out;
}

# Canonical job JSON (lib/sendreq.h).
sub job_json {
    my (%j) = @_;
    my %job = (v => 1, id => $j{id} // uid(), type => $j{type} // 'test',
               to => $j{to}, payload => $j{payload} // { title => 'hi' },
               ttl => $j{ttl} // 3600, createdAt => $j{createdAt} // now_ms());
    for (qw(eventId urgency topic sendAt)) {
        $job{$_} = $j{$_} if defined $j{$_};
    }
    return \%job;
}

# XADD a job to <prefix>jobs; returns its id.
sub enqueue {
    my ($prefix, $job, $url) = @_;
    my @cmd = ("${prefix}jobs", '*', 'job', $JSON->encode($job));
    if ($url) {
        redis_raw($url, 'XADD', @cmd);
    } else {
        redis('XADD', @cmd);
    }
    return $job->{id};
}

# Start webpush-sender with the environment plus %$env; returns
# { pid, log }.
sub start_sender {
    my ($name, %env) = @_;
    my $log = "$tmp/sender-$name.log";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        $ENV{LOG_LEVEL} = 'info';
        $ENV{WEBPUSH_CA_FILE} = "$tmp/cert.pem";
        $ENV{WEBPUSH_CONSUMER} = $name;
        $ENV{PUSH_RETRY_DELAY} = 100;
        for my $k (keys %env) {
            if (defined $env{$k}) { $ENV{$k} = $env{$k} }
            else { delete $ENV{$k} }
        }
        open(STDOUT, '>>', $log) or die;
        open(STDERR, '>&', \*STDOUT) or die;
        exec(sender_bin()) or die "exec: $!";
    }
    $children{$pid} = 1;
    return { pid => $pid, log => $log, name => $name };
}

# A sender started with one bad variable (name => value, among %env) must
# exit 78 (EX_CONFIG) at once, with a message naming the variable: two
# checks, named by $label.
sub refuses_to_start {
    my ($label, $var, %env) = @_;
    my $s = start_sender("bad-$$-" . ++$seq, %env);
    my ($st) = stop_sender($s, 'ZERO', 10);
    Test::More::is($st >> 8, 78, "$label: $var=$env{$var}: exit 78");
    Test::More::like(slurp($s->{log}), qr/\Q$var\E/,
                     '... with a message naming the variable');
}

# SIGTERM (or $sig) and wait; returns (exit status, seconds taken).
sub stop_sender {
    my ($s, $sig, $timeout) = @_;
    my $t0 = time();
    kill($sig // 'TERM', $s->{pid});
    $timeout //= 30;
    while (time() - $t0 < $timeout) {
        if (waitpid($s->{pid}, WNOHANG) == $s->{pid}) {
            delete $children{$s->{pid}};
            return ($?, time() - $t0);
        }
        sleep 0.05;
    }
    kill 'KILL', $s->{pid};
    waitpid($s->{pid}, 0);
    delete $children{$s->{pid}};
    return (-1, time() - $t0);
}

# Poll $cond->() until true or $timeout seconds; returns its last value.
sub wait_for {
    my ($cond, $timeout) = @_;
    my $t0 = time();
    my $v;
    while (1) {
        $v = $cond->();
        return $v if $v || time() - $t0 > ($timeout // 20);
        sleep 0.1;
    }
}

# The NotificationLog row of a job as a hash (undef after the timeout).
sub wait_log {
    my ($id, $timeout, $url) = @_;
    my $row = wait_for(sub {
        psql(qq{SELECT row_to_json(n) FROM "NotificationLog" n WHERE id = '$id'},
             $url)
    }, $timeout // 20);
    return $row ? $JSON->decode($row) : undef;
}

1;
