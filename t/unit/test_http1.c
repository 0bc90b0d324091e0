/*
 * Unit tests for lib/http1.c: the incremental HTTP/1.1 response parser.
 * Every response is fed whole, one byte at a time and in every 2-way
 * split; the outcome must be identical whatever the pieces, because the
 * sender feeds bytes as TLS records happen to arrive.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"
#include "tap.h"


#define BODY_CAP  256

/* Everything a user of the parser looks at after feeding one response. */
typedef struct {
    long         rc;                /* bytes used in all, or -1 */
    int          done;
    int          keep_alive;
    int          truncated;
    int          eof;               /* wp_http1_eof() after the bytes */
    int          nul_ok;            /* body NUL-terminated, under cap */
    long         status;
    size_t       body_len;
    char         body[BODY_CAP];
    char         retry_after[64];
    char         location[1024];
    char         wns_error[256];
    const char  *code;
    char         field[64];
} outcome_t;

/* What a case expects; zero values are the common ones. */
typedef struct {
    const char  *name;
    const char  *resp;
    int          bad;               /* -1, invalid_value, "response" */
    size_t       rest;              /* bytes left for a next response */
    long         status;
    int          done;
    int          keep_alive;
    const char  *body;              /* NULL: "" */
    int          truncated;
    int          eof;               /* 0 or -1 */
    const char  *retry_after;       /* NULL: "" */
    const char  *location;          /* NULL: "" */
    const char  *wns_error;         /* NULL: "" */
    size_t       cap;               /* 0: BODY_CAP; (size_t) -1: NULL, 0 */
} case_t;


/* Record what a user of r sees once feeding stopped (rc: used, or -1). */
static void
outcome(wp_http1_resp_t *r, long rc, const wp_err_t *err, outcome_t *o)
{
    memset(o, 0, sizeof(*o));
    o->rc = rc;
    o->done = r->done;
    o->keep_alive = r->keep_alive;
    o->truncated = r->body_truncated;
    o->status = r->status;
    o->body_len = r->body_len;
    o->nul_ok = r->body_cap == 0
                ? r->body_len == 0
                : r->body_len < r->body_cap && r->body[r->body_len] == '\0';
    if (r->body != NULL && r->body_len < sizeof(o->body)) {
        memcpy(o->body, r->body, r->body_len);
    }
    memcpy(o->retry_after, r->retry_after, sizeof(o->retry_after));
    memcpy(o->location, r->location, sizeof(o->location));
    memcpy(o->wns_error, r->wns_error, sizeof(o->wns_error));

    if (rc < 0) {
        o->code = err->code;
        memcpy(o->field, err->field, sizeof(o->field));
        o->eof = -2;                /* not asked after an error */
    } else {
        o->eof = wp_http1_eof(r);
    }
}


/*
 * Feed s in pieces: cut[] holds the piece ends, the last being its
 * length.  Stops at an error or once the response is done, as the sender
 * does.
 */
static void
feed_pieces(const char *s, const size_t *cut, size_t ncut, char *body,
    size_t cap, outcome_t *o)
{
    long              rc, used;
    size_t            i, from;
    wp_err_t          err;
    wp_http1_resp_t  *r;

    r = malloc(sizeof(*r));
    if (r == NULL) {
        abort();
    }

    /* Stale results from an earlier response must not leak through. */
    memset(r, 0x5a, sizeof(*r));
    wp_http1_init(r, body, cap);

    used = 0;
    from = 0;
    memset(&err, 0, sizeof(err));

    for (i = 0; i < ncut; i++) {
        rc = wp_http1_feed(r, s + from, cut[i] - from, &err);
        if (rc < 0) {
            used = -1;
            break;
        }
        if (rc > (long) (cut[i] - from)) {
            used = -3;              /* more than it was given */
            break;
        }
        used += rc;
        from = cut[i];
        if (r->done) {
            break;
        }
    }

    outcome(r, used, &err, o);
    free(r);
}


static void
feed_whole(const char *s, size_t n, size_t cap, outcome_t *o)
{
    char    *body;

    body = cap ? malloc(cap) : NULL;
    feed_pieces(s, &n, 1, body, cap, o);
    free(body);
}


static void
feed_split(const char *s, size_t n, size_t at, size_t cap, outcome_t *o)
{
    char    *body;
    size_t   cut[2];

    body = cap ? malloc(cap) : NULL;
    cut[0] = at;
    cut[1] = n;
    feed_pieces(s, cut, 2, body, cap, o);
    free(body);
}


static void
feed_bytes(const char *s, size_t n, size_t cap, outcome_t *o)
{
    char    *body;
    size_t   i, *cut;

    body = cap ? malloc(cap) : NULL;
    cut = malloc((n + 1) * sizeof(size_t));
    if (cut == NULL) {
        abort();
    }
    for (i = 0; i < n; i++) {
        cut[i] = i + 1;
    }
    feed_pieces(s, cut, n, body, cap, o);
    free(cut);
    free(body);
}


static int
same(const outcome_t *a, const outcome_t *b)
{
    return a->rc == b->rc && a->done == b->done
           && a->keep_alive == b->keep_alive && a->truncated == b->truncated
           && a->eof == b->eof && a->nul_ok == b->nul_ok
           && a->status == b->status && a->body_len == b->body_len
           && memcmp(a->body, b->body, sizeof(a->body)) == 0
           && strcmp(a->retry_after, b->retry_after) == 0
           && strcmp(a->location, b->location) == 0
           && strcmp(a->wns_error, b->wns_error) == 0
           && a->code == b->code && strcmp(a->field, b->field) == 0;
}


static void
show(const char *how, const outcome_t *o)
{
    printf("#   %s: rc %ld done %d status %ld keep_alive %d body_len %zu"
           " truncated %d eof %d nul_ok %d code %s field '%s'\n"
           "#     body '%.*s' retry_after '%s' location '%s'"
           " wns_error '%s'\n",
           how, o->rc, o->done, o->status, o->keep_alive, o->body_len,
           o->truncated, o->eof, o->nul_ok, o->code ? o->code : "(none)",
           o->field, (int) (o->body_len < BODY_CAP ? o->body_len : 0),
           o->body, o->retry_after, o->location, o->wns_error);
}


/* Does o meet what c expects from a response of n bytes? */
static int
meets(const case_t *c, size_t n, const outcome_t *o)
{
    const char  *body;
    size_t       blen;

    if (!o->nul_ok) {
        return 0;
    }

    if (c->bad) {
        return o->rc == -1 && o->code != NULL
               && strcmp(o->code, WP_E_BAD_VALUE) == 0
               && strcmp(o->field, "response") == 0;
    }

    body = c->body ? c->body : "";
    blen = strlen(body);

    return o->rc == (long) (n - c->rest) && o->done == c->done
           && o->status == c->status && o->keep_alive == c->keep_alive
           && o->body_len == blen && memcmp(o->body, body, blen) == 0
           && o->truncated == c->truncated && o->eof == c->eof
           && strcmp(o->retry_after,
                     c->retry_after ? c->retry_after : "") == 0
           && strcmp(o->location, c->location ? c->location : "") == 0
           && strcmp(o->wns_error, c->wns_error ? c->wns_error : "") == 0;
}


/* One case, in all the ways of feeding it: three test points. */
static void
run_case(const case_t *c, const char *s, size_t n)
{
    int        all;
    size_t     cap, at;
    outcome_t  whole, o;

    cap = c->cap ? c->cap : BODY_CAP;
    if (cap == (size_t) -1) {
        cap = 0;                    /* no body buffer at all */
    }

    feed_whole(s, n, cap, &whole);
    ok(meets(c, n, &whole), "%s: fed whole", c->name);
    if (!meets(c, n, &whole)) {
        show("whole", &whole);
    }

    feed_bytes(s, n, cap, &o);
    ok(same(&o, &whole), "%s: byte by byte, the same", c->name);
    if (!same(&o, &whole)) {
        show("bytes", &o);
    }

    all = 1;
    for (at = 0; at <= n; at++) {
        feed_split(s, n, at, cap, &o);
        if (!same(&o, &whole)) {
            if (all) {
                printf("#   first differing split at %zu\n", at);
                show("split", &o);
            }
            all = 0;
        }
    }
    ok(all, "%s: all %zu 2-way splits, the same", c->name, n + 1);
}


static const case_t  cases[] = {

    /* ---- plain answers ------------------------------------------------ */

    { .name = "201 Content-Length: 0",
      .resp = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
      .status = 201, .done = 1, .keep_alive = 1 },

    { .name = "201 with a small body",
      .resp = "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\n"
              "Content-Length: 5\r\n\r\nhello",
      .status = 201, .done = 1, .keep_alive = 1, .body = "hello" },

    { .name = "no reason phrase",
      .resp = "HTTP/1.1 201\r\nContent-Length: 0\r\n\r\n",
      .status = 201, .done = 1, .keep_alive = 1 },

    { .name = "empty reason phrase",
      .resp = "HTTP/1.1 410 \r\nContent-Length: 4\r\n\r\ngone",
      .status = 410, .done = 1, .keep_alive = 1, .body = "gone" },

    { .name = "bare LF line ends",
      .resp = "HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
      .status = 200, .done = 1, .keep_alive = 1, .body = "ok" },

    /*
     * Bare LF header lines closed by a CRLF empty line: the empty line
     * ends the header block; the body must not be read as headers.
     */
    { .name = "LF header lines, CRLF empty line",
      .resp = "HTTP/1.1 200 OK\nContent-Length: 5\n\r\nhello",
      .status = 200, .done = 1, .keep_alive = 1, .body = "hello" },

    { .name = "header names are case-insensitive",
      .resp = "HTTP/1.1 201 Created\r\ncOnTeNt-LeNgTh: 3\r\n"
              "CONNECTION: CLOSE\r\nretry-AFTER: 7\r\nLOCATION: /x\r\n\r\nabc",
      .status = 201, .done = 1, .keep_alive = 0, .body = "abc",
      .retry_after = "7", .location = "/x" },

    { .name = "repeated equal Content-Length",
      .resp = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n"
              "Content-Length: 2\r\n\r\nab",
      .status = 201, .done = 1, .keep_alive = 1, .body = "ab" },

    { .name = "control and high bytes in the body are data",
      .resp = "HTTP/1.1 400 Bad\r\nContent-Length: 4\r\n\r\n\xff" "a\x01" "b",
      .status = 400, .done = 1, .keep_alive = 1, .body = "\xff" "a\x01" "b" },

    /* ---- connection reuse -------------------------------------------- */

    { .name = "HTTP/1.0: no keep-alive by default",
      .resp = "HTTP/1.0 201 Created\r\nContent-Length: 0\r\n\r\n",
      .status = 201, .done = 1, .keep_alive = 0 },

    { .name = "HTTP/1.0 with Connection: keep-alive",
      .resp = "HTTP/1.0 201 Created\r\nConnection: Keep-Alive\r\n"
              "Content-Length: 0\r\n\r\n",
      .status = 201, .done = 1, .keep_alive = 1 },

    { .name = "HTTP/1.1 with Connection: close",
      .resp = "HTTP/1.1 201 Created\r\nConnection: close\r\n"
              "Content-Length: 0\r\n\r\n",
      .status = 201, .done = 1, .keep_alive = 0 },

    { .name = "Connection: keep-alive, close",
      .resp = "HTTP/1.1 201 Created\r\nConnection: keep-alive, close\r\n"
              "Content-Length: 0\r\n\r\n",
      .status = 201, .done = 1, .keep_alive = 0 },

    { .name = "HTTP/1.0 Connection: keep-alive, close",
      .resp = "HTTP/1.0 201 Created\r\nConnection: keep-alive,close\r\n"
              "Content-Length: 0\r\n\r\n",
      .status = 201, .done = 1, .keep_alive = 0 },

    /* "close" in any Connection line wins, whatever the order. */
    { .name = "HTTP/1.0 close, then keep-alive on another line",
      .resp = "HTTP/1.0 201 Created\r\nConnection: close\r\n"
              "Connection: keep-alive\r\nContent-Length: 0\r\n\r\n",
      .status = 201, .done = 1, .keep_alive = 0 },

    { .name = "Connection: Upgrade, TE (no close)",
      .resp = "HTTP/1.1 201 Created\r\nConnection: Upgrade, TE\r\n"
              "Content-Length: 0\r\n\r\n",
      .status = 201, .done = 1, .keep_alive = 1 },

    { .name = "Connection: closed is not close",
      .resp = "HTTP/1.1 201 Created\r\nConnection: closed\r\n"
              "Content-Length: 0\r\n\r\n",
      .status = 201, .done = 1, .keep_alive = 1 },

    /* ---- Retry-After and Location ------------------------------------ */

    { .name = "429 Retry-After seconds, trimmed",
      .resp = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: \t 120 \t\r\n"
              "Content-Length: 0\r\n\r\n",
      .status = 429, .done = 1, .keep_alive = 1, .retry_after = "120" },

    { .name = "503 Retry-After HTTP-date",
      .resp = "HTTP/1.1 503 Service Unavailable\r\n"
              "Retry-After:Fri, 31 Dec 1999 23:59:59 GMT\r\n"
              "Content-Length: 0\r\n\r\n",
      .status = 503, .done = 1, .keep_alive = 1,
      .retry_after = "Fri, 31 Dec 1999 23:59:59 GMT" },

    { .name = "201 Location, trimmed",
      .resp = "HTTP/1.1 201 Created\r\n"
              "Location:   https://push.example/m/abc-123?x=1  \r\n"
              "Content-Length: 0\r\n\r\n",
      .status = 201, .done = 1, .keep_alive = 1,
      .location = "https://push.example/m/abc-123?x=1" },

    { .name = "WNS: X-WNS-Error-Description kept, trimmed",
      .resp = "HTTP/1.1 410 Gone\r\nX-WNS-Status: dropped\r\n"
              "x-wns-error-description:  Domain Blocked \r\n"
              "Content-Length: 0\r\n\r\n",
      .status = 410, .done = 1, .keep_alive = 1,
      .wns_error = "Domain Blocked" },

    { .name = "empty Location value",
      .resp = "HTTP/1.1 201 Created\r\nLocation:\r\n"
              "Content-Length: 0\r\n\r\n",
      .status = 201, .done = 1, .keep_alive = 1 },

    { .name = "Retry-After too long for its buffer is dropped",
      .resp = "HTTP/1.1 503 x\r\nRetry-After: 0123456789012345678901234567"
              "890123456789012345678901234567890123456789\r\n"
              "Content-Length: 0\r\n\r\n",
      .status = 503, .done = 1, .keep_alive = 1 },

    { .name = "X-Retry-After and Locations are other headers",
      .resp = "HTTP/1.1 201 Created\r\nX-Retry-After: 5\r\n"
              "Locations: /a\r\nContent-Length: 0\r\n\r\n",
      .status = 201, .done = 1, .keep_alive = 1 },

    /* ---- chunked ----------------------------------------------------- */

    { .name = "chunked, several chunks",
      .resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n",
      .status = 200, .done = 1, .keep_alive = 1, .body = "hello world" },

    { .name = "chunked, extensions, upper and lower hex",
      .resp = "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: Chunked\r\n\r\n"
              "A;a=b\r\n0123456789\r\nb ; name=\"v\"\r\nabcdefghijk\r\n"
              "0;last\r\n\r\n",
      .status = 400, .done = 1, .keep_alive = 1,
      .body = "0123456789abcdefghijk" },

    { .name = "chunked, leading zeros in size",
      .resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "0003\r\nabc\r\n000\r\n\r\n",
      .status = 200, .done = 1, .keep_alive = 1, .body = "abc" },

    { .name = "chunked, trailers",
      .resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "3\r\nabc\r\n0\r\nX-Trailer: 1\r\nX-Other: two\r\n\r\n",
      .status = 200, .done = 1, .keep_alive = 1, .body = "abc" },

    { .name = "chunked wins over Content-Length",
      .resp = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n"
              "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      .status = 200, .done = 1, .keep_alive = 1, .body = "abc" },

    { .name = "chunked, bare LF lines",
      .resp = "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n"
              "2\nab\n0\n\n",
      .status = 200, .done = 1, .keep_alive = 1, .body = "ab" },

    { .name = "chunked with Connection: close",
      .resp = "HTTP/1.1 500 Oops\r\nConnection: close\r\n"
              "Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
      .status = 500, .done = 1, .keep_alive = 0, .body = "ab" },

    /* RFC 9112 6.3: chunked not last, the body runs to the close. */
    { .name = "Transfer-Encoding: chunked, gzip: until close",
      .resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
              "3\r\nabc\r\n0\r\n\r\n",
      .status = 200, .done = 0, .keep_alive = 0,
      .body = "3\r\nabc\r\n0\r\n\r\n" },

    { .name = "Transfer-Encoding: gzip, chunked",
      .resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
              "3\r\nabc\r\n0\r\n\r\n",
      .status = 200, .done = 1, .keep_alive = 1, .body = "abc" },

    { .name = "chunked on one line, gzip on a later one: until close",
      .resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
              "Transfer-Encoding: gzip\r\n\r\n2\r\nab\r\n0\r\n\r\n",
      .status = 200, .done = 0, .keep_alive = 0,
      .body = "2\r\nab\r\n0\r\n\r\n" },

    { .name = "gzip on one line, chunked on a later one",
      .resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
              "Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
      .status = 200, .done = 1, .keep_alive = 1, .body = "ab" },

    { .name = "Transfer-Encoding: chunked, (empty list element)",
      .resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding:  chunked , \r\n\r\n"
              "2\r\nab\r\n0\r\n\r\n",
      .status = 200, .done = 1, .keep_alive = 1, .body = "ab" },

    { .name = "Transfer-Encoding: xchunked: until close",
      .resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n"
              "2\r\nab\r\n0\r\n\r\n",
      .status = 200, .done = 0, .keep_alive = 0,
      .body = "2\r\nab\r\n0\r\n\r\n" },

    { .name = "Transfer-Encoding: gzip: until close",
      .resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
              "Content-Length: 2\r\n\r\nabcd",
      .status = 200, .done = 0, .keep_alive = 0, .body = "abcd" },

    /* ---- the body buffer --------------------------------------------- */

    { .name = "Content-Length body over the cap: kept up to it",
      .resp = "HTTP/1.1 400 Bad Request\r\nContent-Length: 26\r\n\r\n"
              "abcdefghijklmnopqrstuvwxyz",
      .status = 400, .done = 1, .keep_alive = 1, .body = "abcdefghi",
      .truncated = 1, .cap = 10 },

    { .name = "body exactly cap - 1: not truncated",
      .resp = "HTTP/1.1 400 Bad Request\r\nContent-Length: 9\r\n\r\n"
              "abcdefghi",
      .status = 400, .done = 1, .keep_alive = 1, .body = "abcdefghi",
      .cap = 10 },

    { .name = "chunked body over the cap: kept up to it",
      .resp = "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n"
              "4\r\nabcd\r\n4\r\nefgh\r\n4\r\nijkl\r\n0\r\n\r\n",
      .status = 400, .done = 1, .keep_alive = 1, .body = "abcdef",
      .truncated = 1, .cap = 7 },

    { .name = "until-close body over the cap",
      .resp = "HTTP/1.1 500 Oops\r\n\r\n0123456789",
      .status = 500, .done = 0, .keep_alive = 0, .body = "012",
      .truncated = 1, .cap = 4 },

    { .name = "cap 1: room for the NUL only",
      .resp = "HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nabc",
      .status = 400, .done = 1, .keep_alive = 1, .truncated = 1, .cap = 1 },

    { .name = "no body buffer (NULL, 0)",
      .resp = "HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nabc",
      .status = 400, .done = 1, .keep_alive = 1, .truncated = 1,
      .cap = (size_t) -1 },

    /* ---- interim answers --------------------------------------------- */

    { .name = "100 Continue then 201",
      .resp = "HTTP/1.1 100 Continue\r\n\r\n"
              "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
      .status = 201, .done = 1, .keep_alive = 1 },

    { .name = "100 then 103 Early Hints then 201 with a body",
      .resp = "HTTP/1.1 100 Continue\r\n\r\n"
              "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n"
              "Location: /not-this\r\nRetry-After: 9\r\n\r\n"
              "HTTP/1.1 201 Created\r\nLocation: /m/1\r\n"
              "Content-Length: 2\r\n\r\nok",
      .status = 201, .done = 1, .keep_alive = 1, .body = "ok",
      .location = "/m/1" },

    { .name = "interim with Content-Length has no body",
      .resp = "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n"
              "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
      .status = 201, .done = 1, .keep_alive = 1 },

    { .name = "100 Continue alone: not done, cut short",
      .resp = "HTTP/1.1 100 Continue\r\n\r\n",
      .status = 100, .done = 0, .keep_alive = 1, .eof = -1 },

    /* ---- no body by status ------------------------------------------- */

    { .name = "204 with Content-Length has no body",
      .resp = "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
      .status = 204, .done = 1, .keep_alive = 1 },

    { .name = "204 without framing is done, not until close",
      .resp = "HTTP/1.1 204 No Content\r\n\r\n",
      .status = 204, .done = 1, .keep_alive = 1 },

    { .name = "304 with Transfer-Encoding has no body",
      .resp = "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n"
              "\r\n",
      .status = 304, .done = 1, .keep_alive = 1 },

    { .name = "204: bytes after the head are the next response's",
      .resp = "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc",
      .status = 204, .done = 1, .keep_alive = 1, .rest = 3 },

    /* ---- read until close -------------------------------------------- */

    { .name = "no framing: body until close",
      .resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
              "all of it\r\n\r\nreally",
      .status = 200, .done = 0, .keep_alive = 0,
      .body = "all of it\r\n\r\nreally" },

    { .name = "no framing, empty body",
      .resp = "HTTP/1.1 200 OK\r\n\r\n",
      .status = 200, .done = 0, .keep_alive = 0 },

    /* ---- leftovers --------------------------------------------------- */

    { .name = "Content-Length: bytes after the body are left",
      .resp = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nokHTTP/1.1",
      .status = 201, .done = 1, .keep_alive = 1, .body = "ok", .rest = 8 },

    { .name = "chunked: bytes after the last chunk are left",
      .resp = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
              "2\r\nok\r\n0\r\n\r\nHTTP/1.1 201",
      .status = 201, .done = 1, .keep_alive = 1, .body = "ok", .rest = 12 },

    /* ---- cut short: eof ---------------------------------------------- */

    { .name = "cut in the status line",
      .resp = "HTTP/1.1 20",
      .eof = -1 },

    { .name = "cut in the headers",
      .resp = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n",
      .eof = -1 },

    { .name = "cut in a Content-Length body",
      .resp = "HTTP/1.1 400 Bad\r\nContent-Length: 10\r\n\r\nabc",
      .status = 400, .done = 0, .keep_alive = 1, .body = "abc", .eof = -1 },

    { .name = "cut in a chunk",
      .resp = "HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n"
              "5\r\nab",
      .status = 400, .done = 0, .keep_alive = 1, .body = "ab", .eof = -1 },

    { .name = "cut after the last chunk, before the trailer end",
      .resp = "HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n"
              "2\r\nab\r\n0\r\n",
      .status = 400, .done = 0, .keep_alive = 1, .body = "ab", .eof = -1 },

    { .name = "cut between chunks",
      .resp = "HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n"
              "2\r\nab\r\n",
      .status = 400, .done = 0, .keep_alive = 1, .body = "ab", .eof = -1 },

    { .name = "nothing at all",
      .resp = "",
      .eof = -1 },

    /* ---- errors ------------------------------------------------------ */

    { .name = "garbage status line",
      .resp = "<html>Bad Gateway</html>\r\n\r\n", .bad = 1 },

    { .name = "HTTP/2 200",
      .resp = "HTTP/2 200\r\n\r\n", .bad = 1 },

    { .name = "HTTP/1.2",
      .resp = "HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n", .bad = 1 },

    { .name = "lower-case http/1.1",
      .resp = "http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", .bad = 1 },

    { .name = "status 2x1",
      .resp = "HTTP/1.1 2x1 OK\r\nContent-Length: 0\r\n\r\n", .bad = 1 },

    { .name = "four-digit status",
      .resp = "HTTP/1.1 2010 OK\r\nContent-Length: 0\r\n\r\n", .bad = 1 },

    { .name = "two-digit status",
      .resp = "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n", .bad = 1 },

    { .name = "status 099",
      .resp = "HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n", .bad = 1 },

    { .name = "leading empty line",
      .resp = "\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
      .bad = 1 },

    { .name = "header line without colon",
      .resp = "HTTP/1.1 201 Created\r\nContent-Length 0\r\n\r\n", .bad = 1 },

    { .name = "header line with an empty name",
      .resp = "HTTP/1.1 201 Created\r\n: x\r\nContent-Length: 0\r\n\r\n",
      .bad = 1 },

    { .name = "folded header line",
      .resp = "HTTP/1.1 201 Created\r\nX-A: 1\r\n 2\r\n"
              "Content-Length: 0\r\n\r\n", .bad = 1 },

    { .name = "folded header line (tab)",
      .resp = "HTTP/1.1 201 Created\r\nX-A: 1\r\n\t2\r\n"
              "Content-Length: 0\r\n\r\n", .bad = 1 },

    { .name = "conflicting Content-Lengths",
      .resp = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n"
              "Content-Length: 3\r\n\r\nabc", .bad = 1 },

    { .name = "non-numeric Content-Length",
      .resp = "HTTP/1.1 201 Created\r\nContent-Length: abc\r\n\r\n",
      .bad = 1 },

    { .name = "signed Content-Length",
      .resp = "HTTP/1.1 201 Created\r\nContent-Length: +2\r\n\r\nab",
      .bad = 1 },

    { .name = "negative Content-Length",
      .resp = "HTTP/1.1 201 Created\r\nContent-Length: -1\r\n\r\n",
      .bad = 1 },

    { .name = "empty Content-Length",
      .resp = "HTTP/1.1 201 Created\r\nContent-Length:\r\n\r\n", .bad = 1 },

    { .name = "Content-Length with two numbers",
      .resp = "HTTP/1.1 201 Created\r\nContent-Length: 2 3\r\n\r\nab",
      .bad = 1 },

    { .name = "Content-Length list",
      .resp = "HTTP/1.1 201 Created\r\nContent-Length: 2, 2\r\n\r\nab",
      .bad = 1 },

    { .name = "Content-Length over 15 digits",
      .resp = "HTTP/1.1 201 Created\r\nContent-Length: 1234567890123456\r\n"
              "\r\n", .bad = 1 },

    { .name = "bad chunk size line",
      .resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "zz\r\nab\r\n0\r\n\r\n", .bad = 1 },

    { .name = "empty chunk size line",
      .resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "\r\nab\r\n0\r\n\r\n", .bad = 1 },

    { .name = "negative chunk size",
      .resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "-2\r\nab\r\n0\r\n\r\n", .bad = 1 },

    { .name = "chunk size with junk after it",
      .resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "2x\r\nab\r\n0\r\n\r\n", .bad = 1 },

    /* strtoll() alone would take these as 2. */
    { .name = "chunk size 0x2",
      .resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "0x2\r\nab\r\n0\r\n\r\n", .bad = 1 },

    { .name = "chunk size 0X2",
      .resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "0X2\r\nab\r\n0\r\n\r\n", .bad = 1 },

    { .name = "chunk size over 12 hex digits",
      .resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "1000000000000\r\nab\r\n0\r\n\r\n", .bad = 1 },

    { .name = "chunk size line over 256 bytes",
      .resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "2;x=0123456789012345678901234567890123456789012345678901234567"
              "89012345678901234567890123456789012345678901234567890123456789"
              "01234567890123456789012345678901234567890123456789012345678901"
              "23456789012345678901234567890123456789012345678901234567890123"
              "45678901234567890123456789012345678901234567890123456789012345"
              "6789\r\nab\r\n0\r\n\r\n", .bad = 1 },

    { .name = "chunk data longer than its size",
      .resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "2\r\nabc\r\n0\r\n\r\n", .bad = 1 },

    { .name = "chunk data without its CRLF",
      .resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "2\r\nab0\r\n\r\n", .bad = 1 },

    { .name = "101 Switching Protocols",
      .resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n"
              "Connection: Upgrade\r\n\r\n", .bad = 1 },

    { .name = "100 Continue then garbage",
      .resp = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 20l OK\r\n\r\n",
      .bad = 1 },
};


/* NUL bytes: lengths are explicit, strlen() would stop at them. */
static void
test_nul(void)
{
    static const char  cl[] =
        "HTTP/1.1 201 Created\r\nContent-Length: 2\0 9\r\n\r\nab";
    static const char  loc[] =
        "HTTP/1.1 201 Created\r\nLocation: /a\0/b\r\n"
        "Content-Length: 0\r\n\r\n";
    static const char  body[] =
        "HTTP/1.1 400 Bad\r\nContent-Length: 3\r\n\r\na\0b";
    static const char  chunk[] =
        "HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\n\0\0x\r\n0\r\n\r\n";

    case_t     c;
    outcome_t  o;

    memset(&c, 0, sizeof(c));
    c.bad = 1;
    c.name = "NUL in a Content-Length value";
    run_case(&c, cl, sizeof(cl) - 1);
    c.name = "NUL in a Location value";
    run_case(&c, loc, sizeof(loc) - 1);

    /* In the body a NUL is data: body_len, not strlen(), is its length. */
    feed_whole(body, sizeof(body) - 1, BODY_CAP, &o);
    ok(o.rc == (long) sizeof(body) - 1 && o.done && o.body_len == 3
       && memcmp(o.body, "a\0b", 4) == 0 && o.nul_ok,
       "NUL in a Content-Length body is kept, body_len 3");

    feed_whole(chunk, sizeof(chunk) - 1, BODY_CAP, &o);
    ok(o.rc == (long) sizeof(chunk) - 1 && o.done && o.body_len == 3
       && memcmp(o.body, "\0\0x", 4) == 0 && o.nul_ok,
       "NUL in a chunk is kept, body_len 3");
}


/* A header block of n bytes in all: a status line, one X-Pad header. */
static char *
big_head(size_t n, const char *body)
{
    static const char  a[] =
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-Pad: ";

    char    *s;
    size_t   pre, post;

    pre = strlen(a);
    post = 4;                       /* "\r\n\r\n" */
    s = malloc(n + strlen(body) + 1);
    if (s == NULL || n < pre + post) {
        abort();
    }

    memcpy(s, a, pre);
    memset(s + pre, 'p', n - pre - post);
    memcpy(s + n - post, "\r\n\r\n", post);
    strcpy(s + n, body);

    return s;
}


static void
test_head_limit(void)
{
    char    *s;
    case_t   c;

    memset(&c, 0, sizeof(c));

    /* The head buffer keeps one byte back: 8191 bytes is the most. */
    s = big_head(WP_HTTP1_MAX_HEAD - 1, "ok");
    c.name = "header block of WP_HTTP1_MAX_HEAD - 1 bytes";
    c.status = 201;
    c.done = 1;
    c.keep_alive = 1;
    c.body = "ok";
    run_case(&c, s, strlen(s));
    free(s);

    memset(&c, 0, sizeof(c));
    s = big_head(WP_HTTP1_MAX_HEAD, "ok");
    c.name = "header block of WP_HTTP1_MAX_HEAD bytes";
    c.bad = 1;
    run_case(&c, s, strlen(s));
    free(s);

    s = big_head(3 * WP_HTTP1_MAX_HEAD, "ok");
    c.name = "header block over 3 * WP_HTTP1_MAX_HEAD";
    run_case(&c, s, strlen(s));
    free(s);
}


/* Long bodies: completion does not depend on the buffer size. */
static void
test_big_bodies(void)
{
    int               fine;
    char             *s, body[16];
    long              rc;
    size_t            n, i, len;
    wp_err_t          err;
    wp_http1_resp_t  *r;

    r = malloc(sizeof(*r));
    s = malloc(200000);
    if (r == NULL || s == NULL) {
        abort();
    }

    len = 100000;
    n = sprintf(s, "HTTP/1.1 413 Too Large\r\nContent-Length: %zu\r\n\r\n",
                len);
    for (i = 0; i < len; i++) {
        s[n + i] = 'a' + i % 26;
    }
    n += len;

    wp_http1_init(r, body, sizeof(body));
    rc = wp_http1_feed(r, s, n, &err);
    ok(rc == (long) n && r->done && r->status == 413
       && r->body_len == sizeof(body) - 1 && r->body_truncated
       && memcmp(body, "abcdefghijklmno", 16) == 0,
       "100000-byte Content-Length body, cap 16: done, first 15 bytes kept");

    /* The same in 1000-byte pieces. */
    wp_http1_init(r, body, sizeof(body));
    fine = 1;
    for (i = 0; i < n && fine; i += 1000) {
        rc = wp_http1_feed(r, s + i, n - i < 1000 ? n - i : 1000, &err);
        fine = rc == (long) (n - i < 1000 ? n - i : 1000);
    }
    ok(fine && r->done && r->body_len == 15 && r->body_truncated,
       "the same in 1000-byte pieces");

    /* Chunked: 100 chunks of 0x3e8 bytes. */
    n = sprintf(s, "HTTP/1.1 413 Too Large\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n");
    for (i = 0; i < 100; i++) {
        n += sprintf(s + n, "3e8\r\n");
        memset(s + n, 'z', 1000);
        n += 1000;
        n += sprintf(s + n, "\r\n");
    }
    n += sprintf(s + n, "0\r\n\r\n");

    wp_http1_init(r, body, sizeof(body));
    rc = wp_http1_feed(r, s, n, &err);
    ok(rc == (long) n && r->done && r->body_len == 15 && r->body_truncated
       && strcmp(body, "zzzzzzzzzzzzzzz") == 0 && r->keep_alive,
       "100 chunks of 1000 bytes, cap 16: done, keep-alive");

    /* A size beyond any buffer: only the framing matters. */
    n = sprintf(s, "HTTP/1.1 200 OK\r\nContent-Length: 999999999999999\r\n"
                   "\r\nabc");
    wp_http1_init(r, body, sizeof(body));
    rc = wp_http1_feed(r, s, n, &err);
    ok(rc == (long) n && !r->done && r->left == 999999999999996LL
       && wp_http1_eof(r) == -1,
       "Content-Length 999999999999999: waits for the rest");

    n = sprintf(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "ffffffffffff\r\nabc");
    wp_http1_init(r, body, sizeof(body));
    rc = wp_http1_feed(r, s, n, &err);
    ok(rc == (long) n && !r->done && r->left == 0xffffffffffffLL - 3,
       "chunk size ffffffffffff: waits for the rest");

    free(s);
    free(r);
}


/*
 * A buffer holding several responses, fed in the pieces cut[]: each time
 * a response is done, what is left of the piece starts the next one, on a
 * freshly initialised parser, as the sender's keep-alive client does.
 * Writes "status:body;" per response to out.  Returns responses or -1.
 */
static int
stream(const char *s, size_t n, const size_t *cut, size_t ncut, char *out,
    size_t outsz)
{
    int               nresp;
    long              rc;
    char              body[64];
    size_t            i, from, o;
    wp_err_t          err;
    wp_http1_resp_t   r;

    nresp = 0;
    o = 0;
    out[0] = '\0';
    from = 0;
    wp_http1_init(&r, body, sizeof(body));

    for (i = 0; i < ncut; i++) {
        while (from < cut[i]) {
            rc = wp_http1_feed(&r, s + from, cut[i] - from, &err);
            if (rc < 0 || rc > (long) (cut[i] - from)) {
                return -1;
            }
            from += rc;
            if (!r.done) {
                if (from != cut[i]) {
                    return -1;      /* not done must mean all used */
                }
                break;
            }
            o += snprintf(out + o, outsz - o, "%ld:%s;", r.status, body);
            nresp++;
            wp_http1_init(&r, body, sizeof(body));
        }
    }

    if (wp_http1_started(&r)) {
        return -1;                  /* a tail nobody finished */
    }

    return nresp;
}


static void
test_back_to_back(void)
{
    static const char  two[] =
        "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
        "HTTP/1.1 410 Gone\r\nContent-Length: 4\r\n\r\ngone";
    static const char  four[] =
        "HTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.1 201 Created\r\nLocation: /a\r\nContent-Length: 1\r\n\r\nA"
        "HTTP/1.1 204 No Content\r\n\r\n"
        "HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n"
        "1\r\nB\r\n0\r\n\r\n"
        "HTTP/1.1 429 Slow down\r\nRetry-After: 3\r\nContent-Length: 2\r\n"
        "\r\nCD";

    int               all, k;
    long              rc, first;
    char              got[256], want[256];
    size_t            n, at, cut[2], *cuts, i;
    wp_err_t          err;
    wp_http1_resp_t   r;

    n = sizeof(two) - 1;
    first = strstr(two, "HTTP/1.1 410") - two;

    wp_http1_init(&r, NULL, 0);
    rc = wp_http1_feed(&r, two, n, &err);
    ok(rc == first && r.done && r.status == 201 && r.keep_alive,
       "two responses in one buffer: the first feed uses exactly the first"
       " (%ld of %zu)", rc, n);

    wp_http1_init(&r, NULL, 0);
    ok(!wp_http1_started(&r), "fresh init: not started");
    rc = wp_http1_feed(&r, two + first, n - first, &err);
    ok(rc == (long) (n - first) && r.done && r.status == 410
       && r.body_len == 0 && r.body_truncated,
       "a fresh init and the remainder: the second (410, body counted)");

    /* The same in every 2-way split and byte by byte. */
    cut[1] = n;
    all = 1;
    for (at = 0; at <= n; at++) {
        cut[0] = at;
        k = stream(two, n, cut, 2, got, sizeof(got));
        all &= k == 2 && strcmp(got, "201:;410:gone;") == 0;
    }
    ok(all, "two responses, every 2-way split: 201 then 410 \"gone\"");

    n = sizeof(four) - 1;
    strcpy(want, "201:A;204:;400:B;429:CD;");

    cut[0] = n;
    k = stream(four, n, cut, 1, got, sizeof(got));
    ok(k == 4 && strcmp(got, want) == 0,
       "100+201, 204, chunked 400, 429 in one buffer: %s", got);

    cut[1] = n;
    all = 1;
    for (at = 0; at <= n; at++) {
        cut[0] = at;
        k = stream(four, n, cut, 2, got, sizeof(got));
        all &= k == 4 && strcmp(got, want) == 0;
    }
    ok(all, "the same in every 2-way split");

    cuts = malloc(n * sizeof(size_t));
    if (cuts == NULL) {
        abort();
    }
    for (i = 0; i < n; i++) {
        cuts[i] = i + 1;
    }
    k = stream(four, n, cuts, n, got, sizeof(got));
    ok(k == 4 && strcmp(got, want) == 0, "the same byte by byte");
    free(cuts);
}


static void
test_started(void)
{
    long              rc;
    char              body[8];
    wp_err_t          err;
    wp_http1_resp_t   r;

    memset(&r, 0x5a, sizeof(r));
    wp_http1_init(&r, body, sizeof(body));
    ok(!wp_http1_started(&r) && !r.done && r.status == 0 && body[0] == '\0'
       && r.retry_after[0] == '\0' && r.location[0] == '\0',
       "init over garbage: nothing started, results empty");

    rc = wp_http1_feed(&r, "", 0, &err);
    ok(rc == 0 && !wp_http1_started(&r), "feeding 0 bytes starts nothing");

    rc = wp_http1_feed(&r, "H", 1, &err);
    ok(rc == 1 && wp_http1_started(&r) && !r.done,
       "after the first byte: started");

    rc = wp_http1_feed(&r, "TTP/1.1 100 Continue\r\n\r\n", 24, &err);
    ok(rc == 24 && wp_http1_started(&r) && !r.done,
       "after a whole interim answer: still started");

    rc = wp_http1_feed(&r, "HTTP/1.1 204 No Content\r\n\r\n", 27, &err);
    ok(rc == 27 && wp_http1_started(&r) && r.done && r.status == 204,
       "done: started");

    rc = wp_http1_feed(&r, "HTTP/1.1 200 OK\r\n\r\n", 19, &err);
    ok(rc == 0 && r.done && r.status == 204,
       "feeding a done response uses nothing, changes nothing");
    ok(wp_http1_eof(&r) == 0, "eof after done: 0");

    /* A body framed by the close: the close is what completes it. */
    wp_http1_init(&r, body, sizeof(body));
    rc = wp_http1_feed(&r, "HTTP/1.1 200 OK\r\n\r\nabc", 22, &err);
    ok(rc == 22 && !r.done && !r.keep_alive && strcmp(body, "abc") == 0,
       "until close: all used, not done, no keep-alive");
    ok(wp_http1_eof(&r) == 0 && r.done && r.status == 200,
       "until close: eof returns 0 and the response is done");
    ok(wp_http1_eof(&r) == 0, "eof again: still 0");

    wp_http1_init(&r, body, sizeof(body));
    ok(wp_http1_eof(&r) == -1 && !r.done, "eof before any byte: -1");
}


int
main(void)
{
    size_t  i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_case(&cases[i], cases[i].resp, strlen(cases[i].resp));
    }

    test_nul();
    test_head_limit();
    test_big_bodies();
    test_back_to_back();
    test_started();

    return tap_done();
}
