/*
 * The delivery engine: a fixed pool of transfer slots
 * (PUSH_CONCURRENCY_LIMIT of them = requests in flight) over our own
 * HTTP client (client.h: HTTP/2 streams multiplexed per origin
 * up to the server's SETTINGS_MAX_CONCURRENT_STREAMS, frames written in
 * batches), HTTP/1.1 keep-alive for origins that do not select h2 over
 * ALPN (client.h); or, with WEBPUSH_HTTP2_CLIENT=libcurl, one libcurl
 * multi handle for all.  Connections stay open between batches.
 *
 * Work comes in batches (a page of the audience, a set of retry items).
 * Several batches may be in the engine at once: wp_engine_add() queues
 * one, wp_engine_step() runs one round of the loop (start what may start,
 * write, read answers, wait a little), and a batch is finished when its
 * `left` reaches 0.  So a job keeps its next pages going while earlier
 * ones wait for their answers (job.c: pipelined fan-out), and
 * wp_engine_run() (retries, small jobs) puts a batch ahead of them and
 * drives the loop until that one is finished.  Each message is encrypted
 * with a fresh key and salt right before it is sent, so at most the
 * in-flight count of bodies exists at once.
 *
 * How many requests are in flight follows Little's law: the target is
 * the process's measured rate (CPU per message) times the round trip
 * (the windowed minimum latency of the origins' answers, weighted by
 * traffic), with headroom, between WP_ENGINE_MIN_TARGET and
 * PUSH_CONCURRENCY_LIMIT (the hard cap, which also bounds memory: one
 * body and one answer buffer per request).  Each origin gets the same
 * rule with its own round trip (origin.h), under its AIMD limit.
 * Per-origin admission decides what waits, what goes and what is
 * deferred.  The caller turns results into records, retries and dead
 * letters (job.c).  The origins' shared markers in Redis (circuit, keyok)
 * go over a non-blocking link in the same wait (aredis.h): nothing in the
 * loop waits for Redis.
 */

#ifndef WP_ENGINE_H
#define WP_ENGINE_H

#include <signal.h>
#include <stdint.h>

#include <curl/curl.h>

#include "aredis.h"
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

typedef struct wp_batch_s  wp_batch_t;
typedef struct wp_work_s   wp_work_t;

struct wp_work_s {
    /* in: strings must outlive the run */
    const wp_msg_t  *msg;
    const char      *sub_id;
    const char      *endpoint;
    const char      *p256dh;        /* stored b64url text */
    const char      *auth;
    int              attempt;       /* 0 first try */
    int              resends;       /* internal: unprocessed, sent again */
    wp_origin_t     *full_o;        /* internal: its origin, found full */
    uint32_t         full_hash;     /* internal: that origin's aud hash */
    wp_batch_t      *batch;         /* internal: the batch it came in */
    wp_work_t       *parked;        /* internal: next answer waiting for
                                       the keyok look */
    wp_origin_t     *origin;        /* internal: its origin, while parked */

    /* out */
    int              state;         /* internal: 0 new, 1 running, 2 done */
    wp_result_t      result;
    long             status;        /* HTTP status, 0 none */
    int64_t          retry_after_s; /* -1 none */
    int64_t          defer_until_ms;/* DEFER, CONFIG: not before */
    char             reason[300];
};

/* A batch of work items in the engine. */
struct wp_batch_s {
    wp_batch_t  *next;
    wp_work_t   *w;
    int          n;
    int          left;       /* items still without a result */
    int          inflight;   /* items in a slot now */
    int          first;      /* internal: w[..first) all started */
    int          started;    /* one of its items went out */
    int          cancelled;  /* stopping before it started: never will */
    int          urgent;     /* ahead of the others (wp_engine_run) */
};

typedef struct wp_engine_slot_s  wp_engine_slot_t;

#define WP_ENGINE_MAX_FDS     3     /* the client's epoll set, the sealer,
                                       the markers' Redis link */
#define WP_ENGINE_MIN_TARGET  128   /* in flight, whatever the round trip */
#define WP_ENGINE_FIRST_TARGET 1024 /* before the first round trip is known:
                                       a far service is not crawled to, a
                                       near one only holds more buffers
                                       for a few milliseconds */

typedef struct {
    CURLM                   *multi;
    int                      ncurl;      /* transfers in the multi handle */
    wp_client_t             *client;     /* NULL: libcurl for all */
    struct curl_waitfd       fds[WP_ENGINE_MAX_FDS];
    wp_batch_t              *batches[2]; /* urgent ones, then the rest */
    int                      queued;     /* items of batches not started */
    int                      finished;   /* answers in this loop round */
    int64_t                  deadline_ms;/* stopping: in flight cut then */
    int                      target;     /* in flight wanted (Little) */
    double                   cpu_us[2];  /* CPU per answered message:
                                            least sampled in this window
                                            and in the last */
    int64_t                  cpu_window_ms;
    double                   rtt_ms;     /* traffic-weighted round trip,
                                            -1 before the first answer */
    int64_t                  answered;   /* answers, for cpu_us */
    int64_t                  sample_ms;  /* last cpu_us sample */
    int64_t                  sample_cpu_us;
    int64_t                  sample_answered;
    wp_engine_slot_t        *slots;
    int                      nslots;
    int                     *free_slots;
    int                      nfree;
    wp_origins_t             origins;
    wp_sealer_t             *sealer;     /* encryption, maybe threaded */
    const wp_sender_conf_t  *conf;
    wp_log_t                *log;
    wp_metrics_t            *metrics;
    wp_queue_t              *q;          /* its prefix and Redis */
    wp_aredis_t              ar;         /* circuit and keyok markers, never
                                            waited for (best effort: the
                                            link may be down) */
    wp_work_t               *parked;     /* "key mismatch" answers waiting
                                            for a keyok look */
} wp_engine_t;

int wp_engine_init(wp_engine_t *e, const wp_sender_conf_t *conf,
    wp_log_t *log, wp_metrics_t *m, wp_queue_t *q, char *err, size_t errlen);
void wp_engine_free(wp_engine_t *e);

/*
 * Queue b, the items w[0..n) (strings must outlive it), behind the
 * batches already there (urgent: ahead of the non-urgent ones).
 */
void wp_engine_add(wp_engine_t *e, wp_batch_t *b, wp_work_t *w, int n,
    int urgent);

/*
 * Take b out: it is finished (left == 0), cancelled, or was cut (no item
 * of it in flight).
 */
void wp_engine_remove(wp_engine_t *e, wp_batch_t *b);

/*
 * Give b up: no more of its items start; the caller steps the engine
 * until b->inflight is 0, then removes it.
 */
void wp_engine_cancel(wp_engine_t *e, wp_batch_t *b);

/*
 * One round: start what may start, do the I/O, take the answers, and
 * wait (at most a few tens of ms) when nothing came.  When *stop becomes
 * set, the batches queued behind the last one that started are cancelled
 * (their items never go out), the others go on; in-flight requests get
 * conf->stop_timeout_ms, then they are cut (WP_RESULT_ABORTED) and -1 is
 * returned (also on every later call): their batches are not finished.
 */
int wp_engine_step(wp_engine_t *e, const volatile sig_atomic_t *stop);

/*
 * How many more items the engine could take now without idling or
 * queueing too much: its in-flight target minus what is in flight or
 * waiting to start (may be negative).
 */
int wp_engine_room(const wp_engine_t *e);

/*
 * Deliver w[0..n) ahead of the other batches and return when every item
 * has its result (0), or -1 when stopping cut it or cancelled it: the
 * caller does not commit.
 */
int wp_engine_run(wp_engine_t *e, wp_work_t *w, int n,
    const volatile sig_atomic_t *stop);

const char *wp_result_name(wp_result_t r);

#endif /* WP_ENGINE_H */
