package Test::Nginx::Socket;

# A small, from-scratch implementation of the subset of openresty's
# Test::Nginx::Socket that the ngx_webpush .t files use.  The same .t files
# run unchanged under the real Test::Nginx wherever it is installed.
#
# It is built on Test::Base (block/section parsing, filters, ONLY/SKIP/LAST),
# Test::More (TAP), IO::Socket::INET (the HTTP client) and HTTP::Response
# (response objects).  See t/lib/README.md for the supported subset.
#
# Per test block it:
#   1. runs the block preprocessors, "--- init" and the skip checks;
#   2. wipes conf/ logs/ html/ *_temp under the server root and writes
#      conf/nginx.conf (the documented openresty shape) and user files;
#   3. starts "$TEST_NGINX_BINARY -p <servroot>/ -c conf/nginx.conf";
#   4. sends each request repeat_each() times, parses the replies and runs
#      the checks (status, headers, body, error.log slice);
#   5. stops nginx (QUIT, then TERM/KILL) and waits for it to be gone.
# nginx is also stopped from an END block and on SIGINT/SIGTERM/SIGHUP, so
# no server is ever left behind by a test file.

use strict;
use warnings;

# "-base" (lower case) makes this package a Test::Base subclass without
# Spiffy's source filter; .t files then get blocks(), plan(), is(), ... too.
use Test::Base -base;

use Cwd ();
use File::Path ();
use File::Spec ();
use HTTP::Response ();
use IO::Select ();
use IO::Socket::INET ();
use List::Util ();
use POSIX ();
use Time::HiRes ();

our $VERSION = '0.01';

our @EXPORT = qw(
    plan run_tests repeat_each no_shuffle workers master_on master_off
    log_level worker_connections env_to_nginx no_root_location use_hup
    server_name server_port server_root html_dir timeout
    check_accum_error_log add_block_preprocessor add_cleanup_handler
    add_test_cleanup_handler add_response_body_check config_preamble
    no_long_string bail_out blocks master_process_enabled
);

# ---------------------------------------------------------------------------
# Settings.  File-level knobs changed by the exported setters; the defaults
# come from the TEST_NGINX_* environment as in the real Test::Nginx.
# ---------------------------------------------------------------------------

our $RepeatEach        = 1;
our $NoShuffle         = $ENV{TEST_NGINX_NO_SHUFFLE} ? 1 : 0;
our $Workers           = 1;
our $MasterProcessEnabled =
    lc($ENV{TEST_NGINX_MASTER_PROCESS} // 'off') eq 'on' ? 'on' : 'off';
our $LogLevel          = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $WorkerConnections = 64;
our @EnvToNginx;
our $NoRootLocation    = 0;
our $UseHup            = $ENV{TEST_NGINX_USE_HUP} ? 1 : 0;
our $ServerName        = 'localhost';
our $Timeout           = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $CheckAccumErrLog  = 0;
our $ConfigPreamble    = '';
our $NoLongString      = 0;
our $ForceRestart      = $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} // 1;
our $NginxBinary       = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $ServerAddr        = '127.0.0.1';    # where the client connects

our (@BlockPreprocessors, @CleanupHandlers, @TestCleanupHandlers,
     @ResponseBodyChecks);

# Ports.  TEST_NGINX_PORT wins over _SERVER_PORT / _CLIENT_PORT (as in the
# real module); TEST_NGINX_RANDOMIZE picks a free random port instead and
# gives the file its own server root, so "prove -j" does not collide.
our $Randomize = $ENV{TEST_NGINX_RANDOMIZE} ? 1 : 0;
our ($ServerPort, $ClientPort);
if ($Randomize) {
    $ServerPort = $ClientPort = _pick_free_port();
} else {
    $ServerPort = $ENV{TEST_NGINX_PORT} || $ENV{TEST_NGINX_SERVER_PORT}
                  || 1984;
    $ClientPort = $ENV{TEST_NGINX_PORT} || $ENV{TEST_NGINX_CLIENT_PORT}
                  || $ServerPort;
}
$ENV{TEST_NGINX_SERVER_PORT} = $ServerPort;
$ENV{TEST_NGINX_PORT}        = $ServerPort
    if $Randomize || !$ENV{TEST_NGINX_PORT};
$ENV{TEST_NGINX_CLIENT_PORT} = $ClientPort;

# Server root (absolute).  Only conf/ logs/ html/ and *_temp in it are ours.
our $ServRoot = $ENV{TEST_NGINX_SERVROOT}
                || File::Spec->catdir(Cwd::getcwd(), 't', 'servroot');
$ServRoot .= "_$ServerPort" if $Randomize;
$ServRoot = File::Spec->rel2abs($ServRoot);
$ServRoot =~ s{/+$}{};
die "refusing to use '$ServRoot' as the nginx server root\n"
    if $ServRoot eq '' || $ServRoot eq '/';
our $HtmlDir  = "$ServRoot/html";
our $ConfDir  = "$ServRoot/conf";
our $LogDir   = "$ServRoot/logs";
our $ErrLog   = "$LogDir/error.log";
our $PidFile  = "$LogDir/nginx.pid";
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;
$ENV{TEST_NGINX_HTML_DIR}    = $HtmlDir;

my @TempDirs = qw(client_body_temp proxy_temp fastcgi_temp uwsgi_temp
                  scgi_temp);

# Runtime state.
our $NginxPid;              # pid of the running nginx (master or single)
my  $OwnerPid = $$;         # only this process may stop nginx in END
my  $LastConfig;            # "--- config" reused when a block has none
my  $LastConfText;          # generated nginx.conf of the running server
my  $NginxVersion;          # e.g. [1, 22, 1], filled lazily
my  %RandPorts;             # TEST_NGINX_RAND_PORT_N => port, per block
my  $Starting;              # true while nginx is being spawned
my  $SpawnPid;              # the launcher process (exits once daemonized)

# ---------------------------------------------------------------------------
# Exported setters / getters.
# ---------------------------------------------------------------------------

# repeat_each(N): run every block's requests N times (nginx is started once
# per block).  Returns the current value, also when used as a setter.
sub repeat_each {
    $RepeatEach = shift if @_;
    return $RepeatEach;
}

sub no_shuffle { $NoShuffle = 1; return }

sub workers {
    $Workers = shift if @_;
    return $Workers;
}

sub master_on  { $MasterProcessEnabled = 'on';  return }
sub master_off { $MasterProcessEnabled = 'off'; return }
sub master_process_enabled {
    $MasterProcessEnabled = $_[0] ? 'on' : 'off' if @_;
    return $MasterProcessEnabled eq 'on' ? 1 : 0;
}

sub log_level {
    $LogLevel = shift if @_;
    return $LogLevel;
}

sub worker_connections {
    $WorkerConnections = shift if @_;
    return $WorkerConnections;
}

# env_to_nginx("FOO", "BAR=1", "BAZ=hello world") emits "env ...;" lines.
sub env_to_nginx { push @EnvToNginx, @_; return }

sub no_root_location { $NoRootLocation = 1; return }

# use_hup(): keep one nginx across blocks and reload it with SIGHUP
# instead of restarting it for every block.
sub use_hup { $UseHup = 1; return }

sub server_name {
    $ServerName = shift if @_;
    return $ServerName;
}

sub server_port {
    if (@_) {
        $ServerPort = $ClientPort = shift;
        $ENV{TEST_NGINX_SERVER_PORT} = $ENV{TEST_NGINX_PORT} = $ServerPort;
        $ENV{TEST_NGINX_CLIENT_PORT} = $ClientPort;
    }
    return $ServerPort;
}

sub server_root { return $ServRoot }
sub html_dir    { return $HtmlDir }

# timeout(SECS): default client timeout; "--- timeout" overrides per block.
sub timeout {
    $Timeout = shift if @_;
    return $Timeout;
}

# Make error_log checks see the whole block's log, not just one request.
sub check_accum_error_log { $CheckAccumErrLog = 1; return }

sub add_block_preprocessor   { push @BlockPreprocessors,  @_; return }
sub add_cleanup_handler      { push @CleanupHandlers,     @_; return }
sub add_test_cleanup_handler { push @TestCleanupHandlers, @_; return }
sub add_response_body_check  { push @ResponseBodyChecks,  @_; return }

# Text put at the top of the default server {} block, before "--- config".
sub config_preamble {
    $ConfigPreamble = shift if @_;
    return $ConfigPreamble;
}

# Compare bodies with is() (Text::Diff output) instead of Test::LongString.
sub no_long_string { $NoLongString = 1; return }

# Stop nginx and abort the whole test run.
sub bail_out {
    my $msg = join '', @_;
    _stop_nginx();
    Test::More::BAIL_OUT($msg);
}

# ---------------------------------------------------------------------------
# Main loop.
# ---------------------------------------------------------------------------

sub run_tests {
    diag("TEST_NGINX_USE_VALGRIND is not supported by this runner; ignored")
        if $ENV{TEST_NGINX_USE_VALGRIND};

    my @blocks = blocks();
    @blocks = List::Util::shuffle(@blocks) unless $NoShuffle;

    for my $block (@blocks) {
        _run_block($block);
    }

    _stop_nginx();
    return;
}

# Fetch one expectation for request number $idx: an arrayref section holds
# one value per request, a plain value applies to every request.
sub _pick {
    my ($val, $idx) = @_;
    return $val unless ref $val eq 'ARRAY';
    return $val->[$idx];
}

sub _run_block {
    my $block = shift;
    my $name  = $block->name;

    $_->($block) for @BlockPreprocessors;

    # --- skip_eval: N: perl-expr / --- skip_nginx: N: < 1.21.0
    if (my $reason = _skip_reason($block)) {
        my ($count, $why) = @$reason;
        Test::More->builder->skip("$name - $why") for 1 .. $count;
        return;
    }

    # --- init: perl code (or an eval'd coderef) run before the block.
    if (defined(my $init = $block->init)) {
        if (ref $init eq 'CODE') {
            $init->($block);
        } else {
            my $ok = eval "package main; no strict; $init; 1";
            bail_out("$name - --- init failed: $@") unless $ok;
        }
    }

    %RandPorts = ();

    my $conf = _make_nginx_conf($block);

    # --- must_die: nginx has to refuse to start.
    if (defined $block->must_die) {
        _stop_nginx();
        _prepare_servroot($block, $conf);
        $Starting = 1;
        my ($ok, $out) = _spawn_nginx();
        ok(!$ok, "$name - nginx must die");
        if ($ok) {
            _wait_for_pid_file();
            _stop_nginx();
        }
        $Starting = 0;
        my $log = $out . _read_file_from($ErrLog, 0);
        _check_error_log($block, $log, $name, 0, 0);
        _run_test_cleanup($block);
        return;
    }

    my $block_log_start = _start_or_reload($block, $conf) // return;

    for my $rep (0 .. $RepeatEach - 1) {
        _run_requests($block, $rep, $block_log_start);
    }

    # A crashed nginx would otherwise only show up as confusing failures.
    if (!_alive($NginxPid)) {
        fail("$name - nginx is still running after the block");
        diag(_tail(_read_file_from($ErrLog, $block_log_start), 20));
        undef $NginxPid;
    }

    _run_test_cleanup($block);

    if ($ENV{TEST_NGINX_ERROR_LOG}) {
        if (open my $fh, '>>', $ENV{TEST_NGINX_ERROR_LOG}) {
            print $fh _read_file_from($ErrLog, $block_log_start);
            close $fh;
        }
    }

    # Each block gets a fresh server unless we reload with HUP or the
    # user allowed reuse (TEST_NGINX_FORCE_RESTART_ON_TEST=0).
    _stop_nginx()
        unless $UseHup && $MasterProcessEnabled eq 'on' || !$ForceRestart;
    return;
}

sub _run_test_cleanup {
    my $block = shift;
    $_->($block) for @TestCleanupHandlers;
}

# Returns [count, reason] when the block must be skipped.
sub _skip_reason {
    my $block = shift;

    if (defined(my $se = $block->skip_eval)) {
        my ($n, $expr) = $se =~ /\A\s*(\d+)\s*:\s*(.*?)\s*\z/s
            or bail_out($block->name . " - bad skip_eval: $se");
        my $res = eval "package main; no strict; $expr";
        bail_out($block->name . " - skip_eval failed: $@") if $@;
        return [$n, "skip_eval: $expr"] if $res;
    }

    if (defined(my $sn = $block->skip_nginx)) {
        my ($n, $op, $ver) =
            $sn =~ /\A\s*(\d+)\s*:\s*(<=|>=|==|!=|<|>)\s*([\d.]+)\s*\z/
            or bail_out($block->name . " - bad skip_nginx: $sn");
        my $cmp = _version_cmp(_nginx_version(), [split /\./, $ver]);
        my %ops = ('<' => $cmp < 0, '<=' => $cmp <= 0, '>' => $cmp > 0,
                   '>=' => $cmp >= 0, '==' => $cmp == 0, '!=' => $cmp != 0);
        return [$n, "nginx version $op $ver"] if $ops{$op};
    }

    return;
}

# ---------------------------------------------------------------------------
# nginx.conf generation.
# ---------------------------------------------------------------------------

# Replace $TEST_NGINX_* references; an undefined one aborts the run.
sub _expand_env {
    my ($text, $name) = @_;
    return undef unless defined $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{_env_value($1, $name)}ge;
    return $text;
}

sub _env_value {
    my ($var, $name) = @_;
    if ($var =~ /\ATEST_NGINX_RAND_PORT_\d+\z/) {
        # A fresh free port per block; the same name maps to the same port.
        $RandPorts{$var} //= _pick_free_port();
        $ENV{$var} = $RandPorts{$var};
        return $RandPorts{$var};
    }
    bail_out("No environment $var defined.\n") unless defined $ENV{$var};
    return $ENV{$var};
}

sub _make_nginx_conf {
    my $block = shift;
    my $name  = $block->name;

    # A block without "--- config" reuses the previous block's one.
    my $config = $block->config;
    if (defined $config) {
        $LastConfig = $config;
    } else {
        $config = $LastConfig // '';
    }

    $config           = _expand_env($config, $name);
    my $http_config   = _expand_env($block->http_config // '', $name);
    my $main_config   = _expand_env($block->main_config // '', $name);
    my $post_main     = _expand_env($block->post_main_config // '', $name);
    my $preamble      = _expand_env($ConfigPreamble // '', $name);
    my $level         = $block->log_level // $LogLevel;

    my $conf = '';

    # Workers run as "nobody" under root unless told otherwise.
    if (defined $ENV{TEST_NGINX_WORKER_USER}) {
        $conf .= "user $ENV{TEST_NGINX_WORKER_USER};\n";
    } elsif ($> == 0) {
        $conf .= "user root;\n";
    }

    $conf .= "worker_processes  $Workers;\n"
           . "daemon on;\n"
           . "master_process $MasterProcessEnabled;\n"
           . "error_log $ErrLog $level;\n"
           . "pid       $PidFile;\n";

    for my $env (@EnvToNginx) {
        $conf .= $env =~ /[\s';"]/ ? "env '$env';\n" : "env $env;\n";
    }

    for my $mod (split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '') {
        $conf .= "load_module $mod;\n";
    }

    $conf .= "\n$main_config\n\n";

    $conf .= "http {\n"
           . "    access_log $LogDir/access.log;\n";
    for my $t (@TempDirs) {
        # e.g. "client_body_temp_path <servroot>/client_body_temp;"
        $conf .= "    ${t}_path $ServRoot/$t;\n";
    }
    $conf .= "    default_type text/plain;\n"
           . "    keepalive_timeout  68000ms;\n"
           . "\n$http_config\n\n"
           . "    server {\n"
           . "        listen          $ServerPort;\n"
           . "        server_name     '$ServerName';\n"
           . "        client_max_body_size 30M;\n"
           . "$preamble\n"
           . "$config\n";
    $conf .= "        location / {\n"
           . "            root $HtmlDir;\n"
           . "            index index.html index.htm;\n"
           . "        }\n" unless $NoRootLocation;
    $conf .= "    }\n"
           . "}\n"
           . "\n$post_main\n\n"
           . "events {\n"
           . "    accept_mutex off;\n"
           . "    worker_connections  $WorkerConnections;\n"
           . "}\n";

    return $conf;
}

# ---------------------------------------------------------------------------
# Server root, user files, process control.
# ---------------------------------------------------------------------------

sub _prepare_servroot {
    my ($block, $conf) = @_;

    for my $d ('conf', 'logs', 'html', @TempDirs) {
        File::Path::remove_tree("$ServRoot/$d") if -e "$ServRoot/$d";
    }
    File::Path::make_path($ConfDir, $LogDir, $HtmlDir);
    _write_conf($conf);
    _write_user_files($block);
}

sub _write_conf {
    my $conf = shift;
    open my $fh, '>', "$ConfDir/nginx.conf"
        or bail_out("cannot write $ConfDir/nginx.conf: $!");
    print $fh $conf;
    close $fh;
}

# --- user_files: ">>> path [mtime]" headers followed by the content, or an
# eval'd arrayref of [path, content, mtime?].  Files go under html/.
sub _write_user_files {
    my $block = shift;
    my $uf = $block->user_files;
    return unless defined $uf;

    my @files;
    if (ref $uf eq 'ARRAY') {
        @files = map { [@$_] } @$uf;
    } else {
        my $cur;
        for my $line (split /^/, $uf) {
            if ($line =~ /\A>>> (\S+)(?:\s+(\d+))?\s*\z/) {
                push @files, $cur = [$1, '', $2];
                next;
            }
            bail_out($block->name . " - user_files: content before '>>>'")
                unless $cur;
            $cur->[1] .= $line;
        }
    }

    for my $f (@files) {
        my ($path, $content, $mtime) = @$f;
        my $full = "$HtmlDir/$path";
        (my $dir = $full) =~ s{/[^/]*\z}{};
        File::Path::make_path($dir);
        open my $fh, '>', $full or bail_out("cannot write $full: $!");
        binmode $fh;
        print $fh $content;
        close $fh;
        utime $mtime, $mtime, $full if defined $mtime;
    }
}

# Start nginx for this block (or reload it in HUP mode).  Returns the error
# log offset where this block's log starts, or undef if nginx would not run.
sub _start_or_reload {
    my ($block, $conf) = @_;
    my $name = $block->name;

    if ($NginxPid && _alive($NginxPid)) {
        # nginx's single-process mode does not survive a SIGHUP reload
        # ("worker_connections are not enough" afterwards), so HUP mode
        # needs master_on(); without a master we restart instead.
        if ($UseHup && $MasterProcessEnabled eq 'on') {
            return _reload_nginx($block, $conf);
        }
        if (!$ForceRestart && defined $LastConfText && $LastConfText eq $conf
            && !defined $block->user_files)
        {
            return -s $ErrLog // 0;
        }
    }

    _stop_nginx();
    _prepare_servroot($block, $conf);

    $Starting = 1;
    my ($ok, $out) = _spawn_nginx();
    if ($ok) {
        $ok = _wait_for_pid_file();
        $out .= "nginx exited right after starting\n" unless $ok;
    }
    $Starting = 0;
    if (!$ok) {
        fail("$name - nginx started");
        diag($out);
        diag(_tail(_read_file_from($ErrLog, 0), 20));
        _stop_nginx();
        _run_test_cleanup($block);
        return undef;
    }

    $LastConfText = $conf;
    return 0;
}

# Run the nginx binary; with "daemon on" it returns once the server is
# listening (the sockets are bound before it forks).  Returns (ok, output).
sub _spawn_nginx {
    my $out_file = "$ServRoot/nginx.out";
    my @cmd = ($NginxBinary, '-p', "$ServRoot/", '-c', 'conf/nginx.conf');
    # -e (nginx >= 1.19.5) keeps the compiled-in error log path unused.
    push @cmd, '-e', $ErrLog
        if _version_cmp(_nginx_version(), [1, 19, 5]) >= 0;

    my $pid = fork;
    bail_out("fork failed: $!") unless defined $pid;
    $SpawnPid = $pid;
    if ($pid == 0) {
        open STDOUT, '>', $out_file or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(127);
        { no warnings "exec"; exec { $cmd[0] } @cmd; }
        print STDERR "cannot exec $cmd[0]: $!\n";
        POSIX::_exit(127);
    }
    waitpid $pid, 0;
    my $rc  = $?;
    undef $SpawnPid;
    my $out = _read_file_from($out_file, 0);
    unlink $out_file;
    return ($rc == 0, $out);
}

# Wait (polling, no fixed sleep) until the daemon wrote its pid file.
sub _wait_for_pid_file {
    my $deadline = Time::HiRes::time() + 10;
    while (Time::HiRes::time() < $deadline) {
        if (open my $fh, '<', $PidFile) {
            my $pid = <$fh>;
            close $fh;
            if (defined $pid && $pid =~ /(\d+)/) {
                $NginxPid = $1;
                return _alive($NginxPid);
            }
        }
        Time::HiRes::sleep(0.002);
    }
    return 0;
}

# HUP mode: rewrite the config, signal nginx and wait for the reload.
sub _reload_nginx {
    my ($block, $conf) = @_;

    my $start = -s $ErrLog // 0;
    File::Path::remove_tree($HtmlDir);
    File::Path::make_path($HtmlDir);
    _write_conf($conf);
    _write_user_files($block);

    # With a master, the reload is done when the old workers have exited
    # (they keep accepting on the old config until then).
    my @old_workers = _children_of($NginxPid);
    kill 'HUP', $NginxPid;

    # "reconfiguring" is a [notice]; without a master the single process
    # reloads synchronously right after logging it.
    my $deadline = Time::HiRes::time() + 10;
    my $seen     = 0;
    while (Time::HiRes::time() < $deadline) {
        my $log = _read_file_from($ErrLog, $start);
        if ($log =~ /\[emerg\]/) {
            fail($block->name . " - nginx reloaded its configuration");
            diag(_tail($log, 20));
            last;
        }
        $seen = 1 if $log =~ /reconfiguring/;
        my $old_left = grep { _alive($_) } @old_workers;
        last if $old_left == 0
                && ($seen || $MasterProcessEnabled eq 'on' && @old_workers);
        Time::HiRes::sleep(0.005);
    }
    Time::HiRes::sleep(0.3) unless $seen;   # log level above "notice"
    $LastConfText = $conf;
    return $start;
}

# Pids whose parent is $ppid (the workers of a master).
sub _children_of {
    my $ppid = shift;
    my @kids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // '';
        close $fh;
        push @kids, $1 if $line =~ /\A(\d+) \(.*\) \S+ (\d+) /s
                          && $2 == $ppid;
    }
    return @kids;
}

sub _alive {
    my $pid = shift;
    return 0 unless $pid && kill 0, $pid;
    # A zombie (not reaped by a container's pid 1) counts as gone.
    if (open my $fh, '<', "/proc/$pid/stat") {
        my $stat = <$fh> // '';
        close $fh;
        return 0 if $stat =~ /\A\d+ \(.*\) [ZX] /s;
    }
    return 1;
}

# Stop the nginx we started: QUIT, then TERM, then KILL; always waits.
sub _stop_nginx {
    # Interrupted while starting: the daemon may exist before we read its
    # pid, so take it from the pid file.
    if (!$NginxPid && $Starting) {
        # Interrupted while starting: the daemon may exist before its pid
        # file does.  Wait for the file while the launcher still runs (or
        # just exited), then stop whatever it names.
        my $deadline = Time::HiRes::time() + 5;
        my $exited_at;
        while (Time::HiRes::time() < $deadline) {
            if (open my $fh, '<', $PidFile) {
                ($NginxPid) = (<$fh> // '') =~ /(\d+)/;
                close $fh;
                last if $NginxPid;
            }
            if (!$SpawnPid || waitpid($SpawnPid, POSIX::WNOHANG()) != 0) {
                $exited_at //= Time::HiRes::time();
                last if Time::HiRes::time() - $exited_at > 0.2;
            }
            Time::HiRes::sleep(0.002);
        }
    }
    $Starting = 0;
    my $pid = $NginxPid or return;
    undef $NginxPid;
    undef $LastConfText;

    for my $step (['QUIT', 10], ['TERM', 3], ['KILL', 3]) {
        my ($sig, $secs) = @$step;
        return unless _alive($pid);
        kill $sig, $pid;
        my $deadline = Time::HiRes::time() + $secs;
        my $nap = 0.001;
        while (Time::HiRes::time() < $deadline) {
            return unless _alive($pid);
            Time::HiRes::sleep($nap);
            $nap *= 2 if $nap < 0.02;
        }
        warn "nginx (pid $pid) did not exit on SIG$sig\n";
    }
}

sub _nginx_version {
    return $NginxVersion if $NginxVersion;
    my $v = `$NginxBinary -v 2>&1` // '';
    my @v = $v =~ m{/(\d+)\.(\d+)\.(\d+)} ? ($1, $2, $3) : (0, 0, 0);
    return $NginxVersion = \@v;
}

sub _version_cmp {
    my ($a, $b) = @_;
    for my $i (0 .. 2) {
        my $c = ($a->[$i] // 0) <=> ($b->[$i] // 0);
        return $c if $c;
    }
    return 0;
}

# A free TCP port on all addresses (the listen line is a bare port).
sub _pick_free_port {
    for (1 .. 200) {
        my $port = 20000 + int(rand(30000));
        my $s = IO::Socket::INET->new(
            LocalAddr => '0.0.0.0', LocalPort => $port, Listen => 1,
            ReuseAddr => 1, Proto => 'tcp',
        ) or next;
        close $s;
        return $port;
    }
    die "cannot find a free TCP port\n";
}

sub _read_file_from {
    my ($file, $offset) = @_;
    open my $fh, '<', $file or return '';
    binmode $fh;
    seek $fh, $offset, 0;
    local $/;
    my $data = <$fh> // '';
    close $fh;
    return $data;
}

sub _tail {
    my ($text, $n) = @_;
    my @l = split /\n/, $text;
    @l = @l[-$n .. -1] if @l > $n;
    return join "\n", @l;
}

# ---------------------------------------------------------------------------
# Building requests.
# ---------------------------------------------------------------------------

# Returns a list of "exchanges": one TCP connection each, with the packets
# to send and the methods of the responses expected on it.
sub _build_exchanges {
    my $block = shift;
    my $name  = $block->name;

    # --- raw_request: sent verbatim; an arrayref gives separate packets.
    if (defined(my $raw = $block->raw_request)) {
        my @packets = _packets(ref $raw eq 'ARRAY' ? $raw : [$raw]);
        my ($method) = join('', map { $_->{data} } @packets) =~ /\A\s*(\S+)/;
        return ({ packets => \@packets, methods => [$method // 'GET'] });
    }

    # --- pipelined_requests: several requests written on one connection.
    if (defined(my $pl = $block->pipelined_requests)) {
        bail_out("$name - pipelined_requests must be an arrayref (eval)")
            unless ref $pl eq 'ARRAY';
        my ($data, @methods) = ('');
        for my $i (0 .. $#$pl) {
            my ($raw, $method) = _build_http_request(
                $pl->[$i], _pick(scalar $block->more_headers, $i),
                $i == $#$pl ? 'close' : 'keep-alive');
            $data .= $raw;
            push @methods, $method;
        }
        return ({ packets => [{ data => $data }], methods => \@methods });
    }

    my $req = $block->request;
    bail_out("$name - no --- request, raw_request or pipelined_requests")
        unless defined $req;

    my @exchanges;
    my @reqs = ref $req eq 'ARRAY' ? @$req : ($req);
    for my $i (0 .. $#reqs) {
        my $one = $reqs[$i];
        my $mh  = _pick(scalar $block->more_headers, $i);
        if (ref $one eq 'ARRAY') {
            push @exchanges, _build_split_request($one, $mh);
        } else {
            my ($raw, $method) = _build_http_request($one, $mh);
            push @exchanges, { packets => [{ data => $raw }],
                               methods => [$method] };
        }
    }
    return @exchanges;
}

# Normalise packet specs: strings or { value => ..., delay_before => secs }.
sub _packets {
    my $list = shift;
    return map {
        ref $_ eq 'HASH'
            ? { data => _bytes($_->{value} // ''),
                delay_before => $_->{delay_before} }
            : { data => _bytes($_) }
    } @$list;
}

sub _bytes {
    my $s = shift;
    utf8::encode($s) if utf8::is_utf8($s);
    return $s;
}

# Turn a "--- request" text into raw HTTP bytes.  Grammar:
#   [blank and "#" lines]  METHOD [URI [HTTP/x.y]]  \n  [body]
# The body is sent with leading/trailing whitespace stripped and a matching
# Content-Length.  Host and Connection are added unless more_headers has
# them.  Returns (raw bytes, method).
sub _build_http_request {
    my ($text, $more_headers, $connection) = @_;
    $text = _bytes($text // '');
    $connection //= 'close';

    1 while $text =~ s/\A\s+// || $text =~ s/\A#[^\n]*(?:\n|\z)//;

    my ($first, $body) = split /\n/, $text, 2;
    $first //= '';
    $body  //= '';
    my ($method, $uri, $proto) = split ' ', $first;
    $method //= 'GET';
    $uri    //= '/';
    $proto  //= 'HTTP/1.1';
    $body =~ s/\A\s+//;
    $body =~ s/\s+\z//;

    return ("$method $uri\r\n", $method) if $proto eq 'HTTP/0.9';

    my @headers;
    for my $line (split /\n/, $more_headers // '') {
        next if $line =~ /\A\s*(?:#|\z)/;
        if ($line =~ /\A\s*([^:\s]+)\s*:\s*(.*?)\s*\z/) {
            push @headers, [$1, $2];
        }
    }
    my %have = map { (lc $_->[0] => 1) } @headers;

    my $raw = "$method $uri $proto\r\n";
    $raw .= "Host: localhost\r\n"         unless $have{host};
    $raw .= "Connection: $connection\r\n" unless $have{connection};
    $raw .= "$_->[0]: $_->[1]\r\n" for @headers;
    $raw .= "Content-Length: " . length($body) . "\r\n"
        if length $body
           && !$have{'content-length'} && !$have{'transfer-encoding'};
    $raw .= "\r\n" . $body;

    return ($raw, $method);
}

# --- request eval [["part1", {value => "part2", delay_before => 1}]]:
# the parts are joined into one request text, built as usual, then sent as
# separate packets split at the parts' boundaries.  Boundaries inside the
# request line keep their offset; later ones are counted from the end.
sub _build_split_request {
    my ($parts, $more_headers) = @_;
    my @p    = _packets($parts);
    my $text = join '', map { $_->{data} } @p;
    my ($raw, $method) = _build_http_request($text, $more_headers);

    my $first_len = index($text, "\n");
    $first_len = length $text if $first_len < 0;

    my @packets;
    my ($prev, $off) = (0, 0);
    for my $i (0 .. $#p) {
        my $start = $off;
        $off += length $p[$i]{data};
        next if $i == 0;
        my $at = $start <= $first_len
               ? $start
               : length($raw) - (length($text) - $start);
        $at = $prev if $at < $prev;
        $at = length $raw if $at > length $raw;
        push @packets, { data => substr($raw, $prev, $at - $prev),
                         delay_before => $p[$i - 1]{delay_before} };
        $prev = $at;
    }
    push @packets, { data => substr($raw, $prev),
                     delay_before => $p[-1]{delay_before} };
    return { packets => \@packets, methods => [$method] };
}

# ---------------------------------------------------------------------------
# The HTTP client.
# ---------------------------------------------------------------------------

# Parse "3", "0.5", "50ms", "2s" into seconds.
sub _parse_timeout {
    my $t = shift;
    return $Timeout unless defined $t && length $t;
    return $1 / 1000 if $t =~ /\A\s*([\d.]+)\s*ms\s*\z/;
    return $1        if $t =~ /\A\s*([\d.]+)\s*s?\s*\z/;
    return $1 * 60   if $t =~ /\A\s*([\d.]+)\s*m\s*\z/;
    return $Timeout;
}

# Send the packets and read until EOF, or until all expected responses are
# complete and the last one keeps the connection alive.  The deadline is
# the block timeout (plus any packet delays).
sub _exchange {
    my ($ex, $timeout) = @_;
    my %r = (data => '', eof => 0, timed_out => 0, error => undef);
    my $deadline = Time::HiRes::time() + $timeout;

    local $SIG{PIPE} = 'IGNORE';
    my $sock = IO::Socket::INET->new(
        PeerAddr => $ServerAddr, PeerPort => $ClientPort, Proto => 'tcp',
        Timeout  => $timeout,
    );
    if (!$sock) {
        $r{error} = "cannot connect to $ServerAddr:$ClientPort: $@";
        return \%r;
    }
    $sock->blocking(0);
    my $sel = IO::Select->new($sock);

    my $read = sub {
        my $n = sysread($sock, $r{data}, 65536, length $r{data});
        if (!defined $n) {
            return 1 if $!{EAGAIN} || $!{EWOULDBLOCK} || $!{EINTR};
            $r{error} = "recv failed: $!";
            $r{eof}   = 1;
            return 0;
        }
        $r{eof} = 1 if $n == 0;
        return $n > 0;
    };

  PACKET:
    for my $p (@{ $ex->{packets} }) {
        if (my $d = $p->{delay_before}) {
            Time::HiRes::sleep($d);
            $deadline += $d;
        }
        my $off = 0;
        while ($off < length $p->{data}) {
            my $left = $deadline - Time::HiRes::time();
            if ($left <= 0) { $r{timed_out} = 1; last PACKET }
            my ($rd, $wr) = IO::Select->select($sel, $sel, undef, $left);
            if ($rd && @$rd) {
                $read->();
                last PACKET if $r{eof};    # the server answered early
            }
            if ($wr && @$wr) {
                my $n = syswrite($sock, $p->{data}, 65536, $off);
                if (!defined $n) {
                    next if $!{EAGAIN} || $!{EWOULDBLOCK} || $!{EINTR};
                    last PACKET;           # reset: read what we got
                }
                $off += $n;
            }
        }
    }

    my $n_expected = @{ $ex->{methods} };
    while (!$r{eof} && !$r{timed_out}) {
        # Only a keep-alive reply can be complete before EOF; don't re-parse
        # big bodies on every read otherwise.
        if ($r{data} =~ /\nConnection:[ \t]*keep-alive/i) {
            my @res = _parse_responses($r{data}, $ex->{methods}, 0);
            last if @res == $n_expected && $res[-1]{complete}
                    && ($res[-1]{connection} // '') =~ /keep-alive/i;
        }
        my $left = $deadline - Time::HiRes::time();
        if ($left <= 0) { $r{timed_out} = 1; last }
        $read->() if $sel->can_read($left);
    }

    close $sock;
    return \%r;
}

# Split the received bytes into responses.  Each is a hashref with code,
# head (status line + headers), body (chunked encoding removed), complete,
# connection.  A reply with no status line is taken as an HTTP/0.9 body.
sub _parse_responses {
    my ($data, $methods, $eof) = @_;
    my @res;
    my ($pos, $i) = (0, 0);

    while ($pos < length $data) {
        my $method = $methods->[$i] // 'GET';
        my $rest   = substr $data, $pos;

        if ($rest !~ m{\A\s*HTTP/\d}) {
            push @res, { code => undef, head => undef, body => $rest,
                         complete => $eof };
            last;
        }
        if ($rest !~ /\r?\n\r?\n/) {
            push @res, { code => undef, head => $rest, body => '',
                         complete => 0 };
            last;
        }
        my $hlen = $-[0];
        my $head = substr $rest, 0, $hlen;
        my $bpos = $+[0];
        my ($code) = $head =~ m{\A\s*HTTP/\d+(?:\.\d+)?\s+(\d{3})};
        $code //= 0;

        my %h;
        for my $line (split /\r?\n/, $head) {
            $h{lc $1} //= $2 if $line =~ /\A([^:\s]+)\s*:\s*(.*?)\s*\z/;
        }

        # Interim 1xx replies (100 Continue) are skipped.
        if ($code >= 100 && $code < 200 && $code != 101) {
            $pos += $bpos;
            next;
        }

        my ($body, $end, $complete);
        if ($method eq 'HEAD' || $code == 204 || $code == 304
            || $code == 101)
        {
            ($body, $end, $complete) = ('', $bpos, 1);
        } elsif (($h{'transfer-encoding'} // '') =~ /chunked/i) {
            ($body, $end, $complete) = _dechunk($rest, $bpos);
        } elsif (defined $h{'content-length'}
                 && $h{'content-length'} =~ /\A\d+\z/)
        {
            my $cl = $h{'content-length'};
            if (length($rest) - $bpos >= $cl) {
                ($body, $end, $complete) =
                    (substr($rest, $bpos, $cl), $bpos + $cl, 1);
            } else {
                ($body, $end, $complete) =
                    (substr($rest, $bpos), length $rest, 0);
            }
        } else {
            ($body, $end, $complete) =
                (substr($rest, $bpos), length $rest, $eof);
        }

        push @res, { code => $code, head => $head, body => $body,
                     complete => $complete,
                     connection => $h{connection} };
        last unless $complete;
        $pos += $end;
        $i++;
    }
    return @res;
}

# Decode a chunked body starting at $pos.  Returns (body, end, complete).
sub _dechunk {
    my ($data, $pos) = @_;
    my $body = '';
    while (1) {
        my $eol = index $data, "\n", $pos;
        return ($body, length $data, 0) if $eol < 0;
        my $line = substr $data, $pos, $eol - $pos;
        my ($hex) = $line =~ /\A\s*([0-9a-fA-F]+)/;
        return ($body . substr($data, $pos), length $data, 0)
            unless defined $hex;
        my $size = hex $hex;
        $pos = $eol + 1;
        if ($size == 0) {
            # Trailer lines up to an empty line.
            while (1) {
                my $e = index $data, "\n", $pos;
                return ($body, length $data, 0) if $e < 0;
                my $l = substr $data, $pos, $e - $pos;
                $pos = $e + 1;
                return ($body, $pos, 1) if $l =~ /\A\r?\z/;
            }
        }
        if (length($data) - $pos < $size) {
            return ($body . substr($data, $pos), length $data, 0);
        }
        $body .= substr $data, $pos, $size;
        $pos += $size;
        $pos += 2 if substr($data, $pos, 2) eq "\r\n";
        $pos += 1 if substr($data, $pos, 1) eq "\n";
    }
}

# An HTTP::Response for a parsed reply (undef when there was none).
sub _to_http_response {
    my $p = shift;
    return undef unless $p && defined $p->{head};
    my $res = HTTP::Response->parse($p->{head} . "\r\n\r\n");
    $res->content($p->{body});
    return $res;
}

# ---------------------------------------------------------------------------
# Running the requests and the checks.
# ---------------------------------------------------------------------------

sub _run_requests {
    my ($block, $rep, $block_log_start) = @_;
    my $name    = $block->name;
    my $timeout = _parse_timeout(scalar $block->timeout);

    my $req_idx = 0;
    for my $ex (_build_exchanges($block)) {
        my $log_start = $CheckAccumErrLog ? $block_log_start
                                          : (-s $ErrLog // 0);

        my $r = _exchange($ex, $timeout);

        if ($r->{error} && !length $r->{data}) {
            fail("$name - request sent ($r->{error})")
                unless $block->abort;
        }
        if ($r->{timed_out} && !defined $block->abort) {
            fail("ERROR: client socket timed out - $name");
        }

        my @parsed = _parse_responses($r->{data}, $ex->{methods}, 1);

        for my $j (0 .. $#{ $ex->{methods} }) {
            my $p = $parsed[$j];
            _check_response($block, $p, $rep, $req_idx)
                unless defined $block->ignore_response;
            $req_idx++;
        }

        if (defined(my $wait = $block->wait)) {
            Time::HiRes::sleep($wait) if $wait > 0;
        }

        my $log = _read_error_log_slice($block, $log_start);
        _check_error_log($block, $log, $name, $rep, $req_idx - 1);
    }
}

sub _check_response {
    my ($block, $p, $rep, $idx) = @_;
    my $name = $block->name;
    my $res  = _to_http_response($p);
    my $code = defined $p ? ($p->{code} // '') : '';
    my $body = defined $p ? $p->{body} : undef;

    # Status: always checked, 200 unless told otherwise.
    if (defined(my $like = _pick(scalar $block->error_code_like, $idx))) {
        like($code, ref $like ? $like : qr/$like/,
             "$name - status code ok");
    } else {
        my $want = _pick(scalar $block->error_code, $idx);
        $want = 200 unless defined $want && length $want;
        is($code, $want, "$name - status code ok");
    }

    # --- response_headers: "Key: value" exact, "!Key" absent.
    if (defined(my $rh = _pick(scalar $block->response_headers, $idx))) {
        for my $pair (_header_specs($rh)) {
            my ($key, $want) = @$pair;
            my $got = $res ? scalar $res->header($key =~ s/\A!//r) : undef;
            if ($key =~ /\A!(.*)\z/) {
                ok(!defined $got, "$name - header $1 not present")
                    or diag("got '$got'");
            } else {
                is($got, $want, "$name - header $key ok");
            }
        }
    }

    # --- response_headers_like: values are anchored regexes.
    if (defined(my $rh = _pick(scalar $block->response_headers_like, $idx))) {
        for my $pair (_header_specs($rh)) {
            my ($key, $pat) = @$pair;
            my $got = $res ? scalar $res->header($key) : undef;
            like($got, qr/^(?:$pat)$/s, "$name - header $key like ok");
        }
    }

    my $suffix = "(repeated req $rep, req $idx)";

    # --- response_body: exact (a qr// from eval is matched instead).
    if (defined(my $want = _pick(scalar $block->response_body, $idx))) {
        if (ref $want eq 'Regexp') {
            like($body, $want, "$name - response_body - like $suffix");
        } elsif (defined $block->response_body_json_sort) {
            _is_json_sorted($body, $want,
                            "$name - response_body - json $suffix");
        } else {
            _is_str($body, $want,
                    "$name - response_body - response is expected $suffix");
        }
    }

    # --- response_body_json_sort with a value: compare as canonical JSON.
    if (defined(my $want = _pick(scalar $block->response_body_json_sort, $idx))) {
        _is_json_sorted($body, $want,
                        "$name - response_body_json_sort $suffix")
            if $want =~ /\S/ && !defined $block->response_body;
    }

    if (defined(my $pat = _pick(scalar $block->response_body_like, $idx))) {
        like($body, ref $pat ? $pat : qr/$pat/s,
             "$name - response_body_like - response is expected $suffix");
    }

    if (defined(my $pat = _pick(scalar $block->response_body_unlike, $idx))) {
        unlike($body // '', ref $pat ? $pat : qr/$pat/s,
               "$name - response_body_unlike - response is expected "
               . $suffix);
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $body, $idx, $rep, 0);
    }
}

# "Key: value" lines (or an eval'd hashref) as [key, value] pairs.
sub _header_specs {
    my $spec = shift;
    if (ref $spec eq 'HASH') {
        return map { [$_, $spec->{$_}] } sort keys %$spec;
    }
    my @pairs;
    for my $line (split /\n/, $spec) {
        next if $line =~ /\A\s*\z/;
        if ($line =~ /\A\s*(![^:\s]+)\s*\z/) {
            push @pairs, [$1, undef];
        } elsif ($line =~ /\A\s*([^:\s]+)\s*:\s*(.*?)\s*\z/) {
            push @pairs, [$1, $2];
        } else {
            bail_out("bad header spec line: $line");
        }
    }
    return @pairs;
}

sub _is_str {
    my ($got, $want, $name) = @_;
    if (!$NoLongString && eval { require Test::LongString; 1 }) {
        local $Test::Builder::Level = $Test::Builder::Level + 1;
        return Test::LongString::is_string($got, $want, $name);
    }
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return is($got, $want, $name);
}

sub _is_json_sorted {
    my ($got, $want, $name) = @_;
    require JSON::PP;
    my $json = JSON::PP->new->canonical(1)->allow_nonref(1);
    my $canon = sub {
        my $s = shift;
        return undef unless defined $s;
        my $v = eval { $json->decode($s) };
        return defined $v || !$@ ? $json->encode($v) : "(not JSON) $s";
    };
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return is($canon->($got), $canon->($want), $name);
}

# The error log written since $start.  When a positive "--- error_log"
# pattern is still missing, keep polling briefly: nginx may log after the
# client saw the response.
sub _read_error_log_slice {
    my ($block, $start) = @_;
    my $log = _read_file_from($ErrLog, $start);
    my @want = _log_patterns(scalar $block->error_log);
    return $log unless @want;

    my $deadline = Time::HiRes::time() + 0.5;
    while (Time::HiRes::time() < $deadline) {
        last unless grep { !_log_match($log, $_) } @want;
        Time::HiRes::sleep(0.01);
        $log = _read_file_from($ErrLog, $start);
    }
    return $log;
}

# Section value => list of patterns (strings or qr//).
sub _log_patterns {
    my $v = shift;
    return () unless defined $v;
    return @$v if ref $v eq 'ARRAY';
    return ($v) if ref $v eq 'Regexp';
    return grep { length } map { s/\A\s+|\s+\z//gr } split /\n/, $v;
}

# First log line matching the pattern (literal substring or qr//).
sub _log_match {
    my ($log, $pat) = @_;
    for my $line (split /\n/, $log) {
        if (ref $pat eq 'Regexp') {
            return $line if $line =~ $pat;
        } else {
            return $line if index($line, $pat) >= 0;
        }
    }
    return undef;
}

sub _check_error_log {
    my ($block, $log, $name, $rep, $idx) = @_;

    for my $pat (_log_patterns(scalar $block->error_log)) {
        ok(defined _log_match($log, $pat),
           "$name - pattern \"$pat\" should match a line in error.log "
           . "(req $idx)");
    }

    for my $pat (_log_patterns(scalar $block->no_error_log)) {
        my $line = _log_match($log, $pat);
        ok(!defined $line,
           "$name - pattern \"$pat\" should not match any line in "
           . "error.log (req $idx)")
            or diag("matched: $line");
    }

    # --- grep_error_log + --- grep_error_log_out: every match, one a line.
    if (defined(my $g = $block->grep_error_log)) {
        my $out = '';
        if (ref $g eq 'Regexp') {
            while ($log =~ /$g/g) { $out .= "$&\n" }
        } else {
            $g =~ s/\A\s+|\s+\z//g;
            my $p = 0;
            while (length $g && ($p = index($log, $g, $p)) >= 0) {
                $out .= "$g\n";
                $p += length $g;
            }
        }
        my $want = $block->grep_error_log_out;
        $want = _pick($want, $rep) if ref $want eq 'ARRAY';
        if (ref $want eq 'Regexp') {
            like($out, $want, "$name - grep_error_log_out (req $idx)");
        } elsif (defined $want) {
            _is_str($out, $want, "$name - grep_error_log_out (req $idx)");
        }
    }

    # Serious lines not mentioned in the block only warn (not in a
    # must_die block, where an [emerg] is the point); failed assertions
    # fail.
    my $mentioned = join "\n", map { ref $_ ? '' : $_ }
        _log_patterns(scalar $block->error_log),
        _log_patterns(scalar $block->no_error_log);
    for my $line (split /\n/, $log) {
        if ($line =~ /\[(alert|crit|emerg)\]/ && index($mentioned, "[$1]") < 0
            && !defined $block->must_die)
        {
            warn "WARNING: $name - $line\n";
        }
        if ($line =~ /Assertion .* failed/) {
            fail("$name - no failed assertion in error.log: $line");
        }
    }
}

# ---------------------------------------------------------------------------
# Cleanup: nginx never outlives the test file.
# ---------------------------------------------------------------------------

for my $sig (qw(INT TERM HUP)) {
    my $old = $SIG{$sig};
    # Keep a handler the .t file installed, and an inherited "ignore".
    next if defined $old && (ref $old || $old eq 'IGNORE');
    $SIG{$sig} = sub {
        _stop_nginx() if $$ == $OwnerPid;
        $SIG{$sig} = 'DEFAULT';
        kill $sig, $$;
    };
}

END {
    if ($$ == $OwnerPid) {
        local ($?, $@, $!);
        _stop_nginx();
        eval { $_->() for @CleanupHandlers; 1 }
            or warn "cleanup handler failed: $@";
        # A randomized server root is private to this run: remove it when
        # everything passed (keep it for debugging otherwise).
        if ($Randomize && !$ENV{TEST_NGINX_NO_CLEAN}
            && Test::More->builder->is_passing && -d $ServRoot)
        {
            File::Path::remove_tree($ServRoot);
        }
    }
}

1;
