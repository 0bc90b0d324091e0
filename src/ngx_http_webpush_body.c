
/*
 * ngx_http_webpush_body: reading a route's JSON request body.
 *
 * Copyright (C) ngx_webpush authors
 *
 * Every refusal is a JSON error sent before or instead of reading, and the
 * body is then discarded by the response writer: a body left unread
 * breaks keepalive and, over HTTP/2, trips nginx's flood check.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_webpush.h"


static void ngx_http_webpush_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_webpush_body_too_large(ngx_http_request_t *r,
    off_t limit);
static ngx_int_t ngx_http_webpush_is_json(ngx_http_request_t *r);


ngx_http_webpush_ctx_t *
ngx_http_webpush_get_ctx(ngx_http_request_t *r)
{
    ngx_http_webpush_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_webpush_module);
    if (ctx != NULL) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_webpush_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_webpush_module);

    return ctx;
}


ngx_int_t
ngx_http_webpush_read_json_body(ngx_http_request_t *r,
    ngx_http_webpush_ctx_t *ctx, size_t max,
    ngx_http_client_body_handler_pt post)
{
    off_t                      limit;
    ngx_int_t                  rc;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    /*
     * The stricter of the route's own bound and client_max_body_size,
     * checked here so that a Content-Length over it gets a JSON 413
     * instead of nginx's HTML page.
     */
    limit = (off_t) max;

    if (clcf->client_max_body_size && clcf->client_max_body_size < limit) {
        limit = clcf->client_max_body_size;
    }

    if (r->headers_in.content_length_n < 0 && !r->headers_in.chunked) {
        return ngx_http_webpush_send_error(r, NGX_HTTP_LENGTH_REQUIRED,
                                           "length_required",
                                           "a JSON request body is "
                                           "required");
    }

    if (r->headers_in.content_length_n > limit) {
        return ngx_http_webpush_body_too_large(r, limit);
    }

    if (!ngx_http_webpush_is_json(r)) {
        return ngx_http_webpush_send_error(r,
                                           NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                           "unsupported_media_type",
                                           "Content-Type must be "
                                           "application/json");
    }

    ctx->body_max = (size_t) limit;
    ctx->body_post = post;

    /* one buffer when it fits client_body_buffer_size; else see below */
    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_webpush_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {

        if (rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
            return ngx_http_webpush_body_too_large(r, limit);
        }

        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_webpush_body_handler(ngx_http_request_t *r)
{
    u_char                  *p;
    off_t                    len;
    size_t                   size;
    ssize_t                  n;
    ngx_buf_t               *b;
    ngx_chain_t             *cl;
    ngx_http_webpush_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_webpush_module);

    len = 0;

    if (r->request_body && r->request_body->bufs) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            len += ngx_buf_size(cl->buf);
        }
    }

    /* a chunked body has no Content-Length to check beforehand */
    if (len > (off_t) ctx->body_max) {
        ngx_http_finalize_request(r,
                  ngx_http_webpush_body_too_large(r, (off_t) ctx->body_max));
        return;
    }

    if (len == 0) {
        ngx_str_set(&ctx->body, "");
        ctx->body_post(r);
        return;
    }

    b = r->request_body->bufs->buf;

    if (r->request_body->bufs->next == NULL && !b->in_file) {
        ctx->body.data = b->pos;
        ctx->body.len = b->last - b->pos;
        ctx->body_post(r);
        return;
    }

    /*
     * Larger than client_body_buffer_size: parts are in a temporary file.
     * Reading it back is a local disk read of a bounded size, as nginx
     * itself does for such bodies.
     */

    p = ngx_pnalloc(r->pool, (size_t) len);
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ctx->body.data = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            size = (size_t) (b->file_last - b->file_pos);

            n = ngx_read_file(b->file, p, size, b->file_pos);

            if (n != (ssize_t) size) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "webpush: short read of the request body "
                              "file (%z of %uz bytes)", n, size);
                ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            p += size;
            continue;
        }

        p = ngx_cpymem(p, b->pos, b->last - b->pos);
    }

    ctx->body.len = p - ctx->body.data;

    ctx->body_post(r);
}


/*
 * A lib/ validation failure as the API's answer: 400 when the body is not
 * JSON at all, 413 for a payload or a whole body over its bound, 500 only
 * for our own allocation failure, 422 for any invalid field (the message
 * starts with the field's JSON path).
 */

ngx_int_t
ngx_http_webpush_send_invalid(ngx_http_request_t *r, wp_err_t *err)
{
    ngx_uint_t  status;

    if (ngx_strcmp(err->code, WP_E_BAD_JSON) == 0) {
        status = NGX_HTTP_BAD_REQUEST;

    } else if (ngx_strcmp(err->code, WP_E_PAYLOAD_TOO_LARGE) == 0
               || (ngx_strcmp(err->code, WP_E_TOO_LONG) == 0
                   && err->field[0] == '\0'))
    {
        status = NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;

    } else if (ngx_strcmp(err->code, WP_E_NOMEM) == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;

    } else {
        status = 422;
    }

    return ngx_http_webpush_send_wp_error(r, status, err);
}


static ngx_int_t
ngx_http_webpush_body_too_large(ngx_http_request_t *r, off_t limit)
{
    /* like nginx's own 413: do not keep reading a flood on this socket */
    r->keepalive = 0;

    return ngx_http_webpush_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                       "body_too_large",
                                       "the request body is larger than "
                                       "%O bytes", limit);
}


/* "application/json", any case, parameters (charset=utf-8) allowed. */

static ngx_int_t
ngx_http_webpush_is_json(ngx_http_request_t *r)
{
    u_char  *p, *last;

    if (r->headers_in.content_type == NULL) {
        return 0;
    }

    p = r->headers_in.content_type->value.data;
    last = p + r->headers_in.content_type->value.len;

    if (last - p < (ssize_t) sizeof("application/json") - 1
        || ngx_strncasecmp(p, (u_char *) "application/json",
                           sizeof("application/json") - 1)
           != 0)
    {
        return 0;
    }

    p += sizeof("application/json") - 1;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    return p == last || *p == ';';
}
