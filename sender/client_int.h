/*
 * Inside the sender's HTTP client (client.h): connections and requests,
 * shared by client.c (connections, TLS, timeouts, the I/O loop), h2.c
 * (HTTP/2 framing through nghttp2) and h1.c (HTTP/1.1 framing).
 */

#ifndef WP_CLIENT_INT_H
#define WP_CLIENT_INT_H

#include <netdb.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "client.h"
#include "dnscache.h"
#include "http1.h"
#include "tls_session.h"
#include "resolve.h"

#define WP_CLIENT_OUT_BATCH  65536      /* plaintext gathered per write */
#define WP_CLIENT_READ_BUF   32768
#define WP_STREAM_RBODY_SMALL  256      /* answer body kept in the stream */

typedef enum {
    WP_CONN_RESOLVING = 0,      /* waiting on its host's lookup */
    WP_CONN_CONNECTING,         /* TCP connect in progress */
    WP_CONN_HANDSHAKE,          /* TLS handshake */
    WP_CONN_OPEN,
    WP_CONN_DRAINING            /* GOAWAY seen: no new streams */
} wp_conn_state_t;

typedef struct wp_conn_s    wp_conn_t;
typedef struct wp_stream_s  wp_stream_t;

/* One request: an HTTP/2 stream, or the HTTP/1.1 request of a conn. */
struct wp_stream_s {
    wp_stream_t      *prev, *next;      /* the connection's streams */
    wp_conn_t        *c;
    void             *data;             /* NULL once reported */
    int32_t           id;               /* HTTP/2 stream id */
    int               sent;             /* written (h2: its HEADERS) */
    int64_t           started_ms;
    int64_t           deadline_ms;
    const uint8_t    *body;             /* request body (h2 DATA) */
    size_t            body_len;
    size_t            body_off;
    long              status;
    int64_t           retry_after;
    size_t            rbody_len;
    int               rbody_truncated;
    /*
     * The answer's body: most are empty or a few bytes, so a small buffer
     * of its own, and WP_DELIVER_MAX_BODY only when one needs it (kept
     * with the stream for reuse); a few thousand streams in flight would
     * otherwise hold 4 KB each for nothing.
     */
    char             *rbody;            /* rbody_small, rbody_big, or the
                                           HTTP/1.1 connection's buffer */
    char             *rbody_big;
    char              rbody_small[WP_STREAM_RBODY_SMALL];
    char              location[256];
    char              wns_error[256];   /* X-WNS-Error-Description */
};

struct wp_conn_s {
    wp_conn_t        *next;
    wp_client_t      *cl;
    char              origin[sizeof(((wp_url_t *) 0)->origin)];
    int               fd;
    SSL              *ssl;
    int               http1;            /* HTTP/1.1 framing (h1.c) */
    nghttp2_session  *sess;             /* HTTP/2 framing (h2.c) */
    int               settings_seen;    /* the server's SETTINGS arrived */
    wp_http1_resp_t  *h1;               /* HTTP/1.1 answer parser */
    char             *h1_body;          /* its body buffer, MAX_BODY + 1 */
    wp_conn_state_t   state;
    int64_t           connect_deadline_ms;
    int               want_write;       /* a write waits for POLLOUT */
    int               readable;         /* epoll said so: worth a read */
    int               watched_fd;       /* fd in the epoll set, -1 none */
    int               idle;             /* in cl->idle1 (HTTP/1.1) */
    wp_conn_t        *idle_prev, *idle_next;
    uint32_t          watched;          /* its events there */
    int               dead;             /* close after this round */
    int               requests;         /* requests carried so far */
    int64_t           used_ms;          /* last request started or ended */
    int               nstreams;
    wp_stream_t      *streams;
    char              host[WP_HOST_MAX + 1];  /* unbracketed */
    unsigned          port;
    wp_dns_addr_t     addrs[WP_DNS_MAX_ADDRS];
    int               naddrs, addr_cur;       /* to dial, the one tried */
    uint8_t          *out;              /* plaintext waiting for SSL_write */
    size_t            out_len, out_off, out_cap;
    char              error[512];       /* resolve/connect failure */
};

struct wp_client_s {
    wp_deliver_opts_t           opts;
    SSL_CTX                    *ctx;
    nghttp2_session_callbacks  *cbs;
    nghttp2_option             *nopt;
    wp_client_done_pt           done;
    void                       *done_ctx;
    wp_conn_t                  *conns;
    wp_stream_t                *free_streams;
    int                         pending;
    int                         ndone;      /* done calls this round */
    int64_t                     next_deadline_ms;
    int64_t                     now_ms;
    int                         epfd;       /* every connection's fd,
                                               and the resolver's */
    wp_resolve_t               *res;
    wp_tls_sessions_t           sessions;   /* to resume, per origin */
    wp_conn_t                  *idle1;      /* idle HTTP/1.1 connections */
    uint8_t                     rbuf[WP_CLIENT_READ_BUF];
};

/* client.c */
void wp_stream_report(wp_stream_t *s, const char *error, CURLcode code,
    int timed_out, int tls_failed, int no_h2, int resend);
void wp_stream_unlink(wp_stream_t *s);
void wp_conn_close(wp_conn_t *c, int report, int timed_out, int tls_failed,
    CURLcode code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Room for n more plaintext bytes in c->out; -1 out of memory. */
int wp_conn_reserve(wp_conn_t *c, size_t n);
/* A header value that may go on the wire (no CR, LF or NUL). */
int wp_client_header_ok(const char *name, const char *value, size_t len,
    wp_err_t *err);

/* h2.c */
int wp_h2_setup(wp_client_t *cl, wp_err_t *err);
void wp_h2_cleanup(wp_client_t *cl);
int wp_h2_conn_init(wp_conn_t *c, wp_err_t *err);
int wp_h2_has_room(wp_conn_t *c);
int wp_h2_submit(wp_conn_t *c, wp_stream_t *s, const wp_url_t *url,
    const wp_push_req_t *req, const char *user_agent, wp_err_t *err);
/* Move nghttp2's output into c->out; -1 when c was closed. */
int wp_h2_fill(wp_conn_t *c);
/* Bytes from the server; -1 when c was closed. */
int wp_h2_input(wp_conn_t *c, const uint8_t *data, size_t len);
void wp_h2_cancel(wp_conn_t *c, wp_stream_t *s);
/* The session has nothing left to do (GOAWAY done, or failed). */
int wp_h2_finished(wp_conn_t *c);

/* h1.c */
int wp_h1_conn_init(wp_conn_t *c, wp_err_t *err);
int wp_h1_submit(wp_conn_t *c, wp_stream_t *s, const wp_url_t *url,
    const wp_push_req_t *req, const char *user_agent, wp_err_t *err);
/* Bytes from the server; -1 when c was closed. */
int wp_h1_input(wp_conn_t *c, const uint8_t *data, size_t len);
/* The server closed the connection (c is closed on return). */
void wp_h1_eof(wp_conn_t *c);

#endif /* WP_CLIENT_INT_H */
