/*
 * ngx_webpush: the error value every lib/ function fills in.
 *
 * Functions return 0 on success and -1 on failure; on failure *err holds a
 * stable machine-readable code (one of the WP_E_* strings below, never
 * reworded once published), the field the problem is in (JSON path such as
 * "keys.p256dh", or "" when not about a field) and a human message that
 * names that field.  err may be NULL when the caller does not care why.
 */

#ifndef WP_ERR_H
#define WP_ERR_H

#include <stddef.h>

typedef struct {
    const char  *code;          /* static string, e.g. WP_E_BAD_BASE64 */
    char         field[64];
    char         message[256];
} wp_err_t;

/* Generic */
#define WP_E_NOMEM               "out_of_memory"
#define WP_E_INTERNAL            "internal_error"
#define WP_E_BUFFER              "buffer_too_small"
#define WP_E_CRYPTO              "crypto_error"

/* Encodings and documents */
#define WP_E_BAD_BASE64          "invalid_base64"
#define WP_E_BAD_JSON            "invalid_json"
#define WP_E_MISSING_FIELD       "missing_field"
#define WP_E_BAD_TYPE            "invalid_type"
#define WP_E_BAD_VALUE           "invalid_value"
#define WP_E_TOO_LONG            "too_long"
#define WP_E_TOO_MANY            "too_many"
#define WP_E_UNKNOWN_FIELD       "unknown_field"

/* Keys and crypto */
#define WP_E_BAD_KEY             "invalid_key"
#define WP_E_KEY_MISMATCH        "key_mismatch"
#define WP_E_BAD_SUBJECT         "invalid_subject"
#define WP_E_PAYLOAD_TOO_LARGE   "payload_too_large"
#define WP_E_DECRYPT             "decrypt_failed"

/* Endpoints */
#define WP_E_BAD_ENDPOINT        "invalid_endpoint"
#define WP_E_ENDPOINT_NOT_ALLOWED "endpoint_not_allowed"

/* Tokens */
#define WP_E_BAD_TOKEN           "invalid_token"
#define WP_E_TOKEN_ALG           "unsupported_token_algorithm"
#define WP_E_TOKEN_SIGNATURE     "invalid_token_signature"
#define WP_E_TOKEN_EXPIRED       "token_expired"
#define WP_E_TOKEN_NOT_YET_VALID "token_not_yet_valid"
#define WP_E_TOKEN_NO_USER       "token_missing_user"

/*
 * Fill *err (if not NULL) and return -1, so a failure path reads
 * "return wp_err_set(err, WP_E_BAD_KEY, "keys.p256dh", "...", ...);".
 */
int wp_err_set(wp_err_t *err, const char *code, const char *field,
    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Copy src into *dst (if not NULL) and return -1: passing an error on. */
int wp_err_copy(wp_err_t *dst, const wp_err_t *src);

#endif /* WP_ERR_H */
