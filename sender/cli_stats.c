/*
 * webpush-cli stats: one screen of how the system is doing.
 *
 *   subscriptions  enabled, disabled, and both per push service (the
 *                  endpoint's host); enabled ones made with another VAPID
 *                  key ("PushSubscriptionKeyMismatch": left out of sends)
 *   queue          waiting (in the stream, not handed out), pending per
 *                  consumer (handed out, not acked; XINFO CONSUMERS),
 *                  scheduled, retrying, dead
 *   senders        live heartbeats (<prefix>sender:<name>, which expire)
 *   counters       <prefix>metrics, when the senders keep it
 *   last hour      finished jobs and their figures ("NotificationLog"),
 *                  failed deliveries by status ("PushError")
 *
 * Read-only.  Exit codes: 0 shown; 3 environment; 4 PostgreSQL or Redis
 * unreachable.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "db.h"

#define CMD           "webpush-cli stats"
#define STATS_HOSTS   20


static int
stats_query(PGconn *pg, const char *sql, PGresult **res)
{
    int   rc;
    char  err[WP_DB_ERRLEN];

    rc = wp_db_exec(pg, sql, 0, NULL, res, err, sizeof(err));
    if (rc != WP_DB_OK) {
        fprintf(stderr, CMD ": %s\n", err);
        PQclear(*res);
        *res = NULL;
    }

    return cli_db_rc(rc);
}


static int
stats_subscriptions(PGconn *pg)
{
    int        rc, i;
    PGresult  *res;

    rc = stats_query(pg, "SELECT count(*) FILTER (WHERE \"enabled\"),"
                     " count(*) FILTER (WHERE NOT \"enabled\"),"
                     " count(k.*) FILTER (WHERE \"enabled\")"
                     " FROM \"PushSubscription\" s"
                     " LEFT JOIN \"PushSubscriptionKeyMismatch\" k"
                     " ON k.\"subscriptionId\" = s.\"id\"", &res);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }

    printf("subscriptions\n  enabled     %s\n  disabled    %s\n"
           "  other key   %s   (enabled, made with another VAPID key:"
           " not sent to)\n",
           PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
           PQgetvalue(res, 0, 2));
    PQclear(res);

    rc = stats_query(pg, "SELECT COALESCE(substring(\"endpoint\" FROM"
                     " '^[a-z]+://([^/:?#]+)'), '?') AS host,"
                     " count(*) FILTER (WHERE \"enabled\"),"
                     " count(*) FILTER (WHERE NOT \"enabled\")"
                     " FROM \"PushSubscription\" GROUP BY 1"
                     " ORDER BY count(*) DESC, 1 LIMIT 21", &res);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }

    if (PQntuples(res) > 0) {
        printf("  by push service            enabled   disabled\n");
    }

    for (i = 0; i < PQntuples(res) && i < STATS_HOSTS; i++) {
        printf("    %-26s %8s %10s\n", PQgetvalue(res, i, 0),
               PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
    }

    if (PQntuples(res) > STATS_HOSTS) {
        printf("    (more hosts not shown)\n");
    }

    PQclear(res);

    return CLI_EXIT_OK;
}


static long long
stats_int(cli_redis_t *r, const char *fmt, const char *key, int *rc)
{
    long long    n;
    redisReply  *rep;

    rep = cli_redis_cmd(r, fmt, r->prefix, key);
    if (rep == NULL) {
        /* WRONGTYPE and the like: show "?" rather than stop. */
        if (r->last_rc != CLI_EXIT_FAIL) {
            *rc = cli_redis_rc(r);
        }
        return -1;
    }

    n = cli_reply_int(rep, 0);
    freeReplyObject(rep);

    return n;
}


static void
stats_count_line(const char *name, long long n, const char *note)
{
    if (n < 0) {
        printf("  %-11s ?\n", name);
    } else {
        printf("  %-11s %lld%s\n", name, n, note);
    }
}


static int
stats_queue(cli_redis_t *r)
{
    int                rc;
    size_t             i;
    long long          len, pending, n;
    redisReply        *rep, *c;
    const redisReply  *name, *pend, *idle;

    rc = CLI_EXIT_OK;

    len = stats_int(r, "XLEN %s%s", "jobs", &rc);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }

    pending = 0;
    rep = cli_redis_cmd(r, "XINFO CONSUMERS %sjobs senders", r->prefix);
    if (rep == NULL && r->last_rc != CLI_EXIT_FAIL) {
        return cli_redis_rc(r);         /* else no group yet: none */
    }

    for (i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i < rep->elements;
         i++)
    {
        pending += cli_reply_int(cli_reply_field(rep->element[i], "pending"),
                                 0);
    }

    printf("queue (prefix %s)\n", r->prefix);
    /* Acked entries are deleted, so the rest of the stream is waiting. */
    stats_count_line("waiting", len < 0 ? -1 : len - pending > 0
                                               ? len - pending : 0,
                     "  (in the stream, not yet taken by a sender)");
    printf("  %-11s %lld\n", "pending", pending);

    for (i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i < rep->elements;
         i++)
    {
        c = rep->element[i];
        name = cli_reply_field(c, "name");
        pend = cli_reply_field(c, "pending");
        idle = cli_reply_field(c, "idle");
        printf("    %-30s %lld pending, idle %lld ms\n",
               name && name->type == REDIS_REPLY_STRING ? name->str : "?",
               cli_reply_int(pend, 0), cli_reply_int(idle, 0));
    }

    if (rep) {
        freeReplyObject(rep);
    }

    n = stats_int(r, "ZCARD %s%s", "scheduled", &rc);
    stats_count_line("scheduled", n, "  (jobs waiting for their sendAt)");
    n = stats_int(r, "ZCARD %s%s", "retry", &rc);
    stats_count_line("retrying", n, "  (deliveries waiting to retry)");
    n = stats_int(r, "XLEN %s%s", "dead", &rc);
    stats_count_line("dead", n, n > 0 ? "  (webpush-cli dead list)" : "");

    return rc;
}


/* Every field of a hash on one line: "k=v k=v". */
static void
stats_hash_line(const redisReply *h)
{
    size_t  i;

    for (i = 0; h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2) {
        printf(" %s=%s", h->element[i]->str ? h->element[i]->str : "?",
               h->element[i + 1]->str ? h->element[i + 1]->str : "?");
    }

    printf("\n");
}


static int
stats_senders(cli_redis_t *r)
{
    int          n, rc;
    redisReply  *rep;

    printf("senders (live heartbeats)\n");

    rc = cli_senders(r, 1, &n);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }

    if (n == 0) {
        printf("  none: no sender has reported in the last %d s\n",
               CLI_SENDER_LIVE_S);
    }

    rep = cli_redis_cmd(r, "HGETALL %smetrics", r->prefix);
    if (rep == NULL) {
        return r->last_rc == CLI_EXIT_FAIL ? CLI_EXIT_OK : cli_redis_rc(r);
    }

    if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0) {
        printf("counters (all senders, since the counters were created)\n ");
        stats_hash_line(rep);
    }

    freeReplyObject(rep);

    return CLI_EXIT_OK;
}


static int
stats_last_hour(PGconn *pg)
{
    int        rc, i;
    PGresult  *res;

    /*
     * "createdAt" is a timestamp without time zone written by the
     * database's CURRENT_TIMESTAMP: compare in the same terms.
     */
    rc = stats_query(pg, "SELECT count(*),"
                     " COALESCE(sum(\"subscriptionCount\"), 0),"
                     " COALESCE(sum(\"sentCount\"), 0),"
                     " COALESCE(sum(\"failedCount\"), 0)"
                     " FROM \"NotificationLog\""
                     " WHERE \"createdAt\" > LOCALTIMESTAMP"
                     " - interval '1 hour'", &res);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }

    printf("last hour\n  jobs        %s finished: %s subscriptions, %s sent,"
           " %s failed\n", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
           PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
    PQclear(res);

    rc = stats_query(pg, "SELECT COALESCE(\"statusCode\"::text,"
                     " 'no answer'), count(*) FROM \"PushError\""
                     " WHERE \"createdAt\" > LOCALTIMESTAMP"
                     " - interval '1 hour' GROUP BY 1 ORDER BY 2 DESC, 1",
                     &res);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }

    printf("  failed deliveries by status:%s\n",
           PQntuples(res) == 0 ? " none" : "");

    for (i = 0; i < PQntuples(res); i++) {
        printf("    %-10s %s\n", PQgetvalue(res, i, 0),
               PQgetvalue(res, i, 1));
    }

    PQclear(res);

    return CLI_EXIT_OK;
}


int
cli_stats(int argc, char **argv)
{
    int           rc;
    PGconn       *pg;
    cli_redis_t   r;

    if (argc > 1) {
        fprintf(stderr, CMD ": unknown option \"%s\"\n", argv[1]);
        cli_usage("stats", 1);
        return CLI_EXIT_USAGE;
    }

    rc = cli_servers_open(&pg, &r, CMD);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }

    rc = stats_subscriptions(pg);
    if (rc == CLI_EXIT_OK) {
        rc = stats_queue(&r);
    }
    if (rc == CLI_EXIT_OK) {
        rc = stats_senders(&r);
    }
    if (rc == CLI_EXIT_OK) {
        rc = stats_last_hour(pg);
    }

    fflush(stdout);
    cli_redis_close(&r);
    PQfinish(pg);

    return rc;
}
