/* webpush-sender: Redis Streams queue (see queue.h). */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "queue.h"


/*
 * A reply just read (NULL: none came).  No reply means the link is gone:
 * it is closed (the main loop reconnects); an error reply is kept in
 * q->err.
 */
static redisReply *
wp_queue_checked(wp_queue_t *q, redisReply *r)
{
    if (r == NULL) {
        snprintf(q->err, sizeof(q->err), "Redis: %s",
                 q->rc->errstr[0] ? q->rc->errstr : "connection lost");
        wp_queue_close(q);
        return NULL;
    }

    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(q->err, sizeof(q->err), "Redis: %.*s", (int) r->len,
                 r->str);
    }

    return r;
}


static redisReply *
wp_queue_vcmd(wp_queue_t *q, const char *fmt, va_list ap)
{
    if (q->rc == NULL) {
        snprintf(q->err, sizeof(q->err), "not connected to Redis");
        return NULL;
    }

    return wp_queue_checked(q, redisvCommand(q->rc, fmt, ap));
}


redisReply *
wp_queue_cmd(wp_queue_t *q, const char *fmt, ...)
{
    va_list      ap;
    redisReply  *r;

    va_start(ap, fmt);
    r = wp_queue_vcmd(q, fmt, ap);
    va_end(ap);

    return r;
}


int
wp_queue_int(wp_queue_t *q, redisReply *r)
{
    int  rc;

    if (r == NULL) {
        return -1;
    }

    rc = r->type == REDIS_REPLY_INTEGER ? (int) r->integer : -1;
    if (rc < 0 && r->type != REDIS_REPLY_ERROR) {
        snprintf(q->err, sizeof(q->err), "Redis: unexpected reply");
    }
    freeReplyObject(r);

    return rc;
}


redisReply *
wp_queue_reply(wp_queue_t *q)
{
    void  *r;

    if (redisGetReply(q->rc, &r) != REDIS_OK) {
        r = NULL;
    }

    return wp_queue_checked(q, r);
}


redisReply *
wp_queue_argv(wp_queue_t *q, int argc, const char **argv,
    const size_t *lens)
{
    if (q->rc == NULL) {
        snprintf(q->err, sizeof(q->err), "not connected to Redis");
        return NULL;
    }

    if (redisAppendCommandArgv(q->rc, argc, argv, lens) != REDIS_OK) {
        return wp_queue_checked(q, NULL);
    }

    return wp_queue_reply(q);
}


/* Run a command whose reply only tells success: 0, or -1 (q->err set). */
static int
wp_queue_exec(wp_queue_t *q, const char *fmt, ...)
{
    int          rc;
    va_list      ap;
    redisReply  *r;

    va_start(ap, fmt);
    r = wp_queue_vcmd(q, fmt, ap);
    va_end(ap);

    if (r == NULL) {
        return -1;
    }

    rc = r->type == REDIS_REPLY_ERROR ? -1 : 0;
    freeReplyObject(r);

    return rc;
}


int
wp_queue_connect(wp_queue_t *q)
{
    struct timeval   tv;
    redisReply      *r;

    wp_queue_close(q);

    tv.tv_sec = q->timeout_ms / 1000;
    tv.tv_usec = (q->timeout_ms % 1000) * 1000;

    if (q->conf->port == 0) {
        q->rc = redisConnectUnixWithTimeout(q->conf->host, tv);
    } else {
        q->rc = redisConnectWithTimeout(q->conf->host, q->conf->port, tv);
    }

    if (q->rc == NULL || q->rc->err) {
        snprintf(q->err, sizeof(q->err), "Redis %.255s:%d: %.200s", q->conf->host,
                 q->conf->port, q->rc ? q->rc->errstr : "out of memory");
        wp_queue_close(q);
        return -1;
    }

    /* Commands may block up to the longest XREADGROUP wait on top. */
    tv.tv_sec += 5;
    redisSetTimeout(q->rc, tv);

    if (q->conf->password[0]) {
        if (q->conf->user[0]) {
            r = wp_queue_cmd(q, "AUTH %s %s", q->conf->user,
                             q->conf->password);
        } else {
            r = wp_queue_cmd(q, "AUTH %s", q->conf->password);
        }

        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            snprintf(q->err, sizeof(q->err), "Redis AUTH failed");
            goto failed;
        }
        freeReplyObject(r);
    }

    if (q->conf->db) {
        r = wp_queue_cmd(q, "SELECT %d", q->conf->db);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            goto failed;
        }
        freeReplyObject(r);
    }

    /* From 0, not $: jobs enqueued before any sender ever ran count too
     * (acked entries are deleted, so 0 holds only unfinished work). */
    r = wp_queue_cmd(q, "XGROUP CREATE %sjobs %s 0 MKSTREAM", q->prefix,
                     WP_QUEUE_GROUP);
    if (r == NULL) {
        return -1;
    }

    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0) {
        goto failed;
    }

    freeReplyObject(r);

    return 0;

failed:

    if (r) {
        freeReplyObject(r);
    }

    wp_queue_close(q);

    return -1;
}


void
wp_queue_close(wp_queue_t *q)
{
    if (q->rc) {
        redisFree(q->rc);
        q->rc = NULL;
    }
}


/* Fill e from one stream entry [id, [field, value, ...]]. */
static int
wp_queue_entry(redisReply *item, wp_queue_entry_t *e)
{
    size_t       i;
    redisReply  *fields;

    memset(e, 0, sizeof(*e));

    if (item->type != REDIS_REPLY_ARRAY || item->elements != 2
        || item->element[0]->type != REDIS_REPLY_STRING
        || item->element[0]->len >= sizeof(e->id))
    {
        return -1;
    }

    memcpy(e->id, item->element[0]->str, item->element[0]->len);
    e->id[item->element[0]->len] = '\0';

    fields = item->element[1];
    if (fields->type != REDIS_REPLY_ARRAY) {
        return 0;           /* deleted entry: id only, job NULL */
    }

    for (i = 0; i + 1 < fields->elements; i += 2) {
        if (fields->element[i]->type == REDIS_REPLY_STRING
            && strcmp(fields->element[i]->str, "job") == 0
            && fields->element[i + 1]->type == REDIS_REPLY_STRING)
        {
            e->job_len = fields->element[i + 1]->len;
            e->job = malloc(e->job_len + 1);
            if (e->job == NULL) {
                return -1;
            }
            memcpy(e->job, fields->element[i + 1]->str, e->job_len);
            e->job[e->job_len] = '\0';
        }
    }

    return 0;
}


/*
 * The one entry of an XREADGROUP reply r (freed here) into *e, counted as
 * handed out `deliveries` times at least.  1, 0 when none (nil or an empty
 * list), -1 on an error.
 */
static int
wp_queue_read_one(wp_queue_t *q, redisReply *r, int64_t deliveries,
    wp_queue_entry_t *e)
{
    int          rc;
    redisReply  *list;

    if (r == NULL) {
        return -1;
    }

    if (r->type == REDIS_REPLY_NIL) {
        freeReplyObject(r);
        return 0;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1
        || r->element[0]->type != REDIS_REPLY_ARRAY
        || r->element[0]->elements != 2
        || r->element[0]->element[1]->type != REDIS_REPLY_ARRAY)
    {
        if (r->type != REDIS_REPLY_ERROR) {
            snprintf(q->err, sizeof(q->err), "XREADGROUP: unexpected reply");
        }
        freeReplyObject(r);
        return -1;
    }

    list = r->element[0]->element[1];
    if (list->elements == 0) {
        freeReplyObject(r);
        return 0;
    }

    rc = wp_queue_entry(list->element[0], e);
    freeReplyObject(r);

    if (rc != 0) {
        return -1;
    }

    e->deliveries = deliveries;

    return 1;
}


int
wp_queue_next(wp_queue_t *q, int64_t block_ms, int64_t claim_idle_ms,
    wp_queue_entry_t *e)
{
    int          rc;
    redisReply  *r;

    /* A dead consumer's jobs first: they are the oldest. */
    r = wp_queue_cmd(q, "XAUTOCLAIM %sjobs %s %s %lld 0-0 COUNT 1", q->prefix,
                     WP_QUEUE_GROUP, q->consumer, (long long) claim_idle_ms);
    if (r == NULL) {
        return -1;
    }

    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2
        && r->element[1]->type == REDIS_REPLY_ARRAY
        && r->element[1]->elements > 0)
    {
        rc = wp_queue_entry(r->element[1]->element[0], e);
        freeReplyObject(r);
        if (rc != 0) {
            return -1;
        }
        e->deliveries = 2;  /* at least: somebody had it before */
        return 1;
    }

    rc = r->type == REDIS_REPLY_ERROR ? -1 : 0;
    freeReplyObject(r);
    if (rc) {
        return -1;
    }

    r = wp_queue_cmd(q, "XREADGROUP GROUP %s %s COUNT 1 BLOCK %lld"
                     " STREAMS %sjobs >", WP_QUEUE_GROUP, q->consumer,
                     (long long) block_ms, q->prefix);

    return wp_queue_read_one(q, r, 1, e);
}


int
wp_queue_own_pending(wp_queue_t *q, wp_queue_entry_t *e)
{
    redisReply  *r;

    r = wp_queue_cmd(q, "XREADGROUP GROUP %s %s COUNT 1 STREAMS %sjobs 0",
                     WP_QUEUE_GROUP, q->consumer, q->prefix);

    return wp_queue_read_one(q, r, 2, e);
}


/*
 * The scripts below start alike: KEYS[1] = jobs, ARGV[1] = group.  e[1]
 * is the entry next in line for the group (after its last-delivered id),
 * ok/j its job decoded (ok false when it is no JSON).
 */
#define WP_QUEUE_NEXT_LUA                                                    \
    "local last "                                                           \
    "for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do "         \
    "  local f = {} "                                                       \
    "  for i = 1, #g, 2 do f[g[i]] = g[i + 1] end "                         \
    "  if f['name'] == ARGV[1] then last = f['last-delivered-id'] end "      \
    "end "                                                                  \
    "if not last then return false end "                                    \
    "local e = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 1) " \
    "if #e == 0 then return false end "                                     \
    "local job "                                                            \
    "for i = 1, #e[1][2], 2 do "                                            \
    "  if e[1][2][i] == 'job' then job = e[1][2][i + 1] end "               \
    "end "                                                                  \
    "local ok, j = pcall(cjson.decode, job or '') "

/*
 * ARGV = group, consumer, most user ids.  The entry next in line, handed
 * to this consumer only when its job is for one user or a few: decided
 * and taken in one step, so no other sender's entry or a broadcast is
 * ever taken.  An entry that is not a job (no job field, not JSON, no
 * "to" object) is taken too: the job's own checks dead-letter it at once,
 * and it no longer blocks the small jobs behind it.
 */
static const char  wp_queue_small_lua[] =
    WP_QUEUE_NEXT_LUA
    "if ok and type(j) == 'table' and type(j.to) == 'table' then "
    "  local to = j.to "
    "  if not (type(to.userId) == 'string' or (type(to.userIds) == 'table'"
    "          and #to.userIds <= tonumber(ARGV[3]))) then return false end "
    "end "
    "return redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', 1,"
    " 'STREAMS', KEYS[1], '>')";


int
wp_queue_next_small(wp_queue_t *q, int max_users, wp_queue_entry_t *e)
{
    redisReply  *r;

    r = wp_queue_cmd(q, "EVAL %s 1 %sjobs %s %s %d", wp_queue_small_lua,
                     q->prefix, WP_QUEUE_GROUP, q->consumer, max_users);

    return wp_queue_read_one(q, r, 1, e);
}


/* ARGV = group.  The entry next in line, when its job is for a topic:
 * {id, topic}; taken by nobody. */
static const char  wp_queue_next_topic_lua[] =
    WP_QUEUE_NEXT_LUA
    "if ok and type(j) == 'table' and type(j.to) == 'table'"
    "   and type(j.to.topic) == 'string' then "
    "  return {e[1][1], j.to.topic} end "
    "return false";


int
wp_queue_next_topic(wp_queue_t *q, char *id, size_t idcap, char *topic,
    size_t topiccap)
{
    int          rc;
    redisReply  *r;

    r = wp_queue_cmd(q, "EVAL %s 1 %sjobs %s", wp_queue_next_topic_lua,
                     q->prefix, WP_QUEUE_GROUP);
    if (r == NULL) {
        return -1;
    }

    rc = 0;

    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2
        && r->element[0]->type == REDIS_REPLY_STRING
        && r->element[1]->type == REDIS_REPLY_STRING
        && r->element[0]->len < idcap && r->element[1]->len < topiccap)
    {
        memcpy(id, r->element[0]->str, r->element[0]->len + 1);
        memcpy(topic, r->element[1]->str, r->element[1]->len + 1);
        rc = 1;
    }

    freeReplyObject(r);

    return rc;
}


/* ARGV = group, consumer, entry id: taken only while it is next in line. */
static const char  wp_queue_take_next_lua[] =
    WP_QUEUE_NEXT_LUA
    "if e[1][1] ~= ARGV[3] then return false end "
    "return redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', 1,"
    " 'STREAMS', KEYS[1], '>')";


int
wp_queue_take_next(wp_queue_t *q, const char *id, wp_queue_entry_t *e)
{
    redisReply  *r;

    r = wp_queue_cmd(q, "EVAL %s 1 %sjobs %s %s %s", wp_queue_take_next_lua,
                     q->prefix, WP_QUEUE_GROUP, q->consumer, id);

    return wp_queue_read_one(q, r, 1, e);
}


int
wp_queue_ack(wp_queue_t *q, const char *id)
{
    if (wp_queue_exec(q, "XACK %sjobs %s %s", q->prefix, WP_QUEUE_GROUP, id)
        != 0)
    {
        return -1;
    }

    return wp_queue_exec(q, "XDEL %sjobs %s", q->prefix, id);
}


int
wp_queue_dead(wp_queue_t *q, const wp_queue_entry_t *e, const char *reason)
{
    if (wp_queue_exec(q, "XADD %sdead * id %s job %b reason %s", q->prefix,
                      e->id, e->job ? e->job : "", e->job ? e->job_len : 0,
                      reason) != 0)
    {
        return -1;
    }

    return wp_queue_ack(q, e->id);
}


int
wp_queue_heartbeat(wp_queue_t *q, int64_t started, int64_t jobs_done)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);

    if (wp_queue_exec(q, "HSET %ssender:%s pid %ld started %lld seen %lld"
                      " jobs %lld", q->prefix, q->consumer, (long) getpid(),
                      (long long) started, (long long) tv.tv_sec,
                      (long long) jobs_done) != 0
        || wp_queue_exec(q, "EXPIRE %ssender:%s %d", q->prefix, q->consumer,
                         WP_QUEUE_HEARTBEAT_S) != 0)
    {
        return -1;
    }

    /* The health route reads live senders from this set by score. */
    return wp_queue_exec(q, "ZADD %ssenders %lld %s", q->prefix,
                         (long long) tv.tv_sec, q->consumer);
}


void
wp_queue_goodbye(wp_queue_t *q)
{
    (void) wp_queue_exec(q, "DEL %ssender:%s", q->prefix, q->consumer);
    (void) wp_queue_exec(q, "ZREM %ssenders %s", q->prefix, q->consumer);
}


/*
 * KEYS[1] = jobs; ARGV = group, consumer, entry id.  1 with the entry's
 * idle time back to 0 when it is pending at this consumer, else 0.
 */
static const char  wp_queue_renew_lua[] =
    "local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1) "
    "if #p == 0 or p[1][2] ~= ARGV[2] then return 0 end "
    "redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID') "
    "return 1";


int
wp_queue_renew(wp_queue_t *q, const char *id)
{
    return wp_queue_int(q, wp_queue_cmd(q, "EVAL %s 1 %sjobs %s %s %s",
                                        wp_queue_renew_lua, q->prefix,
                                        WP_QUEUE_GROUP, q->consumer, id));
}


int
wp_queue_handback(wp_queue_t *q, const char *id, int64_t idle_ms)
{
    redisReply  *r;

    /* Still ours, but idle long enough for any XAUTOCLAIM to take it. */
    r = wp_queue_cmd(q, "XCLAIM %sjobs %s %s 0 %s IDLE %lld JUSTID",
                     q->prefix, WP_QUEUE_GROUP, q->consumer, id,
                     (long long) idle_ms);
    if (r == NULL) {
        return -1;
    }

    freeReplyObject(r);

    return 0;
}


void
wp_queue_entry_free(wp_queue_entry_t *e)
{
    free(e->job);
    e->job = NULL;
}


int
wp_queue_schedule(wp_queue_t *q, const char *job, size_t len, int64_t due_ms)
{
    return wp_queue_exec(q, "ZADD %sscheduled %lld %b", q->prefix,
                         (long long) due_ms, job, len);
}


/* Due members move one by one inside one script: atomic per call. */
static const char  wp_queue_promote_lua[] =
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1],"
    " 'LIMIT', 0, 100) "
    "for _, job in ipairs(due) do "
    "  redis.call('XADD', KEYS[2], '*', 'job', job) "
    "  redis.call('ZREM', KEYS[1], job) "
    "end "
    "return #due";


int
wp_queue_promote(wp_queue_t *q, int64_t now_ms)
{
    int          n;
    char         zkey[256], skey[256];
    redisReply  *r;

    snprintf(zkey, sizeof(zkey), "%sscheduled", q->prefix);
    snprintf(skey, sizeof(skey), "%sjobs", q->prefix);

    r = wp_queue_cmd(q, "EVAL %s 2 %s %s %lld", wp_queue_promote_lua, zkey,
                     skey, (long long) now_ms);
    if (r == NULL) {
        return -1;
    }

    n = r->type == REDIS_REPLY_INTEGER ? (int) r->integer : -1;
    freeReplyObject(r);

    return n;
}
