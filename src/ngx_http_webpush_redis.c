
/*
 * ngx_http_webpush_redis: one non-blocking Redis connection per worker.
 *
 * Copyright (C) ngx_webpush authors
 *
 * hiredis 0.14's async API runs on an nginx event adapter written here:
 * the socket is wrapped in an nginx connection, events are edge-triggered
 * (NGX_CLEAR_EVENT) as nginx's own, so the read handler keeps calling
 * redisAsyncHandleRead() while FIONREAD says bytes are left (hiredis reads
 * at most 16 KiB per call) and the write handler keeps writing while
 * hiredis makes progress.  hiredis owns the descriptor: the adapter's
 * cleanup deletes the events for real (the fd is still open then), frees
 * the nginx connection with fd = -1 and lets hiredis close it; closing it
 * here too would close a number that may already be someone else's.
 *
 * hiredis 0.14 has no timeouts of its own: nginx timers bound the connect
 * and every command.  A command timeout drops the connection (a server
 * that does not answer one command will not answer those pipelined after
 * it), failing everything pending at once.  The connection comes back by
 * itself: 100 ms after a loss, then with a backoff from 250 ms doubling to
 * 2 s while connects fail.  While the server is known to be down, commands
 * fail at once (NGX_ERROR) instead of queueing.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_http.h>

#include <sys/ioctl.h>

#include <hiredis/sds.h>

#include "redis_url.h"
#include "ngx_http_webpush_redis.h"
#include "ngx_http_webpush_pg.h"     /* ngx_http_webpush_conf_value() */


#if (HIREDIS_MAJOR != 0)
#error "written for the hiredis 0.14 async API (Debian 12's libhiredis-dev)"
#endif


#define NGX_HTTP_WEBPUSH_REDIS_RETRY_LOST    100
#define NGX_HTTP_WEBPUSH_REDIS_BACKOFF_MIN   250
#define NGX_HTTP_WEBPUSH_REDIS_BACKOFF_MAX   2000

#define NGX_HTTP_WEBPUSH_REDIS_PREFIX        "{webpush}:"


typedef struct {
    ngx_queue_t                       queue;      /* pending */
    ngx_event_t                       timer;
    ngx_pool_cleanup_t               *cleanup;
    ngx_log_t                        *log;
    ngx_http_webpush_redis_done_pt    done;
    void                             *data;
    unsigned                          cancelled:1;
} ngx_http_webpush_redis_cmd_t;


typedef struct {
    wp_redis_conf_t                   target;
    ngx_str_t                         prefix;
    ngx_msec_t                        connect_timeout;
    ngx_msec_t                        command_timeout;

    redisAsyncContext                *ac;
    ngx_event_t                       connect_timer;
    ngx_event_t                       retry;
    ngx_queue_t                       pending;
    ngx_msec_t                        backoff;
    ngx_uint_t                        setup;      /* AUTH/SELECT due */

    unsigned                          connected:1;  /* and set up */
    unsigned                          down:1;       /* known down */
    unsigned                          exiting:1;
} ngx_http_webpush_redis_t;


static void ngx_http_webpush_redis_connect(void);
static void ngx_http_webpush_redis_schedule(ngx_msec_t delay);
static void ngx_http_webpush_redis_retry_handler(ngx_event_t *ev);
static void ngx_http_webpush_redis_connect_timeout(ngx_event_t *ev);
static void ngx_http_webpush_redis_drop(const char *why);
static void ngx_http_webpush_redis_connect_cb(const redisAsyncContext *ac,
    int status);
static void ngx_http_webpush_redis_disconnect_cb(const redisAsyncContext *ac,
    int status);
static void ngx_http_webpush_redis_setup_cb(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_webpush_redis_ready(void);
static ngx_uint_t ngx_http_webpush_redis_level(void);

static void ngx_http_webpush_redis_cmd_cb(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_http_webpush_redis_cmd_timeout(ngx_event_t *ev);
static void ngx_http_webpush_redis_cmd_cleanup(void *data);
static void ngx_http_webpush_redis_cmd_detach(
    ngx_http_webpush_redis_cmd_t *cmd);

static ngx_int_t ngx_http_webpush_redis_attach(redisAsyncContext *ac);
static void ngx_http_webpush_redis_add_read(void *privdata);
static void ngx_http_webpush_redis_del_read(void *privdata);
static void ngx_http_webpush_redis_add_write(void *privdata);
static void ngx_http_webpush_redis_del_write(void *privdata);
static void ngx_http_webpush_redis_ev_cleanup(void *privdata);
static void ngx_http_webpush_redis_read_handler(ngx_event_t *ev);
static void ngx_http_webpush_redis_write_handler(ngx_event_t *ev);

static char *ngx_http_webpush_redis_env(ngx_conf_t *cf, const char *name);
static ngx_int_t ngx_http_webpush_redis_resolve(ngx_conf_t *cf,
    wp_redis_conf_t *t);


static ngx_http_webpush_redis_t  *ngx_http_webpush_redis;

static ngx_str_t  ngx_http_webpush_redis_default_prefix =
    ngx_string(NGX_HTTP_WEBPUSH_REDIS_PREFIX);


/* Commands */


ngx_int_t
ngx_http_webpush_redis_command(ngx_pool_t *owner, ngx_log_t *log,
    ngx_http_webpush_redis_done_pt done, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_webpush_redis_t      *rd;
    ngx_http_webpush_redis_cmd_t  *cmd;

    rd = ngx_http_webpush_redis;

    if (rd == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "webpush: no Redis configured (\"webpush_redis\")");
        return NGX_ERROR;
    }

    if (rd->ac == NULL || (rd->down && !rd->connected)) {
        /* the outage itself was logged as an error when it began */
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "webpush: Redis is down, command refused");
        return NGX_ERROR;
    }

    cln = NULL;

    if (owner != NULL) {
        cln = ngx_pool_cleanup_add(owner, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }
    }

    /* outlives the owner: the reply may arrive after the request is gone */
    cmd = ngx_calloc(sizeof(ngx_http_webpush_redis_cmd_t), log);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    cmd->log = log;
    cmd->done = done;
    cmd->data = data;

    if (redisAsyncCommandArgv(rd->ac, ngx_http_webpush_redis_cmd_cb, cmd,
                              argc, argv, argvlen)
        != REDIS_OK)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "webpush: redisAsyncCommandArgv() failed");
        ngx_free(cmd);
        return NGX_ERROR;
    }

    cmd->timer.handler = ngx_http_webpush_redis_cmd_timeout;
    cmd->timer.data = cmd;
    cmd->timer.log = log;

    /* a request waiting for Redis keeps a graceful exit waiting */
    cmd->timer.cancelable = 0;

    ngx_add_timer(&cmd->timer, rd->command_timeout);

    if (cln != NULL) {
        cln->handler = ngx_http_webpush_redis_cmd_cleanup;
        cln->data = cmd;
        cmd->cleanup = cln;
    }

    ngx_queue_insert_tail(&rd->pending, &cmd->queue);

    return NGX_OK;
}


static void
ngx_http_webpush_redis_cmd_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    ngx_http_webpush_redis_cmd_t *cmd = privdata;

    void                            *data;
    redisReply                      *reply;
    ngx_http_webpush_redis_done_pt   done;

    reply = r;

    if (cmd->cancelled) {
        ngx_free(cmd);
        return;
    }

    done = cmd->done;
    data = cmd->data;

    ngx_http_webpush_redis_cmd_detach(cmd);
    ngx_free(cmd);

    done(data, reply, reply ? NGX_OK : NGX_ERROR);
}


/*
 * No reply in time: the command fails, and so does the connection (see
 * the top of the file).  hiredis still owns the callback: cmd is freed
 * when it runs, with a reply or with NULL when the context is freed.
 */

static void
ngx_http_webpush_redis_cmd_timeout(ngx_event_t *ev)
{
    ngx_http_webpush_redis_cmd_t *cmd = ev->data;

    void                            *data;
    ngx_http_webpush_redis_done_pt   done;

    ngx_log_error(NGX_LOG_ERR, cmd->log, 0,
                  "webpush: Redis command timed out after %M ms",
                  ngx_http_webpush_redis->command_timeout);

    done = cmd->done;
    data = cmd->data;

    ngx_http_webpush_redis_cmd_detach(cmd);

    done(data, NULL, NGX_ERROR);

    if (ngx_http_webpush_redis != NULL && ngx_http_webpush_redis->ac) {
        ngx_http_webpush_redis->down = 1;
        ngx_http_webpush_redis_drop("command timed out");
    }
}


static void
ngx_http_webpush_redis_cmd_cleanup(void *data)
{
    ngx_http_webpush_redis_cmd_t *cmd = data;

    cmd->cleanup = NULL;
    ngx_http_webpush_redis_cmd_detach(cmd);
}


/* Nobody is to be called back for cmd any more; hiredis still is. */

static void
ngx_http_webpush_redis_cmd_detach(ngx_http_webpush_redis_cmd_t *cmd)
{
    if (cmd->cancelled) {
        return;
    }

    cmd->cancelled = 1;

    if (cmd->timer.timer_set) {
        ngx_del_timer(&cmd->timer);
    }

    if (cmd->cleanup != NULL) {
        cmd->cleanup->handler = NULL;
        cmd->cleanup = NULL;
    }

    ngx_queue_remove(&cmd->queue);
}


/* The connection */


static void
ngx_http_webpush_redis_connect(void)
{
    const char                *argv[3];
    size_t                     argvlen[3];
    ngx_uint_t                 argc;
    redisAsyncContext         *ac;
    ngx_http_webpush_redis_t  *rd;
    char                       db[NGX_INT_T_LEN + 1];

    rd = ngx_http_webpush_redis;

    if (rd->target.port == 0) {
        ac = redisAsyncConnectUnix(rd->target.host);

    } else {
        ac = redisAsyncConnect(rd->target.host, rd->target.port);
    }

    if (ac == NULL) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "webpush: redisAsyncConnect() failed (out of memory)");
        rd->down = 1;
        ngx_http_webpush_redis_schedule(0);
        return;
    }

    if (ac->err) {
        ngx_log_error(ngx_http_webpush_redis_level(), ngx_cycle->log, 0,
                      "webpush: Redis connect to %s:%d failed: %s",
                      rd->target.host, rd->target.port, ac->errstr);
        redisAsyncFree(ac);
        rd->down = 1;
        ngx_http_webpush_redis_schedule(0);
        return;
    }

    if (ngx_http_webpush_redis_attach(ac) != NGX_OK) {
        redisAsyncFree(ac);
        rd->down = 1;
        ngx_http_webpush_redis_schedule(0);
        return;
    }

    rd->ac = ac;
    rd->connected = 0;
    rd->setup = 0;

    redisAsyncSetConnectCallback(ac, ngx_http_webpush_redis_connect_cb);
    redisAsyncSetDisconnectCallback(ac, ngx_http_webpush_redis_disconnect_cb);

    /* queued now, sent first: every command after them is authorised */

    if (rd->target.password[0] != '\0') {
        argc = 0;
        argv[argc] = "AUTH";
        argvlen[argc++] = 4;

        if (rd->target.user[0] != '\0') {
            argv[argc] = rd->target.user;
            argvlen[argc] = ngx_strlen(rd->target.user);
            argc++;
        }

        argv[argc] = rd->target.password;
        argvlen[argc] = ngx_strlen(rd->target.password);
        argc++;

        if (redisAsyncCommandArgv(ac, ngx_http_webpush_redis_setup_cb,
                                  (void *) "AUTH", (int) argc, argv, argvlen)
            == REDIS_OK)
        {
            rd->setup++;
        }
    }

    if (rd->target.db != 0) {
        argv[0] = "SELECT";
        argvlen[0] = 6;
        argv[1] = db;
        argvlen[1] = ngx_sprintf((u_char *) db, "%d", rd->target.db)
                     - (u_char *) db;

        if (redisAsyncCommandArgv(ac, ngx_http_webpush_redis_setup_cb,
                                  (void *) "SELECT", 2, argv, argvlen)
            == REDIS_OK)
        {
            rd->setup++;
        }
    }

    ngx_add_timer(&rd->connect_timer, rd->connect_timeout);

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "webpush redis: connecting, fd:%d", ac->c.fd);
}


static void
ngx_http_webpush_redis_schedule(ngx_msec_t delay)
{
    ngx_http_webpush_redis_t  *rd;

    rd = ngx_http_webpush_redis;

    if (rd->exiting || ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (delay == 0) {
        rd->backoff = rd->backoff
                      ? ngx_min(rd->backoff * 2,
                                NGX_HTTP_WEBPUSH_REDIS_BACKOFF_MAX)
                      : NGX_HTTP_WEBPUSH_REDIS_BACKOFF_MIN;
        delay = rd->backoff;
    }

    if (!rd->retry.timer_set) {
        ngx_add_timer(&rd->retry, delay);
    }
}


static void
ngx_http_webpush_redis_retry_handler(ngx_event_t *ev)
{
    if (ngx_http_webpush_redis->ac == NULL) {
        ngx_http_webpush_redis_connect();
    }
}


static void
ngx_http_webpush_redis_connect_timeout(ngx_event_t *ev)
{
    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "webpush: Redis connect timed out after %M ms",
                  ngx_http_webpush_redis->connect_timeout);

    ngx_http_webpush_redis->down = 1;
    ngx_http_webpush_redis_drop(NULL);
}


/* Free the context: pending callbacks run with NULL, cleanup retries. */

static void
ngx_http_webpush_redis_drop(const char *why)
{
    redisAsyncContext  *ac;

    ac = ngx_http_webpush_redis->ac;

    if (ac == NULL) {
        return;
    }

    if (why != NULL) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "webpush: dropping the Redis connection: %s", why);
    }

    redisAsyncFree(ac);
}


static void
ngx_http_webpush_redis_connect_cb(const redisAsyncContext *ac, int status)
{
    ngx_http_webpush_redis_t  *rd;

    rd = ngx_http_webpush_redis;

    if (status != REDIS_OK) {
        /* an error once; the retries while it stays down at info */
        ngx_log_error(ngx_http_webpush_redis_level(), ngx_cycle->log, 0,
                      "webpush: Redis connect to %s:%d failed: %s",
                      rd->target.host, rd->target.port,
                      ac->errstr[0] ? ac->errstr : "error");
        rd->down = 1;
        rd->connected = 0;
        /* hiredis frees the context next: the cleanup schedules a retry */
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "webpush redis: connected");

    if (rd->connect_timer.timer_set) {
        ngx_del_timer(&rd->connect_timer);
    }

    if (rd->setup == 0) {
        ngx_http_webpush_redis_ready();
    }
}


static void
ngx_http_webpush_redis_setup_cb(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply                *reply;
    ngx_http_webpush_redis_t  *rd;

    reply = r;
    rd = ngx_http_webpush_redis;

    if (reply == NULL || rd == NULL || rd->ac != ac) {
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        /* Redis's error text never repeats the password */
        ngx_log_error(ngx_http_webpush_redis_level(), ngx_cycle->log, 0,
                      "webpush: Redis %s failed: %*s", (char *) privdata,
                      (size_t) reply->len, reply->str);
        rd->down = 1;
        rd->connected = 0;
        redisAsyncFree(ac);
        return;
    }

    if (--rd->setup == 0) {
        ngx_http_webpush_redis_ready();
    }
}


static void
ngx_http_webpush_redis_ready(void)
{
    ngx_http_webpush_redis_t  *rd;

    rd = ngx_http_webpush_redis;

    if (rd->down) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "webpush: Redis connection is back");
    }

    rd->connected = 1;
    rd->down = 0;
    rd->backoff = 0;
}


/* Log level of a connect failure: an error once, info while still down. */

static ngx_uint_t
ngx_http_webpush_redis_level(void)
{
    return ngx_http_webpush_redis->down ? NGX_LOG_INFO : NGX_LOG_ERR;
}


static void
ngx_http_webpush_redis_disconnect_cb(const redisAsyncContext *ac, int status)
{
    if (status != REDIS_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "webpush: Redis connection lost: %s",
                      ac->errstr[0] ? ac->errstr : "closed");
    }
}


/* The nginx event adapter */


static ngx_int_t
ngx_http_webpush_redis_attach(redisAsyncContext *ac)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(ac->c.fd, ngx_cycle->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = ac;
    c->read->handler = ngx_http_webpush_redis_read_handler;
    c->write->handler = ngx_http_webpush_redis_write_handler;
    c->read->log = c->log;
    c->write->log = c->log;

    ac->ev.data = c;
    ac->ev.addRead = ngx_http_webpush_redis_add_read;
    ac->ev.delRead = ngx_http_webpush_redis_del_read;
    ac->ev.addWrite = ngx_http_webpush_redis_add_write;
    ac->ev.delWrite = ngx_http_webpush_redis_del_write;
    ac->ev.cleanup = ngx_http_webpush_redis_ev_cleanup;

    return NGX_OK;
}


static void
ngx_http_webpush_redis_add_read(void *privdata)
{
    ngx_connection_t *c = privdata;

    if (!c->read->active) {
        if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_CLEAR_EVENT)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                          "webpush: cannot add the Redis read event");
        }
    }
}


static void
ngx_http_webpush_redis_del_read(void *privdata)
{
    ngx_connection_t *c = privdata;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }
}


/*
 * The write event stays registered (edge-triggered, it costs nothing while
 * the socket stays writable): a command queued on a writable socket posts
 * the write handler, so every command queued during one event loop
 * iteration leaves in one write(), without an epoll_ctl() per command.
 */

static void
ngx_http_webpush_redis_add_write(void *privdata)
{
    ngx_connection_t *c = privdata;

    ngx_event_t  *wev;

    wev = c->write;

    if (!wev->active) {
        /* an edge-triggered add reports a writable socket at once */
        if (ngx_add_event(wev, NGX_WRITE_EVENT, NGX_CLEAR_EVENT) != NGX_OK) {
            ngx_log_error(NGX_LOG_ALERT, c->log, 0,
                          "webpush: cannot add the Redis write event");
        }

        return;
    }

    if (wev->ready && !wev->posted) {
        ngx_post_event(wev, &ngx_posted_events);
    }
}


static void
ngx_http_webpush_redis_del_write(void *privdata)
{
    /* kept registered, see above */
}


/*
 * Called by hiredis from redisAsyncFree() and on every disconnect, before
 * it closes the descriptor: the events must go for real (flags 0, not
 * NGX_CLOSE_EVENT), the descriptor must not be closed here.
 */

static void
ngx_http_webpush_redis_ev_cleanup(void *privdata)
{
    ngx_connection_t *c = privdata;

    ngx_uint_t                 was_connected;
    redisAsyncContext         *ac;
    ngx_http_webpush_redis_t  *rd;

    ac = c->data;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    /* ngx_free_connection() reuses c->data for its free list */
    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    rd = ngx_http_webpush_redis;

    if (rd == NULL || rd->ac != ac) {
        return;
    }

    was_connected = rd->connected;

    rd->ac = NULL;
    rd->connected = 0;

    if (rd->connect_timer.timer_set) {
        ngx_del_timer(&rd->connect_timer);
    }

    ngx_http_webpush_redis_schedule(was_connected
                                    ? NGX_HTTP_WEBPUSH_REDIS_RETRY_LOST : 0);
}


static void
ngx_http_webpush_redis_read_handler(ngx_event_t *ev)
{
    int                 n;
    ngx_socket_t        fd;
    ngx_connection_t   *c;
    redisAsyncContext  *ac;

    c = ev->data;
    ac = c->data;
    fd = c->fd;

    for ( ;; ) {
        redisAsyncHandleRead(ac);

        /* the context (and c) may be gone: EOF, error, a callback */
        if (ngx_http_webpush_redis == NULL
            || ngx_http_webpush_redis->ac != ac)
        {
            return;
        }

        /* edge-triggered: what hiredis left unread will not be signalled */
        if (ioctl(fd, FIONREAD, &n) == -1 || n <= 0) {
            return;
        }
    }
}


static void
ngx_http_webpush_redis_write_handler(ngx_event_t *ev)
{
    size_t              before;
    ngx_connection_t   *c;
    redisAsyncContext  *ac;

    c = ev->data;
    ac = c->data;

    for ( ;; ) {
        before = sdslen(ac->c.obuf);

        redisAsyncHandleWrite(ac);

        if (ngx_http_webpush_redis == NULL
            || ngx_http_webpush_redis->ac != ac)
        {
            return;
        }

        if (!(ac->c.flags & REDIS_CONNECTED) || sdslen(ac->c.obuf) == 0) {
            return;
        }

        /*
         * One write() per call.  No progress means EAGAIN: not ready until
         * epoll reports the next edge.
         */
        if (sdslen(ac->c.obuf) >= before) {
            ev->ready = 0;
            return;
        }
    }
}


/* Process life */


ngx_int_t
ngx_http_webpush_redis_init_process(ngx_cycle_t *cycle,
    ngx_http_webpush_redis_conf_t *conf)
{
    u_char                    *p;
    ngx_http_webpush_redis_t  *rd;

    if (conf == NULL || conf->url.len == 0 || conf->target == NULL) {
        return NGX_OK;
    }

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    /* the worker's own copy: the cycle's pool may go first (see pg.c) */

    rd = ngx_calloc(sizeof(ngx_http_webpush_redis_t) + conf->prefix.len,
                    cycle->log);
    if (rd == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(&rd->target, conf->target, sizeof(wp_redis_conf_t));

    p = (u_char *) (rd + 1);
    ngx_memcpy(p, conf->prefix.data, conf->prefix.len);
    rd->prefix.data = p;
    rd->prefix.len = conf->prefix.len;

    rd->connect_timeout = conf->connect_timeout;
    rd->command_timeout = conf->command_timeout;

    ngx_queue_init(&rd->pending);

    rd->connect_timer.handler = ngx_http_webpush_redis_connect_timeout;
    rd->connect_timer.data = rd;
    rd->connect_timer.log = cycle->log;
    rd->connect_timer.cancelable = 1;

    rd->retry.handler = ngx_http_webpush_redis_retry_handler;
    rd->retry.data = rd;
    rd->retry.log = cycle->log;
    rd->retry.cancelable = 1;

    ngx_http_webpush_redis = rd;

    /* connect now: the first request should not find it down */
    ngx_http_webpush_redis_connect();

    return NGX_OK;
}


void
ngx_http_webpush_redis_exit_process(ngx_cycle_t *cycle)
{
    ngx_queue_t                   *q;
    ngx_http_webpush_redis_t      *rd;
    ngx_http_webpush_redis_cmd_t  *cmd;

    rd = ngx_http_webpush_redis;

    if (rd == NULL) {
        return;
    }

    rd->exiting = 1;

    /* nobody is called back: the process is going away */

    while (!ngx_queue_empty(&rd->pending)) {
        q = ngx_queue_head(&rd->pending);
        cmd = ngx_queue_data(q, ngx_http_webpush_redis_cmd_t, queue);
        ngx_http_webpush_redis_cmd_detach(cmd);
    }

    if (rd->retry.timer_set) {
        ngx_del_timer(&rd->retry);
    }

    if (rd->connect_timer.timer_set) {
        ngx_del_timer(&rd->connect_timer);
    }

    /* frees every detached cmd through its callback, closes the fd */
    if (rd->ac != NULL) {
        redisAsyncFree(rd->ac);
    }

    ngx_http_webpush_redis = NULL;
    ngx_free(rd);
}


ngx_int_t
ngx_http_webpush_redis_connected(void)
{
    return ngx_http_webpush_redis != NULL
           && ngx_http_webpush_redis->ac != NULL
           && ngx_http_webpush_redis->connected;
}


ngx_int_t
ngx_http_webpush_redis_configured(void)
{
    return ngx_http_webpush_redis != NULL;
}


ngx_str_t *
ngx_http_webpush_redis_prefix(void)
{
    if (ngx_http_webpush_redis != NULL) {
        return &ngx_http_webpush_redis->prefix;
    }

    return &ngx_http_webpush_redis_default_prefix;
}


/* Configuration */


char *
ngx_http_webpush_redis_set(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_webpush_redis_conf_t  *rcf;

    char             *url, *host, *port, *password, *prefix;
    ngx_str_t        *value, v, s;
    ngx_uint_t        i;
    ngx_msec_t       *msp;
    wp_err_t          err;
    wp_redis_conf_t  *t;

    rcf = (ngx_http_webpush_redis_conf_t *) ((char *) conf + cmd->offset);

    if (rcf->url.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    rcf->connect_timeout = 2000;
    rcf->command_timeout = 2000;
    ngx_str_null(&rcf->prefix);

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "prefix=", 7) == 0) {
            rcf->prefix.data = value[i].data + 7;
            rcf->prefix.len = value[i].len - 7;
            continue;
        }

        if (ngx_strncmp(value[i].data, "connect_timeout=", 16) == 0) {
            msp = &rcf->connect_timeout;
            s.data = value[i].data + 16;

        } else if (ngx_strncmp(value[i].data, "command_timeout=", 16) == 0) {
            msp = &rcf->command_timeout;
            s.data = value[i].data + 16;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        s.len = value[i].data + value[i].len - s.data;

        *msp = ngx_parse_time(&s, 0);
        if (*msp == (ngx_msec_t) NGX_ERROR || *msp == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value in \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    t = ngx_pcalloc(cf->pool, sizeof(wp_redis_conf_t));
    if (t == NULL) {
        return NGX_CONF_ERROR;
    }

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "env", 3) == 0) {
        /* the seed's variables */
        url = ngx_http_webpush_redis_env(cf, "REDIS_URL");
        host = ngx_http_webpush_redis_env(cf, "REDIS_HOST");
        port = ngx_http_webpush_redis_env(cf, "REDIS_PORT");
        password = ngx_http_webpush_redis_env(cf, "REDIS_PASSWORD");

        if (rcf->prefix.data == NULL) {
            prefix = ngx_http_webpush_redis_env(cf, "WEBPUSH_QUEUE_PREFIX");
            if (prefix != NULL && prefix[0] != '\0') {
                rcf->prefix.data = (u_char *) prefix;
                rcf->prefix.len = ngx_strlen(prefix);
            }
        }

    } else {
        if (ngx_http_webpush_conf_value(cf, &value[1], &v) != NGX_CONF_OK) {
            return NGX_CONF_ERROR;
        }

        url = ngx_pnalloc(cf->pool, v.len + 1);
        if (url == NULL) {
            return NGX_CONF_ERROR;
        }

        (void) ngx_cpystrn((u_char *) url, v.data, v.len + 1);

        host = NULL;
        port = NULL;
        password = NULL;
    }

    ngx_memzero(&err, sizeof(wp_err_t));

    if (wp_redis_conf_parse(url, host, port, password, t, &err) != 0) {
        /* lib/redis_url.c names the variable, never the password */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid Redis connection: %s", err.message);
        return NGX_CONF_ERROR;
    }

    if (t->port != 0 && ngx_http_webpush_redis_resolve(cf, t) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (rcf->prefix.data == NULL) {
        rcf->prefix = ngx_http_webpush_redis_default_prefix;
    }

    rcf->target = t;
    ngx_str_set(&rcf->url, "redis");

    return NGX_CONF_OK;
}


/* "env NAME=value;" first, as the face file's env: does, then getenv() */

static char *
ngx_http_webpush_redis_env(ngx_conf_t *cf, const char *name)
{
    size_t            len;
    ngx_str_t        *var;
    ngx_uint_t        i;
    ngx_core_conf_t  *ccf;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                           ngx_core_module);

    len = ngx_strlen(name);
    var = ccf->env.elts;

    for (i = 0; i < ccf->env.nelts; i++) {
        if (var[i].len == len
            && var[i].data[len] == '='
            && ngx_strncmp(var[i].data, name, len) == 0)
        {
            return (char *) var[i].data + len + 1;
        }
    }

    return getenv(name);
}


/*
 * hiredis resolves a host name with a blocking getaddrinfo() on every
 * connect: resolve it once here and connect to the address.
 */

static ngx_int_t
ngx_http_webpush_redis_resolve(ngx_conf_t *cf, wp_redis_conf_t *t)
{
    int               rc;
    char              addr[NGX_INET6_ADDRSTRLEN + 1];
    struct in6_addr   a6;
    struct in_addr    a4;
    struct addrinfo   hints, *res;

    if (inet_pton(AF_INET, t->host, &a4) == 1
        || inet_pton(AF_INET6, t->host, &a6) == 1)
    {
        return NGX_OK;
    }

    ngx_memzero(&hints, sizeof(struct addrinfo));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;

    rc = getaddrinfo(t->host, NULL, &hints, &res);
    if (rc != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cannot resolve Redis host \"%s\": %s",
                           t->host, gai_strerror(rc));
        return NGX_ERROR;
    }

    if (res->ai_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *) res->ai_addr)->sin6_addr,
                  addr, sizeof(addr));

    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *) res->ai_addr)->sin_addr,
                  addr, sizeof(addr));
    }

    freeaddrinfo(res);

    ngx_conf_log_error(NGX_LOG_NOTICE, cf, 0,
                       "Redis host \"%s\" resolved to %s, used until the "
                       "next reload", t->host, addr);

    (void) ngx_cpystrn((u_char *) t->host, (u_char *) addr, sizeof(t->host));

    return NGX_OK;
}
