/* webpush-sender: a job's shared state in Redis (see jobstate.h). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobstate.h"


int
wp_retry_member(char *out, size_t cap, const char *entry, int attempt,
    const char *sub_id)
{
    int  n;

    n = snprintf(out, cap, "%s|%d|%s", entry, attempt, sub_id);

    return (n < 0 || (size_t) n >= cap) ? -1 : 0;
}


int
wp_retry_parse(const char *member, wp_retry_item_t *it)
{
    char        *end;
    const char  *p, *q;
    long         a;

    memset(it, 0, sizeof(*it));

    p = strchr(member, '|');
    if (p == NULL || (size_t) (p - member) >= sizeof(it->entry)) {
        return -1;
    }

    a = strtol(p + 1, &end, 10);
    if (end == p + 1 || *end != '|' || a < 0 || a > 1000) {
        return -1;
    }

    q = end + 1;
    if (*q == '\0' || strlen(q) >= sizeof(it->sub_id)
        || strlen(member) >= sizeof(it->member))
    {
        return -1;
    }

    memcpy(it->entry, member, p - member);
    it->attempt = (int) a;
    strcpy(it->sub_id, q);
    strcpy(it->member, member);

    return 0;
}


/* Queue HINCRBY key field n for each non-zero counter; returns how many. */
static int
wp_js_append_delta(wp_queue_t *q, const char *key, const wp_jobdelta_t *d)
{
    int  i, n;
    struct {
        const char  *name;
        int64_t      v;
    } f[8];

    f[0].name = "total";    f[0].v = d->total;
    f[1].name = "sent";     f[1].v = d->sent;
    f[2].name = "failed";   f[2].v = d->failed;
    f[3].name = "disabled"; f[3].v = d->disabled;
    f[4].name = "retried";  f[4].v = d->retried;
    f[5].name = "deferred"; f[5].v = d->deferred;
    f[6].name = "expired";  f[6].v = d->expired;
    f[7].name = "pending";  f[7].v = d->pending;

    n = 0;
    for (i = 0; i < 8; i++) {
        if (f[i].v) {
            redisAppendCommand(q->rc, "HINCRBY %s %s %lld", key, f[i].name,
                               (long long) f[i].v);
            n++;
        }
    }

    return n;
}


int
wp_jobstate_commit_page(wp_queue_t *q, const char *entry, const char *jobid,
    const char *job, size_t job_len, int64_t started_ms, int64_t keep_s,
    int shard, const char *after, const wp_jobdelta_t *d,
    const wp_retry_add_t *adds, int nadds, const wp_dead_add_t *deads,
    int ndeads)
{
    int          i, n, rc;
    char         key[256], att[16];
    redisReply  *r;

    if (q->rc == NULL) {
        snprintf(q->err, sizeof(q->err), "not connected to Redis");
        return -1;
    }

    snprintf(key, sizeof(key), "%sprogress:%s", q->prefix, entry);

    n = 0;
    redisAppendCommand(q->rc, "MULTI");
    n++;
    redisAppendCommand(q->rc, "HSETNX %s job %b", key, job, job_len);
    redisAppendCommand(q->rc, "HSETNX %s started %lld", key,
                       (long long) started_ms);
    n += 2;

    if (shard < 0) {
        redisAppendCommand(q->rc, "HSET %s after %s", key, after);
        n++;
    } else {
        /* the shard's own checkpoint and progress (shard.h) */
        redisAppendCommand(q->rc, "HSET %sshard:%s after:%d %s", q->prefix,
                           entry, shard, after);
        redisAppendCommand(q->rc, "HINCRBY %sshard:%s total:%d %lld",
                           q->prefix, entry, shard, (long long) d->total);
        redisAppendCommand(q->rc, "HINCRBY %sshard:%s sent:%d %lld",
                           q->prefix, entry, shard, (long long) d->sent);
        n += 3;
    }
    n += wp_js_append_delta(q, key, d);

    for (i = 0; i < nadds; i++) {
        redisAppendCommand(q->rc, "ZADD %sretry %lld %s", q->prefix,
                           (long long) adds[i].due_ms, adds[i].member);
        n++;
    }

    for (i = 0; i < ndeads; i++) {
        snprintf(att, sizeof(att), "%d", deads[i].attempts);
        redisAppendCommand(q->rc, "XADD %sdead * kind delivery jobId %s"
                           " entry %s subscription %s attempts %s reason %s",
                           q->prefix, jobid, entry, deads[i].sub_id, att,
                           deads[i].reason);
        n++;
    }

    redisAppendCommand(q->rc, "EXPIRE %s %lld", key, (long long) keep_s);
    redisAppendCommand(q->rc, "EXEC");
    n += 2;

    rc = 0;
    for (i = 0; i < n; i++) {
        r = wp_queue_reply(q);
        if (r == NULL) {
            return -1;
        }

        /* EXEC answers nil or an error when the transaction failed. */
        if (r->type == REDIS_REPLY_ERROR
            || (i == n - 1 && r->type != REDIS_REPLY_ARRAY))
        {
            rc = -1;
        }
        freeReplyObject(r);
    }

    return rc;
}


static const char  wp_js_done_lua[] =
    "redis.call('HSETNX', KEYS[1], 'job', ARGV[3]) "
    "redis.call('HSETNX', KEYS[1], 'started', ARGV[4]) "
    "if ARGV[5] == '1' then redis.call('HSET', KEYS[1], 'expiredJob', '1')"
    " end "
    "redis.call('HSET', KEYS[1], 'done', '1') "
    "redis.call('EXPIRE', KEYS[1], ARGV[6]) "
    "redis.call('XACK', KEYS[2], ARGV[2], ARGV[1]) "
    "redis.call('XDEL', KEYS[2], ARGV[1]) "
    "local p = tonumber(redis.call('HGET', KEYS[1], 'pending') or '0') "
    "if p <= 0 then redis.call('SADD', KEYS[3], ARGV[1]) return 1 end "
    "return 0";


int
wp_jobstate_fanout_done(wp_queue_t *q, const char *entry, const char *job,
    size_t job_len, int64_t started_ms, int expired_job, int64_t keep_s)
{
    int          rc;
    char         k1[256], k2[256], k3[256], st[24], ks[24];
    const char  *argv[12];
    size_t       lens[12];

    snprintf(k1, sizeof(k1), "%sprogress:%s", q->prefix, entry);
    snprintf(k2, sizeof(k2), "%sjobs", q->prefix);
    snprintf(k3, sizeof(k3), "%sfinish", q->prefix);
    snprintf(st, sizeof(st), "%lld", (long long) started_ms);
    snprintf(ks, sizeof(ks), "%lld", (long long) keep_s);

    argv[0] = "EVAL";  argv[1] = wp_js_done_lua;  argv[2] = "3";
    argv[3] = k1;  argv[4] = k2;  argv[5] = k3;
    argv[6] = entry;  argv[7] = WP_QUEUE_GROUP;  argv[8] = job;
    argv[9] = st;  argv[10] = expired_job ? "1" : "0";  argv[11] = ks;

    for (rc = 0; rc < 12; rc++) {
        lens[rc] = strlen(argv[rc]);
    }
    lens[8] = job_len;

    return wp_queue_int(q, wp_queue_argv(q, 12, argv, lens));
}


static const char  wp_js_lease_lua[] =
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1],"
    " 'LIMIT', 0, tonumber(ARGV[3])) "
    "for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], m) end "
    "return due";


int
wp_jobstate_lease(wp_queue_t *q, int64_t now_ms, int64_t lease_ms,
    wp_retry_item_t *items, int max)
{
    int          n;
    size_t       i;
    char         key[256];
    redisReply  *r;

    if (q->rc == NULL) {
        snprintf(q->err, sizeof(q->err), "not connected to Redis");
        return -1;
    }

    snprintf(key, sizeof(key), "%sretry", q->prefix);

    r = redisCommand(q->rc, "EVAL %s 1 %s %lld %lld %d", wp_js_lease_lua,
                     key, (long long) now_ms, (long long) (now_ms + lease_ms),
                     max);
    if (r == NULL) {
        snprintf(q->err, sizeof(q->err), "Redis: %s", q->rc->errstr);
        wp_queue_close(q);
        return -1;
    }

    if (r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }

    n = 0;
    for (i = 0; i < r->elements && n < max; i++) {
        if (r->element[i]->type == REDIS_REPLY_STRING
            && wp_retry_parse(r->element[i]->str, &items[n]) == 0)
        {
            n++;
        }
    }

    freeReplyObject(r);

    return n;
}


/* A job's state gone (expired): the item is closed with no counters. */
static const char  wp_js_resolve_lua[] =
    "if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return 2 end "
    "local live = redis.call('EXISTS', KEYS[1]) == 1 "
    "if live and ARGV[2] ~= '' then"
    " redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2]) end "
    "if live then for i = 9, #ARGV, 2 do"
    " redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end end "
    "if ARGV[5] ~= '' then redis.call('XADD', KEYS[3], '*', 'kind',"
    " 'delivery', 'jobId', ARGV[6], 'entry', ARGV[4], 'subscription',"
    " ARGV[7], 'attempts', ARGV[8], 'reason', ARGV[5]) end "
    "if live and ARGV[2] == '' then"
    " local p = redis.call('HINCRBY', KEYS[1], 'pending', -1)"
    " if p <= 0 and redis.call('HGET', KEYS[1], 'done') == '1' then"
    "  redis.call('SADD', KEYS[4], ARGV[4]) return 1 end "
    "end "
    "return 0";


int
wp_jobstate_resolve(wp_queue_t *q, const wp_retry_item_t *it,
    const char *jobid, const char *new_member, int64_t new_due_ms,
    const wp_jobdelta_t *d, const wp_dead_add_t *dead)
{
    int          argc, i;
    char         k[4][256], due[24], att[16], v[7][24];
    const char  *argv[32];
    size_t       lens[32];
    const char  *names[7] = { "total", "sent", "failed", "disabled",
                              "retried", "deferred", "expired" };
    int64_t      vals[7];

    snprintf(k[0], sizeof(k[0]), "%sprogress:%s", q->prefix, it->entry);
    snprintf(k[1], sizeof(k[1]), "%sretry", q->prefix);
    snprintf(k[2], sizeof(k[2]), "%sdead", q->prefix);
    snprintf(k[3], sizeof(k[3]), "%sfinish", q->prefix);
    snprintf(due, sizeof(due), "%lld", (long long) new_due_ms);
    snprintf(att, sizeof(att), "%d", dead ? dead->attempts : 0);

    argv[0] = "EVAL";  argv[1] = wp_js_resolve_lua;  argv[2] = "4";
    argv[3] = k[0];  argv[4] = k[1];  argv[5] = k[2];  argv[6] = k[3];
    argv[7] = it->member;
    argv[8] = new_member ? new_member : "";
    argv[9] = due;
    argv[10] = it->entry;
    argv[11] = dead ? dead->reason : "";
    argv[12] = jobid;
    argv[13] = it->sub_id;
    argv[14] = att;
    argc = 15;

    vals[0] = d->total;  vals[1] = d->sent;  vals[2] = d->failed;
    vals[3] = d->disabled;  vals[4] = d->retried;  vals[5] = d->deferred;
    vals[6] = d->expired;

    for (i = 0; i < 7; i++) {
        if (vals[i]) {
            snprintf(v[i], sizeof(v[i]), "%lld", (long long) vals[i]);
            argv[argc++] = names[i];
            argv[argc++] = v[i];
        }
    }

    for (i = 0; i < argc; i++) {
        lens[i] = strlen(argv[i]);
    }

    return wp_queue_int(q, wp_queue_argv(q, argc, argv, lens));
}


int
wp_jobstate_get(wp_queue_t *q, const char *entry, wp_jobstate_t *st)
{
    size_t        i;
    int64_t      *f;
    redisReply   *r, *k, *v;
    const char   *argv[2];
    size_t        lens[2];
    char          key[256];

    memset(st, 0, sizeof(*st));

    snprintf(key, sizeof(key), "%sprogress:%s", q->prefix, entry);
    argv[0] = "HGETALL";  argv[1] = key;
    lens[0] = 7;  lens[1] = strlen(key);

    r = wp_queue_argv(q, 2, argv, lens);
    if (r == NULL) {
        return -1;
    }

    if (r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }

    for (i = 0; i + 1 < r->elements; i += 2) {
        k = r->element[i];
        v = r->element[i + 1];

        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
            continue;
        }

        if (strcmp(k->str, "job") == 0) {
            st->job = malloc(v->len + 1);
            if (st->job == NULL) {
                freeReplyObject(r);
                return -1;
            }
            memcpy(st->job, v->str, v->len);
            st->job[v->len] = '\0';
            st->job_len = v->len;
            continue;
        }

        if (strcmp(k->str, "after") == 0) {
            snprintf(st->after, sizeof(st->after), "%s", v->str);
            continue;
        }

        if (strcmp(k->str, "expiredJob") == 0) {
            st->expired_job = v->str[0] == '1';
            continue;
        }

        f = strcmp(k->str, "total") == 0 ? &st->c.total
            : strcmp(k->str, "sent") == 0 ? &st->c.sent
            : strcmp(k->str, "failed") == 0 ? &st->c.failed
            : strcmp(k->str, "disabled") == 0 ? &st->c.disabled
            : strcmp(k->str, "retried") == 0 ? &st->c.retried
            : strcmp(k->str, "deferred") == 0 ? &st->c.deferred
            : strcmp(k->str, "expired") == 0 ? &st->c.expired
            : strcmp(k->str, "pending") == 0 ? &st->c.pending
            : strcmp(k->str, "started") == 0 ? &st->started_ms
            : NULL;

        if (f) {
            *f = strtoll(v->str, NULL, 10);
        }
    }

    freeReplyObject(r);

    return 0;
}


void
wp_jobstate_free(wp_jobstate_t *st)
{
    free(st->job);
    st->job = NULL;
}


int
wp_jobstate_due(wp_queue_t *q, char (*entries)[64], int max)
{
    int          n;
    size_t       i;
    redisReply  *r;

    if (q->rc == NULL) {
        return -1;
    }

    r = redisCommand(q->rc, "SRANDMEMBER %sfinish %d", q->prefix, max);
    if (r == NULL) {
        snprintf(q->err, sizeof(q->err), "Redis: %s", q->rc->errstr);
        wp_queue_close(q);
        return -1;
    }

    n = 0;
    if (r->type == REDIS_REPLY_ARRAY) {
        for (i = 0; i < r->elements && n < max; i++) {
            if (r->element[i]->type == REDIS_REPLY_STRING
                && r->element[i]->len < 64)
            {
                snprintf(entries[n++], 64, "%s", r->element[i]->str);
            }
        }
    }

    freeReplyObject(r);

    return n;
}


int
wp_jobstate_forget(wp_queue_t *q, const char *entry)
{
    int          i, rc;
    redisReply  *r;

    if (q->rc == NULL) {
        return -1;
    }

    redisAppendCommand(q->rc, "MULTI");
    redisAppendCommand(q->rc, "SREM %sfinish %s", q->prefix, entry);
    redisAppendCommand(q->rc, "DEL %sprogress:%s", q->prefix, entry);
    redisAppendCommand(q->rc, "DEL %sshard:%s", q->prefix, entry);
    redisAppendCommand(q->rc, "EXEC");

    rc = 0;
    for (i = 0; i < 5; i++) {
        r = wp_queue_reply(q);
        if (r == NULL) {
            return -1;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            rc = -1;
        }
        freeReplyObject(r);
    }

    return rc;
}
