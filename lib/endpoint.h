/*
 * ngx_webpush: the endpoint policy.  A subscription endpoint is an
 * attacker-chosen URL the sender will POST to, so it is parsed strictly
 * and its host must be on an allow-list.  The module checks it at
 * subscribe time, the cli and the sender check it again before sending.
 *
 * URL rules (WP_E_BAD_ENDPOINT when broken):
 *   - "https://" (scheme case-insensitive), at most 2048 bytes, no
 *     control characters, spaces, backslashes or non-ASCII bytes;
 *   - no userinfo ('@' anywhere before the path), no fragment ('#');
 *   - host: 1..253 bytes of [A-Za-z0-9.-] in labels of 1..63, stored
 *     lowercase; no trailing dot, no '%' (percent-encoded hosts), IDNs
 *     only as punycode ("xn--");
 *   - a host whose last label is numeric (dotted IPv4, but also
 *     "2130706433", "0x7f000001", "0177.0.0.1", "127.1") is an IP
 *     literal; only canonical dotted-quad IPv4 and bracketed IPv6 are
 *     well-formed, other numeric forms are refused outright;
 *   - port: decimal 1..65535 without leading zeros; 443 is the default;
 *   - after the authority: nothing, or a path starting with '/' whose
 *     bytes (and query) are kept exactly as given.
 *
 * Policy (WP_E_ENDPOINT_NOT_ALLOWED when a well-formed URL is not on it):
 * comma-separated patterns, whitespace around items ignored:
 *     host            exact host, port 443
 *     host:port       exact host and port (":443" is the same as none)
 *     *.suffix        any subdomain of suffix, any depth, NOT suffix
 *                     itself; port 443 (suffix needs two labels or more)
 *     *.suffix:port   same with that port
 *     ip, ip:port     IPv4 dotted quad (e.g. 127.0.0.1:8443)
 *     [v6], [v6]:port IPv6, matched textually after lowercasing
 *     default         the built-in list below
 * An IP literal URL is allowed only by an IP pattern with the same text.
 */

#ifndef WP_ENDPOINT_H
#define WP_ENDPOINT_H

#include <stddef.h>

#include "wp_err.h"

#define WP_URL_MAX          2048
#define WP_HOST_MAX         253

/*
 * The real push services.  Legacy GCM (android.googleapis.com/gcm/send)
 * is left out on purpose: Google shut it down in 2019, and such stored
 * endpoints only produce errors.
 */
#define WP_ENDPOINT_DEFAULT_ALLOW                                           \
    "fcm.googleapis.com,"                                                   \
    "updates.push.services.mozilla.com,*.push.services.mozilla.com,"       \
    "*.push.apple.com,"                                                     \
    "*.notify.windows.com"

/*
 * The endpoints of Microsoft's WNS, which wants X-WNS-Cache-Policy to
 * agree with the TTL ("no-cache" for TTL 0, else 400): a pattern list in
 * the policy syntax above.
 */
#define WP_ENDPOINT_WNS   "*.notify.windows.com"

typedef struct wp_endpoint_policy_s  wp_endpoint_policy_t;

typedef struct {
    char         host[WP_HOST_MAX + 1];     /* lowercase; "[v6]" bracketed */
    unsigned     port;                      /* 443 when not given */
    int          is_ip;                     /* host is an IP literal */
    size_t       path_off;                  /* offset of path in the URL */
    size_t       path_len;                  /* path + query; 0 means "/" */
    /* "https://host[:port]", port only when not 443: the VAPID "aud" */
    char         origin[sizeof("https://") + WP_HOST_MAX + sizeof(":65535")];
} wp_url_t;

/*
 * Parse an allow-list.  list NULL means WP_ENDPOINT_DEFAULT_ALLOW; an
 * empty list, an empty item or a malformed pattern is WP_E_BAD_VALUE
 * with field "allowed_endpoints" and a message quoting the item.
 * *out is malloc'ed: release it with wp_endpoint_policy_free().
 */
int wp_endpoint_policy_parse(const char *list, wp_endpoint_policy_t **out,
    wp_err_t *err);

/* Free a policy; NULL is fine. */
void wp_endpoint_policy_free(wp_endpoint_policy_t *pol);

/* Number of patterns in pol (for logs and tests). */
size_t wp_endpoint_policy_count(const wp_endpoint_policy_t *pol);

/*
 * Parse url (len bytes) by the rules above, without any policy.  out may
 * be NULL.  Errors are WP_E_BAD_ENDPOINT with field "endpoint".
 */
int wp_url_parse(const char *url, size_t len, wp_url_t *out, wp_err_t *err);

/*
 * Parse url and check it against pol (NULL: the default list, parsed for
 * this call; keep a parsed policy on hot paths).  out (may be NULL) is
 * filled on success.  Errors: WP_E_BAD_ENDPOINT, WP_E_ENDPOINT_NOT_ALLOWED, both
 * with field "endpoint".
 */
int wp_endpoint_check(const wp_endpoint_policy_t *pol, const char *url,
    size_t len, wp_url_t *out, wp_err_t *err);

/* 1 when the parsed URL u matches one of pol's patterns; 0 (pol NULL: 0). */
int wp_endpoint_policy_match(const wp_endpoint_policy_t *pol,
    const wp_url_t *u);

#endif /* WP_ENDPOINT_H */
