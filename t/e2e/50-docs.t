#!/usr/bin/perl
# The docs cannot drift from the code:
#  - every ```sh block of docs/api.md runs, in order, against the stack
#    (dev.env exported); a block whose last line is "# -> NNN" is a
#    request whose HTTP status must be NNN, the others are set-up (tokens)
#    run as they are. The example endpoint, user ids and idempotency key
#    are made unique per run so reruns on the same stack pass;
#  - the directives named in docs/configuration.md are exactly the ones in
#    the module's command table.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use FindBin;

my $root = "$FindBin::Bin/../..";
chdir $root or die "chdir $root: $!";

# --- directives: docs/configuration.md against the command table ------

sub slurp {
    my ($f) = @_;
    open(my $fh, '<', $f) or die "$f: $!";
    local $/;
    return scalar <$fh>;
}

{
    my %code;
    for my $f ('ngx_http_webpush_module.c', glob('src/*.c')) {
        my $src = slurp($f);
        # entries of an ngx_command_t table: ngx_string("name"), followed
        # by the NGX_HTTP_*_CONF context flags
        while ($src =~ /\{\s*ngx_string\("(webpush_\w+)"\),\s*NGX_HTTP_\w*CONF/g) {
            $code{$1} = 1;
        }
    }
    my %doc;
    my $conf = slurp('docs/configuration.md');
    # the reference's headings: "### webpush_name"
    $doc{$1} = 1 while $conf =~ /^###\s+`?(webpush_\w+)`?/mg;

    ok(scalar(keys %code) >= 20, 'found the command table ('
       . scalar(keys %code) . ' directives)');
    is_deeply([sort keys %doc], [sort keys %code],
              'docs/configuration.md documents exactly the module directives')
        or diag("in code only: @{[grep { !$doc{$_} } sort keys %code]}; "
                . "in docs only: @{[grep { !$code{$_} } sort keys %doc]}");
}

# --- error codes: every code docs/api.md shows is one the code emits ----

{
    my $src = join('', map { slurp($_) } 'ngx_http_webpush_module.c',
                   glob('src/*.c'), 'lib/wp_err.h', 'util/nginx.conf.in');
    my $api = slurp('docs/api.md');
    my %codes = map { $_ => 1 } $api =~ /"code":"(\w+)"/g;
    my @unknown = grep { index($src, "\"$_\"") < 0
                         && index($src, "\\\"$_\\\"") < 0 } sort keys %codes;
    ok(keys(%codes) >= 25, scalar(keys %codes) . ' error codes shown in docs/api.md');
    is("@unknown", '', 'every error code in docs/api.md is in the sources');
}

# --- docs/api.md examples ----------------------------------------------

unless ($ENV{API_URL} && $ENV{API_CA_FILE} && $ENV{JWT_SECRET}
        && -x 'build/webpush-cli') {
    diag('docs/api.md examples skipped: API_URL/API_CA_FILE/JWT_SECRET '
         . 'not set (export the stack dev.env) or build/webpush-cli missing');
    done_testing();
    exit 0;
}

my $md = slurp('docs/api.md');
my @blocks;
while ($md =~ /^```sh\n(.*?)^```\s*$/msg) {
    push @blocks, $1;
}
ok(@blocks >= 30, scalar(@blocks) . ' sh blocks in docs/api.md');

my $run = "$$-" . time();
my $tmp = tempdir(CLEANUP => 1);
my (@checks, $script);
$script = "set -u\n";

for my $i (0 .. $#blocks) {
    my $b = $blocks[$i];
    # unique per run: the subscription's endpoint, the users, the key
    $b =~ s/docs-example-1/docs-example-$run/g;
    $b =~ s/\buser-(\d)\b/docs-user-$1-$run/g;
    $b =~ s/docs-key-1/docs-key-$run/g;
    # the environment comes from the exported dev.env
    $b =~ s{^\.\s+\./var/dev\.env\s*$}{}mg;

    if ($b =~ s/^#\s*->\s*(\d{3})\s*\z//m) {
        my $want = $1;
        my $n = scalar @checks;
        my ($first) = $b =~ /^\s*(\S.*)$/m;
        $first = substr($first, 0, 70);
        # the request's status, its body kept for the diagnostics
        # (the last curl of the block is the request; "-w @..." would read
        # a file, hence the STATUS marker)
        $b =~ s/\bcurl\b(?!.*\bcurl\b)/curl -s -m 15 -o '$tmp\/$n.out' -w 'STATUS $n %{http_code}\\n'/s
            or die "block $i has an expected status but no curl: $b";
        push @checks, [$want, $first];
        $script .= $b;
    } else {
        $script .= $b;
    }
}

open(my $sh, '>', "$tmp/run.sh") or die;
print $sh $script;
close $sh;

my $t0 = time;
my $out = `bash '$tmp/run.sh' 2>'$tmp/stderr'`;
my %got = $out =~ /^STATUS (\d+) (\d{3})$/mg;
my $took = time - $t0;
note("the examples took $took s");
cmp_ok($took, '<', 60, 'the examples ran in under a minute');

for my $n (0 .. $#checks) {
    my ($want, $what) = @{ $checks[$n] };
    my $got = $got{$n} // 'no answer';
    is($got, $want, "example $n: $what")
        or diag("answer: " . (-e "$tmp/$n.out" ? slurp("$tmp/$n.out") : '')
                . "\nstderr: " . slurp("$tmp/stderr"));
}

done_testing();
