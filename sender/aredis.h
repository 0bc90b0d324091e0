/*
 * A non-blocking Redis link for the delivery engine's best-effort markers
 * (<prefix>circuit:<aud>, <prefix>keyok:<aud>, queue.h): a hiredis async
 * context driven by the engine's own wait, so that a slow, stopped or
 * failing-over Redis never holds up the streams in flight.  The queue's
 * link (queue.h) stays blocking: it runs between pages, not inside the
 * delivery loop.
 *
 * The link connects to the queue's Redis (same wp_redis_conf_t), sends
 * AUTH (with the user when set) and SELECT as its first commands, and
 * comes back after a drop with a backoff (WP_AREDIS_BACKOFF_MIN_MS
 * doubling to WP_AREDIS_BACKOFF_MAX_MS).  Nothing here blocks, except
 * the name lookup of a Redis host given by name (hiredis 0.14 resolves
 * with getaddrinfo when it connects; an address or a socket path does
 * not).  A connect or a reply that takes longer than timeout_ms drops
 * the link: the commands waiting get their callback with no reply.
 *
 * At most WP_AREDIS_MAX_PENDING commands wait for replies; a command
 * beyond that, or while the link is down, is not sent (counted in
 * `dropped`, logged): the caller goes on as if Redis had not answered.
 *
 * Use: wp_aredis_cmd() from anywhere in the loop; each round, put
 * wp_aredis_fd() with wp_aredis_events() in the wait set when the events
 * are not 0, and afterwards call wp_aredis_handle() with what the wait
 * reported (0 when the fd was not waited for: then it only checks the
 * timers).  wp_aredis_io() does both without a wait, for loop rounds that
 * do not wait.  Callbacks run inside wp_aredis_handle()/wp_aredis_io()
 * only, and may send commands.
 */

#ifndef WP_AREDIS_H
#define WP_AREDIS_H

#include <stdint.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "log.h"
#include "redis_url.h"

#define WP_AREDIS_MAX_PENDING     1024
#define WP_AREDIS_BACKOFF_MIN_MS  100
#define WP_AREDIS_BACKOFF_MAX_MS  5000

/*
 * A reply, or r == NULL when none will come (link lost, timed out, the
 * context freed).  key is the string given to wp_aredis_cmd() (copied):
 * what the command was about, so the callback finds its object again
 * rather than trusting a pointer that may be stale by then.  r belongs
 * to hiredis.
 */
typedef void (*wp_aredis_reply_pt)(void *ctx, const char *key,
    redisReply *r);

typedef struct wp_aredis_cmd_s  wp_aredis_cmd_t;

typedef struct {
    redisAsyncContext      *ac;          /* NULL: down */
    const wp_redis_conf_t  *conf;
    int64_t                 timeout_ms;
    const wp_log_t         *log;
    int                     connected;   /* connect finished */
    int                     healthy;     /* a reply came on this link */
    int                     want_read;   /* what hiredis asked for */
    int                     want_write;
    int                     closing;     /* wp_aredis_free: no callbacks */
    int64_t                 connect_ms;  /* when this link was started */
    int64_t                 retry_ms;    /* no new link before then */
    int64_t                 backoff_ms;
    wp_aredis_cmd_t        *head;        /* waiting for replies, in order */
    wp_aredis_cmd_t        *tail;
    int                     pending;
    int64_t                 dropped;     /* commands not sent */
} wp_aredis_t;

/* Start connecting (never fails: a link that cannot be made is retried). */
void wp_aredis_init(wp_aredis_t *a, const wp_redis_conf_t *conf,
    int64_t timeout_ms, const wp_log_t *log);

/* Close the link; the callbacks of commands still waiting are not run. */
void wp_aredis_free(wp_aredis_t *a);

/*
 * Send a command (hiredis format); fn (may be NULL: fire and forget) gets
 * ctx, a copy of key and the reply later.  Returns 0, or -1 when it was
 * not sent (link down, too many waiting, out of memory): fn is not called.
 */
int wp_aredis_cmd(wp_aredis_t *a, wp_aredis_reply_pt fn, void *ctx,
    const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* Commands waiting for replies (the link's wait must go on). */
int wp_aredis_pending(const wp_aredis_t *a);

/* The link's fd, and the poll(2) events it waits for now (0: none). */
int wp_aredis_fd(const wp_aredis_t *a);
int wp_aredis_events(const wp_aredis_t *a);

/* Do what revents (poll(2) bits) allow, then the connect/reply timers. */
void wp_aredis_handle(wp_aredis_t *a, int revents);

/* The same after a poll of the fd that does not wait. */
void wp_aredis_io(wp_aredis_t *a);

#endif /* WP_AREDIS_H */
