
/*
 * ngx_http_webpush_health: the health routes (see the header for the
 * directives and the answer's shape).
 *
 * Copyright (C) ngx_webpush authors
 *
 * The checks run concurrently: each dependency check is one query or
 * command through the worker's own pool or connection, bounded by their
 * timeouts, so a frozen database makes /health/database a 503 after
 * query_timeout while /health/redis and /health/vapid answer at once.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_webpush.h"
#include "ngx_http_webpush_health.h"


/* a sender is alive when its last heartbeat is this recent, seconds */
#define NGX_HTTP_WEBPUSH_HEALTH_SENDER_AGE   15

/* names listed in the sender check's answer, at most */
#define NGX_HTTP_WEBPUSH_HEALTH_SENDERS_MAX  64
#define NGX_HTTP_WEBPUSH_HEALTH_NAME_MAX     128


enum {
    NGX_HTTP_WEBPUSH_HEALTH_DATABASE = 0,
    NGX_HTTP_WEBPUSH_HEALTH_REDIS,
    NGX_HTTP_WEBPUSH_HEALTH_VAPID,
    NGX_HTTP_WEBPUSH_HEALTH_SENDER,
    NGX_HTTP_WEBPUSH_HEALTH_N
};

#define NGX_HTTP_WEBPUSH_HEALTH_ALL                                          \
    ((1 << NGX_HTTP_WEBPUSH_HEALTH_N) - 1)


typedef struct {
    ngx_uint_t                  state;      /* 0 running, 1 ok, 2 failed */
    ngx_msec_t                  start;
    ngx_msec_t                  latency;
    const char                 *error;
    ngx_uint_t                  count;      /* senders alive */
    ngx_str_t                   names;      /* JSON array of senders */
} ngx_http_webpush_health_check_t;


typedef struct {
    ngx_http_request_t               *request;
    ngx_uint_t                        checks;     /* bit mask */
    ngx_uint_t                        running;
    ngx_http_webpush_health_check_t   check[NGX_HTTP_WEBPUSH_HEALTH_N];
    unsigned                          async:1;
} ngx_http_webpush_health_ctx_t;


static ngx_int_t ngx_http_webpush_health_run(ngx_http_request_t *r,
    ngx_uint_t checks);
static void ngx_http_webpush_health_done(ngx_http_webpush_health_ctx_t *ctx,
    ngx_uint_t i, const char *error);
static void ngx_http_webpush_health_pg_done(void *data, PGresult *res,
    ngx_int_t rc);
static void ngx_http_webpush_health_redis_done(void *data,
    redisReply *reply, ngx_int_t rc);
static void ngx_http_webpush_health_sender_done(void *data,
    redisReply *reply, ngx_int_t rc);
static ngx_int_t ngx_http_webpush_health_respond(
    ngx_http_webpush_health_ctx_t *ctx);


static const char  *ngx_http_webpush_health_names[] = {
    "database", "redis", "vapid", "sender"
};


ngx_int_t
ngx_http_webpush_health_handler(ngx_http_request_t *r)
{
    return ngx_http_webpush_health_run(r, NGX_HTTP_WEBPUSH_HEALTH_ALL);
}


ngx_int_t
ngx_http_webpush_health_database_handler(ngx_http_request_t *r)
{
    return ngx_http_webpush_health_run(r,
                                       1 << NGX_HTTP_WEBPUSH_HEALTH_DATABASE);
}


ngx_int_t
ngx_http_webpush_health_redis_handler(ngx_http_request_t *r)
{
    return ngx_http_webpush_health_run(r, 1 << NGX_HTTP_WEBPUSH_HEALTH_REDIS);
}


ngx_int_t
ngx_http_webpush_health_vapid_handler(ngx_http_request_t *r)
{
    return ngx_http_webpush_health_run(r, 1 << NGX_HTTP_WEBPUSH_HEALTH_VAPID);
}


ngx_int_t
ngx_http_webpush_health_sender_handler(ngx_http_request_t *r)
{
    return ngx_http_webpush_health_run(r,
                                       1 << NGX_HTTP_WEBPUSH_HEALTH_SENDER);
}


static ngx_int_t
ngx_http_webpush_health_run(ngx_http_request_t *r, ngx_uint_t checks)
{
    u_char                         *p;
    ngx_int_t                       rc;
    ngx_str_t                      *prefix, key;
    ngx_uint_t                      i;
    const char                     *argv[5];
    size_t                          argvlen[5];
    u_char                          min[NGX_TIME_T_LEN];
    ngx_http_webpush_main_conf_t   *wmcf;
    ngx_http_webpush_health_ctx_t  *ctx;

    /* read nothing, but take the body off the wire (HTTP/2 flood check) */
    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_webpush_module);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_webpush_health_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->request = r;
    ctx->checks = checks;

    for (i = 0; i < NGX_HTTP_WEBPUSH_HEALTH_N; i++) {
        if (checks & (1 << i)) {
            ctx->check[i].start = ngx_current_msec;
            ctx->running++;
        }
    }

    /* async checks first, so that none completes the answer too early */
    ctx->running++;

    if (checks & (1 << NGX_HTTP_WEBPUSH_HEALTH_DATABASE)) {
        if (!ngx_http_webpush_pg_configured()) {
            ngx_http_webpush_health_done(ctx,
                                         NGX_HTTP_WEBPUSH_HEALTH_DATABASE,
                                         "not configured");

        } else if (ngx_http_webpush_pg_query_prepared(r->pool,
                                             r->connection->log,
                                             "webpush_health", "SELECT 1",
                                             0, NULL,
                                             ngx_http_webpush_health_pg_done,
                                             ctx)
                   != NGX_OK)
        {
            ngx_http_webpush_health_done(ctx,
                                         NGX_HTTP_WEBPUSH_HEALTH_DATABASE,
                                         "unavailable");
        }
    }

    if (checks & (1 << NGX_HTTP_WEBPUSH_HEALTH_REDIS)) {
        argv[0] = "PING";
        argvlen[0] = 4;

        if (!ngx_http_webpush_redis_configured()) {
            ngx_http_webpush_health_done(ctx, NGX_HTTP_WEBPUSH_HEALTH_REDIS,
                                         "not configured");

        } else if (ngx_http_webpush_redis_command(r->pool, r->connection->log,
                                            ngx_http_webpush_health_redis_done,
                                            ctx, 1, argv, argvlen)
                   != NGX_OK)
        {
            ngx_http_webpush_health_done(ctx, NGX_HTTP_WEBPUSH_HEALTH_REDIS,
                                         "unavailable");
        }
    }

    if (checks & (1 << NGX_HTTP_WEBPUSH_HEALTH_SENDER)) {
        prefix = ngx_http_webpush_redis_prefix();

        key.len = prefix->len + sizeof("senders") - 1;
        key.data = ngx_pnalloc(r->pool, key.len);
        if (key.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_cpymem(key.data, prefix->data, prefix->len);
        ngx_memcpy(p, "senders", sizeof("senders") - 1);

        p = ngx_sprintf(min, "%T",
                        ngx_time() - NGX_HTTP_WEBPUSH_HEALTH_SENDER_AGE);

        argv[0] = "ZRANGEBYSCORE";
        argvlen[0] = sizeof("ZRANGEBYSCORE") - 1;
        argv[1] = (const char *) key.data;
        argvlen[1] = key.len;
        argv[2] = (const char *) min;
        argvlen[2] = p - min;
        argv[3] = "+inf";
        argvlen[3] = 4;

        if (!ngx_http_webpush_redis_configured()) {
            ngx_http_webpush_health_done(ctx, NGX_HTTP_WEBPUSH_HEALTH_SENDER,
                                         "Redis not configured");

        } else if (ngx_http_webpush_redis_command(r->pool, r->connection->log,
                                           ngx_http_webpush_health_sender_done,
                                           ctx, 4, argv, argvlen)
                   != NGX_OK)
        {
            ngx_http_webpush_health_done(ctx, NGX_HTTP_WEBPUSH_HEALTH_SENDER,
                                         "Redis unavailable");
        }
    }

    if (checks & (1 << NGX_HTTP_WEBPUSH_HEALTH_VAPID)) {
        /* validated (base64url, 65 bytes, on the curve) at load time */
        ngx_http_webpush_health_done(ctx, NGX_HTTP_WEBPUSH_HEALTH_VAPID,
                                     wmcf->vapid_public_key.len
                                     ? NULL : "not configured");
    }

    if (--ctx->running == 0) {
        return ngx_http_webpush_health_respond(ctx);
    }

    ctx->async = 1;
    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_webpush_health_done(ngx_http_webpush_health_ctx_t *ctx,
    ngx_uint_t i, const char *error)
{
    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    ctx->check[i].state = error ? 2 : 1;
    ctx->check[i].error = error;
    ctx->check[i].latency = ngx_current_msec - ctx->check[i].start;

    if (--ctx->running > 0 || !ctx->async) {
        return;
    }

    /* the last async check: answer from this event handler */

    r = ctx->request;
    c = r->connection;

    rc = ngx_http_webpush_health_respond(ctx);

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_webpush_health_pg_done(void *data, PGresult *res, ngx_int_t rc)
{
    ngx_http_webpush_health_ctx_t *ctx = data;

    const char  *error;

    if (rc == NGX_OK) {
        error = PQresultStatus(res) == PGRES_TUPLES_OK ? NULL : "query failed";

    } else if (rc == NGX_BUSY) {
        error = "no connection free";

    } else {
        error = "unavailable";
    }

    ngx_http_webpush_health_done(ctx, NGX_HTTP_WEBPUSH_HEALTH_DATABASE,
                                 error);
}


static void
ngx_http_webpush_health_redis_done(void *data, redisReply *reply,
    ngx_int_t rc)
{
    ngx_http_webpush_health_ctx_t *ctx = data;

    const char  *error;

    if (rc != NGX_OK) {
        error = "unavailable";

    } else if (reply->type == REDIS_REPLY_ERROR) {
        error = "error reply";

    } else {
        error = NULL;
    }

    ngx_http_webpush_health_done(ctx, NGX_HTTP_WEBPUSH_HEALTH_REDIS, error);
}


static void
ngx_http_webpush_health_sender_done(void *data, redisReply *reply,
    ngx_int_t rc)
{
    ngx_http_webpush_health_ctx_t *ctx = data;

    u_char                           *p;
    size_t                            len, n;
    ngx_uint_t                        i, count;
    redisReply                       *e;
    ngx_http_webpush_health_check_t  *check;

    check = &ctx->check[NGX_HTTP_WEBPUSH_HEALTH_SENDER];

    if (rc != NGX_OK) {
        ngx_http_webpush_health_done(ctx, NGX_HTTP_WEBPUSH_HEALTH_SENDER,
                                     "Redis unavailable");
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY) {
        ngx_http_webpush_health_done(ctx, NGX_HTTP_WEBPUSH_HEALTH_SENDER,
                                     "unexpected reply");
        return;
    }

    /* the names are copied now: hiredis frees the reply after this */

    count = ngx_min(reply->elements, NGX_HTTP_WEBPUSH_HEALTH_SENDERS_MAX);
    len = sizeof("[]");

    for (i = 0; i < count; i++) {
        e = reply->element[i];
        if (e->type == REDIS_REPLY_STRING) {
            n = ngx_min((size_t) e->len, NGX_HTTP_WEBPUSH_HEALTH_NAME_MAX);
            len += 3 + n + ngx_escape_json(NULL, (u_char *) e->str, n);
        }
    }

    p = ngx_pnalloc(ctx->request->pool, len);
    if (p == NULL) {
        ngx_http_webpush_health_done(ctx, NGX_HTTP_WEBPUSH_HEALTH_SENDER,
                                     "out of memory");
        return;
    }

    check->names.data = p;
    *p++ = '[';

    for (i = 0; i < count; i++) {
        e = reply->element[i];
        if (e->type != REDIS_REPLY_STRING) {
            continue;
        }

        if (p > check->names.data + 1) {
            *p++ = ',';
        }

        n = ngx_min((size_t) e->len, NGX_HTTP_WEBPUSH_HEALTH_NAME_MAX);
        *p++ = '"';
        p = (u_char *) ngx_escape_json(p, (u_char *) e->str, n);
        *p++ = '"';
    }

    *p++ = ']';
    check->names.len = p - check->names.data;
    check->count = reply->elements;

    ngx_http_webpush_health_done(ctx, NGX_HTTP_WEBPUSH_HEALTH_SENDER,
                                 reply->elements ? NULL
                                 : "no sender heartbeat in the last 15 s");
}


/*
 * {"status":"ok","checks":{"database":{"status":"ok","latencyMs":1},...}}
 * and, when a check failed, 503 with
 * {"status":"error","error":{"code":"unhealthy","message":"..."},
 *  "checks":{... "error":"..."}}
 */

static ngx_int_t
ngx_http_webpush_health_respond(ngx_http_webpush_health_ctx_t *ctx)
{
    u_char                           *body, *p, *msg;
    size_t                            len;
    ngx_str_t                         cc;
    ngx_uint_t                        i, failed, first;
    ngx_http_webpush_health_check_t  *check;

    failed = 0;
    len = sizeof("{\"status\":\"error\",\"error\":{\"code\":\"unhealthy\","
                 "\"message\":\"\"},\"checks\":{}}");

    for (i = 0; i < NGX_HTTP_WEBPUSH_HEALTH_N; i++) {
        if (!(ctx->checks & (1 << i))) {
            continue;
        }

        check = &ctx->check[i];

        len += sizeof(",\"\":{\"status\":\"error\",\"latencyMs\":,"
                      "\"error\":\"\",\"count\":,\"senders\":}")
               + ngx_strlen(ngx_http_webpush_health_names[i])
               + NGX_INT_T_LEN * 2 + check->names.len;

        if (check->state != 1) {
            failed++;
            /* the message repeats "name: error; " per failed check */
            len += 2 * (ngx_strlen(ngx_http_webpush_health_names[i])
                        + (check->error ? ngx_strlen(check->error) : 8) + 4);
        }
    }

    body = ngx_pnalloc(ctx->request->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body, "{\"status\":\"%s\"", failed ? "error" : "ok");

    if (failed) {
        p = ngx_cpymem(p, ",\"error\":{\"code\":\"unhealthy\",\"message\":\"",
                       sizeof(",\"error\":{\"code\":\"unhealthy\","
                              "\"message\":\"") - 1);
        msg = p;

        for (i = 0; i < NGX_HTTP_WEBPUSH_HEALTH_N; i++) {
            check = &ctx->check[i];

            if (!(ctx->checks & (1 << i)) || check->state == 1) {
                continue;
            }

            if (p > msg) {
                p = ngx_cpymem(p, "; ", 2);
            }

            p = ngx_sprintf(p, "%s: %s", ngx_http_webpush_health_names[i],
                            check->error ? check->error : "failed");
        }

        p = ngx_cpymem(p, "\"}", 2);
    }

    p = ngx_cpymem(p, ",\"checks\":{", sizeof(",\"checks\":{") - 1);
    first = 1;

    for (i = 0; i < NGX_HTTP_WEBPUSH_HEALTH_N; i++) {
        check = &ctx->check[i];

        if (!(ctx->checks & (1 << i))) {
            continue;
        }

        p = ngx_sprintf(p, "%s\"%s\":{\"status\":\"%s\",\"latencyMs\":%M",
                        first ? "" : ",", ngx_http_webpush_health_names[i],
                        check->state == 1 ? "ok" : "error", check->latency);
        first = 0;

        if (check->state != 1) {
            p = ngx_sprintf(p, ",\"error\":\"%s\"",
                            check->error ? check->error : "failed");
        }

        if (i == NGX_HTTP_WEBPUSH_HEALTH_SENDER && check->names.len) {
            p = ngx_sprintf(p, ",\"count\":%ui,\"senders\":%V",
                            check->count, &check->names);
        }

        *p++ = '}';
    }

    p = ngx_cpymem(p, "}}", 2);

    ngx_str_set(&cc, "no-store");

    return ngx_http_webpush_send_json(ctx->request,
                                      failed ? NGX_HTTP_SERVICE_UNAVAILABLE
                                             : NGX_HTTP_OK,
                                      body, p - body, &cc);
}
