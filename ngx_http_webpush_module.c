
/*
 * ngx_http_webpush_module: the Web Push API served by nginx itself.
 *
 * Copyright (C) ngx_webpush authors
 *
 * This file is the module's face: directives, configuration structures and
 * routing.  Each route is a handler directive ("webpush_vapid_key;") that an
 * operator puts in any location; all of them go through one content handler
 * that checks the method against the route's table entry, so every route
 * answers 405 with Allow and a JSON error the same way.
 *
 * Directives:
 *
 *   webpush_vapid_public_key  KEY | env:NAME | file:PATH;        (http)
 *       The VAPID application server public key, in web-push's format
 *       (base64url of the 65-byte uncompressed P-256 point).  "env:NAME"
 *       reads it from the environment when the configuration is loaded;
 *       list the variable with nginx's "env NAME;" in the main context
 *       too: nginx drops unlisted variables on a binary upgrade and, with
 *       "master_process off", before any reload.  A value set with
 *       "env NAME=value;" is used as well.  "file:PATH" reads the file
 *       (relative to the configuration directory) and trims surrounding
 *       white space.  The key is validated (base64url, 65 bytes, on the
 *       curve) at load time: a bad key fails "nginx -t".
 *
 *   webpush_vapid_key;                                            (location)
 *       GET/HEAD: 200 {"publicKey":"..."}, cacheable.
 *
 *   webpush_vapid_key_max_age  TIME;            (http, server, location)
 *       Cache-Control max-age of the key route, default 1h.
 *
 *   webpush_postgres URL ... ;  webpush_redis URL ... ;           (http)
 *       The database pool and the queue: see src/ngx_http_webpush_pg.h
 *       and src/ngx_http_webpush_redis.h.
 *
 *   webpush_jwt_secret  SECRET | env:NAME | file:PATH;            (http)
 *       HS256 key of "Authorization: Bearer" tokens (the seed's
 *       JWT_SECRET).  Never logged; under 32 bytes draws a warning.
 *
 *   webpush_jwt_user_claim  CLAIM;                                (http)
 *       The claim holding the user id, default "sub".
 *
 *   webpush_send_role  CLAIM VALUE;                               (http)
 *       Who may send: the claim (a string of space-separated values or an
 *       array) must hold VALUE.  Default "role admin".
 *
 *   webpush_auth_user_variable  $var;           (http, server, location)
 *   webpush_auth_send_variable  $var;           (http, server, location)
 *       Auth done elsewhere (auth_request, an upstream): the user id is
 *       $var's value (empty: 401), the send permission is set when the
 *       second variable is non-empty and not "0", "false", "no", "off".
 *       Takes precedence over the JWT where set.
 *
 *   webpush_allowed_endpoints  LIST | env:NAME | file:PATH [FALLBACK]; (http)
 *       Push-service hosts a subscription endpoint may use (lib/endpoint.h
 *       syntax: "host", "*.suffix", ":port", "default").  FALLBACK applies
 *       when env:NAME is unset.  Default: the real push services.
 *
 *   webpush_ttl_default  SECONDS | env:NAME [FALLBACK];            (http)
 *       TTL of a send without "ttl" (PUSH_TTL_DEFAULT), default 86400.
 *
 *   webpush_active_subscriptions_refresh  TIME;                    (http)
 *       How often the metrics' active subscriptions figure is counted
 *       (one worker per period), default 30s.
 *
 *   Route handlers (location; methods other than listed: 405 + Allow):
 *       webpush_subscribe;  POST subscribe, DELETE unsubscribe
 *       webpush_topics;     PUT replace / POST add / DELETE remove topics
 *       webpush_send;       POST enqueue (send permission)
 *       webpush_metrics;    GET/HEAD Prometheus text
 *       webpush_health[_database|_redis|_vapid|_sender];  GET/HEAD
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "b64.h"
#include "ece.h"
#include "wp_err.h"

#include "ngx_http_webpush.h"
#include "ngx_http_webpush_health.h"


/* Longest value read by "file:" (a key or a URL, not a document). */
#define NGX_HTTP_WEBPUSH_CONF_FILE_MAX       65536


static ngx_int_t ngx_http_webpush_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_webpush_vapid_key_handler(ngx_http_request_t *r);

static char *ngx_http_webpush_route(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_webpush_vapid_public_key(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_webpush_conf_env(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *fallback, ngx_str_t *value);
static char *ngx_http_webpush_conf_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *value);

static ngx_int_t ngx_http_webpush_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_webpush_init_process(ngx_cycle_t *cycle);
static void ngx_http_webpush_exit_process(ngx_cycle_t *cycle);
static void *ngx_http_webpush_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_webpush_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_webpush_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_webpush_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);


/*
 * The routes.  A new route is one entry here plus one command below whose
 * "post" points at the entry.
 */
ngx_http_webpush_route_t  ngx_http_webpush_routes[] = {

    { ngx_string("webpush_vapid_key"),
      NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"),
      NGX_HTTP_WEBPUSH_NEEDS_VAPID_KEY,
      ngx_http_webpush_vapid_key_handler },

    /* POST subscribes (upsert), DELETE unsubscribes, by endpoint */
    { ngx_string("webpush_subscribe"),
      NGX_HTTP_POST|NGX_HTTP_DELETE,
      ngx_string("POST, DELETE"),
      NGX_HTTP_WEBPUSH_NEEDS_PG|NGX_HTTP_WEBPUSH_NEEDS_AUTH,
      ngx_http_webpush_subscribe_handler },

    /* PUT replaces the followed topics, POST adds, DELETE removes */
    { ngx_string("webpush_topics"),
      NGX_HTTP_PUT|NGX_HTTP_POST|NGX_HTTP_DELETE,
      ngx_string("PUT, POST, DELETE"),
      NGX_HTTP_WEBPUSH_NEEDS_PG|NGX_HTTP_WEBPUSH_NEEDS_AUTH,
      ngx_http_webpush_topics_handler },

    { ngx_string("webpush_send"),
      NGX_HTTP_POST,
      ngx_string("POST"),
      NGX_HTTP_WEBPUSH_NEEDS_REDIS|NGX_HTTP_WEBPUSH_NEEDS_AUTH,
      ngx_http_webpush_send_handler },

    { ngx_string("webpush_metrics"),
      NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"),
      0,
      ngx_http_webpush_metrics_handler },

    /* health: all checks, then one route per check (health.c) */
    { ngx_string("webpush_health"),
      NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"),
      0,
      ngx_http_webpush_health_handler },

    { ngx_string("webpush_health_database"),
      NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"),
      0,
      ngx_http_webpush_health_database_handler },

    { ngx_string("webpush_health_redis"),
      NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"),
      0,
      ngx_http_webpush_health_redis_handler },

    { ngx_string("webpush_health_vapid"),
      NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"),
      0,
      ngx_http_webpush_health_vapid_handler },

    { ngx_string("webpush_health_sender"),
      NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"),
      0,
      ngx_http_webpush_health_sender_handler },

    { ngx_null_string, 0, ngx_null_string, 0, NULL }
};


static ngx_command_t  ngx_http_webpush_commands[] = {

    { ngx_string("webpush_vapid_public_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_webpush_vapid_public_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("webpush_vapid_key"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_webpush_route,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_webpush_routes[0] },

    { ngx_string("webpush_vapid_key_max_age"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_webpush_loc_conf_t, vapid_key_max_age),
      NULL },

    { ngx_string("webpush_subscribe"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_webpush_route,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_webpush_routes[1] },

    { ngx_string("webpush_topics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_webpush_route,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_webpush_routes[2] },

    { ngx_string("webpush_send"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_webpush_route,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_webpush_routes[3] },

    { ngx_string("webpush_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_webpush_route,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_webpush_routes[4] },

    { ngx_string("webpush_jwt_secret"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_webpush_jwt_secret,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("webpush_jwt_user_claim"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_webpush_main_conf_t, jwt_user_claim),
      NULL },

    { ngx_string("webpush_send_role"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_webpush_send_role,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("webpush_auth_user_variable"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_webpush_auth_variable,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_webpush_loc_conf_t, auth_user_index),
      NULL },

    { ngx_string("webpush_auth_send_variable"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_webpush_auth_variable,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_webpush_loc_conf_t, auth_send_index),
      NULL },

    { ngx_string("webpush_allowed_endpoints"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_webpush_allowed_endpoints,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("webpush_ttl_default"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_webpush_ttl_default,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("webpush_active_subscriptions_refresh"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_webpush_main_conf_t, active_refresh),
      NULL },

    { ngx_string("webpush_postgres"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_webpush_pg_set,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_webpush_main_conf_t, pg),
      NULL },

    { ngx_string("webpush_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_webpush_redis_set,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_webpush_main_conf_t, redis),
      NULL },

    { ngx_string("webpush_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_webpush_route,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_webpush_routes[5] },

    { ngx_string("webpush_health_database"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_webpush_route,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_webpush_routes[6] },

    { ngx_string("webpush_health_redis"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_webpush_route,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_webpush_routes[7] },

    { ngx_string("webpush_health_vapid"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_webpush_route,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_webpush_routes[8] },

    { ngx_string("webpush_health_sender"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_webpush_route,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_webpush_routes[9] },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_webpush_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_webpush_postconfiguration,    /* postconfiguration */

    ngx_http_webpush_create_main_conf,     /* create main configuration */
    ngx_http_webpush_init_main_conf,       /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_webpush_create_loc_conf,      /* create location configuration */
    ngx_http_webpush_merge_loc_conf        /* merge location configuration */
};


ngx_module_t  ngx_http_webpush_module = {
    NGX_MODULE_V1,
    &ngx_http_webpush_module_ctx,          /* module context */
    ngx_http_webpush_commands,             /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_webpush_init_process,         /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_webpush_exit_process,         /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_webpush_json_type = ngx_string("application/json");
static ngx_str_t  ngx_http_webpush_allow = ngx_string("Allow");
static ngx_str_t  ngx_http_webpush_etag = ngx_string("ETag");
static ngx_str_t  ngx_http_webpush_cache_control = ngx_string("Cache-Control");


/* Routing */


static ngx_int_t
ngx_http_webpush_handler(ngx_http_request_t *r)
{
    ngx_http_webpush_route_t     *route;
    ngx_http_webpush_loc_conf_t  *wlcf;

    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_webpush_module);
    route = wlcf->route;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "webpush route \"%V\" method \"%V\"",
                   &route->name, &r->method_name);

    if (!(r->method & route->methods)) {

        if (ngx_http_webpush_add_header(r, &ngx_http_webpush_allow,
                                        &route->allow)
            == NULL)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_webpush_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                           "method_not_allowed",
                                           "method %V is not allowed here; "
                                           "allowed: %V",
                                           &r->method_name, &route->allow);
    }

    return route->handler(r);
}


static ngx_int_t
ngx_http_webpush_vapid_key_handler(ngx_http_request_t *r)
{
    u_char                        *p;
    ngx_str_t                      cc;
    ngx_table_elt_t               *etag;
    ngx_http_webpush_loc_conf_t   *wlcf;
    ngx_http_webpush_main_conf_t  *wmcf;

    wmcf = ngx_http_get_module_main_conf(r, ngx_http_webpush_module);
    wlcf = ngx_http_get_module_loc_conf(r, ngx_http_webpush_module);

    cc.data = ngx_pnalloc(r->pool, sizeof("public, max-age=") - 1
                                   + NGX_TIME_T_LEN);
    if (cc.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(cc.data, "public, max-age=%T", wlcf->vapid_key_max_age);
    cc.len = p - cc.data;

    /*
     * With an ETag set, nginx's not_modified filter answers a matching
     * If-None-Match with 304 by itself.
     */
    etag = ngx_http_webpush_add_header(r, &ngx_http_webpush_etag,
                                       &wmcf->vapid_key_etag);
    if (etag == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.etag = etag;

    return ngx_http_webpush_send_json(r, NGX_HTTP_OK,
                                      wmcf->vapid_key_json.data,
                                      wmcf->vapid_key_json.len, &cc);
}


/* Responses */


/*
 * Send a complete JSON response.  The request body, if any, is discarded
 * first: a body left unread breaks keepalive and, over HTTP/2, trips
 * nginx's flood check.  body must outlive the request (pool or config).
 */

ngx_int_t
ngx_http_webpush_send_json(ngx_http_request_t *r, ngx_uint_t status,
    u_char *body, size_t len, ngx_str_t *cache_control)
{
    return ngx_http_webpush_send_body(r, status, &ngx_http_webpush_json_type,
                                      body, len, cache_control);
}


/* The same for any content type (the metrics route's text format). */

ngx_int_t
ngx_http_webpush_send_body(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, u_char *body, size_t len, ngx_str_t *cache_control)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (cache_control
        && ngx_http_webpush_add_header(r, &ngx_http_webpush_cache_control,
                                       cache_control)
           == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = status;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = len;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = body;
    b->last = body + len;
    b->memory = (len > 0);
    b->last_buf = (r == r->main);
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * Answer {"error":{"code":"...","message":"..."}} with the given status;
 * every error of the API goes through here.  fmt takes nginx's format
 * directives (%V, %s, %ui, ...).  Errors are never cached.
 */

ngx_int_t
ngx_http_webpush_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *fmt, ...)
{
    u_char     *p, *body, msg[NGX_HTTP_WEBPUSH_ERR_MSG_MAX];
    size_t      len, code_len, msg_len;
    va_list     args;
    ngx_str_t   cc;

    va_start(args, fmt);
    p = ngx_vslprintf(msg, msg + sizeof(msg), fmt, args);
    va_end(args);

    msg_len = p - msg;
    code_len = ngx_strlen(code);

    len = sizeof("{\"error\":{\"code\":\"\",\"message\":\"\"}}") - 1
          + code_len + ngx_escape_json(NULL, (u_char *) code, code_len)
          + msg_len + ngx_escape_json(NULL, msg, msg_len);

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(body, "{\"error\":{\"code\":\"",
                   sizeof("{\"error\":{\"code\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, (u_char *) code, code_len);
    p = ngx_cpymem(p, "\",\"message\":\"", sizeof("\",\"message\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, msg, msg_len);
    p = ngx_cpymem(p, "\"}}", sizeof("\"}}") - 1);

    ngx_str_set(&cc, "no-store");

    return ngx_http_webpush_send_json(r, status, body, p - body, &cc);
}


/* A lib/ validation error: its code and message name the field. */

ngx_int_t
ngx_http_webpush_send_wp_error(ngx_http_request_t *r, ngx_uint_t status,
    wp_err_t *err)
{
    return ngx_http_webpush_send_error(r, status,
                                       err->code ? err->code : "invalid",
                                       "%s", err->message);
}


/*
 * 503 with Retry-After: a dependency is down, slow or saturated.  The
 * client did nothing wrong and may simply try again.
 */

ngx_int_t
ngx_http_webpush_send_unavailable(ngx_http_request_t *r, const char *code,
    const char *what)
{
    static ngx_str_t  retry_after = ngx_string("Retry-After");
    static ngx_str_t  seconds = ngx_string(NGX_HTTP_WEBPUSH_RETRY_AFTER);

    if (ngx_http_webpush_add_header(r, &retry_after, &seconds) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_webpush_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE, code,
                                       "%s", what);
}


/*
 * The end of an async route (a database or Redis callback): rc comes
 * from one of the senders above, or is an NGX_HTTP_* status when even
 * the error could not be built.
 */

void
ngx_http_webpush_finalize(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_finalize_request(r, rc);
}


ngx_table_elt_t *
ngx_http_webpush_add_header(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    h->hash = 1;
    h->key = *key;
    h->value = *value;
    h->lowcase_key = NULL;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return h;
}


/* Configuration */


/* A handler directive: bind the location to its route. */

static char *
ngx_http_webpush_route(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_webpush_loc_conf_t *wlcf = conf;

    ngx_uint_t                     i;
    ngx_http_webpush_route_t      *route;
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_webpush_main_conf_t  *wmcf;

    route = cmd->post;

    if (wlcf->route != NULL) {
        if (wlcf->route == route) {
            return "is duplicate";
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" conflicts with \"%V\" in this location",
                           &cmd->name, &wlcf->route->name);
        return NGX_CONF_ERROR;
    }

    wlcf->route = route;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_webpush_handler;

    /* the key may come later in the http block: check in init_main_conf */
    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_webpush_module);

    /* cf->conf_file is on the parser's stack: copy the name, not it */
    for (i = 0; i < NGX_HTTP_WEBPUSH_NEEDS_N; i++) {
        if ((route->needs & ~wmcf->needs) & (1 << i)) {
            wmcf->needs_file[i] = cf->conf_file->file.name;
            wmcf->needs_line[i] = cf->conf_file->line;
            wmcf->needs_name[i] = route->name;
        }
    }

    wmcf->needs |= route->needs;

    return NGX_CONF_OK;
}


static char *
ngx_http_webpush_vapid_public_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_webpush_main_conf_t *wmcf = conf;

    u_char      *p;
    size_t       n;
    uint32_t     crc;
    wp_err_t     err;
    ngx_str_t   *value, key, source;
    u_char       raw[128];
    char         canon[wp_b64url_len(WP_P256_PUB_LEN) + 1];

    if (wmcf->vapid_public_key.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_webpush_conf_value(cf, &value[1], &key) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    /*
     * The value is not echoed in errors: a private key pasted here by
     * mistake must not end up in the error log.
     */

    source = ngx_http_webpush_conf_source(&value[1]);

    if (wp_b64url_decode((const char *) key.data, key.len, raw, sizeof(raw),
                         &n, WP_B64_STRICT, "webpush_vapid_public_key", &err)
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid VAPID public key (%V): %s",
                           &source, err.message);
        return NGX_CONF_ERROR;
    }

    if (n != WP_P256_PUB_LEN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid VAPID public key (%V): "
                           "decodes to %uz bytes%s, expected the 65-byte "
                           "uncompressed P-256 point",
                           &source, n,
                           n == 32 ? " (is it the private key?)" : "");
        return NGX_CONF_ERROR;
    }

    if (raw[0] != 0x04) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid VAPID public key (%V): first byte is "
                           "0x%02xD, expected 0x04 (uncompressed point)",
                           &source, (uint32_t) raw[0]);
        return NGX_CONF_ERROR;
    }

#if (NGX_HTTP_WEBPUSH_HAVE_ECE)
    if (wp_p256_check_public(raw, "webpush_vapid_public_key", &err) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid VAPID public key (%V): %s",
                           &source, err.message);
        return NGX_CONF_ERROR;
    }
#endif

    /* serve one spelling whatever the input (padding, say) looked like */
    n = wp_b64url_encode(raw, WP_P256_PUB_LEN, canon);

    wmcf->vapid_public_key.data = ngx_pnalloc(cf->pool, n);
    if (wmcf->vapid_public_key.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(wmcf->vapid_public_key.data, canon, n);
    wmcf->vapid_public_key.len = n;

    wmcf->vapid_key_json.data = ngx_pnalloc(cf->pool,
                                            sizeof("{\"publicKey\":\"\"}") - 1
                                            + n);
    if (wmcf->vapid_key_json.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_sprintf(wmcf->vapid_key_json.data, "{\"publicKey\":\"%V\"}",
                    &wmcf->vapid_public_key);
    wmcf->vapid_key_json.len = p - wmcf->vapid_key_json.data;

    wmcf->vapid_key_etag.data = ngx_pnalloc(cf->pool, sizeof("\"00000000\""));
    if (wmcf->vapid_key_etag.data == NULL) {
        return NGX_CONF_ERROR;
    }

    crc = ngx_crc32_short(wmcf->vapid_key_json.data, wmcf->vapid_key_json.len);
    p = ngx_sprintf(wmcf->vapid_key_etag.data, "\"%08xD\"", crc);
    wmcf->vapid_key_etag.len = p - wmcf->vapid_key_etag.data;

    return NGX_CONF_OK;
}


/*
 * Resolve a directive value that may live elsewhere: "env:NAME",
 * "file:PATH", or the literal itself.  The result is allocated from
 * cf->pool and never logged, so secrets can use this too.
 */

char *
ngx_http_webpush_conf_value(ngx_conf_t *cf, ngx_str_t *spec,
    ngx_str_t *value)
{
    return ngx_http_webpush_conf_value_or(cf, spec, NULL, value);
}


/*
 * The same with a fallback for an unset "env:NAME" (fallback NULL: an
 * error), so that one configuration works whether or not an optional
 * variable such as WEBPUSH_ALLOWED_ENDPOINTS is set.
 */

char *
ngx_http_webpush_conf_value_or(ngx_conf_t *cf, ngx_str_t *spec,
    ngx_str_t *fallback, ngx_str_t *value)
{
    ngx_str_t  name;

    if (spec->len > sizeof("env:") - 1
        && ngx_strncmp(spec->data, "env:", sizeof("env:") - 1) == 0)
    {
        name.data = spec->data + sizeof("env:") - 1;
        name.len = spec->len - (sizeof("env:") - 1);

        return ngx_http_webpush_conf_env(cf, &name, fallback, value);
    }

    if (spec->len > sizeof("file:") - 1
        && ngx_strncmp(spec->data, "file:", sizeof("file:") - 1) == 0)
    {
        name.data = spec->data + sizeof("file:") - 1;
        name.len = spec->len - (sizeof("file:") - 1);

        return ngx_http_webpush_conf_file(cf, &name, value);
    }

    if (spec->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "empty value");
        return NGX_CONF_ERROR;
    }

    *value = *spec;

    return NGX_CONF_OK;
}


/* Where a value came from, for messages: never the literal value itself. */

ngx_str_t
ngx_http_webpush_conf_source(ngx_str_t *spec)
{
    ngx_str_t  source;

    if ((spec->len > sizeof("env:") - 1
         && ngx_strncmp(spec->data, "env:", sizeof("env:") - 1) == 0)
        || (spec->len > sizeof("file:") - 1
            && ngx_strncmp(spec->data, "file:", sizeof("file:") - 1) == 0))
    {
        return *spec;
    }

    ngx_str_set(&source, "literal value");

    return source;
}


static char *
ngx_http_webpush_conf_env(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *fallback, ngx_str_t *value)
{
    u_char           *p, *s;
    ngx_str_t        *var;
    ngx_uint_t        i;
    ngx_core_conf_t  *ccf;

    /* "env NAME=value;" given before the http block wins, as for workers */
    ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                           ngx_core_module);

    var = ccf->env.elts;

    /*
     * The core module keeps "NAME=value" with len covering NAME only;
     * directive arguments are NUL-terminated, so the value ends there.
     */

    for (i = 0; i < ccf->env.nelts; i++) {
        if (var[i].len == name->len
            && var[i].data[name->len] == '='
            && ngx_strncmp(var[i].data, name->data, name->len) == 0)
        {
            value->data = var[i].data + name->len + 1;
            value->len = ngx_strlen(value->data);
            goto found;
        }
    }

    p = ngx_pnalloc(cf->pool, name->len + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    (void) ngx_cpystrn(p, name->data, name->len + 1);

    s = (u_char *) getenv((char *) p);
    if (s == NULL && fallback != NULL) {
        *value = *fallback;
        return NGX_CONF_OK;
    }

    if (s == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "environment variable \"%V\" is not set "
                           "(list it with \"env %V;\" in the main context "
                           "too, so that reloads and upgrades keep it)",
                           name, name);
        return NGX_CONF_ERROR;
    }

    value->data = s;
    value->len = ngx_strlen(s);

found:

    if (value->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "environment variable \"%V\" is empty", name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_webpush_conf_file(ngx_conf_t *cf, ngx_str_t *name, ngx_str_t *value)
{
    char             *rv;
    u_char           *buf, *start, *end;
    off_t             size;
    ssize_t           n;
    size_t            got;
    ngx_fd_t          fd;
    ngx_str_t         path;
    ngx_file_info_t   fi;

    path = *name;

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%s\" failed", path.data);
        return NGX_CONF_ERROR;
    }

    rv = NGX_CONF_ERROR;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%s\" failed", path.data);
        goto done;
    }

    size = ngx_file_size(&fi);

    if (size > NGX_HTTP_WEBPUSH_CONF_FILE_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" is too large (%O bytes, at most %d)",
                           path.data, size, NGX_HTTP_WEBPUSH_CONF_FILE_MAX);
        goto done;
    }

    buf = ngx_pnalloc(cf->pool, (size_t) size + 1);
    if (buf == NULL) {
        goto done;
    }

    for (got = 0; got < (size_t) size; got += n) {
        n = ngx_read_fd(fd, buf + got, (size_t) size - got);

        if (n == -1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               ngx_read_fd_n " \"%s\" failed", path.data);
            goto done;
        }

        if (n == 0) {
            break;
        }
    }

    start = buf;
    end = buf + got;

    while (start < end && (*start == ' ' || *start == '\t'
                           || *start == '\r' || *start == '\n'))
    {
        start++;
    }

    while (end > start && (end[-1] == ' ' || end[-1] == '\t'
                           || end[-1] == '\r' || end[-1] == '\n'))
    {
        end--;
    }

    if (start == end) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%s\" is empty",
                           path.data);
        goto done;
    }

    value->data = start;
    value->len = end - start;

    rv = NGX_CONF_OK;

done:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%s\" failed", path.data);
    }

    return rv;
}


/* Requests are counted by route and status in the log phase. */

static ngx_int_t
ngx_http_webpush_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_webpush_metrics_log_handler;

    return NGX_OK;
}


static ngx_int_t
ngx_http_webpush_init_process(ngx_cycle_t *cycle)
{
    ngx_http_webpush_main_conf_t  *wmcf;

    if (ngx_http_webpush_metrics_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    /* NULL without an http block */
    wmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_webpush_module);
    if (wmcf == NULL) {
        return NGX_OK;
    }

    /* per-worker PostgreSQL pool and Redis connection (pg.c, redis.c) */

    if (ngx_http_webpush_pg_init_process(cycle, &wmcf->pg) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_webpush_redis_init_process(cycle, &wmcf->redis) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* Reloads and worker exits release every connection. */

static void
ngx_http_webpush_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_webpush_redis_exit_process(cycle);
    ngx_http_webpush_pg_exit_process(cycle);
}


static void *
ngx_http_webpush_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_webpush_main_conf_t  *wmcf;

    wmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_webpush_main_conf_t));
    if (wmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     wmcf->vapid_public_key = { 0, NULL };
     *     wmcf->vapid_key_json = { 0, NULL };
     *     wmcf->vapid_key_etag = { 0, NULL };
     *     wmcf->needs = 0;
     *     wmcf->needs_file[] = { 0, NULL };
     *     wmcf->pg = { 0 };          (filled by its directive)
     *     wmcf->jwt_secret = { 0, NULL };
     *     wmcf->jwt_user_claim = { 0, NULL };
     *     wmcf->send_role_claim = { 0, NULL };
     *     wmcf->send_role_value = { 0, NULL };
     *     wmcf->endpoint_policy = NULL;
     *     wmcf->shm_zone = NULL;
     */

    wmcf->ttl_default = NGX_CONF_UNSET;
    wmcf->active_refresh = NGX_CONF_UNSET_MSEC;

    return wmcf;
}


/* Runs after the whole http block is parsed, so directive order is free. */

static char *
ngx_http_webpush_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_webpush_main_conf_t *wmcf = conf;

    if ((wmcf->needs & NGX_HTTP_WEBPUSH_NEEDS_VAPID_KEY)
        && wmcf->vapid_public_key.data == NULL)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%V\" requires \"webpush_vapid_public_key\" "
                      "in the http block, in %V:%ui",
                      &wmcf->needs_name[0], &wmcf->needs_file[0],
                      wmcf->needs_line[0]);
        return NGX_CONF_ERROR;
    }

    if ((wmcf->needs & NGX_HTTP_WEBPUSH_NEEDS_PG)
        && wmcf->pg.url.len == 0)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%V\" requires \"webpush_postgres\" "
                      "in the http block, in %V:%ui",
                      &wmcf->needs_name[1], &wmcf->needs_file[1],
                      wmcf->needs_line[1]);
        return NGX_CONF_ERROR;
    }

    if ((wmcf->needs & NGX_HTTP_WEBPUSH_NEEDS_REDIS)
        && wmcf->redis.url.len == 0)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%V\" requires \"webpush_redis\" "
                      "in the http block, in %V:%ui",
                      &wmcf->needs_name[2], &wmcf->needs_file[2],
                      wmcf->needs_line[2]);
        return NGX_CONF_ERROR;
    }

    /* claim names are handed to lib/ as C strings */

    if (wmcf->jwt_user_claim.data == NULL) {
        ngx_str_set(&wmcf->jwt_user_claim, "sub");
    }

    if (wmcf->send_role_claim.data == NULL) {
        ngx_str_set(&wmcf->send_role_claim, "role");
        ngx_str_set(&wmcf->send_role_value, "admin");
    }

    if (wmcf->endpoint_policy == NULL
        && ngx_http_webpush_allowed_endpoints(cf, NULL, wmcf) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    ngx_conf_init_value(wmcf->ttl_default, 86400);
    ngx_conf_init_msec_value(wmcf->active_refresh, 30000);

    if (ngx_http_webpush_metrics_init_conf(cf, wmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_webpush_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_webpush_loc_conf_t  *wlcf;

    wlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_webpush_loc_conf_t));
    if (wlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     wlcf->route = NULL;
     */

    wlcf->vapid_key_max_age = NGX_CONF_UNSET;
    wlcf->auth_user_index = NGX_CONF_UNSET;
    wlcf->auth_send_index = NGX_CONF_UNSET;

    return wlcf;
}


static char *
ngx_http_webpush_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_webpush_loc_conf_t *prev = parent;
    ngx_http_webpush_loc_conf_t *conf = child;

    ngx_http_webpush_main_conf_t  *wmcf;

    /* conf->route is per location: nested locations get no handler */

    ngx_conf_merge_sec_value(conf->vapid_key_max_age,
                             prev->vapid_key_max_age, 3600);

    ngx_conf_merge_value(conf->auth_user_index, prev->auth_user_index,
                         NGX_CONF_UNSET);
    ngx_conf_merge_value(conf->auth_send_index, prev->auth_send_index,
                         NGX_CONF_UNSET);

    /* merging runs after the whole http block: the secret is known */

    wmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_webpush_module);

    if (conf->route
        && (conf->route->needs & NGX_HTTP_WEBPUSH_NEEDS_AUTH)
        && conf->auth_user_index == NGX_CONF_UNSET
        && wmcf->jwt_secret.len == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" requires \"webpush_jwt_secret\" in the "
                           "http block or \"webpush_auth_user_variable\"",
                           &conf->route->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
