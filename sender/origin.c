/* webpush-sender: per push-service origin state (see origin.h). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "origin.h"


int
wp_origins_init(wp_origins_t *t, int max_inflight)
{
    t->cap = max_inflight + WP_ORIGIN_SPARE;
    t->o = calloc(t->cap, sizeof(wp_origin_t));
    t->n = 0;
    t->max_inflight = max_inflight;

    return t->o ? 0 : -1;
}


void
wp_origins_free(wp_origins_t *t)
{
    free(t->o);
    t->o = NULL;
    t->n = 0;
    t->cap = 0;
}


static uint32_t
wp_origin_hash(const char *s)
{
    uint32_t  h;

    for (h = 2166136261u; *s != '\0'; s++) {
        h = (h ^ (uint8_t) *s) * 16777619u;
    }

    return h;
}


/*
 * How much an idle origin's state is worth keeping (origin.h): 0 nothing
 * learnt yet, 1 it delivered (token, proven key, its limit), 2 a pause or
 * an open circuit that the service asked for.
 */
static int
wp_origin_worth(const wp_origin_t *o, int64_t now_ms)
{
    if (o->paused_until_ms > now_ms || o->circuit_until_ms > now_ms) {
        return 2;
    }

    return o->key_ok ? 1 : 0;
}


wp_origin_t *
wp_origin_get(wp_origins_t *t, const char *aud, int64_t now_ms)
{
    int           i, w, vw;
    uint32_t      h;
    wp_origin_t  *o, *victim;

    h = wp_origin_hash(aud);

    for (i = 0; i < t->n; i++) {
        o = &t->o[i];
        if (o->hash == h && strcmp(o->aud, aud) == 0) {
            o->used_ms = now_ms;
            return o;
        }
    }

    if (t->n < t->cap) {
        o = &t->o[t->n++];

    } else {
        victim = NULL;
        vw = 3;

        for (i = 0; i < t->n; i++) {
            o = &t->o[i];
            if (o->inflight > 0) {
                continue;
            }

            w = wp_origin_worth(o, now_ms);
            if (w < vw || (w == vw && o->used_ms < victim->used_ms)) {
                victim = o;
                vw = w;
            }
        }

        if (victim == NULL) {
            return NULL;
        }
        o = victim;
    }

    memset(o, 0, sizeof(*o));
    snprintf(o->aud, sizeof(o->aud), "%s", aud);
    o->hash = h;
    o->max = t->max_inflight;
    o->limit = o->max;
    o->used_ms = now_ms;
    o->rtt_min[0] = o->rtt_min[1] = -1;

    return o;
}


wp_origin_t *
wp_origin_find(wp_origins_t *t, const char *aud)
{
    int  i;

    for (i = 0; i < t->n; i++) {
        if (strcmp(t->o[i].aud, aud) == 0) {
            return &t->o[i];
        }
    }

    return NULL;
}


int
wp_origin_admit(const wp_origin_t *o, int64_t now_ms)
{
    if (o->circuit_until_ms > now_ms) {
        return WP_ORIGIN_CIRCUIT;
    }

    if (o->paused_until_ms > now_ms) {
        return WP_ORIGIN_PAUSED;
    }

    /* HTTP/1.1 carries one request per connection: a bounded pool */
    if (o->inflight < o->limit
        && (!o->http1 || o->inflight < WP_ORIGIN_MAX_H1))
    {
        return WP_ORIGIN_OK;
    }

    return o->limit * 4 <= o->max ? WP_ORIGIN_DEGRADED : WP_ORIGIN_FULL;
}


int64_t
wp_origin_reopen_ms(const wp_origin_t *o, int64_t now_ms, int64_t backoff_ms)
{
    int64_t  t;

    t = now_ms + backoff_ms;

    if (o->circuit_until_ms > t) {
        t = o->circuit_until_ms;
    }

    if (o->paused_until_ms > t) {
        t = o->paused_until_ms;
    }

    return t;
}


int
wp_origin_on_success(wp_origin_t *o, int64_t now_ms)
{
    if (o->limit < o->max) {
        o->limit++;
    }

    o->key_ok = 1;

    if (o->circuit_mismatch && o->circuit_until_ms > now_ms) {
        o->circuit_until_ms = 0;
        o->circuit_mismatch = 0;
        return 1;
    }

    return 0;
}


void
wp_origin_on_throttle(wp_origin_t *o, int64_t now_ms, int64_t retry_after_s)
{
    o->limit = o->limit / 2 > 1 ? o->limit / 2 : 1;

    if (retry_after_s > 0
        && now_ms + retry_after_s * 1000 > o->paused_until_ms)
    {
        o->paused_until_ms = now_ms + retry_after_s * 1000;
    }
}


int
wp_origin_on_config_error(wp_origin_t *o, int64_t now_ms, int64_t open_ms,
    const char *reason, int mismatch)
{
    int  was_closed;

    was_closed = o->circuit_until_ms <= now_ms;

    /* one answer about our own credentials keeps it a real config error */
    o->circuit_mismatch = mismatch && (was_closed || o->circuit_mismatch);

    o->circuit_until_ms = now_ms + open_ms;
    snprintf(o->circuit_reason, sizeof(o->circuit_reason), "%s", reason);

    return was_closed;
}


#define WP_ORIGIN_RTT_WINDOW_MS  10000


void
wp_origin_on_rtt(wp_origin_t *o, int64_t now_ms, long elapsed_ms)
{
    int  ms;

    ms = elapsed_ms < 0 ? 0 : elapsed_ms > 600000 ? 600000 : (int) elapsed_ms;

    if (now_ms - o->rtt_window_ms >= WP_ORIGIN_RTT_WINDOW_MS) {
        o->rtt_window_ms = now_ms;
        o->rtt_min[1] = o->rtt_min[0];
        o->rtt_min[0] = -1;
    }

    if (o->rtt_min[0] < 0 || ms < o->rtt_min[0]) {
        o->rtt_min[0] = ms;
    }
}


int
wp_origin_rtt(const wp_origin_t *o)
{
    if (o->rtt_min[1] < 0 || (o->rtt_min[0] >= 0
                              && o->rtt_min[0] < o->rtt_min[1]))
    {
        return o->rtt_min[0];
    }

    return o->rtt_min[1];
}


void
wp_origin_set_max(wp_origin_t *o, int max)
{
    if (o->limit >= o->max || o->limit > max) {
        o->limit = max;
    }

    o->max = max;
}
