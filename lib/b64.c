/* ngx_webpush: base64url encode/decode (see b64.h). */

#include "b64.h"


static const char  wp_b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


size_t
wp_b64url_encode(const uint8_t *in, size_t n, char *out)
{
    char      *p;
    uint32_t   v;
    size_t     i;

    p = out;

    for (i = 0; i + 2 < n; i += 3) {
        v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];
        *p++ = wp_b64url_alphabet[(v >> 18) & 63];
        *p++ = wp_b64url_alphabet[(v >> 12) & 63];
        *p++ = wp_b64url_alphabet[(v >> 6) & 63];
        *p++ = wp_b64url_alphabet[v & 63];
    }

    if (n - i == 1) {
        v = (uint32_t) in[i] << 16;
        *p++ = wp_b64url_alphabet[(v >> 18) & 63];
        *p++ = wp_b64url_alphabet[(v >> 12) & 63];

    } else if (n - i == 2) {
        v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8;
        *p++ = wp_b64url_alphabet[(v >> 18) & 63];
        *p++ = wp_b64url_alphabet[(v >> 12) & 63];
        *p++ = wp_b64url_alphabet[(v >> 6) & 63];
    }

    *p = '\0';

    return (size_t) (p - out);
}


/*
 * Value of each byte in the url alphabet; -1 for bytes outside it; 64 +
 * value for '+' and '/', the standard alphabet's, taken when lenient.  A
 * table: subscription keys are decoded for every message the sender sends.
 */
static const int8_t  wp_b64_dec[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 126, -1, 62, -1, 127,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
    -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};


static int
wp_b64_value(unsigned char c, int flags)
{
    int  d;

    d = wp_b64_dec[c];

    if (d >= 64) {
        return (flags & WP_B64_LENIENT) ? d - 64 : -1;
    }

    return d;
}


int
wp_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap,
    size_t *outlen, int flags, const char *field, wp_err_t *err)
{
    int       d;
    size_t    i, n, pad, o;
    uint32_t  acc;

    const char  *what = (field && *field) ? field : "value";

    pad = 0;
    while (pad < len && pad < 2 && in[len - 1 - pad] == '=') {
        pad++;
    }

    n = len - pad;

    if (pad && len % 4 != 0) {
        return wp_err_set(err, WP_E_BAD_BASE64, field,
                          "%s: wrong base64url padding", what);
    }

    if (n % 4 == 1) {
        return wp_err_set(err, WP_E_BAD_BASE64, field,
                          "%s: impossible base64url length %zu", what, len);
    }

    if (pad && (n % 4) + pad != 4) {
        return wp_err_set(err, WP_E_BAD_BASE64, field,
                          "%s: wrong base64url padding", what);
    }

    if (n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > cap) {
        return wp_err_set(err, WP_E_BAD_BASE64, field,
                          "%s: decodes to more than %zu bytes", what, cap);
    }

    acc = 0;
    o = 0;

    for (i = 0; i < n; i++) {
        d = wp_b64_value((unsigned char) in[i], flags);
        if (d < 0) {
            return wp_err_set(err, WP_E_BAD_BASE64, field,
                              "%s: invalid base64url character at offset %zu",
                              what, i);
        }

        acc = acc << 6 | (uint32_t) d;

        if (i % 4 == 3) {
            out[o++] = (uint8_t) (acc >> 16);
            out[o++] = (uint8_t) (acc >> 8);
            out[o++] = (uint8_t) acc;
            acc = 0;
        }
    }

    /* Leftover bits must be zero: otherwise two texts decode alike. */
    switch (n % 4) {
    case 2:
        if (acc & 0xf) {
            goto trailing;
        }
        out[o++] = (uint8_t) (acc >> 4);
        break;

    case 3:
        if (acc & 0x3) {
            goto trailing;
        }
        out[o++] = (uint8_t) (acc >> 10);
        out[o++] = (uint8_t) (acc >> 2);
        break;
    }

    *outlen = o;

    return 0;

trailing:

    return wp_err_set(err, WP_E_BAD_BASE64, field,
                      "%s: non-canonical base64url (trailing bits set)", what);
}
