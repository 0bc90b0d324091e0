
/*
 * ngx_http_webpush_redis: one non-blocking Redis connection per worker
 * (hiredis 0.14 async API behind an nginx event adapter), pipelined,
 * reconnected with backoff when the server goes away.
 *
 * Copyright (C) ngx_webpush authors
 *
 * Directive (http context, once):
 *
 *   webpush_redis  URL | env:NAME | file:PATH | env
 *                  [prefix={webpush}:] [connect_timeout=2s]
 *                  [command_timeout=2s];
 *
 *   URL is redis://[[user]:password@]host[:port][/db] or
 *   unix:///path[?db=N] (lib/redis_url.c reads it).  The bare word "env"
 *   takes the seed's variables: REDIS_URL, else REDIS_HOST / REDIS_PORT /
 *   REDIS_PASSWORD (list them with nginx's "env" directive too).  A host
 *   NAME is resolved once when the configuration is loaded (hiredis would
 *   resolve it with a blocking getaddrinfo() on every reconnect).  The
 *   password is sent with AUTH after connecting and is never logged.
 *   Quote a prefix with braces, nginx reads "{" as a block:
 *   webpush_redis env "prefix={myapp}:";
 *
 * NOTE FOR THE FACE FILE (app engineer):
 *   - main conf embeds "ngx_http_webpush_redis_conf_t  redis;", zeroed by
 *     ngx_pcalloc() (redis.url.len == 0 means "not configured"; the
 *     directive fills every field, defaults included).  Keys are
 *     redis.prefix + name, e.g. "{webpush}:jobs"; use redis.prefix when
 *     webpush_redis is absent too: ngx_http_webpush_redis_prefix() returns
 *     the default then.
 *   - the command entry is
 *       { ngx_string("webpush_redis"),
 *         NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
 *         ngx_http_webpush_redis_set,
 *         NGX_HTTP_MAIN_CONF_OFFSET,
 *         offsetof(ngx_http_webpush_main_conf_t, redis),
 *         NULL },
 *   - init_process calls ngx_http_webpush_redis_init_process(cycle,
 *     &wmcf->redis), exit_process ngx_http_webpush_redis_exit_process().
 */


#ifndef _NGX_HTTP_WEBPUSH_REDIS_H_INCLUDED_
#define _NGX_HTTP_WEBPUSH_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>


typedef struct {
    ngx_str_t                   url;              /* as configured */
    ngx_str_t                   prefix;           /* default "{webpush}:" */
    ngx_msec_t                  connect_timeout;  /* default 2s */
    ngx_msec_t                  command_timeout;  /* default 2s */

    /* private: the parsed, resolved target (wp_redis_conf_t) */
    void                       *target;
} ngx_http_webpush_redis_conf_t;


/*
 * rc NGX_OK: reply is the reply (may be REDIS_REPLY_ERROR);
 * NGX_ERROR: not connected, timeout, connection lost (reply is NULL).
 * hiredis frees the reply after done returns: copy what you keep.
 */
typedef void (*ngx_http_webpush_redis_done_pt)(void *data,
    redisReply *reply, ngx_int_t rc);


/*
 * Send one command (binary-safe argv; copied, need not outlive the call).
 * owner: r->pool for a request (done is NEVER called after that pool is
 * destroyed), NULL for background work.  Returns NGX_OK (done is called
 * later, never from inside this call) or NGX_ERROR at once when Redis is
 * known to be down or not configured (answer 503 immediately).
 */
ngx_int_t ngx_http_webpush_redis_command(ngx_pool_t *owner, ngx_log_t *log,
    ngx_http_webpush_redis_done_pt done, void *data, int argc,
    const char **argv, const size_t *argvlen);

ngx_int_t ngx_http_webpush_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_webpush_redis_conf_t *conf);
void ngx_http_webpush_redis_exit_process(ngx_cycle_t *cycle);

/* 1 when this worker's connection is up (authenticated, db selected) */
ngx_int_t ngx_http_webpush_redis_connected(void);

/* 1 when webpush_redis is configured */
ngx_int_t ngx_http_webpush_redis_configured(void);

/* key prefix of this worker's configuration ("{webpush}:" by default) */
ngx_str_t *ngx_http_webpush_redis_prefix(void);

/* "webpush_redis"; cmd->offset = offsetof(main conf, redis) */
char *ngx_http_webpush_redis_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_WEBPUSH_REDIS_H_INCLUDED_ */
