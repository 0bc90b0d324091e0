/*
 * Unit tests for lib/p256.c's batched key agreement and lib/p256_affine.c:
 * the RFC 8291 Appendix A key pair gives its ECDH secret and public point
 * in every slot of a full batch, byte for byte; the batched affine
 * conversion matches OpenSSL's own, point for point, at every batch size;
 * bad entries fail alone.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include "b64.h"
#include "ece.h"
#include "p256.h"
#include "tap.h"
#include "vectors.h"


static void
test_agree_vectors(wp_p256_ctx_t *c)
{
    int               failed, all;
    size_t            i;
    uint8_t           ua_pub[65], as_pub[65], as_priv[32], ecdh[32],
                      bad_scalar[32], bad_point[65];
    wp_p256_agree_t   a[WP_ECE_BATCH + 1];     /* + 1: the oversized call */

    unb64(V_UA_PUBLIC, ua_pub, sizeof(ua_pub));
    unb64(V_AS_PUBLIC, as_pub, sizeof(as_pub));
    unb64(V_AS_PRIVATE, as_priv, sizeof(as_priv));
    unb64(V_ECDH, ecdh, sizeof(ecdh));

    /* A full batch of the RFC key pair: the batched inversion path. */
    memset(a, 0, sizeof(a));
    for (i = 0; i < WP_ECE_BATCH; i++) {
        a[i].peer = ua_pub;
        a[i].peer_field = "keys.p256dh";
        a[i].priv = as_priv;
        a[i].priv_field = "as_private";
    }

    failed = wp_p256_ctx_agree(c, a, WP_ECE_BATCH);
    is_int(failed, 0, "agree: a batch of %d, none fails", WP_ECE_BATCH);

    all = 1;
    for (i = 0; i < WP_ECE_BATCH; i++) {
        if (a[i].rc != 0 || memcmp(a[i].pub, as_pub, 65) != 0
            || memcmp(a[i].secret, ecdh, 32) != 0)
        {
            all = 0;
        }
    }
    ok(all, "agree: every slot has Appendix A's as_public and ecdh_secret");

    /* Bad entries among good ones fail alone, each with its reason. */
    memset(bad_scalar, 0xff, sizeof(bad_scalar));
    memcpy(bad_point, ua_pub, 65);
    bad_point[64] ^= 1;

    memset(a, 0, sizeof(a));
    for (i = 0; i < 6; i++) {
        a[i].peer = ua_pub;
        a[i].peer_field = "keys.p256dh";
        a[i].priv = as_priv;
        a[i].priv_field = "as_private";
    }
    a[1].peer = bad_point;
    a[3].priv = bad_scalar;
    a[4].priv = NULL;                           /* a fresh one */

    ERR_clear_error();
    failed = wp_p256_ctx_agree(c, a, 6);
    is_int(failed, 2, "agree: 2 of 6 fail");
    is_str(a[1].rc ? a[1].err.code : "(success)", WP_E_BAD_KEY,
           "agree: off-curve peer refused");
    is_str(a[1].err.field, "keys.p256dh", "   ... naming the peer's field");
    is_str(a[3].rc ? a[3].err.code : "(success)", WP_E_BAD_KEY,
           "agree: scalar >= n refused");
    is_str(a[3].err.field, "as_private", "   ... naming the scalar's field");
    ok(a[0].rc == 0 && a[2].rc == 0 && a[5].rc == 0
       && memcmp(a[0].secret, ecdh, 32) == 0
       && memcmp(a[2].secret, ecdh, 32) == 0
       && memcmp(a[5].secret, ecdh, 32) == 0
       && memcmp(a[5].pub, as_pub, 65) == 0,
       "agree: the good ones around them are exact");
    ok(a[4].rc == 0 && a[4].pub[0] == 0x04
       && memcmp(a[4].pub, as_pub, 65) != 0
       && wp_p256_check_public(a[4].pub, "pub", NULL) == 0,
       "agree: a fresh scalar gives another valid point");
    ok(ERR_peek_error() == 0, "agree: no OpenSSL error left queued");

    is_int(wp_p256_ctx_agree(c, a, WP_ECE_BATCH + 1), WP_ECE_BATCH + 1,
           "agree: a batch over %d is refused whole", WP_ECE_BATCH);
    is_str(a[0].err.code, WP_E_INTERNAL, "   ... as an internal error");
}


/*
 * wp_p256_affine() against wp_p256_affine_each() (OpenSSL's conversion)
 * on random points in Jacobian form, for every n up to the maximum, with
 * the point at infinity at one place.
 */
static void
test_affine(void)
{
    int                same, inf_ok;
    size_t             i, n;
    BN_CTX            *bn;
    BIGNUM            *k;
    EC_GROUP          *g;
    EC_POINT          *pts[WP_P256_AFFINE_MAX];
    wp_p256_affine_t  *a;
    static uint8_t     xy1[WP_P256_AFFINE_MAX][64],
                       xy2[WP_P256_AFFINE_MAX][64];
    uint8_t            ok1[WP_P256_AFFINE_MAX], ok2[WP_P256_AFFINE_MAX];

    g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    bn = BN_CTX_new();
    k = BN_new();
    a = (g && bn) ? wp_p256_affine_new(g, bn) : NULL;
    ok(a != NULL, "affine: context");
    if (a == NULL || k == NULL) {
        return;
    }

    for (i = 0; i < WP_P256_AFFINE_MAX; i++) {
        pts[i] = EC_POINT_new(g);
        /* k * G then + G: a sum leaves Z != 1, as the per-message muls */
        if (pts[i] == NULL
            || BN_rand_range(k, EC_GROUP_get0_order(g)) != 1
            || EC_POINT_mul(g, pts[i], k, NULL, NULL, bn) != 1
            || EC_POINT_add(g, pts[i], pts[i], EC_GROUP_get0_generator(g),
                            bn) != 1)
        {
            ok(0, "affine: point setup");
            return;
        }
    }

    same = 1;
    for (n = 1; n <= WP_P256_AFFINE_MAX; n++) {
        memset(xy1, 0, sizeof(xy1));
        memset(xy2, 0xaa, sizeof(xy2));
        if (wp_p256_affine(a, pts, n, xy1, ok1, bn) != 0
            || wp_p256_affine_each(a, pts, n, xy2, ok2, bn) != 0)
        {
            same = 0;
            break;
        }
        for (i = 0; i < n; i++) {
            if (!ok1[i] || !ok2[i] || memcmp(xy1[i], xy2[i], 64) != 0) {
                same = 0;
            }
        }
    }
    ok(same, "affine: batched = OpenSSL's, every n from 1 to %d",
       WP_P256_AFFINE_MAX);

    /* Infinity in the middle: reported, and the others still exact. */
    EC_POINT_set_to_infinity(g, pts[7]);
    ERR_clear_error();
    inf_ok = wp_p256_affine(a, pts, 20, xy1, ok1, bn) == 0
             && wp_p256_affine_each(a, pts, 20, xy2, ok2, bn) == 0;
    ok(inf_ok && ok1[7] == 0, "affine: the point at infinity is not ok");
    same = inf_ok;
    for (i = 0; inf_ok && i < 20; i++) {
        if (i != 7 && (!ok1[i] || memcmp(xy1[i], xy2[i], 64) != 0)) {
            same = 0;
        }
    }
    ok(same, "affine: the 19 others are exact");
    ERR_clear_error();

    is_int(wp_p256_affine(a, pts, WP_P256_AFFINE_MAX + 1, xy1, ok1, bn), -1,
           "affine: more than %d points refused", WP_P256_AFFINE_MAX);

    for (i = 0; i < WP_P256_AFFINE_MAX; i++) {
        EC_POINT_free(pts[i]);
    }
    wp_p256_affine_free(a);
    wp_p256_affine_free(NULL);
    BN_free(k);
    BN_CTX_free(bn);
    EC_GROUP_free(g);
}


int
main(void)
{
    wp_p256_ctx_t  *c;
    wp_err_t        err;

    c = wp_p256_ctx_new(&err);
    ok(c != NULL, "wp_p256_ctx_new");
    if (c == NULL) {
        printf("# %s\n", err.message);
        return tap_done();
    }

    test_agree_vectors(c);
    test_affine();

    wp_p256_ctx_free(c);
    wp_p256_ctx_free(NULL);

    return tap_done();
}
