/*
 * webpush-cli cleanup: what the seed's weekly `push-cli cleanup` does, and
 * more; safe to run from cron while senders and the module run.
 *
 *   - "PushSubscription" rows disabled (404/410 from the push service) and
 *     not seen for --subscription-days (their topic rows go with them);
 *     "lastSeenAt" is the clock, so no schema change was needed: a
 *     subscription the browser renewed recently is kept however it ended;
 *   - and rows flagged as made with another VAPID key
 *     ("PushSubscriptionKeyMismatch") that long ago and not seen since;
 *   - "NotificationLog" and "PushError" rows older than --log-days;
 *   - stream entries of <prefix>jobs older than --days that every consumer
 *     group has read and acknowledged (XTRIM MINID, computed inside one
 *     script from the groups' last-delivered and oldest pending ids, so a
 *     waiting or pending entry is never cut).  The sender deletes what it
 *     acks, so this only catches leftovers.
 *
 * Rows go in batches of --batch, each its own short transaction, and rows
 * another transaction holds are skipped (SKIP LOCKED) for the next run:
 * no long lock ever stalls a sender or a subscribe.
 *
 * Exit codes: 0 done (or, with --dry-run, counted); 2 bad command line; 3
 * environment; 4 PostgreSQL or Redis unreachable (what was deleted before
 * stays deleted; nothing else changed).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "db.h"

#define CMD              "webpush-cli cleanup"
#define CLEAN_DAYS       30
#define CLEAN_BATCH      1000
#define CLEAN_MAX_DAYS   36500

typedef struct {
    long long  sub_days, log_days, stream_days, batch;
    int        dry_run;
} clean_args_t;

typedef struct {
    const char  *what;
    const char  *count_sql;         /* $1 = days */
    const char  *delete_sql;        /* $1 = days, $2 = batch */
    int          sub;               /* uses sub_days, else log_days */
} clean_table_t;

/* flagged (sql/003) and the subscription not seen, both over $1 days */
#define CLEAN_FLAGGED                                                        \
    " FROM \"PushSubscription\" s JOIN \"PushSubscriptionKeyMismatch\" k"  \
    " ON k.\"subscriptionId\" = s.\"id\""                                   \
    " WHERE k.\"createdAt\" < LOCALTIMESTAMP - make_interval(days => $1)"   \
    " AND s.\"lastSeenAt\" < LOCALTIMESTAMP - make_interval(days => $1)"

static const clean_table_t  clean_tables[] = {
    { "disabled subscriptions",
      "SELECT count(*) FROM \"PushSubscription\" WHERE NOT \"enabled\""
      " AND \"lastSeenAt\" < LOCALTIMESTAMP - make_interval(days => $1)",
      "DELETE FROM \"PushSubscription\" WHERE \"id\" IN (SELECT \"id\""
      " FROM \"PushSubscription\" WHERE NOT \"enabled\" AND \"lastSeenAt\""
      " < LOCALTIMESTAMP - make_interval(days => $1) LIMIT $2"
      " FOR UPDATE SKIP LOCKED) AND NOT \"enabled\"",
      1 },
    /* flagged by a sender (sql/003) and not posted again since: the
     * browser never subscribed with our key, nothing reaches it */
    { "subscriptions made with another VAPID key",
      "SELECT count(*)" CLEAN_FLAGGED,
      "DELETE FROM \"PushSubscription\" WHERE \"id\" IN (SELECT s.\"id\""
      CLEAN_FLAGGED " LIMIT $2 FOR UPDATE OF s SKIP LOCKED)"
      " AND \"lastSeenAt\" < LOCALTIMESTAMP - make_interval(days => $1)",
      1 },
    { "NotificationLog rows",
      "SELECT count(*) FROM \"NotificationLog\" WHERE \"createdAt\""
      " < LOCALTIMESTAMP - make_interval(days => $1)",
      "DELETE FROM \"NotificationLog\" WHERE \"id\" IN (SELECT \"id\""
      " FROM \"NotificationLog\" WHERE \"createdAt\" < LOCALTIMESTAMP"
      " - make_interval(days => $1) LIMIT $2 FOR UPDATE SKIP LOCKED)",
      0 },
    { "PushError rows",
      "SELECT count(*) FROM \"PushError\" WHERE \"createdAt\""
      " < LOCALTIMESTAMP - make_interval(days => $1)",
      "DELETE FROM \"PushError\" WHERE \"id\" IN (SELECT \"id\""
      " FROM \"PushError\" WHERE \"createdAt\" < LOCALTIMESTAMP"
      " - make_interval(days => $1) LIMIT $2 FOR UPDATE SKIP LOCKED)",
      0 },
    { NULL, NULL, NULL, 0 }
};

/*
 * KEYS[1] = jobs stream; ARGV[1] = cutoff ms, ARGV[2] = "1" to trim.
 * Returns {MINID, entries below it}: entries older than the cutoff that
 * are at or before every group's last-delivered id and before its oldest
 * pending one.  A stream nobody reads (no group) keeps everything.
 */
static const char  clean_trim_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return {'', 0} end "
    "local function key(id) local ms, seq = string.match(id,"
    " '^(%d+)-(%d+)$') return tonumber(ms), tonumber(seq) end "
    "local function lt(a, b) local am, as = key(a) local bm, bs = key(b)"
    " return am < bm or (am == bm and as < bs) end "
    "local groups = redis.call('XINFO', 'GROUPS', KEYS[1]) "
    "if #groups == 0 then return {'', 0} end "
    "local minid = ARGV[1] .. '-0' "
    "for _, g in ipairs(groups) do "
    "  local f = {} "
    "  for i = 1, #g, 2 do f[g[i]] = g[i + 1] end "
    "  local ms, seq = string.match(f['last-delivered-id'],"
    " '^(%d+)-(%d+)$') "
    "  local after = ms .. '-' .. string.format('%d', tonumber(seq) + 1) "
    "  if lt(after, minid) then minid = after end "
    "  local p = redis.call('XPENDING', KEYS[1], f['name']) "
    "  if p[1] > 0 and lt(p[2], minid) then minid = p[2] end "
    "end "
    "local n = #redis.call('XRANGE', KEYS[1], '-', '(' .. minid,"
    " 'COUNT', 100000) "
    "if ARGV[2] == '1' and n > 0 then"
    "  n = redis.call('XTRIM', KEYS[1], 'MINID', minid) end "
    "return {minid, n}";


static int
clean_parse_args(int argc, char **argv, clean_args_t *a)
{
    int         i;
    long long   days;
    long long  *dst, max;

    memset(a, 0, sizeof(clean_args_t));
    a->sub_days = a->log_days = a->stream_days = -1;
    a->batch = CLEAN_BATCH;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0) {
            a->dry_run = 1;
            continue;
        }

        max = CLEAN_MAX_DAYS;

        if (strcmp(argv[i], "--days") == 0) {
            dst = &a->stream_days;
        } else if (strcmp(argv[i], "--subscription-days") == 0) {
            dst = &a->sub_days;
        } else if (strcmp(argv[i], "--log-days") == 0) {
            dst = &a->log_days;
        } else if (strcmp(argv[i], "--batch") == 0) {
            dst = &a->batch;
            max = 100000;
        } else {
            fprintf(stderr, CMD ": unknown option \"%s\"\n", argv[i]);
            return -1;
        }

        if (i + 1 >= argc) {
            fprintf(stderr, CMD ": %s needs a value\n", argv[i]);
            return -1;
        }

        if (cli_parse_int(CMD, argv[i], argv[i + 1], dst == &a->batch,
                          max, dst) != 0)
        {
            return -1;
        }
        i++;
    }

    /* --days is the default of the other two. */
    days = a->stream_days >= 0 ? a->stream_days : CLEAN_DAYS;
    a->stream_days = days;
    a->sub_days = a->sub_days >= 0 ? a->sub_days : days;
    a->log_days = a->log_days >= 0 ? a->log_days : days;

    return 0;
}


static int
clean_table(PGconn *pg, const clean_table_t *t, const clean_args_t *a)
{
    int          rc;
    char         days[24], batch[24], err[WP_DB_ERRLEN];
    PGresult    *res;
    long long    total, n;
    const char  *params[2];

    snprintf(days, sizeof(days), "%lld", t->sub ? a->sub_days : a->log_days);
    snprintf(batch, sizeof(batch), "%lld", a->batch);
    params[0] = days;
    params[1] = batch;

    if (a->dry_run) {
        rc = wp_db_exec(pg, t->count_sql, 1, params, &res, err, sizeof(err));
        if (rc == WP_DB_OK) {
            printf("would delete %s %s\n", PQgetvalue(res, 0, 0),
                   t->what);
        }
        PQclear(res);

    } else {
        total = 0;

        /* Batch after batch until one comes back short. */
        do {
            rc = wp_db_exec(pg, t->delete_sql, 2, params, &res, err,
                            sizeof(err));
            n = rc == WP_DB_OK ? strtoll(PQcmdTuples(res), NULL, 10) : 0;
            PQclear(res);
            total += n;
        } while (rc == WP_DB_OK && n == a->batch);

        if (rc == WP_DB_OK || total > 0) {
            printf("deleted %lld %s\n", total, t->what);
        }
    }

    if (rc != WP_DB_OK) {
        fprintf(stderr, CMD ": %s: %s\n", t->what, err);
    }

    fflush(stdout);

    return cli_db_rc(rc);
}


static int
clean_stream(cli_redis_t *r, const clean_args_t *a)
{
    char         key[160], cutoff[24];
    redisReply  *rep;

    snprintf(key, sizeof(key), "%sjobs", r->prefix);
    snprintf(cutoff, sizeof(cutoff), "%lld",
             (long long) (cli_now_ms() - a->stream_days * 86400000LL));

    rep = cli_redis_cmd(r, "EVAL %s 1 %s %s %s", clean_trim_lua, key, cutoff,
                        a->dry_run ? "0" : "1");
    if (rep == NULL) {
        return cli_redis_rc(r);
    }

    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2) {
        printf("%s %lld acknowledged entries of %s older than %lld days\n",
               a->dry_run ? "would trim" : "trimmed",
               cli_reply_int(rep->element[1], 0), key, a->stream_days);
    }

    freeReplyObject(rep);

    return CLI_EXIT_OK;
}


int
cli_cleanup(int argc, char **argv)
{
    int                   rc;
    PGconn               *pg;
    cli_redis_t           r;
    clean_args_t          a;
    const clean_table_t  *t;

    if (clean_parse_args(argc, argv, &a) != 0) {
        cli_usage("cleanup", 1);
        return CLI_EXIT_USAGE;
    }

    /* Both servers first: an unreachable one means nothing is touched. */
    rc = cli_servers_open(&pg, &r, CMD);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }

    printf("%scleanup: disabled subscriptions not seen for %lld days,"
           " logs and errors older than %lld days, stream entries older"
           " than %lld days\n", a.dry_run ? "dry run, nothing deleted: " : "",
           a.sub_days, a.log_days, a.stream_days);

    for (t = clean_tables; t->what && rc == CLI_EXIT_OK; t++) {
        rc = clean_table(pg, t, &a);
    }

    if (rc == CLI_EXIT_OK) {
        rc = clean_stream(&r, &a);
    }

    cli_redis_close(&r);
    PQfinish(pg);

    return rc;
}
