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
