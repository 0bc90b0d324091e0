/* ngx_webpush: HTTP/1.1 response parser (see http1.h). */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http1.h"

enum {
    WP_H1_HEAD = 0,
    WP_H1_BODY,             /* Content-Length bytes */
    WP_H1_CHUNK_SIZE,       /* "hex[;ext]" line */
    WP_H1_CHUNK_DATA,
    WP_H1_CHUNK_END,        /* CRLF after the data */
    WP_H1_TRAILER,          /* lines up to an empty one */
    WP_H1_UNTIL_CLOSE,
    WP_H1_DONE
};

#define WP_H1_MAX_LINE  256     /* chunk-size and trailer lines */


void
wp_http1_init(wp_http1_resp_t *r, char *body, size_t body_cap)
{
    /* field by field: a memset would clear 1 KB of location per answer */
    r->status = 0;
    r->done = 0;
    r->keep_alive = 0;
    r->retry_after[0] = '\0';
    r->location[0] = '\0';
    r->wns_error[0] = '\0';
    r->body_len = 0;
    r->body_truncated = 0;
    r->state = WP_H1_HEAD;
    r->until_close = 0;
    r->left = 0;
    r->head_len = 0;
    r->body = body;
    r->body_cap = body_cap;
    if (body != NULL && body_cap > 0) {
        body[0] = '\0';
    }
}


int
wp_http1_started(const wp_http1_resp_t *r)
{
    return r->state != WP_H1_HEAD || r->head_len > 0 || r->status != 0;
}


static void
wp_http1_body(wp_http1_resp_t *r, const char *p, size_t n)
{
    size_t  room;

    room = r->body_cap > 0 ? r->body_cap - 1 - r->body_len : 0;
    if (n > room) {
        r->body_truncated = 1;
        n = room;
    }

    if (n > 0) {
        memcpy(r->body + r->body_len, p, n);
        r->body_len += n;
        r->body[r->body_len] = '\0';
    }
}


/* Trimmed value of a header line "name:value" into out (cap); 0 or -1. */
static int
wp_http1_value(const char *v, const char *end, char *out, size_t cap)
{
    size_t  n;

    while (v < end && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (end > v && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }

    n = end - v;
    if (n >= cap) {
        return -1;
    }

    memcpy(out, v, n);
    out[n] = '\0';
    return 0;
}


/* Does the comma-separated list v..end hold token tok? */
static int
wp_http1_has_token(const char *v, const char *end, const char *tok)
{
    size_t       tl;
    const char  *s, *e;

    tl = strlen(tok);

    while (v < end) {
        s = v;
        while (s < end && (*s == ' ' || *s == '\t' || *s == ',')) {
            s++;
        }
        e = s;
        while (e < end && *e != ',') {
            e++;
        }
        v = e;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }
        if ((size_t) (e - s) == tl && strncasecmp(s, tok, tl) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * Does r->head end with the empty line?  An empty line is "\n" or "\r\n"
 * after a line's "\n", whatever ended that line: the same rule
 * wp_http1_head() reads the block with.
 */
static int
wp_http1_head_end(const wp_http1_resp_t *r)
{
    size_t  n;

    n = r->head_len;

    return n >= 2 && r->head[n - 1] == '\n'
           && (r->head[n - 2] == '\n'
               || (n >= 3 && r->head[n - 2] == '\r'
                   && r->head[n - 3] == '\n'));
}


/* The header block is complete in r->head: read it.  0, 1 (interim), -1. */
static int
wp_http1_head(wp_http1_resp_t *r, wp_err_t *err)
{
    int          http10, te, te_chunked, have_len, closes;
    char         num[32];
    char        *p, *end, *eol, *colon, *q, *s, *e;
    size_t       nl;
    int64_t      clen, v;

    p = r->head;
    end = r->head + r->head_len;

    /* "HTTP/1.x NNN[ reason]" */
    eol = memchr(p, '\n', end - p);
    if (eol == NULL || eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0
        || (p[7] != '0' && p[7] != '1') || p[8] != ' '
        || !isdigit((unsigned char) p[9]) || !isdigit((unsigned char) p[10])
        || !isdigit((unsigned char) p[11])
        || (p + 12 < eol && p[12] != ' ' && p[12] != '\r'))
    {
        return wp_err_set(err, WP_E_BAD_VALUE, "response",
                          "not an HTTP/1.x status line");
    }

    http10 = p[7] == '0';
    r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (r->status < 100) {
        return wp_err_set(err, WP_E_BAD_VALUE, "response",
                          "status %ld out of range", r->status);
    }

    r->keep_alive = !http10;
    r->retry_after[0] = '\0';
    r->location[0] = '\0';
    r->wns_error[0] = '\0';
    te = te_chunked = have_len = closes = 0;
    clen = 0;

    for (p = eol + 1; p < end; p = eol + 1) {
        eol = memchr(p, '\n', end - p);
        if (eol == NULL) {
            eol = end;
        }
        q = eol;
        if (q > p && q[-1] == '\r') {
            q--;
        }
        if (q == p) {
            break;                  /* the empty line */
        }

        if (*p == ' ' || *p == '\t') {
            return wp_err_set(err, WP_E_BAD_VALUE, "response",
                              "folded header line");
        }

        /* RFC 9110 5.5: reject, or "5\0 9" would read as Content-Length 5 */
        if (memchr(p, '\0', q - p) != NULL) {
            return wp_err_set(err, WP_E_BAD_VALUE, "response",
                              "NUL in a header line");
        }

        colon = memchr(p, ':', q - p);
        if (colon == NULL || colon == p) {
            return wp_err_set(err, WP_E_BAD_VALUE, "response",
                              "header line without a name");
        }
        nl = colon - p;

        if (nl == 14 && strncasecmp(p, "content-length", 14) == 0) {
            if (wp_http1_value(colon + 1, q, num, sizeof(num)) != 0
                || num[0] == '\0' || strspn(num, "0123456789") != strlen(num)
                || strlen(num) > 15)
            {
                return wp_err_set(err, WP_E_BAD_VALUE, "response",
                                  "bad Content-Length");
            }
            v = strtoll(num, NULL, 10);
            if (have_len && v != clen) {
                return wp_err_set(err, WP_E_BAD_VALUE, "response",
                                  "conflicting Content-Length headers");
            }
            clen = v;
            have_len = 1;

        } else if (nl == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
            te = 1;
            /* chunked must be the last coding; anything else: to close */
            e = q;
            while (e > colon + 1
                   && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == ','))
            {
                e--;
            }
            for (s = e; s > colon + 1 && s[-1] != ','; s--) {
                /* void */
            }
            te_chunked = wp_http1_has_token(s, e, "chunked");

        } else if (nl == 10 && strncasecmp(p, "connection", 10) == 0) {
            if (wp_http1_has_token(colon + 1, q, "close")) {
                closes = 1;
            } else if (http10
                       && wp_http1_has_token(colon + 1, q, "keep-alive"))
            {
                r->keep_alive = 1;
            }

        } else if (nl == 11 && strncasecmp(p, "retry-after", 11) == 0) {
            (void) wp_http1_value(colon + 1, q, r->retry_after,
                                  sizeof(r->retry_after));

        } else if (nl == 8 && strncasecmp(p, "location", 8) == 0) {
            (void) wp_http1_value(colon + 1, q, r->location,
                                  sizeof(r->location));

        } else if (nl == 23
                   && strncasecmp(p, "x-wns-error-description", 23) == 0)
        {
            (void) wp_http1_value(colon + 1, q, r->wns_error,
                                  sizeof(r->wns_error));
        }
    }

    if (closes) {
        r->keep_alive = 0;          /* whatever line said keep-alive */
    }

    if (r->status < 200) {
        if (r->status == 101) {
            return wp_err_set(err, WP_E_BAD_VALUE, "response",
                              "unexpected 101 Switching Protocols");
        }
        return 1;                   /* interim: the final answer follows */
    }

    if (r->status == 204 || r->status == 304) {
        r->state = WP_H1_DONE;
    } else if (te && te_chunked) {
        r->state = WP_H1_CHUNK_SIZE;
    } else if (te || !have_len) {
        r->state = WP_H1_UNTIL_CLOSE;
        r->until_close = 1;
        r->keep_alive = 0;
    } else {
        r->left = clen;
        r->state = clen > 0 ? WP_H1_BODY : WP_H1_DONE;
    }

    return 0;
}


/* Collect one line into r->head: 1 complete (CRLF stripped), 0 more, -1. */
static int
wp_http1_line(wp_http1_resp_t *r, const char **p, const char *end,
    wp_err_t *err)
{
    while (*p < end) {
        if (**p == '\n') {
            (*p)++;
            if (r->head_len > 0 && r->head[r->head_len - 1] == '\r') {
                r->head_len--;
            }
            r->head[r->head_len] = '\0';
            return 1;
        }
        if (r->head_len >= WP_H1_MAX_LINE) {
            return wp_err_set(err, WP_E_BAD_VALUE, "response",
                              "chunk line too long");
        }
        r->head[r->head_len++] = *(*p)++;
    }

    return 0;
}


/* A whole line of the chunked framing is in r->head: act on it. */
static int
wp_http1_chunk_line(wp_http1_resp_t *r, wp_err_t *err)
{
    char     *e;
    int64_t   size;

    switch (r->state) {

    case WP_H1_CHUNK_SIZE:
        /* hex digits only: strtoll() would skip a "0x" */
        if (!isxdigit((unsigned char) r->head[0])
            || r->head[1] == 'x' || r->head[1] == 'X')
        {
            return wp_err_set(err, WP_E_BAD_VALUE, "response",
                              "bad chunk size line");
        }
        size = strtoll(r->head, &e, 16);
        if (size < 0 || e - r->head > 12
            || (*e != '\0' && *e != ';' && *e != ' ' && *e != '\t'))
        {
            return wp_err_set(err, WP_E_BAD_VALUE, "response",
                              "bad chunk size line");
        }
        r->left = size;
        r->state = size > 0 ? WP_H1_CHUNK_DATA : WP_H1_TRAILER;
        break;

    case WP_H1_CHUNK_END:
        if (r->head_len != 0) {
            return wp_err_set(err, WP_E_BAD_VALUE, "response",
                              "chunk data longer than its size");
        }
        r->state = WP_H1_CHUNK_SIZE;
        break;

    default:                        /* WP_H1_TRAILER: up to an empty line */
        if (r->head_len == 0) {
            r->state = WP_H1_DONE;
        }
        break;
    }

    r->head_len = 0;

    return 0;
}


long
wp_http1_feed(wp_http1_resp_t *r, const char *data, size_t len,
    wp_err_t *err)
{
    int          rc;
    size_t       n;
    const char  *p, *end, *nl;

    p = data;
    end = data + len;

    while (p < end && r->state != WP_H1_DONE) {

        switch (r->state) {

        case WP_H1_HEAD:
            /* a line at a time: the block can only end at a '\n' */
            while (p < end) {
                nl = memchr(p, '\n', end - p);
                n = nl != NULL ? (size_t) (nl - p) + 1 : (size_t) (end - p);

                if (r->head_len + n > WP_HTTP1_MAX_HEAD - 1) {
                    return wp_err_set(err, WP_E_BAD_VALUE, "response",
                                      "response header over %d bytes",
                                      WP_HTTP1_MAX_HEAD);
                }

                memcpy(r->head + r->head_len, p, n);
                r->head_len += n;
                p += n;

                if (nl != NULL && wp_http1_head_end(r)) {
                    break;
                }
            }

            if (!wp_http1_head_end(r)) {
                break;              /* need more */
            }

            rc = wp_http1_head(r, err);
            r->head_len = 0;
            if (rc < 0) {
                return -1;
            }
            break;

        case WP_H1_BODY:
        case WP_H1_CHUNK_DATA:
            n = (size_t) (end - p) < (uint64_t) r->left
                ? (size_t) (end - p) : (size_t) r->left;
            wp_http1_body(r, p, n);
            p += n;
            r->left -= n;
            if (r->left == 0) {
                r->state = r->state == WP_H1_BODY ? WP_H1_DONE
                                                  : WP_H1_CHUNK_END;
            }
            break;

        case WP_H1_CHUNK_SIZE:
        case WP_H1_CHUNK_END:
        case WP_H1_TRAILER:
            rc = wp_http1_line(r, &p, end, err);
            if (rc < 0 || (rc == 1 && wp_http1_chunk_line(r, err) != 0)) {
                return -1;
            }
            break;

        case WP_H1_UNTIL_CLOSE:
            wp_http1_body(r, p, end - p);
            p = end;
            break;
        }
    }

    r->done = r->state == WP_H1_DONE;

    return (long) (p - data);
}


int
wp_http1_eof(wp_http1_resp_t *r)
{
    if (r->state == WP_H1_UNTIL_CLOSE) {
        r->state = WP_H1_DONE;
        r->done = 1;
    }

    return r->done ? 0 : -1;
}
