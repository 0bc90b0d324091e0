#!/usr/bin/perl
# webpush-cli generate-vapid-keys and token: the key pair (web-push's text
# and --json formats) is a valid, matching P-256 pair that doctor accepts
# and differs every run; token is an HS256 JWT over JWT_SECRET with the
# requested claims; the errors exit with their codes.
use strict;
use warnings;
use Test::More;
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(decode_base64 encode_base64);
use FindBin;
require "$FindBin::Bin/30-cli-lib.pl";

our ($cli, $json);

plan skip_all => "$cli not built" unless -x $cli;

sub b64url_decode {
    (my $s = $_[0]) =~ tr{-_}{+/};
    $s .= '=' x ((4 - length($s) % 4) % 4);
    return decode_base64($s);
}

sub b64url_encode {
    my $s = encode_base64($_[0], '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

# ---- generate-vapid-keys ---------------------------------------------------

my ($rc, $out, $err) = cli({}, 'generate-vapid-keys');
is($rc, 0, 'generate-vapid-keys exits 0');
my ($pub) = $out =~ /^Public Key:\n([A-Za-z0-9_-]+)$/m;
my ($priv) = $out =~ /^Private Key:\n([A-Za-z0-9_-]+)$/m;
ok($pub && $priv, "web-push's text format: Public Key / Private Key");
is(length(b64url_decode($pub // '')), 65, 'public key: 65 bytes');
is(substr(b64url_decode($pub // ''), 0, 1), "\x04", '... an uncompressed point');
is(length(b64url_decode($priv // '')), 32, 'private key: 32 bytes');

($rc, $out) = cli({}, 'generate-vapid-keys', '--json');
is($rc, 0, 'generate-vapid-keys --json exits 0');
my $k = eval { $json->decode($out) } || {};
ok($k->{publicKey} && $k->{privateKey}, '--json: publicKey and privateKey');
isnt($k->{publicKey}, $pub, 'a fresh pair every run');

SKIP: {
    skip 'no database in the environment', 1 unless $ENV{DATABASE_URL};
    my (undef, $d) = cli({ VAPID_PUBLIC_KEY => $k->{publicKey},
                           VAPID_PRIVATE_KEY => $k->{privateKey},
                           VAPID_SUBJECT => 'mailto:ops@example.org' }, 'doctor');
    like($d, qr/^ok    vapid     VAPID key pair valid and matching$/m,
         'doctor accepts the generated pair as valid and matching');
}
($rc) = cli({}, 'generate-vapid-keys', '--yaml');
is($rc, 2, 'generate-vapid-keys with an unknown option -> exit 2');

# ---- token --------------------------------------------------------------------

my $secret = 'test-secret-of-t35-0123456789';
($rc, $out, $err) = cli({ JWT_SECRET => $secret }, 'token', '--sub', 'u35',
                        '--role', 'admin', '--ttl', 60);
is($rc, 0, 'token exits 0');
chomp $out;
my ($h, $p, $s) = split /\./, $out;
ok($h && $p && $s, 'a three-part JWT');
is_deeply(eval { $json->decode(b64url_decode($h)) }, { alg => 'HS256', typ => 'JWT' },
          'header: HS256');
my $claims = eval { $json->decode(b64url_decode($p)) } || {};
is($claims->{sub}, 'u35', 'sub claim');
is($claims->{role}, 'admin', 'role claim');
is($claims->{exp} - $claims->{iat}, 60, 'exp = iat + --ttl');
ok(abs($claims->{iat} - time()) < 10, 'iat is now');
is($s, b64url_encode(hmac_sha256("$h.$p", $secret)), 'signature: HMAC-SHA256 with JWT_SECRET');
unlike($out . $err, qr/\Q$secret\E/, 'the secret is not printed');

($rc, undef, $err) = cli({ JWT_SECRET => undef }, 'token', '--sub', 'u35');
is($rc, 3, 'token without JWT_SECRET -> exit 3');
like($err, qr/JWT_SECRET is not set/, '... says so');
($rc) = cli({ JWT_SECRET => $secret }, 'token');
is($rc, 2, 'token without --sub -> exit 2');
($rc, undef, $err) = cli({ JWT_SECRET => $secret }, 'token', '--sub', 'u', '--ttl', 'x');
is($rc, 2, 'token with a bad --ttl -> exit 2');

done_testing();
