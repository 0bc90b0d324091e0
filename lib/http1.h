/*
 * ngx_webpush: an HTTP/1.1 response parser for the sender's own client
 * (sender/h2.c sends to push services without h2 over keep-alive
 * connections).  No I/O: bytes are fed as they arrive, in any pieces.
 *
 * What it accepts (RFC 9112): a status line "HTTP/1.x NNN reason",
 * header lines, then a body framed by Transfer-Encoding: chunked, by
 * Content-Length, or by the end of the connection; 1xx interim answers
 * are skipped; 204 and 304 have no body.  The body is kept up to the
 * caller's buffer size (the start of an error page is all the sender
 * logs) and the rest is counted and dropped.  Anything else is an error:
 * the connection cannot be trusted for another request.
 */

#ifndef WP_HTTP1_H
#define WP_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#include "wp_err.h"

#define WP_HTTP1_MAX_HEAD  8192     /* status line + headers */

typedef struct {
    /* results */
    long      status;               /* final status code */
    int       done;                 /* the whole response is in */
    int       keep_alive;           /* the connection may carry another */
    char      retry_after[64];      /* raw Retry-After value, "" none */
    char      location[1024];       /* raw Location value, "" none */
    char      wns_error[256];       /* X-WNS-Error-Description, "" none */
    char     *body;                 /* caller's buffer, NUL-terminated */
    size_t    body_cap;             /* its size, NUL included */
    size_t    body_len;
    int       body_truncated;

    /* parser state */
    int       state;
    int       until_close;          /* body ends with the connection */
    int64_t   left;                 /* bytes left in body or chunk */
    size_t    head_len;
    char      head[WP_HTTP1_MAX_HEAD];
} wp_http1_resp_t;

/* Ready r for the response to one request; body may be NULL (cap 0). */
void wp_http1_init(wp_http1_resp_t *r, char *body, size_t body_cap);

/*
 * Feed len bytes.  Returns the number of bytes used (fewer than len when
 * the response ended: the rest would belong to a next response), or -1
 * (err WP_E_BAD_VALUE, field "response") when the bytes are not a valid
 * response.
 */
long wp_http1_feed(wp_http1_resp_t *r, const char *data, size_t len,
    wp_err_t *err);

/*
 * The connection ended.  Returns 0 when that completes the response (a
 * body framed by the connection's end), -1 when it was cut short.
 */
int wp_http1_eof(wp_http1_resp_t *r);

/* Any byte of a response seen yet? */
int wp_http1_started(const wp_http1_resp_t *r);

#endif /* WP_HTTP1_H */
