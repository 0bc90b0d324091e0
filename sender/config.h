/*
 * webpush-sender configuration: the seed's environment variables (same
 * names, same meaning) plus ours.  wp_sender_conf_load() reads and checks
 * all of them at once and refuses bad values with a message that names the
 * variable, so the daemon fails at start, never at the first push.
 */

#ifndef WP_SENDER_CONFIG_H
#define WP_SENDER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "log.h"
#include "redis_url.h"
#include "vapid.h"

/*
 * In-flight requests per process.  HTTP/2 multiplexes them over a few
 * connections per push service, so the default is far above the seed's
 * p-limit of 10 and still below common SETTINGS_MAX_CONCURRENT_STREAMS
 * (100 at FCM and Apple): one connection per origin carries them all.
 * At ~56 us of crypto per message one core makes ~18,000 messages/s; with
 * push-service round trips of 20-100 ms, 100 in flight keeps the CPU busy
 * (Little's law: 18,000/s x 5.5 ms) while a slow origin cannot hold more.
 */
#define WP_SENDER_DEFAULT_CONCURRENCY  4096

typedef struct {
    const char            *database_url;      /* DATABASE_URL */
    const char            *database_read_url; /* DATABASE_READ_URL or NULL */
    wp_redis_conf_t        redis;             /* REDIS_URL / REDIS_HOST... */
    wp_vapid_key_t        *vapid;             /* VAPID_PUBLIC/PRIVATE_KEY */
    const char            *vapid_subject;     /* VAPID_SUBJECT */
    wp_endpoint_policy_t  *policy;            /* WEBPUSH_ALLOWED_ENDPOINTS */
    wp_endpoint_policy_t  *wns;               /* WEBPUSH_WNS_ENDPOINTS */
    const char            *ca_file;           /* WEBPUSH_CA_FILE or NULL */
    const char            *dns_servers;       /* WEBPUSH_DNS_SERVERS or NULL */
    int                    http2_libcurl;     /* WEBPUSH_HTTP2_CLIENT */
    int                    crypto_threads;    /* WEBPUSH_CRYPTO_THREADS */
    const char            *prefix;            /* WEBPUSH_QUEUE_PREFIX */
    char                   consumer[128];     /* WEBPUSH_CONSUMER or host-pid */

    int                    concurrency;       /* PUSH_CONCURRENCY_LIMIT */
    int64_t                ttl_default;       /* PUSH_TTL_DEFAULT, s */
    int                    retry_attempts;    /* PUSH_RETRY_ATTEMPTS */
    int64_t                retry_delay_ms;    /* PUSH_RETRY_DELAY */
    wp_log_level_t         log_level;         /* LOG_LEVEL */
    int                    metrics;           /* ENABLE_PUSH_METRICS */
    int                    error_tracking;    /* ENABLE_ERROR_TRACKING */

    int64_t                connect_timeout_ms; /* WEBPUSH_CONNECT_TIMEOUT */
    int64_t                tls_timeout_ms;     /* WEBPUSH_TLS_TIMEOUT */
    int64_t                request_timeout_ms; /* WEBPUSH_REQUEST_TIMEOUT */
    int64_t                idle_timeout_ms;    /* WEBPUSH_IDLE_TIMEOUT */
    int64_t                claim_idle_ms;      /* WEBPUSH_CLAIM_IDLE */
    int                    page_size;          /* WEBPUSH_PAGE_SIZE */
    int                    pipeline_pages;     /* WEBPUSH_PIPELINE_PAGES */
    int64_t                shard_size;         /* WEBPUSH_SHARD_SIZE */
    int64_t                stop_timeout_ms;    /* WEBPUSH_STOP_TIMEOUT */
    int64_t                circuit_open_ms;    /* WEBPUSH_CIRCUIT_OPEN */
    int64_t                retry_after_max_s;  /* WEBPUSH_RETRY_AFTER_MAX */
} wp_sender_conf_t;

/*
 * Load from the environment.  On failure writes "VARIABLE: reason" into
 * err and returns -1; the secrets' values never appear in it.
 */
int wp_sender_conf_load(wp_sender_conf_t *conf, char *err, size_t errlen);

/* Release what wp_sender_conf_load() allocated. */
void wp_sender_conf_free(wp_sender_conf_t *conf);

/*
 * The VAPID part alone (VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT),
 * shared with webpush-cli.  *key is set on success; *subject points into
 * the environment.
 */
int wp_conf_vapid(wp_vapid_key_t **key, const char **subject, char *err,
    size_t errlen);

/* WEBPUSH_ALLOWED_ENDPOINTS (unset = the real push services). */
int wp_conf_policy(wp_endpoint_policy_t **pol, char *err, size_t errlen);

/*
 * WEBPUSH_WNS_ENDPOINTS: the endpoints that are WNS (unset = WNS's own;
 * set and empty = none, *pol NULL).
 */
int wp_conf_wns(wp_endpoint_policy_t **pol, char *err, size_t errlen);

/* A boolean variable: true/false, 1/0, yes/no, on/off (unset = def). */
int wp_conf_bool(const char *name, int def, int *out, char *err,
    size_t errlen);

/* An integer variable in [min, max] (unset = def). */
int wp_conf_int(const char *name, int64_t def, int64_t min, int64_t max,
    int64_t *out, char *err, size_t errlen);

#endif /* WP_SENDER_CONFIG_H */
