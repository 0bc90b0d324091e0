
/*
 * ngx_http_webpush_send: the send route (webpush_send;).
 *
 * Copyright (C) ngx_webpush authors
 *
 * POST {type, eventId?, to, payload, ttl?, urgency?, topic?, sendAt?}
 * with the send permission.  lib/sendreq.c validates everything the
 * sender would otherwise fail on later; the job gets a fresh UUID and
 * goes to Redis:
 *   now:     XADD <prefix>jobs * job <job json>
 *   later:   ZADD <prefix>scheduled <sendAt ms> <job json>
 * and the answer is 202 {"jobId": "..."}.
 *
 * With an Idempotency-Key header, the check and the enqueue are one Lua
 * script (atomic): a key seen within a day answers the first jobId
 * ("Idempotent-Replayed: true") and enqueues nothing.  The key remembers
 * a SHA-256 of the request body: the same key with another body is a
 * client bug (a reused key), answered 422 instead of silently dropping
 * the second notification.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/evp.h>

#include "sendreq.h"
#include "uuid.h"

#include "ngx_http_webpush.h"


#define NGX_HTTP_WEBPUSH_IDEM_KEY_MAX  255


static void ngx_http_webpush_send_post(ngx_http_request_t *r);
static void ngx_http_webpush_send_done(void *data, redisReply *reply,
    ngx_int_t rc);
static ngx_table_elt_t *ngx_http_webpush_idempotency_key(
    ngx_http_request_t *r);
static u_char *ngx_http_webpush_key(ngx_pool_t *pool, ngx_str_t *prefix,
    const char *name, ngx_str_t *tail1, ngx_str_t *tail2, size_t *len);


/*
 * KEYS[1] the idempotency key, KEYS[2] the stream or the scheduled set;
 * ARGV[1] "x" (XADD) or "z" (ZADD), ARGV[2] the job, ARGV[3] its id,
 * ARGV[4] the score (sendAt ms), ARGV[5] the body's hash.  The key holds
 * "<jobId> <hash>".  Returns {1, id} when enqueued, {0, the first id} for
 * a repeat, {2, the first id} for the key reused with another body.  Both
 * keys carry the prefix's hash tag.
 */
static const char  ngx_http_webpush_idem_lua[] =
    "local prev = redis.call('GET', KEYS[1]) "
    "if prev then "
    "  local sp = string.find(prev, ' ', 1, true) "
    "  if not sp then return {0, prev} end "
    "  local id = string.sub(prev, 1, sp - 1) "
    "  if string.sub(prev, sp + 1) ~= ARGV[5] then return {2, id} end "
    "  return {0, id} "
    "end "
    "if ARGV[1] == 'z' then "
    "  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2]) "
    "else "
    "  redis.call('XADD', KEYS[2], '*', 'job', ARGV[2]) "
    "end "
    "redis.call('SET', KEYS[1], ARGV[3] .. ' ' .. ARGV[5], 'EX', 86400) "
    "return {1, ARGV[3]}";


static ngx_str_t  ngx_http_webpush_replayed = ngx_string("Idempotent-Replayed");


ngx_int_t
ngx_http_webpush_send_handler(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_table_elt_t         *h;
    ngx_http_webpush_ctx_t  *ctx;

    ctx = ngx_http_webpush_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_webpush_auth(r, ctx, 1);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    h = ngx_http_webpush_idempotency_key(r);

    if (h != NULL) {
        if (h->value.len == 0 || h->value.len > NGX_HTTP_WEBPUSH_IDEM_KEY_MAX)
        {
            return ngx_http_webpush_send_error(r, NGX_HTTP_BAD_REQUEST,
                                               "invalid_idempotency_key",
                                               "Idempotency-Key must be "
                                               "1..%d bytes",
                                               NGX_HTTP_WEBPUSH_IDEM_KEY_MAX);
        }

        ctx->data = h;
    }

    return ngx_http_webpush_read_json_body(r, ctx, WP_SEND_MAX_BODY,
                                           ngx_http_webpush_send_post);
}


static void
ngx_http_webpush_send_post(ngx_http_request_t *r)
{
    int                            argc;
    char                          *json;
    u_char                        *key, *target, *p;
    size_t                         json_len, key_len, target_len;
    size_t                         argvlen[10];
    wp_err_t                       err;
    ngx_int_t                      rc;
    ngx_str_t                     *prefix, caller, idem;
    ngx_time_t                    *tp;
    const char                    *argv[10];
    wp_send_req_t                  req;
    ngx_table_elt_t               *h;
    wp_send_limits_t               lim;
    ngx_http_webpush_ctx_t        *ctx;
    ngx_http_webpush_main_conf_t  *wmcf;
    u_char                         score[NGX_INT64_LEN + 1];
    u_char                         md[EVP_MAX_MD_SIZE];
    u_char                         hash[2 * EVP_MAX_MD_SIZE];
    unsigned int                   mdlen;

    ctx = ngx_http_get_module_ctx(r, ngx_http_webpush_module);
    wmcf = ngx_http_get_module_main_conf(r, ngx_http_webpush_module);

    tp = ngx_timeofday();

    wp_send_limits_init(&lim);
    lim.ttl_default = wmcf->ttl_default;
    lim.now_ms = (int64_t) tp->sec * 1000 + tp->msec;

    if (wp_send_req_parse((const char *) ctx->body.data, ctx->body.len, &lim,
                          &req, &err)
        != 0)
    {
        ngx_http_finalize_request(r,
                                  ngx_http_webpush_send_invalid(r, &err));
        return;
    }

    if (wp_uuid_v4(req.id) != 0) {
        wp_send_req_free(&req);
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "webpush: the random generator failed");
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (wp_send_req_to_json(&req, &json, &json_len, &err) != 0) {
        wp_send_req_free(&req);
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "webpush: job serialisation failed: %s", err.message);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* keep what outlives lib/'s malloc'ed memory in the request pool */

    ctx->job_id.len = ngx_strlen(req.id);
    ctx->job_id.data = ngx_pnalloc(r->pool, ctx->job_id.len + json_len);

    if (ctx->job_id.data == NULL) {
        free(json);
        wp_send_req_free(&req);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_cpymem(ctx->job_id.data, req.id, ctx->job_id.len);
    ngx_memcpy(p, json, json_len);

    free(json);
    json = (char *) p;

    /* scheduled only when still ahead: a past sendAt means now */
    (void) ngx_sprintf(score, "%L%Z", req.send_at_ms);
    if (req.send_at_ms <= lim.now_ms) {
        req.send_at_ms = 0;
    }

    prefix = ngx_http_webpush_redis_prefix();

    target = ngx_http_webpush_key(r->pool, prefix,
                                  req.send_at_ms ? "scheduled" : "jobs",
                                  NULL, NULL, &target_len);
    if (target == NULL) {
        wp_send_req_free(&req);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    h = ctx->data;

    if (h != NULL) {
        /* per caller: two callers' keys never collide */
        caller = ctx->user;
        idem = h->value;

        key = ngx_http_webpush_key(r->pool, prefix, "idem:", &caller, &idem,
                                   &key_len);
        if (key == NULL) {
            wp_send_req_free(&req);
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        if (!EVP_Digest(ctx->body.data, ctx->body.len, md, &mdlen,
                        EVP_sha256(), NULL))
        {
            wp_send_req_free(&req);
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        (void) ngx_hex_dump(hash, md, mdlen);

        argv[0] = "EVAL";
        argv[1] = ngx_http_webpush_idem_lua;
        argv[2] = "2";
        argv[3] = (const char *) key;
        argv[4] = (const char *) target;
        argv[5] = req.send_at_ms ? "z" : "x";
        argv[6] = json;
        argv[7] = (const char *) ctx->job_id.data;
        argv[8] = (const char *) score;

        argvlen[0] = 4;
        argvlen[1] = sizeof(ngx_http_webpush_idem_lua) - 1;
        argvlen[2] = 1;
        argvlen[3] = key_len;
        argvlen[4] = target_len;
        argvlen[5] = 1;
        argvlen[6] = json_len;
        argvlen[7] = ctx->job_id.len;
        argvlen[8] = ngx_strlen(score);
        argv[9] = (const char *) hash;
        argvlen[9] = 2 * mdlen;
        argc = 10;

    } else if (req.send_at_ms) {
        argv[0] = "ZADD";
        argv[1] = (const char *) target;
        argv[2] = (const char *) score;
        argv[3] = json;

        argvlen[0] = 4;
        argvlen[1] = target_len;
        argvlen[2] = ngx_strlen(score);
        argvlen[3] = json_len;
        argc = 4;

    } else {
        argv[0] = "XADD";
        argv[1] = (const char *) target;
        argv[2] = "*";
        argv[3] = "job";
        argv[4] = json;

        argvlen[0] = 4;
        argvlen[1] = target_len;
        argvlen[2] = 1;
        argvlen[3] = 3;
        argvlen[4] = json_len;
        argc = 5;
    }

    wp_send_req_free(&req);

    if (ngx_http_webpush_redis_command(r->pool, r->connection->log,
                                       ngx_http_webpush_send_done, r,
                                       argc, argv, argvlen)
        != NGX_OK)
    {
        ngx_http_webpush_metrics_upstream(
                                     NGX_HTTP_WEBPUSH_UPSTREAM_REDIS_ERROR);
        rc = ngx_http_webpush_send_unavailable(r, "queue_unavailable",
                                               "the queue is not available");
        ngx_http_finalize_request(r, rc);
    }
}


static void
ngx_http_webpush_send_done(void *data, redisReply *reply, ngx_int_t rc)
{
    ngx_http_request_t *r = data;

    u_char                  *p, *body;
    size_t                   len;
    ngx_str_t                id, yes;
    redisReply              *e;
    ngx_http_webpush_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_webpush_module);

    if (rc != NGX_OK || reply == NULL) {
        ngx_http_webpush_metrics_upstream(
                                     NGX_HTTP_WEBPUSH_UPSTREAM_REDIS_ERROR);
        ngx_http_finalize_request(r,
            ngx_http_webpush_send_unavailable(r, "queue_unavailable",
                                              "the queue is not available"));
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_http_webpush_metrics_upstream(
                                     NGX_HTTP_WEBPUSH_UPSTREAM_REDIS_ERROR);
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "webpush: enqueue failed: %*s",
                      (size_t) reply->len, reply->str);
        ngx_http_finalize_request(r,
            ngx_http_webpush_send_unavailable(r, "queue_unavailable",
                                              "the queue refused the job"));
        return;
    }

    id = ctx->job_id;

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2) {
        e = reply->element[1];

        if (reply->element[0]->type == REDIS_REPLY_INTEGER
            && reply->element[0]->integer == 2)
        {
            ngx_http_finalize_request(r,
                ngx_http_webpush_send_error(r, 422, "idempotency_key_reused",
                                            "this Idempotency-Key was used "
                                            "with another request body "
                                            "within the last day"));
            return;
        }

        if (reply->element[0]->type == REDIS_REPLY_INTEGER
            && reply->element[0]->integer == 0
            && e->type == REDIS_REPLY_STRING)
        {
            /* a repeat: the first request's job id, copied (hiredis frees) */
            id.data = ngx_pnalloc(r->pool, e->len);
            if (id.data == NULL) {
                ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }

            ngx_memcpy(id.data, e->str, e->len);
            id.len = e->len;

            ngx_str_set(&yes, "true");
            if (ngx_http_webpush_add_header(r, &ngx_http_webpush_replayed,
                                            &yes)
                == NULL)
            {
                ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }
        }
    }

    len = sizeof("{\"jobId\":\"\"}") - 1
          + id.len + ngx_escape_json(NULL, id.data, id.len);

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_cpymem(body, "{\"jobId\":\"", sizeof("{\"jobId\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, id.data, id.len);
    p = ngx_cpymem(p, "\"}", 2);

    ngx_http_finalize_request(r,
        ngx_http_webpush_send_json(r, NGX_HTTP_ACCEPTED, body, p - body,
                                   NULL));
}


static ngx_table_elt_t *
ngx_http_webpush_idempotency_key(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("Idempotency-Key") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Idempotency-Key",
                               sizeof("Idempotency-Key") - 1)
               == 0)
        {
            return &h[i];
        }
    }
}


/* prefix + name [+ tail1 + ":" + tail2], NUL-terminated. */

static u_char *
ngx_http_webpush_key(ngx_pool_t *pool, ngx_str_t *prefix, const char *name,
    ngx_str_t *tail1, ngx_str_t *tail2, size_t *len)
{
    u_char  *key, *p;
    size_t   n;

    n = prefix->len + ngx_strlen(name) + 1;

    if (tail1) {
        n += tail1->len + 1 + tail2->len;
    }

    key = ngx_pnalloc(pool, n);
    if (key == NULL) {
        return NULL;
    }

    p = ngx_cpymem(key, prefix->data, prefix->len);
    p = ngx_cpymem(p, name, ngx_strlen(name));

    if (tail1) {
        p = ngx_cpymem(p, tail1->data, tail1->len);
        *p++ = ':';
        p = ngx_cpymem(p, tail2->data, tail2->len);
    }

    *p = '\0';
    *len = p - key;

    return key;
}
