
/*
 * ngx_http_webpush_pg: a per-worker pool of non-blocking PostgreSQL
 * connections (libpq's async API driven by nginx events and timers).
 *
 * Copyright (C) ngx_webpush authors
 *
 * Directive (http context, once):
 *
 *   webpush_postgres  URL | env:NAME | file:PATH
 *                     [max_conns=8] [max_waiting=128]
 *                     [connect_timeout=5s] [query_timeout=5s]
 *                     [wait_timeout=1s];
 *
 *   URL is a postgresql:// URI or a key=value conninfo string.  Prisma's
 *   extra URI parameters (?schema=, connection_limit, ...) are accepted:
 *   schema becomes search_path, the others are dropped.  A host NAME is
 *   resolved once, when the configuration is loaded, and pinned with
 *   hostaddr= (host= is kept for TLS verification; a name with several
 *   addresses is tried address by address): a request never waits on
 *   DNS; a reload resolves again.  A socket directory (/path) or an IP
 *   literal is used as it is.  sslmode and the rest pass through
 *   unchanged; application_name defaults to "webpush-nginx".
 *
 * NOTE FOR THE FACE FILE (app engineer):
 *   - main conf embeds "ngx_http_webpush_pg_conf_t  pg;", zeroed by
 *     ngx_pcalloc() (no NGX_CONF_UNSET needed: the directive fills every
 *     field, defaults included; pg.url.len == 0 means "not configured").
 *   - the command entry is
 *       { ngx_string("webpush_postgres"),
 *         NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
 *         ngx_http_webpush_pg_set,
 *         NGX_HTTP_MAIN_CONF_OFFSET,
 *         offsetof(ngx_http_webpush_main_conf_t, pg),
 *         NULL },
 *   - init_process calls ngx_http_webpush_pg_init_process(cycle, &wmcf->pg)
 *     and exit_process ngx_http_webpush_pg_exit_process(cycle).
 *   - ngx_http_webpush_conf_value() must be non-static (declared below
 *     until src/ngx_http_webpush.h declares it).
 */


#ifndef _NGX_HTTP_WEBPUSH_PG_H_INCLUDED_
#define _NGX_HTTP_WEBPUSH_PG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <libpq-fe.h>


typedef struct {
    ngx_str_t                   url;              /* resolved value */
    ngx_uint_t                  max_conns;        /* per worker, default 8 */
    ngx_uint_t                  max_waiting;      /* wait queue, default 128 */
    ngx_msec_t                  connect_timeout;  /* default 5s */
    ngx_msec_t                  query_timeout;    /* default 5s */
    ngx_msec_t                  wait_timeout;     /* default 1s */

    /* private: NULL-terminated PQconnectStartParams() arrays */
    const char                **keywords;
    const char                **values;
} ngx_http_webpush_pg_conf_t;


/*
 * rc NGX_OK: res is the result (the caller checks PQresultStatus(); error
 * results such as unique violations are normal answers);
 * NGX_BUSY: no connection within wait_timeout, or the wait queue is full
 * (answer 503 + Retry-After);
 * NGX_ERROR: connect failure, query timeout, connection lost, not
 * configured (answer 503).
 * res is NULL unless NGX_OK; the pg layer PQclear()s it after done returns.
 */
typedef void (*ngx_http_webpush_pg_done_pt)(void *data, PGresult *res,
    ngx_int_t rc);


typedef struct {
    ngx_uint_t                  in_use;       /* running a query */
    ngx_uint_t                  idle;         /* connected, free */
    ngx_uint_t                  connecting;
    ngx_uint_t                  waiting;      /* queries queued */
    ngx_uint_t                  errors;       /* cumulative, this worker */
    ngx_uint_t                  timeouts;     /* cumulative, this worker */
} ngx_http_webpush_pg_stats_t;


/*
 * Issue one parameterised statement (text parameters; values[i] NULL is
 * SQL NULL; sql and values are copied, they need not outlive the call).
 * owner: the pool whose destruction cancels the query (r->pool for a
 * request: done is then NEVER called after the request is gone, and the
 * connection is drained and reused, or closed); NULL for background work.
 * Returns NGX_OK (done is called later, never from inside this call) or
 * NGX_ERROR (could not even queue: answer at once).
 */
ngx_int_t ngx_http_webpush_pg_query(ngx_pool_t *owner, ngx_log_t *log,
    const char *sql, ngx_uint_t nparams, const char *const *values,
    ngx_http_webpush_pg_done_pt done, void *data);

/*
 * The same as a named prepared statement: prepared on each connection at
 * its first use (one more round trip, once), then only executed, which
 * saves the server parsing and planning it every time.  name identifies
 * sql: always pass the same sql with the same name (a constant string).
 * A failed prepare is the answer (NGX_OK with its error result).  Not for
 * servers behind a transaction-pooling PgBouncer.
 */
ngx_int_t ngx_http_webpush_pg_query_prepared(ngx_pool_t *owner,
    ngx_log_t *log, const char *name, const char *sql, ngx_uint_t nparams,
    const char *const *values, ngx_http_webpush_pg_done_pt done, void *data);

/* per-worker pool; works under "master_process off" too */
ngx_int_t ngx_http_webpush_pg_init_process(ngx_cycle_t *cycle,
    ngx_http_webpush_pg_conf_t *conf);
void ngx_http_webpush_pg_exit_process(ngx_cycle_t *cycle);

/* 1 when webpush_postgres is configured (and this worker has a pool) */
ngx_int_t ngx_http_webpush_pg_configured(void);

/* this worker's pool */
void ngx_http_webpush_pg_stats(ngx_http_webpush_pg_stats_t *st);

/* "webpush_postgres"; cmd->offset = offsetof(main conf, pg) */
char *ngx_http_webpush_pg_set(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


/* the face file's value resolver (literal | env:NAME | file:PATH) */
char *ngx_http_webpush_conf_value(ngx_conf_t *cf, ngx_str_t *spec,
    ngx_str_t *value);


#endif /* _NGX_HTTP_WEBPUSH_PG_H_INCLUDED_ */
