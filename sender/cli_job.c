/*
 * webpush-cli job ID: where one job is and what it did (see cli_job.h for
 * the lookup, which `send --wait` shares).
 *
 * Exit codes: 0 the job was found (whatever its state); 1 no such job; 2
 * bad command line or job id; 3 environment; 4 Redis or PostgreSQL
 * unreachable.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_job.h"
#include "db.h"
#include "sendreq.h"

#define CMD          "webpush-cli job"
#define JOB_SCAN     500            /* stream entries per XRANGE */


/* True when job (the canonical JSON) is the job with this id. */
static int
job_is(const char *job, size_t len, const char *needle, const char *id)
{
    int            yes;
    wp_send_req_t  req;

    if (job == NULL || strstr(job, needle) == NULL) {
        return 0;
    }

    /* A payload may quote the same text: only the parsed id counts. */
    memset(&req, 0, sizeof(req));
    yes = wp_send_job_parse(job, len, &req, NULL) == 0
          && strcmp(req.id, id) == 0;
    wp_send_req_free(&req);

    return yes;
}


static void
job_type(const char *job, size_t len, cli_job_info_t *info)
{
    wp_send_req_t  req;

    memset(&req, 0, sizeof(req));
    if (wp_send_job_parse(job, len, &req, NULL) == 0) {
        snprintf(info->type, sizeof(info->type), "%s", req.type);
    }
    wp_send_req_free(&req);
}


static int
job_find_log(PGconn *pg, const char *id, cli_job_info_t *info)
{
    int          rc;
    char         err[WP_DB_ERRLEN];
    PGresult    *res;
    const char  *params[1];

    params[0] = id;

    rc = wp_db_exec(pg, "SELECT \"type\", \"subscriptionCount\","
                    " \"sentCount\", \"failedCount\","
                    " COALESCE(\"metadata\"->>'expired', 'false'),"
                    " COALESCE(\"metadata\"->>'retried', '0'),"
                    " COALESCE(\"metadata\"->>'disabled', '0'),"
                    " to_char(\"createdAt\", 'YYYY-MM-DD HH24:MI:SS')"
                    " FROM \"NotificationLog\" WHERE \"id\" = $1",
                    1, params, &res, err, sizeof(err));
    if (rc != WP_DB_OK) {
        fprintf(stderr, CMD ": NotificationLog: %s\n", err);
        PQclear(res);
        return cli_db_rc(rc);
    }

    if (PQntuples(res) == 1) {
        info->state = CLI_JOB_FINISHED;
        snprintf(info->type, sizeof(info->type), "%s", PQgetvalue(res, 0, 0));
        info->total = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        info->sent = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
        info->failed = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
        info->expired = strcmp(PQgetvalue(res, 0, 4), "true") == 0;
        info->retried = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
        info->disabled = strtoll(PQgetvalue(res, 0, 6), NULL, 10);
        snprintf(info->created, sizeof(info->created), "%s",
                 PQgetvalue(res, 0, 7));
    }

    PQclear(res);

    return CLI_EXIT_OK;
}


/*
 * Walk stream key for the entry whose "job" is id; on a match copy the
 * entry id and, for the dead stream, the reason.
 */
static int
job_find_stream(cli_redis_t *r, const char *key, const char *needle,
    const char *id, int dead, const char *hint, cli_job_info_t *info)
{
    int                done;
    char               from[80];
    size_t             i;
    redisReply        *rep, *ent;
    const redisReply  *job, *reason;

    snprintf(from, sizeof(from), "%s", hint ? hint : "-");

    for (done = 0; !done; ) {
        /* With a hint (the entry XADD answered) one entry is enough. */
        rep = cli_redis_cmd(r, "XRANGE %s%s %s %s COUNT %d", r->prefix, key,
                            from, hint ? hint : "+", JOB_SCAN);
        if (rep == NULL) {
            return cli_redis_rc(r);
        }

        done = hint || rep->type != REDIS_REPLY_ARRAY
               || rep->elements < JOB_SCAN;

        for (i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++)
        {
            ent = rep->element[i];
            if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2) {
                continue;
            }

            snprintf(from, sizeof(from), "(%s", ent->element[0]->str);
            job = cli_reply_field(ent->element[1], "job");

            if (job == NULL || job->type != REDIS_REPLY_STRING
                || !job_is(job->str, job->len, needle, id))
            {
                continue;
            }

            snprintf(info->entry, sizeof(info->entry), "%s",
                     ent->element[0]->str);
            job_type(job->str, job->len, info);

            if (dead) {
                info->state = CLI_JOB_DEAD;
                reason = cli_reply_field(ent->element[1], "reason");
                snprintf(info->reason, sizeof(info->reason), "%s",
                         reason && reason->type == REDIS_REPLY_STRING
                         ? reason->str : "(none given)");
            } else {
                info->state = CLI_JOB_QUEUED;
            }

            done = 1;
            break;
        }

        freeReplyObject(rep);
    }

    return CLI_EXIT_OK;
}


/*
 * A job shared by every sender (sender/shard.h): how many shards are
 * done, and who delivers the others, how far each got.
 */
static int
job_find_shards(cli_redis_t *r, cli_job_info_t *info)
{
    int                k;
    char               f[32];
    size_t             len;
    redisReply        *rep;
    const redisReply  *v;

    rep = cli_redis_cmd(r, "HGETALL %sshard:%s", r->prefix, info->entry);
    if (rep == NULL) {
        return cli_redis_rc(r);
    }

    info->shards = (int) cli_reply_int(cli_reply_field(rep, "n"), 0);
    info->shards_done = (int) cli_reply_int(cli_reply_field(rep, "done"), 0);
    len = 0;

    for (k = 0; k < info->shards && len + 1 < sizeof(info->shard_text); k++)
    {
        snprintf(f, sizeof(f), "fin:%d", k);
        if (cli_reply_field(rep, f) != NULL) {
            continue;
        }

        snprintf(f, sizeof(f), "owner:%d", k);
        v = cli_reply_field(rep, f);
        if (v == NULL || v->type != REDIS_REPLY_STRING) {
            continue;       /* not taken yet */
        }

        snprintf(f, sizeof(f), "total:%d", k);
        len += snprintf(info->shard_text + len,
                        sizeof(info->shard_text) - len, "%s#%d at %s (%lld"
                        " done)", len ? ", " : "", k + 1, v->str,
                        (long long) cli_reply_int(cli_reply_field(rep, f),
                                                  0));
    }

    if (len >= sizeof(info->shard_text)) {
        len = sizeof(info->shard_text) - 4;
        memcpy(info->shard_text + len, "...", 4);
    }

    freeReplyObject(rep);

    if (info->shards > 0) {
        info->state = CLI_JOB_RUNNING;
    }

    return CLI_EXIT_OK;
}


/* A queued entry: pending at a consumer?  Then its fan-out checkpoint. */
static int
job_find_pending(cli_redis_t *r, cli_job_info_t *info)
{
    int          rc;
    redisReply  *rep, *p;

    rep = cli_redis_cmd(r, "XPENDING %sjobs senders %s %s 1", r->prefix,
                        info->entry, info->entry);
    if (rep == NULL) {
        /* NOGROUP: nobody ever read the stream, so nothing is pending. */
        return r->last_rc == CLI_EXIT_FAIL ? CLI_EXIT_OK : cli_redis_rc(r);
    }

    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1
        && (p = rep->element[0])->type == REDIS_REPLY_ARRAY
        && p->elements == 4)
    {
        info->state = CLI_JOB_RUNNING;
        snprintf(info->consumer, sizeof(info->consumer), "%s",
                 p->element[1]->str ? p->element[1]->str : "?");
        info->idle_ms = cli_reply_int(p->element[2], 0);
        info->deliveries = cli_reply_int(p->element[3], 0);
    }

    freeReplyObject(rep);

    /* not pending: a big job cut into shards is acked at once (shard.h) */
    if (info->state != CLI_JOB_RUNNING
        && (rc = job_find_shards(r, info)) != CLI_EXIT_OK)
    {
        return rc;
    }

    if (info->state != CLI_JOB_RUNNING) {
        return CLI_EXIT_OK;
    }

    rep = cli_redis_cmd(r, "HGETALL %sprogress:%s", r->prefix, info->entry);
    if (rep == NULL) {
        return cli_redis_rc(r);
    }

    info->total = cli_reply_int(cli_reply_field(rep, "total"), 0);
    info->sent = cli_reply_int(cli_reply_field(rep, "sent"), 0);
    info->failed = cli_reply_int(cli_reply_field(rep, "failed"), 0);
    info->disabled = cli_reply_int(cli_reply_field(rep, "disabled"), 0);
    info->retried = cli_reply_int(cli_reply_field(rep, "retried"), 0);
    info->pending = cli_reply_int(cli_reply_field(rep, "pending"), 0);

    freeReplyObject(rep);

    return CLI_EXIT_OK;
}


typedef struct {
    const char      *needle;
    const char      *id;
    cli_job_info_t  *info;
} job_progress_scan_t;


static int
job_progress_key(cli_redis_t *r, const char *key, const char *entry,
    void *ctx)
{
    redisReply           *h;
    cli_job_info_t       *info;
    const redisReply     *job;
    job_progress_scan_t  *st;

    st = ctx;
    info = st->info;

    h = cli_redis_cmd(r, "HGETALL %s", key);
    if (h == NULL) {
        return CLI_EXIT_OK;     /* WRONGTYPE: not ours; errors said */
    }

    job = cli_reply_field(h, "job");
    if (job && job->type == REDIS_REPLY_STRING
        && job_is(job->str, job->len, st->needle, st->id))
    {
        info->state = CLI_JOB_RETRYING;
        snprintf(info->entry, sizeof(info->entry), "%s", entry);
        job_type(job->str, job->len, info);
        info->total = cli_reply_int(cli_reply_field(h, "total"), 0);
        info->sent = cli_reply_int(cli_reply_field(h, "sent"), 0);
        info->failed = cli_reply_int(cli_reply_field(h, "failed"), 0);
        info->disabled = cli_reply_int(cli_reply_field(h, "disabled"), 0);
        info->retried = cli_reply_int(cli_reply_field(h, "retried"), 0);
        info->pending = cli_reply_int(cli_reply_field(h, "pending"), 0);
    }

    freeReplyObject(h);

    return info->state == CLI_JOB_UNKNOWN ? CLI_EXIT_OK : CLI_SCAN_STOP;
}


/*
 * A job whose stream entry is acked while retries are open lives on in
 * its progress hash (field "job"): walk <prefix>progress:*.
 */
static int
job_find_progress(cli_redis_t *r, const char *needle, const char *id,
    cli_job_info_t *info)
{
    job_progress_scan_t  st;

    st.needle = needle;
    st.id = id;
    st.info = info;

    return cli_redis_scan(r, "progress", job_progress_key, &st);
}


/* A sorted set of job JSON members (scheduled): ZSCAN for id. */
static int
job_find_zset(cli_redis_t *r, const char *key, const char *id,
    cli_job_state_t state, cli_job_info_t *info)
{
    char         cursor[32], needle[WP_SEND_MAX_JOB_ID + 16];
    size_t       i;
    redisReply  *rep, *list, *score;

    snprintf(needle, sizeof(needle), "\"id\":\"%s\"", id);
    snprintf(cursor, sizeof(cursor), "0");

    do {
        rep = cli_redis_cmd(r, "ZSCAN %s%s %s MATCH *%s* COUNT 500",
                            r->prefix, key, cursor, needle);
        if (rep == NULL) {
            /* WRONGTYPE: not a set of jobs (another layout); skip it. */
            return r->last_rc == CLI_EXIT_FAIL ? CLI_EXIT_OK
                                               : cli_redis_rc(r);
        }

        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
            freeReplyObject(rep);
            return CLI_EXIT_OK;
        }

        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        list = rep->element[1];

        for (i = 0; i + 1 < list->elements; i += 2) {
            if (job_is(list->element[i]->str, list->element[i]->len, needle,
                       id))
            {
                info->state = state;
                score = list->element[i + 1];
                info->due_ms = strtoll(score->str, NULL, 10);
                job_type(list->element[i]->str, list->element[i]->len, info);
                snprintf(cursor, sizeof(cursor), "0");
                break;
            }
        }

        freeReplyObject(rep);

    } while (strcmp(cursor, "0") != 0);

    return CLI_EXIT_OK;
}


int
cli_job_find(cli_redis_t *r, PGconn *pg, const char *id, const char *hint,
    cli_job_info_t *info)
{
    int   rc, pass;
    char  needle[WP_SEND_MAX_JOB_ID + 16];

    memset(info, 0, sizeof(*info));
    snprintf(needle, sizeof(needle), "\"id\":\"%s\"", id);

    /*
     * Twice at most: a job can move on while we look (stream -> record),
     * and a second look at the record then finds it.
     */
    for (pass = 0; pass < 2 && info->state == CLI_JOB_UNKNOWN; pass++) {

        rc = job_find_log(pg, id, info);
        if (rc != CLI_EXIT_OK || info->state != CLI_JOB_UNKNOWN) {
            return rc;
        }

        rc = job_find_stream(r, "dead", needle, id, 1, NULL, info);
        if (rc != CLI_EXIT_OK || info->state != CLI_JOB_UNKNOWN) {
            return rc;
        }

        rc = job_find_stream(r, "jobs", needle, id, 0, hint, info);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }

        if (info->state == CLI_JOB_QUEUED) {
            return job_find_pending(r, info);
        }

        rc = job_find_zset(r, "scheduled", id, CLI_JOB_SCHEDULED, info);
        if (rc != CLI_EXIT_OK || info->state != CLI_JOB_UNKNOWN) {
            return rc;
        }

        rc = job_find_progress(r, needle, id, info);
        if (rc != CLI_EXIT_OK) {
            return rc;
        }
    }

    return CLI_EXIT_OK;
}


const char *
cli_job_state_name(cli_job_state_t s)
{
    static const char  *names[] = {
        "unknown", "queued", "running", "scheduled", "retrying", "finished",
        "dead"
    };

    return (unsigned) s < sizeof(names) / sizeof(names[0]) ? names[s]
                                                           : "unknown";
}


void
cli_job_print(const char *id, const cli_job_info_t *info)
{
    char  when[40];

    printf("job:      %s\nstate:    %s%s\n", id,
           cli_job_state_name(info->state),
           info->expired ? " (expired: its TTL ran out before it was sent)"
                         : "");

    if (info->type[0]) {
        printf("type:     %s\n", info->type);
    }

    switch (info->state) {

    case CLI_JOB_QUEUED:
        printf("entry:    %s (waiting for a sender)\n", info->entry);
        break;

    case CLI_JOB_RUNNING:
        if (info->shards > 0) {
            printf("entry:    %s (acked: shared by every sender)\n"
                   "shards:   %d/%d done%s%s\nprogress: %lld subscriptions"
                   " done: %lld sent, %lld failed (%lld disabled), %lld"
                   " retried, %lld waiting to be retried\n", info->entry,
                   info->shards_done, info->shards,
                   info->shard_text[0] ? "; running: " : "",
                   info->shard_text, (long long) info->total,
                   (long long) info->sent, (long long) info->failed,
                   (long long) info->disabled, (long long) info->retried,
                   (long long) info->pending);
            break;
        }

        printf("entry:    %s\nsender:   %s (idle %lld ms, delivered %lld"
               " time%s)\nprogress: %lld subscriptions done: %lld sent,"
               " %lld failed (%lld disabled), %lld retried, %lld waiting"
               " to be retried\n", info->entry,
               info->consumer, (long long) info->idle_ms,
               (long long) info->deliveries, info->deliveries == 1 ? "" : "s",
               (long long) info->total, (long long) info->sent,
               (long long) info->failed, (long long) info->disabled,
               (long long) info->retried, (long long) info->pending);
        break;

    case CLI_JOB_SCHEDULED:
        printf("due:      %s\n",
               cli_time_text(info->due_ms, when, sizeof(when)));
        break;

    case CLI_JOB_RETRYING:
        printf("entry:    %s (fan-out done, %lld deliver%s waiting to be"
               " retried)\nprogress: %lld subscriptions done: %lld sent,"
               " %lld failed (%lld disabled), %lld retried\n", info->entry,
               (long long) info->pending, info->pending == 1 ? "y" : "ies",
               (long long) info->total, (long long) info->sent,
               (long long) info->failed, (long long) info->disabled,
               (long long) info->retried);
        break;

    case CLI_JOB_FINISHED:
        printf("finished: %s\nsubscriptions: %lld\nsent:     %lld\n"
               "failed:   %lld\ndisabled: %lld\nretried:  %lld\n",
               info->created, (long long) info->total,
               (long long) info->sent, (long long) info->failed,
               (long long) info->disabled, (long long) info->retried);
        break;

    case CLI_JOB_DEAD:
        printf("entry:    %s (dead-letter stream)\nreason:   %s\n",
               info->entry, info->reason);
        break;

    default:
        break;
    }

    fflush(stdout);
}


int
cli_job(int argc, char **argv)
{
    int              rc;
    PGconn          *pg;
    wp_err_t         e;
    cli_redis_t      r;
    cli_job_info_t   info;

    if (argc != 2 || argv[1][0] == '-') {
        if (argc > 1 && argv[1][0] == '-') {
            fprintf(stderr, CMD ": unknown option \"%s\"\n", argv[1]);
        } else {
            fprintf(stderr, CMD ": give exactly one job id\n");
        }
        cli_usage("job", 1);
        return CLI_EXIT_USAGE;
    }

    if (wp_send_job_id_check(argv[1], strlen(argv[1]), &e) != 0) {
        fprintf(stderr, CMD ": \"%.80s\" is not a job id (%s)\n", argv[1],
                e.message);
        return CLI_EXIT_USAGE;
    }

    rc = cli_servers_open(&pg, &r, CMD);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }

    rc = cli_job_find(&r, pg, argv[1], NULL, &info);

    if (rc == CLI_EXIT_OK) {
        if (info.state == CLI_JOB_UNKNOWN) {
            fprintf(stderr, CMD ": no job %s: not queued, scheduled,"
                    " running, finished (NotificationLog) nor dead (is"
                    " WEBPUSH_QUEUE_PREFIX \"%s\" the one it was sent"
                    " with?)\n", argv[1], r.prefix);
            rc = CLI_EXIT_FAIL;
        } else {
            cli_job_print(argv[1], &info);
        }
    }

    cli_redis_close(&r);
    PQfinish(pg);

    return rc;
}
