/* webpush-sender: asynchronous name resolution with c-ares (resolve.h). */

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <unistd.h>

#include <ares.h>

#include "resolve.h"

struct wp_resolve_s {
    ares_channel    ch;
    int             epfd;           /* c-ares's sockets */
    int             channel_ok;
    int64_t         now_ms;         /* of the call that runs callbacks */
    wp_dnscache_t   cache;
};

/* What a lookup's callback needs: the entry it fills. */
typedef struct {
    wp_resolve_t    *r;
    wp_dns_entry_t  *e;
} wp_resolve_query_t;


/* c-ares opens, watches or closes a socket: mirror it in our epoll set. */
static void
wp_resolve_sock_state(void *data, ares_socket_t fd, int readable,
    int writable)
{
    wp_resolve_t        *r;
    struct epoll_event   ev;

    r = data;

    if (!readable && !writable) {
        (void) epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL);
        return;
    }

    memset(&ev, 0, sizeof(ev));
    ev.events = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
    ev.data.fd = fd;

    /* unwatched, its queries still end by c-ares's timeouts */
    if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT) {
        (void) epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev);
    }
}


wp_resolve_t *
wp_resolve_new(const char *servers, long timeout_ms, wp_err_t *err)
{
    int                  rc, mask;
    char                 lookups[] = "fb";
    wp_resolve_t        *r;
    struct ares_options  o;

    r = calloc(1, sizeof(wp_resolve_t));
    if (r == NULL || wp_dnscache_init(&r->cache, WP_RESOLVE_CACHE) != 0) {
        free(r);
        wp_err_set(err, WP_E_NOMEM, "", "out of memory");
        return NULL;
    }

    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (r->epfd < 0) {
        wp_err_set(err, WP_E_INTERNAL, "", "epoll_create1: %s",
                   strerror(errno));
        wp_resolve_free(r);
        return NULL;
    }

    rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
        wp_err_set(err, WP_E_INTERNAL, "", "c-ares: %s", ares_strerror(rc));
        wp_resolve_free(r);
        return NULL;
    }

    /* two tries, the second twice as long (c-ares doubles it): about
     * timeout_ms in all with one server */
    memset(&o, 0, sizeof(o));
    o.sock_state_cb = wp_resolve_sock_state;
    o.sock_state_cb_data = r;
    o.timeout = (int) (timeout_ms / 3 > 100 ? timeout_ms / 3 : 100);
    o.tries = 2;
    o.lookups = lookups;
    o.socket_receive_buffer_size = WP_RESOLVE_RCVBUF;
    mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES
           | ARES_OPT_LOOKUPS | ARES_OPT_SOCK_RCVBUF;

    rc = ares_init_options(&r->ch, &o, mask);
    if (rc != ARES_SUCCESS) {
        ares_library_cleanup();
        wp_err_set(err, WP_E_INTERNAL, "", "c-ares: %s", ares_strerror(rc));
        wp_resolve_free(r);
        return NULL;
    }
    r->channel_ok = 1;

    if (servers != NULL) {
        rc = ares_set_servers_ports_csv(r->ch, servers);
        if (rc != ARES_SUCCESS) {
            wp_err_set(err, WP_E_BAD_VALUE, "dns_servers",
                       "WEBPUSH_DNS_SERVERS: %s", ares_strerror(rc));
            wp_resolve_free(r);
            return NULL;
        }
    }

    return r;
}


void
wp_resolve_free(wp_resolve_t *r)
{
    if (r == NULL) {
        return;
    }

    /* runs every callback with ARES_EDESTRUCTION: they free their query */
    if (r->channel_ok) {
        ares_destroy(r->ch);
        ares_library_cleanup();
    }

    if (r->epfd >= 0) {
        close(r->epfd);
    }

    wp_dnscache_free(&r->cache);
    free(r);
}


int
wp_resolve_fd(const wp_resolve_t *r)
{
    return r->epfd;
}


int
wp_resolve_pending(const wp_resolve_t *r)
{
    return r->cache.pending;
}


/* A lookup ended: its answer goes into the cache. */
static void
wp_resolve_done(void *arg, int status, int timeouts,
    struct ares_addrinfo *res)
{
    int                         n;
    int64_t                     ttl;
    wp_dns_addr_t               addrs[WP_DNS_MAX_ADDRS];
    wp_resolve_t               *r;
    wp_resolve_query_t         *q;
    struct ares_addrinfo_node  *ai;

    q = arg;
    r = q->r;

    if (status == ARES_EDESTRUCTION) {     /* the resolver is going */
        free(q);
        ares_freeaddrinfo(res);
        return;
    }

    n = 0;
    ttl = -1;

    for (ai = status == ARES_SUCCESS && res ? res->nodes : NULL;
         ai != NULL && n < WP_DNS_MAX_ADDRS; ai = ai->ai_next)
    {
        memset(&addrs[n], 0, sizeof(addrs[n]));

        if (ai->ai_family == AF_INET
            && ai->ai_addrlen >= sizeof(struct sockaddr_in))
        {
            addrs[n].family = AF_INET;
            memcpy(addrs[n].addr,
                   &((struct sockaddr_in *) ai->ai_addr)->sin_addr, 4);

        } else if (ai->ai_family == AF_INET6
                   && ai->ai_addrlen >= sizeof(struct sockaddr_in6))
        {
            addrs[n].family = AF_INET6;
            memcpy(addrs[n].addr,
                   &((struct sockaddr_in6 *) ai->ai_addr)->sin6_addr, 16);

        } else {
            continue;
        }

        /* the whole answer lives as long as its shortest record */
        if (ttl < 0 || ai->ai_ttl < ttl) {
            ttl = ai->ai_ttl;
        }
        n++;
    }

    if (n > 0) {
        wp_dnscache_set_ok(&r->cache, q->e, addrs, n, ttl, r->now_ms);

    } else if (status == ARES_SUCCESS || status == ARES_ENOTFOUND
               || status == ARES_ENODATA)
    {
        /* the name has no address: that answer holds for a while */
        wp_dnscache_set_failed(&r->cache, q->e,
                               status == ARES_SUCCESS ? "no address"
                               : ares_strerror(status),
                               WP_DNS_NEG_TTL_MS, r->now_ms);

    } else {
        /* timeout, server failure, refused: may pass sooner */
        wp_dnscache_set_failed(&r->cache, q->e, ares_strerror(status),
                               WP_DNS_FAIL_TTL_MS, r->now_ms);
    }

    ares_freeaddrinfo(res);
    free(q);
}


const wp_dns_entry_t *
wp_resolve_host(wp_resolve_t *r, const char *host, int start, int64_t now_ms)
{
    wp_dns_entry_t             *e;
    wp_resolve_query_t         *q;
    struct ares_addrinfo_hints  hints;

    e = wp_dnscache_get(&r->cache, host, now_ms);
    if (e != NULL || !start || r->cache.pending >= WP_RESOLVE_LOOKUPS) {
        return e;
    }

    q = malloc(sizeof(wp_resolve_query_t));
    if (q == NULL) {
        return NULL;
    }

    e = wp_dnscache_add(&r->cache, host);
    if (e == NULL) {
        free(q);
        return NULL;
    }

    q->r = r;
    q->e = e;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;

    /* the hosts file is read here and may answer at once (the callback
     * runs before this returns) */
    r->now_ms = now_ms;
    ares_getaddrinfo(r->ch, host, NULL, &hints, wp_resolve_done, q);

    return e;
}


void
wp_resolve_deadline(wp_resolve_t *r, int64_t now_ms, int64_t *deadline_ms)
{
    int64_t          t;
    struct timeval   tv, *tvp;

    if (r->cache.pending == 0) {
        return;
    }

    tvp = ares_timeout(r->ch, NULL, &tv);
    if (tvp == NULL) {
        return;
    }

    /* rounded up: waking a millisecond early would only spin */
    t = now_ms + (int64_t) tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000;
    if (t < *deadline_ms) {
        *deadline_ms = t;
    }
}


void
wp_resolve_process(wp_resolve_t *r, int64_t now_ms)
{
    int                 i, k;
    uint32_t            ev;
    struct epoll_event  evs[16];

    /* read even with no lookup pending: a late answer left unread would
     * keep the client's epoll set readable, a busy loop */
    r->now_ms = now_ms;

    k = epoll_wait(r->epfd, evs, 16, 0);

    for (i = 0; i < k; i++) {
        ev = evs[i].events;
        ares_process_fd(r->ch,
                        ev & (EPOLLIN | EPOLLERR | EPOLLHUP)
                        ? evs[i].data.fd : ARES_SOCKET_BAD,
                        ev & EPOLLOUT ? evs[i].data.fd : ARES_SOCKET_BAD);
    }

    /* queries whose time is up: retried or ended */
    ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}
