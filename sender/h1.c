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
    if (c->h1 == NULL) {
        return wp_err_set(err, WP_E_NOMEM, "", "out of memory");
    }

    c->http1 = 1;

    return 0;
}


int
wp_h1_submit(wp_conn_t *c, wp_stream_t *s, const wp_url_t *url,
    const wp_push_req_t *req, const char *user_agent, wp_err_t *err)
{
    int          n;
    char         head[WP_H1_MAX_HEAD], topic[160], urgency[64];
    const char  *authority, *path;
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

    authority = url->origin + sizeof("https://") - 1;
    path = url->path_len ? req->endpoint + url->path_off : "/";
    plen = url->path_len ? url->path_len : 1;

    urgency[0] = topic[0] = '\0';
    if (req->urgency != NULL) {
        snprintf(urgency, sizeof(urgency), "Urgency: %s\r\n", req->urgency);
    }
    if (req->topic != NULL && req->topic[0] != '\0') {
        snprintf(topic, sizeof(topic), "Topic: %s\r\n", req->topic);
    }

    n = snprintf(head, sizeof(head),
                 "POST %.*s HTTP/1.1\r\n"
                 "Host: %s\r\n"
                 "User-Agent: %s\r\n"
                 "TTL: %lld\r\n"
                 "%s%s"
                 "Authorization: %s\r\n"
                 "Content-Length: %zu\r\n"
                 "%s"
                 "\r\n",
                 (int) plen, path, authority, user_agent,
                 (long long) req->ttl, urgency, topic, req->authorization,
                 req->body_len,
                 req->body_len ? "Content-Type: application/octet-stream\r\n"
                                 "Content-Encoding: aes128gcm\r\n"
                               : "");

    if (n < 0 || (size_t) n >= sizeof(head)) {
        return wp_err_set(err, WP_E_TOO_LONG, "endpoint",
                          "request header over %d bytes", WP_H1_MAX_HEAD);
    }

    /* head and body in one buffer: one SSL_write, one TLS record */
    if (wp_conn_reserve(c, n + req->body_len) != 0) {
        return wp_err_set(err, WP_E_NOMEM, "", "out of memory");
    }

    memcpy(c->out + c->out_len, head, n);
    c->out_len += n;
    if (req->body_len > 0) {
        memcpy(c->out + c->out_len, req->body, req->body_len);
        c->out_len += req->body_len;
    }

    wp_http1_init(c->h1, s->rbody, sizeof(s->rbody));

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
    snprintf(s->location, sizeof(s->location), "%s", r->location);
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
