/*
 * bench/ece_bench: the per-message CPU cost of what the sender does for
 * every subscription (RFC 8291 encryption with a fresh key and salt), next
 * to two yardsticks measured in the same run on the same core:
 *
 *   floor   the elliptic-curve work no implementation can skip: one P-256
 *           key generation + one ECDH, with OpenSSL's EVP API (contexts
 *           reused, algorithms fetched once);
 *   vapid   one ES256 signature: what per-message signing (the Node
 *           library's way) would add, and what our per-origin token cache
 *           saves.
 *
 * Prints messages/s and the ratio to the floor.  usage: ece_bench [seconds]
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "ece.h"
#include "vapid.h"


static double
wp_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


/* Key generation + ECDH against a fixed peer, the EVP way. */
static double
bench_floor(double secs, EVP_PKEY *peer)
{
    long           n;
    double         t0;
    size_t         len;
    uint8_t        secret[32];
    EVP_PKEY      *k;
    EVP_PKEY_CTX  *gen, *dx;

    gen = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (gen == NULL || EVP_PKEY_keygen_init(gen) <= 0
        || EVP_PKEY_CTX_set_group_name(gen, "P-256") <= 0)
    {
        return -1;
    }

    n = 0;
    t0 = wp_now();

    do {
        k = NULL;
        if (EVP_PKEY_generate(gen, &k) <= 0) {
            return -1;
        }

        dx = EVP_PKEY_CTX_new(k, NULL);
        len = sizeof(secret);
        if (dx == NULL || EVP_PKEY_derive_init(dx) <= 0
            || EVP_PKEY_derive_set_peer_ex(dx, peer, 0) <= 0
            || EVP_PKEY_derive(dx, secret, &len) <= 0)
        {
            return -1;
        }

        EVP_PKEY_CTX_free(dx);
        EVP_PKEY_free(k);
        n++;
    } while ((n & 63) || wp_now() - t0 < secs);

    EVP_PKEY_CTX_free(gen);

    return n / (wp_now() - t0);
}


int
main(int argc, char **argv)
{
    long             n;
    double           secs, t0, ours, floor_rate, vapid_rate;
    size_t           outlen;
    uint8_t          ua_priv[32], ua_pub[65], auth[16], pt[3000],
                     out[WP_ECE_MAX_BODY];
    char             jwt[1024];
    wp_err_t         err;
    wp_ece_t        *e;
    EVP_PKEY        *peer;
    EVP_PKEY_CTX    *pc;
    wp_vapid_key_t  *vk;

    secs = argc > 1 ? atof(argv[1]) : 2.0;

    memset(pt, 'x', sizeof(pt));
    memset(auth, 7, sizeof(auth));

    e = wp_ece_new(&err);
    if (e == NULL || wp_p256_generate(ua_priv, ua_pub, &err) != 0
        || wp_vapid_key_generate(&vk, &err) != 0)
    {
        fprintf(stderr, "setup: %s\n", err.message);
        return 1;
    }

    /* The subscriber's key as an EVP_PKEY, for the floor loop. */
    peer = NULL;
    pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (pc == NULL || EVP_PKEY_keygen_init(pc) <= 0
        || EVP_PKEY_CTX_set_group_name(pc, "P-256") <= 0
        || EVP_PKEY_generate(pc, &peer) <= 0)
    {
        return 1;
    }
    EVP_PKEY_CTX_free(pc);

    n = 0;
    t0 = wp_now();
    do {
        if (wp_ece_encrypt(e, ua_pub, auth, pt, sizeof(pt), 0, out,
                           sizeof(out), &outlen, &err) != 0)
        {
            fprintf(stderr, "encrypt: %s\n", err.message);
            return 1;
        }
        n++;
    } while ((n & 63) || wp_now() - t0 < secs);
    ours = n / (wp_now() - t0);

    floor_rate = bench_floor(secs, peer);
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

    printf("payload %zu bytes, %.1f s CPU per loop, one core\n",
           sizeof(pt), secs);
    printf("%-44s %10.0f msg/s  %6.1f us/msg\n",
           "wp_ece_encrypt (fresh key + salt, 3000 B)", ours, 1e6 / ours);
    printf("%-44s %10.0f op/s   %6.1f us/op\n",
           "floor: P-256 keygen + ECDH (EVP)", floor_rate, 1e6 / floor_rate);
    printf("%-44s %10.0f op/s   %6.1f us/op\n",
           "ES256 VAPID signature (per-origin, cached)", vapid_rate,
           1e6 / vapid_rate);
    printf("ratio encrypt/floor cost: %.2f (1.00 = nothing but the EC math)\n",
           floor_rate / ours);
    printf("per-message signing would cost %.0f%% more than the cached"
           " token\n", 100.0 * ours / vapid_rate);

    EVP_PKEY_free(peer);
    wp_vapid_key_free(vk);
    wp_ece_free(e);

    return 0;
}
