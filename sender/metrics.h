/*
 * Counters of one sender process, added up in memory and flushed to Redis
 * (ENABLE_PUSH_METRICS) with HINCRBY, so the module's metrics route can
 * sum every sender.  Field names and meanings are in queue.h.
 */

#ifndef WP_METRICS_H
#define WP_METRICS_H

#include <stdint.h>

#include "latency.h"
#include "queue.h"

typedef struct {
    int64_t  sent;             /* 2xx answers */
    int64_t  failed_4xx;       /* 4xx answers (incl. 404/410/429) */
    int64_t  failed_5xx;       /* 5xx answers */
    int64_t  failed_network;   /* no HTTP answer: timeout, reset, TLS */
    int64_t  retried;          /* retries scheduled */
    int64_t  disabled;         /* subscriptions disabled (404/410) */
    int64_t  expired;          /* jobs or retries dropped by their TTL */
    int64_t  jobs_done;        /* NotificationLog rows written */
    int64_t  bucket[WP_LATENCY_BUCKETS];   /* latency.h */
    int64_t  sum_ms;
    int64_t  count;
} wp_metrics_t;

/* Count one push-service answer (status 0: none) that took ms. */
void wp_metrics_answer(wp_metrics_t *m, long status, int64_t ms);

/*
 * Add the counters to <prefix>metrics and <prefix>metrics:latency and
 * zero them.  On a Redis error they are kept for the next flush.
 */
int wp_metrics_flush(wp_metrics_t *m, wp_queue_t *q);

#endif /* WP_METRICS_H */
