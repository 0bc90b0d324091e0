/*
 * ngx_webpush: validation of the browser's PushSubscription.toJSON(),
 * optionally with the topics the user follows:
 *
 *   {"endpoint": "https://...", "expirationTime": null | <epoch ms>,
 *    "keys": {"p256dh": "<65-byte P-256 point>", "auth": "<16 bytes>"},
 *    "topics": ["event:123", ...]}
 *
 * Keys may come as base64url or standard base64, padded or not; they are
 * stored as canonical unpadded base64url.  Unknown members are ignored
 * (browsers add some), but a known member of the wrong type is an error.
 * "null" counts as absent for the optional expirationTime and topics.
 *
 * Error fields: "" (whole body), "endpoint", "expirationTime", "keys",
 * "keys.p256dh", "keys.auth", "topics", "topics[3]".  Codes:
 * WP_E_TOO_LONG (body over WP_SUB_MAX_BODY, or a long topic),
 * WP_E_BAD_JSON (not JSON, or not an object), WP_E_MISSING_FIELD,
 * WP_E_BAD_TYPE, WP_E_BAD_VALUE, WP_E_BAD_BASE64, WP_E_BAD_KEY (wrong
 * length or not on the curve), WP_E_TOO_MANY (topics), and the
 * endpoint codes of endpoint.h.
 */

#ifndef WP_SUBSCRIPTION_H
#define WP_SUBSCRIPTION_H

#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "wp_err.h"

#define WP_SUB_MAX_BODY        8192
#define WP_SUB_MAX_TOPICS      64
#define WP_SUB_MAX_TOPIC_LEN   128
/* Epoch ms of 9999-12-31T23:59:59.999Z: later expirationTimes are junk. */
#define WP_SUB_MAX_EXPIRATION  253402300799999LL

typedef struct {
    char        *endpoint;          /* malloc'ed, exactly as sent */
    size_t       endpoint_len;
    wp_url_t     url;               /* parsed endpoint (origin, host...) */
    int64_t      expiration_ms;     /* -1: none */
    int          expired;           /* expiration_ms <= now_ms */
    char         p256dh[88];        /* canonical b64url, 87 chars */
    char         auth[23];          /* canonical b64url, 22 chars */
    uint8_t      p256dh_raw[65];
    uint8_t      auth_raw[16];
    int          has_topics;        /* "topics" given (even empty) */
    size_t       ntopics;
    char       **topics;            /* malloc'ed, ntopics strings */
} wp_subscription_t;

/*
 * Validate body (len bytes) and fill *out, checking the endpoint against
 * pol (NULL: the default allow-list).  now_ms (epoch ms) only decides
 * out->expired: an expirationTime in the past is accepted and recorded.
 * On failure *out holds nothing to free; on success free it with
 * wp_subscription_free().
 */
int wp_subscription_parse(const char *body, size_t len,
    const wp_endpoint_policy_t *pol, int64_t now_ms, wp_subscription_t *out,
    wp_err_t *err);

/* Release what wp_subscription_parse() allocated; safe on a zeroed struct. */
void wp_subscription_free(wp_subscription_t *sub);

/*
 * Check one followed-topic name: 1..WP_SUB_MAX_TOPIC_LEN bytes of
 * [A-Za-z0-9:_.-] (e.g. "event:123").  field names it in the error.
 */
int wp_topic_name_check(const char *s, size_t len, const char *field,
    wp_err_t *err);

#endif /* WP_SUBSCRIPTION_H */
