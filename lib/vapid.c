/* ngx_webpush: VAPID keys, ES256 tokens, subject and audience (vapid.h). */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "b64.h"
#include "ece.h"
#include "endpoint.h"
#include "json_util.h"
#include "p256.h"
#include "vapid.h"


#define WP_VAPID_JWT_HEADER  "{\"typ\":\"JWT\",\"alg\":\"ES256\"}"
#define WP_VAPID_CLAIMS_MAX  4096
#define WP_VAPID_VERIFY_MAX  4096      /* longest token verify reads */
#define WP_VAPID_HOST_MAX    253


struct wp_vapid_key_s {
    EVP_PKEY  *pkey;
    uint8_t    pub[65];
    char       pub_b64[WP_VAPID_PUBLIC_B64_LEN + 1];
};


static wp_vapid_key_t *
wp_vapid_key_wrap(EVP_PKEY *pkey, const uint8_t pub[65], wp_err_t *err)
{
    wp_vapid_key_t  *k;

    k = calloc(1, sizeof(wp_vapid_key_t));
    if (k == NULL) {
        EVP_PKEY_free(pkey);
        wp_err_set(err, WP_E_NOMEM, "", "out of memory");
        return NULL;
    }

    k->pkey = pkey;
    memcpy(k->pub, pub, 65);
    wp_b64url_encode(pub, 65, k->pub_b64);

    return k;
}


int
wp_vapid_key_parse(const char *public_b64, const char *private_b64,
    wp_vapid_key_t **out, wp_err_t *err)
{
    size_t     n;
    uint8_t    raw[48], priv[32], pub[65], given[66];
    EVP_PKEY  *pkey;

    *out = NULL;

    if (private_b64 == NULL || *private_b64 == '\0') {
        return wp_err_set(err, WP_E_BAD_KEY, "private_key",
                          "private_key: missing VAPID private key");
    }

    if (wp_b64url_decode(private_b64, strlen(private_b64), raw, sizeof(raw),
                         &n, WP_B64_LENIENT, "private_key", err) != 0)
    {
        return -1;
    }

    /*
     * Some tools drop leading zero bytes of the scalar: left-pad.  More
     * than two missing bytes (odds 2^-24) means it is not such a key.
     */
    if (n > 32 || n < 30) {
        OPENSSL_cleanse(raw, sizeof(raw));
        return wp_err_set(err, WP_E_BAD_KEY, "private_key",
                          "private_key: %zu bytes, a P-256 private key has 32 "
                          "(43 base64url characters)", n);
    }

    memset(priv, 0, sizeof(priv));
    memcpy(priv + 32 - n, raw, n);
    OPENSSL_cleanse(raw, sizeof(raw));

    pkey = wp_p256_import_private(priv, pub, "private_key", err);
    OPENSSL_cleanse(priv, sizeof(priv));

    if (pkey == NULL) {
        return -1;
    }

    if (public_b64 != NULL) {
        if (wp_b64url_decode(public_b64, strlen(public_b64), given,
                             sizeof(given), &n, WP_B64_LENIENT, "public_key",
                             err) != 0)
        {
            EVP_PKEY_free(pkey);
            return -1;
        }

        if (n != 65) {
            EVP_PKEY_free(pkey);
            return wp_err_set(err, WP_E_BAD_KEY, "public_key",
                              "public_key: %zu bytes, a P-256 public key has "
                              "65 (87 base64url characters)", n);
        }

        if (wp_p256_check_public(given, "public_key", err) != 0) {
            EVP_PKEY_free(pkey);
            return -1;
        }

        if (memcmp(given, pub, 65) != 0) {
            EVP_PKEY_free(pkey);
            return wp_err_set(err, WP_E_KEY_MISMATCH, "public_key",
                              "public_key: does not belong to private_key");
        }
    }

    *out = wp_vapid_key_wrap(pkey, pub, err);

    return *out ? 0 : -1;
}


int
wp_vapid_key_generate(wp_vapid_key_t **out, wp_err_t *err)
{
    uint8_t    pub[65];
    EVP_PKEY  *pkey;

    *out = NULL;

    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (pkey == NULL) {
        return wp_err_set(err, WP_E_CRYPTO, "", "P-256 key generation failed");
    }

    if (wp_p256_export_public(pkey, pub, err) != 0) {
        EVP_PKEY_free(pkey);
        return -1;
    }

    *out = wp_vapid_key_wrap(pkey, pub, err);

    return *out ? 0 : -1;
}


void
wp_vapid_key_free(wp_vapid_key_t *k)
{
    if (k == NULL) {
        return;
    }

    EVP_PKEY_free(k->pkey);
    free(k);
}


const char *
wp_vapid_key_public(const wp_vapid_key_t *k)
{
    return k->pub_b64;
}


const uint8_t *
wp_vapid_key_public_raw(const wp_vapid_key_t *k)
{
    return k->pub;
}


int
wp_vapid_key_private(const wp_vapid_key_t *k, char out[44])
{
    uint8_t  priv[32];

    if (wp_p256_export_private(k->pkey, priv, NULL) != 0) {
        out[0] = '\0';
        return -1;
    }

    wp_b64url_encode(priv, 32, out);
    OPENSSL_cleanse(priv, sizeof(priv));

    return 0;
}


/* ---- subject and audience ---------------------------------------------- */


/*
 * A DNS host name fit for a VAPID contact: letters, digits, '-', at least
 * two labels, no IP literal, no name that cannot reach anybody.
 */
static int
wp_vapid_host_ok(const char *h, size_t len, const char **why)
{
    size_t       i, label, start;
    int          alpha_tld, last_alpha;
    const char  *bad_suffix[] = { ".localhost", ".local", ".invalid",
                                  ".test", ".example", ".localdomain",
                                  ".internal", ".home.arpa", NULL };
    int          j;
    size_t       sl;

    if (len == 0 || len > WP_VAPID_HOST_MAX) {
        *why = "host is empty or too long";
        return -1;
    }

    label = 0;
    start = 0;
    alpha_tld = 0;
    last_alpha = 0;

    for (i = 0; i <= len; i++) {
        if (i == len || h[i] == '.') {
            if (label == 0 || label > 63 || h[start] == '-'
                || h[i - 1] == '-')
            {
                *why = "host has an empty or malformed label";
                return -1;
            }

            last_alpha = alpha_tld;
            label = 0;
            start = i + 1;
            alpha_tld = 0;
            continue;
        }

        if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z')
              || (h[i] >= '0' && h[i] <= '9') || h[i] == '-'))
        {
            *why = "host has a character outside [A-Za-z0-9.-]";
            return -1;
        }

        if (!(h[i] >= '0' && h[i] <= '9')) {
            alpha_tld = 1;
        }

        label++;
    }

    if (memchr(h, '.', len) == NULL) {
        *why = "host is not a fully qualified domain name";
        return -1;
    }

    /* An all-digit top label means an IPv4 literal, not a name. */
    if (!last_alpha) {
        *why = "host is an IP address, not a domain name";
        return -1;
    }

    for (j = 0; bad_suffix[j]; j++) {
        sl = strlen(bad_suffix[j]);
        if (len >= sl && strncasecmp(h + len - sl, bad_suffix[j], sl) == 0) {
            *why = "host is a reserved or local-only name";
            return -1;
        }
    }

    return 0;
}


int
wp_vapid_check_subject(const char *sub, wp_err_t *err)
{
    size_t       len, i;
    const char  *p, *at, *end, *why;

    if (sub == NULL || *sub == '\0') {
        return wp_err_set(err, WP_E_BAD_SUBJECT, "subject",
                          "subject: missing; use mailto:you@your-domain or "
                          "https://your-site");
    }

    len = strlen(sub);
    if (len > WP_VAPID_MAX_SUB) {
        return wp_err_set(err, WP_E_BAD_SUBJECT, "subject",
                          "subject: longer than %d characters",
                          WP_VAPID_MAX_SUB);
    }

    for (i = 0; i < len; i++) {
        unsigned char  c = (unsigned char) sub[i];

        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\'' || c == '<'
            || c == '>' || c == '\\' || c == '`')
        {
            return wp_err_set(err, WP_E_BAD_SUBJECT, "subject",
                              "subject: character 0x%02x at offset %zu is "
                              "not allowed (no spaces, quotes, <> or control "
                              "characters)", c, i);
        }
    }

    why = NULL;

    if (strncasecmp(sub, "mailto:", 7) == 0) {
        p = sub + 7;
        at = strchr(p, '@');

        if (at == NULL || at == p || strchr(at + 1, '@') != NULL) {
            why = "a mailto: subject needs exactly one user@domain address";

        } else if (strpbrk(p, ":,;?&=()[]") != NULL) {
            why = "a mailto: subject takes one plain address "
                  "(no second mailto:, lists or ?headers)";

        } else if (wp_vapid_host_ok(at + 1, strlen(at + 1), &why) == 0) {
            return 0;
        }

    } else if (strncasecmp(sub, "https://", 8) == 0) {
        p = sub + 8;
        end = p + strcspn(p, "/?#");

        if (memchr(p, '@', (size_t) (end - p)) != NULL) {
            why = "an https: subject must not carry user information";

        } else {
            at = memchr(p, ':', (size_t) (end - p));
            if (at != NULL) {
                /* A port: digits only. */
                for (i = 1; at + i < end; i++) {
                    if (at[i] < '0' || at[i] > '9') {
                        break;
                    }
                }

                if (i == 1 || at + i != end || i > 6) {
                    why = "an https: subject has a bad port";
                }

            } else {
                at = end;
            }

            if (why == NULL
                && wp_vapid_host_ok(p, (size_t) (at - p), &why) == 0)
            {
                return 0;
            }
        }

    } else {
        why = "must start with mailto: or https:";
    }

    return wp_err_set(err, WP_E_BAD_SUBJECT, "subject", "subject: %s "
                      "(push services such as Apple refuse it)", why);
}


int
wp_vapid_audience(const char *endpoint, char *out, size_t cap,
    wp_err_t *err)
{
    size_t    n;
    wp_url_t  url;

    /* One URL parser for the whole project: the endpoint policy's. */
    if (endpoint == NULL) {
        return wp_err_set(err, WP_E_BAD_ENDPOINT, "endpoint",
                          "endpoint: missing");
    }

    if (wp_url_parse(endpoint, strlen(endpoint), &url, err) != 0) {
        return -1;
    }

    n = strlen(url.origin);

    if (n + 1 > cap) {
        return wp_err_set(err, WP_E_BUFFER, "",
                          "audience needs %zu bytes, buffer has %zu",
                          n + 1, cap);
    }

    memcpy(out, url.origin, n + 1);

    return 0;
}


/* ---- signing ------------------------------------------------------------ */


/* Append s as a JSON string to out (cap); returns new length or 0. */
static size_t
wp_vapid_json_str(char *out, size_t o, size_t cap, const char *s)
{
    unsigned char  c;

    if (o + 1 >= cap) {
        return 0;
    }
    out[o++] = '"';

    for (; *s; s++) {
        c = (unsigned char) *s;

        if (o + 7 >= cap) {
            return 0;
        }

        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char) c;

        } else if (c < 0x20) {
            o += (size_t) snprintf(out + o, cap - o, "\\u%04x", c);

        } else {
            out[o++] = (char) c;
        }
    }

    out[o++] = '"';

    return o;
}


int
wp_vapid_sign(const wp_vapid_key_t *k, const char *aud, const char *sub,
    int64_t exp, char *jwt, size_t cap, wp_err_t *err)
{
    int                   rc;
    char                  claims[WP_VAPID_CLAIMS_MAX];
    size_t                o, hlen, clen, need, derlen;
    uint8_t               der[80], raw[64];
    EVP_MD_CTX           *md;
    ECDSA_SIG            *sig;
    const BIGNUM         *r, *s;
    const unsigned char  *dp;
    char                 *enc;

    if (aud == NULL || *aud == '\0' || strlen(aud) > WP_VAPID_MAX_AUD) {
        return wp_err_set(err, WP_E_BAD_VALUE, "aud",
                          "aud: must be 1..%d characters", WP_VAPID_MAX_AUD);
    }

    if (sub != NULL && strlen(sub) > WP_VAPID_MAX_SUB) {
        return wp_err_set(err, WP_E_BAD_SUBJECT, "subject",
                          "subject: longer than %d characters",
                          WP_VAPID_MAX_SUB);
    }

    /* Member order as in RFC 8292 §2.4: aud, exp, sub. */
    o = (size_t) snprintf(claims, sizeof(claims), "{\"aud\":");
    o = wp_vapid_json_str(claims, o, sizeof(claims), aud);
    if (o == 0) {
        return wp_err_set(err, WP_E_TOO_LONG, "aud", "aud: too long");
    }
    o += (size_t) snprintf(claims + o, sizeof(claims) - o,
                           ",\"exp\":%" PRId64, exp);
    if (sub != NULL && *sub != '\0') {
        o += (size_t) snprintf(claims + o, sizeof(claims) - o, ",\"sub\":");
        o = wp_vapid_json_str(claims, o, sizeof(claims), sub);
        if (o == 0) {
            return wp_err_set(err, WP_E_TOO_LONG, "subject",
                              "subject: too long");
        }
    }
    if (o + 2 > sizeof(claims)) {
        return wp_err_set(err, WP_E_TOO_LONG, "", "claims too long");
    }
    claims[o++] = '}';
    claims[o] = '\0';
    clen = o;

    hlen = wp_b64url_len(sizeof(WP_VAPID_JWT_HEADER) - 1);
    need = hlen + 1 + wp_b64url_len(clen) + 1 + wp_b64url_len(64) + 1;
    if (need > cap) {
        return wp_err_set(err, WP_E_BUFFER, "",
                          "JWT needs %zu bytes, buffer has %zu", need, cap);
    }

    enc = jwt;
    enc += wp_b64url_encode((const uint8_t *) WP_VAPID_JWT_HEADER,
                            sizeof(WP_VAPID_JWT_HEADER) - 1, enc);
    *enc++ = '.';
    enc += wp_b64url_encode((const uint8_t *) claims, clen, enc);

    /* ECDSA P-256 SHA-256 gives DER; JWS wants raw r || s (RFC 7518). */
    derlen = sizeof(der);
    md = EVP_MD_CTX_new();
    rc = (md != NULL
          && EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, k->pkey,
                                   NULL) == 1
          && EVP_DigestSign(md, der, &derlen, (const uint8_t *) jwt,
                            (size_t) (enc - jwt)) == 1) ? 0 : -1;
    EVP_MD_CTX_free(md);

    if (rc != 0) {
        jwt[0] = '\0';
        return wp_err_set(err, WP_E_CRYPTO, "", "ES256 signing failed");
    }

    dp = der;
    sig = d2i_ECDSA_SIG(NULL, &dp, (long) derlen);
    if (sig == NULL) {
        jwt[0] = '\0';
        return wp_err_set(err, WP_E_CRYPTO, "", "cannot parse the signature");
    }

    ECDSA_SIG_get0(sig, &r, &s);
    rc = (BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(s, raw + 32, 32) == 32)
         ? 0 : -1;
    ECDSA_SIG_free(sig);

    if (rc != 0) {
        jwt[0] = '\0';
        return wp_err_set(err, WP_E_CRYPTO, "", "signature out of range");
    }

    *enc++ = '.';
    wp_b64url_encode(raw, 64, enc);

    return 0;
}


int
wp_vapid_header(const wp_vapid_key_t *k, const char *jwt, char *out,
    size_t cap, wp_err_t *err)
{
    int  n;

    n = snprintf(out, cap, "vapid t=%s, k=%s", jwt, k->pub_b64);

    if (n < 0 || (size_t) n >= cap) {
        if (cap) {
            out[0] = '\0';
        }
        return wp_err_set(err, WP_E_BUFFER, "",
                          "Authorization header does not fit %zu bytes", cap);
    }

    return 0;
}


int
wp_vapid_token_get(const wp_vapid_key_t *k, const char *sub,
    const char *aud, int64_t now, wp_vapid_token_t *tok, int *resigned,
    wp_err_t *err)
{
    char              jwt[WP_VAPID_MAX_JWT];
    wp_vapid_token_t  fresh;

    if (resigned) {
        *resigned = 0;
    }

    /*
     * Reuse unless another origin, under an hour left, or (clock stepped
     * back) more than the 24 h a service accepts.
     */
    if (tok->aud[0] != '\0'
        && strcmp(tok->aud, aud) == 0
        && tok->exp - now >= WP_VAPID_MIN_LEFT
        && tok->exp - now <= WP_VAPID_MAX_TTL)
    {
        return 0;
    }

    if (wp_vapid_check_subject(sub, err) != 0) {
        return -1;
    }

    if (strlen(aud) > WP_VAPID_MAX_AUD) {
        return wp_err_set(err, WP_E_TOO_LONG, "aud", "aud: too long");
    }

    memset(&fresh, 0, sizeof(fresh));
    strcpy(fresh.aud, aud);
    fresh.exp = now + WP_VAPID_TTL;
    fresh.signed_at = now;

    if (wp_vapid_sign(k, aud, sub, fresh.exp, jwt, sizeof(jwt), err) != 0
        || wp_vapid_header(k, jwt, fresh.header, sizeof(fresh.header), err)
           != 0)
    {
        return -1;
    }

    *tok = fresh;

    if (resigned) {
        *resigned = 1;
    }

    return 0;
}


/* ---- verification ------------------------------------------------------- */


/* Decode one JWT part and parse it as a JSON object. */
static int
wp_vapid_part(const char *s, size_t len, const char *field, yajl_val *out,
    wp_err_t *err)
{
    int       rc;
    char     *buf;
    size_t    n;

    buf = malloc(wp_b64url_maxdec(len) + 1);
    if (buf == NULL) {
        return wp_err_set(err, WP_E_NOMEM, field, "out of memory");
    }

    if (wp_b64url_decode(s, len, (uint8_t *) buf, wp_b64url_maxdec(len), &n,
                         WP_B64_STRICT, field, err) != 0)
    {
        free(buf);
        if (err) {
            err->code = WP_E_BAD_TOKEN;
        }
        return -1;
    }

    rc = wp_json_parse(buf, n, NULL, out, field, err);
    free(buf);

    if (rc != 0) {
        if (err) {
            err->code = WP_E_BAD_TOKEN;
        }
        return -1;
    }

    if (!YAJL_IS_OBJECT(*out)) {
        wp_json_free(*out);
        *out = NULL;
        return wp_err_set(err, WP_E_BAD_TOKEN, field,
                          "%s: not a JSON object", field);
    }

    return 0;
}


/* Copy an optional string claim into out (cap); "" when absent. */
static int
wp_vapid_claim_str(yajl_val claims, const char *name, char *out, size_t cap,
    int required, wp_err_t *err)
{
    yajl_val  v;

    v = wp_json_get(claims, name);

    if (v == NULL && !required) {
        if (out && cap) {
            out[0] = '\0';
        }
        return 0;
    }

    if (!YAJL_IS_STRING(v)) {
        return wp_err_set(err, WP_E_BAD_TOKEN, name,
                          "%s: %s string claim", name,
                          v ? "not a" : "missing");
    }

    if (out == NULL) {
        return 0;
    }

    if (strlen(v->u.string) + 1 > cap) {
        return wp_err_set(err, WP_E_BUFFER, name,
                          "%s: claim does not fit %zu bytes", name, cap);
    }

    strcpy(out, v->u.string);

    return 0;
}


static int
wp_vapid_check_sig(const uint8_t pub[65], const char *input, size_t len,
    const uint8_t raw[64], wp_err_t *err)
{
    int             rc, derlen;
    uint8_t        *der;
    BIGNUM         *r, *s;
    EVP_PKEY       *pkey;
    ECDSA_SIG      *sig;
    EVP_MD_CTX     *md;

    pkey = wp_p256_import_public(NULL, pub, "k", err);
    if (pkey == NULL) {
        return -1;
    }

    der = NULL;
    md = NULL;
    sig = ECDSA_SIG_new();
    r = BN_bin2bn(raw, 32, NULL);
    s = BN_bin2bn(raw + 32, 32, NULL);

    if (sig == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(sig, r, s)) {
        BN_free(r);
        BN_free(s);
        rc = wp_err_set(err, WP_E_NOMEM, "", "out of memory");
        goto done;
    }

    derlen = i2d_ECDSA_SIG(sig, &der);
    md = EVP_MD_CTX_new();

    rc = (derlen > 0 && md != NULL
          && EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, pkey,
                                     NULL) == 1
          && EVP_DigestVerify(md, der, (size_t) derlen,
                              (const uint8_t *) input, len) == 1) ? 0 : -1;

    if (rc != 0) {
        wp_err_set(err, WP_E_TOKEN_SIGNATURE, "t",
                   "t: ES256 signature does not verify with k");
    }

done:

    OPENSSL_free(der);
    EVP_MD_CTX_free(md);
    ECDSA_SIG_free(sig);
    EVP_PKEY_free(pkey);

    return rc;
}


int
wp_vapid_verify(const char *jwt, const uint8_t pub[65], int64_t now,
    char *aud, size_t audcap, int64_t *exp, char *sub, size_t subcap,
    wp_err_t *err)
{
    int          rc;
    size_t       len, n;
    int64_t      e;
    uint8_t      raw[66];
    yajl_val     hdr, claims, v;
    const char  *d1, *d2;

    hdr = NULL;
    claims = NULL;
    rc = -1;

    len = jwt ? strlen(jwt) : 0;
    if (len == 0 || len > WP_VAPID_VERIFY_MAX) {
        return wp_err_set(err, WP_E_BAD_TOKEN, "t",
                          "t: empty or longer than %d bytes",
                          WP_VAPID_VERIFY_MAX);
    }

    d1 = strchr(jwt, '.');
    d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (d2 == NULL || strchr(d2 + 1, '.') != NULL || strchr(jwt, '=')) {
        return wp_err_set(err, WP_E_BAD_TOKEN, "t",
                          "t: not a compact JWS (three unpadded base64url "
                          "parts)");
    }

    if (wp_vapid_part(jwt, (size_t) (d1 - jwt), "header", &hdr, err) != 0) {
        goto done;
    }

    v = wp_json_get(hdr, "alg");
    if (!YAJL_IS_STRING(v) || strcmp(v->u.string, "ES256") != 0) {
        wp_err_set(err, WP_E_TOKEN_ALG, "alg",
                   "alg: VAPID tokens must be ES256");
        goto done;
    }

    v = wp_json_get(hdr, "typ");
    if (v != NULL && (!YAJL_IS_STRING(v)
                      || strcasecmp(v->u.string, "JWT") != 0))
    {
        wp_err_set(err, WP_E_BAD_TOKEN, "typ", "typ: must be JWT");
        goto done;
    }

    if (wp_b64url_decode(d2 + 1, len - (size_t) (d2 + 1 - jwt), raw,
                         sizeof(raw), &n, WP_B64_STRICT, "signature", err)
        != 0 || n != 64)
    {
        wp_err_set(err, WP_E_TOKEN_SIGNATURE, "signature",
                   "signature: ES256 wants 64 raw bytes (r || s) in "
                   "base64url");
        goto done;
    }

    /* Authenticate before believing any claim. */
    if (wp_vapid_check_sig(pub, jwt, (size_t) (d2 - jwt), raw, err) != 0) {
        goto done;
    }

    if (wp_vapid_part(d1 + 1, (size_t) (d2 - d1 - 1), "claims", &claims, err)
        != 0)
    {
        goto done;
    }

    if (wp_json_get_int64(wp_json_get(claims, "exp"), &e) != 0) {
        wp_err_set(err, WP_E_BAD_TOKEN, "exp",
                   "exp: missing or not an integer (seconds)");
        goto done;
    }

    if (e <= now) {
        wp_err_set(err, WP_E_TOKEN_EXPIRED, "exp", "exp: token expired");
        goto done;
    }

    if (e - now > WP_VAPID_MAX_TTL) {
        wp_err_set(err, WP_E_BAD_TOKEN, "exp",
                   "exp: more than 24 hours ahead (RFC 8292 §2)");
        goto done;
    }

    if (wp_vapid_claim_str(claims, "aud", aud, audcap, 1, err) != 0
        || wp_vapid_claim_str(claims, "sub", sub, subcap, 0, err) != 0)
    {
        goto done;
    }

    if (exp) {
        *exp = e;
    }

    rc = 0;

done:

    wp_json_free(hdr);
    wp_json_free(claims);

    return rc;
}


int
wp_vapid_mismatch_answer(long status, const char *body)
{
    size_t             i, n;
    const char        *p;
    static const char  *words[] = {
        "VapidPkHashMismatch",
        "do not correspond to the credentials used to create",
        "public key mismatch",
        NULL
    };

    if ((status != 401 && status != 403) || body == NULL) {
        return 0;
    }

    /* case-insensitive: the services' wording and casing drift */
    for (i = 0; words[i] != NULL; i++) {
        n = strlen(words[i]);
        for (p = body; *p != '\0'; p++) {
            if (strncasecmp(p, words[i], n) == 0) {
                return 1;
            }
        }
    }

    return 0;
}
