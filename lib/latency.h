/*
 * ngx_webpush: the histogram of push-service answer times.  The sender
 * counts each answer in exactly one bucket (non-cumulative, Redis hash
 * <prefix>metrics:latency); the module's /metrics reports the buckets as a
 * Prometheus histogram.  One list of bounds for both.
 */

#ifndef WP_LATENCY_H
#define WP_LATENCY_H

#include <stdint.h>

#define WP_LATENCY_BUCKETS  13      /* 12 bounds, then +Inf */

/*
 * Upper bounds (ms, inclusive) of the first WP_LATENCY_BUCKETS - 1
 * buckets: 1 2 5 10 25 50 100 250 500 1000 2500 5000.  The low ones tell
 * a nearby push service (and the loopback bench) apart from a slow one.
 */
extern const int64_t  wp_latency_le_ms[WP_LATENCY_BUCKETS - 1];

/* The hash field of bucket i: "le_1" ... "le_5000", "le_inf". */
extern const char *const  wp_latency_field[WP_LATENCY_BUCKETS];

/* The bucket of an answer that took ms milliseconds. */
int wp_latency_bucket(int64_t ms);

#endif /* WP_LATENCY_H */
