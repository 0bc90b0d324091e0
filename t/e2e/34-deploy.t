#!/usr/bin/perl
# The deployment files, checked with what runs without Docker or systemd
# as PID 1: docker-compose.yml through `docker-compose config` (when the
# Debian package is installed), the Dockerfile against the tree (its make
# targets, the files it copies, port, health path, non-root user), the
# container's nginx.conf through `nginx -t` with our module, the systemd
# units through `systemd-analyze verify`, the logrotate example through
# `logrotate -d`, and the commands they run through the cli itself.
use strict;
use warnings;
use Test::More;
use FindBin;
require "$FindBin::Bin/30-cli-lib.pl";

our ($cli, $sender, $tmp, $top, $build);

sub file { my $t = slurp("$top/$_[0]"); return $t }

# "location = PATH" => its handler directive (a bare "webpush_x;").
sub routes {
    my ($conf) = @_;
    my (%r, $path, $depth);
    for my $line (split /\n/, $conf) {
        $line =~ s/#.*//;
        if (!defined $path) {
            next unless $line =~ /^\s*location = (\S+)\s*\{(.*)$/;
            ($path, $depth) = ($1, 1);
            $line = $2;
        }
        $r{$path} //= $1 if $depth == 1 && $line =~ /^\s*(webpush_\w+);/;
        $depth += () = $line =~ /\{/g;
        $depth -= () = $line =~ /\}/g;
        undef $path if $depth <= 0;
    }
    return %r;
}

# ---- docker-compose.yml ---------------------------------------------------------

my $compose = file('docker-compose.yml');
SKIP: {
    my $dc = `command -v docker-compose 2>/dev/null`;
    chomp $dc;
    skip 'docker-compose (Debian package) not installed', 8 unless $dc;
    open(my $f, '>', "$tmp/compose.env") or die;
    print $f "POSTGRES_PASSWORD=pw-not-real\nVAPID_PUBLIC_KEY=pub\n"
           . "VAPID_PRIVATE_KEY=priv\nVAPID_SUBJECT=mailto:ops\@example.org\n"
           . "JWT_SECRET=jwt-not-real\n";
    close $f;
    my ($rc, $out, $err) = run_env({}, [$dc, '--env-file', "$tmp/compose.env",
                                        '-f', "$top/docker-compose.yml", 'config']);
    is($rc, 0, 'docker-compose config accepts docker-compose.yml') or diag($err);
    for my $s (qw(postgres redis migrate nginx sender-1 sender-2)) {
        like($out, qr/^  \Q$s\E:$/m, "compose has service $s");
    }
    ($rc, $out, $err) = run_env({ POSTGRES_PASSWORD => undef },
        [$dc, '-f', "$top/docker-compose.yml", '--env-file', '/dev/null', 'config']);
    isnt($rc, 0, 'docker-compose config refuses a missing secret, naming it')
        or diag($out);
}
like($compose, qr/--appendonly", "yes"/, 'compose: Redis keeps an append-only file');
like($compose, qr/^  pgdata:\n  redisdata:/m, 'compose: named volumes for PostgreSQL and Redis');
like($compose, qr/command: \["webpush-cli", "migrate"\]/, 'compose: migrations by webpush-cli migrate');
like($compose, qr/WEBPUSH_CONSUMER: sender-1.*WEBPUSH_CONSUMER: sender-2/s, 'compose: two named senders');
unlike($compose, qr/(PRIVATE_KEY|SECRET|PASSWORD): +[^\$\s]/, 'compose: no secret value in the file');
unlike(file('deploy/webpush.env.example'), qr/^(VAPID_PRIVATE_KEY|JWT_SECRET)=\S/m,
       'the env example carries no key or secret');

# ---- Dockerfile ---------------------------------------------------------------

my $docker = file('Dockerfile');
{
    my @from = $docker =~ /^FROM (\S+)/mg;
    is(scalar(grep { /^debian:bookworm/ } @from), 2, 'Dockerfile: two bookworm stages');
    my ($targets) = $docker =~ /^RUN make (.+)$/m;
    my $mk = file('Makefile');
    for my $t (split ' ', $targets) {
        like($mk, qr/^\Q$t\E:/m, "Dockerfile's make target \"$t\" exists (as make test builds it)");
    }
    for my $src ($docker =~ /^COPY (?!--from)(\S+)/mg) {
        ok(-e "$top/$src", "Dockerfile copies $src, which exists");
    }
    for my $art ($docker =~ m{/src/(build/\S+)}g) {
        like($mk, qr/webpush-sender|webpush-cli|ngx_http_webpush_module\.so/,
             "Dockerfile takes $art from the build");
    }
    like($docker, qr/^USER webpush$/m, 'Dockerfile: runs as the unprivileged user');
    my ($port) = $docker =~ /^EXPOSE (\d+)$/m;
    my ($hc) = $docker =~ m{HEALTHCHECK .*\n\s+CMD curl -fsk https://127\.0\.0\.1:(\d+)(/\S+)}m;
    my ($hport, $hpath) = $docker =~ m{CMD curl -fsk https://127\.0\.0\.1:(\d+)(/\S+)};
    is($hport, $port, 'healthcheck port = EXPOSE port');
    my $nconf = file('deploy/docker/nginx.conf');
    like($nconf, qr/listen \Q$port\E ssl/, 'the container nginx listens on the EXPOSE port');
    like($nconf, qr/location = \Q$hpath\E\s+\{ webpush_health; \}/,
         "the healthcheck path $hpath is the module's health route");
    like($docker, qr{COPY deploy/docker/nginx\.conf /etc/nginx/nginx\.conf}, 'the image uses that nginx.conf');
    # Every route of the operator's example is served by the image too,
    # by the same handler directive.
    my %want = routes(file('nginx.conf.example'));
    my %have = routes($nconf);
    ok(scalar(keys %want) >= 5, 'nginx.conf.example has its routes');
    for my $route (sort keys %want) {
        is($have{$route} // '(none)', $want{$route},
           "the container serves $route with $want{$route} like nginx.conf.example");
    }
}

# ---- the container's nginx.conf under nginx -t with our module ----------------

SKIP: {
    my $module = "$build/nginx/ngx_http_webpush_module.so";
    skip "$module not built", 1 unless -f $module;
    skip 'DATABASE_URL/VAPID_PUBLIC_KEY not set', 1 unless $ENV{DATABASE_URL} && $ENV{VAPID_PUBLIC_KEY};
    mock_cert();
    mkdir "$tmp/ngx"; mkdir "$tmp/ngx/logs";
    my $c = file('deploy/docker/nginx.conf');
    $c =~ s{modules/ngx_http_webpush_module\.so}{$module};
    $c =~ s{/tmp/nginx\.pid}{$tmp/ngx/nginx.pid};
    $c =~ s{/tmp/nginx/}{$tmp/ngx/}g;
    $c =~ s{/etc/webpush/tls/cert\.pem}{$tmp/cert.pem};
    $c =~ s{/etc/webpush/tls/key\.pem}{$tmp/key.pem};
    $c =~ s{listen 8443}{listen 127.0.0.1:1};
    open(my $f, '>', "$tmp/ngx/nginx.conf") or die;
    print $f $c;
    close $f;
    my ($rc, $out, $err) = run_env({}, ['nginx', '-t', '-p', "$tmp/ngx/", '-e', 'stderr',
                                        '-c', "$tmp/ngx/nginx.conf"]);
    if ($rc != 0 && $err =~ /unknown directive "(webpush_\w+)"/) {
        skip "the module has no $1 yet", 1;
    }
    is($rc, 0, "nginx -t accepts deploy/docker/nginx.conf with our module") or diag($err);
}

# ---- systemd units ------------------------------------------------------------

SKIP: {
    my $sa = `command -v systemd-analyze 2>/dev/null`;
    chomp $sa;
    skip 'systemd-analyze not installed', 8 unless $sa;
    skip 'binaries not built', 8 unless -x $cli && -x $sender;
    mkdir "$tmp/units";
    for my $u (qw(webpush-sender@.service webpush-cleanup.service webpush-cleanup.timer)) {
        my $t = file("deploy/systemd/$u");
        $t =~ s{/usr/local/bin/webpush-sender}{$sender}g;
        $t =~ s{/usr/local/bin/webpush-cli}{$cli}g;
        $t =~ s{EnvironmentFile=/etc/webpush/webpush\.env}{EnvironmentFile=-$tmp/none.env}g;
        open(my $f, '>', "$tmp/units/$u") or die;
        print $f $t;
        close $f;
    }
    my ($rc, $out, $err) = run_env({}, [$sa, 'verify', "$tmp/units/webpush-sender\@1.service",
                                        "$tmp/units/webpush-cleanup.service",
                                        "$tmp/units/webpush-cleanup.timer"]);
    is($rc, 0, 'systemd-analyze verify: the units load');
    is($err, '', '... without any warning') or diag($err);
    my $unit = file('deploy/systemd/webpush-sender@.service');
    like($unit, qr/^Restart=on-failure$/m, 'sender unit: Restart=on-failure');
    like($unit, qr/^RestartPreventExitStatus=78$/m, '... no restart on a configuration error (78)');
    like($unit, qr/^EnvironmentFile=\/etc\/webpush\/webpush\.env$/m, '... EnvironmentFile');
    like($unit, qr/^DynamicUser=yes$/m, '... DynamicUser');
    like($unit, qr/^NoNewPrivileges=yes\nProtectSystem=strict\nProtectHome=yes\nPrivateTmp=yes$/m,
         '... hardening');
    like(file('deploy/systemd/webpush-cleanup.service'),
         qr{^ExecStart=/usr/local/bin/webpush-cli cleanup --days 30$}m,
         'cleanup unit runs webpush-cli cleanup');
}

# ---- logrotate -----------------------------------------------------------------------

SKIP: {
    my ($lr) = grep { -x } ('/usr/sbin/logrotate', '/sbin/logrotate');
    skip 'logrotate not installed', 2 unless $lr;
    mkdir "$tmp/lr";
    open(my $l, '>', "$tmp/lr/sender-1.log") or die; print $l "{}\n"; close $l;
    my $t = file('deploy/logrotate/webpush');
    my $me = getpwuid($<);
    my $grp = getgrgid($();
    $t =~ s{/var/log/webpush/}{$tmp/lr/}g;
    $t =~ s{su root adm}{su $me $grp};
    $t =~ s{create 0640 root adm}{create 0640 $me $grp};
    open(my $f, '>', "$tmp/lr.conf") or die; print $f $t; close $f;
    my ($rc, $out, $err) = run_env({}, [$lr, '-f', '-s', "$tmp/lr/state", "$tmp/lr.conf"]);
    is($rc, 0, 'logrotate runs the example') or diag($err);
    ok((grep { /sender-1\.log-\d{8}/ } glob("$tmp/lr/*")), '... and rotated a sender log');
}

# ---- what they run, the cli runs ------------------------------------------------------

SKIP: {
    skip 'stack not up', 3 unless $ENV{DATABASE_URL} && $ENV{REDIS_PORT} && -x $cli;
    my ($rc) = cli({ WEBPUSH_SQL_DIR => "$top/sql" }, 'migrate');
    is($rc, 0, 'webpush-cli migrate (compose "migrate") runs');
    ($rc) = cli({}, 'cleanup', '--days', 30, '--dry-run');
    is($rc, 0, 'webpush-cli cleanup --days 30 (the timer\'s command, dry run) runs');
    ($rc) = cli({}, 'doctor', '--help');
    is($rc, 0, 'webpush-cli doctor (shown in compose) exists');
}

done_testing();
