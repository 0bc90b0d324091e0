# Helpers for the webpush-cli end-to-end tests (t/e2e/3*.t), required by
# each.  They run against the stack of util/test-all.sh (dev.env sourced):
# psql and redis-cli on its servers, the cli, a private webpush-sender with
# its own WEBPUSH_QUEUE_PREFIX, and the mock push service of t/mock.
use strict;
use warnings;
use File::Temp qw(tempdir);
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

our $top    = $ENV{WEBPUSH_TOP}   || '.';
our $build  = $ENV{WEBPUSH_BUILD} || "$top/build";
our $cli    = "$build/webpush-cli";
our $sender = "$build/webpush-sender";
our $python = '/usr/bin/python3';
our $tmp    = tempdir(CLEANUP => 1);
our $json   = JSON::PP->new->utf8->canonical;
our %kids;                      # pid => name, TERMed at the end
our @outputs;                   # every cli output, checked for secrets

END {
    for my $pid (keys %kids) {
        kill 'TERM', $pid;
    }
    for my $pid (keys %kids) {
        my $t0 = time;
        while (waitpid($pid, WNOHANG) == 0 && time - $t0 < 10) { sleep 0.05 }
        kill 'KILL', $pid if kill 0, $pid;
    }
}

sub slurp {
    open(my $f, '<', $_[0]) or return '';
    local $/;
    my $t = <$f>;
    return defined $t ? $t : '';
}

# Run a program with %$env overriding the environment (undef deletes);
# returns (exit code, stdout, stderr).  $stdin: optional text fed to it.
sub run_env {
    my ($env, $cmd, $stdin) = @_;
    local %ENV = %ENV;
    for my $k (keys %$env) {
        if (defined $env->{$k}) { $ENV{$k} = $env->{$k} } else { delete $ENV{$k} }
    }
    if (defined $stdin) {
        open(my $f, '>', "$tmp/in") or die; print $f $stdin; close $f;
    }
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open(STDIN, '<', defined $stdin ? "$tmp/in" : '/dev/null') or die;
        open(STDOUT, '>', "$tmp/out") or die;
        open(STDERR, '>', "$tmp/err") or die;
        exec(@$cmd) or die "exec $cmd->[0]: $!";
    }
    waitpid($pid, 0);
    my @r = ($? >> 8, slurp("$tmp/out"), slurp("$tmp/err"));
    push @outputs, $r[1] . $r[2];
    return @r;
}

# The cli with an environment override: cli({K => V}, ARGS...).
sub cli {
    my ($env, @args) = @_;
    return run_env($env, [$cli, @args]);
}

# psql -At on DATABASE_URL; dies on SQL errors.  Returns stdout.
sub psql {
    my ($sqltext) = @_;
    local $ENV{PGOPTIONS} = '-c client_min_messages=warning';
    open(my $p, '-|', 'psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1',
         '-d', $ENV{DATABASE_URL}, '-c', $sqltext) or die "psql: $!";
    local $/;
    my $out = <$p>;
    close($p) or die "psql failed ($?) on: $sqltext\n";
    $out = '' unless defined $out;
    $out =~ s/\n+\z//;
    return $out;
}

# redis-cli on the stack's Redis; returns its output (chomped).
sub redis {
    my @args = @_;
    open(my $p, '-|', 'redis-cli', '-p', $ENV{REDIS_PORT}, '--no-raw', @args)
        or die "redis-cli: $!";
    local $/;
    my $out = <$p>;
    close $p;
    $out = '' unless defined $out;
    $out =~ s/\n+\z//;
    return $out;
}

sub redis_raw {
    my @args = @_;
    open(my $p, '-|', 'redis-cli', '-p', $ENV{REDIS_PORT}, '--raw', @args)
        or die "redis-cli: $!";
    local $/;
    my $out = <$p>;
    close $p;
    $out = '' unless defined $out;
    $out =~ s/\n+\z//;
    return $out;
}

# Delete every key under a prefix (tests start clean).
sub redis_clear {
    my ($prefix) = @_;
    (my $pat = $prefix) =~ s/([*?\[\]\\])/\\$1/g;
    my @keys = grep { length } split /\n/,
        redis_raw('--scan', '--pattern', "$pat*");
    redis('DEL', @keys) if @keys;
}

sub wait_for {
    my ($cond, $secs) = @_;
    my $t0 = time;
    while (time - $t0 < $secs) {
        return 1 if $cond->();
        sleep 0.1;
    }
    return $cond->();
}

# A self-signed certificate for 127.0.0.1 (the mock's), once.
sub mock_cert {
    return "$tmp/cert.pem" if -s "$tmp/cert.pem";
    my ($rc, undef, $err) = run_env({}, ['openssl', 'req', '-x509',
        '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
        '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
        '-nodes', '-days', '1', '-keyout', "$tmp/key.pem",
        '-out', "$tmp/cert.pem"]);
    $rc == 0 or die "openssl req failed: $err";
    return "$tmp/cert.pem";
}

sub mock_usable {
    return system($python, '-c', 'import h2, cryptography') == 0;
}

# Start the mock push service; returns its port.
sub start_mock {
    my $cert = mock_cert();
    my $ready = "$tmp/mock.port";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open(STDOUT, '>', "$tmp/mock.log") or die;
        open(STDERR, '>&', \*STDOUT) or die;
        exec($python, "$top/t/mock/pushservice.py", '--port', 0, '--cert',
             $cert, '--key', "$tmp/key.pem", '--ready-file', $ready)
            or die "exec: $!";
    }
    $kids{$pid} = 'mock';
    wait_for(sub { -s $ready }, 10) or die "mock did not start:\n"
        . slurp("$tmp/mock.log");
    return (slurp($ready) =~ /^(\d+)/)[0];
}

# curl to the mock's API; returns (status, decoded body).
sub mock_api {
    my ($port, $method, $path, $body) = @_;
    my @cmd = ('curl', '-s', '--cacert', mock_cert(), '-X', $method,
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

# A mock subscription stored in "PushSubscription" for $user; returns its
# mock id.  %opt: enabled => 0, last_seen => "interval '40 days'".
sub add_subscription {
    my ($port, $user, %opt) = @_;
    my ($code, $sub) = mock_api($port, 'POST', '/_mock/subscriptions', '{}');
    die "mock subscribe: $code" unless $code == 201;
    my ($id) = $sub->{endpoint} =~ m{/push/([^/]+)$};
    my $enabled = exists $opt{enabled} && !$opt{enabled} ? 'false' : 'true';
    my $seen = $opt{last_seen}
        ? "LOCALTIMESTAMP - $opt{last_seen}" : 'LOCALTIMESTAMP';
    psql(qq{INSERT INTO "PushSubscription" ("userId", "endpoint", "p256dh",
            "auth", "enabled", "lastSeenAt") VALUES ('$user',
            '$sub->{endpoint}', '$sub->{keys}{p256dh}', '$sub->{keys}{auth}',
            $enabled, $seen)});
    return $id;
}

# $n mock subscriptions for users "$user_prefix$i" in one INSERT, each
# following $topic when given; returns their mock ids.
sub add_subscriptions {
    my ($port, $n, $user_prefix, $topic) = @_;
    my (@ids, @rows);
    for my $i (1 .. $n) {
        my ($code, $sub) = mock_api($port, 'POST', '/_mock/subscriptions', '{}');
        die "mock subscribe: $code" unless $code == 201;
        push @ids, ($sub->{endpoint} =~ m{/push/([^/]+)$})[0];
        push @rows, "('$user_prefix$i', '$sub->{endpoint}', "
                    . "'$sub->{keys}{p256dh}', '$sub->{keys}{auth}')";
    }
    psql('INSERT INTO "PushSubscription" ("userId", "endpoint", "p256dh",'
         . ' "auth") VALUES ' . join(', ', @rows));
    if ($topic) {
        psql(qq{INSERT INTO "PushSubscriptionTopic" ("subscriptionId", "topic")
                SELECT "id", '$topic' FROM "PushSubscription"
                WHERE "userId" LIKE '$user_prefix%'});
    }
    return @ids;
}

sub mock_messages {
    my ($port, $id) = @_;
    my (undef, $m) = mock_api($port, 'GET',
                              '/_mock/messages' . ($id ? "?sub=$id" : ''));
    return ref $m ? $m->{messages} : [];
}

# Start webpush-sender under $prefix against the mock on $port.
# %env: more environment (e.g. REDIS_URL of another Redis, whose port is
# then given as redis_port for the readiness check).
sub start_sender {
    my ($prefix, $port, $name, %opt) = @_;
    my $log = "$tmp/sender-$name.log";
    my $rport = $opt{redis_port} || $ENV{REDIS_PORT};
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        $ENV{$_} = $opt{env}{$_} for keys %{ $opt{env} || {} };
        $ENV{WEBPUSH_QUEUE_PREFIX} = $prefix;
        $ENV{WEBPUSH_CONSUMER} = $name;
        $ENV{WEBPUSH_ALLOWED_ENDPOINTS} = "127.0.0.1:$port";
        $ENV{WEBPUSH_CA_FILE} = mock_cert();
        $ENV{PUSH_RETRY_DELAY} = 100;
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>', $log) or die;
        open(STDERR, '>&', \*STDOUT) or die;
        exec($sender) or die "exec $sender: $!";
    }
    $kids{$pid} = "sender $name";
    # Ready when its heartbeat is there.
    wait_for(sub { `redis-cli -p $rport EXISTS '${prefix}sender:$name'` =~ /1/ }, 10)
        or die "sender $name did not start:\n" . slurp($log);
    return $pid;
}

# A private redis-server on a free port (@conf: more "--name value"
# options); returns its port.
sub start_redis {
    my (@conf) = @_;
    my $port = do {
        require IO::Socket::INET;
        my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                      LocalPort => 0) or die "socket: $!";
        $s->sockport;
    };
    mkdir "$tmp/redis-$port";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open(STDOUT, '>', "$tmp/redis-$port/log") or die;
        open(STDERR, '>&', \*STDOUT) or die;
        exec('redis-server', '--port', $port, '--bind', '127.0.0.1',
             '--dir', "$tmp/redis-$port", '--save', '', @conf) or die;
    }
    $kids{$pid} = "redis $port";
    wait_for(sub { `redis-cli -p $port PING 2>&1` =~ /PONG|NOAUTH/ }, 10)
        or die "redis-server did not start:\n" . slurp("$tmp/redis-$port/log");
    return $port;
}

sub stop_pid {
    my ($pid) = @_;
    kill 'TERM', $pid;
    waitpid($pid, 0);
    delete $kids{$pid};
    return $? >> 8;
}

# No cli output ever showed a secret of the environment.
sub no_secrets_leaked {
    my @secrets = grep { defined && length > 8 }
        ($ENV{VAPID_PRIVATE_KEY}, $ENV{JWT_SECRET});
    for my $s (@secrets) {
        for my $o (@outputs) {
            return 0 if index($o, $s) >= 0;
        }
    }
    return 1;
}

1;
