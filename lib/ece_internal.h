/*
 * ngx_webpush: RFC 8291 / RFC 8188 key schedule, exposed for the unit
 * tests (every intermediate value of RFC 8291 Appendix A) and nothing
 * else.  Production code uses ece.h.
 */

#ifndef WP_ECE_INTERNAL_H
#define WP_ECE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ece.h"

#define WP_ECE_KEY_INFO_LEN  (14 + 2 * WP_P256_PUB_LEN)   /* 144 */

typedef struct {
    uint8_t  ecdh_secret[32];
    uint8_t  prk_key[32];                   /* HKDF-Extract(auth, ecdh) */
    uint8_t  key_info[WP_ECE_KEY_INFO_LEN]; /* "WebPush: info\0"||ua||as */
    uint8_t  ikm[32];
    uint8_t  prk[32];                       /* HKDF-Extract(salt, IKM) */
    uint8_t  cek[16];
    uint8_t  nonce[12];
} wp_ece_keys_t;

/*
 * RFC 8291 §3.3/3.4: from ecdh_secret (already in k), auth and both
 * public keys, fill k->prk_key, k->key_info and k->ikm.
 */
int wp_ece_webpush_ikm(wp_ece_t *e, const uint8_t auth[WP_AUTH_LEN],
    const uint8_t ua_public[WP_P256_PUB_LEN],
    const uint8_t as_public[WP_P256_PUB_LEN], wp_ece_keys_t *k,
    wp_err_t *err);

/* RFC 8188 §2.2/2.3: from ikm and salt, fill k->prk, k->cek, k->nonce. */
int wp_ece_content_keys(wp_ece_t *e, const uint8_t *ikm, size_t ikmlen,
    const uint8_t salt[WP_SALT_LEN], wp_ece_keys_t *k, wp_err_t *err);

/*
 * The whole sender-side schedule for a fixed sender key: as_public gets
 * the sender's public point, k every value from ecdh_secret to nonce.
 */
int wp_ece_derive(wp_ece_t *e, const uint8_t as_private[WP_P256_PRIV_LEN],
    const uint8_t ua_public[WP_P256_PUB_LEN], const uint8_t auth[WP_AUTH_LEN],
    const uint8_t salt[WP_SALT_LEN], uint8_t as_public[WP_P256_PUB_LEN],
    wp_ece_keys_t *k, wp_err_t *err);

#endif /* WP_ECE_INTERNAL_H */
