/*
 * webpush-sender: HTTP/2 framing for the client (client_int.h), through
 * nghttp2's memory interface: client.c moves the bytes, this file turns
 * requests into streams and frames back into answers.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_int.h"

#define WP_H2_WINDOW  (1 << 20)     /* our receive window: answers are small */


static ssize_t
wp_h2_read_body(nghttp2_session *sess, int32_t id, uint8_t *buf,
    size_t length, uint32_t *flags, nghttp2_data_source *src, void *user)
{
    size_t           n;
    wp_stream_t  *s;

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
    size_t           n;
    wp_stream_t     *s;

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
        s->wns_error[0] = '\0';
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
        return 0;
    }

    if (namelen == 23 && memcmp(name, "x-wns-error-description", 23) == 0) {
        n = valuelen < sizeof(s->wns_error) ? valuelen
                                            : sizeof(s->wns_error) - 1;
        memcpy(s->wns_error, value, n);
        s->wns_error[n] = '\0';
    }

    return 0;
}


static int
wp_h2_on_data(nghttp2_session *sess, uint8_t flags, int32_t id,
    const uint8_t *data, size_t len, void *user)
{
    size_t           room;
    wp_stream_t  *s;

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

    /* past the stream's small buffer: its big one, made once */
    if (s->rbody == s->rbody_small
        && s->rbody_len + len >= sizeof(s->rbody_small))
    {
        if (s->rbody_big == NULL) {
            s->rbody_big = malloc(WP_DELIVER_MAX_BODY + 1);
        }

        if (s->rbody_big != NULL) {
            memcpy(s->rbody_big, s->rbody_small, s->rbody_len);
            s->rbody = s->rbody_big;

        } else {
            s->rbody_truncated = 1;
            len = sizeof(s->rbody_small) - 1 - s->rbody_len;
        }
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
    wp_stream_t  *s;

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
    wp_conn_t  *c;

    c = user;

    if (frame->hd.type == NGHTTP2_GOAWAY) {
        c->state = WP_CONN_DRAINING;    /* streams above last_stream_id are
                                         * closed REFUSED_STREAM by nghttp2 */

    } else if (frame->hd.type == NGHTTP2_SETTINGS
               && !(frame->hd.flags & NGHTTP2_FLAG_ACK))
    {
        c->settings_seen = 1;
    }

    return 0;
}


static int
wp_h2_on_close(nghttp2_session *sess, int32_t id, uint32_t error_code,
    void *user)
{
    char             msg[96];
    wp_stream_t  *s;

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
        wp_stream_report(s, NULL, CURLE_OK, 0, 0, 0, 0);

    } else if (error_code == NGHTTP2_REFUSED_STREAM) {
        wp_stream_report(s, "stream refused by the push service (not"
                         " processed)", CURLE_HTTP2_STREAM, 0, 0, 0, 1);

    } else {
        snprintf(msg, sizeof(msg), "HTTP/2 stream closed without an answer"
                 " (%s)", nghttp2_http2_strerror(error_code));
        wp_stream_report(s, msg, CURLE_HTTP2_STREAM, 0, 0, 0, 0);
    }

    wp_stream_unlink(s);

    return 0;
}


int
wp_h2_setup(wp_client_t *cl, wp_err_t *err)
{
    if (nghttp2_session_callbacks_new(&cl->cbs) != 0
        || nghttp2_option_new(&cl->nopt) != 0)
    {
        return wp_err_set(err, WP_E_NOMEM, "", "out of memory");
    }

    nghttp2_session_callbacks_set_on_header_callback(cl->cbs,
                                                     wp_h2_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cl->cbs,
                                                              wp_h2_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cl->cbs,
                                                           wp_h2_on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cl->cbs,
                                                         wp_h2_on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(cl->cbs,
                                                         wp_h2_on_frame_send);

    /*
     * Until the server's SETTINGS arrive, one stream: a server may enforce
     * a lower limit than 100 at once (nginx refuses the excess), and the
     * SETTINGS come within the first round trip anyway.
     */
    nghttp2_option_set_peer_max_concurrent_streams(cl->nopt, 1);

    /* closed streams are only kept for priorities, which we never send */
    nghttp2_option_set_no_closed_streams(cl->nopt, 1);

    return 0;
}


void
wp_h2_cleanup(wp_client_t *cl)
{
    if (cl->cbs) {
        nghttp2_session_callbacks_del(cl->cbs);
    }
    if (cl->nopt) {
        nghttp2_option_del(cl->nopt);
    }
}


int
wp_h2_conn_init(wp_conn_t *c, wp_err_t *err)
{
    nghttp2_settings_entry  iv[3];

    if (nghttp2_session_client_new2(&c->sess, c->cl->cbs, c, c->cl->nopt)
        != 0)
    {
        return wp_err_set(err, WP_E_NOMEM, "", "out of memory");
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
        return wp_err_set(err, WP_E_NOMEM, "", "out of memory");
    }

    return 0;
}


int
wp_h2_has_room(wp_conn_t *c)
{
    uint32_t  limit;

    /*
     * Before the server's SETTINGS, queue up to the common limit on this
     * connection (nghttp2 sends one, the rest once the limit is known)
     * rather than open a connection per request.
     */
    limit = c->settings_seen
            ? nghttp2_session_get_remote_settings(c->sess,
                                   NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS)
            : 100;

    return (uint32_t) c->nstreams < limit;
}


/* Add one request header; names are static lowercase strings. */
static int
wp_h2_nv(nghttp2_nv *nv, size_t *n, const char *name, const char *value,
    size_t vlen, wp_err_t *err)
{
    if (wp_client_header_ok(name, value, vlen, err) != 0) {
        return -1;
    }

    nv[*n].name = (uint8_t *) name;
    nv[*n].namelen = strlen(name);
    nv[*n].value = (uint8_t *) value;
    nv[*n].valuelen = vlen;
    nv[*n].flags = NGHTTP2_NV_FLAG_NO_COPY_NAME;
    (*n)++;

    return 0;
}


int
wp_h2_submit(wp_conn_t *c, wp_stream_t *s, const wp_url_t *url,
    const wp_push_req_t *req, const char *user_agent, wp_err_t *err)
{
    char                   ttl[24], clen[24];
    size_t                 n;
    int32_t                id;
    const char            *authority, *path;
    nghttp2_nv             nv[15];
    nghttp2_data_provider  prd;

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
        || wp_h2_nv(nv, &n, "user-agent", user_agent, strlen(user_agent),
                    err) != 0
        || wp_h2_nv(nv, &n, "ttl", ttl, strlen(ttl), err) != 0
        || (req->urgency != NULL
            && wp_h2_nv(nv, &n, "urgency", req->urgency,
                        strlen(req->urgency), err) != 0)
        || (req->topic != NULL && req->topic[0] != '\0'
            && wp_h2_nv(nv, &n, "topic", req->topic, strlen(req->topic),
                        err) != 0)
        || wp_h2_nv(nv, &n, "authorization", req->authorization,
                    strlen(req->authorization), err) != 0
        || (req->wns_cache_policy != NULL
            && wp_h2_nv(nv, &n, "x-wns-cache-policy", req->wns_cache_policy,
                        strlen(req->wns_cache_policy), err) != 0)
        || wp_h2_nv(nv, &n, "content-length", clen, strlen(clen), err) != 0
        || (req->body_len > 0
            && (wp_h2_nv(nv, &n, "content-type", "application/octet-stream",
                         24, err) != 0
                || wp_h2_nv(nv, &n, "content-encoding", "aes128gcm", 9, err)
                   != 0)))
    {
        return -1;
    }

    prd.source.ptr = s;
    prd.read_callback = wp_h2_read_body;

    id = nghttp2_submit_request(c->sess, NULL, nv, n,
                                req->body_len ? &prd : NULL, s);
    if (id < 0) {
        return wp_err_set(err, WP_E_INTERNAL, "", "HTTP/2: %s",
                          nghttp2_strerror(id));
    }

    s->id = id;

    return 0;
}


int
wp_h2_fill(wp_conn_t *c)
{
    ssize_t         len;
    const uint8_t  *p;

    while (c->out_len < WP_CLIENT_OUT_BATCH) {
        len = nghttp2_session_mem_send(c->sess, &p);
        if (len < 0) {
            wp_conn_close(c, 1, 0, 0, CURLE_HTTP2, "HTTP/2: %s",
                          nghttp2_strerror((int) len));
            return -1;
        }
        if (len == 0) {
            break;
        }

        /* p is nghttp2's until the next call: copy it now */
        if (wp_conn_reserve(c, len) != 0) {
            wp_conn_close(c, 1, 0, 0, CURLE_OUT_OF_MEMORY, "out of memory");
            return -1;
        }
        memcpy(c->out + c->out_len, p, len);
        c->out_len += len;
    }

    return 0;
}


int
wp_h2_input(wp_conn_t *c, const uint8_t *data, size_t len)
{
    ssize_t  rv;

    rv = nghttp2_session_mem_recv(c->sess, data, len);
    if (rv < 0) {
        wp_conn_close(c, 1, 0, 0, CURLE_HTTP2, "HTTP/2 protocol error: %s",
                      nghttp2_strerror((int) rv));
        return -1;
    }

    return 0;
}


void
wp_h2_cancel(wp_conn_t *c, wp_stream_t *s)
{
    /* the stream closes (and is unlinked) once the reset is out */
    (void) nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE, s->id,
                                     NGHTTP2_CANCEL);
}


int
wp_h2_finished(wp_conn_t *c)
{
    return !nghttp2_session_want_read(c->sess)
           && !nghttp2_session_want_write(c->sess);
}
