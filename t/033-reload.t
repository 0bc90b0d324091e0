# vi:filetype=perl
#
# nginx -s reload (SIGHUP to the master, two workers) under load loses no
# request, and the old workers release every PostgreSQL and Redis
# connection when they exit (exit_process): the server sees no more
# connections than the new workers' pools may hold, and the error log has
# no "open socket ... left in connection" alert.  Private PostgreSQL and
# Redis, so that the connection counts are ours alone.

BEGIN { $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} = 0 }

use Test::Nginx::Socket 'no_plan';
use FindBin;
use POSIX ();
use Time::HiRes ();

require "$FindBin::Bin/private-services.pl";

repeat_each(1);
no_shuffle();
master_on();
workers(2);

$ENV{TEST_NGINX_VAPID_PUBLIC_KEY} ||=
    'BGtkbcjrO12YMoDuq2sCQeHlu47uPx3SHTgFKZFYiBW8Qr0D9vgyZSZPdw6_4ZFEI9Snk1VEAj2qTYI1I1YxBXE';

our $pg = wpt_pg_start();
our $rd = wpt_redis_start();

$ENV{TEST_NGINX_T033_PG_SOCKET} = $pg->{sock};
$ENV{TEST_NGINX_T033_PG_PORT} = $pg->{port};
$ENV{TEST_NGINX_T033_REDIS_PORT} = $rd->{port};

# the unix socket this time; two connections per worker at most
our $http_config = <<'_EOC_';
    webpush_vapid_public_key $TEST_NGINX_VAPID_PUBLIC_KEY;
    webpush_postgres "host=$TEST_NGINX_T033_PG_SOCKET port=$TEST_NGINX_T033_PG_PORT user=postgres dbname=postgres application_name=webpush-t033"
                     max_conns=2;
    webpush_redis redis://127.0.0.1:$TEST_NGINX_T033_REDIS_PORT;
_EOC_

our $config = <<'_EOC_';
    location = /api/push/health/database { webpush_health_database; }
    location = /api/push/health/redis { webpush_health_redis; }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value(http_config => $::http_config)
        unless defined $block->http_config;
    $block->set_value(config => $::config) unless defined $block->config;
});

sub port { server_port() }

sub master_pid {
    open my $fh, '<', server_root() . '/logs/nginx.pid' or return undef;
    chomp(my $pid = <$fh> // '');
    return $pid;
}

sub workers_of {
    my $master = shift;
    my @w;
    for my $stat (glob('/proc/[0-9]*/stat')) {
        open my $s, '<', $stat or next;
        my $line = <$s> // '';
        close $s;
        push @w, ($stat =~ m{/proc/(\d+)/})[0]
            if $line =~ /\)\s+\S+\s+(\d+)/ && $1 == $master;
    }
    return @w;
}

sub pg_conns {
    return main::wpt_psql("SELECT count(*) FROM pg_stat_activity"
                          . " WHERE application_name = 'webpush-t033'");
}

# Load from $n children for $secs seconds; HUP the master $hups times
# meanwhile.  Returns the statuses seen, as "status path" lines.
sub load_with_reloads {
    my ($n, $secs, $hups) = @_;
    my @kids;
    for my $k (1 .. $n) {
        pipe(my $r, my $w) or die "pipe: $!";
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            close $r;
            my $end = Time::HiRes::time() + $secs;
            my $i = 0;
            while (Time::HiRes::time() < $end) {
                my $path = $i++ % 2 ? '/api/push/health/redis'
                                    : '/api/push/health/database';
                my ($st) = main::wpt_http(main::port(), $path, 5);
                print $w "$st $path\n";
            }
            close $w;
            POSIX::_exit(0);
        }
        close $w;
        push @kids, [$pid, $r];
    }

    my $master = master_pid();
    for (1 .. $hups) {
        Time::HiRes::sleep($secs / ($hups + 1));
        kill 'HUP', $master;
    }

    my @lines;
    for my $k (@kids) {
        my $fh = $k->[1];
        push @lines, <$fh>;
        close $fh;
        waitpid $k->[0], 0;
    }
    chomp @lines;
    return @lines;
}

run_tests();

__DATA__

=== TEST 1: two workers, both dependencies healthy
--- request
GET /api/push/health/database
--- response_body_like: "database":\{"status":"ok"
--- no_error_log
[error]
[alert]



=== TEST 2: three reloads under load: every request answered 200
--- init
my @lines = main::load_with_reloads(4, 4, 3);
my @bad = grep { !/^200 / } @lines;
Test::More::cmp_ok(scalar @lines, '>', 40, "requests made during the reloads");
Test::More::diag(scalar(@lines) . " requests during 3 reloads");
Test::More::ok(!@bad, "no request lost or failed across 3 reloads")
    or Test::More::diag(join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
--- request
GET /api/push/health/redis
--- response_body_like: "redis":\{"status":"ok"



=== TEST 3: old workers gone, their connections released
--- init
my $master = main::master_pid();
my @w;
for (1 .. 100) {
    @w = main::workers_of($master);
    last if @w == 2;
    select undef, undef, undef, 0.1;
}
Test::More::is(scalar @w, 2, "only the two new workers are left");
my $n;
for (1 .. 50) {
    $n = main::pg_conns();
    last if defined $n && $n ne '' && $n <= 4;
    select undef, undef, undef, 0.1;
}
Test::More::cmp_ok($n, '<=', 4,
    "PostgreSQL connections: at most 2 workers x max_conns=2 (no leak)");
my $log = Test::Nginx::Socket::server_root() . '/logs/error.log';
open my $fh, '<', $log or die "$log: $!";
my $reloads = grep { /reconfiguring/ } <$fh>;
close $fh;
Test::More::cmp_ok($reloads, '>=', 3, "the master reloaded 3 times");
my @bad = main::wpt_leak_lines($log);
Test::More::ok(!@bad, "no [alert] or open socket left in the error log")
    or Test::More::diag(@bad);
--- request
GET /api/push/health/database
--- response_body_like: "database":\{"status":"ok"



=== TEST 4: Redis sees one connection per live worker after the reloads
--- init
my $n;
for (1 .. 50) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $main::rd->{port}) or last;
    print $s "CLIENT LIST\r\n";
    my $hdr = <$s>;
    my ($len) = ($hdr // '') =~ /^\$(\d+)/;
    my $body = '';
    read($s, $body, $len) if $len;
    close $s;
    # ours (the CLIENT LIST caller) plus one per worker
    $n = () = $body =~ /^id=/mg;
    last if $n <= 3;
    select undef, undef, undef, 0.1;
}
Test::More::cmp_ok($n - 1, '<=', 2, "Redis: one connection per worker");
--- request
GET /api/push/health/redis
--- response_body_like: "redis":\{"status":"ok"
