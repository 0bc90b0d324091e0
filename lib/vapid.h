/*
 * ngx_webpush: VAPID (RFC 8292) keys, ES256 tokens and the Authorization
 * header "vapid t=<jwt>, k=<public key>".
 *
 * Keys use the web-push text format: the public key is the uncompressed
 * P-256 point in base64url (87 characters), the private key the 32-byte
 * scalar in base64url (43 characters).
 *
 * Error codes: WP_E_BAD_KEY, WP_E_KEY_MISMATCH, WP_E_BAD_SUBJECT,
 * WP_E_BAD_ENDPOINT (audience), WP_E_BUFFER, WP_E_NOMEM, WP_E_CRYPTO;
 * verification: WP_E_BAD_TOKEN, WP_E_TOKEN_ALG, WP_E_TOKEN_SIGNATURE,
 * WP_E_TOKEN_EXPIRED.
 */

#ifndef WP_VAPID_H
#define WP_VAPID_H

#include <stddef.h>
#include <stdint.h>

#include "wp_err.h"

#define WP_VAPID_PUBLIC_B64_LEN   87
#define WP_VAPID_PRIVATE_B64_LEN  43
#define WP_VAPID_MAX_AUD          299     /* bytes, without NUL */
#define WP_VAPID_MAX_SUB          255
#define WP_VAPID_TTL              (12 * 3600)   /* exp = now + 12 h */
#define WP_VAPID_MIN_LEFT         3600          /* re-sign below 1 h left */
#define WP_VAPID_MAX_TTL          (24 * 3600)   /* RFC 8292 §2 */
#define WP_VAPID_MAX_JWT          600

/* Immutable once made: one key may sign from several threads at once. */
typedef struct wp_vapid_key_s  wp_vapid_key_t;

/*
 * Parse a key pair in web-push text format (the standard alphabet and '='
 * padding are tolerated).  public_b64 may be NULL: it is then derived from
 * the private key.  A private scalar of 30 or 31 bytes is left-padded with
 * zeros (some tools drop leading zero bytes); other lengths, a scalar out
 * of range or a public key off the curve are WP_E_BAD_KEY (field
 * "private_key" / "public_key"), bad text WP_E_BAD_BASE64.  A public key
 * that is not the private key's is WP_E_KEY_MISMATCH.
 */
int wp_vapid_key_parse(const char *public_b64, const char *private_b64,
    wp_vapid_key_t **out, wp_err_t *err);

/* Generate a new key pair. */
int wp_vapid_key_generate(wp_vapid_key_t **out, wp_err_t *err);

/* Free a key; NULL is fine. */
void wp_vapid_key_free(wp_vapid_key_t *k);

/* The public key as 87 base64url characters (NUL-terminated, owned by k). */
const char *wp_vapid_key_public(const wp_vapid_key_t *k);

/* The raw 65-byte public point (owned by k). */
const uint8_t *wp_vapid_key_public_raw(const wp_vapid_key_t *k);

/* Write the private key as 43 base64url characters + NUL.  Secret! */
int wp_vapid_key_private(const wp_vapid_key_t *k, char out[44]);

/*
 * Check a VAPID subject: "mailto:user@host" (one plain address: no second
 * "mailto:", lists or ?headers) or "https://host[:port][/path]" (no
 * userinfo); at most 255 printable ASCII characters, no spaces, quotes,
 * backslash or <>.  The host must be a DNS name with a dot, not an IP
 * literal, and not localhost or *.localhost, *.local, *.invalid, *.test,
 * *.example, *.localdomain, *.internal, *.home.arpa (Apple answers 403
 * BadJwtToken to such subjects).  WP_E_BAD_SUBJECT, field "subject".
 */
int wp_vapid_check_subject(const char *sub, wp_err_t *err);

/*
 * The audience (origin) for an endpoint URL: "https://host[:port]", host
 * lowercased, ":443" dropped, never a path.  The URL is parsed by
 * wp_url_parse() (lib/endpoint.h), so its rules apply (https only, no
 * userinfo, no fragment...).  WP_E_BAD_ENDPOINT, WP_E_BUFFER.
 */
int wp_vapid_audience(const char *endpoint, char *out, size_t cap,
    wp_err_t *err);

/*
 * Sign an ES256 JWT {"typ":"JWT","alg":"ES256"}.{"aud":..,"exp":..,
 * "sub":..} with the raw 64-byte r||s signature.  jwt gets the
 * NUL-terminated token.  aud and sub are JSON-escaped; sub NULL or ""
 * leaves the claim out.  No policy here (see wp_vapid_check_subject()):
 * empty/long aud is WP_E_BAD_VALUE, small cap WP_E_BUFFER.
 */
int wp_vapid_sign(const wp_vapid_key_t *k, const char *aud, const char *sub,
    int64_t exp, char *jwt, size_t cap, wp_err_t *err);

/* Build "vapid t=<jwt>, k=<public key>" into out. */
int wp_vapid_header(const wp_vapid_key_t *k, const char *jwt, char *out,
    size_t cap, wp_err_t *err);

/* One cached token per push origin, kept by the caller (zero it first). */
typedef struct {
    char     aud[WP_VAPID_MAX_AUD + 1];
    int64_t  exp;
    int64_t  signed_at;
    char     header[700];   /* the whole Authorization value, NUL-ended */
} wp_vapid_token_t;

/*
 * Make tok hold a valid Authorization header for (sub, aud) at time now.
 * Re-signs only when tok is empty, holds another audience, has less than
 * WP_VAPID_MIN_LEFT seconds left, or (clock stepped back) more than
 * WP_VAPID_MAX_TTL; then exp = now + WP_VAPID_TTL (Apple refuses tokens
 * refreshed more often than hourly).  sub must pass
 * wp_vapid_check_subject().  On failure tok is left unchanged.  *resigned
 * (may be NULL) tells whether a new token was signed.
 */
int wp_vapid_token_get(const wp_vapid_key_t *k, const char *sub,
    const char *aud, int64_t now, wp_vapid_token_t *tok, int *resigned,
    wp_err_t *err);

/*
 * Verify an ES256 VAPID JWT against the raw public key pub: header alg
 * must be "ES256" (else WP_E_TOKEN_ALG), typ absent or "JWT", the
 * signature raw r||s (64 bytes; else or if it does not verify
 * WP_E_TOKEN_SIGNATURE), checked before any claim is read; exp must be an
 * integer in (now, now + 24 h] (WP_E_TOKEN_EXPIRED, or WP_E_BAD_TOKEN with
 * field "exp" when too far ahead); aud is required.  Structure, base64url
 * or JSON problems are WP_E_BAD_TOKEN; pub off the curve WP_E_BAD_KEY.
 * aud/sub (may be NULL) get the claims (WP_E_BUFFER if they do not fit;
 * sub "" if absent); *exp (may be NULL) the expiry.
 */
int wp_vapid_verify(const char *jwt, const uint8_t pub[65], int64_t now,
    char *aud, size_t audcap, int64_t *exp, char *sub, size_t subcap,
    wp_err_t *err);

/*
 * Is this 401/403 a "key mismatch": our token verified, but the
 * subscription was created with another applicationServerKey?  body is the
 * answer's body (or any text holding it; NULL is none).  The services'
 * words: Apple "VapidPkHashMismatch", FCM "... do not correspond to the
 * credentials used to create the subscriptions", autopush "VAPID public
 * key mismatch".  Other 401/403s (a bad token, a bad key) are about our
 * configuration, not about one subscription.
 */
int wp_vapid_mismatch_answer(long status, const char *body);

#endif /* WP_VAPID_H */
