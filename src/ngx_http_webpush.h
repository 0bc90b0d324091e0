
/*
 * ngx_http_webpush: types and helpers shared by the module's files.
 *
 * Copyright (C) ngx_webpush authors
 *
 * The face file (ngx_http_webpush_module.c) owns the directives, the
 * configuration structures' life cycle and the routing; the route bodies
 * live in src/ngx_http_webpush_*.c and reach each other only through what
 * is declared here.
 */


#ifndef _NGX_HTTP_WEBPUSH_H_INCLUDED_
#define _NGX_HTTP_WEBPUSH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "endpoint.h"
#include "wp_err.h"

#include "ngx_http_webpush_pg.h"
#include "ngx_http_webpush_redis.h"


/* Longest human message in a JSON error, before escaping. */
#define NGX_HTTP_WEBPUSH_ERR_MSG_MAX         512

/* What a route needs from the main configuration (route->needs). */
#define NGX_HTTP_WEBPUSH_NEEDS_VAPID_KEY     0x0001
#define NGX_HTTP_WEBPUSH_NEEDS_PG            0x0002
#define NGX_HTTP_WEBPUSH_NEEDS_REDIS         0x0004
#define NGX_HTTP_WEBPUSH_NEEDS_AUTH          0x0008
#define NGX_HTTP_WEBPUSH_NEEDS_N             4

/* Routes counted in the metrics zone (the route table is shorter). */
#define NGX_HTTP_WEBPUSH_MAX_ROUTES          16

/* Retry-After of a 503 when a dependency is down or saturated, seconds. */
#define NGX_HTTP_WEBPUSH_RETRY_AFTER         "5"


typedef ngx_int_t (*ngx_http_webpush_route_pt)(ngx_http_request_t *r);


typedef struct {
    ngx_str_t                   name;       /* the handler directive */
    ngx_uint_t                  methods;    /* NGX_HTTP_GET|... */
    ngx_str_t                   allow;      /* Allow header for a 405 */
    ngx_uint_t                  needs;      /* NGX_HTTP_WEBPUSH_NEEDS_* */
    ngx_http_webpush_route_pt   handler;
} ngx_http_webpush_route_t;


/* Cross-worker counters (src/ngx_http_webpush_metrics.c). */
typedef struct ngx_http_webpush_shm_s  ngx_http_webpush_shm_t;


typedef struct {
    ngx_str_t                   vapid_public_key;   /* canonical base64url */
    ngx_str_t                   vapid_key_json;     /* the route's body */
    ngx_str_t                   vapid_key_etag;

    /* where a route needing each thing was first used, for the error */
    ngx_uint_t                  needs;
    ngx_str_t                   needs_file[NGX_HTTP_WEBPUSH_NEEDS_N];
    ngx_uint_t                  needs_line[NGX_HTTP_WEBPUSH_NEEDS_N];
    ngx_str_t                   needs_name[NGX_HTTP_WEBPUSH_NEEDS_N];

    ngx_http_webpush_pg_conf_t      pg;
    ngx_http_webpush_redis_conf_t   redis;

    /* auth: HS256 secret (never logged), claim names NUL-terminated */
    ngx_str_t                   jwt_secret;
    ngx_str_t                   jwt_user_claim;
    ngx_str_t                   send_role_claim;
    ngx_str_t                   send_role_value;

    /* subscription endpoints: parsed allow-list (freed with cf->pool) */
    wp_endpoint_policy_t       *endpoint_policy;
    ngx_str_t                   allowed_endpoints;  /* as configured */

    ngx_int_t                   ttl_default;        /* seconds */

    /* metrics: shared counters and the active subscriptions refresher */
    ngx_shm_zone_t             *shm_zone;
    ngx_msec_t                  active_refresh;
} ngx_http_webpush_main_conf_t;


typedef struct {
    /* the route served here; deliberately not inherited, like a handler */
    ngx_http_webpush_route_t   *route;

    time_t                      vapid_key_max_age;

    /* auth from nginx variables instead of a JWT (NGX_CONF_UNSET: none) */
    ngx_int_t                   auth_user_index;
    ngx_int_t                   auth_send_index;
} ngx_http_webpush_loc_conf_t;


/* Per request state of the routes that read a body and go async. */
typedef struct {
    ngx_str_t                   user;       /* authenticated user id */
    unsigned                    can_send:1;

    ngx_str_t                   body;       /* whole request body */
    size_t                      body_max;
    ngx_http_client_body_handler_pt  body_post;

    /* route specific */
    ngx_str_t                   job_id;     /* send */
    void                       *data;      /* send: Idempotency-Key */
} ngx_http_webpush_ctx_t;


extern ngx_module_t              ngx_http_webpush_module;
extern ngx_http_webpush_route_t  ngx_http_webpush_routes[];


/* Responses (face file) */

ngx_int_t ngx_http_webpush_send_json(ngx_http_request_t *r,
    ngx_uint_t status, u_char *body, size_t len, ngx_str_t *cache_control);
ngx_int_t ngx_http_webpush_send_body(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *type, u_char *body, size_t len,
    ngx_str_t *cache_control);
ngx_int_t ngx_http_webpush_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *fmt, ...);
ngx_int_t ngx_http_webpush_send_wp_error(ngx_http_request_t *r,
    ngx_uint_t status, wp_err_t *err);
ngx_int_t ngx_http_webpush_send_unavailable(ngx_http_request_t *r,
    const char *code, const char *what);
ngx_table_elt_t *ngx_http_webpush_add_header(ngx_http_request_t *r,
    ngx_str_t *key, ngx_str_t *value);

/* Finish an async request with rc from one of the senders above. */
void ngx_http_webpush_finalize(ngx_http_request_t *r, ngx_int_t rc);

/* Configuration values: literal | env:NAME | file:PATH (face file) */
char *ngx_http_webpush_conf_value(ngx_conf_t *cf, ngx_str_t *spec,
    ngx_str_t *value);
/* the same, but an unset env:NAME gives *fallback instead of an error */
char *ngx_http_webpush_conf_value_or(ngx_conf_t *cf, ngx_str_t *spec,
    ngx_str_t *fallback, ngx_str_t *value);
ngx_str_t ngx_http_webpush_conf_source(ngx_str_t *spec);

/* Auth (src/ngx_http_webpush_auth.c) */

/*
 * Authenticate r: the user id (and the send permission) from the JWT or
 * from the configured variables, into ctx.  Returns NGX_DECLINED (go on:
 * no response writer ever returns it), or what the error response already
 * sent (401, 403) returned: return that from the handler.
 */
ngx_int_t ngx_http_webpush_auth(ngx_http_request_t *r,
    ngx_http_webpush_ctx_t *ctx, ngx_uint_t need_send);

char *ngx_http_webpush_jwt_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_webpush_send_role(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_webpush_auth_variable(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_webpush_allowed_endpoints(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_webpush_ttl_default(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* Request bodies (src/ngx_http_webpush_body.c) */

/*
 * Check the method's body (JSON content type, length against max and
 * client_max_body_size) and read it; post runs with the body in
 * ctx->body.  Returns what the content handler returns.
 */
ngx_int_t ngx_http_webpush_read_json_body(ngx_http_request_t *r,
    ngx_http_webpush_ctx_t *ctx, size_t max,
    ngx_http_client_body_handler_pt post);

ngx_http_webpush_ctx_t *ngx_http_webpush_get_ctx(ngx_http_request_t *r);

/* A lib/ validation error: 400 not JSON, 413 too large, 422 a field. */
ngx_int_t ngx_http_webpush_send_invalid(ngx_http_request_t *r,
    wp_err_t *err);

/* Routes (src/ngx_http_webpush_subscribe.c, _send.c, _metrics.c) */

ngx_int_t ngx_http_webpush_subscribe_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_webpush_topics_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_webpush_send_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_webpush_metrics_handler(ngx_http_request_t *r);

/* Metrics (src/ngx_http_webpush_metrics.c) */

ngx_int_t ngx_http_webpush_metrics_init_conf(ngx_conf_t *cf,
    ngx_http_webpush_main_conf_t *wmcf);
ngx_int_t ngx_http_webpush_metrics_log_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_webpush_metrics_init_process(ngx_cycle_t *cycle);

/* dependency failures, counted across workers */
#define NGX_HTTP_WEBPUSH_UPSTREAM_PG_ERROR      0
#define NGX_HTTP_WEBPUSH_UPSTREAM_PG_BUSY       1
#define NGX_HTTP_WEBPUSH_UPSTREAM_REDIS_ERROR   2
#define NGX_HTTP_WEBPUSH_UPSTREAM_REDIS_TIMEOUT 3
#define NGX_HTTP_WEBPUSH_UPSTREAM_MAX           4

void ngx_http_webpush_metrics_upstream(ngx_uint_t what);


#endif /* _NGX_HTTP_WEBPUSH_H_INCLUDED_ */
