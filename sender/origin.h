/*
 * Per push-service origin state of one sender process: the cached VAPID
 * token, an adaptive in-flight limit, a pause (429/503 Retry-After) and a
 * circuit breaker (401/403).  One origin's trouble never touches another:
 * each has its own limit and clocks.
 *
 * Adaptive limit (AIMD): starts at the origin's in-flight target (the
 * engine's Little's-law figure for its round trip, set with
 * wp_origin_set_max()); a throttling answer
 * (429, 503, WNS 406) or a timeout/network error halves it (floor 1), each
 * success adds one back up to the maximum.  An origin whose limit fell to
 * a quarter of the maximum or less is "degraded": work for it that finds
 * no free place is deferred to the retry set instead of holding up the
 * page (so a slow service cannot stall the others' pages).
 */

#ifndef WP_ORIGIN_H
#define WP_ORIGIN_H

#include <stdint.h>

#include "vapid.h"

/*
 * Distinct origins kept besides those with requests in flight: the table
 * holds max_inflight + WP_ORIGIN_SPARE, so however many origins have
 * requests out (at most one per request) a new one always finds a slot.
 */
#define WP_ORIGIN_SPARE  256
#define WP_ORIGIN_MAX_H1  512   /* requests in flight to an HTTP/1.1
                                   origin = its keep-alive connections */

typedef struct {
    char               aud[WP_VAPID_MAX_AUD + 1];  /* scheme://host[:port] */
    uint32_t           hash;               /* of aud: a cheap first test */
    wp_vapid_token_t   tok;
    int                inflight;
    int                limit;
    int                max;
    int                http1;              /* no h2 over ALPN: libcurl */
    int64_t            paused_until_ms;    /* Retry-After from a 429/503 */
    int64_t            circuit_until_ms;   /* 401/403: stop until then */
    int64_t            used_ms;            /* LRU */
    int64_t            shared_checked_ms;  /* last look at the shared key */
    int64_t            keyok_checked_ms;   /* last look at <prefix>keyok */
    int64_t            rtt_window_ms;      /* start of rtt_min[0]'s window */
    int                rtt_min[2];         /* ms: this window's, the last's */
    unsigned           shared_pending:1;   /* a look at the shared key is
                                              on its way (engine.c) */
    unsigned           keyok_pending:1;    /* a look at keyok is on its way */
    unsigned           key_ok:1;           /* it took our key: a 2xx */
    unsigned           circuit_mismatch:1; /* opened by "key mismatch" */
    char               circuit_reason[200];
} wp_origin_t;

typedef struct {
    wp_origin_t  *o;
    int           n;
    int           cap;
    int           max_inflight;            /* per origin, = concurrency */
} wp_origins_t;

int wp_origins_init(wp_origins_t *t, int max_inflight);
void wp_origins_free(wp_origins_t *t);

/*
 * The state of origin aud, created on first use.  When the table is full
 * a slot with nothing in flight is reused, chosen so that a flood of new
 * origins (say a thousand dead hosts in one audience) cannot wipe the
 * state that matters: first an origin that never delivered anything,
 * then one that did, last one paused or with its circuit open; the
 * least recently used within each.  NULL only when every slot has
 * requests in flight (cannot happen with the table's size).
 */
wp_origin_t *wp_origin_get(wp_origins_t *t, const char *aud, int64_t now_ms);

/* The state of origin aud when there is one (nothing is created). */
wp_origin_t *wp_origin_find(wp_origins_t *t, const char *aud);

/* May one more request start now?  0 yes, else a WP_ORIGIN_* reason. */
#define WP_ORIGIN_OK        0
#define WP_ORIGIN_FULL      1   /* at its in-flight limit: wait */
#define WP_ORIGIN_DEGRADED  2   /* full and degraded: defer */
#define WP_ORIGIN_PAUSED    3   /* Retry-After pause: defer to then */
#define WP_ORIGIN_CIRCUIT   4   /* circuit open: defer to then */

int wp_origin_admit(const wp_origin_t *o, int64_t now_ms);

/* When the origin may be tried again (for deferred work). */
int64_t wp_origin_reopen_ms(const wp_origin_t *o, int64_t now_ms,
    int64_t backoff_ms);

/*
 * Account for answers.  A success proves our VAPID key is the right one
 * for this origin (key_ok); it also closes a circuit that "key mismatch"
 * answers opened before that proof: returns 1 then (log it).
 */
int wp_origin_on_success(wp_origin_t *o, int64_t now_ms);
void wp_origin_on_throttle(wp_origin_t *o, int64_t now_ms,
    int64_t retry_after_s);
/*
 * Opens the circuit; returns 1 when it was closed before (log it).
 * mismatch: the answer was a "key mismatch" (wp_vapid_mismatch_answer),
 * which a later success may show to be one subscription's problem.
 */
int wp_origin_on_config_error(wp_origin_t *o, int64_t now_ms,
    int64_t open_ms, const char *reason, int mismatch);

/*
 * Round trips: the minimum latency over the last 10-20 s (a windowed
 * minimum, as BBR's: queueing, ours or the service's, does not inflate
 * it); -1 before the first answer.
 */
void wp_origin_on_rtt(wp_origin_t *o, int64_t now_ms, long elapsed_ms);
int wp_origin_rtt(const wp_origin_t *o);

/* A new in-flight target; an origin not held down by AIMD follows it. */
void wp_origin_set_max(wp_origin_t *o, int max);

#endif /* WP_ORIGIN_H */
