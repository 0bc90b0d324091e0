
/*
 * ngx_http_webpush_pg: a per-worker pool of non-blocking PostgreSQL
 * connections.
 *
 * Copyright (C) ngx_webpush authors
 *
 * libpq's async API (PQconnectStartParams/PQconnectPoll, PQsendQueryParams,
 * PQflush, PQconsumeInput/PQisBusy/PQgetResult) is driven by nginx events
 * on the connection's socket and nginx timers for every timeout.  The read
 * event is level-triggered: PQconsumeInput() need not read the socket dry,
 * and an edge-triggered epoll would not report the rest.  The write event
 * is added only while libpq has output to flush (or a connect step wants
 * to write), and removed after.
 *
 * Every completion is delivered from a posted event, never from inside
 * ngx_http_webpush_pg_query(), and never after the owner pool is gone.
 * A query whose owner went away keeps its connection until the result is
 * drained, then the connection is reused.  A connection that times out,
 * loses its server or fails to connect is closed; after a failed connect
 * the pool backs off (250 ms doubling to 5 s) and, while it has no live
 * connection, fails queries at once instead of queueing them.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>

#include "ngx_http_webpush_pg.h"


#define NGX_HTTP_WEBPUSH_PG_BACKOFF_MIN      250
#define NGX_HTTP_WEBPUSH_PG_BACKOFF_MAX      5000

#define NGX_HTTP_WEBPUSH_PG_APP_NAME         "webpush-nginx"

/* addresses of one host name tried, at most */
#define NGX_HTTP_WEBPUSH_PG_ADDRS_MAX        4

/* named statements prepared per connection, at most (then unprepared) */
#define NGX_HTTP_WEBPUSH_PG_PREPARED_MAX     32


typedef struct ngx_http_webpush_pg_conn_s  ngx_http_webpush_pg_conn_t;
typedef struct ngx_http_webpush_pg_req_s   ngx_http_webpush_pg_req_t;


typedef enum {
    NGX_HTTP_WEBPUSH_PG_FREE = 0,
    NGX_HTTP_WEBPUSH_PG_CONNECTING,
    NGX_HTTP_WEBPUSH_PG_IDLE,
    NGX_HTTP_WEBPUSH_PG_BUSY
} ngx_http_webpush_pg_state_e;


struct ngx_http_webpush_pg_req_s {
    ngx_queue_t                     all;        /* every live request */
    ngx_queue_t                     queue;      /* the wait queue */
    ngx_event_t                     event;      /* wait timer, completion */
    ngx_pool_cleanup_t             *cleanup;    /* in the owner pool */
    ngx_log_t                      *log;
    ngx_http_webpush_pg_conn_t     *conn;       /* running on */
    ngx_http_webpush_pg_done_pt     done;
    void                           *data;
    PGresult                       *res;
    ngx_int_t                       rc;
    char                           *sql;
    char                           *name;       /* prepared statement */
    const char                    **values;
    int                             nparams;
    unsigned                        waiting:1;
};


struct ngx_http_webpush_pg_conn_s {
    ngx_queue_t                     queue;      /* idle list */
    ngx_http_webpush_pg_state_e     state;
    PGconn                         *pgconn;
    ngx_connection_t               *c;
    ino_t                           ino;        /* c->fd's socket */
    ngx_event_t                     timer;      /* connect / query timeout */
    ngx_http_webpush_pg_req_t      *req;        /* NULL once cancelled */
    PGresult                       *res;        /* first result */
    char                           *prepared[NGX_HTTP_WEBPUSH_PG_PREPARED_MAX];
    ngx_uint_t                      nprepared;
    char                           *preparing;  /* name being prepared */
    unsigned                        flushing:1;
};


typedef struct {
    ngx_http_webpush_pg_conf_t      conf;       /* the worker's own copy */
    ngx_http_webpush_pg_conn_t     *conns;
    ngx_queue_t                     idle;
    ngx_queue_t                     waiting;
    ngx_queue_t                     reqs;
    ngx_uint_t                      nidle;
    ngx_uint_t                      nbusy;
    ngx_uint_t                      nconnecting;
    ngx_uint_t                      nwaiting;
    ngx_uint_t                      errors;
    ngx_uint_t                      timeouts;
    ngx_msec_t                      backoff;
    ngx_msec_t                      down_until;
    unsigned                        down:1;
} ngx_http_webpush_pg_pool_t;


static ngx_int_t ngx_http_webpush_pg_submit(ngx_pool_t *owner,
    ngx_log_t *log, const char *name, const char *sql, ngx_uint_t nparams,
    const char *const *values, ngx_http_webpush_pg_done_pt done, void *data);
static ngx_http_webpush_pg_req_t *ngx_http_webpush_pg_req_create(
    ngx_pool_t *owner, ngx_log_t *log, const char *name, const char *sql,
    ngx_uint_t nparams, const char *const *values);
static void ngx_http_webpush_pg_req_cleanup(void *data);
static void ngx_http_webpush_pg_req_handler(ngx_event_t *ev);
static void ngx_http_webpush_pg_req_finish(ngx_http_webpush_pg_req_t *req,
    ngx_int_t rc, PGresult *res);
static void ngx_http_webpush_pg_req_free(ngx_http_webpush_pg_req_t *req);

static void ngx_http_webpush_pg_dispatch(void);
static void ngx_http_webpush_pg_fail_waiting(ngx_int_t rc);
static ngx_int_t ngx_http_webpush_pg_is_down(void);

static ngx_int_t ngx_http_webpush_pg_conn_open(void);
static ngx_int_t ngx_http_webpush_pg_conn_attach(
    ngx_http_webpush_pg_conn_t *conn);
static void ngx_http_webpush_pg_conn_detach(ngx_http_webpush_pg_conn_t *conn);
static void ngx_http_webpush_pg_conn_handler(ngx_event_t *ev);
static void ngx_http_webpush_pg_conn_poll(ngx_http_webpush_pg_conn_t *conn);
static void ngx_http_webpush_pg_conn_idle_read(
    ngx_http_webpush_pg_conn_t *conn);
static void ngx_http_webpush_pg_conn_busy(ngx_http_webpush_pg_conn_t *conn);
static ngx_int_t ngx_http_webpush_pg_conn_send(
    ngx_http_webpush_pg_conn_t *conn, ngx_http_webpush_pg_req_t *req);
static ngx_int_t ngx_http_webpush_pg_conn_flush(
    ngx_http_webpush_pg_conn_t *conn, ngx_log_t *log);
static ngx_int_t ngx_http_webpush_pg_conn_prepared(
    ngx_http_webpush_pg_conn_t *conn, const char *name);
static void ngx_http_webpush_pg_conn_timeout(ngx_event_t *ev);
static ngx_int_t ngx_http_webpush_pg_conn_want_write(
    ngx_http_webpush_pg_conn_t *conn, ngx_uint_t on);
static void ngx_http_webpush_pg_conn_set_idle(
    ngx_http_webpush_pg_conn_t *conn);
static void ngx_http_webpush_pg_conn_lost(ngx_http_webpush_pg_conn_t *conn,
    const char *what);
static void ngx_http_webpush_pg_conn_close(ngx_http_webpush_pg_conn_t *conn);
static void ngx_http_webpush_pg_connect_failed(
    ngx_http_webpush_pg_conn_t *conn, const char *what);
static u_char *ngx_http_webpush_pg_error(PGconn *pgconn, u_char *buf,
    size_t len);
static void ngx_http_webpush_pg_notice(void *arg, const char *message);

static ngx_int_t ngx_http_webpush_pg_parse_url(ngx_conf_t *cf,
    ngx_http_webpush_pg_conf_t *pgcf, ngx_str_t *url, ngx_str_t *source);
static char *ngx_http_webpush_pg_strip_prisma(ngx_conf_t *cf, char *url,
    char **schema);
static ngx_int_t ngx_http_webpush_pg_resolve(ngx_conf_t *cf,
    const char *hosts, const char *ports, char **host_out, char **addr_out);
static char *ngx_http_webpush_pg_strdup(ngx_pool_t *pool, const char *s);
static u_char *ngx_http_webpush_pg_unescape(u_char *dst, u_char *src,
    size_t len);


static ngx_http_webpush_pg_pool_t  *ngx_http_webpush_pg_pool;


/* Prisma's URL parameters, which libpq rejects: dropped. */
static const char  *ngx_http_webpush_pg_prisma_params[] = {
    "connection_limit", "pool_timeout", "pgbouncer", "statement_cache_size",
    "socket_timeout", "sslaccept", "schema", NULL
};


/* Queries */


ngx_int_t
ngx_http_webpush_pg_query(ngx_pool_t *owner, ngx_log_t *log, const char *sql,
    ngx_uint_t nparams, const char *const *values,
    ngx_http_webpush_pg_done_pt done, void *data)
{
    return ngx_http_webpush_pg_submit(owner, log, NULL, sql, nparams, values,
                                      done, data);
}


ngx_int_t
ngx_http_webpush_pg_query_prepared(ngx_pool_t *owner, ngx_log_t *log,
    const char *name, const char *sql, ngx_uint_t nparams,
    const char *const *values, ngx_http_webpush_pg_done_pt done, void *data)
{
    return ngx_http_webpush_pg_submit(owner, log, name, sql, nparams, values,
                                      done, data);
}


static ngx_int_t
ngx_http_webpush_pg_submit(ngx_pool_t *owner, ngx_log_t *log,
    const char *name, const char *sql, ngx_uint_t nparams,
    const char *const *values, ngx_http_webpush_pg_done_pt done, void *data)
{
    ngx_queue_t                 *q;
    ngx_http_webpush_pg_req_t   *req;
    ngx_http_webpush_pg_conn_t  *conn;
    ngx_http_webpush_pg_pool_t  *pool;

    pool = ngx_http_webpush_pg_pool;

    if (pool == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "webpush: no PostgreSQL configured "
                      "(\"webpush_postgres\")");
        return NGX_ERROR;
    }

    /* fail fast while the server is known to be down */
    if (ngx_http_webpush_pg_is_down()) {
        /* the outage itself was logged as an error when it began */
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "webpush: PostgreSQL is down, query refused");
        return NGX_ERROR;
    }

    req = ngx_http_webpush_pg_req_create(owner, log, name, sql, nparams,
                                         values);
    if (req == NULL) {
        return NGX_ERROR;
    }

    req->done = done;
    req->data = data;

    while (!ngx_queue_empty(&pool->idle)) {
        q = ngx_queue_head(&pool->idle);
        conn = ngx_queue_data(q, ngx_http_webpush_pg_conn_t, queue);

        if (ngx_http_webpush_pg_conn_send(conn, req) == NGX_OK) {
            return NGX_OK;
        }

        ngx_http_webpush_pg_conn_close(conn);
    }

    if (pool->nwaiting >= pool->conf.max_waiting) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "webpush: PostgreSQL wait queue is full "
                      "(%ui waiting)", pool->nwaiting);
        ngx_http_webpush_pg_req_finish(req, NGX_BUSY, NULL);
        return NGX_OK;
    }

    ngx_queue_insert_tail(&pool->waiting, &req->queue);
    req->waiting = 1;
    pool->nwaiting++;

    ngx_add_timer(&req->event, pool->conf.wait_timeout);

    ngx_http_webpush_pg_dispatch();

    return NGX_OK;
}


static ngx_http_webpush_pg_req_t *
ngx_http_webpush_pg_req_create(ngx_pool_t *owner, ngx_log_t *log,
    const char *name, const char *sql, ngx_uint_t nparams,
    const char *const *values)
{
    u_char                      *p;
    size_t                       size, len;
    ngx_uint_t                   i;
    ngx_pool_cleanup_t          *cln;
    ngx_http_webpush_pg_req_t   *req;

    cln = NULL;

    if (owner != NULL) {
        cln = ngx_pool_cleanup_add(owner, 0);
        if (cln == NULL) {
            return NULL;
        }
    }

    /* one block: the owner may go away while the query waits */

    size = sizeof(ngx_http_webpush_pg_req_t)
           + nparams * sizeof(char *) + ngx_strlen(sql) + 1
           + (name ? ngx_strlen(name) + 1 : 0);

    for (i = 0; i < nparams; i++) {
        if (values[i] != NULL) {
            size += ngx_strlen(values[i]) + 1;
        }
    }

    req = ngx_alloc(size, log);
    if (req == NULL) {
        return NULL;
    }

    ngx_memzero(req, sizeof(ngx_http_webpush_pg_req_t));

    p = (u_char *) (req + 1);

    req->values = (const char **) p;
    p += nparams * sizeof(char *);

    for (i = 0; i < nparams; i++) {
        if (values[i] == NULL) {
            req->values[i] = NULL;
            continue;
        }

        len = ngx_strlen(values[i]) + 1;
        req->values[i] = (const char *) p;
        p = ngx_cpymem(p, values[i], len);
    }

    req->sql = (char *) p;
    p = ngx_cpymem(p, sql, ngx_strlen(sql) + 1);

    if (name != NULL) {
        req->name = (char *) p;
        ngx_memcpy(p, name, ngx_strlen(name) + 1);
    }

    req->nparams = (int) nparams;
    req->log = log;

    req->event.handler = ngx_http_webpush_pg_req_handler;
    req->event.data = req;
    req->event.log = log;

    /* a request waiting for the database keeps a graceful exit waiting */
    req->event.cancelable = 0;

    if (cln != NULL) {
        cln->handler = ngx_http_webpush_pg_req_cleanup;
        cln->data = req;
        req->cleanup = cln;
    }

    ngx_queue_insert_tail(&ngx_http_webpush_pg_pool->reqs, &req->all);

    return req;
}


/* The owner pool is being destroyed: forget the request. */

static void
ngx_http_webpush_pg_req_cleanup(void *data)
{
    ngx_http_webpush_pg_req_t *req = data;

    req->cleanup = NULL;

    if (req->conn != NULL) {
        /* the connection drains the result, then serves others */
        req->conn->req = NULL;
        req->conn = NULL;
    }

    ngx_http_webpush_pg_req_free(req);
}


static void
ngx_http_webpush_pg_req_handler(ngx_event_t *ev)
{
    ngx_http_webpush_pg_req_t *req = ev->data;

    PGresult                     *res;
    ngx_int_t                     rc;
    ngx_http_webpush_pg_done_pt   done;
    void                         *data;

    if (ev->timedout) {
        ev->timedout = 0;

        ngx_log_error(NGX_LOG_WARN, req->log, 0,
                      "webpush: no PostgreSQL connection free within %M ms",
                      ngx_http_webpush_pg_pool->conf.wait_timeout);

        ngx_http_webpush_pg_pool->timeouts++;
        ngx_http_webpush_pg_req_finish(req, NGX_BUSY, NULL);
        return;
    }

    /* the completion posted by ngx_http_webpush_pg_req_finish() */

    if (req->cleanup != NULL) {
        req->cleanup->handler = NULL;
        req->cleanup = NULL;
    }

    res = req->res;
    rc = req->rc;
    done = req->done;
    data = req->data;

    req->res = NULL;
    ngx_http_webpush_pg_req_free(req);

    /* done may finalize the request and issue new queries */
    done(data, rc == NGX_OK ? res : NULL, rc);

    if (res != NULL) {
        PQclear(res);
    }
}


/* Complete req with rc (and res when NGX_OK), from a posted event. */

static void
ngx_http_webpush_pg_req_finish(ngx_http_webpush_pg_req_t *req, ngx_int_t rc,
    PGresult *res)
{
    if (req->waiting) {
        ngx_queue_remove(&req->queue);
        req->waiting = 0;
        ngx_http_webpush_pg_pool->nwaiting--;
    }

    if (req->event.timer_set) {
        ngx_del_timer(&req->event);
    }

    req->conn = NULL;
    req->rc = rc;
    req->res = res;

    ngx_post_event(&req->event, &ngx_posted_events);
}


static void
ngx_http_webpush_pg_req_free(ngx_http_webpush_pg_req_t *req)
{
    if (req->waiting) {
        ngx_queue_remove(&req->queue);
        req->waiting = 0;
        ngx_http_webpush_pg_pool->nwaiting--;
    }

    if (req->event.timer_set) {
        ngx_del_timer(&req->event);
    }

    if (req->event.posted) {
        ngx_delete_posted_event(&req->event);
    }

    if (req->res != NULL) {
        PQclear(req->res);
    }

    ngx_queue_remove(&req->all);

    ngx_free(req);
}


/* The pool */


/* Hand waiting queries to idle connections, open more as needed. */

static void
ngx_http_webpush_pg_dispatch(void)
{
    ngx_uint_t                   total;
    ngx_queue_t                 *q;
    ngx_http_webpush_pg_req_t   *req;
    ngx_http_webpush_pg_conn_t  *conn;
    ngx_http_webpush_pg_pool_t  *pool;

    pool = ngx_http_webpush_pg_pool;

    ngx_log_debug4(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "webpush pg: dispatch, idle:%ui busy:%ui connecting:%ui "
                   "waiting:%ui", pool->nidle, pool->nbusy, pool->nconnecting,
                   pool->nwaiting);

    while (!ngx_queue_empty(&pool->waiting) && !ngx_queue_empty(&pool->idle))
    {
        q = ngx_queue_head(&pool->waiting);
        req = ngx_queue_data(q, ngx_http_webpush_pg_req_t, queue);

        q = ngx_queue_head(&pool->idle);
        conn = ngx_queue_data(q, ngx_http_webpush_pg_conn_t, queue);

        if (ngx_http_webpush_pg_conn_send(conn, req) != NGX_OK) {
            ngx_http_webpush_pg_conn_close(conn);
        }
    }

    for ( ;; ) {
        total = pool->nidle + pool->nbusy + pool->nconnecting;

        if (pool->nwaiting <= pool->nconnecting
            || total >= pool->conf.max_conns
            || ngx_http_webpush_pg_is_down())
        {
            break;
        }

        if (ngx_http_webpush_pg_conn_open() != NGX_OK) {
            break;
        }
    }

    if (pool->nwaiting && ngx_http_webpush_pg_is_down()) {
        ngx_http_webpush_pg_fail_waiting(NGX_ERROR);
    }
}


static void
ngx_http_webpush_pg_fail_waiting(ngx_int_t rc)
{
    ngx_queue_t                 *q;
    ngx_http_webpush_pg_req_t   *req;
    ngx_http_webpush_pg_pool_t  *pool;

    pool = ngx_http_webpush_pg_pool;

    while (!ngx_queue_empty(&pool->waiting)) {
        q = ngx_queue_head(&pool->waiting);
        req = ngx_queue_data(q, ngx_http_webpush_pg_req_t, queue);

        ngx_http_webpush_pg_req_finish(req, rc, NULL);
    }
}


/*
 * Down: the last connect failed less than a backoff ago and no connection
 * is alive or on its way.  Queries fail at once rather than pile up.
 */

static ngx_int_t
ngx_http_webpush_pg_is_down(void)
{
    ngx_http_webpush_pg_pool_t  *pool;

    pool = ngx_http_webpush_pg_pool;

    if (!pool->down) {
        return 0;
    }

    if (pool->nidle + pool->nbusy + pool->nconnecting > 0) {
        return 0;
    }

    if ((ngx_msec_int_t) (pool->down_until - ngx_current_msec) > 0) {
        return 1;
    }

    return 0;
}


/* Connections */


static ngx_int_t
ngx_http_webpush_pg_conn_open(void)
{
    u_char                       errstr[NGX_MAX_ERROR_STR], *p;
    ngx_uint_t                   i;
    ngx_http_webpush_pg_conn_t  *conn;
    ngx_http_webpush_pg_pool_t  *pool;

    pool = ngx_http_webpush_pg_pool;
    conn = NULL;

    for (i = 0; i < pool->conf.max_conns; i++) {
        if (pool->conns[i].state == NGX_HTTP_WEBPUSH_PG_FREE) {
            conn = &pool->conns[i];
            break;
        }
    }

    if (conn == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(conn, sizeof(ngx_http_webpush_pg_conn_t));

    conn->timer.handler = ngx_http_webpush_pg_conn_timeout;
    conn->timer.data = conn;
    conn->timer.log = ngx_cycle->log;

    /* no request waits on a connect directly: their own timers do */
    conn->timer.cancelable = 1;

    conn->state = NGX_HTTP_WEBPUSH_PG_CONNECTING;
    pool->nconnecting++;

    conn->pgconn = PQconnectStartParams(pool->conf.keywords,
                                        pool->conf.values, 0);
    if (conn->pgconn == NULL) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "webpush: PQconnectStartParams() failed "
                      "(out of memory)");
        ngx_http_webpush_pg_connect_failed(conn, "start");
        return NGX_ERROR;
    }

    if (PQstatus(conn->pgconn) == CONNECTION_BAD) {
        p = ngx_http_webpush_pg_error(conn->pgconn, errstr, sizeof(errstr));
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "webpush: PostgreSQL connect failed: %*s",
                      p - errstr, errstr);
        ngx_http_webpush_pg_connect_failed(conn, NULL);
        return NGX_ERROR;
    }

    /* libpq would print notices on stderr */
    PQsetNoticeProcessor(conn->pgconn, ngx_http_webpush_pg_notice, NULL);

    if (PQsetnonblocking(conn->pgconn, 1) != 0) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "webpush: PQsetnonblocking() failed");
        ngx_http_webpush_pg_connect_failed(conn, NULL);
        return NGX_ERROR;
    }

    if (ngx_http_webpush_pg_conn_attach(conn) != NGX_OK) {
        ngx_http_webpush_pg_connect_failed(conn, NULL);
        return NGX_ERROR;
    }

    ngx_add_timer(&conn->timer, pool->conf.connect_timeout);

    /* "behave as if PQconnectPoll() last returned PGRES_POLLING_WRITING" */
    if (ngx_http_webpush_pg_conn_want_write(conn, 1) != NGX_OK) {
        ngx_http_webpush_pg_connect_failed(conn, NULL);
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "webpush pg: connecting, fd:%d", conn->c->fd);

    return NGX_OK;
}


/* Wrap PQsocket() in an nginx connection, read event level-triggered. */

static ngx_int_t
ngx_http_webpush_pg_conn_attach(ngx_http_webpush_pg_conn_t *conn)
{
    int                fd;
    struct stat        st;
    ngx_connection_t  *c;

    fd = PQsocket(conn->pgconn);
    if (fd == -1) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "webpush: libpq has no socket");
        return NGX_ERROR;
    }

    if (fstat(fd, &st) == -1) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                      "webpush: fstat() on a libpq socket failed");
        return NGX_ERROR;
    }

    c = ngx_get_connection(fd, ngx_cycle->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = conn;
    c->read->handler = ngx_http_webpush_pg_conn_handler;
    c->write->handler = ngx_http_webpush_pg_conn_handler;
    c->read->log = c->log;
    c->write->log = c->log;

    conn->c = c;
    conn->ino = st.st_ino;

    if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
        ngx_http_webpush_pg_conn_detach(conn);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Forget the nginx side of the socket.  libpq owns the descriptor (it
 * closed it already or PQfinish() will): delete the events without a
 * syscall (NGX_CLOSE_EVENT), free the connection, never close the fd.
 */

static void
ngx_http_webpush_pg_conn_detach(ngx_http_webpush_pg_conn_t *conn)
{
    ngx_connection_t  *c;

    c = conn->c;

    if (c == NULL) {
        return;
    }

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (c->read->active || c->read->disabled) {
        ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->write->active || c->write->disabled) {
        ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    conn->c = NULL;
}


static void
ngx_http_webpush_pg_conn_handler(ngx_event_t *ev)
{
    ngx_connection_t            *c;
    ngx_http_webpush_pg_conn_t  *conn;

    c = ev->data;
    conn = c->data;

    switch (conn->state) {

    case NGX_HTTP_WEBPUSH_PG_CONNECTING:
        ngx_http_webpush_pg_conn_poll(conn);
        break;

    case NGX_HTTP_WEBPUSH_PG_IDLE:
        if (ev->write) {
            (void) ngx_http_webpush_pg_conn_want_write(conn, 0);
            break;
        }

        ngx_http_webpush_pg_conn_idle_read(conn);
        break;

    case NGX_HTTP_WEBPUSH_PG_BUSY:
        ngx_http_webpush_pg_conn_busy(conn);
        break;

    default:
        break;
    }
}


static void
ngx_http_webpush_pg_conn_poll(ngx_http_webpush_pg_conn_t *conn)
{
    int                          fd;
    struct stat                  st;
    PostgresPollingStatusType    status;

    status = PQconnectPoll(conn->pgconn);

    if (status == PGRES_POLLING_FAILED) {
        ngx_http_webpush_pg_connect_failed(conn, NULL);
        return;
    }

    /*
     * libpq may have moved to another socket (the next host or address,
     * an SSL/GSS retry).  The old descriptor is closed already and a new
     * one may reuse its number, so compare the socket's inode too.
     */

    fd = PQsocket(conn->pgconn);

    if (fd != conn->c->fd
        || fstat(fd, &st) == -1
        || st.st_ino != conn->ino)
    {
        ngx_log_debug2(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                       "webpush pg: socket changed, fd:%d -> %d",
                       conn->c->fd, fd);

        ngx_http_webpush_pg_conn_detach(conn);

        if (ngx_http_webpush_pg_conn_attach(conn) != NGX_OK) {
            ngx_http_webpush_pg_connect_failed(conn, NULL);
            return;
        }
    }

    switch (status) {

    case PGRES_POLLING_READING:
        if (ngx_http_webpush_pg_conn_want_write(conn, 0) != NGX_OK) {
            ngx_http_webpush_pg_connect_failed(conn, NULL);
        }
        return;

    case PGRES_POLLING_WRITING:
        if (ngx_http_webpush_pg_conn_want_write(conn, 1) != NGX_OK) {
            ngx_http_webpush_pg_connect_failed(conn, NULL);
        }
        return;

    case PGRES_POLLING_OK:
        break;

    default:
        ngx_http_webpush_pg_connect_failed(conn, NULL);
        return;
    }

    if (ngx_http_webpush_pg_conn_want_write(conn, 0) != NGX_OK) {
        ngx_http_webpush_pg_connect_failed(conn, NULL);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "webpush pg: connected, fd:%d", conn->c->fd);

    ngx_http_webpush_pg_pool->nconnecting--;
    ngx_http_webpush_pg_pool->down = 0;
    ngx_http_webpush_pg_pool->backoff = 0;

    if (conn->timer.timer_set) {
        ngx_del_timer(&conn->timer);
    }

    ngx_http_webpush_pg_conn_set_idle(conn);
    ngx_http_webpush_pg_dispatch();
}


/*
 * An idle connection should hear nothing but notices and parameter
 * changes; a read error or EOF means the server went away (restart,
 * idle timeout, pg_terminate_backend): close it now, not at next use.
 */

static void
ngx_http_webpush_pg_conn_idle_read(ngx_http_webpush_pg_conn_t *conn)
{
    PGresult  *res;

    if (!PQconsumeInput(conn->pgconn)) {
        ngx_http_webpush_pg_conn_lost(conn, "idle connection closed");
        return;
    }

    while (!PQisBusy(conn->pgconn)) {
        res = PQgetResult(conn->pgconn);
        if (res == NULL) {
            break;
        }

        PQclear(res);
        ngx_http_webpush_pg_conn_lost(conn, "result on idle connection");
        return;
    }

    if (PQstatus(conn->pgconn) == CONNECTION_BAD) {
        ngx_http_webpush_pg_conn_lost(conn, "idle connection closed");
    }
}


static void
ngx_http_webpush_pg_conn_busy(ngx_http_webpush_pg_conn_t *conn)
{
    int                          rc;
    PGresult                    *res;
    ngx_http_webpush_pg_req_t   *req;

    if (conn->flushing) {
        rc = PQflush(conn->pgconn);

        if (rc == -1) {
            ngx_http_webpush_pg_conn_lost(conn, "PQflush() failed");
            return;
        }

        if (rc == 0) {
            conn->flushing = 0;

            if (ngx_http_webpush_pg_conn_want_write(conn, 0) != NGX_OK) {
                ngx_http_webpush_pg_conn_lost(conn, "event");
                return;
            }
        }
    }

    if (!PQconsumeInput(conn->pgconn)) {
        ngx_http_webpush_pg_conn_lost(conn, "connection lost");
        return;
    }

    for ( ;; ) {
        if (PQisBusy(conn->pgconn)) {
            return;
        }

        res = PQgetResult(conn->pgconn);
        if (res == NULL) {
            break;
        }

        if (conn->res == NULL) {
            conn->res = res;

        } else {
            PQclear(res);
        }
    }

    /* the statement is complete */

    if (PQstatus(conn->pgconn) == CONNECTION_BAD) {
        ngx_http_webpush_pg_conn_lost(conn, "connection lost");
        return;
    }

    if (conn->preparing != NULL) {

        if (conn->res == NULL
            || PQresultStatus(conn->res) != PGRES_COMMAND_OK)
        {
            /* a failed prepare is the answer: its error result */
            ngx_free(conn->preparing);
            conn->preparing = NULL;

        } else {
            /* prepared on this connection from now on */
            conn->prepared[conn->nprepared++] = conn->preparing;
            conn->preparing = NULL;

            PQclear(conn->res);
            conn->res = NULL;

            req = conn->req;

            if (req != NULL) {
                /* now execute it, within the same query timer */

                if (!PQsendQueryPrepared(conn->pgconn, req->name,
                                         req->nparams, req->values, NULL,
                                         NULL, 0)
                    || ngx_http_webpush_pg_conn_flush(conn, req->log)
                       != NGX_OK)
                {
                    ngx_http_webpush_pg_conn_lost(conn, "cannot send a query");
                }

                return;
            }

            /* the owner went away: the connection is simply idle again */
        }
    }

    req = conn->req;
    res = conn->res;

    conn->req = NULL;
    conn->res = NULL;

    if (conn->timer.timer_set) {
        ngx_del_timer(&conn->timer);
    }

    if (conn->flushing) {
        /* cannot happen: the server answered the whole statement */
        conn->flushing = 0;
        (void) ngx_http_webpush_pg_conn_want_write(conn, 0);
    }

    ngx_http_webpush_pg_pool->nbusy--;
    ngx_http_webpush_pg_conn_set_idle(conn);

    if (req != NULL) {
        ngx_http_webpush_pg_req_finish(req, res ? NGX_OK : NGX_ERROR, res);

    } else if (res != NULL) {
        PQclear(res);
    }

    ngx_http_webpush_pg_dispatch();
}


static ngx_int_t
ngx_http_webpush_pg_conn_send(ngx_http_webpush_pg_conn_t *conn,
    ngx_http_webpush_pg_req_t *req)
{
    int                          rc;
    u_char                       errstr[NGX_MAX_ERROR_STR], *p;
    ngx_http_webpush_pg_pool_t  *pool;

    pool = ngx_http_webpush_pg_pool;

    if (req->name == NULL
        || (!ngx_http_webpush_pg_conn_prepared(conn, req->name)
            && conn->nprepared == NGX_HTTP_WEBPUSH_PG_PREPARED_MAX))
    {
        rc = PQsendQueryParams(conn->pgconn, req->sql, req->nparams, NULL,
                               req->values, NULL, NULL, 0);

    } else if (ngx_http_webpush_pg_conn_prepared(conn, req->name)) {
        rc = PQsendQueryPrepared(conn->pgconn, req->name, req->nparams,
                                 req->values, NULL, NULL, 0);

    } else {
        /*
         * First use on this connection: prepare, then execute.  The name
         * is the connection's copy: the request may go before the answer.
         */
        conn->preparing = ngx_alloc(ngx_strlen(req->name) + 1, req->log);
        if (conn->preparing == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(conn->preparing, req->name, ngx_strlen(req->name) + 1);

        ngx_log_debug2(NGX_LOG_DEBUG_EVENT, req->log, 0,
                       "webpush pg: prepare \"%s\", fd:%d",
                       req->name, conn->c->fd);

        rc = PQsendPrepare(conn->pgconn, req->name, req->sql, req->nparams,
                           NULL);
    }

    if (!rc) {
        p = ngx_http_webpush_pg_error(conn->pgconn, errstr, sizeof(errstr));
        ngx_log_error(NGX_LOG_ERR, req->log, 0,
                      "webpush: sending a query failed: %*s",
                      p - errstr, errstr);
        return NGX_ERROR;
    }

    if (ngx_http_webpush_pg_conn_flush(conn, req->log) != NGX_OK) {
        return NGX_ERROR;
    }

    /* from here on the query is the connection's */

    if (req->waiting) {
        ngx_queue_remove(&req->queue);
        req->waiting = 0;
        pool->nwaiting--;
    }

    if (req->event.timer_set) {
        ngx_del_timer(&req->event);
    }

    ngx_queue_remove(&conn->queue);
    pool->nidle--;
    pool->nbusy++;

    conn->state = NGX_HTTP_WEBPUSH_PG_BUSY;
    conn->req = req;
    req->conn = conn;

    /* a running query keeps a graceful exit waiting, as its request does */
    conn->timer.cancelable = 0;
    ngx_add_timer(&conn->timer, pool->conf.query_timeout);

    return NGX_OK;
}


/* Start flushing what libpq buffered; write events finish the job. */

static ngx_int_t
ngx_http_webpush_pg_conn_flush(ngx_http_webpush_pg_conn_t *conn,
    ngx_log_t *log)
{
    int  rc;

    rc = PQflush(conn->pgconn);
    if (rc == -1) {
        ngx_log_error(NGX_LOG_ERR, log, 0, "webpush: PQflush() failed");
        return NGX_ERROR;
    }

    if (rc == 1) {
        conn->flushing = 1;
        return ngx_http_webpush_pg_conn_want_write(conn, 1);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_webpush_pg_conn_prepared(ngx_http_webpush_pg_conn_t *conn,
    const char *name)
{
    ngx_uint_t  i;

    for (i = 0; i < conn->nprepared; i++) {
        if (ngx_strcmp(conn->prepared[i], name) == 0) {
            return 1;
        }
    }

    return 0;
}


static void
ngx_http_webpush_pg_conn_timeout(ngx_event_t *ev)
{
    ngx_http_webpush_pg_conn_t  *conn = ev->data;

    ngx_http_webpush_pg_pool_t  *pool;

    pool = ngx_http_webpush_pg_pool;

    if (conn->state == NGX_HTTP_WEBPUSH_PG_CONNECTING) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "webpush: PostgreSQL connect timed out after %M ms",
                      pool->conf.connect_timeout);
        pool->timeouts++;
        ngx_http_webpush_pg_connect_failed(conn, NULL);
        return;
    }

    if (conn->state == NGX_HTTP_WEBPUSH_PG_BUSY) {
        ngx_log_error(NGX_LOG_ERR,
                      conn->req ? conn->req->log : ngx_cycle->log, 0,
                      "webpush: PostgreSQL query timed out after %M ms",
                      pool->conf.query_timeout);
        pool->timeouts++;

        /*
         * The server may still run it; the connection cannot be reused
         * before it answers, and a frozen server never does: close it.
         */
        ngx_http_webpush_pg_conn_lost(conn, NULL);
    }
}


static ngx_int_t
ngx_http_webpush_pg_conn_want_write(ngx_http_webpush_pg_conn_t *conn,
    ngx_uint_t on)
{
    ngx_event_t  *wev;

    wev = conn->c->write;

    if (on) {
        if (!wev->active) {
            return ngx_add_event(wev, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
        }

        return NGX_OK;
    }

    if (wev->active) {
        return ngx_del_event(wev, NGX_WRITE_EVENT, 0);
    }

    return NGX_OK;
}


static void
ngx_http_webpush_pg_conn_set_idle(ngx_http_webpush_pg_conn_t *conn)
{
    conn->state = NGX_HTTP_WEBPUSH_PG_IDLE;
    conn->timer.cancelable = 1;

    ngx_queue_insert_tail(&ngx_http_webpush_pg_pool->idle, &conn->queue);
    ngx_http_webpush_pg_pool->nidle++;
}


/* A live connection failed: its query (if any) fails with NGX_ERROR. */

static void
ngx_http_webpush_pg_conn_lost(ngx_http_webpush_pg_conn_t *conn,
    const char *what)
{
    u_char                      errstr[NGX_MAX_ERROR_STR], *p;
    ngx_http_webpush_pg_req_t  *req;

    if (what != NULL) {
        p = ngx_http_webpush_pg_error(conn->pgconn, errstr, sizeof(errstr));
        ngx_log_error(NGX_LOG_ERR,
                      conn->req ? conn->req->log : ngx_cycle->log, 0,
                      "webpush: PostgreSQL %s: %*s", what, p - errstr,
                      errstr);
    }

    req = conn->req;

    ngx_http_webpush_pg_pool->errors++;
    ngx_http_webpush_pg_conn_close(conn);

    if (req != NULL) {
        ngx_http_webpush_pg_req_finish(req, NGX_ERROR, NULL);
    }

    ngx_http_webpush_pg_dispatch();
}


static void
ngx_http_webpush_pg_connect_failed(ngx_http_webpush_pg_conn_t *conn,
    const char *what)
{
    u_char                      errstr[NGX_MAX_ERROR_STR], *p;
    ngx_http_webpush_pg_pool_t  *pool;

    pool = ngx_http_webpush_pg_pool;

    if (what == NULL && conn->pgconn != NULL
        && PQstatus(conn->pgconn) == CONNECTION_BAD)
    {
        p = ngx_http_webpush_pg_error(conn->pgconn, errstr, sizeof(errstr));
        if (p > errstr) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "webpush: PostgreSQL connect failed: %*s",
                          p - errstr, errstr);
        }
    }

    pool->errors++;

    ngx_http_webpush_pg_conn_close(conn);

    pool->backoff = pool->backoff ? ngx_min(pool->backoff * 2,
                                            NGX_HTTP_WEBPUSH_PG_BACKOFF_MAX)
                                  : NGX_HTTP_WEBPUSH_PG_BACKOFF_MIN;
    pool->down = 1;
    pool->down_until = ngx_current_msec + pool->backoff;

    /* the others fail now rather than at their wait timeout */
    if (ngx_http_webpush_pg_is_down()) {
        ngx_http_webpush_pg_fail_waiting(NGX_ERROR);
    }
}


static void
ngx_http_webpush_pg_conn_close(ngx_http_webpush_pg_conn_t *conn)
{
    ngx_http_webpush_pg_pool_t  *pool;

    pool = ngx_http_webpush_pg_pool;

    switch (conn->state) {

    case NGX_HTTP_WEBPUSH_PG_CONNECTING:
        pool->nconnecting--;
        break;

    case NGX_HTTP_WEBPUSH_PG_IDLE:
        ngx_queue_remove(&conn->queue);
        pool->nidle--;
        break;

    case NGX_HTTP_WEBPUSH_PG_BUSY:
        pool->nbusy--;
        break;

    default:
        return;
    }

    if (conn->timer.timer_set) {
        ngx_del_timer(&conn->timer);
    }

    if (conn->req != NULL) {
        conn->req->conn = NULL;
        conn->req = NULL;
    }

    if (conn->res != NULL) {
        PQclear(conn->res);
        conn->res = NULL;
    }

    ngx_http_webpush_pg_conn_detach(conn);

    if (conn->pgconn != NULL) {
        PQfinish(conn->pgconn);
        conn->pgconn = NULL;
    }

    while (conn->nprepared) {
        ngx_free(conn->prepared[--conn->nprepared]);
    }

    if (conn->preparing != NULL) {
        ngx_free(conn->preparing);
        conn->preparing = NULL;
    }

    conn->state = NGX_HTTP_WEBPUSH_PG_FREE;
}


/*
 * libpq's message as one line.  It never holds the password (libpq does
 * not echo it), but it may be multi-line: fold it.
 */

static u_char *
ngx_http_webpush_pg_error(PGconn *pgconn, u_char *buf, size_t len)
{
    u_char      *p, *last;
    const char  *s;

    p = buf;
    last = buf + len;

    s = pgconn ? PQerrorMessage(pgconn) : NULL;
    if (s == NULL) {
        return p;
    }

    for ( /* void */ ; *s && p < last; s++) {
        if (*s == '\n' || *s == '\r' || *s == '\t') {
            if (p > buf && p[-1] != ' ') {
                *p++ = ' ';
            }
            continue;
        }

        *p++ = *s;
    }

    while (p > buf && p[-1] == ' ') {
        p--;
    }

    return p;
}


static void
ngx_http_webpush_pg_notice(void *arg, const char *message)
{
    size_t  len;

    len = ngx_strlen(message);

    while (len > 0 && (message[len - 1] == '\n' || message[len - 1] == ' ')) {
        len--;
    }

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "webpush: PostgreSQL: %*s", len, message);
}


/* Process life */


ngx_int_t
ngx_http_webpush_pg_init_process(ngx_cycle_t *cycle,
    ngx_http_webpush_pg_conf_t *conf)
{
    u_char                      *p;
    size_t                       size;
    ngx_uint_t                   i, n;
    ngx_http_webpush_pg_pool_t  *pool;

    if (conf == NULL || conf->url.len == 0 || conf->keywords == NULL) {
        return NGX_OK;
    }

    /*
     * Copy the parameters into the worker's own memory: with
     * "master_process off" a reload frees the cycle's pool under a pool
     * that outlives it.
     */

    for (n = 0; conf->keywords[n] != NULL; n++) { /* void */ }

    size = sizeof(ngx_http_webpush_pg_pool_t)
           + conf->max_conns * sizeof(ngx_http_webpush_pg_conn_t)
           + 2 * (n + 1) * sizeof(char *);

    for (i = 0; i < n; i++) {
        size += ngx_strlen(conf->keywords[i]) + 1
                + ngx_strlen(conf->values[i]) + 1;
    }

    pool = ngx_calloc(size, cycle->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    pool->conf = *conf;
    pool->conf.url.len = 0;
    pool->conf.url.data = NULL;

    p = (u_char *) (pool + 1);

    pool->conns = (ngx_http_webpush_pg_conn_t *) p;
    p += conf->max_conns * sizeof(ngx_http_webpush_pg_conn_t);

    pool->conf.keywords = (const char **) p;
    p += (n + 1) * sizeof(char *);

    pool->conf.values = (const char **) p;
    p += (n + 1) * sizeof(char *);

    for (i = 0; i < n; i++) {
        pool->conf.keywords[i] = (const char *) p;
        p = ngx_cpymem(p, conf->keywords[i], ngx_strlen(conf->keywords[i]) + 1);

        pool->conf.values[i] = (const char *) p;
        p = ngx_cpymem(p, conf->values[i], ngx_strlen(conf->values[i]) + 1);
    }

    pool->conf.keywords[n] = NULL;
    pool->conf.values[n] = NULL;

    ngx_queue_init(&pool->idle);
    ngx_queue_init(&pool->waiting);
    ngx_queue_init(&pool->reqs);

    ngx_http_webpush_pg_pool = pool;

    return NGX_OK;
}


void
ngx_http_webpush_pg_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                   i;
    ngx_queue_t                 *q;
    ngx_http_webpush_pg_req_t   *req;
    ngx_http_webpush_pg_pool_t  *pool;

    pool = ngx_http_webpush_pg_pool;

    if (pool == NULL) {
        return;
    }

    for (i = 0; i < pool->conf.max_conns; i++) {
        ngx_http_webpush_pg_conn_close(&pool->conns[i]);
    }

    /* nobody is called back: the process is going away */

    while (!ngx_queue_empty(&pool->reqs)) {
        q = ngx_queue_head(&pool->reqs);
        req = ngx_queue_data(q, ngx_http_webpush_pg_req_t, all);

        if (req->cleanup != NULL) {
            req->cleanup->handler = NULL;
            req->cleanup = NULL;
        }

        ngx_http_webpush_pg_req_free(req);
    }

    ngx_http_webpush_pg_pool = NULL;
    ngx_free(pool);
}


ngx_int_t
ngx_http_webpush_pg_configured(void)
{
    return ngx_http_webpush_pg_pool != NULL;
}


void
ngx_http_webpush_pg_stats(ngx_http_webpush_pg_stats_t *st)
{
    ngx_http_webpush_pg_pool_t  *pool;

    ngx_memzero(st, sizeof(ngx_http_webpush_pg_stats_t));

    pool = ngx_http_webpush_pg_pool;

    if (pool == NULL) {
        return;
    }

    st->in_use = pool->nbusy;
    st->idle = pool->nidle;
    st->connecting = pool->nconnecting;
    st->waiting = pool->nwaiting;
    st->errors = pool->errors;
    st->timeouts = pool->timeouts;
}


/* Configuration */


char *
ngx_http_webpush_pg_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_webpush_pg_conf_t  *pgcf;

    ngx_int_t    n;
    ngx_str_t   *value, url, source, s;
    ngx_msec_t  *msp;
    ngx_uint_t   i, *np;

    pgcf = (ngx_http_webpush_pg_conf_t *) ((char *) conf + cmd->offset);

    if (pgcf->url.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    pgcf->max_conns = 8;
    pgcf->max_waiting = 128;
    pgcf->connect_timeout = 5000;
    pgcf->query_timeout = 5000;
    pgcf->wait_timeout = 1000;

    for (i = 2; i < cf->args->nelts; i++) {

        np = NULL;
        msp = NULL;

        if (ngx_strncmp(value[i].data, "max_conns=", 10) == 0) {
            np = &pgcf->max_conns;
            s.data = value[i].data + 10;

        } else if (ngx_strncmp(value[i].data, "max_waiting=", 12) == 0) {
            np = &pgcf->max_waiting;
            s.data = value[i].data + 12;

        } else if (ngx_strncmp(value[i].data, "connect_timeout=", 16) == 0) {
            msp = &pgcf->connect_timeout;
            s.data = value[i].data + 16;

        } else if (ngx_strncmp(value[i].data, "query_timeout=", 14) == 0) {
            msp = &pgcf->query_timeout;
            s.data = value[i].data + 14;

        } else if (ngx_strncmp(value[i].data, "wait_timeout=", 13) == 0) {
            msp = &pgcf->wait_timeout;
            s.data = value[i].data + 13;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        s.len = value[i].data + value[i].len - s.data;

        if (np != NULL) {
            n = ngx_atoi(s.data, s.len);
            if (n == NGX_ERROR || (n == 0 && np == &pgcf->max_conns)
                || n > 65535)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value in \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            *np = (ngx_uint_t) n;

        } else {
            *msp = ngx_parse_time(&s, 0);
            if (*msp == (ngx_msec_t) NGX_ERROR || *msp == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid value in \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }
        }
    }

    if (ngx_http_webpush_conf_value(cf, &value[1], &url) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    /* the literal may hold a password: messages name its source only */
    if (value[1].len > 4 && ngx_strncmp(value[1].data, "env:", 4) == 0) {
        source = value[1];

    } else if (value[1].len > 5
               && ngx_strncmp(value[1].data, "file:", 5) == 0)
    {
        source = value[1];

    } else {
        ngx_str_set(&source, "literal value");
    }

    if (ngx_http_webpush_pg_parse_url(cf, pgcf, &url, &source) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    pgcf->url = url;

    return NGX_CONF_OK;
}


/*
 * Turn the URL into PQconnectStartParams() arrays: Prisma's parameters
 * dropped (schema -> search_path), host names resolved now (hostaddr=),
 * application_name defaulted.
 */

static ngx_int_t
ngx_http_webpush_pg_parse_url(ngx_conf_t *cf, ngx_http_webpush_pg_conf_t *pgcf,
    ngx_str_t *url, ngx_str_t *source)
{
    u_char            *p;
    char              *s, *conninfo, *schema, *errmsg, *hostaddr, *hosts;
    size_t             len;
    ngx_uint_t         n, i, k, has_app, has_hostaddr;
    const char        *host, *port, *options;
    PQconninfoOption  *opts, *o;

    conninfo = ngx_pnalloc(cf->pool, url->len + 1);
    if (conninfo == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_cpystrn((u_char *) conninfo, url->data, url->len + 1);

    schema = NULL;

    if (ngx_strncmp(conninfo, "postgres://", 11) == 0
        || ngx_strncmp(conninfo, "postgresql://", 13) == 0)
    {
        conninfo = ngx_http_webpush_pg_strip_prisma(cf, conninfo, &schema);
        if (conninfo == NULL) {
            return NGX_ERROR;
        }
    }

    errmsg = NULL;
    opts = PQconninfoParse(conninfo, &errmsg);

    if (opts == NULL) {
        /* libpq quotes the offending text, which may be a secret */
        if (errmsg != NULL) {
            for (s = errmsg; *s; s++) {
                if (*s == '"') {
                    for (s++; *s && *s != '"'; s++) {
                        *s = '*';
                    }

                    if (*s == '\0') {
                        break;
                    }
                }

                if (*s == '\n') {
                    *s = ' ';
                }
            }
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid PostgreSQL connection string (%V): %s",
                           source, errmsg ? errmsg : "out of memory");
        if (errmsg != NULL) {
            PQfreemem(errmsg);
        }

        return NGX_ERROR;
    }

    n = 0;
    host = NULL;
    port = NULL;
    options = NULL;
    has_app = 0;
    has_hostaddr = 0;

    for (o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL || o->val[0] == '\0') {
            continue;
        }

        if (ngx_strcmp(o->keyword, "host") == 0) {
            host = o->val;

        } else if (ngx_strcmp(o->keyword, "port") == 0) {
            port = o->val;

        } else if (ngx_strcmp(o->keyword, "hostaddr") == 0) {
            has_hostaddr = 1;

        } else if (ngx_strcmp(o->keyword, "application_name") == 0) {
            has_app = 1;

        } else if (ngx_strcmp(o->keyword, "options") == 0) {
            options = o->val;
            continue;
        }

        n++;
    }

    /* keywords: the set ones, plus hostaddr, application_name, options */

    pgcf->keywords = ngx_pcalloc(cf->pool, (n + 4) * sizeof(char *));
    pgcf->values = ngx_pcalloc(cf->pool, (n + 4) * sizeof(char *));
    if (pgcf->keywords == NULL || pgcf->values == NULL) {
        goto failed;
    }

    i = 0;

    for (o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL || o->val[0] == '\0'
            || ngx_strcmp(o->keyword, "options") == 0)
        {
            continue;
        }

        pgcf->keywords[i] = ngx_http_webpush_pg_strdup(cf->pool, o->keyword);
        pgcf->values[i] = ngx_http_webpush_pg_strdup(cf->pool, o->val);
        if (pgcf->keywords[i] == NULL || pgcf->values[i] == NULL) {
            goto failed;
        }

        i++;
    }

    if (host != NULL && !has_hostaddr) {
        if (ngx_http_webpush_pg_resolve(cf, host, port, &hosts, &hostaddr)
            != NGX_OK)
        {
            goto failed;
        }

        if (hostaddr != NULL) {
            for (k = 0; k < i; k++) {
                if (ngx_strcmp(pgcf->keywords[k], "host") == 0) {
                    pgcf->values[k] = hosts;
                }
            }

            pgcf->keywords[i] = "hostaddr";
            pgcf->values[i++] = hostaddr;
        }
    }

    if (!has_app) {
        pgcf->keywords[i] = "application_name";
        pgcf->values[i++] = NGX_HTTP_WEBPUSH_PG_APP_NAME;
    }

    if (schema != NULL || options != NULL) {
        len = (options ? ngx_strlen(options) + 1 : 0)
              + sizeof("-c search_path=") + 2 * ngx_strlen(schema ? schema : "")
              + 2;

        p = ngx_pnalloc(cf->pool, len);
        if (p == NULL) {
            goto failed;
        }

        pgcf->keywords[i] = "options";
        pgcf->values[i++] = (char *) p;

        if (options != NULL) {
            p = ngx_cpymem(p, options, ngx_strlen(options));
            if (schema != NULL) {
                *p++ = ' ';
            }
        }

        if (schema != NULL) {
            p = ngx_cpymem(p, "-c search_path=", 15);

            /* spaces and backslashes in options are backslash-escaped */
            for (s = schema; *s; s++) {
                if (*s == ' ' || *s == '\\') {
                    *p++ = '\\';
                }
                *p++ = *s;
            }
        }

        *p = '\0';
    }

    pgcf->keywords[i] = NULL;
    pgcf->values[i] = NULL;

    PQconninfoFree(opts);

    return NGX_OK;

failed:

    PQconninfoFree(opts);

    return NGX_ERROR;
}


static char *
ngx_http_webpush_pg_strdup(ngx_pool_t *pool, const char *s)
{
    size_t   len;
    u_char  *p;

    len = ngx_strlen(s) + 1;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s, len);

    return (char *) p;
}


static u_char *
ngx_http_webpush_pg_unescape(u_char *dst, u_char *src, size_t len)
{
    u_char  *end, c1, c2;

    end = src + len;

    while (src < end) {
        if (*src == '%' && end - src >= 3
            && isxdigit(src[1]) && isxdigit(src[2]))
        {
            c1 = (u_char) (src[1] | 0x20);
            c2 = (u_char) (src[2] | 0x20);
            c1 = (c1 >= 'a') ? c1 - 'a' + 10 : c1 - '0';
            c2 = (c2 >= 'a') ? c2 - 'a' + 10 : c2 - '0';
            *dst++ = (u_char) (c1 << 4 | c2);
            src += 3;
            continue;
        }

        *dst++ = *src++;
    }

    return dst;
}


/* Drop Prisma's query parameters from a postgresql:// URI. */

static char *
ngx_http_webpush_pg_strip_prisma(ngx_conf_t *cf, char *url, char **schema)
{
    u_char       *out, *w, *p, *q, *eq, *amp;
    size_t        len, klen;
    ngx_uint_t    k, drop, first;

    *schema = NULL;

    q = (u_char *) ngx_strchr(url, '?');
    if (q == NULL) {
        return url;
    }

    len = ngx_strlen(url);

    out = ngx_pnalloc(cf->pool, len + 1);
    if (out == NULL) {
        return NULL;
    }

    w = ngx_cpymem(out, url, q - (u_char *) url);
    first = 1;

    for (p = q + 1; *p; p = amp) {
        amp = (u_char *) ngx_strchr(p, '&');
        if (amp == NULL) {
            amp = p + ngx_strlen(p);
        }

        eq = ngx_strlchr(p, amp, '=');
        klen = (eq ? eq : amp) - p;

        drop = 0;

        for (k = 0; ngx_http_webpush_pg_prisma_params[k] != NULL; k++) {
            if (klen == ngx_strlen(ngx_http_webpush_pg_prisma_params[k])
                && ngx_strncmp(p, ngx_http_webpush_pg_prisma_params[k], klen)
                   == 0)
            {
                drop = 1;
                break;
            }
        }

        if (drop && eq != NULL && klen == 6
            && ngx_strncmp(p, "schema", 6) == 0 && amp > eq + 1)
        {
            *schema = ngx_pnalloc(cf->pool, amp - eq);
            if (*schema == NULL) {
                return NULL;
            }

            *ngx_http_webpush_pg_unescape((u_char *) *schema, eq + 1,
                                          amp - eq - 1) = '\0';
        }

        if (!drop && amp > p) {
            *w++ = first ? '?' : '&';
            w = ngx_cpymem(w, p, amp - p);
            first = 0;
        }

        if (*amp == '&') {
            amp++;
        }
    }

    *w = '\0';

    return (char *) out;
}


/*
 * hostaddr for host: names resolved now, once (libpq would call
 * getaddrinfo() in the worker on every connect).  A name with several
 * addresses (localhost: ::1 and 127.0.0.1) is repeated in *host_out once
 * per address, so libpq tries each in turn as it does for a host list;
 * with a per-host port list only the first address is kept, the lists
 * must stay aligned.  Socket directories and IP literals get an empty
 * entry (libpq uses host).  *addr_out is NULL when nothing needed
 * resolving.
 */

static ngx_int_t
ngx_http_webpush_pg_resolve(ngx_conf_t *cf, const char *hosts,
    const char *ports, char **host_out, char **addr_out)
{
    int               rc;
    u_char           *ho, *hw, *ao, *aw;
    char              name[256], addr[NGX_INET6_ADDRSTRLEN + 1];
    size_t            len, size;
    ngx_uint_t        any, n, max;
    const char       *p, *comma;
    struct in6_addr   a6;
    struct in_addr    a4;
    struct addrinfo   hints, *res, *ai;

    *host_out = NULL;
    *addr_out = NULL;

    max = (ports != NULL && strchr(ports, ',') != NULL)
          ? 1 : NGX_HTTP_WEBPUSH_PG_ADDRS_MAX;

    len = ngx_strlen(hosts);
    size = (len + 1) * NGX_HTTP_WEBPUSH_PG_ADDRS_MAX + 1;

    ho = ngx_pnalloc(cf->pool, size);
    ao = ngx_pnalloc(cf->pool,
                     (len + 1) * NGX_HTTP_WEBPUSH_PG_ADDRS_MAX
                     * (NGX_INET6_ADDRSTRLEN + 1) + 1);
    if (ho == NULL || ao == NULL) {
        return NGX_ERROR;
    }

    hw = ho;
    aw = ao;
    any = 0;

    for (p = hosts; ; p = comma + 1) {
        comma = strchr(p, ',');
        len = comma ? (size_t) (comma - p) : ngx_strlen(p);

        if (len >= sizeof(name)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "PostgreSQL host name too long");
            return NGX_ERROR;
        }

        ngx_memcpy(name, p, len);
        name[len] = '\0';

        if (len == 0 || name[0] == '/' || name[0] == '@'
            || inet_pton(AF_INET, name, &a4) == 1
            || inet_pton(AF_INET6, name, &a6) == 1)
        {
            if (hw > ho) {
                *hw++ = ',';
                *aw++ = ',';
            }

            hw = ngx_cpymem(hw, name, len);
            goto next;
        }

        ngx_memzero(&hints, sizeof(struct addrinfo));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;

        rc = getaddrinfo(name, NULL, &hints, &res);
        if (rc != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cannot resolve PostgreSQL host \"%s\": %s",
                               name, gai_strerror(rc));
            return NGX_ERROR;
        }

        for (ai = res, n = 0; ai != NULL && n < max; ai = ai->ai_next) {
            if (ai->ai_family == AF_INET6) {
                inet_ntop(AF_INET6,
                          &((struct sockaddr_in6 *) ai->ai_addr)->sin6_addr,
                          addr, sizeof(addr));

            } else if (ai->ai_family == AF_INET) {
                inet_ntop(AF_INET,
                          &((struct sockaddr_in *) ai->ai_addr)->sin_addr,
                          addr, sizeof(addr));

            } else {
                continue;
            }

            if (hw > ho) {
                *hw++ = ',';
                *aw++ = ',';
            }

            hw = ngx_cpymem(hw, name, len);
            aw = ngx_cpymem(aw, addr, ngx_strlen(addr));
            n++;

            ngx_conf_log_error(NGX_LOG_NOTICE, cf, 0,
                               "PostgreSQL host \"%s\" resolved to %s, "
                               "used until the next reload", name, addr);
        }

        freeaddrinfo(res);

        if (n == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "PostgreSQL host \"%s\" has no address", name);
            return NGX_ERROR;
        }

        any = 1;

    next:

        if (comma == NULL) {
            break;
        }
    }

    *hw = '\0';
    *aw = '\0';

    if (any) {
        *host_out = (char *) ho;
        *addr_out = (char *) ao;
    }

    return NGX_OK;
}
