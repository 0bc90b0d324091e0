/* ngx_webpush: HS256 JWT verification and signing (see jwt.h). */

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "b64.h"
#include "json_util.h"
#include "jwt.h"


#define WP_JWT_SIG_LEN  32


static const wp_json_limits_t  wp_jwt_json_limits = { 16, 4096 };


void
wp_jwt_opts_init(wp_jwt_opts_t *opts)
{
    opts->user_claim = "sub";
    opts->role_claim = "role";
    opts->leeway = WP_JWT_DEFAULT_LEEWAY;
    opts->now = 0;
    opts->require_exp = 0;
}


static int
wp_jwt_hmac(const uint8_t *secret, size_t secretlen, const char *data,
    size_t len, uint8_t mac[WP_JWT_SIG_LEN], wp_err_t *err)
{
    unsigned int  maclen;

    if (secret == NULL || secretlen == 0 || secretlen > INT_MAX) {
        return wp_err_set(err, WP_E_BAD_KEY, "secret",
                          "secret: the JWT secret is empty or too long");
    }

    maclen = 0;
    if (HMAC(EVP_sha256(), secret, (int) secretlen, (const uint8_t *) data,
             len, mac, &maclen) == NULL || maclen != WP_JWT_SIG_LEN)
    {
        return wp_err_set(err, WP_E_CRYPTO, "", "HMAC-SHA-256 failed");
    }

    return 0;
}


/* Decode one segment and parse it as a JSON object. */
static int
wp_jwt_segment_json(const char *seg, size_t len, const char *what,
    yajl_val *out, wp_err_t *err)
{
    size_t   n;
    uint8_t  buf[WP_JWT_MAX_TOKEN];

    if (wp_b64url_decode(seg, len, buf, sizeof(buf), &n, WP_B64_STRICT,
                         "token", NULL) != 0)
    {
        return wp_err_set(err, WP_E_BAD_TOKEN, "token",
                          "token: the %s is not base64url", what);
    }

    if (wp_json_parse((const char *) buf, n, &wp_jwt_json_limits, out,
                      "token", NULL) != 0)
    {
        return wp_err_set(err, WP_E_BAD_TOKEN, "token",
                          "token: the %s is not valid JSON", what);
    }

    if (!YAJL_IS_OBJECT(*out)) {
        wp_json_free(*out);
        *out = NULL;
        return wp_err_set(err, WP_E_BAD_TOKEN, "token",
                          "token: the %s is not a JSON object", what);
    }

    return 0;
}


static int
wp_jwt_check_header(yajl_val hdr, wp_err_t *err)
{
    yajl_val  alg, typ;

    alg = wp_json_get(hdr, "alg");
    if (alg == NULL) {
        return wp_err_set(err, WP_E_TOKEN_ALG, "alg",
                          "token: the header has no \"alg\"");
    }

    /* Pinned: exact bytes, so "none", "hs256", "HS256 " all fail here. */
    if (!YAJL_IS_STRING(alg) || strcmp(alg->u.string, "HS256") != 0) {
        return wp_err_set(err, WP_E_TOKEN_ALG, "alg",
                          "token: \"alg\" must be \"HS256\"");
    }

    typ = wp_json_get(hdr, "typ");
    if (typ != NULL && !YAJL_IS_STRING(typ)) {
        return wp_err_set(err, WP_E_BAD_TOKEN, "typ",
                          "token: \"typ\" must be a string");
    }

    /* RFC 7515 s4.1.11: extensions we do not implement must be refused. */
    if (wp_json_get(hdr, "crit") != NULL) {
        return wp_err_set(err, WP_E_BAD_TOKEN, "crit",
                          "token: \"crit\" header extensions are not supported");
    }

    return 0;
}


/* NumericDate: an integer or fractional number of seconds. */
static int
wp_jwt_time_claim(yajl_val claims, const char *name, int *has, int64_t *out,
    wp_err_t *err)
{
    double    d;
    yajl_val  v;

    *has = 0;
    v = wp_json_get(claims, name);
    if (v == NULL) {
        return 0;
    }

    if (YAJL_IS_INTEGER(v)) {
        *out = (int64_t) v->u.number.i;

    } else if (YAJL_IS_DOUBLE(v)) {
        d = floor(v->u.number.d);
        if (d >= 9.2e18 || d <= -9.2e18) {
            return wp_err_set(err, WP_E_BAD_TOKEN, name,
                              "token: \"%s\" is out of range", name);
        }
        *out = (int64_t) d;

    } else {
        return wp_err_set(err, WP_E_BAD_TOKEN, name,
                          "token: \"%s\" must be a number of seconds", name);
    }

    *has = 1;

    return 0;
}


static int
wp_jwt_user(yajl_val claims, const char *name, wp_jwt_claims_t *c,
    wp_err_t *err)
{
    size_t       i, len;
    yajl_val     v;
    const char  *s;

    v = wp_json_get(claims, name);

    if (v == NULL || YAJL_IS_NULL(v)
        || (YAJL_IS_STRING(v) && v->u.string[0] == '\0'))
    {
        return wp_err_set(err, WP_E_TOKEN_NO_USER, name,
                          "token: no user id in claim \"%s\"", name);
    }

    if (YAJL_IS_STRING(v)) {
        s = v->u.string;

    } else {
        /* numeric ids become their exact decimal text */
        s = wp_json_integer_text(v);
        if (s == NULL) {
            return wp_err_set(err, WP_E_BAD_TOKEN, name,
                              "token: claim \"%s\" must be a string or an "
                              "integer", name);
        }
    }

    len = strlen(s);
    if (len > WP_JWT_MAX_USER) {
        return wp_err_set(err, WP_E_BAD_TOKEN, name,
                          "token: claim \"%s\" is longer than %d bytes",
                          name, WP_JWT_MAX_USER);
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f) {
            return wp_err_set(err, WP_E_BAD_TOKEN, name,
                              "token: claim \"%s\" contains control "
                              "characters", name);
        }
    }

    memcpy(c->user, s, len + 1);
    c->user_len = len;

    return 0;
}


static int
wp_jwt_add_role(wp_jwt_claims_t *c, size_t *used, const char *s, size_t len,
    const char *name, wp_err_t *err)
{
    if (len == 0) {
        return 0;
    }

    if (c->nroles >= WP_JWT_MAX_ROLES || *used + len + 1 > WP_JWT_ROLES_BUF) {
        return wp_err_set(err, WP_E_BAD_TOKEN, name,
                          "token: claim \"%s\" holds too many roles", name);
    }

    memcpy(c->roles + *used, s, len);
    c->roles[*used + len] = '\0';
    *used += len + 1;
    c->nroles++;

    return 0;
}


static int
wp_jwt_roles(yajl_val claims, const char *name, wp_jwt_claims_t *c,
    wp_err_t *err)
{
    size_t       i, used, n;
    yajl_val     v, e;
    const char  *p;

    used = 0;
    v = wp_json_get(claims, name);

    if (v == NULL || YAJL_IS_NULL(v)) {
        return 0;
    }

    if (YAJL_IS_STRING(v)) {
        /* "admin" or an OAuth-style "read write admin" scope list */
        p = v->u.string;
        while (*p) {
            n = strcspn(p, " ");
            if (wp_jwt_add_role(c, &used, p, n, name, err) != 0) {
                return -1;
            }
            p += n;
            p += strspn(p, " ");
        }
        return 0;
    }

    if (!YAJL_IS_ARRAY(v)) {
        return wp_err_set(err, WP_E_BAD_TOKEN, name,
                          "token: claim \"%s\" must be a string or an array "
                          "of strings", name);
    }

    for (i = 0; i < v->u.array.len; i++) {
        e = v->u.array.values[i];
        if (!YAJL_IS_STRING(e) || strchr(e->u.string, ' ') != NULL) {
            return wp_err_set(err, WP_E_BAD_TOKEN, name,
                              "token: claim \"%s\" must hold strings without "
                              "spaces", name);
        }
        if (wp_jwt_add_role(c, &used, e->u.string, strlen(e->u.string),
                            name, err) != 0)
        {
            return -1;
        }
    }

    return 0;
}


static int
wp_jwt_check_claims(yajl_val claims, const wp_jwt_opts_t *o,
    wp_jwt_claims_t *c, wp_err_t *err)
{
    int64_t  now;

    if (wp_jwt_time_claim(claims, "exp", &c->has_exp, &c->exp, err) != 0
        || wp_jwt_time_claim(claims, "nbf", &c->has_nbf, &c->nbf, err) != 0
        || wp_jwt_time_claim(claims, "iat", &c->has_iat, &c->iat, err) != 0)
    {
        return -1;
    }

    now = o->now ? o->now : (int64_t) time(NULL);

    if (!c->has_exp && o->require_exp) {
        return wp_err_set(err, WP_E_BAD_TOKEN, "exp",
                          "token: no \"exp\" claim");
    }

    /* written as subtractions from now so a huge exp cannot overflow */
    if (c->has_exp && now - o->leeway >= c->exp) {
        return wp_err_set(err, WP_E_TOKEN_EXPIRED, "exp",
                          "token: expired (\"exp\" is in the past)");
    }

    if (c->has_nbf && c->nbf > now + o->leeway) {
        return wp_err_set(err, WP_E_TOKEN_NOT_YET_VALID, "nbf",
                          "token: not valid yet (\"nbf\" is in the future)");
    }

    if (wp_jwt_user(claims, o->user_claim ? o->user_claim : "sub", c, err)
        != 0)
    {
        return -1;
    }

    return wp_jwt_roles(claims, o->role_claim ? o->role_claim : "role", c,
                        err);
}


int
wp_jwt_hs256_verify(const char *token, size_t len,
    const uint8_t *secret, size_t secretlen, const wp_jwt_opts_t *opts,
    wp_jwt_claims_t *claims, wp_err_t *err)
{
    int               rc;
    size_t            i, dot1, dot2, ndots, siglen;
    uint8_t           mac[WP_JWT_SIG_LEN], sig[WP_JWT_SIG_LEN + 4];
    yajl_val          hdr, body;
    wp_jwt_opts_t     defaults;
    wp_jwt_claims_t   local;

    if (opts == NULL) {
        wp_jwt_opts_init(&defaults);
        opts = &defaults;
    }

    if (claims == NULL) {
        claims = &local;
    }
    memset(claims, 0, sizeof(*claims));

    if (secret == NULL || secretlen == 0) {
        return wp_err_set(err, WP_E_BAD_KEY, "secret",
                          "secret: the JWT secret is empty");
    }

    if (token == NULL || len == 0) {
        return wp_err_set(err, WP_E_BAD_TOKEN, "token", "token: empty");
    }

    if (len > WP_JWT_MAX_TOKEN) {
        return wp_err_set(err, WP_E_BAD_TOKEN, "token",
                          "token: longer than %d bytes", WP_JWT_MAX_TOKEN);
    }

    dot1 = dot2 = 0;
    ndots = 0;

    for (i = 0; i < len; i++) {
        if (token[i] == '.') {
            if (++ndots == 1) {
                dot1 = i;
            } else {
                dot2 = i;
            }
            continue;
        }

        /* JWS compact form: unpadded base64url only */
        if (!((token[i] >= 'A' && token[i] <= 'Z')
              || (token[i] >= 'a' && token[i] <= 'z')
              || (token[i] >= '0' && token[i] <= '9')
              || token[i] == '-' || token[i] == '_'))
        {
            return wp_err_set(err, WP_E_BAD_TOKEN, "token",
                              "token: invalid character at offset %zu", i);
        }
    }

    if (ndots != 2) {
        return wp_err_set(err, WP_E_BAD_TOKEN, "token",
                          "token: must have exactly three segments");
    }

    if (dot1 == 0 || dot2 == dot1 + 1) {
        return wp_err_set(err, WP_E_BAD_TOKEN, "token",
                          "token: empty header or claims segment");
    }

    if (wp_jwt_segment_json(token, dot1, "header", &hdr, err) != 0) {
        return -1;
    }

    rc = wp_jwt_check_header(hdr, err);
    wp_json_free(hdr);
    if (rc != 0) {
        return -1;
    }

    /* Only now, with alg known to be HS256, is the signature meaningful. */
    if (wp_b64url_decode(token + dot2 + 1, len - dot2 - 1, sig, sizeof(sig),
                         &siglen, WP_B64_STRICT, "token", NULL) != 0
        || siglen != WP_JWT_SIG_LEN)
    {
        return wp_err_set(err, WP_E_TOKEN_SIGNATURE, "token",
                          "token: the signature is not a 32-byte base64url "
                          "value");
    }

    if (wp_jwt_hmac(secret, secretlen, token, dot2, mac, err) != 0) {
        return -1;
    }

    if (CRYPTO_memcmp(mac, sig, WP_JWT_SIG_LEN) != 0) {
        return wp_err_set(err, WP_E_TOKEN_SIGNATURE, "token",
                          "token: signature does not verify");
    }

    if (wp_jwt_segment_json(token + dot1 + 1, dot2 - dot1 - 1, "claims set",
                            &body, err) != 0)
    {
        return -1;
    }

    rc = wp_jwt_check_claims(body, opts, claims, err);
    wp_json_free(body);

    if (rc != 0) {
        memset(claims, 0, sizeof(*claims));
    }

    return rc;
}


int
wp_jwt_has_role(const wp_jwt_claims_t *claims, const char *role)
{
    size_t       i;
    const char  *p;

    if (claims == NULL || role == NULL) {
        return 0;
    }

    p = claims->roles;
    for (i = 0; i < claims->nroles; i++) {
        if (strcmp(p, role) == 0) {
            return 1;
        }
        p += strlen(p) + 1;
    }

    return 0;
}


int
wp_jwt_hs256_sign(const uint8_t *secret, size_t secretlen,
    const char *claims_json, size_t claims_len, char *out, size_t cap,
    size_t *outlen, wp_err_t *err)
{
    size_t    n, need;
    uint8_t   mac[WP_JWT_SIG_LEN];
    yajl_val  v;

    static const char  header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

    if (secret == NULL || secretlen == 0) {
        return wp_err_set(err, WP_E_BAD_KEY, "secret",
                          "secret: the JWT secret is empty");
    }

    if (claims_len > WP_JWT_MAX_TOKEN) {
        return wp_err_set(err, WP_E_TOO_LONG, "claims",
                          "claims: longer than %d bytes", WP_JWT_MAX_TOKEN);
    }

    if (wp_json_parse(claims_json, claims_len, &wp_jwt_json_limits, &v,
                      "claims", err) != 0)
    {
        return -1;
    }

    n = YAJL_IS_OBJECT(v);
    wp_json_free(v);
    if (!n) {
        return wp_err_set(err, WP_E_BAD_JSON, "claims",
                          "claims: must be a JSON object");
    }

    need = wp_b64url_len(sizeof(header) - 1) + 1 + wp_b64url_len(claims_len)
           + 1 + wp_b64url_len(WP_JWT_SIG_LEN);

    if (need > WP_JWT_MAX_TOKEN) {
        return wp_err_set(err, WP_E_TOO_LONG, "claims",
                          "claims: the token would exceed %d bytes",
                          WP_JWT_MAX_TOKEN);
    }

    if (need + 1 > cap) {
        return wp_err_set(err, WP_E_BUFFER, "",
                          "token needs %zu bytes of buffer", need + 1);
    }

    n = wp_b64url_encode((const uint8_t *) header, sizeof(header) - 1, out);
    out[n++] = '.';
    n += wp_b64url_encode((const uint8_t *) claims_json, claims_len, out + n);

    if (wp_jwt_hmac(secret, secretlen, out, n, mac, err) != 0) {
        out[0] = '\0';
        return -1;
    }

    out[n++] = '.';
    n += wp_b64url_encode(mac, WP_JWT_SIG_LEN, out + n);
    OPENSSL_cleanse(mac, sizeof(mac));

    if (outlen) {
        *outlen = n;
    }

    return 0;
}
