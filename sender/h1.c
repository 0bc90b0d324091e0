/*
 * webpush-sender: HTTP/1.1 framing for the client (client_int.h): one
 * request at a time per keep-alive connection, the answer read by
 * lib/http1.c.  Used for push services that do not select h2 over ALPN.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_int.h"

#define WP_H1_MAX_HEAD  2048    /* our request line and headers */


int
wp_h1_conn_init(wp_conn_t *c, wp_err_t *err)
{
    c->h1 = malloc(sizeof(wp_http1_resp_t));
    c->h1_body = malloc(WP_DELIVER_MAX_BODY + 1);
    if (c->h1 == NULL || c->h1_body == NULL) {
        return wp_err_set(err, WP_E_NOMEM, "", "out of memory");
    }

    c->http1 = 1;

    return 0;
}


/* Append n bytes at *p if they fit before end. */
static int
wp_h1_put(char **p, const char *end, const char *s, size_t n)
{
    if (n > (size_t) (end - *p)) {
        return -1;
    }

    memcpy(*p, s, n);
    *p += n;

    return 0;
}


#define wp_h1_lit(p, end, lit)  wp_h1_put(p, end, lit, sizeof(lit) - 1)
#define wp_h1_str(p, end, s)    wp_h1_put(p, end, s, strlen(s))


int
wp_h1_submit(wp_conn_t *c, wp_stream_t *s, const wp_url_t *url,
    const wp_push_req_t *req, const char *user_agent, wp_err_t *err)
{
    int          rc;
    char         ttl[24], clen[24], *p, *end;
    const char  *path;
    size_t       plen;

    if (wp_client_header_ok("authorization", req->authorization,
                            strlen(req->authorization), err) != 0
        || (req->urgency != NULL
            && wp_client_header_ok("urgency", req->urgency,
                                   strlen(req->urgency), err) != 0)
        || (req->topic != NULL
            && wp_client_header_ok("topic", req->topic, strlen(req->topic),
                                   err) != 0))
    {
        return -1;
    }

    /* head and body in one buffer: one SSL_write, one TLS record */
    if (wp_conn_reserve(c, WP_H1_MAX_HEAD + req->body_len) != 0) {
        return wp_err_set(err, WP_E_NOMEM, "", "out of memory");
    }

    path = url->path_len ? req->endpoint + url->path_off : "/";
    plen = url->path_len ? url->path_len : 1;
    snprintf(ttl, sizeof(ttl), "%lld", (long long) req->ttl);
    snprintf(clen, sizeof(clen), "%zu", req->body_len);

    /* built in place (snprintf with a dozen %s was a visible cost) */
    p = (char *) c->out + c->out_len;
    end = p + WP_H1_MAX_HEAD;

    /* || is sequenced: the pieces go in in this order, or stop */
    rc = wp_h1_lit(&p, end, "POST ")
         || wp_h1_put(&p, end, path, plen)
         || wp_h1_lit(&p, end, " HTTP/1.1\r\nHost: ")
         || wp_h1_str(&p, end, url->origin + sizeof("https://") - 1)
         || wp_h1_lit(&p, end, "\r\nUser-Agent: ")
         || wp_h1_str(&p, end, user_agent)
         || wp_h1_lit(&p, end, "\r\nTTL: ")
         || wp_h1_str(&p, end, ttl)
         || (req->urgency != NULL
             && (wp_h1_lit(&p, end, "\r\nUrgency: ")
                 || wp_h1_str(&p, end, req->urgency)))
         || (req->topic != NULL && req->topic[0] != '\0'
             && (wp_h1_lit(&p, end, "\r\nTopic: ")
                 || wp_h1_str(&p, end, req->topic)))
         || wp_h1_lit(&p, end, "\r\nAuthorization: ")
         || wp_h1_str(&p, end, req->authorization)
         || (req->wns_cache_policy != NULL
             && (wp_h1_lit(&p, end, "\r\nX-WNS-Cache-Policy: ")
                 || wp_h1_str(&p, end, req->wns_cache_policy)))
         || wp_h1_lit(&p, end, "\r\nContent-Length: ")
         || wp_h1_str(&p, end, clen)
         || (req->body_len > 0
             && wp_h1_lit(&p, end, "\r\nContent-Type:"
                                   " application/octet-stream"
                                   "\r\nContent-Encoding: aes128gcm"))
         || wp_h1_lit(&p, end, "\r\n\r\n");

    if (rc != 0) {
        return wp_err_set(err, WP_E_TOO_LONG, "endpoint",
                          "request header over %d bytes", WP_H1_MAX_HEAD);
    }

    if (req->body_len > 0) {
        memcpy(p, req->body, req->body_len);
        p += req->body_len;
    }

    c->out_len = (uint8_t *) p - c->out;

    wp_http1_init(c->h1, c->h1_body, WP_DELIVER_MAX_BODY + 1);

    return 0;
}


/* The answer is complete: hand it over. */
static void
wp_h1_answer(wp_conn_t *c, wp_stream_t *s)
{
    wp_http1_resp_t  *r;

    r = c->h1;

    s->status = r->status;
    s->retry_after = r->retry_after[0]
                     ? wp_retry_after_parse(r->retry_after,
                                            (int64_t) time(NULL))
                     : -1;
    snprintf(s->location, sizeof(s->location), "%.*s",
             (int) sizeof(s->location) - 1, r->location);
    snprintf(s->wns_error, sizeof(s->wns_error), "%s", r->wns_error);
    s->rbody = c->h1_body;      /* reported before the next request */
    s->rbody_len = r->body_len;
    s->rbody_truncated = r->body_truncated;

    wp_stream_report(s, NULL, CURLE_OK, 0, 0, 0, 0);
    wp_stream_unlink(s);
}


int
wp_h1_input(wp_conn_t *c, const uint8_t *data, size_t len)
{
    long          n;
    wp_err_t      err;
    wp_stream_t  *s;

    s = c->streams;

    if (s == NULL || s->data == NULL) {
        /* bytes nobody asked for, or the late answer of a timed-out
         * request: the connection cannot be trusted */
        wp_conn_close(c, 0, 0, 0, CURLE_WEIRD_SERVER_REPLY, "unsolicited");
        return -1;
    }

    n = wp_http1_feed(c->h1, (const char *) data, len, &err);
    if (n < 0) {
        wp_conn_close(c, 1, 0, 0, CURLE_WEIRD_SERVER_REPLY,
                      "bad HTTP/1.1 answer: %s", err.message);
        return -1;
    }

    if (!c->h1->done) {
        return 0;
    }

    wp_h1_answer(c, s);

    /* bytes after the answer (we never pipeline), or the end announced */
    if ((size_t) n < len || !c->h1->keep_alive) {
        wp_conn_close(c, 0, 0, 0, CURLE_OK, "done");
        return -1;
    }

    return 0;
}


void
wp_h1_eof(wp_conn_t *c)
{
    wp_stream_t  *s;

    s = c->streams;

    if (s != NULL && s->data != NULL) {
        if (wp_http1_eof(c->h1) == 0) {
            wp_h1_answer(c, s);         /* a body read to the end */

        } else if (!wp_http1_started(c->h1) && c->requests > 1 && s->sent) {
            /*
             * A reused connection the server closed as we wrote to it
             * (its idle timeout): not processed; send it again (what
             * libcurl does too).
             */
            wp_stream_report(s, "keep-alive connection closed by the push"
                             " service before an answer", CURLE_GOT_NOTHING,
                             0, 0, 0, 1);
        } else {
            wp_conn_close(c, 1, 0, 0, CURLE_GOT_NOTHING, "connection closed"
                          " by the push service before the answer was"
                          " complete");
            return;
        }
    }

    wp_conn_close(c, 0, 0, 0, CURLE_OK, "closed");
}
