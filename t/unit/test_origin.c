/*
 * Unit tests for sender/origin.c's table: a flood of new origins (a
 * thousand dead hosts in one audience) never evicts an origin with
 * requests in flight, nor, while others can go, one that delivered or
 * one paused or with its circuit open; least recently used first.
 */

#include <stdio.h>
#include <string.h>

#include "origin.h"
#include "tap.h"

#define T0  1000000LL


/* A dead host's request: started, failed as a network error, over. */
static void
dead_host(wp_origins_t *t, int i, int64_t now)
{
    char          aud[64];
    wp_origin_t  *o;

    snprintf(aud, sizeof(aud), "https://x%d.push.example.test", i);
    o = wp_origin_get(t, aud, now);
    if (o == NULL) {
        return;
    }
    o->inflight++;
    wp_origin_on_throttle(o, now, -1);
    o->inflight--;
}


int
main(void)
{
    int           i, misses;
    wp_origins_t  t;
    wp_origin_t  *busy, *good, *paused, *circuit, *o;

    ok(wp_origins_init(&t, 4) == 0, "init");
    is_int(t.cap, 4 + WP_ORIGIN_SPARE, "room for every in-flight origin"
           " plus the spare ones");

    busy = wp_origin_get(&t, "https://busy.example", T0);
    busy->inflight = 1;
    busy->limit = 3;

    good = wp_origin_get(&t, "https://good.example", T0);
    (void) wp_origin_on_success(good, T0);
    snprintf(good->tok.header, sizeof(good->tok.header), "vapid t=tok");

    paused = wp_origin_get(&t, "https://paused.example", T0);
    wp_origin_on_throttle(paused, T0, 3600);

    circuit = wp_origin_get(&t, "https://circuit.example", T0);
    (void) wp_origin_on_config_error(circuit, T0, 3600000, "HTTP 403", 0);

    ok(wp_origin_get(&t, "https://good.example", T0) == good,
       "found again: the same slot");

    misses = 0;
    for (i = 0; i < 1000; i++) {
        dead_host(&t, i, T0 + 1 + i);
        if (i % 100 == 99) {
            misses += wp_origin_get(&t, "https://busy.example", T0 + 1 + i)
                      != busy;
        }
    }

    o = wp_origin_get(&t, "https://busy.example", T0 + 2000);
    ok(o == busy && o->inflight == 1 && o->limit == 3,
       "after 1000 dead hosts the origin with a request in flight kept"
       " its state");
    is_int(misses, 0, "... all along the flood");

    o = wp_origin_get(&t, "https://good.example", T0 + 2000);
    ok(o == good && o->key_ok && strcmp(o->tok.header, "vapid t=tok") == 0,
       "the idle origin that delivered kept its token and proven key");

    o = wp_origin_get(&t, "https://paused.example", T0 + 2000);
    ok(o == paused && o->paused_until_ms == T0 + 3600000,
       "the paused origin kept its pause");

    o = wp_origin_get(&t, "https://circuit.example", T0 + 2000);
    ok(o == circuit && o->circuit_until_ms == T0 + 3600000
       && strcmp(o->circuit_reason, "HTTP 403") == 0,
       "the origin with an open circuit kept it");

    is_int(t.n, t.cap, "the table stayed at its bound");

    /* among dead hosts, the least recently used went: the latest stay */
    o = wp_origin_get(&t, "https://x999.push.example.test", T0 + 3000);
    ok(o != NULL && o->limit < o->max, "the latest dead host is still known"
       " (its limit halved)");

    /* in-flight origins fill every slot they can: a new one still fits */
    for (i = 0; i < 4; i++) {
        char  aud[64];

        snprintf(aud, sizeof(aud), "https://inflight%d.example", i);
        o = wp_origin_get(&t, aud, T0 + 4000);
        o->inflight = 1;
    }
    ok(wp_origin_get(&t, "https://new.example", T0 + 4000) != NULL,
       "a new origin finds a slot while every request is in flight");

    /* a pause over is nothing to keep: such an origin goes before one
     * that delivered */
    wp_origins_free(&t);
    wp_origins_init(&t, 1);
    good = wp_origin_get(&t, "https://good.example", T0);
    (void) wp_origin_on_success(good, T0);
    paused = wp_origin_get(&t, "https://was-paused.example", T0 + 1);
    wp_origin_on_throttle(paused, T0 + 1, 1);
    for (i = 0; i < WP_ORIGIN_SPARE - 1; i++) {
        dead_host(&t, i, T0 + 10);
    }
    is_int(t.n, t.cap, "full");
    dead_host(&t, 5000, T0 + 5000);
    ok(wp_origin_get(&t, "https://good.example", T0 + 5000) == good
       && good->key_ok, "the origin that delivered stayed");
    ok(strcmp(paused->aud, "https://was-paused.example") != 0,
       "the least recently used idle origin, its pause long over, went"
       " first");

    wp_origins_free(&t);

    return tap_done();
}
