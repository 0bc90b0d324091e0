/*
 * ngx_webpush: P-256 key plumbing over OpenSSL 3 EVP, shared by ece.c and
 * vapid.c.  Internal to lib/: callers outside lib/ use ece.h and vapid.h
 * (wp_p256_check_public() and wp_p256_generate() are declared in ece.h).
 *
 * Public keys are always the 65-byte uncompressed point 0x04 || X || Y;
 * private keys the 32-byte big-endian scalar.
 */

#ifndef WP_P256_H
#define WP_P256_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "wp_err.h"


/*
 * The per-message path (ece.c): P-256 on the low-level EC_POINT API, with
 * the group (on x86_64 OpenSSL's nistz256 code and its precomputed
 * generator table), a BN_CTX, the points and the scalar allocated once and
 * reused, none of the EVP_PKEY layer's per-call objects and parameter
 * marshalling.  It holds one private scalar and one peer point at a time;
 * wp_p256_ctx_clear() wipes the scalar and the last ECDH result.  Not
 * thread-safe: one per wp_ece_t.
 */
typedef struct wp_p256_ctx_s  wp_p256_ctx_t;

wp_p256_ctx_t *wp_p256_ctx_new(wp_err_t *err);
void wp_p256_ctx_free(wp_p256_ctx_t *c);

/*
 * A fresh private scalar, uniform in [1, n-1] from the private DRBG, held
 * in c; its public point is written to pub.  Call once per message.
 */
int wp_p256_ctx_generate(wp_p256_ctx_t *c, uint8_t pub[65], wp_err_t *err);

/*
 * Load a given private scalar (must be in [1, n-1]: WP_E_BAD_KEY naming
 * field) and write its public point to pub (may be NULL).  Secret.
 */
int wp_p256_ctx_set_private(wp_p256_ctx_t *c, const uint8_t priv[32],
    uint8_t pub[65], const char *field, wp_err_t *err);

/*
 * Load the peer's public point: only an uncompressed on-curve point that
 * is not infinity passes (WP_E_BAD_KEY naming field, same messages as
 * wp_p256_import_public()).
 */
int wp_p256_ctx_set_peer(wp_p256_ctx_t *c, const uint8_t pub[65],
    const char *field, wp_err_t *err);

/* ECDH: the 32-byte X coordinate of scalar * peer (both loaded above). */
int wp_p256_ctx_ecdh(wp_p256_ctx_t *c, uint8_t secret[32], wp_err_t *err);

/* Wipe the scalar and the ECDH intermediates. */
void wp_p256_ctx_clear(wp_p256_ctx_t *c);


/* A parameters-only P-256 key: the template for fast imports. */
EVP_PKEY *wp_p256_template(wp_err_t *err);

/*
 * Import a public point.  With tmpl (from wp_p256_template()) the key is
 * built by copying its parameters, which is ~3x cheaper than fromdata.
 * Rejects anything but an uncompressed on-curve point (WP_E_BAD_KEY,
 * naming field), so the key may later be used without re-validation.
 */
EVP_PKEY *wp_p256_import_public(const EVP_PKEY *tmpl,
    const uint8_t pub[65], const char *field, wp_err_t *err);

/*
 * Import a private scalar (must be in [1, n-1]); the public point is
 * computed from it and written to pub (may be NULL).  WP_E_BAD_KEY.
 */
EVP_PKEY *wp_p256_import_private(const uint8_t priv[32], uint8_t pub[65],
    const char *field, wp_err_t *err);

/* Write key's public point (65 bytes, uncompressed). */
int wp_p256_export_public(const EVP_PKEY *key, uint8_t pub[65],
    wp_err_t *err);

/* Write key's private scalar, left-padded to 32 bytes.  Secret. */
int wp_p256_export_private(const EVP_PKEY *key, uint8_t priv[32],
    wp_err_t *err);

/*
 * ECDH: the 32-byte X coordinate of priv * peer.  The peer must come from
 * wp_p256_import_public() (already validated: no second check here).
 */
int wp_p256_ecdh(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t secret[32],
    wp_err_t *err);

#endif /* WP_P256_H */
