/*
 * ngx_webpush: many P-256 points to affine coordinates with one field
 * inversion (Montgomery's trick), for the batched key agreement in p256.c.
 *
 * OpenSSL computes d*G and d*P in Jacobian coordinates and inverts Z for
 * each point it encodes (~3.6 us, a tenth of a message's cost: every
 * message has two such points).  Here n points share one constant-time
 * inversion (Fermat, as OpenSSL's own Montgomery field code) and pay
 * about seven Montgomery multiplications each.
 *
 * The only way to reach Z is EC_POINT_get_Jprojective_coordinates_GFp(),
 * deprecated since OpenSSL 3.0 (still in every 3.x).  Its use is kept to
 * this file; where the build hides deprecated calls
 * (OPENSSL_NO_DEPRECATED_3_0), each point is converted on its own, which
 * is what OpenSSL would do anyway.
 */

#define OPENSSL_SUPPRESS_DEPRECATED

#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>

#include "p256.h"


struct wp_p256_affine_s {
    const EC_GROUP  *group;
    BIGNUM          *p;
    BN_MONT_CTX     *mont;          /* modulo p */
    BIGNUM          *p_minus_2;     /* Fermat exponent */
};


wp_p256_affine_t *
wp_p256_affine_new(const EC_GROUP *group, BN_CTX *bn)
{
    wp_p256_affine_t  *a;

    a = OPENSSL_zalloc(sizeof(wp_p256_affine_t));

    if (a == NULL
        || (a->p = BN_new()) == NULL
        || EC_GROUP_get_curve(group, a->p, NULL, NULL, bn) != 1
        || (a->mont = BN_MONT_CTX_new()) == NULL
        || BN_MONT_CTX_set(a->mont, a->p, bn) != 1
        || (a->p_minus_2 = BN_dup(a->p)) == NULL
        || BN_sub_word(a->p_minus_2, 2) != 1)
    {
        wp_p256_affine_free(a);
        return NULL;
    }

    a->group = group;

    return a;
}


void
wp_p256_affine_free(wp_p256_affine_t *a)
{
    if (a == NULL) {
        return;
    }

    BN_free(a->p_minus_2);
    BN_MONT_CTX_free(a->mont);
    BN_free(a->p);
    OPENSSL_free(a);
}


int
wp_p256_affine_each(wp_p256_affine_t *a, EC_POINT *const *pts, size_t n,
    uint8_t (*xy)[64], uint8_t *ok, BN_CTX *bn)
{
    int      rc;
    size_t   i;
    BIGNUM  *x, *y;

    BN_CTX_start(bn);
    x = BN_CTX_get(bn);
    y = BN_CTX_get(bn);
    rc = (y != NULL) ? 0 : -1;

    for (i = 0; rc == 0 && i < n; i++) {
        ok[i] = EC_POINT_get_affine_coordinates(a->group, pts[i], x, y, bn)
                == 1
                && BN_bn2binpad(x, xy[i], 32) == 32
                && BN_bn2binpad(y, xy[i] + 32, 32) == 32;
    }

    BN_clear(x);
    BN_clear(y);
    BN_CTX_end(bn);

    return rc;
}


#ifndef OPENSSL_NO_DEPRECATED_3_0

int
wp_p256_affine(wp_p256_affine_t *a, EC_POINT *const *pts, size_t n,
    uint8_t (*xy)[64], uint8_t *ok, BN_CTX *bn)
{
    int           rc;
    size_t        i;
    BIGNUM       *x[WP_P256_AFFINE_MAX], *y[WP_P256_AFFINE_MAX],
                 *z[WP_P256_AFFINE_MAX], *acc[WP_P256_AFFINE_MAX],
                 *inv, *zi, *z2, *z3, *t;
    BN_MONT_CTX  *m;

    if (n > WP_P256_AFFINE_MAX) {
        return -1;
    }

    /*
     * The shared inversion (BN_mod_exp_mont_consttime, ~10 us) is dearer
     * than OpenSSL's own per point (~3.6 us, nistz256 assembly): it pays
     * from four points, two messages, on.
     */
    if (n < 4) {
        return wp_p256_affine_each(a, pts, n, xy, ok, bn);
    }

    m = a->mont;
    rc = -1;

    BN_CTX_start(bn);

    for (i = 0; i < n; i++) {
        x[i] = BN_CTX_get(bn);
        y[i] = BN_CTX_get(bn);
        z[i] = BN_CTX_get(bn);
        acc[i] = BN_CTX_get(bn);
    }
    inv = BN_CTX_get(bn);
    zi = BN_CTX_get(bn);
    z2 = BN_CTX_get(bn);
    z3 = BN_CTX_get(bn);
    t = BN_CTX_get(bn);

    if (t == NULL) {
        goto done;
    }

    /*
     * acc[i] = z[0] * ... * z[i], all in Montgomery form.  A point at
     * infinity (Z = 0) has no affine form: it counts as Z = 1 here and is
     * reported not ok, so it cannot spoil the others.
     */
    for (i = 0; i < n; i++) {
        if (EC_POINT_get_Jprojective_coordinates_GFp(a->group, pts[i], x[i],
                                                     y[i], z[i], bn) != 1)
        {
            goto done;
        }

        ok[i] = !BN_is_zero(z[i]);
        if (!ok[i] && !BN_one(z[i])) {
            goto done;
        }

        if (!BN_to_montgomery(z[i], z[i], m, bn)
            || !(i == 0 ? BN_copy(acc[0], z[0]) != NULL
                        : BN_mod_mul_montgomery(acc[i], acc[i - 1], z[i], m,
                                                bn)))
        {
            goto done;
        }
    }

    /* inv = 1 / acc[n-1]: the batch's one inversion, constant time. */
    if (!BN_from_montgomery(t, acc[n - 1], m, bn)
        || !BN_mod_exp_mont_consttime(inv, t, a->p_minus_2,
                                      a->p, bn, m)
        || !BN_to_montgomery(inv, inv, m, bn))
    {
        goto done;
    }

    /*
     * Walk back: 1/z[i] = inv * acc[i-1], then inv *= z[i] leaves
     * 1 / (z[0] * ... * z[i-1]).  A Montgomery product of a Montgomery
     * form and a plain number is plain: x = X / Z^2 and y = Y / Z^3 come
     * out ready to encode.
     */
    for (i = n; i-- > 0; ) {
        if (i > 0) {
            if (!BN_mod_mul_montgomery(zi, inv, acc[i - 1], m, bn)
                || !BN_mod_mul_montgomery(inv, inv, z[i], m, bn))
            {
                goto done;
            }

        } else if (BN_copy(zi, inv) == NULL) {
            goto done;
        }

        if (!BN_mod_mul_montgomery(z2, zi, zi, m, bn)
            || !BN_mod_mul_montgomery(z3, z2, zi, m, bn)
            || !BN_mod_mul_montgomery(t, x[i], z2, m, bn)
            || BN_bn2binpad(t, xy[i], 32) != 32
            || !BN_mod_mul_montgomery(t, y[i], z3, m, bn)
            || BN_bn2binpad(t, xy[i] + 32, 32) != 32)
        {
            goto done;
        }
    }

    rc = 0;

done:

    /* The ECDH points' coordinates are secret: leave none in the pool. */
    for (i = 0; t != NULL && i < n; i++) {
        BN_clear(x[i]);
        BN_clear(y[i]);
        BN_clear(z[i]);
        BN_clear(acc[i]);
    }
    if (t != NULL) {
        BN_clear(inv);
        BN_clear(zi);
        BN_clear(z2);
        BN_clear(z3);
        BN_clear(t);
    }

    BN_CTX_end(bn);

    if (rc != 0) {
        /* a failure above is OpenSSL's, not the points': one at a time */
        return wp_p256_affine_each(a, pts, n, xy, ok, bn);
    }

    return 0;
}

#else

int
wp_p256_affine(wp_p256_affine_t *a, EC_POINT *const *pts, size_t n,
    uint8_t (*xy)[64], uint8_t *ok, BN_CTX *bn)
{
    return wp_p256_affine_each(a, pts, n, xy, ok, bn);
}

#endif
