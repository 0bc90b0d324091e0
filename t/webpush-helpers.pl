# Helpers shared by the application routes' Test::Nginx files
# (t/010-auth.t, t/020-subscribe.t, t/021-topics.t, t/040-send.t,
# t/050-metrics.t).  Loaded with:
#
#   use FindBin;
#   require "$FindBin::Bin/webpush-helpers.pl";
#
# Plain Perl (core modules only), no Test::Nginx of its own, so the same
# .t files run under our runner and the real Test::Nginx.  Defaults let a
# file run outside `make test` against a local PostgreSQL and Redis.

use strict;
use warnings;

use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64);
use JSON::PP ();

$ENV{TEST_NGINX_PG_PORT}   ||= 5432;
$ENV{TEST_NGINX_PG_SOCKET} ||= '/var/run/postgresql';
$ENV{TEST_NGINX_PG_DB}     ||= 'webpush';
$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;
$ENV{TEST_NGINX_JWT_SECRET} ||= 'test-secret-0123456789abcdef0123456789';
$ENV{TEST_NGINX_VAPID_PUBLIC_KEY} ||=
    'BGtkbcjrO12YMoDuq2sCQeHlu47uPx3SHTgFKZFYiBW8Qr0D9vgyZSZPdw6_4ZFEI9Snk1VEAj2qTYI1I1YxBXE';

our $JSON = JSON::PP->new->canonical(1);

sub b64url {
    my $s = encode_base64(shift, '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

# An HS256 token for %claims; exp defaults to an hour ahead.
# Options: secret => ..., header => {...} (raw header), exp => undef.
sub jwt {
    my (%claims) = @_;
    my $secret = delete $claims{_secret} // $ENV{TEST_NGINX_JWT_SECRET};
    my $header = delete $claims{_header} // { alg => 'HS256', typ => 'JWT' };
    $claims{exp} = time + 3600 unless exists $claims{exp};
    delete $claims{exp} unless defined $claims{exp};
    my $signing = b64url($JSON->encode($header)) . '.'
                . b64url($JSON->encode(\%claims));
    return "$signing." . b64url(hmac_sha256($signing, $secret));
}

# "alg":"none" with an empty signature, the classic forgery.
sub jwt_none {
    my (%claims) = @_;
    $claims{exp} = time + 3600 unless exists $claims{exp};
    return b64url('{"alg":"none","typ":"JWT"}') . '.'
         . b64url($JSON->encode(\%claims)) . '.';
}

sub bearer { return "Authorization: Bearer " . jwt(@_) }

# psql on the stack's database; returns trimmed output (-At: unaligned).
sub psql {
    my $sql = shift;
    my @cmd = ('psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1',
               '-h', $ENV{TEST_NGINX_PG_SOCKET}, '-p', $ENV{TEST_NGINX_PG_PORT},
               '-U', 'postgres', '-d', $ENV{TEST_NGINX_PG_DB}, '-c', $sql);
    open(my $fh, '-|', @cmd) or die "psql: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    die "psql failed ($?): $sql\n" if $?;
    $out =~ s/\s+\z//;
    return $out;
}

sub sql_quote {
    my $s = shift;
    $s =~ s/'/''/g;
    return "'$s'";
}

# redis-cli on the stack's Redis; returns trimmed raw output.
sub redis {
    my @cmd = ('redis-cli', '-h', '127.0.0.1', '-p',
               $ENV{TEST_NGINX_REDIS_PORT}, '--raw', @_);
    open(my $fh, '-|', @cmd) or die "redis-cli: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    $out =~ s/\s+\z//;
    return $out;
}

# Delete every key of a test prefix such as "{t040}:".
sub redis_clean {
    my $prefix = shift;
    my @keys = grep { length } split /\n/, redis('--scan', '--pattern',
                                                 "$prefix*");
    redis('DEL', @keys) if @keys;
}

# A valid subscription body: p256dh is the stack's VAPID public key (any
# valid P-256 point does), auth 16 bytes.
sub endpoint_url {
    my $tag = shift;
    return "https://fcm.googleapis.com/fcm/send/t-$tag";
}

sub sub_body {
    my ($tag, %extra) = @_;
    my $doc = {
        endpoint => endpoint_url($tag),
        expirationTime => undef,
        keys => { p256dh => $ENV{TEST_NGINX_VAPID_PUBLIC_KEY},
                  auth => b64url('0123456789abcdef') },
        %extra,
    };
    return $JSON->encode($doc);
}

# The common http {} part: database, Redis with a per-file key prefix,
# auth.  $prefix: e.g. "{t040}:".
sub webpush_http_config {
    my $prefix = shift;
    return <<"_EOC_";
    webpush_vapid_public_key \$TEST_NGINX_VAPID_PUBLIC_KEY;
    webpush_postgres "postgresql://postgres\@127.0.0.1:\$TEST_NGINX_PG_PORT/$ENV{TEST_NGINX_PG_DB}" max_conns=4 query_timeout=3s;
    webpush_redis redis://127.0.0.1:\$TEST_NGINX_REDIS_PORT "prefix=$prefix";
    webpush_jwt_secret \$TEST_NGINX_JWT_SECRET;
_EOC_
}

# Run the block's "--- check" Perl code after each response, with $body,
# $idx (request index) and $block in scope: database and Redis state.
sub install_check_section {
    Test::Nginx::Socket::add_response_body_check(sub {
        my ($block, $body, $idx, $rep) = @_;
        my $code = eval { $block->check } or return;
        my $ok = eval "no strict; no warnings; $code; 1";
        Test::More::ok(0, $block->name . " - check section died: $@")
            unless $ok;
    });
}

# A raw HTTP/1.1 request with a chunked body (two chunks); $headers are
# "Key: value" lines.
sub raw_chunked {
    my ($uri, $headers, $body) = @_;
    my $half = int(length($body) / 2);
    my $req = "POST $uri HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            . "Transfer-Encoding: chunked\r\n";
    $req .= "$_\r\n" for grep { length } split /\n/, $headers;
    $req .= "\r\n";
    for my $part (substr($body, 0, $half), substr($body, $half)) {
        $req .= sprintf("%x\r\n%s\r\n", length($part), $part);
    }
    return [$req . "0\r\n\r\n"];
}

# Blocks without http_config / config get the file's defaults.
sub default_configs {
    my ($http_config, $config) = @_;
    Test::Nginx::Socket::add_block_preprocessor(sub {
        my $block = shift;
        $block->set_value(http_config => $http_config)
            unless defined $block->http_config;
        $block->set_value(config => $config)
            unless defined $block->config;
    });
}

1;
