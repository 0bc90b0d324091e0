/*
 * libFuzzer target for lib/http1.c.  Each input is one response stream,
 * fed whole, in two pieces cut where the first byte says, in pieces of
 * 1..16 bytes sized by the input itself, and (under 512 bytes) one byte
 * at a time.  Aborts unless:
 *   - the outcome (error or not, bytes used, done, status, keep_alive,
 *     body bytes and length, body_truncated, retry_after, location, what
 *     wp_http1_eof() says) is the same however the bytes were cut;
 *   - the body stays NUL-terminated under its small cap;
 *   - no feed uses more than it was given, and a response not done has
 *     used everything it was given;
 *   - an error is invalid_value in field "response".
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* Small, so that truncation is the common case, not the odd one. */
#define CAP  64

typedef struct {
    long   used;                    /* bytes used in all, or -1 */
    int    done;
    int    keep_alive;
    int    truncated;
    int    eof;
    long   status;
    size_t body_len;
    char   body[CAP];
    char   retry_after[64];
    char   location[1024];
} outcome_t;


static wp_http1_resp_t  parser;


/*
 * Feed data in pieces ending at cut[0..ncut-1] (the last is size), up to
 * an error or the end of the response, as the sender does.
 */
static void
run(const uint8_t *data, size_t size, const size_t *cut, size_t ncut,
    outcome_t *o)
{
    long              rc;
    char              body[CAP];
    size_t            i, from, n;
    wp_err_t          err;
    wp_http1_resp_t  *r;

    r = &parser;
    memset(r, 0xa5, sizeof(*r));
    memset(body, 0xa5, sizeof(body));
    wp_http1_init(r, body, sizeof(body));
    if (wp_http1_started(r)) {
        abort();
    }

    memset(o, 0, sizeof(*o));
    from = 0;

    for (i = 0; i < ncut; i++) {
        n = cut[i] - from;
        rc = wp_http1_feed(r, (const char *) data + from, n, &err);

        if (rc < 0) {
            if (rc != -1 || strcmp(err.code, WP_E_BAD_VALUE) != 0
                || strcmp(err.field, "response") != 0)
            {
                abort();
            }
            o->used = -1;
            break;
        }

        if ((size_t) rc > n || (!r->done && (size_t) rc != n)) {
            abort();
        }
        if (n > 0 && !wp_http1_started(r)) {
            abort();
        }

        o->used += rc;
        from = cut[i];

        if (r->done) {
            /* Done is done: more bytes are the next response's. */
            if (from < size
                && wp_http1_feed(r, (const char *) data + from, size - from,
                                 &err) != 0)
            {
                abort();
            }
            break;
        }
    }

    if (r->body_len >= CAP || body[r->body_len] != '\0'
        || r->body != body || r->body_cap != CAP)
    {
        abort();
    }

    o->done = r->done;
    o->keep_alive = r->keep_alive;
    o->truncated = r->body_truncated;
    o->status = r->status;
    o->body_len = r->body_len;
    memcpy(o->body, body, r->body_len);
    memcpy(o->retry_after, r->retry_after, sizeof(o->retry_after));
    memcpy(o->location, r->location, sizeof(o->location));

    if (memchr(o->retry_after, '\0', sizeof(o->retry_after)) == NULL
        || memchr(o->location, '\0', sizeof(o->location)) == NULL)
    {
        abort();
    }

    if (o->used >= 0) {
        o->eof = wp_http1_eof(r);
        if ((o->done && o->eof != 0) || (o->eof == 0 && !r->done)) {
            abort();
        }
    }
}


static void
same(const outcome_t *a, const outcome_t *b)
{
    if (a->used != b->used || a->done != b->done
        || a->keep_alive != b->keep_alive || a->truncated != b->truncated
        || a->eof != b->eof || a->status != b->status
        || a->body_len != b->body_len
        || memcmp(a->body, b->body, a->body_len) != 0
        || strcmp(a->retry_after, b->retry_after) != 0
        || strcmp(a->location, b->location) != 0)
    {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t     i, n, *cut;
    outcome_t  whole, o;

    cut = malloc((size + 2) * sizeof(size_t));
    if (cut == NULL) {
        abort();
    }

    cut[0] = size;
    run(data, size, cut, 1, &whole);

    if (whole.used > (long) size) {
        abort();
    }

    /* Two pieces, cut anywhere from 0 to size. */
    cut[0] = size > 0 ? (size_t) data[0] * (size + 1) / 256 : 0;
    cut[1] = size;
    run(data, size, cut, 2, &o);
    same(&whole, &o);

    /* Pieces of 1..16 bytes, sizes taken from the input bytes. */
    n = 0;
    for (i = 0; i < size; i += 1 + data[i] % 16) {
        cut[n++] = i;
    }
    cut[n++] = size;
    run(data, size, cut, n, &o);
    same(&whole, &o);

    if (size < 512) {
        for (i = 0; i < size; i++) {
            cut[i] = i + 1;
        }
        run(data, size, cut, size, &o);
        same(&whole, &o);
    }

    free(cut);

    return 0;
}
