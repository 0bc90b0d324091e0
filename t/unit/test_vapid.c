/*
 * Unit tests for lib/vapid.c: key parsing and generation, ES256 sign and
 * verify (RFC 8292 §2.4 token), audience and subject rules, token cache.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "ece.h"
#include "tap.h"
#include "vectors.h"
#include "vapid.h"


#define README_PUB   "BGtkbcjrO12YMoDuq2sCQeHlu47uPx3SHTgFKZFYiBW8Qr0D9vgyZSZP" \
                     "dw6_4ZFEI9Snk1VEAj2qTYI1I1YxBXE"
#define README_PRIV  "I0_d0vnesxbBSUmlDdOKibGo6vEXRO-Vu88QlSlm5j0"

#define RFC_T  "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJodHRwczovL3B1" \
               "c2guZXhhbXBsZS5uZXQiLCJleHAiOjE0NTM1MjM3NjgsInN1YiI6Im1haWx0" \
               "bzpwdXNoQGV4YW1wbGUuY29tIn0.i3CYb7t4xfxCDquptFOepC9GAu_HLGkM" \
               "lMuCGSK2rpiUfnK9ojFwDXb1JrErtmysazNjjvW2L9OkSSHzvoD1oA"
#define RFC_K  "BA1Hxzyi1RUM1b5wjxsn7nGxAszw2u61m164i3MrAIxHF6YK5h4SDYic-dRu" \
               "U_RCPCfA5aq9ojSwk5Y2EmClBPs"
#define RFC_EXP  1453523768

#define JWT_HDR  "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9"
#define NOW      1767225600


static const char *
code(int rc, const wp_err_t *err)
{
    return rc == 0 ? "(success)" : err->code;
}


static void
test_keys(void)
{
    int              rc, tries;
    char             priv[44], text[128], std[128];
    size_t           i;
    uint8_t          raw_priv[32], raw_pub[65];
    wp_err_t         err;
    wp_vapid_key_t  *k, *k2;

    rc = wp_vapid_key_parse(README_PUB, README_PRIV, &k, &err);
    is_int(rc, 0, "parse the web-push README pair");
    if (rc != 0) {
        printf("# %s\n", err.message);
        return;
    }
    is_str(wp_vapid_key_public(k), README_PUB, "public key text kept");
    is_int(wp_vapid_key_public_raw(k)[0], 4, "raw public starts with 0x04");
    rc = wp_vapid_key_private(k, priv);
    ok(rc == 0 && strcmp(priv, README_PRIV) == 0, "private key exports back");
    wp_vapid_key_free(k);

    rc = wp_vapid_key_parse(NULL, README_PRIV, &k, &err);
    ok(rc == 0 && strcmp(wp_vapid_key_public(k), README_PUB) == 0,
       "public key derived when only the private key is given");
    wp_vapid_key_free(k);

    /* Standard alphabet with padding (some tools print that). */
    snprintf(std, sizeof(std), "%s=", README_PUB);
    for (i = 0; std[i]; i++) {
        std[i] = std[i] == '_' ? '/' : std[i] == '-' ? '+' : std[i];
    }
    rc = wp_vapid_key_parse(std, README_PRIV, &k, &err);
    ok(rc == 0 && strcmp(wp_vapid_key_public(k), README_PUB) == 0,
       "standard base64 with '=' accepted, canonical text kept");
    wp_vapid_key_free(k);

    /* Mismatch. */
    rc = wp_vapid_key_generate(&k2, &err);
    is_int(rc, 0, "generate a key");
    rc = wp_vapid_key_parse(wp_vapid_key_public(k2), README_PRIV, &k, &err);
    is_str(code(rc, &err), WP_E_KEY_MISMATCH, "mismatched pair -> key_mismatch");
    is_str(err.field, "public_key", "   ... field public_key");
    ok(k == NULL, "   ... no key returned");

    /* Generated round trip. */
    ok(strlen(wp_vapid_key_public(k2)) == 87
       && wp_vapid_key_public(k2)[0] == 'B', "generated public: 87 chars, B...");
    rc = wp_vapid_key_private(k2, priv);
    ok(rc == 0 && strlen(priv) == 43, "generated private: 43 chars");
    rc = wp_vapid_key_parse(wp_vapid_key_public(k2), priv, &k, &err);
    ok(rc == 0 && strcmp(wp_vapid_key_public(k), wp_vapid_key_public(k2)) == 0,
       "generate -> export -> parse round trip");
    wp_vapid_key_free(k);
    wp_vapid_key_free(k2);

    /* Bad private keys. */
    rc = wp_vapid_key_parse(README_PUB, "", &k, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "empty private key");
    rc = wp_vapid_key_parse(README_PUB, NULL, &k, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "NULL private key");
    rc = wp_vapid_key_parse(README_PUB,
                            "I0_d0vnesxbBSUmlDdOKibGo6vEXRO-Vu88QlSlm5j!",
                            &k, &err);
    is_str(code(rc, &err), WP_E_BAD_BASE64, "private key with '!'");
    is_str(err.field, "private_key", "   ... field private_key");
    rc = wp_vapid_key_parse(README_PUB, README_PRIV "AAAA", &k, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "private key of 47 chars (35 bytes)");
    rc = wp_vapid_key_parse(README_PUB, "I0_d0vnesxbBSUmlDdOK", &k, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "private key of 20 chars");
    rc = wp_vapid_key_parse(NULL, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                            &k, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "private scalar 0");
    rc = wp_vapid_key_parse(NULL, "__________________________________________8",
                            &k, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "private scalar >= n");
    rc = wp_vapid_key_parse(README_PUB, README_PRIV "A", &k, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "private key of 44 chars (33 bytes)");
    rc = wp_vapid_key_parse(README_PUB, README_PRIV "AA", &k, &err);
    is_str(code(rc, &err), WP_E_BAD_BASE64, "private key of 45 chars "
           "(impossible base64 length)");
    rc = wp_vapid_key_parse(README_PUB,
                            "I0_d0vnesxbBSUmlDdOKibGo6vEXRO-Vu88QlSlm5j1",
                            &k, &err);
    is_str(code(rc, &err), WP_E_BAD_BASE64, "private key with trailing bits "
           "set (non-canonical)");

    /* Bad public keys. */
    rc = wp_vapid_key_parse("BGtkbcjrO12YMoDuq2sCQeHlu47uPx3SHTgFKZFYiBW8Qr0"
                            "D9vgyZSZPdw6_4ZFEI9Snk1VEAj2qTYI1I1YxBQ",
                            README_PRIV, &k, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "public key of 86 chars (64 bytes)");
    memcpy(text, README_PUB, sizeof(README_PUB));
    text[0] = 'A';
    rc = wp_vapid_key_parse(text, README_PRIV, &k, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "public key not starting 0x04");
    memcpy(text, README_PUB, sizeof(README_PUB));
    text[40] = text[40] == 'A' ? 'B' : 'A';
    rc = wp_vapid_key_parse(text, README_PRIV, &k, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "public key off the curve");
    rc = wp_vapid_key_parse("", README_PRIV, &k, &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "empty public key");

    /* A scalar with a leading zero byte, written as 31 bytes. */
    for (tries = 0; tries < 5000; tries++) {
        if (wp_p256_generate(raw_priv, raw_pub, &err) != 0) {
            break;
        }
        if (raw_priv[0] == 0) {
            break;
        }
    }
    if (raw_priv[0] == 0) {
        char  short_priv[44], pub_txt[88];

        wp_b64url_encode(raw_priv + 1, 31, short_priv);
        wp_b64url_encode(raw_pub, 65, pub_txt);
        rc = wp_vapid_key_parse(pub_txt, short_priv, &k, &err);
        is_int(rc, 0, "31-byte scalar (42 chars) left-padded");
        rc = wp_vapid_key_private(k, priv);
        ok(rc == 0 && strlen(priv) == 43 && priv[0] == 'A',
           "   ... exports as 43 chars with the zero byte");
        wp_vapid_key_free(k);

    } else {
        ok(0, "found no scalar with a leading zero byte in 5000 tries");
    }
}


static void
test_sign_verify(void)
{
    int              rc;
    char             jwt[WP_VAPID_MAX_JWT], jwt2[WP_VAPID_MAX_JWT];
    char             aud[300], sub[300], tmp[1024], hdr[800], want[1024];
    char            *dot;
    size_t           n;
    int64_t          exp;
    uint8_t          pub[65], claims[512];
    wp_err_t         err;
    wp_vapid_key_t  *k;

    if (wp_vapid_key_parse(README_PUB, README_PRIV, &k, &err) != 0) {
        ok(0, "parse key");
        return;
    }
    memcpy(pub, wp_vapid_key_public_raw(k), 65);

    rc = wp_vapid_sign(k, "https://fcm.googleapis.com",
                       "mailto:ops@example.com", NOW + 43200, jwt,
                       sizeof(jwt), &err);
    is_int(rc, 0, "sign");
    ok(strncmp(jwt, JWT_HDR ".", sizeof(JWT_HDR)) == 0,
       "header is {\"typ\":\"JWT\",\"alg\":\"ES256\"}");
    dot = strrchr(jwt, '.');
    is_int(dot ? strlen(dot + 1) : 0, 86, "signature: 86 chars = 64 raw bytes");
    ok(strchr(jwt, '=') == NULL && strchr(jwt, '+') == NULL
       && strchr(jwt, '/') == NULL, "no padding, url alphabet");

    /* The claims byte for byte. */
    {
        char   *c1 = strchr(jwt, '.') + 1;

        if (wp_b64url_decode(c1, (size_t) (dot - c1), claims,
                             sizeof(claims) - 1, &n, WP_B64_STRICT, "",
                             &err) == 0)
        {
            claims[n] = '\0';
            snprintf(want, sizeof(want), "{\"aud\":\"https://fcm.googleapis"
                     ".com\",\"exp\":%d,\"sub\":\"mailto:ops@example.com\"}",
                     NOW + 43200);
            is_str((char *) claims, want, "claims JSON exact");

        } else {
            ok(0, "claims decode");
        }
    }

    rc = wp_vapid_verify(jwt, pub, NOW, aud, sizeof(aud), &exp, sub,
                         sizeof(sub), &err);
    is_int(rc, 0, "verify own token");
    is_str(aud, "https://fcm.googleapis.com", "   ... aud");
    is_str(sub, "mailto:ops@example.com", "   ... sub");
    is_int(exp, NOW + 43200, "   ... exp");

    rc = wp_vapid_sign(k, "https://fcm.googleapis.com",
                       "mailto:ops@example.com", NOW + 43200, jwt2,
                       sizeof(jwt2), &err);
    ok(rc == 0 && strcmp(jwt, jwt2) != 0, "ECDSA is randomized: new token");
    rc = wp_vapid_verify(jwt2, pub, NOW, NULL, 0, NULL, NULL, 0, &err);
    is_int(rc, 0, "   ... and it verifies too (NULL outputs fine)");

    /* Escaping in claims. */
    rc = wp_vapid_sign(k, "https://a.example.net", "x\"y\\z", NOW + 60, tmp,
                       sizeof(tmp), &err);
    is_int(rc, 0, "sign with quote and backslash in sub");
    rc = wp_vapid_verify(tmp, pub, NOW, aud, sizeof(aud), NULL, sub,
                         sizeof(sub), &err);
    ok(rc == 0 && strcmp(sub, "x\"y\\z") == 0, "   ... JSON-escaped, round "
       "trips");

    /* Capacity. */
    rc = wp_vapid_sign(k, "https://fcm.googleapis.com", "mailto:a@b.com",
                       NOW, jwt2, 100, &err);
    is_str(code(rc, &err), WP_E_BUFFER, "sign into 100 bytes -> buffer");
    rc = wp_vapid_sign(k, "", "mailto:a@b.com", NOW, jwt2, sizeof(jwt2),
                       &err);
    is_str(code(rc, &err), WP_E_BAD_VALUE, "sign with empty aud");
    rc = wp_vapid_verify(jwt, pub, NOW, aud, 5, NULL, NULL, 0, &err);
    is_str(code(rc, &err), WP_E_BUFFER, "verify: aud buffer too small");

    /* Header. */
    rc = wp_vapid_header(k, jwt, hdr, sizeof(hdr), &err);
    snprintf(want, sizeof(want), "vapid t=%s, k=%s", jwt, README_PUB);
    ok(rc == 0 && strcmp(hdr, want) == 0, "Authorization: vapid t=..., k=...");
    rc = wp_vapid_header(k, jwt, hdr, 50, &err);
    is_str(code(rc, &err), WP_E_BUFFER, "header into 50 bytes -> buffer");

    /* Time window. */
    rc = wp_vapid_verify(jwt, pub, NOW + 43200, NULL, 0, NULL, NULL, 0, &err);
    is_str(code(rc, &err), WP_E_TOKEN_EXPIRED, "verify at exp -> expired");
    rc = wp_vapid_verify(jwt, pub, NOW + 43199, NULL, 0, NULL, NULL, 0, &err);
    is_int(rc, 0, "verify one second before exp");
    rc = wp_vapid_sign(k, "https://x.example.net", NULL, NOW + 86400, tmp,
                       sizeof(tmp), &err);
    rc = rc ? rc : wp_vapid_verify(tmp, pub, NOW, NULL, 0, NULL, sub,
                                   sizeof(sub), &err);
    ok(rc == 0 && sub[0] == '\0', "exp exactly now + 24 h ok; no sub -> \"\"");
    rc = wp_vapid_sign(k, "https://x.example.net", NULL, NOW + 86401, tmp,
                       sizeof(tmp), &err);
    rc = rc ? rc : wp_vapid_verify(tmp, pub, NOW, NULL, 0, NULL, NULL, 0,
                                   &err);
    is_str(code(rc, &err), WP_E_BAD_TOKEN, "exp now + 24 h + 1 s rejected");
    is_str(err.field, "exp", "   ... field exp");
    rc = wp_vapid_sign(k, "https://x.example.net", NULL,
                       (int64_t) (NOW + 3600) * 1000, tmp, sizeof(tmp), &err);
    rc = rc ? rc : wp_vapid_verify(tmp, pub, NOW, NULL, 0, NULL, NULL, 0,
                                   &err);
    is_str(code(rc, &err), WP_E_BAD_TOKEN, "exp in milliseconds rejected");

    /* Tampering. */
    strcpy(tmp, jwt);
    n = (size_t) (strchr(tmp, '.') - tmp) + 5;
    tmp[n] = tmp[n] == 'A' ? 'B' : 'A';
    rc = wp_vapid_verify(tmp, pub, NOW, NULL, 0, NULL, NULL, 0, &err);
    ok(rc != 0 && (strcmp(err.code, WP_E_TOKEN_SIGNATURE) == 0
                   || strcmp(err.code, WP_E_BAD_TOKEN) == 0),
       "claims byte changed -> rejected (%s)", rc ? err.code : "accepted");
    strcpy(tmp, jwt);
    n = strlen(tmp) - 10;
    tmp[n] = tmp[n] == 'A' ? 'B' : 'A';
    rc = wp_vapid_verify(tmp, pub, NOW, NULL, 0, NULL, NULL, 0, &err);
    is_str(code(rc, &err), WP_E_TOKEN_SIGNATURE, "signature byte changed");
    unb64(RFC_K, claims, sizeof(claims));
    rc = wp_vapid_verify(jwt, claims, NOW, NULL, 0, NULL, NULL, 0, &err);
    is_str(code(rc, &err), WP_E_TOKEN_SIGNATURE, "verify with another key");

    /* Header swapped for alg HS256 / none. */
    {
        char  h[64];

        wp_b64url_encode((const uint8_t *) "{\"typ\":\"JWT\",\"alg\":\"HS256\"}",
                         27, h);
        snprintf(tmp, sizeof(tmp), "%s%s", h, strchr(jwt, '.'));
        rc = wp_vapid_verify(tmp, pub, NOW, NULL, 0, NULL, NULL, 0, &err);
        is_str(code(rc, &err), WP_E_TOKEN_ALG, "alg HS256 -> unsupported alg");
        wp_b64url_encode((const uint8_t *) "{\"alg\":\"none\"}", 14, h);
        snprintf(tmp, sizeof(tmp), "%s%s", h, strchr(jwt, '.'));
        *(strrchr(tmp, '.') + 1) = '\0';
        rc = wp_vapid_verify(tmp, pub, NOW, NULL, 0, NULL, NULL, 0, &err);
        is_str(code(rc, &err), WP_E_TOKEN_ALG, "alg none -> unsupported alg");
        wp_b64url_encode((const uint8_t *) "[1]", 3, h);
        snprintf(tmp, sizeof(tmp), "%s%s", h, strchr(jwt, '.'));
        rc = wp_vapid_verify(tmp, pub, NOW, NULL, 0, NULL, NULL, 0, &err);
        is_str(code(rc, &err), WP_E_BAD_TOKEN, "header not an object");
    }

    /* Structure. */
    rc = wp_vapid_verify("", pub, NOW, NULL, 0, NULL, NULL, 0, &err);
    is_str(code(rc, &err), WP_E_BAD_TOKEN, "empty token");
    rc = wp_vapid_verify("abc.def", pub, NOW, NULL, 0, NULL, NULL, 0, &err);
    is_str(code(rc, &err), WP_E_BAD_TOKEN, "two parts");
    snprintf(tmp, sizeof(tmp), "%s.x", jwt);
    rc = wp_vapid_verify(tmp, pub, NOW, NULL, 0, NULL, NULL, 0, &err);
    is_str(code(rc, &err), WP_E_BAD_TOKEN, "four parts");
    snprintf(tmp, sizeof(tmp), "%s=", jwt);
    rc = wp_vapid_verify(tmp, pub, NOW, NULL, 0, NULL, NULL, 0, &err);
    is_str(code(rc, &err), WP_E_BAD_TOKEN, "padding '='");
    strcpy(tmp, jwt);
    strcpy(strrchr(tmp, '.') + 1, "MEUCIQ");
    rc = wp_vapid_verify(tmp, pub, NOW, NULL, 0, NULL, NULL, 0, &err);
    is_str(code(rc, &err), WP_E_TOKEN_SIGNATURE, "short (DER-like) signature");
    strcpy(tmp, jwt);
    tmp[3] = '*';
    rc = wp_vapid_verify(tmp, pub, NOW, NULL, 0, NULL, NULL, 0, &err);
    is_str(code(rc, &err), WP_E_BAD_TOKEN, "bad base64url in header");

    wp_vapid_key_free(k);
}


static void
test_rfc8292(void)
{
    int       rc;
    char      aud[300], sub[300];
    int64_t   exp;
    uint8_t   k[65];
    wp_err_t  err;

    unb64(RFC_K, k, sizeof(k));

    rc = wp_vapid_verify(RFC_T, k, RFC_EXP - 3600, aud, sizeof(aud), &exp,
                         sub, sizeof(sub), &err);
    is_int(rc, 0, "RFC 8292 §2.4 token verifies with its k");
    if (rc != 0) {
        printf("# %s: %s\n", err.code, err.message);
    }
    is_str(aud, "https://push.example.net", "   ... aud");
    is_str(sub, "mailto:push@example.com", "   ... sub");
    is_int(exp, RFC_EXP, "   ... exp 1453523768");

    rc = wp_vapid_verify(RFC_T, k, RFC_EXP, NULL, 0, NULL, NULL, 0, &err);
    is_str(code(rc, &err), WP_E_TOKEN_EXPIRED, "RFC token at its exp: expired");
    rc = wp_vapid_verify(RFC_T, k, RFC_EXP - 86401, NULL, 0, NULL, NULL, 0,
                         &err);
    is_str(code(rc, &err), WP_E_BAD_TOKEN, "RFC token > 24 h before exp");
    k[64] ^= 1;
    rc = wp_vapid_verify(RFC_T, k, RFC_EXP - 3600, NULL, 0, NULL, NULL, 0,
                         &err);
    is_str(code(rc, &err), WP_E_BAD_KEY, "k off the curve -> invalid_key");
}


static void
test_audience(void)
{
    static const struct {
        const char  *endpoint;
        const char  *want;          /* NULL: rejected */
    } t[] = {
        { "https://fcm.googleapis.com/fcm/send/abc:APA91b",
          "https://fcm.googleapis.com" },
        { "https://updates.push.services.mozilla.com/wpush/v2/gAAA",
          "https://updates.push.services.mozilla.com" },
        { "https://web.push.apple.com:443/QGx", "https://web.push.apple.com" },
        { "https://push.example.net:8443/x", "https://push.example.net:8443" },
        { "https://FCM.GoogleAPIs.COM/fcm/send/x",
          "https://fcm.googleapis.com" },
        { "HTTPS://fcm.googleapis.com/x", "https://fcm.googleapis.com" },
        { "https://wns2-par02p.notify.windows.com/w/?token=AwYAAAB",
          "https://wns2-par02p.notify.windows.com" },
        { "https://push.example.net", "https://push.example.net" },
        /* the endpoint parser's rules (lib/endpoint.c) apply */
        { "https://push.example.net?x=1", NULL },
        { "https://push.example.net#f", NULL },
        { "https://push.example.net:0443/", NULL },
        { "http://fcm.googleapis.com/fcm/send/x", NULL },
        { "ftp://fcm.googleapis.com/x", NULL },
        { "fcm.googleapis.com/x", NULL },
        { "https:///x", NULL },
        { "https://", NULL },
        { "https://user:pw@fcm.googleapis.com/x", NULL },
        { "https://fcm.googleapis.com:/x", NULL },
        { "https://fcm.googleapis.com:0/x", NULL },
        { "https://fcm.googleapis.com:65536/x", NULL },
        { "https://fcm.googleapis.com:99999999999/x", NULL },
        { "https://fcm.googleapis.com:44a/x", NULL },
        { "https://[::1]:443/x", "https://[::1]" },
        { "https://[::1]:8443/x", "https://[::1]:8443" },
        { "https://fcm_googleapis.com/x", NULL },
        { "https://fcm.googleapis.com./x", NULL },
        { "https://fcm googleapis.com/x", NULL },
        { "", NULL },
    };

    int       rc;
    char      out[300];
    size_t    i;
    wp_err_t  err;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        rc = wp_vapid_audience(t[i].endpoint, out, sizeof(out), &err);

        if (t[i].want) {
            ok(rc == 0 && strcmp(out, t[i].want) == 0, "audience %s -> %s%s%s",
               t[i].endpoint, t[i].want, rc ? " FAILED: " : "",
               rc ? err.message : "");

        } else {
            ok(rc != 0 && strcmp(err.code, WP_E_BAD_ENDPOINT) == 0,
               "audience '%s' rejected", t[i].endpoint);
        }
    }

    rc = wp_vapid_audience(NULL, out, sizeof(out), &err);
    is_str(code(rc, &err), WP_E_BAD_ENDPOINT, "audience NULL rejected");
    rc = wp_vapid_audience("https://fcm.googleapis.com/x", out, 26, &err);
    is_str(code(rc, &err), WP_E_BUFFER, "audience: 26 bytes too small");
    rc = wp_vapid_audience("https://fcm.googleapis.com/x", out, 27, &err);
    ok(rc == 0 && strcmp(out, "https://fcm.googleapis.com") == 0,
       "audience: 27 bytes enough");
}


static void
test_subject(void)
{
    static const char  *good[] = {
        "mailto:ops@example.com",
        "mailto:push@example.com",
        "mailto:first.last+push@mail.iwent.co.uk",
        "MAILTO:ops@Example.COM",
        "https://iwent.app",
        "https://iwent.app/contact",
        "https://www.iwent.app:8443/about?x=1",
        "https://xn--bcher-kva.example.com",
    };
    static const char  *bad[] = {
        "",
        "ops@example.com",
        "mailto:",
        "mailto:@example.com",
        "mailto:ops",
        "mailto:ops@",
        "mailto:ops@localhost",
        "mailto:ops@app.local",
        "mailto:ops@host.invalid",
        "mailto:ops@foo.localhost",
        "mailto:ops@example.test",
        "mailto:ops@intranet",
        "mailto:ops@127.0.0.1",
        "mailto:ops@[127.0.0.1]",
        "mailto:mailto:ops@example.com",
        "mailto: ops@example.com",
        "mailto:<ops@example.com>",
        "mailto:ops@example.com ",
        "mailto:\"ops\"@example.com",
        "mailto:ops@example.com,b@example.com",
        "mailto:ops@example.com?subject=x",
        "mailto:a@b@example.com",
        "mailto:ops@exa_mple.com",
        "mailto:ops@-example.com",
        "mailto:ops@example..com",
        "mailto:ops@example.com.",
        "mailto:ops\t@example.com",
        "mailto:ops@ex\xc3\xa4mple.com",
        "http://iwent.app",
        "https://",
        "https://localhost",
        "https://localhost:8080/x",
        "https://10.0.0.1",
        "https://[::1]/",
        "https://user@iwent.app",
        "https://iwent.app:/x",
        "https://iwent.app:abc",
        "https://iwent",
        "iwent.app",
        "https://iwent.app/<script>",
    };

    int       rc;
    char      long_sub[300];
    size_t    i;
    wp_err_t  err;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        rc = wp_vapid_check_subject(good[i], &err);
        ok(rc == 0, "subject ok: %s%s%s", good[i], rc ? " FAILED: " : "",
           rc ? err.message : "");
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rc = wp_vapid_check_subject(bad[i], &err);
        ok(rc != 0 && strcmp(err.code, WP_E_BAD_SUBJECT) == 0
           && strcmp(err.field, "subject") == 0,
           "subject refused: '%s'", bad[i]);
    }

    rc = wp_vapid_check_subject(NULL, &err);
    is_str(code(rc, &err), WP_E_BAD_SUBJECT, "subject NULL refused");

    memset(long_sub, 'a', sizeof(long_sub));
    memcpy(long_sub, "mailto:", 7);
    strcpy(long_sub + 280, "@example.com");
    rc = wp_vapid_check_subject(long_sub, &err);
    is_str(code(rc, &err), WP_E_BAD_SUBJECT, "subject of 292 chars refused");
}


/* Pull the JWT out of "vapid t=<jwt>, k=<key>". */
static int
header_jwt(const char *hdr, char *jwt, size_t cap)
{
    const char  *p, *e;

    if (strncmp(hdr, "vapid t=", 8) != 0) {
        return -1;
    }

    p = hdr + 8;
    e = strstr(p, ", k=");
    if (e == NULL || (size_t) (e - p) + 1 > cap
        || strcmp(e + 4, README_PUB) != 0)
    {
        return -1;
    }

    memcpy(jwt, p, (size_t) (e - p));
    jwt[e - p] = '\0';

    return 0;
}


static void
test_token_cache(void)
{
    int                re, rc;
    char               jwt[WP_VAPID_MAX_JWT], aud[300], first[700];
    int64_t            exp, t0;
    wp_err_t           err;
    wp_vapid_key_t    *k;
    wp_vapid_token_t   tok, saved;

    if (wp_vapid_key_parse(README_PUB, README_PRIV, &k, &err) != 0) {
        ok(0, "parse key");
        return;
    }

    memset(&tok, 0, sizeof(tok));
    t0 = NOW;

    rc = wp_vapid_token_get(k, "mailto:ops@example.com",
                            "https://fcm.googleapis.com", t0, &tok, &re, &err);
    ok(rc == 0 && re == 1, "empty cache: signs");
    is_int(tok.exp, t0 + 12 * 3600, "   ... exp = now + 12 h");
    is_int(tok.signed_at, t0, "   ... signed_at = now");
    is_str(tok.aud, "https://fcm.googleapis.com", "   ... aud kept");
    rc = header_jwt(tok.header, jwt, sizeof(jwt));
    is_int(rc, 0, "   ... header is vapid t=<jwt>, k=<public key>");
    rc = wp_vapid_verify(jwt, wp_vapid_key_public_raw(k), t0, aud,
                         sizeof(aud), &exp, NULL, 0, &err);
    ok(rc == 0 && strcmp(aud, "https://fcm.googleapis.com") == 0
       && exp == t0 + 43200, "   ... its JWT verifies with aud and exp");
    strcpy(first, tok.header);

    rc = wp_vapid_token_get(k, "mailto:ops@example.com",
                            "https://fcm.googleapis.com", t0 + 3600, &tok,
                            &re, &err);
    ok(rc == 0 && re == 0 && strcmp(tok.header, first) == 0,
       "1 h later: reused");
    rc = wp_vapid_token_get(k, "mailto:ops@example.com",
                            "https://fcm.googleapis.com", t0 + 39600, &tok,
                            &re, &err);
    ok(rc == 0 && re == 0 && strcmp(tok.header, first) == 0,
       "exactly 1 h left: still reused");
    rc = wp_vapid_token_get(k, "mailto:ops@example.com",
                            "https://fcm.googleapis.com", t0 + 39601, &tok,
                            &re, &err);
    ok(rc == 0 && re == 1 && strcmp(tok.header, first) != 0,
       "under 1 h left: re-signed");
    is_int(tok.exp, t0 + 39601 + 43200, "   ... new exp");

    saved = tok;
    rc = wp_vapid_token_get(k, "mailto:ops@example.com",
                            "https://web.push.apple.com", t0 + 39602, &tok,
                            &re, &err);
    ok(rc == 0 && re == 1 && strcmp(tok.aud, "https://web.push.apple.com")
       == 0, "another audience: new token");
    rc = header_jwt(tok.header, jwt, sizeof(jwt));
    rc = rc ? rc : wp_vapid_verify(jwt, wp_vapid_key_public_raw(k),
                                   t0 + 39602, aud, sizeof(aud), NULL, NULL,
                                   0, &err);
    ok(rc == 0 && strcmp(aud, "https://web.push.apple.com") == 0,
       "   ... signed for that audience");

    /* Clock stepped back a day: the cached exp is now > 24 h away. */
    tok = saved;
    rc = wp_vapid_token_get(k, "mailto:ops@example.com",
                            "https://fcm.googleapis.com", saved.exp - 86401,
                            &tok, &re, &err);
    ok(rc == 0 && re == 1, "clock stepped back: re-signed");

    /* A bad subject fails and leaves the cache alone. */
    memset(&tok, 0, sizeof(tok));
    rc = wp_vapid_token_get(k, "mailto:ops@localhost",
                            "https://fcm.googleapis.com", t0, &tok, &re, &err);
    ok(rc != 0 && strcmp(err.code, WP_E_BAD_SUBJECT) == 0 && re == 0
       && tok.aud[0] == '\0', "bad subject: invalid_subject, cache empty");
    rc = wp_vapid_token_get(k, NULL, "https://fcm.googleapis.com", t0, &tok,
                            NULL, &err);
    is_str(code(rc, &err), WP_E_BAD_SUBJECT, "no subject: invalid_subject");

    wp_vapid_key_free(k);
}


/* Which 401/403 answers say "this subscription has another key". */
static void
test_mismatch_answer(void)
{
    size_t  i;
    static const struct {
        long         status;
        const char  *body;
        int          want;
        const char  *what;
    } t[] = {
        { 403, "{\"reason\":\"VapidPkHashMismatch\"}", 1, "Apple" },
        { 403, "the VAPID credentials in the authorization header do not"
               " correspond to the credentials used to create the"
               " subscriptions.", 1, "FCM" },
        { 401, "{\"code\": 401, \"errno\": 109, \"error\":"
               " \"Unauthorized\", \"message\": \"VAPID public key"
               " mismatch\"}", 1, "autopush" },
        { 403, "HTTP 403: {\"reason\":\"vapidpkhashmismatch\"}", 1,
          "any case, inside a longer text" },
        { 403, "{\"reason\":\"BadJwtToken\"}", 0, "bad token: ours" },
        { 403, "{\"reason\":\"BadVapidPublicKey\"}", 0, "bad key: ours" },
        { 401, "{\"reason\":\"MissingProviderToken\"}", 0,
          "no token: ours" },
        { 401, "{\"errno\": 109, \"message\": \"Invalid bearer token:"
               " Auth expired\"}", 0, "autopush expired token: ours" },
        { 400, "VapidPkHashMismatch", 0, "only 401/403" },
        { 410, "public key mismatch", 0, "not on 410" },
        { 403, "", 0, "empty body" },
        { 403, NULL, 0, "no body" },
        { 403, "VapidPkHashMismatc", 0, "cut short" },
    };

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        ok(wp_vapid_mismatch_answer(t[i].status, t[i].body) == t[i].want,
           "mismatch answer: %s -> %d", t[i].what, t[i].want);
    }
}


int
main(void)
{
    test_keys();
    test_sign_verify();
    test_rfc8292();
    test_audience();
    test_subject();
    test_token_cache();
    test_mismatch_answer();

    wp_vapid_key_free(NULL);

    return tap_done();
}
