/*
 * ngx_webpush: base64url (RFC 4648 section 5).
 *
 * Output is always base64url without '=' padding, as Web Push wants it in
 * keys, JWTs and headers.  Input is strict: padding is optional but, when
 * present, must be exactly right; a length that cannot come from an
 * encoding (n % 4 == 1), a stray character, or non-zero trailing bits are
 * errors (WP_E_BAD_BASE64).  WP_B64_LENIENT also accepts the standard
 * alphabet ('+', '/'), which older clients send for subscription keys.
 */

#ifndef WP_B64_H
#define WP_B64_H

#include <stddef.h>
#include <stdint.h>

#include "wp_err.h"

#define WP_B64_STRICT   0
#define WP_B64_LENIENT  1

/* Characters needed for n bytes, without padding and without the NUL. */
#define wp_b64url_len(n)      (((n) * 4 + 2) / 3)
/* Upper bound of bytes decoded from n characters. */
#define wp_b64url_maxdec(n)   (((n) * 3) / 4 + 1)

/* Encode n bytes into out (room for wp_b64url_len(n) + 1); returns length. */
size_t wp_b64url_encode(const uint8_t *in, size_t n, char *out);

/*
 * Decode len characters into out (cap bytes).  *outlen gets the number of
 * bytes.  field names the input in the error message ("" if none).
 */
int wp_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap,
    size_t *outlen, int flags, const char *field, wp_err_t *err);

#endif /* WP_B64_H */
