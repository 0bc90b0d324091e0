/* webpush-sender: a non-blocking Redis link (see aredis.h). */

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aredis.h"

/* A command waiting for its reply (Redis answers in order: a FIFO). */
struct wp_aredis_cmd_s {
    wp_aredis_cmd_t     *next;
    wp_aredis_t         *a;
    wp_aredis_reply_pt   fn;
    void                *ctx;
    int64_t              sent_ms;
    int                  setup;      /* AUTH/SELECT: an error drops the link */
    char                 key[];
};


/* Monotonic: the timers must not jump with the wall clock. */
static int64_t
wp_aredis_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* The event-loop hooks: hiredis says what it wants, the engine waits. */

static void
wp_aredis_add_read(void *data)
{
    ((wp_aredis_t *) data)->want_read = 1;
}


static void
wp_aredis_del_read(void *data)
{
    ((wp_aredis_t *) data)->want_read = 0;
}


static void
wp_aredis_add_write(void *data)
{
    ((wp_aredis_t *) data)->want_write = 1;
}


static void
wp_aredis_del_write(void *data)
{
    ((wp_aredis_t *) data)->want_write = 0;
}


/* No new link for a while: doubling, from the start after a good link. */
static void
wp_aredis_backoff(wp_aredis_t *a)
{
    if (a->healthy) {
        a->backoff_ms = WP_AREDIS_BACKOFF_MIN_MS;
    }
    a->healthy = 0;
    a->retry_ms = wp_aredis_now_ms() + a->backoff_ms;
    a->backoff_ms = a->backoff_ms * 2 > WP_AREDIS_BACKOFF_MAX_MS
                    ? WP_AREDIS_BACKOFF_MAX_MS : a->backoff_ms * 2;
}


/* hiredis is freeing the context (any reason): the link is down. */
static void
wp_aredis_cleanup(void *data)
{
    wp_aredis_t  *a;

    a = data;

    if (a->connected && !a->closing) {
        wp_log(a->log, WP_LOG_WARN, "Redis link for the circuit and keyok"
               " markers lost: reconnecting", "error",
               a->ac != NULL && a->ac->errstr != NULL ? a->ac->errstr : "",
               NULL);
    }

    a->ac = NULL;
    a->connected = 0;
    a->want_read = 0;
    a->want_write = 0;
    wp_aredis_backoff(a);
}


static void
wp_aredis_on_connect(const redisAsyncContext *ac, int status)
{
    wp_aredis_t  *a;

    a = ac->data;

    if (status == REDIS_OK) {
        a->connected = 1;
        return;
    }

    wp_log(a->log, WP_LOG_DEBUG, "Redis link for the markers: connect"
           " failed", "error", ac->errstr, NULL);
}


/* Every reply, or NULL for each command left when the context goes. */
static void
wp_aredis_on_reply(redisAsyncContext *ac, void *reply, void *data)
{
    redisReply       *r;
    wp_aredis_t      *a;
    wp_aredis_cmd_t  *cmd, *prev, *c;

    cmd = data;
    a = cmd->a;
    r = reply;

    /* normally the head: replies come in order */
    prev = NULL;
    for (c = a->head; c != NULL && c != cmd; c = c->next) {
        prev = c;
    }

    if (c != NULL) {
        if (prev != NULL) {
            prev->next = cmd->next;
        } else {
            a->head = cmd->next;
        }
        if (a->tail == cmd) {
            a->tail = prev;
        }
        a->pending--;
    }

    if (r != NULL) {
        a->healthy = 1;
    }

    if (cmd->setup && r != NULL && r->type == REDIS_REPLY_ERROR) {
        wp_log(a->log, WP_LOG_WARN, "Redis link for the markers: AUTH or"
               " SELECT refused", "error", r->str, NULL);
        /* freed once this callback returns (hiredis defers it) */
        redisAsyncFree(ac);
    }

    if (cmd->fn != NULL && !a->closing) {
        cmd->fn(cmd->ctx, cmd->key, r);
    }

    free(cmd);
}


/* Queue a command formatted by hiredis; cmd is ours until its reply. */
static int
wp_aredis_send(wp_aredis_t *a, wp_aredis_cmd_t *cmd, const char *fmt,
    va_list ap)
{
    cmd->a = a;
    cmd->next = NULL;
    cmd->sent_ms = wp_aredis_now_ms();

    if (redisvAsyncCommand(a->ac, wp_aredis_on_reply, cmd, fmt, ap)
        != REDIS_OK)
    {
        return -1;
    }

    if (a->tail != NULL) {
        a->tail->next = cmd;
    } else {
        a->head = cmd;
    }
    a->tail = cmd;
    a->pending++;

    return 0;
}


static void
wp_aredis_setup_cmd(wp_aredis_t *a, const char *fmt, ...)
{
    va_list           ap;
    wp_aredis_cmd_t  *cmd;

    cmd = calloc(1, sizeof(*cmd) + 1);
    if (cmd == NULL) {
        return;
    }

    cmd->setup = 1;

    va_start(ap, fmt);
    if (wp_aredis_send(a, cmd, fmt, ap) != 0) {
        free(cmd);
    }
    va_end(ap);
}


/* A new link, when the backoff allows; AUTH and SELECT go first. */
static void
wp_aredis_connect(wp_aredis_t *a)
{
    int64_t             now;
    redisAsyncContext  *ac;

    now = wp_aredis_now_ms();
    if (a->ac != NULL || now < a->retry_ms || a->closing) {
        return;
    }

    if (a->conf->port == 0) {
        ac = redisAsyncConnectUnix(a->conf->host);
    } else {
        ac = redisAsyncConnect(a->conf->host, a->conf->port);
    }

    if (ac == NULL || ac->err) {
        wp_log(a->log, WP_LOG_DEBUG, "Redis link for the markers: connect"
               " failed", "error", ac != NULL ? ac->errstr : "out of memory",
               NULL);
        if (ac != NULL) {
            redisAsyncFree(ac);     /* no hooks yet: no cleanup call */
        }
        wp_aredis_backoff(a);
        return;
    }

    ac->data = a;
    ac->ev.data = a;
    ac->ev.addRead = wp_aredis_add_read;
    ac->ev.delRead = wp_aredis_del_read;
    ac->ev.addWrite = wp_aredis_add_write;
    ac->ev.delWrite = wp_aredis_del_write;
    ac->ev.cleanup = wp_aredis_cleanup;
    redisAsyncSetConnectCallback(ac, wp_aredis_on_connect);

    a->ac = ac;
    a->connected = 0;
    a->healthy = 0;
    a->connect_ms = now;

    if (a->conf->password[0]) {
        if (a->conf->user[0]) {
            wp_aredis_setup_cmd(a, "AUTH %s %s", a->conf->user,
                                a->conf->password);
        } else {
            wp_aredis_setup_cmd(a, "AUTH %s", a->conf->password);
        }
    }

    if (a->conf->db) {
        wp_aredis_setup_cmd(a, "SELECT %d", a->conf->db);
    }
}


void
wp_aredis_init(wp_aredis_t *a, const wp_redis_conf_t *conf,
    int64_t timeout_ms, const wp_log_t *log)
{
    memset(a, 0, sizeof(*a));
    a->conf = conf;
    a->timeout_ms = timeout_ms > 0 ? timeout_ms : 1000;
    a->log = log;
    a->backoff_ms = WP_AREDIS_BACKOFF_MIN_MS;

    wp_aredis_connect(a);
}


/* Drop the link now (hiredis runs the callbacks with no reply). */
static void
wp_aredis_drop(wp_aredis_t *a)
{
    if (a->ac != NULL) {
        redisAsyncFree(a->ac);      /* wp_aredis_cleanup clears a->ac */
    }
}


void
wp_aredis_free(wp_aredis_t *a)
{
    a->closing = 1;
    wp_aredis_drop(a);
}


int
wp_aredis_cmd(wp_aredis_t *a, wp_aredis_reply_pt fn, void *ctx,
    const char *key, const char *fmt, ...)
{
    int               rc;
    size_t            len;
    va_list           ap;
    wp_aredis_cmd_t  *cmd;

    wp_aredis_connect(a);

    if (a->ac == NULL || a->pending >= WP_AREDIS_MAX_PENDING) {
        /* the first of a run and then every 1000th: not a line each */
        if (a->dropped++ % 1000 == 0) {
            wp_log(a->log, WP_LOG_WARN, a->ac == NULL
                   ? "Redis link for the markers is down: marker not"
                     " written or read"
                   : "Redis is slow: too many marker commands waiting,"
                     " this one dropped", NULL);
        }
        return -1;
    }

    len = key != NULL ? strlen(key) : 0;
    cmd = calloc(1, sizeof(*cmd) + len + 1);
    if (cmd == NULL) {
        a->dropped++;
        return -1;
    }

    memcpy(cmd->key, key != NULL ? key : "", len);
    cmd->fn = fn;
    cmd->ctx = ctx;

    va_start(ap, fmt);
    rc = wp_aredis_send(a, cmd, fmt, ap);
    va_end(ap);

    if (rc != 0) {
        free(cmd);
        a->dropped++;
    }

    return rc;
}


int
wp_aredis_pending(const wp_aredis_t *a)
{
    return a->pending;
}


int
wp_aredis_fd(const wp_aredis_t *a)
{
    return a->ac != NULL ? a->ac->c.fd : -1;
}


int
wp_aredis_events(const wp_aredis_t *a)
{
    int  ev;

    if (a->ac == NULL) {
        return 0;
    }

    /* a connect in progress completes with POLLOUT (or fails with it) */
    if (!a->connected) {
        return POLLOUT;
    }

    ev = a->want_write ? POLLOUT : 0;

    /* an idle link is left alone: a drop shows at its next command */
    if (a->want_read && a->pending > 0) {
        ev |= POLLIN;
    }

    return ev;
}


void
wp_aredis_handle(wp_aredis_t *a, int revents)
{
    int64_t  now;

    if (a->ac != NULL && (revents & (POLLOUT | POLLERR | POLLHUP))
        && (!a->connected || a->want_write))
    {
        redisAsyncHandleWrite(a->ac);
    }

    /* the context may be gone now: a->ac says */
    if (a->ac != NULL && a->connected
        && (revents & (POLLIN | POLLERR | POLLHUP)))
    {
        redisAsyncHandleRead(a->ac);
    }

    if (a->ac == NULL) {
        return;
    }

    now = wp_aredis_now_ms();

    if (!a->connected ? now - a->connect_ms >= a->timeout_ms
        : a->head != NULL && now - a->head->sent_ms >= a->timeout_ms)
    {
        wp_log(a->log, WP_LOG_WARN, a->connected
               ? "Redis did not answer a marker command in time: link"
                 " dropped, reconnecting"
               : "Redis link for the markers: connect timed out", NULL);
        a->connected = 0;           /* logged already */
        wp_aredis_drop(a);
    }
}


void
wp_aredis_io(wp_aredis_t *a)
{
    struct pollfd  pfd;

    pfd.revents = 0;
    pfd.events = (short) wp_aredis_events(a);

    if (pfd.events != 0) {
        pfd.fd = wp_aredis_fd(a);
        if (poll(&pfd, 1, 0) < 0 && errno != EINTR) {
            pfd.revents = 0;
        }
    }

    wp_aredis_handle(a, pfd.revents);
}
