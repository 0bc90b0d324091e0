
/*
 * ngx_http_webpush_health: the health routes.
 *
 * Copyright (C) ngx_webpush authors
 *
 * Handler directives (location), one per check, methods GET and HEAD:
 *
 *   webpush_health;            all checks below
 *   webpush_health_database;   SELECT 1 through the pool
 *   webpush_health_redis;      PING
 *   webpush_health_vapid;      the VAPID public key is configured (it was
 *                              validated when the configuration loaded)
 *   webpush_health_sender;     a sender heartbeat within the last 15 s:
 *                              ZRANGEBYSCORE <prefix>senders now-15 +inf
 *                              (score = unix seconds of the last beat,
 *                              member = consumer name)
 *
 * 200 when every check asked for is healthy, 503 otherwise, with
 *   {"status":"ok"|"error","checks":{"database":{"status":"ok",
 *    "latencyMs":1}, ...}}
 * and "Cache-Control: no-store".  A check's "error" member says why.
 *
 * NOTE FOR THE FACE FILE (app engineer): these are route handlers for the
 * route table (GET|HEAD, "GET, HEAD", needs 0).  health.c uses from
 * src/ngx_http_webpush.h: ngx_http_webpush_module, the main conf type with
 * its "vapid_public_key" (len 0 = not configured), and
 * ngx_http_webpush_send_error().
 */


#ifndef _NGX_HTTP_WEBPUSH_HEALTH_H_INCLUDED_
#define _NGX_HTTP_WEBPUSH_HEALTH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_webpush_health_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_webpush_health_database_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_webpush_health_redis_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_webpush_health_vapid_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_webpush_health_sender_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_WEBPUSH_HEALTH_H_INCLUDED_ */
