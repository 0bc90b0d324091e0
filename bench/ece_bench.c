/*
 * bench/ece_bench: the per-message CPU cost of what the sender does for
 * every subscription (RFC 8291 encryption with a fresh key and salt), the
 * sender's way (wp_ece_encrypt_many, batches of WP_ECE_BATCH: the "crypto
 * floor" of bench/sender_bench.sh) and one message per call, next to two
 * yardsticks measured in the same run on the same core:
 *
 *   EC      the elliptic-curve work of one message with OpenSSL's fastest
 *           public calls, one message at a time (low-level EC_POINT API,
 *           group and objects made once): a fresh scalar from the private
 *           DRBG, its public point d*G (fixed base, precomputed table)
 *           encoded to 65 bytes, the subscriber's 65 bytes decoded and
 *           checked on the curve, and the ECDH X coordinate of d*P.  The
 *           batches beat it: they share the two field inversions it pays;
 *   vapid   one ES256 signature: what per-message signing (the Node
 *           library's way) would add, and what our per-origin token cache
 *           saves.
 *
 * Prints messages/s and the ratio to the EC line.
 * usage: ece_bench [seconds [payload bytes (3000, at most 3993)]]
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include "ece.h"
#include "vapid.h"


static double
wp_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


/* Key generation + ECDH against a fixed peer, one at a time. */
static double
bench_floor(double secs, const uint8_t peer_raw[65])
{
    long       n;
    double     t0, rate;
    uint8_t    pub_raw[65], secret[32];
    BIGNUM    *d, *x;
    BN_CTX    *bn;
    EC_GROUP  *g;
    EC_POINT  *pub, *peer, *shared;

    g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    bn = BN_CTX_secure_new();
    d = BN_secure_new();
    x = BN_secure_new();
    if (g == NULL || bn == NULL || d == NULL || x == NULL
        || (pub = EC_POINT_new(g)) == NULL
        || (peer = EC_POINT_new(g)) == NULL
        || (shared = EC_POINT_new(g)) == NULL)
    {
        return -1;
    }

    n = 0;
    t0 = wp_now();

    do {
        if (BN_priv_rand_range_ex(d, EC_GROUP_get0_order(g), 0, bn) != 1
            || EC_POINT_mul(g, pub, d, NULL, NULL, bn) != 1
            || EC_POINT_point2oct(g, pub, POINT_CONVERSION_UNCOMPRESSED,
                                  pub_raw, sizeof(pub_raw), bn) != 65
            || EC_POINT_oct2point(g, peer, peer_raw, 65, bn) != 1
            || EC_POINT_mul(g, shared, NULL, peer, d, bn) != 1
            || EC_POINT_get_affine_coordinates(g, shared, x, NULL, bn) != 1
            || BN_bn2binpad(x, secret, 32) != 32)
        {
            return -1;
        }
        n++;
    } while ((n & 63) || wp_now() - t0 < secs);

    rate = n / (wp_now() - t0);

    EC_POINT_free(shared);
    EC_POINT_free(peer);
    EC_POINT_free(pub);
    BN_clear_free(x);
    BN_clear_free(d);
    BN_CTX_free(bn);
    EC_GROUP_free(g);

    return rate;
}


int
main(int argc, char **argv)
{
    long             n;
    double           secs, t0, ours, one, floor_rate, vapid_rate;
    size_t           i, outlen, ptlen;
    uint8_t          ua_priv[32], ua_pub[65], auth[16], pt[3993],
                     out[WP_ECE_MAX_BODY];
    static uint8_t   outs[WP_ECE_BATCH][WP_ECE_MAX_BODY];
    static wp_ece_msg_t  m[WP_ECE_BATCH];
    char             jwt[1024];
    wp_err_t         err;
    wp_ece_t        *e;
    wp_vapid_key_t  *vk;

    secs = argc > 1 ? atof(argv[1]) : 2.0;
    ptlen = argc > 2 ? (size_t) atol(argv[2]) : 3000;
    if (ptlen > sizeof(pt)) {
        fprintf(stderr, "payload: at most %zu bytes\n", sizeof(pt));
        return 1;
    }

    memset(pt, 'x', sizeof(pt));
    memset(auth, 7, sizeof(auth));

    e = wp_ece_new(&err);
    if (e == NULL || wp_p256_generate(ua_priv, ua_pub, &err) != 0
        || wp_vapid_key_generate(&vk, &err) != 0)
    {
        fprintf(stderr, "setup: %s\n", err.message);
        return 1;
    }

    n = 0;
    t0 = wp_now();
    do {
        if (wp_ece_encrypt(e, ua_pub, auth, pt, ptlen, 0, out,
                           sizeof(out), &outlen, &err) != 0)
        {
            fprintf(stderr, "encrypt: %s\n", err.message);
            return 1;
        }
        n++;
    } while ((n & 63) || wp_now() - t0 < secs);
    one = n / (wp_now() - t0);

    /* The sender's way: WP_ECE_BATCH messages per call. */
    for (i = 0; i < WP_ECE_BATCH; i++) {
        m[i].ua_public = ua_pub;
        m[i].auth = auth;
        m[i].pt = pt;
        m[i].ptlen = ptlen;
        m[i].padlen = 0;
        m[i].out = outs[i];
        m[i].cap = sizeof(outs[i]);
    }

    n = 0;
    t0 = wp_now();
    do {
        if (wp_ece_encrypt_many(e, m, WP_ECE_BATCH) != 0) {
            fprintf(stderr, "encrypt: %s\n", m[0].err.message);
            return 1;
        }
        n += WP_ECE_BATCH;
    } while ((n & 63) || wp_now() - t0 < secs);
    ours = n / (wp_now() - t0);

    floor_rate = bench_floor(secs, ua_pub);
    if (floor_rate < 0) {
        fprintf(stderr, "floor loop failed\n");
        return 1;
    }

    n = 0;
    t0 = wp_now();
    do {
        if (wp_vapid_sign(vk, "https://fcm.googleapis.com",
                          "mailto:ops@example.com", time(NULL) + 43200,
                          jwt, sizeof(jwt), &err) != 0)
        {
            fprintf(stderr, "sign: %s\n", err.message);
            return 1;
        }
        n++;
    } while ((n & 63) || wp_now() - t0 < secs);
    vapid_rate = n / (wp_now() - t0);

    printf("payload %zu bytes, %.1f s CPU per loop, one core\n", ptlen, secs);
    printf("%-44s %10.0f msg/s  %6.1f us/msg\n",
           "wp_ece_encrypt_many (fresh key + salt)", ours, 1e6 / ours);
    printf("%-44s %10.0f msg/s  %6.1f us/msg\n",
           "  one message per call (wp_ece_encrypt)", one, 1e6 / one);
    printf("%-44s %10.0f op/s   %6.1f us/op\n",
           "EC alone, one at a time (EC_POINT calls)", floor_rate,
           1e6 / floor_rate);
    printf("%-44s %10.0f op/s   %6.1f us/op\n",
           "ES256 VAPID signature (per-origin, cached)", vapid_rate,
           1e6 / vapid_rate);
    printf("ratio encrypt/EC cost: %.2f (1.00 = nothing but the EC math"
           " one at a time)\n", floor_rate / ours);
    printf("per-message signing would cost %.0f%% more than the cached"
           " token\n", 100.0 * ours / vapid_rate);

    wp_vapid_key_free(vk);
    wp_ece_free(e);

    return 0;
}
