/*
 * webpush-sender: host names to addresses for the HTTP client (client.h)
 * without ever blocking the delivery thread: c-ares lookups driven by the
 * client's wait loop, answers in a bounded cache (dnscache.h).
 *
 * Why not getaddrinfo(): it blocks.  One slow or dead name server, or a
 * subscription to a host that does not resolve, would stall every stream
 * of every origin on the thread for seconds.  Here a lookup is a few UDP
 * packets whose answers arrive like any other readiness event.
 *
 * c-ares's sockets live in an epoll set of the resolver's own; that set's
 * descriptor goes into the client's epoll set (nested epoll), so the
 * engine keeps waiting on the one descriptor wp_client_fds() hands it.
 * Names are looked up in /etc/hosts first, then DNS (the servers of
 * /etc/resolv.conf, or WEBPUSH_DNS_SERVERS).  A lookup that gets no
 * answer ends within about the connect timeout (c-ares: two tries, the
 * second twice as long as the first).
 *
 * One lookup per host at a time, shared by everything waiting on it.
 * Not thread-safe.
 */

#ifndef WP_RESOLVE_H
#define WP_RESOLVE_H

#include <stdint.h>

#include "dnscache.h"
#include "wp_err.h"

#define WP_RESOLVE_CACHE    4096    /* host names kept */
/*
 * Lookups under way at once (each one an A and an AAAA query on one UDP
 * socket): beyond it a host waits for one to end.  Bounded so a burst of
 * answers fits the socket's receive buffer (WP_RESOLVE_RCVBUF, as far as
 * net.core.rmem_max allows): an answer dropped there costs a whole
 * retransmit timeout.
 */
#define WP_RESOLVE_LOOKUPS  256
#define WP_RESOLVE_RCVBUF   (1024 * 1024)

typedef struct wp_resolve_s  wp_resolve_t;

/*
 * servers: NULL for /etc/resolv.conf's, else "ip[:port],..." (IPv6 as
 * "[v6]:port"); timeout_ms: how long a lookup may take in all.
 */
wp_resolve_t *wp_resolve_new(const char *servers, long timeout_ms,
    wp_err_t *err);

/* Ends the lookups under way (nothing is reported); NULL is fine. */
void wp_resolve_free(wp_resolve_t *r);

/* Readable when an answer is waiting: for the client's epoll set. */
int wp_resolve_fd(const wp_resolve_t *r);

/*
 * host's entry: an answer (WP_DNS_OK, WP_DNS_FAILED) from the cache or a
 * lookup under way (WP_DNS_PENDING).  start: begin a lookup when there is
 * none; without it, or when no lookup can start now (too many under way),
 * NULL.  The entry is valid until the next call into the resolver.
 */
const wp_dns_entry_t *wp_resolve_host(wp_resolve_t *r, const char *host,
    int start, int64_t now_ms);

/* Lookups under way. */
int wp_resolve_pending(const wp_resolve_t *r);

/* Lower *deadline_ms to when c-ares next needs a call for its timeouts. */
void wp_resolve_deadline(wp_resolve_t *r, int64_t now_ms,
    int64_t *deadline_ms);

/* Read the answers that arrived and apply timeouts (no blocking). */
void wp_resolve_process(wp_resolve_t *r, int64_t now_ms);

#endif /* WP_RESOLVE_H */
