/* webpush-sender: the HTTP/2 transport over nghttp2 and OpenSSL (h2.h). */

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "h2.h"

#define WP_H2_OUT_BATCH   65536     /* plaintext gathered per write round */
#define WP_H2_READ_BUF    32768
#define WP_H2_WINDOW      (1 << 20) /* our receive window: answers are small */

typedef enum {
    WP_H2_CONNECTING = 0,    /* TCP connect in progress */
    WP_H2_HANDSHAKE,         /* TLS handshake */
    WP_H2_OPEN,
    WP_H2_DRAINING           /* GOAWAY seen: no new streams */
} wp_h2_state_t;

typedef struct wp_h2_conn_s    wp_h2_conn_t;
typedef struct wp_h2_stream_s  wp_h2_stream_t;

struct wp_h2_stream_s {
    wp_h2_stream_t   *prev, *next;      /* the connection's streams */
    wp_h2_conn_t     *c;
    void             *data;             /* NULL once reported */
    int32_t           id;
    int               sent;             /* HEADERS written to the socket */
    int64_t           started_ms;
    int64_t           deadline_ms;
    const uint8_t    *body;
    size_t            body_len;
    size_t            body_off;
    long              status;
    int64_t           retry_after;
    size_t            rbody_len;
    int               rbody_truncated;
    char              rbody[WP_DELIVER_MAX_BODY + 1];
    char              location[1024];
};

struct wp_h2_conn_s {
    wp_h2_conn_t     *next;
    wp_h2_t          *h;
    char              origin[sizeof(((wp_url_t *) 0)->origin)];
    int               fd;
    SSL              *ssl;
    nghttp2_session  *sess;
    wp_h2_state_t     state;
    int64_t           connect_deadline_ms;
    int               want_write;       /* a write waits for POLLOUT */
    int               nstreams;
    wp_h2_stream_t   *streams;
    struct addrinfo  *ai, *ai_cur;
    uint8_t          *out;
    size_t            out_len, out_off, out_cap;
};

struct wp_h2_s {
    wp_deliver_opts_t   opts;
    SSL_CTX            *ctx;
    nghttp2_session_callbacks  *cbs;
    nghttp2_option     *nopt;
    wp_h2_done_pt       done;
    void               *done_ctx;
    wp_h2_conn_t       *conns;
    wp_h2_stream_t     *free_streams;
    int                 pending;
    int                 ndone;          /* done calls in this wp_h2_io() */
    int64_t             next_deadline_ms;
    int64_t             now_ms;
    uint8_t             rbuf[WP_H2_READ_BUF];
};


static int wp_h2_on_header(nghttp2_session *sess, const nghttp2_frame *frame,
    const uint8_t *name, size_t namelen, const uint8_t *value,
    size_t valuelen, uint8_t flags, void *user);
static int wp_h2_on_data(nghttp2_session *sess, uint8_t flags, int32_t id,
    const uint8_t *data, size_t len, void *user);
static int wp_h2_on_close(nghttp2_session *sess, int32_t id,
    uint32_t error_code, void *user);
static int wp_h2_on_frame_recv(nghttp2_session *sess,
    const nghttp2_frame *frame, void *user);
static int wp_h2_on_frame_send(nghttp2_session *sess,
    const nghttp2_frame *frame, void *user);
static void wp_h2_conn_close(wp_h2_conn_t *c, int report, int timed_out,
    int tls_failed, CURLcode code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));


wp_h2_t *
wp_h2_new(const wp_deliver_opts_t *opts, wp_h2_done_pt done, void *ctx,
    wp_err_t *err)
{
    int       ok;
    wp_h2_t  *h;

    h = calloc(1, sizeof(wp_h2_t));
    if (h == NULL) {
        wp_err_set(err, WP_E_NOMEM, "", "out of memory");
        return NULL;
    }

    h->opts = *opts;
    if (h->opts.connect_timeout_ms <= 0) {
        h->opts.connect_timeout_ms = WP_DELIVER_CONNECT_TIMEOUT_MS;
    }
    if (h->opts.timeout_ms <= 0) {
        h->opts.timeout_ms = WP_DELIVER_TIMEOUT_MS;
    }
    h->done = done;
    h->done_ctx = ctx;
    h->next_deadline_ms = INT64_MAX;

    h->ctx = SSL_CTX_new(TLS_client_method());
    ok = h->ctx != NULL
         && SSL_CTX_set_min_proto_version(h->ctx, TLS1_2_VERSION) == 1
         && (h->opts.ca_file != NULL
             ? SSL_CTX_load_verify_locations(h->ctx, h->opts.ca_file, NULL)
             : SSL_CTX_set_default_verify_paths(h->ctx)) == 1
         /* this one returns 0 on success */
         && SSL_CTX_set_alpn_protos(h->ctx,
                (const unsigned char *) "\x02h2\x08http/1.1", 12) == 0;

    if (!ok) {
        wp_err_set(err, WP_E_CRYPTO, "", "TLS set-up failed%s%s",
                   h->opts.ca_file ? ": cannot load CA file " : "",
                   h->opts.ca_file ? h->opts.ca_file : "");
        wp_h2_free(h);
        return NULL;
    }

    SSL_CTX_set_verify(h->ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_read_ahead(h->ctx, 1);      /* one read(), many records */
    SSL_CTX_set_mode(h->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                             | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

    if (nghttp2_session_callbacks_new(&h->cbs) != 0
        || nghttp2_option_new(&h->nopt) != 0)
    {
        wp_err_set(err, WP_E_NOMEM, "", "out of memory");
        wp_h2_free(h);
        return NULL;
    }

    nghttp2_session_callbacks_set_on_header_callback(h->cbs, wp_h2_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(h->cbs,
                                                              wp_h2_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(h->cbs,
                                                           wp_h2_on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(h->cbs,
                                                         wp_h2_on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(h->cbs,
                                                         wp_h2_on_frame_send);

    /* Until the server's SETTINGS arrive, assume the common limit. */
    nghttp2_option_set_peer_max_concurrent_streams(h->nopt, 100);

    return h;
}


static void
wp_h2_conn_free(wp_h2_conn_t *c)
{
    if (c->sess) {
        nghttp2_session_del(c->sess);
    }
    if (c->ssl) {
        SSL_free(c->ssl);
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    if (c->ai) {
        freeaddrinfo(c->ai);
    }
    free(c->out);
    free(c);
}


void
wp_h2_reset(wp_h2_t *h)
{
    wp_h2_conn_t    *c;
    wp_h2_stream_t  *s;

    while ((c = h->conns) != NULL) {
        h->conns = c->next;

        while ((s = c->streams) != NULL) {
            c->streams = s->next;
            s->next = h->free_streams;
            h->free_streams = s;
        }

        wp_h2_conn_free(c);
    }

    h->pending = 0;
    h->next_deadline_ms = INT64_MAX;
}


void
wp_h2_free(wp_h2_t *h)
{
    wp_h2_stream_t  *s;

    if (h == NULL) {
        return;
    }

    wp_h2_reset(h);

    while ((s = h->free_streams) != NULL) {
        h->free_streams = s->next;
        free(s);
    }

    if (h->cbs) {
        nghttp2_session_callbacks_del(h->cbs);
    }
    if (h->nopt) {
        nghttp2_option_del(h->nopt);
    }
    SSL_CTX_free(h->ctx);
    free(h);
}


int
wp_h2_pending(const wp_h2_t *h)
{
    return h->pending;
}


/* ---- streams ------------------------------------------------------------ */


static void
wp_h2_stream_unlink(wp_h2_stream_t *s)
{
    wp_h2_conn_t  *c;

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
    s->c = NULL;
    s->next = c->h->free_streams;
    c->h->free_streams = s;
}


/* Report s's result (once) to the engine. */
static void
wp_h2_report(wp_h2_stream_t *s, const char *error, CURLcode code,
    int timed_out, int tls_failed, int no_h2, int resend)
{
    void            *data;
    wp_h2_t         *h;
    wp_push_resp_t   resp;

    if (s->data == NULL) {
        return;
    }

    h = s->c->h;
    memset(&resp, 0, sizeof(resp));

    resp.status = error ? 0 : s->status;
    resp.http_version = "HTTP/2";
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
    resp.elapsed_ms = (long) (h->now_ms - s->started_ms);
    resp.no_h2 = no_h2;
    resp.resend = resend;

    /* The body belongs to the engine again: never read it after this. */
    data = s->data;
    s->data = NULL;
    s->body = NULL;
    s->body_len = s->body_off = 0;
    h->pending--;
    h->ndone++;

    h->done(h->done_ctx, data, &resp);
}


static ssize_t
wp_h2_read_body(nghttp2_session *sess, int32_t id, uint8_t *buf,
    size_t length, uint32_t *flags, nghttp2_data_source *src, void *user)
{
    size_t           n;
    wp_h2_stream_t  *s;

    s = src->ptr;

    if (s->body == NULL) {
        /* timed out and reported: the buffer is no longer ours */
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }

    n = s->body_len - s->body_off;
    if (n > length) {
        n = length;
    }

    memcpy(buf, s->body + s->body_off, n);
    s->body_off += n;

    if (s->body_off == s->body_len) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    }

    return (ssize_t) n;
}


static int
wp_h2_on_header(nghttp2_session *sess, const nghttp2_frame *frame,
    const uint8_t *name, size_t namelen, const uint8_t *value,
    size_t valuelen, uint8_t flags, void *user)
{
    char             v[256];
    long             st;
    wp_h2_stream_t  *s;

    if (frame->hd.type != NGHTTP2_HEADERS) {
        return 0;
    }

    s = nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id);
    if (s == NULL) {
        return 0;
    }

    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        st = 0;
        if (valuelen == 3) {
            st = (value[0] - '0') * 100 + (value[1] - '0') * 10
                 + (value[2] - '0');
        }
        /* a 1xx is followed by the final answer: start over */
        s->status = st;
        s->retry_after = -1;
        s->location[0] = '\0';
        return 0;
    }

    if (namelen == 11 && memcmp(name, "retry-after", 11) == 0
        && valuelen < sizeof(v))
    {
        memcpy(v, value, valuelen);
        v[valuelen] = '\0';
        s->retry_after = wp_retry_after_parse(v, (int64_t) time(NULL));
        return 0;
    }

    if (namelen == 8 && memcmp(name, "location", 8) == 0
        && valuelen < sizeof(s->location))
    {
        memcpy(s->location, value, valuelen);
        s->location[valuelen] = '\0';
    }

    return 0;
}


static int
wp_h2_on_data(nghttp2_session *sess, uint8_t flags, int32_t id,
    const uint8_t *data, size_t len, void *user)
{
    size_t           room;
    wp_h2_stream_t  *s;

    s = nghttp2_session_get_stream_user_data(sess, id);
    if (s == NULL) {
        return 0;
    }

    /* Keep the start of an error page; swallow the rest. */
    room = WP_DELIVER_MAX_BODY - s->rbody_len;
    if (len > room) {
        s->rbody_truncated = 1;
        len = room;
    }

    memcpy(s->rbody + s->rbody_len, data, len);
    s->rbody_len += len;
    s->rbody[s->rbody_len] = '\0';

    return 0;
}


static int
wp_h2_on_frame_send(nghttp2_session *sess, const nghttp2_frame *frame,
    void *user)
{
    wp_h2_stream_t  *s;

    if (frame->hd.type == NGHTTP2_HEADERS) {
        s = nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id);
        if (s != NULL) {
            s->sent = 1;
        }
    }

    return 0;
}


static int
wp_h2_on_frame_recv(nghttp2_session *sess, const nghttp2_frame *frame,
    void *user)
{
    wp_h2_conn_t  *c;

    if (frame->hd.type == NGHTTP2_GOAWAY) {
        c = user;
        c->state = WP_H2_DRAINING;     /* streams above last_stream_id are
                                        * closed REFUSED_STREAM by nghttp2 */
    }

    return 0;
}


static int
wp_h2_on_close(nghttp2_session *sess, int32_t id, uint32_t error_code,
    void *user)
{
    char             msg[96];
    wp_h2_stream_t  *s;

    s = nghttp2_session_get_stream_user_data(sess, id);
    if (s == NULL) {
        return 0;
    }

    if (s->status >= 200) {
        /*
         * An answer arrived.  A server that answers before reading the
         * whole body then resets the stream (RFC 9113 8.1): the answer
         * stands, and resending a 2xx'd push would deliver it twice.
         */
        wp_h2_report(s, NULL, CURLE_OK, 0, 0, 0, 0);

    } else if (error_code == NGHTTP2_REFUSED_STREAM) {
        wp_h2_report(s, "stream refused by the push service (not processed)",
                     CURLE_HTTP2_STREAM, 0, 0, 0, 1);

    } else {
        snprintf(msg, sizeof(msg), "HTTP/2 stream closed without an answer"
                 " (%s)", nghttp2_http2_strerror(error_code));
        wp_h2_report(s, msg, CURLE_HTTP2_STREAM, 0, 0, 0, 0);
    }

    wp_h2_stream_unlink(s);

    return 0;
}


/* ---- connections -------------------------------------------------------- */


/* Start a TCP connect to the next address; -1 when none is left. */
static int
wp_h2_conn_dial(wp_h2_conn_t *c, int *last_errno)
{
    int  fd, one;

    for ( ; c->ai_cur != NULL; c->ai_cur = c->ai_cur->ai_next) {
        fd = socket(c->ai_cur->ai_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            *last_errno = errno;
            continue;
        }

        /* we batch frames ourselves: Nagle would only add delay */
        one = 1;
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        (void) setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));

        if (connect(fd, c->ai_cur->ai_addr, c->ai_cur->ai_addrlen) == 0
            || errno == EINPROGRESS)
        {
            c->fd = fd;
            c->state = WP_H2_CONNECTING;
            return 0;
        }

        *last_errno = errno;
        close(fd);
    }

    return -1;
}


static wp_h2_conn_t *
wp_h2_conn_open(wp_h2_t *h, const wp_url_t *url, int64_t now,
    wp_err_t *err)
{
    int                 rc, e;
    char                host[WP_HOST_MAX + 1], port[8];
    size_t              hl;
    wp_h2_conn_t       *c;
    struct addrinfo     hints;
    nghttp2_settings_entry  iv[3];

    c = calloc(1, sizeof(wp_h2_conn_t));
    if (c == NULL) {
        wp_err_set(err, WP_E_NOMEM, "", "out of memory");
        return NULL;
    }

    c->h = h;
    c->fd = -1;
    snprintf(c->origin, sizeof(c->origin), "%s", url->origin);
    c->connect_deadline_ms = now + h->opts.connect_timeout_ms;

    /* "[v6]" is bracketed in URLs, not for the resolver or the verifier */
    hl = strlen(url->host);
    if (url->host[0] == '[' && hl >= 2) {
        memcpy(host, url->host + 1, hl - 2);
        host[hl - 2] = '\0';
    } else {
        memcpy(host, url->host, hl + 1);
    }
    snprintf(port, sizeof(port), "%u", url->port);

    if (nghttp2_session_client_new2(&c->sess, h->cbs, c, h->nopt) != 0) {
        wp_err_set(err, WP_E_NOMEM, "", "out of memory");
        goto failed;
    }

    /* No server push; a large window so answers never wait for updates. */
    iv[0].settings_id = NGHTTP2_SETTINGS_ENABLE_PUSH;
    iv[0].value = 0;
    iv[1].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
    iv[1].value = WP_H2_WINDOW;
    iv[2].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
    iv[2].value = 100;
    if (nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv, 3) != 0
        || nghttp2_session_set_local_window_size(c->sess, NGHTTP2_FLAG_NONE,
                                                 0, WP_H2_WINDOW) != 0)
    {
        wp_err_set(err, WP_E_NOMEM, "", "out of memory");
        goto failed;
    }

    c->ssl = SSL_new(h->ctx);
    if (c->ssl == NULL) {
        wp_err_set(err, WP_E_NOMEM, "", "out of memory");
        goto failed;
    }

    if (url->is_ip) {
        rc = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host);
    } else {
        SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        rc = SSL_set_tlsext_host_name(c->ssl, host) == 1
             && SSL_set1_host(c->ssl, host) == 1;
    }
    if (rc != 1) {
        wp_err_set(err, WP_E_CRYPTO, "endpoint", "TLS: bad host %s", host);
        goto failed;
    }

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;

    c->out_cap = WP_H2_OUT_BATCH + 16384;
    c->out = malloc(c->out_cap);
    if (c->out == NULL) {
        wp_err_set(err, WP_E_NOMEM, "", "out of memory");
        goto failed;
    }

    c->next = h->conns;
    h->conns = c;

    /*
     * Resolution and connect failures are answers (status 0, retried
     * later), reported from wp_h2_io(), not errors of the submit.
     */
    rc = getaddrinfo(host, port, &hints, &c->ai);
    if (rc != 0) {
        c->ai = NULL;
        c->state = WP_H2_CONNECTING;
        c->connect_deadline_ms = 0;     /* fails on the next wp_h2_io() */
        snprintf((char *) c->out, c->out_cap, "Could not resolve host: %s"
                 " (%s)", host, gai_strerror(rc));
        return c;
    }

    c->ai_cur = c->ai;
    e = 0;
    if (wp_h2_conn_dial(c, &e) != 0) {
        c->connect_deadline_ms = 0;
        snprintf((char *) c->out, c->out_cap, "Failed to connect to %s"
                 " port %s: %s", host, port, strerror(e));
    }

    return c;

failed:

    wp_h2_conn_free(c);
    return NULL;
}


/*
 * Tear c down.  report: the streams get an answer (status 0, message
 * fmt), those never written are marked for resending; else they are
 * dropped silently.
 */
static void
wp_h2_conn_close(wp_h2_conn_t *c, int report, int timed_out, int tls_failed,
    CURLcode code, const char *fmt, ...)
{
    char             msg[300];
    va_list          ap;
    wp_h2_t         *h;
    wp_h2_conn_t   **pp;
    wp_h2_stream_t  *s;

    h = c->h;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    for (pp = &h->conns; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }

    while ((s = c->streams) != NULL) {
        if (report && s->data != NULL) {
            wp_h2_report(s, msg, code, timed_out, tls_failed, 0, !s->sent);
        } else if (s->data != NULL) {
            s->data = NULL;
            h->pending--;
        }
        wp_h2_stream_unlink(s);
    }

    wp_h2_conn_free(c);
}


/* Move nghttp2's output to the socket in large writes. */
static int
wp_h2_conn_flush(wp_h2_conn_t *c)
{
    int             n, e;
    ssize_t         len;
    uint8_t        *np;
    const uint8_t  *p;

    c->want_write = 0;

    for ( ;; ) {
        if (c->out_off == c->out_len) {
            c->out_off = c->out_len = 0;

            while (c->out_len < WP_H2_OUT_BATCH) {
                len = nghttp2_session_mem_send(c->sess, &p);
                if (len < 0) {
                    wp_h2_conn_close(c, 1, 0, 0, CURLE_HTTP2,
                                     "HTTP/2: %s",
                                     nghttp2_strerror((int) len));
                    return -1;
                }
                if (len == 0) {
                    break;
                }
                if (c->out_len + (size_t) len > c->out_cap) {
                    np = realloc(c->out, c->out_len + len);
                    if (np == NULL) {
                        wp_h2_conn_close(c, 1, 0, 0, CURLE_OUT_OF_MEMORY,
                                         "out of memory");
                        return -1;
                    }
                    c->out = np;
                    c->out_cap = c->out_len + len;
                }
                memcpy(c->out + c->out_len, p, len);
                c->out_len += len;
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

        wp_h2_conn_close(c, 1, 0, 0, CURLE_SEND_ERROR,
                         "Send failure: %s", e == SSL_ERROR_SYSCALL
                         ? strerror(errno) : "TLS error");
        return -1;
    }
}


/* Read what the server sent; -1 when c is gone. */
static int
wp_h2_conn_read(wp_h2_conn_t *c)
{
    int       n, e;
    ssize_t   rv;
    wp_h2_t  *h;

    h = c->h;

    for ( ;; ) {
        ERR_clear_error();
        n = SSL_read(c->ssl, h->rbuf, sizeof(h->rbuf));
        if (n > 0) {
            rv = nghttp2_session_mem_recv(c->sess, h->rbuf, n);
            if (rv < 0) {
                wp_h2_conn_close(c, 1, 0, 0, CURLE_HTTP2,
                                 "HTTP/2 protocol error: %s",
                                 nghttp2_strerror((int) rv));
                return -1;
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

        wp_h2_conn_close(c, 1, 0, 0, CURLE_RECV_ERROR, "%s",
                         e == SSL_ERROR_ZERO_RETURN
                         || (e == SSL_ERROR_SYSCALL && errno == 0)
                         ? "connection closed by the push service"
                         : e == SSL_ERROR_SYSCALL ? strerror(errno)
                         : "TLS error while reading");
        return -1;
    }
}


/* The origin answered ALPN without h2: its requests go back unsent. */
static void
wp_h2_conn_close_no_h2(wp_h2_conn_t *c)
{
    wp_h2_stream_t  *s;

    for (s = c->streams; s != NULL; s = s->next) {
        wp_h2_report(s, "the push service does not speak HTTP/2",
                     CURLE_HTTP2, 0, 0, 1, 1);
    }

    wp_h2_conn_close(c, 0, 0, 0, CURLE_OK, "no h2");
}


/* Move a connection in set-up along; -1 when c is gone. */
static int
wp_h2_conn_setup(wp_h2_conn_t *c, int64_t now)
{
    int                   e, rc;
    long                  vr;
    socklen_t             elen;
    unsigned int          alen;
    struct pollfd         pfd;
    const unsigned char  *alpn;

    if (now >= c->connect_deadline_ms) {
        if (c->connect_deadline_ms == 0) {      /* resolve/dial failed */
            wp_h2_conn_close(c, 1, 0, 0, CURLE_COULDNT_CONNECT, "%s",
                             (char *) c->out);
        } else {
            wp_h2_conn_close(c, 1, 1, 0, CURLE_OPERATION_TIMEDOUT,
                             "Connection timed out after %lld milliseconds",
                             (long long) c->h->opts.connect_timeout_ms);
        }
        return -1;
    }

    if (c->state == WP_H2_CONNECTING) {
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
            c->ai_cur = c->ai_cur->ai_next;
            if (wp_h2_conn_dial(c, &e) != 0) {
                wp_h2_conn_close(c, 1, 0, 0, CURLE_COULDNT_CONNECT,
                                 "Failed to connect to %s: %s", c->origin,
                                 strerror(e));
                return -1;
            }
            return 0;
        }

        SSL_set_fd(c->ssl, c->fd);
        SSL_set_connect_state(c->ssl);
        c->state = WP_H2_HANDSHAKE;
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
            wp_h2_conn_close(c, 1, 0, 1, CURLE_PEER_FAILED_VERIFICATION,
                             "SSL certificate problem: %s",
                             X509_verify_cert_error_string(vr));
        } else {
            wp_h2_conn_close(c, 1, 0, 1, CURLE_SSL_CONNECT_ERROR,
                             "TLS handshake with %s failed: %s", c->origin,
                             ERR_peek_error() ? ERR_reason_error_string(
                                 ERR_peek_error()) : "connection closed");
        }
        return -1;
    }

    c->want_write = 0;
    SSL_get0_alpn_selected(c->ssl, &alpn, &alen);

    if (alen != 2 || memcmp(alpn, "h2", 2) != 0) {
        wp_h2_conn_close_no_h2(c);
        return -1;
    }

    c->state = WP_H2_OPEN;

    return 0;
}


/* Add one request header; the names are static lowercase strings. */
static int
wp_h2_nv(nghttp2_nv *nv, size_t *n, const char *name, const char *value,
    size_t vlen, wp_err_t *err)
{
    if (memchr(value, '\r', vlen) != NULL || memchr(value, '\n', vlen) != NULL
        || memchr(value, '\0', vlen) != NULL)
    {
        return wp_err_set(err, WP_E_BAD_VALUE, name,
                          "%s header value holds a line break", name);
    }

    nv[*n].name = (uint8_t *) name;
    nv[*n].namelen = strlen(name);
    nv[*n].value = (uint8_t *) value;
    nv[*n].valuelen = vlen;
    nv[*n].flags = NGHTTP2_NV_FLAG_NO_COPY_NAME;
    (*n)++;

    return 0;
}


/* A connection to url's origin with a free stream, opened if needed. */
static wp_h2_conn_t *
wp_h2_conn_pick(wp_h2_t *h, const wp_url_t *url, int64_t now, wp_err_t *err)
{
    int            nconns, again;
    uint32_t       limit;
    wp_h2_conn_t  *c, *least;

    for (again = 0; again < 2; again++) {
        nconns = 0;
        least = NULL;

        for (c = h->conns; c != NULL; c = c->next) {
            if (c->state == WP_H2_DRAINING
                || strcmp(c->origin, url->origin) != 0)
            {
                continue;
            }

            nconns++;
            limit = nghttp2_session_get_remote_settings(c->sess,
                                NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);

            if ((uint32_t) c->nstreams < limit) {
                break;
            }

            if (least == NULL || c->nstreams < least->nstreams) {
                least = c;
            }
        }

        if (c == NULL) {
            /* every connection is full: open one more, or queue (nghttp2
             * holds streams beyond the server's limit) */
            return nconns < WP_H2_MAX_CONNS ? wp_h2_conn_open(h, url, now, err)
                                            : least;
        }

        /*
         * An idle connection may have been closed by the server since the
         * last batch (GOAWAY, EOF): read that first, not after writing.
         */
        if (c->nstreams > 0 || c->state != WP_H2_OPEN
            || wp_h2_conn_read(c) == 0)
        {
            return c;
        }
    }

    return wp_h2_conn_open(h, url, now, err);
}


int
wp_h2_submit(wp_h2_t *h, const wp_url_t *url, const wp_push_req_t *req,
    void *data, int64_t now_ms, wp_err_t *err)
{
    char                   ttl[24], clen[24];
    size_t                 n;
    int32_t                id;
    const char            *authority, *path;
    nghttp2_nv             nv[14];
    wp_h2_conn_t          *c;
    wp_h2_stream_t        *s;
    nghttp2_data_provider  prd;

    if (req->authorization == NULL || req->ttl < 0) {
        return wp_err_set(err, WP_E_BAD_VALUE, "",
                          "push request without authorization or a valid"
                          " ttl");
    }

    snprintf(ttl, sizeof(ttl), "%lld", (long long) req->ttl);
    snprintf(clen, sizeof(clen), "%zu", req->body_len);
    authority = url->origin + sizeof("https://") - 1;
    path = url->path_len ? req->endpoint + url->path_off : "/";

    n = 0;
    if (wp_h2_nv(nv, &n, ":method", "POST", 4, err) != 0
        || wp_h2_nv(nv, &n, ":scheme", "https", 5, err) != 0
        || wp_h2_nv(nv, &n, ":authority", authority, strlen(authority), err)
           != 0
        || wp_h2_nv(nv, &n, ":path", path, url->path_len ? url->path_len : 1,
                    err) != 0
        || wp_h2_nv(nv, &n, "user-agent", h->opts.user_agent
                    ? h->opts.user_agent : "ngx_webpush",
                    strlen(h->opts.user_agent ? h->opts.user_agent
                                              : "ngx_webpush"), err) != 0
        || wp_h2_nv(nv, &n, "ttl", ttl, strlen(ttl), err) != 0
        || (req->urgency != NULL
            && wp_h2_nv(nv, &n, "urgency", req->urgency,
                        strlen(req->urgency), err) != 0)
        || (req->topic != NULL && req->topic[0] != '\0'
            && wp_h2_nv(nv, &n, "topic", req->topic, strlen(req->topic),
                        err) != 0)
        || wp_h2_nv(nv, &n, "authorization", req->authorization,
                    strlen(req->authorization), err) != 0
        || wp_h2_nv(nv, &n, "content-length", clen, strlen(clen), err) != 0
        || (req->body_len > 0
            && (wp_h2_nv(nv, &n, "content-type", "application/octet-stream",
                         24, err) != 0
                || wp_h2_nv(nv, &n, "content-encoding", "aes128gcm", 9, err)
                   != 0)))
    {
        return -1;
    }

    c = wp_h2_conn_pick(h, url, now_ms, err);
    if (c == NULL) {
        return -1;
    }

    s = h->free_streams;
    if (s != NULL) {
        h->free_streams = s->next;
    } else {
        s = malloc(sizeof(wp_h2_stream_t));
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
    s->sent = 0;
    s->started_ms = now_ms;
    s->deadline_ms = now_ms + h->opts.timeout_ms;
    s->body = req->body;
    s->body_len = req->body_len;
    s->body_off = 0;
    s->status = 0;
    s->retry_after = -1;
    s->rbody_len = 0;
    s->rbody[0] = '\0';
    s->rbody_truncated = 0;
    s->location[0] = '\0';

    prd.source.ptr = s;
    prd.read_callback = wp_h2_read_body;

    id = nghttp2_submit_request(c->sess, NULL, nv, n,
                                req->body_len ? &prd : NULL, s);
    if (id < 0) {
        s->data = NULL;
        wp_h2_stream_unlink(s);
        return wp_err_set(err, WP_E_INTERNAL, "", "HTTP/2: %s",
                          nghttp2_strerror(id));
    }

    s->id = id;
    h->pending++;
    if (s->deadline_ms < h->next_deadline_ms) {
        h->next_deadline_ms = s->deadline_ms;
    }

    return 0;
}


int
wp_h2_fds(wp_h2_t *h, struct curl_waitfd *fds, int cap, int64_t *deadline)
{
    int            n;
    wp_h2_conn_t  *c;

    n = 0;

    for (c = h->conns; c != NULL; c = c->next) {
        if (c->state < WP_H2_OPEN && c->connect_deadline_ms < *deadline) {
            *deadline = c->connect_deadline_ms;
        }

        if (c->fd < 0 || n == cap) {
            continue;
        }

        fds[n].fd = c->fd;
        fds[n].events = c->state == WP_H2_CONNECTING ? CURL_WAIT_POLLOUT
                        : CURL_WAIT_POLLIN
                          | (c->want_write ? CURL_WAIT_POLLOUT : 0);
        fds[n].revents = 0;
        n++;
    }

    if (h->pending > 0 && h->next_deadline_ms < *deadline) {
        *deadline = h->next_deadline_ms;
    }

    return n;
}


/* Answer the requests whose total timeout has passed. */
static void
wp_h2_timeouts(wp_h2_t *h, int64_t now)
{
    char             msg[96];
    int64_t          next;
    wp_h2_conn_t    *c;
    wp_h2_stream_t  *s;

    next = INT64_MAX;
    snprintf(msg, sizeof(msg), "Operation timed out after %lld milliseconds",
             (long long) h->opts.timeout_ms);

    for (c = h->conns; c != NULL; c = c->next) {
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

            wp_h2_report(s, msg, CURLE_OPERATION_TIMEDOUT, 1, 0, 0, 0);

            /* the stream closes (and is unlinked) when the reset is out */
            if (c->state >= WP_H2_OPEN) {
                (void) nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE,
                                                 s->id, NGHTTP2_CANCEL);
            }
        }
    }

    h->next_deadline_ms = next;
}


int
wp_h2_io(wp_h2_t *h, int64_t now)
{
    wp_h2_conn_t  *c, *next;

    h->now_ms = now;
    h->ndone = 0;

    if (now >= h->next_deadline_ms) {
        wp_h2_timeouts(h, now);
    }

    for (c = h->conns; c != NULL; c = next) {
        next = c->next;

        if (c->state < WP_H2_OPEN
            && (wp_h2_conn_setup(c, now) != 0 || c->state < WP_H2_OPEN))
        {
            continue;
        }

        if (wp_h2_conn_read(c) != 0 || wp_h2_conn_flush(c) != 0) {
            continue;
        }

        if (!nghttp2_session_want_read(c->sess)
            && !nghttp2_session_want_write(c->sess))
        {
            /* GOAWAY done and every stream closed, or a fatal error */
            wp_h2_conn_close(c, 1, 0, 0, CURLE_HTTP2,
                             "HTTP/2 connection ended by the push service");

        } else if (c->state == WP_H2_DRAINING && c->nstreams == 0) {
            wp_h2_conn_close(c, 0, 0, 0, CURLE_OK, "drained");
        }
    }

    return h->ndone;
}
