/* webpush-sender: the resolver's host-name cache (see dnscache.h). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnscache.h"


static uint32_t
wp_dnscache_hash(const char *s)
{
    uint32_t  h;

    /* FNV-1a: names are short and already lowercase */
    for (h = 2166136261u; *s != '\0'; s++) {
        h = (h ^ (uint8_t) *s) * 16777619u;
    }

    return h;
}


int
wp_dnscache_init(wp_dnscache_t *c, int cap)
{
    int       i;
    uint32_t  nb;

    memset(c, 0, sizeof(*c));

    /* buckets: a power of two, at least the capacity (chains stay short) */
    for (nb = 16; nb < (uint32_t) cap; nb <<= 1) {
        /* void */
    }

    c->e = calloc(cap, sizeof(wp_dns_entry_t));
    c->buckets = malloc(nb * sizeof(int32_t));
    if (c->e == NULL || c->buckets == NULL) {
        wp_dnscache_free(c);
        return -1;
    }

    c->cap = cap;
    c->mask = nb - 1;
    for (i = 0; i < (int) nb; i++) {
        c->buckets[i] = -1;
    }

    for (i = 0; i < cap; i++) {
        c->e[i].hnext = i + 1 < cap ? i + 1 : -1;
    }
    c->free_head = 0;
    c->lru_head = c->lru_tail = -1;

    return 0;
}


void
wp_dnscache_free(wp_dnscache_t *c)
{
    free(c->e);
    free(c->buckets);
    memset(c, 0, sizeof(*c));
}


static void
wp_dnscache_lru_unlink(wp_dnscache_t *c, int32_t i)
{
    wp_dns_entry_t  *e;

    e = &c->e[i];

    if (e->lru_prev >= 0) {
        c->e[e->lru_prev].lru_next = e->lru_next;
    } else {
        c->lru_head = e->lru_next;
    }
    if (e->lru_next >= 0) {
        c->e[e->lru_next].lru_prev = e->lru_prev;
    } else {
        c->lru_tail = e->lru_prev;
    }
    e->lru_prev = e->lru_next = -1;
}


static void
wp_dnscache_lru_push(wp_dnscache_t *c, int32_t i)
{
    wp_dns_entry_t  *e;

    e = &c->e[i];
    e->lru_prev = -1;
    e->lru_next = c->lru_head;
    if (c->lru_head >= 0) {
        c->e[c->lru_head].lru_prev = i;
    } else {
        c->lru_tail = i;
    }
    c->lru_head = i;
}


/* Take finished entry i out of the table. */
static void
wp_dnscache_drop(wp_dnscache_t *c, int32_t i)
{
    int32_t         *pp;
    wp_dns_entry_t  *e;

    e = &c->e[i];

    for (pp = &c->buckets[e->hash & c->mask]; *pp >= 0;
         pp = &c->e[*pp].hnext)
    {
        if (*pp == i) {
            *pp = e->hnext;
            break;
        }
    }

    wp_dnscache_lru_unlink(c, i);

    e->state = 0;
    e->hnext = c->free_head;
    c->free_head = i;
    c->used--;
}


wp_dns_entry_t *
wp_dnscache_get(wp_dnscache_t *c, const char *host, int64_t now_ms)
{
    int32_t          i;
    uint32_t         h;
    wp_dns_entry_t  *e;

    h = wp_dnscache_hash(host);

    for (i = c->buckets[h & c->mask]; i >= 0; i = e->hnext) {
        e = &c->e[i];
        if (e->hash != h || strcmp(e->host, host) != 0) {
            continue;
        }

        if (e->state == WP_DNS_PENDING) {
            return e;
        }

        if (e->expires_ms <= now_ms) {
            wp_dnscache_drop(c, i);
            return NULL;
        }

        wp_dnscache_lru_unlink(c, i);
        wp_dnscache_lru_push(c, i);
        return e;
    }

    return NULL;
}


wp_dns_entry_t *
wp_dnscache_add(wp_dnscache_t *c, const char *host)
{
    int32_t          i;
    wp_dns_entry_t  *e;

    if (c->free_head < 0) {
        /* full: the least recently used answer goes (pending entries are
         * not on the list, their lookups still point at them) */
        if (c->lru_tail < 0) {
            return NULL;
        }
        wp_dnscache_drop(c, c->lru_tail);
    }

    i = c->free_head;
    e = &c->e[i];
    c->free_head = e->hnext;

    memset(e, 0, sizeof(*e));
    snprintf(e->host, sizeof(e->host), "%s", host);
    e->hash = wp_dnscache_hash(e->host);
    e->state = WP_DNS_PENDING;
    e->lru_prev = e->lru_next = -1;
    e->hnext = c->buckets[e->hash & c->mask];
    c->buckets[e->hash & c->mask] = i;
    c->used++;
    c->pending++;

    return e;
}


static int64_t
wp_dnscache_bound(int64_t ttl_ms)
{
    return ttl_ms < WP_DNS_TTL_MIN_MS ? WP_DNS_TTL_MIN_MS
           : ttl_ms > WP_DNS_TTL_MAX_MS ? WP_DNS_TTL_MAX_MS : ttl_ms;
}


/* e's lookup is over: it joins the LRU list as the most recent. */
static void
wp_dnscache_finish(wp_dnscache_t *c, wp_dns_entry_t *e)
{
    if (e->state == WP_DNS_PENDING) {
        c->pending--;
    } else {
        wp_dnscache_lru_unlink(c, (int32_t) (e - c->e));
    }
    wp_dnscache_lru_push(c, (int32_t) (e - c->e));
}


void
wp_dnscache_set_ok(wp_dnscache_t *c, wp_dns_entry_t *e,
    const wp_dns_addr_t *addrs, int n, int64_t ttl_s, int64_t now_ms)
{
    wp_dnscache_finish(c, e);

    if (n > WP_DNS_MAX_ADDRS) {
        n = WP_DNS_MAX_ADDRS;
    }

    memcpy(e->addrs, addrs, n * sizeof(wp_dns_addr_t));
    e->naddrs = n;
    e->error[0] = '\0';
    e->state = WP_DNS_OK;
    e->expires_ms = now_ms + wp_dnscache_bound(ttl_s < 0 ? 0
                                                : ttl_s * 1000);
}


void
wp_dnscache_set_failed(wp_dnscache_t *c, wp_dns_entry_t *e,
    const char *error, int64_t ttl_ms, int64_t now_ms)
{
    wp_dnscache_finish(c, e);

    e->naddrs = 0;
    snprintf(e->error, sizeof(e->error), "%s", error);
    e->state = WP_DNS_FAILED;
    e->expires_ms = now_ms + wp_dnscache_bound(ttl_ms);
}
