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

#include <openssl/ec.h>
#include <openssl/evp.h>

#include "ece.h"
#include "wp_err.h"


/*
 * The per-message path (ece.c): P-256 on the low-level EC_POINT API, with
 * the group (on x86_64 OpenSSL's nistz256 code and its precomputed
 * generator table), a BN_CTX, the points and the scalars allocated once
 * and reused, none of the EVP_PKEY layer's per-call objects and parameter
 * marshalling.  Key agreement runs for up to WP_ECE_BATCH messages at a
 * time: the two points each one computes (our public point, the ECDH
 * point) are brought to affine coordinates together, with one field
 * inversion (p256_affine.c) instead of two per message.  Not thread-safe:
 * one per wp_ece_t.
 */
typedef struct wp_p256_ctx_s  wp_p256_ctx_t;

wp_p256_ctx_t *wp_p256_ctx_new(wp_err_t *err);
void wp_p256_ctx_free(wp_p256_ctx_t *c);

/* One key agreement of a batch. */
typedef struct {
    const uint8_t  *peer;           /* the other side's point, 65 bytes */
    const char     *peer_field;     /* names it in errors */
    const uint8_t  *priv;           /* our scalar; NULL: a fresh one */
    const char     *priv_field;
    uint8_t         pub[65];        /* out: our public point */
    uint8_t         secret[32];     /* out: X of priv * peer: secret */
    int             rc;             /* out: 0, or -1 with err */
    wp_err_t        err;
} wp_p256_agree_t;

/*
 * Fill pub and secret of a[0..n-1], n <= WP_ECE_BATCH.  A fresh scalar is
 * uniform in [1, n-1] from the private DRBG; a given one must be in that
 * range (WP_E_BAD_KEY naming priv_field).  The peer must be an
 * uncompressed on-curve point, not infinity (WP_E_BAD_KEY naming
 * peer_field; checked first).  Each entry fails on its own; returns how
 * many failed.  The scalars are wiped before it returns; secret is the
 * caller's to wipe.
 */
int wp_p256_ctx_agree(wp_p256_ctx_t *c, wp_p256_agree_t *a, size_t n);


/* Affine conversion of many points (p256_affine.c). */
#define WP_P256_AFFINE_MAX  (2 * WP_ECE_BATCH)

typedef struct wp_p256_affine_s  wp_p256_affine_t;

wp_p256_affine_t *wp_p256_affine_new(const EC_GROUP *group, BN_CTX *bn);
void wp_p256_affine_free(wp_p256_affine_t *a);

/*
 * xy[i] = x || y (big-endian) of pts[i], n <= WP_P256_AFFINE_MAX, with
 * one field inversion; ok[i] = 0 for the point at infinity (xy[i] is then
 * meaningless).  -1 only when OpenSSL fails.
 */
int wp_p256_affine(wp_p256_affine_t *a, EC_POINT *const *pts, size_t n,
    uint8_t (*xy)[64], uint8_t *ok, BN_CTX *bn);

/* The same, one inversion per point: OpenSSL's own way (the reference). */
int wp_p256_affine_each(wp_p256_affine_t *a, EC_POINT *const *pts, size_t n,
    uint8_t (*xy)[64], uint8_t *ok, BN_CTX *bn);


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
