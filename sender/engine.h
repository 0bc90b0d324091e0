/*
 * The delivery engine: a fixed pool of transfer slots
 * (PUSH_CONCURRENCY_LIMIT of them = requests in flight) over our own
 * HTTP client (client.h: HTTP/2 streams multiplexed per origin
 * up to the server's SETTINGS_MAX_CONCURRENT_STREAMS, frames written in
 * batches), HTTP/1.1 keep-alive for origins that do not select h2 over
 * ALPN (client.h); or, with WEBPUSH_HTTP2_CLIENT=libcurl, one libcurl
 * multi handle for all.  Connections stay open between batches.
 *
 * wp_engine_run() takes a batch of work (a page of the audience or a set
 * of retry items), encrypts each message with a fresh key and salt right
 * before it is sent (so at most `concurrency` bodies exist at once), and
 * returns when every item has a result.  Per-origin admission (origin.h)
 * decides what waits, what goes and what is deferred.  The caller turns
 * results into records, retries and dead letters (job.c).
 */

#ifndef WP_ENGINE_H
#define WP_ENGINE_H

#include <signal.h>
#include <stdint.h>

#include <curl/curl.h>

#include "config.h"
#include "deliver.h"
#include "ece.h"
#include "client.h"
#include "log.h"
#include "metrics.h"
#include "origin.h"
#include "queue.h"
#include "sealer.h"
#include "sendreq.h"

/* The message all items of a job share. */
typedef struct {
    const wp_send_req_t  *req;
    int64_t               expires_ms;     /* no request after this */
} wp_msg_t;

typedef enum {
    WP_RESULT_SENT = 1,   /* 2xx */
    WP_RESULT_DISABLE,    /* 404/410: disable the subscription */
    WP_RESULT_FAIL,       /* permanent for this message: 400, 413, policy */
    WP_RESULT_CONFIG,     /* 401/403: circuit opened for the origin */
    WP_RESULT_KEY_MISMATCH, /* made with another VAPID key: flag it */
    WP_RESULT_RETRY,      /* 429, 5xx, 406, timeouts, network errors */
    WP_RESULT_DEFER,      /* not tried: origin paused/circuit/degraded */
    WP_RESULT_EXPIRED,    /* not tried: the message's TTL is over */
    WP_RESULT_ABORTED     /* cut off by the stop deadline: unknown */
} wp_result_t;

typedef struct {
    /* in: strings must outlive the run */
    const wp_msg_t  *msg;
    const char      *sub_id;
    const char      *endpoint;
    const char      *p256dh;        /* stored b64url text */
    const char      *auth;
    int              attempt;       /* 0 first try */
    int              resends;       /* internal: unprocessed, sent again */

    /* out */
    int              state;         /* internal: 0 new, 1 running, 2 done */
    wp_result_t      result;
    long             status;        /* HTTP status, 0 none */
    int64_t          retry_after_s; /* -1 none */
    int64_t          defer_until_ms;/* DEFER, CONFIG: not before */
    char             reason[300];
} wp_work_t;

typedef struct wp_engine_slot_s  wp_engine_slot_t;

#define WP_ENGINE_MAX_FDS  2        /* the client's epoll set, the sealer */

typedef struct {
    CURLM                   *multi;
    int                      ncurl;      /* transfers in the multi handle */
    wp_client_t             *client;     /* NULL: libcurl for all */
    struct curl_waitfd       fds[WP_ENGINE_MAX_FDS];
    wp_work_t               *run;        /* the batch of wp_engine_run() */
    int                      first;      /* run[..first) all started */
    int                      finished;   /* answers in this loop round */
    wp_engine_slot_t        *slots;
    int                      nslots;
    int                     *free_slots;
    int                      nfree;
    wp_origins_t             origins;
    wp_sealer_t             *sealer;     /* encryption, maybe threaded */
    const wp_sender_conf_t  *conf;
    wp_log_t                *log;
    wp_metrics_t            *metrics;
    wp_queue_t              *q;          /* circuit and keyok markers (best
                                            effort: its link may be down) */
} wp_engine_t;

int wp_engine_init(wp_engine_t *e, const wp_sender_conf_t *conf,
    wp_log_t *log, wp_metrics_t *m, wp_queue_t *q, char *err, size_t errlen);
void wp_engine_free(wp_engine_t *e);

/*
 * Deliver w[0..n).  Returns 0 when every item has its result.  When *stop
 * becomes set, in-flight requests get conf->stop_timeout_ms to finish;
 * after that they are cut (WP_RESULT_ABORTED, and items not started stay
 * without a result) and -1 is returned: the caller does not commit.
 */
int wp_engine_run(wp_engine_t *e, wp_work_t *w, int n,
    const volatile sig_atomic_t *stop);

const char *wp_result_name(wp_result_t r);

#endif /* WP_ENGINE_H */
