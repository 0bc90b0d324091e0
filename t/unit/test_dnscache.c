/*
 * Unit tests for sender/dnscache.c: TTL bounds and expiry, negative
 * answers, the size bound and its eviction order, pending lookups never
 * evicted.
 */

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "dnscache.h"
#include "tap.h"

#define T0  1000000LL


static void
addr4(wp_dns_addr_t *a, int last)
{
    memset(a, 0, sizeof(*a));
    a->family = AF_INET;
    a->addr[0] = 192;
    a->addr[1] = 0;
    a->addr[2] = 2;
    a->addr[3] = (uint8_t) last;
}


static void
test_ttl(void)
{
    wp_dnscache_t    c;
    wp_dns_entry_t  *e;
    wp_dns_addr_t    a[2];

    ok(wp_dnscache_init(&c, 16) == 0, "init");
    ok(wp_dnscache_get(&c, "a.example", T0) == NULL, "empty: no entry");

    e = wp_dnscache_add(&c, "a.example");
    ok(e != NULL && e->state == WP_DNS_PENDING, "added as pending");
    is_int(c.pending, 1, "one lookup pending");
    ok(wp_dnscache_get(&c, "a.example", T0 + 999999) == e,
       "a pending entry is found however late (its lookup ends it)");

    addr4(&a[0], 1);
    addr4(&a[1], 2);
    wp_dnscache_set_ok(&c, e, a, 2, 60, T0);
    is_int(c.pending, 0, "no lookup pending after the answer");
    e = wp_dnscache_get(&c, "a.example", T0 + 59999);
    ok(e != NULL && e->state == WP_DNS_OK && e->naddrs == 2
       && e->addrs[1].addr[3] == 2, "answer kept within its TTL");
    ok(wp_dnscache_get(&c, "a.example", T0 + 60000) == NULL,
       "answer gone at its TTL");
    is_int(c.used, 0, "expired entry dropped");

    /* TTL 0 (hosts file, or a zero-TTL record): at least a second */
    e = wp_dnscache_add(&c, "zero.example");
    wp_dnscache_set_ok(&c, e, a, 1, 0, T0);
    ok(wp_dnscache_get(&c, "zero.example", T0 + WP_DNS_TTL_MIN_MS - 1)
       != NULL, "TTL 0 kept for the minimum");
    ok(wp_dnscache_get(&c, "zero.example", T0 + WP_DNS_TTL_MIN_MS) == NULL,
       "... and no longer");

    /* a day-long TTL: at most the maximum */
    e = wp_dnscache_add(&c, "long.example");
    wp_dnscache_set_ok(&c, e, a, 1, 86400, T0);
    ok(wp_dnscache_get(&c, "long.example", T0 + WP_DNS_TTL_MAX_MS - 1)
       != NULL, "long TTL kept up to the maximum");
    ok(wp_dnscache_get(&c, "long.example", T0 + WP_DNS_TTL_MAX_MS) == NULL,
       "... and not beyond");

    wp_dnscache_free(&c);
}


static void
test_negative(void)
{
    wp_dnscache_t    c;
    wp_dns_entry_t  *e;

    wp_dnscache_init(&c, 16);

    e = wp_dnscache_add(&c, "nx.example");
    wp_dnscache_set_failed(&c, e, "Domain name not found",
                           WP_DNS_NEG_TTL_MS, T0);
    e = wp_dnscache_get(&c, "nx.example", T0 + WP_DNS_NEG_TTL_MS - 1);
    ok(e != NULL && e->state == WP_DNS_FAILED && e->naddrs == 0,
       "negative answer kept");
    is_str(e ? e->error : NULL, "Domain name not found",
           "with its reason");
    ok(wp_dnscache_get(&c, "nx.example", T0 + WP_DNS_NEG_TTL_MS) == NULL,
       "negative answer gone after its time: asked again");

    e = wp_dnscache_add(&c, "slow.example");
    wp_dnscache_set_failed(&c, e, "timeout", WP_DNS_FAIL_TTL_MS, T0);
    ok(wp_dnscache_get(&c, "slow.example", T0 + WP_DNS_FAIL_TTL_MS) == NULL,
       "a timeout is kept for the shorter time");

    e = wp_dnscache_add(&c, "tiny.example");
    wp_dnscache_set_failed(&c, e, "x", 0, T0);
    ok(wp_dnscache_get(&c, "tiny.example", T0 + WP_DNS_TTL_MIN_MS - 1)
       != NULL, "a negative time below the minimum is raised to it");

    wp_dnscache_free(&c);
}


static void
test_bound(void)
{
    int              i, found;
    char             host[64];
    wp_dnscache_t    c;
    wp_dns_entry_t  *e, *p1, *p2;
    wp_dns_addr_t    a;

    addr4(&a, 9);
    wp_dnscache_init(&c, 4);

    /* h0..h3 answered in that order, then h0 used again: h1 is the LRU */
    for (i = 0; i < 4; i++) {
        snprintf(host, sizeof(host), "h%d.example", i);
        e = wp_dnscache_add(&c, host);
        wp_dnscache_set_ok(&c, e, &a, 1, 300, T0 + i);
    }
    is_int(c.used, 4, "table full");
    ok(wp_dnscache_get(&c, "h0.example", T0 + 10) != NULL, "h0 used again");

    e = wp_dnscache_add(&c, "new.example");
    ok(e != NULL, "a new host finds room in a full table");
    is_int(c.used, 4, "still at the bound");
    ok(wp_dnscache_get(&c, "h1.example", T0 + 11) == NULL,
       "the least recently used entry was evicted");
    ok(wp_dnscache_get(&c, "h0.example", T0 + 11) != NULL,
       "the recently used one stayed");
    wp_dnscache_set_failed(&c, e, "nx", WP_DNS_NEG_TTL_MS, T0 + 12);

    /* pending lookups are never evicted; all pending: no room */
    wp_dnscache_free(&c);
    wp_dnscache_init(&c, 2);
    p1 = wp_dnscache_add(&c, "p1.example");
    p2 = wp_dnscache_add(&c, "p2.example");
    ok(p1 != NULL && p2 != NULL, "two pending lookups");
    ok(wp_dnscache_add(&c, "p3.example") == NULL,
       "every entry pending: no room, nothing evicted");
    ok(wp_dnscache_get(&c, "p1.example", T0) == p1
       && wp_dnscache_get(&c, "p2.example", T0) == p2,
       "both pending entries still there");

    wp_dnscache_set_ok(&c, p2, &a, 1, 300, T0);
    e = wp_dnscache_add(&c, "p3.example");
    ok(e != NULL && wp_dnscache_get(&c, "p2.example", T0) == NULL
       && wp_dnscache_get(&c, "p1.example", T0) == p1,
       "once one ended, it is the one evicted, the pending one stays");
    wp_dnscache_free(&c);

    /* many distinct dead hosts through a small table: bounded, no leak,
     * and the hash chains stay consistent */
    wp_dnscache_init(&c, 64);
    for (i = 0; i < 1000; i++) {
        snprintf(host, sizeof(host), "x%d.push.example.test", i);
        e = wp_dnscache_add(&c, host);
        if (e == NULL) {
            break;
        }
        wp_dnscache_set_failed(&c, e, "nx", WP_DNS_NEG_TTL_MS, T0 + i);
    }
    is_int(i, 1000, "1000 distinct hosts through 64 entries");
    is_int(c.used, 64, "bounded at 64");
    for (i = 0, found = 0; i < 1000; i++) {
        snprintf(host, sizeof(host), "x%d.push.example.test", i);
        found += wp_dnscache_get(&c, host, T0 + 1000) != NULL;
    }
    is_int(found, 64, "exactly the 64 latest are found");
    ok(wp_dnscache_get(&c, "x999.push.example.test", T0 + 1000) != NULL
       && wp_dnscache_get(&c, "x935.push.example.test", T0 + 1000) == NULL,
       "the latest kept, older ones evicted");
    wp_dnscache_free(&c);
}


int
main(void)
{
    test_ttl();
    test_negative();
    test_bound();

    return tap_done();
}
