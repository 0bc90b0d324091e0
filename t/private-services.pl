# Private PostgreSQL / Redis instances for the .t files that freeze, kill or
# restart a server (never the shared stack's: other files use it), plus a
# tiny HTTP client for checks that need concurrency or polling.
#
#   require "$FindBin::Bin/private-services.pl";
#   my $pg = wpt_pg_start();      # {port, sock, dir}
#   my $rd = wpt_redis_start();   # {port, dir, pid}
#   wpt_pg_freeze(); wpt_pg_thaw(); wpt_redis_stop(); wpt_redis_start();
#
# Whatever is started here is thawed and stopped at exit (END), even when a
# test dies: a frozen PostgreSQL must never outlive its test file.

use strict;
use warnings;

use POSIX ();
use File::Temp ();
use File::Path ();
use IO::Socket::INET;
use Time::HiRes ();

our %WPT = (owner => $$, frozen => []);

sub wpt_free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, Proto => 'tcp')
        or die "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub wpt_quiet {
    my $cmd = shift;
    return system("$cmd >/dev/null 2>&1") == 0;
}

# ---- PostgreSQL ----------------------------------------------------------

sub wpt_pg_start {
    my ($bin) = grep { -x "$_/initdb" } sort { $b cmp $a }
                glob('/usr/lib/postgresql/*/bin');
    die "PostgreSQL server binaries not found" unless $bin;

    my $dir = File::Temp::tempdir('/tmp/webpush-t-pg.XXXXXX');
    chmod 0755, $dir;
    mkdir "$dir/run";
    my $as = '';
    if ($> == 0) {
        wpt_quiet("chown -R postgres:postgres $dir") or die "chown $dir";
        $as = 'runuser -u postgres --';
    }

    my $port = wpt_free_port();
    $WPT{pg} = {dir => $dir, port => $port, sock => "$dir/run", bin => $bin,
                as => $as};

    wpt_quiet("$as $bin/initdb -D $dir/data -A trust -U postgres -E UTF8"
              . " --locale=C.UTF-8 --no-sync")
        or die "initdb failed in $dir";
    wpt_quiet("$as $bin/pg_ctl -D $dir/data -l $dir/pg.log -w -t 20 -o"
              . " '-k $dir/run -p $port -c listen_addresses=127.0.0.1"
              . " -c fsync=off -c synchronous_commit=off"
              . " -c max_connections=60' start")
        or die "PostgreSQL did not start on port $port (see $dir/pg.log)";
    $WPT{pg}{started} = 1;

    return $WPT{pg};
}

# The postmaster and every backend: a frozen postmaster alone would leave
# the established connections answering.
sub wpt_pg_pids {
    my $pg = $WPT{pg} or return ();
    open my $fh, '<', "$pg->{dir}/data/postmaster.pid" or return ();
    my $pm = <$fh>;
    close $fh;
    chomp $pm;
    my @pids = ($pm);
    for my $stat (glob('/proc/[0-9]*/stat')) {
        open my $s, '<', $stat or next;
        my $line = <$s>;
        close $s;
        next unless defined $line && $line =~ /\)\s+\S+\s+(\d+)/;
        push @pids, ($stat =~ m{/proc/(\d+)/})[0] if $1 == $pm;
    }
    return @pids;
}

sub wpt_pg_freeze {
    my @pids = wpt_pg_pids();
    push @{$WPT{frozen}}, @pids;
    kill 'STOP', @pids;
    return scalar @pids;
}

sub wpt_pg_thaw {
    kill 'CONT', @{$WPT{frozen}} if @{$WPT{frozen}};
    $WPT{frozen} = [];
}

# Stop (fast: the backends are told to go) and start again, same port.
sub wpt_pg_server_stop {
    my $pg = $WPT{pg} or return;
    wpt_pg_thaw();
    wpt_quiet("$pg->{as} $pg->{bin}/pg_ctl -D $pg->{dir}/data -m fast"
              . " -w -t 20 stop");
}

sub wpt_pg_server_start {
    my $pg = $WPT{pg} or return;
    wpt_quiet("$pg->{as} $pg->{bin}/pg_ctl -D $pg->{dir}/data"
              . " -l $pg->{dir}/pg.log -w -t 20 -o"
              . " '-k $pg->{dir}/run -p $pg->{port}"
              . " -c listen_addresses=127.0.0.1 -c fsync=off"
              . " -c synchronous_commit=off -c max_connections=60' start")
        or die "PostgreSQL did not start again on port $pg->{port}";
}

sub wpt_psql {
    my $sql = shift;
    my $pg = $WPT{pg};
    my $out = `psql -X -h 127.0.0.1 -p $pg->{port} -U postgres -d postgres -Atc "$sql" 2>/dev/null`;
    chomp $out if defined $out;
    return $out;
}

sub wpt_pg_stop {
    my $pg = $WPT{pg} or return;
    wpt_pg_thaw();
    if ($pg->{started}) {
        wpt_quiet("$pg->{as} $pg->{bin}/pg_ctl -D $pg->{dir}/data -m immediate"
                  . " -w -t 20 stop");
        $pg->{started} = 0;
    }
    File::Path::remove_tree($pg->{dir}) unless $ENV{WPT_KEEP};
    delete $WPT{pg};
}

# ---- Redis ---------------------------------------------------------------

# Starts a private redis-server, on the same port as before when restarted.
sub wpt_redis_start {
    my $rd = $WPT{redis} //= {
        dir  => File::Temp::tempdir('/tmp/webpush-t-redis.XXXXXX'),
        port => wpt_free_port(),
    };
    wpt_quiet("redis-server --bind 127.0.0.1 --port $rd->{port} --save ''"
              . " --appendonly no --daemonize yes"
              . " --pidfile $rd->{dir}/redis.pid"
              . " --logfile $rd->{dir}/redis.log --dir $rd->{dir}")
        or die "redis-server did not start";
    for (1 .. 100) {
        last if (wpt_redis_cmd('PING') // '') eq '+PONG';
        Time::HiRes::sleep(0.05);
    }
    open my $fh, '<', "$rd->{dir}/redis.pid" or die "no redis pid file";
    chomp(my $pid = <$fh> // '');
    close $fh;
    $rd->{pid} = $pid;
    return $rd;
}

sub wpt_redis_stop {
    my $rd = $WPT{redis} or return;
    return unless $rd->{pid};
    kill 'CONT', $rd->{pid};
    kill 'TERM', $rd->{pid};
    for (1 .. 100) {
        last unless kill 0, $rd->{pid};
        # our own child? reap it
        waitpid($rd->{pid}, POSIX::WNOHANG());
        Time::HiRes::sleep(0.05);
    }
    $rd->{pid} = undef;
}

sub wpt_redis_freeze { kill 'STOP', $WPT{redis}{pid} if $WPT{redis}{pid} }
sub wpt_redis_thaw   { kill 'CONT', $WPT{redis}{pid} if $WPT{redis}{pid} }

# One command (words without spaces), first reply line.
sub wpt_redis_cmd {
    my ($port, @words) = ($WPT{redis} ? $WPT{redis}{port} : 6379, @_);
    if ($_[0] =~ /^\d+$/) { ($port, @words) = @_ }
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 1) or return undef;
    my $cmd = '*' . @words . "\r\n";
    $cmd .= '$' . length($_) . "\r\n$_\r\n" for @words;
    print $s $cmd;
    my $line = <$s>;
    close $s;
    $line =~ s/\r?\n\z// if defined $line;
    return $line;
}

# ---- HTTP ----------------------------------------------------------------

# GET (or another method) on 127.0.0.1:port; returns (status, body, secs).
sub wpt_http {
    my ($port, $path, $timeout, $method) = @_;
    $method //= 'GET';
    my $t0 = Time::HiRes::time();
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => $timeout // 5)
        or return (0, "connect: $!", Time::HiRes::time() - $t0);
    $s->timeout($timeout // 5);
    print $s "$method $path HTTP/1.1\r\nHost: localhost\r\n"
             . "Connection: close\r\n\r\n";
    my $resp = '';
    my $rin = '';
    vec($rin, fileno($s), 1) = 1;
    my $deadline = $t0 + ($timeout // 5);
    while (1) {
        my $left = $deadline - Time::HiRes::time();
        last if $left <= 0;
        my $rout;
        last unless select($rout = $rin, undef, undef, $left);
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $resp .= $buf;
    }
    close $s;
    my $secs = Time::HiRes::time() - $t0;
    my ($status) = $resp =~ m{\AHTTP/1\.\d (\d{3})};
    my ($body) = $resp =~ m{\r\n\r\n(.*)\z}s;
    return ($status // 0, $body // '', $secs);
}

# Poll until path answers want (status), for at most secs; elapsed or undef.
sub wpt_wait_status {
    my ($port, $path, $want, $secs) = @_;
    my $t0 = Time::HiRes::time();
    while (Time::HiRes::time() - $t0 < $secs) {
        my ($st) = wpt_http($port, $path, 2);
        return Time::HiRes::time() - $t0 if $st == $want;
        Time::HiRes::sleep(0.1);
    }
    return undef;
}

# Requests at once (each a child process); [[status, body, secs], ...] in
# the order given.  $gap seconds between the starts.
sub wpt_http_parallel {
    my ($port, $paths, $timeout, $gap) = @_;
    my @kids;
    for my $i (0 .. $#$paths) {
        pipe(my $r, my $w) or die "pipe: $!";
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            close $r;
            my ($st, $body, $secs) = wpt_http($port, $paths->[$i], $timeout);
            $body =~ s/\n/ /g;
            print $w "$st\t$secs\t$body";
            close $w;
            POSIX::_exit(0);
        }
        close $w;
        push @kids, [$pid, $r];
        Time::HiRes::sleep($gap) if $gap;
    }
    my @res;
    for my $k (@kids) {
        my $fh = $k->[1];
        local $/;
        my $out = <$fh> // '';
        close $fh;
        waitpid $k->[0], 0;
        my ($st, $secs, $body) = split /\t/, $out, 3;
        push @res, [$st // 0, $body // '', $secs // 0];
    }
    return \@res;
}

# Lines of the error log matching a leak or a crash.
sub wpt_leak_lines {
    my $log = shift;
    open my $fh, '<', $log or return ("cannot read $log");
    my @bad = grep { /\[alert\]|open socket .* left in connection|\[crit\]|
                      Assertion|signal 11|core dumped/x } <$fh>;
    close $fh;
    return @bad;
}

sub wpt_cleanup {
    return unless $$ == $WPT{owner};
    wpt_pg_thaw();
    wpt_redis_stop();
    if ($WPT{redis} && !$ENV{WPT_KEEP}) {
        File::Path::remove_tree($WPT{redis}{dir});
        delete $WPT{redis};
    }
    wpt_pg_stop();
}

END {
    local ($?, $@, $!);
    wpt_cleanup();
}

# A signal kills without END: clean up first, then what was there before.
for my $sig (qw(INT TERM HUP)) {
    my $old = $SIG{$sig};
    $SIG{$sig} = sub {
        wpt_cleanup();
        $old->(@_) if ref $old eq 'CODE';
        $SIG{$sig} = 'DEFAULT';
        kill $sig, $$;
    };
}

1;
