/* webpush-sender: one big job's shards, shared by every sender (shard.h). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shard.h"

/*
 * KEYS: shard hash, shard set, progress hash, stream.  ARGV: entry,
 * group, job, started, keep_s, first after, then the bounds.
 */
static const char  wp_shard_create_lua[] =
    "redis.call('XACK', KEYS[4], ARGV[2], ARGV[1]) "
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end "
    "local n = #ARGV - 5 "
    "redis.call('HSET', KEYS[1], 'n', n, 'done', 0) "
    "for k = 0, n - 1 do "
    "  local lo = ARGV[6 + k] "
    "  local hi = '' "
    "  if k < n - 1 then hi = ARGV[7 + k] end "
    "  redis.call('HSET', KEYS[1], 'lo:' .. k, lo, 'hi:' .. k, hi,"
    "             'after:' .. k, lo) "
    "  redis.call('ZADD', KEYS[2], 0, ARGV[1] .. '/' .. k) "
    "end "
    "redis.call('HSETNX', KEYS[3], 'job', ARGV[3]) "
    "redis.call('HSETNX', KEYS[3], 'started', ARGV[4]) "
    "redis.call('HSET', KEYS[3], 'shards', n) "
    "redis.call('EXPIRE', KEYS[1], ARGV[5]) "
    "redis.call('EXPIRE', KEYS[3], ARGV[5]) "
    "return 1";

/*
 * KEYS: shard set, shard hash, progress hash.  ARGV: member, k, now,
 * lease end, consumer.  Takes the shard when it is still free (or its
 * lease ran out); {hi, after, n, job, started} or 0.
 */
static const char  wp_shard_take_lua[] =
    "local s = redis.call('ZSCORE', KEYS[1], ARGV[1]) "
    "if not s or tonumber(s) > tonumber(ARGV[3]) then return 0 end "
    "local job = redis.call('HGET', KEYS[3], 'job') "
    "if redis.call('EXISTS', KEYS[2]) == 0 or not job then "
    "  redis.call('ZREM', KEYS[1], ARGV[1]) return 0 end "
    "redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1]) "
    "redis.call('HSET', KEYS[2], 'owner:' .. ARGV[2], ARGV[5]) "
    "return {redis.call('HGET', KEYS[2], 'hi:' .. ARGV[2]) or '',"
    " redis.call('HGET', KEYS[2], 'after:' .. ARGV[2]) or '',"
    " redis.call('HGET', KEYS[2], 'n') or '0', job,"
    " redis.call('HGET', KEYS[3], 'started') or '0'}";

/* KEYS: shard set, shard hash.  ARGV: member, k, lease end, consumer. */
static const char  wp_shard_renew_lua[] =
    "if redis.call('HGET', KEYS[2], 'owner:' .. ARGV[2]) ~= ARGV[4]"
    " or not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end "
    "redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1]) "
    "return 1";

/* KEYS: shard set, shard hash.  ARGV: member, k, consumer. */
static const char  wp_shard_finish_lua[] =
    "if redis.call('HGET', KEYS[2], 'owner:' .. ARGV[2]) ~= ARGV[3]"
    " or not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end "
    "redis.call('ZREM', KEYS[1], ARGV[1]) "
    "redis.call('HSET', KEYS[2], 'fin:' .. ARGV[2], 1) "
    "local d = redis.call('HINCRBY', KEYS[2], 'done', 1) "
    "if d >= tonumber(redis.call('HGET', KEYS[2], 'n')) then return 2 end "
    "return 1";


int
wp_shard_create(wp_queue_t *q, const char *entry, const char *job,
    size_t job_len, int64_t started_ms, int64_t keep_s, const char *after,
    const char *const *bounds, int nb)
{
    int           i, argc, rc;
    char          keys[4][256], st[24], ks[24], nkeys[4];
    size_t       *lens;
    const char  **argv;

    argc = 3 + 4 + 6 + nb;
    argv = calloc(argc, sizeof(char *));
    lens = calloc(argc, sizeof(size_t));
    if (argv == NULL || lens == NULL) {
        free(argv);
        free(lens);
        snprintf(q->err, sizeof(q->err), "out of memory");
        return -1;
    }

    snprintf(keys[0], sizeof(keys[0]), "%sshard:%s", q->prefix, entry);
    snprintf(keys[1], sizeof(keys[1]), "%sshards", q->prefix);
    snprintf(keys[2], sizeof(keys[2]), "%sprogress:%s", q->prefix, entry);
    snprintf(keys[3], sizeof(keys[3]), "%sjobs", q->prefix);
    snprintf(st, sizeof(st), "%lld", (long long) started_ms);
    snprintf(ks, sizeof(ks), "%lld", (long long) keep_s);
    snprintf(nkeys, sizeof(nkeys), "4");

    argv[0] = "EVAL";  argv[1] = wp_shard_create_lua;  argv[2] = nkeys;
    argv[3] = keys[0];  argv[4] = keys[1];  argv[5] = keys[2];
    argv[6] = keys[3];
    argv[7] = entry;  argv[8] = WP_QUEUE_GROUP;  argv[9] = job;
    argv[10] = st;  argv[11] = ks;  argv[12] = after;

    for (i = 0; i < nb; i++) {
        argv[13 + i] = bounds[i];
    }

    for (i = 0; i < argc; i++) {
        lens[i] = strlen(argv[i]);
    }
    lens[9] = job_len;

    rc = wp_queue_int(q, wp_queue_argv(q, argc, argv, lens));

    free(argv);
    free(lens);

    return rc;
}


int
wp_shard_take(wp_queue_t *q, int64_t now_ms, int64_t lease_ms,
    wp_shard_t *sh)
{
    int          rc;
    char        *slash;
    redisReply  *r, *e;

    memset(sh, 0, sizeof(*sh));

    r = wp_queue_cmd(q, "ZRANGEBYSCORE %sshards -inf %lld LIMIT 0 1",
                     q->prefix, (long long) now_ms);
    if (r == NULL) {
        return -1;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 1
        || r->element[0]->type != REDIS_REPLY_STRING
        || r->element[0]->len >= sizeof(sh->member))
    {
        rc = r->type == REDIS_REPLY_ARRAY ? 0 : -1;
        freeReplyObject(r);
        return rc;
    }

    memcpy(sh->member, r->element[0]->str, r->element[0]->len);
    freeReplyObject(r);

    slash = strrchr(sh->member, '/');
    if (slash == NULL || (size_t) (slash - sh->member) >= sizeof(sh->entry))
    {
        (void) wp_queue_int(q, wp_queue_cmd(q, "ZREM %sshards %s",
                                            q->prefix, sh->member));
        return 0;
    }

    memcpy(sh->entry, sh->member, slash - sh->member);
    sh->k = atoi(slash + 1);

    r = wp_queue_cmd(q, "EVAL %s 3 %sshards %sshard:%s %sprogress:%s"
                     " %s %d %lld %lld %s", wp_shard_take_lua,
                     q->prefix, q->prefix, sh->entry, q->prefix, sh->entry,
                     sh->member, sh->k, (long long) now_ms,
                     (long long) (now_ms + lease_ms), q->consumer);
    if (r == NULL) {
        return -1;
    }

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 5) {
        rc = r->type == REDIS_REPLY_INTEGER ? 0 : -1;
        freeReplyObject(r);
        return rc;
    }

    for (rc = 0; rc < 5; rc++) {
        e = r->element[rc];
        if (e->type != REDIS_REPLY_STRING
            || (rc < 2 && e->len >= WP_SHARD_ID_MAX))
        {
            freeReplyObject(r);
            snprintf(q->err, sizeof(q->err), "shard %s: bad state",
                     sh->member);
            return -1;
        }
    }

    memcpy(sh->hi, r->element[0]->str, r->element[0]->len);
    memcpy(sh->after, r->element[1]->str, r->element[1]->len);
    sh->n = atoi(r->element[2]->str);
    sh->started_ms = strtoll(r->element[4]->str, NULL, 10);
    sh->job_len = r->element[3]->len;
    sh->job = malloc(sh->job_len + 1);
    if (sh->job != NULL) {
        memcpy(sh->job, r->element[3]->str, sh->job_len);
        sh->job[sh->job_len] = '\0';
    }

    freeReplyObject(r);

    if (sh->job == NULL) {
        snprintf(q->err, sizeof(q->err), "out of memory");
        return -1;
    }

    return 1;
}


int
wp_shard_renew(wp_queue_t *q, const wp_shard_t *sh, int64_t now_ms,
    int64_t lease_ms)
{
    return wp_queue_int(q, wp_queue_cmd(q, "EVAL %s 2 %sshards %sshard:%s"
                                        " %s %d %lld %s", wp_shard_renew_lua,
                                        q->prefix, q->prefix, sh->entry,
                                        sh->member, sh->k,
                                        (long long) (now_ms + lease_ms),
                                        q->consumer));
}


int
wp_shard_finish(wp_queue_t *q, const wp_shard_t *sh)
{
    return wp_queue_int(q, wp_queue_cmd(q, "EVAL %s 2 %sshards %sshard:%s"
                                        " %s %d %s", wp_shard_finish_lua,
                                        q->prefix, q->prefix, sh->entry,
                                        sh->member, sh->k, q->consumer));
}


void
wp_shard_free(wp_shard_t *sh)
{
    free(sh->job);
    sh->job = NULL;
}


int
wp_shard_release(wp_queue_t *q, const wp_shard_t *sh)
{
    /* a lease that ended at 0: free for the next sender that looks */
    return wp_shard_renew(q, sh, 0, 0);
}
