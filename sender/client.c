/*
 * webpush-sender: the HTTP client's connections (client.h): waiting on
 * the resolver (resolve.h), connecting, TLS, ALPN, the write batching and
 * read loop, timeouts.  The framing is h2.c's or h1.c's.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "client_int.h"


/*
 * A session to resume came with a handshake that passed verification (or
 * a TLS 1.3 ticket after it): keep it for the connection's origin.
 */
static int
wp_client_new_session(SSL *ssl, SSL_SESSION *sess)
{
    wp_conn_t  *c;

    c = SSL_get_app_data(ssl);
    if (c == NULL) {
        return 0;
    }

    wp_tls_session_put(&c->cl->sessions, c->origin, sess);

    return 1;           /* the reference is ours now */
}


wp_client_t *
wp_client_new(const wp_deliver_opts_t *opts, wp_client_done_pt done,
    void *ctx, wp_err_t *err)
{
    int                  ok;
    wp_client_t         *cl;
    struct epoll_event   ev;

    cl = calloc(1, sizeof(wp_client_t));
    if (cl == NULL) {
        wp_err_set(err, WP_E_NOMEM, "", "out of memory");
        return NULL;
    }

    wp_deliver_opts_defaults(&cl->opts, opts);
    cl->done = done;
    cl->done_ctx = ctx;
    cl->next_deadline_ms = INT64_MAX;

    cl->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (cl->epfd < 0) {
        wp_err_set(err, WP_E_INTERNAL, "", "epoll_create1: %s",
                   strerror(errno));
        free(cl);
        return NULL;
    }

    cl->ctx = SSL_CTX_new(TLS_client_method());
    ok = cl->ctx != NULL
         && SSL_CTX_set_min_proto_version(cl->ctx, TLS1_2_VERSION) == 1
         && (cl->opts.ca_file != NULL
             ? SSL_CTX_load_verify_locations(cl->ctx, cl->opts.ca_file, NULL)
             : SSL_CTX_set_default_verify_paths(cl->ctx)) == 1
         /* this one returns 0 on success */
         && SSL_CTX_set_alpn_protos(cl->ctx,
                (const unsigned char *) "\x02h2\x08http/1.1", 12) == 0;

    if (!ok) {
        wp_err_set(err, WP_E_CRYPTO, "", "TLS set-up failed%s%s",
                   cl->opts.ca_file ? ": cannot load CA file " : "",
                   cl->opts.ca_file ? cl->opts.ca_file : "");
        wp_client_free(cl);
        return NULL;
    }

    SSL_CTX_set_verify(cl->ctx, SSL_VERIFY_PEER, NULL);

    /* sessions are kept per origin by us (tls_session.h), not OpenSSL */
    SSL_CTX_set_session_cache_mode(cl->ctx, SSL_SESS_CACHE_CLIENT
                                            | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(cl->ctx, wp_client_new_session);
    SSL_CTX_set_read_ahead(cl->ctx, 1);     /* one read(), many records */
    SSL_CTX_set_mode(cl->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                              | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

    if (wp_h2_setup(cl, err) != 0) {
        wp_client_free(cl);
        return NULL;
    }

    /* lookups end within about the connect timeout, which covers them */
    cl->res = wp_resolve_new(cl->opts.dns_servers,
                             cl->opts.connect_timeout_ms, err);
    if (cl->res == NULL) {
        wp_client_free(cl);
        return NULL;
    }

    /* its answers wake the same wait as the connections (client.h) */
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = cl->res;
    if (epoll_ctl(cl->epfd, EPOLL_CTL_ADD, wp_resolve_fd(cl->res), &ev)
        != 0)
    {
        wp_err_set(err, WP_E_INTERNAL, "", "epoll_ctl: %s", strerror(errno));
        wp_client_free(cl);
        return NULL;
    }

    return cl;
}


/* Idle HTTP/1.1 connections, so a request finds one without a scan. */
static void
wp_conn_idle_add(wp_conn_t *c)
{
    wp_client_t  *cl;

    if (c->idle) {
        return;
    }

    cl = c->cl;
    c->idle = 1;
    c->idle_prev = NULL;
    c->idle_next = cl->idle1;
    if (cl->idle1 != NULL) {
        cl->idle1->idle_prev = c;
    }
    cl->idle1 = c;
}


static void
wp_conn_idle_del(wp_conn_t *c)
{
    if (!c->idle) {
        return;
    }

    if (c->idle_prev != NULL) {
        c->idle_prev->idle_next = c->idle_next;
    } else {
        c->cl->idle1 = c->idle_next;
    }
    if (c->idle_next != NULL) {
        c->idle_next->idle_prev = c->idle_prev;
    }
    c->idle = 0;
}


static void
wp_conn_free(wp_conn_t *c)
{
    wp_conn_idle_del(c);

    if (c->sess) {
        nghttp2_session_del(c->sess);
    }
    if (c->ssl) {
        SSL_free(c->ssl);
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c->h1);
    free(c->h1_body);
    free(c->out);
    free(c);
}


void
wp_client_reset(wp_client_t *cl)
{
    wp_conn_t    *c;
    wp_stream_t  *s;

    while ((c = cl->conns) != NULL) {
        cl->conns = c->next;

        while ((s = c->streams) != NULL) {
            c->streams = s->next;
            s->next = cl->free_streams;
            cl->free_streams = s;
        }

        wp_conn_free(c);
    }

    cl->pending = 0;
    cl->idle1 = NULL;
    cl->next_deadline_ms = INT64_MAX;
}


void
wp_client_free(wp_client_t *cl)
{
    wp_stream_t  *s;

    if (cl == NULL) {
        return;
    }

    wp_client_reset(cl);

    while ((s = cl->free_streams) != NULL) {
        cl->free_streams = s->next;
        free(s->rbody_big);
        free(s);
    }

    wp_h2_cleanup(cl);
    wp_resolve_free(cl->res);
    wp_tls_sessions_free(&cl->sessions);
    SSL_CTX_free(cl->ctx);
    close(cl->epfd);
    free(cl);
}


int
wp_client_header_ok(const char *name, const char *value, size_t len,
    wp_err_t *err)
{
    if (memchr(value, '\r', len) != NULL || memchr(value, '\n', len) != NULL
        || memchr(value, '\0', len) != NULL)
    {
        return wp_err_set(err, WP_E_BAD_VALUE, name,
                          "%s header value holds a line break", name);
    }

    return 0;
}


/* ---- requests ----------------------------------------------------------- */


void
wp_stream_unlink(wp_stream_t *s)
{
    wp_conn_t  *c;

    c = s->c;

    if (s->prev) {
        s->prev->next = s->next;
    } else {
        c->streams = s->next;
    }
    if (s->next) {
        s->next->prev = s->prev;
    }

    c->nstreams--;
    c->used_ms = c->cl->now_ms;
    s->c = NULL;
    s->next = c->cl->free_streams;
    c->cl->free_streams = s;

    if (c->http1 && c->nstreams == 0 && c->state == WP_CONN_OPEN
        && !c->dead)
    {
        wp_conn_idle_add(c);
    }
}


/* Report s's result (once) to the engine. */
void
wp_stream_report(wp_stream_t *s, const char *error, CURLcode code,
    int timed_out, int tls_failed, int no_h2, int resend)
{
    void            *data;
    wp_client_t     *cl;
    wp_push_resp_t   resp;

    if (s->data == NULL) {
        return;
    }

    cl = s->c->cl;
    memset(&resp, 0, sizeof(resp));

    resp.status = error ? 0 : s->status;
    resp.http_version = s->c->http1 ? "HTTP/1.1" : "HTTP/2";
    resp.curl_code = code;
    resp.error = error ? error : "";
    resp.timed_out = timed_out;
    resp.tls_failed = tls_failed;
    resp.headers = "";
    resp.body = s->rbody;
    resp.body_len = s->rbody_len;
    resp.body_truncated = s->rbody_truncated;
    resp.retry_after = error ? -1 : s->retry_after;
    resp.location = s->location;
    resp.wns_error = error ? "" : s->wns_error;
    resp.elapsed_ms = (long) (cl->now_ms - s->started_ms);
    resp.no_h2 = no_h2;
    resp.resend = resend;

    /* The body belongs to the engine again: never read it after this. */
    data = s->data;
    s->data = NULL;
    s->body = NULL;
    s->body_len = s->body_off = 0;
    cl->pending--;
    cl->ndone++;

    cl->done(cl->done_ctx, data, &resp);
}


/* ---- connections -------------------------------------------------------- */


/* Start a TCP connect to the next address; -1 when none is left. */
static int
wp_conn_dial(wp_conn_t *c, int *last_errno)
{
    int                       fd, one;
    socklen_t                 len;
    wp_dns_addr_t            *a;
    struct sockaddr_in       *sin;
    struct sockaddr_in6      *sin6;
    struct sockaddr_storage   ss;

    for ( ; c->addr_cur < c->naddrs; c->addr_cur++) {
        a = &c->addrs[c->addr_cur];

        memset(&ss, 0, sizeof(ss));
        if (a->family == AF_INET) {
            sin = (struct sockaddr_in *) &ss;
            sin->sin_family = AF_INET;
            sin->sin_port = htons((uint16_t) c->port);
            memcpy(&sin->sin_addr, a->addr, 4);
            len = sizeof(*sin);
        } else {
            sin6 = (struct sockaddr_in6 *) &ss;
            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons((uint16_t) c->port);
            memcpy(&sin6->sin6_addr, a->addr, 16);
            len = sizeof(*sin6);
        }

        fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
        if (fd < 0) {
            *last_errno = errno;
            continue;
        }

        /* we batch frames ourselves: Nagle would only add delay */
        one = 1;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        (void) setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));

        if (connect(fd, (struct sockaddr *) &ss, len) == 0
            || errno == EINPROGRESS)
        {
            c->fd = fd;
            c->state = WP_CONN_CONNECTING;
            return 0;
        }

        *last_errno = errno;
        close(fd);
    }

    return -1;
}


/*
 * c's addresses are known (entry: its host's answer, NULL for an IP
 * literal already in c->addrs): dial the first.  A failure is c's answer,
 * reported by the next wp_client_io() like every connect failure.
 */
static void
wp_conn_resolved(wp_conn_t *c, const wp_dns_entry_t *entry)
{
    int  e;

    if (entry != NULL && entry->state == WP_DNS_FAILED) {
        c->connect_deadline_ms = 0;     /* fails on the next round */
        snprintf(c->error, sizeof(c->error), "Could not resolve host: %s"
                 " (%s)", c->host, entry->error);
        return;
    }

    if (entry != NULL) {
        memcpy(c->addrs, entry->addrs,
               entry->naddrs * sizeof(wp_dns_addr_t));
        c->naddrs = entry->naddrs;
    }

    c->addr_cur = 0;
    e = 0;
    if (wp_conn_dial(c, &e) != 0) {
        c->connect_deadline_ms = 0;
        snprintf(c->error, sizeof(c->error), "Failed to connect to %s"
                 " port %u: %s", c->host, c->port, strerror(e));
    }
}


/* An IP literal's address (no lookup, no blocking); -1 when malformed. */
static int
wp_conn_literal(wp_conn_t *c)
{
    if (inet_pton(AF_INET6, c->host, c->addrs[0].addr) == 1) {
        c->addrs[0].family = AF_INET6;
    } else if (inet_pton(AF_INET, c->host, c->addrs[0].addr) == 1) {
        c->addrs[0].family = AF_INET;
    } else {
        return -1;
    }

    c->naddrs = 1;

    return 0;
}


/* A new connection to url's origin, HTTP/1.1 only or h2 first. */
static wp_conn_t *
wp_conn_open(wp_client_t *cl, const wp_url_t *url, int http1, int64_t now,
    wp_err_t *err)
{
    int                    rc;
    size_t                 hl;
    wp_conn_t             *c;
    const wp_dns_entry_t  *entry;

    c = calloc(1, sizeof(wp_conn_t));
    if (c == NULL) {
        wp_err_set(err, WP_E_NOMEM, "", "out of memory");
        return NULL;
    }

    c->cl = cl;
    c->fd = -1;
    c->watched_fd = -1;
    snprintf(c->origin, sizeof(c->origin), "%s", url->origin);
    /* covers the lookup too: a name that does not resolve in time is a
     * connect timeout like a host that does not answer */
    c->connect_deadline_ms = now + cl->opts.connect_timeout_ms;
    c->used_ms = now;

    /* "[v6]" is bracketed in URLs, not for the resolver or the verifier */
    hl = strlen(url->host);
    if (url->host[0] == '[' && hl >= 2) {
        memcpy(c->host, url->host + 1, hl - 2);
        c->host[hl - 2] = '\0';
    } else {
        memcpy(c->host, url->host, hl + 1);
    }
    c->port = url->port;

    c->out_cap = WP_CLIENT_OUT_BATCH + 16384;
    c->out = malloc(c->out_cap);
    c->ssl = SSL_new(cl->ctx);
    if (c->out == NULL || c->ssl == NULL) {
        wp_err_set(err, WP_E_NOMEM, "", "out of memory");
        goto failed;
    }

    SSL_set_app_data(c->ssl, c);
    wp_tls_session_offer(&cl->sessions, c->origin, c->ssl);

    if (http1 ? wp_h1_conn_init(c, err) != 0 : wp_h2_conn_init(c, err) != 0)
    {
        goto failed;
    }

    /* a connection meant for HTTP/1.1 must not end up speaking h2 */
    if (http1
        && SSL_set_alpn_protos(c->ssl,
                               (const unsigned char *) "\x08http/1.1", 9)
           != 0)
    {
        wp_err_set(err, WP_E_CRYPTO, "", "TLS: cannot set ALPN");
        goto failed;
    }

    if (url->is_ip) {
        rc = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->host)
             && wp_conn_literal(c) == 0;
    } else {
        SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        rc = SSL_set_tlsext_host_name(c->ssl, c->host) == 1
             && SSL_set1_host(c->ssl, c->host) == 1;
    }
    if (rc != 1) {
        wp_err_set(err, WP_E_CRYPTO, "endpoint", "TLS: bad host %s",
                   c->host);
        goto failed;
    }

    c->next = cl->conns;
    cl->conns = c;

    /*
     * Resolution and connect failures are answers (status 0, retried
     * later), reported from wp_client_io(), not errors of the submit.
     * A name not in the cache waits for its lookup (shared with every
     * other connection to that host) in WP_CONN_RESOLVING.
     */
    if (url->is_ip) {
        wp_conn_resolved(c, NULL);
        return c;
    }

    entry = wp_resolve_host(cl->res, c->host, 1, now);
    if (entry == NULL || entry->state == WP_DNS_PENDING) {
        c->state = WP_CONN_RESOLVING;
        return c;
    }

    wp_conn_resolved(c, entry);

    return c;

failed:

    wp_conn_free(c);
    return NULL;
}


/*
 * Tear c down.  report: its requests get an answer (status 0, message
 * fmt), those never written marked for resending; else they are dropped
 * silently.
 */
void
wp_conn_close(wp_conn_t *c, int report, int timed_out, int tls_failed,
    CURLcode code, const char *fmt, ...)
{
    char          msg[300];
    va_list       ap;
    wp_conn_t   **pp;
    wp_client_t  *cl;
    wp_stream_t  *s;

    cl = c->cl;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    for (pp = &cl->conns; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }

    while ((s = c->streams) != NULL) {
        if (report && s->data != NULL) {
            wp_stream_report(s, msg, code, timed_out, tls_failed, 0,
                             !s->sent);
        } else if (s->data != NULL) {
            s->data = NULL;
            cl->pending--;
        }
        wp_stream_unlink(s);
    }

    wp_conn_free(c);
}


int
wp_conn_reserve(wp_conn_t *c, size_t n)
{
    uint8_t  *p;

    if (c->out_len + n <= c->out_cap) {
        return 0;
    }

    p = realloc(c->out, c->out_len + n);
    if (p == NULL) {
        return -1;
    }

    c->out = p;
    c->out_cap = c->out_len + n;

    return 0;
}


/* Write what is waiting, in large SSL_write()s; -1 when c is gone. */
static int
wp_conn_flush(wp_conn_t *c)
{
    int  n, e;

    c->want_write = 0;

    for ( ;; ) {
        if (c->out_off == c->out_len) {
            c->out_off = c->out_len = 0;

            if (!c->http1 && wp_h2_fill(c) != 0) {
                return -1;
            }

            if (c->out_len == 0) {
                return 0;
            }
        }

        ERR_clear_error();
        n = SSL_write(c->ssl, c->out + c->out_off,
                      (int) (c->out_len - c->out_off));
        if (n > 0) {
            c->out_off += n;
            if (c->http1 && c->streams != NULL) {
                c->streams->sent = 1;
            }
            continue;
        }

        e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_WRITE) {
            c->want_write = 1;
            return 0;
        }
        if (e == SSL_ERROR_WANT_READ) {
            return 0;
        }

        wp_conn_close(c, 1, 0, 0, CURLE_SEND_ERROR, "Send failure: %s",
                      e == SSL_ERROR_SYSCALL ? strerror(errno) : "TLS error");
        return -1;
    }
}


/* Read what the server sent; -1 when c is gone. */
static int
wp_conn_read(wp_conn_t *c)
{
    int           n, e;
    wp_client_t  *cl;

    cl = c->cl;

    for ( ;; ) {
        ERR_clear_error();
        n = SSL_read(c->ssl, cl->rbuf, sizeof(cl->rbuf));
        if (n > 0) {
            if ((c->http1 ? wp_h1_input(c, cl->rbuf, n)
                          : wp_h2_input(c, cl->rbuf, n)) != 0)
            {
                return -1;
            }

            /* an HTTP/1.1 answer is complete and nothing else is due:
             * epoll says when there is more, no read() to learn it */
            if (c->http1 && c->nstreams == 0 && !SSL_has_pending(c->ssl)) {
                return 0;
            }
            continue;
        }

        e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_READ) {
            return 0;
        }
        if (e == SSL_ERROR_WANT_WRITE) {
            c->want_write = 1;
            return 0;
        }

        if (c->http1
            && (e == SSL_ERROR_ZERO_RETURN
                || (e == SSL_ERROR_SYSCALL && errno == 0)))
        {
            wp_h1_eof(c);       /* may complete a read-to-close answer */
            return -1;
        }

        wp_conn_close(c, 1, 0, 0, CURLE_RECV_ERROR, "%s",
                      e == SSL_ERROR_ZERO_RETURN
                      || (e == SSL_ERROR_SYSCALL && errno == 0)
                      ? "connection closed by the push service"
                      : e == SSL_ERROR_SYSCALL ? strerror(errno)
                      : "TLS error while reading");
        return -1;
    }
}


/*
 * The server chose HTTP/1.1 for a connection offered h2: its requests go
 * back unsent (the engine resubmits them as HTTP/1.1) and the connection
 * stays, idle, for the first of them.
 */
static int
wp_conn_to_http1(wp_conn_t *c)
{
    wp_stream_t  *s;

    while ((s = c->streams) != NULL) {
        wp_stream_report(s, "the push service does not speak HTTP/2",
                         CURLE_HTTP2, 0, 0, 1, 1);
        wp_stream_unlink(s);
    }

    nghttp2_session_del(c->sess);
    c->sess = NULL;
    c->out_len = c->out_off = 0;

    if (wp_h1_conn_init(c, NULL) != 0) {
        wp_conn_close(c, 0, 0, 0, CURLE_OUT_OF_MEMORY, "out of memory");
        return -1;
    }

    wp_conn_idle_add(c);

    return 0;
}


/* Move a connection in set-up along; -1 when c is gone. */
static int
wp_conn_setup(wp_conn_t *c, int64_t now)
{
    int                    e, rc;
    long                   vr;
    socklen_t              elen;
    unsigned int           alen;
    struct pollfd          pfd;
    const unsigned char   *alpn;
    const wp_dns_entry_t  *entry;

    if (now >= c->connect_deadline_ms) {
        if (c->connect_deadline_ms == 0) {      /* resolve/dial failed */
            wp_conn_close(c, 1, 0, 0, CURLE_COULDNT_CONNECT, "%s", c->error);
        } else if (c->state == WP_CONN_RESOLVING) {
            wp_conn_close(c, 1, 1, 0, CURLE_OPERATION_TIMEDOUT,
                          "Could not resolve host: %s (no answer within %lld"
                          " milliseconds)", c->host,
                          (long long) c->cl->opts.connect_timeout_ms);
        } else if (c->state == WP_CONN_HANDSHAKE) {
            wp_conn_close(c, 1, 1, 0, CURLE_OPERATION_TIMEDOUT,
                          "TLS handshake with %s timed out after %lld"
                          " milliseconds", c->origin,
                          (long long) c->cl->opts.tls_timeout_ms);
        } else {
            wp_conn_close(c, 1, 1, 0, CURLE_OPERATION_TIMEDOUT,
                          "Connection timed out after %lld milliseconds",
                          (long long) c->cl->opts.connect_timeout_ms);
        }
        return -1;
    }

    if (c->state == WP_CONN_RESOLVING) {
        /* the lookup may have been evicted with its answer unread, or
         * found no room to start: asked again */
        entry = wp_resolve_host(c->cl->res, c->host, 1, now);
        if (entry == NULL || entry->state == WP_DNS_PENDING) {
            return 0;
        }

        wp_conn_resolved(c, entry);
        if (c->connect_deadline_ms == 0) {
            wp_conn_close(c, 1, 0, 0, CURLE_COULDNT_CONNECT, "%s", c->error);
            return -1;
        }
        return 0;       /* connecting: epoll says when */
    }

    if (c->state == WP_CONN_CONNECTING) {
        pfd.fd = c->fd;
        pfd.events = POLLOUT;
        pfd.revents = 0;
        if (poll(&pfd, 1, 0) == 0) {
            return 0;
        }

        e = 0;
        elen = sizeof(e);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0) {
            e = errno;
        }

        if (e != 0) {
            close(c->fd);
            c->fd = -1;
            c->addr_cur++;
            if (wp_conn_dial(c, &e) != 0) {
                wp_conn_close(c, 1, 0, 0, CURLE_COULDNT_CONNECT,
                              "Failed to connect to %s: %s", c->origin,
                              strerror(e));
                return -1;
            }
            return 0;
        }

        SSL_set_fd(c->ssl, c->fd);
        SSL_set_connect_state(c->ssl);
        c->state = WP_CONN_HANDSHAKE;
        c->connect_deadline_ms = now + c->cl->opts.tls_timeout_ms;
    }

    ERR_clear_error();
    rc = SSL_do_handshake(c->ssl);
    if (rc != 1) {
        e = SSL_get_error(c->ssl, rc);
        if (e == SSL_ERROR_WANT_READ) {
            c->want_write = 0;
            return 0;
        }
        if (e == SSL_ERROR_WANT_WRITE) {
            c->want_write = 1;
            return 0;
        }

        vr = SSL_get_verify_result(c->ssl);
        if (vr != X509_V_OK) {
            wp_conn_close(c, 1, 0, 1, CURLE_PEER_FAILED_VERIFICATION,
                          "SSL certificate problem: %s",
                          X509_verify_cert_error_string(vr));
        } else {
            wp_conn_close(c, 1, 0, 1, CURLE_SSL_CONNECT_ERROR,
                          "TLS handshake with %s failed: %s", c->origin,
                          ERR_peek_error()
                          ? ERR_reason_error_string(ERR_peek_error())
                          : "connection closed");
        }
        return -1;
    }

    c->want_write = 0;
    c->state = WP_CONN_OPEN;
    c->readable = 1;        /* the server may have written already */

    if (!c->http1) {
        SSL_get0_alpn_selected(c->ssl, &alpn, &alen);
        if (alen != 2 || memcmp(alpn, "h2", 2) != 0) {
            return wp_conn_to_http1(c);
        }
    }

    return 0;
}


/* ---- the pool ----------------------------------------------------------- */


/*
 * An idle connection may have been closed by the server since the last
 * batch (GOAWAY, EOF): when epoll said so, learn it now, before writing.
 * Returns 0 when c is still usable.
 */
static int
wp_conn_recheck(wp_conn_t *c, int64_t now)
{
    if (c->nstreams > 0 || c->state != WP_CONN_OPEN) {
        return 0;
    }

    /*
     * Idle for long, it may have been dropped without a word (NAT, load
     * balancer): a fresh one costs one handshake, a dead one a retry
     * (WEBPUSH_IDLE_TIMEOUT; the default is libcurl's maximum age).
     */
    if (now - c->used_ms > c->cl->opts.idle_ms) {
        wp_conn_close(c, 0, 0, 0, CURLE_OK, "idle too long");
        return -1;
    }

    if (!c->readable) {
        return 0;
    }

    c->readable = 0;

    return wp_conn_read(c);
}


/* A connection to url's origin that can take one more request. */
static wp_conn_t *
wp_conn_pick(wp_client_t *cl, const wp_url_t *url, int http1, int64_t now,
    wp_err_t *err)
{
    int         nconns;
    wp_conn_t  *c, *least;

    if (http1) {
        for ( ;; ) {
            for (c = cl->idle1; c != NULL; c = c->idle_next) {
                if (strcmp(c->origin, url->origin) == 0) {
                    break;
                }
            }

            if (c == NULL) {
                return wp_conn_open(cl, url, 1, now, err);
            }

            wp_conn_idle_del(c);

            if (wp_conn_recheck(c, now) == 0) {
                return c;
            }
        }
    }

    for ( ;; ) {
        nconns = 0;
        least = NULL;

        for (c = cl->conns; c != NULL; c = c->next) {
            if (c->state == WP_CONN_DRAINING || c->dead || c->http1
                || strcmp(c->origin, url->origin) != 0)
            {
                continue;
            }

            nconns++;

            if (wp_h2_has_room(c)) {
                break;
            }

            if (least == NULL || c->nstreams < least->nstreams) {
                least = c;
            }
        }

        if (c == NULL) {
            /* every connection is full: open one more, up to the cap, then
             * queue (nghttp2 holds streams beyond the server's limit) */
            return nconns < WP_CLIENT_MAX_H2_CONNS
                   ? wp_conn_open(cl, url, 0, now, err) : least;
        }

        if (wp_conn_recheck(c, now) == 0) {
            return c;
        }
    }
}


int
wp_client_submit(wp_client_t *cl, const wp_url_t *url,
    const wp_push_req_t *req, int http1, void *data, int64_t now_ms,
    wp_err_t *err)
{
    wp_conn_t    *c;
    wp_stream_t  *s;

    if (req->authorization == NULL || req->ttl < 0) {
        return wp_err_set(err, WP_E_BAD_VALUE, "",
                          "push request without authorization or a valid"
                          " ttl");
    }

    cl->now_ms = now_ms;

    c = wp_conn_pick(cl, url, http1, now_ms, err);
    if (c == NULL) {
        return -1;
    }

    s = cl->free_streams;
    if (s != NULL) {
        cl->free_streams = s->next;
    } else {
        s = calloc(1, sizeof(wp_stream_t));
        if (s == NULL) {
            return wp_err_set(err, WP_E_NOMEM, "", "out of memory");
        }
    }

    s->c = c;
    s->prev = NULL;
    s->next = c->streams;
    if (c->streams) {
        c->streams->prev = s;
    }
    c->streams = s;
    c->nstreams++;

    s->data = data;
    s->id = 0;
    s->sent = 0;
    s->started_ms = now_ms;
    s->deadline_ms = now_ms + cl->opts.timeout_ms;
    s->body = req->body;
    s->body_len = req->body_len;
    s->body_off = 0;
    s->status = 0;
    s->retry_after = -1;
    s->rbody_len = 0;
    s->rbody = s->rbody_small;
    s->rbody[0] = '\0';
    s->rbody_truncated = 0;
    s->location[0] = '\0';
    s->wns_error[0] = '\0';

    if ((c->http1 ? wp_h1_submit(c, s, url, req, cl->opts.user_agent, err)
                  : wp_h2_submit(c, s, url, req, cl->opts.user_agent, err))
        != 0)
    {
        s->data = NULL;
        wp_stream_unlink(s);
        return -1;
    }

    c->requests++;
    c->used_ms = now_ms;
    cl->pending++;
    if (s->deadline_ms < cl->next_deadline_ms) {
        cl->next_deadline_ms = s->deadline_ms;
    }

    return 0;
}


/* Keep c's epoll registration in line with what it waits for. */
static void
wp_conn_watch(wp_conn_t *c)
{
    uint32_t            want;
    struct epoll_event  ev;

    if (c->fd < 0) {
        return;
    }

    want = c->state == WP_CONN_CONNECTING ? EPOLLOUT
           : EPOLLIN | (c->want_write ? EPOLLOUT : 0);

    if (c->watched_fd == c->fd && c->watched == want) {
        return;
    }

    ev.events = want;
    ev.data.ptr = c;

    /* a new fd (first connect, or the next address) is added; closing the
     * old one took it out of the set */
    if (epoll_ctl(c->cl->epfd, c->watched_fd == c->fd ? EPOLL_CTL_MOD
                                                      : EPOLL_CTL_ADD,
                  c->fd, &ev) == 0)
    {
        c->watched_fd = c->fd;
        c->watched = want;
    } else {
        c->readable = 1;        /* unwatched: try it every round */
    }
}


int
wp_client_fds(wp_client_t *cl, struct curl_waitfd *fds, int cap,
    int64_t *deadline)
{
    wp_conn_t  *c;

    for (c = cl->conns; c != NULL; c = c->next) {
        if (c->state < WP_CONN_OPEN && c->connect_deadline_ms < *deadline) {
            *deadline = c->connect_deadline_ms;
        }
        wp_conn_watch(c);
    }

    if (cl->pending > 0 && cl->next_deadline_ms < *deadline) {
        *deadline = cl->next_deadline_ms;
    }

    wp_resolve_deadline(cl->res, cl->now_ms, deadline);

    if ((cl->conns == NULL && wp_resolve_pending(cl->res) == 0) || cap < 1) {
        return 0;
    }

    /* one descriptor for all connections: the epoll set is readable when
     * any of them is ready (poll()ing 100 HTTP/1.1 sockets cost more) */
    fds[0].fd = cl->epfd;
    fds[0].events = CURL_WAIT_POLLIN;
    fds[0].revents = 0;

    return 1;
}


void
wp_client_ready(wp_client_t *cl, const struct curl_waitfd *fds, int n)
{
    int                 i, k;
    wp_conn_t          *c;
    struct epoll_event  evs[256];

    if (n < 1 || !(fds[0].revents & CURL_WAIT_POLLIN)) {
        return;
    }

    k = epoll_wait(cl->epfd, evs, 256, 0);

    for (i = 0; i < k; i++) {
        /* answers are read at once: whoever waits on them (connections,
         * the engine's held-back requests) sees them in this round */
        if (evs[i].data.ptr == cl->res) {
            wp_resolve_process(cl->res, cl->now_ms);
            continue;
        }

        c = evs[i].data.ptr;
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
            c->readable = 1;
        }
    }
}


int
wp_client_resolving(wp_client_t *cl, const wp_url_t *url, int64_t now_ms)
{
    wp_conn_t             *c;
    const wp_dns_entry_t  *entry;

    if (url->is_ip) {
        return 0;
    }

    entry = wp_resolve_host(cl->res, url->host, 0, now_ms);
    if (entry != NULL) {
        return entry->state == WP_DNS_PENDING;
    }

    /* not in the cache, but a connection is up: no reason to wait (a new
     * connection, if one is needed, waits for the lookup itself) */
    for (c = cl->conns; c != NULL; c = c->next) {
        if (c->state >= WP_CONN_OPEN && !c->dead
            && strcmp(c->origin, url->origin) == 0)
        {
            return 0;
        }
    }

    entry = wp_resolve_host(cl->res, url->host, 1, now_ms);

    return entry == NULL || entry->state == WP_DNS_PENDING;
}


/* Answer the requests whose total timeout has passed. */
static void
wp_client_timeouts(wp_client_t *cl, int64_t now)
{
    char          msg[96];
    int64_t       next;
    wp_conn_t    *c;
    wp_stream_t  *s;

    next = INT64_MAX;
    snprintf(msg, sizeof(msg), "Operation timed out after %lld milliseconds",
             (long long) cl->opts.timeout_ms);

    for (c = cl->conns; c != NULL; c = c->next) {
        for (s = c->streams; s != NULL; s = s->next) {
            if (s->data == NULL) {
                continue;
            }

            if (s->deadline_ms > now) {
                if (s->deadline_ms < next) {
                    next = s->deadline_ms;
                }
                continue;
            }

            wp_stream_report(s, msg, CURLE_OPERATION_TIMEDOUT, 1, 0, 0, 0);

            /* an HTTP/2 stream can be reset; an HTTP/1.1 request cannot
             * be taken back: its connection goes */
            if (c->http1) {
                c->dead = 1;
            } else if (c->state >= WP_CONN_OPEN && s->id > 0) {
                wp_h2_cancel(c, s);
            }
        }
    }

    cl->next_deadline_ms = next;
}


int
wp_client_io(wp_client_t *cl, int64_t now)
{
    wp_conn_t  *c, *next;

    cl->now_ms = now;
    cl->ndone = 0;

    if (wp_resolve_pending(cl->res) > 0) {
        wp_resolve_process(cl->res, now);       /* c-ares's timeouts */
    }

    if (now >= cl->next_deadline_ms) {
        wp_client_timeouts(cl, now);
    }

    for (c = cl->conns; c != NULL; c = next) {
        next = c->next;

        if (c->dead) {
            wp_conn_close(c, 1, 1, 0, CURLE_OPERATION_TIMEDOUT,
                          "connection closed after a timeout");
            continue;
        }

        if (c->state < WP_CONN_OPEN
            && (wp_conn_setup(c, now) != 0 || c->state < WP_CONN_OPEN))
        {
            continue;
        }

        /* with 100 idle HTTP/1.1 connections, reading each would cost
         * 100 system calls a round: only what poll reported */
        if (c->readable) {
            c->readable = 0;
            if (wp_conn_read(c) != 0) {
                continue;
            }
        }

        if (wp_conn_flush(c) != 0 || c->http1) {
            continue;
        }

        if (wp_h2_finished(c)) {
            /* GOAWAY done and every stream closed, or a fatal error */
            wp_conn_close(c, 1, 0, 0, CURLE_HTTP2,
                          "HTTP/2 connection ended by the push service");

        } else if (c->state == WP_CONN_DRAINING && c->nstreams == 0) {
            wp_conn_close(c, 0, 0, 0, CURLE_OK, "drained");
        }
    }

    return cl->ndone;
}
