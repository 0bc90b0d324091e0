/*
 * ngx_webpush: Web Push message encryption (RFC 8291) over the aes128gcm
 * content coding (RFC 8188), and the P-256 helpers it needs.
 *
 * Web Push bodies are one record with rs = 4096:
 *     salt(16) || rs(4) || idlen(1) = 65 || as_public(65) || record
 * where record = AES-128-GCM(plaintext || 0x02 || padlen zero bytes) || tag.
 *
 * A wp_ece_t holds the fetched algorithms and reusable OpenSSL contexts, so
 * the per-message cost is the elliptic-curve math and little else.  It is
 * not thread-safe: use one per thread.
 *
 * Error codes: WP_E_BAD_KEY (p256dh not an uncompressed P-256 point, bad
 * private scalar, bad auth length), WP_E_PAYLOAD_TOO_LARGE (plaintext +
 * padding over WP_ECE_MAX_PLAINTEXT: never truncated), WP_E_DECRYPT
 * (malformed body, wrong key, tag mismatch, bad delimiter), WP_E_BUFFER
 * (output capacity), WP_E_NOMEM, WP_E_CRYPTO (OpenSSL failed).
 */

#ifndef WP_ECE_H
#define WP_ECE_H

#include <stddef.h>
#include <stdint.h>

#include "wp_err.h"

#define WP_P256_PUB_LEN        65      /* 0x04 || X || Y */
#define WP_P256_PRIV_LEN       32
#define WP_AUTH_LEN            16
#define WP_SALT_LEN            16
#define WP_ECE_HEADER_LEN      86      /* salt 16 + rs 4 + idlen 1 + key 65 */
#define WP_ECE_TAG_LEN         16
#define WP_ECE_RS              4096
/* rs - tag - delimiter - header: what fits one 4096-byte body. */
#define WP_ECE_MAX_PLAINTEXT   3993
#define WP_ECE_MAX_BODY        4096

/* Body size for a plaintext of ptlen bytes and padlen bytes of padding. */
#define wp_ece_body_len(ptlen, padlen)                                        \
    (WP_ECE_HEADER_LEN + (ptlen) + 1 + (padlen) + WP_ECE_TAG_LEN)

typedef struct wp_ece_s  wp_ece_t;

/* Create a context (algorithms fetched, contexts allocated).  NULL on error. */
wp_ece_t *wp_ece_new(wp_err_t *err);

/* Free a context; NULL is fine. */
void wp_ece_free(wp_ece_t *e);

/*
 * Check that pub is an uncompressed (0x04) point on P-256, not infinity.
 * field names the input in the error (e.g. "keys.p256dh").  WP_E_BAD_KEY.
 */
int wp_p256_check_public(const uint8_t pub[WP_P256_PUB_LEN],
    const char *field, wp_err_t *err);

/* Generate a fresh P-256 key pair (test user agents, the cli). */
int wp_p256_generate(uint8_t priv[WP_P256_PRIV_LEN],
    uint8_t pub[WP_P256_PUB_LEN], wp_err_t *err);

/*
 * Encrypt pt (ptlen bytes; NULL if 0) for the subscription (ua_public,
 * auth) with padlen zero bytes of padding, using a fresh ephemeral key and
 * salt.  out (cap bytes) gets wp_ece_body_len(ptlen, padlen) bytes;
 * *outlen the length.  ptlen + padlen > WP_ECE_MAX_PLAINTEXT is
 * WP_E_PAYLOAD_TOO_LARGE (field "payload"); a p256dh that is not an
 * uncompressed P-256 point is WP_E_BAD_KEY (field "keys.p256dh"); a small
 * cap is WP_E_BUFFER.
 */
int wp_ece_encrypt(wp_ece_t *e, const uint8_t ua_public[WP_P256_PUB_LEN],
    const uint8_t auth[WP_AUTH_LEN], const uint8_t *pt, size_t ptlen,
    size_t padlen, uint8_t *out, size_t cap, size_t *outlen, wp_err_t *err);

/*
 * Messages per batch of wp_ece_encrypt_many(): one field inversion for
 * all their P-256 points where one message alone needs two.  16 keeps a
 * batch under a millisecond.
 */
#define WP_ECE_BATCH  16

/* One message of wp_ece_encrypt_many(): inputs as wp_ece_encrypt()'s. */
typedef struct {
    const uint8_t  *ua_public;      /* WP_P256_PUB_LEN bytes */
    const uint8_t  *auth;           /* WP_AUTH_LEN bytes */
    const uint8_t  *pt;
    size_t          ptlen;
    size_t          padlen;
    uint8_t        *out;
    size_t          cap;
    /* results */
    size_t          outlen;
    int             rc;             /* 0, or -1 with err */
    wp_err_t        err;
} wp_ece_msg_t;

/*
 * Encrypt n messages (any n), each exactly as wp_ece_encrypt() would,
 * with its own fresh key and salt, WP_ECE_BATCH at a time: ~10% less CPU
 * per message.  Each message succeeds or fails on its own (rc, err);
 * returns how many failed.
 */
int wp_ece_encrypt_many(wp_ece_t *e, wp_ece_msg_t *m, size_t n);

/*
 * Same as wp_ece_encrypt() with a caller-chosen sender key and salt:
 * deterministic, for test vectors (RFC 8291 Appendix A).  Never reuse a
 * salt in production.
 */
int wp_ece_encrypt_with(wp_ece_t *e, const uint8_t ua_public[WP_P256_PUB_LEN],
    const uint8_t auth[WP_AUTH_LEN], const uint8_t as_private[WP_P256_PRIV_LEN],
    const uint8_t salt[WP_SALT_LEN], const uint8_t *pt, size_t ptlen,
    size_t padlen, uint8_t *out, size_t cap, size_t *outlen, wp_err_t *err);

/*
 * Decrypt a Web Push body as the user agent (ua_private, ua_public, auth):
 * the header must carry idlen 65 and a valid sender key; the body is one
 * record (any rs >= 18 that holds it).  pt (cap bytes) gets the plaintext
 * without padding, *ptlen its length.  Body problems are WP_E_DECRYPT
 * (field "body"); ua_public not matching ua_private is WP_E_BAD_KEY; a
 * small cap is WP_E_BUFFER.  On failure nothing unauthenticated is left
 * in pt.
 */
int wp_ece_decrypt(wp_ece_t *e, const uint8_t ua_private[WP_P256_PRIV_LEN],
    const uint8_t ua_public[WP_P256_PUB_LEN], const uint8_t auth[WP_AUTH_LEN],
    const uint8_t *body, size_t len, uint8_t *pt, size_t cap, size_t *ptlen,
    wp_err_t *err);

/*
 * Generic RFC 8188 aes128gcm decoding with input keying material ikm:
 * any keyid, any rs >= 18, any number of records.  Non-last records must
 * be exactly rs bytes and end their plaintext with delimiter 0x01, the
 * last with 0x02; an all-zero record or a truncated body is WP_E_DECRYPT.
 */
int wp_ece_decrypt_ikm(wp_ece_t *e, const uint8_t *ikm, size_t ikmlen,
    const uint8_t *body, size_t len, uint8_t *pt, size_t cap, size_t *ptlen,
    wp_err_t *err);

#endif /* WP_ECE_H */
