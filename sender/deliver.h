/*
 * ngx_webpush: delivery of one Web Push request with libcurl, and the
 * classification of its answer (protocol reference, section 1.1).
 *
 * A wp_deliver_t is one transfer slot: a libcurl easy handle, its header
 * list and the buffers for the answer.  Use it synchronously with
 * wp_deliver_send(), or (the sender daemon) wp_deliver_prepare(), add
 * wp_deliver_easy() to a curl multi handle, and call wp_deliver_finish()
 * with the transfer's CURLcode when the multi handle reports it done.
 * Reusing a slot reuses its connection (and the multi's pool) as well.
 *
 * Transport policy, not configurable on purpose:
 *   - https only, TLS 1.2 or newer, peer and host verification always on:
 *     the system CA store, or opts->ca_file (WEBPUSH_CA_FILE) instead;
 *   - HTTP/2 when the server offers it over ALPN, else HTTP/1.1;
 *   - redirects are never followed (a push service does not redirect,
 *     and the endpoint is attacker-chosen: a 3xx is a failed message);
 *   - no proxy: the *_proxy environment variables are ignored, so a
 *     stray variable cannot route pushes (and VAPID tokens) elsewhere;
 *   - connect and total timeouts on every request.
 *
 * Caller contract: the endpoint has already passed the endpoint policy
 * (lib/endpoint.h); header values come from validated input.  Values
 * holding CR or LF are refused anyway (WP_E_BAD_VALUE).
 *
 * Not thread-safe per slot; call curl_global_init() once in main().
 */

#ifndef WP_DELIVER_H
#define WP_DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "wp_err.h"

#define WP_DELIVER_CONNECT_TIMEOUT_MS  5000
#define WP_DELIVER_TLS_TIMEOUT_MS      5000
#define WP_DELIVER_TIMEOUT_MS          30000
#define WP_DELIVER_IDLE_MS             118000  /* as libcurl's max age */
#define WP_DELIVER_MAX_BODY            4096   /* response body kept */
#define WP_DELIVER_MAX_HEADERS         8192   /* response header bytes kept */

typedef struct {
    const char  *ca_file;            /* PEM CA bundle; NULL: system store */
    long         connect_timeout_ms; /* TCP connect (libcurl: connect + TLS
                                        together, the sum of both);
                                        0: WP_DELIVER_CONNECT_TIMEOUT_MS */
    long         tls_timeout_ms;     /* TLS handshake after the connect;
                                        0: WP_DELIVER_TLS_TIMEOUT_MS */
    long         timeout_ms;         /* 0: WP_DELIVER_TIMEOUT_MS */
    long         idle_ms;            /* client.h: keep idle connections
                                        this long; 0: WP_DELIVER_IDLE_MS */
    int          http1_only;         /* do not offer h2 (tests, benches) */
    const char  *user_agent;         /* NULL: "ngx_webpush" */
    const char  *dns_servers;        /* client.h: "ip[:port],..."; NULL:
                                        /etc/resolv.conf's */
} wp_deliver_opts_t;

/* One push request.  body is the aes128gcm body (NULL/0: no payload). */
typedef struct {
    const char     *endpoint;        /* POSTed to exactly as stored */
    const uint8_t  *body;
    size_t          body_len;
    int64_t         ttl;             /* seconds, >= 0 */
    const char     *urgency;         /* NULL: no Urgency header */
    const char     *topic;           /* NULL or "": no Topic header */
    const char     *authorization;   /* "vapid t=..., k=..." */
    const char     *wns_cache_policy; /* X-WNS-Cache-Policy; NULL: none */
} wp_push_req_t;

/*
 * The answer.  Strings point into the slot and stay valid until its next
 * prepare or free.
 */
typedef struct {
    long         status;          /* HTTP status; 0: no HTTP answer */
    const char  *http_version;    /* "HTTP/2", "HTTP/1.1", "" */
    int          curl_code;       /* CURLcode; CURLE_OK when answered */
    const char  *error;           /* transport error text, "" when none */
    int          timed_out;       /* connect or total timeout */
    int          tls_failed;      /* certificate or handshake failure */
    const char  *headers;         /* final response's header lines (CRLF) */
    size_t       headers_len;
    const char  *body;            /* NUL-terminated, at most MAX_BODY */
    size_t       body_len;
    int          body_truncated;
    int64_t      retry_after;     /* seconds from now; -1: none or bad */
    const char  *location;        /* Location header value, "" if none */
    const char  *wns_error;       /* X-WNS-Error-Description, "" if none */
    long         elapsed_ms;
    int          no_h2;           /* client.h: origin speaks no HTTP/2 */
    int          resend;          /* client.h: provably not processed */
} wp_push_resp_t;

/* What the sender does with an answer (protocol reference, 1.1). */
typedef enum {
    WP_OUTCOME_SENT = 0,      /* 2xx */
    WP_OUTCOME_DISABLE,       /* 404, 410: subscription gone, disable it */
    WP_OUTCOME_FAIL_MESSAGE,  /* 400, 413, other 4xx, 3xx: never retry */
    WP_OUTCOME_CONFIG,        /* 401, 403: VAPID/config, never disable */
    WP_OUTCOME_RETRY          /* 429, 5xx, 406 (WNS), 408, network errors */
} wp_outcome_t;

/*
 * The X-WNS-Cache-Policy a request to WNS needs: "no-cache" for TTL 0
 * (WNS answers 400 otherwise), "cache" for any other TTL.
 */
const char *wp_deliver_wns_cache_policy(int64_t ttl);

/* *out = *in (NULL: all zero) with the defaults filled in. */
void wp_deliver_opts_defaults(wp_deliver_opts_t *out,
    const wp_deliver_opts_t *in);

typedef struct wp_deliver_s  wp_deliver_t;

/* A new slot; opts is copied (ca_file/user_agent must outlive it). */
wp_deliver_t *wp_deliver_new(const wp_deliver_opts_t *opts, wp_err_t *err);

/* Free a slot; NULL is fine.  Remove it from any multi handle first. */
void wp_deliver_free(wp_deliver_t *d);

/* The slot's easy handle, for curl_multi_add_handle(). */
CURL *wp_deliver_easy(wp_deliver_t *d);

/*
 * Set the slot up for req (headers built, answer buffers cleared).  req's
 * body is not copied: keep it alive until the transfer is finished.
 */
int wp_deliver_prepare(wp_deliver_t *d, const wp_push_req_t *req,
    wp_err_t *err);

/* Collect the answer of the finished transfer (rc: its CURLcode). */
void wp_deliver_finish(wp_deliver_t *d, CURLcode rc, wp_push_resp_t *resp);

/*
 * prepare + curl_easy_perform + finish.  Returns -1 only when the request
 * could not be set up; a transport failure is an answer with status 0.
 */
int wp_deliver_send(wp_deliver_t *d, const wp_push_req_t *req,
    wp_push_resp_t *resp, wp_err_t *err);

/* What to do with an answer. */
wp_outcome_t wp_deliver_classify(const wp_push_resp_t *resp);

/* "sent", "disable", "fail_message", "config", "retry". */
const char *wp_outcome_name(wp_outcome_t o);

/*
 * Parse a Retry-After value: delta-seconds ("120") or an HTTP-date, as
 * seconds after now (a date in the past gives 0).  -1 when malformed.
 */
int64_t wp_retry_after_parse(const char *value, int64_t now);

#endif /* WP_DELIVER_H */
