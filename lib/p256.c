/* ngx_webpush: P-256 key plumbing (see p256.h). */

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "ece.h"
#include "p256.h"


#define WP_P256_GROUP  "prime256v1"


static const char *
wp_p256_what(const char *field)
{
    return (field && *field) ? field : "key";
}


EVP_PKEY *
wp_p256_template(wp_err_t *err)
{
    EVP_PKEY      *key;
    EVP_PKEY_CTX  *ctx;
    OSSL_PARAM     params[2];

    key = NULL;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *) WP_P256_GROUP, 0);
    params[1] = OSSL_PARAM_construct_end();

    if (ctx == NULL
        || EVP_PKEY_fromdata_init(ctx) <= 0
        || EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEY_PARAMETERS, params) <= 0)
    {
        EVP_PKEY_CTX_free(ctx);
        wp_err_set(err, WP_E_CRYPTO, "", "cannot create a P-256 template");
        return NULL;
    }

    EVP_PKEY_CTX_free(ctx);

    return key;
}


/* 0 if pub is an uncompressed point on P-256 (not infinity). */
static int
wp_p256_point_ok(const uint8_t pub[65])
{
    int        rc;
    EC_GROUP  *group;
    EC_POINT  *point;

    if (pub[0] != 0x04) {
        return -1;
    }

    group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    if (group == NULL) {
        return -1;
    }

    point = EC_POINT_new(group);

    /* oct2point checks coordinate range and the curve equation. */
    rc = (point != NULL
          && EC_POINT_oct2point(group, point, pub, 65, NULL) == 1
          && !EC_POINT_is_at_infinity(group, point)) ? 0 : -1;

    EC_POINT_free(point);
    EC_GROUP_free(group);

    return rc;
}


int
wp_p256_check_public(const uint8_t pub[WP_P256_PUB_LEN], const char *field,
    wp_err_t *err)
{
    if (pub[0] != 0x04) {
        return wp_err_set(err, WP_E_BAD_KEY, field,
                          "%s: not an uncompressed P-256 point "
                          "(first byte 0x%02x, want 0x04)",
                          wp_p256_what(field), pub[0]);
    }

    if (wp_p256_point_ok(pub) != 0) {
        return wp_err_set(err, WP_E_BAD_KEY, field,
                          "%s: not a point on the P-256 curve",
                          wp_p256_what(field));
    }

    return 0;
}


EVP_PKEY *
wp_p256_import_public(const EVP_PKEY *tmpl, const uint8_t pub[65],
    const char *field, wp_err_t *err)
{
    EVP_PKEY      *key;
    EVP_PKEY_CTX  *ctx;
    OSSL_PARAM     params[3];

    if (pub[0] != 0x04) {
        wp_err_set(err, WP_E_BAD_KEY, field,
                   "%s: not an uncompressed P-256 point "
                   "(first byte 0x%02x, want 0x04)",
                   wp_p256_what(field), pub[0]);
        return NULL;
    }

    key = NULL;

    if (tmpl != NULL) {
        /*
         * The encoded-point setter decodes with EC_POINT_oct2point, which
         * rejects off-curve and out-of-range coordinates.
         */
        key = EVP_PKEY_new();
        if (key == NULL
            || EVP_PKEY_copy_parameters(key, tmpl) != 1
            || EVP_PKEY_set1_encoded_public_key(key, pub, 65) != 1)
        {
            EVP_PKEY_free(key);
            key = NULL;
        }

    } else {
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        params[0] = OSSL_PARAM_construct_utf8_string(
                        OSSL_PKEY_PARAM_GROUP_NAME, (char *) WP_P256_GROUP, 0);
        params[1] = OSSL_PARAM_construct_octet_string(
                        OSSL_PKEY_PARAM_PUB_KEY, (void *) pub, 65);
        params[2] = OSSL_PARAM_construct_end();

        if (ctx == NULL
            || EVP_PKEY_fromdata_init(ctx) <= 0
            || EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        {
            key = NULL;
        }

        EVP_PKEY_CTX_free(ctx);
    }

    if (key == NULL) {
        wp_err_set(err, WP_E_BAD_KEY, field,
                   "%s: not a point on the P-256 curve", wp_p256_what(field));
    }

    return key;
}


EVP_PKEY *
wp_p256_import_private(const uint8_t priv[32], uint8_t pub[65],
    const char *field, wp_err_t *err)
{
    uint8_t          point[65];
    BIGNUM          *d;
    EC_GROUP        *group;
    EC_POINT        *q;
    EVP_PKEY        *key;
    EVP_PKEY_CTX    *ctx;
    OSSL_PARAM      *params;
    OSSL_PARAM_BLD  *bld;

    key = NULL;
    ctx = NULL;
    q = NULL;
    params = NULL;
    bld = NULL;

    group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    d = BN_bin2bn(priv, 32, NULL);

    if (group == NULL || d == NULL) {
        wp_err_set(err, WP_E_NOMEM, field, "%s: out of memory",
                   wp_p256_what(field));
        goto done;
    }

    if (BN_is_zero(d) || BN_cmp(d, EC_GROUP_get0_order(group)) >= 0) {
        wp_err_set(err, WP_E_BAD_KEY, field,
                   "%s: private scalar out of range for P-256",
                   wp_p256_what(field));
        goto done;
    }

    /* Some OpenSSL 3.0 paths do not derive Q from d: compute it here. */
    q = EC_POINT_new(group);
    if (q == NULL
        || EC_POINT_mul(group, q, d, NULL, NULL, NULL) != 1
        || EC_POINT_point2oct(group, q, POINT_CONVERSION_UNCOMPRESSED,
                              point, sizeof(point), NULL) != 65)
    {
        wp_err_set(err, WP_E_CRYPTO, field,
                   "%s: cannot compute the public point", wp_p256_what(field));
        goto done;
    }

    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL
        || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                            WP_P256_GROUP, 0)
        || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d)
        || !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                             point, sizeof(point))
        || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
    {
        wp_err_set(err, WP_E_NOMEM, field, "%s: out of memory",
                   wp_p256_what(field));
        goto done;
    }

    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL
        || EVP_PKEY_fromdata_init(ctx) <= 0
        || EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) <= 0)
    {
        key = NULL;
        wp_err_set(err, WP_E_CRYPTO, field, "%s: cannot import the key",
                   wp_p256_what(field));
        goto done;
    }

    if (pub != NULL) {
        memcpy(pub, point, 65);
    }

done:

    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EC_POINT_free(q);
    BN_clear_free(d);
    EC_GROUP_free(group);

    return key;
}


int
wp_p256_export_public(const EVP_PKEY *key, uint8_t pub[65], wp_err_t *err)
{
    size_t  n;

    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY,
                                        pub, 65, &n) != 1
        || n != 65 || pub[0] != 0x04)
    {
        return wp_err_set(err, WP_E_CRYPTO, "",
                          "cannot export the P-256 public key");
    }

    return 0;
}


int
wp_p256_export_private(const EVP_PKEY *key, uint8_t priv[32], wp_err_t *err)
{
    int      rc;
    BIGNUM  *d;

    d = NULL;

    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1) {
        return wp_err_set(err, WP_E_CRYPTO, "",
                          "cannot export the P-256 private key");
    }

    rc = BN_bn2binpad(d, priv, 32) == 32 ? 0 : -1;
    BN_clear_free(d);

    if (rc != 0) {
        return wp_err_set(err, WP_E_CRYPTO, "",
                          "P-256 private key longer than 32 bytes");
    }

    return 0;
}


int
wp_p256_ecdh(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t secret[32],
    wp_err_t *err)
{
    int            rc;
    size_t         n;
    EVP_PKEY_CTX  *ctx;

    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
    n = 32;

    /* validate_peer = 0: the peer was checked on import (p256.h). */
    rc = (ctx != NULL
          && EVP_PKEY_derive_init(ctx) == 1
          && EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) == 1
          && EVP_PKEY_derive(ctx, secret, &n) == 1
          && n == 32) ? 0 : -1;

    EVP_PKEY_CTX_free(ctx);

    if (rc != 0) {
        return wp_err_set(err, WP_E_CRYPTO, "", "ECDH failed");
    }

    return 0;
}


int
wp_p256_generate(uint8_t priv[WP_P256_PRIV_LEN], uint8_t pub[WP_P256_PUB_LEN],
    wp_err_t *err)
{
    int        rc;
    EVP_PKEY  *key;

    key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (key == NULL) {
        return wp_err_set(err, WP_E_CRYPTO, "", "P-256 key generation failed");
    }

    rc = (wp_p256_export_private(key, priv, err) == 0
          && wp_p256_export_public(key, pub, err) == 0) ? 0 : -1;

    EVP_PKEY_free(key);

    return rc;
}


/* ---- the per-message path: low-level EC_POINT API (see p256.h) -------- */

struct wp_p256_ctx_s {
    EC_GROUP          *group;
    const BIGNUM      *order;
    BN_CTX            *bn;
    wp_p256_affine_t  *affine;
    BIGNUM            *d;                       /* scalar: secret */
    EC_POINT          *peer;                    /* validated */
    EC_POINT          *pub[WP_ECE_BATCH];       /* d * G */
    EC_POINT          *pts[WP_P256_AFFINE_MAX]; /* pub, shared, pub, ... */
    uint8_t            xy[WP_P256_AFFINE_MAX][64];
    uint8_t            rnd[WP_ECE_BATCH][32];   /* fresh scalars: secret */
    uint8_t            ok[WP_P256_AFFINE_MAX];
};


wp_p256_ctx_t *
wp_p256_ctx_new(wp_err_t *err)
{
    int             i, bad;
    wp_p256_ctx_t  *c;

    c = OPENSSL_zalloc(sizeof(wp_p256_ctx_t));
    if (c == NULL) {
        wp_err_set(err, WP_E_NOMEM, "", "out of memory");
        return NULL;
    }

    /* Created once: building a group costs more than a point mul. */
    c->group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    c->bn = BN_CTX_secure_new();
    bad = c->group == NULL || c->bn == NULL
          || (c->affine = wp_p256_affine_new(c->group, c->bn)) == NULL
          || (c->d = BN_secure_new()) == NULL
          || (c->peer = EC_POINT_new(c->group)) == NULL;

    for (i = 0; !bad && i < WP_ECE_BATCH; i++) {
        c->pub[i] = EC_POINT_new(c->group);
        bad = c->pub[i] == NULL;
    }

    if (bad) {
        wp_p256_ctx_free(c);
        wp_err_set(err, WP_E_CRYPTO, "", "cannot set up P-256");
        return NULL;
    }

    c->order = EC_GROUP_get0_order(c->group);
    BN_set_flags(c->d, BN_FLG_CONSTTIME);

    return c;
}


void
wp_p256_ctx_free(wp_p256_ctx_t *c)
{
    int  i;

    if (c == NULL) {
        return;
    }

    for (i = 0; i < WP_ECE_BATCH; i++) {
        EC_POINT_free(c->pub[i]);
    }

    EC_POINT_free(c->peer);
    BN_clear_free(c->d);

    wp_p256_affine_free(c->affine);
    BN_CTX_free(c->bn);
    EC_GROUP_free(c->group);
    OPENSSL_free(c);
}


/* Decode and check the peer's point into c->peer. */
static int
wp_p256_ctx_peer(wp_p256_ctx_t *c, const uint8_t pub[65], const char *field,
    wp_err_t *err)
{
    int  ok;

    if (pub[0] != 0x04) {
        return wp_err_set(err, WP_E_BAD_KEY, field,
                          "%s: not an uncompressed P-256 point "
                          "(first byte 0x%02x, want 0x04)",
                          wp_p256_what(field), pub[0]);
    }

    /*
     * oct2point rejects coordinates >= p and points off the curve (P-256
     * has cofactor 1: every curve point is in the prime-order group).  A
     * rejected key is the caller's error, not OpenSSL's: leave nothing on
     * the thread's error queue (TLS code on the same thread reads it).
     */
    ERR_set_mark();
    ok = EC_POINT_oct2point(c->group, c->peer, pub, 65, c->bn) == 1
         && !EC_POINT_is_at_infinity(c->group, c->peer);

    if (!ok) {
        ERR_pop_to_mark();
        return wp_err_set(err, WP_E_BAD_KEY, field,
                          "%s: not a point on the P-256 curve",
                          wp_p256_what(field));
    }

    ERR_clear_last_mark();

    return 0;
}


/*
 * A given scalar (checked) or a fresh one into c->d: rnd holds 32 bytes
 * from the private DRBG, kept when they are in [1, n-1] (rejection
 * sampling, so the scalar is uniform; P-256's n is so close to 2^256 that
 * a redraw comes once in 2^32).
 */
static int
wp_p256_ctx_scalar(wp_p256_ctx_t *c, const uint8_t *priv, const char *field,
    const uint8_t *rnd, wp_err_t *err)
{
    if (priv == NULL) {
        if (rnd != NULL && BN_bin2bn(rnd, 32, c->d) != NULL
            && !BN_is_zero(c->d) && BN_cmp(c->d, c->order) < 0)
        {
            return 0;
        }

        do {
            if (BN_priv_rand_range_ex(c->d, c->order, 0, c->bn) != 1) {
                return wp_err_set(err, WP_E_CRYPTO, "",
                                  "ephemeral P-256 key generation failed");
            }
        } while (BN_is_zero(c->d));

        return 0;
    }

    if (BN_bin2bn(priv, 32, c->d) == NULL) {
        return wp_err_set(err, WP_E_NOMEM, field, "%s: out of memory",
                          wp_p256_what(field));
    }

    if (BN_is_zero(c->d) || BN_cmp(c->d, c->order) >= 0) {
        BN_clear(c->d);
        return wp_err_set(err, WP_E_BAD_KEY, field,
                          "%s: private scalar out of range for P-256",
                          wp_p256_what(field));
    }

    return 0;
}


int
wp_p256_ctx_agree(wp_p256_ctx_t *c, wp_p256_agree_t *a, size_t n)
{
    int             failed, rc, have_rnd;
    size_t          i, j, m, idx[WP_ECE_BATCH];
    EC_POINT       *shared;
    const uint8_t  *rnd;

    failed = 0;
    m = 0;

    if (n > WP_ECE_BATCH) {
        for (i = 0; i < n; i++) {
            a[i].rc = wp_err_set(&a[i].err, WP_E_INTERNAL, "",
                                 "key agreement batch of %zu, at most %d",
                                 n, WP_ECE_BATCH);
        }
        return (int) n;
    }

    /* One private-DRBG draw for the batch's fresh scalars, if any. */
    for (i = 0; i < n && a[i].priv != NULL; i++) { /* void */ }
    have_rnd = i < n && RAND_priv_bytes(c->rnd[0], (int) (n * 32)) == 1;

    /* Both multiplications per entry; points stay in Jacobian form. */
    for (i = 0; i < n; i++) {
        a[i].rc = -1;
        rnd = have_rnd ? c->rnd[i] : NULL;

        if (wp_p256_ctx_peer(c, a[i].peer, a[i].peer_field, &a[i].err)
            != 0
            || wp_p256_ctx_scalar(c, a[i].priv, a[i].priv_field, rnd,
                                  &a[i].err) != 0)
        {
            failed++;
            continue;
        }

        /* As OpenSSL's ECDH: a fresh point for the secret, cleared on free */
        shared = EC_POINT_new(c->group);

        if (shared == NULL
            || EC_POINT_mul(c->group, c->pub[m], c->d, NULL, NULL, c->bn) != 1
            || EC_POINT_mul(c->group, shared, NULL, c->peer, c->d, c->bn) != 1)
        {
            EC_POINT_clear_free(shared);
            BN_clear(c->d);
            wp_err_set(&a[i].err, WP_E_CRYPTO, "", "ECDH failed");
            failed++;
            continue;
        }

        BN_clear(c->d);
        c->pts[2 * m] = c->pub[m];
        c->pts[2 * m + 1] = shared;
        idx[m++] = i;
    }

    rc = wp_p256_affine(c->affine, c->pts, 2 * m, c->xy, c->ok, c->bn);

    for (j = 0; j < m; j++) {
        i = idx[j];

        if (rc != 0 || !c->ok[2 * j] || !c->ok[2 * j + 1]) {
            wp_err_set(&a[i].err, WP_E_CRYPTO, "", "ECDH failed");
            failed++;

        } else {
            a[i].pub[0] = 0x04;
            memcpy(a[i].pub + 1, c->xy[2 * j], 64);
            memcpy(a[i].secret, c->xy[2 * j + 1], 32);
            a[i].rc = 0;
        }

        EC_POINT_clear_free(c->pts[2 * j + 1]);
        c->pts[2 * j + 1] = NULL;
    }

    OPENSSL_cleanse(c->xy, sizeof(c->xy));
    if (have_rnd) {
        OPENSSL_cleanse(c->rnd, n * 32);
    }

    return failed;
}
