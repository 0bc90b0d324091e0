/*
 * webpush-sender: the host-name cache of the resolver (resolve.h).  Pure
 * bookkeeping, no I/O, so its rules are unit-tested (t/unit/test_dnscache).
 *
 * One entry per host name, in one of three states:
 *   PENDING  a lookup is under way; every connection waiting on that host
 *            shares it.  Never evicted (the lookup's callback holds it).
 *   OK       addresses, kept for the answer's TTL bounded to
 *            [WP_DNS_TTL_MIN_MS, WP_DNS_TTL_MAX_MS]: a zero TTL must not
 *            mean a lookup per request, a long one must not pin a moved
 *            service for a day.
 *   FAILED   no address (NXDOMAIN, no data, timeout, server failure), kept
 *            for a short time the caller chooses (bounded the same way),
 *            so retries of a dead host fail at once instead of each
 *            waiting on DNS again.
 * The table is bounded (capacity at init): a new host evicts the least
 * recently used finished entry; when every entry is PENDING there is no
 * room and the caller waits.
 */

#ifndef WP_DNSCACHE_H
#define WP_DNSCACHE_H

#include <stdint.h>

#include "endpoint.h"

#define WP_DNS_MAX_ADDRS     8          /* addresses kept per host */
#define WP_DNS_TTL_MIN_MS    1000
#define WP_DNS_TTL_MAX_MS    300000
#define WP_DNS_NEG_TTL_MS    30000      /* NXDOMAIN, no data */
#define WP_DNS_FAIL_TTL_MS   5000       /* timeout, server failure */

typedef enum {
    WP_DNS_PENDING = 1,
    WP_DNS_OK,
    WP_DNS_FAILED
} wp_dns_state_t;

typedef struct {
    int          family;                /* AF_INET or AF_INET6 */
    uint8_t      addr[16];              /* network order, 4 or 16 bytes */
} wp_dns_addr_t;

typedef struct {
    char             host[WP_HOST_MAX + 1];
    uint32_t         hash;
    wp_dns_state_t   state;             /* 0: slot unused */
    int              naddrs;
    wp_dns_addr_t    addrs[WP_DNS_MAX_ADDRS];
    int64_t          expires_ms;        /* OK, FAILED */
    char             error[96];         /* FAILED: why */
    int32_t          hnext;             /* hash chain; -1 ends */
    int32_t          lru_prev, lru_next; /* finished entries only */
} wp_dns_entry_t;

typedef struct {
    wp_dns_entry_t  *e;
    int              cap;
    int              used;              /* entries in any state */
    int              pending;
    int32_t         *buckets;
    uint32_t         mask;
    int32_t          free_head;         /* unused slots, through hnext */
    int32_t          lru_head;          /* most recently used finished */
    int32_t          lru_tail;          /* the next to evict */
} wp_dnscache_t;

int wp_dnscache_init(wp_dnscache_t *c, int cap);
void wp_dnscache_free(wp_dnscache_t *c);

/*
 * host's entry, or NULL when there is none or it expired (then it is
 * dropped).  A finished entry found becomes the most recently used.
 */
wp_dns_entry_t *wp_dnscache_get(wp_dnscache_t *c, const char *host,
    int64_t now_ms);

/*
 * A PENDING entry for host, which must have none: evicts the least
 * recently used finished entry when the table is full; NULL when every
 * entry is PENDING.
 */
wp_dns_entry_t *wp_dnscache_add(wp_dnscache_t *c, const char *host);

/* The lookup of e ended with addresses (n > 0), their smallest TTL. */
void wp_dnscache_set_ok(wp_dnscache_t *c, wp_dns_entry_t *e,
    const wp_dns_addr_t *addrs, int n, int64_t ttl_s, int64_t now_ms);

/* The lookup of e ended without an address: keep that for ttl_ms. */
void wp_dnscache_set_failed(wp_dnscache_t *c, wp_dns_entry_t *e,
    const char *error, int64_t ttl_ms, int64_t now_ms);

#endif /* WP_DNSCACHE_H */
